"""vcdc-producer against a real Kafka broker, checked with independent
decoders (fastavro, confluent-kafka; see wire.py).

Every test writes its own topic. Messages are read back from offset 0 and
compared with the input the test generated: what matters is what is in
Kafka, not what the producer says it did.
"""

import io
import json
import random
import re
import signal
import struct
import subprocess
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

import pytest

import wire
from conftest import NO_BROKER_REASON, kafka_available

pytestmark = pytest.mark.skipif(not kafka_available(), reason=NO_BROKER_REASON)

# ---------------------------------------------------------------- the data


@dataclass
class Change:
    """One input line as the topic must carry it."""
    line: int
    op: str  # "UPSERT" or "DELETE", as in the Avro enum
    collection: str
    id: str
    version: int  # 1, 2, ... per key, in input order
    vector: bytes  # float32 little-endian; b"" for a delete
    sparse: tuple  # (indices, float32 bytes of values) or None
    metadata: dict  # or None
    document: str  # or None
    source_ts_ms: int  # or None

    @property
    def key(self):
        return wire.kafka_key(self.collection, self.id)


# A delete carries no metadata, so its version travels in source_ts_ms.
DELETE_TS_BASE = 1_600_000_000_000
UPSERT_TS_BASE = 1_700_000_000_000
DEFAULT_COLLECTION = "docs"  # given with -c; many "docs" lines omit it
COLLECTIONS = ["docs", "tenant/a%b", "ünï/cöde 集合", "images"]
SPECIAL_FLOATS = [
    "-0.0", "0", "1e-40", "-1e-40", "1e-46", "3.4028235e38",
    "-3.4028235e38", "1.17549435e-38", "0.1", "-2.5E+10", "1.5e-3",
    "16777217", "0.333333333333333314829616256247390992939472198486328125",
]
DOCUMENTS = [
    'He said "hi"\nand left.',
    "ünïcödé — 日本語のテキスト 🙂👍🏽",
    "tab\there, backslash \\ and slash /",
    "x" * 3000,
    "",
]


def id_for(rng, i):
    form = i % 8
    if form == 0:
        return f"ünï-{i}"
    if form == 1:
        return f"日本語-{i}"
    if form == 2:
        return f"🙂{i}"
    if form == 3:
        return f"path/with%2Fslash/{i}"
    if form == 4:
        return f'q"uote \\ {i}'
    if form == 5:
        return f"{i:08d}"
    return f"doc-{i}-{rng.randrange(1 << 30):x}"


def float_text(rng):
    u = rng.random()
    if u < 0.6:
        return f"{rng.uniform(-1, 1):.7g}"
    if u < 0.8:
        return repr(rng.uniform(-100, 100))  # 17 digits: float32 rounds
    if u < 0.9:
        return str(rng.randint(-1000, 1000))  # a JSON integer
    if u < 0.96:
        return f"{rng.uniform(-1, 1):.3e}"
    return rng.choice(SPECIAL_FLOATS)


def float_chunks(rng, count, width):
    """Pieces of vectors: (JSON text, float32 bytes) of width numbers each.
    Vectors are made of random chunks: 2048**8 combinations keep every
    vector distinct while generation stays fast."""
    chunks = []
    for _ in range(count):
        texts = [float_text(rng) for _ in range(width)]
        chunks.append((",".join(texts), wire.f32_bytes([float(t)
                                                        for t in texts])))
    return chunks


def generate(path, n, dim, seed):
    """Writes n JSON lines of dimension dim to path; returns the Changes in
    input order. ~12% of lines repeat an earlier key (upsert again, or
    delete); some upserts have sparse vectors, documents, timestamps; ids
    and collections include non-ASCII text, '/', '%' and quotes."""
    assert dim % 16 == 0
    rng = random.Random(seed)
    chunks = float_chunks(rng, 2048, 16)
    keys, version, changes, lines = [], {}, [], []
    for i in range(n):
        lineno = i + 1
        if keys and rng.random() < 0.12:
            collection, id_ = rng.choice(keys)
            op = "DELETE" if rng.random() < 0.25 else "UPSERT"
        else:
            collection = rng.choice(COLLECTIONS)
            id_ = id_for(rng, i)
            keys.append((collection, id_))
            op = "UPSERT"
        v = version[(collection, id_)] = version.get((collection, id_), 0) + 1
        ascii_only = rng.random() < 0.5
        dump = lambda x: json.dumps(x, ensure_ascii=ascii_only)  # noqa: E731
        fields = []
        if collection != DEFAULT_COLLECTION or rng.random() < 0.5:
            fields.append('"collection":' + dump(collection))
        fields.append('"id":' + dump(id_))
        vector = sparse = metadata = document = ts = None
        if op == "DELETE":
            fields.append('"op":' + dump(rng.choice(["delete", "DELETE",
                                                     "Delete"])))
            ts = DELETE_TS_BASE + v
            fields.append(f'"source_ts_ms":{ts}')
            if rng.random() < 0.2:
                # Documented: a delete ignores these.
                fields.append('"metadata":{"v":-1}')
                fields.append('"vector":[1,2,3]')
            vector = b""
        else:
            r = rng.random()
            if r < 0.3:
                fields.append('"op":"upsert"')
            elif r < 0.4:
                fields.append('"op":"UPSERT"')
            picked = rng.choices(chunks, k=dim // 16)
            fields.append('"vector":[' + ",".join(c[0] for c in picked) + "]")
            vector = b"".join(c[1] for c in picked)
            metadata = {"v": v, "line": lineno,
                        "tag": rng.choice(["a", "ß", "日本", "🙂"]),
                        "score": rng.random()}
            if rng.random() < 0.2:
                metadata["nested"] = {"list": [1, 2.5, None, True, "x"],
                                      "deep": {"k": "ü"}}
            fields.append('"metadata":' + dump(metadata))
            if rng.random() < 0.3:
                document = rng.choice(DOCUMENTS)
                fields.append('"document":' + dump(document))
            elif rng.random() < 0.1:
                fields.append('"document":null')
            if rng.random() < 0.2:
                k = rng.randint(1, 8)
                idx = sorted(rng.sample(range(100_000), k))
                if rng.random() < 0.2:
                    idx.append(4294967295)
                vals = [float_text(rng) for _ in idx]
                fields.append(f'"sparse":{{"indices":{json.dumps(idx)},'
                              f'"values":[{",".join(vals)}]}}')
                sparse = (idx, wire.f32_bytes([float(t) for t in vals]))
            if rng.random() < 0.5:
                ts = UPSERT_TS_BASE + lineno
                fields.append(f'"source_ts_ms":{ts}')
        rng.shuffle(fields)
        lines.append("{" + ",".join(fields) + "}")
        changes.append(Change(lineno, op, collection, id_, v, vector, sparse,
                              metadata, document, ts))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
        f.write("\n")
    return changes


def version_of(rec):
    if rec["op"] == "DELETE":
        return rec["source_ts_ms"] - DELETE_TS_BASE
    return json.loads(rec["metadata"])["v"]


def check_record(rec, ch):
    """Compares a decoded record with the Change it must carry; returns a
    list of differences."""
    diffs = []

    def differ(field, got, want):
        if got != want:
            diffs.append(f"{field}: got {got!r:.200}, want {want!r:.200}")

    differ("op", rec["op"], ch.op)
    differ("collection", rec["collection"], ch.collection)
    differ("id", rec["id"], ch.id)
    differ("vector", wire.f32_bytes(rec["vector"]), ch.vector)
    got_sparse = rec["sparse"]
    if got_sparse is not None:
        got_sparse = (got_sparse["indices"],
                      wire.f32_bytes(got_sparse["values"]))
    differ("sparse", got_sparse, ch.sparse)
    metadata = None if rec["metadata"] is None else json.loads(
        rec["metadata"])
    differ("metadata", metadata, ch.metadata)
    if metadata and ch.metadata:
        # Documented: keys stay in input order.
        differ("metadata keys", list(metadata), list(ch.metadata))
    differ("document", rec["document"], ch.document)
    differ("source_ts_ms", rec["source_ts_ms"], ch.source_ts_ms)
    return diffs


def token(rec):
    """A decoded record as an entry of expected_sequences()."""
    return ("U" if rec["op"] == "UPSERT" else "D", version_of(rec))


def expected_sequences(changes):
    """Per key, the messages the topic must hold, in order: ("U", v),
    ("D", v) then ("T",) for the tombstone."""
    seq = defaultdict(list)
    for ch in changes:
        if ch.op == "UPSERT":
            seq[ch.key].append(("U", ch.version))
        else:
            seq[ch.key] += [("D", ch.version), ("T",)]
    return seq


def first(items, k=5):
    return "\n".join(map(str, list(items)[:k]))


# ------------------------------------------------------ the headline check

N_RECORDS = 100_000
DIM = 128
PARTITIONS = 4
SEED = 20261125


def verify_topic(changes, msgs, partitions, decode):
    """Asserts that msgs (the whole topic, by partition and offset) carry
    exactly the changes: every (key, version) once, each field as in the
    input, every key on one partition (the Java client's murmur2 choice),
    each key's messages in input order with a tombstone right after each
    DELETE record."""
    by_key = {ch.key: (ch.collection, ch.id) for ch in changes}
    want = {(ch.key, ch.version): ch for ch in changes}
    seen = Counter()
    actual = defaultdict(list)
    key_parts = defaultdict(set)
    bad_keys, bad_records = [], []
    for m in msgs:
        if m.key not in by_key:
            bad_keys.append((m.partition, m.offset, m.key))
            continue
        key_parts[m.key].add(m.partition)
        if m.value is None:
            actual[m.key].append(("T",))
            continue
        rec = decode(m.value)
        if (rec["collection"], rec["id"]) != by_key[m.key]:
            bad_records.append((m.partition, m.offset, m.key,
                                "key does not match collection/id",
                                rec["collection"], rec["id"]))
            continue
        tok = token(rec)
        actual[m.key].append(tok)
        seen[(m.key, tok[1])] += 1
        ch = want.get((m.key, tok[1]))
        if ch is None:
            bad_records.append((m.partition, m.offset, m.key,
                                f"no input line has version {tok[1]}"))
            continue
        diffs = check_record(rec, ch)
        if diffs:
            bad_records.append((m.partition, m.offset, m.key,
                                f"line {ch.line}", diffs))
    assert not bad_keys, f"keys no input line has:\n{first(bad_keys)}"
    assert not bad_records, ("records unlike their input:\n"
                             f"{first(bad_records)}")

    # Exactly once: every (key, version) of the input, once each.
    dups = [k for k, c in seen.items() if c > 1]
    missing = [k for k in want if k not in seen]
    assert not dups, f"{len(dups)} changes arrived twice:\n{first(dups)}"
    assert not missing, f"{len(missing)} changes missing:\n{first(missing)}"

    # Per-key order: one partition per key, the Java client's choice, and
    # the key's changes in input order, each delete then its tombstone.
    split = [k for k, ps in key_parts.items() if len(ps) != 1]
    assert not split, f"keys on several partitions:\n{first(split)}"
    wrong_part = [(k, p, wire.java_partition(k, partitions))
                  for k, (p,) in key_parts.items()
                  if p != wire.java_partition(k, partitions)]
    assert not wrong_part, ("keys not on the murmur2 partition (key, got, "
                            f"want):\n{first(wrong_part)}")
    assert len({p for (p,) in key_parts.values()}) == partitions
    seq = expected_sequences(changes)
    out_of_order = [(k, actual[k], s) for k, s in seq.items()
                    if actual[k] != s]
    assert not out_of_order, ("keys whose messages differ from the input "
                              "order (key, got, want):\n"
                              f"{first(out_of_order)}")
    deletes = sum(ch.op == "DELETE" for ch in changes)
    assert len(msgs) == len(changes) + deletes


def test_100k_records_exactly_once_in_key_order(tmp_path, topic, brokers,
                                                run_producer, consume_topic,
                                                admin):
    t0 = time.monotonic()
    path = tmp_path / "changes.jsonl"
    changes = generate(path, N_RECORDS, DIM, SEED)
    t_gen = time.monotonic() - t0
    deletes = sum(ch.op == "DELETE" for ch in changes)
    repeated = sum(ch.version > 1 for ch in changes)
    assert deletes > 1000 and repeated > 9000, (deletes, repeated)

    run = run_producer("-b", brokers, "-t", topic, "--create-topic",
                       "--partitions", PARTITIONS, "-c", DEFAULT_COLLECTION,
                       "--dim", DIM, path, timeout=240)
    assert run.returncode == 0, run
    assert f"published {N_RECORDS}, skipped 0, failed 0" in run.stderr, run
    assert admin.partitions(topic) == PARTITIONS
    assert admin.config(topic, "cleanup.policy") == "compact"

    t1 = time.monotonic()
    msgs = consume_topic(topic, timeout=120)
    t2 = time.monotonic()
    verify_topic(changes, msgs, PARTITIONS, wire.decode_single_object)
    print(f"\n100k: generate {t_gen:.1f}s ({path.stat().st_size >> 20} MiB), "
          f"produce {run.seconds:.1f}s, consume {t2 - t1:.1f}s, "
          f"check {time.monotonic() - t2:.1f}s; {deletes} deletes, "
          f"{repeated} repeats")


def test_single_object_fingerprint_is_the_avro_specs():
    """The 8 header bytes wire.py expects are the CRC-64-AVRO of the Parsing
    Canonical Form by fastavro and by the spec's own algorithm."""
    crc = wire.crc64_avro(wire.CANONICAL_V1.encode("utf-8"))
    assert crc.to_bytes(8, "little") == wire.FINGERPRINT_V1
    # The spec's example: the fingerprint of "null" is 0x63dd24e7cc258f8a.
    assert wire.crc64_avro(b'"null"') == 0x63DD24E7CC258F8A


def test_murmur2_matches_kafkas():
    """wire.murmur2 against values from Kafka's own UtilsTest."""
    cases = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        b"abc": 479470107,
    }
    got = {k: wire.signed32(wire.murmur2(k)) for k in cases}
    assert got == cases


# --------------------------------------------------------------- framing


def write_lines(path, lines):
    data = b"".join((ln if isinstance(ln, bytes) else ln.encode("utf-8"))
                    + b"\n" for ln in lines)
    path.write_bytes(data)
    return path


def test_confluent_framing_with_schema_id(tmp_path, topic, compacted_topic,
                                          brokers, run_producer,
                                          consume_topic):
    changes = generate(tmp_path / "c.jsonl", 2000, 16, seed=7)
    run = run_producer("-b", brokers, "-t", compacted_topic(3),
                       "-c", DEFAULT_COLLECTION,
                       "--schema-id", 7, tmp_path / "c.jsonl")
    assert run.returncode == 0, run
    msgs = consume_topic(topic)
    for m in msgs:
        if m.value is not None:
            # Magic byte 0, then schema id 7 as a big-endian int32.
            assert m.value[:5] == b"\x00\x00\x00\x00\x07", m.value[:10]
    verify_topic(changes, msgs, 3, lambda v: wire.decode_confluent(v, 7))


# ------------------------------------------------------- schema evolution


def schema_v2():
    v2 = json.loads(wire.SCHEMA_PATH.read_text(encoding="utf-8"))
    v2["doc"] = "One change of one vector. Version 2 (test only)."
    v2["fields"].append({"name": "tenant", "type": "string",
                         "default": "no-tenant"})
    v2["fields"].append({"name": "embedding_model",
                         "type": ["null", "string"], "default": None})
    return v2


def test_schema_evolves_under_avro_resolution(tmp_path, topic, compacted_topic,
                                              brokers, run_producer,
                                              consume_topic):
    import fastavro

    path = write_lines(tmp_path / "e.jsonl", [
        '{"collection":"c/1","id":"e1","vector":[0.5,-1.25,3],'
        '"metadata":{"k":"v"},"document":"doc","source_ts_ms":42,'
        '"sparse":{"indices":[1,7],"values":[0.5,2]}}',
    ])
    run = run_producer("-b", brokers, "-t", compacted_topic(1),
                       path)
    assert run.returncode == 0, run
    (msg,) = consume_topic(topic)
    framing, ref, body = wire.split_frame(msg.value)
    assert framing == "single-object" and ref == wire.FINGERPRINT_V1

    v1 = wire.PARSED_V1
    v2 = fastavro.parse_schema(schema_v2())
    # Written by vcdc with v1, read with v2: the new fields take defaults.
    old = wire.read_body(body, v1)
    new = wire.read_body(body, v1, v2)
    assert new["tenant"] == "no-tenant"
    assert new["embedding_model"] is None
    assert {k: new[k] for k in old} == old
    assert old["vector"] == [0.5, -1.25, 3.0]
    assert old["sparse"] == {"indices": [1, 7], "values": [0.5, 2.0]}

    # Written with v2, read with v1: the new fields are skipped.
    rec2 = dict(old, tenant="acme", embedding_model="m-3")
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, v2, rec2)
    back = wire.read_body(buf.getvalue(), v2, v1)
    assert back == old

    # v2 is a new schema: a new fingerprint, so single-object readers
    # tell the two writers apart.
    fp2 = wire.crc64_avro(
        fastavro.schema.to_parsing_canonical_form(v2).encode("utf-8"))
    assert fp2.to_bytes(8, "little") != wire.FINGERPRINT_V1


# ------------------------------------------------------------ topic policy


@pytest.mark.parametrize("policy", ["delete", "compact,delete"])
def test_refuses_topic_that_deletes_history(tmp_path, topic, brokers, admin,
                                            run_producer, consume_topic,
                                            policy):
    admin.create(topic, 2, {"cleanup.policy": policy})
    path = write_lines(tmp_path / "p.jsonl", [
        '{"collection":"c","id":"a","vector":[1,2]}',
        '{"collection":"c","id":"b","vector":[3,4]}',
    ])
    run = run_producer("-b", brokers, "-t", topic, path)
    assert run.returncode == 1, run
    assert "cleanup.policy" in run.stderr and "--allow-retention" in run.stderr
    assert f"cleanup.policy={policy}" in run.stderr, run
    assert consume_topic(topic) == []

    run = run_producer("-b", brokers, "-t", topic, "--allow-retention", path)
    assert run.returncode == 0, run
    assert sorted(m.key for m in consume_topic(topic)) == [b"c/a", b"c/b"]
    assert admin.config(topic, "cleanup.policy") == policy  # left alone


def test_refuses_missing_topic_without_create_topic(tmp_path, topic, brokers,
                                                    admin, run_producer):
    path = write_lines(tmp_path / "m.jsonl",
                       ['{"collection":"c","id":"a","vector":[1,2]}'])
    run = run_producer("-b", brokers, "-t", topic, path)
    assert run.returncode == 1, run
    assert "--create-topic" in run.stderr and topic in run.stderr, run
    assert admin.partitions(topic) is None  # nor auto-created


def test_create_topic_is_compacted_with_partitions(tmp_path, topic, brokers,
                                                   admin, run_producer,
                                                   consume_topic):
    path = write_lines(tmp_path / "c.jsonl",
                       ['{"collection":"c","id":"a","vector":[1,2]}'])
    run = run_producer("-b", brokers, "-t", topic, "--create-topic",
                       "--partitions", 3, path)
    assert run.returncode == 0, run
    assert admin.partitions(topic) == 3
    assert admin.config(topic, "cleanup.policy") == "compact"
    # Once it exists, either way of running writes into it.
    assert run_producer("-b", brokers, "-t", topic, "--create-topic",
                        path).returncode == 0
    assert run_producer("-b", brokers, "-t", topic, path).returncode == 0
    assert admin.partitions(topic) == 3
    assert [m.key for m in consume_topic(topic)] == [b"c/a"] * 3


# --------------------------------------------------------------- bad input


def vec(dim, base=0.0):
    return "[" + ",".join(repr(base + i / 8) for i in range(dim)) + "]"


def good(i, dim=3):
    return f'{{"collection":"bad","id":"g{i}","vector":{vec(dim, i)}}}'


# name: (lines before, bad line, lines after, extra args, message pattern)
BAD_INPUT = {
    "invalid-json": (
        [good(1), good(2)], '{"collection":"bad","id":"x","vector":[1,2,3}',
        [good(3)], [], r"invalid JSON"),
    "missing-id": (
        [good(1), good(2)], '{"collection":"bad","vector":[1,2,3]}',
        [good(3)], [], r'"id" is missing'),
    "wrong-dimension": (
        [good(1, 4), good(2, 4)], good(9, 3), [good(3, 4)],
        ["--dim", "4"], r"3 dimensions, expected 4"),
    "mixed-dimensions": (
        [good(1), good(2)], good(9, 2), [good(3)], [],
        r"2 dimensions, expected 3 \(from line 1\)"),
    "nan": (
        [good(1), good(2)], '{"collection":"bad","id":"x","vector":[1,NaN,3]}',
        [good(3)], [], r"NaN"),
    "infinity": (
        [good(1), good(2)],
        '{"collection":"bad","id":"x","vector":[1,-Infinity,3]}',
        [good(3)], [], r"Infinity"),
    "over-float32": (
        [good(1), good(2)],
        '{"collection":"bad","id":"x","vector":[1,1e39,3]}',
        [good(3)], [], r"vector\[1\].*float32"),
    "over-max-dim": (
        [good(1), good(2)], good(9, 9), [good(3)],
        ["-X", "vcdc.max.dim=8"], r"9 dimensions, more than the maximum 8"),
    "invalid-utf8": (
        [good(1), good(2)],
        b'{"collection":"bad","id":"x\xff\xfe","vector":[1,2,3]}',
        [good(3)], [], r"invalid UTF-8"),
    "unknown-field": (
        [good(1), good(2)],
        '{"collection":"bad","id":"x","vector":[1,2,3],"colour":"red"}',
        [good(3)], [], r'unknown field "colour"'),
    # Valid for the parser (documents up to 1 MiB), too large for Kafka.
    "over-message-max-bytes": (
        [good(1), good(2)],
        '{"collection":"bad","id":"x","vector":[1,2,3],"document":"' +
        "d" * 1_000_000 + '"}',
        [good(3)], [], r"is \d+ bytes, more than message\.max\.bytes "
        r"\(1000000\)"),
}


def bad_file(tmp_path, case):
    before, bad, after, extra, pattern = BAD_INPUT[case]
    path = write_lines(tmp_path / f"{case}.jsonl", before + [bad] + after)
    return path, len(before) + 1, before, after, extra, pattern


def keys_of(lines):
    return sorted(json.loads(ln)["collection"].encode() + b"/" +
                  json.loads(ln)["id"].encode() for ln in lines)


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_stops(tmp_path, topic, compacted_topic, brokers,
                         run_producer, consume_topic, case):
    path, lineno, before, after, extra, pattern = bad_file(tmp_path, case)
    run = run_producer("-b", brokers, "-t", compacted_topic(1),
                       *extra, path)
    assert run.returncode == 1, run
    assert re.search(rf"{re.escape(str(path))}:{lineno}: .*{pattern}",
                     run.stderr), run
    assert "--on-error stop" in run.stderr, run
    assert f"published {len(before)}," in run.stderr, run
    got = sorted(m.key for m in consume_topic(topic))
    # What came before the bad line is in Kafka; nothing after it.
    assert got == keys_of(before)


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_skipped(tmp_path, topic, compacted_topic, brokers,
                           run_producer, consume_topic, case):
    path, lineno, before, after, extra, pattern = bad_file(tmp_path, case)
    run = run_producer("-b", brokers, "-t", compacted_topic(1),
                       "--on-error", "skip", *extra, path)
    assert run.returncode == 0, run
    tail = run.stderr[run.stderr.index("bad line(s) skipped"):]
    assert re.search(rf"{re.escape(str(path))}:{lineno}: .*{pattern}",
                     tail), run
    assert (f"published {len(before) + len(after)}, skipped 1,"
            in run.stderr), run
    assert sorted(m.key for m in consume_topic(topic)) == keys_of(
        before + after)


def test_skip_reports_every_bad_line_at_the_end(tmp_path, topic,
                                                compacted_topic, brokers,
                                                run_producer, consume_topic):
    lines, bad_lines, good_lines = [], [], []
    bad_kinds = [b for (_, b, _, extra, _) in BAD_INPUT.values() if not extra]
    for i in range(60):
        if i % 6 == 5:
            lines.append(bad_kinds[(i // 6) % len(bad_kinds)])
            bad_lines.append(i + 1)
        else:
            lines.append(good(i))
            good_lines.append(good(i))
    path = write_lines(tmp_path / "many.jsonl", lines)
    run = run_producer("-b", brokers, "-t", compacted_topic(1),
                       "--on-error", "skip", path)
    assert run.returncode == 0, run
    tail = run.stderr[run.stderr.index(f"{len(bad_lines)} bad line(s) "
                                       "skipped"):]
    reported = [int(n) for n in re.findall(rf"{re.escape(str(path))}:(\d+):",
                                           tail)]
    assert reported == bad_lines, run
    assert sorted(m.key for m in consume_topic(topic)) == keys_of(good_lines)


# -------------------------------------------------------------------- fvecs


def write_fvecs(path, rows, truncate_last_by=0):
    data = b"".join(struct.pack(f"<i{len(r)}f", len(r), *r) for r in rows)
    path.write_bytes(data[:len(data) - truncate_last_by])
    return path


def fvecs_rows(n, dim, seed):
    rng = random.Random(seed)
    return [[rng.uniform(-10, 10) for _ in range(dim)] for _ in range(n)]


def check_fvecs_topic(msgs, collection, ids, rows):
    assert len(msgs) == len(rows)
    got = {}
    for m in msgs:
        rec = wire.decode_single_object(m.value)
        assert rec["op"] == "UPSERT" and rec["collection"] == collection
        assert m.key == wire.kafka_key(collection, rec["id"])
        assert rec["metadata"] is None and rec["sparse"] is None
        got[rec["id"]] = wire.f32_bytes(rec["vector"])
    assert got == {i: wire.f32_bytes(r) for i, r in zip(ids, rows)}


def test_fvecs_ids_from_row_numbers(tmp_path, topic, compacted_topic, brokers,
                                    run_producer, consume_topic):
    rows = fvecs_rows(200, 24, seed=1)
    path = write_fvecs(tmp_path / "base.fvecs", rows)
    run = run_producer("-b", brokers, "-t", compacted_topic(2),
                       "-c", "sift/small", path)
    assert run.returncode == 0, run
    check_fvecs_topic(consume_topic(topic), "sift/small",
                      [str(i) for i in range(len(rows))], rows)


def test_fvecs_ids_from_sidecar_file(tmp_path, topic, compacted_topic, brokers,
                                     run_producer, consume_topic):
    rows = fvecs_rows(50, 8, seed=2)
    ids = [f"vec-ü-{i}" if i % 2 else f"日本/{i}" for i in range(len(rows))]
    path = write_fvecs(tmp_path / "base.fvecs", rows)
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n", encoding="utf-8")
    run = run_producer("-b", brokers, "-t", compacted_topic(2),
                       "-c", "col", "--ids",
                       tmp_path / "ids.txt", path)
    assert run.returncode == 0, run
    check_fvecs_topic(consume_topic(topic), "col", ids, rows)


def test_fvecs_truncated_names_the_record(tmp_path, topic, compacted_topic,
                                          brokers, run_producer,
                                          consume_topic):
    rows = fvecs_rows(10, 8, seed=3)
    path = write_fvecs(tmp_path / "cut.fvecs", rows, truncate_last_by=5)
    run = run_producer("-b", brokers, "-t", compacted_topic(1),
                       "-c", "col", path)
    assert run.returncode == 1, run
    assert re.search(rf"{re.escape(str(path))}:record 10: .*truncated",
                     run.stderr), run
    # The complete records before it were delivered.
    check_fvecs_topic(consume_topic(topic), "col",
                      [str(i) for i in range(9)], rows[:9])


def test_fvecs_ids_file_shorter_than_vectors(tmp_path, topic, compacted_topic,
                                             brokers, run_producer):
    path = write_fvecs(tmp_path / "base.fvecs", fvecs_rows(5, 4, seed=4))
    (tmp_path / "ids.txt").write_text("a\nb\n")
    run = run_producer("-b", brokers, "-t", compacted_topic(1),
                       "-c", "col", "--ids",
                       tmp_path / "ids.txt", path)
    assert run.returncode == 1, run
    assert re.search(rf"{re.escape(str(path))}:record 3: .*ids", run.stderr)


# ---------------------------------------------------------- failure modes


def start_producer(producer_bin, *args, stdin=subprocess.DEVNULL):
    """Starts vcdc-producer with a progress line every 100 ms; returns the
    process and a function that waits until it reported records sent."""
    proc = subprocess.Popen(
        [str(producer_bin), "-X", "vcdc.progress.ms=100"] +
        [str(a) for a in args], stdin=stdin, stderr=subprocess.PIPE)
    lines, sending = [], threading.Event()

    def read():
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace")
            lines.append(line)
            m = re.search(r"(\d+) records sent", line)
            if m and int(m.group(1)) > 0:
                sending.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def wait_sending(timeout=30):
        assert sending.wait(timeout), "".join(lines)

    return proc, wait_sending, lines, reader


def sent_keys_in_order(msgs):
    """The keys of msgs by partition, in offset order."""
    out = defaultdict(list)
    for m in msgs:
        out[m.partition].append(m.key)
    return out


def test_sigterm_flushes_what_was_read(tmp_path, topic, compacted_topic,
                                       brokers, producer_bin, consume_topic):
    n = 300_000
    path = tmp_path / "many.jsonl"
    with open(path, "w") as f:
        for i in range(n):
            f.write(f'{{"collection":"c","id":"k{i}","vector":[{i},0.5,1,2]}}'
                    "\n")
    proc, wait_sending, lines, reader = start_producer(
        producer_bin, "-b", brokers, "-t", compacted_topic(2), path)
    wait_sending()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 1, "".join(lines)
    reader.join(5)
    stderr = "".join(lines)
    assert "interrupted" in stderr
    m = re.search(r"published (\d+), skipped 0, failed 0", stderr)
    assert m, stderr
    published = int(m.group(1))
    assert 0 < published < n, ("the signal came too late to test anything",
                               published)
    # Exactly what the producer says it published, the first lines of the
    # input, each partition in input order.
    msgs = consume_topic(topic)
    assert len(msgs) == published
    want = [f"c/k{i}".encode() for i in range(published)]
    assert sorted(m.key for m in msgs) == sorted(want)
    index = {k: i for i, k in enumerate(want)}
    for part, keys in sent_keys_in_order(msgs).items():
        assert [index[k] for k in keys] == sorted(index[k] for k in keys), \
            part


def test_sigterm_while_waiting_on_stdin(topic, compacted_topic, brokers,
                                        producer_bin, consume_topic):
    proc, _, lines, reader = start_producer(
        producer_bin, "-b", brokers, "-t", compacted_topic(1),
        stdin=subprocess.PIPE)
    try:
        for i in range(100):
            proc.stdin.write(f'{{"collection":"c","id":"p{i}",'
                             f'"vector":[{i},1]}}\n'.encode())
        proc.stdin.flush()
        # Wait until all of it is in Kafka: the producer has read it all and
        # waits for more. The writer (an application feeding changes) is
        # idle, not gone.
        deadline = time.monotonic() + 20
        while len(consume_topic(topic)) < 100:
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = None
        assert rc == 1, "still running 5 s after SIGTERM"
        assert "published 100, skipped 0, failed 0" in "".join(lines)
        assert len(consume_topic(topic)) == 100
    finally:
        proc.stdin.close()
        if proc.poll() is None:
            proc.wait(timeout=30)


def test_unreachable_broker_fails_in_bounded_time(tmp_path, run_producer):
    path = write_lines(tmp_path / "u.jsonl",
                       ['{"collection":"c","id":"a","vector":[1,2]}'])
    run = run_producer("-b", "127.0.0.1:1", "-t", "nowhere",
                       "--create-topic", path, timeout=60)
    assert run.returncode != 0, run
    assert run.seconds < 45, run
    assert "127.0.0.1:1" in run.stderr, run
    assert re.search(r"broker|Connect", run.stderr, re.I), run


@pytest.mark.parametrize("key", ["no.such.librdkafka.key", "vcdc.no.such.key"])
def test_unknown_config_key_is_a_usage_error(tmp_path, run_producer, key):
    path = write_lines(tmp_path / "k.jsonl",
                       ['{"collection":"c","id":"a","vector":[1,2]}'])
    run = run_producer("-b", "127.0.0.1:1", "-t", "t", "-X", f"{key}=1",
                       path, timeout=30)
    assert run.returncode == 64, run
    assert key in run.stderr, run
    assert run.seconds < 5, run


def test_dim_above_max_dim_is_a_usage_error(tmp_path, run_producer):
    path = write_lines(tmp_path / "d.jsonl",
                       ['{"collection":"c","id":"a","vector":[1,2]}'])
    run = run_producer("-b", "127.0.0.1:1", "-t", "t", "--dim", 9, "-X",
                       "vcdc.max.dim=8", path, timeout=30)
    assert run.returncode == 64, run
    assert "--dim 9" in run.stderr and "vcdc.max.dim" in run.stderr, run

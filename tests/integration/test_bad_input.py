"""Bad input, end to end: each bad line or message gets a clear error
naming what and where, and nothing valid is lost.

Producer: a generated corpus (bad_input_gen.py) of valid JSON lines with
over a thousand malformed ones at random positions goes through
vcdc-producer into the real broker. With --on-error skip every valid line
must be in the topic exactly once and every bad line reported by number
with a reason of its class; with --on-error stop the run ends at the first
bad line, having published exactly the valid lines before it.

Consumer: messages that can never apply (an unknown single-object
fingerprint, an unknown Confluent schema id, records the sink or the
database refuses) land in TOPIC.dlq with headers naming the error class
and the origin, while every valid record around them is applied and the
consumer keeps running.
"""

import io
import json
import random
import re
from collections import defaultdict

import fastavro
import pytest

import bad_input_gen as gen
import wire
from conftest import NO_BROKER_REASON, kafka_available

pytestmark = pytest.mark.skipif(not kafka_available(), reason=NO_BROKER_REASON)

SEED = 20261126
N_VALID = 3000
N_BAD = 1200


def producer_args(brokers, topic, *extra):
    # No -c: a line without a collection is bad. vcdc.max.dim=64 makes the
    # over-the-maximum class cheap.
    return ["-b", brokers, "-t", topic, "-X", "vcdc.max.dim=64",
            "-X", "vcdc.progress.ms=0", *extra]


def skipped_reports(stderr, path):
    """{line: [reasons]} of the "skipped PATH:LINE: reason" log lines."""
    out = defaultdict(list)
    pat = re.compile(r" warn producer: skipped %s:(\d+): (.*)$"
                     % re.escape(str(path)), re.M)
    for m in pat.finditer(stderr):
        out[int(m.group(1))].append(m.group(2))
    return out


def check_topic(msgs, valid):
    """msgs must carry exactly the Valid lines: each upsert once, each
    delete once followed by its tombstone, fields as in the input."""
    want = {wire.kafka_key(v.collection, v.id): v for v in valid}
    assert len(want) == len(valid), "the generator repeated a key"
    got = defaultdict(list)
    problems = []
    for m in msgs:
        v = want.get(m.key)
        if v is None:
            problems.append("p%d@%d: key %r is no valid line's"
                            % (m.partition, m.offset, m.key[:80]))
            continue
        if m.value is None:
            got[m.key].append("T")
            continue
        rec = wire.decode_single_object(m.value)
        got[m.key].append(rec["op"][0])
        diffs = []
        if (rec["collection"], rec["id"]) != (v.collection, v.id):
            diffs.append("collection/id %r/%r" % (rec["collection"],
                                                  rec["id"]))
        if rec["op"] == "UPSERT":
            if wire.f32_bytes(rec["vector"]) != v.vector:
                diffs.append("vector %r" % (rec["vector"],))
            md = None if rec["metadata"] is None else json.loads(
                rec["metadata"])
            if md != v.metadata:
                diffs.append("metadata %r" % (md,))
            if rec["document"] != v.document:
                diffs.append("document %r" % (rec["document"],))
        if diffs:
            problems.append("line %d: %s" % (v.line, "; ".join(diffs)))
    assert not problems, "%d problems, e.g.:\n%s" % (
        len(problems), "\n".join(problems[:10]))
    wrong = [(v.line, got.get(k)) for k, v in want.items()
             if got.get(k) != (["U"] if v.op == "UPSERT" else ["D", "T"])]
    assert not wrong, ("%d valid lines not in the topic exactly once "
                       "(line, messages): %s" % (len(wrong), wrong[:10]))


# ---------------------------------------------------------------- producer


def test_generator_is_deterministic_and_covers_every_class(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    va, ba, _ = gen.generate(a, SEED, 300, 200, 5)
    gen.generate(b, SEED, 300, 200, 5)
    assert a.read_bytes() == b.read_bytes()
    assert len(va) == 300 and len(ba) == 200
    assert {x.cls for x in ba.values()} == set(gen.CLASSES)
    assert 1 not in ba  # line 1 fixes the dimension
    # A different seed, a different corpus.
    gen.generate(b, SEED + 1, 300, 200, 5)
    assert a.read_bytes() != b.read_bytes()


def test_committed_sample_is_the_generators(tmp_path):
    """tests/data/input/bad-sample.jsonl (read by tests/test_input.c) is
    what bad_input_gen.sample() writes: regenerate it with
    `python bad_input_gen.py --sample FILE` after changing a class."""
    classes = gen.sample(tmp_path / "s.jsonl")
    committed = gen.REPO_SAMPLE.read_bytes()
    assert committed == (tmp_path / "s.jsonl").read_bytes()
    assert len(classes) == 43  # tests/test_input.c counts on it
    assert committed.count(b"\n") == 2 * len(classes) + 1


def test_skip_reports_every_bad_line_and_publishes_every_valid_one(
        tmp_path, topic, compacted_topic, brokers, run_producer,
        consume_topic):
    path = tmp_path / "corpus.jsonl"
    valid, bad, blank = gen.generate(path, SEED, N_VALID, N_BAD)
    assert len(bad) >= 1000
    run = run_producer(*producer_args(brokers, compacted_topic(2),
                                      "--on-error", "skip"), path,
                       timeout=300)
    # Documented: 0 when every accepted record was acknowledged, however
    # many lines were skipped.
    assert run.returncode == 0, run
    assert ("published %d, skipped %d, failed 0" % (len(valid), len(bad))
            in run.stderr), run
    assert "%d bad line(s) skipped:" % len(bad) in run.stderr, run

    reports = skipped_reports(run.stderr, path)
    reported = set(reports)
    assert reported == set(bad), (
        "reported but not bad: %s; bad but not reported: %s" % (
            sorted(reported - set(bad))[:20],
            [(n, bad[n].cls) for n in sorted(set(bad) - reported)][:20]))
    twice = {n: r for n, r in reports.items() if len(r) > 1}
    assert not twice, twice
    assert not reported & blank
    wrong_reason = [(n, bad[n].cls, reports[n][0][:200])
                    for n in sorted(bad)
                    if not re.search(bad[n].pattern, reports[n][0])]
    assert not wrong_reason, "reasons unlike their class:\n%s" % "\n".join(
        map(str, wrong_reason[:20]))

    check_topic(consume_topic(topic, timeout=120), valid)
    by_class = defaultdict(int)
    for b in bad.values():
        by_class[b.cls] += 1
    print("\n%d valid, %d bad lines in %d classes, %d blank; producer %.1f s"
          % (len(valid), len(bad), len(by_class), len(blank), run.seconds))


def test_stop_at_the_first_bad_line(tmp_path, topic, compacted_topic,
                                    brokers, run_producer, consume_topic):
    path = tmp_path / "corpus.jsonl"
    valid, bad, _ = gen.generate(path, SEED + 7, N_VALID, N_BAD)
    first = min(bad)
    run = run_producer(*producer_args(brokers, compacted_topic(2)), path,
                       timeout=300)
    assert run.returncode == 1, run
    m = re.search(r" error producer: %s:(\d+): (.*) \(stopping: --on-error "
                  r"stop\)$" % re.escape(str(path)), run.stderr, re.M)
    assert m, run
    assert int(m.group(1)) == first, (m.group(0), first)
    assert re.search(bad[first].pattern, m.group(2)), (bad[first].cls,
                                                       m.group(2))
    before = [v for v in valid if v.line < first]
    assert "published %d, skipped 0, failed 0" % len(before) in run.stderr
    check_topic(consume_topic(topic), before)


def test_stop_names_the_line_of_every_class(tmp_path, topic,
                                            compacted_topic, brokers,
                                            run_producer, consume_topic):
    """One run per class, all into one topic: three valid lines, the bad
    one, two more valid ones. Each run exits 1 naming line 4 with its
    class's reason; the topic holds the first three lines of every run
    and nothing else."""
    compacted_topic(1)
    rng = random.Random(SEED)
    kept, failures = [], []
    for k, cls in enumerate(sorted(gen.CLASSES)):
        lines, recs = [], []
        for j in range(5):
            text, rec = gen.valid_line(rng, k * 10 + j, 0)
            lines.append(text.encode("utf-8"))
            recs.append(rec)
        lines.insert(3, gen.bad_line(cls, rng, k))
        path = tmp_path / ("%s.jsonl" % cls)
        path.write_bytes(b"\n".join(lines) + b"\n")
        run = run_producer(*producer_args(brokers, topic), path)
        m = re.search(r"%s:(\d+): (.*) \(stopping: --on-error stop\)"
                      % re.escape(str(path)), run.stderr)
        if (run.returncode != 1 or not m or m.group(1) != "4" or
                not re.search(gen.CLASSES[cls][1], m.group(2)) or
                "published 3, skipped 0, failed 0" not in run.stderr):
            failures.append((cls, run.returncode,
                             m.group(0)[:300] if m else run.stderr[-600:]))
        kept += recs[:3]
    assert not failures, "\n".join(map(str, failures))
    check_topic(consume_topic(topic), kept)


# ---------------------------------------------------------------- consumer

# Imported here, not at the top: they need confluent-kafka, which the
# producer tests above do not.
from consumer_helpers import (  # noqa: E402
    Chroma, ConsumerProc, Expected, Pg, caught_up, diff_state, make_delete,
    make_upsert, plain_ids, produce, read_all, unique, wait_for)

C_DIM = 16
C_PARTS = 2
C_COLLECTION = "docs"
SCHEMA_ID = 7  # the consumer runs with -X vcdc.schema.id=7
CHROMA_METADATA_ULPS = 4  # as in test_consumer.py: Chroma's float parsing


def avro_body(change, metadata_text=None, document_raw=None):
    """The Avro body of change (a make_upsert/make_delete dict), written by
    fastavro. metadata_text: the metadata field as this exact text.
    document_raw: the document field as these exact bytes (a placeholder
    of the same length is written, then replaced: an Avro string's bytes
    follow its length, so the length stays right)."""
    doc = change.get("document")
    if document_raw is not None:
        doc = "\x01" * len(document_raw)
    md = metadata_text
    if md is None and change.get("metadata") is not None:
        md = json.dumps(change["metadata"])
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, wire.PARSED_V1, {
        "collection": change["collection"], "id": change["id"],
        "op": change["op"].upper(), "vector": change.get("vector", []),
        "sparse": None, "metadata": md, "document": doc,
        "source_ts_ms": None})
    body = buf.getvalue()
    if document_raw is not None:
        body = body.replace(doc.encode(), document_raw, 1)
    return body


def single_object(body, fp=wire.FINGERPRINT_V1):
    return wire.SINGLE_OBJECT_MAGIC + fp + body


def confluent(body, schema_id):
    return wire.CONFLUENT_MAGIC + schema_id.to_bytes(4, "big") + body


def produce_many(stack, topic, messages):
    """Writes [(key, value)] in order, each to the partition the Java
    client's murmur2 picks for its key; returns [(partition, offset)]."""
    from confluent_kafka import Producer

    got = [None] * len(messages)

    def dr(i):
        def cb(err, msg):
            got[i] = (err, msg.partition(), msg.offset())
        return cb

    p = Producer({"bootstrap.servers": stack.brokers,
                  "enable.idempotence": True, "linger.ms": 5})
    for i, (key, value) in enumerate(messages):
        p.produce(topic, value=value, key=key,
                  partition=wire.java_partition(key, C_PARTS),
                  on_delivery=dr(i))
    assert p.flush(60) == 0, "messages not delivered"
    assert all(g is not None and g[0] is None for g in got), got
    return [(g[1], g[2]) for g in got]


def bad_cases(rng):
    """The messages that can never apply (on one sink or both), with what
    each sink must do: ("dlq", error class, text in vcdc.error) or
    ("apply", the change as the target must hold it)."""
    def up(name):
        return make_upsert(rng, C_COLLECTION, "bad-" + name, C_DIM, 0, 1)

    def both(outcome):
        return {"chroma": outcome, "pgvector": outcome}

    cases = []

    ch = up("fingerprint")
    cases.append(("unknown-fingerprint", b"docs/bad-fingerprint",
                  single_object(avro_body(ch), bytes(rng.getrandbits(8)
                                                     for _ in range(8))),
                  both(("dlq", "decode", "unknown schema fingerprint"))))
    ch = up("schema-id")
    cases.append(("unknown-schema-id", b"docs/bad-schema-id",
                  confluent(avro_body(ch), 42),
                  both(("dlq", "decode", "unknown schema id 42"))))
    ch = up("nul-document")
    cases.append(("nul-in-document", b"docs/bad-nul-document",
                  single_object(avro_body(ch, document_raw=b"ab\x00cd")),
                  both(("dlq", "decode",
                        'invalid field "document": it holds a NUL byte'))))
    ch = up("utf8-document")
    cases.append(("invalid-utf8-document", b"docs/bad-utf8-document",
                  single_object(avro_body(ch, document_raw=b"ab\xff\xfecd")),
                  both(("dlq", "invalid", "UTF-8"))))
    ch = up("nul-metadata")
    cases.append(("nul-escape-in-metadata", b"docs/bad-nul-metadata",
                  single_object(avro_body(ch, metadata_text=
                                          '{"k":"a\\u0000b"}')),
                  both(("dlq", "invalid", "JSON"))))
    # jansson reads 1e-20000 as 0.0; PostgreSQL's jsonb refuses it (its
    # numeric holds at most 16383 decimal places), and the pgvector sink's
    # check() predicts that, so it is dead-lettered before any batch.
    # Chroma's sink writes the 0.0 jansson read.
    ch = up("tiny-number")
    held = dict(ch, metadata={"tiny": 0.0, "k": 1})
    cases.append(("metadata-number-jsonb-refuses", b"docs/bad-tiny-number",
                  single_object(avro_body(ch, metadata_text=
                                          '{"tiny":1e-20000,"k":1}')),
                  {"pgvector": ("dlq", "invalid", "numeric"),
                   "chroma": ("apply", held)}))
    # Chroma holds flat metadata only (its server answers 422 to these);
    # pgvector's jsonb holds them.
    ch = up("nested")
    ch["metadata"] = {"k": {"a": [1, 2]}, "n": 1}
    cases.append(("nested-metadata", b"docs/bad-nested",
                  single_object(avro_body(ch)),
                  {"chroma": ("dlq", "invalid", "nested object"),
                   "pgvector": ("apply", ch)}))
    ch = up("null-value")
    ch["metadata"] = {"k": None, "n": 1}
    cases.append(("null-metadata-value", b"docs/bad-null-value",
                  single_object(avro_body(ch)),
                  {"chroma": ("dlq", "invalid", "null"),
                   "pgvector": ("apply", ch)}))
    cases.append(("tombstone-malformed-key", b"no-slash-in-this-key", None,
                  both(("dlq", "decode", "malformed key"))))
    # A delete of an id that is not UTF-8, or of the empty id: refused as
    # it is read, before any sink sees it.
    cases.append(("tombstone-invalid-utf8-id", b"docs/bad-\xff\xfe-id", None,
                  both(("dlq", "decode", "malformed key"))))
    cases.append(("tombstone-empty-id", b"docs/", None,
                  both(("dlq", "decode", "malformed key"))))
    return cases


@pytest.mark.parametrize("kind", ["pgvector", "chroma"])
def test_consumer_dead_letters_each_bad_class(kind, stack, procs, topic,
                                              tmp_path):
    """Bad messages amid valid ones, all in the batches of a running
    consumer: each bad one lands in TOPIC.dlq once, with headers naming
    its error class and origin; every valid record (single-object, and
    Confluent-framed with the configured schema id) is applied; the
    consumer keeps running and exits 0."""
    rng = random.Random(11)
    chroma, pg = Chroma(stack), Pg(stack)
    name = unique("it_bad")
    url = (stack.chroma_url(name) if kind == "chroma"
           else stack.pgvector_url(name))
    db = chroma if kind == "chroma" else pg

    first = [make_upsert(rng, C_COLLECTION, id_, C_DIM, 0, i)
             for i, id_ in enumerate(plain_ids(400, "first"))]
    produce(stack, topic, first, tmp_path / "first.jsonl", "--create-topic",
            "--partitions", str(C_PARTS))
    expected = Expected()
    expected.apply_all(first)

    group = topic + "_" + kind
    c = ConsumerProc(stack, topic, group, url, tmp_path / "consumer.log",
                     conf=("vcdc.schema.id=%d" % SCHEMA_ID,
                           "vcdc.batch.ms=1000"))
    procs.append(c)
    c.start()
    wait_for(lambda: db.count(name) == len(expected) or not c.alive(), 120,
             "the first records in " + kind)
    assert c.alive(), c.tail()

    # Valid records written by another client, in both framings, with the
    # bad ones at random places among them: they share batches.
    messages, valid = [], []
    for i, id_ in enumerate(plain_ids(300, "raw")):
        ch = make_upsert(rng, C_COLLECTION, id_, C_DIM, 0, i)
        body = avro_body(ch)
        value = (confluent(body, SCHEMA_ID) if i % 2
                 else single_object(body))
        messages.append((wire.kafka_key(C_COLLECTION, id_), value))
        valid.append(ch)
    cases = bad_cases(rng)
    for case in cases:
        messages.insert(rng.randrange(len(messages) + 1), case[1:3])
    where = produce_many(stack, topic, messages)
    expected.apply_all(valid)
    bad = {}  # (partition, offset) -> (case, key, value, expectation)
    for (key, value), at in zip(messages, where):
        for case in cases:
            if case[1] == key:
                bad[at] = (case[0], key, value, case[3][kind])
    assert len(bad) == len(cases)
    for nm, key, value, outcome in bad.values():
        if outcome[0] == "apply" and outcome[1] is not None:
            expected.apply(outcome[1])

    last = [make_upsert(rng, C_COLLECTION, id_, C_DIM, 1, i)
            for i, id_ in enumerate(plain_ids(100, "first"))]
    last += [make_delete(C_COLLECTION, id_)
             for id_ in plain_ids(400, "first")[300:350]]
    produce(stack, topic, last, tmp_path / "last.jsonl")
    expected.apply_all(last)

    wait_for(lambda: caught_up(stack, group, topic, range(C_PARTS))
             or not c.alive(), 240, "the group to reach the log end",
             interval=0.5)
    assert c.alive(), c.tail()
    assert c.terminate() == 0, c.tail()

    report = diff_state(expected, db.get_all(name),
                        metadata_ulps=(CHROMA_METADATA_ULPS
                                       if kind == "chroma" else 0))
    assert not report, "%s differs: %s\n%s" % (kind, report, c.tail())

    letters = {}
    for m in read_all(stack, topic + ".dlq"):
        h = {k: v.decode("utf-8", "replace") for k, v in (m.headers() or [])}
        if h.get("vcdc.topic") != topic:
            continue
        assert h.get("vcdc.sink", "").startswith(kind + "://"), h
        at = (int(h["vcdc.partition"]), int(h["vcdc.offset"]))
        assert at not in letters, "dead-lettered twice: %s" % (at,)
        letters[at] = (h, m.key(), m.value())
    want = {at for at, b in bad.items() if b[3][0] == "dlq"}
    assert set(letters) == want, (
        "dead letters at %s, expected at %s (%s)" % (
            sorted(letters), sorted(want),
            {at: bad[at][0] for at in bad}))
    rows = []
    for at in sorted(want):
        nm, key, value, (_, err_class, text) = bad[at]
        h, dkey, dvalue = letters[at]
        rows.append((nm, h["vcdc.error.class"], h["vcdc.error"]))
        assert dkey == key, (nm, dkey, key)
        assert h["vcdc.error.class"] == err_class, (nm, h)
        assert text in h["vcdc.error"], (nm, text, h["vcdc.error"])
        # The original bytes, whoever refused the record.
        assert dvalue == value, (nm, dvalue[:40] if dvalue else dvalue)
    # The refused records shared batches with valid ones, which were
    # applied (the state above): only the refused change was dead-lettered.
    split = [int(n) for n in re.findall(
        r"a batch of (\d+) changes was refused", c.log())]
    if any(bad[at][3][1] == "rejected" for at in want):
        assert split and max(split) > 1, split
    print("\n%s dead letters:\n%s" % (kind, "\n".join(
        "  %-32s %-8s %s" % r for r in rows)))

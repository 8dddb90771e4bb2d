"""The consumer's guarantees (DESIGN.md, The consumer), against the real
broker, Chroma and pgvector of scripts/stack.sh.

Every test generates its own input with a fixed seed, publishes it into a
topic of its own, runs bin/vcdc-consumer as a separate process and then
reads the target with an independent client (Chroma over plain HTTP,
pgvector with psycopg2). The expected state is computed here from the
generated changes, never from vcdc's code: the last change of an id wins.

Run under scripts/with-stack.sh (make test-integration), or after
`scripts/stack.sh up DIR` with DIR/env sourced.
"""

import io
import json
import random
import signal
import time

import fastavro
import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form

from consumer_helpers import (
    ODD_IDS, REPO, ConsumerProc, Expected, caught_up, committed, create_topic,
    diff_state, free_port, group_members, log_ends, make_delete, make_upsert,
    pg_connect, plain_ids, produce, produce_raw, read_all, refused,
    scrape_metrics, start_producer, unique, wait_for)
from proxy import TcpProxy

DIM = 128
PARTS = 4
PARTITIONS = list(range(PARTS))
COLLECTION = "docs"  # the collection named in the change records

# The fault tests (kill, outage, stop) use fewer records than the 20,000
# of the first two: upserts, deletes, re-upserts, interleaved. Enough for
# many batches per run on either sink.
FAULT_SIZE = (6000, 600, 800)

# The outage tests' consumer: evicted after 8 s without a poll, so it must
# keep polling through the outage; a sink call given up after 4 s.
OUTAGE_CONF = ["session.timeout.ms=6000", "heartbeat.interval.ms=500",
               "max.poll.interval.ms=8000", "vcdc.sink.timeout.ms=4000",
               "vcdc.retry.backoff.max.ms=2000"]

# Generous ceilings: only a hang or a bug comes near them.
RUN_TIMEOUT = 240


class Target:
    """One target of a sink kind, read through the independent clients."""

    def __init__(self, kind, stack, chroma, pg, name):
        self.kind, self.name = kind, name
        self.stack, self.chroma, self.pg = stack, chroma, pg
        self.proxy = None  # a TcpProxy the consumer reaches Chroma through
        self.throttle = None  # a slow TcpProxy it reaches pgvector through

    @property
    def url(self):
        if self.kind == "chroma":
            url = self.stack.chroma_url(self.name)
            if self.proxy is not None:
                url = url.replace(":%d/" % self.stack.chroma_port,
                                  ":%d/" % self.proxy.port)
            return url
        url = self.stack.pgvector_url(self.name)
        if self.throttle is not None:
            url = url.replace(":%d/" % self.stack.pg_port,
                              ":%d/" % self.throttle.port)
        return url

    @property
    def address(self):
        """(host, port) the consumer connects to."""
        if self.kind == "chroma":
            return ("127.0.0.1", self.proxy.port) if self.proxy else (
                self.stack.chroma_host, self.stack.chroma_port)
        return (self.stack.pg_host, self.stack.pg_port)

    def outage_setup(self, conf):
        """Readies the outage tests: Chroma is reached through a proxy its
        outage cuts; pgvector is slowed(). Returns conf with what the
        consumer needs for it."""
        if self.kind == "chroma":
            self.proxy = TcpProxy(self.stack.chroma_host,
                                  self.stack.chroma_port)
        return self.slowed(conf)

    def slowed(self, conf):
        """pgvector takes a test's history in a fraction of a second, before
        a test could stop it or its target: it is reached through a proxy
        holding each answer 20-50 ms, with small batches, so that what the
        test does lands mid-run. Chroma is slow enough as it is. Returns
        conf with what the consumer needs for it."""
        if self.kind == "chroma":
            return list(conf)
        self.throttle = TcpProxy(self.stack.pg_host, self.stack.pg_port)
        self.throttle.slow(0.02, 0.05)
        return list(conf) + ["vcdc.batch.records=100"]

    def close_proxies(self):
        for proxy in (self.proxy, self.throttle):
            if proxy is not None:
                proxy.close()

    def go_down(self):
        """The outage: pgvector is stopped for real; Chroma is cut off at
        its proxy (tests/integration/proxy.py says why)."""
        if self.proxy is not None:
            self.proxy.cut()
        else:
            self.stack.stop_one(self.kind)

    def come_back(self):
        if self.proxy is not None:
            self.proxy.restore()
        else:
            self.stack.start_one(self.kind)

    def count_or_none(self):
        db = self.chroma if self.kind == "chroma" else self.pg
        return db.count_or_none(self.name)

    def count(self):
        n = self.count_or_none()
        return -1 if n is None else n

    def get_all(self, **kw):
        db = self.chroma if self.kind == "chroma" else self.pg
        return db.get_all(self.name, **kw)

    def recorded_offsets(self, topic):
        db = self.chroma if self.kind == "chroma" else self.pg
        return db.recorded_offsets(self.name, topic)


def target(kind, stack, chroma, pg, prefix):
    return Target(kind, stack, chroma, pg, unique(prefix))


def consumer(procs, stack, topic, group, tgt, tmp_path, **kw):
    c = ConsumerProc(stack, topic, group, tgt.url,
                     tmp_path / ("%s.log" % group), **kw)
    procs.append(c)
    return c


# Chroma parses JSON numbers with serde_json's default, faster float
# parsing, which rounds twice (the digits to a double, then one division by
# a power of ten) and is not correctly rounded; its log then writes and
# reads the value again. About one metadata float in ten with 17
# significant digits reads back off by an ulp or more (0.38841719549076603
# is stored as 0.388417195490766), whatever text the client sends: up to 4
# ulps, as sink_chroma_int.h (vcdc_chroma_stored_real) measured. That is
# Chroma's, not vcdc's: for Chroma a metadata float may be that far off,
# and nothing else may differ. pgvector is exact.
CHROMA_METADATA_ULPS = 4


def assert_state(tgt, expected, proc=None):
    stats = {}
    report = diff_state(expected, tgt.get_all(),
                        metadata_ulps=(CHROMA_METADATA_ULPS
                                       if tgt.kind == "chroma" else 0),
                        stats=stats)
    if stats.get("metadata_floats_off"):
        print("\n%s %s: %d metadata floats 1-4 ulps off (Chroma's float "
              "parsing)" % (tgt.kind, tgt.name,
                            stats["metadata_floats_off"]))
    assert not report, "%s %s differs from the expected state: %s%s" % (
        tgt.kind, tgt.name, report,
        "\nconsumer log tail:\n" + proc.tail() if proc else "")


def assert_recorded_at_end(stack, tgt, topic):
    """The target's recorded offsets cover the whole log: the last offset
    of every partition."""
    ends = log_ends(stack, topic, PARTITIONS)
    rec = tgt.recorded_offsets(topic)
    assert {p: o + 1 for p, o in rec.items()} == {
        p: e for p, e in ends.items() if e > 0}, (rec, ends)


def create_topic_and_produce(stack, topic, changes, path):
    return produce(stack, topic, changes, path, "--create-topic",
                   "--partitions", str(PARTS))


def phased_history(rng, n_upserts, n_deletes, n_reupserts, overlap=100):
    """Phase 1: n_upserts new ids (some odd ones among them). Phase 2,
    shuffled: n_deletes deletes and n_reupserts re-upserts of existing ids
    with new vectors and metadata; `overlap` ids get both, in either
    order."""
    ids = plain_ids(n_upserts - len(ODD_IDS)) + ODD_IDS
    phase1 = [make_upsert(rng, COLLECTION, id_, DIM, 0, i)
              for i, id_ in enumerate(ids)]
    pool = list(ids)
    rng.shuffle(pool)
    # Odd ids in both sets: deleted, re-upserted, and both.
    for k, odd in enumerate(ODD_IDS[:3]):
        pool.remove(odd)
        pool.insert([0, n_deletes, n_deletes - 1][k], odd)
    deleted = pool[:n_deletes]
    reupserted = pool[n_deletes - overlap:n_deletes - overlap + n_reupserts]
    phase2 = [make_delete(COLLECTION, id_) for id_ in deleted]
    phase2 += [make_upsert(rng, COLLECTION, id_, DIM, 1, i)
               for i, id_ in enumerate(reupserted)]
    rng.shuffle(phase2)
    return phase1, phase2


def mixed_history(rng, n, n_deletes, n_reupserts, prefix="doc", dim=DIM):
    """n upserts of new ids with deletes and re-upserts of earlier ids
    interleaved among them, so any stretch of the log mixes all three."""
    ids = plain_ids(n, prefix)
    events = [(float(i), make_upsert(rng, COLLECTION, id_, dim, 0, i))
              for i, id_ in enumerate(ids)]
    pool = list(range(n))
    rng.shuffle(pool)
    for k, j in enumerate(pool[:n_deletes + n_reupserts]):
        at = j + rng.uniform(0.5, n - j + 0.5)
        if k < n_deletes:
            events.append((at, make_delete(COLLECTION, ids[j])))
        else:
            events.append((at, make_upsert(rng, COLLECTION, ids[j], dim, 1,
                                           j)))
    events.sort(key=lambda e: e[0])
    return [e[1] for e in events]


def rate(messages, proc):
    return messages / proc.elapsed()


# ---------------------------------------------------------------- tests


def test_two_sinks_concurrently_reach_the_exact_state(stack, chroma, pg,
                                                      procs, topic, tmp_path):
    """20,000 upserts, then 2,000 deletes and 3,000 re-upserts over 4
    partitions; a Chroma consumer (group old) and a pgvector consumer
    (group new) run at the same time and each ends with exactly the
    state the changes describe."""
    rng = random.Random(20240601)
    phase1, phase2 = phased_history(rng, 20000, 2000, 3000)
    create_topic_and_produce(stack, topic, phase1, tmp_path / "p1.jsonl")
    produce(stack, topic, phase2, tmp_path / "p2.jsonl")
    expected = Expected()
    expected.apply_all(phase1 + phase2)
    # 18,000 left, plus the overlap ids whose re-upsert followed their
    # delete: both orders occur.
    assert 18000 < len(expected) < 18100

    old = target("chroma", stack, chroma, pg, "it_old")
    new = target("pgvector", stack, chroma, pg, "it_new")
    c_old = consumer(procs, stack, topic, topic + "_old", old, tmp_path,
                     exit_at_end=True).start()
    c_new = consumer(procs, stack, topic, topic + "_new", new, tmp_path,
                     exit_at_end=True).start()
    rc_new = c_new.wait(RUN_TIMEOUT)
    rc_old = c_old.wait(RUN_TIMEOUT)
    assert rc_old == 0, c_old.tail()
    assert rc_new == 0, c_new.tail()

    # 25,000 changes and a tombstone after each of the 2,000 deletes.
    messages = 27000
    ends = log_ends(stack, topic, PARTITIONS)
    assert sum(ends.values()) == messages
    print("\napply rate, 128-d, two sinks at once: chroma %.0f msg/s "
          "(%.1f s), pgvector %.0f msg/s (%.1f s)" % (
              rate(messages, c_old), c_old.elapsed(),
              rate(messages, c_new), c_new.elapsed()))

    assert_state(old, expected, c_old)
    assert_state(new, expected, c_new)
    for tgt, group in ((old, topic + "_old"), (new, topic + "_new")):
        assert_recorded_at_end(stack, tgt, topic)
        assert committed(stack, group, topic, PARTITIONS) == ends
    # The applied offsets live beside the user's collection, not in it.
    assert chroma.count(old.name) == len(expected)


def test_replay_from_zero_while_new_writes_arrive(stack, chroma, pg, procs,
                                                  topic, tmp_path):
    """A third group replays the topic from offset zero into a fresh
    Chroma collection while a producer keeps writing upserts (new and
    existing ids) and deletes; it ends with the state of everything
    written. The topic is compacted as it goes (tiny segments, eager
    cleaner), so the replay reads a log with holes where superseded
    changes were, as a backfill from a long-lived topic does."""
    rng = random.Random(7)
    create_topic(stack, topic, PARTS, {
        "cleanup.policy": "compact", "segment.ms": "1000",
        "min.cleanable.dirty.ratio": "0.01", "min.compaction.lag.ms": "0"})
    history = mixed_history(rng, 20000, 1000, 1000)
    produce(stack, topic, history, tmp_path / "h.jsonl")
    expected = Expected()
    expected.apply_all(history)
    written = [20000 + 2000 + 1000]  # a tombstone after each delete
    assert sum(log_ends(stack, topic, PARTITIONS).values()) == written[0]
    # The cleaner has removed superseded changes before the replay starts.
    # It never cleans a partition's active segment, which rolls only when
    # a record arrives after segment.ms: the history may take less than
    # that to write, so one more record goes in at each check.
    nudges = []

    def compacted():
        nudge = make_upsert(rng, COLLECTION, "nudge-%d" % len(nudges), DIM,
                            0, len(nudges))
        produce(stack, topic, [nudge], tmp_path / "nudge.jsonl")
        nudges.append(nudge)
        written[0] += 1
        return len(read_all(stack, topic)) < written[0]

    wait_for(compacted, 90, "compaction of " + topic, interval=1)
    expected.apply_all(nudges)

    # The live writes: new ids, re-upserts of old ones (also of ids
    # deleted before), deletes of old and of new ids.
    old_ids = plain_ids(20000)
    live = []
    for i, id_ in enumerate(plain_ids(3000, "live")):
        live.append(make_upsert(rng, COLLECTION, id_, DIM, 0, i))
    for id_ in rng.sample(old_ids, 2000):
        live.append(make_upsert(rng, COLLECTION, id_, DIM, 2, 0))
    for id_ in rng.sample(old_ids, 800) + rng.sample(plain_ids(3000, "live"),
                                                     700):
        live.append(make_delete(COLLECTION, id_))
    rng.shuffle(live)
    # A delete of a new id must follow its upsert to mean anything.
    live.sort(key=lambda c: (c["op"] == "delete"
                             and c["id"].startswith("live")))
    expected.apply_all(live)

    tgt = target("chroma", stack, chroma, pg, "it_replay")
    group = topic + "_replay"
    c = consumer(procs, stack, topic, group, tgt, tmp_path).start()
    # Replaying: part of the history is in, not all of it.
    wait_for(lambda: tgt.count() >= 2000 or not c.alive(), 120,
             "the replay to get under way")
    assert c.alive(), c.tail()
    ends_before = log_ends(stack, topic, PARTITIONS)
    got = committed(stack, group, topic, PARTITIONS)
    assert any((got[p] or 0) < ends_before[p] for p in PARTITIONS), (
        "the replay finished before the live writes started: %s" % got)
    writer = start_producer(stack, topic, live, tmp_path / "live.jsonl")
    try:
        _, err = writer.communicate(timeout=180)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, err[-3000:]

    wait_for(lambda: caught_up(stack, group, topic, PARTITIONS)
             or not c.alive(), RUN_TIMEOUT, "the group to reach the log end",
             interval=0.5)
    assert c.alive(), c.tail()
    assert c.terminate() == 0, c.tail()
    assert_state(tgt, expected, c)
    assert_recorded_at_end(stack, tgt, topic)


@pytest.mark.parametrize("kind", ["pgvector", "chroma"])
def test_sigkill_three_times_still_exact(kind, stack, chroma, pg, procs,
                                         topic, tmp_path):
    """SIGKILL after about 10%, 40% and 75% of the records are in the
    target, a restart each time: the end state is still exact."""
    rng = random.Random(3)
    history = mixed_history(rng, *FAULT_SIZE)
    create_topic_and_produce(stack, topic, history, tmp_path / "h.jsonl")
    expected = Expected()
    expected.apply_all(history)
    final = len(expected)

    tgt = target(kind, stack, chroma, pg, "it_kill")
    group = topic + "_g"
    # Static membership: the restarted process takes the killed one's
    # place at once instead of waiting out its session. Small batches:
    # more of them, so a kill lands mid-batch more often, and a fast sink
    # cannot finish between two looks at the count.
    conf = ["group.instance.id=" + group + "_i", "vcdc.batch.records=250"]
    c = consumer(procs, stack, topic, group, tgt, tmp_path,
                 exit_at_end=True, conf=conf)
    killed_at = []
    for frac in (0.10, 0.40, 0.75):
        c.start()

        def reached():
            if not c.alive():
                return -1
            n = tgt.count()
            return n if n >= frac * final else None

        n = wait_for(reached, 120, "%d%% of the records in %s" % (
            frac * 100, kind), interval=0.02)
        assert c.alive() and n > 0, (
            "the consumer ended before %d%% of the records were in: "
            "exit %s\n%s" % (frac * 100, c.proc.poll(), c.tail()))
        assert c.kill() == -9
        killed_at.append(n)
    print("\n%s: SIGKILL at target counts %s of %d" % (kind, killed_at,
                                                       final))
    assert killed_at[-1] < final, "the last kill came after the end"
    c.start()
    assert c.wait(RUN_TIMEOUT) == 0, c.tail()
    assert_state(tgt, expected, c)
    assert_recorded_at_end(stack, tgt, topic)


@pytest.mark.parametrize("kind", ["pgvector", "chroma"])
def test_target_outage_retried_without_leaving_the_group(
        kind, stack, chroma, pg, procs, topic, tmp_path):
    """The target is stopped for 15 s mid-run and started again: the
    consumer retries, keeps polling and stays in its group (a poll
    interval shorter than the outage would evict a consumer that stopped
    polling), then finishes with the exact state."""
    rng = random.Random(4)
    history = mixed_history(rng, *FAULT_SIZE)
    create_topic_and_produce(stack, topic, history, tmp_path / "h.jsonl")
    expected = Expected()
    expected.apply_all(history)

    tgt = target(kind, stack, chroma, pg, "it_outage")
    conf = tgt.outage_setup(OUTAGE_CONF)
    group = topic + "_g"
    port = free_port()
    c = consumer(procs, stack, topic, group, tgt, tmp_path,
                 exit_at_end=True, metrics_port=port, conf=conf).start()
    wait_for(lambda: tgt.count() >= 0.2 * len(expected) or not c.alive(),
             120, "20% of the records in " + kind, interval=0.02)
    assert c.alive(), c.tail()
    tgt.go_down()
    stopped = time.monotonic()
    # The member at the outage's start: the session timeout (6 s) has not
    # passed, so it is the one that was applying.
    state, members = wait_for(
        lambda: (lambda s, m: (s, m) if len(m) == 1 else None)(
            *group_members(stack, group)), 5, "one member in the group")
    member = members[0]
    try:
        metrics = wait_for(
            lambda: (lambda m: m if m and m.get(
                "vcdc_consumer_retries_total", 0) > 0 else None)(
                    scrape_metrics(port)), 14,
            "vcdc_consumer_retries_total > 0 while %s is down" % kind,
            interval=0.2)
        assert refused(*tgt.address), "%s still answers" % kind
        while time.monotonic() - stopped < 15:
            assert c.alive(), "consumer exited during the outage: %s\n%s" % (
                c.proc.poll(), c.tail())
            time.sleep(0.2)  # the outage itself: 15 s, watched
        state, members = group_members(stack, group)
        assert members == [member], (
            "after 15 s of outage the group has %s (%s), not the member "
            "%s it had" % (members, state, member))
    finally:
        tgt.come_back()

    assert c.wait(RUN_TIMEOUT) == 0, c.tail()
    tgt.close_proxies()
    log = c.log()
    assert "retry" in log, log[-3000:]
    assert metrics["vcdc_consumer_retries_total"] > 0
    assert_state(tgt, expected, c)
    assert_recorded_at_end(stack, tgt, topic)


def _single_object(change):
    """change (a JSONL-style dict) in Avro single-object encoding, with
    fastavro and the schema file."""
    schema = fastavro.parse_schema(json.loads(
        (REPO / "schemas" / "change.avsc").read_text(encoding="utf-8")))
    fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(schema),
                                   "CRC-64-AVRO"))
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, {
        "collection": change["collection"], "id": change["id"],
        "op": change["op"].upper(), "vector": change.get("vector", []),
        "sparse": None,
        "metadata": (json.dumps(change["metadata"])
                     if change.get("metadata") is not None else None),
        "document": change.get("document"), "source_ts_ms": None})
    return b"\xc3\x01" + fp + buf.getvalue()


def test_bad_records_go_to_the_dead_letter_topic(stack, chroma, pg, procs,
                                                 topic, tmp_path):
    """Garbage bytes, a truncated Avro message and a record of the wrong
    dimension, among valid records, go to TOPIC.dlq with headers naming
    the error and where the message was; every valid record is applied,
    by a Chroma and a pgvector consumer alike."""
    rng = random.Random(5)
    first = mixed_history(rng, 3000, 200, 200, prefix="first")
    create_topic_and_produce(stack, topic, first, tmp_path / "first.jsonl")
    expected = Expected()
    expected.apply_all(first)

    targets = [target("chroma", stack, chroma, pg, "it_dlq"),
               target("pgvector", stack, chroma, pg, "it_dlq")]
    cons = [consumer(procs, stack, topic, "%s_%s" % (topic, t.kind), t,
                     tmp_path).start() for t in targets]
    # The targets exist, with the valid records' dimension, before any
    # bad record comes.
    for t, c in zip(targets, cons):
        wait_for(lambda: t.count() == len(expected) or not c.alive(), 120,
                 "the first records in " + t.kind)
        assert c.alive(), c.tail()

    bad = {}  # (partition, offset) -> (kind, key, value or None)
    garbage = bytes(rng.getrandbits(8) for _ in range(64))
    key = b"docs/garbage-0"
    bad[(0, produce_raw(stack, topic, 0, key, garbage))] = (
        "garbage", key, garbage)
    garbage2 = b"\x00\x00\x00\x00\x07not avro at all"
    key = b"docs/garbage-1"
    bad[(3, produce_raw(stack, topic, 3, key, garbage2))] = (
        "garbage", key, garbage2)

    # A valid record written with fastavro (so the framing is right) ...
    ok = make_upsert(rng, COLLECTION, "fastavro-ok", DIM, 0, 1)
    produce_raw(stack, topic, 1, b"docs/fastavro-ok", _single_object(ok))
    expected.apply(ok)
    # ... and one cut short in its vector.
    cut = make_upsert(rng, COLLECTION, "truncated", DIM, 0, 2)
    value = _single_object(cut)
    value = value[:len(value) // 2]
    key = b"docs/truncated"
    bad[(2, produce_raw(stack, topic, 2, key, value))] = (
        "truncated", key, value)

    # A valid record of another dimension, through vcdc-producer.
    wrong = make_upsert(rng, COLLECTION, "wrong-dim", 16, 0, 3)
    produce(stack, topic, [wrong], tmp_path / "wrong.jsonl", "--dim", "16")
    located = [m for m in read_all(stack, topic)
               if m.key() == b"docs/wrong-dim"]
    assert len(located) == 1
    m = located[0]
    bad[(m.partition(), m.offset())] = ("wrong-dim", m.key(), m.value())

    last = mixed_history(rng, 2000, 200, 300, prefix="last")
    produce(stack, topic, last, tmp_path / "last.jsonl")
    expected.apply_all(last)

    for t, c in zip(targets, cons):
        group = "%s_%s" % (topic, t.kind)
        wait_for(lambda: caught_up(stack, group, topic, PARTITIONS)
                 or not c.alive(), RUN_TIMEOUT,
                 "%s's group to reach the log end" % t.kind, interval=0.5)
        assert c.alive(), c.tail()
    for c in cons:
        assert c.terminate() == 0, c.tail()
    for t, c in zip(targets, cons):
        assert_state(t, expected, c)

    letters = read_all(stack, topic + ".dlq")
    for t in targets:
        got = {}
        for m in letters:
            h = {k: v.decode() for k, v in (m.headers() or [])}
            sink = h.get("vcdc.sink", "")
            if not (sink.startswith(t.kind + "://") and
                    sink.endswith("/" + t.name)):
                continue
            for name in ("vcdc.error", "vcdc.error.class", "vcdc.topic",
                         "vcdc.partition", "vcdc.offset"):
                assert h.get(name), "dead letter without %s: %s" % (name, h)
            assert h["vcdc.topic"] == topic, h
            where = (int(h["vcdc.partition"]), int(h["vcdc.offset"]))
            assert where not in got, "dead-lettered twice: %s" % (where,)
            got[where] = (h, m.key(), m.value())
        assert set(got) == set(bad), (
            "%s: dead letters at %s, bad records at %s" % (
                t.kind, sorted(got), sorted(bad)))
        for where, (kind, key, value) in bad.items():
            h, dkey, dvalue = got[where]
            assert dkey == key, (kind, dkey, key)
            if kind == "wrong-dim":
                assert h["vcdc.error.class"] in ("invalid", "rejected"), h
                assert "dim" in h["vcdc.error"].lower(), h
            else:
                assert h["vcdc.error.class"] == "decode", h
            if h["vcdc.error.class"] != "rejected":
                assert dvalue == value, (kind, dvalue[:40], value[:40])


@pytest.mark.parametrize("kind", ["pgvector", "chroma"])
def test_sigterm_commits_what_the_target_recorded(kind, stack, chroma, pg,
                                                  procs, topic, tmp_path):
    """SIGTERM mid-run: exit 0, and the group's committed offsets are the
    target's recorded offsets + 1, partition by partition. A restart then
    finishes the exact state."""
    rng = random.Random(6)
    history = mixed_history(rng, *FAULT_SIZE)
    create_topic_and_produce(stack, topic, history, tmp_path / "h.jsonl")
    expected = Expected()
    expected.apply_all(history)

    tgt = target(kind, stack, chroma, pg, "it_term")
    conf = tgt.slowed([])
    group = topic + "_g"
    c = consumer(procs, stack, topic, group, tgt, tmp_path,
                 exit_at_end=True, conf=conf).start()
    wait_for(lambda: tgt.count() >= 0.4 * len(expected) or not c.alive(),
             120, "40% of the records in " + kind, interval=0.02)
    assert c.alive(), c.tail()
    assert c.terminate() == 0, c.tail()

    ends = log_ends(stack, topic, PARTITIONS)
    got = committed(stack, group, topic, PARTITIONS)
    recorded = tgt.recorded_offsets(topic)
    assert sum(o or 0 for o in got.values()) < sum(ends.values()), (
        "stopped only after the end: nothing in flight to test")
    assert got == {p: (recorded[p] + 1 if p in recorded else None)
                   for p in PARTITIONS}, (
        "committed %s, recorded in %s %s" % (got, kind, recorded))

    c.start()
    assert c.wait(RUN_TIMEOUT) == 0, c.tail()
    assert_state(tgt, expected, c)
    assert_recorded_at_end(stack, tgt, topic)
    tgt.close_proxies()


def pg_busy(stack):
    """How many other sessions are running a statement (not waiting for
    their client)."""
    conn = pg_connect(stack)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE "
                        "backend_type = 'client backend' AND "
                        "pid <> pg_backend_pid() AND state = 'active' AND "
                        "wait_event IS DISTINCT FROM 'ClientRead'")
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_sigterm_during_an_outage_exits_at_once(stack, chroma, pg, procs,
                                                topic, tmp_path):
    """SIGTERM while the target is down and the consumer is retrying: it
    does not wait the outage out. It exits 0 promptly, having committed
    exactly what the target recorded (the failing batch is neither), and a
    later run finishes the exact state."""
    rng = random.Random(8)
    history = mixed_history(rng, 4000, 400, 400)
    create_topic_and_produce(stack, topic, history, tmp_path / "h.jsonl")
    expected = Expected()
    expected.apply_all(history)

    tgt = target("pgvector", stack, chroma, pg, "it_termout")
    group = topic + "_g"
    port = free_port()
    # Small batches: PostgreSQL applies the whole history in well under a
    # second, and the count must be seen at 20% with most still to come.
    c = consumer(procs, stack, topic, group, tgt, tmp_path,
                 exit_at_end=True, metrics_port=port,
                 conf=["vcdc.batch.records=100"]).start()
    wait_for(lambda: tgt.count() >= 0.2 * len(expected) or not c.alive(),
             120, "20% of the records in pgvector", interval=0.02)
    assert c.alive(), c.tail()
    # The outage starts between two batches, or the exact offsets below
    # need not hold: PostgreSQL's fast shutdown can end a session between
    # a batch's COMMIT and its pipeline's Sync, and the sink then counts
    # that committed batch as failed (recorded in the target, not committed
    # to Kafka). The consumer is held still (SIGSTOP) until its batch in
    # flight has ended, which also keeps it from finishing the history.
    c.proc.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: not pg_busy(stack), 30,
                 "the consumer's batch in flight to end", interval=0.02)
        stack.stop_one("pgvector")
    finally:
        c.proc.send_signal(signal.SIGCONT)
    try:
        wait_for(lambda: (scrape_metrics(port) or {}).get(
            "vcdc_consumer_retries_total", 0) > 0, 20,
            "a retry while pgvector is down", interval=0.1)
        t0 = time.monotonic()
        # Backoff alone (up to 10 s by default) would be longer than this.
        assert c.terminate(timeout=5) == 0, c.tail()
        print("\nexit %.2f s after SIGTERM during the outage"
              % (time.monotonic() - t0))
    finally:
        stack.start_one("pgvector")

    got = committed(stack, group, topic, PARTITIONS)
    recorded = tgt.recorded_offsets(topic)
    assert got == {p: (recorded[p] + 1 if p in recorded else None)
                   for p in PARTITIONS}, (got, recorded)
    assert sum(o or 0 for o in got.values()) < sum(
        log_ends(stack, topic, PARTITIONS).values())
    c.start()
    assert c.wait(RUN_TIMEOUT) == 0, c.tail()
    assert_state(tgt, expected, c)
    assert_recorded_at_end(stack, tgt, topic)

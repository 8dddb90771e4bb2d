"""`vcdc snapshot` on the real stack (issue 18; docs/DESIGN.md, "The
snapshot of a live OLD"): a consistent copy of an OLD that already holds
data into the topic, while applications keep writing through the log.

Every case follows the runbook: OLD (a Chroma collection or a pgvector
table) is filled directly through its own API, not through vcdc; writers
then switch to the log (a live writer feeding vcdc-producer), OLD's
consumer applies the topic to OLD, `vcdc snapshot` copies OLD into the
topic in tiny chunks (so windows and live writes collide often) while the
writer goes on changing the very ids being read, and NEW's consumer
replays the topic from offset 0 into an empty NEW. At the end:

- OLD and NEW both equal the state computed here independently (the
  pre-fill, then the writer's changes in order) and `vcdc verify` finds
  them equal;
- the log itself, replayed here (fastavro, last record of each key), is
  that state: the end state does not rest on a consumer's skipping;
- an id deleted during the snapshot is absent, one updated during it
  holds the writer's last value (never the pre-fill's);
- the snapshot's records carry vcdc.snapshot and vcdc.snapshot.group,
  repairs vcdc.repair, and all are placed as the producer places a key.

With kills, the snapshot is SIGKILLed at seeded random points and run
again with the same arguments (it resumes: resumed_chunk), and OLD's and
NEW's consumers are SIGKILLed and restarted meanwhile; the end state must
still be exact. Bad input (unreachable OLD or broker, a missing
collection, a group not consuming the topic, a topic deleting history or
compacting too early) exits 64 or 75 naming the problem, with nothing
written. The collection's metric travels to NEW.

Heavier seeds and sizes run under `-m soak`.
"""

import json
import random
import time

import pytest

from consumer_helpers import (ConsumerProc, caught_up, create_topic,
                              diff_state, free_port, group_members, log_ends,
                              pg_connect, produce, read_all, unique, wait_for)
from snapshot_helpers import (DIM, LAG_MS, LiveWriter, SnapshotRun,
                              apply_changes, fill_old, last_ops, old_db,
                              run_vcdc)
from test_consumer import CHROMA_METADATA_ULPS, Target
from wire import decode_single_object, java_partition

PARTITIONS = 3
CHUNK = 50
SNAPSHOT_TIMEOUT = 300
CATCH_UP_TIMEOUT = 240
DIRECTIONS = [("chroma", "pgvector"), ("pgvector", "chroma")]
EXIT_USAGE, EXIT_UNREACHABLE = 64, 75


def make_topic(stack, lag_ms=LAG_MS, policy="compact"):
    topic = unique("it_snap")
    cfg = {"cleanup.policy": policy}
    if lag_ms is not None:
        cfg["min.compaction.lag.ms"] = str(lag_ms)
    create_topic(stack, topic, PARTITIONS, cfg)
    return topic


def members(stack, group):
    """The group's members; none while its coordinator is not ready."""
    from confluent_kafka import KafkaException
    try:
        return group_members(stack, group)[1]
    except KafkaException:
        return []


def headers(m):
    return {k: (v.decode() if v is not None else None)
            for k, v in (m.headers() or [])}


class Migration:
    """One run of the runbook's first steps: OLD filled directly, the
    writer switched to the log, OLD's consumer, the snapshot, NEW."""

    def __init__(self, stack, chroma, pg, procs, tmp_path, old_kind,
                 new_kind, seed, n, metric=None, rate=300, chunk=CHUNK):
        self.stack, self.procs, self.tmp = stack, procs, tmp_path
        self.chunk = chunk
        self.seed, self.rng = seed, random.Random("kills-%d" % seed)
        self.topic = make_topic(stack)
        self.collection = unique("snap_old")
        self.old = old_db(old_kind, stack, self.collection)
        self.ids, self.prefill = fill_old(
            self.old, seed, n,
            metric or ("cosine" if old_kind == "chroma" else None))
        self.old_t = Target(old_kind, stack, chroma, pg, self.collection)
        self.new_t = Target(new_kind, stack, chroma, pg, unique("snap_new"))
        self.g_old, self.g_new = unique("g_old"), unique("g_new")
        self.old_c = self._consumer(self.g_old, self.old.url, "old")
        self.new_c = self._consumer(self.g_new, self.new_t.url, "new")
        self.writer = LiveWriter(stack, self.topic, self.collection,
                                 self.ids, seed, rate, tmp_path / "w.log")
        procs.append(self.writer)
        self.runs = []
        self.kills = 0

    def _consumer(self, group, url, name):
        # Each chunk waits for OLD's recorded offsets to pass its low
        # watermark; Chroma's are written at most once per commit
        # interval (1 s by default: one chunk a second under live
        # writes). Tiny chunks need them often. A SIGKILLed member
        # holds its partitions until its session times out (45 s by
        # default), and OLD applies nothing meanwhile.
        c = ConsumerProc(self.stack, self.topic, group, url,
                         self.tmp / ("%s.log" % name),
                         collection=self.collection,
                         conf=["vcdc.commit.interval.ms=100",
                               "session.timeout.ms=6000"])
        self.procs.append(c)
        return c

    def switch_writers(self):
        """Writers to the log, OLD's consumer applying it: snapshot's
        precondition (the group consumes the topic, OLD records
        offsets)."""
        self.old_c.start()
        self.writer.start()
        wait_for(lambda: members(self.stack, self.g_old), 60,
                 "OLD's consumer joined its group", 0.5)
        wait_for(lambda: self.old_t.recorded_offsets(self.topic), 60,
                 "OLD's consumer recorded offsets in OLD")

    def args(self, *extra):
        return ["--from", self.old.url, "-t", self.topic, "--old-group",
                self.g_old, "-b", self.stack.brokers, "--chunk", self.chunk,
                "--json"] + list(extra)

    def snapshot(self, kills=0, extra=()):
        """Runs vcdc snapshot to its end; with kills, SIGKILLs it that
        many times at seeded random points (and a consumer, OLD's or
        NEW's, before each), each time running it again with the same
        arguments. Returns the last run's --json summary."""
        for k in range(kills + 1):
            run = SnapshotRun(self.args(*extra), self.tmp, len(self.runs))
            self.runs.append(run)
            self.procs.append(run)
            run.start()
            if k == kills:
                break
            # A kill before the first chunk is finished leaves nothing
            # to resume: let each run finish one, then kill at a random
            # point after it.
            wait_for(lambda: run.chunks_done() or run.proc.poll()
                     is not None, 120, "a chunk finished", 0.1)
            time.sleep(self.rng.uniform(0, 1.5))
            c = self.rng.choice([self.old_c, self.new_c])
            if c.alive():
                c.kill()
                c.start()
            time.sleep(self.rng.uniform(0.5, 2.0))
            if run.kill() is None:
                break  # it had ended: nothing left to kill
            self.kills += 1
        rc = self.runs[-1].wait(SNAPSHOT_TIMEOUT)
        assert rc == 0, str(self.runs[-1])
        return self.runs[-1].summary()

    def finish(self, extra_seconds=1.0):
        """A little more live writing after the snapshot, then the
        writer stops and both consumers catch up with the log end."""
        self.writer.wait_for(len(self.writer.changes) +
                             int(self.writer.rate * extra_seconds), 60)
        self.writer.stop()
        for c, g in ((self.old_c, self.g_old), (self.new_c, self.g_new)):
            assert c.alive(), c.tail()
            wait_for(lambda g=g: caught_up(self.stack, g, self.topic,
                                           range(PARTITIONS)),
                     CATCH_UP_TIMEOUT, "group %s caught up" % g, 0.5)
        self.expected = apply_changes(self.prefill, self.writer.changes)

    def check_state(self):
        """OLD, NEW and the log's own replay all equal the expected
        state; vcdc verify agrees."""
        for t, c in ((self.old_t, self.old_c), (self.new_t, self.new_c)):
            report = diff_state(
                self.expected, t.get_all(),
                metadata_ulps=CHROMA_METADATA_ULPS if t.kind == "chroma"
                else 0)
            assert not report, "%s (%s) differs from the expected state: "\
                "%s\nconsumer log:\n%s\nsnapshot runs:\n%s" % (
                    t.name, t.kind, report, c.tail(),
                    "\n".join(str(r) for r in self.runs[-2:]))
        report = diff_state(self.expected, self.log_state())
        assert not report, "the log's replay differs: " + report
        p = run_vcdc(["verify", "--old", self.old.url, "--new",
                      self.new_t.url], timeout=300)
        assert p.returncode == 0, "vcdc verify exit %d:\n%s\n%s" % (
            p.returncode, p.stdout[-3000:], p.stderr[-3000:])

    def log_state(self):
        """The topic replayed here: each key's last record. Also checks
        the snapshot's records and repairs: headers, placement."""
        self.messages = read_all(self.stack, self.topic, timeout=120)
        last = {}
        prefix = self.collection + "/"
        for m in self.messages:
            key = m.key().decode()
            assert key.startswith(prefix), key
            h = headers(m)
            if "vcdc.snapshot" in h or "vcdc.repair" in h:
                assert m.partition() == java_partition(
                    m.key(), PARTITIONS), (key, m.partition())
            if "vcdc.snapshot" in h and "vcdc.repair" not in h:
                assert h.get("vcdc.snapshot.group") == self.g_old, h
            last[key[len(prefix):]] = m
        state = {}
        for id_, m in last.items():
            if m.value() is None:
                continue
            rec = decode_single_object(m.value())
            assert rec["id"] == id_ and rec["collection"] == \
                self.collection, rec
            if rec["op"] == "DELETE":
                continue
            state[id_] = (rec["vector"], None if rec["metadata"] is None
                          else json.loads(rec["metadata"]), rec["document"])
        return state

    def snapshot_ids(self):
        """{id: count} of the snapshot's own records (not repairs)."""
        out = {}
        for m in self.messages:
            h = headers(m)
            if "vcdc.snapshot" in h and "vcdc.repair" not in h:
                id_ = m.key().decode()[len(self.collection) + 1:]
                out[id_] = out.get(id_, 0) + 1
        return out

    def check_live_changes(self):
        """Deleted during the snapshot: gone; updated: the writer's last
        value. Both non-vacuous."""
        ops = last_ops(self.writer.changes)
        deleted = [i for i, c in ops.items()
                   if c["op"] == "delete" and i in self.prefill]
        updated = [i for i, c in ops.items()
                   if c["op"] == "upsert" and i in self.prefill]
        assert len(deleted) > 20 and len(updated) > 20, (
            len(deleted), len(updated))
        for t in (self.old_t, self.new_t):
            held = t.get_all()
            back = [i for i in deleted if i in held]
            assert not back, "%s: deleted during the snapshot, back: %s" % (
                t.kind, back[:10])
            rolled = [i for i in updated if held.get(i, (None,))[0] !=
                      ops[i]["vector"] and held.get(i, (None,))[0] ==
                      self.prefill[i][0]]
            assert not rolled, "%s: updates rolled back: %s" % (
                t.kind, rolled[:10])

    def untouched(self):
        """Pre-filled ids the writer never changed."""
        touched = {c["id"] for c in self.writer.changes}
        return [i for i in self.prefill if i not in touched]


def check_summary(s, m):
    for k in ("records", "chunks", "superseded", "repairs", "seconds",
              "resumed_chunk"):
        assert k in s, "summary lacks %s: %s" % (k, s)
    assert all(isinstance(s[k], int) and s[k] >= 0
               for k in ("records", "chunks", "superseded", "repairs")), s
    assert s["seconds"] >= 0, s
    untouched = m.untouched()
    if not m.kills:
        # Each id the writer never touched is read and never superseded:
        # a snapshot record at least (a Chroma scan that lost its place
        # steps back and may read one twice, DESIGN.md). A page also has
        # room for the deletes since the page before, so chunks may hold
        # more than --chunk records: only their existence is checked.
        assert s["resumed_chunk"] is None, s
        assert s["records"] >= len(untouched), (s, len(untouched))
        assert s["chunks"] >= 1, s
        counts = m.snapshot_ids()
        never = [i for i in untouched if not counts.get(i)]
        assert not never, "untouched ids without a snapshot record: " \
            "%s" % never[:10]
    else:
        assert s["resumed_chunk"] is not None, (
            "killed %d times, the last run did not resume: %s"
            % (m.kills, s))
        counts = m.snapshot_ids()
        missing = [i for i in untouched if not counts.get(i)]
        assert not missing, "untouched ids never snapshotted: %s" % (
            missing[:10])


# ------------------------------------------------- the main cases


@pytest.mark.parametrize("old_kind,new_kind", DIRECTIONS)
def test_snapshot_under_live_writes_is_exact(old_kind, new_kind, stack,
                                             chroma, pg, procs, tmp_path):
    """20,000 pre-filled records, chunks of 100, a writer changing them
    at 300 changes/s throughout: OLD = NEW = the expected state = the
    log's replay; verify agrees; the summary accounts for every id the
    writer never touched (one snapshot record each). (Chunks of 50 here
    took 30-165 s from a Chroma OLD on a loaded 2-core machine: the kill
    cases use them on fewer records.)"""
    m = Migration(stack, chroma, pg, procs, tmp_path, old_kind, new_kind,
                  seed=1, n=20000, chunk=100)
    m.switch_writers()
    m.new_c.start()
    summary = m.snapshot()
    m.finish()
    m.check_state()
    m.check_live_changes()
    check_summary(summary, m)
    assert summary["superseded"] + summary["repairs"] > 0, (
        "no window ever met a live write: the test did not collide them",
        summary)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_snapshot_killed_and_resumed_is_exact(seed, stack, chroma, pg,
                                              procs, tmp_path):
    """The snapshot SIGKILLed 3 times at seeded random points and rerun
    with the same arguments, a consumer (OLD's or NEW's) SIGKILLed and
    restarted before each kill: the last run resumes, and the end state
    is still exact. Seeds alternate the direction. The writer is slower
    than in the main case: a Chroma OLD's scan steps back by the deletes
    between two chunks (DESIGN.md, Paging Chroma), and a chunk waiting
    out a killed consumer's session sees many."""
    old_kind, new_kind = DIRECTIONS[seed % 2]
    m = Migration(stack, chroma, pg, procs, tmp_path, old_kind, new_kind,
                  seed=seed, n=5000, rate=100)
    m.switch_writers()
    m.new_c.start()
    # --max-rate keeps the run long enough for the kills to land in it.
    summary = m.snapshot(kills=3, extra=("--max-rate", "800"))
    assert m.kills >= 1, "the snapshot ended before any kill"
    m.finish()
    m.check_state()
    m.check_live_changes()
    check_summary(summary, m)


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(100, 110))
def test_snapshot_soak(seed, stack, chroma, pg, procs, tmp_path):
    """Bigger, more seeds, more kills, a faster writer."""
    old_kind, new_kind = DIRECTIONS[seed % 2]
    m = Migration(stack, chroma, pg, procs, tmp_path, old_kind, new_kind,
                  seed=seed, n=50000, rate=600)
    m.switch_writers()
    m.new_c.start()
    summary = m.snapshot(kills=6, extra=("--max-rate", "2000"))
    m.finish()
    m.check_state()
    m.check_live_changes()
    if m.kills:
        check_summary(summary, m)


def test_the_checks_catch_a_plain_export(stack, chroma, pg, procs,
                                        tmp_path):
    """What the snapshot replaces, run through the same checks: OLD read
    whole, then appended through vcdc-producer while the writer goes on.
    An old copy appended after a newer change wins in log order: the
    checks must find updates rolled back and deleted ids back (they
    could not fail otherwise)."""
    m = Migration(stack, chroma, pg, procs, tmp_path, "chroma", "pgvector",
                  seed=2, n=3000)
    m.switch_writers()
    m.new_c.start()
    # Read as a plain export reads, while the writer goes on: pages
    # shift under it (an id may come twice; its later copy is kept).
    held = m.old_t.get_all(repeats=True)
    m.writer.wait_for(len(m.writer.changes) + 500, 60)
    copies = []
    for id_, (vec, md, doc) in held.items():
        c = {"collection": m.collection, "id": id_, "op": "upsert",
             "vector": vec}
        if md is not None:
            c["metadata"] = md
        if doc is not None:
            c["document"] = doc
        copies.append(c)
    produce(stack, m.topic, copies, tmp_path / "export.jsonl")
    m.runs = []
    m.finish()
    with pytest.raises(AssertionError, match="differs from the expected"):
        m.check_state()
    with pytest.raises(AssertionError, match="back: "):
        m.check_live_changes()


# ------------------------------------------ the configuration travels


@pytest.mark.parametrize("old_kind,metric", [("chroma", "l2"),
                                             ("pgvector", "ip")])
def test_the_metric_travels_to_new(old_kind, metric, stack, chroma, pg,
                                   procs, tmp_path):
    """OLD created with a metric other than the default (cosine); NEW's
    consumer, started without --metric after the snapshot, creates its
    target with OLD's metric; one started with a contradicting --metric
    refuses."""
    new_kind = "pgvector" if old_kind == "chroma" else "chroma"
    m = Migration(stack, chroma, pg, procs, tmp_path, old_kind, new_kind,
                  seed=7, n=500, metric=metric, rate=50)
    m.switch_writers()
    m.snapshot()
    m.new_c.start()
    m.finish(extra_seconds=0.2)
    m.check_state()
    assert target_metric(m.new_t) == metric, (
        "NEW %s was created with %r, OLD has %r" % (
            m.new_t.name, target_metric(m.new_t), metric))
    other = Target(new_kind, stack, chroma, pg, unique("snap_other"))
    c = ConsumerProc(stack, m.topic, unique("g_other"), other.url,
                     tmp_path / "other.log", exit_at_end=True,
                     collection=m.collection)
    c.args += ["--metric", "cosine"]
    procs.append(c)
    rc = c.start().wait(120)
    assert rc != 0 and metric in c.log(), (rc, c.tail())


def target_metric(t):
    if t.kind == "chroma":
        from snapshot_helpers import ChromaOld
        return ChromaOld(t.stack, t.name).space()
    conn = pg_connect(t.stack)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT metric FROM vcdc_targets WHERE "
                        "table_name = %s", (t.name,))
            row = cur.fetchone()
            return row and row[0]
    finally:
        conn.close()


# ------------------------------------------------------ bad input


def topic_ends(stack, topic):
    """{partition: end} of topic, {} when it does not exist."""
    from consumer_helpers import admin
    md = admin(stack).list_topics(topic, timeout=15).topics.get(topic)
    if md is None or md.error is not None:
        return {}
    return log_ends(stack, topic, sorted(md.partitions))


@pytest.fixture(scope="module")
def small_old(stack, chroma, pg, tmp_path_factory):
    """A Chroma OLD of 200 records with its consumer running on a
    compacted topic holding 20 live changes: everything right, for the
    bad-input cases to break one thing at a time."""
    tmp = tmp_path_factory.mktemp("snap_bad")
    procs = []
    m = Migration(stack, chroma, pg, procs, tmp, "chroma", "pgvector",
                  seed=3, n=200)
    # A control topic of its own: the checkpoints a refusal must not
    # write, and nobody else's.
    m.ctl = unique("it_snap_ctl")
    m.old_c.start()
    produce(stack, m.topic, [{"collection": m.collection, "id": "live-%d" % i,
                              "op": "upsert", "vector": [0.5] * DIM}
                             for i in range(20)], tmp / "live.jsonl")
    wait_for(lambda: caught_up(stack, m.g_old, m.topic, range(PARTITIONS)),
             60, "OLD's consumer caught up")
    yield m
    for p in procs:
        p.cleanup()


def records_held(ends_of):
    return {t: {p: e for p, e in ends.items() if e}
            for t, ends in ends_of.items()}


def assert_refused(stack, args, code, names, topics):
    before = {t: topic_ends(stack, t) for t in topics}
    p = run_vcdc(["snapshot"] + args, timeout=120)
    assert p.returncode == code, "exit %d, not %d:\n%s" % (
        p.returncode, code, p.stderr[-3000:])
    for name in names:
        assert name in p.stderr, "stderr does not name %r:\n%s" % (
            name, p.stderr[-3000:])
    assert p.stdout.strip() == "", p.stdout
    after = {t: topic_ends(stack, t) for t in topics}
    # An empty topic created on the way holds nothing: compared by the
    # records each partition holds.
    assert records_held(after) == records_held(before), \
        "written on a refusal: %s -> %s" % (before, after)


def base_args(m, **over):
    a = {"--from": m.old.url, "-t": m.topic, "--old-group": m.g_old,
         "-b": m.stack.brokers, "--chunk": str(CHUNK),
         "--control-topic": m.ctl}
    a.update(over)
    return [x for k, v in a.items() if v is not None for x in (k, v)]


def test_unreachable_old_exits_75(stack, small_old):
    port = free_port()
    for url in ("chroma://127.0.0.1:%d/%s" % (port, small_old.collection),
                "pgvector://postgres@127.0.0.1:%d/postgres?table=%s"
                % (port, small_old.collection)):
        assert_refused(stack, base_args(small_old, **{"--from": url}),
                       EXIT_UNREACHABLE, [str(port)],
                       [small_old.topic, small_old.ctl])


def test_unreachable_broker_exits_75(stack, small_old):
    port = free_port()
    assert_refused(stack, base_args(small_old, **{
        "-b": "127.0.0.1:%d" % port}), EXIT_UNREACHABLE, [str(port)],
        [small_old.topic, small_old.ctl])


def test_missing_collection_exits_64(stack, small_old):
    name = unique("snap_nosuch")
    assert_refused(stack, base_args(small_old, **{
        "--from": stack.chroma_url(name)}), EXIT_USAGE, [name],
        [small_old.topic, small_old.ctl])
    table = unique("snap_notable")
    assert_refused(stack, base_args(small_old, **{
        "--from": stack.pgvector_url(table)}), EXIT_USAGE, [table],
        [small_old.topic, small_old.ctl])


def test_group_not_consuming_the_topic_exits_64(stack, small_old):
    group = unique("g_idle")
    assert_refused(stack, base_args(small_old, **{"--old-group": group}),
                   EXIT_USAGE, [group], [small_old.topic, small_old.ctl])


def test_topic_deleting_history_exits_64(stack, small_old, tmp_path, procs):
    """A topic with cleanup.policy=delete, OLD's consumer on it."""
    topic = make_topic(stack, lag_ms=None, policy="delete")
    group = unique("g_old_del")
    c = ConsumerProc(stack, topic, group, small_old.old.url,
                     tmp_path / "c.log", collection=small_old.collection)
    procs.append(c)
    c.start()
    produce(stack, topic, [{"collection": small_old.collection, "id": "d",
                            "op": "upsert", "vector": [0.25] * DIM}],
            tmp_path / "d.jsonl", "--allow-retention")
    wait_for(lambda: caught_up(stack, group, topic, range(PARTITIONS)), 60,
             "OLD's consumer caught up")
    assert_refused(stack, base_args(small_old, **{"-t": topic,
                                                  "--old-group": group}),
                   EXIT_USAGE, ["cleanup.policy"], [topic, small_old.ctl])


def test_compaction_lag_too_short(stack, small_old, tmp_path, procs):
    """min.compaction.lag.ms 0: refused, naming the setting; with
    --set-compaction-lag the tool raises it and copies OLD."""
    topic = make_topic(stack, lag_ms=0)
    group = unique("g_old_lag")
    c = ConsumerProc(stack, topic, group, small_old.old.url,
                     tmp_path / "c.log", collection=small_old.collection)
    procs.append(c)
    c.start()
    produce(stack, topic, [{"collection": small_old.collection, "id": "e",
                            "op": "upsert", "vector": [0.75] * DIM}],
            tmp_path / "e.jsonl")
    wait_for(lambda: caught_up(stack, group, topic, range(PARTITIONS)), 60,
             "OLD's consumer caught up")
    args = base_args(small_old, **{"-t": topic, "--old-group": group})
    assert_refused(stack, args, EXIT_USAGE, ["min.compaction.lag.ms"],
                   [topic, small_old.ctl])
    p = run_vcdc(["snapshot"] + args + ["--set-compaction-lag", "--json"],
                 timeout=SNAPSHOT_TIMEOUT)
    assert p.returncode == 0, p.stderr[-3000:]
    assert json.loads(p.stdout)["records"] == small_old.old_t.count(), \
        p.stdout
    from conftest import Admin
    assert int(Admin(stack.brokers).config(
        topic, "min.compaction.lag.ms")) >= LAG_MS


def test_usage_errors_exit_64(stack, small_old):
    for drop in ("--from", "-t", "--old-group"):
        assert_refused(stack, base_args(small_old, **{drop: None}),
                       EXIT_USAGE, [drop.lstrip("-")],
                       [small_old.topic, small_old.ctl])
    assert_refused(stack, base_args(small_old, **{"--chunk": "0"}),
                   EXIT_USAGE, ["chunk"], [small_old.topic, small_old.ctl])


def test_human_summary(stack, small_old):
    """Without --json: the summary lines, on stdout."""
    p = run_vcdc(["snapshot"] + base_args(small_old),
                 timeout=SNAPSHOT_TIMEOUT)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = dict(line.split(None, 1) for line in p.stdout.splitlines()
                 if line.strip())
    for k in ("records", "chunks", "superseded", "repairs", "seconds"):
        assert k in lines, p.stdout
    assert int(lines["records"]) == small_old.old_t.count(), p.stdout


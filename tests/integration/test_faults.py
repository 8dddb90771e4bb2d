"""Faults against the real broker and databases of scripts/stack.sh
(issue 6): consumers SIGKILLed at random points, the Kafka broker stopped
(SIGTERM) or killed (SIGKILL) during production and during consumption,
a target database stopped mid-run or made slow by a delaying TCP proxy,
and one of two consumers of a group killed.

test_consumer.py already kills a consumer at three fixed points and stops
a target for 15 s; these generalise them (N random points, any size, a
30 s outage, a slow target, a group of two).

Every test ends the same way: the expected state, computed here from the
generated changes (the last change of each id wins), is loaded into a
fresh reference table in pgvector with a plain batched INSERT (psycopg2,
the layout the pgvector sink creates), and `bin/vcdc verify --old
REFERENCE --new TARGET --json` must exit 0 with 0 missing, extra and
different records and as many records on both sides as expected. Before
that the target is also read with the independent clients of
consumer_helpers.py and diffed in Python, so vcdc's verify is not the only
judge of its own output. Each test prints one line: faults injected,
records written, records verified, differences.

Tests marked `soak` are the long variants (200,000 records and 20 kills,
30 s outages, ...): tests/run-integration.sh deselects them unless given
-m; `make soak` runs them.
"""

import json
import os
import random
import subprocess
import threading
import time

import fastavro
import pytest

from consumer_helpers import (
    REPO, ConsumerProc, Expected, caught_up, committed, create_topic,
    diff_state, free_port, group_members, log_ends, pg_connect, produce,
    read_all, scrape_metrics, unique, wait_for, write_jsonl)
from proxy import TcpProxy
from test_consumer import (CHROMA_METADATA_ULPS, OUTAGE_CONF, Target,
                           mixed_history)

VCDC_BIN = REPO / "bin" / "vcdc"

# Small vectors: these tests are about faults, not about vector sizes, and
# the soak variants write 200,000 records.
DIM = 32
RUN_TIMEOUT = 300

soak = pytest.mark.soak


# ------------------------------------------------------------ helpers


def history(seed, size, prefix="doc"):
    """size changes: upserts of new ids with deletes (1 in 15) and
    re-upserts (1 in 10) of earlier ids interleaved."""
    n_del, n_re = size // 15, size // 10
    return mixed_history(random.Random(seed), size - n_del - n_re, n_del,
                         n_re, prefix=prefix, dim=DIM)


def expected_of(changes):
    e = Expected()
    e.apply_all(changes)
    return e


def new_target(kind, stack, chroma, pg, prefix):
    return Target(kind, stack, chroma, pg, unique(prefix))


def consumer(procs, stack, topic, group, url, tmp_path, **kw):
    c = ConsumerProc(stack, topic, group, url,
                     tmp_path / ("%s.log" % group), **kw)
    procs.append(c)
    return c


def stop_component(stack, name, kill=False):
    subprocess.run(["bash", stack.stack_sh, "stop-one", name] +
                   (["--kill"] if kill else []) + [stack.run_dir],
                   check=True, timeout=120)


def load_reference(stack, table, expected):
    """Creates table with the pgvector sink's layout and fills it with the
    expected state, 500 rows an INSERT."""
    from psycopg2.extras import execute_values
    rows = [(id_, "[%s]" % ",".join(repr(x) for x in vec),
             None if md is None else json.dumps(md), doc)
            for id_, (vec, md, doc) in expected.state.items()]
    conn = pg_connect(stack)
    try:
        with conn.cursor() as cur:
            cur.execute('CREATE TABLE "%s" (id text PRIMARY KEY, '
                        'embedding vector(%d) NOT NULL, metadata jsonb, '
                        'document text)' % (table, DIM))
            execute_values(cur, 'INSERT INTO "%s" (id, embedding, metadata, '
                           'document) VALUES %%s' % table, rows,
                           template="(%s, %s::vector, %s::jsonb, %s)",
                           page_size=500)
            cur.execute('SELECT count(*) FROM "%s"' % table)
            assert cur.fetchone()[0] == len(rows)
    finally:
        conn.close()


def verify_exact(stack, tgt, expected, faults, written, proc=None):
    """The end of every test: an independent diff of the target against
    the expected state, then `vcdc verify` of a reference table holding
    that state against the target. Prints the counts line; returns the
    verify report."""
    stats = {}
    report = diff_state(expected, tgt.get_all(),
                        metadata_ulps=(CHROMA_METADATA_ULPS
                                       if tgt.kind == "chroma" else 0),
                        stats=stats)
    assert not report, "%s %s differs from the expected state: %s%s" % (
        tgt.kind, tgt.name, report,
        "\nconsumer log tail:\n" + proc.tail() if proc else "")

    ref = unique("it_ref")
    load_reference(stack, ref, expected)
    p = subprocess.run([str(VCDC_BIN), "verify", "--old",
                        stack.pgvector_url(ref), "--new", tgt.url, "--json"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode in (0, 1), "vcdc verify exit %d: %s" % (
        p.returncode, p.stderr[-3000:])
    res = json.loads(p.stdout)
    diffs = sum(res[k]["count"] for k in ("missing", "extra", "vector",
                                          "metadata", "document"))
    print("\n%s %s: faults injected %d, records written %d, records "
          "verified %d, differences %d" % (tgt.kind, tgt.name, faults,
                                           written, res["compared"], diffs))
    assert p.returncode == 0 and res["ok"] is True and diffs == 0, (
        "vcdc verify: %s" % p.stdout)
    n = len(expected)
    assert (res["old_count"], res["new_count"], res["compared"]) == (
        n, n, n), res
    return res


def group_assignment(stack, group):
    """(state, {member id: [partitions]}) of a consumer group."""
    from consumer_helpers import admin
    client = admin(stack)
    d = client.describe_consumer_groups([group], request_timeout=10)[
        group].result(timeout=15)
    return str(d.state), {
        m.member_id: sorted(tp.partition for tp in
                            (m.assignment.topic_partitions
                             if m.assignment else []))
        for m in d.members}


def one_member(stack, group):
    _, members = group_members(stack, group)
    return members if len(members) == 1 else None


# ------------------------------------------- 1. SIGKILL at random points


@pytest.mark.parametrize("kind,size,kills", [
    ("pgvector", 30000, 6),
    # Chroma applies about a third as fast as pgvector here: fewer
    # records keep `make test` short; the soak variant has 200,000.
    ("chroma", 20000, 6),
    pytest.param("pgvector", 200000, 20, marks=soak),
    pytest.param("chroma", 200000, 20, marks=soak),
])
def test_sigkill_at_random_points(kind, size, kills, stack, chroma, pg,
                                  procs, topic, tmp_path):
    """A replay of size changes into a fresh target; the consumer is
    SIGKILLed at `kills` random points (by how many records the target
    holds) and restarted each time. The end state is exact."""
    rng = random.Random(size * 31 + kills)
    changes = history(size, size)
    produce(stack, topic, changes, tmp_path / "h.jsonl", "--create-topic",
            "--partitions", "4", timeout=600)
    expected = expected_of(changes)
    final = len(expected)

    tgt = new_target(kind, stack, chroma, pg, "it_fkill")
    group = topic + "_g"
    # Static membership, so a restart takes the killed process's place at
    # once; small batches, so a kill often lands in one.
    conf = ["group.instance.id=" + group + "_i", "vcdc.batch.records=250"]
    c = consumer(procs, stack, topic, group, tgt.url, tmp_path,
                 exit_at_end=True, conf=conf)
    points = sorted(rng.uniform(0.02, 0.92) for _ in range(kills))
    killed_at = []
    for frac in points:
        c.start()
        # At the point, and past the last kill's count: each run applies
        # something before it dies.
        want = max(int(frac * final), (killed_at[-1] + 1) if killed_at
                   else 1)

        def reached():
            if not c.alive():
                return -1
            n = tgt.count()
            return n if n >= want else None

        n = wait_for(reached, RUN_TIMEOUT, "%d records in %s" % (want, kind),
                     interval=0.02)
        assert c.alive() and n > 0, (
            "the consumer ended before %d records were in: exit %s\n%s"
            % (want, c.proc.poll(), c.tail()))
        assert c.kill() == -9
        killed_at.append(n)
    print("\n%s: SIGKILL at target counts %s of %d" % (kind, killed_at,
                                                       final))
    assert len(killed_at) == kills and killed_at[-1] < final, killed_at
    c.start()
    assert c.wait(RUN_TIMEOUT * 4) == 0, c.tail()
    verify_exact(stack, tgt, expected, kills, len(changes), c)


# --------------------------------------------- 2. the broker goes away


def decode_topic(stack, topic):
    """{id: [(partition, change)]} of every message of topic in log order,
    decoded with fastavro (single-object encoding); a tombstone is
    {"op": "tombstone"}."""
    schema = fastavro.parse_schema(json.loads(
        (REPO / "schemas" / "change.avsc").read_text(encoding="utf-8")))
    import io
    out = {}
    for m in sorted(read_all(stack, topic, timeout=120),
                    key=lambda m: (m.partition(), m.offset())):
        coll, _, id_ = m.key().decode().partition("/")
        assert coll == "docs", m.key()
        if m.value() is None:
            ch = {"op": "tombstone"}
        else:
            v = m.value()
            assert v[:2] == b"\xc3\x01", v[:10]
            r = fastavro.schemaless_reader(io.BytesIO(v[10:]), schema)
            assert r["id"] == id_, (r["id"], m.key())
            ch = {"op": r["op"].lower()}
            if r["op"] == "UPSERT":
                ch["vector"] = r["vector"]
                ch["metadata"] = (None if r["metadata"] is None
                                  else json.loads(r["metadata"]))
                ch["document"] = r["document"]
        out.setdefault(id_, []).append((m.partition(), ch))
    return out


def as_log(change):
    """What change must look like in the topic: one message, and a
    tombstone after a delete."""
    if change["op"] == "delete":
        return [{"op": "delete"}, {"op": "tombstone"}]
    return [{"op": "upsert", "vector": change["vector"],
             "metadata": change.get("metadata"),
             "document": change.get("document")}]


class FifoFeeder:
    """Feeds a JSONL file to a reader through a named pipe, a slice at a
    time, so a fault can come between two slices of one producer run."""

    def __init__(self, fifo, lines):
        self.lines = lines
        self.pos = 0
        os.mkfifo(fifo)
        self.fifo = fifo
        self.f = None

    def feed(self, upto):
        if self.f is None:
            # Blocks until the reader has opened it.
            self.f = open(self.fifo, "w", encoding="utf-8")
        self.f.writelines(self.lines[self.pos:upto])
        self.f.flush()
        self.pos = upto

    def close(self):
        if self.f is not None:
            self.f.close()


@pytest.mark.parametrize("kill_producing,kill_consuming", [
    (False, True),
    pytest.param(True, False, marks=soak),
])
def test_broker_restart_while_producing_and_consuming(
        kill_producing, kill_consuming, stack, chroma, pg, procs, topic,
        tmp_path):
    """The broker is stopped and started again while vcdc-producer is
    publishing a JSONL file (fed through a named pipe so the stop lands
    mid-file): the producer retries and exits 0, and the topic holds each
    change exactly once, each id's changes in order in one partition.
    Then a Chroma and a pgvector consumer replay it and the broker goes
    down again mid-replay; once it is back more changes arrive, and both
    consumers, back in their groups, end with the exact state."""
    changes = history(11, 12000)
    expected = expected_of(changes)
    written = len(changes)
    # Not compacted: every message must still be there to be counted.
    create_topic(stack, topic, 4, {"cleanup.policy": "delete"})
    jsonl = tmp_path / "h.jsonl"
    write_jsonl(jsonl, changes)
    lines = jsonl.read_text(encoding="utf-8").splitlines(keepends=True)
    feeder = FifoFeeder(str(tmp_path / "h.fifo"), lines)
    prod = subprocess.Popen([str(REPO / "bin" / "vcdc-producer"), "-b",
                             stack.brokers, "-t", topic, "-q",
                             "--allow-retention", feeder.fifo],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    err = ""
    try:
        feeder.feed(len(lines) * 2 // 5)
        wait_for(lambda: sum(log_ends(stack, topic, range(4)).values()) > 0,
                 60, "the first records in " + topic, interval=0.1)
        stop_component(stack, "kafka", kill=kill_producing)
        try:
            # Written while the broker is down: queued, retried.
            feeder.feed(len(lines) * 4 // 5)
            assert prod.poll() is None, "producer exited with the broker down"
        finally:
            stack.start_one("kafka")
        feeder.feed(len(lines))
        feeder.close()
        _, err = prod.communicate(timeout=RUN_TIMEOUT)
    finally:
        feeder.close()
        if prod.poll() is None:
            prod.kill()
            prod.wait()
    assert prod.returncode == 0, err[-3000:]

    # Exactly once, in order per id, in one partition per id.
    got = decode_topic(stack, topic)
    want = {}
    for ch in changes:
        want.setdefault(ch["id"], []).extend(as_log(ch))
    assert set(got) == set(want), (len(got), len(want))
    bad = [id_ for id_ in want
           if [c for _, c in got[id_]] != want[id_] or
           len({p for p, _ in got[id_]}) != 1]
    assert not bad, "%d ids not exactly once in order, e.g. %s: %s vs %s" % (
        len(bad), bad[0], got[bad[0]], want[bad[0]])
    n_msgs = sum(len(v) for v in got.values())
    print("\nproducer: %d changes, %d messages, each exactly once in order "
          "across a broker %s" % (written, n_msgs,
                                  "SIGKILL" if kill_producing else "stop"))

    # The replay, with the broker going down mid-way. pgvector applies
    # 12,000 changes in about 2 s here, so the consumers run without
    # --exit-at-end and more changes are written once the broker is back:
    # whatever they had fetched before, they must come back to it to
    # finish.
    tgts = [new_target(k, stack, chroma, pg, "it_fbroker")
            for k in ("pgvector", "chroma")]
    groups = [topic + "_" + t.kind for t in tgts]
    cons = [consumer(procs, stack, topic, g, t.url, tmp_path,
                     conf=["vcdc.batch.records=250"]).start()
            for g, t in zip(groups, tgts)]
    wait_for(lambda: any(t.count() >= 0.1 * len(expected) for t in tgts) or
             not all(c.alive() for c in cons), RUN_TIMEOUT,
             "10% of the records in a target", interval=0.02)
    assert all(c.alive() for c in cons), [c.tail() for c in cons]
    stop_component(stack, "kafka", kill=kill_consuming)
    try:
        assert all(c.alive() for c in cons), [c.tail() for c in cons]
    finally:
        stack.start_one("kafka")
    tail = history(15, 2000, prefix="tail")
    produce(stack, topic, tail, tmp_path / "tail.jsonl", "--allow-retention")
    expected.apply_all(tail)
    written += len(tail)
    for g, c in zip(groups, cons):
        wait_for(lambda: caught_up(stack, g, topic, range(4))
                 or not c.alive(), RUN_TIMEOUT, g + " to reach the log end",
                 interval=0.5)
        assert c.alive(), c.tail()
        # Back in its group after the broker's restart.
        assert len(group_members(stack, g)[1]) == 1, c.tail()
    for c in cons:
        assert c.terminate() == 0, c.tail()
    for t, c in zip(tgts, cons):
        verify_exact(stack, t, expected, 2, written, c)


# ------------------------------------- 3. a target down, a target slow


@soak
@pytest.mark.parametrize("kind", ["pgvector", "chroma"])
def test_target_down_30s(kind, stack, chroma, pg, procs, topic, tmp_path):
    """The target is down for 30 s mid-run (test_consumer.py does 15 s
    on a smaller run): pgvector is stopped, Chroma cut off at a proxy
    (proxy.py says why). The consumer retries, stays in its group with
    the same member id, and ends with the exact state."""
    changes = history(12, 60000)
    produce(stack, topic, changes, tmp_path / "h.jsonl", "--create-topic",
            "--partitions", "4", timeout=300)
    expected = expected_of(changes)
    tgt = new_target(kind, stack, chroma, pg, "it_fdown")
    conf = tgt.outage_setup(OUTAGE_CONF)
    group = topic + "_g"
    port = free_port()
    c = consumer(procs, stack, topic, group, tgt.url, tmp_path,
                 exit_at_end=True, metrics_port=port, conf=conf).start()
    wait_for(lambda: tgt.count() >= 0.2 * len(expected) or not c.alive(),
             RUN_TIMEOUT, "20% of the records in " + kind, interval=0.05)
    assert c.alive(), c.tail()
    tgt.go_down()
    stopped = time.monotonic()
    # The member at the outage's start (the session timeout, 6 s, has not
    # passed).
    member = wait_for(lambda: one_member(stack, group), 5,
                      "one member in " + group)
    try:
        wait_for(lambda: (scrape_metrics(port) or {}).get(
            "vcdc_consumer_retries_total", 0) > 0, 25,
            "a retry while %s is down" % kind, interval=0.2)
        while time.monotonic() - stopped < 30:
            assert c.alive(), "consumer exited during the outage:\n" + \
                c.tail()
            time.sleep(0.5)  # the outage itself: 30 s, watched
        assert group_members(stack, group)[1] == member
    finally:
        tgt.come_back()
    assert c.wait(RUN_TIMEOUT) == 0, c.tail()
    try:
        verify_exact(stack, tgt, expected, 1, len(changes), c)
    finally:
        tgt.close_proxies()  # after verify, which goes through them too


@pytest.mark.parametrize("kind,size,slow_records", [
    ("pgvector", 12000, 1500),
    ("chroma", 12000, 1500),
    pytest.param("pgvector", 60000, 15000, marks=soak),
    pytest.param("chroma", 60000, 15000, marks=soak),
])
def test_slow_target(kind, size, slow_records, stack, chroma, pg, procs,
                     topic, tmp_path):
    """The consumer reaches the target through a TCP proxy that, for part
    of the run (slow_records records applied), holds every answer of the
    database 200-500 ms. The consumer keeps polling through it: it stays
    in its group as the same member (its poll interval limit is 8 s) and
    ends with the exact state."""
    changes = history(13, size)
    produce(stack, topic, changes, tmp_path / "h.jsonl", "--create-topic",
            "--partitions", "4", timeout=300)
    expected = expected_of(changes)
    final = len(expected)
    name = unique("it_fslow")
    if kind == "chroma":
        proxy = TcpProxy(stack.chroma_host, stack.chroma_port, seed=size)
        url = "chroma://127.0.0.1:%d/%s" % (proxy.port, name)
    else:
        proxy = TcpProxy(stack.pg_host, stack.pg_port, seed=size)
        url = "pgvector://postgres@127.0.0.1:%d/postgres?table=%s" % (
            proxy.port, name)
    tgt = Target(kind, stack, chroma, pg, name)
    group = topic + "_g"
    try:
        c = consumer(procs, stack, topic, group, url, tmp_path,
                     exit_at_end=True,
                     conf=OUTAGE_CONF + ["vcdc.batch.records=250"]).start()
        n0 = wait_for(lambda: -1 if not c.alive() else (
            lambda n: n if n >= 0.15 * final else None)(tgt.count()),
            RUN_TIMEOUT, "15% of the records in " + kind, interval=0.05)
        assert c.alive() and n0 > 0, c.tail()
        member = wait_for(lambda: one_member(stack, group), 30,
                          "one member in " + group)
        proxy.slow(0.2, 0.5)
        d0 = proxy.delayed
        # Slow until slow_records more records are in: progress, slowly.
        wait_for(lambda: tgt.count() >= n0 + slow_records or not c.alive(),
                 RUN_TIMEOUT, "%d records through the slow proxy"
                 % slow_records, interval=0.2)
        assert c.alive(), c.tail()
        delayed = proxy.delayed - d0
        assert delayed > 0, "nothing went through the slow proxy"
        assert group_members(stack, group)[1] == member, (
            "the consumer left its group while the target was slow:\n"
            + c.tail())
        n1 = tgt.count()
        proxy.fast()
        assert n1 < final, "the slow phase lasted to the end"
        assert c.wait(RUN_TIMEOUT) == 0, c.tail()
    finally:
        proxy.close()
    print("\n%s: %d answers held 200-500 ms while %d records went in"
          % (kind, delayed, n1 - n0))
    verify_exact(stack, tgt, expected, 1, len(changes), c)


# ------------------------------------ 4. one of two group members killed


@pytest.mark.parametrize("kind", ["chroma", "pgvector"])
def test_group_member_killed_survivor_takes_over(kind, stack, chroma, pg,
                                                 procs, topic, tmp_path):
    """Two consumers share a group over 8 partitions; one is SIGKILLed
    mid-run. Once its session expires the survivor is the group's only
    member, holds all 8 partitions, and finishes with the exact state."""
    parts = list(range(8))
    changes = history(14, 16000)
    # A quarter is written after the kill: whatever the two had applied by
    # then, the survivor has the dead member's partitions to take over.
    head, tail = changes[:12000], changes[12000:]
    produce(stack, topic, head, tmp_path / "h.jsonl", "--create-topic",
            "--partitions", "8", timeout=300)
    expected = expected_of(changes)
    tgt = new_target(kind, stack, chroma, pg, "it_fgroup")
    group = topic + "_g"
    conf = ["session.timeout.ms=6000", "heartbeat.interval.ms=500",
            "vcdc.batch.records=250"]
    a, b = (ConsumerProc(stack, topic, group, tgt.url,
                         tmp_path / ("%s_%s.log" % (group, n)), conf=conf)
            for n in "ab")
    procs.extend([a, b])
    a.start()
    b.start()

    def both_assigned():
        _, asg = group_assignment(stack, group)
        if len(asg) == 2 and all(asg.values()) and sorted(
                sum(asg.values(), [])) == parts:
            return asg
        return None

    before = wait_for(both_assigned, 60, "two members sharing 8 partitions",
                      interval=0.2)
    wait_for(lambda: tgt.count() >= 0.25 * len(expected)
             or not (a.alive() and b.alive()), RUN_TIMEOUT,
             "25% of the records in " + kind, interval=0.05)
    assert a.alive() and b.alive(), a.tail() + "\n" + b.tail()
    assert a.kill() == -9
    produce(stack, topic, tail, tmp_path / "t.jsonl", timeout=300)

    def survivor_has_all():
        _, asg = group_assignment(stack, group)
        if len(asg) == 1 and list(asg.values())[0] == parts:
            return asg
        return None

    after = wait_for(survivor_has_all, 60,
                     "the survivor alone holding all 8 partitions",
                     interval=0.2)
    survivor = list(after)[0]
    assert survivor in before, (survivor, before)
    print("\n%s: before %s; after the kill %s" % (kind, before, after))
    wait_for(lambda: caught_up(stack, group, topic, parts)
             or not b.alive(), RUN_TIMEOUT, "the survivor to reach the log "
             "end", interval=0.5)
    assert b.alive(), b.tail()
    assert b.terminate() == 0, b.tail()
    assert committed(stack, group, topic, parts) == log_ends(stack, topic,
                                                             parts)
    verify_exact(stack, tgt, expected, 1, len(changes), b)

"""The index on NEW (DESIGN.md, The index on NEW), against the real broker
and PostgreSQL with pgvector of scripts/stack.sh.

vcdc-consumer --index builds the approximate index once it has applied
everything up to the log end it saw at start, concurrently, under a name
fixed by the table; vcdc status reports it; vcdc cutover refuses a target
whose requested index is not valid. The end state is read from the
catalog with psycopg2 (pg_index, pg_am, pg_opclass), never from vcdc.

Run under scripts/with-stack.sh (make test-integration), or after
`scripts/stack.sh up DIR` with DIR/env sourced.
"""

import json
import random

from consumer_helpers import (REPO, CONSUMER_BIN, ConsumerProc, caught_up,
                              create_topic, make_upsert, plain_ids, produce,
                              run_bounded, unique, wait_for)

VCDC_BIN = REPO / "bin" / "vcdc"
DIM = 16
PARTS = 2
COLLECTION = "docs"
RUN_TIMEOUT = 120


def upserts(n, seed):
    rng = random.Random(seed)
    return [make_upsert(rng, COLLECTION, id_, DIM, 0, i)
            for i, id_ in enumerate(plain_ids(n))]


def new_topic(stack, tmp_path, n, seed):
    topic = unique("it_index")
    create_topic(stack, topic, PARTS, {"cleanup.policy": "compact"})
    produce(stack, topic, upserts(n, seed), tmp_path / "in.jsonl")
    return topic


def catalog(pg, table, kind="hnsw"):
    """(valid, access method, operator class, reloptions) of vcdc's index
    on table, None when there is none."""
    rows = pg._query(
        "SELECT i.indisvalid, am.amname, oc.opcname, c.reloptions "
        "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_am am ON am.oid = c.relam "
        "JOIN pg_opclass oc ON oc.oid = i.indclass[0] "
        "WHERE i.indrelid = to_regclass(%s) AND c.relname = %s",
        ('"%s"' % table, "%s_vcdc_%s_idx" % (table, kind)))
    return rows[0] if rows else None


def consumer(stack, topic, group, table, tmp_path, *extra, **kw):
    c = ConsumerProc(stack, topic, group, stack.pgvector_url(table),
                     tmp_path / ("%s.log" % group), **kw)
    c.args += list(extra)
    return c


def status_json(stack, topic, group, table):
    p = run_bounded([VCDC_BIN, "status", "-q", "--json", "-b", stack.brokers,
                     "-t", topic, "--window", "1", "--group",
                     "%s=%s" % (group, stack.pgvector_url(table))], 60)
    assert p.returncode in (0, 1), p.stderr.decode()[-2000:]
    return json.loads(p.stdout.decode().splitlines()[0])["groups"][0]


def test_replay_builds_the_index_after_the_data(stack, pg, procs, tmp_path):
    n = 3000
    topic = new_topic(stack, tmp_path, n, 16)
    table, group = unique("idx"), unique("g")
    c = consumer(stack, topic, group, table, tmp_path, "--index", "hnsw",
                 "--index-param", "m=8,ef_construction=32", "--metric", "l2",
                 exit_at_end=True)
    procs.append(c.start())
    assert c.wait(RUN_TIMEOUT) == 0, c.tail()

    assert pg.count(table) == n
    valid, am, opclass, reloptions = catalog(pg, table)
    assert (valid, am, opclass) == (True, "hnsw", "vector_l2_ops")
    assert sorted(reloptions) == ["ef_construction=32", "m=8"]
    # Built after the replay: caught up (every message applied) first,
    # the build's start and its end after.
    log = c.log()
    caught = log.index("caught up with the log end seen at start "
                       "(%d messages applied)" % n)
    start = log.index("building index %s_vcdc_hnsw_idx" % table)
    built = log.index("index %s_vcdc_hnsw_idx built in" % table)
    assert caught < start < built

    got = status_json(stack, topic, group, table)
    assert got["index"]["state"] == "valid"
    assert got["index"]["kind"] == "hnsw"
    assert got["index"]["name"] == "%s_vcdc_hnsw_idx" % table

    # A restart finds it: nothing is built twice.
    again = consumer(stack, topic, group, table, tmp_path, "--index", "hnsw",
                     "--index-param", "m=8,ef_construction=32", "--metric",
                     "l2", exit_at_end=True)
    procs.append(again.start())
    assert again.wait(RUN_TIMEOUT) == 0, again.tail()
    assert "exists and is valid: nothing to build" in again.log()


def test_invalid_leftover_is_dropped_and_built_again(stack, pg, procs,
                                                     tmp_path):
    topic = new_topic(stack, tmp_path, 500, 17)
    table, group = unique("idx"), unique("g")
    c = consumer(stack, topic, group, table, tmp_path, exit_at_end=True)
    procs.append(c.start())
    assert c.wait(RUN_TIMEOUT) == 0, c.tail()
    # A concurrent build that fails leaves its index INVALID, as a killed
    # one does: a unique index on a constant, under vcdc's name.
    name = "%s_vcdc_ivfflat_idx" % table
    try:
        pg.execute('CREATE UNIQUE INDEX CONCURRENTLY "%s" ON "%s" ((1))'
                   % (name, table))
    except Exception:
        pass
    assert pg._query("SELECT indisvalid FROM pg_index WHERE indexrelid = "
                     "to_regclass(%s)", ('"%s"' % name,)) == [(False,)]
    assert status_json(stack, topic, group, table)["index"]["state"] == \
        "invalid"

    again = consumer(stack, topic, group, table, tmp_path, "--index",
                     "ivfflat", "--index-param", "lists=4", exit_at_end=True)
    procs.append(again.start())
    assert again.wait(RUN_TIMEOUT) == 0, again.tail()
    assert "is invalid (a build stopped midway)" in again.log()
    valid, am, opclass, reloptions = catalog(pg, table, "ivfflat")
    assert (valid, am, opclass) == (True, "ivfflat", "vector_cosine_ops")
    assert reloptions == ["lists=4"]


def cutover(stack, topic, old, new, *extra):
    """vcdc cutover --to new --json; (exit status, checks by name)."""
    p = run_bounded([VCDC_BIN, "cutover", "-q", "--json", "-b",
                     stack.brokers, "-t", topic, "--collection", COLLECTION,
                     "--to", "new", "--old", stack.pgvector_url(old[1]),
                     "--new", stack.pgvector_url(new[1]), "--old-group",
                     old[0], "--new-group", new[0], "--control-topic",
                     unique("ctl"), "--window", "2", "--interval", "0.5",
                     "--shadow-sample", "20", "--min-overlap", "0.5",
                     "--seed", "7", *extra], 120)
    report = json.loads(p.stdout.decode())
    return p.returncode, {c["name"]: c for c in report["checks"]}


def test_cutover_waits_for_the_required_index(stack, pg, procs, tmp_path):
    n = 2000
    topic = new_topic(stack, tmp_path, n, 18)
    old = (unique("g_old"), unique("old"))
    new = (unique("g_new"), unique("new"))
    c = consumer(stack, topic, old[0], old[1], tmp_path, exit_at_end=True)
    procs.append(c.start())
    assert c.wait(RUN_TIMEOUT) == 0, c.tail()

    # NEW live, without an index: the gate refuses when one is required,
    # and only for that.
    live = consumer(stack, topic, new[0], new[1], tmp_path)
    procs.append(live.start())
    wait_for(lambda: caught_up(stack, new[0], topic, range(PARTS)), 60,
             "NEW's consumer to catch up")
    assert status_json(stack, topic, new[0], new[1])["index"]["state"] == \
        "none"
    rc, checks = cutover(stack, topic, old, new, "--require-index")
    assert rc == 1
    assert checks["index"]["result"] == "FAIL"
    assert "--require-index" in checks["index"]["summary"]
    assert all(checks[k]["result"] == "PASS"
               for k in ("readiness", "offsets", "verify", "shadow")), checks
    assert live.terminate() == 0

    # Restarted with --index on a live target: it starts caught up, so the
    # build starts at once.
    live = consumer(stack, topic, new[0], new[1], tmp_path, "--index",
                    "hnsw")
    procs.append(live.start())
    wait_for(lambda: (catalog(pg, new[1]) or (False,))[0], 60,
             "the index to be valid")
    assert catalog(pg, new[1])[2] == "vector_cosine_ops"
    wait_for(lambda: "built in" in live.log(), 10, "the build's log line")
    got = status_json(stack, topic, new[0], new[1])
    assert got["index"]["state"] == "valid"
    rc, checks = cutover(stack, topic, old, new, "--require-index")
    assert checks["index"]["result"] == "PASS", checks["index"]
    assert rc == 0, checks
    assert live.terminate() == 0


def test_usage_errors(stack, tmp_path):
    base = [CONSUMER_BIN, "-b", stack.brokers, "-t", "t", "-G", "g"]
    p = run_bounded(base + ["--sink", stack.chroma_url("c"), "--index",
                            "hnsw"], 30)
    assert p.returncode == 64
    assert b"keeps its own HNSW index" in p.stderr
    for bad in (["--index", "btree"],
                ["--index", "hnsw", "--index-param", "lists=10"],
                ["--index", "hnsw", "--index-param", "m=40"],
                ["--index-param", "m=8"]):
        p = run_bounded(base + ["--sink", stack.pgvector_url("t")] + bad, 30)
        assert p.returncode == 64, bad
        assert b"--index" in p.stderr, (bad, p.stderr)


def test_live_consumer_builds_once_the_table_exists(stack, pg, procs,
                                                    tmp_path):
    # Caught up on an empty topic there is no table to index yet: the
    # first changes applied bring the build back.
    topic = unique("it_index")
    create_topic(stack, topic, PARTS, {"cleanup.policy": "compact"})
    table, group = unique("idx"), unique("g")
    live = consumer(stack, topic, group, table, tmp_path, "--index", "hnsw",
                    from_beginning=False)
    procs.append(live.start())
    wait_for(lambda: "no index to build" in live.log(), 30,
             "the consumer to find no table")
    produce(stack, topic, upserts(300, 19), tmp_path / "in.jsonl")
    wait_for(lambda: (catalog(pg, table) or (False,))[0], 60,
             "the index to be valid")
    assert pg.count(table) == 300
    assert live.terminate() == 0

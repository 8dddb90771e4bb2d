"""vcdc-capture (issue 17) on the real stack: PostgreSQL 16 with pgvector,
Kafka, Chroma.

- A table of 20,000 rows changed by a writer through plain SQL (inserts,
  vector-only, metadata-only and whole-row updates, id changes, deletes,
  multi-statement transactions, rollbacks) before, during and after the
  snapshot: the topic, read back independently, holds exactly the
  snapshot's state of every id and then each later committed change once,
  in commit order (one cut in the writer's commit order fits every id);
  replayed by vcdc-consumer into Chroma and into a second PostgreSQL
  table it equals the source (`vcdc verify`, and an independent diff).
- Faults: the capture SIGKILLed during the snapshot and at random points
  while streaming, the broker stopped and restarted, PostgreSQL
  restarted: every change committed after the snapshot is in the topic,
  in order per id, and the replay equals the source.
- TOAST (768-d vectors; unchanged values read again by id, or taken from
  the old row under REPLICA IDENTITY FULL), id changes, TRUNCATE, rows no
  record can hold, a restart that finds the slot, SIGTERM, --drop-slot,
  metrics and `vcdc status --capture`.
- Each bad input refused with a clear message and its exit status.
"""

import json
import os
import random
import re
import subprocess
import time
import uuid

import pytest

from capture_helpers import (VCDC_BIN, CaptureProc, Writer, create_table,
                             covered, current_lsn, diff_states, drop_slot,
                             exact_cut, final_of, make_state, published,
                             run_capture, slot_row, sql, table_state,
                             vec_text, wait_caught_up)
from consumer_helpers import (Chroma, ConsumerProc, free_port,
                              scrape_metrics, unique, wait_for)

RUN_TIMEOUT = 300


@pytest.fixture
def captures():
    """Captures a test starts; any still running at its end is killed."""
    started = []
    yield started
    for c in started:
        c.cleanup()


@pytest.fixture
def source(stack):
    """source(prefix) -> a new table name; the table, its slot and its
    publication are dropped at the end."""
    made = []

    def make(prefix="cap"):
        name = unique(prefix)
        made.append(name)
        return name

    yield make
    for t in made:
        drop_slot(stack, "vcdc_" + t)
        drop_slot(stack, "vcdcp_vcdc_" + t)
        sql(stack, 'DROP PUBLICATION IF EXISTS "vcdc_%s"' % t)
        sql(stack, 'DROP TABLE IF EXISTS "%s"' % t)


def start_capture(captures, stack, table, topic, tmp_path, *extra,
                  name="capture"):
    c = CaptureProc(stack, table, topic, tmp_path / ("%s.log" % name),
                    *extra)
    captures.append(c)
    return c.start()


def wait_log(cap, pattern, timeout=60):
    """Waits until the capture's log matches pattern (a regex)."""
    rx = re.compile(pattern)

    def seen():
        if rx.search(cap.log()):
            return True
        assert cap.alive(), "capture exited (%s) before %r:\n%s" % (
            cap.proc.returncode, pattern, cap.tail())
        return False
    wait_for(seen, timeout, "the capture to log %r" % pattern, 0.05)


def replay(stack, procs, topic, collection, sink_url, tmp_path, name):
    """vcdc-consumer replays the whole topic into sink_url and exits."""
    c = ConsumerProc(stack, topic, unique("g_" + name), sink_url,
                     tmp_path / ("%s.log" % name), from_beginning=True,
                     exit_at_end=True, collection=collection)
    procs.append(c)
    assert c.start().wait(RUN_TIMEOUT) == 0, c.tail()


def verify(stack, old_url, new_url):
    p = subprocess.run([str(VCDC_BIN), "verify", "--old", old_url, "--new",
                        new_url, "--json"], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, "vcdc verify exit %d:\n%s\n%s" % (
        p.returncode, p.stdout[-3000:], p.stderr[-3000:])
    res = json.loads(p.stdout)
    assert res["ok"] is True, res
    return res


def chroma_state(chroma, name):
    out = {}
    for id_, (vec, md, doc) in chroma.get_all(name).items():
        out[id_] = (tuple(vec), None if not md else json.dumps(
            md, sort_keys=True), doc)
    return out


def snapshot_lsn(cap):
    """The LSN of the last snapshot the capture finished (its log)."""
    found = re.findall(r"snapshot done: .* snapshot as of LSN (\S+);",
                       cap.log())
    assert found, "no finished snapshot in the log:\n%s" % cap.tail()
    return found[-1]


def lsn_int(text):
    hi, lo = text.split("/")
    return int(hi, 16) << 32 | int(lo, 16)


# ------------------------------------------------------------ exactness


def test_capture_is_exact_under_writes(stack, chroma, procs, captures,
                                       source, topic, tmp_path):
    """20,000 rows, a writer changing them before, during and after the
    snapshot; the topic holds exactly one consistent cut and every later
    change once, in order; replayed into Chroma and PostgreSQL it equals
    the source; SIGTERM confirms everything and exits 0."""
    dim, n = 32, 20000
    table = source()
    rng = random.Random(17)
    state = create_table(stack, table, dim, n, rng)
    writer = Writer(stack, table, dim, state, seed=71)
    writer.start()
    time.sleep(0.5)  # changes committed before the snapshot
    cap = start_capture(captures, stack, table, topic, tmp_path,
                        "--create-topic", "--partitions", "4")
    wait_log(cap, "snapshot done")
    time.sleep(5)  # changes streamed
    writer.stop()
    lsn = current_lsn(stack)
    wait_caught_up(stack, "vcdc_" + table, lsn, proc=cap)
    assert cap.terminate() == 0, cap.tail()
    assert not slot_row(stack, "vcdc_" + table)[0], "slot still active"

    pub, records = published(stack, topic, table)
    lo, hi = exact_cut(writer.history, pub)
    src = table_state(stack, table)
    assert len(src) > n // 2
    assert diff_states(src, final_of(pub)) == ""
    changes = sum(len(c) for _, c in writer.history[1:])
    print("\ncapture: %d rows, %d transactions (%d changes, %d rolled "
          "back), %d records published; the snapshot sits after commit "
          "%d..%d" % (n, writer.commits, changes, writer.rollbacks, records,
                      lo, hi))
    assert writer.commits > 300 and 0 < lo
    # The snapshot's LSN, from the log, agrees with the cut: commits
    # begun after it were streamed.
    snap = lsn_int(snapshot_lsn(cap))
    first_after = next((k for k, (l, _) in enumerate(writer.history)
                        if k and lsn_int(l) >= snap), len(writer.history))
    assert hi < first_after

    # Replayed into PostgreSQL and Chroma: equal to the source.
    dst = unique("cap_dst")
    coll = unique("cap_chroma")
    try:
        replay(stack, procs, topic, table, stack.pgvector_url(dst),
               tmp_path, "pg")
        replay(stack, procs, topic, table, stack.chroma_url(coll), tmp_path,
               "chroma")
        res = verify(stack, stack.pgvector_url(table),
                     stack.pgvector_url(dst))
        assert res["compared"] == len(src)
        verify(stack, stack.pgvector_url(table), stack.chroma_url(coll))
        assert diff_states(src, table_state(stack, dst)) == ""
        assert diff_states(src, chroma_state(chroma, coll), tol=1e-6) == ""
    finally:
        sql(stack, 'DROP TABLE IF EXISTS "%s"' % dst)


def test_capture_survives_kills_broker_and_database_restarts(
        stack, procs, captures, source, topic, tmp_path):
    """SIGKILL during the snapshot (only the snapshot's marker slot is
    left: the next start snapshots again and streams from the marker, so
    rows the unfinished snapshot published and that were deleted since are
    deleted in the topic too) and three times while streaming, the broker stopped
    for a while and started, PostgreSQL restarted: at the end every change
    committed after the last snapshot is in the topic in order per id,
    the topic's last word on each id is the table's, and the replay
    verifies."""
    dim, n = 16, 20000
    table = source()
    slot = "vcdc_" + table
    rng = random.Random(23)
    state = create_table(stack, table, dim, n, rng)
    writer = Writer(stack, table, dim, state, seed=29, pace=0.004)
    writer.start()
    # A small librdkafka queue and a long linger slow the first snapshot
    # down enough to be killed in the middle of it.
    first = start_capture(captures, stack, table, topic, tmp_path,
                          "--create-topic", "--partitions", "3", "-X",
                          "queue.buffering.max.messages=100", "-X",
                          "linger.ms=20", name="first")
    wait_log(first, r"snapshot: \d+ rows")
    assert first.kill() == -9
    assert "snapshot done" not in first.log()
    # No slot yet, only the marker of a snapshot begun: the next start
    # snapshots again and streams from the marker.
    assert slot_row(stack, slot) is None
    assert slot_row(stack, "vcdcp_" + slot) is not None
    kills = 1
    cap = start_capture(captures, stack, table, topic, tmp_path)
    for k in range(3):
        if k:
            cap.start()
        if k == 0:
            wait_log(cap, "snapshot done")
            assert "is pending: an earlier snapshot did not finish" in \
                cap.log()
            assert slot_row(stack, "vcdcp_" + slot) is None
        time.sleep(random.uniform(0.3, 2.0))
        assert cap.kill() == -9
        kills += 1
    cap.start()
    time.sleep(1)
    stack.stop_one("kafka")
    time.sleep(4)  # the writer goes on; the capture waits for Kafka
    stack.start_one("kafka")
    time.sleep(2)
    writer.pause()
    stack.stop_one("pgvector")
    stack.start_one("pgvector")
    writer.resume()
    time.sleep(3)
    writer.stop()
    lsn = current_lsn(stack)
    wait_caught_up(stack, slot, lsn, timeout=180, proc=cap)
    assert cap.terminate() == 0, cap.tail()
    assert "streaming again" in cap.log()

    pub, records = published(stack, topic, table)
    src = table_state(stack, table)
    assert diff_states(src, final_of(pub)) == ""
    snap = lsn_int(snapshot_lsn(cap))
    cut = max(k for k, (l, _) in enumerate(writer.history)
              if k == 0 or lsn_int(l) < snap)
    checked = covered(writer.history, pub, cut)
    print("\ncapture faults: %d SIGKILLs, a broker restart, a database "
          "restart; %d transactions, %d records published, %d changes "
          "checked after the snapshot, 0 lost" % (
              kills, writer.commits, records, checked))
    dst = unique("cap_fdst")
    try:
        replay(stack, procs, topic, table, stack.pgvector_url(dst),
               tmp_path, "pg")
        verify(stack, stack.pgvector_url(table), stack.pgvector_url(dst))
    finally:
        sql(stack, 'DROP TABLE IF EXISTS "%s"' % dst)


# ------------------------------------------------- rows and positions


def test_toast_key_changes_metrics_status_and_drop_slot(
        stack, captures, source, topic, tmp_path):
    """768-d vectors are TOASTed: an update of the metadata alone does not
    carry them. By key, the capture reads the row again; under REPLICA
    IDENTITY FULL it takes them from the old row. Every upsert carries the
    whole row. An id change is a delete of the old id and an upsert of the
    new. Metrics and `vcdc status --capture` report the capture; SIGTERM
    exits 0 and --drop-slot drops the slot."""
    dim = 768
    table = source("toast")
    slot = "vcdc_" + table
    rng = random.Random(5)
    create_table(stack, table, dim, 40, rng)
    port = free_port()
    cap = start_capture(captures, stack, table, topic, tmp_path,
                        "--create-topic", "--partitions", "2",
                        "--metrics-port", port)
    wait_log(cap, "snapshot done")
    t = '"%s"' % table
    for i in range(10):
        sql(stack, "UPDATE %s SET metadata = %%s::jsonb WHERE id = %%s" % t,
            (json.dumps({"toast": i}), "r%06d" % i))
    sql(stack, "UPDATE %s SET document = 'only the document' WHERE id = "
               "'r000010'" % t)
    sql(stack, "UPDATE %s SET id = 'renamed' WHERE id = 'r000011'" % t)
    wait_caught_up(stack, slot, current_lsn(stack), proc=cap)
    m = wait_for(lambda: (lambda x: x if x and x.get(
        "vcdc_capture_toast_rereads_total", 0) >= 11 else None)(
        scrape_metrics(port)), 30, "re-reads in the metrics")
    rereads = m["vcdc_capture_toast_rereads_total"]
    assert m["vcdc_capture_snapshot_rows_total"] == 40
    assert m["vcdc_capture_phase"] == 2

    sql(stack, "ALTER TABLE %s REPLICA IDENTITY FULL" % t)
    for i in range(20, 30):
        sql(stack, "UPDATE %s SET metadata = %%s::jsonb WHERE id = %%s" % t,
            (json.dumps({"full": i}), "r%06d" % i))
    wait_caught_up(stack, slot, current_lsn(stack), proc=cap)
    time.sleep(1.5)  # a metrics sample after the updates
    m = scrape_metrics(port)
    assert m["vcdc_capture_toast_rereads_total"] == rereads
    assert m["vcdc_capture_changes_total"] == 22
    assert m["vcdc_capture_lag_bytes"] >= 0

    st = subprocess.run([str(VCDC_BIN), "status", "--capture",
                         stack.pgvector_url(table).replace(
                             "?table=%s" % table, "?slot=%s" % slot)],
                        capture_output=True, text=True, timeout=60)
    assert st.returncode == 0, st.stdout + st.stderr
    assert re.search(r"capture %s@\S+  OK  lag \d+ bytes" % slot, st.stdout)

    assert cap.terminate() == 0, cap.tail()
    pub, _ = published(stack, topic, table)
    src = table_state(stack, table)
    assert diff_states(src, final_of(pub)) == ""
    for id_, seq in pub.items():
        for s in seq:
            assert s is None or len(s[0]) == dim, id_
    assert pub["r000011"][-1] is None and "renamed" in src
    assert pub["renamed"][-1] == src["renamed"]
    assert [json.loads(s[1]) for s in pub["r000003"]][-1] == {"toast": 3}

    st = subprocess.run([str(VCDC_BIN), "status", "--capture",
                         stack.pgvector_url(table), "--json"],
                        capture_output=True, text=True, timeout=60)
    assert st.returncode == 1, st.stdout + st.stderr
    assert json.loads(st.stdout)["captures"][0]["state"] == "STOPPED"

    rc, err = run_capture(stack, "--from", stack.pgvector_url(table),
                          "--drop-slot")
    assert rc == 0, err
    assert "dropped replication slot %s" % slot in err
    assert slot_row(stack, slot) is None


def test_restart_streams_from_the_slot_without_a_new_snapshot(
        stack, captures, source, topic, tmp_path):
    """A capture that finds its slot does not snapshot again: it publishes
    only what changed since it stopped. --exit-at-end stops it once it
    caught up."""
    table = source()
    create_table(stack, table, 8, 300, random.Random(2))
    args = ("-b", stack.brokers, "-t", topic, "--from",
            stack.pgvector_url(table), "--exit-at-end")
    rc, err = run_capture(stack, *args, "--create-topic")
    assert rc == 0, err
    assert "slot vcdc_%s is new" % table in err
    _, first = published(stack, topic, table)
    assert first == 300
    t = '"%s"' % table
    for i in range(3):
        s = make_state(random.Random(i), 8, 1)
        sql(stack, "INSERT INTO %s VALUES (%%s, %%s::vector, %%s::jsonb, "
                   "%%s)" % t, ("new%d" % i, vec_text(s[0]), s[1], s[2]))
    sql(stack, "DELETE FROM %s WHERE id = 'r000000'" % t)
    rc, err = run_capture(stack, *args)
    assert rc == 0, err
    assert "exists: the snapshot was done" in err
    pub, records = published(stack, topic, table)
    assert records == 304
    assert pub["r000000"][-1] is None
    assert diff_states(table_state(stack, table), final_of(pub)) == ""


def test_truncate_stops_the_capture_without_confirming_it(
        stack, captures, source, topic, tmp_path):
    """TRUNCATE cannot be published as deletes of ids: the capture stops
    (exit 1) naming it, the slot stays before it (a restart stops there
    again), and --on-truncate skip goes past it."""
    table = source()
    slot = "vcdc_" + table
    create_table(stack, table, 4, 20, random.Random(3))
    cap = start_capture(captures, stack, table, topic, tmp_path,
                        "--create-topic")
    wait_log(cap, "snapshot done")
    before = current_lsn(stack)
    sql(stack, 'TRUNCATE "%s"' % table)
    assert cap.wait(60) == 1
    assert "TRUNCATE of \"public\".\"%s\"" % table in cap.log()
    assert "--on-truncate skip" in cap.log()
    assert lsn_int(slot_row(stack, slot)[1]) <= lsn_int(before)
    args = ("-b", stack.brokers, "-t", topic, "--from",
            stack.pgvector_url(table), "--exit-at-end")
    rc, err = run_capture(stack, *args)
    assert rc == 1 and "TRUNCATE" in err, err
    rc, err = run_capture(stack, *args, "--on-truncate", "skip")
    assert rc == 0, err
    assert "skipped (--on-truncate skip)" in err


def test_a_row_no_record_can_hold(stack, captures, source, topic, tmp_path):
    """A NULL vector stops the snapshot (exit 1, naming table and id; no
    slot is made, only the marker of a snapshot begun); --on-bad-row
    delete publishes it as a delete of its id, and so a streamed row whose
    metadata is not an object."""
    table = source()
    t = '"%s"' % table
    sql(stack, "CREATE TABLE %s (id bigint PRIMARY KEY, embedding "
               "vector(2), metadata jsonb, document text)" % t)
    sql(stack, "INSERT INTO %s VALUES (1, '[1,2]', '{}', 'a'), (2, NULL, "
               "NULL, NULL), (3, '[3,4]', NULL, NULL)" % t)
    args = ("-b", stack.brokers, "-t", topic, "--from",
            stack.pgvector_url(table), "--exit-at-end")
    rc, err = run_capture(stack, *args, "--create-topic")
    assert rc == 1, err
    assert re.search(r'table "public"\."%s", id "2" \(snapshot\): the '
                     r'vector is NULL' % table, err), err
    assert "--on-bad-row delete" in err
    assert slot_row(stack, "vcdc_" + table) is None
    assert slot_row(stack, "vcdcp_vcdc_" + table) is not None
    cap = start_capture(captures, stack, table, topic, tmp_path,
                        "--on-bad-row", "delete")
    wait_log(cap, "snapshot done")
    sql(stack, "INSERT INTO %s VALUES (4, '[5,6]', '[1, 2]', NULL)" % t)
    sql(stack, "INSERT INTO %s VALUES (5, '[7,8]', '{\"ok\": 1}', NULL)" % t)
    wait_caught_up(stack, "vcdc_" + table, current_lsn(stack), proc=cap)
    assert cap.terminate() == 0, cap.tail()
    assert "metadata is not a JSON object" in cap.log()
    pub, _ = published(stack, topic, table)
    assert pub["2"] == [None] and pub["4"] == [None]
    assert set(final_of(pub)) == {"1", "3", "5"}


@pytest.mark.parametrize("id_type,vec_type", [
    ("bigint", "vector"), ("integer", "halfvec"), ("smallint", "vector"),
    ("uuid", "vector"), ("varchar(40)", "halfvec")])
def test_ids_and_vectors_of_every_type(id_type, vec_type, stack, captures,
                                       source, topic, tmp_path):
    """Ids of every accepted type, vectors and half vectors, through the
    snapshot (COPY BINARY) and the stream (binary values): the records'
    ids are what id::text prints, in both, and the topic ends as the
    table."""
    table = source()
    t = '"%s"' % table
    key = ("gen_random_uuid()" if id_type == "uuid" else
           "(g * 7)::text" if id_type.startswith("varchar") else "g - 50")
    sql(stack, "CREATE TABLE %s (id %s PRIMARY KEY, embedding %s(3), "
               "metadata jsonb)" % (t, id_type, vec_type))
    sql(stack, "INSERT INTO %s SELECT %s, ARRAY[g, -g, 0.5]::real[]::%s, "
               "jsonb_build_object('g', g) FROM generate_series(1, 100) g"
        % (t, key, vec_type))
    cap = start_capture(captures, stack, table, topic, tmp_path,
                        "--create-topic", "--partitions", "3")
    wait_log(cap, "snapshot done")
    sql(stack, "INSERT INTO %s SELECT %s, ARRAY[g, g, 0.25]::real[]::%s, "
               "NULL FROM generate_series(101, 120) g" % (t, key, vec_type))
    sql(stack, "UPDATE %s SET metadata = '{\"u\": 1}' WHERE id IN (SELECT "
               "id FROM %s ORDER BY id LIMIT 10)" % (t, t))
    sql(stack, "DELETE FROM %s WHERE id IN (SELECT id FROM %s ORDER BY id "
               "DESC LIMIT 5)" % (t, t))
    if id_type != "uuid":
        new = "'renamed'" if id_type.startswith("varchar") else "999"
        sql(stack, "UPDATE %s SET id = %s WHERE id = (SELECT min(id) FROM "
                   "%s)" % (t, new, t))
    wait_caught_up(stack, "vcdc_" + table, current_lsn(stack), proc=cap)
    assert cap.terminate() == 0, cap.tail()
    pub, _ = published(stack, topic, table)
    rows = sql(stack, "SELECT id::text, embedding::text, metadata::text "
                      "FROM %s" % t)
    want = {i: (tuple(float(x) for x in e[1:-1].split(",")),
                None if m is None else json.dumps(json.loads(m),
                                                   sort_keys=True), None)
            for i, e, m in rows}
    assert diff_states(want, final_of(pub)) == ""
    assert len(want) == 115


# ------------------------------------------------------ refused inputs


def refusal_cases():
    """(name, SQL setting up table T, extra capture args, expected exit,
    substrings of the message). T, R (a role) and DB are replaced."""
    plain = ("CREATE TABLE T (id text PRIMARY KEY, embedding vector(3), "
             "metadata jsonb, document text)")
    return [
        ("no primary key",
         "CREATE TABLE T (id text, embedding vector(3))", [], 1,
         ["has no primary key", "ADD PRIMARY KEY (id)",
          "REPLICA IDENTITY FULL"]),
        ("primary key on another column",
         "CREATE TABLE T (k int PRIMARY KEY, id text, embedding "
         "vector(3))", [], 1, ["primary key other than (id)"]),
        ("replica identity nothing",
         plain + "; ALTER TABLE T REPLICA IDENTITY NOTHING", [], 1,
         ["REPLICA IDENTITY NOTHING"]),
        ("full identity without a unique id",
         "CREATE TABLE T (id text, embedding vector(3)); ALTER TABLE T "
         "REPLICA IDENTITY FULL", [], 1, ["no primary key or unique index"]),
        ("vector column of another type",
         "CREATE TABLE T (id text PRIMARY KEY, embedding real[])", [], 1,
         ["vector column embedding has type real[]", "pgvector's vector"]),
        ("sparsevec",
         "CREATE TABLE T (id text PRIMARY KEY, embedding sparsevec(5))",
         [], 1, ["is a sparsevec", "dense vectors only"]),
        ("json metadata",
         "CREATE TABLE T (id text PRIMARY KEY, embedding vector(3), "
         "metadata json)", [], 1, ["metadata column metadata has type json",
                                   "TYPE jsonb"]),
        ("float id",
         "CREATE TABLE T (id float8 PRIMARY KEY, embedding vector(3))", [],
         1, ["id column id has type double precision"]),
        ("no such table", None, [], 1, ["does not exist"]),
        ("no vector column", plain, ["--vector-column", "vec"], 1,
         ["has no column vec for the vector (--vector-column"]),
        ("a named metadata column missing", plain,
         ["--metadata-column", "meta"], 1, ["has no column meta"]),
        ("no replication privilege",
         plain + "; CREATE ROLE R LOGIN; GRANT SELECT ON T TO R", ["@R"], 1,
         ["has no REPLICATION privilege", "ALTER ROLE"]),
        ("a physical slot of that name",
         plain + "; SELECT pg_create_physical_replication_slot('vcdc_' || "
         "'T')", [], 1, ["is a physical slot"]),
        ("a slot of another database",
         plain + "; @DB", [], 1, ["belongs to database"]),
        ("a publication of other tables",
         plain + "; CREATE TABLE T_other (id int primary key); CREATE "
         "PUBLICATION vcdc_T FOR TABLE T_other", [], 1,
         ["exists but does not publish", "ALTER PUBLICATION"]),
        ("a publication without deletes",
         plain + "; CREATE PUBLICATION vcdc_T FOR TABLE T WITH (publish = "
         "'insert, update')", [], 1, ["does not publish every insert"]),
        ("a publication with a row filter",
         plain + "; CREATE PUBLICATION vcdc_T FOR TABLE T WHERE (id > 'm')",
         [], 1, ["has a row filter"]),
        ("a publication with a column list",
         plain + "; CREATE PUBLICATION vcdc_T FOR TABLE T (id, embedding)",
         [], 1, ["column list", "without metadata"]),
        ("no such database port", plain, ["@port"], 75,
         ["cannot connect", "Connection refused"]),
        ("a password in the URL", plain, ["@password"], 64,
         ["password in the URL is refused"]),
        ("an unknown URL parameter", plain, ["@param"], 64,
         ["unknown pgvector:// parameter \"metric\""]),
        ("a bad slot name", plain, ["--slot", "Bad-Name"], 64,
         ["--slot \"Bad-Name\""]),
        ("a bad --on-bad-row", plain, ["--on-bad-row", "maybe"], 64,
         ["expected stop or delete"]),
        ("no topic", plain, ["@notopic"], 64, ["-t"]),
        ("a missing topic without --create-topic", plain, ["@nocreate"], 64,
         ["does not exist: create it with --create-topic"]),
    ]


@pytest.mark.parametrize("name,setup,extra,code,messages", refusal_cases(),
                         ids=[c[0].replace(" ", "-") for c in
                              refusal_cases()])
def test_refusals(name, setup, extra, code, messages, stack, source, topic):
    table = source("ref")
    role = unique("r")
    other_db = None
    url = stack.pgvector_url(table)
    args = ["-b", stack.brokers, "-t", topic, "--create-topic"]
    if setup:
        for stmt in setup.split("; "):
            stmt = stmt.replace("T_other", table + "_o").replace(
                "vcdc_T", "vcdc_" + table).replace("'T'", "'%s'" % table)
            stmt = re.sub(r"\bT\b", '"%s"' % table, stmt)
            stmt = re.sub(r"\bR\b", '"%s"' % role, stmt)
            if stmt == "@DB":
                other_db = unique("db")
                sql(stack, "CREATE DATABASE %s" % other_db)
                import psycopg2
                c2 = psycopg2.connect(stack.pg_conninfo.replace(
                    "dbname=postgres", "dbname=" + other_db))
                c2.autocommit = True
                with c2.cursor() as cur:
                    cur.execute("SELECT pg_create_logical_replication_slot("
                                "%s, 'pgoutput')", ("vcdc_" + table,))
                c2.close()
                continue
            sql(stack, stmt)
    extra = list(extra)
    if "@R" in extra:
        extra.remove("@R")
        url = url.replace("postgres@", "%s@" % role)
    if "@port" in extra:
        extra.remove("@port")
        url = url.replace(":%d/" % stack.pg_port, ":%d/" % free_port())
    if "@password" in extra:
        extra.remove("@password")
        url = url.replace("postgres@", "postgres:secret@")
    if "@param" in extra:
        extra.remove("@param")
        url += "&metric=l2"
    if "@notopic" in extra:
        extra.remove("@notopic")
        args = ["-b", stack.brokers]
    if "@nocreate" in extra:
        extra.remove("@nocreate")
        args = ["-b", stack.brokers, "-t", topic]
    try:
        rc, err = run_capture(stack, *args, "--from", url, *extra)
        assert rc == code, "exit %d, expected %d:\n%s" % (rc, code, err)
        for m in messages:
            assert m in err, "%r not in:\n%s" % (m, err)
        assert "secret" not in err
        if code == 1 and setup and "privilege" not in name:
            assert table in err, err
        # Nothing was made by a capture that refused to start.
        if "slot" not in name:
            assert slot_row(stack, "vcdc_" + table) is None
    finally:
        if other_db:
            import psycopg2
            c2 = psycopg2.connect(stack.pg_conninfo.replace(
                "dbname=postgres", "dbname=" + other_db))
            c2.autocommit = True
            with c2.cursor() as cur:
                cur.execute("SELECT pg_drop_replication_slot(%s)",
                            ("vcdc_" + table,))
            c2.close()
            sql(stack, "DROP DATABASE %s" % other_db)
        sql(stack, 'DROP TABLE IF EXISTS "%s_o"' % table)
        if "role" in name or "privilege" in name:
            sql(stack, 'DROP OWNED BY "%s"' % role)
            sql(stack, 'DROP ROLE "%s"' % role)


def test_kafka_unreachable_at_start_is_transient(stack, source):
    table = source()
    sql(stack, 'CREATE TABLE "%s" (id text PRIMARY KEY, embedding '
               'vector(3))' % table)
    rc, err = run_capture(stack, "-b", "127.0.0.1:%d" % free_port(), "-t",
                          "t", "--from", stack.pgvector_url(table))
    assert rc == 75, err
    assert "Kafka" in err


@pytest.fixture
def replica_pg(stack, tmp_path):
    """A second PostgreSQL with wal_level=replica, run like the stack's
    (as its user when we are root): its port."""
    pg_bin = os.environ["VCDC_PG_BIN"]
    data = os.path.join(stack.run_dir, "data", "replica_%s" %
                        uuid.uuid4().hex[:8])
    port = free_port()
    prefix = []
    if os.geteuid() == 0:
        user = os.environ.get("VCDC_PG_OS_USER", "vcdc-pg")
        os.makedirs(data)
        subprocess.run(["chown", user, data], check=True)
        prefix = ["setpriv", "--reuid=" + user, "--regid=" + user,
                  "--init-groups"]
    subprocess.run(prefix + [pg_bin + "/initdb", "-D", data, "-U",
                             "postgres", "-A", "trust"], check=True,
                   capture_output=True, timeout=120, cwd="/")
    subprocess.run(prefix + [pg_bin + "/pg_ctl", "-D", data, "-w", "-l",
                             data + "/log", "-o",
                             "-p %d -k '' -c listen_addresses=127.0.0.1 -c "
                             "wal_level=replica" % port, "start"],
                   check=True, capture_output=True, timeout=120, cwd="/")
    yield port
    subprocess.run(prefix + [pg_bin + "/pg_ctl", "-D", data, "-m",
                             "immediate", "stop"], capture_output=True,
                   timeout=60, cwd="/")
    subprocess.run(["rm", "-rf", data])


def test_wal_level_not_logical_is_refused(stack, replica_pg):
    url = "pgvector://postgres@127.0.0.1:%d/postgres?table=docs" % replica_pg
    rc, err = run_capture(stack, "-b", stack.brokers, "-t", "t", "--from",
                          url)
    assert rc == 1, err
    assert "wal_level is replica, not logical" in err
    assert "wal_level = logical" in err

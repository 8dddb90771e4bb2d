"""Support for test_capture.py: a source table and a writer that changes it
through plain SQL while remembering every committed change, the
vcdc-capture process, an independent reader of what it published, and
the checks that tie the two together.

Nothing here shares code with vcdc: the writer is psycopg2, the topic is
read with confluent-kafka and decoded with fastavro (wire.py), keys and
partitions are computed from their definitions.
"""

import array
import json
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import psycopg2
from psycopg2.extras import execute_values

import wire
from conftest import read_topic
from consumer_helpers import admin, pg_connect, wait_for

REPO = Path(__file__).resolve().parents[2]
CAPTURE_BIN = REPO / "bin" / "vcdc-capture"
VCDC_BIN = REPO / "bin" / "vcdc"

KINDS = ["article", "image", "note", "café ☕", "quote \"x\""]


def f32(values):
    """values rounded to float32, as Python floats (exact float32s)."""
    return array.array("f", values).tolist()


def vec_text(vec):
    return "[" + ",".join(repr(x) for x in vec) + "]"


def canon_md(md):
    """Metadata as comparable text: None, or its JSON with sorted keys."""
    return None if md is None else json.dumps(md, sort_keys=True)


def make_state(rng, dim, gen):
    """(vector tuple, canonical metadata or None, document or None)."""
    vec = tuple(f32([rng.uniform(-1, 1) for _ in range(dim)]))
    md = None
    if rng.random() < 0.85:
        md = {"kind": rng.choice(KINDS), "gen": gen,
              "score": round(rng.uniform(-1000, 1000), 3),
              "flag": rng.random() < 0.5}
    doc = ("doc gen %d %s" % (gen, rng.choice(KINDS))
           if rng.random() < 0.8 else None)
    return (vec, canon_md(md), doc)


# ----------------------------------------------------------- the table


def create_table(stack, table, dim, n, rng, vector_type="vector",
                 identity=None):
    """The source table (id text primary key, embedding, metadata jsonb,
    document text) filled with n rows in one transaction; returns
    {id: state}."""
    state = {}
    rows = []
    for i in range(n):
        id_ = "r%06d" % i
        s = make_state(rng, dim, 0)
        state[id_] = s
        rows.append((id_, vec_text(s[0]), s[1], s[2]))
    conn = pg_connect(stack)
    try:
        with conn.cursor() as cur:
            cur.execute('CREATE TABLE "%s" (id text PRIMARY KEY, embedding '
                        '%s(%d) NOT NULL, metadata jsonb, document text)'
                        % (table, vector_type, dim))
            if identity:
                cur.execute('ALTER TABLE "%s" REPLICA IDENTITY %s'
                            % (table, identity))
            cur.execute("BEGIN")
            execute_values(cur, 'INSERT INTO "%s" VALUES %%s' % table, rows,
                           template="(%s, %s::vector, %s::jsonb, %s)",
                           page_size=1000)
            cur.execute("COMMIT")
    finally:
        conn.close()
    return state


def table_state(stack, table):
    """{id: state} of the table as it is, read with psycopg2."""
    conn = pg_connect(stack)
    try:
        with conn.cursor() as cur:
            cur.execute('SELECT id, embedding::text, metadata::text, '
                        'document FROM "%s"' % table)
            out = {}
            for id_, emb, md, doc in cur.fetchall():
                # pgvector prints the shortest text of each float32:
                # read back as float32, it is that float exactly.
                vec = tuple(f32(float(x) for x in emb[1:-1].split(",")))
                out[str(id_)] = (vec, canon_md(None if md is None
                                               else json.loads(md)), doc)
            return out
    finally:
        conn.close()


def sql(stack, statement, args=()):
    """Runs one statement (autocommit) and returns its rows, if any."""
    conn = pg_connect(stack)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, args)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def slot_row(stack, slot):
    """(active, confirmed_flush_lsn, pg_current_wal_lsn(), caught up) of a
    slot, or None when there is none."""
    rows = sql(stack, "SELECT active, confirmed_flush_lsn::text, "
                      "pg_current_wal_lsn()::text, confirmed_flush_lsn >= "
                      "pg_current_wal_lsn() FROM pg_replication_slots "
                      "WHERE slot_name = %s", (slot,))
    return rows[0] if rows else None


def wait_caught_up(stack, slot, lsn, timeout=120, proc=None):
    """Waits until slot's confirmed position reaches lsn (text)."""
    def done():
        r = sql(stack, "SELECT confirmed_flush_lsn >= %s::pg_lsn FROM "
                       "pg_replication_slots WHERE slot_name = %s",
                (lsn, slot))
        return r and r[0][0]
    try:
        wait_for(done, timeout, "slot %s to confirm %s" % (slot, lsn), 0.1)
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, proc.tail() if proc else ""))


def current_lsn(stack):
    return sql(stack, "SELECT pg_current_wal_lsn()::text")[0][0]


def drop_slot(stack, slot):
    sql(stack, "SELECT pg_drop_replication_slot(slot_name) FROM "
               "pg_replication_slots WHERE slot_name = %s", (slot,))


# ----------------------------------------------------------- the writer


class Writer(threading.Thread):
    """Changes the table through plain SQL: transactions of one to four
    statements inserting new ids, updating the vector only, the metadata
    only, both, the document, changing an id, deleting; about one in ten
    rolled back. Every committed change is remembered in commit order
    (one writer: its commit order is the database's): history is a list
    of commits, each (lsn_before, [(id, state or None)]), commit 0 being
    the initial fill. pause()/resume() hold it between transactions (the
    database may then restart: it reconnects)."""

    def __init__(self, stack, table, dim, state, seed, pace=0.002,
                 key_changes=True):
        super().__init__(daemon=True)
        self.stack, self.table, self.dim = stack, table, dim
        self.state = dict(state)  # committed
        self.history = [("0/0", [(i, s) for i, s in state.items()])]
        self.rng = random.Random(seed)
        self.pace = pace
        self.key_changes = key_changes
        self.next_id = 0
        self.commits = self.rollbacks = 0
        self.stop_ev = threading.Event()
        self.pause_ev = threading.Event()
        self.paused = threading.Event()
        self.error = None
        self.conn = None

    def connect(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg2.Error:
                pass
        self.conn = psycopg2.connect(self.stack.pg_conninfo,
                                     connect_timeout=10)

    def pause(self, timeout=30):
        self.pause_ev.set()
        assert self.paused.wait(timeout), "writer did not pause"

    def resume(self):
        self.pause_ev.clear()

    def stop(self, timeout=60):
        self.stop_ev.set()
        self.pause_ev.clear()
        self.join(timeout)
        assert not self.is_alive(), "writer did not stop"
        if self.error:
            raise self.error

    def run(self):
        try:
            self.connect()
            while not self.stop_ev.is_set():
                if self.pause_ev.is_set():
                    self.paused.set()
                    while self.pause_ev.is_set():
                        time.sleep(0.02)
                    self.paused.clear()
                    self.connect()
                self.one_transaction()
                if self.pace:
                    time.sleep(self.pace)
        except Exception as e:  # surfaced by stop()
            self.error = e
        finally:
            if self.conn is not None:
                self.conn.close()

    def pick_existing(self, local):
        live = [i for i, s in local.items() if s is not None]
        return self.rng.choice(live) if live else None

    def one_transaction(self):
        rng = self.rng
        t = '"%s"' % self.table
        cur = self.conn.cursor()
        cur.execute("SELECT pg_current_wal_lsn()::text")
        lsn = cur.fetchone()[0]
        local = dict(self.state)
        changes = []
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            gen = self.commits + 1
            id_ = self.pick_existing(local)
            if op < 0.25 or id_ is None:
                id_ = "w%06d" % self.next_id
                self.next_id += 1
                s = make_state(rng, self.dim, gen)
                cur.execute("INSERT INTO %s VALUES (%%s, %%s::vector, "
                            "%%s::jsonb, %%s)" % t,
                            (id_, vec_text(s[0]), s[1], s[2]))
            elif op < 0.45:  # the vector only
                old = local[id_]
                s = (make_state(rng, self.dim, gen)[0], old[1], old[2])
                cur.execute("UPDATE %s SET embedding = %%s::vector WHERE "
                            "id = %%s" % t, (vec_text(s[0]), id_))
            elif op < 0.65:  # the metadata only
                old = local[id_]
                s = (old[0], make_state(rng, self.dim, gen)[1], old[2])
                cur.execute("UPDATE %s SET metadata = %%s::jsonb WHERE "
                            "id = %%s" % t, (s[1], id_))
            elif op < 0.80:  # both, and the document
                s = make_state(rng, self.dim, gen)
                cur.execute("UPDATE %s SET embedding = %%s::vector, metadata "
                            "= %%s::jsonb, document = %%s WHERE id = %%s" % t,
                            (vec_text(s[0]), s[1], s[2], id_))
            elif op < 0.85 and self.key_changes:  # a new id
                new = "k%06d" % self.next_id
                self.next_id += 1
                cur.execute("UPDATE %s SET id = %%s WHERE id = %%s" % t,
                            (new, id_))
                s = local[id_]
                changes.append((id_, None))
                local[id_] = None
                id_ = new
            else:
                cur.execute("DELETE FROM %s WHERE id = %%s" % t, (id_,))
                s = None
            local[id_] = s
            changes.append((id_, s))
        if rng.random() < 0.1:
            self.conn.rollback()
            self.rollbacks += 1
            return
        self.conn.commit()
        self.commits += 1
        for id_, s in changes:
            if s is None:
                self.state.pop(id_, None)
            else:
                self.state[id_] = s
        self.history.append((lsn, changes))


# ------------------------------------------------------- the capture


class CaptureProc:
    """One vcdc-capture process; its stderr appends to a file."""

    def __init__(self, stack, table, topic, log_path, *extra):
        self.args = [str(CAPTURE_BIN), "-b", stack.brokers, "-t", topic,
                     "--from", stack.pgvector_url(table),
                     "-X", "vcdc.progress.ms=500", *map(str, extra)]
        self.log_path = Path(log_path)
        self.proc = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=log)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("vcdc-capture still running after %.0f s; "
                                 "log tail:\n%s" % (timeout, self.tail()))

    def terminate(self, timeout=60):
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(30)

    def log(self):
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def tail(self, n=40):
        return "\n".join(self.log().splitlines()[-n:])

    def cleanup(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait(30)


def run_capture(stack, *args, timeout=60, env=None):
    """Runs bin/vcdc-capture to its end: (exit status, stderr)."""
    argv = [str(CAPTURE_BIN), *map(str, args)]
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout,
                           env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("vcdc-capture hung: %s\n%s" % (
            " ".join(argv), (e.stderr or b"")[-3000:]))
    return p.returncode, p.stderr


# ------------------------------------------------- what was published


def published(stack, topic, collection):
    """{id: [state or None (a DELETE), ...]} in offset order, from the whole
    topic read back with confluent-kafka and decoded with fastavro. Every
    message is checked: its key is collection/id, its partition the one
    the Java client's partitioner picks, a tombstone follows each DELETE.
    Also returns the number of records."""
    msgs = read_topic(stack.brokers, topic, timeout=120)
    parts = len(admin(stack).list_topics(topic, timeout=15).topics[
        topic].partitions)
    out, count, pending_tomb = {}, 0, {}
    for m in msgs:
        if m.value is None:
            key = m.key.decode()
            assert pending_tomb.pop(key, None) is not None, (
                "tombstone without a DELETE before it: %s" % key)
            continue
        rec = wire.decode_single_object(m.value)
        count += 1
        assert rec["collection"] == collection, rec["collection"]
        assert m.key == wire.kafka_key(collection, rec["id"]), m.key
        assert m.partition == wire.java_partition(m.key, parts), m.key
        if rec["op"] == "DELETE":
            out.setdefault(rec["id"], []).append(None)
            pending_tomb[m.key.decode()] = True
        else:
            md = rec["metadata"]
            out.setdefault(rec["id"], []).append((
                tuple(rec["vector"]),
                canon_md(None if md is None else json.loads(md)),
                rec["document"]))
    assert not pending_tomb, "DELETEs without tombstones: %s" % list(
        pending_tomb)[:5]
    return out, count


def final_of(pub):
    """The state the topic leaves each id in (replayed in order)."""
    return {i: seq[-1] for i, seq in pub.items() if seq[-1] is not None}


def id_histories(history):
    """{id: [(commit index, state or None)]} of every committed change."""
    out = {}
    for n, (_, changes) in enumerate(history):
        for id_, s in changes:
            out.setdefault(id_, []).append((n, s))
    return out


def expected_from(hist, cut):
    """What a snapshot at cut (after commit cut) and the stream after it
    publish for one id: its state then (if it exists) and every later
    change."""
    before = [s for n, s in hist if n <= cut]
    after = [s for n, s in hist if n > cut]
    head = [before[-1]] if before and before[-1] is not None else []
    return head + after


def exact_cut(history, pub):
    """The snapshot's place in the writer's commit order, found from what
    was published: the one cut at which every id's published sequence is
    exactly its state then followed by each later change, once, in order.
    Returns (lo, hi): the cuts that fit; fails naming an id that fits
    none, or two ids that disagree."""
    hists = id_histories(history)
    lo, hi = 0, len(history) - 1
    for id_ in set(hists) | set(pub):
        got = pub.get(id_, [])
        hist = hists.get(id_, [])
        touch = sorted({n for n, _ in hist})
        # Between two commits touching the id, expected_from is constant.
        bounds = [0] + touch + [len(history)]
        fits = []
        for b in range(len(bounds) - 1):
            start, end = bounds[b], bounds[b + 1]
            if start >= end:
                continue
            if expected_from(hist, start) == got:
                fits.append((start, end - 1))
        assert fits, ("id %s: published %d records that match no cut of "
                      "its %d committed changes (reordered, lost or "
                      "doubled)\npublished: %s\nhistory: %s" % (
                          id_, len(got), len(hist), _short(got),
                          _short([s for _, s in hist])))
        f_lo = min(f[0] for f in fits)
        f_hi = max(f[1] for f in fits)
        lo, hi = max(lo, f_lo), min(hi, f_hi)
        assert lo <= hi, ("id %s fits the snapshot only after commit %d.."
                          "%d, other ids only within %d..%d" % (
                              id_, f_lo, f_hi, lo, hi))
    return lo, hi


def covered(history, pub, cut):
    """Every change committed after cut (and each id's state at cut) was
    published at least once and in order (as a subsequence: a restart may
    publish some again), and nothing was published that was never
    committed. Returns the number of changes checked."""
    hists = id_histories(history)
    states = {i: {s for _, s in h} for i, h in hists.items()}
    checked = 0
    for id_ in set(hists) | set(pub):
        got = pub.get(id_, [])
        want = expected_from(hists.get(id_, []), cut)
        for s in got:
            assert s is None or s in states.get(id_, set()), (
                "id %s: published a state never committed: %s" % (
                    id_, _short([s])))
        k = 0
        for s in got:
            if k < len(want) and s == want[k]:
                k += 1
        assert k == len(want), (
            "id %s: change %d of %d after the snapshot not published in "
            "order\npublished: %s\nwanted: %s" % (
                id_, k + 1, len(want), _short(got), _short(want)))
        checked += len(want)
    return checked


def _short(states):
    out = []
    for s in states[:8]:
        out.append("DELETE" if s is None else "(%s.., %s, %r)" % (
            ",".join("%.4g" % x for x in s[0][:2]), s[1], s[2]))
    return "[" + ", ".join(out) + (", ...]" if len(states) > 8 else "]")


def diff_states(expected, actual, tol=0.0):
    """Missing, extra and differing ids between {id: state} maps, as a
    report ("" when equal). Vectors within tol, metadata as JSON values,
    documents exactly."""
    missing = sorted(set(expected) - set(actual))
    extra = sorted(set(actual) - set(expected))
    diff = []
    for i in set(expected) & set(actual):
        ev, em, ed = expected[i]
        av, am, ad = actual[i]
        if (len(ev) != len(av) or any(abs(a - b) > tol
                                      for a, b in zip(ev, av)) or
                (em and json.loads(em)) != (am and json.loads(am)) or
                ed != ad):
            diff.append(i)
    parts = []
    for name, items in (("missing", missing), ("extra", extra),
                        ("different", sorted(diff))):
        if items:
            parts.append("%d %s, e.g. %s" % (len(items), name, items[:5]))
    return "; ".join(parts)

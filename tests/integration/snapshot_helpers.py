"""Support for test_snapshot.py: an OLD filled directly through its own
API (not through vcdc), a live writer through the log, the expected state
computed independently, and `vcdc snapshot` runs.

Nothing here shares code with vcdc. OLD is filled over Chroma's HTTP API
(urllib) or with psycopg2 into a table of the shape the pgvector sink
writes (id text primary key, embedding vector(N), metadata jsonb,
document text), as an application would have filled it before the
migration. The live writer feeds JSON Lines to one vcdc-producer on its
stdin, paced, and keeps the list of the changes it wrote, in order: the
expected state is the pre-fill state with those changes applied, the last
change of an id winning (one id's changes are in one partition, in order).
"""

import json
import os
import random
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from consumer_helpers import (PRODUCER_BIN, REPO, f32, pg_connect)

VCDC_BIN = REPO / "bin" / "vcdc"
DIM = 16
# min.compaction.lag.ms the tool requires (15 minutes, DESIGN.md).
LAG_MS = 15 * 60 * 1000


# ------------------------------------------------------------ records


def exact_float(rng):
    """A float that every JSON parser reads back exactly (a multiple of
    1/8 of at most 8 digits): Chroma parses metadata floats with a fast,
    not correctly rounded algorithm (test_consumer.py,
    CHROMA_METADATA_ULPS), and the pre-fill's state must be the one OLD
    holds, bit for bit, for the comparison to be exact."""
    return rng.randint(-10**7, 10**7) / 8.0


def make_record(rng, id_, generation):
    """(vector, metadata, document) of one record: most carry metadata
    and a document, some neither, so a later value without them must
    clear what was there."""
    vec = f32([rng.uniform(-1, 1) for _ in range(DIM)])
    shape = rng.random()
    md = doc = None
    if shape < 0.9:
        md = {"gen": generation, "kind": rng.choice(["a", "b", "café ☕"]),
              "score": exact_float(rng), "flag": rng.random() < 0.5}
        if generation:
            md["rev"] = "rev %d of %s" % (generation, id_)
    if shape < 0.8 or shape >= 0.95:
        doc = "doc %s gen %d" % (id_, generation)
    return vec, md, doc


def prefill_state(seed, n, prefix="p"):
    """What OLD holds before the switch, and the direct writes that made
    it: (load, deleted, rewritten, state). load: n records in insertion
    order; then some ids deleted and some re-written directly, as an
    application would have; state: {id: (vector, metadata, document)}
    after all of it."""
    rng = random.Random("prefill-%d" % seed)
    load = [("%s-%06d" % (prefix, i), None) for i in range(n)]
    load = [(i, make_record(rng, i, 0)) for i, _ in load]
    state = dict(load)
    later = rng.sample([i for i, _ in load], n // 25)
    deleted = later[:len(later) // 2]
    rewritten = [(i, make_record(rng, i, 1)) for i in later[len(later) // 2:]]
    for i in deleted:
        del state[i]
    state.update(rewritten)
    return load, deleted, rewritten, state


# -------------------------------------------------------- filling OLD


class ChromaOld:
    """A Chroma collection filled through Chroma's own HTTP API v2."""

    def __init__(self, stack, name):
        self.stack, self.name = stack, name
        self.base = ("http://%s:%d/api/v2/tenants/default_tenant/databases/"
                     "default_database" % (stack.chroma_host,
                                           stack.chroma_port))
        self.id = None

    @property
    def url(self):
        return self.stack.chroma_url(self.name)

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raise AssertionError("Chroma %s %s: %d %s" % (
                method, path, e.code, e.read()[:500])) from None

    def create(self, metric):
        got = self._call("POST", "/collections", {
            "name": self.name, "configuration": {"hnsw": {"space": metric}}})
        self.id = got["id"]

    def space(self):
        """The collection's space as Chroma reports it."""
        got = self._call("GET", "/collections/" + self.name)
        cfg = got.get("configuration_json") or got.get("configuration") or {}
        for key in ("hnsw", "spann"):
            if isinstance(cfg.get(key), dict) and cfg[key].get("space"):
                return cfg[key]["space"]
        return (got.get("metadata") or {}).get("hnsw:space", "l2")

    def upsert(self, items):
        """items: [(id, (vector, metadata, document))]."""
        for k in range(0, len(items), 1000):
            part = items[k:k + 1000]
            self._call("POST", "/collections/%s/upsert" % self.id, {
                "ids": [i for i, _ in part],
                "embeddings": [v[0] for _, v in part],
                "metadatas": [v[1] for _, v in part],
                "documents": [v[2] for _, v in part]})

    def delete(self, ids):
        for k in range(0, len(ids), 1000):
            self._call("POST", "/collections/%s/delete" % self.id,
                       {"ids": ids[k:k + 1000]})


class PgOld:
    """A pgvector table filled with psycopg2, as the application did."""

    def __init__(self, stack, name):
        self.stack, self.name = stack, name

    @property
    def url(self):
        return self.stack.pgvector_url(self.name)

    def create(self, metric):
        """The table, and (metric given) vcdc_targets' row for it as a
        consumer that created the table with --metric would have left:
        where a pgvector table's metric is recorded."""
        conn = pg_connect(self.stack)
        try:
            with conn.cursor() as cur:
                cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
                cur.execute('CREATE TABLE "%s" (id text PRIMARY KEY, '
                            'embedding vector(%d) NOT NULL, metadata jsonb, '
                            'document text)' % (self.name, DIM))
                if metric:
                    cur.execute("CREATE TABLE IF NOT EXISTS vcdc_targets ("
                                "table_name text PRIMARY KEY, dim int, "
                                "metric text)")
                    cur.execute("INSERT INTO vcdc_targets VALUES (%s,%s,%s)",
                                (self.name, DIM, metric))
        finally:
            conn.close()

    def upsert(self, items):
        from psycopg2.extras import execute_values
        conn = pg_connect(self.stack)
        try:
            with conn.cursor() as cur:
                execute_values(
                    cur, 'INSERT INTO "%s" VALUES %%s ON CONFLICT (id) DO '
                    'UPDATE SET embedding = EXCLUDED.embedding, metadata = '
                    'EXCLUDED.metadata, document = EXCLUDED.document'
                    % self.name,
                    [(i, "[%s]" % ",".join(repr(x) for x in v[0]),
                      None if v[1] is None else json.dumps(v[1]), v[2])
                     for i, v in items],
                    template="(%s, %s::vector, %s::jsonb, %s)",
                    page_size=1000)
        finally:
            conn.close()

    def delete(self, ids):
        conn = pg_connect(self.stack)
        try:
            with conn.cursor() as cur:
                cur.execute('DELETE FROM "%s" WHERE id = ANY(%%s)'
                            % self.name, (list(ids),))
        finally:
            conn.close()


def old_db(kind, stack, name):
    return ChromaOld(stack, name) if kind == "chroma" else PgOld(stack, name)


def fill_old(old, seed, n, metric="cosine"):
    """Creates OLD and fills it directly: the first load, then direct
    deletes and re-writes. Returns (ids of the first load, state)."""
    load, deleted, rewritten, state = prefill_state(seed, n)
    old.create(metric)
    old.upsert(load)
    old.delete(deleted)
    # A re-write replaces the record: deleted first, because Chroma's
    # upsert keeps the old document or metadata where the new value has
    # none.
    old.delete([i for i, _ in rewritten])
    old.upsert(rewritten)
    return [i for i, _ in load], state


# ------------------------------------------------------- the live writer


class LiveWriter:
    """Writes changes through the log, paced, until stop(): upserts,
    re-upserts and deletes concentrated on the pre-filled ids (they are
    what the snapshot is reading), some on ids it changed already (a
    delete then a re-upsert of one id, or the reverse), a few new ids.
    changes: the list written, in order."""

    def __init__(self, stack, topic, collection, ids, seed, rate, log_path):
        self.rng = random.Random("writer-%d" % seed)
        self.stack, self.topic, self.collection = stack, topic, collection
        self.ids, self.rate = list(ids), rate
        self.changes = []
        self.touched = []
        self.generation = 1
        self.log_path = Path(log_path)
        self._stop = threading.Event()
        self._thread = None
        self.proc = None
        self.error = None

    def next_change(self):
        rng = self.rng
        r = rng.random()
        if r < 0.2 and self.touched:
            id_ = rng.choice(self.touched)
        elif r < 0.92:
            id_ = rng.choice(self.ids)
        else:
            id_ = "n-%07d" % rng.randrange(10**7)
        self.touched.append(id_)
        self.generation += 1
        if rng.random() < 0.3:
            return {"collection": self.collection, "id": id_,
                    "op": "delete"}
        vec, md, doc = make_record(rng, id_, self.generation)
        c = {"collection": self.collection, "id": id_, "op": "upsert",
             "vector": vec}
        if md is not None:
            c["metadata"] = md
        if doc is not None:
            c["document"] = doc
        return c

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(PRODUCER_BIN), "-b", self.stack.brokers, "-t",
                 self.topic, "-q", "-X", "linger.ms=5"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        tick = 0.02
        per_tick = max(1, int(self.rate * tick))
        try:
            while not self._stop.is_set():
                lines = []
                for _ in range(per_tick):
                    c = self.next_change()
                    self.changes.append(c)
                    lines.append(json.dumps(c, ensure_ascii=False))
                self.proc.stdin.write(("\n".join(lines) + "\n").encode())
                self.proc.stdin.flush()
                self._stop.wait(tick)
        except (BrokenPipeError, OSError) as e:
            self.error = "the writer's producer went away: %r" % e

    def wait_for(self, count, timeout):
        deadline = time.monotonic() + timeout
        while len(self.changes) < count:
            assert time.monotonic() < deadline, "writer stalled"
            time.sleep(0.05)

    def stop(self, timeout=120):
        """Stops writing; the producer flushes and must exit 0."""
        self._stop.set()
        self._thread.join(30)
        assert self.error is None, self.error
        self.proc.stdin.close()
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("the writer's vcdc-producer did not exit")
        assert rc == 0, "the writer's vcdc-producer exit %d: %s" % (
            rc, self.log_path.read_text(errors="replace")[-3000:])

    def cleanup(self):
        self._stop.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def apply_changes(state, changes):
    """state (copied) with changes applied in order."""
    out = dict(state)
    for c in changes:
        if c["op"] == "delete":
            out.pop(c["id"], None)
        else:
            out[c["id"]] = (c["vector"], c.get("metadata"),
                            c.get("document"))
    return out


def last_ops(changes):
    """{id: its last change}."""
    out = {}
    for c in changes:
        out[c["id"]] = c
    return out


# ----------------------------------------------------------- the tool


class SnapshotRun:
    """One `vcdc snapshot` process; stdout and stderr go to files."""

    def __init__(self, args, out_dir, n):
        self.args = [str(VCDC_BIN), "snapshot"] + [str(a) for a in args]
        self.out = Path(out_dir) / ("snapshot-%d.out" % n)
        self.err = Path(out_dir) / ("snapshot-%d.err" % n)
        self.proc = None
        self.returncode = None

    def start(self):
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err)
        return self

    def wait(self, timeout):
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
            raise AssertionError("vcdc snapshot still running after %.0f s: "
                                 "%s\n%s" % (timeout, " ".join(self.args),
                                             self.stderr()[-3000:]))
        return self.returncode

    def kill(self):
        """SIGKILL; returns the exit status (None: it had ended first)."""
        if self.proc.poll() is not None:
            self.returncode = self.proc.returncode
            return None
        self.proc.send_signal(signal.SIGKILL)
        self.returncode = self.proc.wait(30)
        return self.returncode

    def chunks_done(self):
        """How many progress lines ("snapshot: chunk N: ...") this run
        wrote: each follows a finished chunk."""
        return self.stderr().count("snapshot: chunk ")

    def stdout(self):
        return self.out.read_text(errors="replace")

    def stderr(self):
        return self.err.read_text(errors="replace")

    def summary(self):
        """The --json summary: the one JSON object on stdout."""
        text = self.stdout().strip()
        try:
            return json.loads(text)
        except ValueError:
            raise AssertionError("vcdc snapshot --json printed no JSON "
                                 "object: %r\nstderr:\n%s"
                                 % (text[:500], self.stderr()[-2000:]))

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def __str__(self):
        return "$ %s\nexit %s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            " ".join(self.args), self.returncode, self.stdout()[-2000:],
            self.stderr()[-4000:])


def run_vcdc(args, timeout=120, env=None):
    """Runs bin/vcdc with args; returns the CompletedProcess (text)."""
    argv = [str(VCDC_BIN)] + [str(a) for a in args]
    e = dict(os.environ)
    if env:
        e.update(env)
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True,
                              timeout=timeout, env=e)
    except subprocess.TimeoutExpired as ex:
        raise AssertionError("%s did not exit within %d s:\n%s" % (
            " ".join(argv), timeout,
            (ex.stderr or b"")[-3000:])) from None

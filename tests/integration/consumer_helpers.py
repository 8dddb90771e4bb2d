"""Support for test_consumer.py: input generation, the expected state, and
independent readers of Kafka, Chroma and pgvector.

Nothing here shares code with vcdc. The expected state of a target is
computed from the changes a test generated (the last change of each id
wins, as the log orders them); Chroma is read over plain HTTP (urllib,
its v2 API), pgvector with psycopg2, Kafka with confluent-kafka.
"""

import array
import json
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer,
                             TopicPartition)
from confluent_kafka.admin import AdminClient

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from free_ports import free_ports  # noqa: E402
PRODUCER_BIN = REPO / "bin" / "vcdc-producer"
CONSUMER_BIN = REPO / "bin" / "vcdc-consumer"

FLOAT_TOL = 1e-6


# ------------------------------------------------------------- the stack


class Stack:
    """The running stack, from the env file scripts/stack.sh writes."""

    def __init__(self):
        missing = [k for k in ("VCDC_BROKERS", "VCDC_CHROMA_HOST",
                               "VCDC_CHROMA_PORT", "VCDC_PG_CONNINFO",
                               "VCDC_PG_HOST", "VCDC_PG_PORT",
                               "VCDC_STACK_DIR") if not os.environ.get(k)]
        if missing:
            raise RuntimeError(
                "no stack: %s unset (run under scripts/with-stack.sh, or "
                "source RUN_DIR/env after scripts/stack.sh up)"
                % ", ".join(missing))
        self.brokers = os.environ["VCDC_BROKERS"]
        self.chroma_host = os.environ["VCDC_CHROMA_HOST"]
        self.chroma_port = int(os.environ["VCDC_CHROMA_PORT"])
        self.pg_conninfo = os.environ["VCDC_PG_CONNINFO"]
        self.pg_host = os.environ["VCDC_PG_HOST"]
        self.pg_port = int(os.environ["VCDC_PG_PORT"])
        self.run_dir = os.environ["VCDC_STACK_DIR"]
        self.stack_sh = os.environ.get("VCDC_STACK_SH",
                                       str(REPO / "scripts" / "stack.sh"))

    def chroma_url(self, collection):
        return "chroma://%s:%d/%s" % (self.chroma_host, self.chroma_port,
                                      collection)

    def pgvector_url(self, table):
        # VCDC_IT_PG_COPY (auto, always, never): the sink's apply path,
        # as in the C tests (tests/it_pg.h); the sink's default if unset.
        copy = os.environ.get("VCDC_IT_PG_COPY")
        return "pgvector://postgres@%s:%d/postgres?table=%s%s" % (
            self.pg_host, self.pg_port, table,
            "&copy=" + copy if copy else "")

    def stop_one(self, name):
        subprocess.run(["bash", self.stack_sh, "stop-one", name,
                        self.run_dir], check=True, timeout=120)

    def start_one(self, name):
        subprocess.run(["bash", self.stack_sh, "start-one", name,
                        self.run_dir], check=True, timeout=180)


def unique(prefix):
    """A name for one test's topic, group, collection or table: letters,
    digits and '_' (valid for Kafka, Chroma and PostgreSQL)."""
    return "%s_%s" % (prefix, uuid.uuid4().hex[:12])


def wait_for(cond, timeout, what, interval=0.05):
    """Polls cond() until it returns a true value, which is returned; fails
    after timeout seconds, saying what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


class Threads:
    """fn(*args) in a thread of its own for each args of args_list, all
    started at once; join() waits for them. For work a test does while
    the threads run (they stop on an event the test sets)."""

    def __init__(self, fn, args_list):
        self.results = [None] * len(args_list)
        self.raised = []  # in the order they were raised

        def run(k, args):
            try:
                self.results[k] = fn(*args)
            except BaseException as e:  # noqa: BLE001 - raised in join()
                self.raised.append(e)
        self.threads = [threading.Thread(target=run, args=(k, tuple(a)),
                                         daemon=True)
                        for k, a in enumerate(args_list)]
        for t in self.threads:
            t.start()

    def join(self, timeout=120):
        """The results, in args_list's order. The first exception a
        thread raised is raised again here; a thread still running after
        timeout seconds fails the test."""
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        running = sum(t.is_alive() for t in self.threads)
        if running:
            raise AssertionError("%d of %d threads still running after "
                                 "%g s" % (running, len(self.threads),
                                           timeout))
        if self.raised:
            raise self.raised[0]
        return self.results


def in_threads(fn, args_list, timeout=120):
    """Runs fn(*args) for each args of args_list, each in a thread, all
    at once, and returns their results (Threads.join)."""
    return Threads(fn, args_list).join(timeout)


def run_bounded(args, timeout):
    """Runs args (no stdin, output captured) and returns the
    CompletedProcess; a run that outlives timeout fails the test: the
    program hung."""
    import pytest
    args = [str(a) for a in args]
    try:
        return subprocess.run(args, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail("did not exit within %d s (hung): %s\n%s" % (
            timeout, " ".join(args),
            (e.stderr or b"").decode(errors="replace")[-3000:]))


def refused(host, port):
    """True when a TCP connection to host:port is refused (nothing
    listens there)."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


_PORTS_GIVEN = set()


def free_port():
    """A port free on 127.0.0.1 now, below the ephemeral range (no
    outgoing connection takes it before the program binds it:
    scripts/free_ports.py), and never one this process was given before
    (a test asking for two, a server's and its metrics', gets two)."""
    while True:
        port = free_ports(1)[0]
        if port not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(port)
            return port


# ------------------------------------------------------ input generation


def f32(values):
    """The values rounded to float32, as Python floats (exact float32
    values, so their repr reads back to the same float32)."""
    return array.array("f", values).tolist()


KINDS = ["article", "image", "note", "café ☕", "ünïcödé", "quote \"x\""]


def make_metadata(rng, i, generation):
    """A flat metadata object of str/int/float/bool values. Later
    generations drop some keys and add others, so a re-upsert must replace
    the whole object, not merge into it."""
    md = {
        "kind": rng.choice(KINDS),
        "rank": rng.randint(-2**40, 2**40),
        "score": rng.uniform(-1e6, 1e6),
        "flag": rng.random() < 0.5,
        "gen": generation,
    }
    if generation == 0:
        md["origin"] = "seed-%d" % i
        md["ratio"] = rng.random()
    else:
        md["revised"] = True
        md["note"] = "revision %d of %d" % (generation, i)
        del md["flag"]
    return md


def make_upsert(rng, collection, id_, dim, generation, i):
    rec = {"collection": collection, "id": id_, "op": "upsert",
           "vector": f32([rng.uniform(-1, 1) for _ in range(dim)])}
    # Most records carry metadata and a document; some carry neither, so
    # a re-upsert without them must clear what the old state had.
    shape = rng.random()
    if shape < 0.9:
        rec["metadata"] = make_metadata(rng, i, generation)
    if shape < 0.8 or shape >= 0.95:
        rec["document"] = "document %d, generation %d: %s" % (
            i, generation, rng.choice(KINDS))
    return rec


def make_delete(collection, id_):
    return {"collection": collection, "id": id_, "op": "delete"}


# Ids a test may add beside the plain ones: '/' and '%' (the Kafka key's
# separator and escape), spaces, non-ASCII.
ODD_IDS = ["a/b/c", "100%", "with space", "ünï-ℂødé", "x%2Fy", "-dash-"]


def plain_ids(n, prefix="doc"):
    return ["%s-%06d" % (prefix, i) for i in range(n)]


class Expected:
    """The state a target must reach: the last change of each id."""

    def __init__(self):
        self.state = {}

    def apply(self, change):
        if change["op"] == "delete":
            self.state.pop(change["id"], None)
        else:
            self.state[change["id"]] = (change["vector"],
                                        change.get("metadata"),
                                        change.get("document"))

    def apply_all(self, changes):
        for c in changes:
            self.apply(c)

    def __len__(self):
        return len(self.state)


def write_jsonl(path, changes):
    with open(path, "w", encoding="utf-8") as f:
        for c in changes:
            f.write(json.dumps(c, ensure_ascii=False))
            f.write("\n")


def produce(stack, topic, changes, path, *extra, timeout=180):
    """Writes changes as JSONL to path and publishes them with
    vcdc-producer; fails unless it exits 0."""
    write_jsonl(path, changes)
    p = subprocess.run([str(PRODUCER_BIN), "-b", stack.brokers, "-t", topic,
                        "-q", *extra, str(path)],
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, "vcdc-producer exit %d: %s" % (
        p.returncode, p.stderr[-3000:])
    return p


def start_producer(stack, topic, changes, path, *extra):
    write_jsonl(path, changes)
    return subprocess.Popen([str(PRODUCER_BIN), "-b", stack.brokers, "-t",
                             topic, "-q", *extra, str(path)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


# -------------------------------------------------------- the consumer


class ConsumerProc:
    """One vcdc-consumer process; its stderr goes to a file."""

    def __init__(self, stack, topic, group, sink_url, log_path,
                 from_beginning=True, exit_at_end=False, metrics_port=None,
                 conf=(), collection="docs"):
        # The tests' records name collection "docs", their targets have
        # names of their own: the consumer is told which to apply.
        self.args = [str(CONSUMER_BIN), "-b", stack.brokers, "-t", topic,
                     "-G", group, "--sink", sink_url]
        if collection is not None:
            self.args += ["--collection", collection]
        if from_beginning:
            self.args.append("--from-beginning")
        if exit_at_end:
            self.args.append("--exit-at-end")
        if metrics_port is not None:
            self.args += ["--metrics-port", str(metrics_port)]
        for kv in conf:
            self.args += ["-X", kv]
        self.log_path = Path(log_path)
        self.proc = None
        self.started = self.ended = None

    def start(self):
        # Appends: a restarted consumer keeps one log.
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL,
                                         stderr=log)
        self.started = time.monotonic()
        self.ended = None
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("vcdc-consumer still running after %.0f s; "
                                 "log tail:\n%s" % (timeout, self.tail()))
        self.ended = time.monotonic()
        return rc

    def terminate(self, timeout=60):
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(30)

    def elapsed(self):
        return (self.ended or time.monotonic()) - self.started

    def log(self):
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def tail(self, n=40):
        return "\n".join(self.log().splitlines()[-n:])

    def cleanup(self):
        """Teardown: a test that failed may leave its consumer running."""
        if self.alive():
            self.proc.kill()
            self.proc.wait(30)


def scrape_metrics(port):
    """The consumer's Prometheus text as {name: value} (unlabelled
    samples only), or None when the endpoint does not answer."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                    timeout=5) as r:
            text = r.read().decode()
    except (OSError, urllib.error.URLError):
        return None
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip() or "{" in line:
            continue
        name, _, value = line.partition(" ")
        out[name] = float(value)
    return out


# ---------------------------------------------------------------- Kafka


def admin(stack):
    return AdminClient({"bootstrap.servers": stack.brokers})


def create_topic(stack, topic, partitions, config):
    """Creates topic through the admin API with the given topic config."""
    from confluent_kafka.admin import NewTopic
    client = admin(stack)
    client.create_topics([NewTopic(topic, partitions, 1, config=config)]
                         )[topic].result(timeout=30)


def _offsets_client(stack, group):
    return Consumer({"bootstrap.servers": stack.brokers, "group.id": group,
                     "enable.auto.commit": False})


_COORDINATOR_NOT_READY = (KafkaError.NOT_COORDINATOR,
                          KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                          KafkaError.COORDINATOR_NOT_AVAILABLE,
                          KafkaError.REQUEST_TIMED_OUT, KafkaError._TIMED_OUT)


def committed(stack, group, topic, partitions):
    """The group's committed offset per partition (None: none). Right after
    a broker restart the coordinator may not be ready: asked again."""
    c = _offsets_client(stack, group)
    try:
        for attempt in range(20):
            try:
                tps = c.committed(
                    [TopicPartition(topic, p) for p in partitions],
                    timeout=15)
                break
            except KafkaException as e:
                if e.args[0].code() not in _COORDINATOR_NOT_READY or \
                        attempt == 19:
                    raise
                time.sleep(0.5)
    finally:
        c.close()
    out = {}
    for tp in tps:
        assert tp.error is None, tp.error
        out[tp.partition] = tp.offset if tp.offset >= 0 else None
    return out


def log_ends(stack, topic, partitions):
    """The high watermark of each partition."""
    c = _offsets_client(stack, "vcdc-it-watermarks")
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p),
                                           timeout=15, cached=False)[1]
                for p in partitions}
    finally:
        c.close()


def caught_up(stack, group, topic, partitions):
    """True once the group committed the log end of every partition."""
    ends = log_ends(stack, topic, partitions)
    got = committed(stack, group, topic, partitions)
    return all(got[p] == ends[p] for p in partitions if ends[p] > 0)


def group_members(stack, group):
    """(state name, [member ids]) of a consumer group."""
    client = admin(stack)  # kept alive until its future is done
    fut = client.describe_consumer_groups([group],
                                          request_timeout=10)[group]
    d = fut.result(timeout=15)
    return str(d.state), [m.member_id for m in d.members]


def read_all(stack, topic, timeout=60):
    """Every message of topic, from offset 0 to the log end of each
    partition seen now, as a list of confluent_kafka Messages."""
    client = admin(stack)
    md = client.list_topics(topic, timeout=15)
    parts = sorted(md.topics[topic].partitions)
    ends = log_ends(stack, topic, parts)
    c = Consumer({"bootstrap.servers": stack.brokers,
                  "group.id": unique("vcdc_it_reader"),
                  "enable.auto.commit": False,
                  "enable.partition.eof": False})
    out = []
    try:
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        pos = {p: 0 for p in parts}
        deadline = time.monotonic() + timeout
        while any(pos[p] < ends[p] for p in parts):
            assert time.monotonic() < deadline, (
                "reading %s: at %s of %s" % (topic, pos, ends))
            m = c.poll(0.5)
            if m is None:
                continue
            assert m.error() is None, m.error()
            pos[m.partition()] = m.offset() + 1
            out.append(m)
    finally:
        c.close()
    return out


def produce_raw(stack, topic, partition, key, value):
    """Writes one message as it is into a partition; returns its offset."""
    got = {}

    def dr(err, msg):
        got["err"], got["offset"] = err, msg.offset()

    p = Producer({"bootstrap.servers": stack.brokers,
                  "enable.idempotence": True})
    p.produce(topic, value=value, key=key, partition=partition,
              on_delivery=dr)
    assert p.flush(30) == 0, "raw message not delivered"
    assert got.get("err") is None, got
    return got["offset"]


# --------------------------------------------------------------- Chroma


class Chroma:
    """Chroma's HTTP API v2, with urllib and json only."""

    def __init__(self, stack):
        self.root = "http://%s:%d/api/v2" % (stack.chroma_host,
                                             stack.chroma_port)
        self.base = (self.root +
                     "/tenants/default_tenant/databases/default_database")

    def _call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())

    def collection_id(self, name):
        try:
            return self._call("GET", "/collections/" + name)["id"]
        except urllib.error.HTTPError as e:
            if e.code in (404, 400):
                return None
            raise

    def collection(self, name):
        return self._call("GET", "/collections/" + name)

    def count(self, name):
        """Records in the collection; 0 while it does not exist."""
        cid = self.collection_id(name)
        if cid is None:
            return 0
        return int(self._call("GET", "/collections/%s/count" % cid))

    def count_or_none(self, name):
        """count(), or None while Chroma does not answer."""
        try:
            return self.count(name)
        except (OSError, urllib.error.URLError):
            return None

    def get_all(self, name, page=1000, include=("embeddings", "metadatas",
                                                "documents"), repeats=False):
        """{id: (vector, metadata, document)} of every record, paged with
        limit/offset. Fails on an id returned twice, unless repeats (a
        read under live writes: pages shift, the later copy is kept)."""
        cid = self.collection_id(name)
        assert cid is not None, "Chroma collection %s does not exist" % name
        out = {}
        offset = 0
        while True:
            r = self._call("POST", "/collections/%s/get" % cid,
                           {"limit": page, "offset": offset,
                            "include": list(include)})
            ids = r["ids"]
            for i, id_ in enumerate(ids):
                assert repeats or id_ not in out, (
                    "Chroma returned %r twice" % id_)
                out[id_] = (
                    r["embeddings"][i] if "embeddings" in include else None,
                    r["metadatas"][i] if "metadatas" in include else None,
                    r["documents"][i] if "documents" in include else None)
            if len(ids) < page:
                return out
            offset += page

    def recorded_offsets(self, name, topic):
        """{partition: offset} from the companion collection
        NAME_vcdc_offsets (ids "topic/partition", metadata topic,
        partition, offset, collection_id): only records of the collection
        as it exists now (its id, or "" while there is none)."""
        comp = name + "_vcdc_offsets"
        if self.collection_id(comp) is None:
            return {}
        current = self.collection_id(name) or ""
        out = {}
        for id_, (_, md, _) in self.get_all(comp, include=("metadatas",)
                                            ).items():
            if (md and md.get("topic") == topic
                    and md.get("collection_id") == current):
                assert id_ == "%s/%d" % (topic, md["partition"]), (id_, md)
                out[int(md["partition"])] = int(md["offset"])
        return out


# ------------------------------------------------------------- pgvector


def pg_connect(stack):
    import psycopg2
    conn = psycopg2.connect(stack.pg_conninfo, connect_timeout=10)
    conn.autocommit = True
    return conn


def parse_pg_vector(text):
    assert text[0] == "[" and text[-1] == "]", text[:40]
    return [float(x) for x in text[1:-1].split(",")] if len(text) > 2 else []


class Pg:
    def __init__(self, stack):
        self.stack = stack

    def _query(self, sql, args=()):
        conn = pg_connect(self.stack)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall()
        finally:
            conn.close()

    def execute(self, sql, args=()):
        """Runs a statement that returns no rows."""
        conn = pg_connect(self.stack)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
        finally:
            conn.close()

    def table_exists(self, table):
        return self._query("SELECT to_regclass(%s) IS NOT NULL",
                           ('"%s"' % table,))[0][0]

    def count(self, table):
        if not self.table_exists(table):
            return 0
        return self._query('SELECT count(*) FROM "%s"' % table)[0][0]

    def count_or_none(self, table):
        import psycopg2
        try:
            return self.count(table)
        except psycopg2.Error:
            return None

    def get_all(self, table, repeats=False):  # one statement: no repeats
        out = {}
        # metadata as text, parsed here: psycopg2's own jsonb parsing is
        # not what is being tested.
        for id_, emb, md, doc in self._query(
                'SELECT id, embedding::text, metadata::text, document '
                'FROM "%s"' % table):
            assert id_ not in out
            out[id_] = (parse_pg_vector(emb),
                        None if md is None else json.loads(md), doc)
        return out

    def recorded_offsets(self, table, topic):
        """The offsets recorded for the table as it exists now: rows are
        stamped with the table's filenode (a dropped, re-created or
        truncated table has none), and -1 marks a row only locked."""
        return {p: o for p, o in self._query(
            'SELECT partition, "offset" FROM vcdc_offsets '
            'WHERE table_name = %s AND topic = %s AND "offset" >= 0 '
            'AND table_instance = '
            'pg_relation_filenode(to_regclass(quote_ident(%s)))',
            (table, topic, table))}


# ---------------------------------------------------------- comparison


def _same_value(exp, act, ulps=0, near=None):
    """JSON values equal, with bool, int and float told apart (True is not
    1, 5 is not 5.0) and floats compared exactly: metadata must
    round-trip. exp is the expected value. ulps > 0 lets a float be that
    many units in the last place off (counted in near[0])."""
    if isinstance(exp, bool) or isinstance(act, bool):
        return type(exp) is type(act) and exp == act
    if isinstance(exp, int):
        return isinstance(act, int) and exp == act
    if isinstance(exp, float):
        # An integral float may come back as the same integer.
        if not (isinstance(act, float) or
                (isinstance(act, int) and exp.is_integer())):
            return False
        if exp == act:
            return True
        if ulps and abs(exp - act) <= ulps * math.ulp(exp):
            near[0] += 1
            return True
        return False
    if isinstance(exp, dict):
        return (isinstance(act, dict) and exp.keys() == act.keys() and
                all(_same_value(exp[k], act[k], ulps, near) for k in exp))
    return type(exp) is type(act) and exp == act


def diff_state(expected, actual, tol=FLOAT_TOL, metadata_ulps=0,
               stats=None, examples=5):
    """Compares {id: (vector, metadata, document)} maps. Returns a report
    (empty when they agree): missing ids, extra ids, and ids whose vector
    (beyond tol), metadata or document differ, with examples of each.
    metadata_ulps: how many units in the last place a metadata float may
    be off (0: exact); stats["metadata_floats_off"] counts those that
    were."""
    near = [0]
    exp, act = expected.state if isinstance(expected, Expected) else \
        expected, actual
    missing = sorted(set(exp) - set(act))
    extra = sorted(set(act) - set(exp))
    bad_vec, bad_md, bad_doc = [], [], []
    for id_ in set(exp) & set(act):
        ev, emd, edoc = exp[id_]
        av, amd, adoc = act[id_]
        if av is None or len(av) != len(ev) or any(
                abs(x - y) > tol for x, y in zip(ev, av)):
            bad_vec.append(id_)
        if not _same_value(emd, amd, metadata_ulps, near):
            bad_md.append((id_, emd, amd))
        if edoc != adoc:
            bad_doc.append((id_, edoc, adoc))
    if stats is not None:
        stats["metadata_floats_off"] = near[0]
    report = []
    for name, items in (("missing", missing), ("extra", extra),
                        ("vector differs", sorted(bad_vec)),
                        ("metadata differs", sorted(bad_md, key=str)),
                        ("document differs", sorted(bad_doc, key=str))):
        if items:
            report.append("%d %s, e.g. %s" % (len(items), name,
                                              items[:examples]))
    return "; ".join(report)

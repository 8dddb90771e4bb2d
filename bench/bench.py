"""vcdc benchmarks: each one runs vcdc and its baseline alternately on the
same generated data, several rounds, and prints the median of each side,
their ratio and the min-max spread (bench/README.md says what each figure
compares). Runs against the stack scripts/with-stack.sh exported.

usage: bench.py [--smoke] [--only NAME,...]
  NAME: codec, producer, jsonl, consumer, pgload, memory, latency, capture,
        pgapply, index, verify, exact, snapshot, gateway (the default: all
        of these),
        and scale (only when named: 5,000,000 records, several minutes)
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

from confluent_kafka.admin import AdminClient, NewTopic

import bench_gateway
import bench_index
import bench_pg
import bench_pgapply
import bench_scale
import bench_snapshot
import bench_verify

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, "bin")
BB = os.path.join(REPO, os.environ.get("BUILD", "build"), "bench")
PY = os.environ.get("VCDC_PYTHON", sys.executable)
BROKERS = os.environ["VCDC_BROKERS"]
CHROMA = (os.environ["VCDC_CHROMA_HOST"], os.environ["VCDC_CHROMA_PORT"])
PG_URL = os.environ["VCDC_PGVECTOR_URL"]
PG_CONNINFO = os.environ["VCDC_PG_CONNINFO"]

# Producer settings both sides share (vcdc-producer adds idempotence and
# acks=all itself; raw_producer sets the same two).
PRODUCER_X = ["linger.ms=5", "batch.size=1000000", "compression.type=none"]
BATCH = 1000  # vcdc.batch.records' default; the direct loader's batch
PG_CHUNK = 500  # rows per INSERT of the pgvector sink (VCDC_PGVECTOR_CHUNK_ROWS)
PARTITIONS = 4
# The memory and scale-out benchmarks share their topics: 8 partitions, so
# two consumers of one group get four each.
SCALE_PARTITIONS = 8

SIZES = {
    # producer: dimension -> (fvecs records, JSON Lines records); fvecs
    # runs of about a second and 300 MB, long enough that start-up does not
    # decide the ratio, small enough to stay in the page cache.
    # rounds: per comparison; close_rounds: those against a limit, whose
    # ratio is near 1 and judged against a target.
    # jsonl: dimension -> lines of 17-digit floats (issue 20's files).
    "full": dict(rounds=3, close_rounds=5, codec={128: 200000, 768: 40000},
                 producer={128: (500000, 200000), 768: (100000, 40000)},
                 jsonl={128: 100000, 768: 20000},
                 consumer={"pgvector": 200000, "chroma": 50000},
                 memory=(100000, 1000000), latency=(1000, 60),
                 # capture: dimension -> (snapshot rows, streamed rows)
                 capture={128: (400000, 100000), 768: (80000, 25000)},
                 # index: (records, dimension); rounds of minutes each
                 index=(200000, 128), index_rounds=1,
                 # exact: dimension -> (records, queries), k 10
                 exact={128: (20000, 100), 768: (5000, 100)}),
    "smoke": dict(rounds=1, close_rounds=1, codec={128: 2000, 768: 500},
                  producer={128: (300, 300), 768: (300, 300)},
                  jsonl={128: 300, 768: 300},
                  consumer={"pgvector": 300, "chroma": 300},
                  memory=(200, 2000), latency=(200, 3),
                  capture={128: (300, 300), 768: (300, 300)},
                  index=(300, 128), index_rounds=1,
                  exact={128: (300, 5), 768: (100, 5)}),
}


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    """Runs cmd, returns (seconds, stdout); fails loudly."""
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, **kw)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-3000:])
        raise SystemExit(f"bench: {cmd[0]} exited {p.returncode}")
    return dt, p.stdout


def run_rss(cmd):
    """Runs cmd; returns (seconds, peak RSS in KiB) from wait4's rusage."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        sys.stderr.write(err[-3000:])
        raise SystemExit(f"bench: {cmd[0]} exited {p.returncode}")
    return dt, ru.ru_maxrss


def spread(xs):
    return f"{min(xs):,.0f}-{max(xs):,.0f}" if max(xs) >= 100 else \
        f"{min(xs):.3g}-{max(xs):.3g}"


def fmt(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


class Table:
    def __init__(self, title, unit, a, b, ratio_name):
        self.title, self.unit, self.a, self.b = title, unit, a, b
        self.ratio_name = ratio_name
        self.rows = []

    def add(self, case, xs, ys):
        self.rows.append((case, xs, ys))

    def render(self):
        head = ["case", f"{self.a} ({self.unit})", "spread",
                f"{self.b} ({self.unit})", "spread", self.ratio_name]
        body = []
        for case, xs, ys in self.rows:
            ma, mb = statistics.median(xs), statistics.median(ys)
            body.append([case, fmt(ma), spread(xs), fmt(mb), spread(ys),
                         f"{ma / mb:.2f}" if mb else "-"])
        out = [f"### {self.title}", "",
               "| " + " | ".join(head) + " |",
               "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(out) + "\n"


def settled(side):
    """side, after the dirty pages of the rounds before it are written out
    (os.sync(), untimed): a round must not pay for its predecessor's
    writeback."""
    def run_settled(r):
        os.sync()
        return side(r)
    return run_settled


def alternate(rounds, a, b, warm=None):
    """Runs a() and b() alternately (the first side alternates too), each
    settled(), after warm() once, untimed, if given: the servers' first
    requests run on cold code (the broker's JIT, PGlite's WebAssembly
    tier-up), and round 1 must not pay for them on one side only. Returns
    the lists of results."""
    a, b = settled(a), settled(b)
    if warm:
        warm(-1)
    xs, ys = [], []
    for r in range(rounds):
        if r % 2 == 0:
            xs.append(a(r))
            ys.append(b(r))
        else:
            ys.append(b(r))
            xs.append(a(r))
    return xs, ys


def gen(work, n, dim, fvecs=False, digits=None):
    path = os.path.join(work, f"gen-{n}-{dim}{f'-{digits}' if digits else ''}"
                        f".{'fvecs' if fvecs else 'jsonl'}")
    if not os.path.exists(path):
        with open(path, "wb") as f:
            subprocess.run([os.path.join(BIN, "vcdc-gen"), "-n", str(n), "-d",
                            str(dim)] + (["--fvecs"] if fvecs else []) +
                           (["--digits", str(digits)] if digits else []),
                           stdout=f, check=True)
    return path


def create_topic(name, partitions=PARTITIONS, policy="compact"):
    """Creates the topic and returns once the broker's metadata shows every
    partition with a leader: CreateTopics answers before that, and a
    program started at once could find no such topic."""
    admin = AdminClient({"bootstrap.servers": BROKERS, "log_level": 4})
    fut = admin.create_topics([NewTopic(
        name, num_partitions=partitions, replication_factor=1,
        config={"cleanup.policy": policy})])
    fut[name].result(30)
    deadline = time.monotonic() + 30
    while True:
        t = admin.list_topics(name, timeout=10).topics.get(name)
        if (t is not None and t.error is None and
                len(t.partitions) == partitions and
                all(p.leader >= 0 for p in t.partitions.values())):
            return name
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: topic {name} not in the metadata "
                             "30 s after its creation")
        time.sleep(0.05)


def topic_messages(name):
    """The messages in a topic: the sum of its partitions' log-end
    offsets."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": BROKERS, "group.id": fresh("bench-n"),
                  "log_level": 4})
    try:
        parts = c.list_topics(name, timeout=30).topics[name].partitions
        return sum(c.get_watermark_offsets(TopicPartition(name, p),
                                           timeout=30)[1] for p in parts)
    finally:
        c.close()


def drop_topic(name):
    """Deletes a topic a round wrote, so that the page cache does not grow
    with every round (on this VM a round behind 14 GB of cache ran 2-3
    times slower, on either side; bench/RESULTS.md, Producer)."""
    admin = AdminClient({"bootstrap.servers": BROKERS, "log_level": 4})
    admin.delete_topics([name])[name].result(60)


def fresh(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# ---- 1. codec -------------------------------------------------------------
def bench_codec(sz):
    rounds = 1 if sz["smoke"] else max(sz["rounds"], 3)
    t = Table("Codec: ns per record (lower is better)", "ns",
              "vcdc", "memcpy floor", "vcdc/floor")
    for dim, n in sz["codec"].items():
        _, out = run([os.path.join(BB, "codec_bench"), str(dim), str(n),
                      str(rounds)])
        rows = [list(map(float, line.split())) for line in out.splitlines()]
        t.add(f"encode {dim}-d ({int(rows[0][4])} B)",
              [r[1] for r in rows], [r[3] for r in rows])
        t.add(f"encode {dim}-d, avro-c generic (the old encoder)",
              [r[5] for r in rows], [r[3] for r in rows])
        t.add(f"decode {dim}-d", [r[2] for r in rows], [r[3] for r in rows])
        t.add(f"decode {dim}-d, avro-c generic (the old decoder)",
              [r[6] for r in rows], [r[3] for r in rows])
    return [t]


# ---- the exact top-k of shadow --recall -----------------------------------
def bench_exact(sz):
    """Query x record pairs per second of the brute force (in memory, no
    database): vcdc's blocked kernel against the naive loop."""
    rounds = 1 if sz["smoke"] else max(sz["rounds"], 3)
    t = Table("Exact top-k (shadow --recall): query x record pairs/s, "
              "cosine, k 10 (higher is better)", "pairs/s", "vcdc",
              "naive loop", "vcdc/naive")
    for dim, (n, nq) in sz["exact"].items():
        _, out = run([os.path.join(BB, "exact_bench"), str(dim), str(n),
                      str(nq), "10", str(rounds)])
        rows = [list(map(float, line.split())) for line in out.splitlines()]
        t.add(f"{dim}-d, {n} records x {nq} queries",
              [r[4] for r in rows], [r[5] for r in rows])
    return [t]


# ---- 2. producer ----------------------------------------------------------
def bench_producer(sz, work):
    xopts = [a for x in PRODUCER_X for a in ("-X", x)]
    recs = Table("Producer vs. the broker's limit: records/s", "rec/s",
                 "vcdc-producer", "raw librdkafka", "vcdc/raw")
    mbs = Table("Producer vs. the broker's limit: MB/s of messages (key + "
                "value)", "MB/s", "vcdc-producer", "raw librdkafka",
                "vcdc/raw")
    for dim, (n, jn) in sz["producer"].items():
        fv = gen(work, n, dim, fvecs=True)
        jl = gen(work, jn, dim)
        size = {}

        def raw(_r):
            topic = create_topic(fresh("bench_raw"))
            _, out = run([os.path.join(BB, "raw_producer"), "-b", BROKERS,
                          "-t", topic, "-c", "docs"] + xopts + [fv])
            drop_topic(topic)
            cnt, nbytes, secs = out.split()
            size["bytes"] = int(nbytes)
            return int(cnt) / float(secs)

        def vcdc(fmt_, path, cnt):
            def side(_r):
                topic = create_topic(fresh("bench_vp"))
                dt, _ = run([os.path.join(BIN, "vcdc-producer"), "-b",
                             BROKERS, "-t", topic, "-c", "docs", "-f", fmt_]
                            + xopts + [path])
                drop_topic(topic)
                return cnt / dt
            return side

        xs, ys = alternate(sz["close_rounds"], vcdc("fvecs", fv, n), raw,
                           warm=raw)
        recs.add(f"fvecs {dim}-d, {n:,} rec", xs, ys)
        per = size["bytes"] / n / 1e6
        mbs.add(f"fvecs {dim}-d", [x * per for x in xs], [y * per for y in ys])
        xs, ys = alternate(sz["rounds"], vcdc("jsonl", jl, jn), raw)
        recs.add(f"JSONL {dim}-d, {jn:,} rec (raw: fvecs payloads, "
                 f"{n:,} rec)", xs, ys)
        os.unlink(fv)  # up to 0.6 GB
    return [recs, mbs]


# ---- 2b. JSON Lines producers ----------------------------------------------
def bench_jsonl(sz, work):
    """vcdc-producer on a JSON Lines file of 17-digit floats against kcat -P
    -l shipping the same file's lines, and against the Python producer
    users write (py_producer.py). Each side writes a fresh topic (kcat's
    lines have no key: not compacted), whose message count is checked."""
    xopts = [a for x in PRODUCER_X for a in ("-X", x)]
    kc = Table("JSON Lines: vcdc-producer vs kcat -P -l shipping the raw "
               "lines: records/s", "rec/s", "vcdc-producer", "kcat -P -l",
               "vcdc/kcat")
    py = Table("JSON Lines: vcdc-producer vs the Python producer (orjson, "
               "fastavro, confluent-kafka): records/s", "rec/s",
               "vcdc-producer", "Python", "vcdc/Python")
    for dim, n in sz["jsonl"].items():
        jl = gen(work, n, dim, digits=17)
        mb = os.path.getsize(jl) / 1e6

        def side(cmd_of, policy="compact"):
            def run_side(_r):
                topic = create_topic(fresh("bench_jl"), policy=policy)
                dt, _ = run(cmd_of(topic))
                got = topic_messages(topic)
                drop_topic(topic)
                if got != n:
                    raise SystemExit(f"bench: {cmd_of(topic)[0]} wrote "
                                     f"{got} of {n} messages")
                return n / dt
            return run_side

        vcdc = side(lambda t: [os.path.join(BIN, "vcdc-producer"), "-b",
                               BROKERS, "-t", t, "-c", "docs", "-f", "jsonl"]
                    + xopts + [jl])
        kcat = side(lambda t: ["kcat", "-P", "-b", BROKERS, "-t", t, "-X",
                               "enable.idempotence=true", "-X", "acks=all"]
                    + xopts + ["-l", jl], policy="delete")
        pyp = side(lambda t: [PY, os.path.join(REPO, "bench",
                                               "py_producer.py"),
                              BROKERS, t, jl])
        log(f"jsonl vs kcat: {dim}-d, {n} lines")
        xs, ys = alternate(sz["close_rounds"], vcdc, kcat, warm=kcat)
        kc.add(f"{dim}-d, {n:,} lines ({mb:.0f} MB)", xs, ys)
        log(f"jsonl vs Python: {dim}-d, {n} lines")
        xs, ys = alternate(sz["rounds"], vcdc, pyp)
        py.add(f"{dim}-d, {n:,} lines ({mb:.0f} MB)", xs, ys)
        os.unlink(jl)
    return [kc, py]


# ---- 3, 4. consumer -------------------------------------------------------
def pg_count(table):
    import psycopg2
    with psycopg2.connect(PG_CONNINFO) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        return cur.fetchone()[0]


def chroma_count(name):
    base = (f"http://{CHROMA[0]}:{CHROMA[1]}/api/v2/tenants/default_tenant/"
            f"databases/default_database/collections")
    with urllib.request.urlopen(f"{base}/{name}", timeout=30) as r:
        cid = json.load(r)["id"]
    with urllib.request.urlopen(f"{base}/{cid}/count", timeout=30) as r:
        return int(r.read())


def sink_url(target, name):
    if target == "pgvector":
        sep = "&" if "?" in PG_URL else "?"
        return f"{PG_URL}{sep}table={name}"
    return f"chroma://{CHROMA[0]}:{CHROMA[1]}/{name}"


def count(target, name):
    return pg_count(name) if target == "pgvector" else chroma_count(name)


def vcdc_consume(target, topic, n, rss=False, extra=()):
    name = fresh("bench_vc")
    cmd = [os.path.join(BIN, "vcdc-consumer"), "-b", BROKERS, "-t", topic,
           "-G", fresh("bench-g"), "--collection", "docs",
           "--sink", sink_url(target, name),
           "--from-beginning", "--exit-at-end"] + list(extra)
    if rss:
        dt, kib = run_rss(cmd)
    else:
        dt, _ = run(cmd)
        kib = 0
    got = count(target, name)
    if got != n:
        raise SystemExit(f"bench: vcdc-consumer applied {got} of {n}")
    if target == "pgvector":  # 1M rows are 1 GB the next rounds would cache
        pg_exec([f'DROP TABLE "{name}"'])
    return (n / dt, kib) if rss else n / dt


def prepared_topic(work, n, dim, partitions=PARTITIONS):
    jl = gen(work, n, dim)
    topic = create_topic(fresh("bench_replay"), partitions)
    run([os.path.join(BIN, "vcdc-producer"), "-b", BROKERS, "-t", topic, jl])
    return topic, jl


def bench_consumer(sz, work):
    direct = Table("Consumer vs. the database's limit: records/s (128-d)",
                   "rec/s", "vcdc-consumer", "direct loader", "vcdc/direct")
    python = Table("Consumer vs. the hand-written Python pipeline: records/s "
                   "(128-d)", "rec/s", "vcdc-consumer", "Python",
                   "vcdc/Python")
    for target, n in sz["consumer"].items():
        topic, jl = prepared_topic(work, n, 128)

        def v(_r):
            return vcdc_consume(target, topic, n)

        def d(_r):
            name = fresh("bench_dl")
            if target == "pgvector":
                args = ["pgvector", PG_CONNINFO, name]
            else:
                args = ["chroma", CHROMA[0], CHROMA[1], name]
            batch = PG_CHUNK if target == "pgvector" else BATCH
            _, out = run([os.path.join(BB, "direct_loader")] + args +
                         [str(batch), jl])
            got = count(target, name)
            if got != n:
                raise SystemExit(f"bench: direct loader wrote {got} of {n}")
            return n / float(out.split()[1])

        def p(_r):
            name = fresh("bench_py")
            tgt = (f"{PG_CONNINFO}|{name}" if target == "pgvector"
                   else f"{CHROMA[0]}:{CHROMA[1]}|{name}")
            dt, _ = run([PY, os.path.join(REPO, "bench", "py_consumer.py"),
                         target, BROKERS, topic, fresh("bench-pg"), tgt,
                         str(BATCH)])
            got = count(target, name)
            if got != n:
                raise SystemExit(f"bench: Python consumer wrote {got} of {n}")
            return n / dt

        log(f"consumer vs direct loader: {target}, {n} records")
        xs, ys = alternate(sz["close_rounds"], v, d, warm=v)
        direct.add(f"{target}, {n:,} rec", xs, ys)
        log(f"consumer vs Python: {target}, {n} records")
        xs, ys = alternate(sz["rounds"], v, p)
        python.add(f"{target}, {n:,} rec", xs, ys)
    return [direct, python]


# ---- 5. memory -----------------------------------------------------------
def bench_memory(sz, work):
    """Peak RSS of one consumer replaying each size into pgvector. (Scale
    out, which replayed the larger topic again with two consumers, is in
    bench_pg.py since issue 16, with what each replay costs.)"""
    small, big = sz["memory"]
    mem = []
    for n in (small, big):
        topic, jl = prepared_topic(work, n, 128, SCALE_PARTITIONS)
        rate, kib = vcdc_consume("pgvector", topic, n, rss=True)
        mem.append((n, rate, kib))
        os.unlink(jl)  # the 1M-record file is 1.7 GB
        drop_topic(topic)
    lines = ["### Memory: peak RSS of vcdc-consumer replaying into pgvector "
             "(128-d, defaults)", "",
             "| records | peak RSS (MB) | rec/s |", "|---|---|---|"]
    for n, rate, kib in mem:
        lines.append(f"| {n:,} | {kib / 1024:.1f} | {rate:,.0f} |")
    lines += ["", f"RSS ratio {big:,} / {small:,} records: "
              f"{mem[1][2] / mem[0][2]:.2f}"]
    return ["\n".join(lines) + "\n"]


# ---- 7. capture -----------------------------------------------------------
PG_BIN = os.environ.get("VCDC_PG_BIN", "")
CAPTURE_TXN_ROWS = 100  # rows per transaction of the streamed inserts


def pg_exec(statements):
    import psycopg2
    conn = psycopg2.connect(PG_CONNINFO)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for st in statements:
                cur.execute(st)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def capture_table(work, name, n, dim, txn_rows=None):
    """A source table of n generated rows (vcdc-gen): one COPY FROM, or,
    with txn_rows, inserts of txn_rows rows a transaction (the WAL a
    stream decodes)."""
    import io
    import psycopg2
    path = gen(work, n, dim)
    pg_exec([f'CREATE TABLE IF NOT EXISTS "{name}" (id text PRIMARY KEY, '
             f'embedding vector({dim}), metadata jsonb, document text)'])
    rows = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            rows.append((r["id"], "[" + ",".join(map(repr, r["vector"]))
                         + "]", json.dumps(r["metadata"]), r["document"]))
    os.unlink(path)
    conn = psycopg2.connect(PG_CONNINFO)
    try:
        with conn.cursor() as cur:
            if not txn_rows:
                esc = str.maketrans({"\\": "\\\\", "\t": "\\t",
                                     "\n": "\\n"})
                buf = io.StringIO("".join(
                    "\t".join(v.translate(esc) for v in r) + "\n"
                    for r in rows))
                cur.copy_expert(f'COPY "{name}" FROM STDIN', buf)
                conn.commit()
                return
            for i in range(0, n, txn_rows):
                args = ",".join(cur.mogrify("(%s,%s::vector,%s::jsonb,%s)",
                                            r).decode()
                                for r in rows[i:i + txn_rows])
                cur.execute(f'INSERT INTO "{name}" VALUES {args}')
                conn.commit()
    finally:
        conn.close()


def capture_run(table, slot, pub, n, what):
    """vcdc-capture --exit-at-end on slot (made by it, when missing, with
    a snapshot): its own timing of the snapshot or of the stream, from the
    log, after checking the count."""
    topic = create_topic(fresh("bench_cap"))
    sep = "&" if "?" in PG_URL else "?"
    _, err = run_err([os.path.join(BIN, "vcdc-capture"), "-b", BROKERS,
                      "-t", topic, "--from", f"{PG_URL}{sep}table={table}",
                      "--slot", slot, "--publication", pub, "--exit-at-end",
                      "-X", "vcdc.progress.ms=0"] +
                     [a for x in PRODUCER_X for a in ("-X", x)])
    drop_topic(topic)
    import re
    if what == "snapshot":
        m = re.search(r"snapshot done: (\d+) rows published and "
                      r"acknowledged in ([0-9.]+) s", err)
    else:
        m = re.search(r"streamed (\d+) changes in ([0-9.]+) s", err)
    if not m or int(m.group(1)) != n:
        sys.stderr.write(err[-3000:])
        raise SystemExit(f"bench: vcdc-capture {what}: expected {n} rows")
    return n / float(m.group(2))


def run_err(cmd):
    """Runs cmd; returns (seconds, stderr); fails loudly."""
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-3000:])
        raise SystemExit(f"bench: {cmd[0]} exited {p.returncode}")
    return time.monotonic() - t0, p.stderr


def bench_capture(sz, work):
    """vcdc-capture against PostgreSQL's own rate of handing out the same
    rows: the snapshot against COPY of the same query (psql, to
    /dev/null), the stream against pg_recvlogical draining a copy of the
    same slot with the same options (binary values; to /dev/null, up to
    the same LSN)."""
    snap = Table("Capture, snapshot: rows/s from the table to acknowledged "
                 "in Kafka", "rows/s", "vcdc-capture", "COPY (psql)",
                 "capture/COPY")
    stream = Table("Capture, streaming: rows/s from the WAL to acknowledged "
                   f"in Kafka ({CAPTURE_TXN_ROWS} rows a transaction)",
                   "rows/s", "vcdc-capture", "pg_recvlogical",
                   "capture/recvlogical")
    for dim, (n, sn) in sz["capture"].items():
        table, stable = fresh("bench_snap"), fresh("bench_wal")
        pub, spub = "p_" + table, "p_" + stable
        log(f"capture: loading {n:,} and {sn:,} rows of {dim}-d")
        capture_table(work, table, n, dim)
        pg_exec([f'CREATE PUBLICATION "{pub}" FOR TABLE "{table}"',
                 f'CREATE TABLE "{stable}" (id text PRIMARY KEY, embedding '
                 f'vector({dim}), metadata jsonb, document text)',
                 f'CREATE PUBLICATION "{spub}" FOR TABLE "{stable}"',
                 f"SELECT pg_create_logical_replication_slot('t_{stable}', "
                 f"'pgoutput')"])
        capture_table(work, stable, sn, dim, CAPTURE_TXN_ROWS)
        end = pg_exec(["SELECT pg_current_wal_lsn()::text"])[0][0]
        copy_sql = (f'COPY (SELECT id::text, embedding, metadata::text, '
                    f'document::text FROM "{table}") TO STDOUT '
                    f'(FORMAT binary)')
        def new_slot(prefix, template=None):
            name = fresh(prefix)
            if template:
                pg_exec([f"SELECT pg_copy_logical_replication_slot("
                         f"'{template}', '{name}')"])
            return name

        def drop(slot):
            # Each round's slot goes at once: slots are few (16 here).
            pg_exec([f"SELECT pg_drop_replication_slot(slot_name) FROM "
                     f"pg_replication_slots WHERE slot_name = '{slot}'"])

        def cap_snap(_r):
            slot = new_slot("s_snap")
            rate = capture_run(table, slot, pub, n, "snapshot")
            drop(slot)
            return rate

        def copy(_r):
            dt, _ = run([os.path.join(PG_BIN, "psql"), PG_CONNINFO, "-X",
                         "-q", "-o", "/dev/null", "-c", copy_sql])
            return n / dt

        def cap_stream(_r):
            slot = new_slot("s_str", f"t_{stable}")
            rate = capture_run(stable, slot, spub, sn, "stream")
            drop(slot)
            return rate

        def recvlogical(_r):
            slot = new_slot("s_rl", f"t_{stable}")
            dt, _ = run([os.path.join(PG_BIN, "pg_recvlogical"), "-d",
                         PG_CONNINFO, "--slot", slot, "--start", "-o",
                         "proto_version=1", "-o",
                         f"publication_names={spub}", "-o", "binary=true",
                         "-E", end, "-f", "/dev/null", "--no-loop"])
            drop(slot)
            return sn / dt

        log(f"capture snapshot vs COPY: {dim}-d, {n} rows")
        xs, ys = alternate(sz["close_rounds"], cap_snap, copy, warm=copy)
        snap.add(f"{dim}-d, {n:,} rows", xs, ys)
        log(f"capture stream vs pg_recvlogical: {dim}-d, {sn} rows")
        xs, ys = alternate(sz["close_rounds"], cap_stream, recvlogical,
                           warm=recvlogical)
        stream.add(f"{dim}-d, {sn:,} rows", xs, ys)
        drop(f"t_{stable}")
        pg_exec([f'DROP PUBLICATION "{pub}"', f'DROP PUBLICATION "{spub}"',
                 f'DROP TABLE "{table}"', f'DROP TABLE "{stable}"'])
    return [snap, stream]


# ---- 6. end-to-end latency ------------------------------------------------
def bench_latency(sz, work):
    rate, secs = sz["latency"]
    lines = ["### End-to-end latency: send to applied (ms), "
             f"{rate:,} rec/s for {secs} s, consumer defaults", "",
             "| database | how applied is seen | records | achieved rec/s | "
             "min | p50 | p99 | max |", "|---|---|---|---|---|---|---|---|"]
    lines += [latency_run(sz, work, t) for t in ("pgvector", "chroma")
              if t in sz["targets"]]
    return ["\n".join(lines) + "\n"]


class ChromaWatcher:
    """Polls Chroma every 20 ms for one record in ten of those sent and not
    yet seen (the oldest 100 such); a record's latency is the time the
    answer that had it arrived minus its send time, so it overstates by up
    to one poll. Light enough not to slow Chroma down itself."""

    def __init__(self, name):
        import threading
        self.base = (f"http://{CHROMA[0]}:{CHROMA[1]}/api/v2/tenants/"
                     f"default_tenant/databases/default_database/collections")
        self.name, self.cid = name, None
        self.pending, self.lat = {}, []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def sent(self, rid, t):
        with self.lock:
            self.pending[rid] = t

    def post(self, path, body):
        req = urllib.request.Request(
            f"{self.base}/{self.cid}/{path}", json.dumps(body).encode(),
            {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    def loop(self):
        while not self.stop.is_set():
            if self.cid is None:
                try:
                    with urllib.request.urlopen(f"{self.base}/{self.name}",
                                                timeout=30) as r:
                        self.cid = json.load(r)["id"]
                except OSError:
                    time.sleep(0.05)
                continue
            with self.lock:
                ids = list(self.pending)[:100]
            if not ids:
                time.sleep(0.02)
                continue
            got = self.post("get", {"ids": ids, "include": []})["ids"]
            now = time.time() * 1000
            with self.lock:
                for rid in got:
                    self.lat.append(now - self.pending.pop(rid))
            time.sleep(0.02)

    def wait_all(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if not self.pending:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("bench: latency: records missing in Chroma")
            time.sleep(0.1)
        self.stop.set()
        self.thread.join()
        return sorted(self.lat)


def latency_run(sz, work, target):
    """Produce at a fixed rate through vcdc-producer's stdin into a topic a
    running vcdc-consumer applies. pgvector: each record carries its send
    time (metadata t_ms) and the table stamps its insert time (applied_at
    DEFAULT clock_timestamp(), a column the sink leaves alone). Chroma: a
    watcher polls for the ids sent (ChromaWatcher). Same machine, same
    clock."""
    import psycopg2
    rate, secs = sz["latency"]
    total = rate * secs
    topic = create_topic(fresh("bench_lat"))
    table = fresh("bench_lat")
    watcher = None
    if target == "pgvector":
        with psycopg2.connect(PG_CONNINFO) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE TABLE {table} (id text PRIMARY KEY, "
                        f"embedding vector(128) NOT NULL, metadata jsonb, "
                        f"document text, applied_at timestamptz NOT NULL "
                        f"DEFAULT clock_timestamp())")
    else:
        watcher = ChromaWatcher(table)
    cons_log = open(os.path.join(work, table + ".log"), "w+")
    cons = subprocess.Popen(
        [os.path.join(BIN, "vcdc-consumer"), "-b", BROKERS, "-t", topic,
         "-G", fresh("bench-g"), "--collection", "docs",
         "--sink", sink_url(target, table),
         "--from-beginning"], stdout=subprocess.DEVNULL, stderr=cons_log)
    prod = subprocess.Popen(
        [os.path.join(BIN, "vcdc-producer"), "-b", BROKERS, "-t", topic,
         "-X", "linger.ms=5"], stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    try:
        with open(gen(work, 1000, 128)) as f:
            pool = [json.loads(line) for line in f]

        def send(rid):
            rec = dict(pool[hash(rid) % len(pool)])
            rec["id"] = rid if isinstance(rid, str) else f"lat-{rid}"
            now = time.time() * 1000
            rec["metadata"] = {"t_ms": now}
            if watcher and isinstance(rid, int) and rid % 10 == 0:
                watcher.sent(rec["id"], now)
            prod.stdin.write(json.dumps(rec) + "\n")
            prod.stdin.flush()

        # Warm up: wait until the consumer applies a first record.
        send("warmup")
        deadline = time.monotonic() + 60
        while (count(target, table) if target == "pgvector" or
               watcher.cid else 0) < 1:
            if time.monotonic() > deadline:
                raise SystemExit("bench: latency: the consumer applies nothing")
            time.sleep(0.2)
        t0 = time.monotonic()
        for i in range(total):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            send(i)
        sent_secs = time.monotonic() - t0
        prod.stdin.close()
        prod.wait(60)
        if watcher:
            lat = watcher.wait_all(120)
        else:
            deadline = time.monotonic() + 120
            while pg_count(table) < total + 1:
                if time.monotonic() > deadline:
                    raise SystemExit("bench: latency: records missing")
                time.sleep(0.2)
    finally:
        for p in (prod, cons):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    cons_log.seek(0)
                    sys.stderr.write(cons_log.read()[-3000:])
                    raise SystemExit(f"bench: {p.args[0]} did not stop "
                                     "within 30 s of SIGTERM")
        cons_log.close()
    if not watcher:
        with psycopg2.connect(PG_CONNINFO) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT extract(epoch FROM applied_at) * 1000 - "
                        f"(metadata->>'t_ms')::float8 FROM {table} "
                        f"WHERE id LIKE 'lat-%'")
            lat = sorted(r[0] for r in cur.fetchall())

    def pct(q):
        return lat[min(len(lat) - 1, int(q * len(lat)))]

    how = ("insert time (clock_timestamp())" if target == "pgvector"
           else "one in ten polled by id every 20 ms")
    def ms(x):  # whole ms; a sub-ms negative (clock skew) shows as 0
        return f"{round(x):,}"

    return (f"| {target} | {how} | {len(lat):,} | {total / sent_secs:,.0f} | "
            f"{ms(lat[0])} | {ms(pct(0.5))} | {ms(pct(0.99))} | "
            f"{ms(lat[-1])} |")


def warm_up_groups():
    """A broker's first consumer group waits for __consumer_offsets to be
    created (a second or more on a fresh stack), which a live cluster did
    long ago: one group commit, untimed, before any consumer is timed."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    topic = create_topic(fresh("bench_warmup"), 1)
    c = Consumer({"bootstrap.servers": BROKERS, "group.id": fresh("bench-w"),
                  "enable.auto.commit": False, "log_level": 4})
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                c.commit(offsets=[TopicPartition(topic, 0, 0)],
                         asynchronous=False)
                return
            except KafkaException:
                if time.monotonic() > deadline:
                    raise SystemExit("bench: no group coordinator in 60 s")
                time.sleep(0.2)
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--only",
                    default="codec,producer,jsonl,consumer,pgload,memory,"
                    "latency,capture,pgapply,index,verify,exact,snapshot,"
                    "gateway")
    ap.add_argument("--targets", default="pgvector,chroma",
                    help="databases of the consumer and latency benchmarks")
    args = ap.parse_args()
    sz = dict(SIZES["smoke" if args.smoke else "full"])
    targets = args.targets.split(",")
    sz["consumer"] = {t: n for t, n in sz["consumer"].items()
                      if t in targets}
    sz["targets"] = targets
    sz["smoke"] = args.smoke
    only = args.only.split(",")
    work = tempfile.mkdtemp(prefix="vcdc-bench.")
    t0 = time.monotonic()
    try:
        print(f"# vcdc benchmarks ({'smoke' if args.smoke else 'full'}, "
              f"{sz['rounds']} round(s), {sz['close_rounds']} against a "
              f"limit; medians, min-max spread)\n",
              flush=True)
        if {"consumer", "pgload", "memory", "latency", "scale",
                "snapshot"} & set(only):
            warm_up_groups()
        steps = [("codec", lambda: bench_codec(sz)),
                 ("producer", lambda: bench_producer(sz, work)),
                 ("jsonl", lambda: bench_jsonl(sz, work)),
                 ("consumer", lambda: bench_consumer(sz, work)),
                 ("pgload", lambda: bench_pg.bench_pgload(
                     sz, sys.modules[__name__], work)),
                 ("memory", lambda: bench_memory(sz, work)),
                 ("latency", lambda: bench_latency(sz, work)),
                 ("capture", lambda: bench_capture(sz, work)),
                 ("pgapply", lambda: bench_pgapply.bench_pgapply(
                     sz, sys.modules[__name__])),
                 ("index", lambda: bench_index.bench_index(
                     sz, work, sys.modules[__name__])),
                 ("verify", lambda: bench_verify.bench_verify(
                     sz, work, sys.modules[__name__])),
                 ("exact", lambda: bench_exact(sz)),
                 ("snapshot", lambda: bench_snapshot.bench_snapshot(
                     sz, work, sys.modules[__name__])),
                 ("gateway", lambda: bench_gateway.bench_gateway(
                     sz, work, sys.modules[__name__])),
                 ("scale", lambda: bench_scale.bench_scale(
                     sz, sys.modules[__name__]))]
        for name, fn in steps:
            if name not in only:
                continue
            log(f"{name} ...")
            t1 = time.monotonic()
            for t in fn():
                print(t if isinstance(t, str) else t.render(), flush=True)
            log(f"{name}: {time.monotonic() - t1:.0f}s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"total: {time.monotonic() - t0:.0f}s")


if __name__ == "__main__":
    main()

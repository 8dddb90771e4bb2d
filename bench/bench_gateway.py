"""The gateway (issue 19), for bench/bench.py (--only gateway).

Three parts, all through bench/http_load (C, one libcurl handle or libpq
connection per client thread), so that the client does not bound what it
measures:

- Queries: the same query bodies (n_results 10, metadatas, documents and
  distances) sent through vcdc-gateway and straight to the database, with
  1, 8 and 32 concurrent clients, rounds alternated. Against Chroma the
  direct side posts the same bodies to Chroma's own query route; against
  pgvector it runs, over libpq, the very statement the gateway runs
  (gateway/gwread.c's pg_select()) with the same vectors. Two gateways
  share one topic: A with --old chroma (reads go to Chroma), B with --old
  pgvector (reads go to pgvector), so no route switch is needed.
- Writes: upserts of batches of 100 and 1,000 records (128-d and 768-d,
  base64 embeddings as the official clients send them) through the
  gateway with --ack log, against vcdc-producer on the same records as
  JSON Lines, each timed from start to end.
- Load: a stated peak of queries and writes, then three times it, open
  loop (latency from the scheduled send), then steps past it on a gateway
  with a small --max-inflight until it answers 503; every write it
  acknowledged must be in the topic (key collection/id).

It starts only gateways (the stack is the caller's) and drops what it
made. VCDC_BENCH_GATEWAY_PARTS (default queries,writes,load) runs only
the parts named. Figures: bench/README.md, "Gateway"; results in
RESULTS.md.
"""
import base64
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
import urllib.request

SIZES = {
    # threads: (gateway --threads, client counts) measured with it
    "full": dict(records=20000, dim=128, queries=1000,
                 threads=((32, (1, 8, 32)), (4, (8, 32))), secs=8, warm=1, rounds=3,
                 writes={128: 20000, 768: 5000}, batches=(100, 1000),
                 write_clients=(1, 4), seed768=1000,
                 load_secs=20, steps=(1, 3, 6, 12, 24)),
    "smoke": dict(records=300, dim=128, queries=20, threads=((4, (2,)),),
                  secs=1, warm=0, rounds=1,
                  writes={128: 300}, batches=(100,), write_clients=(1,),
                  seed768=0, load_secs=1, steps=(1, 3)),
}
N_RESULTS = 10
API = "/api/v2/tenants/default_tenant/databases/default_database/collections"
# The stated peak (bench/README.md says why): queries/s and write
# requests/s of WRITE_BATCH records each.
PEAK_QPS = 50
PEAK_WRITES = 5
WRITE_BATCH = 100
LOAD_INFLIGHT = 32  # --max-inflight of the load test's gateway
LOAD_THREADS = 64  # its --threads: more than the bound, so that it acts
LOAD_CLIENTS = 64  # connections of each open-loop load


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, body=None, method=None):
    req = urllib.request.Request(
        url, json.dumps(body).encode() if body is not None else None,
        {"Content-Type": "application/json"}, method=method)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


class Gateway:
    """vcdc-gateway on a free port, its log in the work dir."""

    def __init__(self, b, work, tag, topic, old, new, extra=()):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.logpath = os.path.join(work, f"gateway-{tag}.log")
        self.log = open(self.logpath, "wb")
        self.proc = subprocess.Popen(
            [os.path.join(b.BIN, "vcdc-gateway"), "--listen",
             f"127.0.0.1:{self.port}", "-b", b.BROKERS, "-t", topic,
             "--old", old, "--new", new, "--ack", "log"] + [str(a) for a in extra],
            stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 30
        while True:
            try:
                http(self.base + "/api/v2/heartbeat")
                return
            except OSError:
                if (self.proc.poll() is not None or
                        time.monotonic() > deadline):
                    self.stop()
                    raise SystemExit(f"bench: gateway {tag} did not start "
                                     f"(log: {self.logpath})")
                time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def http_load(b, args, ok_statuses=("200",)):
    """Runs http_load; returns its JSON. Fails on any other status unless
    ok_statuses is None."""
    _, out = b.run([os.path.join(b.BB, "http_load")] + [str(a) for a in args])
    res = json.loads(out)
    bad = {k: v for k, v in res["status"].items() if k not in
           (ok_statuses or res["status"])}
    if bad or not res["requests"]:
        raise SystemExit(f"bench: http_load {args[-2]}: statuses {bad}, "
                         f"{res['requests']} requests")
    return res


def vectors(b, work, n, dim, seed):
    """n vcdc-gen records (ids, vectors, metadata, documents)."""
    path = os.path.join(work, f"gw-{n}-{dim}-{seed}.jsonl")
    with open(path, "wb") as f:
        subprocess.run([os.path.join(b.BIN, "vcdc-gen"), "-n", str(n), "-d",
                        str(dim), "-s", str(seed)], stdout=f, check=True)
    with open(path) as f:
        recs = [json.loads(line) for line in f]
    return path, recs


def b64(vec):
    return base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()


def pg_sql(name):
    """The statement gwread.c's pg_select() builds for a query without
    filter or ids on a cosine collection, without embeddings in include,
    word for word; $1 the vector in pgvector's binary input, as the gateway
    sends it. (ORDER BY 5 uses the HNSW index: EXPLAIN shows the same index
    scan as ORDER BY embedding <=> $1.)"""
    return (f'SELECT id, NULL::text, metadata::text, document, '
            f'(embedding <=> $1::vector)::float8 FROM "{name}" WHERE (TRUE) '
            f'ORDER BY 5 LIMIT {N_RESULTS}')


def gw_create(base, name):
    return http(base + API, {"name": name, "get_or_create": True,
                             "configuration": {"hnsw": {"space": "cosine"}}})


def fill(b, work, name, jl, n, pg=True):
    b.run([os.path.join(b.BB, "direct_loader"), "chroma", b.CHROMA[0],
           b.CHROMA[1], name, str(b.BATCH), jl])
    if pg:
        b.run([os.path.join(b.BB, "direct_loader"), "pgvector",
               b.PG_CONNINFO, name, str(b.PG_CHUNK), jl])
    for target in ("chroma",) + (("pgvector",) if pg else ()):
        got = b.count(target, name)
        if got != n:
            raise SystemExit(f"bench: {target} {name} holds {got} of {n}")


def chroma_id(b, name):
    return http(f"http://{b.CHROMA[0]}:{b.CHROMA[1]}{API}/{name}")["id"]


def med(xs):
    return statistics.median(xs)


def query_files(b, ss, work):
    """The queries (vcdc-gen seed 7), as query bodies for the gateway and
    Chroma and as vectors for libpq: (records, bodies path, vectors path)."""
    _, qs = vectors(b, work, ss["queries"], ss["dim"], 7)
    bodies = os.path.join(work, "gw-queries.jsonl")
    params = os.path.join(work, "gw-queries.pg")
    with open(bodies, "w") as f, open(params, "w") as g:
        for r in qs:
            f.write(json.dumps({"query_embeddings": [r["vector"]],
                                "n_results": N_RESULTS,
                                "include": ["metadatas", "documents",
                                            "distances"]}) + "\n")
            g.write("[" + ",".join(map(repr, r["vector"])) + "]\n")
    return qs, bodies, params


def bench_queries(b, ss, work, gws, name):
    """gws: (--threads, gateway A on Chroma, gateway B on pgvector, client
    counts) for each configuration measured."""
    qs, bodies, params = query_files(b, ss, work)
    gid = http(f"{gws[0][1].base}{API}/{name}")["id"]
    cid = chroma_id(b, name)
    direct_url = f"http://{b.CHROMA[0]}:{b.CHROMA[1]}{API}/{cid}/query"
    sql = pg_sql(name)
    timing = ["-d", ss["secs"], "-w", ss["warm"]]
    # The gateway on Chroma must answer Chroma's ids.
    one = {"query_embeddings": [qs[0]["vector"]], "n_results": N_RESULTS}
    mine = http(f"{gws[0][1].base}{API}/{gid}/query", one)["ids"][0]
    theirs = http(direct_url, one)["ids"][0]
    pg = http(f"{gws[0][2].base}{API}/{gid}/query", one)["ids"][0]
    if mine != theirs:
        raise SystemExit(f"bench: gateway answered {mine}, Chroma {theirs}")
    b.log(f"gateway: pgvector's HNSW shares {len(set(pg) & set(theirs))}/"
          f"{N_RESULTS} of Chroma's first answer")
    rows = []
    for threads, gwa, gwb, clients in gws:
        gw_url = {"chroma": f"{gwa.base}{API}/{gid}/query",
                  "pgvector": f"{gwb.base}{API}/{gid}/query"}
        for target in ("chroma", "pgvector"):
            for c in clients:
                def gw(_r, c=c, target=target, gw_url=gw_url):
                    return http_load(b, ["-c", c] + timing +
                                     [gw_url[target], bodies])

                def direct(_r, c=c, target=target):
                    if target == "chroma":
                        return http_load(b, ["-c", c] + timing +
                                         [direct_url, bodies])
                    return http_load(b, ["-c", c] + timing +
                                     ["--pg", b.PG_CONNINFO,
                                      "--pg-binary-vector", sql, params])
                b.log(f"gateway: queries on {target}, {c} client(s), "
                      f"--threads {threads}")
                xs, ys = b.alternate(ss["rounds"], gw, direct,
                                     warm=lambda _r, gw=gw, direct=direct:
                                     (gw(_r), direct(_r)))
                rows.append((target, threads, c, xs, ys))
    lines = ["### Gateway queries: through vcdc-gateway vs. direct "
             f"({ss['records']:,} {ss['dim']}-d records, n_results "
             f"{N_RESULTS}, {ss['secs']} s per round, {ss['rounds']} "
             "alternated rounds)", "",
             "| database | gateway --threads | clients | QPS direct | spread "
             "| QPS gateway | spread | gateway/direct | p99 direct (ms) | "
             "p99 gateway (ms) | added p99 (ms) | p50 direct (ms) | "
             "p50 gateway (ms) |", "|" + "---|" * 13]
    for target, threads, c, xs, ys in sorted(rows, key=lambda r: (
            r[0], -r[1], r[2])):
        gq, dq = med([x["qps"] for x in xs]), med([y["qps"] for y in ys])
        g99, d99 = med([x["p99_ms"] for x in xs]), med([y["p99_ms"]
                                                        for y in ys])
        g50, d50 = med([x["p50_ms"] for x in xs]), med([y["p50_ms"]
                                                        for y in ys])
        lines.append(
            f"| {target} | {threads} | {c} | {dq:,.0f} | "
            f"{b.spread([y['qps'] for y in ys])} | {gq:,.0f} | "
            f"{b.spread([x['qps'] for x in xs])} | {gq / dq:.2f} | "
            f"{d99:.2f} | {g99:.2f} | {g99 - d99:+.2f} | {d50:.2f} | "
            f"{g50:.2f} |")
    return "\n".join(lines) + "\n"


def write_files(work, coll, recs, batch):
    """The upsert bodies (batch records each) and the same records as JSON
    Lines for vcdc-producer."""
    bodies = os.path.join(work, f"gw-up-{coll}-{batch}.jsonl")
    jl = os.path.join(work, f"gw-up-{coll}.jsonl")
    with open(bodies, "w") as f:
        for i in range(0, len(recs), batch):
            part = recs[i:i + batch]
            f.write(json.dumps({
                "ids": [r["id"] for r in part],
                "embeddings": [b64(r["vector"]) for r in part],
                "metadatas": [r["metadata"] for r in part],
                "documents": [r["document"] for r in part]}) + "\n")
    with open(jl, "w") as f:
        for r in recs:
            f.write(json.dumps(dict(r, collection=coll)) + "\n")
    return bodies, jl


def bench_writes(b, ss, work, gwa, name):
    rows = []
    for dim, n in ss["writes"].items():
        coll = name if dim == ss["dim"] else f"{name}_{dim}"
        if coll != name:  # a 768-d collection with some records in Chroma
            gw_create(gwa.base, coll)
            if ss["seed768"]:
                jl, _ = vectors(b, work, ss["seed768"], dim, 1)
                fill(b, work, coll, jl, ss["seed768"], pg=False)
        gid = http(f"{gwa.base}{API}/{coll}")["id"]
        _, recs = vectors(b, work, n, dim, 3)
        for r in recs:  # new ids: none of them in the collection
            r["id"] = "w-" + r["id"]
        for batch in ss["batches"]:
            bodies, jl = write_files(work, coll, recs, batch)
            nb = (n + batch - 1) // batch
            for c in ss["write_clients"]:
                def gw(_r):
                    res = http_load(b, ["-c", c, "-n", nb,
                                        f"{gwa.base}{API}/{gid}/upsert",
                                        bodies])
                    return n / res["seconds"]

                def producer(_r):
                    topic = b.create_topic(b.fresh("bench_gwp"))
                    dt, _ = b.run([os.path.join(b.BIN, "vcdc-producer"),
                                   "-b", b.BROKERS, "-t", topic, "-q", jl])
                    got = b.topic_messages(topic)
                    b.drop_topic(topic)
                    if got != n:
                        raise SystemExit(f"bench: producer wrote {got} of {n}")
                    return n / dt
                b.log(f"gateway: writes {dim}-d, batches of {batch}, "
                      f"{c} client(s)")
                xs, ys = b.alternate(ss["rounds"], gw, producer)
                rows.append((f"{dim}-d, batches of {batch:,}, {c} "
                             f"client(s), {n:,} rec", xs, ys))
    t = b.Table("Gateway writes (upsert, --ack log) vs. vcdc-producer on the "
                "same records: records/s", "rec/s", "gateway", "vcdc-producer",
                "gateway/producer")
    for case, xs, ys in rows:
        t.add(case, xs, ys)
    return t


def topic_keys(b, topic):
    """Every key in topic (its partitions read to their end)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": b.BROKERS, "group.id":
                  b.fresh("bench-keys"), "enable.auto.commit": False,
                  "log_level": 4})
    keys = set()
    try:
        parts = c.list_topics(topic, timeout=30).topics[topic].partitions
        ends = {}
        for p in parts:
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p),
                                             timeout=30)
            if hi > lo:
                ends[p] = hi
        c.assign([TopicPartition(topic, p, 0) for p in ends])
        deadline = time.monotonic() + 120
        while ends and time.monotonic() < deadline:
            m = c.poll(1.0)
            if m is None or m.error():
                continue
            if m.key():
                keys.add(m.key().decode("utf-8", "replace"))
            if m.offset() + 1 >= ends.get(m.partition(), 0):
                ends.pop(m.partition(), None)
    finally:
        c.close()
    return keys


def load_id(step, body, j):
    return f"load{step}-{body}-{j}"


def load_bodies(work, pool, step, n):
    """n upsert bodies of WRITE_BATCH records with ids of their own (the
    vectors, metadata and documents cycled from pool: the ids are what
    the check after the run looks for)."""
    path = os.path.join(work, f"gw-load-{step}.jsonl")
    emb = [b64(r["vector"]) for r in pool]
    with open(path, "w") as f:
        for i in range(n):
            k = [(i * WRITE_BATCH + j) % len(pool)
                 for j in range(WRITE_BATCH)]
            f.write(json.dumps({
                "ids": [load_id(step, i, j) for j in range(WRITE_BATCH)],
                "embeddings": [emb[x] for x in k],
                "metadatas": [pool[x]["metadata"] for x in k],
                "documents": [pool[x]["document"] for x in k]}) + "\n")
    return path


def bench_load(b, ss, work, topic, name):
    """Open loop: PEAK_QPS queries/s and PEAK_WRITES upserts/s of
    WRITE_BATCH records, times each step, on a gateway (reads on Chroma)
    with --max-inflight LOAD_INFLIGHT and --threads LOAD_THREADS."""
    old = f"chroma://{b.CHROMA[0]}:{b.CHROMA[1]}"
    gw = Gateway(b, work, "load", topic, old, b.PG_URL,
                 ["--max-inflight", LOAD_INFLIGHT, "--threads",
                  LOAD_THREADS])
    # OLD's consumer applies the writes, as in a migration: without it the
    # gateway's pending records (its writes OLD has not applied) fill
    # their bound and each later write waits to be applied (docs/DESIGN.md,
    # "Pending records"). A fresh group starts at the log's end: only the
    # load's own writes.
    clog = open(os.path.join(work, "consumer-load.log"), "wb")
    cons = subprocess.Popen(
        [os.path.join(b.BIN, "vcdc-consumer"), "-b", b.BROKERS, "-t", topic,
         "-G", b.fresh("bench_gw_old"), "--sink", f"{old}/{name}",
         "--collection", name, "--metric", "cosine", "-q"],
        stdout=subprocess.DEVNULL, stderr=clog)
    try:
        gid = http(f"{gw.base}{API}/{name}")["id"]
        _, qbodies, _ = query_files(b, ss, work)
        lines = ["### Gateway under load: open loop, reads on Chroma, "
                 f"--ack log, --max-inflight {LOAD_INFLIGHT}, --threads "
                 f"{LOAD_THREADS}, {ss['load_secs']} s per step", "",
                 "| load (x peak) | queries/s offered | achieved | p50 (ms) | "
                 "p99 (ms) | 200 | 503 (Retry-After) | other | writes/s "
                 "offered (records) | achieved | p50 (ms) | p99 (ms) | 200 | "
                 "503 (Retry-After) | other |", "|" + "---|" * 15]
        acked, sent = set(), 0
        _, pool = vectors(b, work, WRITE_BATCH * 10, ss["dim"], 100)
        for step in ss["steps"]:
            qrate, wrate = PEAK_QPS * step, PEAK_WRITES * step
            nw = max(1, int(wrate * ss["load_secs"]))
            wbodies = load_bodies(work, pool, step, nw)
            okf = os.path.join(work, f"gw-ok-{step}.txt")
            base = [os.path.join(b.BB, "http_load"), "-c", str(LOAD_CLIENTS)]
            b.log(f"gateway: load x{step}: {qrate} queries/s, {wrate} "
                  f"writes/s")
            os.sync()
            q = subprocess.Popen(
                base + ["-r", str(qrate), "-d", str(ss["load_secs"]),
                        f"{gw.base}{API}/{gid}/query", qbodies],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            w = subprocess.Popen(
                base + ["-r", str(wrate), "-n", str(nw), "--ok", okf,
                        f"{gw.base}{API}/{gid}/upsert", wbodies],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            qo, qe = q.communicate()
            wo, we = w.communicate()
            if q.returncode or w.returncode:
                sys.stderr.write(qe[-2000:] + we[-2000:])
                raise SystemExit("bench: gateway load: http_load failed")
            qr, wr = json.loads(qo), json.loads(wo)
            with open(okf) as f:
                for line in f:
                    i = int(line)
                    acked.update(f"{name}/{load_id(step, i, j)}"
                                 for j in range(WRITE_BATCH))
            sent += nw * WRITE_BATCH

            def cells(r, per=1):
                st = r["status"]
                other = ", ".join(f"{v:,}x{k if k != '0' else 'failed'}"
                                  for k, v in st.items()
                                  if k not in ("200", "503")) or "0"
                return (f"{r['qps'] * per:,.0f} | {r['p50_ms']:.1f} | "
                        f"{r['p99_ms']:.1f} | {st.get('200', 0):,} | "
                        f"{st.get('503', 0):,} ({r['retry_after_503']:,}) | "
                        f"{other}")
            lines.append(f"| {step} | {qrate:,} | {cells(qr)} | "
                         f"{wrate * WRITE_BATCH:,} | "
                         f"{cells(wr, WRITE_BATCH)} |")
        b.log("gateway: load: reading the topic's keys")
        keys = topic_keys(b, topic)
        missing = acked - keys
        lines += ["", f"Writes sent: {sent:,} records; acknowledged (200): "
                  f"{len(acked):,}; of those in the topic: "
                  f"{len(acked) - len(missing):,}; missing: {len(missing):,}."]
        if missing:
            raise SystemExit(f"bench: gateway load: {len(missing)} "
                             "acknowledged records are not in the topic, "
                             f"e.g. {sorted(missing)[:3]}")
        return "\n".join(lines) + "\n"
    finally:
        gw.stop()
        cons.send_signal(signal.SIGTERM)
        try:
            cons.wait(60)
        except subprocess.TimeoutExpired:
            cons.kill()
            cons.wait()
        clog.close()


def bench_gateway(sz, work, b):
    ss = SIZES["smoke" if sz["smoke"] else "full"]
    parts = os.environ.get("VCDC_BENCH_GATEWAY_PARTS",
                           "queries,writes,load").split(",")
    name = b.fresh("bench_gw")
    topic = b.create_topic(b.fresh("bench_gw"))
    old = f"chroma://{b.CHROMA[0]}:{b.CHROMA[1]}"
    gws, out = [], []
    try:
        # One gateway thread per client (a handler holds its thread while
        # the database answers: docs/DESIGN.md, "Still open"), then the
        # default of 4 at the larger client counts.
        for threads, clients in ss["threads"]:
            extra = ["--threads", threads]
            gwa = Gateway(b, work, f"chroma-{threads}", topic, old,
                          b.PG_URL, extra)
            gws.append([threads, gwa, None, clients])
            gws[-1][2] = Gateway(b, work, f"pgvector-{threads}", topic,
                                 b.PG_URL, old, extra)
        gw_create(gws[0][1].base, name)
        b.log(f"gateway: loading {ss['records']} records into Chroma and "
              "pgvector")
        jl, _ = vectors(b, work, ss["records"], ss["dim"], 1)
        fill(b, work, name, jl, ss["records"])
        # NEW as vcdc builds it (--index hnsw: m 16, ef_construction 64).
        b.pg_exec([f'CREATE INDEX ON "{name}" USING hnsw (embedding '
                   f'vector_cosine_ops)'])
        if "queries" in parts:
            out.append(bench_queries(b, ss, work, gws, name))
            sys.stderr.write(out[-1])  # each part as soon as it is measured
        if "writes" in parts:
            out.append(bench_writes(b, ss, work, gws[0][1], name))
            sys.stderr.write(out[-1].render())
        for g in gws:
            g[1].stop()
            g[2].stop()
        if "load" in parts:
            out.append(bench_load(b, ss, work, topic, name))
    finally:
        for g in gws:
            for gw in g[1:3]:
                if gw:
                    gw.stop()
        try:
            b.drop_topic(topic)
            b.pg_exec([f'DROP TABLE IF EXISTS "{name}"'])
            for coll in (name, f"{name}_768"):
                b.bench_verify.drop(b, coll)
        except Exception as e:  # a leftover must not hide the figures
            b.log(f"gateway: cleaning up: {e}")
    return out

"""demo_app.py - the demo's application: a Chroma application on the
official Python client (PyPI chromadb-client 1.0.20, in .deps/venv),
pointed at vcdc-gateway exactly as it would be at Chroma. No vcdc code,
no Kafka: the gateway turns its writes into change records and answers
its reads from the side the route names.

usage: demo_app.py HOST PORT COLLECTION --ids N [--dim D] [--rate R]
                   [--space cosine|l2|ip] [--seed S] [--state FILE]
       demo_app.py HOST PORT COLLECTION --reads-only [--rate R]
                   [--ids N] [--dim D] [--log FILE]

Writer (the default): R changes/s to the ids OLD already holds (doc-0 ..
doc-N-1): whole-record upserts (65%), metadata-only updates (30%) and
deletes (5%), a few ids per request, and every fifth request reads its ids
back. SIGUSR1 pauses it after the request in flight (FILE then says
"paused"), SIGUSR2 resumes it ("running").
Reader (--reads-only): R reads/s, a get of some ids and a query in turn;
with --log, one line per read: "START_MS ok|error get|query MS_TAKEN".
Both stop on SIGTERM or SIGINT and print their counts on stdout, one
"name value" per line; failures are counted, the first few on stderr.
"""
import argparse
import os
import random
import signal
import sys
import time

import chromadb
from chromadb.config import Settings

UPSERT, UPDATE = 0.65, 0.30  # the rest deletes


class App:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.run = True
        self.paused = False
        self.counts = dict.fromkeys((
            "write_requests", "writes_acknowledged", "write_failures",
            "upserted", "updated", "deleted", "read_requests",
            "read_failures"), 0)
        self.failures_shown = 0
        client = chromadb.HttpClient(
            host=a.host, port=a.port,
            settings=Settings(anonymized_telemetry=False))
        # An existing Chroma collection is made known to the gateway by
        # the application's usual get_or_create, with its configuration.
        self.col = client.get_or_create_collection(
            a.collection, configuration={"hnsw": {"space": a.space}},
            embedding_function=None)
        # Centres to draw vectors around, so queries have neighbours.
        self.centres = [[self.rng.gauss(0, 1) for _ in range(a.dim)]
                        for _ in range(16)]

    def vector(self):
        c = self.rng.choice(self.centres)
        return [x + self.rng.gauss(0, 0.1) for x in c]

    def ids(self, n):
        return ["doc-%d" % i for i in self.rng.sample(range(self.a.ids),
                                                      min(n, self.a.ids))]

    def failed(self, what, e):
        self.counts[what] += 1
        if self.failures_shown < 5:
            self.failures_shown += 1
            print("demo_app: %s: %s" % (what, e), file=sys.stderr)

    def state(self, text):
        if not self.a.state:
            return
        tmp = self.a.state + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, self.a.state)

    def write(self, n, version):
        ids = self.ids(n)
        p = self.rng.random()
        try:
            if p < UPSERT:
                self.col.upsert(
                    ids=ids, embeddings=[self.vector() for _ in ids],
                    metadatas=[{"cluster": -1, "version": version}
                               for _ in ids],
                    documents=["rewritten by the application"] * len(ids))
                kind = "upserted"
            elif p < UPSERT + UPDATE:
                self.col.update(ids=ids, metadatas=[{"version": version}
                                                    for _ in ids])
                kind = "updated"
            else:
                self.col.delete(ids=ids)
                kind = "deleted"
        except Exception as e:  # noqa: BLE001 - the application counts it
            self.failed("write_failures", e)
            return None
        finally:
            self.counts["write_requests"] += 1
        self.counts["writes_acknowledged"] += len(ids)
        self.counts[kind] += len(ids)
        return ids

    def read(self, ids=None):
        """A get (of ids, or of 5 drawn) or, every other time, a query.
        Returns (what, succeeded)."""
        self.counts["read_requests"] += 1
        what = "get"
        try:
            if ids is not None or self.counts["read_requests"] % 2:
                self.col.get(ids=ids or self.ids(5),
                             include=["metadatas", "documents"])
            else:
                what = "query"
                self.col.query(query_embeddings=[self.vector()],
                               n_results=5, include=["distances"])
            return what, True
        except Exception as e:  # noqa: BLE001 - the application counts it
            self.failed("read_failures", e)
            return what, False

    def writer(self):
        # A few ids per request, about 20 requests a second.
        n = max(1, round(self.a.rate / 20))
        interval = n / self.a.rate
        version, due = 0, time.monotonic()
        self.state("running")
        while self.run:
            if self.paused:
                self.state("paused")
                while self.paused and self.run:
                    time.sleep(0.05)
                self.state("running")
                due = time.monotonic()
                continue
            version += 1
            ids = self.write(n, version)
            if ids and version % 5 == 0:
                self.read(ids)
            due = pace(due, interval)

    def reader(self, log):
        interval, due = 1.0 / self.a.rate, time.monotonic()
        while self.run:
            start, t0 = time.time(), time.monotonic()
            what, ok = self.read()
            if log:
                log.write("%d %s %s %.1f\n" % (
                    start * 1000, "ok" if ok else "error", what,
                    (time.monotonic() - t0) * 1000))
                log.flush()
            due = pace(due, interval)


def pace(due, interval):
    """Sleeps until due + interval (at once when late) and returns it."""
    due += interval
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)
    else:
        due = now  # late: no burst to catch up
    return due


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("collection")
    ap.add_argument("--ids", type=int, required=True)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--space", default="cosine",
                    choices=("cosine", "l2", "ip"))
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--state")
    ap.add_argument("--reads-only", action="store_true")
    ap.add_argument("--log")
    a = ap.parse_args()
    if a.rate <= 0 or a.ids <= 0 or a.dim <= 0:
        ap.error("--rate, --ids and --dim must be positive")
    app = App(a)

    def stop(sig, frame):
        app.run = False

    def pause(sig, frame):
        app.paused = sig == signal.SIGUSR1
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, pause)
    signal.signal(signal.SIGUSR2, pause)
    if a.reads_only:
        log = open(a.log, "w") if a.log else None
        app.reader(log)
        if log:
            log.close()
    else:
        app.writer()
    for k, v in app.counts.items():
        if a.reads_only and not k.startswith("read"):
            continue
        print(k, v)


if __name__ == "__main__":
    main()

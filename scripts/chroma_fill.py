"""chroma_fill.py - the application's own writes for the demo: JSON Lines
records (as vcdc-gen writes them) added to a Chroma collection straight
through Chroma's HTTP API v2, the way an application filled OLD before
any migration began. Not vcdc: no Kafka, no vcdc code.

usage: chroma_fill.py HOST PORT COLLECTION [--space cosine|l2|ip]
                      [--batch N] < records.jsonl
Creates the collection (refuses one that exists), adds every record in
batches, and prints "records seconds" on stdout.
"""
import argparse
import json
import sys
import time
import urllib.error
import urllib.request


def call(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        sys.exit("chroma_fill: %s %s: HTTP %d %s"
                 % (method, path, e.code, e.read()[:300].decode("utf-8",
                                                               "replace")))
    except OSError as e:
        sys.exit("chroma_fill: %s %s: %s" % (method, base + path, e))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("collection")
    ap.add_argument("--space", default="cosine",
                    choices=("cosine", "l2", "ip"))
    ap.add_argument("--batch", type=int, default=1000)
    a = ap.parse_args()
    base = ("http://%s:%d/api/v2/tenants/default_tenant/databases/"
            "default_database" % (a.host, a.port))
    t0 = time.monotonic()
    cid = call(base, "POST", "/collections", {
        "name": a.collection,
        "configuration": {"hnsw": {"space": a.space}}})["id"]
    n = 0
    batch = []

    def flush():
        call(base, "POST", "/collections/%s/add" % cid, {
            "ids": [r["id"] for r in batch],
            "embeddings": [r["vector"] for r in batch],
            "metadatas": [r.get("metadata") for r in batch],
            "documents": [r.get("document") for r in batch]})
        batch.clear()

    for lineno, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            sys.exit("chroma_fill: stdin:%d: %s" % (lineno, e))
        if rec.get("op", "upsert") != "upsert":
            continue
        batch.append(rec)
        n += 1
        if len(batch) >= a.batch:
            flush()
    if batch:
        flush()
    print("%d %.1f" % (n, time.monotonic() - t0))


if __name__ == "__main__":
    main()

"""`vcdc shadow --recall` (issue 19) against the real stack: the exact
top-k it computes by one brute-force scan, and each side's recall@k
against it.

A few thousand clustered vectors (bin/vcdc-gen) go through vcdc-producer
into one topic and, by three consumers, into pgvector without an index
(exact k-NN), pgvector with an ivfflat index of many lists searched with
one probe (deliberately poor), and Chroma (HNSW). The truth vcdc reports
is checked against a brute force in plain Python over the generated
vectors (float32, distances in double), independent of vcdc; the exact
side must have recall 1.0, the poor index less.

Run under scripts/with-stack.sh (make test-integration), or after
`scripts/stack.sh up DIR` with DIR/env sourced.
"""

import json
import math
import random
import struct
import subprocess

import pytest

from consumer_helpers import (REPO, PRODUCER_BIN, ConsumerProc,
                              create_topic, run_bounded, unique)

VCDC_BIN = REPO / "bin" / "vcdc"
GEN_BIN = REPO / "bin" / "vcdc-gen"
N = 3000
DIM = 32
K = 10
RUN_TIMEOUT = 180


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


@pytest.fixture(scope="module")
def loaded(stack, tmp_path_factory):
    """The three targets, filled from one topic: {name: sink URL}, and
    the generated vectors {id: [float32 as float]}."""
    tmp = tmp_path_factory.mktemp("recall")
    data = tmp / "in.jsonl"
    with open(data, "wb") as out:
        subprocess.run([str(GEN_BIN), "-n", str(N), "-d", str(DIM), "-k",
                        "24", "-s", "19"], stdout=out, check=True,
                       timeout=60)
    vectors = {}
    with open(data) as f:
        for line in f:
            rec = json.loads(line)
            vectors[rec["id"]] = [f32(v) for v in rec["vector"]]
    assert len(vectors) == N

    topic = unique("it_recall")
    create_topic(stack, topic, 2, {"cleanup.policy": "compact"})
    p = subprocess.run([str(PRODUCER_BIN), "-b", stack.brokers, "-t", topic,
                        "-q", str(data)], capture_output=True, text=True,
                       timeout=RUN_TIMEOUT)
    assert p.returncode == 0, p.stderr[-3000:]

    urls = {"exact": stack.pgvector_url(unique("exact")),
            "ivf": stack.pgvector_url(unique("ivf")),
            "chroma": stack.chroma_url(unique("recall"))}
    extra = {"ivf": ["--index", "ivfflat", "--index-param", "lists=150"]}
    consumers = []
    try:
        for name, url in urls.items():
            c = ConsumerProc(stack, topic, unique("g"), url,
                             tmp / ("%s.log" % name), exit_at_end=True)
            c.args += extra.get(name, [])
            consumers.append(c.start())
        for c in consumers:
            assert c.wait(RUN_TIMEOUT) == 0, c.tail()
    finally:
        for c in consumers:
            c.cleanup()
    return urls, vectors, tmp


def shadow(old, new, *extra, timeout=RUN_TIMEOUT):
    """vcdc shadow --recall; (exit status, report or None, stderr)."""
    p = run_bounded([VCDC_BIN, "shadow", "--old", old, "--new", new,
                     "--recall", "-k", str(K), *extra], timeout)
    out = p.stdout.decode()
    report = None
    if "--json" in extra and out.strip():
        report = json.loads(out)
    return p.returncode, report, p.stderr.decode(errors="replace")


def cosine_distance(q, v):
    dot = sum(a * b for a, b in zip(q, v))
    nq = math.sqrt(sum(a * a for a in q))
    nv = math.sqrt(sum(b * b for b in v))
    return 1.0 - dot / (nq * nv)


def brute_force(q, vectors, k):
    """[(distance, id)] of the k nearest, ties by id."""
    return sorted((cosine_distance(q, v), id_)
                  for id_, v in vectors.items())[:k]


def write_queries(path, vectors, n, seed):
    """n queries: half records of the collection, half near one (a
    perturbed copy), as float32 values."""
    rng = random.Random(seed)
    ids = sorted(vectors)
    queries = []
    for i in range(n):
        base = vectors[rng.choice(ids)]
        if i % 2:
            base = [f32(x + rng.gauss(0, 0.05)) for x in base]
        queries.append(base)
    with open(path, "w") as f:
        for q in queries:
            f.write(json.dumps({"vector": q}) + "\n")
    return queries


def test_exact_top_k_equals_an_independent_brute_force(loaded):
    urls, vectors, tmp = loaded
    queries = write_queries(tmp / "q.jsonl", vectors, 16, 5)
    rc, rep, err = shadow(urls["exact"], urls["chroma"], "--queries",
                          str(tmp / "q.jsonl"), "--json", "--per-query")
    assert rc == 0, err[-3000:]
    r = rep["recall"]
    assert (r["truth"], r["metric"], r["queries"], r["records"]) == \
        ("old", "cosine", 16, N)
    assert len(r["per_query"]) == 16
    for q, pq in zip(queries, r["per_query"]):
        want = brute_force(q, vectors, K)
        assert len(pq["truth"]) == K
        # The same ids in the same order, the same distances (double
        # from float32 both sides: equal but for the order of the sums).
        assert pq["truth"] == [id_ for _, id_ in want], (pq["query"], want)
        for got, (d, _) in zip(pq["truth_distances"], want):
            assert abs(got - d) < 1e-12, (pq["query"], got, d)
        # pgvector without an index is exact: recall 1 on every query.
        assert pq["old_recall"] == 1.0, pq
        assert pq["old"] == pq["truth"] or set(pq["old"]) == set(pq["truth"])
    print("exact vs chroma: recall %s / %s, overlap %.4f, %.3g pairs/s"
          % (r["old"], r["new"], rep["overlap_mean"], r["pairs_per_second"]))
    assert r["old"] == {"mean": 1.0, "p50": 1.0, "min": 1.0}
    # Chroma's HNSW at 3,000 records: near, not necessarily exact.
    assert 0.5 < r["new"]["mean"] <= 1.0
    assert r["new"]["min"] <= r["new"]["p50"] <= 1.0
    assert r["pairs_per_second"] > 0


def test_a_poor_index_has_low_recall_where_the_exact_side_has_1(loaded):
    urls, _, _ = loaded
    rc, rep, err = shadow(urls["exact"], urls["ivf"], "--sample", "40",
                          "--seed", "3", "--json", "--min-recall", "0.95")
    # ivfflat, 150 lists, one probe: most true neighbours are in lists
    # never searched. --min-recall judges each side: NEW is below it.
    r = rep["recall"]
    print("exact vs ivfflat: recall %s / %s, overlap %.4f"
          % (r["old"], r["new"], rep["overlap_mean"]))
    assert r["old"]["mean"] == 1.0 and r["old"]["min"] == 1.0
    assert r["new"]["mean"] < 0.95, r
    assert r["new"]["min"] < r["new"]["mean"]
    assert rc == 1, err[-2000:]
    assert rep["ok"] is False
    # Against an exact OLD, overlap is NEW's recall (same queries, same k).
    assert abs(rep["overlap_mean"] - r["new"]["mean"]) < 1e-9

    # The truth from NEW's records instead: the same records, the same
    # truth, so the same figures.
    rc2, rep2, err2 = shadow(urls["exact"], urls["ivf"], "--sample", "40",
                             "--seed", "3", "--json", "--truth", "new")
    assert rc2 == 0, err2[-2000:]
    assert rep2["recall"]["truth"] == "new"
    assert rep2["recall"]["old"]["mean"] == 1.0
    assert abs(rep2["recall"]["new"]["mean"] - r["new"]["mean"]) < 1e-9


def test_two_sides_agreeing_is_not_recall(loaded):
    """The same poor index on both sides: full overlap, poor recall.
    This is what overlap alone cannot see."""
    urls, _, _ = loaded
    rc, rep, err = shadow(urls["ivf"], urls["ivf"], "--sample", "30",
                          "--seed", "4", "--json")
    assert rc == 0, err[-2000:]
    assert rep["overlap_mean"] == 1.0
    assert rep["recall"]["old"]["mean"] < 0.95
    assert rep["recall"]["old"]["mean"] == rep["recall"]["new"]["mean"]


def test_recall_queries_bounds_the_brute_force(loaded):
    urls, _, _ = loaded
    rc, rep, err = shadow(urls["exact"], urls["chroma"], "--sample", "20",
                          "--seed", "6", "--json", "--recall-queries", "5",
                          "--min-recall", "0.5")
    assert rc == 0, err[-2000:]
    assert rep["queries"] == 20
    assert rep["recall"]["queries"] == 5
    assert rep["recall"]["min_recall"] == 0.5
    assert "exact top-k scan" in err or "exact top-10" in err


def test_table_report(loaded):
    urls, _, _ = loaded
    p = run_bounded([VCDC_BIN, "shadow", "--old", urls["exact"], "--new",
                     urls["ivf"], "--sample", "10", "--seed", "8",
                     "--recall"], RUN_TIMEOUT)
    out = p.stdout.decode()
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    assert "recall@10 against the exact top-10 of OLD's %d records " \
           "(cosine), 10 queries" % N in out
    old = [line for line in out.splitlines()
           if line.strip().startswith("OLD") and "1.0000" in line]
    assert old, out


def test_no_ground_truth_is_an_error(stack, loaded):
    urls, _, tmp = loaded
    missing = stack.pgvector_url(unique("nothing"))
    with open(tmp / "one.jsonl", "w") as f:
        f.write(json.dumps({"vector": [0.5] * DIM}) + "\n")
    rc, rep, err = shadow(urls["exact"], missing, "--queries",
                          str(tmp / "one.jsonl"), "--truth", "new", "--json")
    assert rc == 2
    assert "NEW holds no vectors: no ground truth" in rep["error"], rep


def test_wrong_dimension_is_refused_before_the_scan(loaded):
    urls, _, tmp = loaded
    with open(tmp / "wide.jsonl", "w") as f:
        f.write(json.dumps({"vector": [0.5] * (DIM + 1)}) + "\n")
    rc, rep, err = shadow(urls["exact"], urls["chroma"], "--queries",
                          str(tmp / "wide.jsonl"), "--json")
    assert rc == 2
    assert "the queries have dimension %d, OLD" % (DIM + 1) in rep["error"]
    assert "exact top-" not in err  # no scan was started

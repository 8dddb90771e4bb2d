"""vcdc-gateway's shadow reads (issue 19): with --shadow-rate, a sampled
fraction of the queries the serving side (OLD, Chroma) answers also runs
on the other side (NEW, pgvector) off the request path; the metrics
endpoint and `vcdc shadow --gateway URL` report overlap@k, rank agreement,
latency per side, errors and drops.

- both sides fed from the same log: overlap high, every query counted,
  an exact fraction sampled at rate 0.25, none at rate 0;
- after `vcdc cutover`: NEW (pgvector) serves, OLD is the shadow;
- NEW without the data (its consumer never ran): overlap low, and the
  report's gate fails with exit 1;
- a queue too small for a sample: dropped and counted;
- NEW's database stopped: queries still answer 200 at once, the shadow's
  errors are counted against NEW.
"""
import http.server
import json
import math
import random
import re
import threading
import time
import urllib.request

import pytest

from conftest import create_collection
from consumer_helpers import CONSUMER_BIN, Pg, free_port, unique, wait_for

chromadb = pytest.importorskip("chromadb")

N = 60
DIM = 8


def records(seed=7):
    rng = random.Random(seed)
    return [[rng.uniform(-1, 1) for _ in range(DIM)] for _ in range(N)]


def queries(n, seed=11):
    rng = random.Random(seed)
    return [[rng.uniform(-1, 1) for _ in range(DIM)] for _ in range(n)]


def series(port):
    """The gateway's metrics as {series text: value}, labels included
    ('m{side="new"}')."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


def gateway_with_metrics(env, rate, *args):
    mport = free_port()
    port, _, name = env.gateway("--shadow-rate", str(rate),
                                "--metrics-port", str(mport), *args)
    wait_for(lambda: _answers(mport), 30, "the metrics endpoint")
    return port, mport, name


def _answers(mport):
    try:
        series(mport)
        return True
    except OSError:
        return False


def load(env, port, name, consumers_new=True):
    """The collection through the gateway with N records (--ack applied:
    OLD has them when add returns); with consumers_new, wait for NEW."""
    if consumers_new:
        env.consumers(name)
    else:
        env.spawn("consumer-old-" + name,
                  [CONSUMER_BIN, "-b", env.stack.brokers, "-t", env.topic,
                   "-G", env.group("old", name),
                   "--sink", env.stack.chroma_url(name),
                   "--collection", name, "--from-beginning",
                   "--metric", "cosine", "-X", "vcdc.commit.interval.ms=50"])
    col = create_collection(
        chromadb.HttpClient(host="127.0.0.1", port=port), name)
    col.add(ids=["r%03d" % i for i in range(N)], embeddings=records(),
            metadatas=[{"i": i} for i in range(N)])
    assert col.count() == N
    if consumers_new:
        pg = Pg(env.stack)
        wait_for(lambda: pg.count(name) == N, 60,
                 "pgvector to hold every record")
    return col


def run_queries(col, qs, n_results=5):
    took = []
    for i, q in enumerate(qs):
        t0 = time.monotonic()
        # every third request carries two query embeddings
        emb = [q, qs[(i + 1) % len(qs)]] if i % 3 == 0 else [q]
        res = col.query(query_embeddings=emb, n_results=n_results)
        took.append(time.monotonic() - t0)
        assert len(res["ids"]) == len(emb)
        assert all(len(ids) == n_results for ids in res["ids"])
    return took


def embeddings_in(n):
    return sum(2 if i % 3 == 0 else 1 for i in range(n))


def shadow_cli(env, mport, *args):
    return env.vcdc("shadow", "--gateway", "http://127.0.0.1:%d" % mport,
                    *args)


def test_same_data_high_overlap_and_sampling(env):
    name = unique("gwshadow").replace("-", "_")
    port, mport, gwname = gateway_with_metrics(env, 1)
    col = load(env, port, name)
    nq = 30
    run_queries(col, queries(nq))
    wait_for(lambda: series(mport).get(
        "vcdc_gateway_shadow_queries_total") == nq,
        30, "the shadow to compare every query")
    m = series(mport)
    assert m["vcdc_gateway_shadow_sampled_total"] == nq
    assert m["vcdc_gateway_shadow_dropped_total"] == 0
    assert m["vcdc_gateway_shadow_compared_total"] == embeddings_in(nq)
    assert m['vcdc_gateway_shadow_errors_total{side="old"}'] == 0
    assert m['vcdc_gateway_shadow_errors_total{side="new"}'] == 0
    assert m["vcdc_gateway_shadow_overlap_mean"] >= 0.9, m
    assert m["vcdc_gateway_shadow_rank_agreement"] >= 0.8, m
    for side in ("old", "new"):
        assert m['vcdc_gateway_query_latency_seconds_count{side="%s"}'
                 % side] == nq
        p50 = m['vcdc_gateway_query_latency_seconds{side="%s",'
                'quantile="0.5"}' % side]
        p99 = m['vcdc_gateway_query_latency_seconds{side="%s",'
                'quantile="0.99"}' % side]
        assert 0 < p50 <= p99 < 10

    # The report: JSON, figures equal to the metrics, gate met: exit 0.
    r = shadow_cli(env, mport, "--json", "--min-overlap", "0.9")
    assert r.returncode == 0, r.stderr + r.stdout
    rep = json.loads(r.stdout)
    assert rep["ok"] is True and rep["source"] == "gateway"
    assert rep["queries"] == nq
    assert rep["compared"] == embeddings_in(nq)
    assert rep["errors"] == {"old": 0, "new": 0}
    assert math.isclose(rep["overlap_mean"],
                        m["vcdc_gateway_shadow_overlap_mean"], rel_tol=1e-6)
    assert rep["old_p50_ms"] > 0 and rep["new_p99_ms"] >= rep["new_p50_ms"]
    # The table.
    r = shadow_cli(env, mport, "--min-overlap", "0.9", "--min-rank", "0")
    assert r.returncode == 0, r.stderr
    assert re.search(r"overlap@k\s+mean (0\.9\d+|1\.0000)", r.stdout), r.stdout
    assert "%d compared" % nq in r.stdout and "OK" in r.stdout
    # A gate beyond what anything reaches: exit 1.
    r = shadow_cli(env, mport, "--min-queries", str(nq + 1))
    assert r.returncode == 1 and "BELOW THRESHOLD" in r.stdout, r.stdout

    # Rate 0.25: every fourth query exactly; rate 0: none.
    port4, mport4, _ = gateway_with_metrics(env, 0.25)
    port0, mport0, _ = gateway_with_metrics(env, 0)
    for p in (port4, port0):
        c = chromadb.HttpClient(host="127.0.0.1", port=p).get_collection(
            name, embedding_function=None)
        run_queries(c, queries(20, seed=3))
    wait_for(lambda: series(mport4).get(
        "vcdc_gateway_shadow_queries_total") == 5,
        30, "the shadow to compare the sampled queries")
    assert series(mport4)["vcdc_gateway_shadow_sampled_total"] == 5
    m0 = series(mport0)
    assert m0["vcdc_gateway_shadow_rate"] == 0
    assert m0["vcdc_gateway_shadow_sampled_total"] == 0
    assert m0["vcdc_gateway_shadow_queries_total"] == 0
    assert m0['vcdc_gateway_query_latency_seconds_count{side="new"}'] == 0
    # Nothing compared: the figures are null, a gate cannot be met.
    r = shadow_cli(env, mport0, "--json", "--min-overlap", "0.5")
    assert r.returncode == 1, r.stderr + r.stdout
    rep = json.loads(r.stdout)
    assert rep["queries"] == 0 and rep["overlap_mean"] is None
    assert rep["ok"] is False


def test_after_cutover_new_serves_and_old_is_the_shadow(env):
    name = unique("gwshadowcut").replace("-", "_")
    port, mport, gwname = gateway_with_metrics(env, 1)
    col = load(env, port, name)
    cut = env.vcdc("cutover", "-t", env.topic, "--collection", name,
                   "--to", "new", "--old", env.stack.chroma_url(name),
                   "--new", env.stack.pgvector_url(name),
                   "--old-group", env.group("old", name),
                   "--new-group", env.group("new", name), "--window", "1")
    assert cut.returncode == 0, cut.stdout + cut.stderr

    def switched():
        col.count()  # the gateway looks at the route when asked
        return "reads go to new" in env.log(gwname)
    wait_for(switched, 10, "the gateway to follow the cut-over")
    # pgvector answers (the API layer writes the answer), Chroma is the
    # shadow: the comparison reads both shapes.
    nq = 12
    run_queries(col, queries(nq, seed=13))
    wait_for(lambda: series(mport).get(
        "vcdc_gateway_shadow_queries_total") == nq,
        30, "the shadow to compare every query")
    m = series(mport)
    assert m["vcdc_gateway_shadow_overlap_mean"] >= 0.9, m
    assert m['vcdc_gateway_shadow_errors_total{side="old"}'] == 0
    assert m['vcdc_gateway_query_latency_seconds_count{side="old"}'] == nq
    assert m['vcdc_gateway_query_latency_seconds_count{side="new"}'] == nq


def test_new_without_the_data_low_overlap(env):
    name = unique("gwshadowlow").replace("-", "_")
    port, mport, _ = gateway_with_metrics(env, 1)
    col = load(env, port, name, consumers_new=False)
    nq = 10
    run_queries(col, queries(nq))
    wait_for(lambda: series(mport).get(
        "vcdc_gateway_shadow_queries_total") == nq,
        30, "the shadow to compare every query")
    m = series(mport)
    # NEW holds nothing: its answers are empty, the overlap 0.
    assert m["vcdc_gateway_shadow_overlap_mean"] < 0.5, m
    assert m['vcdc_gateway_shadow_errors_total{side="new"}'] == 0
    r = shadow_cli(env, mport, "--min-overlap", "0.9")
    assert r.returncode == 1, r.stderr + r.stdout
    assert "BELOW THRESHOLD" in r.stdout and "mean overlap" in r.stdout
    r = shadow_cli(env, mport, "--json")  # no gate: it ran
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True


def test_full_queue_drops_and_counts(env):
    # A queue of 1 KiB: a large answer never fits, a small one does.
    name = unique("gwshadowq").replace("-", "_")
    port, mport, _ = gateway_with_metrics(
        env, 1, "-X", "vcdc.gateway.shadow.queue.bytes=1024")
    col = load(env, port, name, consumers_new=False)
    for q in queries(4):
        res = col.query(query_embeddings=[q], n_results=50,
                        include=["metadatas", "distances"])
        assert len(res["ids"][0]) == 50
    small = col.query(query_embeddings=[queries(1)[0]], n_results=1,
                      include=[])
    assert len(small["ids"][0]) == 1
    wait_for(lambda: series(mport).get(
        "vcdc_gateway_shadow_queries_total") == 1, 30,
        "the small one compared")
    m = series(mport)
    assert m["vcdc_gateway_shadow_sampled_total"] == 5
    assert m["vcdc_gateway_shadow_dropped_total"] == 4
    r = shadow_cli(env, mport, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["dropped"] == 4


def test_other_side_down_queries_unaffected(env):
    name = unique("gwshadowdown").replace("-", "_")
    port, mport, gwname = gateway_with_metrics(env, 1)
    col = load(env, port, name)
    run_queries(col, queries(3))
    wait_for(lambda: series(mport).get(
        "vcdc_gateway_shadow_queries_total") == 3, 30, "the first comparisons")
    env.stack.stop_one("pgvector")
    try:
        took = run_queries(col, queries(20, seed=5))
        # Answered by OLD at once, whatever the shadow meets on NEW.
        assert max(took) < 2.0, took
        wait_for(lambda: series(mport).get(
            'vcdc_gateway_shadow_errors_total{side="new"}', 0) >= 1,
            60, "a shadow error counted against NEW")
        # Every sample ends compared (before the stop took), failed or
        # dropped; none against OLD.
        def settled():
            m = series(mport)
            return (m["vcdc_gateway_shadow_queries_total"] +
                    m['vcdc_gateway_shadow_errors_total{side="new"}'] +
                    m["vcdc_gateway_shadow_dropped_total"]) == 23
        wait_for(settled, 60, "every sample accounted for")
        m = series(mport)
        assert m["vcdc_gateway_shadow_sampled_total"] == 23
        assert m['vcdc_gateway_shadow_errors_total{side="old"}'] == 0
        assert m["vcdc_gateway_shadow_queue"] == 0
        assert "shadow query of %s on new failed" % name in env.log(gwname)
    finally:
        env.stack.start_one("pgvector")
    # The metrics endpoint still answers; the CLI reports the errors.
    r = shadow_cli(env, mport, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["errors"]["new"] >= 1


class _Metrics(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802 - the library's name
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def serve_text(body):
    handler = type("H", (_Metrics,), {"body": body})
    srv = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_cli_errors(env):
    # An endpoint without shadow metrics, or with a malformed line: 2.
    for body, want in ((b"vcdc_gateway_inflight 0\n", "no shadow metrics"),
                       (b"vcdc_gateway_shadow_queries_total 1\nnot a line\n",
                        "line 2: the value is not a number")):
        srv = serve_text(body)
        try:
            r = env.vcdc("shadow", "--gateway",
                         "http://127.0.0.1:%d" % srv.server_port, "--json")
        finally:
            srv.shutdown()
        assert r.returncode == 2, r.stdout + r.stderr
        assert want in r.stderr and json.loads(r.stdout)["ok"] is False
    r = env.vcdc("shadow", "--gateway", "--help")
    assert r.returncode == 0 and "--min-overlap" in r.stdout
    # Nothing listening: exit 2; not an http URL or a gate out of range:
    # 64.
    r = env.vcdc("shadow", "--gateway", "http://127.0.0.1:%d" % free_port())
    assert r.returncode == 2 and "vcdc shadow" in r.stderr
    r = env.vcdc("shadow", "--gateway", "chroma://x")
    assert r.returncode == 64
    r = env.vcdc("shadow", "--gateway", "http://127.0.0.1:1", "--min-overlap",
                 "2")
    assert r.returncode == 64

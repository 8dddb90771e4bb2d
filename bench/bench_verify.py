"""Chroma reads (issue 20), for bench/bench.py (--only verify).

Two cases. `vcdc verify` of two Chroma collections of the same N 128-d
records, each loaded by the direct loader: wall and CPU seconds of this
build's vcdc, alternated with a build before issue 20's Chroma reader when
VCDC_BENCH_VCDC_BEFORE names its binary (else this build alone). And
bench/chroma_bench on answers recorded from the server: a get of 100
768-d records (the issue's case) and one verify page (1,000 128-d
records), read by jansson's tree and by the fast path, ns per record;
the second gives the share of verify's time spent parsing answers.

It must not start or stop servers (scripts/with-stack.sh does) nor leave
collections behind.
"""
import json
import os
import statistics
import subprocess
import time
import urllib.request

SIZES = {
    # verify: records per collection; answer: (records, dim) of the
    # recorded get; repeats: reads of it per timed round
    "full": dict(verify=200000, verify_rounds=3, answer=(100, 768),
                 repeats=50, rounds=7),
    "smoke": dict(verify=300, verify_rounds=1, answer=(100, 768),
                  repeats=3, rounds=1),
}
PAGE = 1000  # vcdc verify's --page default


def chroma_base(b):
    return (f"http://{b.CHROMA[0]}:{b.CHROMA[1]}/api/v2/tenants/"
            "default_tenant/databases/default_database/collections")


def chroma_req(url, body=None, method=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.read()


def collection_id(b, name):
    return json.loads(chroma_req(f"{chroma_base(b)}/{name}"))["id"]


def drop(b, name):
    try:
        chroma_req(f"{chroma_base(b)}/{name}", method="DELETE")
    except OSError:
        pass


def load(b, work, n, dim, name):
    """A collection of vcdc-gen's n records, by the direct loader."""
    jl = b.gen(work, n, dim)
    b.run([os.path.join(b.BB, "direct_loader"), "chroma", b.CHROMA[0],
           b.CHROMA[1], name, str(b.BATCH), jl])
    got = b.chroma_count(name)
    if got != n:
        raise SystemExit(f"bench: direct loader wrote {got} of {n}")
    return jl


def record_get(b, work, name, limit, dim):
    """The body of a get of limit records with everything verify asks for,
    as the server sends it, saved for chroma_bench."""
    body = chroma_req(f"{chroma_base(b)}/{collection_id(b, name)}/get",
                      {"limit": limit, "offset": 0,
                       "include": ["embeddings", "metadatas", "documents"]})
    path = os.path.join(work, f"answer-{limit}-{dim}.json")
    with open(path, "wb") as f:
        f.write(body)
    return path, len(body)


def parse_bench(b, path, repeats, rounds):
    _, out = b.run([os.path.join(b.BB, "chroma_bench"), path, str(repeats),
                    str(rounds)])
    rows = [list(map(float, line.split())) for line in out.splitlines()]
    return [r[1] for r in rows], [r[2] for r in rows]


def cpu_verify(vcdc, old, new):
    """(wall s, CPU s of the vcdc process) of one vcdc verify that finds
    the two equal."""
    t0 = time.monotonic()
    p = subprocess.Popen([vcdc, "verify", "--old", old, "--new", new],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.monotonic() - t0
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        raise SystemExit(f"bench: vcdc verify exited {rc}: {err[-2000:]}")
    return dt, ru.ru_utime + ru.ru_stime


def med(xs):
    return statistics.median(xs)


def bench_verify(sz, work, b):
    """The tables of both cases (markdown strings and bench.Table)."""
    vs = SIZES["smoke" if sz["smoke"] else "full"]
    out = []

    # The answer: a get of 100 768-d records.
    cnt, dim = vs["answer"]
    name = b.fresh("bench_ans")
    try:
        load(b, work, cnt, dim, name)
        path, size = record_get(b, work, name, cnt, dim)
    finally:
        drop(b, name)
    t = b.Table("Chroma get answers: parse into records, ns per record "
                "(lower is better)", "ns", "jansson's tree (before)",
                "fast path", "before/after")
    b.log(f"verify: parse a recorded get of {cnt} {dim}-d records")
    xs, ys = parse_bench(b, path, vs["repeats"], vs["rounds"])
    t.add(f"get of {cnt} {dim}-d records ({size / 1e6:.2f} MB)", xs, ys)

    # verify of two collections of n records.
    n = vs["verify"]
    old, new = b.fresh("bench_vfa"), b.fresh("bench_vfb")
    try:
        b.log(f"verify: loading two Chroma collections of {n} 128-d records")
        load(b, work, n, 128, old)
        load(b, work, n, 128, new)
        page, psize = record_get(b, work, old, min(PAGE, n), 128)
        pxs, pys = parse_bench(b, page, max(1, vs["repeats"] // 10),
                               vs["rounds"])
        t.add(f"verify's page: {min(PAGE, n)} 128-d records "
              f"({psize / 1e6:.2f} MB)", pxs, pys)
        out.append(t)
        old_url = b.sink_url("chroma", old)
        new_url = b.sink_url("chroma", new)
        after = os.path.join(b.BIN, "vcdc")
        before = os.environ.get("VCDC_BENCH_VCDC_BEFORE")
        sides = [("after", after)] + ([("before", before)] if before else [])
        res = {s: [] for s, _ in sides}
        b.log(f"verify: {n} records each side, {vs['verify_rounds']} "
              f"round(s){', before and after alternated' if before else ''}")
        cpu_verify(after, old_url, new_url)  # untimed: warm the server
        for r in range(vs["verify_rounds"]):
            for s, exe in (sides if r % 2 == 0 else sides[::-1]):
                res[s].append(cpu_verify(exe, old_url, new_url))
    finally:
        drop(b, old)
        drop(b, new)
    # Parsing: the answers of both collections, at the page's ns/record.
    parse_s = {"before": 2 * n * med(pxs) / 1e9,
               "after": 2 * n * med(pys) / 1e9}
    lines = [f"### vcdc verify of two Chroma collections of {n:,} 128-d "
             "records: seconds (lower is better)", "",
             "| build | wall s | spread | CPU s (vcdc) | parsing answers, s "
             "(from the page figure) | parsing / wall |",
             "|---|---|---|---|---|---|"]
    for s, _ in sides:
        walls = [w for w, _ in res[s]]
        cpus = [c for _, c in res[s]]
        lines.append(f"| {s} | {med(walls):.2f} | {min(walls):.2f}-"
                     f"{max(walls):.2f} | {med(cpus):.2f} | "
                     f"{parse_s[s]:.2f} | {parse_s[s] / med(walls):.0%} |")
    if not before:
        lines.append("")
        lines.append("(no VCDC_BENCH_VCDC_BEFORE: this build only; its "
                     "before figure for parsing is jansson's, from the "
                     "page)")
    out.append("\n".join(lines) + "\n")
    return out

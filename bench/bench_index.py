"""The index on NEW (bench/README.md, Index): a replay into pgvector with
the HNSW index built after it (vcdc-consumer --index hnsw, the index
built concurrently once the replay has caught up) against the same
replay into a table that has the index from the start, so every insert
maintains it. Run by bench.py (`--only index`), with its helpers passed
in; it keeps no state of its own.
"""
import os
import re
import statistics

# pgvector's defaults, on both sides.
M, EF = 16, 64


def _table_with_index(b, name, dim):
    """The table the pgvector sink would create, with the HNSW index the
    consumer would build, created before the replay."""
    b.pg_exec([
        f'CREATE TABLE "{name}" (id text PRIMARY KEY, embedding '
        f'vector({dim}) NOT NULL, metadata jsonb, document text)',
        f'CREATE INDEX "{name}_vcdc_hnsw_idx" ON "{name}" USING hnsw '
        f'(embedding vector_cosine_ops) WITH (m = {M}, '
        f'ef_construction = {EF})'])


def _consume(b, topic, name, extra):
    """One replay with --exit-at-end; (seconds, the consumer's log)."""
    import subprocess
    import time
    cmd = [os.path.join(b.BIN, "vcdc-consumer"), "-b", b.BROKERS, "-t",
           topic, "-G", b.fresh("bench-g"), "--collection", "docs",
           "--sink", b.sink_url("pgvector", name), "--from-beginning",
           "--exit-at-end"] + list(extra)
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"bench: vcdc-consumer exited {p.returncode}: "
                         f"{p.stderr[-2000:]}")
    return dt, p.stderr


def bench_index(sz, work, b):
    """b: the bench module (run, fresh, Table, alternate, ...)."""
    n, dim = sz["index"]
    topic, _ = b.prepared_topic(work, n, dim)
    builds = []

    def after(_r):
        name = b.fresh("bench_ix")
        dt, err = _consume(b, topic, name, ["--index", "hnsw",
                                            "--index-param",
                                            f"m={M},ef_construction={EF}"])
        m = re.search(r"index \S+ built in ([0-9.]+) s", err)
        if not m or b.pg_count(name) != n:
            raise SystemExit("bench: no index built, or records missing:\n"
                             + err[-2000:])
        build = float(m.group(1))
        builds.append(build)
        return (dt - build, dt)

    def during(_r):
        name = b.fresh("bench_ixd")
        _table_with_index(b, name, dim)
        dt, _ = _consume(b, topic, name, [])
        if b.pg_count(name) != n:
            raise SystemExit("bench: records missing with the index")
        return dt

    b.log(f"index: {n} records, {dim}-d, hnsw after vs during the replay")
    xs, ys = b.alternate(1 if sz["smoke"] else sz["index_rounds"], after,
                         during)
    t = b.Table(f"Index on NEW: seconds, {n:,} records {dim}-d, hnsw "
                f"m={M} ef_construction={EF}", "s",
                "index after (--index hnsw)", "index during the replay",
                "after/during")
    t.add("replay alone", [x[0] for x in xs], ys)
    t.add("replay + index build", [x[1] for x in xs], ys)
    note = (f"Index build alone (CREATE INDEX CONCURRENTLY after the "
            f"catch-up): median {statistics.median(builds):.1f} s over "
            f"{len(builds)} run(s); the replay side includes start-up "
            f"and the catch-up check.\n")
    return [t, note]

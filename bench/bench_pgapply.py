"""The pgvector sink's two apply paths (issue 16), for bench.py --only
pgapply: the prepared multi-row INSERT (?copy=never) against COPY into a
staging table and one INSERT ... SELECT (?copy=always), both through the
sink's own apply() (bench/pg_apply.c), at 128 and 768 dimensions and
batches of 100, 1,000 and 5,000 upserts, alternated rounds, each into a
fresh table dropped after it. Three figures per case: the load (every row
new) and the overwrite (every row an update of the whole state) in rows/s
of wall clock, and the CPU both cost per row, the client's and the
server's (pg_apply.c): on a machine shared with other work the wall clock
moves with the neighbours, the CPU a row costs much less."""
import os

# dimension -> rows a run applies (then overwrites)
ROWS = {"full": {128: 50000, 768: 20000}, "smoke": {128: 300, 768: 300}}
BATCHES = (100, 1000, 5000)


def bench_pgapply(sz, b):
    """b: the bench module (run, alternate, Table, fresh, pg_exec, ...)."""
    rows = ROWS["smoke" if sz["smoke"] else "full"]
    load = b.Table("pgvector apply paths, load (fresh rows): rows/s",
                   "rows/s", "COPY", "INSERT", "COPY/INSERT")
    over = b.Table("pgvector apply paths, overwrite (every row an update): "
                   "rows/s", "rows/s", "COPY", "INSERT", "COPY/INSERT")
    cpu = b.Table("pgvector apply paths, CPU per row (client + server, "
                  "load and overwrite): microseconds, lower is better",
                  "us/row", "COPY", "INSERT", "COPY/INSERT")
    for dim, n in rows.items():
        for batch in BATCHES:
            results, cpus = {}, {}

            def side(path):
                def run_side(_r):
                    table = b.fresh("bench_pa")
                    url = f"{b.PG_URL}?table={table}&copy={path}"
                    try:
                        _, out = b.run([os.path.join(b.BB, "pg_apply"), url,
                                        str(dim), str(batch), str(n)])
                    finally:
                        b.pg_exec([f'DROP TABLE IF EXISTS "{table}"'])
                    t_load, t_over, t_cpu = (float(x) for x in out.split())
                    results.setdefault(path, []).append(n / t_over)
                    cpus.setdefault(path, []).append(t_cpu * 1e6 / (2 * n))
                    return n / t_load
                return run_side

            b.log(f"pgapply: {dim}-d, batches of {batch}, {n} rows")
            xs, ys = b.alternate(sz["close_rounds"], side("always"),
                                 side("never"),
                                 warm=side("never"))
            case = f"{dim}-d, batch {batch:,}"
            load.add(case, xs, ys)
            # The warm-up's overwrite is not a round.
            over.add(case, results["always"], results["never"][1:])
            cpu.add(case, cpus["always"], cpus["never"][1:])
    return [load, over, cpu]

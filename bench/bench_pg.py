"""The consumer against real PostgreSQL (issue 16), for bench.py --only
pgload: vcdc-consumer replaying a topic of 1,000,000 records at 128-d and
200,000 at 768-d into pgvector, against two direct loaders of the same
records, rounds rotated: PostgreSQL's own limit (direct_loader pgcopy: one
binary COPY straight into the table, no conflict handling) and what a user
writes (py_loader.py: psycopg2 execute_values upserts of 1,000 rows).
Then scale-out on the 128-d topic (8 partitions): one consumer against two
in one group, with what each replay cost the machine: CPU seconds of the
consumers, of every PostgreSQL process and of the broker, and the WAL
PostgreSQL wrote (pg_stat_wal). The helpers for those figures serve
bench_scale.py as well."""
import os
import subprocess
import tempfile
import time

# dimension -> records of the replay
RECORDS = {"full": {128: 1000000, 768: 200000}, "smoke": {128: 300, 768: 300}}
PY_BATCH = 1000  # the user's loader: rows per execute_values and commit
# Rounds of each side. A full-size round of the three sides takes 4-5
# minutes on the shared 2-core machine (the Python loader 3 of them at
# 128-d), so two alternated rounds, the Python loader in the first only,
# keep the section near a quarter of an hour.
ROUNDS = 2
PY_ROUNDS = 1


def clk():
    return os.sysconf("SC_CLK_TCK")


def proc_stat(pid):
    """(ppid, utime + stime, cutime + cstime) in ticks; None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    v = s[s.rindex(")") + 2:].split()
    return int(v[1]), int(v[11]) + int(v[12]), int(v[13]) + int(v[14])


def postmaster_pid():
    with open(os.path.join(os.environ["VCDC_PG_DATA"],
                           "postmaster.pid")) as f:
        return int(f.readline())


def pg_children():
    """{pid: utime + stime} of the postmaster's children now."""
    pm = postmaster_pid()
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(d)
            if st and st[0] == pm:
                out[d] = st[1]
    return out


def pg_cpu_s(settle_from=None):
    """CPU seconds of PostgreSQL so far: the postmaster's own, its reaped
    children's (the backends of clients gone), and its live children's.
    settle_from: the children of an earlier reading; waits (up to 2 s)
    until every child born since has been reaped, since a backend that has
    exited but is not reaped yet counts in neither sum."""
    deadline = time.monotonic() + 2
    while settle_from is not None and time.monotonic() < deadline:
        if set(pg_children()) <= set(settle_from):
            break
        time.sleep(0.02)
    _, own, reaped = proc_stat(postmaster_pid())
    return (own + reaped + sum(pg_children().values())) / clk()


def broker_pid():
    """The broker's JVM: the process whose command line runs kafka.Kafka
    with this stack's server.properties."""
    props = os.path.join(os.environ["VCDC_STACK_DIR"], "kafka")
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        # The JVM itself, not the stack's wrapper shell, whose arguments
        # name the same class and file.
        if (cmd[0].endswith(b"java") and b"kafka.Kafka" in cmd and
                any(a.startswith(props.encode()) for a in cmd)):
            return int(d)
    return None


def broker_cpu_s():
    pid = broker_pid()
    st = proc_stat(pid) if pid else None
    return st[1] / clk() if st else 0.0


def wal_bytes(b):
    return int(b.pg_exec(["SELECT wal_bytes FROM pg_stat_wal"])[0][0])


class Cost:
    """What a stretch of time cost the machine: started at creation,
    read with done()."""

    def __init__(self, b):
        self.b = b
        self.w0 = wal_bytes(b)
        self.kids = pg_children()  # after the WAL query's backend is gone
        self.pg0, self.k0 = pg_cpu_s(self.kids), broker_cpu_s()
        self.t0 = time.monotonic()

    def done(self):
        wall = time.monotonic() - self.t0
        return dict(wall=wall, pg=pg_cpu_s(self.kids) - self.pg0,
                    kafka=broker_cpu_s() - self.k0,
                    wal=wal_bytes(self.b) - self.w0)


def consume_group(b, topic, n, procs):
    """procs vcdc-consumers in one fresh group replay topic into a fresh
    table; returns the Cost figures plus the consumers' CPU seconds
    (rusage) and each one's peak RSS (KiB)."""
    name = b.fresh("bench_vc")
    cmd = [os.path.join(b.BIN, "vcdc-consumer"), "-b", b.BROKERS, "-t",
           topic, "-G", b.fresh("bench-g"), "--collection", "docs",
           "--sink", b.sink_url("pgvector", name), "--from-beginning",
           "--exit-at-end"]
    cost = Cost(b)
    ps = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
          for _ in range(procs)]
    kib, cpu, errs = [], 0.0, []
    for p in ps:
        errs.append(p.stderr.read())
        _, status, ru = os.wait4(p.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            b.log(errs[-1][-3000:])
            raise SystemExit("bench: a consumer of the group failed")
        kib.append(ru.ru_maxrss)
        cpu += ru.ru_utime + ru.ru_stime
    out = cost.done()
    got = b.pg_count(name)
    out["table_bytes"] = int(b.pg_exec([
        f"SELECT pg_total_relation_size('\"{name}\"')"])[0][0])
    if got != n:
        # A shortfall is a finding to report, not a reason to lose the
        # run: the consumers' logs and the table are kept for a look.
        for i, err in enumerate(errs):
            path = os.path.join(tempfile.gettempdir(),
                                f"vcdc-bench-short-{name}-{i}.log")
            with open(path, "w") as f:
                f.write(err)
        b.log(f"SHORTFALL: {procs} consumer(s) applied {got} of {n} into "
              f"table {name}; their logs: "
              f"{tempfile.gettempdir()}/vcdc-bench-short-{name}-*.log")
    else:
        b.pg_exec([f'DROP TABLE "{name}"'])
    out.update(rate=n / out["wall"], consumers=cpu, kib=kib, applied=got)
    b.log(f"{procs} consumer(s): {out['rate']:,.0f} rec/s, applied {got:,}")
    return out


def bench_pgload(sz, b, work):
    """b: the bench module (run, Table, fresh, gen, pg_exec, ...)."""
    recs = RECORDS["smoke" if sz["smoke"] else "full"]
    rounds = min(sz["rounds"], ROUNDS)
    py_rounds = min(rounds, PY_ROUNDS)
    copy_t = b.Table("Consumer vs. PostgreSQL's limit (binary COPY, no "
                     "conflict handling): records/s", "rec/s",
                     "vcdc-consumer", "COPY", "vcdc/COPY")
    py_t = b.Table("Consumer vs. the user's loader (psycopg2 execute_values "
                   f"upserts of {PY_BATCH:,}): records/s", "rec/s",
                   "vcdc-consumer", "psycopg2", "vcdc/psycopg2")
    for dim, n in recs.items():
        jl = b.gen(work, n, dim)
        topic = b.create_topic(b.fresh("bench_pgl"), b.SCALE_PARTITIONS)
        b.run([os.path.join(b.BIN, "vcdc-producer"), "-b", b.BROKERS, "-t",
               topic, jl])

        def checked(name, what):
            got = b.pg_count(name)
            b.pg_exec([f'DROP TABLE "{name}"'])
            if got != n:
                raise SystemExit(f"bench: {what} wrote {got} of {n}")

        def vcdc(_r):
            return consume_group(b, topic, n, 1)["rate"]

        def copy(_r):
            name = b.fresh("bench_cp")
            _, res = b.run([os.path.join(b.BB, "direct_loader"), "pgcopy",
                            b.PG_CONNINFO, name, jl])
            checked(name, "COPY")
            return n / float(res.split()[1])

        def py(_r):
            name = b.fresh("bench_pl")
            _, res = b.run([b.PY, os.path.join(b.REPO, "bench",
                                               "py_loader.py"),
                            b.PG_CONNINFO, name, str(PY_BATCH), jl])
            checked(name, "the Python loader")
            return n / float(res.split()[1])

        # Each round runs the three sides, the order turned each round
        # (vcdc, COPY, Python; Python, COPY, vcdc; ...), each settled.
        sides = {"v": b.settled(vcdc), "c": b.settled(copy),
                 "p": b.settled(py)}
        got = {"v": [], "c": [], "p": []}
        for r in range(rounds):
            order = "vcp" if r % 2 == 0 else "pcv"
            for k in order:
                if k == "p" and r >= py_rounds:
                    continue
                got[k].append(sides[k](r))
                b.log(f"pgload: {dim}-d, {n} records, round {r + 1}, {k}: "
                      f"{got[k][-1]:,.0f} rec/s")
        copy_t.add(f"{dim}-d, {n:,} rec", got["v"], got["c"])
        py_t.add(f"{dim}-d, {n:,} rec ({py_rounds} round(s) of Python)",
                 got["v"][:py_rounds], got["p"])
        if dim == 128:  # printed at once: the 768-d rounds take a while
            yield scale_out(sz, b, topic, n)
        b.drop_topic(topic)
        if dim != 128:  # the memory section replays the 128-d file again
            os.unlink(jl)
    yield copy_t
    yield py_t


def scale_out(sz, b, topic, n):
    """One consumer against two of one group on the same topic, alternated;
    the median round of each by rate (of two, the faster), with what it
    cost, and the fewest rows any round left in its table."""
    res = {1: [], 2: []}
    rounds = min(sz["rounds"], ROUNDS)
    for r in range(rounds):
        for procs in ((1, 2) if r % 2 == 0 else (2, 1)):
            b.log(f"scale-out: {procs} consumer(s), round {r + 1}")
            os.sync()
            res[procs].append(consume_group(b, topic, n, procs))
    lines = [f"### Scale out: {n:,} records (128-d, {b.SCALE_PARTITIONS} "
             "partitions) replayed into one PostgreSQL, 1 vs 2 consumers "
             f"in a group ({rounds} alternated rounds; the median round, of two the "
             "faster)", "",
             "| consumers | rec/s | spread | wall (s) | consumers CPU (s) | "
             "PostgreSQL CPU (s) | broker CPU (s) | CPU busy of 2 cores | "
             "WAL (MB) | WAL MB/s | peak RSS per process (MB) | "
             "rows in the table, fewest |",
             "|" + "---|" * 12]
    med = {}
    for procs, runs in res.items():
        runs = sorted(runs, key=lambda x: x["rate"])
        m = runs[(len(runs) - 1) // 2 + (len(runs) % 2 == 0)]
        med[procs] = m
        busy = (m["consumers"] + m["pg"] + m["kafka"]) / m["wall"] / 2
        lines.append(
            f"| {procs} | {m['rate']:,.0f} | {b.spread([x['rate'] for x in runs])} "
            f"| {m['wall']:.1f} | {m['consumers']:.1f} | {m['pg']:.1f} | "
            f"{m['kafka']:.1f} | {busy:.0%} | {m['wal'] / 1e6:,.0f} | "
            f"{m['wal'] / 1e6 / m['wall']:,.0f} | "
            f"{max(m['kib']) / 1024:.1f} | "
            f"{min(x['applied'] for x in runs):,} |")
    lines += ["", f"Speed-up with two: {med[2]['rate'] / med[1]['rate']:.2f}x"
              f"; PostgreSQL CPU per record {med[1]['pg'] * 1e6 / n:.1f} us "
              f"(one) and {med[2]['pg'] * 1e6 / n:.1f} us (two)"]
    return "\n".join(lines) + "\n"

"""Before and after: vcdc-producer and vcdc-consumer of another build
(BEFORE, a bin/ directory, e.g. of a `git worktree` at an older commit)
against this one, on the same generated records, alternated rounds.
Throughput is wall-clock records/s; the producer also gets records per
CPU second of its own process, which a shared machine moves less; the
consumer gets its peak RSS. Runs against the stack scripts/with-stack.sh
exported; nothing here is part of `make bench`: it answers "what did this
change cost", for an issue's note.

usage: before_after.py BEFORE_BIN [producer] [consumer]
  VCDC_AB_ROUNDS   rounds (default 5; the consumer takes max(3, ROUNDS-2))
  VCDC_AB_WORK     where generated files go (default: a temporary folder)
A consumer before issue 14 knows no --collection: VCDC_AB_BEFORE_PLAIN=1
leaves it out of the BEFORE side's command.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEW = os.path.join(REPO, "bin")
BROKERS = os.environ["VCDC_BROKERS"]
PG_URL = os.environ["VCDC_PGVECTOR_URL"]
ROUNDS = int(os.environ.get("VCDC_AB_ROUNDS", "5"))


def fresh(prefix):
    return prefix + "_" + uuid.uuid4().hex[:8]


def gen(work, n, dim):
    path = os.path.join(work, f"g-{n}-{dim}.fvecs")
    if not os.path.exists(path):
        with open(path, "wb") as f:
            subprocess.run([os.path.join(NEW, "vcdc-gen"), "-n", str(n),
                            "-d", str(dim), "--fvecs"], stdout=f, check=True)
    return path


def timed(cmd):
    """Runs cmd; returns (wall seconds, CPU seconds, peak RSS KiB)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.monotonic() - t0
    if status != 0:
        raise SystemExit(f"before_after: {cmd[0]} exited {status}")
    return dt, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def produce(bindir, path):
    return timed([os.path.join(bindir, "vcdc-producer"), "-b", BROKERS,
                  "-t", fresh("ab_p"), "-c", "docs", "--create-topic",
                  "--partitions", "4", path])


def consume(bindir, topic, plain):
    sep = "&" if "?" in PG_URL else "?"
    cmd = [os.path.join(bindir, "vcdc-consumer"), "-b", BROKERS, "-t", topic,
           "-G", fresh("ab-g"), "--sink",
           f"{PG_URL}{sep}table={fresh('ab_t')}", "--from-beginning",
           "--exit-at-end"]
    return timed(cmd if plain else cmd + ["--collection", "docs"])


def row(name, old, new):
    mo, mn = statistics.median(old), statistics.median(new)
    print(f"| {name} | {mo:,.0f} | {min(old):,.0f}-{max(old):,.0f} | "
          f"{mn:,.0f} | {min(new):,.0f}-{max(new):,.0f} | {mn / mo:.2f} |",
          flush=True)


def alternate(rounds, old_fn, new_fn):
    """[old results], [new results], the order swapped every round."""
    res = {0: [], 1: []}
    for r in range(rounds):
        for side in ((0, 1) if r % 2 == 0 else (1, 0)):
            res[side].append((old_fn, new_fn)[side]())
    return res[0], res[1]


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    old_bin, what = sys.argv[1], sys.argv[2:] or ["producer", "consumer"]
    plain = bool(os.environ.get("VCDC_AB_BEFORE_PLAIN"))
    work = os.environ.get("VCDC_AB_WORK") or tempfile.mkdtemp(prefix="ab-")
    print("| case | before | spread | after | spread | after/before |\n"
          "|---|---|---|---|---|---|")
    if "producer" in what:
        for n, dim in ((500000, 128), (100000, 768)):
            path = gen(work, n, dim)
            old, new = alternate(ROUNDS, lambda: produce(old_bin, path),
                                 lambda: produce(NEW, path))
            row(f"vcdc-producer fvecs {dim}-d, {n:,} rec: rec/s",
                [n / x[0] for x in old], [n / x[0] for x in new])
            row("  the same: records per CPU second of the producer",
                [n / x[1] for x in old], [n / x[1] for x in new])
    if "consumer" in what:
        n = 200000
        topic = fresh("ab_c")
        produce_into = [os.path.join(NEW, "vcdc-producer"), "-b", BROKERS,
                        "-t", topic, "-c", "docs", "--create-topic",
                        "--partitions", "4", gen(work, n, 128)]
        timed(produce_into)
        old, new = alternate(max(3, ROUNDS - 2),
                             lambda: consume(old_bin, topic, plain),
                             lambda: consume(NEW, topic, False))
        row(f"vcdc-consumer into pgvector 128-d, {n:,} rec: rec/s",
            [n / x[0] for x in old], [n / x[0] for x in new])
        row("  the same: peak RSS (MB)", [x[2] / 1024 for x in old],
            [x[2] / 1024 for x in new])


if __name__ == "__main__":
    main()

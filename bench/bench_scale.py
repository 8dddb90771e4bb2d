"""One measured point larger than the benchmarks, for bench.py --only scale
(not in the default set: about ten minutes on 2 cores): 5,000,000 records
of 128-d, piped from vcdc-gen through vcdc-producer into a compacted topic
of 8 partitions, then replayed into PostgreSQL by two vcdc-consumers of one
group. Reports the produce and replay rates, the consumers' peak RSS, the
broker's disk for the topic (du of its partitions' directories in the
Kafka log dir), the table's size, and what the replay cost (CPU of the
consumers, PostgreSQL and the broker; WAL). docs/DESIGN.md, "Scale",
builds on it."""
import os
import subprocess
import time

import bench_pg

RECORDS = {"full": 5000000, "smoke": 3000}
DIM = 128
CONSUMERS = 2


def log_dir():
    props = os.path.join(os.environ["VCDC_STACK_DIR"], "kafka",
                         "server.properties")
    with open(props) as f:
        for line in f:
            if line.startswith("log.dirs="):
                return line.split("=", 1)[1].strip().split(",")[0]
    raise SystemExit(f"bench: no log.dirs in {props}")


def topic_disk_bytes(topic):
    """Bytes the topic's partitions take on disk (du: allocated blocks)."""
    d = log_dir()
    parts = [os.path.join(d, e) for e in os.listdir(d)
             if e.rsplit("-", 1)[0] == topic]
    out = subprocess.run(["du", "-s", "-B1"] + parts, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return sum(int(line.split()[0]) for line in out.splitlines())


def bench_scale(sz, b):
    """b: the bench module."""
    n = RECORDS["smoke" if sz["smoke"] else "full"]
    topic = b.create_topic(b.fresh("bench_scale"), b.SCALE_PARTITIONS)
    b.log(f"scale: producing {n:,} records of {DIM}-d")
    t0 = time.monotonic()
    gen = subprocess.Popen([os.path.join(b.BIN, "vcdc-gen"), "-n", str(n),
                            "-d", str(DIM)], stdout=subprocess.PIPE)
    prod = subprocess.run([os.path.join(b.BIN, "vcdc-producer"), "-b",
                           b.BROKERS, "-t", topic, "-f", "jsonl"],
                          stdin=gen.stdout, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    gen.stdout.close()
    if gen.wait() != 0 or prod.returncode != 0:
        b.log(prod.stderr[-3000:])
        raise SystemExit("bench: scale: producing failed")
    produce_s = time.monotonic() - t0
    got = b.topic_messages(topic)
    if got != n:
        raise SystemExit(f"bench: scale: the topic holds {got} of {n}")
    disk = topic_disk_bytes(topic)
    b.log(f"scale: replaying with {CONSUMERS} consumers")
    os.sync()
    m = bench_pg.consume_group(b, topic, n, CONSUMERS)
    b.drop_topic(topic)
    busy = (m["consumers"] + m["pg"] + m["kafka"]) / m["wall"] / 2
    lines = [f"### Scale: {n:,} records ({DIM}-d) into one PostgreSQL, "
             f"{CONSUMERS} consumers in a group, {b.SCALE_PARTITIONS} "
             "partitions", "",
             "| figure | value |", "|---|---|",
             f"| produce (vcdc-gen piped into vcdc-producer) | "
             f"{produce_s:.0f} s, {n / produce_s:,.0f} rec/s |",
             f"| broker disk for the topic (du) | {disk / 1e9:.2f} GB, "
             f"{disk / n:,.0f} B/record |",
             f"| replay | {m['wall']:.0f} s, {m['rate']:,.0f} rec/s |",
             f"| peak RSS per consumer | "
             f"{', '.join(f'{k / 1024:.1f}' for k in m['kib'])} MB |",
             f"| CPU: consumers, PostgreSQL, broker | {m['consumers']:.0f} s, "
             f"{m['pg']:.0f} s, {m['kafka']:.0f} s "
             f"({busy:.0%} of 2 cores busy) |",
             f"| WAL written | {m['wal'] / 1e9:.2f} GB, "
             f"{m['wal'] / n:,.0f} B/record |",
             f"| rows in the table afterwards | {m['applied']:,} of {n:,} |",
             f"| table with its primary key | "
             f"{m['table_bytes'] / 1e9:.2f} GB |"]
    return ["\n".join(lines) + "\n"]

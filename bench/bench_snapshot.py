"""The snapshot of a live OLD (issue 18), for bench/bench.py (--only
snapshot).

`vcdc snapshot` of an OLD pre-filled with N 128-d records (the direct
loader, no vcdc), its consumer running but idle (no live writes), against
a plain full read of the same database: bench/scan_bench, which pages
through it with the sink's own scan (vcdc_sink_scan()) at the same page
size as the snapshot's chunk and writes nothing. Both from Chroma and from
pgvector, rounds alternated; records/s of each side and their ratio
snapshot/plain (the issue's goal: at least 0.8).

Each snapshot round writes into a topic of its own (compacted,
min.compaction.lag.ms 15 minutes, as the tool requires), with an OLD
consumer group of its own started on it beforehand, untimed: a rerun on
the same topic would resume a finished snapshot instead of taking one.
The round is timed from start to exit, as scan_bench's is from open to
close. It must not start or stop servers nor leave targets behind.
"""
import json
import os
import signal
import subprocess
import sys
import time

SIZES = {
    "full": dict(records=100000, rounds=3),
    "smoke": dict(records=300, rounds=1),
}
DIM = 128
CHUNK = 1000  # the snapshot's --chunk and scan_bench's page
LAG_MS = 15 * 60 * 1000
LIVE = 8  # records through the log, so OLD's group consumes the topic


def snapshot_topic(b):
    from confluent_kafka.admin import AdminClient, NewTopic
    name = b.fresh("bench_snap")
    admin = AdminClient({"bootstrap.servers": b.BROKERS, "log_level": 4})
    admin.create_topics([NewTopic(name, num_partitions=b.PARTITIONS,
                                  replication_factor=1, config={
                                      "cleanup.policy": "compact",
                                      "min.compaction.lag.ms": str(LAG_MS)})]
                        )[name].result(30)
    return name


def committed_all(b, group, topic):
    """True once group committed the log end of every partition that
    holds records."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": b.BROKERS, "group.id": group,
                  "enable.auto.commit": False, "log_level": 4})
    try:
        parts = range(b.PARTITIONS)
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p),
                                           timeout=10, cached=False)[1]
                for p in parts}
        got = c.committed([TopicPartition(topic, p) for p in parts],
                          timeout=10)
        return all(tp.offset == ends[tp.partition] for tp in got
                   if ends[tp.partition] > 0)
    except Exception:  # coordinator not ready yet: ask again
        return False
    finally:
        c.close()


class OldConsumer:
    """OLD's consumer on a round's topic: started, fed LIVE records
    through vcdc-producer, caught up; then idle while the round runs."""

    def __init__(self, b, work, url, name, topic):
        self.group = b.fresh("bench-old")
        self.log = open(os.path.join(work, f"{self.group}.log"), "wb")
        self.proc = subprocess.Popen(
            [os.path.join(b.BIN, "vcdc-consumer"), "-b", b.BROKERS, "-t",
             topic, "-G", self.group, "--sink", url, "--collection", name,
             "--from-beginning"], stdout=subprocess.DEVNULL, stderr=self.log)
        live = "".join(json.dumps({
            "collection": name, "id": f"live-{i}", "op": "upsert",
            "vector": [0.001 * (i + 1)] * DIM}) + "\n" for i in range(LIVE))
        subprocess.run([os.path.join(b.BIN, "vcdc-producer"), "-b",
                        b.BROKERS, "-t", topic, "-q"], input=live.encode(),
                       check=True)
        deadline = time.monotonic() + 120
        while not committed_all(b, self.group, topic):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit("bench: snapshot: OLD's consumer did not "
                                 "catch up (log in the work dir)")
            time.sleep(0.2)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def fill(b, work, target, name, n):
    """OLD: n generated records loaded directly (the direct loader)."""
    jl = b.gen(work, n, DIM)
    if target == "chroma":
        cmd = [os.path.join(b.BB, "direct_loader"), "chroma", b.CHROMA[0],
               b.CHROMA[1], name, str(b.BATCH), jl]
    else:
        cmd = [os.path.join(b.BB, "direct_loader"), "pgvector",
               b.PG_CONNINFO, name, str(b.BATCH), jl]
    b.run(cmd)
    got = b.count(target, name)
    if got != n:
        raise SystemExit(f"bench: direct loader wrote {got} of {n}")


def drop(b, target, name):
    try:
        if target == "chroma":
            for coll in (name, name + "_vcdc_offsets"):
                b.bench_verify.drop(b, coll)
        else:
            b.pg_exec([f'DROP TABLE IF EXISTS "{name}"',
                       f"DELETE FROM vcdc_offsets WHERE table_name = "
                       f"'{name}'"])
    except Exception as e:  # a leftover must not hide the figures
        b.log(f"snapshot: dropping {name}: {e}")


def snapshot_round(b, work, url, name, expect):
    """records/s of one vcdc snapshot run, from start to exit."""
    topic = snapshot_topic(b)
    old = OldConsumer(b, work, url, name, topic)
    try:
        t0 = time.monotonic()
        p = subprocess.run([os.path.join(b.BIN, "vcdc"), "snapshot",
                            "--from", url, "-t", topic, "--old-group",
                            old.group, "-b", b.BROKERS, "--chunk",
                            str(CHUNK), "--json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        dt = time.monotonic() - t0
    finally:
        old.stop()
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-3000:])
        raise SystemExit(f"bench: vcdc snapshot exited {p.returncode}")
    got = json.loads(p.stdout)["records"]
    if got != expect:
        raise SystemExit(f"bench: vcdc snapshot wrote {got} of {expect}")
    written = b.topic_messages(topic)
    if written < expect + LIVE:
        raise SystemExit(f"bench: the topic holds {written} messages, "
                         f"fewer than {expect} + {LIVE}")
    b.drop_topic(topic)
    return expect / dt


def scan_round(b, url, expect):
    _, out = b.run([os.path.join(b.BB, "scan_bench"), url, str(CHUNK)])
    got, secs = out.split()
    if int(got) != expect:
        raise SystemExit(f"bench: scan_bench read {got} of {expect}")
    return expect / float(secs)


def bench_snapshot(sz, work, b):
    """One table: snapshot and plain read, records/s, per database."""
    ss = SIZES["smoke" if sz["smoke"] else "full"]
    n = ss["records"]
    t = b.Table(f"Snapshot of a live OLD vs. a plain full read: records/s "
                f"({n:,} {DIM}-d records, chunk/page {CHUNK})", "rec/s",
                "vcdc snapshot", "plain read (scan_bench)",
                "snapshot/plain")
    for target in sz.get("targets", ["pgvector", "chroma"]):
        name = b.fresh("bench_snapold")
        url = b.sink_url(target, name)
        try:
            b.log(f"snapshot: loading {n} records into {target}")
            fill(b, work, target, name, n)
            # OLD holds n + LIVE once the first round's consumer ran;
            # the plain read is warmed and counted after that.
            expect = n + LIVE
            b.log(f"snapshot: {target}, {ss['rounds']} round(s) alternated")
            xs, ys = b.alternate(
                ss["rounds"],
                lambda _r: snapshot_round(b, work, url, name, expect),
                lambda _r: scan_round(b, url, expect),
                warm=lambda _r: snapshot_round(b, work, url, name, expect))
            t.add(target, xs, ys)
        finally:
            drop(b, target, name)
    return [t]

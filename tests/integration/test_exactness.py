"""The consumer equals applying the log one record at a time, on the real
stack: the corners issue 14 found, one test each (the model-based test,
tests/test_model.c, holds the consumer to the same rule over generated
histories).

- a refused last change leaves the earlier changes of its id standing,
  whatever the batch size (16-d upserts, then 8-d upserts of the same ids);
- a consumer applies one collection: a record of another stops a consumer
  that was not told which collection to apply, and nothing of it lands;
- a dead letter that can never be delivered stops the consumer before any
  offset past it is recorded or committed, and a restart delivers it;
- --exit-at-end ends where the log ends even when the last offsets hold
  no record (an aborted transaction);
- a topic whose partition count changed stops the consumer;
- a replay warns when it will outlast the topic's delete.retention.ms;
- a target that keeps offsets apart (Chroma) records them for every
  partition, also one that went idle;
- pgvector's recorded offsets belong to the table they describe: a
  dropped or truncated table is replayed whole by a new group.
"""

import random
import signal

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import ConfigResource, NewPartitions

from consumer_helpers import (ConsumerProc, Expected, admin, committed,
                              group_members,
                              create_topic, log_ends, make_delete,
                              make_upsert, produce, read_all, unique,
                              wait_for)
from test_consumer import Target, assert_state, target

RUN_TIMEOUT = 240


def consumer(procs, stack, topic, tgt, tmp_path, name="c", **kw):
    c = ConsumerProc(stack, topic, unique("g_" + name), tgt.url,
                     tmp_path / ("%s.log" % name), **kw)
    procs.append(c)
    return c


def dead_letters(stack, topic):
    """(partition, offset) of the origin of each dead letter of topic."""
    out = set()
    for m in read_all(stack, topic + ".dlq"):
        h = {k: v.decode() for k, v in m.headers() or []}
        out.add((int(h["vcdc.partition"]), int(h["vcdc.offset"])))
    return out


# ------------------------------------------- a refused last change


@pytest.mark.parametrize("kind", ["pgvector", "chroma"])
def test_refused_last_change_keeps_the_earlier_ones(kind, stack, chroma, pg,
                                                    procs, topic, tmp_path):
    """300 ids upserted at 16 dimensions, then (a second producer run) the
    same ids at 8 dimensions; 20 of them are deleted before their 8-d
    upsert. One record at a time, the target is created at 16-d by the
    first upsert and every 8-d upsert is refused: each id keeps its 16-d
    version, the deleted ones stay deleted, and exactly the 300 8-d
    upserts are dead-lettered. Batches of 5,000 (one batch holds all) must
    give the same."""
    rng = random.Random(5)
    ids = ["id-%04d" % i for i in range(300)]
    first = [make_upsert(rng, "docs", i, 16, 0, n) for n, i in enumerate(ids)]
    gone = ids[:20]
    second = [make_delete("docs", i) for i in gone]
    second += [make_upsert(rng, "docs", i, 8, 1, n)
               for n, i in enumerate(ids)]
    produce(stack, topic, first, tmp_path / "16.jsonl", "--create-topic",
            "--partitions", "3")
    produce(stack, topic, second, tmp_path / "8.jsonl")
    expected = Expected()
    expected.apply_all(first + second[:len(gone)])

    tgt = target(kind, stack, chroma, pg, "it_refused")
    c = consumer(procs, stack, topic, tgt, tmp_path, exit_at_end=True,
                 conf=["vcdc.batch.records=5000", "vcdc.batch.ms=2000"])
    assert c.start().wait(RUN_TIMEOUT) == 0, c.tail()
    assert_state(tgt, expected, c)
    # The 8-d upserts: each id's last message that has a value.
    last = {}
    for m in read_all(stack, topic):
        if m.value() is not None:
            last[m.key()] = (m.partition(), m.offset())
    eight = set(last.values())
    assert dead_letters(stack, topic) == eight
    assert len(eight) == 300


# ------------------------------------------------ one collection


def test_a_record_of_another_collection_stops_the_consumer(
        stack, chroma, pg, procs, topic, tmp_path):
    """A topic holds collections A and B, both with an id "1". A consumer
    given no --collection applies its target's own name, A: at B's first
    record it stops (exit 1, naming both), and nothing of B is in the
    target. With --collection B, a consumer into another target holds
    exactly B."""
    rng = random.Random(6)
    coll_a, coll_b = unique("ca"), unique("cb")
    changes = []
    for n in range(40):
        changes.append(make_upsert(rng, coll_a, str(n % 10), 4, n, n))
        changes.append(make_upsert(rng, coll_b, str(n % 10), 4, n, n))
    produce(stack, topic, changes, tmp_path / "h.jsonl", "--create-topic",
            "--partitions", "1")

    tgt_a = Target("chroma", stack, chroma, pg, coll_a)
    c = consumer(procs, stack, topic, tgt_a, tmp_path, name="a",
                 exit_at_end=True, collection=None)
    assert c.start().wait(RUN_TIMEOUT) == 1, c.tail()
    assert 'a record of collection "%s"' % coll_b in c.log(), c.tail()
    b_vectors = {(c_["id"], tuple(c_["vector"])) for c_ in changes
                 if c_["collection"] == coll_b}
    held = tgt_a.get_all() if chroma.collection_id(coll_a) else {}
    for id_, (vec, _, _) in held.items():
        assert (id_, tuple(vec)) not in b_vectors, id_

    expected = Expected()
    expected.apply_all(c_ for c_ in changes if c_["collection"] == coll_b)
    tgt_b = target("pgvector", stack, chroma, pg, "it_cb")
    c = consumer(procs, stack, topic, tgt_b, tmp_path, name="b",
                 exit_at_end=True, collection=coll_b)
    assert c.start().wait(RUN_TIMEOUT) == 0, c.tail()
    assert_state(tgt_b, expected, c)


# ------------------------------------- dead letters that cannot go


def test_a_dead_letter_that_cannot_be_delivered_stops_the_consumer(
        stack, chroma, pg, procs, topic, tmp_path):
    """The dead-letter topic takes messages of at most 200 bytes; a
    128-d upsert into a target pinned at 8 dimensions is refused and its
    dead letter is larger. The consumer stops with exit 1 before any
    offset past that record is recorded in the target or committed. Once
    the topic takes larger messages, a restart delivers the dead letter,
    applies the rest and ends at the log end."""
    rng = random.Random(7)
    ok = [make_upsert(rng, "docs", "ok-%d" % n, 8, 0, n) for n in range(30)]
    bad = make_upsert(rng, "docs", "too-wide", 128, 0, 99)
    history = ok[:10] + [bad] + ok[10:]
    produce(stack, topic, history[:10], tmp_path / "a.jsonl",
            "--create-topic", "--partitions", "1")
    produce(stack, topic, [bad], tmp_path / "b.jsonl")
    produce(stack, topic, history[11:], tmp_path / "c.jsonl")
    create_topic(stack, topic + ".dlq", 1, {"max.message.bytes": "200"})
    bad_offset = 10

    tgt = target("pgvector", stack, chroma, pg, "it_dlqfull")
    group = unique("g_dlqfull")
    args = dict(exit_at_end=True, conf=["vcdc.sink.dim=8",
                                        "vcdc.batch.records=5"])
    c = ConsumerProc(stack, topic, group, tgt.url, tmp_path / "1.log", **args)
    procs.append(c)
    assert c.start().wait(RUN_TIMEOUT) == 1, c.tail()
    assert "can never be delivered" in c.log(), c.tail()
    rec = tgt.recorded_offsets(topic)
    assert rec.get(0, -1) < bad_offset, rec
    got = committed(stack, group, topic, [0])[0]
    assert got is None or got <= bad_offset, got

    res = ConfigResource("topic", topic + ".dlq",
                         set_config={"max.message.bytes": "1048588"})
    client = admin(stack)  # alive until its future is done
    client.alter_configs([res])[res].result(timeout=15)
    wait_for(lambda: _dlq_limit(stack, topic) == "1048588", 30,
             "the dead-letter topic's new limit")
    c = ConsumerProc(stack, topic, group, tgt.url, tmp_path / "2.log", **args)
    procs.append(c)
    assert c.start().wait(RUN_TIMEOUT) == 0, c.tail()
    assert dead_letters(stack, topic) == {(0, bad_offset)}
    expected = Expected()
    expected.apply_all(ok)
    assert_state(tgt, expected, c)


def _dlq_limit(stack, topic):
    res = ConfigResource("topic", topic + ".dlq")
    client = admin(stack)
    cfg = client.describe_configs([res])[res].result(timeout=15)
    return cfg["max.message.bytes"].value


# ---------------------------------------------------- the log's end


def test_exit_at_end_past_an_aborted_transaction(stack, chroma, pg, procs,
                                                 topic, tmp_path):
    """The log ends with an aborted transaction: its record and its abort
    marker take offsets no consumer reads. --exit-at-end still ends,
    once everything before them is applied."""
    rng = random.Random(8)
    history = [make_upsert(rng, "docs", "k%d" % n, 4, 0, n)
               for n in range(50)]
    produce(stack, topic, history, tmp_path / "h.jsonl", "--create-topic",
            "--partitions", "1")
    p = Producer({"bootstrap.servers": stack.brokers,
                  "transactional.id": unique("txn")})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(topic, key=b"docs/aborted", value=b"never read", partition=0)
    p.flush(30)
    p.abort_transaction(30)
    # 50 records, the aborted one, its marker (written once the
    # coordinator has aborted).
    wait_for(lambda: log_ends(stack, topic, [0])[0] == 52, 30,
             "the abort marker")

    tgt = target("pgvector", stack, chroma, pg, "it_txend")
    c = consumer(procs, stack, topic, tgt, tmp_path, exit_at_end=True)
    assert c.start().wait(RUN_TIMEOUT) == 0, c.tail()
    expected = Expected()
    expected.apply_all(history)
    assert_state(tgt, expected, c)


def test_exit_at_end_waits_out_a_rebalance(stack, chroma, pg, procs, topic,
                                           tmp_path):
    """An eager rebalance revokes every partition before it assigns them
    again; a member that owns nothing for that moment is not at the end of
    anything. A third member is stopped, so that the rebalance a new member
    starts waits for its session to expire: the --exit-at-end member must
    wait it out, not exit (found by the scale-out benchmark: two members
    exited 0 with records left), and the group still ends exact."""
    rng = random.Random(21)
    history = [make_upsert(rng, "docs", "k%d" % n, 4, 0, n)
               for n in range(20000)]
    produce(stack, topic, history, tmp_path / "h.jsonl", "--create-topic",
            "--partitions", "8")
    tgt = target("pgvector", stack, chroma, pg, "it_grpend")
    group = unique("g_grpend")
    slow = tuple(tgt.slowed(["vcdc.batch.records=50"]))
    first = ConsumerProc(stack, topic, group, tgt.url, tmp_path / "a.log",
                         exit_at_end=True, conf=slow)
    stopped = ConsumerProc(stack, topic, group, tgt.url, tmp_path / "c.log",
                           conf=slow + ("session.timeout.ms=6000",
                                        "heartbeat.interval.ms=500"))
    joiner = ConsumerProc(stack, topic, group, tgt.url, tmp_path / "b.log",
                          exit_at_end=True, conf=slow)
    procs.extend([first, stopped, joiner])
    first.start()
    wait_for(lambda: tgt.count() > 0, 60, "the first member applying")
    stopped.start()

    def two_stable():
        state, members = group_members(stack, group)
        return state.endswith("STABLE") and len(members) == 2
    wait_for(two_stable, 60, "two members in a stable group")
    assert first.alive(), first.tail()
    stopped.proc.send_signal(signal.SIGSTOP)
    joiner.start()
    # The rebalance waits for the stopped member until its session ends
    # (6 s): all that time the first member owns nothing.
    with pytest.raises(AssertionError):
        wait_for(lambda: not first.alive(), 4, "the first member's exit")
    assert first.wait(RUN_TIMEOUT) == 0, first.tail()
    assert joiner.wait(RUN_TIMEOUT) == 0, joiner.tail()
    expected = Expected()
    expected.apply_all(history)
    assert_state(tgt, expected, joiner)
    tgt.close_proxies()


# ------------------------------------------------- partition count


def test_a_changed_partition_count_stops_the_consumer(stack, chroma, pg,
                                                       procs, topic,
                                                       tmp_path):
    """Records written for 2 partitions, the topic grown to 4, more
    records written: one id's changes may now sit in two partitions, so a
    replay stops (exit 1) and says why."""
    rng = random.Random(9)
    ids = ["k%02d" % n for n in range(40)]
    produce(stack, topic, [make_upsert(rng, "docs", i, 4, 0, n)
                           for n, i in enumerate(ids)],
            tmp_path / "a.jsonl", "--create-topic", "--partitions", "2")
    client = admin(stack)
    client.create_partitions([NewPartitions(topic, 4)])[topic].result(
        timeout=30)
    produce(stack, topic, [make_upsert(rng, "docs", i, 4, 1, n)
                           for n, i in enumerate(ids)],
            tmp_path / "b.jsonl")
    tgt = target("pgvector", stack, chroma, pg, "it_grown")
    c = consumer(procs, stack, topic, tgt, tmp_path, exit_at_end=True)
    assert c.start().wait(RUN_TIMEOUT) == 1, c.tail()
    assert "partition count changed" in c.log(), c.tail()


# ------------------------------------------- delete.retention.ms


def test_a_replay_longer_than_delete_retention_warns(stack, chroma, pg,
                                                     procs, topic,
                                                     tmp_path):
    """The topic keeps tombstones 0.1 s; a replay of a few thousand
    records in batches of 5 takes longer, and says so while it runs."""
    rng = random.Random(10)
    create_topic(stack, topic, 1, {"cleanup.policy": "compact",
                                   "delete.retention.ms": "100"})
    history = [make_upsert(rng, "docs", "k%d" % n, 4, 0, n)
               for n in range(4000)]
    produce(stack, topic, history, tmp_path / "h.jsonl")
    tgt = target("pgvector", stack, chroma, pg, "it_retention")
    c = consumer(procs, stack, topic, tgt, tmp_path, exit_at_end=True,
                 conf=["vcdc.batch.records=5", "vcdc.progress.ms=50"])
    assert c.start().wait(RUN_TIMEOUT) == 0, c.tail()
    assert "delete.retention.ms (0.1 s)" in c.log(), c.tail()


# ------------------------------------ Chroma: offsets of idle partitions


def test_chroma_records_the_offsets_of_an_idle_partition(
        stack, chroma, pg, procs, topic, tmp_path):
    """Two partitions; after the first round only one of them gets more
    records. The companion collection ends with the last offset of both,
    not only of the partition that kept receiving."""
    rng = random.Random(11)
    first = [make_upsert(rng, "docs", "k%03d" % n, 4, 0, n)
             for n in range(200)]
    produce(stack, topic, first, tmp_path / "a.jsonl", "--create-topic",
            "--partitions", "2")
    ends = log_ends(stack, topic, [0, 1])
    tgt = target("chroma", stack, chroma, pg, "it_idle")
    c = consumer(procs, stack, topic, tgt, tmp_path,
                 conf=["vcdc.commit.interval.ms=200"]).start()
    wait_for(lambda: tgt.recorded_offsets(topic) ==
             {0: ends[0] - 1, 1: ends[1] - 1} or not c.alive(), 60,
             "both partitions' offsets recorded")
    # More records, all in the partition of k000's key.
    on = [m.partition() for m in read_all(stack, topic)
          if m.key() == b"docs/k000"][0]
    more = [make_upsert(rng, "docs", "k000", 4, g, 0) for g in range(1, 30)]
    produce(stack, topic, more, tmp_path / "b.jsonl")
    ends = log_ends(stack, topic, [0, 1])
    wait_for(lambda: tgt.recorded_offsets(topic) ==
             {0: ends[0] - 1, 1: ends[1] - 1} or not c.alive(), 60,
             "both partitions' offsets recorded after partition %d moved"
             % on)
    assert c.alive(), c.tail()
    assert c.terminate() == 0, c.tail()
    assert tgt.recorded_offsets(topic) == {0: ends[0] - 1, 1: ends[1] - 1}


# ----------------------------- pgvector: offsets of the table they describe


@pytest.mark.parametrize("how", ["DROP TABLE", "TRUNCATE"])
def test_a_new_group_replays_a_dropped_or_truncated_table(
        how, stack, chroma, pg, procs, topic, tmp_path):
    """A table filled by one group, then dropped (or truncated): its rows
    in vcdc_offsets no longer describe it, so a new group replaying from
    offset zero fills the whole table, not only the tail."""
    rng = random.Random(12)
    history = [make_upsert(rng, "docs", "k%03d" % n, 4, 0, n)
               for n in range(300)]
    produce(stack, topic, history, tmp_path / "h.jsonl", "--create-topic",
            "--partitions", "2")
    tgt = target("pgvector", stack, chroma, pg, "it_reborn")
    c = consumer(procs, stack, topic, tgt, tmp_path, name="first",
                 exit_at_end=True)
    assert c.start().wait(RUN_TIMEOUT) == 0, c.tail()
    pg.execute('%s "%s"' % (how, tgt.name))
    c = consumer(procs, stack, topic, tgt, tmp_path, name="second",
                 exit_at_end=True)
    assert c.start().wait(RUN_TIMEOUT) == 0, c.tail()
    expected = Expected()
    expected.apply_all(history)
    assert_state(tgt, expected, c)

"""Restore to a point in time on the real stack (README, Backup, restore
and restore to a point in time): a history of upserts and deletes in two
phases with a known boundary between them, replayed by a fresh group into
a fresh target with --until-timestamp or --until-offsets, must leave the
state of the first phase exactly, and the group's committed offsets at the
boundary; a time the topic's min.compaction.lag.ms no longer protects is
refused (exit 64) unless --allow-compacted-history.
"""

import random
import time

import pytest

from consumer_helpers import (ConsumerProc, Expected, committed,
                              create_topic, log_ends, make_delete,
                              make_upsert, produce, unique)
from test_consumer import assert_state, target

RUN_TIMEOUT = 120
PARTS = [0, 1, 2]


def history(seed):
    """Two phases over 60 ids: phase 2 re-upserts, deletes and adds, so
    the state at the boundary differs from the final one."""
    rng = random.Random(seed)
    ids = ["id-%03d" % i for i in range(60)]
    one = [make_upsert(rng, "docs", i, 8, 0, n) for n, i in enumerate(ids)]
    one += [make_delete("docs", i) for i in ids[:10]]
    one += [make_upsert(rng, "docs", i, 8, 1, n)
            for n, i in enumerate(ids[5:15])]
    two = [make_delete("docs", i) for i in ids[20:35]]
    two += [make_upsert(rng, "docs", i, 8, 2, n)
            for n, i in enumerate(ids[30:50] + ["new-%d" % k
                                                for k in range(10)])]
    return one, two


def two_phases(stack, topic, tmp_path, lag_ms):
    """Creates topic (compacted, min.compaction.lag.ms=lag_ms), produces
    phase 1, takes the time T and the log ends, produces phase 2. Returns
    (phase 1, phase 2, T, ends after phase 1)."""
    create_topic(stack, topic, len(PARTS),
                 {"cleanup.policy": "compact",
                  "min.compaction.lag.ms": str(lag_ms)})
    one, two = history(18)
    produce(stack, topic, one, tmp_path / "one.jsonl")
    time.sleep(0.05)
    t = int(time.time() * 1000)
    ends = log_ends(stack, topic, PARTS)
    time.sleep(0.05)
    produce(stack, topic, two, tmp_path / "two.jsonl")
    return one, two, t, ends


def run(procs, stack, topic, tgt, tmp_path, name, *extra):
    group = unique("g_" + name)
    c = ConsumerProc(stack, topic, group, tgt.url,
                     tmp_path / ("%s.log" % name))
    c.args += [str(a) for a in extra]
    procs.append(c)
    return c, group, c.start().wait(RUN_TIMEOUT)


@pytest.mark.parametrize("kind", ["pgvector", "chroma"])
def test_until_timestamp_restores_the_state_then(kind, stack, chroma, pg,
                                                  procs, topic, tmp_path):
    """--until-timestamp T into a fresh target: exactly phase 1's state,
    the group's position at the first record after T, exit 0."""
    one, two, t, ends = two_phases(stack, topic, tmp_path, 3600000)
    expected = Expected()
    expected.apply_all(one)
    tgt = target(kind, stack, chroma, pg, "it_pitr_ts")
    c, group, rc = run(procs, stack, topic, tgt, tmp_path, "ts",
                       "--until-timestamp", t)
    assert rc == 0, c.tail()
    assert "reached the bound in every partition" in c.log(), c.tail()
    assert_state(tgt, expected, c)
    got = committed(stack, group, topic, PARTS)
    assert got == {p: (ends[p] or None) for p in PARTS}, (got, ends)


@pytest.mark.parametrize("kind", ["pgvector", "chroma"])
def test_until_offsets_restores_the_state_there(kind, stack, chroma, pg,
                                                procs, topic, tmp_path):
    """--until-offsets at phase 1's log ends (exclusive): phase 1's state
    and the group's position at those offsets. Bounds past the log end
    end at the log end: the whole history."""
    one, two, t, ends = two_phases(stack, topic, tmp_path, 3600000)
    expected = Expected()
    expected.apply_all(one)
    tgt = target(kind, stack, chroma, pg, "it_pitr_off")
    bound = ",".join("%d:%d" % (p, ends[p]) for p in PARTS)
    c, group, rc = run(procs, stack, topic, tgt, tmp_path, "off",
                       "--until-offsets", bound)
    assert rc == 0, c.tail()
    assert_state(tgt, expected, c)
    got = committed(stack, group, topic, PARTS)
    assert got == {p: (ends[p] or None) for p in PARTS}, (got, ends)

    expected.apply_all(two)
    tgt = target(kind, stack, chroma, pg, "it_pitr_all")
    bound = ",".join("%d:%d" % (p, 10**9) for p in PARTS)
    c, group, rc = run(procs, stack, topic, tgt, tmp_path, "all",
                       "--until-offsets", bound)
    assert rc == 0, c.tail()
    assert_state(tgt, expected, c)
    assert committed(stack, group, topic, PARTS) == log_ends(
        stack, topic, PARTS)


def test_refused_when_compaction_may_have_merged(stack, chroma, pg, procs,
                                                 topic, tmp_path):
    """min.compaction.lag.ms=0 (the default): any past time may be merged
    already. Refused with exit 64, naming the topic, the setting, its value
    and the time; nothing is applied. --allow-compacted-history runs."""
    one, two, t, ends = two_phases(stack, topic, tmp_path, 0)
    tgt = target("pgvector", stack, chroma, pg, "it_pitr_refused")
    c, group, rc = run(procs, stack, topic, tgt, tmp_path, "refused",
                       "--until-timestamp", t)
    assert rc == 64, c.tail()
    log = c.log()
    for part in (topic, "min.compaction.lag.ms=0", str(t),
                 "cleanup.policy=compact", "--allow-compacted-history"):
        assert part in log, (part, c.tail())
    assert committed(stack, group, topic, PARTS) == {p: None for p in PARTS}

    c, group, rc = run(procs, stack, topic, tgt, tmp_path, "allowed",
                       "--until-timestamp", t, "--allow-compacted-history")
    assert rc == 0, c.tail()
    # Nothing was compacted in these few seconds: still phase 1's state.
    expected = Expected()
    expected.apply_all(one)
    assert_state(tgt, expected, c)


@pytest.mark.parametrize("args, message", [
    (["--until-timestamp", "soon"], "--until-timestamp soon: expected"),
    (["--until-timestamp", "1765000000"], "seconds given?"),
    (["--until-offsets", "0:5,1"], "\"1\": expected PARTITION:OFFSET"),
    (["--until-offsets", "0:1", "--until-timestamp", "1765000000000"],
     "not both"),
    (["--allow-compacted-history"], "only with"),
])
def test_usage_errors(args, message, stack, procs, topic, tmp_path):
    c = ConsumerProc(stack, topic, unique("g_usage"),
                     stack.pgvector_url("t_usage"), tmp_path / "u.log")
    c.args += args
    procs.append(c)
    assert c.start().wait(30) == 64, c.tail()
    assert message in c.log(), c.tail()


def test_unnamed_partition_is_refused(stack, chroma, pg, procs, topic,
                                      tmp_path):
    create_topic(stack, topic, len(PARTS), {"cleanup.policy": "compact"})
    tgt = target("pgvector", stack, chroma, pg, "it_pitr_unnamed")
    c, group, rc = run(procs, stack, topic, tgt, tmp_path, "unnamed",
                       "--until-offsets", "0:1,1:1")
    assert rc == 64, c.tail()
    assert "partition 2 of %s is not named" % topic in c.log(), c.tail()


def test_until_offsets_warns_when_compaction_may_have_merged(
        stack, chroma, pg, procs, topic, tmp_path):
    """--until-offsets on a topic with min.compaction.lag.ms=0: the record
    that ends each partition is checked when read, and a warning names the
    setting; the run still applies up to the bound (exit 0)."""
    one, two, t, ends = two_phases(stack, topic, tmp_path, 0)
    time.sleep(0.01)  # every record strictly older than now
    tgt = target("pgvector", stack, chroma, pg, "it_pitr_warn")
    bound = ",".join("%d:%d" % (p, ends[p]) for p in PARTS)
    c, group, rc = run(procs, stack, topic, tgt, tmp_path, "warn",
                       "--until-offsets", bound)
    assert rc == 0, c.tail()
    assert "that follows the bound is" in c.log(), c.tail()
    assert "min.compaction.lag.ms (0" in c.log(), c.tail()
    expected = Expected()
    expected.apply_all(one)
    assert_state(tgt, expected, c)

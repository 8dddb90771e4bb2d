"""Bad input, end to end: each bad line or message gets a clear error
naming what and where, and nothing valid is lost.

Producer: a generated corpus (bad_input_gen.py) of valid JSON lines with
over a thousand malformed ones at random positions goes through
vcdc-producer into the real broker. With --on-error skip every valid line
must be in the topic exactly once and every bad line reported by number
with a reason of its class; with --on-error stop the run ends at the first
bad line, having published exactly the valid lines before it.

Consumer: messages that can never apply (an unknown single-object
fingerprint, an unknown Confluent schema id, records the sink or the
database refuses) land in TOPIC.dlq with headers naming the error class
and the origin, while every valid record around them is applied and the
consumer keeps running.
"""

import io
import json
import re
from collections import defaultdict

import fastavro
import pytest

import bad_input_gen as gen
import wire
from conftest import NO_BROKER_REASON, kafka_available

pytestmark = pytest.mark.skipif(not kafka_available(), reason=NO_BROKER_REASON)

SEED = 20261126
N_VALID = 3000
N_BAD = 1200


def producer_args(brokers, topic, *extra):
    # No -c: a line without a collection is bad. vcdc.max.dim=64 makes the
    # over-the-maximum class cheap.
    return ["-b", brokers, "-t", topic, "-X", "vcdc.max.dim=64",
            "-X", "vcdc.progress.ms=0", *extra]


def skipped_reports(stderr, path):
    """{line: [reasons]} of the "skipped PATH:LINE: reason" log lines."""
    out = defaultdict(list)
    pat = re.compile(r" warn producer: skipped %s:(\d+): (.*)$"
                     % re.escape(str(path)), re.M)
    for m in pat.finditer(stderr):
        out[int(m.group(1))].append(m.group(2))
    return out


def check_topic(msgs, valid):
    """msgs must carry exactly the Valid lines: each upsert once, each
    delete once followed by its tombstone, fields as in the input."""
    want = {wire.kafka_key(v.collection, v.id): v for v in valid}
    assert len(want) == len(valid), "the generator repeated a key"
    got = defaultdict(list)
    problems = []
    for m in msgs:
        v = want.get(m.key)
        if v is None:
            problems.append("p%d@%d: key %r is no valid line's"
                            % (m.partition, m.offset, m.key[:80]))
            continue
        if m.value is None:
            got[m.key].append("T")
            continue
        rec = wire.decode_single_object(m.value)
        got[m.key].append(rec["op"][0])
        diffs = []
        if (rec["collection"], rec["id"]) != (v.collection, v.id):
            diffs.append("collection/id %r/%r" % (rec["collection"],
                                                  rec["id"]))
        if rec["op"] == "UPSERT":
            if wire.f32_bytes(rec["vector"]) != v.vector:
                diffs.append("vector %r" % (rec["vector"],))
            md = None if rec["metadata"] is None else json.loads(
                rec["metadata"])
            if md != v.metadata:
                diffs.append("metadata %r" % (md,))
            if rec["document"] != v.document:
                diffs.append("document %r" % (rec["document"],))
        if diffs:
            problems.append("line %d: %s" % (v.line, "; ".join(diffs)))
    assert not problems, "%d problems, e.g.:\n%s" % (
        len(problems), "\n".join(problems[:10]))
    wrong = [(v.line, got.get(k)) for k, v in want.items()
             if got.get(k) != (["U"] if v.op == "UPSERT" else ["D", "T"])]
    assert not wrong, ("%d valid lines not in the topic exactly once "
                       "(line, messages): %s" % (len(wrong), wrong[:10]))


# ---------------------------------------------------------------- producer


def test_generator_is_deterministic_and_covers_every_class(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    va, ba, _ = gen.generate(a, SEED, 300, 200, 5)
    gen.generate(b, SEED, 300, 200, 5)
    assert a.read_bytes() == b.read_bytes()
    assert len(va) == 300 and len(ba) == 200
    assert {x.cls for x in ba.values()} == set(gen.CLASSES)
    assert 1 not in ba  # line 1 fixes the dimension
    # A different seed, a different corpus.
    gen.generate(b, SEED + 1, 300, 200, 5)
    assert a.read_bytes() != b.read_bytes()


def test_skip_reports_every_bad_line_and_publishes_every_valid_one(
        tmp_path, topic, compacted_topic, brokers, run_producer,
        consume_topic):
    path = tmp_path / "corpus.jsonl"
    valid, bad, blank = gen.generate(path, SEED, N_VALID, N_BAD)
    assert len(bad) >= 1000
    run = run_producer(*producer_args(brokers, compacted_topic(2),
                                      "--on-error", "skip"), path,
                       timeout=300)
    # Documented: 0 when every accepted record was acknowledged, however
    # many lines were skipped.
    assert run.returncode == 0, run
    assert ("published %d, skipped %d, failed 0" % (len(valid), len(bad))
            in run.stderr), run
    assert "%d bad line(s) skipped:" % len(bad) in run.stderr, run

    reports = skipped_reports(run.stderr, path)
    reported = set(reports)
    assert reported == set(bad), (
        "reported but not bad: %s; bad but not reported: %s" % (
            sorted(reported - set(bad))[:20],
            [(n, bad[n].cls) for n in sorted(set(bad) - reported)][:20]))
    twice = {n: r for n, r in reports.items() if len(r) > 1}
    assert not twice, twice
    assert not reported & blank
    wrong_reason = [(n, bad[n].cls, reports[n][0][:200])
                    for n in sorted(bad)
                    if not re.search(bad[n].pattern, reports[n][0])]
    assert not wrong_reason, "reasons unlike their class:\n%s" % "\n".join(
        map(str, wrong_reason[:20]))

    check_topic(consume_topic(topic, timeout=120), valid)
    by_class = defaultdict(int)
    for b in bad.values():
        by_class[b.cls] += 1
    print("\n%d valid, %d bad lines in %d classes, %d blank; producer %.1f s"
          % (len(valid), len(bad), len(by_class), len(blank), run.seconds))


def test_stop_at_the_first_bad_line(tmp_path, topic, compacted_topic,
                                    brokers, run_producer, consume_topic):
    path = tmp_path / "corpus.jsonl"
    valid, bad, _ = gen.generate(path, SEED + 7, N_VALID, N_BAD)
    first = min(bad)
    run = run_producer(*producer_args(brokers, compacted_topic(2)), path,
                       timeout=300)
    assert run.returncode == 1, run
    m = re.search(r" error producer: %s:(\d+): (.*) \(stopping: --on-error "
                  r"stop\)$" % re.escape(str(path)), run.stderr, re.M)
    assert m, run
    assert int(m.group(1)) == first, (m.group(0), first)
    assert re.search(bad[first].pattern, m.group(2)), (bad[first].cls,
                                                       m.group(2))
    before = [v for v in valid if v.line < first]
    assert "published %d, skipped 0, failed 0" % len(before) in run.stderr
    check_topic(consume_topic(topic), before)


def test_stop_names_the_line_of_every_class(tmp_path, topic,
                                            compacted_topic, brokers,
                                            run_producer, consume_topic):
    """One run per class, all into one topic: three valid lines, the bad
    one, two more valid ones. Each run exits 1 naming line 4 with its
    class's reason; the topic holds the first three lines of every run
    and nothing else."""
    compacted_topic(1)
    import random
    rng = random.Random(SEED)
    kept, failures = [], []
    for k, cls in enumerate(sorted(gen.CLASSES)):
        lines, recs = [], []
        for j in range(5):
            text, rec = gen.valid_line(rng, k * 10 + j, 0)
            lines.append(text.encode("utf-8"))
            recs.append(rec)
        lines.insert(3, gen.bad_line(cls, rng, k))
        path = tmp_path / ("%s.jsonl" % cls)
        path.write_bytes(b"\n".join(lines) + b"\n")
        run = run_producer(*producer_args(brokers, topic), path)
        m = re.search(r"%s:(\d+): (.*) \(stopping: --on-error stop\)"
                      % re.escape(str(path)), run.stderr)
        if (run.returncode != 1 or not m or m.group(1) != "4" or
                not re.search(gen.CLASSES[cls][1], m.group(2)) or
                "published 3, skipped 0, failed 0" not in run.stderr):
            failures.append((cls, run.returncode,
                             m.group(0)[:300] if m else run.stderr[-600:]))
        kept += recs[:3]
    assert not failures, "\n".join(map(str, failures))
    check_topic(consume_topic(topic), kept)

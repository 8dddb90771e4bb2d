"""The consumer's side of `vcdc snapshot` (issue 18), on the real stack:

- records the snapshot tool wrote for OLD's group (header
  vcdc.snapshot.group = that group; upserts, a delete with its tombstone,
  a repair) are skipped by that group, which commits and records its
  offsets past them and counts them (vcdc_consumer_snapshot_skipped_total),
  while another group applies them like any record;
- the collection's configuration on the control topic (kind "collection",
  written here with confluent-kafka, as the snapshot tool would): a
  consumer given no metric creates its pgvector target with the recorded
  metric and dimension (an upsert of another dimension is dead-lettered),
  the newest record wins, a contradicting --metric or ?metric= exits 64
  naming both metrics and the source, and a consumer whose control topic
  does not exist goes on without it and never creates it.

Messages are written with confluent-kafka and fastavro (tests/integration/
wire.py), never with vcdc's own code.
"""

import io
import json
import time

import fastavro
import pytest
from confluent_kafka import Producer

import wire
from consumer_helpers import (CONSUMER_BIN, REPO, ConsumerProc, committed,
                              create_topic, f32, free_port, log_ends,
                              read_all, run_bounded, scrape_metrics, unique,
                              wait_for)
from test_consumer import target

RUN_TIMEOUT = 180


def change_value(collection, id_, op, vector=(), document=None):
    """A change record as the producer frames it (single-object Avro)."""
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, wire.PARSED_V1, {
        "collection": collection, "id": id_, "op": op,
        "vector": list(vector), "sparse": None,
        "metadata": None if document is None else json.dumps({"d": document}),
        "document": document, "source_ts_ms": None})
    return wire.SINGLE_OBJECT_MAGIC + wire.FINGERPRINT_V1 + buf.getvalue()


def produce_messages(stack, topic, messages):
    """Writes [(key, value or None, headers)] in order into partition 0
    (the tests' topics have one) and waits for every delivery."""
    errors = []

    def dr(err, msg):
        if err is not None:
            errors.append(err)

    p = Producer({"bootstrap.servers": stack.brokers,
                  "enable.idempotence": True})
    for key, value, headers in messages:
        p.produce(topic, key=key, value=value, partition=0,
                  headers=headers, on_delivery=dr)
    assert p.flush(30) == 0, "messages not delivered"
    assert not errors, errors


def upsert(id_, vector, document, headers=None):
    return (wire.kafka_key("docs", id_),
            change_value("docs", id_, "UPSERT", vector, document),
            headers or [])


def delete(id_, headers=None):
    """A delete as the producer writes it: the DELETE record, then its
    tombstone, both with the same headers."""
    key = wire.kafka_key("docs", id_)
    return [(key, change_value("docs", id_, "DELETE"), headers or []),
            (key, None, headers or [])]


def snapshot_headers(group, chunk, repair=None):
    h = [("vcdc.partitions", b"1"),
         ("vcdc.snapshot", ("run-1:%d" % chunk).encode()),
         ("vcdc.snapshot.group", group.encode())]
    if repair:
        h.append(("vcdc.repair", repair.encode()))
    return h


def state(tgt):
    """{id: (vector, document)} of the target, the vector's components
    rounded to 5 places (Chroma normalises vectors for cosine)."""
    return {i: ([round(x, 5) for x in v[0]], v[2])
            for i, v in tgt.get_all().items()}


@pytest.mark.parametrize("kind", ["pgvector", "chroma"])
def test_own_snapshot_records_are_skipped(kind, stack, chroma, pg, procs,
                                          topic, tmp_path):
    old_group, new_group = unique("g_old"), unique("g_new")
    va, vb, vc = f32([1, 0, 0]), f32([0, 1, 0]), f32([0, 0, 1])
    va2, vc3, vd = f32([1, 1, 0]), f32([0, 1, 1]), f32([1, 0, 1])
    create_topic(stack, topic, 1, {"cleanup.policy": "compact"})
    live = [upsert("a", va, "a1", [("vcdc.partitions", b"1")]),
            upsert("b", vb, "b1", [("vcdc.partitions", b"1")]),
            upsert("c", vc, "c1", [("vcdc.partitions", b"1")])]
    # What the snapshot tool wrote for OLD's group: a snapshot of a live id
    # and of one only OLD held, a delete with its tombstone, a repair; the
    # topic ends with them, so offsets must go past them.
    snap = [upsert("a", va2, "a2", snapshot_headers(old_group, 0)),
            upsert("d", vd, "d1", snapshot_headers(old_group, 0))]
    snap += delete("b", snapshot_headers(old_group, 1))
    snap.append(upsert("c", vc3, "c3",
                       snapshot_headers(old_group, 1, repair="0:2")))
    produce_messages(stack, topic, live + snap)
    end = len(live) + len(snap)
    assert log_ends(stack, topic, [0]) == {0: end}

    t_old = target(kind, stack, chroma, pg, "snap_old")
    t_new = target(kind, stack, chroma, pg, "snap_new")
    port = free_port()
    old = ConsumerProc(stack, topic, old_group, t_old.url,
                       tmp_path / "old.log", metrics_port=port).start()
    new = ConsumerProc(stack, topic, new_group, t_new.url,
                       tmp_path / "new.log", exit_at_end=True).start()
    procs += [old, new]
    assert new.wait(RUN_TIMEOUT) == 0, new.tail()
    wait_for(lambda: committed(stack, old_group, topic, [0])[0] == end,
             RUN_TIMEOUT, "group %s to commit offset %d" % (old_group, end))
    m = wait_for(lambda: scrape_metrics(port), 30, "the metrics endpoint")
    assert m["vcdc_consumer_snapshot_skipped_total"] == 5, m
    assert m["vcdc_consumer_messages_total"] == end, m
    assert old.terminate() == 0, old.tail()
    assert "5 own snapshot records skipped" in old.log(), old.tail()
    assert "own snapshot records skipped" not in new.log(), new.tail()

    # OLD holds exactly the live changes; NEW the snapshot's result.
    assert state(t_old) == {"a": (va, "a1"), "b": (vb, "b1"),
                            "c": (vc, "c1")}
    assert state(t_new) == {"a": (va2, "a2"), "c": (vc3, "c3"),
                            "d": (vd, "d1")}
    # Both record the whole log as applied.
    assert committed(stack, new_group, topic, [0]) == {0: end}
    if kind == "pgvector":
        assert t_old.recorded_offsets(topic) == {0: end - 1}
        assert t_new.recorded_offsets(topic) == {0: end - 1}


# ------------------------------------------- the collection's configuration


def collconf_value(metric, dim, ts_ms, source, collection="docs"):
    return json.dumps({"kind": "collection", "collection": collection,
                       "metric": metric, "dim": dim,
                       "index": {"kind": "hnsw", "m": 16},
                       "source": source, "ts_ms": ts_ms}).encode()


def write_control(stack, control, records):
    """[(key, value)] into the control topic, created compacted."""
    create_topic(stack, control, 1, {"cleanup.policy": "compact"})
    produce_messages(stack, control,
                     [(k.encode(), v, []) for k, v in records])


def pg_target(pg, table):
    """(dim, metric) vcdc recorded for table, and its column's type."""
    rows = pg._query("SELECT dim, metric FROM vcdc_targets "
                     "WHERE table_name = %s", (table,))
    col = pg._query("SELECT format_type(atttypid, atttypmod) FROM "
                    "pg_attribute WHERE attrelid = to_regclass(%s) AND "
                    "attname = 'embedding'", ('"%s"' % table,))
    return rows[0] if rows else None, col[0][0] if col else None


def consumer_args(stack, topic, tgt, control, *extra):
    return [CONSUMER_BIN, "-b", stack.brokers, "-t", topic, "-G",
            unique("g_cc"), "--sink", tgt.url, "--collection", "docs",
            "--from-beginning", "--exit-at-end", "--control-topic", control,
            *extra]


def test_collection_configuration(stack, pg, admin, topic, tmp_path):
    control = unique("vcdc_control_it")
    source = "chroma://127.0.0.1:8000/docs_old"
    now = int(time.time() * 1000)
    route = json.dumps({"collection": "docs", "route": "old",
                        "previous": "new", "ts_ms": now}).encode()
    write_control(stack, control, [
        ("docs", route),
        ("collection-config:docs", collconf_value("l2", 4, now, source)),
        # Older, written later: the newest ts_ms wins.
        ("collection-config:docs", collconf_value("ip", 8, now - 1000,
                                                  "chroma://old:1/x")),
        ("collection-config:other", collconf_value("cosine", 2, now + 5,
                                                   "chroma://h:1/other",
                                                   collection="other")),
        # Malformed: skipped with a warning.
        ("collection-config:docs", b'{"kind":"collection","collection":'
                                   b'"docs","metric":"dot","ts_ms":1}'),
    ])
    create_topic(stack, topic, 1, {"cleanup.policy": "compact"})
    v8, v4 = f32([0.5] * 8), f32([0.25, 0.5, 0.75, 1.0])
    produce_messages(stack, topic, [upsert("x", v8, "x8"),
                                    upsert("y", v4, "y4"),
                                    upsert("z", v4, "z4")])

    # No metric given: the recorded one, and the recorded dimension.
    tgt = target("pgvector", stack, None, pg, "cc_take")
    p = run_bounded(consumer_args(stack, topic, tgt, control), RUN_TIMEOUT)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, err[-3000:]
    assert "metric l2, dimension 4" in err and source in err, err[-3000:]
    assert 'offset 4: skipped: collection configuration of docs: "metric"' \
        in err, err[-3000:]
    assert pg_target(pg, tgt.name) == ((4, "l2"), "vector(4)")
    assert sorted(pg.get_all(tgt.name)) == ["y", "z"]
    dlq = read_all(stack, topic + ".dlq")
    assert [m.key() for m in dlq] == [wire.kafka_key("docs", "x")], dlq

    # A metric that contradicts it: refused, naming both and the source.
    for extra, url_metric in ((["--metric", "cosine"], None),
                              ([], "ip")):
        bad = target("pgvector", stack, None, pg, "cc_refuse")
        if url_metric:
            bad_url = bad.url + "&metric=" + url_metric
            args = consumer_args(stack, topic, bad, control)
            args[args.index(bad.url)] = bad_url
        else:
            args = consumer_args(stack, topic, bad, control, *extra)
        p = run_bounded(args, RUN_TIMEOUT)
        err = p.stderr.decode(errors="replace")
        assert p.returncode == 64, err[-3000:]
        given = url_metric or "cosine"
        assert ("metric %s contradicts" % given) in err, err
        assert "metric l2" in err and source in err, err
        assert not pg.table_exists(bad.name)

    # The route's readers pass over the configuration records without a
    # word (even the malformed one: it is of another kind).
    p = run_bounded([REPO / "bin" / "vcdc", "route", "-b", stack.brokers,
                     "--collection", "docs", "--control-topic", control,
                     "--json"], RUN_TIMEOUT)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, err
    assert json.loads(p.stdout)["route"] == "old", p.stdout
    assert "skipped" not in err, err

    # The same metric given: taken as it is.
    same = target("pgvector", stack, None, pg, "cc_same")
    p = run_bounded(consumer_args(stack, topic, same, control, "--metric",
                                  "l2"), RUN_TIMEOUT)
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-3000:]
    assert pg_target(pg, same.name) == ((4, "l2"), "vector(4)")


def test_missing_control_topic_is_not_created(stack, pg, admin, topic):
    control = unique("vcdc_control_none")
    create_topic(stack, topic, 1, {"cleanup.policy": "compact"})
    v8 = f32([0.5] * 8)
    produce_messages(stack, topic, [upsert("x", v8, "x8")])
    tgt = target("pgvector", stack, None, pg, "cc_none")
    p = run_bounded(consumer_args(stack, topic, tgt, control), RUN_TIMEOUT)
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-3000:]
    # The first upsert's dimension, the default metric.
    assert pg_target(pg, tgt.name) == ((8, "cosine"), "vector(8)")
    assert admin.partitions(control) is None

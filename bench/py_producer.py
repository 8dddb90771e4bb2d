"""The hand-written producer vcdc-producer is compared with (bench/README.md).

What a user writes to load a JSON Lines export into the topic without vcdc:
read line by line, orjson to parse (json when orjson is missing), a dict in
the shape of schemas/change.avsc, fastavro's schemaless writer behind the
single-object header vcdc uses (C3 01, CRC-64-AVRO fingerprint), and a
confluent-kafka Producer with the settings vcdc-producer runs with
(idempotence, acks=all, linger.ms=5, batch.size=1000000, no compression,
murmur2 partitioning of the same keys). It refuses nothing: it checks no
more than the libraries do.

usage: py_producer.py BROKERS TOPIC FILE [COLLECTION]
"""
import io
import json
import os
import sys

import fastavro
from confluent_kafka import Producer

try:
    import orjson

    loads, dumps = orjson.loads, lambda o: orjson.dumps(o).decode()
except ImportError:  # pragma: no cover - the bench installs orjson
    loads, dumps = json.loads, lambda o: json.dumps(o, separators=(",", ":"))

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                      "schemas", "change.avsc")


def header(schema):
    canonical = fastavro.schema.to_parsing_canonical_form(schema)
    fp = fastavro.schema.fingerprint(canonical, "CRC-64-AVRO")
    return b"\xc3\x01" + bytes.fromhex(fp)[::-1]  # little-endian


def main():
    brokers, topic, path = sys.argv[1:4]
    default = sys.argv[4] if len(sys.argv) > 4 else "docs"
    with open(SCHEMA) as f:
        schema = fastavro.parse_schema(json.load(f))
    head = header(schema)
    p = Producer({"bootstrap.servers": brokers, "enable.idempotence": True,
                  "acks": "all", "linger.ms": 5, "batch.size": 1000000,
                  "compression.type": "none",
                  "partitioner": "murmur2_random"})
    failed = []

    def report(err, _msg):
        if err is not None:
            failed.append(err)

    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            r = loads(line)
            coll = r.get("collection", default)
            rid = str(r["id"])
            delete = str(r.get("op", "upsert")).lower() == "delete"
            meta = r.get("metadata")
            rec = {"collection": coll, "id": rid,
                   "op": "DELETE" if delete else "UPSERT",
                   "vector": [] if delete else r["vector"],
                   "sparse": None if delete else r.get("sparse"),
                   "metadata": None if delete or meta is None
                   else dumps(meta),
                   "document": None if delete else r.get("document"),
                   "source_ts_ms": r.get("source_ts_ms")}
            buf = io.BytesIO()
            buf.write(head)
            fastavro.schemaless_writer(buf, schema, rec)
            # vcdc's key: the collection with % and / escaped, /, the id
            key = (coll.replace("%", "%25").replace("/", "%2F") + "/" +
                   rid).encode()
            while True:
                try:
                    p.produce(topic, buf.getvalue(), key, on_delivery=report)
                    break
                except BufferError:
                    p.poll(0.1)
            if delete:
                while True:
                    try:
                        p.produce(topic, None, key, on_delivery=report)
                        break
                    except BufferError:
                        p.poll(0.1)
            p.poll(0)
    if p.flush(60) or failed:
        sys.exit(f"py_producer: {len(failed)} failed, "
                 f"{len(p)} undelivered")


if __name__ == "__main__":
    main()

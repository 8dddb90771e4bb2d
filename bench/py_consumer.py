"""The hand-written pipeline vcdc is compared with (bench/README.md).

The kind of consumer the usual dual-write tutorials show: confluent-kafka,
fastavro to decode, then psycopg2 (pgvector) or plain HTTP (Chroma) to
upsert, committing after each batch. It stops once it has consumed up to
the log-end offsets seen at start, like vcdc-consumer --exit-at-end.

usage: py_consumer.py pgvector|chroma BROKERS TOPIC GROUP TARGET BATCH
  TARGET: a libpq conninfo plus ' table=NAME' is not libpq syntax, so
  pgvector takes "CONNINFO|TABLE" and chroma takes "HOST:PORT|COLLECTION".
"""
import io
import json
import os
import sys
import urllib.request

import fastavro
from confluent_kafka import Consumer, TopicPartition

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                      "schemas", "change.avsc")


def end_offsets(consumer, topic):
    md = consumer.list_topics(topic, timeout=10)
    ends = {}
    for p in md.topics[topic].partitions:
        lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                timeout=10)
        if hi > 0:
            ends[p] = hi
    return ends


class Pg:
    def __init__(self, target):
        import psycopg2
        import psycopg2.extras
        self.extras = psycopg2.extras
        conninfo, self.table = target.split("|")
        self.conn = psycopg2.connect(conninfo)
        self.created = False

    def upsert(self, recs):
        cur = self.conn.cursor()
        if not self.created:
            dim = len(recs[0]["vector"])
            cur.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (id text "
                        f"PRIMARY KEY, embedding vector({dim}) NOT NULL, "
                        f"metadata jsonb, document text)")
            self.created = True
        rows = [(r["id"], "[" + ",".join(map(repr, r["vector"])) + "]",
                 r["metadata"], r["document"]) for r in recs]
        self.extras.execute_values(
            cur, f"INSERT INTO {self.table} (id, embedding, metadata, "
            f"document) VALUES %s ON CONFLICT (id) DO UPDATE SET "
            f"embedding = EXCLUDED.embedding, metadata = EXCLUDED.metadata, "
            f"document = EXCLUDED.document",
            rows, template="(%s, %s::vector, %s::jsonb, %s)",
            page_size=len(rows))
        self.conn.commit()


class Chroma:
    BASE = "/api/v2/tenants/default_tenant/databases/default_database"

    def __init__(self, target):
        hostport, name = target.split("|")
        self.url = f"http://{hostport}{self.BASE}"
        col = self.post("/collections", {
            "name": name, "get_or_create": True,
            "configuration": {"hnsw": {"space": "cosine"}}})
        self.cid = col["id"]

    def post(self, path, body):
        req = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read() or b"null")

    def upsert(self, recs):
        self.post(f"/collections/{self.cid}/upsert", {
            "ids": [r["id"] for r in recs],
            "embeddings": [r["vector"] for r in recs],
            "metadatas": [json.loads(r["metadata"]) if r["metadata"]
                          else None for r in recs],
            "documents": [r["document"] for r in recs]})


def main():
    kind, brokers, topic, group, target, batch = sys.argv[1:7]
    batch = int(batch)
    with open(SCHEMA) as f:
        schema = fastavro.parse_schema(json.load(f))
    sink = Pg(target) if kind == "pgvector" else Chroma(target)
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": group,
                         "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    ends = end_offsets(consumer, topic)
    consumer.subscribe([topic])
    done = {}
    applied = 0
    while len(done) < len(ends):
        msgs = consumer.consume(batch, timeout=0.5)
        recs = {}
        for m in msgs:
            if m.error():
                raise SystemExit(f"py_consumer: {m.error()}")
            v = m.value()
            if v is not None:
                # Avro single-object encoding: C3 01, 8-byte fingerprint.
                rec = fastavro.schemaless_reader(io.BytesIO(v[10:]), schema)
                if rec["op"] == "UPSERT":
                    recs[rec["id"]] = rec
            if m.offset() + 1 >= ends.get(m.partition(), 0):
                done[m.partition()] = True
        if recs:
            sink.upsert(list(recs.values()))
            applied += len(recs)
        if msgs:
            consumer.commit(asynchronous=False)
    consumer.close()
    print(applied)


if __name__ == "__main__":
    main()

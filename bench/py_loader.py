"""The direct loader a user writes without vcdc (bench/README.md, pgload).

Reads JSON Lines as vcdc-gen writes them (id, vector, metadata, document)
and loads them into a fresh pgvector table with psycopg2's
execute_values: INSERT ... ON CONFLICT (id) DO UPDATE, BATCH rows a
statement, the vector as pgvector's text literal, a commit after each
batch. The lines are read as it goes (orjson; a million 768-d records do
not fit in memory as Python objects), so its clock covers reading and
parsing the file as well as the load; both are a small part of it.

usage: py_loader.py CONNINFO TABLE BATCH FILE.jsonl
  prints "records seconds"
"""
import sys
import time

import orjson
import psycopg2
import psycopg2.extras


def main():
    conninfo, table, batch, path = sys.argv[1:5]
    batch = int(batch)
    t0 = time.monotonic()
    conn = psycopg2.connect(conninfo)
    cur = conn.cursor()
    sql = (f"INSERT INTO {table} (id, embedding, metadata, document) "
           f"VALUES %s ON CONFLICT (id) DO UPDATE SET "
           f"embedding = EXCLUDED.embedding, metadata = EXCLUDED.metadata, "
           f"document = EXCLUDED.document")
    created = False
    total = 0
    rows = []

    def flush():
        psycopg2.extras.execute_values(
            cur, sql, rows, template="(%s, %s::vector, %s::jsonb, %s)",
            page_size=len(rows))
        conn.commit()

    with open(path, "rb") as f:
        for line in f:
            r = orjson.loads(line)
            if not created:
                cur.execute(f"CREATE TABLE {table} (id text PRIMARY KEY, "
                            f"embedding vector({len(r['vector'])}) NOT NULL, "
                            f"metadata jsonb, document text)")
                created = True
            rows.append((r["id"], "[" + ",".join(map(repr, r["vector"]))
                         + "]", orjson.dumps(r.get("metadata")).decode(),
                         r.get("document")))
            if len(rows) == batch:
                flush()
                total += len(rows)
                rows = []
    if rows:
        flush()
        total += len(rows)
    conn.close()
    print(total, f"{time.monotonic() - t0:.6f}")


if __name__ == "__main__":
    main()

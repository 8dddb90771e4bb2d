/*
 * vcdc - the pgvector sink's fenced offsets (issue 14, scenarios 3 and 8):
 * the SQL that records a batch's offsets in vcdc_offsets only while they
 * advance, and the reading of its refusal.
 *
 * A batch commits only if, for every partition it lists, the offset
 * recorded for its table is strictly below the batch's. The server decides,
 * inside the batch's transaction, so a batch whose client has gone away
 * (timed out, connection dropped, its statements still queued on the
 * server) rolls back by itself when a newer writer got there first. The
 * statement comes first in the transaction, right after BEGIN (and after a
 * CREATE TABLE the batch performs): two writers of a partition serialise on
 * its vcdc_offsets row before either touches the data, and rows are taken
 * in partition order, so two batches never wait for each other in a cycle.
 *
 * The fenced write is one INSERT ... ON CONFLICT DO UPDATE ... WHERE in a
 * CTE: a row whose recorded offset is at or past the batch's is left as it
 * is (but locked), so fewer rows come back than the batch lists; the outer
 * SELECT then casts a text naming the condition to int, which raises
 * SQLSTATE 22P02 and aborts the transaction on the server. No function is
 * created in the user's database: the check is plain SQL. The text is
 * built from the query's own rows, so the planner cannot fold the cast
 * into an error at plan time.
 *
 * fence_only (a part of a batch) checks and locks without recording: a
 * missing row is inserted with offset -1 (a placeholder, never read back),
 * so that a concurrent first writer of the partition waits on it too, and
 * an existing row is locked by an update that keeps its values; the rows
 * come back as they were and the outer SELECT raises when one is at or
 * past the batch's offset.
 *
 * Offsets belong to the table instance: each row is stamped with the
 * table's pg_relation_filenode(), which changes on DROP + CREATE and on
 * TRUNCATE, so offsets recorded for an earlier instance are not read back
 * and do not fence (a writer overwrites them). VACUUM FULL, CLUSTER and a
 * rewriting ALTER TABLE change it too: the offsets then read back as none
 * and the consumer replays from its committed offsets, which costs time
 * and changes nothing. While the table does not exist (a batch of deletes
 * before any upsert) the stamp is NULL: such rows neither fence nor read
 * back, and a batch that can only delete from a missing table changes
 * nothing anyway. Rows from before this column existed are NULL as well.
 */
#include "sink_pgvector_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the refusal's text starts with (it ends up in the error message,
 * quoted: invalid input syntax for type integer: "vcdc_stale: ..."). */
#define STALE_MARK "vcdc_stale: "

/* A growing string; a failed allocation sticks. */
typedef struct text_s {
        char *p;
        size_t len, size;
        int failed;
} text_t;

static void text_add(text_t *t, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void text_add(text_t *t, const char *fmt, ...) {
        va_list ap;
        int r;

        if (t->failed)
                return;
        va_start(ap, fmt);
        r = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->size - t->len : 0,
                      fmt, ap);
        va_end(ap);
        if (r < 0) {
                t->failed = 1;
                return;
        }
        if (!t->p || (size_t)r >= t->size - t->len) {
                size_t size = t->size ? t->size : 1024;
                char *p;
                while (size - t->len <= (size_t)r)
                        size *= 2;
                if (!(p = realloc(t->p, size))) {
                        t->failed = 1;
                        return;
                }
                t->p = p;
                t->size = size;
                va_start(ap, fmt);
                vsnprintf(t->p + t->len, t->size - t->len, fmt, ap);
                va_end(ap);
        }
        t->len += (size_t)r;
}

char *vcdc_pgvector_fence_sql(size_t rows, int record) {
        text_t t = {0};
        size_t i;

        if (!rows)
                return NULL;
        text_add(&t, "WITH batch (partition, \"offset\") AS (VALUES ");
        for (i = 0; i < rows; i++)
                text_add(&t, "%s($%zu::int,$%zu::bigint)", i ? "," : "",
                         3 + 2 * i, 4 + 2 * i);
        /* NULL while the table does not exist. */
        text_add(&t, "), target AS (SELECT pg_relation_filenode("
                     "to_regclass(quote_ident($1::text))) AS instance), ");
        text_add(&t, "fenced AS (INSERT INTO vcdc_offsets AS o (table_name, "
                     "topic, partition, \"offset\", table_instance, "
                     "updated_at) SELECT $1::text, $2::text, b.partition, ");
        if (record) {
                /* Written where the row is behind, of another instance,
                 * or the table is missing; only locked where it is at or
                 * past the batch. */
                text_add(&t, "b.\"offset\", t.instance, now() "
                             "FROM batch b CROSS JOIN target t "
                             "ORDER BY b.partition "
                             "ON CONFLICT (table_name, topic, partition) DO "
                             "UPDATE SET \"offset\" = EXCLUDED.\"offset\", "
                             "table_instance = EXCLUDED.table_instance, "
                             "updated_at = EXCLUDED.updated_at "
                             "WHERE o.\"offset\" < EXCLUDED.\"offset\" "
                             "OR o.table_instance IS DISTINCT FROM "
                             "EXCLUDED.table_instance "
                             "OR EXCLUDED.table_instance IS NULL "
                             "RETURNING o.partition) ");
                text_add(&t, "SELECT CASE WHEN count(*) = %zu THEN 0 ELSE (",
                         rows);
                text_add(&t, "'" STALE_MARK "partition ' || (SELECT "
                             "string_agg(b.partition::text, ',' ORDER BY "
                             "b.partition) FROM batch b WHERE b.partition "
                             "NOT IN (SELECT partition FROM fenced)) || "
                             "' records an offset at or past the "
                             "batch''s')::int END FROM fenced");
        } else {
                /* Missing rows become placeholders; existing ones are
                 * locked and come back unchanged. */
                text_add(&t, "-1, t.instance, now() "
                             "FROM batch b CROSS JOIN target t "
                             "ORDER BY b.partition "
                             "ON CONFLICT (table_name, topic, partition) DO "
                             "UPDATE SET \"offset\" = o.\"offset\" "
                             "RETURNING o.partition, o.\"offset\", "
                             "o.table_instance), ");
                text_add(&t, "stale AS (SELECT r.partition FROM fenced r "
                             "JOIN batch b USING (partition) CROSS JOIN "
                             "target t WHERE r.table_instance = t.instance "
                             "AND r.\"offset\" >= b.\"offset\") ");
                text_add(&t, "SELECT CASE WHEN count(*) = 0 THEN 0 ELSE ("
                             "'" STALE_MARK "partition ' || string_agg("
                             "partition::text, ',' ORDER BY partition) || "
                             "' records an offset at or past the "
                             "batch''s')::int END FROM stale");
        }
        if (t.failed) {
                free(t.p);
                return NULL;
        }
        return t.p;
}

int vcdc_pgvector_fence_refused(const char *sqlstate, const char *message,
                                char *why, size_t why_size) {
        const char *start, *end;

        if (!sqlstate || strcmp(sqlstate, "22P02") || !message ||
            !(start = strstr(message, "\"" STALE_MARK)))
                return 0;
        start += 1 + strlen(STALE_MARK);
        if (!(end = strchr(start, '"')))
                end = start + strlen(start);
        if (why && why_size)
                snprintf(why, why_size, "%.*s", (int)(end - start), start);
        return 1;
}

const char *vcdc_pgvector_read_offsets_sql(void) {
        /* Only rows of the table as it is now; placeholders left by a
         * fence_only part are not offsets. */
        return "SELECT partition, \"offset\" FROM vcdc_offsets "
               "WHERE table_name = $1 AND topic = $2 AND \"offset\" >= 0 "
               "AND table_instance = pg_relation_filenode("
               "to_regclass(quote_ident($1::text))) "
               "ORDER BY partition";
}

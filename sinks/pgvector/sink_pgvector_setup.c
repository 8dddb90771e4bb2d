/*
 * vcdc - the pgvector sink's schema: vcdc's bookkeeping tables
 * (vcdc_targets, vcdc_offsets) created when missing, the target table
 * found and checked (columns, dimension, recorded metric), and created on
 * the first upsert. Writes no records and no offsets.
 */
#include "sink_pgvector_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Checks an existing table's columns and reads the dimension from the
 * embedding column's type, vector(N). */
static vcdc_sink_status_t read_columns(vcdc_sink_t *sink, target_t *t,
                                       char *errstr, size_t errstr_size) {
        static const struct {
                const char *name;
                const char *types[3];
        } want[] = {
                {"id", {"text", "varchar", NULL}},
                {"embedding", {"vector", NULL, NULL}},
                {"metadata", {"jsonb", NULL, NULL}},
                {"document", {"text", "varchar", NULL}},
        };
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        const char *params[1] = {pg->qtable};
        PGresult *res;
        size_t i, j;
        int row, found;

        if (!(res = vcdc_pgvector_run(
                      sink, "reading the table's columns",
                      "SELECT a.attname, t.typname, a.atttypmod "
                      "FROM pg_attribute a "
                      "JOIN pg_type t ON t.oid = a.atttypid "
                      "WHERE a.attrelid = to_regclass($1) "
                      "AND a.attnum > 0 AND NOT a.attisdropped",
                      1, params, &status, errstr, errstr_size)))
                return status;
        for (i = 0; i < sizeof(want) / sizeof(*want); i++) {
                found = 0;
                for (row = 0; row < PQntuples(res); row++) {
                        const char *type = PQgetvalue(res, row, 1);
                        if (strcmp(PQgetvalue(res, row, 0), want[i].name))
                                continue;
                        found = 1;
                        for (j = 0; want[i].types[j]; j++)
                                if (!strcmp(type, want[i].types[j]))
                                        break;
                        if (!want[i].types[j]) {
                                snprintf(errstr, errstr_size,
                                         "%s: table %s exists and its column "
                                         "%s is of type %s, not %s: not a "
                                         "table vcdc can write",
                                         sink->name, pg->qtable, want[i].name,
                                         type, want[i].types[0]);
                                status = VCDC_SINK_FATAL;
                                goto done;
                        }
                        if (i == 1) {
                                int64_t typmod;
                                if (vcdc_pgvector_parse_i64(
                                            PQgetvalue(res, row, 2), &typmod) ==
                                            0 &&
                                    typmod > 0)
                                        t->dim = (size_t)typmod;
                        }
                }
                if (!found) {
                        snprintf(errstr, errstr_size,
                                 "%s: table %s exists without a column %s "
                                 "(%s): not a table vcdc can write",
                                 sink->name, pg->qtable, want[i].name,
                                 want[i].types[0]);
                        status = VCDC_SINK_FATAL;
                        goto done;
                }
        }
done:
        PQclear(res);
        return status;
}

/* Reads whether the table exists, its dimension and recorded metric. */
vcdc_sink_status_t vcdc_pgvector_load_target(vcdc_sink_t *sink, target_t *t,
                                             char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        const char *params[2] = {pg->qtable, pg->table};
        uint64_t recorded_dim = 0;
        PGresult *res;
        char sql[256];

        memset(t, 0, sizeof(*t));
        if (!(res = vcdc_pgvector_run(
                      sink, "reading the target",
                      "SELECT to_regclass($1) IS NOT NULL, t.dim, t.metric "
                      "FROM (SELECT 1) AS one "
                      "LEFT JOIN vcdc_targets t ON t.table_name = $2",
                      2, params, &status, errstr, errstr_size)))
                return status;
        if (PQntuples(res) != 1) {
                snprintf(errstr, errstr_size, "%s: reading the target: %d rows",
                         sink->name, PQntuples(res));
                PQclear(res);
                return VCDC_SINK_FATAL;
        }
        t->exists = !strcmp(PQgetvalue(res, 0, 0), "t");
        if (!t->exists) {
                /* A row left by a dropped table describes nothing. */
                PQclear(res);
                return VCDC_SINK_OK;
        }
        if (!PQgetisnull(res, 0, 1))
                vcdc_pgvector_parse_u64(PQgetvalue(res, 0, 1), &recorded_dim);
        if (!PQgetisnull(res, 0, 2)) {
                t->metric = vcdc_metric_parse(PQgetvalue(res, 0, 2));
                if (t->metric == VCDC_METRIC_UNSET) {
                        snprintf(errstr, errstr_size,
                                 "%s: vcdc_targets records metric \"%.32s\" "
                                 "for table %s: not cosine, l2 or ip",
                                 sink->name, PQgetvalue(res, 0, 2), pg->qtable);
                        PQclear(res);
                        return VCDC_SINK_FATAL;
                }
        }
        PQclear(res);

        if ((status = read_columns(sink, t, errstr, errstr_size)))
                return status;
        if (!t->dim && recorded_dim)
                t->dim = (size_t)recorded_dim;
        if (!t->dim) {
                /* An unconstrained vector column: ask a stored row. */
                snprintf(sql, sizeof(sql),
                         "SELECT vector_dims(embedding) FROM %s LIMIT 1",
                         pg->qtable);
                if (!(res = vcdc_pgvector_run(sink, "reading the dimension",
                                              sql, 0, NULL, &status, errstr,
                                              errstr_size)))
                        return status;
                if (PQntuples(res) == 1 &&
                    vcdc_pgvector_parse_u64(PQgetvalue(res, 0, 0),
                                            &recorded_dim) == 0)
                        t->dim = (size_t)recorded_dim;
                PQclear(res);
        }
        return VCDC_SINK_OK;
}

/* Refuses a target whose dimension or metric differ from the configured
 * ones; takes its dimension otherwise. */
vcdc_sink_status_t vcdc_pgvector_adopt_target(vcdc_sink_t *sink,
                                              const target_t *t, char *errstr,
                                              size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;
        char what[VCDC_PGVECTOR_IDENT_MAX * 2 + 16];

        if (!t->exists)
                return VCDC_SINK_OK;
        snprintf(what, sizeof(what), "table %s", pg->qtable);
        if ((status = vcdc_sink_target_compat(sink, what, t->dim, t->metric,
                                              errstr, errstr_size)))
                return status;
        if (t->metric == VCDC_METRIC_UNSET)
                VCDC_NOTICE(LOG_COMP,
                            "%s: table %s was not created by vcdc: no "
                            "recorded metric, taking it as %s",
                            sink->name, pg->qtable,
                            vcdc_metric_name(sink->conf.metric));
        pg->exists = 1;
        pg->dim = t->dim;
        return VCDC_SINK_OK;
}

/* Before reading a target missing at open: another process may have
 * created it since. */
vcdc_sink_status_t vcdc_pgvector_refresh_target(vcdc_sink_t *sink, char *errstr,
                                                size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;
        target_t t;

        if (pg->exists)
                return VCDC_SINK_OK;
        if ((status = vcdc_pgvector_load_target(sink, &t, errstr, errstr_size)))
                return status;
        return vcdc_pgvector_adopt_target(sink, &t, errstr, errstr_size);
}

/* The last statement failed because a concurrent transaction created the
 * same table, type or extension first. */
int vcdc_pgvector_lost_create_race(const pgvector_t *pg) {
        return !strcmp(pg->sqlstate, "42P07") || /* duplicate table */
               !strcmp(pg->sqlstate, "42710") || /* duplicate object */
               !strcmp(pg->sqlstate, "23505");   /* its catalog row */
}

/* Creates what vcdc needs beside the target, when missing. Probing first
 * lets a user without CREATE rights read a prepared database. */
vcdc_sink_status_t vcdc_pgvector_setup(vcdc_sink_t *sink, char *errstr,
                                       size_t errstr_size) {
        vcdc_sink_status_t status = VCDC_SINK_OK;
        int has_vector, has_targets, has_offsets, has_instance;
        PGresult *res;

        if (!(res = vcdc_pgvector_run(
                      sink, "probing the schema",
                      "SELECT EXISTS (SELECT 1 FROM pg_extension "
                      "WHERE extname = 'vector'), "
                      "to_regclass('vcdc_targets') IS NOT NULL, "
                      "to_regclass('vcdc_offsets') IS NOT NULL, "
                      "EXISTS (SELECT 1 FROM pg_attribute "
                      "WHERE attrelid = to_regclass('vcdc_offsets') "
                      "AND attname = 'table_instance' "
                      "AND NOT attisdropped)",
                      0, NULL, &status, errstr, errstr_size)))
                return status;
        has_vector = !strcmp(PQgetvalue(res, 0, 0), "t");
        has_targets = !strcmp(PQgetvalue(res, 0, 1), "t");
        has_offsets = !strcmp(PQgetvalue(res, 0, 2), "t");
        has_instance = !strcmp(PQgetvalue(res, 0, 3), "t");
        PQclear(res);
        if (has_vector && has_targets && has_offsets && has_instance)
                return VCDC_SINK_OK;

        if ((status = vcdc_pgvector_run_cmd(sink, "BEGIN", "BEGIN", 0, NULL,
                                            errstr, errstr_size)))
                return status;
        if (!has_vector && (status = vcdc_pgvector_run_cmd(
                                    sink, "creating extension vector",
                                    "CREATE EXTENSION IF NOT EXISTS vector", 0,
                                    NULL, errstr, errstr_size)))
                goto err;
        if (!has_targets && (status = vcdc_pgvector_run_cmd(
                                     sink, "creating vcdc_targets",
                                     "CREATE TABLE IF NOT EXISTS vcdc_targets ("
                                     "table_name text PRIMARY KEY, dim int, "
                                     "metric text)",
                                     0, NULL, errstr, errstr_size)))
                goto err;
        if (!has_offsets &&
            (status = vcdc_pgvector_run_cmd(
                     sink, "creating vcdc_offsets",
                     "CREATE TABLE IF NOT EXISTS vcdc_offsets ("
                     "table_name text, topic text, partition int, "
                     "\"offset\" bigint, updated_at timestamptz, "
                     "table_instance oid, "
                     "PRIMARY KEY (table_name, topic, partition))",
                     0, NULL, errstr, errstr_size)))
                goto err;
        /* Written by a vcdc from before offsets belonged to the table
         * instance: its rows stay, unstamped, and count for none. */
        if (has_offsets && !has_instance &&
            (status = vcdc_pgvector_run_cmd(
                     sink, "adding table_instance to vcdc_offsets",
                     "ALTER TABLE vcdc_offsets ADD COLUMN IF NOT "
                     "EXISTS table_instance oid",
                     0, NULL, errstr, errstr_size)))
                goto err;
        if ((status = vcdc_pgvector_run_cmd(sink, "COMMIT", "COMMIT", 0, NULL,
                                            errstr, errstr_size)))
                goto err;
        return VCDC_SINK_OK;
err:
        vcdc_pgvector_rollback(sink);
        return status;
}

/* Creates the missing table in the open transaction, and records it. */
vcdc_sink_status_t vcdc_pgvector_create_table(vcdc_sink_t *sink, size_t dim,
                                              char *errstr,
                                              size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;
        const char *params[3];
        char sql[256], dimstr[24];

        snprintf(sql, sizeof(sql),
                 "CREATE TABLE %s (id text PRIMARY KEY, "
                 "embedding vector(%zu) NOT NULL, metadata jsonb, "
                 "document text)",
                 pg->qtable, dim);
        status = vcdc_pgvector_run_cmd(sink, "creating the table", sql, 0, NULL,
                                       errstr, errstr_size);
        /* Another process created it first (duplicate table, or the
         * duplicate type row in a race): the retry will find it. */
        if (status && vcdc_pgvector_lost_create_race(pg))
                status = VCDC_SINK_RETRIABLE;
        if (status)
                return status;
        snprintf(dimstr, sizeof(dimstr), "%zu", dim);
        params[0] = pg->table;
        params[1] = dimstr;
        params[2] = vcdc_metric_name(sink->conf.metric);
        return vcdc_pgvector_run_cmd(
                sink, "recording the table in vcdc_targets",
                "INSERT INTO vcdc_targets (table_name, dim, metric) "
                "VALUES ($1, $2::int, $3) ON CONFLICT (table_name) DO "
                "UPDATE SET dim = EXCLUDED.dim, "
                "metric = EXCLUDED.metric",
                3, params, errstr, errstr_size);
}

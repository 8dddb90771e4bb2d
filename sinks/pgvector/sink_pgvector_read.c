/*
 * vcdc - the pgvector sink's reads: the recorded offsets, count, get by
 * ids, scan by id (keyset pages), query (an exact scan ordered by the
 * metric's operator). A table that does not exist (yet) reads as empty.
 * Never writes.
 */
#include "sink_pgvector_state.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idindex.h"

vcdc_sink_status_t vcdc_pgvector_op_read_offsets(vcdc_sink_t *sink,
                                                 const char *topic,
                                                 vcdc_sink_offset_t **offsetsp,
                                                 size_t *cntp, char *errstr,
                                                 size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        const char *params[2] = {pg->table, topic};
        vcdc_sink_offset_t *offsets = NULL;
        PGresult *res = NULL;
        int row, rows;

        *offsetsp = NULL;
        *cntp = 0;
        if ((status = vcdc_pgvector_conn_ensure(sink, errstr, errstr_size)))
                return status;
        if (!(res = vcdc_pgvector_run(sink, "reading offsets",
                                      vcdc_pgvector_read_offsets_sql(), 2,
                                      params, &status, errstr, errstr_size)))
                return status;
        rows = PQntuples(res);
        if (!(offsets = calloc(rows ? (size_t)rows : 1, sizeof(*offsets)))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                status = VCDC_SINK_RETRIABLE;
                goto done;
        }
        for (row = 0; row < rows; row++) {
                int64_t partition, offset;
                if (vcdc_pgvector_parse_i64(PQgetvalue(res, row, 0),
                                            &partition) == -1 ||
                    vcdc_pgvector_parse_i64(PQgetvalue(res, row, 1), &offset) ==
                            -1 ||
                    partition < 0 || partition > INT32_MAX) {
                        snprintf(errstr, errstr_size,
                                 "%s: vcdc_offsets: bad row \"%.24s\", "
                                 "\"%.24s\"",
                                 sink->name, PQgetvalue(res, row, 0),
                                 PQgetvalue(res, row, 1));
                        status = VCDC_SINK_FATAL;
                        goto done;
                }
                offsets[row].partition = (int32_t)partition;
                offsets[row].offset = offset;
        }
        *offsetsp = offsets;
        *cntp = (size_t)rows;
        offsets = NULL;
done:
        free(offsets);
        PQclear(res);
        return status;
}

vcdc_sink_status_t vcdc_pgvector_op_count(vcdc_sink_t *sink, uint64_t *countp,
                                          char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        PGresult *res;
        char sql[128];

        *countp = 0;
        if ((status = vcdc_pgvector_conn_ensure(sink, errstr, errstr_size)) ||
            (status = vcdc_pgvector_refresh_target(sink, errstr, errstr_size)))
                return status;
        if (!pg->exists)
                return VCDC_SINK_OK;
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", pg->qtable);
        if (!(res = vcdc_pgvector_run(sink, "counting", sql, 0, NULL, &status,
                                      errstr, errstr_size)))
                return status;
        if (PQntuples(res) != 1 ||
            vcdc_pgvector_parse_u64(PQgetvalue(res, 0, 0), countp) == -1) {
                snprintf(errstr, errstr_size, "%s: counting: bad answer",
                         sink->name);
                status = VCDC_SINK_FATAL;
        }
        PQclear(res);
        return status;
}

/* Fills rec from row of res: id, [embedding,] metadata, document. */
static int fill_record(vcdc_record_t *rec, PGresult *res, int row,
                       int with_vectors) {
        int col = 1;

        vcdc_record_clear(rec);
        rec->op = VCDC_OP_UPSERT;
        if (!(rec->id = strdup(PQgetvalue(res, row, 0))))
                return -1;
        if (with_vectors) {
                if (vcdc_pgvector_vector_parse(PQgetvalue(res, row, col),
                                               &rec->vector, &rec->dim) == -1)
                        return -1;
                col++;
        }
        if (!PQgetisnull(res, row, col) &&
            !(rec->metadata =
                      vcdc_pgvector_json_compact(PQgetvalue(res, row, col))))
                return -1;
        col++;
        if (!PQgetisnull(res, row, col) &&
            !(rec->document = strdup(PQgetvalue(res, row, col))))
                return -1;
        return 0;
}

vcdc_sink_status_t vcdc_pgvector_op_get(vcdc_sink_t *sink,
                                        const char *const *ids, size_t cnt,
                                        vcdc_record_t *out, char *errstr,
                                        size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        vcdc_idindex_t ix = {NULL, 0};
        const char *params[1];
        PGresult *res = NULL;
        char *array = NULL, sql[192];
        size_t pos, idx;
        int row;

        if (!cnt)
                return VCDC_SINK_OK;
        if ((status = vcdc_pgvector_conn_ensure(sink, errstr, errstr_size)) ||
            (status = vcdc_pgvector_refresh_target(sink, errstr, errstr_size)))
                return status;
        if (!pg->exists)
                return VCDC_SINK_OK;
        if (vcdc_idindex_init(&ix, ids, cnt) == -1 ||
            !(array = vcdc_pgvector_text_array(ids, cnt))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                status = VCDC_SINK_RETRIABLE;
                goto done;
        }
        params[0] = array;
        snprintf(sql, sizeof(sql),
                 "SELECT id, embedding::text, metadata::text, document "
                 "FROM %s WHERE id = ANY($1::text[])",
                 pg->qtable);
        if (!(res = vcdc_pgvector_run(sink, "getting by ids", sql, 1, params,
                                      &status, errstr, errstr_size)))
                goto done;
        for (row = 0; row < PQntuples(res); row++) {
                const char *id = PQgetvalue(res, row, 0);
                /* Each slot asked for this id (one per time asked). */
                for (pos = vcdc_idindex_find(&ix, id);
                     vcdc_idindex_match(&ix, pos, id, &idx); pos++) {
                        if (fill_record(&out[idx], res, row, 1) == -1) {
                                snprintf(errstr, errstr_size,
                                         "%s: getting \"%.100s\": cannot "
                                         "read the row (bad vector text or "
                                         "out of memory)",
                                         sink->name, id);
                                status = VCDC_SINK_FATAL;
                                goto done;
                        }
                }
        }
done:
        PQclear(res);
        free(array);
        vcdc_idindex_free(&ix);
        return status;
}

vcdc_sink_status_t vcdc_pgvector_op_exists(vcdc_sink_t *sink, int *existsp,
                                           char *errstr,
                                           size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;

        *existsp = 0;
        if ((status = vcdc_pgvector_conn_ensure(sink, errstr, errstr_size)) ||
            (status = vcdc_pgvector_refresh_target(sink, errstr, errstr_size)))
                return status;
        *existsp = pg->exists;
        return VCDC_SINK_OK;
}

/* Keyset pagination never loses its place: sh is not needed. */
vcdc_sink_status_t vcdc_pgvector_op_scan(vcdc_sink_t *sink, char **cursorp,
                                         size_t max, int with_vectors,
                                         vcdc_sink_shift_t *sh,
                                         vcdc_record_t *out, size_t *cntp,
                                         char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        const char *params[2];
        char sql[256], limit[24], *cursor;
        PGresult *res;
        int row, rows;

        (void)sh;

        *cntp = 0;
        if (!max)
                return VCDC_SINK_OK;
        if ((status = vcdc_pgvector_conn_ensure(sink, errstr, errstr_size)) ||
            (status = vcdc_pgvector_refresh_target(sink, errstr, errstr_size)))
                return status;
        if (!pg->exists) {
                free(*cursorp);
                *cursorp = NULL;
                return VCDC_SINK_OK;
        }
        /* Keyset pagination: the cursor is the last id seen. */
        snprintf(limit, sizeof(limit), "%zu", max);
        params[0] = limit;
        params[1] = *cursorp;
        snprintf(sql, sizeof(sql),
                 "SELECT id, %smetadata::text, document FROM %s %s "
                 "ORDER BY id LIMIT $1::bigint",
                 with_vectors ? "embedding::text, " : "", pg->qtable,
                 *cursorp ? "WHERE id > $2" : "");
        if (!(res = vcdc_pgvector_run(sink, "scanning", sql, *cursorp ? 2 : 1,
                                      params, &status, errstr, errstr_size)))
                return status;
        rows = PQntuples(res);
        for (row = 0; row < rows && (size_t)row < max; row++) {
                if (fill_record(&out[row], res, row, with_vectors) == -1) {
                        vcdc_record_clear(&out[row]);
                        snprintf(errstr, errstr_size,
                                 "%s: scanning \"%.100s\": cannot read the "
                                 "row (bad vector text or out of memory)",
                                 sink->name, PQgetvalue(res, row, 0));
                        status = VCDC_SINK_FATAL;
                        goto done;
                }
        }
        cursor = NULL;
        if ((size_t)rows == max &&
            !(cursor = strdup(PQgetvalue(res, rows - 1, 0)))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                status = VCDC_SINK_RETRIABLE;
                goto done;
        }
        free(*cursorp);
        *cursorp = cursor;
        *cntp = (size_t)row;
done:
        if (status)
                while (row-- > 0)
                        vcdc_record_clear(&out[row]);
        PQclear(res);
        return status;
}

vcdc_sink_status_t vcdc_pgvector_op_query(vcdc_sink_t *sink,
                                          const float *vector, size_t dim,
                                          size_t k, vcdc_hit_t *hits,
                                          size_t *cntp, char *errstr,
                                          size_t errstr_size) {
        static const char *const ops[] = {
                [VCDC_METRIC_UNSET] = "<=>",
                [VCDC_METRIC_COSINE] = "<=>",
                [VCDC_METRIC_L2] = "<->",
                [VCDC_METRIC_IP] = "<#>",
        };
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        const char *params[2];
        char *text = NULL, sql[256], limit[24], err[128];
        size_t size;
        PGresult *res = NULL;
        int row;

        *cntp = 0;
        if (!k)
                return VCDC_SINK_OK;
        if (vcdc_vector_check(vector, dim, err, sizeof(err)) == -1 ||
            dim > VCDC_PGVECTOR_DIM_MAX) {
                if (dim > VCDC_PGVECTOR_DIM_MAX)
                        snprintf(err, sizeof(err), "dimension %zu", dim);
                snprintf(errstr, errstr_size, "%s: query: %s", sink->name, err);
                return VCDC_SINK_INVALID;
        }
        if ((status = vcdc_pgvector_conn_ensure(sink, errstr, errstr_size)) ||
            (status = vcdc_pgvector_refresh_target(sink, errstr, errstr_size)))
                return status;
        if (!pg->exists)
                return VCDC_SINK_OK;
        if (pg->dim && dim != pg->dim) {
                snprintf(errstr, errstr_size,
                         "%s: query vector of dimension %zu, the table has %zu",
                         sink->name, dim, pg->dim);
                return VCDC_SINK_INVALID;
        }
        size = vcdc_pgvector_vector_text_max(dim);
        if (!(text = malloc(size))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                return VCDC_SINK_RETRIABLE;
        }
        if (!vcdc_pgvector_vector_format(vector, dim, text, size)) {
                snprintf(errstr, errstr_size,
                         "%s: query: cannot format the "
                         "vector",
                         sink->name);
                status = VCDC_SINK_INVALID;
                goto done;
        }
        snprintf(limit, sizeof(limit), "%zu", k);
        params[0] = text;
        params[1] = limit;
        snprintf(sql, sizeof(sql),
                 "SELECT id, embedding %s $1::vector AS distance FROM %s "
                 "ORDER BY 2 LIMIT $2::bigint",
                 ops[sink->conf.metric], pg->qtable);
        if (!(res = vcdc_pgvector_run(sink, "querying", sql, 2, params, &status,
                                      errstr, errstr_size)))
                goto done;
        for (row = 0; row < PQntuples(res) && (size_t)row < k; row++) {
                char *end;
                if (!(hits[row].id = strdup(PQgetvalue(res, row, 0)))) {
                        snprintf(errstr, errstr_size, "%s: out of memory",
                                 sink->name);
                        status = VCDC_SINK_RETRIABLE;
                        goto done;
                }
                hits[row].distance = strtod(PQgetvalue(res, row, 1), &end);
                *cntp = (size_t)row + 1;
        }
done:
        if (status) {
                while (*cntp > 0) {
                        (*cntp)--;
                        free(hits[*cntp].id);
                        hits[*cntp].id = NULL;
                }
        }
        PQclear(res);
        free(text);
        return status;
}

/*
 * vcdc - the pgvector sink's writes: apply() (and its two halves) as one
 * transaction: the fenced offsets first, the upserts in multi-row chunks
 * (the full chunk prepared once per connection) or, for a large batch,
 * through COPY and a staging table (sink_pgvector_copy.c), the deletes,
 * COMMIT, in one pipeline once the table exists; record_offsets() as the
 * same transaction with the offsets alone. Reads nothing back for a
 * caller.
 */
#include "sink_pgvector_state.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* Prepares the full chunk's upsert once per connection: the server parses
 * and plans its 2,000 parameters once, not per chunk (PGlite: about a
 * quarter less time per chunk). The name is new each time, so that one
 * left behind (PGlite keeps one session for all its clients) never
 * clashes. */
static vcdc_sink_status_t prepare_upsert(vcdc_sink_t *sink, char *errstr,
                                         size_t errstr_size) {
        pgvector_t *pg = sink->state;
        char name[sizeof(pg->stmt)];
        vcdc_sink_status_t status;

        if (pg->stmt[0])
                return VCDC_SINK_OK;
        snprintf(name, sizeof(name), "vcdc_upsert_%ld_%" PRId64 "_%u",
                 (long)getpid(), vcdc_wall_ms(), ++pg->stmt_gen);
        if ((status = vcdc_pgvector_exec_bin(
                     sink, "preparing the upsert", name, pg->upsert_sql,
                     VCDC_PGVECTOR_CHUNK_ROWS * VCDC_PGVECTOR_UPSERT_PARAMS,
                     NULL, NULL, NULL, errstr, errstr_size)))
                return status;
        memcpy(pg->stmt, name, sizeof(name));
        pg->stmt_fresh = pg->pipeline;
        return VCDC_SINK_OK;
}

/* After a failed apply, rolled back. A statement prepared in it may or
 * may not exist: deallocated, prepared again under a new name next time.
 * One prepared before survives the vcdc_pgvector_rollback, unless the server
 * lost it (SQLSTATE 26000): statements do not outlive a transaction there, as
 * behind a transaction pooler, and chunks go unprepared from then on. */
static void after_failure(vcdc_sink_t *sink) {
        pgvector_t *pg = sink->state;

        if (!pg->stmt[0])
                return;
        if (!strcmp(pg->sqlstate, "26000")) {
                pg->no_prepare = 1;
                pg->stmt[0] = '\0';
                VCDC_NOTICE(LOG_COMP,
                            "%s: the server lost a prepared statement (a "
                            "transaction pooler?); upserts go unprepared "
                            "from now on",
                            sink->name);
        } else if (pg->stmt_fresh) {
                vcdc_pgvector_deallocate(sink);
        }
        pg->stmt_fresh = 0;
}

/* Upserts recs[0..cnt) (cnt <= VCDC_PGVECTOR_CHUNK_ROWS, each passed by
 * check_vector: finite, at most VCDC_PGVECTOR_DIM_MAX dimensions) in one
 * statement.
 * Vectors go in pgvector's binary input format: no float formatting, and
 * 4 bytes a float on the wire instead of up to 16. */
static vcdc_sink_status_t upsert_chunk(vcdc_sink_t *sink,
                                       const vcdc_record_t *const *recs,
                                       size_t cnt, char *errstr,
                                       size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        size_t nparams = cnt * VCDC_PGVECTOR_UPSERT_PARAMS, size = 0, used = 0,
               i, j;
        const char **params = NULL;
        int *lengths = NULL, *formats = NULL;
        char *bin = NULL, *sql = NULL, what[64];

        for (i = 0; i < cnt; i++)
                size += vcdc_pgvector_vector_binary_size(recs[i]->dim);
        if (!(params = calloc(nparams, sizeof(*params))) ||
            !(lengths = calloc(nparams, sizeof(*lengths))) ||
            !(formats = calloc(nparams, sizeof(*formats))) ||
            !(bin = malloc(size)) ||
            (cnt < VCDC_PGVECTOR_CHUNK_ROWS &&
             !(sql = vcdc_pgvector_upsert_sql(pg->qtable, cnt)))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                status = VCDC_SINK_RETRIABLE;
                goto done;
        }
        for (i = 0; i < cnt; i++) {
                const vcdc_record_t *r = recs[i];
                j = i * VCDC_PGVECTOR_UPSERT_PARAMS;
                params[j] = r->id;
                params[j + 1] = bin + used;
                lengths[j + 1] = (int)vcdc_pgvector_vector_binary(
                        r->vector, r->dim, bin + used);
                formats[j + 1] = 1;
                used += (size_t)lengths[j + 1];
                params[j + 2] = r->metadata; /* NULL: SQL NULL */
                params[j + 3] = r->document;
        }
        snprintf(what, sizeof(what), "upserting %zu rows", cnt);
        if (sql || pg->no_prepare)
                status = vcdc_pgvector_exec_bin(sink, what, NULL,
                                                sql ? sql : pg->upsert_sql,
                                                (int)nparams, params, lengths,
                                                formats, errstr, errstr_size);
        else if (!(status = prepare_upsert(sink, errstr, errstr_size)))
                status = vcdc_pgvector_exec_bin(sink, what, pg->stmt, NULL,
                                                (int)nparams, params, lengths,
                                                formats, errstr, errstr_size);
done:
        free(sql);
        free(bin);
        free(formats);
        free(lengths);
        free(params);
        return status;
}

static vcdc_sink_status_t delete_ids(vcdc_sink_t *sink, const char *const *ids,
                                     size_t cnt, char *errstr,
                                     size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;
        const char *params[1];
        char sql[128], what[64];
        char *array;

        if (!(array = vcdc_pgvector_text_array(ids, cnt))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                return VCDC_SINK_RETRIABLE;
        }
        params[0] = array;
        snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = ANY($1::text[])",
                 pg->qtable);
        snprintf(what, sizeof(what), "deleting %zu ids", cnt);
        status = vcdc_pgvector_run_cmd(sink, what, sql, 1, params, errstr,
                                       errstr_size);
        free(array);
        return status;
}

/*
 * The fenced offsets statement for offsets[0..cnt) of topic
 * (vcdc_pgvector_fence_sql()): record them, or (record 0) only check and
 * lock. A partition listed twice keeps its last entry (one statement
 * cannot touch a row twice).
 */
static vcdc_sink_status_t fence_offsets(vcdc_sink_t *sink, const char *topic,
                                        const vcdc_sink_offset_t *offsets,
                                        size_t cnt, int record, char *errstr,
                                        size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        const char **params = NULL;
        char(*text)[2][24] = NULL;
        char *sql = NULL;
        size_t i, j, rows = 0;

        if (!(params = calloc(2 + 2 * cnt, sizeof(*params))) ||
            !(text = calloc(cnt, sizeof(*text)))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                status = VCDC_SINK_RETRIABLE;
                goto done;
        }
        params[0] = pg->table;
        params[1] = topic;
        for (i = 0; i < cnt; i++) {
                for (j = i + 1; j < cnt; j++)
                        if (offsets[j].partition == offsets[i].partition)
                                break;
                if (j < cnt)
                        continue; /* a later entry wins */
                snprintf(text[rows][0], sizeof(text[rows][0]), "%" PRId32,
                         offsets[i].partition);
                snprintf(text[rows][1], sizeof(text[rows][1]), "%" PRId64,
                         offsets[i].offset);
                params[2 + 2 * rows] = text[rows][0];
                params[3 + 2 * rows] = text[rows][1];
                rows++;
        }
        if (!(sql = vcdc_pgvector_fence_sql(rows, record))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                status = VCDC_SINK_RETRIABLE;
                goto done;
        }
        status = vcdc_pgvector_run_cmd(
                sink, record ? FENCE_WHAT : FENCE_ONLY_WHAT, sql,
                (int)(2 + 2 * rows), params, errstr, errstr_size);
done:
        free(sql);
        free(text);
        free(params);
        return status;
}

/*
 * apply() up to its answers. The usual batch, to a table known to exist,
 * is left in a pipeline (pg->pipeline) for apply_wait() to read back; a
 * batch that creates the table is applied statement by statement here.
 */
static vcdc_sink_status_t apply_start(vcdc_sink_t *sink,
                                      const vcdc_sink_batch_t *batch,
                                      char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;
        size_t i, dim, create_dim = 0;
        int created = 0, use_copy;

        if (!batch->upsert_cnt && !batch->delete_cnt && !batch->offset_cnt)
                return VCDC_SINK_OK;
        if (batch->offset_cnt && !batch->topic) {
                snprintf(errstr, errstr_size,
                         "%s: a batch with offsets needs a topic", sink->name);
                return VCDC_SINK_FATAL;
        }
        /* Refuse what cannot apply before starting a transaction. */
        dim = pg->dim ? pg->dim : sink->conf.dim;
        if (!dim && batch->upsert_cnt && batch->upserts[0]->dim)
                dim = batch->upserts[0]->dim;
        for (i = 0; i < batch->upsert_cnt; i++) {
                const vcdc_record_t *rec = batch->upserts[i];
                if ((status = vcdc_pgvector_check_vector(sink, rec, errstr,
                                                         errstr_size)))
                        return status;
                if (dim && rec->dim != dim && (pg->dim || !pg->exists)) {
                        snprintf(errstr, errstr_size,
                                 "%s: record \"%.100s\": dimension %zu, the "
                                 "table has %zu",
                                 sink->name, rec->id, rec->dim, dim);
                        return VCDC_SINK_INVALID;
                }
        }
        if ((status = vcdc_pgvector_conn_ensure(sink, errstr, errstr_size)))
                return status;
        use_copy = vcdc_pgvector_use_copy(pg, batch->upsert_cnt);
        if (use_copy &&
            (status = vcdc_pgvector_stage_ensure(sink, errstr, errstr_size)))
                return status;
        /* The usual batch, to a table known to exist, is one round trip:
         * its statements go in one pipeline and are read back at the end.
         * Creating the table reads answers on the way, so it does not; nor
         * does a batch larger than max_batch(), which needs more
         * statements than a pipeline holds. A batch that COPYs waits for
         * everything up to its stream, and pipelines what follows it. */
        if (pg->exists && !use_copy &&
            vcdc_pgvector_statement_cnt(batch->upsert_cnt, batch->delete_cnt,
                                        batch->offset_cnt > 0,
                                        !pg->stmt[0] && !pg->no_prepare) <=
                    VCDC_PGVECTOR_PIPELINE_MAX)
                vcdc_pgvector_pipeline_start(pg);
        if ((status = vcdc_pgvector_run_cmd(sink, "BEGIN", "BEGIN", 0, NULL,
                                            errstr, errstr_size)))
                goto err;
        if (!pg->exists) {
                if ((status = vcdc_pgvector_refresh_target(sink, errstr,
                                                           errstr_size)))
                        goto err;
                if (!pg->exists && batch->upsert_cnt) {
                        create_dim = dim;
                        if ((status = vcdc_pgvector_create_table(
                                     sink, create_dim, errstr, errstr_size)))
                                goto err;
                        created = 1;
                }
        }
        /* COPY's stream cannot be pipelined: sent and waited for before
         * the rest, which is. It fills the session's staging table only. */
        if (use_copy) {
                if ((status = vcdc_pgvector_copy_stream(
                             sink, batch->upserts, batch->upsert_cnt, errstr,
                             errstr_size)))
                        goto err;
                if (pg->exists)
                        vcdc_pgvector_pipeline_start(pg);
        }
        /* The fence before any write to shared data: writers of a partition
         * queue on its offsets row before touching it, and a stale batch
         * stops here. */
        if (batch->offset_cnt &&
            (status = fence_offsets(sink, batch->topic, batch->offsets,
                                    batch->offset_cnt, !batch->fence_only,
                                    errstr, errstr_size)))
                goto err;
        if (use_copy && (status = vcdc_pgvector_copy_merge(
                                 sink, batch->upsert_cnt, errstr, errstr_size)))
                goto err;
        for (i = 0; !use_copy && i < batch->upsert_cnt;
             i += VCDC_PGVECTOR_CHUNK_ROWS) {
                size_t cnt = batch->upsert_cnt - i;
                if (cnt > VCDC_PGVECTOR_CHUNK_ROWS)
                        cnt = VCDC_PGVECTOR_CHUNK_ROWS;
                if ((status = upsert_chunk(sink, batch->upserts + i, cnt,
                                           errstr, errstr_size)))
                        goto err;
        }
        /* No table yet: nothing to delete. */
        if (batch->delete_cnt && (pg->exists || created) &&
            (status = delete_ids(sink, batch->delete_ids, batch->delete_cnt,
                                 errstr, errstr_size)))
                goto err;
        if ((status = vcdc_pgvector_run_cmd(sink, "COMMIT", "COMMIT", 0, NULL,
                                            errstr, errstr_size)))
                goto err;
        if (created) {
                pg->exists = 1;
                pg->dim = create_dim;
                VCDC_INFO(LOG_COMP, "%s: created with dimension %zu, metric %s",
                          sink->name, create_dim,
                          vcdc_metric_name(sink->conf.metric));
        }
        return VCDC_SINK_OK;
err:
        vcdc_pgvector_pipeline_finish(sink, 1 /*abandon*/, errstr, errstr_size);
        vcdc_pgvector_rollback(sink);
        after_failure(sink);
        return status;
}

vcdc_sink_status_t vcdc_pgvector_op_apply_wait(vcdc_sink_t *sink, char *errstr,
                                               size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;

        if ((status = vcdc_pgvector_pipeline_finish(sink, 0, errstr,
                                                    errstr_size))) {
                vcdc_pgvector_rollback(sink);
                after_failure(sink);
        }
        pg->stmt_fresh = 0;
        return status;
}

vcdc_sink_status_t vcdc_pgvector_op_apply(vcdc_sink_t *sink,
                                          const vcdc_sink_batch_t *batch,
                                          char *errstr, size_t errstr_size) {
        vcdc_sink_status_t status =
                apply_start(sink, batch, errstr, errstr_size);

        return status ? status
                      : vcdc_pgvector_op_apply_wait(sink, errstr, errstr_size);
}

vcdc_sink_status_t vcdc_pgvector_op_apply_send(vcdc_sink_t *sink,
                                               const vcdc_sink_batch_t *batch,
                                               char *errstr,
                                               size_t errstr_size) {
        pgvector_t *pg = sink->state;
        vcdc_sink_status_t status;
        int r;

        if ((status = apply_start(sink, batch, errstr, errstr_size)) ||
            !pg->pipeline)
                return status;
        if ((r = vcdc_pgvector_pipeline_sync(
                     sink, vcdc_clock_ms() + sink->conf.timeout_ms)) != 1) {
                pg->pipeline = 0;
                vcdc_pgvector_conn_failed(sink, "sending a batch", r, &status,
                                          errstr, errstr_size);
        }
        return status;
}

vcdc_sink_status_t
vcdc_pgvector_op_record_offsets(vcdc_sink_t *sink, const char *topic,
                                const vcdc_sink_offset_t *offsets, size_t cnt,
                                char *errstr, size_t errstr_size) {
        vcdc_sink_batch_t batch = {
                .topic = topic, .offsets = offsets, .offset_cnt = cnt};

        return vcdc_pgvector_op_apply(sink, &batch, errstr, errstr_size);
}

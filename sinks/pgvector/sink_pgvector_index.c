/*
 * vcdc - the pgvector sink's index (DESIGN.md, The index on NEW): builds
 * the HNSW or IVFFlat index vcdc names after the table, with CREATE INDEX
 * CONCURRENTLY on a connection of its own, so the sink's connection goes
 * on applying batches meanwhile; reports its state from the catalog and
 * pg_stat_progress_create_index on a second connection of its own.
 *
 * It never touches the sink's own connection (an apply may have a
 * pipeline open on it) nor the table's rows; the SQL text is
 * sink_pgvector_idxsql.c's.
 *
 * A build stopped midway (the consumer stopped, the server restarted)
 * leaves an INVALID index behind: the next start drops it (DROP INDEX
 * CONCURRENTLY) and builds again. A stopping sink cancels its build
 * rather than leave work running on the server.
 */
#include "sink_pgvector_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "sink_pgvector_index.h"

typedef enum { IDX_IDLE, IDX_BUILDING, IDX_WATCHING } idx_mode_t;

struct pgindex_s {
        PGconn *mon;   /* state queries, drops; NULL until needed */
        PGconn *build; /* the CREATE INDEX while it runs */
        idx_mode_t mode;
        vcdc_index_spec_t spec;
        char name[VCDC_PGVECTOR_IDENT_MAX + 1];
        int64_t started_ms;
};

void vcdc_pgvector_index_free(pgindex_t *ix) {
        char errstr[256];

        if (!ix)
                return;
        if (ix->build) {
                if (vcdc_pgvector_cancel(ix->build, 2000, errstr,
                                         sizeof(errstr)) == 1)
                        VCDC_NOTICE(LOG_COMP,
                                    "index %s: build cancelled; the next "
                                    "run drops what it left and builds "
                                    "again",
                                    ix->name);
                PQfinish(ix->build);
        }
        PQfinish(ix->mon);
        free(ix);
}

static pgindex_t *index_of(vcdc_sink_t *sink, char *errstr,
                           size_t errstr_size) {
        pgvector_t *pg = sink->state;

        if (!pg->index && !(pg->index = calloc(1, sizeof(*pg->index))))
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
        return pg->index;
}

/* The server's notices on the index's connections (pgvector's "hnsw
 * graph no longer fits into maintenance_work_mem", "ivfflat index created
 * with little data"): into our log, never raw onto stderr. */
static void notice_cb(void *arg, const char *message) {
        const vcdc_sink_t *sink = arg;

        VCDC_NOTICE(LOG_COMP, "%s: index build: %.*s", sink->name,
                    (int)strcspn(message, "\n"), message);
}

/* A connection of the index's own: the sink's parameters, another
 * application_name, and options ("-c statement_timeout=..."). */
static PGconn *connect_own(vcdc_sink_t *sink, const char *app,
                           const char *options, vcdc_sink_status_t *statusp,
                           char *errstr, size_t errstr_size) {
        pgvector_t *pg = sink->state;
        const char *keys[16], *values[16];
        size_t i, n = 0;
        PGconn *conn;

        for (i = 0; pg->keys[i] && n < 13; i++) {
                if (!strcmp(pg->keys[i], "application_name"))
                        continue;
                keys[n] = pg->keys[i];
                values[n++] = pg->values[i];
        }
        keys[n] = "application_name";
        values[n++] = app;
        keys[n] = "options";
        values[n++] = options;
        keys[n] = values[n] = NULL;
        if ((conn = vcdc_pgvector_connect(keys, values, sink->conf.timeout_ms,
                                          statusp, errstr, errstr_size)))
                PQsetNoticeProcessor(conn, notice_cb, sink);
        return conn;
}

static vcdc_sink_status_t mon_ensure(vcdc_sink_t *sink, pgindex_t *ix,
                                     char *errstr, size_t errstr_size) {
        vcdc_sink_status_t status = VCDC_SINK_OK;
        char options[64];

        if (ix->mon && PQstatus(ix->mon) == CONNECTION_OK)
                return VCDC_SINK_OK;
        PQfinish(ix->mon);
        snprintf(options, sizeof(options), "-c statement_timeout=%d",
                 sink->conf.timeout_ms);
        ix->mon = connect_own(sink, "vcdc-index", options, &status, errstr,
                              errstr_size);
        return ix->mon ? VCDC_SINK_OK : status;
}

/* Runs sql on the monitoring connection. Returns the result (PQclear()
 * it) or NULL with *statusp and errstr. */
static PGresult *mon_run(vcdc_sink_t *sink, pgindex_t *ix, const char *what,
                         const char *sql, int nparams,
                         const char *const *params, vcdc_sink_status_t *statusp,
                         char *errstr, size_t errstr_size) {
        PGresult *res;
        const char *code;

        if ((*statusp = mon_ensure(sink, ix, errstr, errstr_size)) !=
            VCDC_SINK_OK)
                return NULL;
        res = PQexecParams(ix->mon, sql, nparams, NULL, params, NULL, NULL, 0);
        if (res && (PQresultStatus(res) == PGRES_TUPLES_OK ||
                    PQresultStatus(res) == PGRES_COMMAND_OK))
                return res;
        code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        *statusp = vcdc_pgvector_sqlstate_status(code);
        snprintf(errstr, errstr_size, "%s: %s: %s%s%s", sink->name, what,
                 code ? code : "", code ? ": " : "",
                 res ? PQresultErrorMessage(res) : PQerrorMessage(ix->mon));
        errstr[strcspn(errstr, "\n")] = '\0';
        PQclear(res);
        if (PQstatus(ix->mon) != CONNECTION_OK) {
                PQfinish(ix->mon);
                ix->mon = NULL;
        }
        return NULL;
}

/* Fills info from the builds under way on the table, if one is of an
 * index in names (or of an index not created yet). */
static vcdc_sink_status_t read_progress(vcdc_sink_t *sink, pgindex_t *ix,
                                        const char *name1, const char *name2,
                                        vcdc_index_info_t *info, char *errstr,
                                        size_t errstr_size) {
        pgvector_t *pg = sink->state;
        const char *params[1] = {pg->qtable};
        vcdc_sink_status_t status;
        PGresult *res;
        int i;

        if (!(res = mon_run(sink, ix, "reading index progress",
                            vcdc_pgvector_index_progress_sql(), 1, params,
                            &status, errstr, errstr_size)))
                return status;
        for (i = 0; i < PQntuples(res); i++) {
                const char *name = PQgetvalue(res, i, 0);
                if (*name && strcmp(name, name1) && strcmp(name, name2))
                        continue; /* someone else's index */
                info->state = VCDC_INDEX_BUILDING;
                if (*name)
                        snprintf(info->name, sizeof(info->name), "%s", name);
                snprintf(info->phase, sizeof(info->phase), "%s",
                         PQgetvalue(res, i, 1));
                info->percent = vcdc_pgvector_index_percent(
                        strtoll(PQgetvalue(res, i, 2), NULL, 10),
                        strtoll(PQgetvalue(res, i, 3), NULL, 10),
                        strtoll(PQgetvalue(res, i, 4), NULL, 10),
                        strtoll(PQgetvalue(res, i, 5), NULL, 10));
                break;
        }
        PQclear(res);
        return VCDC_SINK_OK;
}

vcdc_sink_status_t vcdc_pgvector_op_index_state(vcdc_sink_t *sink,
                                                vcdc_index_kind_t kind,
                                                vcdc_index_info_t *info,
                                                char *errstr,
                                                size_t errstr_size) {
        pgvector_t *pg = sink->state;
        char hnsw[VCDC_PGVECTOR_IDENT_MAX + 1] = "";
        char ivf[VCDC_PGVECTOR_IDENT_MAX + 1] = "";
        char names[2 * VCDC_PGVECTOR_IDENT_MAX + 8];
        const char *params[2];
        vcdc_sink_status_t status;
        pgindex_t *ix;
        PGresult *res;

        if (!(ix = index_of(sink, errstr, errstr_size)))
                return VCDC_SINK_FATAL;
        if (kind != VCDC_INDEX_IVFFLAT)
                vcdc_pgvector_index_name(pg->table, VCDC_INDEX_HNSW, hnsw,
                                         sizeof(hnsw));
        if (kind != VCDC_INDEX_HNSW)
                vcdc_pgvector_index_name(pg->table, VCDC_INDEX_IVFFLAT, ivf,
                                         sizeof(ivf));
        /* Index names are letters, digits and '_': no quoting needed in
         * the array literal. */
        snprintf(names, sizeof(names), "{%s%s%s}", hnsw,
                 *hnsw && *ivf ? "," : "", ivf);
        params[0] = pg->qtable;
        params[1] = names;
        if (!(res = mon_run(sink, ix, "reading the index",
                            vcdc_pgvector_index_catalog_sql(), 2, params,
                            &status, errstr, errstr_size)))
                return status;
        if (PQntuples(res) > 0) {
                snprintf(info->name, sizeof(info->name), "%s",
                         PQgetvalue(res, 0, 0));
                info->state = !strcmp(PQgetvalue(res, 0, 1), "t")
                                      ? VCDC_INDEX_VALID
                                      : VCDC_INDEX_INVALID;
                info->kind = vcdc_pgvector_index_kind_of(PQgetvalue(res, 0, 2));
                snprintf(info->opclass, sizeof(info->opclass), "%s",
                         PQgetvalue(res, 0, 3));
        }
        PQclear(res);
        if (info->state == VCDC_INDEX_VALID)
                return VCDC_SINK_OK;
        if ((status = read_progress(sink, ix, hnsw, ivf, info, errstr,
                                    errstr_size)) != VCDC_SINK_OK)
                return status;
        if (info->state == VCDC_INDEX_BUILDING &&
            info->kind == VCDC_INDEX_NONE) {
                info->kind = !strcmp(info->name, ivf) || !*hnsw
                                     ? VCDC_INDEX_IVFFLAT
                                     : VCDC_INDEX_HNSW;
                if (!info->name[0])
                        snprintf(info->name, sizeof(info->name), "%s",
                                 info->kind == VCDC_INDEX_HNSW ? hnsw : ivf);
        }
        return VCDC_SINK_OK;
}

/* Sends the CREATE INDEX on a new connection of its own. */
static vcdc_sink_status_t send_build(vcdc_sink_t *sink, pgindex_t *ix,
                                     char *errstr, size_t errstr_size) {
        vcdc_sink_status_t status = VCDC_SINK_OK;
        char params[96], options[96];
        char *sql;

        if (!(sql = vcdc_pgvector_index_create_sql(
                      ((pgvector_t *)sink->state)->table, &ix->spec,
                      sink->conf.metric))) {
                snprintf(errstr, errstr_size, "%s: out of memory", sink->name);
                return VCDC_SINK_FATAL;
        }
        /* A build takes as long as it takes: no statement timeout; its
         * memory as given, else the server's. */
        if (ix->spec.maintenance_work_mem_kb)
                snprintf(options, sizeof(options),
                         "-c statement_timeout=0 -c "
                         "maintenance_work_mem=%lldkB",
                         ix->spec.maintenance_work_mem_kb);
        else
                snprintf(options, sizeof(options), "-c statement_timeout=0");
        if (!(ix->build = connect_own(sink, "vcdc-index-build", options,
                                      &status, errstr, errstr_size)))
                goto done;
        if (!PQsendQuery(ix->build, sql)) {
                snprintf(errstr, errstr_size, "%s: building index %s: %s",
                         sink->name, ix->name, PQerrorMessage(ix->build));
                errstr[strcspn(errstr, "\n")] = '\0';
                PQfinish(ix->build);
                ix->build = NULL;
                status = VCDC_SINK_RETRIABLE;
                goto done;
        }
        ix->mode = IDX_BUILDING;
        ix->started_ms = vcdc_clock_ms();
        vcdc_index_spec_format(&ix->spec, params, sizeof(params));
        VCDC_NOTICE(LOG_COMP,
                    "%s: building index %s (%s, %s, %s) "
                    "concurrently: applying goes on meanwhile",
                    sink->name, ix->name, vcdc_index_kind_name(ix->spec.kind),
                    vcdc_pgvector_index_opclass(sink->conf.metric), params);
done:
        free(sql);
        return status;
}

/* What to do about the index named ix->name as it is now: nothing (it is
 * valid, or the table does not exist), wait for another session's build,
 * or (after dropping an invalid leftover) build it. */
static vcdc_sink_status_t decide(vcdc_sink_t *sink, pgindex_t *ix,
                                 int *startedp, char *errstr,
                                 size_t errstr_size) {
        const char *want = vcdc_pgvector_index_opclass(sink->conf.metric);
        vcdc_index_info_t info = {.percent = -1};
        vcdc_sink_status_t status;
        PGresult *res;
        char *sql;

        *startedp = 0;
        ix->mode = IDX_IDLE;
        if ((status = vcdc_pgvector_op_index_state(sink, ix->spec.kind, &info,
                                                   errstr, errstr_size)) !=
            VCDC_SINK_OK)
                return status;
        switch (info.state) {
        case VCDC_INDEX_VALID:
                if (strcmp(info.opclass, want))
                        VCDC_WARN(LOG_COMP,
                                  "%s: index %s exists with operator class "
                                  "%s, the metric %s wants %s: drop it to "
                                  "have it built again",
                                  sink->name, ix->name, info.opclass,
                                  vcdc_metric_name(sink->conf.metric), want);
                else
                        VCDC_NOTICE(LOG_COMP,
                                    "%s: index %s exists and is valid: "
                                    "nothing to build",
                                    sink->name, ix->name);
                return VCDC_SINK_OK;
        case VCDC_INDEX_BUILDING:
                VCDC_NOTICE(LOG_COMP,
                            "%s: index %s is being built by another "
                            "session: waiting for it",
                            sink->name, ix->name);
                ix->mode = IDX_WATCHING;
                *startedp = 1;
                return VCDC_SINK_OK;
        case VCDC_INDEX_INVALID:
                VCDC_WARN(LOG_COMP,
                          "%s: index %s is invalid (a build stopped "
                          "midway): dropping it and building it again",
                          sink->name, ix->name);
                if (!(sql = vcdc_pgvector_index_drop_sql(ix->name))) {
                        snprintf(errstr, errstr_size, "%s: out of memory",
                                 sink->name);
                        return VCDC_SINK_FATAL;
                }
                res = mon_run(sink, ix, "dropping the invalid index", sql, 0,
                              NULL, &status, errstr, errstr_size);
                free(sql);
                if (!res)
                        return status;
                PQclear(res);
                break;
        case VCDC_INDEX_ABSENT:
                break;
        }
        /* The table may not exist yet (nothing applied so far). */
        {
                const char *params[1] = {((pgvector_t *)sink->state)->qtable};
                int exists;
                if (!(res = mon_run(sink, ix, "looking for the table",
                                    "SELECT to_regclass($1) IS NOT NULL", 1,
                                    params, &status, errstr, errstr_size)))
                        return status;
                exists = PQntuples(res) == 1 &&
                         !strcmp(PQgetvalue(res, 0, 0), "t");
                PQclear(res);
                if (!exists) {
                        VCDC_NOTICE(LOG_COMP,
                                    "%s: the table does not exist yet: no "
                                    "index to build",
                                    sink->name);
                        return VCDC_SINK_OK;
                }
        }
        if ((status = send_build(sink, ix, errstr, errstr_size)) ==
            VCDC_SINK_OK)
                *startedp = 1;
        return status;
}

vcdc_sink_status_t vcdc_pgvector_op_index_start(vcdc_sink_t *sink,
                                                const vcdc_index_spec_t *spec,
                                                int *startedp, char *errstr,
                                                size_t errstr_size) {
        pgvector_t *pg = sink->state;
        pgindex_t *ix;

        if (!(ix = index_of(sink, errstr, errstr_size)))
                return VCDC_SINK_FATAL;
        if (ix->mode != IDX_IDLE) {
                *startedp = 1;
                return VCDC_SINK_OK;
        }
        ix->spec = *spec;
        if (vcdc_pgvector_index_name(pg->table, spec->kind, ix->name,
                                     sizeof(ix->name))) {
                snprintf(errstr, errstr_size, "%s: no index of kind %s",
                         sink->name, vcdc_index_kind_name(spec->kind));
                return VCDC_SINK_FATAL;
        }
        return decide(sink, ix, startedp, errstr, errstr_size);
}

/* The build's answer, once it is in. */
static vcdc_sink_status_t build_answer(vcdc_sink_t *sink, pgindex_t *ix,
                                       char *errstr, size_t errstr_size) {
        vcdc_sink_status_t status = VCDC_SINK_OK;
        const char *code;
        PGresult *res;

        while ((res = PQgetResult(ix->build))) {
                if (PQresultStatus(res) != PGRES_COMMAND_OK &&
                    status == VCDC_SINK_OK) {
                        code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
                        status = vcdc_pgvector_sqlstate_status(code);
                        snprintf(errstr, errstr_size,
                                 "%s: building index %s: %s%s%s", sink->name,
                                 ix->name, code ? code : "", code ? ": " : "",
                                 PQresultErrorMessage(res));
                        errstr[strcspn(errstr, "\n")] = '\0';
                }
                PQclear(res);
        }
        PQfinish(ix->build);
        ix->build = NULL;
        ix->mode = IDX_IDLE;
        if (status == VCDC_SINK_OK)
                VCDC_NOTICE(LOG_COMP, "%s: index %s built in %.1f s",
                            sink->name, ix->name,
                            (double)(vcdc_clock_ms() - ix->started_ms) /
                                    1000.0);
        return status;
}

vcdc_sink_status_t vcdc_pgvector_op_index_poll(vcdc_sink_t *sink, int *donep,
                                               char *errstr,
                                               size_t errstr_size) {
        vcdc_index_info_t info = {.percent = -1};
        vcdc_sink_status_t status;
        pgindex_t *ix = ((pgvector_t *)sink->state)->index;
        int started;

        *donep = 1;
        if (!ix || ix->mode == IDX_IDLE)
                return VCDC_SINK_OK;
        *donep = 0;
        if (ix->mode == IDX_WATCHING) {
                if ((status = vcdc_pgvector_op_index_state(
                             sink, ix->spec.kind, &info, errstr,
                             errstr_size)) != VCDC_SINK_OK ||
                    info.state == VCDC_INDEX_BUILDING)
                        return status;
                /* The other build is over: valid, or to build again. */
                status = decide(sink, ix, &started, errstr, errstr_size);
                *donep = !started;
                return status;
        }
        if (!PQconsumeInput(ix->build)) {
                snprintf(errstr, errstr_size,
                         "%s: building index %s: connection lost: %s",
                         sink->name, ix->name, PQerrorMessage(ix->build));
                errstr[strcspn(errstr, "\n")] = '\0';
                PQfinish(ix->build);
                ix->build = NULL;
                ix->mode = IDX_IDLE;
                *donep = 1;
                return VCDC_SINK_RETRIABLE;
        }
        if (PQisBusy(ix->build))
                return VCDC_SINK_OK;
        *donep = 1;
        return build_answer(sink, ix, errstr, errstr_size);
}

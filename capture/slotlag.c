/*
 * vcdc - a capture's lag as its database sees it (slotlag.h).
 */
#include "slotlag.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgconn.h"
#include "source.h"
#include "url.h"

int vcdc_slotlag_read(const char *url_str, vcdc_slotlag_t *out) {
        static const char *const allowed[] = {"slot", "table", "sslmode", NULL};
        static const char sql[] =
                "SELECT s.active, s.confirmed_flush_lsn::text, "
                "pg_current_wal_lsn()::text, coalesce(s.wal_status, ''), "
                "coalesce(extract(epoch FROM r.flush_lag)::float8, -1) "
                "FROM pg_replication_slots s LEFT JOIN pg_stat_replication r "
                "ON r.pid = s.active_pid WHERE s.slot_name = $1";
        const char *slot, *table, *params[1];
        vcdc_pgconn_t *pc = NULL;
        vcdc_url_t *url = NULL;
        PGresult *res = NULL;
        PGconn *conn = NULL;
        char err[512];
        int status, r = -1;
        size_t i;

        char *errstr = out->error;
        size_t errstr_size = sizeof(out->error);

        memset(out, 0, sizeof(*out));
        if (!(url = vcdc_url_parse(url_str, err, sizeof(err))) ||
            vcdc_url_check_params(url, allowed, err, sizeof(err)) == -1) {
                snprintf(errstr, errstr_size, "--capture: %s", err);
                goto done;
        }
        slot = vcdc_url_param(url, "slot");
        table = vcdc_url_param(url, "table");
        if (slot)
                snprintf(out->slot, sizeof(out->slot), "%s", slot);
        else if (table)
                snprintf(out->slot, sizeof(out->slot), "vcdc_%s", table);
        for (i = 0; out->slot[i]; i++)
                if (!slot && out->slot[i] >= 'A' && out->slot[i] <= 'Z')
                        out->slot[i] = (char)(out->slot[i] - 'A' + 'a');
        if (strcmp(url->scheme, "pgvector") ||
            !vcdc_source_slot_name_valid(out->slot)) {
                snprintf(errstr, errstr_size,
                         "--capture %s://...: expected "
                         "pgvector://USER@HOST:PORT/DB?slot=NAME",
                         url->scheme);
                goto done;
        }
        snprintf(out->name, sizeof(out->name), "%s@%s:%d/%s", out->slot,
                 url->host, url->port ? url->port : 5432, url->path);
        if (!(pc = vcdc_pgconn_new(url, 10, errstr, errstr_size)))
                goto done;
        if (!(conn = vcdc_pgconn_connect(pc, 0, &status, errstr, errstr_size)))
                goto done;
        params[0] = out->slot;
        if (!(res = vcdc_pgconn_exec(conn, sql, 1, params, &status, err,
                                     sizeof(err)))) {
                snprintf(errstr, errstr_size, "%s: %s", out->name, err);
                goto done;
        }
        if (PQntuples(res) != 1) {
                snprintf(errstr, errstr_size, "%s: no such replication slot",
                         out->name);
                goto done;
        }
        r = 0;
        out->exists = 1;
        out->active = PQgetvalue(res, 0, 0)[0] == 't';
        if (vcdc_pgconn_lsn_parse(PQgetvalue(res, 0, 1), &out->confirmed) ==
                    -1 ||
            vcdc_pgconn_lsn_parse(PQgetvalue(res, 0, 2), &out->current) == -1) {
                snprintf(errstr, errstr_size,
                         "%s: unexpected positions \"%s\", \"%s\"", out->name,
                         PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
                r = -1;
                goto done;
        }
        snprintf(out->wal_status, sizeof(out->wal_status), "%s",
                 PQgetvalue(res, 0, 3));
        out->lag_bytes = out->current > out->confirmed
                                 ? (int64_t)(out->current - out->confirmed)
                                 : 0;
        out->lag_s = strtod(PQgetvalue(res, 0, 4), NULL);
        /* The walsender forgets its lag once idle: caught up is 0. */
        if (out->lag_s < 0 && out->lag_bytes == 0)
                out->lag_s = 0;
done:
        PQclear(res);
        PQfinish(conn);
        vcdc_pgconn_destroy(pc);
        vcdc_url_destroy(url);
        return r;
}

void vcdc_slotlag_print(FILE *fp, const vcdc_slotlag_t *c) {
        char confirmed[VCDC_LSN_TEXT_MAX], current[VCDC_LSN_TEXT_MAX];
        char lag_s[32];

        if (c->error[0]) {
                fprintf(fp, "capture %s  ERROR  %s\n", c->name, c->error);
                return;
        }
        vcdc_pgconn_lsn_format(c->confirmed, confirmed, sizeof(confirmed));
        vcdc_pgconn_lsn_format(c->current, current, sizeof(current));
        if (c->lag_s < 0)
                snprintf(lag_s, sizeof(lag_s), "?");
        else
                snprintf(lag_s, sizeof(lag_s), "%.1f s", c->lag_s);
        fprintf(fp,
                "capture %s  %s  lag %" PRId64 " bytes  time lag %s  "
                "confirmed %s of %s  wal %s\n",
                c->name, c->active ? "OK" : "STOPPED", c->lag_bytes, lag_s,
                confirmed, current, c->wal_status[0] ? c->wal_status : "?");
}

json_t *vcdc_slotlag_json(const vcdc_slotlag_t *c, size_t n) {
        json_t *arr = json_array(), *o;
        size_t i;

        for (i = 0; arr && i < n; i++) {
                o = c[i].error[0]
                            ? json_pack("{s:s, s:s}", "slot", c[i].name,
                                        "error", c[i].error)
                            : json_pack("{s:s, s:s, s:I, s:I, s:I, s:f, "
                                        "s:s}",
                                        "slot", c[i].name, "state",
                                        c[i].active ? "OK" : "STOPPED",
                                        "confirmed_lsn",
                                        (json_int_t)c[i].confirmed,
                                        "current_lsn", (json_int_t)c[i].current,
                                        "lag_bytes", (json_int_t)c[i].lag_bytes,
                                        "lag_s", c[i].lag_s, "wal_status",
                                        c[i].wal_status);
                if (json_array_append_new(arr, o)) {
                        json_decref(arr);
                        return NULL;
                }
        }
        return arr;
}

/*
 * vcdc - what the capture tells its operator: a progress line on stderr
 * every vcdc.progress.ms with the lag behind the server's WAL (bytes:
 * pg_current_wal_lsn() minus the confirmed position; seconds: how long the
 * oldest change not yet confirmed has waited), and Prometheus metrics.
 * It reads the capture's state and never changes what is published or
 * confirmed.
 */
#include "capture_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

void vcdc_capture_stats_update(vcdc_capture_t *cap) {
        vcdc_producer_stats_t st;

        if (!cap->p)
                return;
        vcdc_producer_stats(cap->p, &st);
        atomic_store(&cap->stats.records_sent, st.sent);
        atomic_store(&cap->stats.records_acked, st.acked);
}

/* Bytes in a short human form. */
static void fmt_bytes(char *buf, size_t size, uint64_t b) {
        if (b < 10 * 1024)
                snprintf(buf, size, "%" PRIu64 " B", b);
        else if (b < 10 * 1024 * 1024)
                snprintf(buf, size, "%.1f KiB", (double)b / 1024.0);
        else
                snprintf(buf, size, "%.1f MiB", (double)b / 1048576.0);
}

/* The server's WAL position and the lag, into the stats. */
static void sample_lag(vcdc_capture_t *cap) {
        uint64_t server = 0, confirmed = cap->confirmed;
        char err[512];
        PGconn *conn;
        int status;
        int64_t lag_ms;

        if (!(conn = vcdc_capture_side(cap, &status, err, sizeof(err))) ||
            vcdc_source_wal_lsn(conn, &server, err, sizeof(err)) !=
                    VCDC_PG_OK) {
                VCDC_DEBUG(LOG_COMP, "lag unknown: %s", err);
                atomic_store(&cap->stats.lag_ms, -1);
                return;
        }
        atomic_store(&cap->stats.server_lsn, server);
        /* Behind with nothing received yet beyond the confirmed position:
         * the server is still decoding, or only other tables changed. */
        lag_ms = 0;
        if (server > confirmed && cap->unconfirmed_since)
                lag_ms = vcdc_wall_ms() - (cap->unconfirmed_ts_us / 1000 +
                                           VCDC_PG_EPOCH_UNIX_S * 1000);
        atomic_store(&cap->stats.lag_ms, lag_ms < 0 ? 0 : lag_ms);
}

void vcdc_capture_progress(vcdc_capture_t *cap, int force) {
        int64_t every = cap->progress_every, now = vcdc_clock_ms(), lag_ms;
        uint64_t changes, rows, server, confirmed;
        char lsn[VCDC_LSN_TEXT_MAX], bytes[32];
        double secs;

        if (!force && (!every || now - cap->progress_ms < every))
                return;
        secs = (double)(now - cap->progress_ms) / 1000.0;
        cap->progress_ms = now;
        vcdc_capture_stats_update(cap);
        rows = atomic_load(&cap->stats.snapshot_rows);
        if (atomic_load(&cap->stats.phase) == 1) {
                VCDC_NOTICE(
                        LOG_COMP, "snapshot: %" PRIu64 " rows (%.0f/s)", rows,
                        secs > 0 ? (double)(rows - cap->progress_changes) / secs
                                 : 0.0);
                cap->progress_changes = rows;
                return;
        }
        if (atomic_load(&cap->stats.phase) != 2)
                return;
        sample_lag(cap);
        changes = atomic_load(&cap->stats.changes);
        /* Idle and caught up: a line a minute is enough. */
        if (!force && changes == cap->progress_changes &&
            atomic_load(&cap->stats.lag_ms) < 1000 &&
            now - cap->progress_line_ms < 60000)
                return;
        cap->progress_line_ms = now;
        server = atomic_load(&cap->stats.server_lsn);
        confirmed = cap->confirmed;
        lag_ms = atomic_load(&cap->stats.lag_ms);
        vcdc_pgconn_lsn_format(confirmed, lsn, sizeof(lsn));
        fmt_bytes(bytes, sizeof(bytes),
                  server > confirmed ? server - confirmed : 0);
        if (lag_ms < 0)
                VCDC_NOTICE(
                        LOG_COMP,
                        "streaming: %" PRIu64 " changes (%.0f/s), "
                        "confirmed %s, lag unknown",
                        changes,
                        secs > 0 ? (double)(changes - cap->progress_changes) /
                                           secs
                                 : 0.0,
                        lsn);
        else
                VCDC_NOTICE(
                        LOG_COMP,
                        "streaming: %" PRIu64 " changes (%.0f/s), "
                        "confirmed %s, lag %s / %.1f s",
                        changes,
                        secs > 0 ? (double)(changes - cap->progress_changes) /
                                           secs
                                 : 0.0,
                        lsn, bytes, (double)lag_ms / 1000.0);
        cap->progress_changes = changes;
}

static size_t render(char *buf, size_t size, void *opaque) {
        vcdc_capture_t *cap = opaque;
        capture_stats_t *s = &cap->stats;
        uint64_t server = atomic_load(&s->server_lsn),
                 confirmed = atomic_load(&s->confirmed_lsn);
        int64_t lag_ms = atomic_load(&s->lag_ms);
        int n;

        n = snprintf(
                buf, size,
                "# HELP vcdc_capture_snapshot_rows_total Rows the initial "
                "snapshot published.\n"
                "# TYPE vcdc_capture_snapshot_rows_total counter\n"
                "vcdc_capture_snapshot_rows_total %" PRIu64 "\n"
                "# HELP vcdc_capture_changes_total Row changes of the table "
                "read from the stream.\n"
                "# TYPE vcdc_capture_changes_total counter\n"
                "vcdc_capture_changes_total %" PRIu64 "\n"
                "# TYPE vcdc_capture_transactions_total counter\n"
                "vcdc_capture_transactions_total %" PRIu64 "\n"
                "# TYPE vcdc_capture_records_sent_total counter\n"
                "vcdc_capture_records_sent_total %" PRIu64 "\n"
                "# TYPE vcdc_capture_records_acked_total counter\n"
                "vcdc_capture_records_acked_total %" PRIu64 "\n"
                "# HELP vcdc_capture_toast_rereads_total Rows read again for "
                "an unchanged TOASTed value.\n"
                "# TYPE vcdc_capture_toast_rereads_total counter\n"
                "vcdc_capture_toast_rereads_total %" PRIu64 "\n"
                "# TYPE vcdc_capture_bad_rows_total counter\n"
                "vcdc_capture_bad_rows_total %" PRIu64 "\n"
                "# TYPE vcdc_capture_truncates_skipped_total counter\n"
                "vcdc_capture_truncates_skipped_total %" PRIu64 "\n"
                "# HELP vcdc_capture_reconnects_total Streams restarted "
                "after a lost connection or failed deliveries.\n"
                "# TYPE vcdc_capture_reconnects_total counter\n"
                "vcdc_capture_reconnects_total %" PRIu64 "\n"
                "# HELP vcdc_capture_confirmed_lsn The last position "
                "confirmed to the server.\n"
                "# TYPE vcdc_capture_confirmed_lsn gauge\n"
                "vcdc_capture_confirmed_lsn %" PRIu64 "\n"
                "# TYPE vcdc_capture_server_lsn gauge\n"
                "vcdc_capture_server_lsn %" PRIu64 "\n"
                "# HELP vcdc_capture_lag_bytes WAL bytes between the "
                "server's position and the confirmed one.\n"
                "# TYPE vcdc_capture_lag_bytes gauge\n"
                "vcdc_capture_lag_bytes %" PRIu64 "\n"
                "# HELP vcdc_capture_lag_seconds How long the oldest change "
                "not yet confirmed has waited (-1: unknown).\n"
                "# TYPE vcdc_capture_lag_seconds gauge\n"
                "vcdc_capture_lag_seconds %.3f\n"
                "# HELP vcdc_capture_phase 0 starting, 1 snapshot, 2 "
                "streaming.\n"
                "# TYPE vcdc_capture_phase gauge\n"
                "vcdc_capture_phase %d\n",
                (uint64_t)atomic_load(&s->snapshot_rows),
                (uint64_t)atomic_load(&s->changes),
                (uint64_t)atomic_load(&s->transactions),
                (uint64_t)atomic_load(&s->records_sent),
                (uint64_t)atomic_load(&s->records_acked),
                (uint64_t)atomic_load(&s->toast_rereads),
                (uint64_t)atomic_load(&s->bad_rows),
                (uint64_t)atomic_load(&s->truncates),
                (uint64_t)atomic_load(&s->reconnects), confirmed, server,
                server > confirmed ? server - confirmed : 0,
                lag_ms < 0 ? -1.0 : (double)lag_ms / 1000.0,
                atomic_load(&s->phase));
        if (n < 0)
                return 0;
        return (size_t)n < size ? (size_t)n : size - 1;
}

int vcdc_capture_metrics_start(vcdc_capture_t *cap, char *errstr,
                               size_t errstr_size) {
        if (!(cap->metrics = vcdc_metrics_start(
                      vcdc_conf_str(cap->conf, "vcdc.metrics.bind"),
                      cap->opts.metrics_port, render, cap, errstr,
                      errstr_size)))
                return -1;
        VCDC_INFO(LOG_COMP, "metrics on %s:%d/metrics",
                  vcdc_conf_str(cap->conf, "vcdc.metrics.bind"),
                  vcdc_metrics_port(cap->metrics));
        return 0;
}

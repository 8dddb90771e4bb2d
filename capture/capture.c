/*
 * vcdc - the capture's lifecycle (capture.h): start-up checks, the initial
 * snapshot and the permanent slot, the stream's loop, and the position
 * confirmed to the server. It must never confirm an LSN before Kafka has
 * acknowledged every record of every transaction up to it.
 *
 * Acknowledgements: the producer counts records sent and acknowledged, not
 * which; so "every record up to here is acknowledged" is known exactly
 * when the two counts meet (nothing in flight). Under light load that is
 * after each transaction; under a steady flow the loop makes it happen at
 * least every vcdc.commit.interval.ms by waiting for the deliveries in
 * flight (a few milliseconds) before reading on.
 */
#include "capture_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* Standby status updates at least this often, so that the server's
 * wal_sender_timeout (60 s by default) never ends a healthy stream. */
#define STATUS_INTERVAL_MS 10000
/* A confirmation is sent at most this often. */
#define STATUS_MIN_MS 100
/* Messages queued in librdkafka beyond which the stream is not read (the
 * broker is down or slow): memory stays bounded, the server is still
 * answered. */
#define OUTQ_HIGH 200000
/* Frames already buffered are decoded and sent this many at a time before
 * the loop's bookkeeping (delivery reports, the position, status updates,
 * the queue's bound) runs again: once per frame it cost more locks and
 * clock reads than the frame's own decoding. */
#define BURST_FRAMES 256

/*
 * Names, options, construction.
 */

/* librdkafka's queue holds at most 100,000 messages by default: a
 * snapshot fills it within a fraction of a second, and from then on each
 * send waits for a delivery report to make room, in step with the broker
 * (a 200,000-row snapshot ran at 0.6 of COPY's rate that way, 0.75 with
 * room for all of it). The capture allows 1,000,000 messages and 256 MB
 * (librdkafka's byte bound is 1 GB), unless -X says otherwise. */
static int producer_defaults(vcdc_conf_t *conf, char *errstr,
                             size_t errstr_size) {
        static const struct {
                const char *name, *librdkafka_default, *capture_default;
        } keys[] = {
                {"queue.buffering.max.messages", "100000", "1000000"},
                {"queue.buffering.max.kbytes", "1048576", "262144"},
        };
        char v[64];
        size_t i, vsize;

        for (i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
                vsize = sizeof(v);
                if (rd_kafka_conf_get(vcdc_conf_kafka(conf), keys[i].name, v,
                                      &vsize) == RD_KAFKA_CONF_OK &&
                    !strcmp(v, keys[i].librdkafka_default) &&
                    vcdc_conf_set(conf, keys[i].name, keys[i].capture_default,
                                  errstr, errstr_size) == -1)
                        return -1;
        }
        return 0;
}

vcdc_capture_t *vcdc_capture_new(vcdc_conf_t *conf,
                                 const vcdc_capture_opts_t *opts, int *exitp,
                                 char *errstr, size_t errstr_size) {
        static const char *const allowed[] = {"table", "sslmode", NULL};
        vcdc_capture_t *cap = calloc(1, sizeof(*cap));
        const char *table, *cols[4];
        char err[512];
        size_t i;

        *exitp = VCDC_CAPTURE_EXIT_USAGE;
        if (!cap) {
                snprintf(errstr, errstr_size, "out of memory");
                *exitp = VCDC_CAPTURE_EXIT_FATAL;
                return NULL;
        }
        cap->opts = *opts;
        cap->conf = conf;
        cap->progress_every = vcdc_conf_int(conf, "vcdc.progress.ms");
        if (!(cap->url = vcdc_url_parse(opts->source_url, err, sizeof(err)))) {
                snprintf(errstr, errstr_size, "--from: %s", err);
                goto err;
        }
        if (strcmp(cap->url->scheme, "pgvector")) {
                snprintf(errstr, errstr_size,
                         "--from %s: expected a pgvector://USER@HOST:PORT/"
                         "DB?table=NAME URL",
                         cap->url->scheme);
                goto err;
        }
        if (vcdc_url_check_params(cap->url, allowed, err, sizeof(err)) == -1) {
                snprintf(errstr, errstr_size, "--from: %s", err);
                goto err;
        }
        table = vcdc_url_param(cap->url, "table");
        if (!table || !vcdc_source_ident_valid(table)) {
                snprintf(errstr, errstr_size,
                         "--from: %s: ?table=NAME is required: 1..63 "
                         "letters, digits or _, not starting with a digit",
                         table ? "invalid table name" : "no table");
                goto err;
        }
        cap->names.table = table;
        cap->names.id = opts->id_column ? opts->id_column : "id";
        cap->names.vector =
                opts->vector_column ? opts->vector_column : "embedding";
        cap->names.metadata =
                opts->metadata_column ? opts->metadata_column : "metadata";
        cap->names.document =
                opts->document_column ? opts->document_column : "document";
        cap->names.metadata_set = opts->metadata_column != NULL;
        cap->names.document_set = opts->document_column != NULL;
        cols[0] = cap->names.id;
        cols[1] = cap->names.vector;
        cols[2] = cap->names.metadata;
        cols[3] = cap->names.document;
        for (i = 0; i < 4; i++)
                if (!vcdc_source_ident_valid(cols[i])) {
                        snprintf(errstr, errstr_size,
                                 "column name \"%.80s\": 1..63 letters, "
                                 "digits or _, not starting with a digit",
                                 cols[i]);
                        goto err;
                }
        if (opts->slot) {
                snprintf(cap->slot, sizeof(cap->slot), "%s", opts->slot);
        } else {
                snprintf(cap->slot, sizeof(cap->slot), "vcdc_%s", table);
                for (i = 0; cap->slot[i]; i++)
                        if (cap->slot[i] >= 'A' && cap->slot[i] <= 'Z')
                                cap->slot[i] = (char)(cap->slot[i] - 'A' + 'a');
        }
        if (!vcdc_source_slot_name_valid(cap->slot) ||
            (opts->slot && strlen(opts->slot) > 63)) {
                snprintf(errstr, errstr_size,
                         "--slot \"%.80s\": 1..63 lower-case letters, "
                         "digits or _",
                         cap->slot);
                goto err;
        }
        /* Default slots are vcdc_...: the marker's prefix is none of them. */
        snprintf(cap->pending, sizeof(cap->pending), "vcdcp_%.57s", cap->slot);
        snprintf(cap->publication, sizeof(cap->publication), "%s",
                 opts->publication ? opts->publication : "");
        if (!opts->publication)
                snprintf(cap->publication, sizeof(cap->publication),
                         "vcdc_%.58s", table);
        if (!vcdc_source_ident_valid(cap->publication) ||
            (opts->publication && strlen(opts->publication) > 63)) {
                snprintf(errstr, errstr_size,
                         "--publication \"%.80s\": 1..63 letters, digits or "
                         "_, not starting with a digit",
                         cap->publication);
                goto err;
        }
        if (opts->collection &&
            (!*opts->collection ||
             strlen(opts->collection) > VCDC_COLLECTION_MAX_BYTES)) {
                snprintf(errstr, errstr_size, "--collection: 1..%d bytes",
                         VCDC_COLLECTION_MAX_BYTES);
                goto err;
        }
        snprintf(cap->collection, sizeof(cap->collection), "%s",
                 opts->collection ? opts->collection : table);
        if (!opts->drop_slot && (!opts->topic || !*opts->topic)) {
                snprintf(errstr, errstr_size, "-t TOPIC is required");
                goto err;
        }
        *exitp = VCDC_CAPTURE_EXIT_FATAL;
        if (!(cap->pc = vcdc_pgconn_new(cap->url, 10, errstr, errstr_size)) ||
            !(cap->dec = vcdc_pgoutput_new())) {
                if (cap->pc)
                        snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (!opts->drop_slot &&
            (producer_defaults(conf, errstr, errstr_size) == -1 ||
             !(cap->p = vcdc_producer_new(conf, opts->topic, errstr,
                                          errstr_size)))) {
                *exitp = VCDC_CAPTURE_EXIT_USAGE;
                goto err;
        }
        cap->rel.id = cap->rel.vector = cap->rel.metadata = cap->rel.document =
                -1;
        atomic_store(&cap->stats.lag_ms, -1);
        return cap;
err:
        vcdc_capture_destroy(cap);
        return NULL;
}

void vcdc_capture_destroy(vcdc_capture_t *cap) {
        if (!cap)
                return;
        vcdc_metrics_stop(cap->metrics);
        vcdc_replication_close(cap->repl);
        PQfinish(cap->side);
        vcdc_producer_destroy(cap->p);
        vcdc_pgoutput_destroy(cap->dec);
        vcdc_rowmap_destroy(cap->rm);
        vcdc_source_table_clear(&cap->table);
        vcdc_pgconn_destroy(cap->pc);
        vcdc_url_destroy(cap->url);
        free(cap);
}

PGconn *vcdc_capture_side(vcdc_capture_t *cap, int *statusp, char *errstr,
                          size_t errstr_size) {
        if (cap->side && PQstatus(cap->side) == CONNECTION_OK &&
            PQtransactionStatus(cap->side) == PQTRANS_IDLE)
                return cap->side;
        PQfinish(cap->side);
        cap->side =
                vcdc_pgconn_connect(cap->pc, 0, statusp, errstr, errstr_size);
        return cap->side;
}

/* Sleeps ms in short steps, serving delivery reports, until *run is 0. */
static void nap(vcdc_capture_t *cap, int64_t ms) {
        int64_t end = vcdc_clock_ms() + ms, left;

        while (*cap->run && (left = end - vcdc_clock_ms()) > 0) {
                if (cap->p)
                        vcdc_producer_poll(cap->p,
                                           left > 100 ? 100 : (int)left);
                else
                        nanosleep(&(struct timespec){.tv_nsec = 50000000L},
                                  NULL);
        }
}

static void backoff(vcdc_capture_t *cap, int attempt) {
        nap(cap,
            vcdc_backoff_ms(
                    attempt, vcdc_conf_int(cap->conf, "vcdc.retry.backoff.ms"),
                    vcdc_conf_int(cap->conf, "vcdc.retry.backoff.max.ms"),
                    (uint32_t)rand()));
}

/*
 * The position.
 */

static int send_status(vcdc_capture_t *cap, int reply) {
        char err[512];

        if (!cap->repl || !cap->streaming)
                return VCDC_PG_OK;
        cap->status_sent_ms = vcdc_clock_ms();
        cap->reply_due = 0;
        if (vcdc_replication_send_status(cap->repl, cap->confirmed,
                                         cap->confirmed, reply, err,
                                         sizeof(err)) != VCDC_PG_OK) {
                VCDC_WARN(LOG_COMP, "%s", err);
                return VCDC_PG_TRANSIENT;
        }
        atomic_store(&cap->stats.confirmed_lsn, cap->confirmed);
        return VCDC_PG_OK;
}

/* Every record handed to the producer is acknowledged (1), some failed
 * for good (VCDC_CAPTURE_KAFKA_LOST), or some are still in flight (0). */
static int all_acked(vcdc_capture_t *cap) {
        vcdc_producer_stats_t st;

        vcdc_producer_stats(cap->p, &st);
        if (st.acked == st.sent && !st.failed)
                return 1;
        if (st.failed || rd_kafka_outq_len(vcdc_producer_handle(cap->p)) == 0)
                return VCDC_CAPTURE_KAFKA_LOST;
        return 0;
}

/* Moves the confirmed position as far as the acknowledgements allow. */
static int advance(vcdc_capture_t *cap) {
        uint64_t to;
        int acked = all_acked(cap);

        if (acked != 1)
                return acked;
        to = cap->last_commit_end;
        /* Between transactions, everything the server has sent is
         * published: its "sent up to" may be confirmed too (transactions
         * that touched other tables, or nothing we publish). */
        if (!cap->in_txn && cap->sent_end > to)
                to = cap->sent_end;
        if (to > cap->confirmed) {
                cap->confirmed = to;
                cap->unconfirmed_since = 0;
        }
        return 1;
}

/* Waits until every record sent is acknowledged, answering the server
 * meanwhile. Returns VCDC_PG_OK, VCDC_CAPTURE_KAFKA_LOST, or
 * VCDC_CAPTURE_STOPPED when *run fell (and stop_ok is 0) or deadline_ms (if
 * any) passed. */
int vcdc_capture_wait_acked(vcdc_capture_t *cap, int64_t deadline_ms,
                            int stop_ok) {
        char err[512];
        int r;

        while ((r = all_acked(cap)) == 0) {
                if ((!*cap->run && !stop_ok) ||
                    (deadline_ms && vcdc_clock_ms() > deadline_ms))
                        return VCDC_CAPTURE_STOPPED;
                vcdc_producer_flush(cap->p, 100, err, sizeof(err));
                vcdc_capture_progress(cap, 0);
                if (cap->streaming &&
                    vcdc_clock_ms() - cap->status_sent_ms > STATUS_INTERVAL_MS)
                        send_status(cap, 0);
        }
        return r == 1 ? VCDC_PG_OK : VCDC_CAPTURE_KAFKA_LOST;
}

/* A new producer after deliveries failed for good: what they carried is
 * sent again from the confirmed position. */
int vcdc_capture_reset_producer(vcdc_capture_t *cap, char *errstr,
                                size_t errstr_size) {
        vcdc_producer_stats_t st;

        vcdc_producer_stats(cap->p, &st);
        VCDC_WARN(LOG_COMP,
                  "%" PRIu64 " of %" PRIu64 " records were not acknowledged "
                  "by Kafka: publishing again from the confirmed position",
                  st.sent - st.acked, st.sent);
        vcdc_producer_destroy(cap->p);
        if (!(cap->p = vcdc_producer_new(cap->conf, cap->opts.topic, errstr,
                                         errstr_size)))
                return VCDC_PG_FATAL;
        cap->last_commit_end = cap->confirmed;
        return VCDC_PG_OK;
}

/*
 * The stream.
 */

/* START_REPLICATION after the last transaction Kafka holds whole. */
static int start_stream(vcdc_capture_t *cap, char *errstr, size_t errstr_size) {
        uint64_t from = cap->last_commit_end > cap->confirmed
                                ? cap->last_commit_end
                                : cap->confirmed;
        char lsn[VCDC_LSN_TEXT_MAX];
        PGconn *conn;
        int status;

        if (!cap->repl && !(cap->repl = vcdc_replication_open(
                                    cap->pc, &status, errstr, errstr_size)))
                return status;
        /* Binary values since PostgreSQL 14 (pgoutput's binary option). */
        if ((status = vcdc_replication_start(
                     cap->repl, cap->slot, from, cap->publication,
                     vcdc_replication_server_version(cap->repl) >= 140000,
                     errstr, errstr_size)) != VCDC_PG_OK) {
                vcdc_replication_close(cap->repl);
                cap->repl = NULL;
                return status;
        }
        cap->streaming = 1;
        cap->confirmed = from;
        cap->in_txn = 0;
        cap->rel.known = 0;
        cap->sent_end = 0;
        cap->unconfirmed_since = 0;
        vcdc_pgconn_lsn_format(from, lsn, sizeof(lsn));
        VCDC_INFO(LOG_COMP, "streaming slot %s from LSN %s", cap->slot, lsn);
        if (cap->opts.exit_at_end && !cap->end_target) {
                if (!(conn = vcdc_capture_side(cap, &status, errstr,
                                               errstr_size)) ||
                    (status = vcdc_source_wal_lsn(conn, &cap->end_target,
                                                  errstr, errstr_size)) !=
                            VCDC_PG_OK)
                        return status;
                vcdc_pgconn_lsn_format(cap->end_target, lsn, sizeof(lsn));
                VCDC_INFO(LOG_COMP,
                          "--exit-at-end: stopping once LSN %s is "
                          "confirmed",
                          lsn);
        }
        return send_status(cap, 0);
}

/* Ends the stream after a lost connection or deliveries lost for good;
 * the next start resumes after what Kafka holds. Returns VCDC_PG_OK,
 * VCDC_CAPTURE_STOPPED, or VCDC_PG_FATAL with errstr (no new producer). */
static int restart_stream(vcdc_capture_t *cap, int lost, char *errstr,
                          size_t errstr_size) {
        int r = lost ? VCDC_CAPTURE_KAFKA_LOST : VCDC_PG_OK;

        vcdc_replication_close(cap->repl);
        cap->repl = NULL;
        cap->streaming = 0;
        atomic_fetch_add(&cap->stats.reconnects, 1);
        if (!lost)
                r = vcdc_capture_wait_acked(cap, 0, 0);
        if (r == VCDC_CAPTURE_STOPPED)
                return VCDC_CAPTURE_STOPPED;
        if (r == VCDC_CAPTURE_KAFKA_LOST)
                return vcdc_capture_reset_producer(cap, errstr, errstr_size);
        return VCDC_PG_OK;
}

/* What the stream loop does after between_frames(). */
enum { B_READ, B_AGAIN, B_DONE, B_STOPPED, B_FATAL };

/*
 * The stream loop's bookkeeping between frames: delivery reports, the
 * confirmed position, the queue's bound, status updates and progress.
 * Returns B_READ to read the next frame, B_AGAIN to go round the loop
 * again, B_DONE when --exit-at-end is reached, B_STOPPED when stopped
 * while waiting, B_FATAL (errstr set).
 */
static int between_frames(vcdc_capture_t *cap, int64_t interval, char *errstr,
                          size_t errstr_size) {
        int64_t now;
        int r;

        /* Delivery reports are counted only when served. */
        vcdc_producer_poll(cap->p, 0 /*non-blocking*/);
        if ((r = advance(cap)) == VCDC_CAPTURE_KAFKA_LOST) {
                if (restart_stream(cap, 1, errstr, errstr_size) ==
                    VCDC_PG_FATAL)
                        return B_FATAL;
                return B_AGAIN;
        }
        if (cap->opts.exit_at_end && cap->end_target &&
            cap->confirmed >= cap->end_target && !cap->in_txn)
                return B_DONE;
        now = vcdc_clock_ms();
        /* Under a steady flow nothing is ever idle: wait for what
         * is in flight, so that the position moves. */
        if (r == 0 && cap->unconfirmed_since &&
            now - cap->unconfirmed_since >= interval) {
                if ((r = vcdc_capture_wait_acked(cap, 0, 0)) ==
                    VCDC_CAPTURE_STOPPED)
                        return B_STOPPED;
                if (r == VCDC_CAPTURE_KAFKA_LOST)
                        return B_AGAIN;
                advance(cap);
        }
        if (rd_kafka_outq_len(vcdc_producer_handle(cap->p)) > OUTQ_HIGH) {
                vcdc_producer_poll(cap->p, 100);
                if (now - cap->status_sent_ms >= STATUS_INTERVAL_MS)
                        send_status(cap, 0);
                vcdc_capture_progress(cap, 0);
                return B_AGAIN;
        }
        if (cap->reply_due || now - cap->status_sent_ms >= STATUS_INTERVAL_MS ||
            (cap->confirmed != atomic_load(&cap->stats.confirmed_lsn) &&
             now - cap->status_sent_ms >= STATUS_MIN_MS) ||
            (cap->opts.exit_at_end && !cap->in_txn &&
             cap->confirmed < cap->end_target &&
             now - cap->status_sent_ms >= 200)) {
                /* With --exit-at-end, ask where the server is. */
                if (send_status(cap, cap->opts.exit_at_end && !cap->in_txn) !=
                    VCDC_PG_OK) {
                        if (restart_stream(cap, 0, errstr, errstr_size) ==
                            VCDC_PG_FATAL)
                                return B_FATAL;
                        return B_AGAIN;
                }
        }
        vcdc_capture_progress(cap, 0);
        return B_READ;
}

static int stream_phase(vcdc_capture_t *cap, char *errstr, size_t errstr_size) {
        int64_t interval = vcdc_conf_int(cap->conf, "vcdc.commit.interval.ms");
        vcdc_pgoutput_msg_t msg;
        vcdc_repl_frame_t f;
        int attempt = 0, status, r, burst = 0;

        atomic_store(&cap->stats.phase, 2);
        cap->stream_started_ms = vcdc_clock_ms();
        cap->stream_changes_at_start = atomic_load(&cap->stats.changes);
        /* Rates count changes from here, not the snapshot's rows. */
        cap->progress_changes = cap->stream_changes_at_start;
        while (*cap->run) {
                if (!cap->streaming) {
                        status = start_stream(cap, errstr, errstr_size);
                        if (status == VCDC_PG_FATAL)
                                return VCDC_PG_FATAL;
                        if (status != VCDC_PG_OK) {
                                VCDC_WARN(LOG_COMP, "%s; trying again", errstr);
                                if (cap->repl)
                                        vcdc_replication_close(cap->repl);
                                cap->repl = NULL;
                                cap->streaming = 0;
                                backoff(cap, attempt++);
                                continue;
                        }
                        if (attempt)
                                VCDC_NOTICE(LOG_COMP, "streaming again");
                        attempt = 0;
                        burst = 0;
                }
                /* Bookkeeping between bursts: the next frames of a burst
                 * are likely buffered already. */
                if (burst == 0 || burst >= BURST_FRAMES) {
                        burst = 0;
                        r = between_frames(cap, interval, errstr, errstr_size);
                        if (r == B_FATAL)
                                return VCDC_PG_FATAL;
                        if (r == B_DONE)
                                return VCDC_PG_OK;
                        if (r == B_STOPPED)
                                break;
                        if (r == B_AGAIN)
                                continue;
                }
                /* With records in flight, look again soon: their
                 * acknowledgements move the position. In a burst, only
                 * what is buffered. */
                r = vcdc_replication_read(cap->repl,
                                          burst                    ? 0
                                          : cap->unconfirmed_since ? 5
                                                                   : 100,
                                          &f, errstr, errstr_size);
                if (r <= 0)
                        burst = 0;
                else
                        burst++;
                if (r == 0)
                        continue;
                if (r < 0) {
                        if (r == VCDC_PG_FATAL)
                                return VCDC_PG_FATAL;
                        VCDC_WARN(LOG_COMP, "%s: %s; reconnecting",
                                  vcdc_pgconn_name(cap->pc), errstr);
                        if (restart_stream(cap, 0, errstr, errstr_size) ==
                            VCDC_PG_FATAL)
                                return VCDC_PG_FATAL;
                        backoff(cap, attempt++);
                        continue;
                }
                if (f.wal_end > cap->sent_end)
                        cap->sent_end = f.wal_end;
                if (f.type == 'k') {
                        if (f.reply_requested)
                                cap->reply_due = 1;
                        continue;
                }
                if (vcdc_pgoutput_decode(cap->dec, f.data, f.len, &msg, errstr,
                                         errstr_size) == -1)
                        return VCDC_PG_FATAL;
                status = vcdc_capture_handle(cap, &msg, errstr, errstr_size);
                if (status == VCDC_PG_FATAL)
                        return VCDC_PG_FATAL;
                if (status == VCDC_PG_TRANSIENT) {
                        VCDC_WARN(LOG_COMP, "%s; streaming again", errstr);
                        burst = 0;
                        if (restart_stream(cap, 0, errstr, errstr_size) ==
                            VCDC_PG_FATAL)
                                return VCDC_PG_FATAL;
                }
        }
        return VCDC_CAPTURE_STOPPED;
}

/* Confirms what Kafka acknowledged, whatever ended the run, and says how
 * it ended. */
static int finish(vcdc_capture_t *cap, int code) {
        int64_t timeout = vcdc_conf_int(cap->conf, "vcdc.flush.timeout.ms");
        char lsn[VCDC_LSN_TEXT_MAX];
        vcdc_producer_stats_t st;
        int r = VCDC_PG_OK;

        if (cap->p) {
                r = vcdc_capture_wait_acked(cap, vcdc_clock_ms() + timeout, 1);
                if (r == VCDC_PG_OK && cap->streaming) {
                        advance(cap);
                        send_status(cap, 0);
                }
                vcdc_producer_stats(cap->p, &st);
                if (r != VCDC_PG_OK) {
                        VCDC_ERR(LOG_COMP,
                                 "%" PRIu64 " of %" PRIu64 " records not "
                                 "acknowledged by Kafka within %" PRId64
                                 " ms: nothing after them is confirmed, so "
                                 "the next start publishes them again",
                                 st.sent - st.acked, st.sent, timeout);
                        if (code == VCDC_CAPTURE_EXIT_OK)
                                code = VCDC_CAPTURE_EXIT_FATAL;
                }
        }
        vcdc_capture_stats_update(cap);
        vcdc_capture_progress(cap, 1);
        vcdc_pgconn_lsn_format(cap->confirmed, lsn, sizeof(lsn));
        if (cap->stream_started_ms)
                VCDC_NOTICE(LOG_COMP,
                            "streamed %" PRIu64 " changes in %.3f s; "
                            "confirmed LSN %s",
                            (uint64_t)atomic_load(&cap->stats.changes) -
                                    cap->stream_changes_at_start,
                            (double)(vcdc_clock_ms() - cap->stream_started_ms) /
                                    1000.0,
                            lsn);
        VCDC_NOTICE(LOG_COMP, "stopped%s", code ? " on an error" : "");
        return code;
}

int vcdc_capture_run(vcdc_capture_t *cap, volatile sig_atomic_t *run) {
        char errstr[2048];
        int exists = 0, attempt = 0, status, code = VCDC_CAPTURE_EXIT_OK;

        cap->run = run;
        cap->started_ms = cap->progress_ms = vcdc_clock_ms();
        srand((unsigned)getpid() ^ (unsigned)vcdc_wall_ms());
        if (cap->opts.metrics_port >= 0 &&
            vcdc_capture_metrics_start(cap, errstr, sizeof(errstr)) == -1) {
                VCDC_ERR(LOG_COMP, "%s", errstr);
                return VCDC_CAPTURE_EXIT_FATAL;
        }
        if ((code = vcdc_capture_startup(cap, &exists)) >= 0)
                return code;
        code = VCDC_CAPTURE_EXIT_OK;
        while (!exists && *run) {
                status = vcdc_capture_snapshot(cap, errstr, sizeof(errstr));
                if (status == VCDC_PG_OK) {
                        exists = 1;
                        break;
                }
                /* The temporary slot goes with its session. */
                vcdc_replication_close(cap->repl);
                cap->repl = NULL;
                if (status == VCDC_CAPTURE_STOPPED)
                        break;
                if (status == VCDC_PG_FATAL) {
                        VCDC_ERR(LOG_COMP, "%s", errstr);
                        return finish(cap, VCDC_CAPTURE_EXIT_FATAL);
                }
                if (status == VCDC_CAPTURE_KAFKA_LOST) {
                        if (vcdc_capture_reset_producer(cap, errstr,
                                                        sizeof(errstr)) !=
                            VCDC_PG_OK) {
                                VCDC_ERR(LOG_COMP, "%s", errstr);
                                return VCDC_CAPTURE_EXIT_FATAL;
                        }
                        snprintf(errstr, sizeof(errstr), "deliveries failed");
                }
                VCDC_WARN(LOG_COMP, "snapshot failed: %s; starting it again",
                          errstr);
                backoff(cap, attempt++);
        }
        if (exists && *run) {
                status = stream_phase(cap, errstr, sizeof(errstr));
                if (status == VCDC_PG_FATAL) {
                        VCDC_ERR(LOG_COMP, "%s", errstr);
                        code = VCDC_CAPTURE_EXIT_FATAL;
                }
        }
        return finish(cap, code);
}

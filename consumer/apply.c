/*
 * vcdc - batches to the sink. A batch is applied whole, with its offsets
 * (fenced, in the target's transaction, where the sink can); transient
 * failures are retried with backoff while the partitions are paused; a
 * batch the database refuses, or one that keeps failing where a smaller
 * one might not, is split in halves, applied part by part under the same
 * fence, down to single keys: a refused key's change is dead-lettered and
 * the key steps back to its change before (batch.h), as applying one
 * record at a time would have left it. Only then are the batch's offsets
 * recorded. Dead letters are acknowledged before any offset covering them
 * is recorded or committed. A fenced batch (VCDC_SINK_STALE) is dropped
 * and the partitions resume after what the target records (assign.c).
 */
#include "consumer_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

/* What one apply, with its retries, came to. */
typedef enum {
        R_OK,
        R_REFUSED, /* the database refuses something in it */
        R_SPLIT,   /* it keeps failing where a smaller part may not */
        R_STALE,   /* fenced: a newer writer applied it */
        R_STOP,    /* a stop, a revocation or a fatal error came first */
        R_FATAL,   /* the sink cannot go on (logged) */
} result_t;

/* "Call the sink" for apply_retrying()'s first attempt. */
#define CALL_SINK 1

static void count_apply(vcdc_consumer_t *c, int64_t us) {
        size_t b;

        atomic_fetch_add(&c->apply_cnt, 1);
        atomic_fetch_add(&c->apply_us, (uint64_t)us);
        for (b = 0; b < VCDC_LATENCY_BUCKETS; b++)
                if ((double)us / 1e6 <= vcdc_latency_buckets[b])
                        atomic_fetch_add(&c->apply_le[b], 1);
}

static int stopping(const vcdc_consumer_t *c) {
        return !*c->run || c->abandon || c->fatal;
}

/*
 * view applied, with retries. first is the status of an attempt already
 * made (a batch sent apart and waited for), or CALL_SINK. splittable: the
 * view holds more than one change, so repeated failures of a kind a
 * smaller batch may not meet (timeouts, server errors) end in R_SPLIT.
 */
static result_t apply_retrying(vcdc_consumer_t *c,
                               const vcdc_sink_batch_t *view, int first,
                               int splittable, char *errstr,
                               size_t errstr_size) {
        vcdc_sink_status_t st;
        int64_t t0, wait;
        int attempt;

        for (attempt = 0;; attempt++) {
                t0 = vcdc_clock_ms();
                if (attempt == 0 && first != CALL_SINK)
                        st = (vcdc_sink_status_t)first;
                else
                        st = vcdc_sink_apply(c->sink, view, errstr,
                                             errstr_size);
                switch (st) {
                case VCDC_SINK_OK:
                        if (attempt > 0 || first == CALL_SINK)
                                count_apply(c, (vcdc_clock_ms() - t0) * 1000);
                        if (attempt > 0)
                                VCDC_NOTICE("consumer",
                                            "%s: applied after %d retries",
                                            vcdc_sink_name(c->sink), attempt);
                        return R_OK;
                case VCDC_SINK_INVALID:
                        return R_REFUSED;
                case VCDC_SINK_STALE:
                        return R_STALE;
                case VCDC_SINK_FATAL:
                        VCDC_ERR("consumer", "%s: stopping", errstr);
                        c->fatal = 1;
                        return R_FATAL;
                case VCDC_SINK_RETRIABLE:
                        break;
                }
                atomic_fetch_add(&c->retries, 1);
                if (splittable && attempt + 1 >= c->split_after &&
                    vcdc_sink_retry_smaller(c->sink))
                        return R_SPLIT;
                wait = vcdc_backoff_ms(attempt < 30 ? attempt : 30,
                                       c->backoff_base, c->backoff_max,
                                       vcdc_consumer_rand(c));
                if (attempt == 0 || attempt % 10 == 0)
                        VCDC_WARN("consumer",
                                  "%s; retry %d in %" PRId64
                                  " ms (partitions paused)",
                                  errstr, attempt + 1, wait);
                vcdc_consumer_wait(c, wait);
                if (stopping(c))
                        return R_STOP;
        }
}

int vcdc_consumer_dlq_wait(vcdc_consumer_t *c) {
        char errstr[512];
        int attempt, r;

        for (attempt = 0;; attempt++) {
                r = vcdc_dlq_flush(c->dlq, 1000, errstr, sizeof(errstr));
                if (r == VCDC_DLQ_DONE)
                        return 0;
                if (r == VCDC_DLQ_FATAL) {
                        VCDC_ERR("consumer",
                                 "%s: nothing past that record is recorded "
                                 "or committed; make the dead-letter topic "
                                 "take it (max.message.bytes, ACLs, "
                                 "--dlq-topic), then restart",
                                 errstr);
                        c->fatal = 1;
                        return -1;
                }
                if (attempt == 0 || attempt % 10 == 0)
                        VCDC_WARN("consumer",
                                  "%s; waiting before anything past them is "
                                  "recorded or committed (partitions "
                                  "paused)",
                                  errstr);
                vcdc_consumer_wait(c, vcdc_backoff_ms(
                                              attempt < 10 ? attempt : 10,
                                              c->backoff_base, c->backoff_max,
                                              vcdc_consumer_rand(c)));
                if (stopping(c))
                        return 1;
        }
}

/* Dead-letters the head of key k, which the database refused, with the
 * bytes it was read as. */
static int dead_letter_head(vcdc_consumer_t *c, vcdc_batch_t *b, size_t k,
                            const char *error) {
        const rd_kafka_message_t *rkm;
        char errstr[512];
        void *msg;

        vcdc_batch_head(b, k, &msg, NULL);
        rkm = msg;
        VCDC_WARN("consumer",
                  "%s [%" PRId32 "] offset %" PRId64
                  ": refused by the database, dead-lettered to %s: %s",
                  c->topic, rkm->partition, rkm->offset,
                  vcdc_dlq_topic(c->dlq), error);
        if (vcdc_dlq_send(c->dlq, c->topic, rkm->partition, rkm->offset,
                          rkm->key, rkm->key_len, rkm->payload, rkm->len,
                          "rejected", error, errstr, sizeof(errstr)) == -1) {
                VCDC_ERR("consumer", "%s", errstr);
                c->fatal = 1;
                return -1;
        }
        atomic_fetch_add(&c->dead_letters, 1);
        return 0;
}

/* The batch's offsets in view, for a sink that records them with the
 * data; fence_only for a part of the batch. */
static void with_offsets(vcdc_consumer_t *c, vcdc_batch_t *b,
                         vcdc_sink_batch_t *view, int fence_only) {
        view->topic = c->topic;
        if (c->offsets_apart)
                return;
        view->offsets = vcdc_batch_offsets(b, &view->offset_cnt);
        view->fence_only = fence_only;
}

/*
 * Keys [lo, hi) of b, as a part of the batch: applied under its fence,
 * split on refusal or repeated failure, refused changes dead-lettered.
 */
static result_t apply_part(vcdc_consumer_t *c, vcdc_batch_t *b, size_t lo,
                           size_t hi) {
        vcdc_sink_batch_t view;
        char errstr[512];
        size_t changes, mid;
        result_t r;

        for (;;) {
                if (vcdc_batch_view(b, lo, hi, &view) == -1) {
                        VCDC_ERR("consumer", "out of memory");
                        c->fatal = 1;
                        return R_FATAL;
                }
                changes = view.upsert_cnt + view.delete_cnt;
                if (!changes)
                        return R_OK; /* every change here was refused */
                with_offsets(c, b, &view, 1 /*fence_only*/);
                r = apply_retrying(c, &view, CALL_SINK, changes > 1, errstr,
                                   sizeof(errstr));
                if (r == R_OK)
                        atomic_fetch_add(&c->applied, changes);
                if (r != R_REFUSED && r != R_SPLIT)
                        return r;
                if (hi - lo > 1)
                        break;
                /* One key, refused: its change is dead-lettered and the one
                 * before it, if any, goes instead. */
                if (dead_letter_head(c, b, lo, errstr) == -1)
                        return R_FATAL;
                if (!vcdc_batch_step_back(b, lo))
                        return R_OK;
        }
        atomic_fetch_add(&c->splits, 1);
        mid = lo + (hi - lo) / 2;
        if ((r = apply_part(c, b, lo, mid)) != R_OK)
                return r;
        return apply_part(c, b, mid, hi);
}

/* The batch's offsets, after its parts: fenced like a whole batch. */
static result_t record_after_parts(vcdc_consumer_t *c, vcdc_batch_t *b) {
        const vcdc_sink_offset_t *offsets;
        vcdc_sink_status_t st;
        char errstr[512];
        size_t cnt;
        int attempt;

        if (c->offsets_apart)
                return R_OK; /* recorded with the others (assign.c) */
        offsets = vcdc_batch_offsets(b, &cnt);
        for (attempt = 0;; attempt++) {
                st = vcdc_sink_record_offsets(c->sink, c->topic, offsets, cnt,
                                              errstr, sizeof(errstr));
                if (st == VCDC_SINK_OK)
                        return R_OK;
                if (st == VCDC_SINK_STALE)
                        return R_STALE;
                if (st != VCDC_SINK_RETRIABLE) {
                        VCDC_ERR("consumer", "%s: stopping", errstr);
                        c->fatal = 1;
                        return R_FATAL;
                }
                atomic_fetch_add(&c->retries, 1);
                if (attempt % 10 == 0)
                        VCDC_WARN("consumer", "%s; retrying", errstr);
                vcdc_consumer_wait(c, vcdc_backoff_ms(
                                              attempt < 30 ? attempt : 30,
                                              c->backoff_base, c->backoff_max,
                                              vcdc_consumer_rand(c)));
                if (stopping(c))
                        return R_STOP;
        }
}

/* Marks an applied batch's offsets for the next commit (and for the
 * sink, when it keeps them apart), counts it and empties it. */
static void mark_applied(vcdc_consumer_t *c, vcdc_batch_t *b, size_t changes,
                         int64_t max_ts) {
        size_t i, cnt;
        const vcdc_sink_offset_t *offsets = vcdc_batch_offsets(b, &cnt);

        for (i = 0; i < cnt; i++) {
                part_t *p = vcdc_consumer_part(c, offsets[i].partition);
                if (p && offsets[i].offset + 1 > p->next)
                        p->next = offsets[i].offset + 1;
        }
        c->uncommitted = 1;
        c->offsets_dirty |= c->offsets_apart && cnt > 0;
        atomic_fetch_add(&c->applied, changes);
        atomic_fetch_add(&c->messages, vcdc_batch_msg_cnt(b));
        atomic_fetch_add(&c->batches, 1);
        atomic_store(&c->last_applied_ts, max_ts);
        vcdc_batch_reset(b);
        vcdc_consumer_pause(c, 0);
        /* The target records its offsets with each batch, so commits only
         * report progress and spare a restart the target's lookup: at most
         * one per vcdc.commit.interval.ms, however small the batches. */
        if (vcdc_clock_ms() - c->last_commit >= c->commit_ms)
                vcdc_consumer_commit(c, 1 /*async*/);
}

/*
 * Finishes applying b, whose first whole attempt answered first with
 * first_err (CALL_SINK: none made yet). Returns -1 when the run must stop,
 * 1 when the batch was given up (not applied, read again later), else 0.
 */
static int settle(vcdc_consumer_t *c, vcdc_batch_t *b, int first,
                  const char *first_err, int64_t max_ts) {
        vcdc_sink_batch_t view;
        char errstr[512];
        size_t changes;
        result_t r;

        snprintf(errstr, sizeof(errstr), "%s", first_err);
        if (vcdc_batch_view(b, 0, vcdc_batch_key_cnt(b), &view) == -1) {
                VCDC_ERR("consumer", "out of memory");
                c->fatal = 1;
                return -1;
        }
        changes = view.upsert_cnt + view.delete_cnt;
        with_offsets(c, b, &view, 0);
        c->applying = b;
        if (!changes && !view.offset_cnt)
                r = R_OK; /* only dead letters and skipped records */
        else
                r = apply_retrying(c, &view, first, changes > 1, errstr,
                                   sizeof(errstr));
        if (r == R_REFUSED || r == R_SPLIT) {
                VCDC_WARN("consumer",
                          "a batch of %zu changes %s: %s; applying it in "
                          "parts",
                          changes,
                          r == R_REFUSED ? "was refused" : "keeps failing",
                          errstr);
                atomic_fetch_add(&c->splits, 1);
                r = apply_part(c, b, 0, vcdc_batch_key_cnt(b));
                if (r == R_OK)
                        r = vcdc_consumer_dlq_wait(c) == 0 ? R_OK
                            : c->fatal                      ? R_FATAL
                                                            : R_STOP;
                if (r == R_OK)
                        r = record_after_parts(c, b);
                changes = 0; /* counted part by part */
        }
        c->applying = NULL;
        switch (r) {
        case R_OK:
                mark_applied(c, b, changes, max_ts);
                return 0;
        case R_STALE:
                atomic_fetch_add(&c->stale, 1);
                VCDC_WARN("consumer",
                          "%s: the target already records offsets at or "
                          "past this batch's (a newer writer, or an earlier "
                          "try of this batch that went through): resuming "
                          "after them",
                          vcdc_sink_name(c->sink));
                return vcdc_consumer_resync(c) == -1 ? -1 : 1;
        case R_STOP:
                vcdc_batch_reset(b);
                c->abandon = 0;
                return c->fatal ? -1 : 1;
        default:
                return -1;
        }
}

int vcdc_consumer_land(vcdc_consumer_t *c) {
        vcdc_sink_status_t st;
        char errstr[512];

        if (!c->in_flight)
                return 0;
        c->in_flight = 0;
        errstr[0] = '\0';
        st = vcdc_sink_apply_wait(c->sink, errstr, sizeof(errstr));
        if (st == VCDC_SINK_OK)
                count_apply(c, (vcdc_clock_ms() - c->flight_sent) * 1000);
        else if (st == VCDC_SINK_RETRIABLE)
                VCDC_WARN("consumer", "%s; applying the batch again", errstr);
        return settle(c, c->flight,
                      st == VCDC_SINK_RETRIABLE ? CALL_SINK : (int)st, errstr,
                      c->flight_max_ts);
}

int vcdc_consumer_flush(vcdc_consumer_t *c) {
        vcdc_batch_t *b = c->batch;
        vcdc_sink_batch_t view;
        char errstr[512];
        int64_t max_ts = c->batch_max_ts;
        vcdc_sink_status_t st;
        int r;

        if ((r = vcdc_consumer_land(c)) != 0) {
                /* Nothing after a batch given up may be applied. */
                vcdc_batch_reset(b);
                c->batch_max_ts = 0;
                return r == -1 ? -1 : 0;
        }
        if (!vcdc_batch_msg_cnt(b))
                return 0;
        c->batch_max_ts = 0;
        /* Its dead letters first: the batch records offsets past them. */
        c->applying = b;
        r = vcdc_consumer_dlq_wait(c);
        c->applying = NULL;
        if (r != 0) {
                vcdc_batch_reset(b);
                c->abandon = 0;
                return r == -1 ? -1 : 0;
        }
        if (!vcdc_sink_can_send(c->sink))
                return settle(c, b, CALL_SINK, "", max_ts) == -1 ? -1 : 0;
        if (vcdc_batch_view(b, 0, vcdc_batch_key_cnt(b), &view) == -1) {
                VCDC_ERR("consumer", "out of memory");
                c->fatal = 1;
                return -1;
        }
        with_offsets(c, b, &view, 0);
        c->flight_sent = vcdc_clock_ms();
        errstr[0] = '\0';
        st = vcdc_sink_apply_send(c->sink, &view, errstr, sizeof(errstr));
        if (st != VCDC_SINK_OK) {
                /* Nothing to wait for: settled here, from that answer. */
                VCDC_DEBUG("consumer", "%s", errstr);
                return settle(c, b,
                              st == VCDC_SINK_RETRIABLE ? CALL_SINK : (int)st,
                              errstr, max_ts) == -1
                               ? -1
                               : 0;
        }
        c->batch = c->flight;
        c->flight = b;
        c->in_flight = 1;
        c->flight_max_ts = max_ts;
        return 0;
}

void vcdc_consumer_land_once(vcdc_consumer_t *c) {
        char errstr[512];

        if (!c->in_flight)
                return;
        c->in_flight = 0;
        if (vcdc_sink_apply_wait(c->sink, errstr, sizeof(errstr)) ==
            VCDC_SINK_OK) {
                vcdc_sink_batch_t view;
                size_t changes = 0;
                if (vcdc_batch_view(c->flight, 0,
                                    vcdc_batch_key_cnt(c->flight),
                                    &view) == 0)
                        changes = view.upsert_cnt + view.delete_cnt;
                mark_applied(c, c->flight, changes, c->flight_max_ts);
        }
        vcdc_batch_reset(c->flight);
}

void vcdc_consumer_drop_unapplied(vcdc_consumer_t *c) {
        char errstr[512];

        if (c->in_flight) {
                /* The connection owes us an answer; what it says no longer
                 * matters (the fence keeps a late commit from going back). */
                c->in_flight = 0;
                vcdc_sink_apply_wait(c->sink, errstr, sizeof(errstr));
        }
        if (c->applying)
                c->abandon = 1; /* its apply gives it up */
        if (c->batch != c->applying)
                vcdc_batch_reset(c->batch);
        if (c->flight != c->applying)
                vcdc_batch_reset(c->flight);
        c->batch_max_ts = 0;
        vcdc_consumer_drop_held(c);
        c->pending_dim = 0;
}

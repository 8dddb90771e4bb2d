/*
 * vcdc - the consumer's poll loop: messages in (held ones first), batches
 * out when due, and the timers (commits, offsets in the target, lag,
 * progress, the end of an --exit-at-end run, the index's turn). What a
 * message becomes is handle.c's; what a batch does to the sink is
 * apply.c's; the index's build is index.c's.
 */
#include "consumer_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

uint32_t vcdc_consumer_rand(vcdc_consumer_t *c) {
        /* xorshift32: jitter only, no need for more. */
        c->rng ^= c->rng << 13;
        c->rng ^= c->rng >> 17;
        c->rng ^= c->rng << 5;
        return c->rng;
}

rd_kafka_topic_partition_list_t *vcdc_consumer_assigned(vcdc_consumer_t *c) {
        rd_kafka_topic_partition_list_t *parts =
                rd_kafka_topic_partition_list_new((int)c->part_cnt);
        size_t i;

        for (i = 0; i < c->part_cnt; i++)
                rd_kafka_topic_partition_list_add(parts, c->topic,
                                                  c->parts[i].partition);
        return parts;
}

part_t *vcdc_consumer_part(vcdc_consumer_t *c, int32_t partition) {
        size_t i;

        for (i = 0; i < c->part_cnt; i++)
                if (c->parts[i].partition == partition)
                        return &c->parts[i];
        return NULL;
}

void vcdc_consumer_pause(vcdc_consumer_t *c, int pause) {
        rd_kafka_topic_partition_list_t *parts;

        if (c->paused == pause || !c->part_cnt)
                return;
        parts = vcdc_consumer_assigned(c);
        if (pause)
                rd_kafka_pause_partitions(c->rk, parts);
        else
                rd_kafka_resume_partitions(c->rk, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        c->paused = pause;
}

void vcdc_consumer_drop_held(vcdc_consumer_t *c) {
        size_t i;

        for (i = c->held_next; i < c->held_cnt; i++)
                rd_kafka_message_destroy(c->held[i]);
        c->held_cnt = c->held_next = 0;
}

/* A message returned by librdkafka: the partition's position moved past
 * it, so a resync that drops it must seek back to it (assign.c). */
static void seen(vcdc_consumer_t *c, const rd_kafka_message_t *rkm) {
        part_t *p;

        if (!rkm->err && (p = vcdc_consumer_part(c, rkm->partition)) &&
            p->next < 0 && p->first_seen < 0)
                p->first_seen = rkm->offset;
}

/* Keeps rkm for later. Returns -1 when out of memory (rkm destroyed: it is
 * read again after a restart, since nothing past it is committed). */
static int hold(vcdc_consumer_t *c, rd_kafka_message_t *rkm) {
        if (c->held_cnt == c->held_cap) {
                size_t cap = c->held_cap ? c->held_cap * 2 : 64;
                rd_kafka_message_t **h = realloc(c->held, cap * sizeof(*h));
                if (!h) {
                        rd_kafka_message_destroy(rkm);
                        VCDC_ERR("consumer", "out of memory");
                        c->fatal = 1;
                        return -1;
                }
                c->held = h;
                c->held_cap = cap;
        }
        seen(c, rkm);
        c->held[c->held_cnt++] = rkm;
        return 0;
}

void vcdc_consumer_wait(vcdc_consumer_t *c, int64_t ms) {
        int64_t until = vcdc_clock_ms() + ms, left;
        rd_kafka_message_t *rkm;

        vcdc_consumer_pause(c, 1);
        while (*c->run && !c->abandon && !c->fatal &&
               (left = until - vcdc_clock_ms()) > 0) {
                rkm = rd_kafka_consumer_poll(c->rk,
                                             left > 100 ? 100 : (int)left);
                if (rkm && hold(c, rkm) == -1)
                        return;
        }
}

/* The next message: a held one first, else a poll of up to timeout_ms. */
static rd_kafka_message_t *next_message(vcdc_consumer_t *c, int timeout_ms) {
        rd_kafka_message_t *rkm;

        if (c->held_next < c->held_cnt) {
                rkm = c->held[c->held_next++];
                if (c->held_next == c->held_cnt)
                        c->held_cnt = c->held_next = 0;
                return rkm;
        }
        if ((rkm = rd_kafka_consumer_poll(c->rk, timeout_ms)))
                seen(c, rkm);
        return rkm;
}

static int batch_due(vcdc_consumer_t *c, int64_t now) {
        size_t msgs = vcdc_batch_msg_cnt(c->batch);

        return msgs && (msgs >= c->batch_records ||
                        vcdc_batch_bytes(c->batch) >= c->batch_bytes ||
                        now - c->batch_started >= c->batch_ms);
}

/* Lag of the assigned partitions; 1 in *at_endp when exit-at-end's
 * targets are all reached. */
static int64_t measure_lag(vcdc_consumer_t *c, int *at_endp) {
        rd_kafka_topic_partition_list_t *pos;
        int64_t lag = 0, lo, hi, at;
        size_t i;
        int at_end = c->assigned;

        pos = vcdc_consumer_assigned(c);
        rd_kafka_position(c->rk, pos);
        for (i = 0; i < c->part_cnt; i++) {
                part_t *p = &c->parts[i];
                at = pos->elems[i].offset;
                if (at < 0)
                        at = p->start;
                if (p->next > at)
                        at = p->next;
                if (rd_kafka_get_watermark_offsets(c->rk, c->topic,
                                                   p->partition, &lo, &hi) ==
                            RD_KAFKA_RESP_ERR_NO_ERROR &&
                    hi >= 0) {
                        if (at < 0)
                                at = lo >= 0 ? lo : 0;
                        if (hi > at)
                                lag += hi - at;
                }
                /* At the end when everything up to the end seen at start
                 * is applied: the applied offset got there, or the
                 * partition's end was reached past it (the offsets before
                 * it may hold no record to apply), or a record past the
                 * --until-* bound was read (handle.c). */
                if (p->end > 0 && (p->next < 0 ? p->start : p->next) < p->end &&
                    p->eof < p->end && !p->until_done)
                        at_end = 0;
        }
        rd_kafka_topic_partition_list_destroy(pos);
        if (at_endp)
                *at_endp = at_end && !vcdc_batch_msg_cnt(c->batch) &&
                           c->held_next == c->held_cnt && !c->in_flight &&
                           !vcdc_dlq_pending(c->dlq);
        return lag;
}

/*
 * librdkafka 2.0 stops fetching a partition whose prefetch queue is over
 * queued.max.messages.kbytes, and looks at it again only when its broker
 * thread wakes: on network I/O, else after a second. A fast sink drains
 * the queue well within that second and would wait out the rest. So when
 * nothing is queued but a partition is known to have more, a watermark
 * query to its leader (at most one every 50 ms) wakes that thread, which
 * resumes fetching at once; the answer is not needed.
 */
static void wake_fetcher(vcdc_consumer_t *c, int64_t now) {
        rd_kafka_topic_partition_list_t *pos;
        int64_t lo, hi;
        size_t i, k;

        if (!c->part_cnt || c->paused || now - c->last_wake < 50)
                return;
        c->last_wake = now;
        pos = vcdc_consumer_assigned(c);
        rd_kafka_position(c->rk, pos);
        for (i = 0; i < c->part_cnt; i++) {
                k = (c->wake_next + i) % c->part_cnt;
                if (pos->elems[k].offset < 0 ||
                    rd_kafka_get_watermark_offsets(
                            c->rk, c->topic, c->parts[k].partition, &lo, &hi) ||
                    hi <= pos->elems[k].offset)
                        continue;
                rd_kafka_query_watermark_offsets(
                        c->rk, c->topic, c->parts[k].partition, &lo, &hi, 50);
                c->wake_next = k + 1;
                break;
        }
        rd_kafka_topic_partition_list_destroy(pos);
}

/*
 * A replay must reach each delete before compaction removes its tombstone
 * (delete.retention.ms after the cleaner saw it): one that misses it leaves
 * the deleted vector in the target. Kafka's own rule: a read from offset
 * zero must finish within delete.retention.ms. Warned once, when the
 * replay's expected duration (elapsed plus the lag at the current rate)
 * passes three quarters of it.
 */
static void check_retention(vcdc_consumer_t *c, int64_t now, int64_t lag,
                            double rate) {
        double total_s;

        if (!c->replaying || c->retention_warned ||
            c->delete_retention_ms < 0 || rate <= 0)
                return;
        if (lag == 0) {
                c->replaying = 0; /* caught up: live from here on */
                return;
        }
        total_s = (double)(now - c->started) / 1000.0 + (double)lag / rate;
        if (total_s * 1000.0 < 0.75 * (double)c->delete_retention_ms)
                return;
        c->retention_warned = 1;
        VCDC_WARN("consumer",
                  "this replay of %s will take about %.1f s, close to or "
                  "past the topic's delete.retention.ms (%.1f s): a delete "
                  "whose tombstone compaction removes before the replay "
                  "reaches it leaves its vector in %s. Raise the topic's "
                  "delete.retention.ms above the replay's duration "
                  "(kafka-configs --alter --add-config "
                  "delete.retention.ms=...), then verify the target",
                  c->topic, total_s, (double)c->delete_retention_ms / 1000.0,
                  vcdc_sink_name(c->sink));
}

static void progress(vcdc_consumer_t *c, int64_t now, int64_t lag) {
        uint64_t applied = atomic_load(&c->messages);
        double rate = now > c->last_progress
                              ? (double)(applied - c->progress_applied) *
                                        1000.0 /
                                        (double)(now - c->last_progress)
                              : 0;
        uint64_t own = atomic_load(&c->snapshot_skipped);
        char eta[48] = "", skipped[64] = "";

        if (lag > 0 && rate > 0)
                snprintf(eta, sizeof(eta), ", ETA %.0f s", (double)lag / rate);
        if (own)
                snprintf(skipped, sizeof(skipped),
                         ", %" PRIu64 " own snapshot records skipped", own);
        if (applied != c->progress_applied || lag > 0)
                VCDC_NOTICE("consumer",
                            "%s: %" PRIu64 " messages applied (%.0f/s), lag "
                            "%" PRId64 "%s, %" PRIu64 " dead letters%s",
                            vcdc_sink_name(c->sink), applied, rate, lag, eta,
                            (uint64_t)atomic_load(&c->dead_letters), skipped);
        check_retention(c, now, lag, rate);
        c->last_progress = now;
        c->progress_applied = applied;
}

/* The timers, after each message or idle poll. Returns 1 when an
 * --exit-at-end run is at its end. */
static int timers(vcdc_consumer_t *c, int busy) {
        int64_t now = vcdc_clock_ms(); /* once per message, for all below */
        int at_end = 0;

        vcdc_consumer_commit_results(c, 0);
        if (c->offsets_dirty && now - c->last_offsets >= c->commit_ms)
                vcdc_consumer_record_offsets(c);
        if (c->uncommitted && now - c->last_commit >= c->commit_ms)
                vcdc_consumer_commit(c, 1 /*async*/);
        if (c->progress_ms > 0 && now - c->last_progress >= c->progress_ms)
                progress(c, now, measure_lag(c, NULL));
        /* Idle, a run to the end checks at once whether it is. */
        if (now - c->last_lag < 100 && (busy || !c->exit_at_end))
                return 0;
        c->last_lag = now;
        atomic_store(&c->lag, measure_lag(c, &at_end));
        vcdc_consumer_index_tick(c, at_end, now);
        /* An --exit-at-end run waits for the index it builds. */
        if (c->exit_at_end && at_end && !vcdc_consumer_index_pending(c)) {
                VCDC_NOTICE("consumer", "%s",
                            c->until.kind != VCDC_UNTIL_NONE
                                    ? "reached the bound in every partition"
                                    : "reached the log end seen at start");
                return 1;
        }
        return 0;
}

/*
 * Leaves the group before the handle is closed: unsubscribes and serves the
 * revocation that follows (a bounded time). Closing while a rebalance is
 * under way can hang in librdkafka 2.0; once nothing is assigned, it
 * cannot.
 */
static void leave_group(vcdc_consumer_t *c) {
        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_message_t *rkm;
        int64_t deadline = vcdc_clock_ms() + 10000;

        rd_kafka_unsubscribe(c->rk);
        while (vcdc_clock_ms() < deadline) {
                if (rd_kafka_assignment(c->rk, &parts) ||
                    (parts->cnt == 0 && !c->part_cnt))
                        break;
                rd_kafka_topic_partition_list_destroy(parts);
                parts = NULL;
                if ((rkm = rd_kafka_consumer_poll(c->rk, 100)))
                        rd_kafka_message_destroy(rkm);
        }
        if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
}

int vcdc_consumer_run(vcdc_consumer_t *c, volatile sig_atomic_t *run) {
        rd_kafka_topic_partition_list_t *sub;
        rd_kafka_message_t *rkm;
        rd_kafka_resp_err_t err;
        int open_batch, r = 0;

        c->run = run;
        sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, c->topic, RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(c->rk, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (err) {
                VCDC_ERR("consumer", "subscribe to %s: %s", c->topic,
                         rd_kafka_err2str(err));
                return -1;
        }
        c->started = c->last_progress = vcdc_clock_ms();

        while (*run && !c->fatal) {
                /* With a batch open, take only what is already fetched:
                 * when nothing is, the consumer has caught up and applies
                 * the batch at once instead of waiting out vcdc.batch.ms.
                 * Latency stays low at low rates, and at high rates the
                 * queue refills during each apply, so batches still grow
                 * to their limits. */
                open_batch = vcdc_batch_msg_cnt(c->batch) > 0;
                rkm = next_message(c, open_batch || c->in_flight ? 0 : 100);
                if (rkm)
                        vcdc_consumer_handle(c, rkm);
                else
                        wake_fetcher(c, vcdc_clock_ms());
                if (c->fatal)
                        break;
                if (batch_due(c, vcdc_clock_ms()) || (open_batch && !rkm)) {
                        if (vcdc_consumer_flush(c) == -1)
                                break;
                } else if (!rkm && vcdc_consumer_land(c) == -1) {
                        break; /* idle: the answer for the batch sent */
                }
                if (timers(c, rkm != NULL))
                        break;
        }
        /* Stopping: finish the batch once if the sink takes it (no retries
         * once *run is 0: a stop does not wait out an outage, and what
         * fails is read again by the next run), record and commit what was
         * applied, leave the group. */
        if (!c->fatal && (vcdc_batch_msg_cnt(c->batch) || c->in_flight) &&
            (vcdc_consumer_flush(c) == -1 || vcdc_consumer_land(c) == -1))
                r = -1;
        progress(c, vcdc_clock_ms(), measure_lag(c, NULL));
        if (!c->fatal)
                vcdc_consumer_record_offsets(c);
        vcdc_consumer_commit(c, 0 /*sync*/);
        leave_group(c);
        if (c->fatal || (c->exit_at_end && vcdc_consumer_index_failed(c)))
                r = -1;
        return r;
}

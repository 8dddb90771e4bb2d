/*
 * vcdc - the consumer's partitions: where each one resumes on assignment
 * (after the larger of the group's committed offset and the offset the
 * target records), what a revocation keeps (what was applied) and what a
 * lost assignment keeps (nothing: another member owns the partitions
 * already), commits to the group, offsets recorded in a target that keeps
 * them apart, and the resync after a fenced batch.
 * It never applies a batch (apply.c) nor decides what a message becomes
 * (handle.c).
 */
#include "consumer_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

/*
 * Serves the results of asynchronous commits, waiting up to timeout_ms for
 * the first. A failed one is retried by the next commit.
 */
void vcdc_consumer_commit_results(vcdc_consumer_t *c, int timeout_ms) {
        rd_kafka_event_t *ev;

        while (c->commits_inflight > 0 &&
               (ev = rd_kafka_queue_poll(c->commitq, timeout_ms))) {
                rd_kafka_resp_err_t err = rd_kafka_event_error(ev);

                if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT) {
                        c->commits_inflight--;
                        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
                                VCDC_WARN("consumer",
                                          "commit failed: %s (retried with "
                                          "the next commit)",
                                          rd_kafka_err2str(err));
                                c->uncommitted = 1;
                        }
                }
                rd_kafka_event_destroy(ev);
                timeout_ms = 0;
        }
}

static int transient_commit_error(rd_kafka_resp_err_t err) {
        return err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
               err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
               err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
               err == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT ||
               err == RD_KAFKA_RESP_ERR__TIMED_OUT;
}

/*
 * Commits the offsets applied so far: async after batches, at most once per
 * vcdc.commit.interval.ms; sync before revocation and at shutdown.
 *
 * librdkafka retries a failed commit request by itself, so an older async
 * commit can land after a newer one. The sync commit is the last word on
 * these offsets: it first waits (a bounded time) for the async ones in
 * flight, so none of them lands after it and moves the group back.
 */
void vcdc_consumer_commit(vcdc_consumer_t *c, int async) {
        rd_kafka_topic_partition_list_t *offsets;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
        int64_t deadline;
        size_t i;
        int attempt;

        offsets = rd_kafka_topic_partition_list_new((int)c->part_cnt);
        for (i = 0; i < c->part_cnt; i++)
                if (c->parts[i].next >= 0)
                        rd_kafka_topic_partition_list_add(
                                offsets, c->topic, c->parts[i].partition)
                                ->offset = c->parts[i].next;
        c->last_commit = vcdc_clock_ms();
        c->uncommitted = 0;
        if (offsets->cnt == 0) {
                rd_kafka_topic_partition_list_destroy(offsets);
                return;
        }
        if (async) {
                err = rd_kafka_commit_queue(c->rk, offsets, c->commitq, NULL,
                                            NULL);
                if (!err)
                        c->commits_inflight++;
                else
                        c->uncommitted = 1;
                rd_kafka_topic_partition_list_destroy(offsets);
                return;
        }
        deadline = vcdc_clock_ms() + 5000;
        while (c->commits_inflight > 0 && vcdc_clock_ms() < deadline)
                vcdc_consumer_commit_results(c, 100);
        if (c->commits_inflight > 0)
                VCDC_WARN("consumer",
                          "%d asynchronous commit(s) still in flight after "
                          "5 s; committing over them",
                          c->commits_inflight);
        /* Retry a transient coordinator error a few times. */
        for (attempt = 0; attempt < 4; attempt++) {
                err = rd_kafka_commit(c->rk, offsets, 0);
                if (!transient_commit_error(err))
                        break;
                nanosleep(&(struct timespec){.tv_nsec =
                                                     (100L << attempt) *
                                                     1000000L},
                          NULL);
        }
        if (err)
                VCDC_WARN("consumer",
                          "commit failed: %s (the sink's recorded offsets "
                          "still hold; at most the last batch is re-applied)",
                          rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(offsets);
}

/*
 * For a sink that records offsets apart from the data (Chroma): the
 * applied offsets of every assigned partition, not only those of the last
 * batch, so none stays behind. One try: a failure leaves them for the
 * next interval; until then the target's recorded offsets are behind what
 * it holds, which only means more is applied again after a crash.
 */
void vcdc_consumer_record_offsets(vcdc_consumer_t *c) {
        vcdc_sink_offset_t *offsets;
        vcdc_sink_status_t st;
        char errstr[512];
        size_t i, cnt = 0;

        if (!c->offsets_dirty || c->in_flight)
                return;
        if (!(offsets = calloc(c->part_cnt ? c->part_cnt : 1,
                               sizeof(*offsets))))
                return;
        for (i = 0; i < c->part_cnt; i++)
                if (c->parts[i].next > 0) {
                        offsets[cnt].partition = c->parts[i].partition;
                        offsets[cnt++].offset = c->parts[i].next - 1;
                }
        c->last_offsets = vcdc_clock_ms();
        st = vcdc_sink_record_offsets(c->sink, c->topic, offsets, cnt, errstr,
                                      sizeof(errstr));
        if (st == VCDC_SINK_OK) {
                c->offsets_dirty = c->offsets_failing = 0;
        } else if (!c->offsets_failing++) {
                VCDC_WARN("consumer",
                          "recording the applied offsets: %s (tried again "
                          "every %" PRId64 " ms)",
                          errstr, c->commit_ms);
        }
        free(offsets);
}

/* The offsets the target records for the topic, with a few retries; none
 * (logged) when it cannot say: the committed offsets alone are safe, they
 * never pass what was applied, so more is applied again. */
static vcdc_sink_offset_t *read_recorded(vcdc_consumer_t *c, size_t *cntp) {
        vcdc_sink_offset_t *recorded = NULL;
        vcdc_sink_status_t st;
        char errstr[512];
        int attempt;

        for (attempt = 0;; attempt++) {
                st = vcdc_sink_read_offsets(c->sink, c->topic, &recorded, cntp,
                                            errstr, sizeof(errstr));
                if (st == VCDC_SINK_OK)
                        return recorded;
                if (st != VCDC_SINK_RETRIABLE || attempt >= 8 || !*c->run)
                        break;
                nanosleep(&(struct timespec){.tv_nsec = 250 * 1000000L}, NULL);
        }
        VCDC_WARN("consumer",
                  "cannot read the offsets recorded in %s: %s; resuming from "
                  "committed offsets",
                  vcdc_sink_name(c->sink), errstr);
        *cntp = 0;
        return NULL;
}

/*
 * Assignment: resume each partition after the larger of the committed
 * offset and the offset recorded in the target.
 */
static void on_assign(vcdc_consumer_t *c,
                      rd_kafka_topic_partition_list_t *partitions) {
        vcdc_sink_offset_t *recorded;
        size_t recorded_cnt = 0, i;
        rd_kafka_resp_err_t err;
        int catch_up = 0;

        recorded = read_recorded(c, &recorded_cnt);
        if ((err = rd_kafka_committed(c->rk, partitions, 10000)))
                VCDC_WARN("consumer", "cannot read committed offsets: %s",
                          rd_kafka_err2str(err));

        c->part_cnt = 0;
        if ((size_t)partitions->cnt > c->part_cap) {
                part_t *p = realloc(c->parts,
                                    (size_t)partitions->cnt * sizeof(*p));
                if (!p) {
                        VCDC_ERR("consumer", "out of memory");
                        c->fatal = 1;
                        free(recorded);
                        return;
                }
                c->parts = p;
                c->part_cap = (size_t)partitions->cnt;
        }
        for (i = 0; i < (size_t)partitions->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &partitions->elems[i];
                part_t *p = &c->parts[c->part_cnt++];
                int64_t committed = tp->err ? RD_KAFKA_OFFSET_INVALID
                                            : tp->offset;
                int64_t start = committed >= 0 ? committed : -1,
                        rec = vcdc_sink_offset_for(recorded, recorded_cnt,
                                                   tp->partition);

                if (rec + 1 > start && rec >= 0)
                        start = rec + 1;
                /* A replay starts at offset 0 itself: left to the reset
                 * policy, librdkafka first waits out an offset-query timer
                 * (100 ms) and asks for the log start. A partition that
                 * starts later is out of range at 0 and reset as usual. */
                tp->offset = start >= 0 ? start
                             : c->from_beginning ? 0
                                                 : RD_KAFKA_OFFSET_INVALID;
                memset(p, 0, sizeof(*p));
                p->partition = tp->partition;
                p->start = start;
                p->eof = p->first_seen = -1;
                /* The target holds more than the group committed (a
                 * process died between applying and committing): commit
                 * that too, even if nothing more comes to this partition,
                 * or the committed offset would stay behind for good. */
                p->next = start >= 0 && start > committed ? start : -1;
                catch_up |= p->next >= 0;
                c->replaying |= c->from_beginning && start <= 0;
                p->end = tp->partition < c->end_cnt ? c->ends[tp->partition]
                                                    : -1;
                VCDC_INFO("consumer",
                          "assigned %s [%" PRId32 "]: committed %" PRId64
                          ", resuming at %s%" PRId64,
                          c->topic, tp->partition, committed,
                          start >= 0 ? "" : "reset policy, ", tp->offset);
        }
        free(recorded);
        c->paused = 0;
        if ((err = rd_kafka_assign(c->rk, partitions))) {
                VCDC_ERR("consumer", "assign: %s", rd_kafka_err2str(err));
                c->fatal = 1;
        }
        c->assigned = 1;
        if (catch_up && !c->fatal)
                vcdc_consumer_commit(c, 1 /*async*/);
}

/*
 * Revocation: what is applied is committed now, before the next owner
 * reads on; what is not is read again by it. A lost assignment (the group
 * went on without us: session timeout, max.poll.interval.ms) keeps
 * nothing: another member owns the partitions already, and neither a
 * commit nor an offset written to the target may come from here.
 */
static void on_revoke(vcdc_consumer_t *c) {
        if (rd_kafka_assignment_lost(c->rk)) {
                VCDC_WARN("consumer",
                          "the assignment was lost (the group went on "
                          "without this member): dropping what was not "
                          "applied, committing nothing");
                vcdc_consumer_drop_unapplied(c);
        } else {
                vcdc_consumer_land_once(c);
                vcdc_consumer_drop_unapplied(c);
                vcdc_consumer_record_offsets(c);
                vcdc_consumer_commit(c, 0 /*sync*/);
        }
        /* librdkafka keeps an application's pause across assignments:
         * resumed here, or a partition assigned again would stay paused. */
        vcdc_consumer_pause(c, 0);
        rd_kafka_assign(c->rk, NULL);
        c->part_cnt = 0;
        c->assigned = 0;
        c->offsets_dirty = 0;
}

void vcdc_consumer_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t *partitions,
                                void *opaque) {
        vcdc_consumer_t *c = opaque;

        /* No rd_kafka_rebalance_protocol() here: called from this callback
         * during rd_kafka_consumer_close() it can wait for good (librdkafka
         * 2.0). The cooperative protocol is refused at set-up instead. */
        (void)rk;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
                on_assign(c, partitions);
        else
                on_revoke(c);
}

int vcdc_consumer_resync(vcdc_consumer_t *c) {
        rd_kafka_topic_partition_list_t *seek;
        rd_kafka_error_t *error;
        vcdc_sink_offset_t *recorded;
        size_t cnt = 0, i;

        vcdc_consumer_drop_unapplied(c);
        recorded = read_recorded(c, &cnt);
        seek = rd_kafka_topic_partition_list_new((int)c->part_cnt);
        for (i = 0; i < c->part_cnt; i++) {
                part_t *p = &c->parts[i];
                int64_t rec = vcdc_sink_offset_for(recorded, cnt, p->partition),
                        at = p->next >= 0 ? p->next : p->first_seen;

                /* Everything up to the recorded offset is applied, by
                 * whoever recorded it: resume after it, and commit it. */
                if (rec >= 0 && rec + 1 > at) {
                        at = rec + 1;
                        p->next = at;
                        c->uncommitted = 1;
                }
                p->first_seen = -1;
                /* Read again from at: the record past an --until-* bound
                 * comes again, and what is before it must not be taken
                 * for past it. */
                p->until_done = 0;
                if (at >= 0)
                        rd_kafka_topic_partition_list_add(seek, c->topic,
                                                          p->partition)
                                ->offset = at;
        }
        free(recorded);
        vcdc_consumer_pause(c, 0);
        if (seek->cnt &&
            (error = rd_kafka_seek_partitions(c->rk, seek, 10000))) {
                VCDC_ERR("consumer", "seeking after a fenced batch: %s",
                         rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
                c->fatal = 1;
        }
        for (i = 0; seek->cnt && !c->fatal && i < (size_t)seek->cnt; i++)
                if (seek->elems[i].err) {
                        VCDC_ERR("consumer",
                                 "seeking %s [%" PRId32 "]: %s", c->topic,
                                 seek->elems[i].partition,
                                 rd_kafka_err2str(seek->elems[i].err));
                        c->fatal = 1;
                }
        rd_kafka_topic_partition_list_destroy(seek);
        return c->fatal ? -1 : 0;
}

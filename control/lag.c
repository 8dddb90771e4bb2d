/*
 * vcdc - lag and readiness of a consumer group: samples and their
 * judgement. It reports nothing itself (cli/status.c, the cut-over gate).
 *
 * A sample asks the group coordinator for the committed offsets
 * (ListConsumerGroupOffsets) and the members (DescribeConsumerGroups), the
 * partition leaders for the watermarks, and the sink for its recorded
 * offsets and its index's state; then reads, per partition, the record
 * before and at the committed offset for the time lag.
 */
#include "lag.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "clock.h"
#include "log.h"

#define ADMIN_TIMEOUT_MS 10000
#define PROBE_TIMEOUT_MS 3000

const char *vcdc_group_state_name(vcdc_group_state_t state) {
        switch (state) {
        case VCDC_STATE_OK:
                return "OK";
        case VCDC_STATE_LAGGING:
                return "LAGGING";
        case VCDC_STATE_STALLED:
                return "STALLED";
        case VCDC_STATE_REWOUND:
                return "REWOUND";
        case VCDC_STATE_STOPPED:
                return "STOPPED";
        }
        return "UNKNOWN";
}

static void sleep_ms(int64_t ms) {
        struct timespec ts = {.tv_sec = ms / 1000,
                              .tv_nsec = (ms % 1000) * 1000000L};

        if (ms > 0)
                nanosleep(&ts, NULL);
}

/* Waits for one admin result of the given type on q. */
static rd_kafka_event_t *admin_result(rd_kafka_queue_t *q,
                                      rd_kafka_event_type_t type,
                                      const char *what, char *errstr,
                                      size_t errstr_size) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 2000);

        if (!ev) {
                snprintf(errstr, errstr_size, "%s: no answer within %d ms",
                         what, ADMIN_TIMEOUT_MS + 2000);
                return NULL;
        }
        if (rd_kafka_event_type(ev) != type || rd_kafka_event_error(ev)) {
                snprintf(errstr, errstr_size, "%s: %s", what,
                         rd_kafka_event_error(ev)
                                 ? rd_kafka_event_error_string(ev)
                                 : "unexpected admin event");
                rd_kafka_event_destroy(ev);
                return NULL;
        }
        return ev;
}

/* Options of an admin request: op, with the request timeout set. */
static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk,
                                              rd_kafka_admin_op_t op) {
        rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, op);
        char err[256];

        rd_kafka_AdminOptions_set_request_timeout(opts, ADMIN_TIMEOUT_MS, err,
                                                  sizeof(err));
        return opts;
}

/* Committed offsets of group for every partition of s->parts. */
static int read_committed(rd_kafka_t *rk, const char *topic, const char *group,
                          vcdc_lag_sample_t *s, char *errstr,
                          size_t errstr_size) {
        rd_kafka_topic_partition_list_t *parts;
        rd_kafka_ListConsumerGroupOffsets_t *req;
        const rd_kafka_group_result_t **groups;
        const rd_kafka_topic_partition_list_t *res;
        const rd_kafka_error_t *gerr;
        rd_kafka_AdminOptions_t *opts;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        char what[512];
        size_t cnt, i;
        int j, r = -1;

        snprintf(what, sizeof(what), "committed offsets of group %s on %s",
                 group, topic);
        parts = rd_kafka_topic_partition_list_new((int)s->part_cnt);
        for (i = 0; i < s->part_cnt; i++)
                rd_kafka_topic_partition_list_add(parts, topic,
                                                  s->parts[i].partition);
        req = rd_kafka_ListConsumerGroupOffsets_new(group, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        q = rd_kafka_queue_new(rk);
        opts = admin_options(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
        rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, opts, q);
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_ListConsumerGroupOffsets_destroy(req);

        if (!(ev = admin_result(q,
                                RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT,
                                what, errstr, errstr_size)))
                goto done;
        groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
                rd_kafka_event_ListConsumerGroupOffsets_result(ev), &cnt);
        if (cnt != 1) {
                snprintf(errstr, errstr_size, "%s: %zu results for one group",
                         what, cnt);
                goto done_ev;
        }
        if ((gerr = rd_kafka_group_result_error(groups[0]))) {
                snprintf(errstr, errstr_size, "%s: %s", what,
                         rd_kafka_error_string(gerr));
                goto done_ev;
        }
        res = rd_kafka_group_result_partitions(groups[0]);
        for (j = 0; res && j < res->cnt; j++) {
                const rd_kafka_topic_partition_t *tp = &res->elems[j];
                if (strcmp(tp->topic, topic))
                        continue;
                if (tp->err) {
                        snprintf(errstr, errstr_size,
                                 "%s [%" PRId32 "]: %s", what, tp->partition,
                                 rd_kafka_err2str(tp->err));
                        goto done_ev;
                }
                for (i = 0; i < s->part_cnt; i++)
                        if (s->parts[i].partition == tp->partition)
                                s->parts[i].committed =
                                        tp->offset >= 0 ? tp->offset : -1;
        }
        r = 0;
done_ev:
        rd_kafka_event_destroy(ev);
done:
        rd_kafka_queue_destroy(q);
        return r;
}

/* Members and state of group. */
static int read_members(rd_kafka_t *rk, const char *group,
                        vcdc_lag_sample_t *s, char *errstr,
                        size_t errstr_size) {
        const rd_kafka_ConsumerGroupDescription_t **descs;
        const rd_kafka_error_t *gerr;
        rd_kafka_AdminOptions_t *opts;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        const char *groups[1] = {group};
        char what[300];
        size_t cnt;
        int r = -1;

        snprintf(what, sizeof(what), "describe group %s", group);
        q = rd_kafka_queue_new(rk);
        opts = admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
        rd_kafka_DescribeConsumerGroups(rk, groups, 1, opts, q);
        rd_kafka_AdminOptions_destroy(opts);

        if (!(ev = admin_result(q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT,
                                what, errstr, errstr_size)))
                goto done;
        descs = rd_kafka_DescribeConsumerGroups_result_groups(
                rd_kafka_event_DescribeConsumerGroups_result(ev), &cnt);
        if (cnt != 1) {
                snprintf(errstr, errstr_size, "%s: %zu results for one group",
                         what, cnt);
                goto done_ev;
        }
        if ((gerr = rd_kafka_ConsumerGroupDescription_error(descs[0]))) {
                if (rd_kafka_error_code(gerr) ==
                    RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
                        s->members = 0;
                        snprintf(s->group_state, sizeof(s->group_state),
                                 "Dead");
                        r = 0;
                } else
                        snprintf(errstr, errstr_size, "%s: %s", what,
                                 rd_kafka_error_string(gerr));
                goto done_ev;
        }
        s->members =
                (int)rd_kafka_ConsumerGroupDescription_member_count(descs[0]);
        snprintf(s->group_state, sizeof(s->group_state), "%s",
                 rd_kafka_consumer_group_state_name(
                         rd_kafka_ConsumerGroupDescription_state(descs[0])));
        r = 0;
done_ev:
        rd_kafka_event_destroy(ev);
done:
        rd_kafka_queue_destroy(q);
        return r;
}

static void probe_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                         const char *buf) {
        (void)rk;
        /* The probe is auxiliary: its complaints are debug output. */
        vcdc_log(level <= VCDC_LOG_WARN ? VCDC_LOG_INFO : VCDC_LOG_DEBUG,
                 "lag", "probe: %s: %s", fac, buf);
}

/* A consumer without group made from rk's configuration: the same
 * brokers and security settings, none of rk's callbacks. */
static rd_kafka_t *probe_new(rd_kafka_t *rk, char *errstr,
                             size_t errstr_size) {
        static const char *filter[] = {"group.",
                                       "transactional.",
                                       "enable.idempotence",
                                       "enable.auto.",
                                       "auto.commit.",
                                       "enable.gapless.guarantee",
                                       "partition.assignment.strategy",
                                       "session.timeout.ms",
                                       "heartbeat.interval.ms",
                                       "max.poll.interval.ms"};
        static const char *props[][2] = {
                {"enable.partition.eof", "true"},
                {"fetch.wait.max.ms", "50"},
                {"queued.max.messages.kbytes", "1024"},
                {"auto.offset.reset", "earliest"},
                {"log.connection.close", "false"},
        };
        rd_kafka_conf_t *rkc;
        rd_kafka_t *probe;
        char err[256];
        size_t i;

        rkc = rd_kafka_conf_dup_filter(rd_kafka_conf(rk),
                                       sizeof(filter) / sizeof(*filter),
                                       filter);
        if (!rkc) {
                snprintf(errstr, errstr_size, "cannot copy the configuration");
                return NULL;
        }
        rd_kafka_conf_set_opaque(rkc, NULL);
        rd_kafka_conf_set_error_cb(rkc, NULL);
        rd_kafka_conf_set_stats_cb(rkc, NULL);
        rd_kafka_conf_set_throttle_cb(rkc, NULL);
        rd_kafka_conf_set_rebalance_cb(rkc, NULL);
        rd_kafka_conf_set_offset_commit_cb(rkc, NULL);
        rd_kafka_conf_set_dr_msg_cb(rkc, NULL);
        rd_kafka_conf_set_background_event_cb(rkc, NULL);
        rd_kafka_conf_set_events(rkc, 0);
        rd_kafka_conf_set_log_cb(rkc, probe_log_cb);
        for (i = 0; i < sizeof(props) / sizeof(*props); i++)
                if (rd_kafka_conf_set(rkc, props[i][0], props[i][1], err,
                                      sizeof(err)) != RD_KAFKA_CONF_OK) {
                        snprintf(errstr, errstr_size, "%s=%s: %s",
                                 props[i][0], props[i][1], err);
                        rd_kafka_conf_destroy(rkc);
                        return NULL;
                }
        if (!(probe = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, err, sizeof(err)))) {
                snprintf(errstr, errstr_size, "%s", err);
                rd_kafka_conf_destroy(rkc);
                return NULL;
        }
        return probe;
}

/*
 * Reads, in every partition that has records, the record before the
 * committed offset (the last applied) and the first at or after it (the
 * oldest pending; compaction may have removed the one at the offset
 * itself). Failures leave the timestamps at -1: time lag is auxiliary.
 */
static void probe_timestamps(rd_kafka_t *rk, const char *topic,
                             vcdc_lag_sample_t *s) {
        rd_kafka_topic_t *rkt = NULL;
        rd_kafka_queue_t *q = NULL;
        rd_kafka_message_t *rkm;
        rd_kafka_t *probe;
        char errstr[512];
        unsigned char *started = NULL, *done = NULL;
        size_t i, left = 0;
        int64_t deadline;

        if (!(probe = probe_new(rk, errstr, sizeof(errstr)))) {
                VCDC_INFO("lag", "no time lag for %s: %s", topic, errstr);
                return;
        }
        if (!(started = calloc(s->part_cnt ? s->part_cnt : 1, 1)) ||
            !(done = calloc(s->part_cnt ? s->part_cnt : 1, 1)) ||
            !(rkt = rd_kafka_topic_new(probe, topic, NULL)) ||
            !(q = rd_kafka_queue_new(probe)))
                goto done;
        for (i = 0; i < s->part_cnt; i++) {
                vcdc_part_lag_t *p = &s->parts[i];
                int64_t from;

                if (p->end <= p->start)
                        continue; /* empty */
                if (p->committed > p->start)
                        from = p->committed - 1;
                else if (p->committed >= 0)
                        from = p->committed;
                else
                        from = RD_KAFKA_OFFSET_BEGINNING;
                if (rd_kafka_consume_start_queue(rkt, p->partition, from, q) ==
                    -1) {
                        VCDC_INFO("lag", "%s [%" PRId32 "]: probe: %s", topic,
                                  p->partition,
                                  rd_kafka_err2str(rd_kafka_last_error()));
                        continue;
                }
                started[i] = 1;
                left++;
        }
        deadline = vcdc_clock_ms() + PROBE_TIMEOUT_MS;
        while (left > 0 && vcdc_clock_ms() < deadline) {
                if (!(rkm = rd_kafka_consume_queue(q, 100 /*ms*/)))
                        continue;
                for (i = 0; i < s->part_cnt; i++)
                        if (s->parts[i].partition == rkm->partition)
                                break;
                if (i < s->part_cnt && started[i] && !done[i]) {
                        vcdc_part_lag_t *p = &s->parts[i];
                        int64_t ts = rd_kafka_message_timestamp(rkm, NULL);

                        if (rkm->err) {
                                if (rkm->err !=
                                    RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                        VCDC_INFO("lag",
                                                  "%s [%" PRId32
                                                  "]: probe: %s",
                                                  topic, p->partition,
                                                  rd_kafka_message_errstr(
                                                          rkm));
                                done[i] = 1;
                        } else if (p->committed >= 0 &&
                                   rkm->offset < p->committed) {
                                p->applied_ts_ms = ts;
                        } else {
                                p->pending_ts_ms = ts;
                                done[i] = 1;
                        }
                        if (done[i])
                                left--;
                }
                rd_kafka_message_destroy(rkm);
        }
        for (i = 0; i < s->part_cnt; i++)
                if (started[i])
                        rd_kafka_consume_stop(rkt, s->parts[i].partition);
done:
        if (q)
                rd_kafka_queue_destroy(q);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(probe);
        free(started);
        free(done);
}

rd_kafka_t *vcdc_lag_client_new(const vcdc_conf_t *conf, char *errstr,
                                size_t errstr_size) {
        /* No group, and no producer settings to warn of. */
        rd_kafka_conf_t *rkc = vcdc_conf_kafka_reader(conf, NULL, errstr,
                                                      errstr_size);
        rd_kafka_t *rk;

        if (!rkc)
                return NULL;
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, errstr, errstr_size)))
                rd_kafka_conf_destroy(rkc);
        return rk;
}

int vcdc_lag_sample(rd_kafka_t *rk, const char *topic, const char *group,
                    vcdc_sink_t *sink, vcdc_lag_sample_t *out, char *errstr,
                    size_t errstr_size) {
        vcdc_sink_offset_t *recorded = NULL;
        size_t recorded_cnt = 0, i, j;
        int partition_cnt, r = -1;
        char err[512];

        memset(out, 0, sizeof(*out));
        out->last_applied_ts_ms = -1;
        out->time_lag_ms = -1;
        if (vcdc_admin_partition_count(rk, topic, &partition_cnt,
                                       ADMIN_TIMEOUT_MS, errstr,
                                       errstr_size) == -1)
                return -1;
        if (!partition_cnt) {
                snprintf(errstr, errstr_size, "topic %s does not exist",
                         topic);
                return -1;
        }
        out->t_ms = vcdc_wall_ms();
        if (!(out->parts = calloc((size_t)partition_cnt, sizeof(*out->parts)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        out->part_cnt = (size_t)partition_cnt;
        for (i = 0; i < out->part_cnt; i++) {
                vcdc_part_lag_t *p = &out->parts[i];
                p->partition = (int32_t)i;
                p->committed = p->recorded = -1;
                p->applied_ts_ms = p->pending_ts_ms = -1;
        }

        /* Members first: a consumer that commits and leaves between the two
         * reads then shows as stopped with its last commit, never as a
         * member with stale offsets. */
        if (read_members(rk, group, out, errstr, errstr_size) == -1 ||
            read_committed(rk, topic, group, out, errstr, errstr_size) == -1)
                goto done;
        for (i = 0; i < out->part_cnt; i++) {
                vcdc_part_lag_t *p = &out->parts[i];
                rd_kafka_resp_err_t kerr = rd_kafka_query_watermark_offsets(
                        rk, topic, p->partition, &p->start, &p->end,
                        ADMIN_TIMEOUT_MS);
                if (kerr) {
                        snprintf(errstr, errstr_size,
                                 "%s [%" PRId32 "]: cannot read the log end: "
                                 "%s",
                                 topic, p->partition, rd_kafka_err2str(kerr));
                        goto done;
                }
                if (p->committed >= 0)
                        p->lag = p->end > p->committed ? p->end - p->committed
                                                       : 0;
                else
                        p->lag = p->end > p->start ? p->end - p->start : 0;
                out->total_lag += p->lag;
        }
        if (sink) {
                vcdc_sink_status_t st = vcdc_sink_read_offsets(
                        sink, topic, &recorded, &recorded_cnt, err,
                        sizeof(err));
                if (st != VCDC_SINK_OK) {
                        snprintf(errstr, errstr_size,
                                 "offsets recorded in %s: %s",
                                 vcdc_sink_name(sink), err);
                        goto done;
                }
                for (j = 0; j < recorded_cnt; j++)
                        for (i = 0; i < out->part_cnt; i++)
                                if (out->parts[i].partition ==
                                    recorded[j].partition)
                                        out->parts[i].recorded =
                                                recorded[j].offset;
        }

        /* The index is reported, not judged: a failed read leaves it out
         * of this sample only. */
        if (sink && vcdc_sink_can_index(sink)) {
                if (vcdc_sink_index_state(sink, VCDC_INDEX_NONE, &out->index,
                                          err, sizeof(err)) == VCDC_SINK_OK)
                        out->has_index = 1;
                else
                        VCDC_INFO("lag", "index of %s: %s",
                                  vcdc_sink_name(sink), err);
        }
        probe_timestamps(rk, topic, out);
        out->time_lag_ms = 0;
        for (i = 0; i < out->part_cnt; i++) {
                vcdc_part_lag_t *p = &out->parts[i];
                if (p->applied_ts_ms > out->last_applied_ts_ms)
                        out->last_applied_ts_ms = p->applied_ts_ms;
                if (p->lag == 0)
                        continue;
                if (p->pending_ts_ms < 0) {
                        if (out->time_lag_ms == 0)
                                out->time_lag_ms = -1;
                        continue;
                }
                if (out->t_ms - p->pending_ts_ms > out->time_lag_ms)
                        out->time_lag_ms = out->t_ms > p->pending_ts_ms
                                                   ? out->t_ms -
                                                             p->pending_ts_ms
                                                   : 0;
        }
        r = 0;
done:
        free(recorded);
        if (r == -1)
                vcdc_lag_sample_clear(out);
        return r;
}

void vcdc_lag_sample_clear(vcdc_lag_sample_t *s) {
        if (!s)
                return;
        free(s->parts);
        memset(s, 0, sizeof(*s));
        s->last_applied_ts_ms = s->time_lag_ms = -1;
}

int64_t vcdc_lag_part_time_lag(const vcdc_lag_sample_t *s,
                               const vcdc_part_lag_t *p) {
        if (p->lag == 0)
                return 0;
        if (p->pending_ts_ms < 0)
                return -1;
        return s->t_ms > p->pending_ts_ms ? s->t_ms - p->pending_ts_ms : 0;
}

void vcdc_lag_totals(const vcdc_lag_sample_t *s, int64_t *committedp,
                     int64_t *endp) {
        size_t k;

        *committedp = *endp = 0;
        for (k = 0; k < s->part_cnt; k++) {
                if (s->parts[k].committed > 0)
                        *committedp += s->parts[k].committed;
                *endp += s->parts[k].end;
        }
}

int vcdc_lag_window(rd_kafka_t *rk, const char *topic, const char *group,
                    vcdc_sink_t *sink, size_t n, int interval_ms,
                    vcdc_lag_sample_t *samples, char *errstr,
                    size_t errstr_size) {
        size_t i, j;

        for (i = 0; i < n; i++) {
                /* From the moment the previous sample was taken (t_ms), not
                 * from when the call began: connecting takes time too. */
                if (i > 0)
                        sleep_ms(samples[i - 1].t_ms + interval_ms -
                                 vcdc_wall_ms());
                if (vcdc_lag_sample(rk, topic, group, sink, &samples[i],
                                    errstr, errstr_size) == -1) {
                        for (j = 0; j < i; j++)
                                vcdc_lag_sample_clear(&samples[j]);
                        return -1;
                }
        }
        return 0;
}

/*
 * Evaluation.
 */

static const vcdc_part_lag_t *part_of(const vcdc_lag_sample_t *s,
                                      int32_t partition) {
        size_t i;

        for (i = 0; i < s->part_cnt; i++)
                if (s->parts[i].partition == partition)
                        return &s->parts[i];
        return NULL;
}

/*
 * A partition caught up within the window: its lag was 0 in some sample,
 * or a later sample's committed offset reached the log end an earlier
 * sample saw. With writes flowing, lag is seldom exactly 0 at the moment a
 * sample is taken; a consumer that keeps up still passes, within a sample
 * interval, every end it was shown.
 */
static int caught_up(const vcdc_lag_sample_t *samples, size_t n,
                     int32_t partition) {
        const vcdc_part_lag_t *pi, *pj;
        size_t i, j;

        for (i = 0; i < n; i++) {
                if (!(pi = part_of(&samples[i], partition)))
                        continue;
                if (pi->lag == 0)
                        return 1;
                for (j = i + 1; j < n; j++)
                        if ((pj = part_of(&samples[j], partition)) &&
                            pj->committed >= 0 && pj->committed >= pi->end)
                                return 1;
        }
        return 0;
}

/* Where the group reads next: the committed offset, else the log start. */
static int64_t position(const vcdc_part_lag_t *p) {
        return p->committed >= 0 ? p->committed : p->end - p->lag;
}

vcdc_group_state_t vcdc_lag_evaluate(const vcdc_lag_sample_t *samples,
                                     size_t n, int64_t max_lag,
                                     vcdc_readiness_t *out) {
        const vcdc_lag_sample_t *first = &samples[0], *cur = &samples[n - 1];
        int moved = 0, always_lagging = 1, rewound = 0;
        int32_t rw_part = 0;
        int64_t rw_from = 0, rw_to = 0, progress = 0;
        double dt;
        size_t i, k;

        memset(out, 0, sizeof(*out));
        out->lag = cur->total_lag;
        out->time_lag_ms = cur->time_lag_ms;
        for (i = 0; i < n; i++)
                if (samples[i].total_lag <= 0)
                        always_lagging = 0;
        out->reached_zero = 1;
        for (k = 0; k < cur->part_cnt; k++)
                if (!caught_up(samples, n, cur->parts[k].partition))
                        out->reached_zero = 0;
        /* Offsets between consecutive samples: back is a rewind, any
         * forward step is movement. */
        for (i = 1; i < n; i++) {
                for (k = 0; k < samples[i].part_cnt; k++) {
                        const vcdc_part_lag_t *p = &samples[i].parts[k];
                        const vcdc_part_lag_t *prev =
                                part_of(&samples[i - 1], p->partition);
                        if (!prev)
                                continue;
                        if (prev->committed >= 0 &&
                            p->committed < prev->committed) {
                                if (!rewound) {
                                        rw_part = p->partition;
                                        rw_from = prev->committed;
                                        rw_to = p->committed;
                                }
                                rewound = 1;
                        } else if (p->committed != prev->committed)
                                moved = 1;
                }
        }
        dt = (double)(cur->t_ms - first->t_ms) / 1000.0;
        for (k = 0; k < cur->part_cnt; k++) {
                const vcdc_part_lag_t *p = &cur->parts[k];
                const vcdc_part_lag_t *p0 = part_of(first, p->partition);
                if (p0 && position(p) > position(p0))
                        progress += position(p) - position(p0);
        }
        out->rate = dt > 0 ? (double)progress / dt : 0;
        if (cur->total_lag == 0)
                out->eta_s = 0;
        else if (n >= 2 && dt > 0 && first->total_lag > cur->total_lag)
                out->eta_s = (double)cur->total_lag * dt /
                             (double)(first->total_lag - cur->total_lag);
        else
                out->eta_s = -1;

        if (rewound) {
                out->state = VCDC_STATE_REWOUND;
                if (rw_to >= 0)
                        snprintf(out->reason, sizeof(out->reason),
                                 "the committed offset of partition %" PRId32
                                 " went back from %" PRId64 " to %" PRId64
                                 " (an offset reset): records are applied "
                                 "again",
                                 rw_part, rw_from, rw_to);
                else
                        snprintf(out->reason, sizeof(out->reason),
                                 "the committed offset of partition %" PRId32
                                 " (%" PRId64 ") was deleted: the group "
                                 "restarts from its reset policy",
                                 rw_part, rw_from);
        } else if (cur->members == 0) {
                out->state = VCDC_STATE_STOPPED;
                snprintf(out->reason, sizeof(out->reason),
                         "the group has no member (state %s): no consumer "
                         "is running, lag %" PRId64,
                         cur->group_state[0] ? cur->group_state : "unknown",
                         cur->total_lag);
        } else if (n >= 2 && always_lagging && !moved) {
                out->state = VCDC_STATE_STALLED;
                snprintf(out->reason, sizeof(out->reason),
                         "lag %" PRId64 " and no committed offset moved in "
                         "%.1f s although %d member%s in the group",
                         cur->total_lag, dt, cur->members,
                         cur->members == 1 ? " is" : "s are");
        } else if (out->reached_zero && cur->total_lag <= max_lag) {
                out->state = VCDC_STATE_OK;
                snprintf(out->reason, sizeof(out->reason),
                         "lag %" PRId64 " (limit %" PRId64 "), caught up "
                         "within the window",
                         cur->total_lag, max_lag);
        } else {
                out->state = VCDC_STATE_LAGGING;
                if (cur->total_lag > max_lag)
                        snprintf(out->reason, sizeof(out->reason),
                                 "lag %" PRId64 " is above the limit %" PRId64
                                 "%s",
                                 cur->total_lag, max_lag,
                                 out->reached_zero
                                         ? " now (it caught up earlier in "
                                           "the window)"
                                         : "");
                else
                        snprintf(out->reason, sizeof(out->reason),
                                 "lag %" PRId64 " is within the limit %" PRId64
                                 " but the group never caught up with the "
                                 "log end in the window",
                                 cur->total_lag, max_lag);
        }
        return out->state;
}

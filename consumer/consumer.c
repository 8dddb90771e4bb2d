/*
 * vcdc - the consumer's set-up and tear-down, statistics and metrics. The
 * loop and what it does live in loop.c, handle.c, apply.c and assign.c
 * (consumer_int.h says which does what).
 * It applies nothing itself.
 */
#include "consumer_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "clock.h"
#include "collconf.h"
#include "log.h"
#include "url.h"

const double vcdc_latency_buckets[VCDC_LATENCY_BUCKETS] = {
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

static void error_cb(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
        vcdc_consumer_t *c = opaque;
        char fatal[512];

        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
                VCDC_ERR("consumer", "fatal: %s", fatal);
                c->fatal = 1;
                return;
        }
        VCDC_WARN("consumer", "%s: %s", rd_kafka_err2name(err), reason);
}

/*
 * Metrics, Prometheus text format.
 */
static size_t render_metrics(char *buf, size_t size, void *opaque) {
        vcdc_consumer_t *c = opaque;
        size_t n = 0, b;
        uint64_t cnt = atomic_load(&c->apply_cnt);

#define OUT(...)                                                               \
        do {                                                                   \
                if (n < size)                                                  \
                        n += (size_t)snprintf(buf + n, size - n, __VA_ARGS__); \
        } while (0)
#define COUNTER(name, help, v)                                                 \
        OUT("# HELP " name " " help "\n# TYPE " name " counter\n" name         \
            " %" PRIu64 "\n",                                                  \
            (uint64_t)(v))
        COUNTER("vcdc_consumer_messages_total",
                "Messages applied, dead-lettered or filtered, and committed.",
                atomic_load(&c->messages));
        COUNTER("vcdc_consumer_records_applied_total",
                "Changes applied to the sink (after coalescing).",
                atomic_load(&c->applied));
        COUNTER("vcdc_consumer_batches_total", "Batches applied.",
                atomic_load(&c->batches));
        COUNTER("vcdc_consumer_retries_total",
                "Sink calls retried after a transient failure.",
                atomic_load(&c->retries));
        COUNTER("vcdc_consumer_dead_letters_total",
                "Records sent to the dead-letter topic.",
                atomic_load(&c->dead_letters));
        COUNTER("vcdc_consumer_filtered_total",
                "Records of other collections, skipped.",
                atomic_load(&c->filtered));
        COUNTER("vcdc_consumer_snapshot_skipped_total",
                "Snapshot records of this consumer's own group (copied "
                "from its target by vcdc snapshot), skipped.",
                atomic_load(&c->snapshot_skipped));
        COUNTER("vcdc_consumer_splits_total",
                "Batches split after a refusal or repeated failures.",
                atomic_load(&c->splits));
        COUNTER("vcdc_consumer_stale_total",
                "Batches fenced off: the target already recorded their "
                "offsets.",
                atomic_load(&c->stale));
        OUT("# HELP vcdc_consumer_lag_messages Messages between the "
            "consumer's position and the log end, assigned partitions.\n"
            "# TYPE vcdc_consumer_lag_messages gauge\n"
            "vcdc_consumer_lag_messages %" PRId64 "\n",
            (int64_t)atomic_load(&c->lag));
        OUT("# HELP vcdc_consumer_last_applied_timestamp_ms Kafka timestamp "
            "of the newest applied record.\n"
            "# TYPE vcdc_consumer_last_applied_timestamp_ms gauge\n"
            "vcdc_consumer_last_applied_timestamp_ms %" PRId64 "\n",
            (int64_t)atomic_load(&c->last_applied_ts));
        OUT("# HELP vcdc_consumer_apply_seconds Time of one sink apply.\n"
            "# TYPE vcdc_consumer_apply_seconds histogram\n");
        for (b = 0; b < VCDC_LATENCY_BUCKETS; b++)
                OUT("vcdc_consumer_apply_seconds_bucket{le=\"%g\"} %" PRIu64
                    "\n",
                    vcdc_latency_buckets[b],
                    (uint64_t)atomic_load(&c->apply_le[b]));
        OUT("vcdc_consumer_apply_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
            "vcdc_consumer_apply_seconds_sum %.6f\n"
            "vcdc_consumer_apply_seconds_count %" PRIu64 "\n",
            cnt, (double)atomic_load(&c->apply_us) / 1e6, cnt);
#undef COUNTER
#undef OUT
        return n < size ? n : size - 1;
}

/*
 * Set-up.
 */

/* A replay from offset zero must find all history: every partition starts
 * at offset 0, or the topic is compacted. */
static int check_replay(vcdc_consumer_t *c, int partition_cnt, int *transientp,
                        char *errstr, size_t errstr_size) {
        char policy[128];
        int64_t lo, hi;
        int p;

        *transientp = 1; /* until the answers are in */
        if (vcdc_admin_topic_config(c->rk, c->topic, "cleanup.policy", policy,
                                    sizeof(policy), 10000, errstr,
                                    errstr_size) == -1)
                return -1;
        if (vcdc_admin_policy_keeps_history(policy))
                return 0;
        for (p = 0; p < partition_cnt; p++) {
                rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                        c->rk, c->topic, p, &lo, &hi, 10000);
                if (err) {
                        snprintf(errstr, errstr_size,
                                 "%s [%d]: cannot read offsets: %s", c->topic,
                                 p, rd_kafka_err2str(err));
                        return -1;
                }
                if (lo > 0) {
                        *transientp = 0;
                        snprintf(errstr, errstr_size,
                                 "cannot replay %s from offset zero: "
                                 "partition %d starts at offset %" PRId64
                                 " (cleanup.policy=%s deleted the records "
                                 "before it), so the replay would miss "
                                 "changes. Replay from a compacted topic",
                                 c->topic, p, lo, policy);
                        return -1;
                }
        }
        *transientp = 0;
        return 0;
}

/* The topic's delete.retention.ms, which a replay must finish within
 * (loop.c warns when it will not); -1 when the topic does not say. */
static int64_t delete_retention(vcdc_consumer_t *c) {
        char v[64], errstr[256], *end;
        long long ms;

        if (vcdc_admin_topic_config(c->rk, c->topic, "delete.retention.ms", v,
                                    sizeof(v), 10000, errstr,
                                    sizeof(errstr)) == -1) {
                VCDC_DEBUG("consumer", "%s", errstr);
                return -1;
        }
        ms = strtoll(v, &end, 10);
        return end == v || *end || ms < 0 ? -1 : (int64_t)ms;
}

/* The log end of each partition now: where --exit-at-end stops. */
static int read_ends(vcdc_consumer_t *c, int partition_cnt, char *errstr,
                     size_t errstr_size) {
        int64_t lo;
        int p;

        if (!(c->ends = calloc((size_t)partition_cnt, sizeof(*c->ends)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        c->end_cnt = partition_cnt;
        for (p = 0; p < partition_cnt; p++) {
                rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                        c->rk, c->topic, p, &lo, &c->ends[p], 10000);
                if (err) {
                        snprintf(errstr, errstr_size,
                                 "%s [%d]: cannot read the log end: %s",
                                 c->topic, p, rd_kafka_err2str(err));
                        return -1;
                }
        }
        return 0;
}

/*
 * A restore to a point in time: every partition needs a bound, and a time
 * compaction may already have merged is refused (until.c). Keeps the
 * topic's cleanup.policy and min.compaction.lag.ms for the check of
 * --until-offsets, made when the records are reached (handle.c).
 */
static int check_until(vcdc_consumer_t *c, int partition_cnt, int *transientp,
                       char *errstr, size_t errstr_size) {
        char v[64], *end;
        long long ms;

        *transientp = 0;
        if (vcdc_until_check_partitions(&c->until, c->topic, partition_cnt,
                                        errstr, errstr_size) == -1)
                return -1;
        *transientp = 1; /* until the answers are in */
        if (vcdc_admin_topic_config(c->rk, c->topic, "cleanup.policy",
                                    c->cleanup_policy,
                                    sizeof(c->cleanup_policy), 10000, errstr,
                                    errstr_size) == -1 ||
            vcdc_admin_topic_config(c->rk, c->topic, "min.compaction.lag.ms", v,
                                    sizeof(v), 10000, errstr,
                                    errstr_size) == -1)
                return -1;
        *transientp = 0;
        ms = strtoll(v, &end, 10);
        if (end == v || *end || ms < 0) {
                snprintf(errstr, errstr_size,
                         "%s: min.compaction.lag.ms=\"%s\": not a duration",
                         c->topic, v);
                return -1;
        }
        c->min_compaction_lag_ms = (int64_t)ms;
        if (c->until.kind == VCDC_UNTIL_TIMESTAMP && c->until.allow_compacted &&
            vcdc_until_may_be_compacted(c->cleanup_policy, (int64_t)ms,
                                        vcdc_wall_ms(), c->until.ts_ms))
                VCDC_WARN("consumer",
                          "--allow-compacted-history: %s has "
                          "cleanup.policy=%s and min.compaction.lag.ms=%lld,"
                          " so compaction may have merged changes around "
                          "%" PRId64 ": the target gets what the topic "
                          "still holds, which may not be the state then",
                          c->topic, c->cleanup_policy, ms, c->until.ts_ms);
        return vcdc_until_check_history(&c->until, c->topic, c->cleanup_policy,
                                        (int64_t)ms, vcdc_wall_ms(), errstr,
                                        errstr_size);
}

/* --until-offsets: a partition ends at its bound, or at its log end seen
 * at start when that comes first. */
static void cap_ends(vcdc_consumer_t *c) {
        int p;

        if (c->until.kind != VCDC_UNTIL_OFFSETS)
                return;
        for (p = 0; p < c->end_cnt && p < c->until.offset_cnt; p++)
                if (c->until.offsets[p] < c->ends[p])
                        c->ends[p] = c->until.offsets[p];
}

static void message_destroy(void *msg) {
        rd_kafka_message_destroy(msg);
}

/* The librdkafka consumer: our settings over the user's. */
static int kafka_new(vcdc_consumer_t *c, const vcdc_conf_t *conf,
                     const vcdc_consumer_opts_t *opts, char *errstr,
                     size_t errstr_size) {
        rd_kafka_conf_t *rkc = vcdc_conf_kafka_dup(conf);
        char v[128];
        size_t vsize;

        if (vcdc_conf_kafka_set(rkc, "group.id", opts->group, errstr,
                                errstr_size) ||
            vcdc_conf_kafka_set(rkc, "enable.auto.commit", "false", errstr,
                                errstr_size) ||
            vcdc_conf_kafka_set(rkc, "enable.auto.offset.store", "false",
                                errstr, errstr_size) ||
            vcdc_conf_kafka_set(rkc, "auto.offset.reset",
                                opts->from_beginning ? "earliest" : "latest",
                                errstr, errstr_size) ||
            /* The end of a partition is what --exit-at-end waits for: the
             * last offsets may hold no record (compacted away, or a
             * transaction marker), so the applied offset never gets
             * there. The index waits for the same end. */
            ((opts->exit_at_end || opts->until.kind != VCDC_UNTIL_NONE ||
              opts->index.kind != VCDC_INDEX_NONE) &&
             vcdc_conf_kafka_set(rkc, "enable.partition.eof", "true", errstr,
                                 errstr_size)))
                goto err;
        /* Partitions change hands whole (the eager protocol): a revocation
         * commits what is applied before anyone else reads on. */
        vsize = sizeof(v);
        if (rd_kafka_conf_get(rkc, "partition.assignment.strategy", v,
                              &vsize) == RD_KAFKA_CONF_OK &&
            strstr(v, "cooperative")) {
                snprintf(errstr, errstr_size,
                         "partition.assignment.strategy=%s: the cooperative "
                         "rebalance protocol is not supported; use range or "
                         "roundrobin",
                         v);
                goto err;
        }
        vsize = sizeof(v);
        /* librdkafka prefetches up to 64 MB per consumer by default, which
         * would be most of the consumer's memory. Bounded to 8 MB unless
         * set to something else; wake_fetcher() (loop.c) keeps a small
         * queue from stalling (bench: 1,000,000 records replayed into
         * pgvector as fast with 8 MB as with 16 MB; peak RSS 40 and 52-64
         * MB, the larger bound overshot by the fetch answers landing on
         * it). */
        if (rd_kafka_conf_get(rkc, "queued.max.messages.kbytes", v, &vsize) ==
                    RD_KAFKA_CONF_OK &&
            !strcmp(v, "65536") &&
            vcdc_conf_kafka_set(rkc, "queued.max.messages.kbytes", "8192",
                                errstr, errstr_size))
                goto err;
        rd_kafka_conf_set_opaque(rkc, c);
        rd_kafka_conf_set_rebalance_cb(rkc, vcdc_consumer_rebalance_cb);
        rd_kafka_conf_set_error_cb(rkc, error_cb);
        rd_kafka_conf_set_log_cb(rkc, vcdc_log_rdkafka_cb);
        if (!(c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, errstr,
                                   errstr_size)))
                goto err;
        rd_kafka_poll_set_consumer(c->rk);
        c->commitq = rd_kafka_queue_new(c->rk);
        return 0;
err:
        rd_kafka_conf_destroy(rkc);
        return -1;
}

/*
 * The collection's configuration, as `vcdc snapshot` recorded it from the
 * database the collection is copied from (collconf.h): a metric not given
 * (neither --metric nor ?metric=) and an unknown dimension are taken from
 * it, so that a new target is created as the source is; a given one that
 * differs is refused. The sink is opened again when it takes something.
 * No control topic, or no answer for it: nothing is known, the run goes
 * on. Returns 0, or -1 with errstr (*transientp set).
 */
static int take_collconf(vcdc_consumer_t *c, const vcdc_conf_t *conf,
                         const vcdc_consumer_opts_t *opts,
                         vcdc_sink_conf_t *sink_conf, int *transientp,
                         char *errstr, size_t errstr_size) {
        vcdc_sink_status_t sink_status;
        vcdc_metric_t given = sink_conf->metric;
        vcdc_collconf_t cc;
        vcdc_url_t *url;
        const char *v;
        char why[512];
        int found, reopen = 0, r = -1;

        *transientp = 0;
        if (!opts->control_topic)
                return 0;
        if (vcdc_collconf_read(conf, opts->control_topic, c->collection, &cc,
                               &found, why, sizeof(why)) == -1) {
                VCDC_INFO("consumer",
                          "the configuration of collection %s is not known "
                          "(%s): going on without it",
                          c->collection, why);
                found = 0;
        } else if (!found) {
                VCDC_DEBUG("consumer",
                           "no configuration of collection %s on %s (or no "
                           "such topic)",
                           c->collection, opts->control_topic);
        }
        if (!found) {
                vcdc_collconf_clear(&cc);
                return 0;
        }
        if (given == VCDC_METRIC_UNSET &&
            (url = vcdc_url_parse(opts->sink_url, why, sizeof(why)))) {
                if ((v = vcdc_url_param(url, "metric")))
                        given = vcdc_metric_parse(v);
                vcdc_url_destroy(url);
        }
        if (given != VCDC_METRIC_UNSET && given != cc.metric) {
                snprintf(errstr, errstr_size,
                         "metric %s contradicts the configuration of "
                         "collection %s recorded on %s: metric %s, read "
                         "from %s. The target must search as the source "
                         "does: drop --metric (and ?metric=) to take %s",
                         vcdc_metric_name(given), c->collection,
                         opts->control_topic, vcdc_metric_name(cc.metric),
                         cc.source ? cc.source : "an unnamed source",
                         vcdc_metric_name(cc.metric));
                goto done;
        }
        if (sink_conf->dim && cc.dim && sink_conf->dim != cc.dim) {
                snprintf(errstr, errstr_size,
                         "dimension %zu contradicts the configuration of "
                         "collection %s recorded on %s: dimension %zu, "
                         "read from %s",
                         sink_conf->dim, c->collection, opts->control_topic,
                         cc.dim, cc.source ? cc.source : "an unnamed source");
                goto done;
        }
        if (given == VCDC_METRIC_UNSET) {
                sink_conf->metric = cc.metric;
                reopen = 1;
        }
        if (!sink_conf->dim && cc.dim) {
                sink_conf->dim = cc.dim;
                reopen = 1;
        }
        VCDC_NOTICE("consumer",
                    "collection %s: metric %s, dimension %zu, as recorded on "
                    "%s from %s",
                    c->collection, vcdc_metric_name(sink_conf->metric),
                    sink_conf->dim ? sink_conf->dim : cc.dim,
                    opts->control_topic,
                    cc.source ? cc.source : "an unnamed source");
        if (reopen) {
                vcdc_sink_destroy(c->sink);
                if (!(c->sink = vcdc_sink_open(opts->sink_url, sink_conf,
                                               &sink_status, why,
                                               sizeof(why)))) {
                        *transientp = sink_status == VCDC_SINK_RETRIABLE;
                        snprintf(errstr, errstr_size,
                                 "%s (with the configuration of collection "
                                 "%s recorded on %s, from %s)",
                                 why, c->collection, opts->control_topic,
                                 cc.source ? cc.source : "an unnamed source");
                        goto done;
                }
        }
        r = 0;
done:
        vcdc_collconf_clear(&cc);
        return r;
}

/* The vcdc.* settings. */
static void read_settings(vcdc_consumer_t *c, const vcdc_conf_t *conf,
                          vcdc_sink_conf_t *sink_conf) {
        c->batch_records = (size_t)vcdc_conf_int(conf, "vcdc.batch.records");
        c->batch_bytes = (size_t)vcdc_conf_int(conf, "vcdc.batch.bytes");
        c->batch_ms = vcdc_conf_int(conf, "vcdc.batch.ms");
        c->backoff_base = vcdc_conf_int(conf, "vcdc.retry.backoff.ms");
        c->backoff_max = vcdc_conf_int(conf, "vcdc.retry.backoff.max.ms");
        c->split_after = (int)vcdc_conf_int(conf, "vcdc.retry.split.after");
        c->progress_ms = vcdc_conf_int(conf, "vcdc.progress.ms");
        c->commit_ms = vcdc_conf_int(conf, "vcdc.commit.interval.ms");
        if (*vcdc_conf_str(conf, "vcdc.sink.metric"))
                sink_conf->metric = vcdc_metric_parse(
                        vcdc_conf_str(conf, "vcdc.sink.metric"));
        sink_conf->timeout_ms =
                (int)vcdc_conf_int(conf, "vcdc.sink.timeout.ms");
        sink_conf->dim = (size_t)vcdc_conf_int(conf, "vcdc.sink.dim");
}

vcdc_consumer_t *vcdc_consumer_new(const vcdc_conf_t *conf,
                                   const vcdc_consumer_opts_t *opts,
                                   int *transientp, char *errstr,
                                   size_t errstr_size) {
        vcdc_consumer_t *c = calloc(1, sizeof(*c));
        vcdc_sink_conf_t sink_conf = {0};
        vcdc_sink_status_t sink_status;
        char dlq_topic[512];
        int partition_cnt, transient = 0;

        if (!c || !(c->topic = strdup(opts->topic)) ||
            !(c->group = strdup(opts->group)) ||
            !(c->batch = vcdc_batch_new(message_destroy)) ||
            !(c->flight = vcdc_batch_new(message_destroy))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (vcdc_until_copy(&c->until, &opts->until) == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        /* A bound ends the run where it ends each partition. */
        c->exit_at_end =
                opts->exit_at_end || opts->until.kind != VCDC_UNTIL_NONE;
        c->group_len = strlen(c->group);
        c->from_beginning = opts->from_beginning;
        c->rng = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)c;
        if (!c->rng)
                c->rng = 1;
        read_settings(c, conf, &sink_conf);

        if (!(c->sink = vcdc_sink_open(opts->sink_url, &sink_conf, &sink_status,
                                       errstr, errstr_size))) {
                transient = sink_status == VCDC_SINK_RETRIABLE;
                goto err;
        }
        if (opts->index.kind != VCDC_INDEX_NONE &&
            !vcdc_sink_can_index(c->sink)) {
                snprintf(errstr, errstr_size,
                         "%s keeps its own index: --index %s is for "
                         "pgvector:// sinks only",
                         vcdc_sink_name(c->sink),
                         vcdc_index_kind_name(opts->index.kind));
                goto err;
        }
        vcdc_consumer_index_init(c, &opts->index);
        c->offsets_apart = vcdc_sink_offsets_apart(c->sink);
        c->collection_explicit = opts->collection != NULL;
        if (!(c->collection =
                      strdup(opts->collection ? opts->collection
                                              : vcdc_sink_target(c->sink)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        if (take_collconf(c, conf, opts, &sink_conf, &transient, errstr,
                          errstr_size) == -1)
                goto err;
        /* The batch never exceeds what the sink takes in one call. */
        if (c->batch_records > vcdc_sink_max_batch(c->sink))
                c->batch_records = vcdc_sink_max_batch(c->sink);
        if (!(c->codec = vcdc_codec_new(errstr, errstr_size)))
                goto err;
        /* Without a registry client, vcdc.schema.id is the one Confluent
         * schema id known: the current schema's, as the producer's
         * --schema-id wrote it. Other ids are dead-lettered as unknown. */
        vcdc_codec_set_schema_id(
                c->codec, (int32_t)vcdc_conf_int(conf, "vcdc.schema.id"));

        if (kafka_new(c, conf, opts, errstr, errstr_size) == -1)
                goto err;
        /* From here on a failure that is not a refusal is the cluster not
         * answering. */
        transient = 1;
        if (vcdc_admin_partition_count(c->rk, c->topic, &partition_cnt, 10000,
                                       errstr, errstr_size) == -1)
                goto err;
        transient = 0;
        if (!partition_cnt) {
                snprintf(errstr, errstr_size, "topic %s does not exist",
                         c->topic);
                goto err;
        }
        if (opts->from_beginning && check_replay(c, partition_cnt, &transient,
                                                 errstr, errstr_size) == -1)
                goto err;
        if (c->until.kind != VCDC_UNTIL_NONE &&
            check_until(c, partition_cnt, &transient, errstr, errstr_size) ==
                    -1)
                goto err;
        c->delete_retention_ms = delete_retention(c);
        transient = 1;
        if ((c->exit_at_end || opts->index.kind != VCDC_INDEX_NONE) &&
            read_ends(c, partition_cnt, errstr, errstr_size) == -1)
                goto err;
        cap_ends(c);
        if (*vcdc_conf_str(conf, "vcdc.dlq.topic"))
                snprintf(dlq_topic, sizeof(dlq_topic), "%s",
                         vcdc_conf_str(conf, "vcdc.dlq.topic"));
        else
                snprintf(dlq_topic, sizeof(dlq_topic), "%s.dlq", c->topic);
        if (!(c->dlq = vcdc_dlq_new(conf, dlq_topic, vcdc_sink_name(c->sink),
                                    errstr, errstr_size)))
                goto err;
        transient = 0;
        if (opts->metrics_port >= 0 &&
            !(c->metrics = vcdc_metrics_start(
                      vcdc_conf_str(conf, "vcdc.metrics.bind"),
                      opts->metrics_port, render_metrics, c, errstr,
                      errstr_size)))
                goto err;
        VCDC_NOTICE("consumer",
                    "group %s applies collection %s of %s (%d partitions) "
                    "to %s; dead letters to %s%s",
                    opts->group, c->collection, c->topic, partition_cnt,
                    vcdc_sink_name(c->sink), dlq_topic,
                    opts->from_beginning ? "; replay from offset zero" : "");
        return c;
err:
        if (transientp)
                *transientp = transient;
        vcdc_consumer_destroy(c);
        return NULL;
}

void vcdc_consumer_stats(vcdc_consumer_t *c, vcdc_consumer_stats_t *stats) {
        stats->messages = atomic_load(&c->messages);
        stats->applied = atomic_load(&c->applied);
        stats->batches = atomic_load(&c->batches);
        stats->retries = atomic_load(&c->retries);
        stats->dead_letters = atomic_load(&c->dead_letters);
        stats->filtered = atomic_load(&c->filtered);
        stats->snapshot_skipped = atomic_load(&c->snapshot_skipped);
        stats->lag = atomic_load(&c->lag);
}

int vcdc_consumer_metrics_port(const vcdc_consumer_t *c) {
        return c->metrics ? vcdc_metrics_port(c->metrics) : -1;
}

void vcdc_consumer_destroy(vcdc_consumer_t *c) {
        if (!c)
                return;
        vcdc_metrics_stop(c->metrics);
        if (c->rk) {
                rd_kafka_consumer_close(c->rk);
                if (c->commitq)
                        rd_kafka_queue_destroy(c->commitq);
        }
        /* Messages first: the batches and held[] keep some, which must go
         * before their client. */
        vcdc_consumer_drop_held(c);
        free(c->held);
        vcdc_batch_destroy(c->batch);
        vcdc_batch_destroy(c->flight);
        if (c->rk)
                rd_kafka_destroy(c->rk);
        vcdc_dlq_destroy(c->dlq);
        vcdc_codec_destroy(c->codec);
        vcdc_sink_destroy(c->sink);
        free(c->parts);
        free(c->ends);
        vcdc_until_clear(&c->until);
        free(c->topic);
        free(c->group);
        free(c->collection);
        free(c);
}

/*
 * vcdc - one polled message: decoded, checked against everything that can
 * be known before the database sees it, then into the batch or to the
 * dead-letter topic. The checks here are the first half of "skipping
 * exactly the records that can never apply"; the database's own refusals,
 * found when a batch is applied, are the other (apply.c).
 */
#include "consumer_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

static int dead_letter(vcdc_consumer_t *c, const rd_kafka_message_t *rkm,
                       const char *err_class, const char *error) {
        char errstr[512];

        VCDC_WARN("consumer",
                  "%s [%" PRId32 "] offset %" PRId64
                  ": dead-lettered to %s: %s",
                  c->topic, rkm->partition, rkm->offset, vcdc_dlq_topic(c->dlq),
                  error);
        if (vcdc_dlq_send(c->dlq, c->topic, rkm->partition, rkm->offset,
                          rkm->key, rkm->key_len, rkm->payload, rkm->len,
                          err_class, error, errstr, sizeof(errstr)) == -1) {
                VCDC_ERR("consumer", "%s", errstr);
                c->fatal = 1;
                return -1;
        }
        atomic_fetch_add(&c->dead_letters, 1);
        return 0;
}

/* A message handled without a change: its offset goes with the batch. */
static void note(vcdc_consumer_t *c, const rd_kafka_message_t *rkm) {
        if (vcdc_batch_note(c->batch, rkm->partition, rkm->offset, rkm->len) ==
            -1) {
                VCDC_ERR("consumer", "out of memory");
                c->fatal = 1;
        }
}

/*
 * The vcdc.partitions header says how many partitions the producer placed
 * the record for. Two counts in one topic mean it grew: a key's earlier
 * changes are in one partition and its later ones may be in another, so
 * their order is lost (a replay can apply them backwards). The run stops:
 * nothing it could do keeps one id's changes in order.
 */
static int check_partitioning(vcdc_consumer_t *c,
                              const rd_kafka_message_t *rkm,
                              rd_kafka_headers_t *hdrs) {
        const void *v;
        size_t len;
        char num[16], *end;
        long n;

        if (!hdrs ||
            rd_kafka_header_get_last(hdrs, "vcdc.partitions", &v, &len) || !v ||
            !len || len >= sizeof(num))
                return 0; /* not written by vcdc: nothing to check */
        memcpy(num, v, len);
        num[len] = '\0';
        n = strtol(num, &end, 10);
        if (*end || n < 1 || n > INT32_MAX)
                return 0;
        if (!c->partitioned_for)
                c->partitioned_for = (int32_t)n;
        if (c->partitioned_for == n)
                return 0;
        VCDC_ERR("consumer",
                 "%s [%" PRId32 "] offset %" PRId64
                 ": written for %ld partitions, while earlier records were "
                 "written for %" PRId32
                 ": the topic's partition count changed, so the changes of "
                 "one id may sit in two partitions and apply out of order. "
                 "Keep a topic's partition count fixed; to go on, copy the "
                 "state into a new topic (vcdc snapshot, or the producer) "
                 "and migrate from that",
                 c->topic, rkm->partition, rkm->offset, n, c->partitioned_for);
        c->fatal = 1;
        return -1;
}

/*
 * A record (or tombstone) the snapshot tool copied from the database this
 * consumer applies to (DESIGN.md, The snapshot of a live OLD): its
 * vcdc.snapshot.group header names this consumer's group. The data came
 * from that database; applying it back would write it again at best, and
 * move it backwards for a moment when the snapshot record is later
 * repaired. Every other group applies it like any record.
 */
static int own_snapshot(const vcdc_consumer_t *c, rd_kafka_headers_t *hdrs) {
        const void *v;
        size_t len;

        return hdrs &&
               !rd_kafka_header_get_last(hdrs, "vcdc.snapshot.group", &v,
                                         &len) &&
               v && len == c->group_len && !memcmp(v, c->group, len);
}

/*
 * A target that does not exist yet takes the dimension of the first upsert
 * applied to it, in the log's order; every later upsert of another
 * dimension can never apply. Decided here, per message, as applying one
 * record at a time would decide it, whatever the batch boundaries.
 */
static int check_dim(vcdc_consumer_t *c, const vcdc_record_t *rec, char *errstr,
                     size_t errstr_size) {
        if (rec->op != VCDC_OP_UPSERT || vcdc_sink_dim(c->sink))
                return 0;
        if (!c->pending_dim)
                c->pending_dim = rec->dim;
        if (rec->dim == c->pending_dim)
                return 0;
        snprintf(errstr, errstr_size,
                 "%s: vector of dimension %zu; the new target takes the "
                 "dimension of the first upsert, %zu",
                 vcdc_sink_name(c->sink), rec->dim, c->pending_dim);
        return -1;
}

/*
 * A restore to a point in time: the first record past the bound ends its
 * partition. Neither it nor anything after it is applied or noted, so the
 * partition's committed offset stops where the bound is; the partition is
 * paused so that no more of it is fetched. --until-offsets is checked
 * against compaction here, by that record's timestamp: compaction may
 * have merged a record before the bound with a later one when that later
 * one is older than min.compaction.lag.ms.
 */
static int past_until(vcdc_consumer_t *c, part_t *p,
                      const rd_kafka_message_t *rkm, int64_t ts) {
        rd_kafka_topic_partition_list_t *parts;

        if (p->until_done)
                return 1;
        if (!vcdc_until_past(&c->until, rkm->partition, rkm->offset, ts))
                return 0;
        p->until_done = 1;
        VCDC_NOTICE("consumer",
                    "%s [%" PRId32 "]: offset %" PRId64 " (timestamp %" PRId64
                    ") is past the bound: the partition ends before it",
                    c->topic, rkm->partition, rkm->offset, ts);
        if (c->until.kind == VCDC_UNTIL_OFFSETS && !c->until.allow_compacted &&
            vcdc_until_may_be_compacted(c->cleanup_policy,
                                        c->min_compaction_lag_ms,
                                        vcdc_wall_ms(), ts))
                VCDC_WARN("consumer",
                          "%s [%" PRId32 "]: the record at offset %" PRId64
                          " that follows the bound is %" PRId64
                          " ms old, more than the topic's "
                          "min.compaction.lag.ms (%" PRId64
                          ", cleanup.policy=%s): compaction may have "
                          "removed changes before the bound that it "
                          "superseded, so the target may not be the state "
                          "at the bound",
                          c->topic, rkm->partition, rkm->offset,
                          vcdc_wall_ms() - ts, c->min_compaction_lag_ms,
                          c->cleanup_policy);
        parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, c->topic, rkm->partition);
        rd_kafka_pause_partitions(c->rk, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        return 1;
}

/* The record's collection is not the one this consumer applies. Returns 1
 * when it is to be skipped, -1 when the run must stop, else 0. */
static int foreign(vcdc_consumer_t *c, const rd_kafka_message_t *rkm,
                   const vcdc_record_t *rec) {
        if (!strcmp(rec->collection, c->collection))
                return 0;
        if (c->collection_explicit) {
                atomic_fetch_add(&c->filtered, 1);
                return 1;
        }
        VCDC_ERR("consumer",
                 "%s [%" PRId32 "] offset %" PRId64
                 ": a record of collection \"%.100s\", but this consumer "
                 "applies collection \"%s\" (the name of its target, %s): "
                 "run one consumer per collection, each with --collection "
                 "NAME",
                 c->topic, rkm->partition, rkm->offset, rec->collection,
                 c->collection, vcdc_sink_name(c->sink));
        c->fatal = 1;
        return -1;
}

void vcdc_consumer_handle(vcdc_consumer_t *c, rd_kafka_message_t *rkm) {
        vcdc_record_t rec;
        char errstr[512];
        rd_kafka_timestamp_type_t tstype;
        rd_kafka_headers_t *hdrs;
        part_t *p;
        int64_t ts;
        int r;

        vcdc_record_init(&rec);
        if (rkm->err) {
                if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if ((p = vcdc_consumer_part(c, rkm->partition)))
                                p->eof = rkm->offset;
                } else {
                        VCDC_WARN("consumer", "consume: %s",
                                  rd_kafka_message_errstr(rkm));
                }
                goto done;
        }
        if (!(p = vcdc_consumer_part(c, rkm->partition)))
                goto done; /* from a partition revoked meanwhile */
        ts = rd_kafka_message_timestamp(rkm, &tstype);
        if (c->until.kind != VCDC_UNTIL_NONE && past_until(c, p, rkm, ts))
                goto done;
        if (!vcdc_batch_msg_cnt(c->batch))
                c->batch_started = vcdc_clock_ms();
        if (ts > c->batch_max_ts)
                c->batch_max_ts = ts;
        /* Parsed once; most messages have headers (vcdc.partitions). */
        if (rd_kafka_message_headers(rkm, &hdrs))
                hdrs = NULL;
        if (own_snapshot(c, hdrs)) {
                /* Not decoded: nothing of it is applied or judged, and
                 * its offset counts as handled. */
                if (check_partitioning(c, rkm, hdrs) == 0) {
                        atomic_fetch_add(&c->snapshot_skipped, 1);
                        note(c, rkm);
                }
                goto done;
        }

        if (!rkm->payload) {
                /* A tombstone: after compaction it may be all that is left
                 * of a delete, so it is applied as one. */
                if (vcdc_key_decode(rkm->key, rkm->key_len, &rec.collection,
                                    &rec.id) == -1 ||
                    vcdc_record_check_ids(&rec, errstr, sizeof(errstr))) {
                        dead_letter(c, rkm, "decode",
                                    "tombstone with a malformed key");
                        note(c, rkm);
                        goto done;
                }
                rec.op = VCDC_OP_DELETE;
        } else if (vcdc_codec_decode(c->codec, rkm->payload, rkm->len, &rec,
                                     errstr, sizeof(errstr)) == -1 ||
                   vcdc_key_check(rkm->key, rkm->key_len, &rec, errstr,
                                  sizeof(errstr)) == -1) {
                dead_letter(c, rkm, "decode", errstr);
                note(c, rkm);
                goto done;
        }
        if (check_partitioning(c, rkm, hdrs) == -1)
                goto done;
        if ((r = foreign(c, rkm, &rec)) != 0) {
                if (r == 1)
                        note(c, rkm);
                goto done;
        }
        if (check_dim(c, &rec, errstr, sizeof(errstr)) == -1 ||
            vcdc_sink_check(c->sink, &rec, errstr, sizeof(errstr)) !=
                    VCDC_SINK_OK) {
                dead_letter(c, rkm, "invalid", errstr);
                note(c, rkm);
                goto done;
        }
        if (vcdc_batch_add(c->batch, &rec, rkm->partition, rkm->offset,
                           rkm->len, rkm) == -1) {
                VCDC_ERR("consumer", "out of memory");
                c->fatal = 1;
                goto done;
        }
        rkm = NULL; /* the batch's now */
done:
        vcdc_record_clear(&rec);
        if (rkm)
                rd_kafka_message_destroy(rkm);
}

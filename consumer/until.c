/*
 * vcdc - the bound of a restore to a point in time: --until-timestamp and
 * --until-offsets parsed, checked against the topic's partitions and its
 * compaction settings, and the test of one record against it. No Kafka
 * calls and no I/O here: the answers the checks need are passed in.
 */
#include "until.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Below this an --until-timestamp is taken for seconds given by mistake
 * (it would be early 1973 in milliseconds). */
#define MIN_PLAUSIBLE_MS 100000000000LL

/* A decimal integer in [lo, hi] spanning exactly [s, s + len). */
static int parse_int(const char *s, size_t len, int64_t lo, int64_t hi,
                     int64_t *vp) {
        char buf[32], *end;
        long long v;

        if (!len || len >= sizeof(buf) || s[0] < '0' || s[0] > '9')
                return -1; /* no sign, no space: digits only */
        memcpy(buf, s, len);
        buf[len] = '\0';
        errno = 0;
        v = strtoll(buf, &end, 10);
        if (*end || errno || v < lo || v > hi)
                return -1;
        *vp = (int64_t)v;
        return 0;
}

static int parse_timestamp(const char *arg, vcdc_until_t *u, char *errstr,
                           size_t errstr_size) {
        if (parse_int(arg, strlen(arg), 0, INT64_MAX, &u->ts_ms) == -1) {
                snprintf(errstr, errstr_size,
                         "--until-timestamp %s: expected epoch "
                         "milliseconds (a non-negative integer)",
                         arg);
                return -1;
        }
        if (u->ts_ms < MIN_PLAUSIBLE_MS) {
                snprintf(errstr, errstr_size,
                         "--until-timestamp %s: that is before 1973 in "
                         "epoch milliseconds; seconds given? (multiply by "
                         "1000)",
                         arg);
                return -1;
        }
        u->kind = VCDC_UNTIL_TIMESTAMP;
        return 0;
}

/* Grows u->offsets to hold partition, new entries -1. */
static int make_room(vcdc_until_t *u, int64_t partition) {
        int64_t *o;
        int i, cnt = (int)partition + 1;

        if (cnt <= u->offset_cnt)
                return 0;
        if (!(o = realloc(u->offsets, (size_t)cnt * sizeof(*o))))
                return -1;
        for (i = u->offset_cnt; i < cnt; i++)
                o[i] = -1;
        u->offsets = o;
        u->offset_cnt = cnt;
        return 0;
}

static int parse_offsets(const char *arg, vcdc_until_t *u, char *errstr,
                         size_t errstr_size) {
        const char *s = arg, *comma, *colon;
        int64_t partition, offset;
        size_t len;

        u->kind = VCDC_UNTIL_OFFSETS;
        for (;;) {
                comma = strchr(s, ',');
                len = comma ? (size_t)(comma - s) : strlen(s);
                colon = memchr(s, ':', len);
                if (!colon ||
                    parse_int(s, (size_t)(colon - s), 0,
                              VCDC_UNTIL_MAX_PARTITION - 1, &partition) ||
                    parse_int(colon + 1, len - (size_t)(colon + 1 - s), 0,
                              INT64_MAX, &offset)) {
                        snprintf(errstr, errstr_size,
                                 "--until-offsets %s: \"%.*s\": expected "
                                 "PARTITION:OFFSET (partition 0..%d, offset "
                                 "0 or more), comma-separated",
                                 arg, (int)(len > 64 ? 64 : len), s,
                                 VCDC_UNTIL_MAX_PARTITION - 1);
                        return -1;
                }
                if (make_room(u, partition) == -1) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
                if (u->offsets[partition] >= 0) {
                        snprintf(errstr, errstr_size,
                                 "--until-offsets %s: partition %" PRId64
                                 " is named twice",
                                 arg, partition);
                        return -1;
                }
                u->offsets[partition] = offset;
                if (!comma)
                        return 0;
                s = comma + 1;
        }
}

int vcdc_until_parse(const char *ts, const char *offsets, int allow_compacted,
                     vcdc_until_t *u, char *errstr, size_t errstr_size) {
        memset(u, 0, sizeof(*u));
        if (ts && offsets) {
                snprintf(errstr, errstr_size,
                         "--until-timestamp %s and --until-offsets %s: give "
                         "one bound, not both",
                         ts, offsets);
                return -1;
        }
        if (allow_compacted && !ts && !offsets) {
                snprintf(errstr, errstr_size,
                         "--allow-compacted-history: only with "
                         "--until-timestamp or --until-offsets");
                return -1;
        }
        if ((ts && parse_timestamp(ts, u, errstr, errstr_size) == -1) ||
            (offsets && parse_offsets(offsets, u, errstr, errstr_size) == -1)) {
                vcdc_until_clear(u);
                return -1;
        }
        u->allow_compacted = allow_compacted;
        return 0;
}

int vcdc_until_copy(vcdc_until_t *dst, const vcdc_until_t *src) {
        *dst = *src;
        dst->offsets = NULL;
        if (!src->offset_cnt)
                return 0;
        if (!(dst->offsets = malloc((size_t)src->offset_cnt *
                                    sizeof(*dst->offsets)))) {
                memset(dst, 0, sizeof(*dst));
                return -1;
        }
        memcpy(dst->offsets, src->offsets,
               (size_t)src->offset_cnt * sizeof(*dst->offsets));
        return 0;
}

void vcdc_until_clear(vcdc_until_t *u) {
        free(u->offsets);
        memset(u, 0, sizeof(*u));
}

int vcdc_until_check_partitions(const vcdc_until_t *u, const char *topic,
                                int partition_cnt, char *errstr,
                                size_t errstr_size) {
        int p;

        if (u->kind != VCDC_UNTIL_OFFSETS)
                return 0;
        for (p = 0; p < u->offset_cnt; p++)
                if (p >= partition_cnt && u->offsets[p] >= 0) {
                        snprintf(errstr, errstr_size,
                                 "--until-offsets: partition %d: %s has "
                                 "partitions 0..%d only",
                                 p, topic, partition_cnt - 1);
                        return -1;
                }
        for (p = 0; p < partition_cnt; p++)
                if (p >= u->offset_cnt || u->offsets[p] < 0) {
                        snprintf(errstr, errstr_size,
                                 "--until-offsets: partition %d of %s is "
                                 "not named: a point in time needs a bound "
                                 "for every partition (%d in all); give "
                                 "%d:OFFSET",
                                 p, topic, partition_cnt, p);
                        return -1;
                }
        return 0;
}

int vcdc_until_may_be_compacted(const char *cleanup_policy,
                                int64_t min_compaction_lag_ms, int64_t now_ms,
                                int64_t ts_ms) {
        if (!cleanup_policy || !strstr(cleanup_policy, "compact"))
                return 0;
        return now_ms - ts_ms > min_compaction_lag_ms;
}

int vcdc_until_check_history(const vcdc_until_t *u, const char *topic,
                             const char *cleanup_policy,
                             int64_t min_compaction_lag_ms, int64_t now_ms,
                             char *errstr, size_t errstr_size) {
        if (u->kind != VCDC_UNTIL_TIMESTAMP || u->allow_compacted ||
            !vcdc_until_may_be_compacted(cleanup_policy, min_compaction_lag_ms,
                                         now_ms, u->ts_ms))
                return 0;
        snprintf(errstr, errstr_size,
                 "--until-timestamp %" PRId64 ": %s has cleanup.policy=%s "
                 "and min.compaction.lag.ms=%" PRId64
                 ", and the requested time is %" PRId64
                 " ms ago: compaction may already have merged a change made "
                 "before it with a later one of the same id, so the state "
                 "at that time can no longer be read exactly. Raise the "
                 "topic's min.compaction.lag.ms beforehand to keep such a "
                 "window, or give --allow-compacted-history to apply what "
                 "the topic still holds",
                 u->ts_ms, topic, cleanup_policy, min_compaction_lag_ms,
                 now_ms - u->ts_ms);
        return -1;
}

int vcdc_until_past(const vcdc_until_t *u, int32_t partition, int64_t offset,
                    int64_t ts_ms) {
        switch (u->kind) {
        case VCDC_UNTIL_TIMESTAMP:
                return ts_ms > u->ts_ms;
        case VCDC_UNTIL_OFFSETS:
                return partition >= 0 && partition < u->offset_cnt &&
                       u->offsets[partition] >= 0 &&
                       offset >= u->offsets[partition];
        default:
                return 0;
        }
}

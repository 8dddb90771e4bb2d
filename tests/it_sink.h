/*
 * vcdc - what the integration tests of every sink share, through sink.h
 * alone: a status checked with its message, a count and an offset read
 * back, or the test fails. Knows no database. Tests only; header-only
 * (static inline). Include after cmocka.h.
 */
#ifndef VCDC_IT_SINK_H
#define VCDC_IT_SINK_H

#include <stdint.h>
#include <stdlib.h>

#include "sink.h"

/* Fails unless st is want, with errstr in the message. */
static inline void its_want(vcdc_sink_status_t st, vcdc_sink_status_t want,
                            const char *what, const char *errstr) {
        if (st != want)
                fail_msg("%s: %s, want %s: %s", what, vcdc_sink_status_name(st),
                         vcdc_sink_status_name(want), errstr);
}

/* The sink's count. */
static inline uint64_t its_count(vcdc_sink_t *sink) {
        char errstr[1024];
        uint64_t n = 0;

        its_want(vcdc_sink_count(sink, &n, errstr, sizeof(errstr)),
                 VCDC_SINK_OK, "count", errstr);
        return n;
}

/* The offset the sink reads back for partition of topic, -1 for none;
 * *cntp (may be NULL): how many partitions it reads back. */
static inline int64_t its_offset(vcdc_sink_t *sink, const char *topic,
                                 int32_t partition, size_t *cntp) {
        vcdc_sink_offset_t *offs = NULL;
        char errstr[1024];
        size_t cnt = 0, i;
        int64_t v = -1;

        its_want(vcdc_sink_read_offsets(sink, topic, &offs, &cnt, errstr,
                                        sizeof(errstr)),
                 VCDC_SINK_OK, "read_offsets", errstr);
        for (i = 0; i < cnt; i++)
                if (offs[i].partition == partition)
                        v = offs[i].offset;
        free(offs);
        if (cntp)
                *cntp = cnt;
        return v;
}

#endif

/*
 * vcdc - one side, OLD or NEW, of a comparison (verify, shadow reads, the
 * cut-over gate): its sink, its name in messages, and the calls to it that
 * the control plane makes, each retrying what the sink says is retriable
 * (VCDC_SINK_RETRIABLE) on the schedule of common/clock.h.
 *
 * Nothing here compares or judges records: that is verify's and shadow's.
 */
#ifndef VCDC_SIDE_H
#define VCDC_SIDE_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "sink.h"

typedef struct vcdc_side_s {
        vcdc_sink_t *sink;    /* not owned */
        const char *role;     /* "OLD", "NEW": begins every error */
        const char *log_comp; /* the component retries are logged under */
        int retries;          /* attempts after the first */
} vcdc_side_t;

/**
 * After a call to side's sink failed with status (err its message, what
 * the call: "scan", "get"): when status is retriable and attempts are
 * left, logs a warning, waits and counts the attempt in *attemptp
 * (0 before the first retry), and returns 1; else returns 0.
 */
int vcdc_side_retry(const vcdc_side_t *side, vcdc_sink_status_t status,
                    int *attemptp, const char *what, const char *err);

/** The number of records (vcdc_sink_count()). Returns 0, or -1 with errstr
 *  "ROLE: counting: why". */
int vcdc_side_count(const vcdc_side_t *side, uint64_t *countp, char *errstr,
                    size_t errstr_size);

/**
 * Fetches ids[0..cnt) into out (vcdc_sink_get()). Returns 0, or -1 with
 * out cleared and errstr "ROLE: WHAT: why" (what: "getting records by
 * id").
 */
int vcdc_side_get(const vcdc_side_t *side, const char *what,
                  const char *const *ids, size_t cnt, vcdc_record_t *out,
                  char *errstr, size_t errstr_size);

/**
 * Query number q (counted from 0) of k neighbours (vcdc_sink_query()).
 * *msp is the latency of the attempt that answered. Returns 0, or -1 with
 * errstr "ROLE: query Q+1: why".
 */
int vcdc_side_query(const vcdc_side_t *side, size_t q, const float *vec,
                    size_t dim, size_t k, vcdc_hit_t *hits, size_t *cntp,
                    double *msp, char *errstr, size_t errstr_size);

/* Progress of a long scan, logged every few seconds. */
typedef struct vcdc_progress_s {
        const char *log_comp;
        const char *what;
        uint64_t done, total;      /* total: 0 when unknown */
        int64_t start_us, last_us; /* vcdc_clock_us() */
} vcdc_progress_t;

void vcdc_progress_start(vcdc_progress_t *prog, const char *log_comp,
                         const char *what, uint64_t total);

/** n more records done: logs now and then, with an ETA when the total is
 *  known. */
void vcdc_progress_add(vcdc_progress_t *prog, size_t n);

/* Called for each record a scan returns: 0 go on, 1 stop the scan, -1
 * error (errstr set). It may take the record over, leaving it
 * initialised. */
typedef int (*vcdc_side_record_cb_t)(void *ctx, vcdc_record_t *rec,
                                     char *errstr, size_t errstr_size);

/**
 * Scans all of side's sink, page records a request (with vectors or ids,
 * metadata and documents only), calling cb for each record and counting
 * them in prog. Returns 0 at the end, what cb returned when not 0, or -1
 * with errstr "ROLE: scanning: why".
 */
int vcdc_side_scan(const vcdc_side_t *side, size_t page, int with_vectors,
                   vcdc_progress_t *prog, vcdc_side_record_cb_t cb, void *ctx,
                   char *errstr, size_t errstr_size);

#endif

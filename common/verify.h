/*
 * vcdc - verification: does NEW hold exactly what OLD holds?
 * (DESIGN.md, Verification and shadow reads)
 *
 * Full mode pages through both targets in bounded memory; sample mode
 * fetches N ids drawn from OLD and compares them on both sides (it finds
 * missing and different records, not extra ones). Vectors are equal within
 * a tolerance; metadata compares as JSON values (key order ignored);
 * documents exactly.
 */
#ifndef VCDC_VERIFY_H
#define VCDC_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "sink.h"

#define VCDC_VERIFY_EXAMPLES 5

typedef struct vcdc_verify_opts_s {
        size_t sample;    /* 0: full comparison; N: N random ids */
        double tolerance; /* per vector component; 0: 1e-6 */
        size_t page;      /* records per page; 0: 1000 */
        uint32_t seed;    /* for sampling */
} vcdc_verify_opts_t;

typedef struct vcdc_verify_result_s {
        uint64_t old_count, new_count; /* records seen on each side */
        uint64_t compared;             /* ids present on both sides */
        uint64_t missing;              /* in OLD, not in NEW */
        uint64_t extra;                /* in NEW, not in OLD */
        uint64_t vector_diff, metadata_diff, document_diff;
        /* A few ids of each kind, NUL-terminated, for the report. */
        char missing_ex[VCDC_VERIFY_EXAMPLES][128];
        char extra_ex[VCDC_VERIFY_EXAMPLES][128];
        char vector_ex[VCDC_VERIFY_EXAMPLES][128];
        char metadata_ex[VCDC_VERIFY_EXAMPLES][128];
        char document_ex[VCDC_VERIFY_EXAMPLES][128];
        double seconds;
} vcdc_verify_result_t;

/**
 * Compares old and new. Returns 0 when the comparison ran (the result says
 * whether they match), -1 with errstr when a database could not be read.
 */
int vcdc_verify(vcdc_sink_t *old_sink, vcdc_sink_t *new_sink,
                const vcdc_verify_opts_t *opts, vcdc_verify_result_t *res,
                char *errstr, size_t errstr_size);

/** 1 when the result shows no difference. */
int vcdc_verify_ok(const vcdc_verify_result_t *res);

#endif

/*
 * vcdc - verification: does NEW hold exactly what OLD holds?
 * (DESIGN.md, Verification and shadow reads)
 *
 * Full mode pages through both targets in bounded memory (hash partitions
 * of (id, digest) pairs; verify.c explains the method); sample mode fetches
 * N ids drawn from OLD and compares them on both sides (it finds missing
 * and different records, not extra ones, and compares the two counts).
 * Vectors are equal within a tolerance; metadata compares as JSON values
 * (key order ignored, 1 equals 1.0, reals within 4 ulps, no metadata
 * equals {}); documents exactly.
 */
#ifndef VCDC_VERIFY_H
#define VCDC_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "sink.h"

#define VCDC_VERIFY_EXAMPLES 5

/* The default and smallest memory budget of a full comparison. */
#define VCDC_VERIFY_MEMORY_DEFAULT ((size_t)64 << 20)
#define VCDC_VERIFY_MEMORY_MIN     ((size_t)64 << 10)

typedef struct vcdc_verify_opts_s {
        size_t sample;    /* 0: full comparison; N: N random ids */
        double tolerance; /* per vector component; 0: 1e-6; < 0: exact */
        size_t page;      /* records per page; 0: 1000 */
        uint32_t seed;    /* for sampling */
        size_t memory;    /* bytes for the ids and digests of one pass;
                           * 0: VCDC_VERIFY_MEMORY_DEFAULT */
} vcdc_verify_opts_t;

typedef struct vcdc_verify_result_s {
        uint64_t old_count, new_count; /* records seen on each side (sample
                                        * mode: the targets' counts) */
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
        uint64_t sampled; /* sample mode: ids drawn from OLD; full mode: 0 */
        unsigned passes;  /* full mode: scans of each side */
        uint64_t fetched; /* ids fetched by get() to tell a difference */
} vcdc_verify_result_t;

/**
 * Compares old and new. Returns 0 when the comparison ran (the result says
 * whether they match), -1 with errstr when a database could not be read
 * (transient failures are retried a few times first).
 */
int vcdc_verify(vcdc_sink_t *old_sink, vcdc_sink_t *new_sink,
                const vcdc_verify_opts_t *opts, vcdc_verify_result_t *res,
                char *errstr, size_t errstr_size);

/** 1 when the result shows no difference (in sample mode, the counts must
 *  be equal too). */
int vcdc_verify_ok(const vcdc_verify_result_t *res);

/* The pure parts, exposed for the unit tests and for shadow reads. */

/* What differs between two records of the same id. */
#define VCDC_VERIFY_VECTOR   0x1
#define VCDC_VERIFY_METADATA 0x2
#define VCDC_VERIFY_DOCUMENT 0x4

/**
 * A 64-bit digest of rec's vector (exact float bits), metadata (as a JSON
 * value: key order ignored, numbers by exact value, none the same as {})
 * and document. Records with equal digests are equal; records that differ
 * only within the tolerances (vector components, metadata reals) usually
 * have different digests, so a digest mismatch is a candidate for
 * vcdc_verify_compare(), not a verdict.
 */
uint64_t vcdc_verify_digest(const vcdc_record_t *rec);

/** 1 when metadata texts a and b (either may be NULL) are the same JSON
 *  value under the rules above. Text that is not JSON compares exactly. */
int vcdc_verify_metadata_equal(const char *a, const char *b);

/**
 * What differs between old_rec and new_rec: a mask of VCDC_VERIFY_*, 0 when
 * they match. Vectors match when they have the same dimension and every
 * component differs by at most tolerance (< 0: exactly equal).
 */
int vcdc_verify_compare(const vcdc_record_t *old_rec,
                        const vcdc_record_t *new_rec, double tolerance);

/**
 * Adds the verdict on one id to res: old_rec / new_rec are what each side
 * holds (NULL or a record with id == NULL: absent). Counts it as missing,
 * extra, or compared plus each kind of difference, and keeps the first
 * VCDC_VERIFY_EXAMPLES ids of each kind.
 */
void vcdc_verify_account(vcdc_verify_result_t *res, const char *id,
                         const vcdc_record_t *old_rec,
                         const vcdc_record_t *new_rec, double tolerance);

/**
 * How many hash partitions a full comparison of count records needs so
 * that one partition's ids and digests fit in memory bytes, assuming ids
 * of avg_id_len bytes: a power of two, at least 1.
 */
uint64_t vcdc_verify_partitions(uint64_t count, size_t avg_id_len,
                                size_t memory);

/**
 * Draws up to n ids uniformly from sink (reservoir sampling over one scan
 * of ids only; the same seed and data give the same ids). *idsp is a new
 * array of *cntp new strings (vcdc_verify_ids_free()); *cntp < n when the
 * target holds fewer. *scannedp (may be NULL) is set to the records seen.
 * Returns 0, or -1 with errstr.
 */
int vcdc_verify_sample_ids(vcdc_sink_t *sink, size_t n, uint32_t seed,
                           size_t page, char ***idsp, size_t *cntp,
                           uint64_t *scannedp, char *errstr,
                           size_t errstr_size);

/** Frees what vcdc_verify_sample_ids() returned. Accepts NULL. */
void vcdc_verify_ids_free(char **ids, size_t cnt);

#endif

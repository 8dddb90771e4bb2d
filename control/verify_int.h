/*
 * vcdc - what the files of verification share: the run, the id map of one
 * partition (verify_idmap.c), the judge of candidates (verify_judge.c),
 * the hash of an id (verify_compare.c) and sample mode (verify_sample.c).
 * control/verify.h is the interface; nothing outside control/verify*.c
 * includes this.
 */
#ifndef VCDC_VERIFY_INT_H
#define VCDC_VERIFY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "side.h"
#include "verify.h"

#define VCDC_VERIFY_LOG_COMP       "verify"
#define VCDC_VERIFY_PAGE_DEFAULT   1000
#define VCDC_VERIFY_RETRIES        5 /* attempts after the first */
#define VCDC_VERIFY_PARTITIONS_MAX ((uint64_t)1 << 40)

/* What one verification works with. */
typedef struct vcdc_verify_run_s {
        vcdc_side_t old_side, new_side;
        double tolerance;
        size_t page, memory;
        uint64_t old_count, new_count; /* as the targets count them */
} vcdc_verify_run_t;

/** The 64-bit hash of an id: its low bits choose the partition, its high
 *  bits the slot in the map. */
uint64_t vcdc_verify_hash_id(const char *id);

/*
 * The id map of one partition: (id, digest) pairs in an open-addressing
 * table, the ids in an arena, a "seen" bit per slot, all within a byte
 * budget.
 */
typedef struct vcdc_verify_slot_s {
        uint64_t hash;
        uint64_t digest;
        char *id; /* in the arena; NULL: empty slot */
} vcdc_verify_slot_t;

typedef struct vcdc_verify_map_s {
        vcdc_verify_slot_t *slots;
        uint64_t *seen; /* a bit per slot */
        size_t cap, cnt;
        struct vcdc_verify_chunk_s *chunks;
        size_t arena_bytes, chunk_size;
        size_t id_bytes; /* the ids' lengths, NULs included */
        size_t budget;
} vcdc_verify_map_t;

enum {
        VCDC_VERIFY_MAP_OK = 0,
        VCDC_VERIFY_MAP_DUP = 1,  /* the id is there already */
        VCDC_VERIFY_MAP_FULL = 2, /* the budget is spent */
        VCDC_VERIFY_MAP_OOM = -1,
};

/** An empty map sized for about expected ids within budget bytes.
 *  Returns 0, or -1 when out of memory. */
int vcdc_verify_map_init(vcdc_verify_map_t *map, size_t expected,
                         size_t budget);

/** Frees the map and leaves it empty. */
void vcdc_verify_map_free(vcdc_verify_map_t *map);

/** The bytes the map holds: table, seen bits and arena. */
size_t vcdc_verify_map_bytes(const vcdc_verify_map_t *map);

/** The slot holding id, or the empty slot where it would go. */
size_t vcdc_verify_map_probe(const vcdc_verify_map_t *map, uint64_t hash,
                             const char *id);

/** Adds id (copied) with its digest: a VCDC_VERIFY_MAP_* code. */
int vcdc_verify_map_insert(vcdc_verify_map_t *map, uint64_t hash,
                           const char *id, uint64_t digest);

int vcdc_verify_map_seen(const vcdc_verify_map_t *map, size_t i);
void vcdc_verify_map_set_seen(vcdc_verify_map_t *map, size_t i);

/*
 * The judge: candidates gathered a page at a time, read again by id and
 * classified into the result (vcdc_verify_account()).
 */
typedef struct vcdc_verify_judge_s {
        const vcdc_side_t *old_side, *new_side;
        vcdc_verify_result_t *res;
        double tolerance;
        size_t page;
        size_t cnt;
        char **ids; /* owned strings */
        vcdc_record_t *old_recs, *new_recs;
        /* For the NEW reads: which candidates, their ids, the answers. */
        size_t *fetch_idx;
        const char **fetch_ids;
        vcdc_record_t *fetch_recs;
} vcdc_verify_judge_t;

/** A judge for run's sides adding to res. Returns 0, or -1 when out of
 *  memory. */
int vcdc_verify_judge_init(vcdc_verify_judge_t *jg,
                           const vcdc_verify_run_t *run,
                           vcdc_verify_result_t *res);

void vcdc_verify_judge_free(vcdc_verify_judge_t *jg);

/**
 * Adds a candidate; new_rec (may be NULL) is NEW's record, which the judge
 * takes over (it is left initialised). A full page is judged at once.
 * Returns 0, or -1 with errstr.
 */
int vcdc_verify_judge_add(vcdc_verify_judge_t *jg, const char *id,
                          vcdc_record_t *new_rec, char *errstr,
                          size_t errstr_size);

/** Reads and judges the pending candidates. Returns 0, or -1 with
 *  errstr. */
int vcdc_verify_judge_flush(vcdc_verify_judge_t *jg, char *errstr,
                            size_t errstr_size);

/** Sample mode: sample ids drawn from OLD with seed, judged into res.
 *  Returns 0, or -1 with errstr. */
int vcdc_verify_sampled(const vcdc_verify_run_t *run, size_t sample,
                        uint32_t seed, vcdc_verify_result_t *res, char *errstr,
                        size_t errstr_size);

#endif

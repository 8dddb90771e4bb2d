/*
 * vcdc - model test: the test sink's database, in a file that the test and
 * its consumer processes map MAP_SHARED.
 *
 * A database holds a few targets (a collection or table each: rows, a
 * dimension once created, the offsets recorded for the topic). Every
 * change is all or nothing, as a transaction is: it is written into the
 * inactive half of a double buffer, and the index flips last, so a
 * consumer SIGKILLed in the middle leaves the previous state. A
 * process-shared robust mutex serialises the writers; one that died
 * holding it is taken over (EOWNERDEAD) without harm, since the active
 * half was never touched.
 *
 * The sinks (mfence://, mpipe://, mapart://HOST/TARGET?db=PATH&...) are
 * registered with vcdc_sink_register(); the URL's parameters set the
 * faults they inject (msink.c, the top).
 */
#ifndef VCDC_MODEL_MEMDB_H
#define VCDC_MODEL_MEMDB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "record.h"
#include "sink.h"

#define MEMDB_TARGETS 4
#define MEMDB_ROWS 320
#define MEMDB_PARTS 8
#define MEMDB_NAME 48 /* ids, collections, targets: NUL included */
#define MEMDB_TAG 24
#define MEMDB_PAGE_IDS 8 /* of the last page scanned, kept for tests */

typedef struct memdb_row_s {
        char id[MEMDB_NAME];
        char collection[MEMDB_NAME]; /* the record's own */
        uint32_t dim;
        uint64_t hash; /* memdb_record_hash() of the record applied */
        char tag[MEMDB_TAG]; /* its document, which names it */
} memdb_row_t;

typedef struct memdb_target_s {
        char name[MEMDB_NAME]; /* "": a free slot */
        int exists;            /* created by a first upsert */
        uint32_t dim;
        uint32_t row_cnt;
        memdb_row_t rows[MEMDB_ROWS];
        int64_t offsets[MEMDB_PARTS]; /* recorded for the topic, -1: none */
} memdb_target_t;

typedef struct memdb_state_s {
        memdb_target_t targets[MEMDB_TARGETS];
} memdb_state_t;

/* What the sinks of one target saw; not transactional. */
typedef struct memdb_stats_s {
        uint64_t calls;     /* apply, send, record_offsets, read_offsets */
        uint64_t commits;   /* calls that changed the state */
        uint64_t upserts, deletes;
        uint64_t retriable; /* injected failures: nothing applied */
        uint64_t smaller;   /* ... of them with retry_smaller */
        uint64_t lost;      /* applied, but answered RETRIABLE */
        uint64_t stale, invalid;
        uint64_t max_changes; /* most changes in one apply */
        uint64_t violations;  /* calls against the sink contract */
        char violation[256];  /* the first of them */
} memdb_stats_t;

typedef struct memdb_s memdb_t;

/** Creates the database file at path for topic and maps it. NULL with
 *  errstr. */
memdb_t *memdb_create(const char *path, const char *topic, char *errstr,
                      size_t errstr_size);

/** Maps an existing database file. NULL with errstr. */
memdb_t *memdb_map(const char *path, char *errstr, size_t errstr_size);

/** Unmaps. Accepts NULL. */
void memdb_unmap(memdb_t *db);

/** The current state and the stats of every target slot, copied
 *  consistently; stats may be NULL. */
void memdb_snapshot(memdb_t *db, memdb_state_t *state, memdb_stats_t *stats);

/** How many pages the sinks' scans have read, with the ids (at most max)
 *  of the last one in ids[0..*cntp): a test can write to them at once,
 *  while the reader (vcdc snapshot) decides about them. */
uint64_t memdb_last_page(memdb_t *db, char (*ids)[MEMDB_NAME], size_t max,
                         size_t *cntp);

/** Locks taken over from a process that died holding them. */
uint64_t memdb_recovered(memdb_t *db);

/** The process of a sink in the middle of a commit (its latency), 0. */
pid_t memdb_busy(memdb_t *db);

/** 0 turns the sinks' injected faults (and latency) off from their next
 *  call on. */
void memdb_set_faults(memdb_t *db, int on);

/** The target named name in st, or NULL. */
const memdb_target_t *memdb_target(const memdb_state_t *st, const char *name);

/** The row of id in t, or NULL. */
const memdb_row_t *memdb_row(const memdb_target_t *t, const char *id);

/** A hash of what a record carries: collection, id, vector, metadata,
 *  document. */
uint64_t memdb_record_hash(const vcdc_record_t *rec);

/** 1 when metadata (JSON text) holds an object or array inside the top
 *  object: what the test sink's check() refuses, as Chroma does. */
int memdb_metadata_nested(const char *metadata);

/** The document suffix the test database refuses, unknown to check(). */
#define MEMDB_REFUSE_MARK "!refuse"

/** Writes recs (upserts) into the target named target directly, in one
 *  transaction, as data written before the log: no offsets recorded.
 *  Returns 0, or -1 with errstr. */
int memdb_load(memdb_t *db, const char *target, const vcdc_record_t *recs,
               size_t cnt, char *errstr, size_t errstr_size);

/*
 * Reading back (memscan.c): the sinks' get and scan (the URL's scan=insert,
 * the default, pages in insertion order as Chroma; scan=key by id as
 * pgvector's keyset). Only rows written as memdb_record_make() makes them
 * can be read back; any other is refused (-1 with errstr).
 */

/** Fills rec (initialised or cleared) with the upsert the tests write for
 *  id under tag: the document is tag, the vector (dim floats) and the
 *  metadata follow from id and tag. Returns 0, or -1 (out of memory). */
int memdb_record_make(vcdc_record_t *rec, const char *collection,
                      const char *id, const char *tag, size_t dim);

/** The record row holds (vector only when with_vectors), into out. */
int memdb_row_read(const memdb_row_t *row, int with_vectors,
                   vcdc_record_t *out, char *errstr, size_t errstr_size);

/** vcdc_sink_get() over t: out[i] left alone for an id t lacks. */
int memdb_get_rows(const memdb_target_t *t, const char *const *ids,
                   size_t cnt, vcdc_record_t *out, char *errstr,
                   size_t errstr_size);

/** vcdc_sink_scan_shifted() over t, in insertion order (Chroma's). */
int memdb_scan_insert(const memdb_target_t *t, char **cursorp, size_t max,
                      int with_vectors, vcdc_sink_shift_t *sh,
                      vcdc_record_t *out, size_t *cntp, char *errstr,
                      size_t errstr_size);

/** vcdc_sink_scan() over t, by id (pgvector's keyset). */
int memdb_scan_key(const memdb_target_t *t, char **cursorp, size_t max,
                   int with_vectors, vcdc_record_t *out, size_t *cntp,
                   char *errstr, size_t errstr_size);

/** Registers the mfence, mpipe and mapart sinks. Returns 0 or -1. */
int memdb_register_sinks(void);

#endif

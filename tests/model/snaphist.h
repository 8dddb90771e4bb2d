/*
 * vcdc - the snapshot's model test (tests/test_snapshot_model.c): what a
 * seed decides (the history), the sequential model of what every id must
 * hold, and the comparison of a target with it. The running of a history
 * stays in the test.
 */
#ifndef VCDC_MODEL_SNAPHIST_H
#define VCDC_MODEL_SNAPHIST_H

#include <stddef.h>
#include <stdint.h>

#include "memdb.h"

#define COLL       "docs" /* the collection, and OLD's target */
#define NEW_TARGET "docsnew"
#define CONTROL    "vcdc.control"
#define DIM        4
#define MAX_IDS    96
#define MAX_LIVE   160
#define MAX_STOPS  2

typedef struct live_s {
        int id;       /* index into ids */
        int del;      /* a delete, else an upsert */
        int pause_ms; /* before it is sent */
        /* Reactive: sent as soon as the snapshot has read a page, to one
         * of the page's ids (react % their number), after delay_ms: it
         * lands in the chunk's window, or between its high watermark and
         * its append (a repair), or after. id is set when it is sent. */
        int react, react_pick, delay_ms;
} live_t;

typedef struct stop_s {
        int after_ms; /* from the run's start */
        int sig;      /* SIGTERM (a stop) or SIGKILL */
} stop_t;

typedef struct hist_s {
        uint64_t seed;
        int parts;
        int key_scan; /* pgvector's keyset, else Chroma's insertion order */
        int chunk;
        int prefill; /* ids[0..prefill) are in OLD before the log */
        int id_cnt;  /* the rest: new ids the writer may create */
        char ids[MAX_IDS][16];
        int before; /* live changes sent before the snapshot starts */
        int live_cnt;
        live_t live[MAX_LIVE];
        int stop_cnt;
        stop_t stops[MAX_STOPS];
} hist_t;

/* What an id must hold: seq 0 is the prefill, k the live change Lk. */
typedef struct want_s {
        int present;
        int seq;
        uint64_t hash;
} want_t;

/* A failure's text, appended to. */
typedef struct res_s {
        int failed;
        char text[4096];
        size_t len;
        uint64_t snap_msgs, repairs, skipped, runs, kills, stops;
        int64_t ms;
        int64_t phase_ms[4]; /* OLD started, snapshot, OLD done, NEW */
} res_t;

/** The history seed decides into h. */
void snaphist_generate(hist_t *h, uint64_t seed);

/** h, in full, for a failure's report. */
void snaphist_describe(const hist_t *h, char *buf, size_t size);

/** The document tag of change seq (0: the prefill), and back: -1 for a
 *  tag the test never wrote. */
void snaphist_tag_of(int seq, char *buf, size_t size);
int snaphist_seq_of(const char *tag);

/** The record of id as change seq wrote it. Returns 0, or -1 out of
 *  memory. */
int snaphist_make(vcdc_record_t *rec, const char *id, int seq);

/** What each id of h must hold at the end (w[MAX_IDS]). Returns 0, or -1
 *  out of memory. */
int snaphist_model(const hist_t *h, want_t *w);

/** Appends a line to r's failure text (r->failed set). */
void snaphist_fail(res_t *r, const char *fmt, ...);

/** Compares the target name of st with the model w; what differs goes
 *  into r. */
void snaphist_compare(const hist_t *h, const want_t *w, const memdb_state_t *st,
                      const char *name, res_t *r);

#endif

/*
 * vcdc - the snapshot's internals, shared by its files: the run (run.c:
 * checks, the chunk loop, progress), a chunk's window, append and repairs
 * (chunk.c) and the checkpoints on the control topic (checkpoint.c).
 */
#ifndef VCDC_SNAP_INT_H
#define VCDC_SNAP_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "idindex.h"
#include "logread.h"
#include "producer.h"
#include "record.h"
#include "sink.h"
#include "snap.h"

/* The run. */
typedef struct snap_s {
        vcdc_conf_t *conf;
        const vcdc_snapshot_opts_t *o;
        vcdc_snapshot_result_t *res;
        vcdc_sink_t *old;
        vcdc_logread_t *lr;
        vcdc_producer_t *prod;
        const char *collection;
        const char *control_topic;
        char run[40];
        int parts;
        /* The log has been read up to pos[p] (exclusive). Every range read
         * notes, the first time it reads them, the offsets of the
         * collection's live deletes (dels[p], ascending), so that a Chroma
         * scan knows how far records can have moved between two pages. */
        int64_t *pos;
        struct offs_s {
                int64_t *v;
                size_t cnt, cap;
        } *dels;
        /* And, by id, each one's latest (a tsearch() tree): an anchor of
         * the scan deleted since may be back at the end (sink.h). The page
         * thread asks it while the run's thread adds: under dels_lock. */
        void *deleted;
        pthread_mutex_t dels_lock;
        /* The offset of the last live change of the collection read in
         * each partition (pos - 1 at the start): OLD reflects everything
         * before pos once it has applied up to there, as it skips the
         * snapshot's own records and changes nothing for other
         * collections. */
        int64_t *need;
        /* OLD's position as last read, and when (run.c). */
        int64_t *old_pos;
        int64_t old_pos_ms;
        int64_t progress_ms; /* when progress was last shown */
        struct vcdc_ctlwriter_s *ckpt; /* the checkpoints' (checkpoint.c) */
} snap_t;

/* One id of a chunk: what its window and repairs found. */
typedef struct slot_s {
        int dropped;       /* changed inside the window: not written */
        int last_ours;     /* its latest record since HW is a tagged one */
        char last_repair[32]; /* that record's vcdc.repair; "" for none */
        int has_live;      /* a live change since HW: */
        vcdc_record_t live;   /* the latest, copied */
        char live_pos[32];    /* at "P:O" */
} slot_t;

/* A chunk: rows read from OLD (a DELETE row: an id OLD no longer holds,
 * when an interrupted chunk's ids are read again). */
typedef struct chunk_s {
        int64_t n;
        char tag[64]; /* vcdc.snapshot: "RUN:N" */
        vcdc_record_t *rows;
        size_t cnt;
        const char **ids; /* rows[i].id */
        vcdc_idindex_t ix;
        slot_t *slots;
} chunk_t;

#define SNAP_CHUNK_DEFAULT 1000

/* page.c: reading OLD. */

/* A page of the scan with its watermarks, read in a thread of its own
 * (snap_page_start() to snap_page_wait()). */
typedef struct page_s {
        snap_t *s;
        chunk_t c;         /* the rows read (n and tag are the caller's) */
        char *before;      /* the cursor it was read from; NULL: the start */
        char *cursor;      /* after it; NULL: the scan is over */
        int64_t *from;     /* the previous page's lw: "since" (sink.h) */
        vcdc_sink_shift_t sh; /* what the scan was told, and said */
        int64_t *lw, *hw;  /* OLD's position before, the log end after */
        int rc;            /* 0, or -1 with err */
        char err[512];
        pthread_t thr;
        int running;
} page_t;

/** Starts reading the page at cursor (NULL: the start), read by the
 *  previous page with OLD at from[]: OLD's position, the page, the log
 *  end. Returns 0, or -1 with errstr (nothing runs). */
int snap_page_start(snap_t *s, page_t *pg, const char *cursor,
                    const int64_t *from, char *errstr, size_t errstr_size);

/** 1 when the page may have skipped records, as the log read up to its
 *  high watermark shows: it lost its place and stepped back by fewer
 *  deletes than there were, or the record it was placed after was
 *  deleted since. It must be read again. */
int snap_page_misplaced(snap_t *s, const page_t *pg);

/** Waits for the page: 0, or -1 with errstr. */
int snap_page_wait(page_t *pg, char *errstr, size_t errstr_size);

/** Waits if it still runs, and frees. */
void snap_page_clear(page_t *pg);

/** OLD's position: one past the offset its recorded offsets show applied
 *  in each partition, read again when older than half a second or fresh
 *  is set. */
int snap_old_position(snap_t *s, int64_t *lw, int fresh, char *errstr,
                      size_t errstr_size);

/** The ids of an interrupted chunk from OLD: an id OLD no longer holds
 *  becomes a DELETE row (it takes the id from ids[]). */
int snap_read_ids(snap_t *s, chunk_t *c, char **ids, size_t cnt,
                  char *errstr, size_t errstr_size);

/* chunk.c */

/** Indexes c's rows (after they were read) and clears every slot. */
int snap_chunk_index(chunk_t *c, char *errstr, size_t errstr_size);

/** Frees the rows and slots, keeps n and tag. */
void snap_chunk_clear(chunk_t *c);

/** Reads the log up to to[] from s->pos, or from lw[] when it is before
 *  (lw NULL: s->pos), marking the ids of c (when not NULL) changed in
 *  [lw, to) as dropped: the window. s->pos becomes to. */
int snap_read(snap_t *s, const int64_t *lw, const int64_t *to, chunk_t *c,
              char *errstr, size_t errstr_size);

/** How many live deletes of the collection the log holds in [from, to)
 *  (of those read: from s->pos at the start of the run on). */
uint64_t snap_dels(const snap_t *s, const int64_t *from, const int64_t *to);

/** 1 when the log (as read) holds a live delete of id at or past from[]. */
int snap_deleted_since(snap_t *s, const char *id, const int64_t *from);

/** Frees what the run noted of the deletes. */
void snap_dels_free(snap_t *s);

/** Writes c's rows that were not dropped as snapshot records, and waits
 *  for their acknowledgements. */
int snap_append(snap_t *s, chunk_t *c, char *errstr, size_t errstr_size);

/** The repair passes from hw, the chunk's high watermark, until one
 *  writes nothing (DESIGN.md, step 7). */
int snap_repair(snap_t *s, chunk_t *c, const int64_t *hw, char *errstr,
                size_t errstr_size);

/** The ids of the records tagged tag in [from, end), end[] being the log
 *  end now (filled in), for collection: *idsp a new array of *cntp new
 *  strings, sorted, unique. */
int snap_tagged_ids(snap_t *s, const int64_t *from, const char *tag,
                    int64_t *end, char ***idsp, size_t *cntp, char *errstr,
                    size_t errstr_size);

/* checkpoint.c: the run's progress on the control topic, under the key
 * "snapshot:TOPIC:COLLECTION". */

typedef enum ckpt_state_e {
        CKPT_NONE = 0,
        CKPT_APPENDING, /* chunk n read, its window done, being written */
        CKPT_DONE,      /* chunk n written and repaired */
        CKPT_FINISHED,  /* the whole collection copied */
} ckpt_state_t;

typedef struct ckpt_s {
        ckpt_state_t state;
        char run[40];
        int64_t chunk;
        char *cursor;      /* where the scan goes on (NULL: the start) */
        int64_t *cursor_lw; /* the low watermark of the page that cursor
                             * came from: deletes are counted from there */
        int64_t *hw;        /* APPENDING: the chunk's high watermark */
        int parts;
        uint64_t records, repairs, superseded; /* the run's totals */
} ckpt_t;

void snap_ckpt_clear(ckpt_t *ck);

/** ck (with ck->parts offsets per array) as the JSON value above: a new
 *  string (free() it), or NULL when out of memory. */
char *snap_ckpt_encode(const char *topic, const char *collection,
                       const ckpt_t *ck);

/** Parses a control value into ck: 1 when it is a checkpoint of topic and
 *  collection with parts offsets per array, 0 when it is another record
 *  (another kind, topic or collection), -1 when it is malformed. ck is
 *  cleared unless 1 is returned. */
int snap_ckpt_decode(const char *topic, const char *collection, int parts,
                     const void *buf, size_t len, ckpt_t *ck);

/** The latest checkpoint of s's topic and collection (state NONE when
 *  there is none, or the control topic does not exist). */
int snap_ckpt_read(snap_t *s, ckpt_t *ck, char *errstr, size_t errstr_size);

/** Writes ck and waits for its acknowledgement. */
int snap_ckpt_write(snap_t *s, const ckpt_t *ck, char *errstr,
                    size_t errstr_size);

#endif

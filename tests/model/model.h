/*
 * vcdc - model test (issue 14): generated histories, the sequential
 * reference model, and the run of a history against real consumers.
 *
 * A history is everything one seed decides: the topic (partitions,
 * collections, a log of upserts, deletes, tombstones and undecodable
 * records over a small id space), the consumer groups (one per collection,
 * each with its own target, sink kind, batching and commit settings and
 * injected sink faults), and a schedule (when each segment of the log is
 * written, when consumers start, are killed, stopped, restarted).
 *
 * The model applies the log one record at a time, in offset order per
 * partition, and says for every message whether it is applied, filtered
 * or refused (and why); the run's database and dead-letter topic must
 * agree with it exactly (check.c).
 */
#ifndef VCDC_MODEL_MODEL_H
#define VCDC_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define HIST_MAX_COLLS 4 /* with a consumer group each, and a foreign one */
#define HIST_MAX_GROUPS 3
#define HIST_MAX_IDS 40
#define HIST_MAX_MEMBERS 2
#define HIST_MAX_EVENTS 32

typedef enum sink_kind_e {
        SINK_FENCE, /* mfence: offsets with the data, fenced */
        SINK_PIPE,  /* mpipe: the same, with apply_send/apply_wait */
        SINK_APART, /* mapart: offsets apart, as Chroma */
} sink_kind_t;

typedef enum mkind_e {
        M_UPSERT,
        M_DELETE,    /* a DELETE record (the producer adds its tombstone) */
        M_TOMBSTONE, /* after its DELETE, or alone (compaction's leftover) */
        M_CORRUPT,   /* a value that does not decode (a valid key) */
        M_BADKEY,    /* a tombstone whose key does not decode */
} mkind_t;

/* One message of the log, in the order written. */
typedef struct hmsg_s {
        mkind_t kind;
        int coll, id; /* indices; -1 for M_BADKEY */
        int tag;      /* names the record: its document is "r<tag>" */
        uint32_t dim; /* M_UPSERT, M_CORRUPT */
        int nested;   /* metadata the target cannot hold (check refuses) */
        int refuse;   /* the database refuses it (check does not know) */
        int lone;     /* M_TOMBSTONE written alone, not after a DELETE */
        int segment;  /* written with this segment of the log */
        uint64_t hash; /* M_UPSERT: memdb_record_hash() of its record */
        void *key;
        size_t key_len;
        void *value; /* as written; NULL for a tombstone */
        size_t len;
        int32_t partition; /* where the read-back found it, -1 before */
        int64_t offset;
} hmsg_t;

typedef enum ev_type_e { EV_PRODUCE, EV_START, EV_KILL, EV_STOP } ev_type_t;

typedef struct hevent_s {
        int t_ms; /* after the history's start */
        ev_type_t type;
        int group, member, segment;
        int in_apply; /* EV_KILL: in the middle of a commit (up to 3 s
                       * later), when the group's sink has latency */
} hevent_t;

/* A consumer group: the consumers of one collection. */
typedef struct hgroup_s {
        int coll;
        char target[32];
        int opt_coll; /* opts.collection is given (else target == coll) */
        int members;  /* 1 or 2 consumers */
        sink_kind_t sink;
        int batch_records, batch_ms, commit_ms;
        /* sink faults (msink.c): permille, bigmin changes, lat ms */
        int fail, lost, big, bigmin, lat, rfail;
} hgroup_t;

typedef struct hist_s {
        uint64_t seed;
        int partitions, brokers;
        int coll_cnt;  /* collections in the log */
        int group_cnt; /* the first group_cnt collections have a group */
        char colls[HIST_MAX_COLLS][24];
        int id_cnt[HIST_MAX_COLLS];
        uint32_t dim_a, dim_b;
        int mixed;       /* upserts of both dimensions */
        uint32_t pinned; /* vcdc.sink.dim, 0: none */
        hgroup_t groups[HIST_MAX_GROUPS];
        hmsg_t *msgs;
        size_t msg_cnt;
        int seg_cnt;
        hevent_t events[HIST_MAX_EVENTS];
        int event_cnt;
} hist_t;

/** Generates the history of seed with at most max_records records.
 *  Returns 0, or -1 with errstr. */
int hist_generate(hist_t *h, uint64_t seed, int max_records, char *errstr,
                  size_t errstr_size);

void hist_free(hist_t *h);

/** The id string of id index id. */
void hist_id(int id, char *buf, size_t size);

/** The record of message m (M_UPSERT, M_DELETE, M_CORRUPT before its
 *  corruption) into rec (initialised). Returns 0 or -1 (no memory). */
int hist_record(const hist_t *h, const hmsg_t *m, vcdc_record_t *rec);

/** One paragraph describing the history (its settings and schedule). */
void hist_describe(const hist_t *h, char *buf, size_t size);

const char *sink_scheme(sink_kind_t kind);

/* What the model says of one message for the group of its collection. */
typedef enum fate_e {
        F_FILTERED = 0, /* another collection's, or no group applies it */
        F_APPLIED,
        F_DECODE,  /* (a) refused: does not decode */
        F_CHECK,   /* (b) refused by the sink's check() */
        F_DIM,     /* (c) refused: another dimension than the target's */
        F_DB,      /* (d) refused by the database alone */
} fate_t;

typedef struct model_s {
        fate_t *fate;  /* per message */
        int *required; /* F_DB: must reach the DLQ (no later change of its
                        * id applies, so nothing can supersede it) */
        /* per group: the target as the model leaves it */
        int exists[HIST_MAX_GROUPS];
        uint32_t dim[HIST_MAX_GROUPS];
        int creator[HIST_MAX_GROUPS];            /* message that created */
        int row[HIST_MAX_GROUPS][HIST_MAX_IDS];  /* message held, -1 */
        int last[HIST_MAX_GROUPS][HIST_MAX_IDS]; /* last applied change */
        size_t refused[F_DB + 1];                /* counts by fate */
} model_t;

/** Runs the model over h (partitions and offsets filled in). */
int model_build(const hist_t *h, model_t *mo);

void model_free(model_t *mo);

/* A history's outcome. */
typedef struct hresult_s {
        int failed;
        char *text; /* what differed, one a line (malloc'd) */
        size_t text_len, text_cap;
        size_t diffs;
        uint64_t messages, refused, sink_faults, kills, stops, starts,
                crashes, recovered, applies, calls;
        int64_t ms;
} hresult_t;

/** Adds a line to res->text (and counts it as a difference). */
void hres_add(hresult_t *res, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

void hres_free(hresult_t *res);

struct memdb_state_s;
struct kit_msg_s;

/**
 * Compares the database (state), the dead letters read back (dlq) and the
 * recorded offsets against the model; each difference goes to res.
 */
void model_check(const hist_t *h, const model_t *mo,
                 const struct memdb_state_s *state,
                 const struct kit_msg_s *dlq, size_t dlq_cnt,
                 const char *topic, const int64_t *ends, hresult_t *res);

/** Runs history h (partitions and offsets of its messages are filled
 *  in) with its files under dir; res says how it went. */
void hist_run(hist_t *h, const char *dir, hresult_t *res);

#endif

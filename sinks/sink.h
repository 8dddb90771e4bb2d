/*
 * vcdc - the sink interface: one target database (DESIGN.md, Sinks).
 *
 * A sink is chosen by URL scheme (chroma://, pgvector://) and used only
 * through the wrappers below. Everything above it (batching, retries,
 * offsets, verification, shadow reads) is written once, against this API;
 * nothing here names a database's own types, and nothing above it may
 * reach past these calls into a sink (sink_int.h is the sinks' own).
 *
 * Every call that talks to the database returns a vcdc_sink_status_t, which
 * carries the retry decision:
 *   VCDC_SINK_OK         done;
 *   VCDC_SINK_RETRIABLE  transient (connection refused, timeout, HTTP 5xx,
 *                        serialization failure, deadlock): the same call
 *                        may succeed later, nothing was half-applied that
 *                        a retry would not fix;
 *   VCDC_SINK_INVALID    the database refused the data as invalid: the same
 *                        call will fail again (the caller isolates the bad
 *                        record and dead-letters it);
 *   VCDC_SINK_FATAL      the target cannot be used as configured
 *                        (incompatible dimension or metric, authentication
 *                        or permission refused: SQLSTATE class 28 and 42501,
 *                        HTTP 401 and 403);
 *   VCDC_SINK_STALE      fenced: the target already records, for a
 *                        partition of the batch, an offset at or past the
 *                        batch's own, so a newer writer applied it; nothing
 *                        of the call was applied (only sinks that record
 *                        offsets atomically with the data answer this).
 * errstr then holds the root cause with context (HTTP status and a body
 * excerpt, or the SQL error).
 */
#ifndef VCDC_SINK_H
#define VCDC_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "sinkindex.h"

typedef struct vcdc_sink_s vcdc_sink_t;

typedef enum vcdc_sink_status_e {
        VCDC_SINK_OK = 0,
        VCDC_SINK_RETRIABLE = -1,
        VCDC_SINK_INVALID = -2,
        VCDC_SINK_FATAL = -3,
        VCDC_SINK_STALE = -4,
} vcdc_sink_status_t;

const char *vcdc_sink_status_name(vcdc_sink_status_t status);

typedef enum vcdc_metric_e {
        VCDC_METRIC_UNSET = 0, /* take it from the URL (?metric=), else cosine */
        VCDC_METRIC_COSINE,
        VCDC_METRIC_L2,
        VCDC_METRIC_IP, /* inner product */
} vcdc_metric_t;

/** "cosine", "l2", "ip" */
const char *vcdc_metric_name(vcdc_metric_t metric);
/** Parses "cosine", "l2", "ip" (also "inner_product"). Returns UNSET if unknown. */
vcdc_metric_t vcdc_metric_parse(const char *name);

typedef struct vcdc_sink_conf_s {
        vcdc_metric_t metric; /* the metric for a new target, and the one an
                               * existing target must have; UNSET: the URL's
                               * ?metric=, else an existing target's own,
                               * else cosine */
        size_t dim;           /* the dimension an existing target must have;
                               * 0: take the target's, or the first vector's */
        int timeout_ms;       /* per request; 0: 30000 */
} vcdc_sink_conf_t;

/* The last offset applied in one partition (resume at offset + 1). */
typedef struct vcdc_sink_offset_s {
        int32_t partition;
        int64_t offset;
} vcdc_sink_offset_t;

/*
 * One batch, already coalesced: every id appears at most once, either among
 * the upserts or among the deletes, so their order does not matter.
 *
 * offsets: for a sink that records offsets atomically with the data
 * (vcdc_sink_offsets_apart() == 0, pgvector), the last offset of each
 * partition the batch covers. The call is fenced on them: when the target
 * already records, for one of those partitions, an offset at or past the
 * batch's, nothing is applied and the answer is VCDC_SINK_STALE (a newer
 * writer got there first). Otherwise the data is applied and, unless
 * fence_only, the offsets recorded, in one transaction. fence_only is for a
 * part of a batch: it is applied under the same fence, and the batch's
 * offsets are recorded once all its parts are (vcdc_sink_record_offsets()).
 * A sink that keeps offsets apart (Chroma) takes no offsets here: they go
 * through vcdc_sink_record_offsets(), after the data they cover.
 */
typedef struct vcdc_sink_batch_s {
        const vcdc_record_t *const *upserts;
        size_t upsert_cnt;
        const char *const *delete_ids;
        size_t delete_cnt;
        const char *topic;                 /* for the offsets */
        const vcdc_sink_offset_t *offsets; /* may be NULL */
        size_t offset_cnt;
        int fence_only; /* check the offsets, record nothing */
} vcdc_sink_batch_t;

/* One query result. */
typedef struct vcdc_hit_s {
        char *id;
        double distance; /* as the database reports it, smaller is nearer */
} vcdc_hit_t;

/**
 * Opens the sink named by url (chroma://HOST:PORT/COLLECTION?tenant=..&
 * database=..&metric=.., pgvector://USER@HOST:PORT/DB?table=..&metric=..).
 * Connects, reads the target's dimension and metric when it exists, and
 * refuses (NULL) when they differ from conf. Does not create the target:
 * that happens on the first upsert, with that vector's dimension.
 * conf may be NULL. Secrets come from the environment or a file, never
 * the URL: VCDC_CHROMA_TOKEN (or VCDC_CHROMA_TOKEN_FILE), VCDC_PG_PASSWORD
 * (or VCDC_PG_PASSWORD_FILE; libpq's PGPASSWORD works too).
 * Returns NULL with errstr filled on failure.
 */
vcdc_sink_t *vcdc_sink_new(const char *url, const vcdc_sink_conf_t *conf,
                           char *errstr, size_t errstr_size);

/**
 * vcdc_sink_new(), saying in *statusp (when not NULL) why it failed:
 * VCDC_SINK_RETRIABLE when the database could not be reached (it may be
 * later), VCDC_SINK_FATAL for bad configuration, refused credentials or an
 * incompatible target.
 */
vcdc_sink_t *vcdc_sink_open(const char *url, const vcdc_sink_conf_t *conf,
                            vcdc_sink_status_t *statusp, char *errstr,
                            size_t errstr_size);

/** Closes connections and frees. Accepts NULL. */
void vcdc_sink_destroy(vcdc_sink_t *sink);

/** A short description for logs: "chroma://127.0.0.1:8000/docs". */
const char *vcdc_sink_name(const vcdc_sink_t *sink);

/** The name of the collection (Chroma) or table (pgvector) the sink
 *  writes: the collection a consumer applies when it is given none. */
const char *vcdc_sink_target(const vcdc_sink_t *sink);

/** 1 when the sink records offsets in a write of their own after the
 *  data (Chroma: vcdc_sink_record_offsets() only), which costs a request;
 *  0 when they go in the data's own transaction (pgvector: the batch's
 *  offsets, fenced). */
int vcdc_sink_offsets_apart(const vcdc_sink_t *sink);

/** The most records one apply call should carry (Chroma: pre-flight-checks
 *  max_batch_size). */
size_t vcdc_sink_max_batch(const vcdc_sink_t *sink);

/** The target's dimension (the configured one before the target exists),
 *  0 while unknown. */
size_t vcdc_sink_dim(const vcdc_sink_t *sink);

/** The target's metric (the configured one before the target exists,
 *  cosine when none was configured): what its distances measure. */
vcdc_metric_t vcdc_sink_metric(const vcdc_sink_t *sink);

/**
 * Checks, without talking to the database, that rec can ever apply to this
 * target: dimension, what the target can hold (nested metadata in Chroma,
 * numbers jsonb cannot hold in pgvector), and for a delete its id. The
 * database refuses nothing of a record that passes, alone in its batch.
 * Returns OK or INVALID with errstr saying why.
 */
vcdc_sink_status_t vcdc_sink_check(vcdc_sink_t *sink, const vcdc_record_t *rec,
                                   char *errstr, size_t errstr_size);

/** Applies a batch and records its offsets (see vcdc_sink_batch_t). */
vcdc_sink_status_t vcdc_sink_apply(vcdc_sink_t *sink,
                                   const vcdc_sink_batch_t *batch,
                                   char *errstr, size_t errstr_size);

/**
 * Records offsets[0..cnt) for topic: everything up to each of them is
 * applied. A sink that records offsets atomically fences the write as
 * apply() does (VCDC_SINK_STALE when the target records one at or past
 * it); Chroma writes them as given. Never creates the user's collection or
 * table.
 */
vcdc_sink_status_t vcdc_sink_record_offsets(vcdc_sink_t *sink,
                                            const char *topic,
                                            const vcdc_sink_offset_t *offsets,
                                            size_t cnt, char *errstr,
                                            size_t errstr_size);

/**
 * After a RETRIABLE answer: 1 when a smaller batch may succeed where this
 * one failed (the call timed out, or the database answered with a server
 * error), 0 when the database could not be reached at all.
 */
int vcdc_sink_retry_smaller(const vcdc_sink_t *sink);

/** 1 when the sink can apply a batch in two halves (pgvector): see
 *  vcdc_sink_apply_send(). */
int vcdc_sink_can_send(const vcdc_sink_t *sink);

/**
 * vcdc_sink_apply() in two halves, so that the caller can prepare the next
 * batch while the database works: apply_send() sends the batch and returns
 * without waiting for the answer (the batch's memory may be reused at
 * once); apply_wait() reads the answer and returns what apply() would
 * have. Nothing else may use the sink in between. After a failed send
 * there is nothing to wait for. Only for a sink that vcdc_sink_can_send();
 * others answer FATAL.
 */
vcdc_sink_status_t vcdc_sink_apply_send(vcdc_sink_t *sink,
                                        const vcdc_sink_batch_t *batch,
                                        char *errstr, size_t errstr_size);
vcdc_sink_status_t vcdc_sink_apply_wait(vcdc_sink_t *sink, char *errstr,
                                        size_t errstr_size);

/**
 * Reads the offsets recorded for topic: *offsetsp is a new array of *cntp
 * entries (free() it), empty when none were recorded. Only offsets that
 * belong to the target as it is now count: those recorded for a table or
 * collection since dropped, re-created or truncated are left out.
 */
vcdc_sink_status_t vcdc_sink_read_offsets(vcdc_sink_t *sink, const char *topic,
                                          vcdc_sink_offset_t **offsetsp,
                                          size_t *cntp, char *errstr,
                                          size_t errstr_size);

/** The offset recorded for partition in offs[0..cnt) (as read by
 *  vcdc_sink_read_offsets()), -1 when none. */
int64_t vcdc_sink_offset_for(const vcdc_sink_offset_t *offs, size_t cnt,
                             int32_t partition);

/** Number of records in the target (0 when it does not exist yet). */
vcdc_sink_status_t vcdc_sink_count(vcdc_sink_t *sink, uint64_t *countp,
                                   char *errstr, size_t errstr_size);

/**
 * Fetches ids[0..cnt). out[i] is filled for each id found (with vector,
 * metadata, document) and left with out[i].id == NULL for a missing one.
 * out must hold cnt initialised records; the caller clears them.
 */
vcdc_sink_status_t vcdc_sink_get(vcdc_sink_t *sink, const char *const *ids,
                                 size_t cnt, vcdc_record_t *out, char *errstr,
                                 size_t errstr_size);

/**
 * Pages through every record. *cursorp is NULL on the first call and is
 * replaced (free()d and re-allocated) by each call; it is NULL again when
 * the scan is over. Fills out[0..*cntp) with at most max records.
 * with_vectors: 0 fetches ids, metadata and documents only.
 * Writes may go on meanwhile: a record present throughout the scan comes
 * back exactly once, and none comes back twice unless it was deleted and
 * written again (Chroma: unless every record of the previous page was
 * deleted since; it logs a notice then). Chroma may also miss records
 * when the last ones it returned were deleted and written again since
 * (they moved to the end): only a caller that knows the deletes avoids
 * that (vcdc_sink_scan_shifted()).
 */
vcdc_sink_status_t vcdc_sink_scan(vcdc_sink_t *sink, char **cursorp,
                                  size_t max, int with_vectors,
                                  vcdc_record_t *out, size_t *cntp,
                                  char *errstr, size_t errstr_size);

/**
 * What the caller of a scan knows of the changes since its previous page
 * (vcdc snapshot reads them in the log, the only way its source changes),
 * and what the scan says back. Zero it before the first page.
 */
typedef struct vcdc_sink_shift_s {
        /* At most this many records before the cursor were deleted. */
        uint64_t deletes;
        /* 1 when id was deleted since (it may be back, written again at
         * the end); NULL when no id is known to have been. */
        int (*deleted)(const char *id, void *opaque);
        void *opaque;
        /* Out: 1 when the scan lost its place and stepped back. */
        int lost;
        /* Out: the id the page starts right after, found in the database
         * (the caller frees it), or NULL: the first page, a lost place,
         * or a sink whose order is its key. */
        char *anchor;
} vcdc_sink_shift_t;

/**
 * vcdc_sink_scan() for a caller that knows the changes since the previous
 * page (sh; NULL: none known). A sink whose order is its key (pgvector)
 * never loses its place and ignores sh. Chroma, which pages by offset in
 * insertion order, finds its place after the last records it returned
 * (its anchors) still there, but for those sh->deleted() names: a record
 * deleted and written again moved to the end, and a page after it would
 * skip every record between. With none left it has lost its place: it
 * steps back by sh->deletes (by the anchors' number when that is more),
 * so nothing is missed and a record may come twice, and sets sh->lost.
 * sh->anchor says which record the page was placed after: a caller that
 * learns later that it was deleted since reads the page again.
 */
vcdc_sink_status_t vcdc_sink_scan_shifted(vcdc_sink_t *sink, char **cursorp,
                                          size_t max, int with_vectors,
                                          vcdc_sink_shift_t *sh,
                                          vcdc_record_t *out, size_t *cntp,
                                          char *errstr, size_t errstr_size);

/** Whether the target (collection, table) exists now: *existsp 1 or 0. */
vcdc_sink_status_t vcdc_sink_exists(vcdc_sink_t *sink, int *existsp,
                                    char *errstr, size_t errstr_size);

/**
 * The k nearest neighbours of vector (dim floats), nearest first.
 * hits must hold k entries; *cntp is set to how many were filled.
 * The caller frees each hits[i].id.
 */
vcdc_sink_status_t vcdc_sink_query(vcdc_sink_t *sink, const float *vector,
                                   size_t dim, size_t k, vcdc_hit_t *hits,
                                   size_t *cntp, char *errstr,
                                   size_t errstr_size);

/*
 * The approximate index on the target (DESIGN.md, The index on NEW):
 * optional. A sink that builds one (pgvector) does it on a connection of
 * its own, so applying goes on meanwhile; one that always has its own
 * (Chroma's HNSW) has none of these and the wrappers answer FATAL.
 */

/** 1 when the sink URL's scheme names a sink that builds indexes, 0 when
 *  it names one that does not, -1 when it names no sink. Opens nothing. */
int vcdc_sink_url_can_index(const char *url);

/** 1 when the sink builds indexes (vcdc_sink_index_start()). */
int vcdc_sink_can_index(const vcdc_sink_t *sink);

/**
 * Starts building spec's index on the target, under a name fixed by the
 * target and the kind, so a restart finds the one it began: nothing is
 * built when that index exists and is valid (or the target does not exist
 * yet); an invalid one (a build stopped midway) is dropped and built
 * again; one another session is building is waited for. *startedp is 1
 * while there is a build to wait for (vcdc_sink_index_poll()), 0 when
 * there is nothing to do. Returns at once; the build goes on in the
 * database.
 */
vcdc_sink_status_t vcdc_sink_index_start(vcdc_sink_t *sink,
                                         const vcdc_index_spec_t *spec,
                                         int *startedp, char *errstr,
                                         size_t errstr_size);

/**
 * Whether the build started is over, without waiting: *donep 1 when it
 * is (OK: the index is valid), 0 while it goes on. A failed build answers
 * its status (RETRIABLE: start again later) with errstr.
 */
vcdc_sink_status_t vcdc_sink_index_poll(vcdc_sink_t *sink, int *donep,
                                        char *errstr, size_t errstr_size);

/**
 * The state of vcdc's index of kind on the target (kind NONE: whichever
 * vcdc index there is, a valid one first), with the build's phase and
 * progress while one is under way. Works on any open sink of that kind,
 * whoever builds the index.
 */
vcdc_sink_status_t vcdc_sink_index_state(vcdc_sink_t *sink,
                                         vcdc_index_kind_t kind,
                                         vcdc_index_info_t *info,
                                         char *errstr, size_t errstr_size);

#endif

/*
 * vcdc - the Chroma sink's own state and the calls its files share: the
 * transport (sink_chroma_call.c), the collections (sink_chroma_coll.c) and
 * the slots of the ops table each file fills (sink_chroma.c puts them
 * together). Only the files of sinks/chroma/ include this; tests and
 * fuzzers use sink_chroma_int.h.
 */
#ifndef VCDC_SINK_CHROMA_STATE_H
#define VCDC_SINK_CHROMA_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "http.h"
#include "sink_chroma_int.h"
#include "sink_int.h"

#define CHROMA_DEFAULT_PORT 8000
#define CHROMA_ID_SIZE      64   /* a collection id is a UUID */
#define CHROMA_BASE_MAX     600  /* the longest tenant/database prefix */
#define CHROMA_PATH_SIZE    2048 /* base + a name of at most 512 + verb */
#define CHROMA_TOKEN_HEADER "x-chroma-token"

typedef struct chroma_s {
        vcdc_http_t *http;
        vcdc_jsonscan_t *js; /* reads the get answers; NULL until then */
        char *offsets_name;      /* COLLECTION_vcdc_offsets */
        char *base;              /* /api/v2/tenants/T/databases/D */
        char id[CHROMA_ID_SIZE]; /* "" while the collection is absent */
        char offsets_id[CHROMA_ID_SIZE];
        size_t dim;       /* 0 while unknown */
        size_t max_batch; /* pre-flight-checks max_batch_size */
        int base64_ok;    /* the server takes base64 */
        int base64;       /* and we send it */
        int token;        /* a token goes with each request */
        uint64_t inexact; /* metadata floats Chroma altered
                           * (vcdc_chroma_stored_real) */
} chroma_t;

/*
 * Transport (sink_chroma_call.c).
 */

/** Fills errstr with "sink name: message" and returns status (also kept
 *  as sink->open_status, read when open fails). */
vcdc_sink_status_t vcdc_chroma_fail(vcdc_sink_t *sink,
                                    vcdc_sink_status_t status, char *errstr,
                                    size_t errstr_size, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/**
 * One request; respp NULL: the answer is not read, else *respp is the
 * parsed answer (json_decref() it). *codep (may be NULL): HTTP status. A
 * refused token (401, 403) is FATAL with a message that says what to
 * set. A RETRIABLE failure sets sink->retry_smaller for a server error
 * (5xx) or a timeout.
 */
vcdc_sink_status_t vcdc_chroma_call(vcdc_sink_t *sink, const char *method,
                                    const char *path, const char *body,
                                    json_t **respp, long *codep, char *errstr,
                                    size_t errstr_size);

/**
 * vcdc_chroma_call() of METHOD base/collections[/id][/verb]. body NULL
 * sends none with GET; with another method it means the caller ran out
 * of memory building it (RETRIABLE). *codep (may be NULL): HTTP status.
 */
vcdc_sink_status_t vcdc_chroma_coll_call(vcdc_sink_t *sink, const char *method,
                                         const char *id, const char *verb,
                                         const char *body, json_t **respp,
                                         long *codep, char *errstr,
                                         size_t errstr_size);

/** vcdc_chroma_coll_call() with the answer checked by st->js rather than
 *  read into a tree: *rootp and the scanner's members point into it until
 *  the next request (vcdc_chroma_scan_get() and the like read it). */
vcdc_sink_status_t vcdc_chroma_coll_scan(vcdc_sink_t *sink, const char *method,
                                         const char *id, const char *verb,
                                         const char *body,
                                         vcdc_json_span_t *rootp, long *codep,
                                         char *errstr, size_t errstr_size);

/** Appends s percent-encoded as one path segment. */
void vcdc_chroma_put_segment(vcdc_buf_t *b, const char *s);

/** Adds the token header (VCDC_CHROMA_TOKEN or _FILE) to st->http when a
 *  token is set. Returns 0, or -1 with errstr (FATAL). */
int vcdc_chroma_add_token(vcdc_sink_t *sink, chroma_t *st, char *errstr,
                          size_t errstr_size);

/*
 * Collections (sink_chroma_coll.c).
 */

/** Looks collection name up: *foundp 1 with id (CHROMA_ID_SIZE bytes),
 *  dimension and space filled, or 0 when it does not exist. */
vcdc_sink_status_t vcdc_chroma_lookup(vcdc_sink_t *sink, const char *name,
                                      char *id, size_t *dimp,
                                      vcdc_metric_t *metricp, int *foundp,
                                      char *errstr, size_t errstr_size);

/** Takes an existing collection's id, dimension and space, refusing
 *  (FATAL) one that differs from the configuration. */
vcdc_sink_status_t vcdc_chroma_adopt(vcdc_sink_t *sink, const char *id,
                                     size_t dim, vcdc_metric_t metric,
                                     char *errstr, size_t errstr_size);

/** For reads: looks the collection up again while it is not known, since
 *  another process may have created it. */
vcdc_sink_status_t vcdc_chroma_refresh(vcdc_sink_t *sink, char *errstr,
                                       size_t errstr_size);

/** Creates (or gets) collection name with space metric, *id filled. */
vcdc_sink_status_t vcdc_chroma_create(vcdc_sink_t *sink, const char *name,
                                      vcdc_metric_t metric, char *id,
                                      size_t *dimp, vcdc_metric_t *metricp,
                                      char *errstr, size_t errstr_size);

/** The user's collection, created when missing. */
vcdc_sink_status_t vcdc_chroma_ensure(vcdc_sink_t *sink, char *errstr,
                                      size_t errstr_size);

/** POST body (NULL: out of memory) to the user's collection's verb; a 404
 *  means it was deleted under us: FATAL. */
vcdc_sink_status_t vcdc_chroma_post(vcdc_sink_t *sink, const char *verb,
                                    const char *body, json_t **respp,
                                    char *errstr, size_t errstr_size);

/*
 * The ops table's slots, filled by the file named (sink.h says what each
 * does).
 */

/* sink_chroma_apply.c */
vcdc_sink_status_t vcdc_chroma_op_check(vcdc_sink_t *sink,
                                        const vcdc_record_t *rec, char *errstr,
                                        size_t errstr_size);
vcdc_sink_status_t vcdc_chroma_op_apply(vcdc_sink_t *sink,
                                        const vcdc_sink_batch_t *batch,
                                        char *errstr, size_t errstr_size);
/* sink_chroma_offsets.c */
vcdc_sink_status_t
vcdc_chroma_op_record_offsets(vcdc_sink_t *sink, const char *topic,
                              const vcdc_sink_offset_t *offsets, size_t cnt,
                              char *errstr, size_t errstr_size);
vcdc_sink_status_t vcdc_chroma_op_read_offsets(vcdc_sink_t *sink,
                                               const char *topic,
                                               vcdc_sink_offset_t **offsetsp,
                                               size_t *cntp, char *errstr,
                                               size_t errstr_size);
/* sink_chroma_read.c */
vcdc_sink_status_t vcdc_chroma_op_count(vcdc_sink_t *sink, uint64_t *countp,
                                        char *errstr, size_t errstr_size);
vcdc_sink_status_t vcdc_chroma_op_get(vcdc_sink_t *sink, const char *const *ids,
                                      size_t cnt, vcdc_record_t *out,
                                      char *errstr, size_t errstr_size);
vcdc_sink_status_t vcdc_chroma_op_exists(vcdc_sink_t *sink, int *existsp,
                                         char *errstr, size_t errstr_size);
vcdc_sink_status_t vcdc_chroma_op_scan(vcdc_sink_t *sink, char **cursorp,
                                       size_t max, int with_vectors,
                                       vcdc_sink_shift_t *sh,
                                       vcdc_record_t *out, size_t *cntp,
                                       char *errstr, size_t errstr_size);
vcdc_sink_status_t vcdc_chroma_op_query(vcdc_sink_t *sink, const float *vector,
                                        size_t dim, size_t k, vcdc_hit_t *hits,
                                        size_t *cntp, char *errstr,
                                        size_t errstr_size);

#endif

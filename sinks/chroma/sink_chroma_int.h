/*
 * vcdc - Chroma sink internals: the checks (sink_chroma_check.c), the
 * request-body builders (sink_chroma_body.c), the answer parsers
 * (sink_chroma_answer.c; the get answers in sink_chroma_scan.c), the
 * float model (sink_chroma_float.c) and the scan cursor
 * (sink_chroma_cursor.c): pure functions, no I/O and no sink
 * state, exposed so unit tests and fuzzers can check them without a
 * server. Only the sink's files, its tests, fuzz/fuzz_chroma.c and
 * bench/direct_loader.c include this.
 *
 * What Chroma 3.0.6 does that shapes them (checked against the server;
 * tests/it_sink_chroma_check.c tries each case):
 *   - metadata values must be strings, integers (int64), floats or
 *     booleans; arrays (even of scalars) and nested objects are refused
 *     with HTTP 422; a null value is accepted but means "remove this key",
 *     so it would silently drop a field: refused here;
 *   - the key "chroma:document" is where Chroma keeps the document: a user
 *     key of that name overwrites the document, and a null one crashes the
 *     server's log reader for good: keys "chroma:*" are refused here;
 *   - upsert merges into an existing record: keys missing from the new
 *     metadata survive and a null or absent document keeps the old one.
 *     vcdc records are whole states, so apply reads the stored metadata
 *     first, sends null for each stale key, and deletes the record first
 *     when a stored document must go;
 *   - an empty metadata object is accepted and stored as none; none is
 *     sent as null;
 *   - a delete with an empty id list is refused: never sent; an empty id
 *     in an upsert is refused (400), so deleting "" changes nothing and
 *     apply skips it;
 *   - an integer beyond int64 is stored as a float (altered: refused
 *     here, as jansson refuses it anyway); 1e309 is refused (400);
 *   - "\u0000" in a metadata string is stored, but jansson (so vcdc's
 *     pre-read before each upsert of that id) cannot read it back:
 *     refused here;
 *   - request bodies over 40 MiB are refused (413): a record whose
 *     upsert alone would be larger is refused by check();
 *   - in a cosine collection a vector is normalised in float32: one
 *     whose every square rounds to 0 (all components below 2^-75) is
 *     stored as zeros, one whose squared norm overflows as NaN: both
 *     refused here; a zero vector is stored as it is;
 *   - in a cosine collection, get returns vectors Chroma normalised and
 *     scaled back: within a few float32 ulps of what was written, not
 *     exact (l2 and ip return them exactly);
 *   - its JSON parser rounds some numbers twice: 3.8000000000000003 in a
 *     metadata value is stored as 3.8 (see vcdc_chroma_stored_real()).
 *     Embeddings, sent as base64 or 9 digits, are not affected.
 */
#ifndef VCDC_SINK_CHROMA_INT_H
#define VCDC_SINK_CHROMA_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "jsonscan.h"
#include "sink.h"

/* Chroma refuses request bodies over 40 MiB (HTTP 413; found by trying):
 * batches stay well below, and a record that cannot is refused by
 * check(). */
#define VCDC_CHROMA_SERVER_BODY_MAX   ((size_t)40 * 1024 * 1024)
#define VCDC_CHROMA_MAX_REQUEST_BYTES ((size_t)32 * 1024 * 1024)
/* The cap on one answer's body. */
#define VCDC_CHROMA_MAX_RESPONSE_BYTES ((size_t)64 * 1024 * 1024)
/* The companion collection holding the applied offsets. */
#define VCDC_CHROMA_OFFSETS_SUFFIX "_vcdc_offsets"
/* Chroma's collection names: 3..512 characters. */
#define VCDC_CHROMA_NAME_MAX 512

/* The ids a scan cursor keeps to find its place again, and how far
 * before its offset a page looks for them (sink_chroma_read.c). */
#define VCDC_CHROMA_SCAN_ANCHORS  16
#define VCDC_CHROMA_SCAN_LOOKBACK 32

/* What a get or pre-read asks Chroma to include. */
#define VCDC_CHROMA_INC_EMBEDDINGS 0x1
#define VCDC_CHROMA_INC_METADATAS  0x2
#define VCDC_CHROMA_INC_DOCUMENTS  0x4

/**
 * Checks a collection name against Chroma's rule: 3..512 characters from
 * [a-zA-Z0-9._-], starting and ending with a letter or digit, no "..",
 * not an IPv4 address. Returns 0 or -1 with errstr.
 */
int vcdc_chroma_name_check(const char *name, char *errstr, size_t errstr_size);

/**
 * Checks that metadata (a JSON object as text, NULL for none) can be
 * stored in Chroma exactly (see above). Returns 0, or -1 with errstr
 * naming the key.
 */
int vcdc_chroma_metadata_check(const char *metadata, char *errstr,
                               size_t errstr_size);

/**
 * Checks one upsert: non-empty UTF-8 id, a vector of finite floats of
 * dimension *dimp (when *dimp is 0 it is set to the record's), metadata as
 * above, a UTF-8 document, an upsert body of its own within
 * VCDC_CHROMA_SERVER_BODY_MAX. For metric cosine, also a norm float32 can
 * compute: Chroma stores cosine vectors normalised, NaN (read back as
 * null) for one whose norm overflows, zeros for one whose every square
 * underflows. Returns 0 or -1 with errstr.
 */
int vcdc_chroma_record_check(const vcdc_record_t *rec, vcdc_metric_t metric,
                             size_t *dimp, char *errstr, size_t errstr_size);

/** vcdc_chroma_record_check(), handing back in *metap the parsed
 *  metadata (NULL for none; json_decref() it) when it passes. */
int vcdc_chroma_record_check_meta(const vcdc_record_t *rec,
                                  vcdc_metric_t metric, size_t *dimp,
                                  json_t **metap, char *errstr,
                                  size_t errstr_size);

/** The shortest "%.Ng" text that reads back to d, with a '.' or an
 *  exponent so it stays a float in JSON (sink_chroma_float.c). */
void vcdc_chroma_real_text(double d, char *out, size_t size);

/**
 * Writes metadata object obj as compact JSON with the shortest text that
 * reads back to the same double for each float (0.1, not
 * 0.10000000000000001). Returns a new string (free()), or NULL on
 * allocation failure.
 */
char *vcdc_chroma_metadata_dump(const json_t *obj);

/** Base64 (RFC 4648, padded) of dim little-endian float32: the embedding
 *  encoding Chroma takes when pre-flight-checks says
 *  supports_base64_encoding. Returns a new string or NULL. */
char *vcdc_chroma_base64_floats(const float *vector, size_t dim);

/**
 * Builds the body of an upsert of recs[0..n), for the largest n <= cnt
 * (cnt >= 1) whose body fits max_bytes (at least one record):
 *   {"ids":[..],"embeddings":[..],"metadatas":[..],"documents":[..]}
 * embeddings as base64 strings when base64, else arrays of %.9g numbers
 * (which read back to the same float32). old_metadatas (may be NULL) holds,
 * per record, the metadata Chroma stores now (NULL: none): each of its keys
 * missing from the record's metadata is sent as null, which removes it.
 * A record with no metadata left to send gets null. Metadata floats are
 * written as their shortest text; *inexactp (may be NULL) counts those
 * Chroma will store altered (vcdc_chroma_stored_real()).
 * Returns n with *bodyp a new string of *lenp bytes, or 0 with errstr (a
 * record that does not pass vcdc_chroma_record_check() with any metric, or
 * out of memory).
 */
size_t vcdc_chroma_upsert_body(const vcdc_record_t *const *recs, size_t cnt,
                               const json_t *const *old_metadatas, int base64,
                               size_t max_bytes, char **bodyp, size_t *lenp,
                               size_t *inexactp, char *errstr,
                               size_t errstr_size);

/**
 * What Chroma's JSON parser (serde_json without float_roundtrip: the
 * digits into a u64, then one multiplication or division by a power of
 * ten) makes of the JSON number text. NAN for text it does not model.
 */
double vcdc_chroma_serde_read(const char *text);

/**
 * The double Chroma 3.0.6 stores for metadata float d sent as its shortest
 * text: its parser reads the request, then its log writes what it read
 * with serde_json (ryu's format: 4277834443099750.0) and reads that again,
 * so no request text can do better. d itself for every double of at most
 * 15 significant digits between 1e-7 and 1e14; up to 4 ulps off for some
 * others: about 1 in 10 uniform doubles in [0, 1), 1 in 12 of i * 0.1
 * (0.1 * 38 = 3.8000000000000003 is stored as 3.8). Checked against a
 * server for 3,000 values by tests/it_sink_chroma.c.
 */
double vcdc_chroma_stored_real(double d);

/** {"ids":[..]}: the body of a delete. Returns a new string or NULL (also
 *  for an id that is not UTF-8). */
char *vcdc_chroma_delete_body(const char *const *ids, size_t cnt);

/**
 * The body of a get: by ids[0..cnt) when ids is not NULL, else a page of
 * limit records from offset. include: VCDC_CHROMA_INC_* flags.
 * Returns a new string or NULL.
 */
char *vcdc_chroma_get_body(const char *const *ids, size_t cnt, size_t limit,
                           size_t offset, int include);

/** The get of the companion collection's records of topic, with their
 *  metadatas. Returns a new string or NULL. */
char *vcdc_chroma_offsets_get_body(const char *topic);

/** {"query_embeddings":[[..]],"n_results":k,"include":["distances"]}.
 *  Returns a new string or NULL. */
char *vcdc_chroma_query_body(const float *vector, size_t dim, size_t k);

/**
 * The body of an upsert of offsets[0..cnt) of topic into the companion
 * collection: ids "topic/partition", 1-dimensional embeddings [0.0],
 * metadatas {"topic","partition","offset","collection_id"}, collection_id
 * the id of the user's collection they belong to ("" for none). Returns a
 * new string or NULL.
 */
char *vcdc_chroma_offsets_body(const char *topic, const char *collection_id,
                               const vcdc_sink_offset_t *offsets, size_t cnt);

/** The body creating (or getting) collection name with hnsw space metric.
 *  Returns a new string or NULL. */
char *vcdc_chroma_create_body(const char *name, vcdc_metric_t metric);

/**
 * Reads a collection model: its id (copied into id[0..id_size)), its
 * dimension (0 while it holds no vector) and its distance space, from
 * configuration_json.hnsw.space, else .spann.space, else the legacy
 * metadata "hnsw:space", else Chroma's default l2.
 * Returns 0, or -1 with errstr on a malformed answer or unknown space.
 */
int vcdc_chroma_parse_collection(const json_t *resp, char *id, size_t id_size,
                                 size_t *dimp, vcdc_metric_t *metricp,
                                 char *errstr, size_t errstr_size);

/**
 * Reads the answer of the get before an upsert of ids[0..cnt) (metadatas
 * and documents included): olds[i] gets the metadata object Chroma stores
 * for ids[i] (borrowed from resp; NULL for none) and has_doc[i] 1 when it
 * stores a document for it. Rows of ids not asked for are passed over.
 * Returns 0, or -1 with errstr when the answer lacks its columns.
 */
int vcdc_chroma_parse_stored(const json_t *resp, const char *const *ids,
                             size_t cnt, const json_t **olds, char *has_doc,
                             char *errstr, size_t errstr_size);

/*
 * A scan cursor (sink_chroma_cursor.c): Chroma pages by offset in
 * insertion order, where a record deleted before the cursor moves every
 * later one back. The cursor keeps the last ids it returned, so the next
 * page starts right after the latest of them still there.
 */
typedef struct vcdc_chroma_cursor_s {
        uint64_t offset;   /* where the next page starts, as last seen */
        size_t anchor_cnt;
        char *anchors[VCDC_CHROMA_SCAN_ANCHORS]; /* oldest first, owned */
} vcdc_chroma_cursor_t;

/** Reads a cursor's text into *cur (vcdc_chroma_cursor_clear() it).
 *  Returns 0, or -1 when it is not a cursor (cur is then empty). */
int vcdc_chroma_cursor_parse(const char *text, vcdc_chroma_cursor_t *cur);

/** The cursor as text. Returns a new string or NULL. */
char *vcdc_chroma_cursor_format(const vcdc_chroma_cursor_t *cur);

/** Appends id as the latest anchor, dropping the oldest past
 *  VCDC_CHROMA_SCAN_ANCHORS. Returns 0, or -1 out of memory. */
int vcdc_chroma_cursor_push(vcdc_chroma_cursor_t *cur, const char *id);

/** Keeps the first cnt anchors (the oldest), freeing the others. */
void vcdc_chroma_cursor_keep(vcdc_chroma_cursor_t *cur, size_t cnt);

/** Frees the anchors and empties *cur. */
void vcdc_chroma_cursor_clear(vcdc_chroma_cursor_t *cur);

/*
 * The get answers (sink_chroma_scan.c), read from the answer the scanner js
 * last accepted (vcdc_jsonscan_run(); it refuses duplicate keys, which
 * jansson let through): no tree, each embedding converted straight to
 * float32, what strtof() gives for its text (the jansson reader before,
 * tests/chromaref.c, rounded a double, which differs when that double is
 * a float32 halfway point), metadata written as
 * vcdc_chroma_metadata_dump() writes it.
 */

/**
 * Reads the answer of a get into records (id, vector, dim, metadata as
 * JSON text, document). With ids: the answer may hold them in any order;
 * out[i] is filled for ids[i] when present and left untouched otherwise,
 * *cntp = how many were found. Without ids: out[0..*cntp) in the answer's
 * order, at most cnt. Returns 0, or -1 with errstr on a malformed answer
 * (nothing is left filled then).
 */
int vcdc_chroma_scan_get(const vcdc_jsonscan_t *js, const char *const *ids,
                         size_t cnt, vcdc_record_t *out, size_t *cntp,
                         char *errstr, size_t errstr_size);

/**
 * Reads rows [first, first + cnt) of a page answer (a get by limit and
 * offset) into out[0..*cntp), fewer when the answer ends sooner; earlier
 * rows are passed over. Returns 0, or -1 with errstr on a malformed answer
 * (nothing is left filled then).
 */
int vcdc_chroma_scan_rows(const vcdc_jsonscan_t *js, size_t first, size_t cnt,
                          vcdc_record_t *out, size_t *cntp, char *errstr,
                          size_t errstr_size);

/**
 * Finds the latest of cur's anchors in a page answer that starts at
 * offset start, only among rows before offset end (one found later was
 * deleted and written again, moving it to the end). Returns its row,
 * with *kp the anchor's index, or -1 when none is there.
 */
long vcdc_chroma_scan_anchor(const vcdc_jsonscan_t *js, size_t start,
                             size_t end, const vcdc_chroma_cursor_t *cur,
                             size_t *kp);

/** Reads the answer of a one-vector query into hits[0..*cntp), at most k.
 *  Returns 0, or -1 with errstr (nothing is left allocated then). */
int vcdc_chroma_parse_query(const json_t *resp, vcdc_hit_t *hits, size_t k,
                            size_t *cntp, char *errstr, size_t errstr_size);

/** Reads the companion collection's get answer for topic into a new array
 *  *offsetsp of *cntp entries, sorted by partition: only records stamped
 *  with collection_id ("" for none; unstamped records count for none).
 *  Returns 0 or -1. */
int vcdc_chroma_parse_offsets(const json_t *resp, const char *topic,
                              const char *collection_id,
                              vcdc_sink_offset_t **offsetsp, size_t *cntp,
                              char *errstr, size_t errstr_size);

/** Test hook: send embeddings as base64 (1) or as JSON numbers (0), when
 *  the server supports base64 at all. */
void vcdc_sink_chroma_set_base64(vcdc_sink_t *sink, int on);

#endif

/*
 * vcdc - the gateway's answers in the shapes the Chroma 1.0 server sends
 * (recorded from a running one): a get's GetResponse, a query's
 * QueryResponse, a count, a collection object, and the default
 * configuration_json a new collection reports.
 *
 *   get:   {"ids":[..],"embeddings":null|[[..]],"documents":null|[..],
 *           "uris":null|[null,..],"metadatas":null|[..],"include":[..]}
 *   query: the same per query, one level deeper, and "distances" before
 *           "include"
 * A field not included is null; "include" lists what the request listed,
 * in its order. Floats (embeddings, distances) are written as the
 * shortest text that reads back to the same float32, metadata reals to
 * the same double. No "data" member: the server sends none (the clients
 * add it).
 *
 * Must not: allocate beyond the answer it builds.
 */
#ifndef VCDC_API_RESULT_H
#define VCDC_API_RESULT_H

#include <stddef.h>

#include "api_body.h"
#include "record.h"

/**
 * A get's answer over recs[0..n) (their id, vector/dim, metadata text,
 * document). Returns a new string (free()), *lenp its length, or NULL when
 * out of memory.
 */
char *vcdc_api_get_result(const vcdc_record_t *recs, size_t n,
                          const vcdc_api_include_t *include, size_t *lenp);

/* One query's hits: recs[0..n) nearest first, distances[i] each. */
typedef struct vcdc_api_hits_s {
        const vcdc_record_t *recs;
        const float *distances;
        size_t n;
} vcdc_api_hits_t;

/** A query's answer over hits[0..nqueries). As vcdc_api_get_result(). */
char *vcdc_api_query_result(const vcdc_api_hits_t *hits, size_t nqueries,
                            const vcdc_api_include_t *include, size_t *lenp);

/* A collection as Chroma describes it. */
typedef struct vcdc_api_collection_s {
        const char *id; /* a UUID */
        const char *name;
        const char *configuration_json; /* object text; NULL: the default */
        const char *metadata;           /* object text or NULL */
        size_t dimension;               /* 0: null */
        const char *tenant;             /* NULL: default_tenant */
        const char *database;           /* NULL: default_database */
        long long log_position;
        long long version;
} vcdc_api_collection_t;

/** The collection object. As vcdc_api_get_result(). */
char *vcdc_api_collection_result(const vcdc_api_collection_t *c, size_t *lenp);

/** A list of collections ([..]). As vcdc_api_get_result(). */
char *vcdc_api_collections_result(const vcdc_api_collection_t *cs, size_t n,
                                  size_t *lenp);

/**
 * The configuration_json of a new collection: Chroma 1.0's defaults (hnsw,
 * space l2, ef_construction 100, ef_search 100, max_neighbors 16,
 * resize_factor 1.2, sync_threshold 1000; spann and embedding_function
 * null) with the hnsw members the request's configuration text gives (may
 * be NULL) and its embedding_function. A new string, or NULL.
 */
char *vcdc_api_configuration_json(const char *requested);

/** The space ("l2", "cosine", "ip") a configuration_json names; "l2" when
 *  it names none. Returns a static string. */
const char *vcdc_api_configuration_space(const char *configuration_json);

#endif

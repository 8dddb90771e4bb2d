/*
 * vcdc gateway - the collections the gateway serves: name, a stable id,
 * metadata and configuration, kept in memory and persisted on the control
 * topic as records of "kind": "collection", so every gateway instance and
 * every restart sees the same ones.
 *
 * A record, under the key "vcdc.collection/NAME" (a Chroma name holds no
 * '/', so no route key collides with it):
 *
 *   {"kind": "collection", "collection": "docs",
 *    "id": "…uuid…",              derived from tenant/database/name: every
 *                                 instance computes the same one
 *    "tenant": "default_tenant", "database": "default_database",
 *    "metadata": {...} | null,
 *    "configuration_json": {...}, Chroma's, hnsw space = the metric
 *    "metric": "cosine",          l2, cosine or ip (Chroma's space names)
 *    "ts_ms": 1767225600000}
 *
 * The newest record of a name wins (compaction keeps it). Route readers
 * skip these records (ctltopic.h: they are of another kind).
 *
 * Thread-safe: every call takes the registry's lock.
 */
#ifndef VCDC_GW_COLLREG_H
#define VCDC_GW_COLLREG_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "conf.h"

typedef struct vcdc_gw_colls_s vcdc_gw_colls_t;

/* A copy of one collection (vcdc_gw_coll_clear() frees it). */
typedef struct vcdc_gw_coll_s {
        char *name;
        char id[37];
        char *metadata;           /* JSON object text, or NULL */
        char *configuration_json; /* JSON object text */
        const char *metric;       /* "l2", "cosine", "ip" (static) */
} vcdc_gw_coll_t;

void vcdc_gw_coll_clear(vcdc_gw_coll_t *c);

/**
 * Reads every collection record of control_topic (creating the topic when
 * missing) through a consumer made from conf; rk (a producer, kept by the
 * caller) writes new ones. NULL with errstr.
 */
vcdc_gw_colls_t *vcdc_gw_colls_new(const vcdc_conf_t *conf, rd_kafka_t *rk,
                                   const char *control_topic,
                                   const char *tenant, const char *database,
                                   char *errstr, size_t errstr_size);

void vcdc_gw_colls_destroy(vcdc_gw_colls_t *colls);

/** Reads the control topic again to its end (another instance may have
 *  created collections). Returns 0, or -1 with errstr. */
int vcdc_gw_colls_reload(vcdc_gw_colls_t *colls, char *errstr,
                         size_t errstr_size);

/** Copies the collection named name (byid 0) or of id name (byid 1) into
 *  out. Returns 1 found, 0 not (after a reload), -1 out of memory. */
int vcdc_gw_colls_find(vcdc_gw_colls_t *colls, const char *name, int byid,
                       vcdc_gw_coll_t *out);

/** Copies every collection, sorted by name: *outp (free each with
 *  vcdc_gw_coll_clear, then free()). Returns the count, or -1. */
long vcdc_gw_colls_list(vcdc_gw_colls_t *colls, vcdc_gw_coll_t **outp);

/**
 * Writes (and waits for the delivery of) the record of c (name, metadata,
 * configuration_json; id and metric are derived here and set in c), then
 * keeps it. Returns 0, or -1 with errstr.
 */
int vcdc_gw_colls_put(vcdc_gw_colls_t *colls, vcdc_gw_coll_t *c, char *errstr,
                      size_t errstr_size);

/**
 * Reads one control record (key and value as on the topic) as a
 * collection of tenant/database into out (id derived, metric from the
 * configuration; clear it after). Returns 1; 0 when it is not one of
 * theirs (another key, tenant or database); -1 when it is not valid, or
 * out of memory, with errstr. On 0 and -1 out holds nothing.
 */
int vcdc_gw_coll_parse(const void *key, size_t key_len, const void *value,
                       size_t len, const char *tenant, const char *database,
                       vcdc_gw_coll_t *out, char *errstr, size_t errstr_size);

/** The record of c (its id and metric set) as vcdc_gw_colls_put() writes
 *  it, under the key "vcdc.collection/NAME": a new string (free()), or
 *  NULL with errstr. */
char *vcdc_gw_coll_encode(const vcdc_gw_coll_t *c, const char *tenant,
                          const char *database, int64_t ts_ms, char *errstr,
                          size_t errstr_size);

/** The deterministic id of tenant/database/name, a UUID (version 8, from
 *  SHA-256) into id[37]. */
void vcdc_gw_coll_id(const char *tenant, const char *database, const char *name,
                     char id[37]);

#endif

/*
 * vcdc - a collection's configuration on the control topic (DESIGN.md, The
 * snapshot of a live OLD): the metric, dimension and index parameters of
 * the database a collection was copied from, recorded by `vcdc snapshot`
 * so that NEW's consumer creates its target with OLD's metric and
 * dimension, or refuses a --metric that contradicts them.
 *
 * Key "collection-config:" + the collection's name (compaction keeps the
 * newest of each collection); the value a UTF-8 JSON object:
 *
 *   {"kind": "collection",           the control record's kind (ctltopic.h)
 *    "collection": "docs",           the collection, as records name it
 *    "metric": "cosine",             "cosine", "l2" or "ip"
 *    "dim": 128,                     the dimension; 0 or absent: unknown
 *    "index": {...} | null,          index kind and parameters, when known
 *    "source": "chroma://127.0.0.1:8000/docs",   the database it was read
 *                                    from (never a secret)
 *    "ts_ms": 1767225600000}         when it was recorded; the newest wins
 *
 * Writing and reading go through the control topic's plumbing
 * (ctltopic.h); whether a consumer takes or refuses a configuration is
 * the consumer's (consumer.c).
 */
#ifndef VCDC_COLLCONF_H
#define VCDC_COLLCONF_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "sink.h"

#define VCDC_COLLCONF_KEY_PREFIX "collection-config:"

/* Plain data: it owns its strings; vcdc_collconf_clear() frees them. */
typedef struct vcdc_collconf_s {
        char *collection;
        vcdc_metric_t metric;
        size_t dim;   /* 0: unknown */
        char *index;  /* a JSON object as text (index kind and params), or
                       * NULL */
        char *source; /* the database it was read from, e.g.
                       * "chroma://127.0.0.1:8000/docs" (never a secret) */
        int64_t ts_ms;
} vcdc_collconf_t;

void vcdc_collconf_init(vcdc_collconf_t *cc);

/** Frees what cc owns and re-initialises it. Accepts NULL. */
void vcdc_collconf_clear(vcdc_collconf_t *cc);

/**
 * cc as the JSON value above: a new NUL-terminated string (free() it), or
 * NULL with errstr (no collection, no metric, an index that is not a JSON
 * object, out of memory).
 */
char *vcdc_collconf_encode(const vcdc_collconf_t *cc, char *errstr,
                           size_t errstr_size);

/**
 * Parses a control record's value into cc (initialised or cleared; cleared
 * again unless 0 is returned). Unknown fields are ignored. Returns 0, 1
 * for a control record of another kind (errstr untouched), or -1 with
 * errstr saying what is wrong.
 */
int vcdc_collconf_decode(const void *buf, size_t len, vcdc_collconf_t *cc,
                         char *errstr, size_t errstr_size);

/**
 * Writes cc under its collection's key on control_topic (NULL: the
 * default) with acks=all, and waits for the delivery report. Creates the
 * control topic when it does not exist. Returns 0, or -1 with errstr.
 */
int vcdc_collconf_write(const vcdc_conf_t *conf, const char *control_topic,
                        const vcdc_collconf_t *cc, char *errstr,
                        size_t errstr_size);

/**
 * Reads control_topic (NULL: the default) to its end and fills cc with the
 * newest configuration (by ts_ms) recorded for collection; *foundp is 1
 * then, else 0 (nothing recorded, or no such topic: it is never created
 * here). Malformed configuration values are skipped with a warning.
 * Returns 0, or -1 with errstr when the cluster did not answer. Clear cc
 * either way.
 */
int vcdc_collconf_read(const vcdc_conf_t *conf, const char *control_topic,
                       const char *collection, vcdc_collconf_t *cc,
                       int *foundp, char *errstr, size_t errstr_size);

#endif

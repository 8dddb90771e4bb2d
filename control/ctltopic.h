/*
 * vcdc - the control topic's plumbing, shared by every kind of record it
 * holds: the route (route.h), the collection's configuration (collconf.h)
 * and the snapshot tool's checkpoints. Knows keys and values as bytes
 * only; what they mean is each kind's.
 *
 * The control topic (default "vcdc.control") is compacted, one partition,
 * created on first write (and on first read by the route's readers). Its
 * values are UTF-8 JSON objects; a "kind" member says which kind ("route",
 * "collection", "snapshot"); a value without one is a route record (they
 * were written before kinds existed).
 */
#ifndef VCDC_CTLTOPIC_H
#define VCDC_CTLTOPIC_H

#include <stddef.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "conf.h"

#define VCDC_CONTROL_TOPIC "vcdc.control"

/**
 * 1 when the control value obj (a JSON object) is of kind: its "kind"
 * member equals kind, or it has none and kind is "route". 0 for any other
 * kind (or a "kind" that is not a string), which a reader of kind skips
 * without a word.
 */
int vcdc_ctltopic_kind_is(const json_t *obj, const char *kind);

/**
 * Writes cnt messages (keys[i], values[i]; NUL-terminated) in order with
 * an idempotent, acks=all producer and waits for every delivery report.
 * Creates the topic (compacted) when it does not exist. errs[i] gets each
 * message's outcome (RD_KAFKA_RESP_ERR__IN_PROGRESS: no report within the
 * timeout). Returns 0 when every message was produced and reported on
 * (look at errs), or -1 with errstr when the topic or the producer could
 * not be set up.
 */
int vcdc_ctltopic_write(const vcdc_conf_t *conf, const char *topic,
                        const char *const *keys, const char *const *values,
                        size_t cnt, rd_kafka_resp_err_t *errs, char *errstr,
                        size_t errstr_size);

/*
 * The same, with a producer kept for many writes (vcdc snapshot writes a
 * checkpoint per step of a chunk): _new creates the topic when it does not
 * exist; each _write waits for its own delivery reports.
 */
typedef struct vcdc_ctlwriter_s vcdc_ctlwriter_t;

vcdc_ctlwriter_t *vcdc_ctlwriter_new(const vcdc_conf_t *conf,
                                     const char *topic, char *errstr,
                                     size_t errstr_size);
int vcdc_ctlwriter_write(vcdc_ctlwriter_t *w, const char *const *keys,
                         const char *const *values, size_t cnt,
                         rd_kafka_resp_err_t *errs, char *errstr,
                         size_t errstr_size);
/** Accepts NULL. */
void vcdc_ctlwriter_destroy(vcdc_ctlwriter_t *w);

/*
 * The reader: every partition from the beginning, no consumer group,
 * nothing committed. _new reads up to the end each partition had when it
 * started, handing every message to cb; _poll hands on what arrives
 * after (the route's follower keeps polling).
 */
typedef struct vcdc_ctlreader_s vcdc_ctlreader_t;

/* One message (an error event too: rkm->err). Owned by the reader.
 * Called from vcdc_ctlreader_new as well, before it returns the reader. */
typedef void(vcdc_ctlreader_cb_t)(const rd_kafka_message_t *rkm,
                                  void *opaque);

/**
 * Starts reading topic (NULL: VCDC_CONTROL_TOPIC). create: a missing topic
 * is created; else _new fails with *missingp = 1 (when not NULL) and
 * errstr saying the topic does not exist. Returns NULL with errstr when
 * the cluster cannot be reached or the topic read to its end within about
 * 15 s (*missingp then 0).
 */
vcdc_ctlreader_t *vcdc_ctlreader_new(const vcdc_conf_t *conf,
                                     const char *topic, int create,
                                     vcdc_ctlreader_cb_t *cb, void *opaque,
                                     int *missingp, char *errstr,
                                     size_t errstr_size);

/** The topic read. */
const char *vcdc_ctlreader_topic(const vcdc_ctlreader_t *r);

/**
 * Hands what arrived to cb, waiting up to timeout_ms for the first
 * message, and at most max messages (0: a default bound). Returns how
 * many were handed on.
 */
int vcdc_ctlreader_poll(vcdc_ctlreader_t *r, int timeout_ms, int max);

/** Stops reading and frees. Accepts NULL. */
void vcdc_ctlreader_destroy(vcdc_ctlreader_t *r);

#endif

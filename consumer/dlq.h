/*
 * vcdc - the dead-letter topic: where a record that can never apply goes,
 * with headers naming the error and its origin, so the stream goes on and
 * nothing is lost.
 *
 * Headers: vcdc.error (what is wrong), vcdc.error.class (decode | invalid |
 * rejected), vcdc.topic, vcdc.partition, vcdc.offset (the origin),
 * vcdc.sink (the sink that refused it), vcdc.ts_ms (when).
 */
#ifndef VCDC_DLQ_H
#define VCDC_DLQ_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

typedef struct vcdc_dlq_s vcdc_dlq_t;

/**
 * A dead-letter producer for topic (created with the broker's defaults
 * when missing). Returns NULL with errstr.
 */
vcdc_dlq_t *vcdc_dlq_new(const vcdc_conf_t *conf, const char *topic,
                         const char *sink_name, char *errstr,
                         size_t errstr_size);

void vcdc_dlq_destroy(vcdc_dlq_t *dlq);

/**
 * Enqueues one dead letter: the original key and value (copied) and the
 * headers. Returns 0, or -1 with errstr.
 */
int vcdc_dlq_send(vcdc_dlq_t *dlq, const char *src_topic, int32_t partition,
                  int64_t offset, const void *key, size_t key_len,
                  const void *value, size_t value_len, const char *err_class,
                  const char *error, char *errstr, size_t errstr_size);

/**
 * Waits until every dead letter sent so far is acknowledged: the consumer
 * commits past a dead-lettered record only after this returns 0.
 * Returns -1 with errstr when some were not delivered (they are sent again
 * on the next try: the records are re-read, since nothing was committed).
 */
int vcdc_dlq_flush(vcdc_dlq_t *dlq, int timeout_ms, char *errstr,
                   size_t errstr_size);

/** Dead letters acknowledged so far. */
uint64_t vcdc_dlq_count(const vcdc_dlq_t *dlq);

const char *vcdc_dlq_topic(const vcdc_dlq_t *dlq);

#endif

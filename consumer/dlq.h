/*
 * vcdc - the dead-letter topic: where a record that can never apply goes,
 * with headers naming the error and its origin, so the stream goes on and
 * nothing is lost.
 *
 * Headers: vcdc.error (what is wrong), vcdc.error.class (decode | invalid |
 * rejected), vcdc.topic, vcdc.partition, vcdc.offset (the origin),
 * vcdc.sink (the sink that refused it), vcdc.ts_ms (when).
 *
 * A dead letter stays with this module until Kafka acknowledged it: one
 * whose delivery failed for a reason that may pass (the topic's leader
 * unavailable past message.timeout.ms) is sent again by the next flush; one
 * that can never be delivered (larger than the topic takes, not
 * authorised, no such topic) makes the flush fail for good. The consumer
 * records and commits offsets covering a dead letter only after a flush
 * said it was acknowledged. Nothing here blocks or waits on the consumer.
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

/** Waits a bounded time for what is in flight, then frees. Accepts NULL. */
void vcdc_dlq_destroy(vcdc_dlq_t *dlq);

/**
 * Takes one dead letter: a copy of the original key and value, and the
 * headers. It is handed to librdkafka at once when its queue has room,
 * else by the next flush. Returns 0, or -1 with errstr (out of memory).
 */
int vcdc_dlq_send(vcdc_dlq_t *dlq, const char *src_topic, int32_t partition,
                  int64_t offset, const void *key, size_t key_len,
                  const void *value, size_t value_len, const char *err_class,
                  const char *error, char *errstr, size_t errstr_size);

/* Results of vcdc_dlq_flush(). */
#define VCDC_DLQ_DONE 0   /* every dead letter taken so far is acknowledged */
#define VCDC_DLQ_AGAIN 1  /* some are not yet: flush again later */
#define VCDC_DLQ_FATAL -1 /* one can never be delivered */

/**
 * Sends what waits to be sent and waits up to timeout_ms for the
 * acknowledgements. On VCDC_DLQ_AGAIN and VCDC_DLQ_FATAL errstr says how
 * many are outstanding and why (FATAL: which record, and the error).
 */
int vcdc_dlq_flush(vcdc_dlq_t *dlq, int timeout_ms, char *errstr,
                   size_t errstr_size);

/** Dead letters taken and not yet acknowledged. */
size_t vcdc_dlq_pending(const vcdc_dlq_t *dlq);

/** Dead letters acknowledged so far. */
uint64_t vcdc_dlq_count(const vcdc_dlq_t *dlq);

const char *vcdc_dlq_topic(const vcdc_dlq_t *dlq);

#endif

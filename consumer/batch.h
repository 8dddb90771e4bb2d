/*
 * vcdc - a consumer batch: the changes polled since the last apply,
 * coalesced by id (the last change of an id wins, a delete included), and
 * the highest offset handled in each partition.
 */
#ifndef VCDC_BATCH_H
#define VCDC_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "sink.h"

typedef struct vcdc_batch_s vcdc_batch_t;

vcdc_batch_t *vcdc_batch_new(void);

/** Accepts NULL. */
void vcdc_batch_destroy(vcdc_batch_t *b);

/** Empties the batch, keeping its memory for the next one. */
void vcdc_batch_reset(vcdc_batch_t *b);

/**
 * Adds the change in rec, read at partition/offset (msg_bytes long).
 * Takes the contents of rec (it is left initialised and empty). An earlier
 * change of the same id in this batch is replaced. Returns 0, or -1 when
 * out of memory (rec untouched).
 */
int vcdc_batch_add(vcdc_batch_t *b, vcdc_record_t *rec, int32_t partition,
                   int64_t offset, size_t msg_bytes);

/** Counts a message handled without a change for the sink (dead-lettered,
 *  filtered out), so its offset is committed with the batch. */
void vcdc_batch_note(vcdc_batch_t *b, int32_t partition, int64_t offset,
                     size_t msg_bytes);

size_t vcdc_batch_msg_cnt(const vcdc_batch_t *b);  /* messages in */
size_t vcdc_batch_bytes(const vcdc_batch_t *b);    /* their bytes */
size_t vcdc_batch_change_cnt(const vcdc_batch_t *b); /* distinct ids */

/** The last offset handled per partition: *cntp entries, valid until the
 *  batch changes. */
const vcdc_sink_offset_t *vcdc_batch_offsets(const vcdc_batch_t *b,
                                             size_t *cntp);

/** The i-th change (0 <= i < change_cnt) and where it was read. */
const vcdc_record_t *vcdc_batch_change(const vcdc_batch_t *b, size_t i,
                                       int32_t *partitionp, int64_t *offsetp);

/** Drops the i-th change (dead-lettered after the sink refused it); its
 *  offset stays counted. Changes after it move down by one. */
void vcdc_batch_drop(vcdc_batch_t *b, size_t i);

/**
 * Fills *out with the batch for vcdc_sink_apply(): upserts, deletes and
 * the last offset handled per partition. The pointers stay valid until the
 * batch changes. Returns 0, or -1 when out of memory.
 */
int vcdc_batch_view(vcdc_batch_t *b, const char *topic,
                    vcdc_sink_batch_t *out);

/**
 * The retry schedule: exponential backoff from base_ms, capped at max_ms,
 * with "equal jitter" (a uniform draw in the upper half) so restarting
 * consumers do not retry in step. attempt counts from 0; rnd is any
 * uniformly random 32-bit value.
 */
int64_t vcdc_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms,
                        uint32_t rnd);

#endif

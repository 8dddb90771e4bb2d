/*
 * vcdc - a consumer batch: the messages polled since the last apply, kept
 * as changes grouped by key (collection and id), and the last offset
 * handled in each partition.
 *
 * Every change stays in the batch, not only the last of its key: the sink
 * is sent each key's last change (its head), and when the database refuses
 * that one, the key steps back to the change before it, as applying the
 * log one record at a time would have left it. The batch also keeps each
 * change's message, so a refused change is dead-lettered with the bytes it
 * was read as. What can never apply is decided before a change enters the
 * batch (the consumer's checks); the batch only groups.
 */
#ifndef VCDC_BATCH_H
#define VCDC_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "sink.h"

typedef struct vcdc_batch_s vcdc_batch_t;

/** msg_free destroys the messages the batch takes (NULL: they are not the
 *  batch's to free). */
vcdc_batch_t *vcdc_batch_new(void (*msg_free)(void *msg));

/** Accepts NULL. */
void vcdc_batch_destroy(vcdc_batch_t *b);

/** Empties the batch (destroying its messages), keeping its memory. */
void vcdc_batch_reset(vcdc_batch_t *b);

/**
 * Adds the change in rec, decoded from msg (a Kafka message of msg_bytes,
 * read at partition/offset). Takes the contents of rec (left initialised
 * and empty) and msg (freed with the batch). An earlier change of the same
 * collection and id stays behind it. Returns 0, or -1 when out of memory
 * (rec and msg untouched).
 */
int vcdc_batch_add(vcdc_batch_t *b, vcdc_record_t *rec, int32_t partition,
                   int64_t offset, size_t msg_bytes, void *msg);

/** Counts a message handled without a change for the sink (dead-lettered,
 *  filtered out), so its offset is recorded with the batch. Returns 0, or
 *  -1 when out of memory. */
int vcdc_batch_note(vcdc_batch_t *b, int32_t partition, int64_t offset,
                    size_t msg_bytes);

size_t vcdc_batch_msg_cnt(const vcdc_batch_t *b); /* messages in */
size_t vcdc_batch_bytes(const vcdc_batch_t *b);   /* their bytes */

/** Keys (distinct collection and id) in the batch; a key whose changes
 *  were all refused still counts, with no head. */
size_t vcdc_batch_key_cnt(const vcdc_batch_t *b);

/** The last change of key k (0 <= k < key_cnt) that is still to apply,
 *  with its message (if msgp) and offset (if offsetp); NULL when none is
 *  left. */
const vcdc_record_t *vcdc_batch_head(const vcdc_batch_t *b, size_t k,
                                     void **msgp, int64_t *offsetp);

/**
 * The head of key k was refused (and dead-lettered): the change before it
 * becomes the head. Returns 1 when there is one, 0 when key k has nothing
 * left to apply.
 */
int vcdc_batch_step_back(vcdc_batch_t *b, size_t k);

/** The last offset handled per partition: *cntp entries, valid until the
 *  batch changes. */
const vcdc_sink_offset_t *vcdc_batch_offsets(const vcdc_batch_t *b,
                                             size_t *cntp);

/**
 * Fills *out with the heads of keys [lo, hi) for vcdc_sink_apply(): upserts
 * and deletes, no offsets. The arrays stay valid until the batch changes
 * or the next view. Returns 0, or -1 when out of memory.
 */
int vcdc_batch_view(vcdc_batch_t *b, size_t lo, size_t hi,
                    vcdc_sink_batch_t *out);

#endif

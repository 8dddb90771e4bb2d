/*
 * vcdc gateway - what Chroma holds after an add, upsert or update of a
 * record that may exist: the whole record a change record must carry
 * (the consumers replace records; Chroma merges). gwwrite.c applies it
 * under the ids' locks.
 */
#ifndef VCDC_GW_MERGE_H
#define VCDC_GW_MERGE_H

#include "record.h"

/**
 * patch (JSON object text; a null value removes its key) merged into base
 * (JSON object text or NULL). A new string (free()), or NULL when the
 * result is empty or not an object, or out of memory (then *oomp = 1).
 */
char *vcdc_gw_merge_metadata(const char *base, const char *patch, int *oomp);

/**
 * The record that results from the write w (has: VCDC_API_HAS_* of what
 * it gave) over base (the record held, NULL when none) into out (then
 * vcdc_record_clear() it): base's fields where w gave none, w's vector
 * and document where given, metadata merged; without a base, w with the
 * null metadata values dropped. The collection is w's. Returns 0, or -1
 * out of memory.
 */
int vcdc_gw_merge_record(const vcdc_record_t *base, const vcdc_record_t *w,
                         unsigned char has, vcdc_record_t *out);

#endif

/*
 * vcdc - the ids a sink asked a database for, sorted once, so that each
 * row of the answer (which comes in the database's own order) finds the
 * slots it fills by binary search. An id asked for twice has two slots,
 * side by side. Holds pointers to the caller's ids; never copies them,
 * never talks to a database.
 */
#ifndef VCDC_IDINDEX_H
#define VCDC_IDINDEX_H

#include <stddef.h>

typedef struct vcdc_idindex_ent_s {
        const char *id; /* the caller's string */
        size_t idx;     /* its position in the ids given */
} vcdc_idindex_ent_t;

typedef struct vcdc_idindex_s {
        vcdc_idindex_ent_t *ents; /* by id, then by idx */
        size_t cnt;
} vcdc_idindex_t;

/** Indexes ids[0..cnt) (they must outlive ix). Returns 0, or -1 out of
 *  memory (ix is then empty). */
int vcdc_idindex_init(vcdc_idindex_t *ix, const char *const *ids, size_t cnt);

/** Frees the index (not the ids) and empties it. Accepts an empty one. */
void vcdc_idindex_free(vcdc_idindex_t *ix);

/** The position of id's first entry, or ix->cnt when it was not asked
 *  for. Walk its slots with vcdc_idindex_match():
 *    for (pos = vcdc_idindex_find(ix, id);
 *         vcdc_idindex_match(ix, pos, id, &idx); pos++)
 */
size_t vcdc_idindex_find(const vcdc_idindex_t *ix, const char *id);

/** 1 when entry pos is one of id's, with *idxp (may be NULL) its
 *  position in the ids given; 0 past them. */
int vcdc_idindex_match(const vcdc_idindex_t *ix, size_t pos, const char *id,
                       size_t *idxp);

#endif

/*
 * vcdc gateway - the records this instance wrote that the serving side
 * may not have applied yet ("pending"): per collection and id, the whole
 * record last written (or a delete), with the partition and offset Kafka
 * gave it. A read-modify-write takes a pending record as its base instead
 * of the serving side's older copy, so with --ack log the next update of
 * an id does not overwrite the one before it (DESIGN.md, The gateway's
 * data routes).
 *
 *   pd = vcdc_gw_pending_new(max_bytes, errstr, sz);
 *   // under the collection's lock, before reading the serving side S:
 *   if (vcdc_gw_pending_sync_due(pd, coll, S, now, interval))
 *           trusted = vcdc_gw_pending_sync(pd, coll, S, offs, cnt, now);
 *   // S's copy of an id counts only without a pending entry:
 *   vcdc_gw_pending_get(pd, coll, id, &rec);
 *   // after Kafka's delivery report, under the id's lock:
 *   if (vcdc_gw_pending_put(pd, &rec, partition, offset) == -1)
 *           ... wait until S applied it (the bound was reached) ...
 *
 * An entry leaves when the side it is synced against has applied its
 * offset. A collection whose entries left without the serving side having
 * applied them (dropped when full, or applied by the side that served
 * before a route switch) is not trusted on a side until that side's
 * offsets cover every such entry (sync answers 0 meanwhile): a read there
 * could miss them. The calls are thread-safe (one mutex inside).
 */
#ifndef VCDC_GW_PENDING_H
#define VCDC_GW_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "sink.h"

typedef struct vcdc_gw_pending_s vcdc_gw_pending_t;

#define VCDC_GW_PENDING_NONE    0 /* no entry: the serving side's copy */
#define VCDC_GW_PENDING_RECORD  1 /* this record */
#define VCDC_GW_PENDING_DELETED 2 /* deleted */

/** At most max_bytes of entries (0: none are kept; every put fails).
 *  NULL with errstr (out of memory). */
vcdc_gw_pending_t *vcdc_gw_pending_new(size_t max_bytes, char *errstr,
                                       size_t errstr_size);

/** Frees every entry. Accepts NULL. */
void vcdc_gw_pending_destroy(vcdc_gw_pending_t *pd);

/**
 * The entry of coll/id: VCDC_GW_PENDING_NONE, _DELETED, or _RECORD with a
 * copy in out (initialised by the caller; clear it after; its collection
 * is NULL, as a sink's records). -1: out of memory.
 */
int vcdc_gw_pending_get(vcdc_gw_pending_t *pd, const char *coll, const char *id,
                        vcdc_record_t *out);

/**
 * Records rec (rec->collection, rec->id; an upsert is kept whole, a
 * delete as its id) as written at partition/offset, replacing the id's
 * entry. Returns 0, or -1 when it does not fit within the bound (or out
 * of memory): then the id has no entry (the older one left too) and the
 * collection is not trusted on any side until a sync finds offset
 * applied there.
 */
int vcdc_gw_pending_put(vcdc_gw_pending_t *pd, const vcdc_record_t *rec,
                        int32_t partition, int64_t offset);

#define VCDC_GW_PENDING_DUE_PRUNE 1 /* trusted; entries to check */
#define VCDC_GW_PENDING_DUE_TRUST 2 /* not known trusted on the side */

/**
 * Whether coll must be synced against side before side is read:
 * VCDC_GW_PENDING_DUE_TRUST when side is not the one coll was last found
 * trusted on and something left unapplied (a read of side without a sync
 * could miss it); _DUE_PRUNE when coll has entries and was last synced
 * interval_ms or more before now_ms (an eighth of it once the entries
 * take more than half the bound; a read may go ahead if the sync cannot
 * be made); 0 when neither.
 */
int vcdc_gw_pending_sync_due(vcdc_gw_pending_t *pd, const char *coll, int side,
                             int64_t now_ms, int64_t interval_ms);

/**
 * offs[0..cnt): the last offset side applied per partition (a partition
 * not named: none). When side covers every entry of coll that left
 * unapplied, coll becomes trusted on side and the entries side applied
 * leave; returns 1. Otherwise nothing changes and it returns 0: a read of
 * side could miss a record this instance wrote.
 */
int vcdc_gw_pending_sync(vcdc_gw_pending_t *pd, const char *coll, int side,
                         const vcdc_sink_offset_t *offs, size_t cnt,
                         int64_t now_ms);

/**
 * The entry of coll/id written at partition/offset is known applied on
 * side (--ack applied waited for it): it leaves at once when coll is
 * trusted on side (1), else stays for a sync (0). An entry replaced by a
 * later write stays.
 */
int vcdc_gw_pending_applied(vcdc_gw_pending_t *pd, const char *coll,
                            const char *id, int side, int32_t partition,
                            int64_t offset);

/** Called with each entry of a collection (deleted: rec holds only the
 *  id). Return 0 to go on, -1 to stop (each then returns -1). */
typedef int(vcdc_gw_pending_each_cb_t)(void *opaque, const vcdc_record_t *rec,
                                       int deleted);

/** Calls cb for each entry of coll, under the mutex (cb must not call
 *  back into pd). Returns 0, or -1 when cb stopped. */
int vcdc_gw_pending_each(vcdc_gw_pending_t *pd, const char *coll,
                         vcdc_gw_pending_each_cb_t *cb, void *opaque);

/** The number of entries and the bytes they count for. */
void vcdc_gw_pending_size(vcdc_gw_pending_t *pd, size_t *entriesp,
                          size_t *bytesp);

/** A hash of a collection and an id (the pending set's buckets, the
 *  write path's id locks). */
unsigned vcdc_gw_key_hash(const char *coll, const char *id);

#endif

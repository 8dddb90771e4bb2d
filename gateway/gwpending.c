/*
 * vcdc gateway - the records written and not yet known applied on the
 * serving side (gwpending.h): a hash table by collection and id, a list
 * of entries per collection (for syncs and each), and per collection the
 * highest offset per partition of the entries that left, which a side
 * must have applied before it is trusted again.
 */
#include "gwpending.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS_MIN 1024

typedef struct pcoll_s pcoll_t;

typedef struct pent_s {
        struct pent_s *hnext;       /* hash chain */
        struct pent_s *prev, *next; /* the collection's entries */
        pcoll_t *pc;
        unsigned hash;
        vcdc_record_t rec; /* collection NULL; op DELETE: only the id */
        int32_t partition;
        int64_t offset;
        size_t bytes;
} pent_t;

struct pcoll_s {
        char *name;
        pent_t *head;
        size_t cnt;
        /* The highest offset per partition of the entries that left:
         * applied on side trusted_side when it is not -1, otherwise on
         * no side known. */
        vcdc_sink_offset_t *left;
        size_t nleft, capleft;
        int trusted_side;
        int lost; /* an entry left unrecorded (out of memory): no side
                   * is trusted again, safe rather than wrong */
        int64_t synced_ms;
        struct pcoll_s *next;
};

struct vcdc_gw_pending_s {
        pthread_mutex_t lock;
        pent_t **buckets;
        size_t nbuckets; /* a power of two */
        size_t cnt, bytes, max_bytes;
        pcoll_t *colls;
};

unsigned vcdc_gw_key_hash(const char *coll, const char *id) {
        unsigned h = 2166136261u; /* FNV-1a, a separator between the two */

        for (; *coll; coll++)
                h = (h ^ (unsigned char)*coll) * 16777619u;
        h = (h ^ 0xffu) * 16777619u;
        for (; *id; id++)
                h = (h ^ (unsigned char)*id) * 16777619u;
        return h;
}

vcdc_gw_pending_t *vcdc_gw_pending_new(size_t max_bytes, char *errstr,
                                       size_t errstr_size) {
        vcdc_gw_pending_t *pd = calloc(1, sizeof(*pd));

        if (!pd || !(pd->buckets = calloc(BUCKETS_MIN, sizeof(*pd->buckets)))) {
                free(pd);
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        pd->nbuckets = BUCKETS_MIN;
        pd->max_bytes = max_bytes;
        pthread_mutex_init(&pd->lock, NULL);
        return pd;
}

static void ent_free(pent_t *e) {
        vcdc_record_clear(&e->rec);
        free(e);
}

void vcdc_gw_pending_destroy(vcdc_gw_pending_t *pd) {
        pcoll_t *pc, *pcnext;
        pent_t *e, *enext;

        if (!pd)
                return;
        for (pc = pd->colls; pc; pc = pcnext) {
                pcnext = pc->next;
                for (e = pc->head; e; e = enext) {
                        enext = e->next;
                        ent_free(e);
                }
                free(pc->left);
                free(pc->name);
                free(pc);
        }
        free(pd->buckets);
        pthread_mutex_destroy(&pd->lock);
        free(pd);
}

static pcoll_t *coll_find(vcdc_gw_pending_t *pd, const char *name) {
        pcoll_t *pc;

        for (pc = pd->colls; pc; pc = pc->next)
                if (!strcmp(pc->name, name))
                        return pc;
        return NULL;
}

static pcoll_t *coll_get(vcdc_gw_pending_t *pd, const char *name) {
        pcoll_t *pc = coll_find(pd, name);

        if (pc)
                return pc;
        if (!(pc = calloc(1, sizeof(*pc))) || !(pc->name = strdup(name))) {
                free(pc);
                return NULL;
        }
        pc->trusted_side = -1;
        pc->next = pd->colls;
        pd->colls = pc;
        return pc;
}

static pent_t **slot_of(vcdc_gw_pending_t *pd, const char *coll, const char *id,
                        unsigned h) {
        pent_t **ep = &pd->buckets[h & (pd->nbuckets - 1)];

        for (; *ep; ep = &(*ep)->hnext)
                if ((*ep)->hash == h && !strcmp((*ep)->rec.id, id) &&
                    !strcmp((*ep)->pc->name, coll))
                        break;
        return ep;
}

/* Unlinks e from its chain (at *ep) and its collection's list; frees it. */
static void ent_remove(vcdc_gw_pending_t *pd, pent_t **ep) {
        pent_t *e = *ep;

        *ep = e->hnext;
        if (e->prev)
                e->prev->next = e->next;
        else
                e->pc->head = e->next;
        if (e->next)
                e->next->prev = e->prev;
        e->pc->cnt--;
        pd->cnt--;
        pd->bytes -= e->bytes;
        ent_free(e);
}

/* Raises pc's left offset of partition to offset. -1: out of memory. */
static int left_raise(pcoll_t *pc, int32_t partition, int64_t offset) {
        size_t i;

        for (i = 0; i < pc->nleft; i++)
                if (pc->left[i].partition == partition) {
                        if (offset > pc->left[i].offset)
                                pc->left[i].offset = offset;
                        return 0;
                }
        if (pc->nleft == pc->capleft) {
                size_t cap = pc->capleft ? pc->capleft * 2 : 8;
                vcdc_sink_offset_t *n =
                        realloc(pc->left, cap * sizeof(*pc->left));

                if (!n)
                        return -1;
                pc->left = n;
                pc->capleft = cap;
        }
        pc->left[pc->nleft].partition = partition;
        pc->left[pc->nleft].offset = offset;
        pc->nleft++;
        return 0;
}

/* Doubles the table when it holds more entries than buckets (a failed
 * allocation leaves it as it is: longer chains, still correct). */
static void grow(vcdc_gw_pending_t *pd) {
        size_t n = pd->nbuckets * 2, i;
        pent_t **b;

        if (pd->cnt <= pd->nbuckets || !(b = calloc(n, sizeof(*b))))
                return;
        for (i = 0; i < pd->nbuckets; i++) {
                pent_t *e = pd->buckets[i], *next;

                for (; e; e = next) {
                        next = e->hnext;
                        e->hnext = b[e->hash & (n - 1)];
                        b[e->hash & (n - 1)] = e;
                }
        }
        free(pd->buckets);
        pd->buckets = b;
        pd->nbuckets = n;
}

static size_t rec_bytes(const vcdc_record_t *rec) {
        size_t n = sizeof(pent_t) + strlen(rec->id) + 1;

        if (rec->op == VCDC_OP_DELETE)
                return n;
        n += rec->dim * sizeof(float);
        n += rec->sparse_nnz * (sizeof(uint32_t) + sizeof(float));
        if (rec->metadata)
                n += strlen(rec->metadata) + 1;
        if (rec->document)
                n += strlen(rec->document) + 1;
        return n;
}

/* A copy of rec as an entry keeps it: no collection, a delete only its
 * id. NULL: out of memory. */
static pent_t *ent_new(const vcdc_record_t *rec) {
        pent_t *e = calloc(1, sizeof(*e));

        if (!e)
                return NULL;
        vcdc_record_init(&e->rec);
        if (rec->op == VCDC_OP_DELETE) {
                e->rec.op = VCDC_OP_DELETE;
                if (!(e->rec.id = strdup(rec->id)))
                        goto err;
                return e;
        }
        if (vcdc_record_copy(&e->rec, rec) == -1)
                goto err;
        free(e->rec.collection);
        e->rec.collection = NULL;
        return e;
err:
        ent_free(e);
        return NULL;
}

int vcdc_gw_pending_get(vcdc_gw_pending_t *pd, const char *coll, const char *id,
                        vcdc_record_t *out) {
        pent_t **ep;
        int rc = VCDC_GW_PENDING_NONE;

        pthread_mutex_lock(&pd->lock);
        ep = slot_of(pd, coll, id, vcdc_gw_key_hash(coll, id));
        if (*ep && (*ep)->rec.op == VCDC_OP_DELETE)
                rc = VCDC_GW_PENDING_DELETED;
        else if (*ep)
                rc = vcdc_record_copy(out, &(*ep)->rec) == -1
                             ? -1
                             : VCDC_GW_PENDING_RECORD;
        pthread_mutex_unlock(&pd->lock);
        return rc;
}

int vcdc_gw_pending_put(vcdc_gw_pending_t *pd, const vcdc_record_t *rec,
                        int32_t partition, int64_t offset) {
        unsigned h = vcdc_gw_key_hash(rec->collection, rec->id);
        size_t bytes = rec_bytes(rec);
        pent_t **ep, *e = NULL;
        pcoll_t *pc;
        int rc = -1;

        pthread_mutex_lock(&pd->lock);
        if (!(pc = coll_get(pd, rec->collection)))
                goto unlock; /* nothing of it was kept: nothing left */
        ep = slot_of(pd, rec->collection, rec->id, h);
        if (*ep)
                ent_remove(pd, ep); /* superseded: rec comes after it */
        if (pd->bytes + bytes <= pd->max_bytes && (e = ent_new(rec))) {
                e->pc = pc;
                e->hash = h;
                e->partition = partition;
                e->offset = offset;
                e->bytes = bytes;
                e->hnext = pd->buckets[h & (pd->nbuckets - 1)];
                pd->buckets[h & (pd->nbuckets - 1)] = e;
                e->next = pc->head;
                if (pc->head)
                        pc->head->prev = e;
                pc->head = e;
                pc->cnt++;
                pd->cnt++;
                pd->bytes += bytes;
                grow(pd);
                rc = 0;
                goto unlock;
        }
        /* Not kept: rec left unapplied. */
        if (left_raise(pc, partition, offset) == -1)
                pc->lost = 1;
        pc->trusted_side = -1;
unlock:
        pthread_mutex_unlock(&pd->lock);
        return rc;
}

int vcdc_gw_pending_sync_due(vcdc_gw_pending_t *pd, const char *coll, int side,
                             int64_t now_ms, int64_t interval_ms) {
        pcoll_t *pc;
        int due = 0;

        pthread_mutex_lock(&pd->lock);
        if ((pc = coll_find(pd, coll))) {
                if (pc->trusted_side != side && pc->nleft == 0 && !pc->lost)
                        pc->trusted_side = side; /* nothing left anywhere */
                if (pc->trusted_side != side)
                        due = VCDC_GW_PENDING_DUE_TRUST;
                else if (pc->cnt > 0 &&
                         now_ms - pc->synced_ms >=
                                 (pd->bytes > pd->max_bytes / 2
                                          ? interval_ms / 8 /* filling up */
                                          : interval_ms))
                        due = VCDC_GW_PENDING_DUE_PRUNE;
        }
        pthread_mutex_unlock(&pd->lock);
        return due;
}

int vcdc_gw_pending_sync(vcdc_gw_pending_t *pd, const char *coll, int side,
                         const vcdc_sink_offset_t *offs, size_t cnt,
                         int64_t now_ms) {
        pcoll_t *pc;
        pent_t *e, *next;
        size_t i;
        int rc = 1;

        pthread_mutex_lock(&pd->lock);
        if (!(pc = coll_find(pd, coll)))
                goto unlock;
        if (pc->trusted_side != side) {
                if (pc->lost) {
                        rc = 0;
                        goto unlock;
                }
                for (i = 0; i < pc->nleft; i++)
                        if (vcdc_sink_offset_for(offs, cnt,
                                                 pc->left[i].partition) <
                            pc->left[i].offset) {
                                rc = 0;
                                goto unlock;
                        }
                pc->trusted_side = side;
        }
        for (e = pc->head; e; e = next) {
                next = e->next;
                if (vcdc_sink_offset_for(offs, cnt, e->partition) < e->offset)
                        continue;
                if (left_raise(pc, e->partition, e->offset) == -1)
                        continue; /* kept: an entry too many is safe */
                ent_remove(pd, slot_of(pd, coll, e->rec.id, e->hash));
        }
        pc->synced_ms = now_ms;
unlock:
        pthread_mutex_unlock(&pd->lock);
        return rc;
}

int vcdc_gw_pending_applied(vcdc_gw_pending_t *pd, const char *coll,
                            const char *id, int side, int32_t partition,
                            int64_t offset) {
        pcoll_t *pc;
        pent_t **ep;
        int rc = 0;

        pthread_mutex_lock(&pd->lock);
        if (!(pc = coll_find(pd, coll)) || pc->trusted_side != side)
                goto unlock;
        ep = slot_of(pd, coll, id, vcdc_gw_key_hash(coll, id));
        if (*ep && (*ep)->partition == partition && (*ep)->offset == offset &&
            left_raise(pc, partition, offset) == 0) {
                ent_remove(pd, ep);
                rc = 1;
        }
unlock:
        pthread_mutex_unlock(&pd->lock);
        return rc;
}

int vcdc_gw_pending_each(vcdc_gw_pending_t *pd, const char *coll,
                         vcdc_gw_pending_each_cb_t *cb, void *opaque) {
        pcoll_t *pc;
        pent_t *e;
        int rc = 0;

        pthread_mutex_lock(&pd->lock);
        if ((pc = coll_find(pd, coll)))
                for (e = pc->head; e && rc == 0; e = e->next)
                        rc = cb(opaque, &e->rec, e->rec.op == VCDC_OP_DELETE)
                                     ? -1
                                     : 0;
        pthread_mutex_unlock(&pd->lock);
        return rc;
}

void vcdc_gw_pending_size(vcdc_gw_pending_t *pd, size_t *entriesp,
                          size_t *bytesp) {
        pthread_mutex_lock(&pd->lock);
        if (entriesp)
                *entriesp = pd->cnt;
        if (bytesp)
                *bytesp = pd->bytes;
        pthread_mutex_unlock(&pd->lock);
}

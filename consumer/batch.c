/*
 * vcdc - consumer batches: changes grouped by key, each key's changes in
 * the order they were read, offsets per partition. Decides nothing about
 * what applies; that is the consumer's.
 */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

typedef struct change_s {
        vcdc_record_t rec;
        void *msg;
        int64_t offset;
        size_t prev; /* the key's change before this one, + 1; 0: none */
} change_t;

typedef struct key_s {
        size_t first; /* changes[first - 1]: the key's first change */
        size_t head;  /* changes[head - 1]: its change to apply; 0: none */
} keyent_t;

struct vcdc_batch_s {
        void (*msg_free)(void *msg);
        change_t *changes;
        size_t change_cnt, change_cap;
        keyent_t *keys;
        size_t key_cnt, key_cap;
        /* Open addressing over keys[], by collection and id: index + 1,
         * 0 is empty. */
        size_t *slots;
        size_t slot_cap; /* a power of two, > 2 * key_cnt */
        vcdc_sink_offset_t *offsets;
        size_t offset_cnt, offset_cap;
        size_t msg_cnt, bytes;
        /* vcdc_batch_view() output */
        const vcdc_record_t **upserts;
        const char **delete_ids;
        size_t view_cap;
};

/* FNV-1a over collection, a NUL, then id: two keys hash alike only by
 * chance, never because one's collection runs into the other's id. */
static uint64_t hash_key(const char *collection, const char *id) {
        uint64_t h = 1469598103934665603ULL;
        const char *s;

        for (s = collection; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 1099511628211ULL;
        }
        h *= 1099511628211ULL;
        for (s = id; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 1099511628211ULL;
        }
        return h;
}

vcdc_batch_t *vcdc_batch_new(void (*msg_free)(void *msg)) {
        vcdc_batch_t *b = calloc(1, sizeof(*b));

        if (b)
                b->msg_free = msg_free;
        return b;
}

void vcdc_batch_reset(vcdc_batch_t *b) {
        size_t i;

        for (i = 0; i < b->change_cnt; i++) {
                vcdc_record_clear(&b->changes[i].rec);
                if (b->msg_free && b->changes[i].msg)
                        b->msg_free(b->changes[i].msg);
        }
        b->change_cnt = 0;
        b->key_cnt = 0;
        if (b->slots)
                memset(b->slots, 0, b->slot_cap * sizeof(*b->slots));
        b->offset_cnt = 0;
        b->msg_cnt = 0;
        b->bytes = 0;
}

void vcdc_batch_destroy(vcdc_batch_t *b) {
        if (!b)
                return;
        vcdc_batch_reset(b);
        free(b->changes);
        free(b->keys);
        free(b->slots);
        free(b->offsets);
        free(b->upserts);
        free(b->delete_ids);
        free(b);
}

static const vcdc_record_t *key_rec(const vcdc_batch_t *b, const keyent_t *k) {
        return &b->changes[k->first - 1].rec;
}

/* The slot holding the key of rec, or the empty slot where it would go. */
static size_t *find_slot(vcdc_batch_t *b, const vcdc_record_t *rec) {
        size_t mask = b->slot_cap - 1,
               i = (size_t)hash_key(rec->collection, rec->id) & mask;

        while (b->slots[i]) {
                const vcdc_record_t *r = key_rec(b, &b->keys[b->slots[i] - 1]);
                if (!strcmp(r->id, rec->id) &&
                    !strcmp(r->collection, rec->collection))
                        break;
                i = (i + 1) & mask;
        }
        return &b->slots[i];
}

static int rehash(vcdc_batch_t *b, size_t cap) {
        size_t *slots = calloc(cap, sizeof(*slots)), i;

        if (!slots)
                return -1;
        free(b->slots);
        b->slots = slots;
        b->slot_cap = cap;
        for (i = 0; i < b->key_cnt; i++)
                *find_slot(b, key_rec(b, &b->keys[i])) = i + 1;
        return 0;
}

/* Room for one more partition entry, so note() cannot fail. */
static int reserve_offset(vcdc_batch_t *b) {
        vcdc_sink_offset_t *o;
        size_t cap;

        if (b->offset_cnt < b->offset_cap)
                return 0;
        cap = b->offset_cap ? b->offset_cap * 2 : 16;
        if (!(o = realloc(b->offsets, cap * sizeof(*o))))
                return -1;
        b->offsets = o;
        b->offset_cap = cap;
        return 0;
}

static void note(vcdc_batch_t *b, int32_t partition, int64_t offset,
                 size_t msg_bytes) {
        size_t i;

        b->msg_cnt++;
        b->bytes += msg_bytes;
        for (i = 0; i < b->offset_cnt; i++) {
                if (b->offsets[i].partition == partition) {
                        if (offset > b->offsets[i].offset)
                                b->offsets[i].offset = offset;
                        return;
                }
        }
        b->offsets[b->offset_cnt].partition = partition;
        b->offsets[b->offset_cnt].offset = offset;
        b->offset_cnt++;
}

int vcdc_batch_note(vcdc_batch_t *b, int32_t partition, int64_t offset,
                    size_t msg_bytes) {
        if (reserve_offset(b) == -1)
                return -1;
        note(b, partition, offset, msg_bytes);
        return 0;
}

/* Room for one more change and one more key. */
static int reserve_change(vcdc_batch_t *b) {
        if (b->change_cnt == b->change_cap) {
                size_t cap = b->change_cap ? b->change_cap * 2 : 256;
                change_t *n = realloc(b->changes, cap * sizeof(*n));
                if (!n)
                        return -1;
                b->changes = n;
                b->change_cap = cap;
        }
        if (b->key_cnt == b->key_cap) {
                size_t cap = b->key_cap ? b->key_cap * 2 : 256;
                keyent_t *n = realloc(b->keys, cap * sizeof(*n));
                if (!n)
                        return -1;
                b->keys = n;
                b->key_cap = cap;
        }
        if ((b->key_cnt + 1) * 2 > b->slot_cap &&
            rehash(b, b->slot_cap ? b->slot_cap * 2 : 512) == -1)
                return -1;
        return reserve_offset(b);
}

int vcdc_batch_add(vcdc_batch_t *b, vcdc_record_t *rec, int32_t partition,
                   int64_t offset, size_t msg_bytes, void *msg) {
        size_t *slot, idx;
        change_t *c;
        keyent_t *k;

        if (reserve_change(b) == -1)
                return -1;
        idx = b->change_cnt++;
        c = &b->changes[idx];
        c->rec = *rec;
        c->msg = msg;
        c->offset = offset;
        vcdc_record_init(rec);
        slot = find_slot(b, &c->rec);
        if (*slot) {
                k = &b->keys[*slot - 1];
                /* After the key's last refused change, head is 0, and the
                 * newer change follows the last one that stands. */
                c->prev = k->head;
                k->head = idx + 1;
        } else {
                c->prev = 0;
                k = &b->keys[b->key_cnt];
                k->first = k->head = idx + 1;
                *slot = ++b->key_cnt;
        }
        note(b, partition, offset, msg_bytes);
        return 0;
}

size_t vcdc_batch_msg_cnt(const vcdc_batch_t *b) {
        return b->msg_cnt;
}

size_t vcdc_batch_bytes(const vcdc_batch_t *b) {
        return b->bytes;
}

size_t vcdc_batch_key_cnt(const vcdc_batch_t *b) {
        return b->key_cnt;
}

const vcdc_record_t *vcdc_batch_head(const vcdc_batch_t *b, size_t k,
                                     void **msgp, int64_t *offsetp) {
        const change_t *c;

        if (!b->keys[k].head)
                return NULL;
        c = &b->changes[b->keys[k].head - 1];
        if (msgp)
                *msgp = c->msg;
        if (offsetp)
                *offsetp = c->offset;
        return &c->rec;
}

int vcdc_batch_step_back(vcdc_batch_t *b, size_t k) {
        keyent_t *key = &b->keys[k];

        if (key->head)
                key->head = b->changes[key->head - 1].prev;
        return key->head != 0;
}

const vcdc_sink_offset_t *vcdc_batch_offsets(const vcdc_batch_t *b,
                                             size_t *cntp) {
        *cntp = b->offset_cnt;
        return b->offsets;
}

int vcdc_batch_view(vcdc_batch_t *b, size_t lo, size_t hi,
                    vcdc_sink_batch_t *out) {
        size_t k;

        if (b->key_cnt > b->view_cap) {
                const vcdc_record_t **u;
                const char **d;
                size_t cap = b->key_cap;
                if (!(u = realloc(b->upserts, cap * sizeof(*u))))
                        return -1;
                b->upserts = u;
                if (!(d = realloc(b->delete_ids, cap * sizeof(*d))))
                        return -1;
                b->delete_ids = d;
                b->view_cap = cap;
        }
        memset(out, 0, sizeof(*out));
        out->upserts = b->upserts;
        out->delete_ids = b->delete_ids;
        for (k = lo; k < hi; k++) {
                const vcdc_record_t *rec = vcdc_batch_head(b, k, NULL, NULL);
                if (!rec)
                        continue;
                if (rec->op == VCDC_OP_DELETE)
                        b->delete_ids[out->delete_cnt++] = rec->id;
                else
                        b->upserts[out->upsert_cnt++] = rec;
        }
        return 0;
}

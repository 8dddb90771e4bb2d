/*
 * vcdc - consumer batches: coalescing by id, offsets per partition.
 */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

typedef struct change_s {
        vcdc_record_t rec;
        int32_t partition;
        int64_t offset;
} change_t;

struct vcdc_batch_s {
        change_t *changes;
        size_t change_cnt, change_cap;
        /* Open addressing over changes[], by id: index + 1, 0 is empty. */
        size_t *slots;
        size_t slot_cap; /* a power of two, > 2 * change_cnt */
        vcdc_sink_offset_t *offsets;
        size_t offset_cnt, offset_cap;
        size_t msg_cnt, bytes;
        /* vcdc_batch_view() output */
        const vcdc_record_t **upserts;
        const char **delete_ids;
        size_t view_cap;
};

static uint64_t hash_id(const char *s) {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */

        while (*s) {
                h ^= (unsigned char)*s++;
                h *= 1099511628211ULL;
        }
        return h;
}

vcdc_batch_t *vcdc_batch_new(void) {
        return calloc(1, sizeof(vcdc_batch_t));
}

void vcdc_batch_reset(vcdc_batch_t *b) {
        size_t i;

        for (i = 0; i < b->change_cnt; i++)
                vcdc_record_clear(&b->changes[i].rec);
        b->change_cnt = 0;
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
        free(b->slots);
        free(b->offsets);
        free(b->upserts);
        free(b->delete_ids);
        free(b);
}

/* The slot holding id, or the empty slot where it would go. */
static size_t *find_slot(vcdc_batch_t *b, const char *id) {
        size_t mask = b->slot_cap - 1, i = (size_t)hash_id(id) & mask;

        while (b->slots[i] &&
               strcmp(b->changes[b->slots[i] - 1].rec.id, id))
                i = (i + 1) & mask;
        return &b->slots[i];
}

static int rehash(vcdc_batch_t *b, size_t cap) {
        size_t *slots = calloc(cap, sizeof(*slots)), i;

        if (!slots)
                return -1;
        free(b->slots);
        b->slots = slots;
        b->slot_cap = cap;
        for (i = 0; i < b->change_cnt; i++)
                *find_slot(b, b->changes[i].rec.id) = i + 1;
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
        /* The array grows before use (vcdc_batch_add/note reserve). */
        b->offsets[b->offset_cnt].partition = partition;
        b->offsets[b->offset_cnt].offset = offset;
        b->offset_cnt++;
}

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

void vcdc_batch_note(vcdc_batch_t *b, int32_t partition, int64_t offset,
                     size_t msg_bytes) {
        if (reserve_offset(b) == -1) {
                /* Without room for a new partition entry the offset is not
                 * committed with this batch: the message is read again,
                 * which is safe. */
                size_t i;
                for (i = 0; i < b->offset_cnt; i++)
                        if (b->offsets[i].partition == partition)
                                break;
                if (i == b->offset_cnt)
                        return;
        }
        note(b, partition, offset, msg_bytes);
}

int vcdc_batch_add(vcdc_batch_t *b, vcdc_record_t *rec, int32_t partition,
                   int64_t offset, size_t msg_bytes) {
        size_t *slot;
        change_t *c;

        if (reserve_offset(b) == -1)
                return -1;
        if (b->change_cnt + 1 > b->change_cap) {
                size_t cap = b->change_cap ? b->change_cap * 2 : 256;
                change_t *n = realloc(b->changes, cap * sizeof(*n));
                if (!n)
                        return -1;
                b->changes = n;
                b->change_cap = cap;
        }
        if ((b->change_cnt + 1) * 2 > b->slot_cap &&
            rehash(b, b->slot_cap ? b->slot_cap * 2 : 512) == -1)
                return -1;

        slot = find_slot(b, rec->id);
        if (*slot) {
                /* The later change of an id replaces the earlier. */
                c = &b->changes[*slot - 1];
                vcdc_record_clear(&c->rec);
        } else {
                c = &b->changes[b->change_cnt];
                *slot = ++b->change_cnt;
        }
        c->rec = *rec;
        c->partition = partition;
        c->offset = offset;
        vcdc_record_init(rec);
        note(b, partition, offset, msg_bytes);
        return 0;
}

size_t vcdc_batch_msg_cnt(const vcdc_batch_t *b) {
        return b->msg_cnt;
}

size_t vcdc_batch_bytes(const vcdc_batch_t *b) {
        return b->bytes;
}

size_t vcdc_batch_change_cnt(const vcdc_batch_t *b) {
        return b->change_cnt;
}

const vcdc_record_t *vcdc_batch_change(const vcdc_batch_t *b, size_t i,
                                       int32_t *partitionp, int64_t *offsetp) {
        if (partitionp)
                *partitionp = b->changes[i].partition;
        if (offsetp)
                *offsetp = b->changes[i].offset;
        return &b->changes[i].rec;
}

void vcdc_batch_drop(vcdc_batch_t *b, size_t i) {
        vcdc_record_clear(&b->changes[i].rec);
        memmove(&b->changes[i], &b->changes[i + 1],
                (b->change_cnt - i - 1) * sizeof(*b->changes));
        b->change_cnt--;
        /* Indices moved: rebuild the table at its current size. */
        memset(b->slots, 0, b->slot_cap * sizeof(*b->slots));
        for (i = 0; i < b->change_cnt; i++)
                *find_slot(b, b->changes[i].rec.id) = i + 1;
}

const vcdc_sink_offset_t *vcdc_batch_offsets(const vcdc_batch_t *b,
                                             size_t *cntp) {
        *cntp = b->offset_cnt;
        return b->offsets;
}

int vcdc_batch_view(vcdc_batch_t *b, const char *topic,
                    vcdc_sink_batch_t *out) {
        size_t i;

        if (b->change_cnt > b->view_cap) {
                const vcdc_record_t **u;
                const char **d;
                size_t cap = b->change_cap;
                if (!(u = realloc(b->upserts, cap * sizeof(*u))))
                        return -1;
                b->upserts = u;
                if (!(d = realloc(b->delete_ids, cap * sizeof(*d))))
                        return -1;
                b->delete_ids = d;
                b->view_cap = cap;
        }
        memset(out, 0, sizeof(*out));
        for (i = 0; i < b->change_cnt; i++) {
                const vcdc_record_t *rec = &b->changes[i].rec;
                if (rec->op == VCDC_OP_DELETE)
                        b->delete_ids[out->delete_cnt++] = rec->id;
                else
                        b->upserts[out->upsert_cnt++] = rec;
        }
        out->upserts = b->upserts;
        out->delete_ids = b->delete_ids;
        out->topic = topic;
        out->offsets = b->offsets;
        out->offset_cnt = b->offset_cnt;
        return 0;
}

int64_t vcdc_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms,
                        uint32_t rnd) {
        int64_t cap = base_ms, half;

        while (attempt-- > 0 && cap < max_ms)
                cap *= 2;
        if (cap > max_ms)
                cap = max_ms;
        half = cap / 2;
        return half + (int64_t)(rnd % (uint64_t)(cap - half + 1));
}

/*
 * vcdc - verification, the id map of one partition: (id, digest) pairs in
 * an open-addressing table whose memory, ids included, stays within a
 * budget (a full map says so rather than grow), and how many partitions a
 * count of ids needs. It never reads a sink.
 */
#include "verify_int.h"

#include <stdlib.h>
#include <string.h>

/* Bytes of table per id at the highest load (3/4). */
#define SLOT_COST (sizeof(vcdc_verify_slot_t) * 4 / 3 + 1)

/* A block of the arena the ids live in. */
typedef struct vcdc_verify_chunk_s {
        struct vcdc_verify_chunk_s *next;
        size_t used, size;
        char data[];
} vcdc_verify_chunk_t;

static size_t table_bytes(size_t cap) {
        return cap * sizeof(vcdc_verify_slot_t) +
               (cap + 63) / 64 * sizeof(uint64_t);
}

size_t vcdc_verify_map_bytes(const vcdc_verify_map_t *map) {
        return table_bytes(map->cap) + map->arena_bytes;
}

void vcdc_verify_map_free(vcdc_verify_map_t *map) {
        vcdc_verify_chunk_t *c, *next;

        for (c = map->chunks; c; c = next) {
                next = c->next;
                free(c);
        }
        free(map->slots);
        free(map->seen);
        memset(map, 0, sizeof(*map));
}

/* An empty map sized for about expected ids. */
int vcdc_verify_map_init(vcdc_verify_map_t *map, size_t expected,
                         size_t budget) {
        size_t cap = expected / 3 * 4 + 64;

        memset(map, 0, sizeof(*map));
        map->budget = budget;
        map->chunk_size = budget / 16;
        if (map->chunk_size < 4096)
                map->chunk_size = 4096;
        if (map->chunk_size > ((size_t)1 << 20))
                map->chunk_size = (size_t)1 << 20;
        /* The rest is for the ids; a stale count makes the table grow. */
        if (table_bytes(cap) > budget / 4 * 3)
                cap = budget / 4 * 3 / (sizeof(vcdc_verify_slot_t) + 1);
        map->cap = cap;
        if (!(map->slots = calloc(cap, sizeof(*map->slots))) ||
            !(map->seen = calloc((cap + 63) / 64, sizeof(uint64_t)))) {
                vcdc_verify_map_free(map);
                return -1;
        }
        return 0;
}

/* Where hash lands: Lemire's multiply-shift over the high bits, which the
 * partition (the low bits) leaves free. */
static size_t home(const vcdc_verify_map_t *map, uint64_t hash) {
        return (size_t)(((unsigned __int128)hash * map->cap) >> 64);
}

/* The slot holding id, or the empty slot where it would go. */
size_t vcdc_verify_map_probe(const vcdc_verify_map_t *map, uint64_t hash,
                             const char *id) {
        size_t i = home(map, hash);

        while (map->slots[i].id &&
               (map->slots[i].hash != hash || strcmp(map->slots[i].id, id))) {
                if (++i == map->cap)
                        i = 0;
        }
        return i;
}

static int map_grow(vcdc_verify_map_t *map) {
        size_t newcap = map->cap * 2, i, j;
        vcdc_verify_slot_t *slots;
        uint64_t *seen;

        /* Both tables live at once while rehashing. */
        if (table_bytes(map->cap) + table_bytes(newcap) + map->arena_bytes >
            map->budget)
                return VCDC_VERIFY_MAP_FULL;
        if (!(slots = calloc(newcap, sizeof(*slots))))
                return VCDC_VERIFY_MAP_OOM;
        if (!(seen = calloc((newcap + 63) / 64, sizeof(uint64_t)))) {
                free(slots);
                return VCDC_VERIFY_MAP_OOM;
        }
        for (i = 0; i < map->cap; i++) {
                if (!map->slots[i].id)
                        continue;
                j = (size_t)(((unsigned __int128)map->slots[i].hash * newcap) >>
                             64);
                while (slots[j].id)
                        if (++j == newcap)
                                j = 0;
                slots[j] = map->slots[i];
                if (map->seen[i / 64] & ((uint64_t)1 << (i % 64)))
                        seen[j / 64] |= (uint64_t)1 << (j % 64);
        }
        free(map->slots);
        free(map->seen);
        map->slots = slots;
        map->seen = seen;
        map->cap = newcap;
        return VCDC_VERIFY_MAP_OK;
}

/* Copies id into the arena: VCDC_VERIFY_MAP_OK with *outp set,
 * VCDC_VERIFY_MAP_FULL, VCDC_VERIFY_MAP_OOM. */
static int arena_dup(vcdc_verify_map_t *map, const char *id, size_t len,
                     char **outp) {
        vcdc_verify_chunk_t *c = map->chunks;

        if (!c || c->size - c->used < len + 1) {
                size_t size =
                        len + 1 > map->chunk_size ? len + 1 : map->chunk_size;
                if (vcdc_verify_map_bytes(map) + sizeof(*c) + size >
                    map->budget)
                        return VCDC_VERIFY_MAP_FULL;
                if (!(c = malloc(sizeof(*c) + size)))
                        return VCDC_VERIFY_MAP_OOM;
                c->size = size;
                c->used = 0;
                c->next = map->chunks;
                map->chunks = c;
                map->arena_bytes += sizeof(*c) + size;
        }
        *outp = c->data + c->used;
        memcpy(*outp, id, len + 1);
        c->used += len + 1;
        return VCDC_VERIFY_MAP_OK;
}

int vcdc_verify_map_insert(vcdc_verify_map_t *map, uint64_t hash,
                           const char *id, uint64_t digest) {
        size_t i, len = strlen(id);
        char *copy;
        int rc;

        if ((map->cnt + 1) * 4 > map->cap * 3 && (rc = map_grow(map)))
                return rc;
        i = vcdc_verify_map_probe(map, hash, id);
        if (map->slots[i].id)
                return VCDC_VERIFY_MAP_DUP;
        if ((rc = arena_dup(map, id, len, &copy)))
                return rc;
        map->slots[i].id = copy;
        map->slots[i].hash = hash;
        map->slots[i].digest = digest;
        map->cnt++;
        map->id_bytes += len + 1;
        return VCDC_VERIFY_MAP_OK;
}

int vcdc_verify_map_seen(const vcdc_verify_map_t *map, size_t i) {
        return (map->seen[i / 64] >> (i % 64)) & 1;
}

void vcdc_verify_map_set_seen(vcdc_verify_map_t *map, size_t i) {
        map->seen[i / 64] |= (uint64_t)1 << (i % 64);
}

uint64_t vcdc_verify_partitions(uint64_t count, size_t avg_id_len,
                                size_t memory) {
        double per = (double)SLOT_COST + (double)avg_id_len + 1;
        double usable, need;
        uint64_t parts = 1;

        if (memory < VCDC_VERIFY_MEMORY_MIN)
                memory = VCDC_VERIFY_MEMORY_MIN;
        /* Headroom for the table's rounding and the arena's last chunk. */
        usable = (double)memory * 0.85;
        need = (double)count * per / usable;
        while ((double)parts < need && parts < VCDC_VERIFY_PARTITIONS_MAX)
                parts <<= 1;
        return parts;
}

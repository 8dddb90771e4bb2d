/*
 * vcdc - verification: does NEW hold exactly what OLD holds?
 *
 * Full mode, in bounded memory. Each sink scans in its own order (Chroma:
 * insertion order through offset paging; pgvector: by id), so the two
 * streams cannot be merged like sorted runs. Instead the id space is cut
 * into hash partitions: partition (r, m) holds the ids whose 64-bit hash h
 * has h mod m == r, m a power of two. One pass handles one partition:
 *
 *   1. scan OLD (with vectors); keep each record of the partition as
 *      (id, 64-bit digest of vector + metadata + document) in an
 *      open-addressing hash map whose memory, ids included, stays within
 *      the budget (--memory, default 64 MiB);
 *   2. scan NEW; a record of the partition is either absent from the map
 *      (an extra candidate), present with the same digest (equal: counted
 *      as compared, nothing fetched), or present with another digest (a
 *      candidate); each id found is marked seen;
 *   3. the map's ids never seen in NEW are missing candidates.
 *
 * Candidates are read again by id with vcdc_sink_get() in pages and only
 * then classified (vcdc_verify_account()): missing, extra, vector beyond
 * the tolerance, metadata, document. A candidate out of NEW's scan keeps
 * NEW's scanned record, so only OLD is read for it; a missing candidate is
 * read from both. A digest covers the exact float bits, so float noise
 * within the tolerance changes it; the tolerance is applied to the records
 * read, never to digests. (A cosine collection in Chroma answers with
 * vectors normalised and scaled back, up to one float32 ulp away from what
 * was written on about a third of the components: against it nearly every
 * record is a candidate, and a full comparison costs a scan of each side
 * plus reading OLD by id. Exact targets, such as pgvector or an l2 Chroma
 * collection, cost one scan of each side.)
 * Re-reading OLD also judges a record that changed during the scan on its
 * current state.
 *
 * The number of partitions is planned from OLD's count so that one
 * partition's map fits the budget (vcdc_verify_partitions(): about 32
 * bytes of table per id plus the id itself; 1,000,000 ids of up to ~30
 * bytes fit 64 MiB in one pass). When a partition outgrows the budget
 * anyway (longer ids than assumed, a stale count), its pass stops, and it
 * is split into 2^j sub-partitions (h mod m*2^j) sized from what the
 * aborted pass measured. Every pass scans both sides in full: more
 * partitions cost time, never memory. Memory outside the map is a page of
 * records per side and a page of fetched candidates.
 *
 * Sample mode draws N ids from OLD (reservoir sampling over one scan of
 * ids only, seeded), gets them from both sides and classifies them the
 * same way. It cannot find extra records; it compares the two counts.
 */
#include "verify.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"

#define LOG_COMP          "verify"
#define PAGE_DEFAULT      1000
#define TOLERANCE_DEFAULT 1e-6
#define RETRIES           5 /* attempts after the first, on RETRIABLE */
#define RETRY_BASE_MS     250
#define PROGRESS_EVERY_S  5.0
#define ID_LEN_ASSUMED    16 /* for planning when OLD is empty */
#define PARTITIONS_MAX    ((uint64_t)1 << 40)

/* ---- Hashing ---------------------------------------------------------- */

/* MurmurHash64A's block step and finalizer (public domain, Austin
 * Appleby): fast on 8-byte words, good enough to partition ids and to
 * tell changed records apart (a false "equal" needs a 64-bit collision
 * between an id's old and new contents). */
#define MURMUR_M 0xc6a4a7935bd1e995ULL

typedef struct hasher_s {
        uint64_t h;
} hasher_t;

static void hasher_init(hasher_t *hs, uint64_t seed) {
        hs->h = seed * MURMUR_M;
}

static void hasher_u64(hasher_t *hs, uint64_t k) {
        k *= MURMUR_M;
        k ^= k >> 47;
        k *= MURMUR_M;
        hs->h ^= k;
        hs->h *= MURMUR_M;
}

static void hasher_bytes(hasher_t *hs, const void *data, size_t len) {
        const unsigned char *p = data;
        uint64_t k;
        size_t i;

        hasher_u64(hs, (uint64_t)len);
        for (; len >= 8; p += 8, len -= 8) {
                memcpy(&k, p, 8);
                hasher_u64(hs, k);
        }
        if (len) {
                k = 0;
                for (i = 0; i < len; i++)
                        k |= (uint64_t)p[i] << (8 * i);
                hasher_u64(hs, k);
        }
}

static uint64_t hasher_final(const hasher_t *hs) {
        uint64_t h = hs->h;

        h ^= h >> 47;
        h *= MURMUR_M;
        h ^= h >> 47;
        return h;
}

static uint64_t hash_bytes(const void *data, size_t len, uint64_t seed) {
        hasher_t hs;

        hasher_init(&hs, seed);
        hasher_bytes(&hs, data, len);
        return hasher_final(&hs);
}

static uint64_t hash_id(const char *id) {
        return hash_bytes(id, strlen(id), 0x1d /*ids*/);
}

/* Seeds that keep values of different JSON types apart. */
enum {
        TAG_NONE = 1,
        TAG_OBJECT,
        TAG_ARRAY,
        TAG_STRING,
        TAG_INTEGER,
        TAG_REAL,
        TAG_TRUE,
        TAG_FALSE,
        TAG_NULL,
        TAG_KEY,
        TAG_RAW,
        TAG_VECTOR,
        TAG_DOCUMENT,
        TAG_NO_DOCUMENT,
};

/* A real that holds an integer value within int64_t: *ip is set, 1. */
static int real_as_int(double r, json_int_t *ip) {
        if (r != floor(r) || r < -9223372036854775808.0 ||
            r >= 9223372036854775808.0)
                return 0;
        *ip = (json_int_t)r;
        return 1;
}

static uint64_t hash_int(json_int_t i) {
        hasher_t hs;

        hasher_init(&hs, TAG_INTEGER);
        hasher_u64(&hs, (uint64_t)i);
        return hasher_final(&hs);
}

/* A hash of a JSON value: object members are summed (order-free), numbers
 * hash by value (1 and 1.0 alike). Values with equal hashes are the same
 * under json_same(); the converse fails only for reals an ulp or so apart,
 * which then cost a read by id. */
static uint64_t json_hash(const json_t *v) {
        hasher_t hs;
        const char *key;
        json_t *val;
        json_int_t i;
        uint64_t sum = 0;
        double r;
        size_t n;

        switch (json_typeof(v)) {
        case JSON_OBJECT:
                json_object_foreach((json_t *)v, key, val) {
                        hasher_init(&hs, TAG_KEY);
                        hasher_bytes(&hs, key, strlen(key));
                        hasher_u64(&hs, json_hash(val));
                        sum += hasher_final(&hs);
                }
                hasher_init(&hs, TAG_OBJECT);
                hasher_u64(&hs, sum);
                hasher_u64(&hs, json_object_size(v));
                return hasher_final(&hs);
        case JSON_ARRAY:
                hasher_init(&hs, TAG_ARRAY);
                for (n = 0; n < json_array_size(v); n++)
                        hasher_u64(&hs, json_hash(json_array_get(v, n)));
                hasher_u64(&hs, json_array_size(v));
                return hasher_final(&hs);
        case JSON_STRING:
                return hash_bytes(json_string_value(v), json_string_length(v),
                                  TAG_STRING);
        case JSON_INTEGER:
                return hash_int(json_integer_value(v));
        case JSON_REAL:
                r = json_real_value(v);
                if (real_as_int(r, &i))
                        return hash_int(i);
                return hash_bytes(&r, sizeof(r), TAG_REAL);
        case JSON_TRUE:
                return hash_bytes(NULL, 0, TAG_TRUE);
        case JSON_FALSE:
                return hash_bytes(NULL, 0, TAG_FALSE);
        case JSON_NULL:
                break;
        }
        return hash_bytes(NULL, 0, TAG_NULL);
}

/* Doubles as integers that count ulps: adjacent doubles differ by 1. */
static int64_t ulp_order(double d) {
        int64_t i;

        memcpy(&i, &d, sizeof(i));
        return i < 0 ? INT64_MIN - i : i;
}

/*
 * 1 when two reals are equal within REAL_ULPS ulps. Chroma's JSON parser
 * rounds some numbers twice and stores them an ulp away from what was
 * sent (see sink_chroma_int.h); a change anyone makes on purpose is far
 * larger.
 */
#define REAL_ULPS 4
static int real_same(double a, double b) {
        int64_t x, y;

        if (a == b)
                return 1;
        if (!isfinite(a) || !isfinite(b))
                return 0;
        x = ulp_order(a);
        y = ulp_order(b);
        /* Both in [-2^63, 2^63): the difference cannot overflow when the
         * signs agree, and a sign change is far apart anyway. */
        if ((x < 0) != (y < 0))
                return 0;
        return (x > y ? x - y : y - x) <= REAL_ULPS;
}

/* 1 when two numbers have the same value. */
static int number_same(const json_t *a, const json_t *b) {
        json_int_t i;

        if (json_is_integer(a) && json_is_integer(b))
                return json_integer_value(a) == json_integer_value(b);
        if (json_is_real(a) && json_is_real(b))
                return real_same(json_real_value(a), json_real_value(b));
        if (json_is_real(a)) {
                const json_t *t = a;
                a = b;
                b = t;
        }
        /* a integer, b real */
        return real_as_int(json_real_value(b), &i) &&
               i == json_integer_value(a);
}

/* json_equal() with numbers compared by value, reals within a few ulps. */
static int json_same(const json_t *a, const json_t *b) {
        const char *key;
        json_t *val;
        size_t n;

        if (json_is_number(a) && json_is_number(b))
                return number_same(a, b);
        if (json_typeof(a) != json_typeof(b))
                return 0;
        switch (json_typeof(a)) {
        case JSON_OBJECT:
                if (json_object_size(a) != json_object_size(b))
                        return 0;
                json_object_foreach((json_t *)a, key, val) {
                        const json_t *other = json_object_get(b, key);
                        if (!other || !json_same(val, other))
                                return 0;
                }
                return 1;
        case JSON_ARRAY:
                if (json_array_size(a) != json_array_size(b))
                        return 0;
                for (n = 0; n < json_array_size(a); n++)
                        if (!json_same(json_array_get(a, n),
                                       json_array_get(b, n)))
                                return 0;
                return 1;
        case JSON_STRING:
                return json_string_length(a) == json_string_length(b) &&
                       !memcmp(json_string_value(a), json_string_value(b),
                               json_string_length(a));
        default:
                return 1; /* true, false, null */
        }
}

/*
 * Parses metadata text. Returns 0 with *jp NULL for "none" (NULL text,
 * null, {}), 0 with *jp a new reference otherwise, -1 when the text is not
 * JSON (then it compares as raw text).
 */
static int metadata_load(const char *text, json_t **jp) {
        json_t *j;

        *jp = NULL;
        if (!text)
                return 0;
        if (!(j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)))
                return -1;
        if (json_is_null(j) || (json_is_object(j) && !json_object_size(j))) {
                json_decref(j);
                return 0;
        }
        *jp = j;
        return 0;
}

static uint64_t metadata_hash(const char *text) {
        json_t *j;
        uint64_t h;

        if (metadata_load(text, &j) == -1)
                return hash_bytes(text, strlen(text), TAG_RAW);
        if (!j)
                return hash_bytes(NULL, 0, TAG_NONE);
        h = json_hash(j);
        json_decref(j);
        return h;
}

int vcdc_verify_metadata_equal(const char *a, const char *b) {
        json_t *ja = NULL, *jb = NULL;
        int ra, rb, same;

        ra = metadata_load(a, &ja);
        rb = metadata_load(b, &jb);
        if (ra == -1 || rb == -1)
                same = ra == -1 && rb == -1 && !strcmp(a, b);
        else if (!ja || !jb)
                same = !ja && !jb;
        else
                same = json_same(ja, jb);
        json_decref(ja);
        json_decref(jb);
        return same;
}

uint64_t vcdc_verify_digest(const vcdc_record_t *rec) {
        hasher_t hs;
        uint32_t bits[2];
        uint64_t k;
        size_t i;

        hasher_init(&hs, TAG_VECTOR);
        hasher_u64(&hs, rec->vector ? rec->dim : 0);
        for (i = 0; rec->vector && i < rec->dim; i += 2) {
                bits[1] = 0;
                memcpy(&bits[0], &rec->vector[i], sizeof(float));
                if (i + 1 < rec->dim)
                        memcpy(&bits[1], &rec->vector[i + 1], sizeof(float));
                /* -0.0 compares equal to 0.0: hash it alike. */
                if (bits[0] == 0x80000000u)
                        bits[0] = 0;
                if (bits[1] == 0x80000000u)
                        bits[1] = 0;
                k = (uint64_t)bits[0] | (uint64_t)bits[1] << 32;
                hasher_u64(&hs, k);
        }
        hasher_u64(&hs, metadata_hash(rec->metadata));
        hasher_u64(&hs, rec->document ? hash_bytes(rec->document,
                                                   strlen(rec->document),
                                                   TAG_DOCUMENT)
                                      : hash_bytes(NULL, 0, TAG_NO_DOCUMENT));
        return hasher_final(&hs);
}

/* ---- Comparing -------------------------------------------------------- */

static int vector_same(const vcdc_record_t *a, const vcdc_record_t *b,
                       double tolerance) {
        size_t da = a->vector ? a->dim : 0, db = b->vector ? b->dim : 0;
        size_t i;

        if (da != db)
                return 0;
        if (tolerance < 0)
                tolerance = 0;
        for (i = 0; i < da; i++)
                if (!(fabs((double)a->vector[i] - (double)b->vector[i]) <=
                      tolerance))
                        return 0;
        return 1;
}

int vcdc_verify_compare(const vcdc_record_t *old_rec,
                        const vcdc_record_t *new_rec, double tolerance) {
        int mask = 0;

        if (!vector_same(old_rec, new_rec, tolerance))
                mask |= VCDC_VERIFY_VECTOR;
        if (!vcdc_verify_metadata_equal(old_rec->metadata, new_rec->metadata))
                mask |= VCDC_VERIFY_METADATA;
        if ((old_rec->document == NULL) != (new_rec->document == NULL) ||
            (old_rec->document && strcmp(old_rec->document, new_rec->document)))
                mask |= VCDC_VERIFY_DOCUMENT;
        return mask;
}

static void note(uint64_t *countp, char (*examples)[128], const char *id) {
        (*countp)++;
        if (*countp <= VCDC_VERIFY_EXAMPLES)
                snprintf(examples[*countp - 1], sizeof(*examples), "%s", id);
}

void vcdc_verify_account(vcdc_verify_result_t *res, const char *id,
                         const vcdc_record_t *old_rec,
                         const vcdc_record_t *new_rec, double tolerance) {
        int in_old = old_rec && old_rec->id, in_new = new_rec && new_rec->id;
        int mask;

        if (!in_old && !in_new)
                return; /* deleted from both since the scan */
        if (!in_new) {
                note(&res->missing, res->missing_ex, id);
                return;
        }
        if (!in_old) {
                note(&res->extra, res->extra_ex, id);
                return;
        }
        res->compared++;
        mask = vcdc_verify_compare(old_rec, new_rec, tolerance);
        if (mask & VCDC_VERIFY_VECTOR)
                note(&res->vector_diff, res->vector_ex, id);
        if (mask & VCDC_VERIFY_METADATA)
                note(&res->metadata_diff, res->metadata_ex, id);
        if (mask & VCDC_VERIFY_DOCUMENT)
                note(&res->document_diff, res->document_ex, id);
}

int vcdc_verify_ok(const vcdc_verify_result_t *res) {
        if (res->missing || res->extra || res->vector_diff ||
            res->metadata_diff || res->document_diff)
                return 0;
        return !res->sampled || res->old_count == res->new_count;
}

/* ---- The id map of one partition -------------------------------------- */

typedef struct slot_s {
        uint64_t hash;
        uint64_t digest;
        char *id; /* in the arena; NULL: empty slot */
} slot_t;

/* Bytes of table per id at the highest load (3/4). */
#define SLOT_COST (sizeof(slot_t) * 4 / 3 + 1)

typedef struct chunk_s {
        struct chunk_s *next;
        size_t used, size;
        char data[];
} chunk_t;

typedef struct idmap_s {
        slot_t *slots;
        uint64_t *seen; /* a bit per slot */
        size_t cap, cnt;
        chunk_t *chunks;
        size_t arena_bytes, chunk_size;
        size_t id_bytes; /* the ids' lengths, NULs included */
        size_t budget;
} idmap_t;

enum { MAP_OK = 0, MAP_DUP = 1, MAP_FULL = 2, MAP_OOM = -1 };

static size_t table_bytes(size_t cap) {
        return cap * sizeof(slot_t) + (cap + 63) / 64 * sizeof(uint64_t);
}

static size_t map_bytes(const idmap_t *map) {
        return table_bytes(map->cap) + map->arena_bytes;
}

static void map_free(idmap_t *map) {
        chunk_t *c, *next;

        for (c = map->chunks; c; c = next) {
                next = c->next;
                free(c);
        }
        free(map->slots);
        free(map->seen);
        memset(map, 0, sizeof(*map));
}

/* An empty map sized for about expected ids. */
static int map_init(idmap_t *map, size_t expected, size_t budget) {
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
                cap = budget / 4 * 3 / (sizeof(slot_t) + 1);
        map->cap = cap;
        if (!(map->slots = calloc(cap, sizeof(*map->slots))) ||
            !(map->seen = calloc((cap + 63) / 64, sizeof(uint64_t)))) {
                map_free(map);
                return -1;
        }
        return 0;
}

/* Where hash lands: Lemire's multiply-shift over the high bits, which the
 * partition (the low bits) leaves free. */
static size_t home(const idmap_t *map, uint64_t hash) {
        return (size_t)(((unsigned __int128)hash * map->cap) >> 64);
}

/* The slot holding id, or the empty slot where it would go. */
static size_t map_probe(const idmap_t *map, uint64_t hash, const char *id) {
        size_t i = home(map, hash);

        while (map->slots[i].id &&
               (map->slots[i].hash != hash || strcmp(map->slots[i].id, id))) {
                if (++i == map->cap)
                        i = 0;
        }
        return i;
}

static int map_grow(idmap_t *map) {
        size_t newcap = map->cap * 2, i, j;
        slot_t *slots;
        uint64_t *seen;

        /* Both tables live at once while rehashing. */
        if (table_bytes(map->cap) + table_bytes(newcap) + map->arena_bytes >
            map->budget)
                return MAP_FULL;
        if (!(slots = calloc(newcap, sizeof(*slots))))
                return MAP_OOM;
        if (!(seen = calloc((newcap + 63) / 64, sizeof(uint64_t)))) {
                free(slots);
                return MAP_OOM;
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
        return MAP_OK;
}

/* Copies id into the arena: MAP_OK with *outp set, MAP_FULL, MAP_OOM. */
static int arena_dup(idmap_t *map, const char *id, size_t len, char **outp) {
        chunk_t *c = map->chunks;

        if (!c || c->size - c->used < len + 1) {
                size_t size =
                        len + 1 > map->chunk_size ? len + 1 : map->chunk_size;
                if (map_bytes(map) + sizeof(*c) + size > map->budget)
                        return MAP_FULL;
                if (!(c = malloc(sizeof(*c) + size)))
                        return MAP_OOM;
                c->size = size;
                c->used = 0;
                c->next = map->chunks;
                map->chunks = c;
                map->arena_bytes += sizeof(*c) + size;
        }
        *outp = c->data + c->used;
        memcpy(*outp, id, len + 1);
        c->used += len + 1;
        return MAP_OK;
}

static int map_insert(idmap_t *map, uint64_t hash, const char *id,
                      uint64_t digest) {
        size_t i, len = strlen(id);
        char *copy;
        int rc;

        if ((map->cnt + 1) * 4 > map->cap * 3 && (rc = map_grow(map)))
                return rc;
        i = map_probe(map, hash, id);
        if (map->slots[i].id)
                return MAP_DUP;
        if ((rc = arena_dup(map, id, len, &copy)))
                return rc;
        map->slots[i].id = copy;
        map->slots[i].hash = hash;
        map->slots[i].digest = digest;
        map->cnt++;
        map->id_bytes += len + 1;
        return MAP_OK;
}

static int map_seen(const idmap_t *map, size_t i) {
        return (map->seen[i / 64] >> (i % 64)) & 1;
}

static void map_set_seen(idmap_t *map, size_t i) {
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
        while ((double)parts < need && parts < PARTITIONS_MAX)
                parts <<= 1;
        return parts;
}

/* ---- Talking to the sinks --------------------------------------------- */

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* After a failed call: 1 (having waited) when it is worth another try. */
static int retry(vcdc_sink_status_t status, int *attemptp, const char *role,
                 const char *what, const char *err) {
        struct timespec ts;
        long ms;

        if (status != VCDC_SINK_RETRIABLE || *attemptp >= RETRIES)
                return 0;
        ms = (long)RETRY_BASE_MS << *attemptp;
        VCDC_WARN(LOG_COMP, "%s: %s failed, retrying in %ld ms: %s", role, what,
                  ms, err);
        ts.tv_sec = ms / 1000;
        ts.tv_nsec = (ms % 1000) * 1000000L;
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
                ;
        (*attemptp)++;
        return 1;
}

static int count_side(vcdc_sink_t *sink, const char *role, uint64_t *countp,
                      char *errstr, size_t errstr_size) {
        vcdc_sink_status_t status;
        int attempt = 0;
        char err[512];

        while ((status = vcdc_sink_count(sink, countp, err, sizeof(err))) !=
               VCDC_SINK_OK)
                if (!retry(status, &attempt, role, "count", err)) {
                        snprintf(errstr, errstr_size, "%s: counting: %s", role,
                                 err);
                        return -1;
                }
        return 0;
}

static int get_side(vcdc_sink_t *sink, const char *role, const char *const *ids,
                    size_t cnt, vcdc_record_t *out, char *errstr,
                    size_t errstr_size) {
        vcdc_sink_status_t status;
        int attempt = 0;
        char err[512];
        size_t i;

        for (;;) {
                status = vcdc_sink_get(sink, ids, cnt, out, err, sizeof(err));
                if (status == VCDC_SINK_OK)
                        return 0;
                for (i = 0; i < cnt; i++)
                        vcdc_record_clear(&out[i]);
                if (!retry(status, &attempt, role, "get", err))
                        break;
        }
        snprintf(errstr, errstr_size, "%s: getting records by id: %s", role,
                 err);
        return -1;
}

typedef struct progress_s {
        const char *what;
        uint64_t done, total;
        double start, last;
} progress_t;

static void progress_start(progress_t *prog, const char *what, uint64_t total) {
        prog->what = what;
        prog->done = 0;
        prog->total = total;
        prog->start = prog->last = now_s();
}

static void progress_add(progress_t *prog, size_t n) {
        double now = now_s(), rate;

        prog->done += n;
        if (now - prog->last < PROGRESS_EVERY_S)
                return;
        prog->last = now;
        rate = (double)prog->done / (now - prog->start);
        if (prog->total > prog->done && rate > 0)
                VCDC_NOTICE(LOG_COMP,
                            "%s: %llu of ~%llu records (%.0f/s, ETA %.0f s)",
                            prog->what, (unsigned long long)prog->done,
                            (unsigned long long)prog->total, rate,
                            (double)(prog->total - prog->done) / rate);
        else
                VCDC_NOTICE(LOG_COMP, "%s: %llu records (%.0f/s)", prog->what,
                            (unsigned long long)prog->done, rate);
}

/* Called for each scanned record: 0 go on, 1 stop the scan, -1 error.
 * It may take the record over, leaving it initialised. */
typedef int (*record_cb_t)(void *ctx, vcdc_record_t *rec, char *errstr,
                           size_t errstr_size);

/* Scans all of sink. Returns 0 at the end, or what cb returned. */
static int scan_side(vcdc_sink_t *sink, const char *role, size_t page,
                     int with_vectors, progress_t *prog, record_cb_t cb,
                     void *ctx, char *errstr, size_t errstr_size) {
        vcdc_sink_status_t status;
        vcdc_record_t *recs;
        char *cursor = NULL, err[512];
        size_t n, i;
        int rc = 0, attempt;

        if (!(recs = calloc(page, sizeof(*recs)))) {
                snprintf(errstr, errstr_size, "%s: out of memory", role);
                return -1;
        }
        for (i = 0; i < page; i++)
                vcdc_record_init(&recs[i]);
        do {
                attempt = 0;
                while ((status = vcdc_sink_scan(sink, &cursor, page,
                                                with_vectors, recs, &n, err,
                                                sizeof(err))) != VCDC_SINK_OK) {
                        if (!retry(status, &attempt, role, "scan", err)) {
                                snprintf(errstr, errstr_size,
                                         "%s: scanning: %s", role, err);
                                rc = -1;
                                goto done;
                        }
                }
                for (i = 0; i < n && !rc; i++)
                        if (recs[i].id)
                                rc = cb(ctx, &recs[i], errstr, errstr_size);
                for (i = 0; i < n; i++)
                        vcdc_record_clear(&recs[i]);
                progress_add(prog, n);
        } while (!rc && cursor && n);
done:
        free(cursor);
        free(recs);
        return rc;
}

/* ---- Candidates: fetched, then judged ---------------------------------- */

/*
 * A candidate from NEW's scan comes with NEW's record (taken from the scan
 * page), so only OLD is read again; a candidate without one (missing from
 * NEW's scan, or sampled) is read from both sides.
 */

/* What one verification works with. */
typedef struct run_s {
        vcdc_sink_t *old_sink, *new_sink;
        double tolerance;
        size_t page, memory;
        uint64_t old_count, new_count; /* as the targets count them */
} run_t;

typedef struct judge_s {
        vcdc_sink_t *old_sink, *new_sink;
        vcdc_verify_result_t *res;
        double tolerance;
        size_t page;
        size_t cnt;
        char **ids;
        vcdc_record_t *old_recs, *new_recs;
        /* For the NEW reads: which candidates, their ids, the answers. */
        size_t *fetch_idx;
        const char **fetch_ids;
        vcdc_record_t *fetch_recs;
} judge_t;

static void judge_free(judge_t *jg) {
        size_t i;

        for (i = 0; jg->ids && i < jg->cnt; i++) {
                free(jg->ids[i]);
                vcdc_record_clear(&jg->new_recs[i]);
        }
        free(jg->ids);
        free(jg->old_recs);
        free(jg->new_recs);
        free(jg->fetch_idx);
        free(jg->fetch_ids);
        free(jg->fetch_recs);
        memset(jg, 0, sizeof(*jg));
}

static int judge_init(judge_t *jg, const run_t *run,
                      vcdc_verify_result_t *res) {
        size_t i, page = run->page;

        memset(jg, 0, sizeof(*jg));
        jg->old_sink = run->old_sink;
        jg->new_sink = run->new_sink;
        jg->res = res;
        jg->tolerance = run->tolerance;
        jg->page = page;
        if (!(jg->ids = calloc(page, sizeof(*jg->ids))) ||
            !(jg->old_recs = calloc(page, sizeof(*jg->old_recs))) ||
            !(jg->new_recs = calloc(page, sizeof(*jg->new_recs))) ||
            !(jg->fetch_idx = calloc(page, sizeof(*jg->fetch_idx))) ||
            !(jg->fetch_ids = calloc(page, sizeof(*jg->fetch_ids))) ||
            !(jg->fetch_recs = calloc(page, sizeof(*jg->fetch_recs)))) {
                judge_free(jg);
                return -1;
        }
        for (i = 0; i < page; i++) {
                vcdc_record_init(&jg->old_recs[i]);
                vcdc_record_init(&jg->new_recs[i]);
                vcdc_record_init(&jg->fetch_recs[i]);
        }
        return 0;
}

/* Reads NEW for the candidates that came without NEW's record. */
static int judge_read_new(judge_t *jg, char *errstr, size_t errstr_size) {
        size_t i, n = 0;

        for (i = 0; i < jg->cnt; i++)
                if (!jg->new_recs[i].id) {
                        jg->fetch_idx[n] = i;
                        jg->fetch_ids[n++] = jg->ids[i];
                }
        if (!n)
                return 0;
        if (get_side(jg->new_sink, "NEW", jg->fetch_ids, n, jg->fetch_recs,
                     errstr, errstr_size) == -1)
                return -1;
        for (i = 0; i < n; i++) {
                /* Moved: the fetch slot is left initialised. */
                jg->new_recs[jg->fetch_idx[i]] = jg->fetch_recs[i];
                vcdc_record_init(&jg->fetch_recs[i]);
        }
        return 0;
}

/* Reads and judges the pending candidates. */
static int judge_flush(judge_t *jg, char *errstr, size_t errstr_size) {
        size_t i;
        int rc = -1;

        if (!jg->cnt)
                return 0;
        if (get_side(jg->old_sink, "OLD", (const char *const *)jg->ids, jg->cnt,
                     jg->old_recs, errstr, errstr_size) == -1)
                goto done;
        if (judge_read_new(jg, errstr, errstr_size) == -1)
                goto done;
        for (i = 0; i < jg->cnt; i++)
                vcdc_verify_account(jg->res, jg->ids[i], &jg->old_recs[i],
                                    &jg->new_recs[i], jg->tolerance);
        jg->res->fetched += jg->cnt;
        rc = 0;
done:
        for (i = 0; i < jg->cnt; i++) {
                vcdc_record_clear(&jg->old_recs[i]);
                vcdc_record_clear(&jg->new_recs[i]);
                free(jg->ids[i]);
                jg->ids[i] = NULL;
        }
        jg->cnt = 0;
        return rc;
}

/* Adds a candidate; new_rec (may be NULL) is NEW's record, which the judge
 * takes over (it is left initialised). */
static int judge_add(judge_t *jg, const char *id, vcdc_record_t *new_rec,
                     char *errstr, size_t errstr_size) {
        if (!(jg->ids[jg->cnt] = strdup(id))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (new_rec) {
                jg->new_recs[jg->cnt] = *new_rec;
                vcdc_record_init(new_rec);
        }
        if (++jg->cnt == jg->page)
                return judge_flush(jg, errstr, errstr_size);
        return 0;
}

/* ---- Full mode --------------------------------------------------------- */

typedef struct part_s {
        uint64_t r, m; /* ids with hash mod m == r */
} part_t;

typedef struct full_s {
        judge_t judge;
        idmap_t map;
        part_t part;
        uint64_t old_seen, new_seen; /* this pass, in the partition */
        uint64_t scanned;            /* this pass, all of OLD */
        uint64_t dups;
} full_t;

static int in_part(const part_t *part, uint64_t hash) {
        return (hash & (part->m - 1)) == part->r;
}

static int old_record(void *ctx, vcdc_record_t *rec, char *errstr,
                      size_t errstr_size) {
        full_t *f = ctx;
        uint64_t hash = hash_id(rec->id);

        f->scanned++;
        if (!in_part(&f->part, hash))
                return 0;
        switch (map_insert(&f->map, hash, rec->id, vcdc_verify_digest(rec))) {
        case MAP_OK:
                f->old_seen++;
                return 0;
        case MAP_DUP:
                f->dups++;
                return 0;
        case MAP_FULL:
                return 1;
        default:
                snprintf(errstr, errstr_size,
                         "out of memory holding %zu ids (%zu bytes)",
                         f->map.cnt, map_bytes(&f->map));
                return -1;
        }
}

static int new_record(void *ctx, vcdc_record_t *rec, char *errstr,
                      size_t errstr_size) {
        full_t *f = ctx;
        uint64_t hash = hash_id(rec->id);
        size_t i;

        if (!in_part(&f->part, hash))
                return 0;
        i = map_probe(&f->map, hash, rec->id);
        if (!f->map.slots[i].id) {
                f->new_seen++;
                return judge_add(&f->judge, rec->id, rec, errstr, errstr_size);
        }
        if (map_seen(&f->map, i)) {
                f->dups++;
                return 0;
        }
        map_set_seen(&f->map, i);
        f->new_seen++;
        if (f->map.slots[i].digest == vcdc_verify_digest(rec)) {
                f->judge.res->compared++;
                return 0;
        }
        return judge_add(&f->judge, rec->id, rec, errstr, errstr_size);
}

/* The ids of OLD's first page, to plan with their average length. */
typedef struct peek_s {
        size_t n, bytes, max;
} peek_t;

static int peek_record(void *ctx, vcdc_record_t *rec, char *errstr,
                       size_t errstr_size) {
        peek_t *pk = ctx;

        (void)errstr;
        (void)errstr_size;
        pk->bytes += strlen(rec->id);
        return ++pk->n >= pk->max;
}

static int avg_id_len(const run_t *run, size_t *lenp, char *errstr,
                      size_t errstr_size) {
        peek_t pk = {0, 0, run->page};
        progress_t prog;

        progress_start(&prog, "OLD, first page", 0);
        if (scan_side(run->old_sink, "OLD", run->page, 0 /*ids only*/, &prog,
                      peek_record, &pk, errstr, errstr_size) == -1)
                return -1;
        *lenp = pk.n ? (pk.bytes + pk.n - 1) / pk.n : ID_LEN_ASSUMED;
        return 0;
}

/* Splits the partition that overflowed into enough sub-partitions, from
 * what its aborted pass measured; appends them to *partsp. */
static int split(full_t *f, const run_t *run, part_t **partsp, size_t *cntp,
                 size_t *sizep, char *errstr, size_t errstr_size) {
        uint64_t old_count = run->old_count, est, ways, j;
        size_t memory = run->memory;
        size_t avg = f->map.cnt ? f->map.id_bytes / f->map.cnt : 1;

        /* The partition's share of OLD, extrapolated from how far the
         * scan got; at least twice what it held when it overflowed. */
        est = old_count / f->part.m;
        if (f->scanned && f->scanned < old_count &&
            est < (uint64_t)((double)f->map.cnt * (double)old_count /
                             (double)f->scanned))
                est = (uint64_t)((double)f->map.cnt * (double)old_count /
                                 (double)f->scanned);
        if (est < (uint64_t)f->map.cnt * 2)
                est = (uint64_t)f->map.cnt * 2;
        ways = vcdc_verify_partitions(est, avg, memory);
        if (ways < 2)
                ways = 2;
        if (f->part.m > PARTITIONS_MAX / ways) {
                snprintf(errstr, errstr_size,
                         "the memory budget (%zu bytes) is too small for "
                         "these ids",
                         memory);
                return -1;
        }
        VCDC_NOTICE(LOG_COMP,
                    "partition %llu/%llu outgrew %zu bytes at %zu ids "
                    "(%zu bytes an id on average): splitting it in %llu",
                    (unsigned long long)f->part.r,
                    (unsigned long long)f->part.m, memory, f->map.cnt, avg,
                    (unsigned long long)ways);
        if (*cntp + ways > *sizep) {
                size_t size = (*cntp + ways) * 2;
                part_t *parts = realloc(*partsp, size * sizeof(*parts));
                if (!parts) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
                *partsp = parts;
                *sizep = size;
        }
        /* Pushed last to first, so they are taken in order. */
        for (j = ways; j-- > 0;) {
                (*partsp)[*cntp].r = f->part.r + j * f->part.m;
                (*partsp)[*cntp].m = f->part.m * ways;
                (*cntp)++;
        }
        return 0;
}

static int verify_full(const run_t *run, vcdc_verify_result_t *res,
                       char *errstr, size_t errstr_size) {
        uint64_t old_count = run->old_count, new_count = run->new_count;
        size_t cnt = 0, size, i, memory = run->memory, id_len;
        part_t *parts = NULL;
        uint64_t planned;
        progress_t prog;
        char what[128];
        full_t f;
        int rc = -1;

        memset(&f, 0, sizeof(f));
        if (judge_init(&f.judge, run, res) == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (avg_id_len(run, &id_len, errstr, errstr_size) == -1)
                goto done;
        planned = vcdc_verify_partitions(old_count, id_len, memory);
        size = (size_t)planned + 16;
        if (!(parts = calloc(size, sizeof(*parts)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        for (i = (size_t)planned; i-- > 0; cnt++) {
                parts[cnt].r = i;
                parts[cnt].m = planned;
        }
        VCDC_NOTICE(LOG_COMP,
                    "full comparison: OLD holds %llu records, NEW %llu; "
                    "%llu partition(s) for %zu bytes of ids (%zu bytes "
                    "long on average) and digests",
                    (unsigned long long)old_count,
                    (unsigned long long)new_count, (unsigned long long)planned,
                    memory, id_len);
        while (cnt > 0) {
                int r;

                f.part = parts[--cnt];
                f.old_seen = f.new_seen = f.scanned = 0;
                if (map_init(&f.map,
                             (size_t)(old_count / f.part.m +
                                      old_count / f.part.m / 16),
                             memory) == -1) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto done;
                }
                snprintf(what, sizeof(what), "OLD, partition %llu/%llu",
                         (unsigned long long)f.part.r,
                         (unsigned long long)f.part.m);
                progress_start(&prog, what, old_count);
                r = scan_side(run->old_sink, "OLD", run->page,
                              1 /*with vectors*/, &prog, old_record, &f, errstr,
                              errstr_size);
                if (r == -1)
                        goto done;
                if (r == 1) {
                        if (split(&f, run, &parts, &cnt, &size, errstr,
                                  errstr_size) == -1)
                                goto done;
                        map_free(&f.map);
                        continue;
                }
                snprintf(what, sizeof(what), "NEW, partition %llu/%llu",
                         (unsigned long long)f.part.r,
                         (unsigned long long)f.part.m);
                progress_start(&prog, what, new_count);
                if (scan_side(run->new_sink, "NEW", run->page,
                              1 /*with vectors*/, &prog, new_record, &f, errstr,
                              errstr_size))
                        goto done;
                for (i = 0; i < f.map.cap; i++)
                        if (f.map.slots[i].id && !map_seen(&f.map, i) &&
                            judge_add(&f.judge, f.map.slots[i].id, NULL, errstr,
                                      errstr_size) == -1)
                                goto done;
                if (judge_flush(&f.judge, errstr, errstr_size) == -1)
                        goto done;
                res->old_count += f.old_seen;
                res->new_count += f.new_seen;
                res->passes++;
                VCDC_INFO(LOG_COMP,
                          "partition %llu/%llu done: %llu OLD and %llu NEW "
                          "records, %zu bytes for ids and digests",
                          (unsigned long long)f.part.r,
                          (unsigned long long)f.part.m,
                          (unsigned long long)f.old_seen,
                          (unsigned long long)f.new_seen, map_bytes(&f.map));
                map_free(&f.map);
        }
        if (f.dups)
                VCDC_WARN(LOG_COMP,
                          "%llu ids came twice in a scan (did a target change "
                          "during verification?)",
                          (unsigned long long)f.dups);
        rc = 0;
done:
        map_free(&f.map);
        judge_free(&f.judge);
        free(parts);
        return rc;
}

/* ---- Sample mode ------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state) {
        uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

typedef struct reservoir_s {
        char **ids;
        size_t cnt, n;
        uint64_t seen, rng;
} reservoir_t;

static int reservoir_record(void *ctx, vcdc_record_t *rec, char *errstr,
                            size_t errstr_size) {
        reservoir_t *rs = ctx;
        uint64_t j;
        char *id;

        rs->seen++;
        if (rs->cnt < rs->n) {
                j = rs->cnt++;
        } else {
                j = splitmix64(&rs->rng) % rs->seen;
                if (j >= rs->n)
                        return 0;
        }
        if (!(id = strdup(rec->id))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        free(rs->ids[j]);
        rs->ids[j] = id;
        return 0;
}

void vcdc_verify_ids_free(char **ids, size_t cnt) {
        size_t i;

        if (!ids)
                return;
        for (i = 0; i < cnt; i++)
                free(ids[i]);
        free(ids);
}

int vcdc_verify_sample_ids(vcdc_sink_t *sink, size_t n, uint32_t seed,
                           size_t page, char ***idsp, size_t *cntp,
                           uint64_t *scannedp, char *errstr,
                           size_t errstr_size) {
        reservoir_t rs;
        progress_t prog;

        *idsp = NULL;
        *cntp = 0;
        if (scannedp)
                *scannedp = 0;
        memset(&rs, 0, sizeof(rs));
        rs.n = n;
        rs.rng = seed;
        if (!page)
                page = PAGE_DEFAULT;
        if (!(rs.ids = calloc(n ? n : 1, sizeof(*rs.ids)))) {
                snprintf(errstr, errstr_size, "out of memory for %zu ids", n);
                return -1;
        }
        progress_start(&prog, "sampling OLD's ids", 0);
        if (n && scan_side(sink, "OLD", page, 0 /*ids only*/, &prog,
                           reservoir_record, &rs, errstr, errstr_size)) {
                vcdc_verify_ids_free(rs.ids, rs.cnt);
                return -1;
        }
        *idsp = rs.ids;
        *cntp = rs.cnt;
        if (scannedp)
                *scannedp = rs.seen;
        return 0;
}

static int verify_sample(const run_t *run, size_t sample, uint32_t seed,
                         vcdc_verify_result_t *res, char *errstr,
                         size_t errstr_size) {
        char **ids = NULL;
        size_t cnt = 0, i;
        uint64_t scanned;
        judge_t jg;
        int rc = -1;

        if (judge_init(&jg, run, res) == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        res->old_count = run->old_count;
        res->new_count = run->new_count;
        if (vcdc_verify_sample_ids(run->old_sink, sample, seed, run->page, &ids,
                                   &cnt, &scanned, errstr, errstr_size) == -1)
                goto done;
        VCDC_NOTICE(LOG_COMP, "sampled %zu of %llu ids of OLD (seed %u)", cnt,
                    (unsigned long long)scanned, (unsigned)seed);
        res->sampled = cnt;
        for (i = 0; i < cnt; i++) {
                /* The judge takes the string over. */
                jg.ids[jg.cnt++] = ids[i];
                ids[i] = NULL;
                if (jg.cnt == jg.page &&
                    judge_flush(&jg, errstr, errstr_size) == -1)
                        goto done;
        }
        if (judge_flush(&jg, errstr, errstr_size) == -1)
                goto done;
        rc = 0;
done:
        vcdc_verify_ids_free(ids, cnt);
        judge_free(&jg);
        return rc;
}

/* ---- Entry ------------------------------------------------------------- */

int vcdc_verify(vcdc_sink_t *old_sink, vcdc_sink_t *new_sink,
                const vcdc_verify_opts_t *opts, vcdc_verify_result_t *res,
                char *errstr, size_t errstr_size) {
        vcdc_verify_opts_t defaults = {0};
        double start = now_s();
        run_t run;
        int rc;

        memset(res, 0, sizeof(*res));
        if (!opts)
                opts = &defaults;
        run.old_sink = old_sink;
        run.new_sink = new_sink;
        run.page = opts->page ? opts->page : PAGE_DEFAULT;
        run.memory = opts->memory ? opts->memory : VCDC_VERIFY_MEMORY_DEFAULT;
        if (run.memory < VCDC_VERIFY_MEMORY_MIN)
                run.memory = VCDC_VERIFY_MEMORY_MIN;
        run.tolerance =
                opts->tolerance == 0 ? TOLERANCE_DEFAULT : opts->tolerance;
        if (count_side(old_sink, "OLD", &run.old_count, errstr, errstr_size) ==
                    -1 ||
            count_side(new_sink, "NEW", &run.new_count, errstr, errstr_size) ==
                    -1)
                return -1;
        if (opts->sample)
                rc = verify_sample(&run, opts->sample, opts->seed, res, errstr,
                                   errstr_size);
        else
                rc = verify_full(&run, res, errstr, errstr_size);
        res->seconds = now_s() - start;
        return rc;
}

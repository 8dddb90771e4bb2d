/*
 * vcdc - decoding change records: the framing, a walk of the body against
 * the writer's schema (so avro-c never reads past a malformed one), the
 * direct decoder of the current schema and the generic one for the others,
 * and the record's limits.
 */
#include "codec_int.h"

#include <avro.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Decoding: read with the writer's schema, then take the fields by name.
 */
static schema_entry_t *find_entry(vcdc_codec_t *codec, const unsigned char *p,
                                  size_t len, size_t *hdrp, char *errstr,
                                  size_t errstr_size) {
        size_t i;

        if (len >= HDR_SOE && p[0] == MAGIC_SOE0 && p[1] == MAGIC_SOE1) {
                uint64_t fp = 0;
                for (i = 0; i < 8; i++)
                        fp |= (uint64_t)p[2 + i] << (8 * i);
                *hdrp = HDR_SOE;
                for (i = 0; i < codec->entry_cnt; i++)
                        if (codec->entries[i].fingerprint == fp)
                                return &codec->entries[i];
                snprintf(errstr, errstr_size,
                         "unknown schema fingerprint 0x%016llx",
                         (unsigned long long)fp);
                return NULL;
        }
        if (len >= HDR_CONFLUENT && p[0] == MAGIC_CONFLUENT) {
                int32_t id = (int32_t)(((uint32_t)p[1] << 24) |
                                       ((uint32_t)p[2] << 16) |
                                       ((uint32_t)p[3] << 8) | p[4]);
                *hdrp = HDR_CONFLUENT;
                for (i = 0; i < codec->entry_cnt; i++)
                        if (codec->entries[i].schema_id >= 0 &&
                            codec->entries[i].schema_id == id)
                                return &codec->entries[i];
                snprintf(errstr, errstr_size, "unknown schema id %d", id);
                return NULL;
        }
        snprintf(errstr, errstr_size,
                 "not an Avro single-object or Confluent-framed message "
                 "(%zu bytes, first 0x%02x)",
                 len, len ? p[0] : 0);
        return NULL;
}

/* The string of an optional field (NULL for null or a missing field).
 * On failure *whyp may say what is wrong beyond "invalid". */
static int get_opt_string(avro_value_t *val, const char *name, char **outp,
                          const char **whyp) {
        avro_value_t field, branch;
        const char *s;
        size_t size;

        *outp = NULL;
        if (avro_value_get_by_name(val, name, &field, NULL))
                return 0; /* not in the writer's schema: the default */
        if (avro_value_get_type(&field) == AVRO_UNION) {
                if (avro_value_get_current_branch(&field, &branch))
                        return -1;
                field = branch;
        }
        if (avro_value_get_type(&field) == AVRO_NULL)
                return 0;
        if (avro_value_get_type(&field) != AVRO_STRING ||
            avro_value_get_string(&field, &s, &size))
                return -1;
        if (size == 0)
                return -1;
        if (memchr(s, '\0', size - 1)) {
                /* an embedded NUL cannot be a C string, nor PostgreSQL
                 * text */
                *whyp = "holds a NUL byte";
                return -1;
        }
        return (*outp = strdup(s)) ? 0 : -1;
}

static int get_floats(avro_value_t *arr, float **outp, size_t *cntp) {
        avro_value_t el;
        size_t n, i;
        float *v;

        *outp = NULL;
        *cntp = 0;
        if (avro_value_get_type(arr) != AVRO_ARRAY ||
            avro_value_get_size(arr, &n))
                return -1;
        if (!n)
                return 0;
        if (!(v = malloc(n * sizeof(*v))))
                return -1;
        for (i = 0; i < n; i++) {
                if (avro_value_get_by_index(arr, i, &el, NULL) ||
                    avro_value_get_float(&el, &v[i])) {
                        free(v);
                        return -1;
                }
        }
        *outp = v;
        *cntp = n;
        return 0;
}

/* A decoder's refusal of a field: the record's collection and id as far as
 * known, the field, and why when there is more to say. Returns -1. */
static int invalid_field(const vcdc_record_t *rec, const char *what,
                         const char *why, char *errstr, size_t errstr_size) {
        snprintf(errstr, errstr_size, "record %s%s%s: invalid field \"%s\"%s%s",
                 rec->collection ? rec->collection : "?", rec->id ? "/" : "",
                 rec->id ? rec->id : "", what, why ? ": it " : "",
                 why ? why : "");
        return -1;
}

/* What both decoders require of the vector: finite, and there for an
 * upsert. Returns 0, or -1 with errstr. */
static int check_vector(const vcdc_record_t *rec, char *errstr,
                        size_t errstr_size) {
        size_t i;

        for (i = 0; i < rec->dim; i++)
                if (!isfinite(rec->vector[i]))
                        return invalid_field(rec, "vector", NULL, errstr,
                                             errstr_size);
        if (rec->op == VCDC_OP_UPSERT && !rec->dim) {
                snprintf(errstr, errstr_size,
                         "record %s/%s: upsert without a vector",
                         rec->collection, rec->id);
                return -1;
        }
        return 0;
}

static int extract(avro_value_t *val, vcdc_record_t *rec, char *errstr,
                   size_t errstr_size) {
        avro_value_t field, branch, sub;
        const char *what, *why = NULL;
        int sym;
        size_t i, n;

        what = "collection";
        if (get_opt_string(val, "collection", &rec->collection, &why) ||
            !rec->collection || !*rec->collection)
                goto bad;
        what = "id";
        if (get_opt_string(val, "id", &rec->id, &why) || !rec->id || !*rec->id)
                goto bad;
        what = "op";
        if (avro_value_get_by_name(val, "op", &field, NULL) ||
            avro_value_get_enum(&field, &sym) || sym < 0 || sym > 1)
                goto bad;
        rec->op = sym ? VCDC_OP_DELETE : VCDC_OP_UPSERT;
        what = "vector";
        if (!avro_value_get_by_name(val, "vector", &field, NULL) &&
            get_floats(&field, &rec->vector, &rec->dim))
                goto bad;
        if (check_vector(rec, errstr, errstr_size))
                return -1;
        what = "sparse";
        if (!avro_value_get_by_name(val, "sparse", &field, NULL)) {
                if (avro_value_get_current_branch(&field, &branch))
                        goto bad;
                if (avro_value_get_type(&branch) == AVRO_RECORD) {
                        rec->has_sparse = 1;
                        if (avro_value_get_by_name(&branch, "indices", &sub,
                                                   NULL) ||
                            avro_value_get_size(&sub, &n))
                                goto bad;
                        if (n && !(rec->sparse_indices =
                                           malloc(n * sizeof(uint32_t))))
                                goto bad;
                        for (i = 0; i < n; i++) {
                                avro_value_t el;
                                int64_t ix;
                                if (avro_value_get_by_index(&sub, i, &el,
                                                            NULL) ||
                                    avro_value_get_long(&el, &ix) || ix < 0 ||
                                    ix > UINT32_MAX)
                                        goto bad;
                                rec->sparse_indices[i] = (uint32_t)ix;
                        }
                        rec->sparse_nnz = n;
                        if (avro_value_get_by_name(&branch, "values", &sub,
                                                   NULL) ||
                            get_floats(&sub, &rec->sparse_values, &n) ||
                            n != rec->sparse_nnz)
                                goto bad;
                }
        }
        what = "metadata";
        if (get_opt_string(val, "metadata", &rec->metadata, &why))
                goto bad;
        what = "document";
        if (get_opt_string(val, "document", &rec->document, &why))
                goto bad;
        what = "source_ts_ms";
        if (!avro_value_get_by_name(val, "source_ts_ms", &field, NULL)) {
                if (avro_value_get_current_branch(&field, &branch))
                        goto bad;
                if (avro_value_get_type(&branch) == AVRO_INT64 &&
                    avro_value_get_long(&branch, &rec->source_ts_ms))
                        goto bad;
        }
        return 0;
bad:
        return invalid_field(rec, what, why, errstr, errstr_size);
}

/*
 * Before avro-c reads a body, walk it against the writer's schema: every
 * length and count must fit in the bytes that remain, and the record must
 * end exactly at the end of the message. avro-c allocates a string's length
 * before reading it, so this keeps a corrupt length from asking for
 * gigabytes, and it finds trailing bytes, which avro-c's memory reader does
 * not report.
 */
static int walk_long(const unsigned char **pp, const unsigned char *end,
                     int64_t *out) {
        const unsigned char *p = *pp;
        uint64_t v = 0;
        int shift = 0;

        do {
                if (p >= end || shift > 63)
                        return -1;
                v |= (uint64_t)(*p & 0x7f) << shift;
                shift += 7;
        } while (*p++ & 0x80);
        *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
        *pp = p;
        return 0;
}

static int walk(avro_schema_t schema, const unsigned char **pp,
                const unsigned char *end, int depth);

/* Array and map blocks: a count, or a negative count and a byte size. */
static int walk_blocks(avro_schema_t items, int is_map,
                       const unsigned char **pp, const unsigned char *end,
                       int depth) {
        int64_t cnt, size;

        for (;;) {
                if (walk_long(pp, end, &cnt))
                        return -1;
                if (cnt == 0)
                        return 0;
                if (cnt < 0) {
                        if (cnt == INT64_MIN || walk_long(pp, end, &size) ||
                            size < 0)
                                return -1;
                        cnt = -cnt;
                }
                /* Every item takes at least one byte in our schemas. */
                if (cnt > end - *pp)
                        return -1;
                if (!is_map && avro_typeof(items) == AVRO_FLOAT) {
                        if (cnt > (end - *pp) / 4)
                                return -1;
                        *pp += 4 * cnt;
                        continue;
                }
                while (cnt-- > 0) {
                        if (is_map) {
                                int64_t len;
                                if (walk_long(pp, end, &len) || len < 0 ||
                                    len > end - *pp)
                                        return -1;
                                *pp += len;
                        }
                        if (walk(items, pp, end, depth + 1))
                                return -1;
                }
        }
}

static int walk(avro_schema_t schema, const unsigned char **pp,
                const unsigned char *end, int depth) {
        int64_t v;
        size_t i, n;

        if (depth > 32)
                return -1;
        switch (avro_typeof(schema)) {
        case AVRO_NULL:
                return 0;
        case AVRO_BOOLEAN:
                if (*pp >= end || **pp > 1)
                        return -1;
                (*pp)++;
                return 0;
        case AVRO_INT32:
        case AVRO_INT64:
                return walk_long(pp, end, &v);
        case AVRO_FLOAT:
        case AVRO_DOUBLE:
                n = avro_typeof(schema) == AVRO_FLOAT ? 4 : 8;
                if ((size_t)(end - *pp) < n)
                        return -1;
                *pp += n;
                return 0;
        case AVRO_STRING:
        case AVRO_BYTES:
                if (walk_long(pp, end, &v) || v < 0 || v > end - *pp)
                        return -1;
                *pp += v;
                return 0;
        case AVRO_FIXED:
                v = avro_schema_fixed_size(schema);
                if (v < 0 || v > end - *pp)
                        return -1;
                *pp += v;
                return 0;
        case AVRO_ENUM:
                return walk_long(pp, end, &v) || v < 0 ||
                       v >= avro_schema_enum_number_of_symbols(schema);
        case AVRO_RECORD:
                n = avro_schema_record_size(schema);
                for (i = 0; i < n; i++)
                        if (walk(avro_schema_record_field_get_by_index(schema,
                                                                       (int)i),
                                 pp, end, depth + 1))
                                return -1;
                return 0;
        case AVRO_UNION:
                if (walk_long(pp, end, &v) || v < 0 ||
                    (size_t)v >= avro_schema_union_size(schema))
                        return -1;
                return walk(avro_schema_union_branch(schema, (int)v), pp, end,
                            depth + 1);
        case AVRO_ARRAY:
                return walk_blocks(avro_schema_array_items(schema), 0, pp, end,
                                   depth);
        case AVRO_MAP:
                return walk_blocks(avro_schema_map_values(schema), 1, pp, end,
                                   depth);
        case AVRO_LINK:
                return walk(avro_schema_link_target(schema), pp, end,
                            depth + 1);
        }
        return -1;
}

/*
 * The direct decoder of the current schema (entries[0], or an entry of the
 * same canonical form under a schema id), for bodies walk() accepted, so
 * every length, count and long is known to fit: the fields in schema order
 * straight into rec, with extract()'s checks and messages.
 * vcdc_codec_decode_generic() reads the same through avro-c;
 * tests/test_codec_fast.c and fuzz_codec hold the two equal.
 */
static int64_t take_long(const unsigned char **pp) {
        const unsigned char *p = *pp;
        uint64_t v = 0;
        int shift = 0;

        do {
                v |= (uint64_t)(*p & 0x7f) << shift;
                shift += 7;
        } while (*p++ & 0x80);
        *pp = p;
        return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* A string; -1 (*whyp set) if it holds a NUL, or no memory. */
static int take_string(const unsigned char **pp, char **outp,
                       const char **whyp) {
        size_t len = (size_t)take_long(pp);

        if (memchr(*pp, '\0', len)) {
                *whyp = "holds a NUL byte";
                return -1;
        }
        if (!(*outp = malloc(len + 1)))
                return -1;
        memcpy(*outp, *pp, len);
        (*outp)[len] = '\0';
        *pp += len;
        return 0;
}

/* The items of an array, block by block: 4-byte floats (is_float) or
 * longs, into a new array of *cntp floats or int64s. */
static int take_items(const unsigned char **pp, int is_float, void **outp,
                      size_t *cntp) {
        size_t n = 0, i, width = is_float ? sizeof(float) : sizeof(int64_t);
        unsigned char *v = NULL, *nv;
        int64_t cnt;

        *outp = NULL;
        *cntp = 0;
        while ((cnt = take_long(pp)) != 0) {
                if (cnt < 0) {
                        cnt = -cnt;
                        (void)take_long(pp); /* the block's byte size */
                }
                if (!(nv = realloc(v, (n + (size_t)cnt) * width))) {
                        free(v);
                        return -1;
                }
                v = nv;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                if (is_float) {
                        memcpy(v + n * width, *pp, 4 * (size_t)cnt);
                        *pp += 4 * cnt;
                        n += (size_t)cnt;
                        continue;
                }
#endif
                for (i = 0; i < (size_t)cnt; i++, n++) {
                        if (is_float) {
                                const unsigned char *b = *pp;
                                uint32_t u = (uint32_t)b[0] |
                                             (uint32_t)b[1] << 8 |
                                             (uint32_t)b[2] << 16 |
                                             (uint32_t)b[3] << 24;
                                memcpy(v + n * width, &u, 4);
                                *pp += 4;
                        } else {
                                int64_t l = take_long(pp);
                                memcpy(v + n * width, &l, width);
                        }
                }
        }
        *outp = v;
        *cntp = n;
        return 0;
}

static int decode_current(const unsigned char *p, vcdc_record_t *rec,
                          char *errstr, size_t errstr_size) {
        const char *what, *why = NULL;
        int64_t *ix = NULL;
        size_t i, n;
        void *items;

        what = "collection";
        if (take_string(&p, &rec->collection, &why) || !*rec->collection)
                goto bad;
        what = "id";
        if (take_string(&p, &rec->id, &why) || !*rec->id)
                goto bad;
        rec->op = take_long(&p) ? VCDC_OP_DELETE : VCDC_OP_UPSERT;
        what = "vector";
        if (take_items(&p, 1, &items, &rec->dim))
                goto bad;
        rec->vector = items;
        if (check_vector(rec, errstr, errstr_size))
                return -1;
        what = "sparse";
        if (take_long(&p)) {
                rec->has_sparse = 1;
                if (take_items(&p, 0, &items, &n))
                        goto bad;
                ix = items;
                if (n && !(rec->sparse_indices = malloc(n * sizeof(uint32_t))))
                        goto bad;
                for (i = 0; i < n; i++) {
                        if (ix[i] < 0 || ix[i] > UINT32_MAX)
                                goto bad;
                        rec->sparse_indices[i] = (uint32_t)ix[i];
                }
                free(ix);
                ix = NULL;
                rec->sparse_nnz = n;
                if (take_items(&p, 1, &items, &n))
                        goto bad;
                rec->sparse_values = items;
                if (n != rec->sparse_nnz)
                        goto bad;
        }
        what = "metadata";
        if (take_long(&p) && take_string(&p, &rec->metadata, &why))
                goto bad;
        what = "document";
        if (take_long(&p) && take_string(&p, &rec->document, &why))
                goto bad;
        if (take_long(&p))
                rec->source_ts_ms = take_long(&p);
        return 0;
bad:
        free(ix);
        return invalid_field(rec, what, why, errstr, errstr_size);
}

static int decode(vcdc_codec_t *codec, const void *buf, size_t len,
                  vcdc_record_t *rec, int generic, char *errstr,
                  size_t errstr_size) {
        schema_entry_t *e;
        avro_reader_t reader;
        const unsigned char *body, *end;
        size_t hdr;
        int r;

        vcdc_record_clear(rec);
        if (!buf) {
                snprintf(errstr, errstr_size, "empty message (tombstone)");
                return -1;
        }
        if (!(e = find_entry(codec, buf, len, &hdr, errstr, errstr_size)))
                return -1;
        body = (const unsigned char *)buf + hdr;
        end = (const unsigned char *)buf + len;
        if (walk(e->schema, &body, end, 0)) {
                snprintf(errstr, errstr_size,
                         "undecodable Avro body (%zu bytes): truncated or "
                         "corrupt",
                         len - hdr);
                return -1;
        }
        if (body != end) {
                snprintf(errstr, errstr_size,
                         "%zu trailing bytes after the Avro record",
                         (size_t)(end - body));
                return -1;
        }
        if (!generic && e->fingerprint == codec->entries[0].fingerprint) {
                r = decode_current((const unsigned char *)buf + hdr, rec,
                                   errstr, errstr_size);
        } else {
                avro_value_reset(&e->value);
                reader = avro_reader_memory((const char *)buf + hdr,
                                            (int64_t)(len - hdr));
                r = avro_value_read(reader, &e->value);
                avro_reader_free(reader);
                if (r) {
                        snprintf(errstr, errstr_size,
                                 "undecodable Avro body: %s", avro_strerror());
                        return -1;
                }
                r = extract(&e->value, rec, errstr, errstr_size);
        }
        if (r == 0)
                r = vcdc_record_check_limits(rec, errstr, errstr_size);
        if (r == -1)
                vcdc_record_clear(rec);
        return r;
}

int vcdc_codec_decode(vcdc_codec_t *codec, const void *buf, size_t len,
                      vcdc_record_t *rec, char *errstr, size_t errstr_size) {
        return decode(codec, buf, len, rec, 0, errstr, errstr_size);
}

int vcdc_codec_decode_generic(vcdc_codec_t *codec, const void *buf, size_t len,
                              vcdc_record_t *rec, char *errstr,
                              size_t errstr_size) {
        return decode(codec, buf, len, rec, 1, errstr, errstr_size);
}

/*
 * vcdc - the Chroma sink's requests: the JSON bodies of upsert, delete,
 * get, query, create and the offsets records, built as text (floats in
 * the shortest form that reads back, embeddings as base64 when the server
 * takes it). Builds strings only: checks go through sink_chroma_check.c,
 * and nothing here sends anything.
 */
#include "sink_chroma_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void buf_json(vcdc_buf_t *b, const json_t *v) {
        const size_t flags = JSON_ENCODE_ANY | JSON_COMPACT;
        size_t n = json_dumpb(v, NULL, 0, flags);

        if (!n) {
                b->failed = 1;
                return;
        }
        if (vcdc_buf_reserve(b, n) == -1)
                return;
        json_dumpb(v, b->p + b->len, n, flags);
        b->len += n;
        b->p[b->len] = '\0';
}

/* A JSON string. Returns -1 when s is not UTF-8. */
static int buf_jstr(vcdc_buf_t *b, const char *s) {
        json_t *j = json_string(s);

        if (!j)
                return -1;
        buf_json(b, j);
        json_decref(j);
        return 0;
}

/* A metadata value, floats as their shortest text. *inexactp (may be
 * NULL) counts floats Chroma will store altered. */
static void put_value(vcdc_buf_t *b, const json_t *v, size_t *inexactp) {
        char tmp[64];
        double d;

        switch (json_typeof(v)) {
        case JSON_INTEGER:
                vcdc_buf_printf(b, "%" JSON_INTEGER_FORMAT,
                                json_integer_value(v));
                break;
        case JSON_REAL:
                d = json_real_value(v);
                vcdc_chroma_real_text(d, tmp, sizeof(tmp));
                vcdc_buf_puts(b, tmp);
                if (inexactp && vcdc_chroma_stored_real(d) != d)
                        (*inexactp)++;
                break;
        default:
                buf_json(b, v);
                break;
        }
}

/* float32 as text that reads back to the same float32 ("-0" would read
 * back as the integer 0). */
static void put_float(vcdc_buf_t *b, float f) {
        if (f == 0.0f && signbit(f))
                vcdc_buf_puts(b, "-0.0");
        else
                vcdc_buf_printf(b, "%.9g", (double)f);
}

static void put_floats(vcdc_buf_t *b, const float *vector, size_t dim) {
        size_t i;

        vcdc_buf_puts(b, "[");
        for (i = 0; i < dim; i++) {
                if (i)
                        vcdc_buf_puts(b, ",");
                put_float(b, vector[i]);
        }
        vcdc_buf_puts(b, "]");
}

/*
 * Writes obj (NULL: none) with, after its keys, each key of old (NULL:
 * none) that obj lacks as null, or "null" when that leaves no key at all.
 */
static void put_metadata(vcdc_buf_t *b, const json_t *obj, const json_t *old,
                         size_t *inexactp) {
        const char *key;
        json_t *v;
        size_t n = 0;

        json_object_foreach((json_t *)obj, key, v) {
                vcdc_buf_puts(b, n++ ? "," : "{");
                buf_jstr(b, key);
                vcdc_buf_puts(b, ":");
                put_value(b, v, inexactp);
        }
        json_object_foreach((json_t *)old, key, v) {
                if (json_object_get(obj, key))
                        continue;
                vcdc_buf_puts(b, n++ ? "," : "{");
                buf_jstr(b, key);
                vcdc_buf_puts(b, ":null");
        }
        vcdc_buf_puts(b, n ? "}" : "null");
}

char *vcdc_chroma_metadata_dump(const json_t *obj) {
        vcdc_buf_t b = VCDC_BUF_INIT;

        if (!json_object_size(obj))
                vcdc_buf_puts(&b, "{}");
        else
                put_metadata(&b, obj, NULL, NULL);
        return vcdc_buf_detach(&b, NULL);
}

char *vcdc_chroma_base64_floats(const float *vector, size_t dim) {
        static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "abcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t nbytes = dim * 4, i, o = 0;
        unsigned char *bytes;
        char *out;

        if (!(bytes = malloc(nbytes + 1)))
                return NULL;
        if (!(out = malloc((nbytes + 2) / 3 * 4 + 1))) {
                free(bytes);
                return NULL;
        }
        for (i = 0; i < dim; i++) {
                uint32_t u;
                memcpy(&u, &vector[i], 4);
                bytes[i * 4] = (unsigned char)(u & 0xff);
                bytes[i * 4 + 1] = (unsigned char)((u >> 8) & 0xff);
                bytes[i * 4 + 2] = (unsigned char)((u >> 16) & 0xff);
                bytes[i * 4 + 3] = (unsigned char)(u >> 24);
        }
        for (i = 0; i + 2 < nbytes; i += 3) {
                uint32_t v = (uint32_t)bytes[i] << 16 |
                             (uint32_t)bytes[i + 1] << 8 | bytes[i + 2];
                out[o++] = tbl[v >> 18];
                out[o++] = tbl[(v >> 12) & 63];
                out[o++] = tbl[(v >> 6) & 63];
                out[o++] = tbl[v & 63];
        }
        if (i < nbytes) {
                uint32_t v = (uint32_t)bytes[i] << 16;
                if (i + 1 < nbytes)
                        v |= (uint32_t)bytes[i + 1] << 8;
                out[o++] = tbl[v >> 18];
                out[o++] = tbl[(v >> 12) & 63];
                out[o++] = i + 1 < nbytes ? tbl[(v >> 6) & 63] : '=';
                out[o++] = '=';
        }
        out[o] = '\0';
        free(bytes);
        return out;
}

size_t vcdc_chroma_upsert_body(const vcdc_record_t *const *recs, size_t cnt,
                               const json_t *const *old_metadatas, int base64,
                               size_t max_bytes, char **bodyp, size_t *lenp,
                               size_t *inexactp, char *errstr,
                               size_t errstr_size) {
        static const char *const head[4] = {
                "{\"ids\":[",
                "],\"embeddings\":[",
                "],\"metadatas\":[",
                "],\"documents\":[",
        };
        vcdc_buf_t part[4] = {VCDC_BUF_INIT, VCDC_BUF_INIT, VCDC_BUF_INIT,
                              VCDC_BUF_INIT},
                   body = VCDC_BUF_INIT;
        size_t n, i, mark[4], total, dim = 0, inexact = 0, rec_inexact;

        *bodyp = NULL;
        *lenp = 0;
        if (inexactp)
                *inexactp = 0;
        if (!cnt) {
                snprintf(errstr, errstr_size, "no record to upsert");
                return 0;
        }
        for (n = 0; n < cnt; n++) {
                const vcdc_record_t *rec = recs[n];
                json_t *meta;

                if (vcdc_chroma_record_check_meta(rec, VCDC_METRIC_UNSET, &dim,
                                                  &meta, errstr,
                                                  errstr_size) == -1)
                        goto err;
                for (i = 0; i < 4; i++) {
                        mark[i] = part[i].len;
                        if (n)
                                vcdc_buf_puts(&part[i], ",");
                }
                buf_jstr(&part[0], rec->id);
                if (base64) {
                        char *s = vcdc_chroma_base64_floats(rec->vector,
                                                            rec->dim);
                        if (!s)
                                part[1].failed = 1;
                        vcdc_buf_puts(&part[1], "\"");
                        if (s)
                                vcdc_buf_puts(&part[1], s);
                        vcdc_buf_puts(&part[1], "\"");
                        free(s);
                } else {
                        put_floats(&part[1], rec->vector, rec->dim);
                }
                rec_inexact = 0;
                put_metadata(&part[2], meta,
                             old_metadatas ? old_metadatas[n] : NULL,
                             &rec_inexact);
                json_decref(meta);
                if (rec->document)
                        buf_jstr(&part[3], rec->document);
                else
                        vcdc_buf_puts(&part[3], "null");
                for (i = 0, total = 64; i < 4; i++) {
                        if (part[i].failed)
                                goto oom;
                        total += part[i].len;
                }
                if (n > 0 && total > max_bytes) {
                        for (i = 0; i < 4; i++)
                                vcdc_buf_truncate(&part[i], mark[i]);
                        break;
                }
                inexact += rec_inexact;
        }
        if (inexactp)
                *inexactp = inexact;
        for (i = 0; i < 4; i++) {
                vcdc_buf_puts(&body, head[i]);
                if (part[i].p)
                        vcdc_buf_put(&body, part[i].p, part[i].len);
                vcdc_buf_free(&part[i]);
        }
        vcdc_buf_puts(&body, "]}");
        if (!(*bodyp = vcdc_buf_detach(&body, lenp)))
                goto oom;
        return n;

oom:
        snprintf(errstr, errstr_size, "out of memory");
err:
        for (i = 0; i < 4; i++)
                vcdc_buf_free(&part[i]);
        vcdc_buf_free(&body);
        return 0;
}

static json_t *ids_array(const char *const *ids, size_t cnt) {
        json_t *arr = json_array();
        size_t i;

        for (i = 0; arr && i < cnt; i++) {
                json_t *s = json_string(ids[i]);
                if (!s || json_array_append_new(arr, s) == -1) {
                        json_decref(arr);
                        return NULL;
                }
        }
        return arr;
}

/* Dumps and drops obj (NULL in, NULL out). */
static char *dump_decref(json_t *obj) {
        char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

        json_decref(obj);
        return s;
}

char *vcdc_chroma_delete_body(const char *const *ids, size_t cnt) {
        json_t *arr = ids_array(ids, cnt);

        if (!arr)
                return NULL;
        return dump_decref(json_pack("{s:o}", "ids", arr));
}

char *vcdc_chroma_get_body(const char *const *ids, size_t cnt, size_t limit,
                           size_t offset, int include) {
        json_t *obj = json_object(), *inc = json_array();
        int fail = !obj || !inc;

        if (include & VCDC_CHROMA_INC_EMBEDDINGS)
                fail |= json_array_append_new(inc, json_string("embeddings"));
        if (include & VCDC_CHROMA_INC_METADATAS)
                fail |= json_array_append_new(inc, json_string("metadatas"));
        if (include & VCDC_CHROMA_INC_DOCUMENTS)
                fail |= json_array_append_new(inc, json_string("documents"));
        fail |= json_object_set_new(obj, "include", inc);
        if (ids) {
                fail |= json_object_set_new(obj, "ids", ids_array(ids, cnt));
        } else {
                fail |= json_object_set_new(obj, "limit",
                                            json_integer((json_int_t)limit));
                fail |= json_object_set_new(obj, "offset",
                                            json_integer((json_int_t)offset));
        }
        if (fail) {
                json_decref(obj);
                return NULL;
        }
        return dump_decref(obj);
}

char *vcdc_chroma_query_body(const float *vector, size_t dim, size_t k) {
        vcdc_buf_t b = VCDC_BUF_INIT;

        vcdc_buf_puts(&b, "{\"query_embeddings\":[");
        put_floats(&b, vector, dim);
        vcdc_buf_printf(&b, "],\"n_results\":%zu", k);
        vcdc_buf_puts(&b, ",\"include\":[\"distances\"]}");
        return vcdc_buf_detach(&b, NULL);
}

char *vcdc_chroma_offsets_body(const char *topic, const char *collection_id,
                               const vcdc_sink_offset_t *offsets, size_t cnt) {
        json_t *ids = json_array(), *embs = json_array(), *metas = json_array();
        int fail = !ids || !embs || !metas;
        size_t i;

        for (i = 0; !fail && i < cnt; i++) {
                char id[512];
                int n = snprintf(id, sizeof(id), "%s/%" PRId32, topic,
                                 offsets[i].partition);
                if (n < 0 || (size_t)n >= sizeof(id)) {
                        fail = 1;
                        break;
                }
                fail |= json_array_append_new(ids, json_string(id));
                fail |= json_array_append_new(embs, json_pack("[f]", 0.0));
                fail |= json_array_append_new(
                        metas,
                        json_pack("{s:s,s:I,s:I,s:s}", "topic", topic,
                                  "partition", (json_int_t)offsets[i].partition,
                                  "offset", (json_int_t)offsets[i].offset,
                                  "collection_id", collection_id));
        }
        if (fail) {
                json_decref(ids);
                json_decref(embs);
                json_decref(metas);
                return NULL;
        }
        return dump_decref(json_pack("{s:o,s:o,s:o}", "ids", ids, "embeddings",
                                     embs, "metadatas", metas));
}

char *vcdc_chroma_offsets_get_body(const char *topic) {
        return dump_decref(json_pack("{s:{s:{s:s}},s:[s]}", "where", "topic",
                                     "$eq", topic, "include", "metadatas"));
}

char *vcdc_chroma_create_body(const char *name, vcdc_metric_t metric) {
        return dump_decref(json_pack(
                "{s:s,s:{s:{s:s}},s:b}", "name", name, "configuration", "hnsw",
                "space", vcdc_metric_name(metric), "get_or_create", 1));
}

/*
 * vcdc gateway - merging a write into the record held (gwmerge.h).
 */
#include "gwmerge.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_body.h"
#include "api_json.h"

/* Merges patch (JSON object text, null values remove keys) into base
 * (text or NULL). A new string, or NULL for an empty result. */
char *vcdc_gw_merge_metadata(const char *base, const char *patch, int *oomp) {
        json_t *b = base ? json_loads(base, JSON_DECODE_ANY, NULL) : NULL;
        json_t *p = patch ? json_loads(patch, JSON_DECODE_ANY, NULL) : NULL;
        const char *key;
        json_t *v;
        char *out = NULL;

        if (!json_is_object(b)) {
                json_decref(b);
                b = json_object();
        }
        if (json_is_object(p))
                json_object_foreach(p, key, v) {
                        if (json_is_null(v))
                                json_object_del(b, key);
                        else
                                json_object_set(b, key, v);
                }
        if (b && json_object_size(b) > 0 && !(out = vcdc_api_json_text(b)))
                *oomp = 1;
        json_decref(b);
        json_decref(p);
        return out;
}

/* The record that results from w's record i over base (NULL: none) into
 * out. Returns 0 or -1 (memory). */
int vcdc_gw_merge_record(const vcdc_record_t *base, const vcdc_record_t *w,
                         unsigned char has, vcdc_record_t *out) {
        int oom = 0;

        vcdc_record_init(out);
        if (base && vcdc_record_copy(out, base) == -1)
                return -1;
        if (!base && vcdc_record_copy(out, w) == -1)
                return -1;
        out->op = VCDC_OP_UPSERT;
        /* The sink's records name no collection: the request's does. */
        if (!out->collection || strcmp(out->collection, w->collection)) {
                free(out->collection);
                if (!(out->collection = strdup(w->collection)))
                        return -1;
        }
        if (base && (has & VCDC_API_HAS_EMBEDDING)) {
                free(out->vector);
                if (!(out->vector = malloc(w->dim * sizeof(float))))
                        return -1;
                memcpy(out->vector, w->vector, w->dim * sizeof(float));
                out->dim = w->dim;
        }
        if (base && (has & VCDC_API_HAS_DOCUMENT)) {
                free(out->document);
                out->document = w->document ? strdup(w->document) : NULL;
                if (w->document && !out->document)
                        return -1;
        }
        if (has & VCDC_API_HAS_METADATA || !base) {
                char *m = vcdc_gw_merge_metadata(base ? base->metadata : NULL,
                                                 w->metadata, &oom);
                free(out->metadata);
                out->metadata = m;
        }
        return oom ? -1 : 0;
}

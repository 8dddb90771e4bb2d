/*
 * vcdc - libFuzzer target: the gateway's request bodies
 * (gateway/api_body.h). The first byte picks the parser (add, upsert,
 * update, delete, get, query, create or modify a collection) and the
 * collection's dimension (0-3: 0 is none yet); the rest is the body. What
 * parses must hold to the promises: finite vectors of one dimension,
 * metadata that is a JSON object, ids no longer than the limit, and the
 * answers written from it must be JSON; what is refused must say so in a
 * JSON error body.
 */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_body.h"
#include "api_result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_be_json(const char *s) {
        json_t *j;

        if (!s)
                return; /* out of memory */
        if (!(j = json_loads(s, JSON_DECODE_ANY, NULL)))
                abort();
        json_decref(j);
}

static void check_write(const vcdc_api_write_t *w) {
        vcdc_api_include_t inc = {VCDC_API_INC_EMBEDDINGS |
                                          VCDC_API_INC_DOCUMENTS |
                                          VCDC_API_INC_METADATAS,
                                  {VCDC_API_INC_EMBEDDINGS},
                                  1};
        size_t i, k;
        char *s;

        for (i = 0; i < w->n; i++) {
                const vcdc_record_t *r = &w->recs[i];
                if (!r->id || strlen(r->id) > VCDC_ID_MAX_BYTES || !*r->id)
                        abort();
                if (r->vector && r->dim != w->dim)
                        abort();
                for (k = 0; r->vector && k < r->dim; k++)
                        if (!isfinite(r->vector[k]))
                                abort();
                if (r->metadata) {
                        json_t *m = json_loads(r->metadata, 0, NULL);
                        if (!json_is_object(m))
                                abort();
                        json_decref(m);
                }
        }
        s = vcdc_api_get_result(w->recs, w->n, &inc, NULL);
        must_be_json(s);
        free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        vcdc_api_collection_req_t c;
        vcdc_api_error_t err;
        vcdc_api_write_t w;
        vcdc_api_read_t r;
        const char *body;
        size_t len, dim;
        char *s;
        int rc = 0;

        if (size < 1)
                return 0;
        body = (const char *)data + 1;
        len = size - 1;
        dim = (data[0] >> 4) & 3;
        vcdc_api_error_clear(&err);
        switch (data[0] & 7) {
        case 0:
        case 1:
        case 2:
                rc = vcdc_api_parse_write((vcdc_api_write_op_t)(data[0] & 7),
                                          "c", body, len, dim, &w, &err);
                if (!rc) {
                        check_write(&w);
                        vcdc_api_write_clear(&w);
                }
                break;
        case 3:
        case 4:
        case 5:
                rc = (data[0] & 7) == 3
                             ? vcdc_api_parse_delete(body, len, &r, &err)
                     : (data[0] & 7) == 4
                             ? vcdc_api_parse_get(body, len, &r, &err)
                             : vcdc_api_parse_query(body, len, dim, &r, &err);
                if (!rc) {
                        size_t i;
                        if (!r.filter || r.include.n > VCDC_API_INCLUDE_MAX)
                                abort();
                        for (i = 0; i < r.nqueries * r.dim; i++)
                                if (!isfinite(r.queries[i]))
                                        abort();
                        vcdc_api_read_clear(&r);
                }
                break;
        default:
                rc = (data[0] & 7) == 6
                             ? vcdc_api_parse_create_collection(body, len, &c,
                                                                &err)
                             : vcdc_api_parse_modify_collection(body, len, &c,
                                                                &err);
                if (!rc) {
                        vcdc_api_collection_t col = {
                                "id", c.name ? c.name : "n",
                                NULL, c.metadata,
                                0,    NULL,
                                NULL, 0,
                                0};
                        char *conf =
                                vcdc_api_configuration_json(c.configuration);
                        col.configuration_json = conf;
                        s = vcdc_api_collection_result(&col, NULL);
                        must_be_json(s);
                        free(s);
                        free(conf);
                        vcdc_api_collection_req_clear(&c);
                }
        }
        if (rc) {
                if (!err.status || !err.name[0] || !err.message[0])
                        abort();
                s = vcdc_api_error_body(&err);
                must_be_json(s);
                free(s);
        }
        return 0;
}

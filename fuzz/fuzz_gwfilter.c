/*
 * vcdc - libFuzzer target: the gateway's filters (gateway/filter.h). The
 * input is JSON {"where": W, "where_document": D}; what parses is
 * evaluated against a few records (where and where_document together must
 * equal each alone, and-ed) and translated to SQL, whose text must hold
 * no value: only the translator's own words, quotes balanced, every
 * parameter numbered once in order.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const metas[] = {
        NULL,
        "{}",
        "{\"n\":1,\"s\":\"a\",\"b\":true}",
        "{\"n\":1.5,\"s\":\"\",\"b\":false,\"k\":-3}",
        "{\"n\":\"1\"}",
};
static const char *const docs[] = {NULL, "", "hello world", "a.b\nc"};

static void check_sql(const vcdc_filter_t *f) {
        vcdc_filter_sql_t sql;
        const char *p;
        size_t quotes = 0, i;
        char want[16];

        if (vcdc_filter_sql(f, "t.", 1, &sql))
                return; /* out of memory */
        for (p = sql.sql; *p; p++) {
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
                            "YZ"
                            "0123456789_$:.,()<>=~'-[] ",
                            *p))
                        abort();
                quotes += *p == '\'';
        }
        if (quotes % 2)
                abort();
        for (i = 0; i < sql.nparams; i++) {
                snprintf(want, sizeof(want), "$%zu::", i + 1);
                if (!strstr(sql.sql, want))
                        abort();
        }
        snprintf(want, sizeof(want), "$%zu::", sql.nparams + 1);
        if (strstr(sql.sql, want))
                abort();
        vcdc_filter_sql_clear(&sql);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_t *in = json_loadb((const char *)data, size, 0, NULL), *w, *d;
        vcdc_filter_t *f, *fw = NULL, *fd = NULL;
        vcdc_api_error_t err;
        size_t i, k;

        if (!in)
                return 0;
        w = json_object_get(in, "where");
        d = json_object_get(in, "where_document");
        vcdc_api_error_clear(&err);
        f = vcdc_filter_parse(w, d, &err);
        if (!f) {
                if (err.status != 400 && err.status != 500)
                        abort();
                json_decref(in);
                return 0;
        }
        fw = vcdc_filter_parse(w, NULL, &err);
        fd = vcdc_filter_parse(NULL, d, &err);
        if (!fw || !fd)
                abort(); /* both parts parsed as a whole */
        for (i = 0; i < sizeof(metas) / sizeof(*metas); i++)
                for (k = 0; k < sizeof(docs) / sizeof(*docs); k++) {
                        int all = vcdc_filter_match_text(f, metas[i], docs[k]);
                        int a = vcdc_filter_match_text(fw, metas[i], docs[k]);
                        int b = vcdc_filter_match_text(fd, metas[i], docs[k]);
                        if (all != (a && b))
                                abort();
                }
        check_sql(f);
        vcdc_filter_destroy(fw);
        vcdc_filter_destroy(fd);
        vcdc_filter_destroy(f);
        json_decref(in);
        return 0;
}

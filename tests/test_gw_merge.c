/*
 * vcdc - unit tests: what the gateway writes for an add, upsert or update
 * over the record held (gateway/gwmerge.c: Chroma's merge, null removing
 * a metadata key, fields not given kept), and the collections' derived
 * ids (gateway/collreg.c: the same for every instance, UUID-shaped) and
 * records on the control topic (kept, skipped or refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "api_body.h"
#include "collreg.h"
#include "gwmerge.h"

static void test_metadata_merge(void **state) {
        static const struct {
                const char *base, *patch, *want; /* want NULL: none */
        } cases[] = {
                {NULL, NULL, NULL},
                {NULL, "{\"a\":1}", "{\"a\":1}"},
                {NULL, "{\"a\":null}", NULL},
                {"{\"a\":1,\"b\":\"x\"}", "{\"b\":null}", "{\"a\":1}"},
                {"{\"a\":1}", "{\"a\":2.5,\"c\":true}",
                 "{\"a\":2.5,\"c\":true}"},
                {"{\"a\":1}", "{}", "{\"a\":1}"},
                {"{\"a\":1}", "{\"a\":null}", NULL},
                {"{\"f\":0.1}", "{\"g\":1.0}", "{\"f\":0.1,\"g\":1.0}"},
                {"not json", "{\"a\":1}", "{\"a\":1}"},
                {"[1]", NULL, NULL},
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                int oom = 0;
                char *got = vcdc_gw_merge_metadata(cases[i].base,
                                                   cases[i].patch, &oom);

                assert_int_equal(oom, 0);
                if (!cases[i].want)
                        assert_null(got);
                else {
                        assert_non_null(got);
                        assert_string_equal(got, cases[i].want);
                }
                free(got);
        }
}

static void rec(vcdc_record_t *r, const char *id, float x, const char *meta,
                const char *doc) {
        vcdc_record_init(r);
        r->collection = strdup("docs");
        r->id = strdup(id);
        r->op = VCDC_OP_UPSERT;
        r->vector = malloc(2 * sizeof(float));
        r->vector[0] = x;
        r->vector[1] = 1;
        r->dim = 2;
        r->metadata = meta ? strdup(meta) : NULL;
        r->document = doc ? strdup(doc) : NULL;
}

static void test_record_merge(void **state) {
        vcdc_record_t base, w, out;

        (void)state;
        rec(&base, "a", 1, "{\"k\":1,\"s\":\"x\"}", "old doc");
        free(base.collection);
        base.collection = NULL; /* a sink's records name none */

        /* Metadata only: vector and document kept, keys merged. */
        rec(&w, "a", 9, "{\"s\":null,\"t\":true}", NULL);
        assert_int_equal(
                vcdc_gw_merge_record(&base, &w, VCDC_API_HAS_METADATA, &out),
                0);
        assert_string_equal(out.collection, "docs");
        assert_string_equal(out.id, "a");
        assert_true(out.vector[0] == 1.0f);
        assert_string_equal(out.document, "old doc");
        assert_string_equal(out.metadata, "{\"k\":1,\"t\":true}");
        assert_int_equal(out.op, VCDC_OP_UPSERT);
        vcdc_record_clear(&out);

        /* Document and embedding: metadata kept. */
        assert_int_equal(vcdc_gw_merge_record(&base, &w,
                                              VCDC_API_HAS_EMBEDDING |
                                                      VCDC_API_HAS_DOCUMENT,
                                              &out),
                         0);
        assert_true(out.vector[0] == 9.0f);
        assert_null(out.document); /* w gave a null document */
        assert_string_equal(out.metadata, "{\"k\":1,\"s\":\"x\"}");
        vcdc_record_clear(&out);

        /* No record held: w itself, its null keys dropped. */
        assert_int_equal(vcdc_gw_merge_record(NULL, &w,
                                              VCDC_API_HAS_EMBEDDING |
                                                      VCDC_API_HAS_METADATA,
                                              &out),
                         0);
        assert_true(out.vector[0] == 9.0f);
        assert_string_equal(out.metadata, "{\"t\":true}");
        vcdc_record_clear(&out);
        vcdc_record_clear(&w);
        vcdc_record_clear(&base);
}

static void test_collection_ids(void **state) {
        char a[37], b[37], c[37], d[37];
        size_t i;

        (void)state;
        vcdc_gw_coll_id("default_tenant", "default_database", "docs", a);
        vcdc_gw_coll_id("default_tenant", "default_database", "docs", b);
        vcdc_gw_coll_id("default_tenant", "default_database", "docs2", c);
        vcdc_gw_coll_id("default_tenant", "other", "docs", d);
        assert_string_equal(a, b);
        assert_string_not_equal(a, c);
        assert_string_not_equal(a, d);
        assert_int_equal(strlen(a), 36);
        for (i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23)
                        assert_int_equal(a[i], '-');
                else
                        assert_non_null(strchr("0123456789abcdef", a[i]));
        }
        assert_int_equal(a[14], '8');           /* version 8 */
        assert_non_null(strchr("89ab", a[19])); /* RFC 4122 variant */
        /* "tenant/database" boundaries are not ambiguous. */
        vcdc_gw_coll_id("ab", "c", "docs", c);
        vcdc_gw_coll_id("a", "bc", "docs", d);
        assert_string_not_equal(c, d);
}

/* Collection records as the control topic holds them: kept, skipped
 * (another key, tenant or database) or refused, side by side; what is
 * kept reads back the same once written again. */
static void test_collection_records(void **state) {
        static const struct {
                const char *key, *value;
                int want; /* 1 kept, 0 skipped, -1 refused */
                const char *metric, *metadata;
        } cases[] = {
                {"vcdc.collection/docs",
                 "{\"kind\":\"collection\",\"collection\":\"docs\","
                 "\"tenant\":\"t\",\"database\":\"d\","
                 "\"metadata\":{\"app\":\"x\"},"
                 "\"configuration_json\":{\"hnsw\":{\"space\":\"ip\"}}}",
                 1, "ip", "{\"app\":\"x\"}"},
                {"vcdc.collection/a",
                 "{\"collection\":\"a\",\"metadata\":null,"
                 "\"configuration_json\":{}}",
                 1, "l2", NULL},
                {"vcdc.collection/a",
                 "{\"collection\":\"a\",\"metadata\":[1],"
                 "\"configuration_json\":{\"hnsw\":{\"space\":\"cosine\"}}}",
                 1, "cosine", NULL},
                {"vcdc.route/a", "{\"collection\":\"a\"}", 0, NULL, NULL},
                {"vcdc.collection/a",
                 "{\"collection\":\"a\",\"tenant\":\"u\","
                 "\"configuration_json\":{}}",
                 0, NULL, NULL},
                {"vcdc.collection/a",
                 "{\"collection\":\"a\",\"database\":\"e\","
                 "\"configuration_json\":{}}",
                 0, NULL, NULL},
                {"vcdc.collection/a", "{\"collection\":\"a\"", -1, NULL, NULL},
                {"vcdc.collection/a", "[]", -1, NULL, NULL},
                {"vcdc.collection/a", "{\"configuration_json\":{}}", -1, NULL,
                 NULL},
                {"vcdc.collection/a",
                 "{\"collection\":\"b\",\"configuration_json\":{}}", -1, NULL,
                 NULL},
                {"vcdc.collection/",
                 "{\"collection\":\"\",\"configuration_json\":{}}", -1, NULL,
                 NULL},
                {"vcdc.collection/ab",
                 "{\"collection\":\"a\\u0000b\",\"configuration_json\":{}}", -1,
                 NULL, NULL},
                {"vcdc.collection/a",
                 "{\"collection\":\"a\",\"configuration_json\":\"{}\"}", -1,
                 NULL, NULL},
                {"vcdc.collection/a", NULL, -1, NULL, NULL},
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                vcdc_gw_coll_t c, back;
                char errstr[256] = "", id[37], *text;
                const char *v = cases[i].value;
                int r = vcdc_gw_coll_parse(cases[i].key, strlen(cases[i].key),
                                           v, v ? strlen(v) : 0, "t", "d", &c,
                                           errstr, sizeof(errstr));

                assert_int_equal(r, cases[i].want);
                if (r != 1) {
                        assert_null(c.name);
                        assert_null(c.configuration_json);
                        assert_true(r == 0 || errstr[0]);
                        continue;
                }
                assert_string_equal(c.metric, cases[i].metric);
                if (cases[i].metadata)
                        assert_string_equal(c.metadata, cases[i].metadata);
                else
                        assert_null(c.metadata);
                vcdc_gw_coll_id("t", "d", c.name, id);
                assert_string_equal(c.id, id);
                text = vcdc_gw_coll_encode(&c, "t", "d", 5, errstr,
                                           sizeof(errstr));
                assert_non_null(text);
                assert_int_equal(
                        vcdc_gw_coll_parse(cases[i].key, strlen(cases[i].key),
                                           text, strlen(text), "t", "d", &back,
                                           errstr, sizeof(errstr)),
                        1);
                assert_string_equal(back.name, c.name);
                assert_string_equal(back.configuration_json,
                                    c.configuration_json);
                assert_string_equal(back.metric, c.metric);
                free(text);
                vcdc_gw_coll_clear(&back);
                vcdc_gw_coll_clear(&c);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_metadata_merge),
                cmocka_unit_test(test_record_merge),
                cmocka_unit_test(test_collection_ids),
                cmocka_unit_test(test_collection_records),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

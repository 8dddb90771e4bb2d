/*
 * vcdc - unit tests: the gateway's filters (gateway/filter.h). Valid and
 * invalid where / where_document side by side with the Chroma 1.0 server's
 * answers (recorded from a running one: the ids it selected from the same
 * records, or its status and words); the evaluator on each; the SQL
 * translation's shape (every value a parameter, never in the text);
 * allocation is not swept (jansson's own). Pure: no server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter_int.h" /* vcdc_filter_f2i */
#include "json_load.h"

/* The records Chroma 1.0 was given (ids, metadata, document), as in the
 * recording. */
static const struct {
        const char *id, *metadata, *document;
} recs[] = {
        {"i1", "{\"n\":1,\"s\":\"a\",\"b\":true}", "Hello World"},
        {"i2", "{\"n\":2,\"s\":\"b\",\"b\":false}", "hello"},
        {"f1", "{\"n\":1.0,\"s\":\"1\"}", "foo bar"},
        {"f15", "{\"n\":1.5}", NULL},
        {"s1", "{\"n\":\"1\"}", ""},
        {"bt", "{\"n\":true}", "x.y"},
        {"none", NULL, "abc"},
        {"other", "{\"x\":1}", "ABC"},
};
#define NRECS (sizeof(recs) / sizeof(*recs))

/* The ids f selects, in recs order, space-separated. */
static void selected(const vcdc_filter_t *f, char *out, size_t size) {
        size_t i, n = 0;
        int r;

        out[0] = '\0';
        for (i = 0; i < NRECS; i++) {
                r = vcdc_filter_match_text(f, recs[i].metadata,
                                           recs[i].document);
                assert_int_not_equal(r, -1);
                if (r)
                        n += (size_t)snprintf(out + n, size - n, "%s%s",
                                              n ? " " : "", recs[i].id);
        }
}

/* Sorted as Chroma's answer was, for comparison. */
static const struct {
        const char *where, *doc, *ids; /* ids: in recs order */
} valid[] = {
        {"{\"n\":1}", NULL, "i1 f1"},
        {"{\"n\":1.0}", NULL, "i1 f1"},
        {"{\"n\":{\"$eq\":true}}", NULL, "bt"},
        {"{\"n\":{\"$eq\":\"1\"}}", NULL, "s1"},
        {"{\"n\":{\"$ne\":1}}", NULL, "i2 f15 s1 bt none other"},
        {"{\"n\":{\"$ne\":\"1\"}}", NULL, "i1 i2 f1 f15 bt none other"},
        {"{\"n\":{\"$ne\":true}}", NULL, "i1 i2 f1 f15 s1 none other"},
        {"{\"n\":{\"$gt\":1}}", NULL, "i2 f15"},
        {"{\"n\":{\"$gte\":1}}", NULL, "i1 i2 f1 f15"},
        {"{\"n\":{\"$lt\":2}}", NULL, "i1 f1 f15"},
        {"{\"n\":{\"$lte\":1.5}}", NULL, "i1 f1 f15"},
        {"{\"n\":{\"$gt\":0.5}}", NULL, "i1 i2 f1 f15"},
        /* the float operand truncated for integer values: 1 < 1 */
        {"{\"n\":{\"$lt\":1.5}}", NULL, "f1"},
        {"{\"n\":{\"$in\":[1,2]}}", NULL, "i1 i2 f1"},
        {"{\"n\":{\"$in\":[1.0]}}", NULL, "i1 f1"},
        {"{\"n\":{\"$in\":[1.5]}}", NULL, "i1 f15"},
        {"{\"n\":{\"$in\":[\"1\"]}}", NULL, "s1"},
        {"{\"n\":{\"$in\":[true]}}", NULL, "bt"},
        {"{\"n\":{\"$in\":[1.5,1]}}", NULL, "i1 f1 f15"},
        {"{\"n\":{\"$nin\":[1]}}", NULL, "i2 f15 s1 bt none other"},
        {"{\"n\":{\"$nin\":[\"1\"]}}", NULL, "i1 i2 f1 f15 bt none other"},
        {"{\"n\":{\"$nin\":[true]}}", NULL, "i1 i2 f1 f15 s1 none other"},
        {"{\"b\":{\"$ne\":true}}", NULL, "i2 f1 f15 s1 bt none other"},
        {"{\"b\":false}", NULL, "i2"},
        {"{\"b\":{\"$nin\":[false]}}", NULL, "i1 f1 f15 s1 bt none other"},
        {"{\"$and\":[{\"n\":{\"$gte\":1}},{\"n\":{\"$lte\":1}}]}", NULL,
         "i1 f1"},
        {"{\"$or\":[{\"n\":2},{\"s\":\"1\"}]}", NULL, "i2 f1"},
        {"{\"$and\":[]}", NULL, "i1 i2 f1 f15 s1 bt none other"},
        {"{\"$or\":[]}", NULL, ""},
        {"{\"n\":18446744073709551616.0}", NULL, ""},
        {"{\"n\":{\"$gt\":1e308}}", NULL, ""},
        {"{\"$bogus\":1}", NULL, ""}, /* a key named $bogus */
        /* Chroma keeps the document as the metadata key chroma:document */
        {"{\"chroma:document\":\"hello\"}", NULL, "i2"},
        {"{\"chroma:document\":{\"$ne\":\"hello\"}}", NULL,
         "i1 f1 f15 s1 bt none other"},
        {"{\"chroma:document\":{\"$in\":[\"hello\",\"abc\"]}}", NULL,
         "i2 none"},
        {"{\"chroma:uri\":{\"$ne\":\"x\"}}", NULL,
         "i1 i2 f1 f15 s1 bt none other"},
        {NULL, "{\"$contains\":\"hello\"}", "i2"},
        {NULL, "{\"$contains\":\"Hello\"}", "i1"},
        {NULL, "{\"$not_contains\":\"hello\"}", "i1 f1 f15 s1 bt none other"},
        {NULL, "{\"$contains\":\"\"}", "i1 i2 f1 s1 bt none other"},
        {NULL, "{\"$not_contains\":\"\"}", "f15"},
        {NULL, "{\"$regex\":\"^h\"}", "i2"},
        {NULL, "{\"$not_regex\":\"^h\"}", "i1 f1 f15 s1 bt none other"},
        {NULL, "{\"$regex\":\"x.y\"}", "bt"},
        {NULL, "{\"$regex\":\"x\\\\.y\"}", "bt"},
        {NULL, "{\"$regex\":\"\"}", "i1 i2 f1 s1 bt none other"},
        {NULL, "{\"$regex\":\"[[:alpha:]]\"}", "i1 i2 f1 bt none other"},
        {NULL, "{\"$and\":[{\"$contains\":\"o\"},{\"$not_contains\":\"W\"}]}",
         "i2 f1"},
        {NULL, "{\"$or\":[{\"$contains\":\"abc\"},{\"$contains\":\"ABC\"}]}",
         "none other"},
        {NULL, "{\"$and\":[]}", "i1 i2 f1 f15 s1 bt none other"},
        {NULL, "{\"$or\":[]}", ""},
        {"{\"n\":1}", "{\"$contains\":\"Hello\"}", "i1"},
        {"null", "null", "i1 i2 f1 f15 s1 bt none other"},
};

static void test_valid(void **state) {
        vcdc_api_error_t err;
        char got[256];
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(valid) / sizeof(*valid); i++) {
                json_t *w = valid[i].where ? json_load_or_fail(valid[i].where)
                                           : NULL;
                json_t *d =
                        valid[i].doc ? json_load_or_fail(valid[i].doc) : NULL;
                vcdc_filter_t *f;

                vcdc_api_error_clear(&err);
                f = vcdc_filter_parse(w, d, &err);
                if (!f)
                        fail_msg("case %zu (%s %s): refused: %s", i,
                                 valid[i].where, valid[i].doc, err.message);
                selected(f, got, sizeof(got));
                if (strcmp(got, valid[i].ids))
                        fail_msg("case %zu (%s %s): selected \"%s\", Chroma "
                                 "\"%s\"",
                                 i, valid[i].where, valid[i].doc, got,
                                 valid[i].ids);
                vcdc_filter_destroy(f);
                json_decref(w);
                json_decref(d);
        }
}

/* What Chroma 1.0 refused, with its words. */
static const struct {
        const char *where, *doc, *message;
} invalid[] = {
        {"{\"s\":{\"$gt\":\"a\"}}", NULL, "Invalid where clause"},
        {"{\"n\":{\"$in\":[]}}", NULL, "Invalid where clause"},
        {"{\"n\":{\"$nin\":[]}}", NULL, "Invalid where clause"},
        {"{\"n\":{\"$in\":[1,\"a\"]}}", NULL, "Invalid where clause"},
        {"{\"n\":{\"$in\":[1,1.5]}}", NULL, "Invalid where clause"},
        {"{\"n\":{\"$eq\":null}}", NULL, "Invalid where clause"},
        {"{\"n\":null}", NULL, "Invalid where clause"},
        {"{\"n\":[1]}", NULL, "Invalid where clause"},
        {"{\"n\":{\"$bogus\":1}}", NULL, "Invalid where clause"},
        {"{\"$bogus\":[{\"n\":1}]}", NULL, "Invalid where clause"},
        {"{\"n\":{\"$eq\":1,\"$ne\":2}}", NULL, "Invalid where clause"},
        {"{\"n\":1,\"s\":\"a\"}", NULL, "Invalid where clause"},
        {"{}", NULL, "Invalid where clause"},
        {"[]", NULL, "Invalid where clause"},
        {"\"x\"", NULL, "Invalid where clause"},
        {"{\"$and\":{\"n\":1}}", NULL, "Invalid where clause"},
        {"{\"n\":{\"$gt\":true}}", NULL, "Invalid where clause"},
        {"{\"n\":{\"$gt\":\"a\"}}", NULL, "Invalid where clause"},
        {"{\"n\":{\"$contains\":\"a\"}}", NULL, "Invalid where clause"},
        {"{\"$and\":[{\"n\":1},5]}", NULL, "Invalid where clause"},
        {"{\"n\":{}}", NULL, "Invalid where clause"},
        {"{\"n\":{\"$in\":1}}", NULL, "Invalid where clause"},
        {"{\"n\":{\"$in\":[[1]]}}", NULL, "Invalid where clause"},
        {"{\"$not\":{\"n\":1}}", NULL, "Invalid where clause"},
        {"{\"$and\":[{\"n\":{\"$gte\":1}}],\"x\":1}", NULL,
         "Invalid where clause"},
        {NULL, "{\"$contains\":1}", "Invalid where document clause"},
        {NULL, "{\"$bogus\":\"x\"}", "Invalid where document clause"},
        {NULL, "{}", "Invalid where document clause"},
        {NULL, "{\"$contains\":\"a\",\"$not_contains\":\"b\"}",
         "Invalid where document clause"},
        {NULL, "{\"$contains\":null}", "Invalid where document clause"},
        {NULL, "{\"n\":1}", "Invalid where document clause"},
        {NULL, "\"x\"", "Invalid where document clause"},
        {NULL, "[]", "Invalid where document clause"},
        {NULL, "{\"$and\":[{\"$contains\":\"a\"},{\"n\":1}]}",
         "Invalid where document clause"},
        /* the where is read first, as Chroma does */
        {"{}", "{}", "Invalid where clause"},
        {NULL, "{\"$regex\":\"[\"}", "Regex syntax errror: "},
        {NULL, "{\"$not_regex\":\"a{2,1}\"}", "Regex syntax errror: "},
        /* what glibc would take gigabytes to compile (fuzz_gwfilter) */
        {NULL, "{\"$regex\":\"^a.c+++++6+++$\"}",
         "Regex syntax errror: regex parse error: repetition operator "
         "missing expression"},
        {NULL, "{\"$regex\":\"((a{900}){900}){900}\"}",
         "Regex syntax errror: regex parse error: the pattern, its "
         "repetitions expanded, is larger"},
};

static void test_invalid(void **state) {
        vcdc_api_error_t err;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(invalid) / sizeof(*invalid); i++) {
                json_t *w = invalid[i].where
                                    ? json_load_or_fail(invalid[i].where)
                                    : NULL;
                json_t *d = invalid[i].doc ? json_load_or_fail(invalid[i].doc)
                                           : NULL;
                vcdc_filter_t *f;

                vcdc_api_error_clear(&err);
                f = vcdc_filter_parse(w, d, &err);
                if (f)
                        fail_msg("case %zu (%s %s): taken", i, invalid[i].where,
                                 invalid[i].doc);
                assert_int_equal(err.status, 400);
                assert_string_equal(err.name, "InvalidArgumentError");
                if (strncmp(err.message, invalid[i].message,
                            strlen(invalid[i].message)))
                        fail_msg("case %zu: \"%s\", want \"%s\"", i,
                                 err.message, invalid[i].message);
                json_decref(w);
                json_decref(d);
        }
}

/* The sizes filter_regex.c estimates, against what regcomp() then does
 * with the patterns it lets through. */
static void test_regex_limits(void **state) {
        static const struct {
                const char *pattern;
                int ok;
        } cases[] = {
                {"^h", 1},
                {"x\\.y", 1},
                {"a+?", 1},   /* lazy, as Chroma has it */
                {"a*?b??", 1},
                {"[]+*]+", 1}, /* quantifiers inside a bracket are members */
                {"[[:alpha:]]{2,5}", 1},
                {"(ab|cd)*e{3}", 1},
                {"a{1000}", 1},
                {"(a{200}){200}", 1}, /* 40,000 pieces */
                {"a{1001}", 0},
                {"(a{300}){300}", 0}, /* 90,000 */
                {"a++", 0},
                {"a*+", 0},
                {"a+?+", 0},
                {"(a+)+", 1}, /* a group: 4 pieces */
                {"((((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+", 0},
                {"{", 1},     /* not a bound: regcomp decides */
                {"a{x}", 1},
        };
        char why[256];
        size_t i;
        regex_t re;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                int rc = vcdc_filter_regex_check(cases[i].pattern, why,
                                                 sizeof(why));

                if ((rc == 0) != cases[i].ok)
                        fail_msg("%s: %s", cases[i].pattern,
                                 rc ? why : "let through");
                if (rc == 0 && regcomp(&re, cases[i].pattern,
                                       REG_EXTENDED | REG_NOSUB) == 0)
                        regfree(&re);
        }
}

static void test_depth(void **state) {
        vcdc_api_error_t err;
        char text[8192];
        size_t n = 0;
        int i, depth;

        (void)state;
        for (depth = VCDC_FILTER_MAX_DEPTH; depth <= VCDC_FILTER_MAX_DEPTH + 1;
             depth++) {
                json_t *w;
                vcdc_filter_t *f;

                n = 0;
                for (i = 0; i < depth; i++)
                        n += (size_t)snprintf(text + n, sizeof(text) - n,
                                              "{\"$and\":[");
                n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"n\":1}");
                for (i = 0; i < depth; i++)
                        n += (size_t)snprintf(text + n, sizeof(text) - n, "]}");
                w = json_load_or_fail(text);
                vcdc_api_error_clear(&err);
                f = vcdc_filter_parse(w, NULL, &err);
                if (depth == VCDC_FILTER_MAX_DEPTH) {
                        assert_non_null(f);
                        assert_int_equal(
                                vcdc_filter_match_text(f, "{\"n\":1}", NULL),
                                1);
                } else {
                        assert_null(f);
                        assert_string_equal(err.message,
                                            "Invalid where clause");
                }
                vcdc_filter_destroy(f);
                json_decref(w);
        }
}

static void test_empty_and_text(void **state) {
        vcdc_api_error_t err;
        vcdc_filter_t *f;
        json_t *w = json_load_or_fail("{\"k\":\"v\"}");

        (void)state;
        f = vcdc_filter_parse(NULL, NULL, &err);
        assert_non_null(f);
        assert_true(vcdc_filter_is_empty(f));
        assert_int_equal(vcdc_filter_match_text(f, NULL, NULL), 1);
        vcdc_filter_destroy(f);
        f = vcdc_filter_parse(w, NULL, &err);
        assert_false(vcdc_filter_is_empty(f));
        assert_int_equal(vcdc_filter_match_text(f, "{\"k\":\"v\"}", NULL), 1);
        assert_int_equal(vcdc_filter_match_text(f, "{\"k\":\"w\"}", NULL), 0);
        assert_int_equal(vcdc_filter_match_text(f, "[1]", NULL), 0);
        assert_int_equal(vcdc_filter_match_text(f, "{bad", NULL), -1);
        vcdc_filter_destroy(f);
        json_decref(w);
        vcdc_filter_destroy(NULL);
        assert_int_equal(vcdc_filter_f2i(1.9), 1);
        assert_int_equal(vcdc_filter_f2i(-1.9), -1);
        assert_true(vcdc_filter_f2i(1e300) == INT64_MAX);
        assert_true(vcdc_filter_f2i(-1e300) == INT64_MIN);
}

static void test_sql(void **state) {
        static const struct {
                const char *where, *doc, *sql_has;
                size_t nparams;
                const char *params[6];
        } cases[] = {
                {NULL, NULL, "TRUE", 0, {NULL}},
                {"{\"$and\":[]}", NULL, "TRUE", 0, {NULL}},
                {"{\"$or\":[]}", NULL, "FALSE", 0, {NULL}},
                {"{\"k'; DROP TABLE t;--\":\"v'\"}",
                 NULL,
                 "coalesce((t.metadata -> $3::text) = to_jsonb($4::text), "
                 "false)",
                 2,
                 {"k'; DROP TABLE t;--", "v'"}},
                {"{\"k\":{\"$ne\":true}}",
                 NULL,
                 "(NOT coalesce((t.metadata -> $3::text) = "
                 "to_jsonb($4::boolean), false))",
                 2,
                 {"k", "true"}},
                {"{\"k\":{\"$lt\":1.5}}",
                 NULL,
                 "::float8 < $4::float8",
                 3,
                 {"k", "1.5", "1"}},
                {"{\"k\":{\"$gte\":-2}}",
                 NULL,
                 "::numeric >= $5::numeric",
                 3,
                 {"k", "-2", "-2"}},
                {"{\"k\":{\"$in\":[1.5,2]}}",
                 NULL,
                 "= ANY($4::float8[])",
                 3,
                 {"k", "{1.5,2}", "{1,2}"}},
                {"{\"k\":{\"$nin\":[\"a\",\"b\\\"c\\\\\"]}}",
                 NULL,
                 "(NOT coalesce(jsonb_typeof",
                 2,
                 {"k", "{\"a\",\"b\\\"c\\\\\"}"}},
                {"{\"k\":{\"$in\":[true,false]}}",
                 NULL,
                 "::boolean[]",
                 2,
                 {"k", "{t,f}"}},
                {NULL,
                 "{\"$contains\":\"50%_\"}",
                 "coalesce(strpos(t.document, $3::text) > 0, false)",
                 1,
                 {"50%_"}},
                {"{\"chroma:document\":{\"$nin\":[\"a\"]}}",
                 NULL,
                 "(NOT coalesce(jsonb_typeof(to_jsonb(t.document)) = "
                 "'string' AND (t.document) = ANY($3::text[]), false))",
                 1,
                 {"{\"a\"}"}},
                {NULL,
                 "{\"$not_regex\":\"^a\"}",
                 "(NOT coalesce(t.document ~ $3::text, false))",
                 1,
                 {"^a"}},
                {"{\"$or\":[{\"a\":1},{\"b\":\"x\"}]}",
                 "{\"$contains\":\"d\"}",
                 " OR ",
                 6,
                 {"a", "1", "1", "b", "x", "d"}},
        };
        vcdc_api_error_t err;
        vcdc_filter_sql_t sql;
        size_t i, k;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                json_t *w = cases[i].where ? json_load_or_fail(cases[i].where)
                                           : NULL;
                json_t *d =
                        cases[i].doc ? json_load_or_fail(cases[i].doc) : NULL;
                vcdc_filter_t *f = vcdc_filter_parse(w, d, &err);

                assert_non_null(f);
                assert_int_equal(vcdc_filter_sql(f, "t.", 3, &sql), 0);
                if (!strstr(sql.sql, cases[i].sql_has))
                        fail_msg("case %zu: %s lacks %s", i, sql.sql,
                                 cases[i].sql_has);
                assert_int_equal(sql.nparams, cases[i].nparams);
                for (k = 0; k < sql.nparams; k++) {
                        assert_string_equal(sql.params[k], cases[i].params[k]);
                        /* a value never reaches the text */
                        if (strlen(sql.params[k]) > 2 &&
                            strstr(sql.sql, sql.params[k]) &&
                            strcmp(sql.params[k], "true"))
                                fail_msg("case %zu: %s spliced", i,
                                         sql.params[k]);
                }
                vcdc_filter_sql_clear(&sql);
                vcdc_filter_destroy(f);
                json_decref(w);
                json_decref(d);
        }
        vcdc_filter_sql_clear(NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_regex_limits),
                cmocka_unit_test(test_depth),
                cmocka_unit_test(test_empty_and_text),
                cmocka_unit_test(test_sql),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * vcdc - unit tests: the JSON scanner (jsonscan.h) and the readers of its
 * spans (jsonspan.h).
 *
 * Valid and invalid texts side by side in tables, each invalid one with
 * jansson's exact error (code, position, column, words); then the same
 * decisions compared with jansson itself (json_loadb with
 * JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) over every prefix of a few
 * texts and seeded random mutations of them: the same accept or refuse,
 * the same error, the same compact text (json_dumps JSON_COMPACT) for what
 * is accepted, and strtof()'s floats for the arrays the scanner converts.
 * Texts with NUL bytes are left out of the comparison: jansson drops a NUL
 * it reads ahead, vcdc refuses NUL bytes before scanning.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonscan.h"
#include "jsonspan.h"

static vcdc_jsonscan_t *js;
static size_t rows_checked; /* members whose row_floats were checked */

/* A copy of exactly len bytes, so that ASan sees any read past them. */
static char *copy_of(const char *s, size_t len) {
        char *p = malloc(len ? len : 1);

        assert_non_null(p);
        memcpy(p, s, len);
        return p;
}

static char *compact(const vcdc_json_span_t *v) {
        size_t len = vcdc_json_compact(v, NULL, 0);
        char *s = malloc(len + 1);

        assert_non_null(s);
        assert_int_equal(vcdc_json_compact(v, s, len), len);
        s[len] = '\0';
        return s;
}


/*
 * Tables
 */

static void test_valid(void **state) {
        static const struct {
                const char *text;
                vcdc_json_type_t type;
                size_t count; /* containers */
                int depth;
                const char *compact; /* as json_dumps writes it */
        } cases[] = {
                {"{}", VCDC_JSON_OBJECT, 0, 1, "{}"},
                {" [ ] ", VCDC_JSON_ARRAY, 0, 1, "[]"},
                {"\"x\"", VCDC_JSON_STRING, 0, 0, "\"x\""},
                {"-0", VCDC_JSON_INTEGER, 0, 0, "0"},
                {"1.5e-7", VCDC_JSON_REAL, 0, 0, "1.4999999999999999e-7"},
                {"\t\r\n true \n", VCDC_JSON_TRUE, 0, 0, "true"},
                {"null", VCDC_JSON_NULL, 0, 0, "null"},
                {"[1e22, -0.0, 1e+300, 0.1, 100.0, 1E2, 9223372036854775807,"
                 " -9223372036854775808]",
                 VCDC_JSON_ARRAY, 8, 1,
                 "[1e22,-0.0,1.0000000000000001e300,0.10000000000000001,100.0,"
                 "100.0,9223372036854775807,-9223372036854775808]"},
                {"{\"a\": {\"b\": [[], {}]}, \"c\": [1, [2, [3]]]}",
                 VCDC_JSON_OBJECT, 2, 4,
                 "{\"a\":{\"b\":[[],{}]},\"c\":[1,[2,[3]]]}"},
                /* escapes: decoded, then escaped again as jansson does */
                {"[\"\\u001b\\u007f\\/\\u2028\\\"\\\\\\b\\f\\n\\r\\t\\u00e9"
                 "\\ud83d\\ude00\"]",
                 VCDC_JSON_ARRAY, 1, 1,
                 "[\"\\u001B\x7f/\xe2\x80\xa8\\\"\\\\\\b\\f\\n\\r\\t\xc3\xa9"
                 "\xf0\x9f\x98\x80\"]"},
                /* keys that differ only once decoded are duplicates; these
                 * do not */
                {"{\"a\":1,\"\\u0061b\":2,\"\xc3\xa9\":3,\"\\u00e8\":4}",
                 VCDC_JSON_OBJECT, 4, 1,
                 "{\"a\":1,\"ab\":2,\"\xc3\xa9\":3,\"\xc3\xa8\":4}"},
                /* UTF-8 up to U+10FFFF */
                {"\"\xf4\x8f\xbf\xbf \xef\xbf\xbd \xed\x9f\xbf\"",
                 VCDC_JSON_STRING, 0, 0,
                 "\"\xf4\x8f\xbf\xbf \xef\xbf\xbd \xed\x9f\xbf\""},
                /* underflow is fine, overflow is not (see invalid) */
                {"[1e-400, 4.9e-324, 1.7976931348623157e308]",
                 VCDC_JSON_ARRAY, 3, 1,
                 "[0.0,4.9406564584124654e-324,1.7976931348623157e308]"},
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                size_t len = strlen(cases[i].text);
                char *text = copy_of(cases[i].text, len), *c;
                vcdc_json_span_t root;
                vcdc_json_error_t err;

                if (vcdc_jsonscan_run(js, text, len, &root, &err))
                        fail_msg("case %zu refused: %s", i, err.text);
                assert_int_equal(root.type, cases[i].type);
                assert_int_equal(root.count, cases[i].count);
                assert_int_equal(root.depth, cases[i].depth);
                c = compact(&root);
                assert_string_equal(c, cases[i].compact);
                free(c);
                free(text);
        }
}

static void test_invalid(void **state) {
        static const struct {
                const char *text;
                size_t len; /* 0: strlen */
                vcdc_json_err_t code;
                size_t position, column;
                const char *words; /* jansson's, exactly */
        } cases[] = {
                {"not json", 0, VCDC_JSON_ERR_SYNTAX, 3, 3,
                 "invalid token near 'not'"},
                {"{'id':'a'}", 0, VCDC_JSON_ERR_SYNTAX, 2, 2,
                 "string or '}' expected near '''"},
                {"{\"id\":\"a\",\"id\":\"b\"}", 0, VCDC_JSON_ERR_DUPLICATE_KEY,
                 14, 14, "duplicate object key near '\"id\"'"},
                {"[1e400]", 0, VCDC_JSON_ERR_NUMBER_RANGE, 6, 6,
                 "real number overflow near '1e400'"},
                {"[1.7976931348623159e308]", 0, VCDC_JSON_ERR_NUMBER_RANGE, 23,
                 23, "real number overflow"},
                {"[99999999999999999999]", 0, VCDC_JSON_ERR_NUMBER_RANGE, 21,
                 21, "too big integer near '99999999999999999999'"},
                {"[-9223372036854775809]", 0, VCDC_JSON_ERR_NUMBER_RANGE, 21,
                 21, "too big negative integer near '-9223372036854775809'"},
                {"[-99999999999999999999]", 0, VCDC_JSON_ERR_NUMBER_RANGE, 22,
                 22, "too big negative integer"},
                {"[\"\\ud800\"]", 0, VCDC_JSON_ERR_SYNTAX, 9, 9,
                 "invalid Unicode '\\uD800' near '\"\\ud800\"'"},
                {"[\"\\ud800\\u0041\"]", 0, VCDC_JSON_ERR_SYNTAX, 15, 15,
                 "invalid Unicode '\\uD800\\u0041' near '\"\\ud800\\u0041\"'"},
                {"[\"\\udc00\"]", 0, VCDC_JSON_ERR_SYNTAX, 9, 9,
                 "invalid Unicode '\\uDC00' near '\"\\udc00\"'"},
                {"{\"a\\u0000b\":1}", 0, VCDC_JSON_ERR_NUL_IN_KEY, 11, 11,
                 "NUL byte in object key not supported near '\"a\\u0000b\"'"},
                {"[\"a\\u0000b\"]", 0, VCDC_JSON_ERR_NUL_CHARACTER, 11, 11,
                 "\\u0000 is not allowed without JSON_ALLOW_NUL near "
                 "'\"a\\u0000b\"'"},
                {"{\"a\":1,}", 0, VCDC_JSON_ERR_SYNTAX, 8, 8,
                 "string or '}' expected near '}'"},
                {"[1,]", 0, VCDC_JSON_ERR_SYNTAX, 4, 4,
                 "unexpected token near ']'"},
                {"[1,", 0, VCDC_JSON_ERR_PREMATURE_END, 3, 3,
                 "']' expected near end of file"},
                {"", 0, VCDC_JSON_ERR_PREMATURE_END, 0, 0,
                 "unexpected token near end of file"},
                {"[01]", 0, VCDC_JSON_ERR_SYNTAX, 2, 2,
                 "invalid token near '0'"},
                {"[1.x]", 0, VCDC_JSON_ERR_SYNTAX, 3, 3,
                 "invalid token near '1.'"},
                {"[1e+]", 0, VCDC_JSON_ERR_SYNTAX, 4, 4,
                 "invalid token near '1e+'"},
                {"[-]", 0, VCDC_JSON_ERR_SYNTAX, 2, 2,
                 "invalid token near '-'"},
                {"[\"a\xc3\"]", 0, VCDC_JSON_ERR_UTF8, 3, 3,
                 "unable to decode byte 0xc3 near '\"a'"},
                {"[12\xff]", 0, VCDC_JSON_ERR_UTF8, 3, 3,
                 "unable to decode byte 0xff near '12'"},
                {"[1] \xff", 0, VCDC_JSON_ERR_UTF8, 4, 4,
                 "unable to decode byte 0xff"},
                {"[\"\xc0\xaf\"]", 0, VCDC_JSON_ERR_UTF8, 2, 2,
                 "unable to decode byte 0xc0 near '\"'"},
                {"[\"\xed\xa0\x80\"]", 0, VCDC_JSON_ERR_UTF8, 2, 2,
                 "unable to decode byte 0xed near '\"'"},
                {"[\"\xf4\x90\x80\x80\"]", 0, VCDC_JSON_ERR_UTF8, 2, 2,
                 "unable to decode byte 0xf4 near '\"'"},
                {"[\"abc\\x\"]", 0, VCDC_JSON_ERR_SYNTAX, 7, 7,
                 "invalid escape near '\"abc\\x'"},
                {"\"\\u12", 0, VCDC_JSON_ERR_SYNTAX, 5, 5,
                 "invalid escape near '\"\\u12'"},
                {"[\xc3\xa9]", 0, VCDC_JSON_ERR_SYNTAX, 3, 2,
                 "invalid token near '\xc3\xa9'"},
                {"\"a\tb\"", 0, VCDC_JSON_ERR_SYNTAX, 2, 2,
                 "control character 0x9 near '\"a'"},
                {"\"a\nb\"", 0, VCDC_JSON_ERR_SYNTAX, 2, 2,
                 "unexpected newline near '\"a'"},
                {"{\"a\"}", 0, VCDC_JSON_ERR_SYNTAX, 5, 5,
                 "':' expected near '}'"},
                {"{\"a\":1 \"b\":2}", 0, VCDC_JSON_ERR_SYNTAX, 10, 10,
                 "'}' expected near '\"b\"'"},
                {"[1 2]", 0, VCDC_JSON_ERR_SYNTAX, 4, 4,
                 "']' expected near '2'"},
                {"[1] x", 0, VCDC_JSON_ERR_END_EXPECTED, 5, 5,
                 "end of file expected near 'x'"},
                {"[NaN]", 0, VCDC_JSON_ERR_SYNTAX, 4, 4,
                 "invalid token near 'NaN'"},
                {"[\"a long string of more than twenty bytes", 0,
                 VCDC_JSON_ERR_PREMATURE_END, 41, 41,
                 "premature end of input"},
                {"{\n\"a\":\n x}", 0, VCDC_JSON_ERR_SYNTAX, 9, 2,
                 "invalid token near 'x'"},
                {"\x01", 0, VCDC_JSON_ERR_SYNTAX, 1, 1,
                 "invalid token near '\x01'"},
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                size_t len = cases[i].len ? cases[i].len
                                          : strlen(cases[i].text);
                char *text = copy_of(cases[i].text, len);
                vcdc_json_span_t root;
                vcdc_json_error_t err;

                if (!vcdc_jsonscan_run(js, text, len, &root, &err))
                        fail_msg("case %zu accepted", i);
                if (strcmp(err.text, cases[i].words))
                        fail_msg("case %zu: \"%s\", expected \"%s\"", i,
                                 err.text, cases[i].words);
                assert_int_equal(err.code, cases[i].code);
                assert_int_equal(err.position, cases[i].position);
                assert_int_equal(err.column, cases[i].column);
                free(text);
        }
}

/* 2048 levels of values at most (jansson's JSON_PARSER_MAX_DEPTH). */
static void test_depth(void **state) {
        size_t n, len, i;
        char *text = malloc(6 * 2100 + 8);
        vcdc_json_span_t root;
        vcdc_json_error_t err;

        (void)state;
        assert_non_null(text);
        for (n = 2046; n <= 2050; n++) {
                /* n arrays, then n arrays around a 1 (n + 1 levels) */
                len = 0;
                for (i = 0; i < n; i++)
                        text[len++] = '[';
                for (i = 0; i < n; i++)
                        text[len++] = ']';
                assert_int_equal(vcdc_jsonscan_run(js, text, len, &root, &err),
                                 n <= 2048 ? 0 : -1);
                if (n <= 2048)
                        assert_int_equal(root.depth, (int)n);
                else
                        assert_string_equal(err.text, "maximum parsing depth "
                                                      "reached near '['");
                len = 0;
                for (i = 0; i < n; i++) {
                        memcpy(text + len, "{\"a\":", 5);
                        len += 5;
                }
                text[len++] = '1';
                for (i = 0; i < n; i++)
                        text[len++] = '}';
                assert_int_equal(vcdc_jsonscan_run(js, text, len, &root, &err),
                                 n + 1 <= 2048 ? 0 : -1);
                if (n + 1 > 2048)
                        assert_int_equal(err.code, VCDC_JSON_ERR_DEPTH);
        }
        free(text);
}

/* Objects past the linear key comparisons go through the hash table. */
static void test_duplicates(void **state) {
        size_t cap = 100000, len, i;
        char *text = malloc(cap);
        vcdc_json_span_t root;
        vcdc_json_error_t err;
        const vcdc_json_member_t *m;

        (void)state;
        assert_non_null(text);
        len = (size_t)snprintf(text, cap, "{");
        for (i = 0; i < 3000; i++)
                len += (size_t)snprintf(text + len, cap - len, "%s\"k%zu\":%zu",
                                        i ? "," : "", i, i);
        /* nested objects of their own, same keys: no duplicates */
        len += (size_t)snprintf(text + len, cap - len,
                                ",\"n\":{\"k1\":1,\"k2\":{\"k1\":2}}}");
        assert_int_equal(vcdc_jsonscan_run(js, text, len, &root, &err), 0);
        assert_int_equal(root.count, 3001);
        assert_int_equal(vcdc_jsonscan_members(js, &m), 3001);
        assert_int_equal(m[2999].key_len, 5);
        assert_memory_equal(m[2999].key, "k2999", 5);
        assert_int_equal(m[3000].value.type, VCDC_JSON_OBJECT);
        assert_int_equal(m[3000].value.depth, 2);
        /* then one key again, escaped, at the end */
        len -= (size_t)strlen(",\"n\":{\"k1\":1,\"k2\":{\"k1\":2}}}");
        len += (size_t)snprintf(text + len, cap - len,
                                ",\"k\\u003177\":0}");
        assert_int_equal(vcdc_jsonscan_run(js, text, len, &root, &err), -1);
        assert_int_equal(err.code, VCDC_JSON_ERR_DUPLICATE_KEY);
        assert_int_equal(err.position, len - 3);
        free(text);
}

static void check_floats(const vcdc_json_member_t *m, size_t nm);

/* Arrays of arrays of numbers in top-level members: their floats kept
 * when every element is a non-empty array of plain numbers, else none. */
static void test_rows(void **state) {
        static const struct {
                const char *text;
                int rows; /* member "e" has row_floats */
        } cases[] = {
                {"{\"e\":[[1,2.5],[3],[-0.0,1e-46,4e38]]}", 1},
                {"{\"a\":[1],\"e\":[[0.1]],\"b\":[[2],[3]]}", 1},
                {"{\"e\":[[1],[]]}", 0},
                {"{\"e\":[[1],null]}", 0},
                {"{\"e\":[[1,null]]}", 0},
                {"{\"e\":[[1],[[2]]]}", 0},
                {"{\"e\":[[1],2]}", 0},
                {"{\"e\":[]}", 0},
                {"{\"e\":[1,2]}", 0},
                {"{\"e\":{\"x\":[[1]]}}", 0},
                {"{\"e\":[[1e400]]}", -1},
        };
        const vcdc_json_member_t *m;
        vcdc_json_span_t root;
        vcdc_json_error_t err;
        size_t i, k, nm;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                const char *t = cases[i].text;
                int r = vcdc_jsonscan_run(js, t, strlen(t), &root, &err);

                assert_int_equal(r, cases[i].rows < 0 ? -1 : 0);
                if (r)
                        continue;
                nm = vcdc_jsonscan_members(js, &m);
                for (k = 0; k < nm; k++)
                        if (m[k].key_len == 1 && m[k].key[0] == 'e')
                                break;
                assert_true(k < nm);
                if (cases[i].rows != !!m[k].value.row_floats)
                        fail_msg("%s: row_floats %s", t,
                                 m[k].value.row_floats ? "set" : "NULL");
                check_floats(m, nm);
        }
        /* The first case, by value. */
        assert_int_equal(vcdc_jsonscan_run(js, cases[0].text,
                                           strlen(cases[0].text), &root,
                                           &err),
                         0);
        vcdc_jsonscan_members(js, &m);
        assert_int_equal(m[0].value.row_counts[0], 2);
        assert_int_equal(m[0].value.row_counts[2], 3);
        assert_true(m[0].value.row_floats[1] == 2.5f);
        assert_true(signbit(m[0].value.row_floats[3]));
        assert_true(m[0].value.row_floats[4] == 0);
        assert_true(isinf(m[0].value.row_floats[5]));
}

/* The readers of spans: iteration, strings, integers, floats. */
static void test_spans(void **state) {
        static const char text[] =
                "{\"v\": [1, -0, 0.1, 3.4028235e38, 1e39, 16777217],"
                " \"w\": [1, \"x\"], \"s\": \"a\\u00e9\\n\","
                " \"i\": -9223372036854775808, \"e\": []}";
        char *t = copy_of(text, sizeof(text) - 1), out[16];
        const vcdc_json_member_t *m;
        vcdc_json_span_t root, k, v;
        vcdc_json_error_t err;
        vcdc_json_iter_t it;
        float f[8];
        size_t n;

        (void)state;
        assert_int_equal(vcdc_jsonscan_run(js, t, sizeof(text) - 1, &root,
                                           &err),
                         0);
        assert_int_equal(vcdc_jsonscan_members(js, &m), 5);
        /* v: converted by the scanner, 1e39 infinite */
        assert_non_null(m[0].value.floats);
        assert_int_equal(m[0].value.count, 6);
        assert_true(m[0].value.floats[1] == 0 && signbit(m[0].value.floats[1]));
        assert_true(m[0].value.floats[2] == 0.1f);
        assert_true(m[0].value.floats[3] == 3.4028235e38f);
        assert_true(isinf(m[0].value.floats[4]));
        assert_true(m[0].value.floats[5] == 16777216.0f);
        assert_int_equal(vcdc_json_floats(&m[0].value, f, 8, &n), -1);
        assert_int_equal(n, 4);
        assert_int_equal(vcdc_json_floats(&m[0].value, f, 3, &n), -2);
        /* w: not only numbers */
        assert_null(m[1].value.floats);
        assert_int_equal(vcdc_json_floats(&m[1].value, f, 8, &n), -1);
        assert_int_equal(n, 1);
        /* s */
        assert_int_equal(vcdc_json_unescape(&m[2].value, out), 4);
        assert_memory_equal(out, "a\xc3\xa9\n", 4);
        /* i */
        assert_true(vcdc_json_integer(&m[3].value) == INT64_MIN);
        /* e */
        assert_int_equal(vcdc_json_floats(&m[4].value, f, 8, &n), 0);
        assert_int_equal(n, 0);
        /* iterating the object: keys with quotes, values typed */
        vcdc_json_iter_init(&it, &root);
        n = 0;
        while (vcdc_json_iter_next(&it, &k, &v)) {
                assert_int_equal(k.len, 3);
                assert_int_equal(v.type, m[n].value.type);
                assert_int_equal(v.len, m[n].value.len);
                n++;
        }
        assert_int_equal(n, 5);
        assert_string_equal(vcdc_json_type_name(VCDC_JSON_REAL),
                            "a real number");
        free(t);
}


/*
 * Against jansson
 */

static size_t compared, accepted;

static int jansson_code(int code) {
        switch (code) {
        case json_error_invalid_syntax:
                return VCDC_JSON_ERR_SYNTAX;
        case json_error_premature_end_of_input:
                return VCDC_JSON_ERR_PREMATURE_END;
        case json_error_end_of_input_expected:
                return VCDC_JSON_ERR_END_EXPECTED;
        case json_error_invalid_utf8:
                return VCDC_JSON_ERR_UTF8;
        case json_error_numeric_overflow:
                return VCDC_JSON_ERR_NUMBER_RANGE;
        case json_error_null_character:
                return VCDC_JSON_ERR_NUL_CHARACTER;
        case json_error_null_byte_in_key:
                return VCDC_JSON_ERR_NUL_IN_KEY;
        case json_error_duplicate_key:
                return VCDC_JSON_ERR_DUPLICATE_KEY;
        case json_error_stack_overflow:
                return VCDC_JSON_ERR_DEPTH;
        }
        return -1;
}

/* The numbers of an array of numbers, as strtof() reads each, match
 * floats[0..count). */
static void check_array(const vcdc_json_span_t *array, const float *floats,
                        size_t count) {
        vcdc_json_iter_t it;
        vcdc_json_span_t el;
        size_t k;

        vcdc_json_iter_init(&it, array);
        for (k = 0; vcdc_json_iter_next(&it, NULL, &el); k++) {
                char buf[64];
                float want;

                assert_true(k < count);
                assert_true(el.len < sizeof(buf));
                memcpy(buf, el.p, el.len);
                buf[el.len] = '\0';
                want = strtof(buf, NULL);
                assert_memory_equal(&want, &floats[k], 4);
        }
        assert_int_equal(k, count);
}

/* The floats the scanner converted match strtof() of each element, for
 * arrays of numbers and arrays of them. */
static void check_floats(const vcdc_json_member_t *m, size_t nm) {
        size_t i, k;

        for (i = 0; i < nm; i++) {
                vcdc_json_iter_t it;
                vcdc_json_span_t el;

                if (m[i].value.row_floats) {
                        const float *f = m[i].value.row_floats;

                        assert_null(m[i].value.floats);
                        vcdc_json_iter_init(&it, &m[i].value);
                        for (k = 0; vcdc_json_iter_next(&it, NULL, &el);
                             k++) {
                                assert_int_equal(el.type, VCDC_JSON_ARRAY);
                                check_array(&el, f,
                                            m[i].value.row_counts[k]);
                                f += m[i].value.row_counts[k];
                        }
                        assert_int_equal(k, m[i].value.count);
                        rows_checked++;
                }
                if (!m[i].value.floats)
                        continue;
                vcdc_json_iter_init(&it, &m[i].value);
                for (k = 0; vcdc_json_iter_next(&it, NULL, &el); k++) {
                        char buf[64];
                        float want;

                        assert_true(el.len < sizeof(buf));
                        memcpy(buf, el.p, el.len);
                        buf[el.len] = '\0';
                        want = strtof(buf, NULL);
                        assert_memory_equal(&want, &m[i].value.floats[k], 4);
                }
                assert_int_equal(k, m[i].value.count);
        }
}

static void compare(const char *s, size_t len) {
        char *text = copy_of(s, len);
        vcdc_json_span_t root;
        vcdc_json_error_t err;
        json_error_t jerr;
        json_t *j;
        int r;

        r = vcdc_jsonscan_run(js, text, len, &root, &err);
        if (memchr(s, '\0', len)) {
                free(text);
                return;
        }
        j = json_loadb(s, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                       &jerr);
        compared++;
        if (j && r == 0) {
                char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
                char *got = compact(&root);
                const vcdc_json_member_t *m;

                if (strcmp(want, got))
                        fail_msg("\"%.*s\": compact \"%s\", jansson \"%s\"",
                                 (int)len, s, got, want);
                check_floats(m, vcdc_jsonscan_members(js, &m));
                free(want);
                free(got);
                json_decref(j);
                accepted++;
        } else if (!j && r) {
                if (jansson_code(json_error_code(&jerr)) != (int)err.code ||
                    (size_t)jerr.position != err.position ||
                    (size_t)jerr.column != err.column ||
                    strcmp(jerr.text, err.text))
                        fail_msg("\"%.*s\": %d at %zu/%zu \"%s\"; jansson %d "
                                 "at %d/%d \"%s\"",
                                 (int)len, s, err.code, err.position,
                                 err.column, err.text,
                                 json_error_code(&jerr), jerr.position,
                                 jerr.column, jerr.text);
        } else {
                fail_msg("\"%.*s\": %s, jansson %s (%s)", (int)len, s,
                         r ? "refused" : "accepted", j ? "accepts" : "refuses",
                         r ? err.text : jerr.text);
        }
        free(text);
}

static const char *seeds[] = {
        "{\"collection\":\"docs\",\"id\":\"a1\",\"op\":\"upsert\","
        "\"vector\":[0.1,-2e-3,3],\"sparse\":{\"indices\":[3,9],"
        "\"values\":[1,2]},\"metadata\":{\"k\":\"v\",\"n\":[1,{\"x\":null}]},"
        "\"document\":\"t\xc3\xa9xt \\u00e9\\n\","
        "\"source_ts_ms\":1700000000000}",
        "{\"id\":42,\"op\":\"DELETE\",\"source_ts_ms\":0}",
        " { \"id\" : \"b\" , \"vector\" : [ 1 , 2 , 3 ] } ",
        "[1.5e-7, 1e22, -0.0, 1e+300, 0.1, 100.0, 1E2, -0, true, false, null,"
        " \"\\ud83d\\ude00\\u001b\\/\\\"\"]",
        "{\"a\":{\"a\":1,\"b\":{\"c\":[[],{}]}},\"\\u0061x\":\"\\u00e9\\t\"}",
        "[\"\\ud800\\udc00\", \"x\\uD834\\uDD1E\", 1e308, "
        "1.7976931348623157e308, -1e-400, 123456789012345678, "
        "-9223372036854775808, 9223372036854775807, 0.30000001192092896]",
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rng(void) {
        /* xorshift64*: a fixed seed, the same sweep every run */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static void test_against_jansson(void **state) {
        static const char alphabet[] = "{}[]\",:\\0-e.E+u\x80\xc3\xa9\xed\xa0"
                                       "\xf0\x9f tnfalsru1\n\t\r";
        size_t nseeds = sizeof(seeds) / sizeof(*seeds), i, k;
        size_t mutations = getenv("VCDC_TEST_SMALL") ? 20000 : 300000;

        (void)state;
        for (i = 0; i < nseeds; i++)
                for (k = 0; k <= strlen(seeds[i]); k++)
                        compare(seeds[i], k);
        for (i = 0; i < mutations; i++) {
                const char *src = seeds[rng() % nseeds];
                size_t len = strlen(src), n = 1 + rng() % 4, q;
                char p[512];

                memcpy(p, src, len);
                for (q = 0; q < n; q++) {
                        size_t at = len ? rng() % len : 0;

                        switch (rng() % 4) {
                        case 0: /* any byte */
                                p[at] = (char)(rng() & 0xff);
                                break;
                        case 1: /* one that matters to JSON */
                                p[at] = alphabet[rng() %
                                                 (sizeof(alphabet) - 1)];
                                break;
                        case 2: /* delete a byte */
                                if (len > 1) {
                                        memmove(p + at, p + at + 1,
                                                len - at - 1);
                                        len--;
                                }
                                break;
                        default: /* insert one */
                                memmove(p + at + 1, p + at, len - at);
                                p[at] = alphabet[rng() %
                                                 (sizeof(alphabet) - 1)];
                                len++;
                                break;
                        }
                }
                compare(p, len);
        }
        /* every mutation class must have happened: some of each kind */
        assert_true(accepted > 1000);
        assert_true(compared - accepted > 1000);
}

static int setup(void **state) {
        (void)state;
        js = vcdc_jsonscan_new();
        return js ? 0 : -1;
}

static int teardown(void **state) {
        (void)state;
        vcdc_jsonscan_destroy(js);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid),
                cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_depth),
                cmocka_unit_test(test_duplicates),
                cmocka_unit_test(test_spans),
                cmocka_unit_test(test_rows),
                cmocka_unit_test(test_against_jansson),
        };
        int r = cmocka_run_group_tests_name("jsonscan", tests, setup,
                                            teardown);

        printf("jsonscan: %zu texts compared with jansson, %zu accepted, "
               "%zu arrays of arrays read from row_floats\n",
               compared, accepted, rows_checked);
        return r;
}

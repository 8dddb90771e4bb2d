/*
 * vcdc - unit tests: the Chroma get answers' fast path
 * (sink_chroma_scan.c) against the jansson reader it replaced
 * (tests/chromaref.h): on the committed answers of the fuzz corpus, on a
 * float32 halfway case, and on generated answers (random ids, unicode and
 * escapes, nulls, numbers written many ways, NaN as Chroma sends it, wrong
 * shapes). No server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "chromaref.h"
#include "jsonscan.h"
#include "sink_chroma_int.h"

#define CORPUS  "../fuzz/corpus/chroma"
#define ANSWERS 3000

static const char *const ab_ids[] = {"a", "b", "a"};

/* After a comparison that agreed: does a get of every row read records
 * with vectors (2), none (1), or refuse the answer (0)? */
static int read_kind(vcdc_jsonscan_t *js) {
        vcdc_record_t out[8];
        char errstr[512];
        size_t n, i;
        int vectors = 0;

        for (i = 0; i < 8; i++)
                vcdc_record_init(&out[i]);
        if (vcdc_chroma_scan_get(js, NULL, 8, out, &n, errstr,
                                 sizeof(errstr)) == -1)
                return 0;
        for (i = 0; i < n; i++) {
                vectors |= out[i].vector != NULL;
                vcdc_record_clear(&out[i]);
        }
        return vectors ? 2 : 1;
}

/* Compares the readers on every answer of the fuzz corpus. */
static void test_corpus(void **state) {
        vcdc_jsonscan_t *js = vcdc_jsonscan_new();
        char path[512], why[1024], *text;
        size_t files = 0, len;
        struct dirent *de;
        FILE *f;
        DIR *dir;

        (void)state;
        assert_non_null(js);
        assert_non_null(dir = opendir(CORPUS));
        assert_non_null(text = malloc(1 << 20));
        while ((de = readdir(dir))) {
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", CORPUS, de->d_name);
                assert_non_null(f = fopen(path, "rb"));
                len = fread(text, 1, 1 << 20, f);
                fclose(f);
                if (vcdc_chromaref_compare(js, text, len, ab_ids, 3, why,
                                           sizeof(why)) == -1)
                        fail_msg("%s: %s", path, why);
                files++;
        }
        closedir(dir);
        free(text);
        assert_true(files >= 8);
        vcdc_jsonscan_destroy(js);
}

/* 1 + 2^-24 is halfway between 1 and the next float32: with digits
 * beyond what a double keeps, strtof() goes up, jansson's double ties to
 * even (1). The fast path takes strtof()'s, and the comparison knows why
 * they differ. */
static void test_halfway(void **state) {
        static const char answer[] =
                "{\"ids\":[\"a\"],\"embeddings\":[[1.00000005960464477539"
                "0625000000001,2]],\"metadatas\":null,\"documents\":null}";
        vcdc_jsonscan_t *js = vcdc_jsonscan_new();
        vcdc_json_span_t root;
        vcdc_json_error_t err;
        vcdc_record_t out[1];
        char why[1024];
        size_t n;

        (void)state;
        assert_int_equal(vcdc_jsonscan_run(js, answer, strlen(answer), &root,
                                           &err),
                         0);
        vcdc_record_init(&out[0]);
        assert_int_equal(vcdc_chroma_scan_get(js, NULL, 1, out, &n, why,
                                              sizeof(why)),
                         0);
        assert_true(out[0].vector[0] == strtof("1.000000059604644775390625"
                                               "000000001",
                                               NULL));
        assert_true(out[0].vector[0] > 1.0f);
        vcdc_record_clear(&out[0]);
        assert_int_equal(vcdc_chromaref_compare(js, answer, strlen(answer),
                                                ab_ids, 3, why, sizeof(why)),
                         0);
        vcdc_jsonscan_destroy(js);
}


/*
 * Generated answers
 */

static uint64_t rng_next(uint64_t *s) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

static unsigned pick(uint64_t *s, unsigned n) {
        return (unsigned)(rng_next(s) % n);
}

/* An id: plain, raw UTF-8, escaped, or with a surrogate pair. */
static void put_id(vcdc_buf_t *b, uint64_t *s, unsigned row, char *plain,
                   size_t plain_size) {
        static const char *const forms[] = {
                "%s", "\\u00e9%s", "caf\xc3\xa9-%s", "%s\\n\\\"x\\\"",
                "\\ud83d\\ude00%s", "\xe2\x82\xac%s\\/",
        };
        char core[32], text[96];

        snprintf(core, sizeof(core), "%c%u", 'a' + pick(s, 3), row);
        snprintf(plain, plain_size, "%s", core);
        snprintf(text, sizeof(text), forms[pick(s, 6)], core);
        vcdc_buf_printf(b, "\"%s\"", text);
}

/* A number as Chroma or anything else might write it. */
static void put_number(vcdc_buf_t *b, uint64_t *s) {
        double d = (double)(rng_next(s) % 2000001) / 1000000.0 - 1.0;

        switch (pick(s, 9)) {
        case 0: vcdc_buf_printf(b, "%.9g", d); break;
        case 1: vcdc_buf_printf(b, "%.17g", d); break;
        case 2: vcdc_buf_printf(b, "%.3e", d * 1e-30); break;
        case 3: vcdc_buf_printf(b, "%d", (int)(d * 100)); break;
        case 4: vcdc_buf_puts(b, "-0.0"); break;
        case 5: vcdc_buf_printf(b, "%.9gE+2", d); break;
        case 6: vcdc_buf_printf(b, "%.25f", d); break;
        case 7: vcdc_buf_puts(b, "1e-46"); break;
        default: vcdc_buf_printf(b, "%.8g", (double)(float)d); break;
        }
}

static void put_embedding(vcdc_buf_t *b, uint64_t *s, unsigned dim,
                          int fault) {
        unsigned k, bad = pick(s, dim);

        vcdc_buf_puts(b, "[");
        for (k = 0; k < dim; k++) {
                if (k)
                        vcdc_buf_puts(b, pick(s, 8) ? "," : " , ");
                if (fault && k == bad) {
                        static const char *const bads[] = {
                                "null", "\"1\"", "1e39", "[1]", "true",
                                "-3.5e38", "NaN"};
                        vcdc_buf_puts(b, bads[pick(s, 7)]);
                } else {
                        put_number(b, s);
                }
        }
        vcdc_buf_puts(b, "]");
}

static void put_metadata(vcdc_buf_t *b, uint64_t *s) {
        switch (pick(s, 5)) {
        case 0: vcdc_buf_puts(b, "null"); break;
        case 1: vcdc_buf_puts(b, "{}"); break;
        case 2:
                vcdc_buf_printf(b, "{\"x\":%.17g,\"n\":%d,\"t\":true}",
                                (double)pick(s, 1000) * 0.1,
                                (int)pick(s, 100));
                break;
        case 3: vcdc_buf_puts(b, "{\"s\":\"\\u00e9t\\u00e9\",\"f\":1e300}");
                break;
        default: vcdc_buf_puts(b, "{ \"k\" : \"v\" , \"b\" : false }"); break;
        }
}

/* A get answer of rows records, each column present, null or absent, and
 * with probability 1/fault_in one fault (a wrong shape, a NaN, a bad id,
 * a duplicate key). ids gets the plain ids of some rows and others. */
static void gen_answer(vcdc_buf_t *b, uint64_t *s, unsigned rows,
                       unsigned fault_in, char ids[][32], size_t *idcnt) {
        unsigned j, dim = 1 + pick(s, 6), fault = pick(s, fault_in) == 0;
        unsigned what = pick(s, 8), bad_row = rows ? pick(s, rows) : 0;
        char plain[32];

        *idcnt = 0;
        vcdc_buf_puts(b, "{\"ids\":[");
        for (j = 0; j < rows; j++) {
                if (j)
                        vcdc_buf_puts(b, ",");
                if (fault && what == 0 && j == bad_row) {
                        vcdc_buf_puts(b, pick(s, 2) ? "7" : "null");
                        plain[0] = '\0'; /* no id to ask for */
                } else
                        put_id(b, s, j, plain, sizeof(plain));
                if (pick(s, 3) && *idcnt < 8 && plain[0])
                        snprintf(ids[(*idcnt)++], 32, "%s", plain);
        }
        if (pick(s, 4) == 0 && *idcnt < 8)
                snprintf(ids[(*idcnt)++], 32, "zz");
        vcdc_buf_puts(b, "]");
        if (pick(s, 5)) {
                vcdc_buf_puts(b, ",\"embeddings\":");
                if (pick(s, 6) == 0) {
                        vcdc_buf_puts(b, "null");
                } else {
                        vcdc_buf_puts(b, "[");
                        for (j = 0; j < rows + (fault && what == 1); j++) {
                                if (j)
                                        vcdc_buf_puts(b, ",");
                                if (fault && what == 2 && j == bad_row)
                                        vcdc_buf_puts(b, pick(s, 2) ? "[]"
                                                                    : "{}");
                                else
                                        put_embedding(b, s, dim,
                                                      fault && what == 3 &&
                                                              j == bad_row);
                        }
                        vcdc_buf_puts(b, "]");
                }
        }
        if (pick(s, 4)) {
                vcdc_buf_puts(b, ",\"metadatas\":[");
                for (j = 0; j < rows; j++) {
                        if (j)
                                vcdc_buf_puts(b, ",");
                        if (fault && what == 4 && j == bad_row)
                                vcdc_buf_puts(b, "[1]");
                        else
                                put_metadata(b, s);
                }
                vcdc_buf_puts(b, "]");
        }
        if (pick(s, 4)) {
                vcdc_buf_puts(b, ",\"documents\":[");
                for (j = 0; j < rows; j++) {
                        if (j)
                                vcdc_buf_puts(b, ",");
                        if (fault && what == 5 && j == bad_row)
                                vcdc_buf_puts(b, "12");
                        else if (pick(s, 3) == 0)
                                vcdc_buf_puts(b, "null");
                        else
                                vcdc_buf_printf(b, "\"doc \\t%u \\u2603\"", j);
                }
                vcdc_buf_puts(b, "]");
        }
        vcdc_buf_puts(b, ",\"uris\":null,\"include\":[\"embeddings\"]");
        if (fault && what == 6)
                vcdc_buf_puts(b, ",\"ids\":[]"); /* a duplicate key */
        if (fault && what == 7)
                vcdc_buf_puts(b, ",\"documents\":\"x\"");
        vcdc_buf_puts(b, "}");
}

static void test_generated(void **state) {
        vcdc_jsonscan_t *js = vcdc_jsonscan_new();
        char ids[8][32], why[1024];
        const char *idp[8];
        size_t idcnt, i, kinds[3] = {0, 0, 0}, refused_json = 0;
        uint64_t seed = 0x9e3779b97f4a7c15ull;
        int r;

        (void)state;
        assert_non_null(js);
        for (i = 0; i < ANSWERS; i++) {
                vcdc_buf_t b = VCDC_BUF_INIT;
                size_t k;

                gen_answer(&b, &seed, pick(&seed, 7), 3, ids, &idcnt);
                assert_false(b.failed);
                for (k = 0; k < idcnt; k++)
                        idp[k] = ids[k];
                r = vcdc_chromaref_compare(js, b.p, b.len, idp, idcnt, why,
                                           sizeof(why));
                if (r == -1)
                        fail_msg("answer %zu: %s\n%s", i, why, b.p);
                if (r == 1)
                        refused_json++;
                else
                        kinds[read_kind(js)]++;
                vcdc_buf_free(&b);
        }
        /* Most answers are JSON, and some are not; of those that are,
         * many read as records with vectors and many are refused. */
        print_message("%zu not JSON, %zu refused, %zu read, %zu with "
                      "vectors\n",
                      refused_json, kinds[0], kinds[1], kinds[2]);
        assert_true(refused_json > 0);
        assert_true(kinds[0] > ANSWERS / 20);
        assert_true(kinds[2] > ANSWERS / 4);
        vcdc_jsonscan_destroy(js);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_corpus),
                cmocka_unit_test(test_halfway),
                cmocka_unit_test(test_generated),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

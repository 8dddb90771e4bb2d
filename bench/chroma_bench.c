/*
 * chroma_bench - time reading a Chroma get answer into records: the
 * jansson reader the sink had before issue 20 (json_loadb() of the whole
 * answer, then tests/chromaref.c) against the fast path (the JSON scanner,
 * then vcdc_chroma_scan_get()), both from the answer's text in memory.
 * No server: the answer is a file (bench/bench_verify.py records one from
 * Chroma). Checks once that both read the same records.
 *
 * Usage: chroma_bench ANSWER_FILE REPEATS ROUNDS
 * Prints one line per round: "records jansson_ns fast_ns", nanoseconds per
 * record, each the mean over REPEATS reads of the answer; the two sides
 * alternate which goes first. The driver takes medians.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "chromaref.h"
#include "jsonscan.h"
#include "sink_chroma_int.h"

#define MAX_RECORDS 100000

static double now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long parse_pos(const char *s) {
        char *end;
        long v = strtol(s, &end, 10);

        return (end == s || *end || v <= 0) ? -1 : v;
}

static char *read_file(const char *path, size_t *lenp) {
        FILE *f = fopen(path, "rb");
        char *text = NULL;
        long size;

        if (!f)
                return NULL;
        if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
            fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)size + 1)) &&
            fread(text, 1, (size_t)size, f) == (size_t)size) {
                text[size] = '\0';
                *lenp = (size_t)size;
        } else {
                free(text);
                text = NULL;
        }
        fclose(f);
        return text;
}

static void clear(vcdc_record_t *out, size_t n) {
        while (n-- > 0)
                vcdc_record_clear(&out[n]);
}

/* One read of the answer by jansson's tree. Returns its records, or -1. */
static long read_jansson(const char *text, size_t len, vcdc_record_t *out) {
        char errstr[512];
        json_error_t jerr;
        json_t *resp;
        size_t n;

        if (!(resp = json_loadb(text, len, JSON_DECODE_ANY, &jerr))) {
                fprintf(stderr, "chroma_bench: %s\n", jerr.text);
                return -1;
        }
        if (vcdc_chromaref_get(resp, NULL, MAX_RECORDS, out, &n, errstr,
                               sizeof(errstr)) == -1) {
                fprintf(stderr, "chroma_bench: jansson: %s\n", errstr);
                n = (size_t)-1;
        }
        json_decref(resp);
        return (long)n;
}

/* One read by the scanner and the fast path. */
static long read_fast(vcdc_jsonscan_t *js, const char *text, size_t len,
                      vcdc_record_t *out) {
        vcdc_json_error_t jerr;
        vcdc_json_span_t root;
        char errstr[512];
        size_t n;

        if (vcdc_jsonscan_run(js, text, len, &root, &jerr) == -1) {
                fprintf(stderr, "chroma_bench: %s\n", jerr.text);
                return -1;
        }
        if (vcdc_chroma_scan_get(js, NULL, MAX_RECORDS, out, &n, errstr,
                                 sizeof(errstr)) == -1) {
                fprintf(stderr, "chroma_bench: fast: %s\n", errstr);
                return -1;
        }
        return (long)n;
}

/* ns per record of repeats reads by one side; -1 on failure. */
static double timed(vcdc_jsonscan_t *js, const char *text, size_t len,
                    vcdc_record_t *out, long repeats, long records) {
        double t0 = now_ns();
        long i, n;

        for (i = 0; i < repeats; i++) {
                n = js ? read_fast(js, text, len, out)
                       : read_jansson(text, len, out);
                if (n != records)
                        return -1;
                clear(out, (size_t)n);
        }
        return (now_ns() - t0) / (double)repeats / (double)records;
}

int main(int argc, char **argv) {
        vcdc_record_t *a = NULL, *b = NULL;
        vcdc_jsonscan_t *js = NULL;
        long repeats, rounds, r, na, nb, i;
        char *text = NULL;
        size_t len = 0;
        int rc = 1;

        if (argc != 4 || (repeats = parse_pos(argv[2])) < 0 ||
            (rounds = parse_pos(argv[3])) < 0) {
                fprintf(stderr,
                        "usage: chroma_bench ANSWER_FILE REPEATS ROUNDS\n");
                return 64;
        }
        if (!(text = read_file(argv[1], &len))) {
                fprintf(stderr, "chroma_bench: cannot read %s\n", argv[1]);
                return 1;
        }
        if (!(js = vcdc_jsonscan_new()) ||
            !(a = calloc(MAX_RECORDS, sizeof(*a))) ||
            !(b = calloc(MAX_RECORDS, sizeof(*b))))
                goto done;
        /* Both sides read the same records (to the float). */
        na = read_jansson(text, len, a);
        nb = read_fast(js, text, len, b);
        if (na <= 0 || na != nb) {
                fprintf(stderr, "chroma_bench: %ld records by jansson, %ld by "
                                "the fast path\n", na, nb);
                goto done;
        }
        for (i = 0; i < na; i++)
                if (strcmp(a[i].id, b[i].id) || a[i].dim != b[i].dim ||
                    memcmp(a[i].vector, b[i].vector,
                           a[i].dim * sizeof(float))) {
                        fprintf(stderr, "chroma_bench: record %ld differs\n",
                                i);
                        clear(a, (size_t)na);
                        clear(b, (size_t)nb);
                        goto done;
                }
        clear(a, (size_t)na);
        clear(b, (size_t)nb);
        for (r = 0; r < rounds; r++) {
                double old_ns, new_ns;

                if (r % 2 == 0) {
                        old_ns = timed(NULL, text, len, a, repeats, na);
                        new_ns = timed(js, text, len, b, repeats, na);
                } else {
                        new_ns = timed(js, text, len, b, repeats, na);
                        old_ns = timed(NULL, text, len, a, repeats, na);
                }
                if (old_ns < 0 || new_ns < 0)
                        goto done;
                printf("%ld %.0f %.0f\n", na, old_ns, new_ns);
                fflush(stdout);
        }
        rc = 0;
done:
        free(a);
        free(b);
        vcdc_jsonscan_destroy(js);
        free(text);
        return rc;
}

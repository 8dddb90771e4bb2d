/*
 * codec_bench - time vcdc_codec_encode and vcdc_codec_decode per record,
 * against memcpy of the same float bytes (the floor any encoding pays), and
 * the reference encoder and decoder through avro-c's generic values
 * (vcdc_codec_encode_generic, vcdc_codec_decode_generic) for comparison.
 *
 * Usage: codec_bench DIM RECORDS ROUNDS
 * Prints one line per round:
 *   "dim encode_ns decode_ns memcpy_ns bytes generic_encode_ns
 *    generic_decode_ns",
 * nanoseconds per record. The driver (bench/bench.py) takes medians.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "record.h"

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

int main(int argc, char **argv) {
        char errstr[512];
        vcdc_codec_t *codec = NULL;
        vcdc_record_t rec, out;
        float *copy = NULL;
        void *buf = NULL;
        size_t len = 0, i;
        long dim, n, rounds, r, k;
        int rc = 1;
        volatile float sink = 0;

        vcdc_record_init(&rec);
        vcdc_record_init(&out);
        if (argc != 4 || (dim = parse_pos(argv[1])) < 0 ||
            (n = parse_pos(argv[2])) < 0 || (rounds = parse_pos(argv[3])) < 0) {
                fprintf(stderr, "usage: codec_bench DIM RECORDS ROUNDS\n");
                return 64;
        }
        if (!(codec = vcdc_codec_new(errstr, sizeof(errstr)))) {
                fprintf(stderr, "codec_bench: %s\n", errstr);
                goto done;
        }
        rec.collection = strdup("docs");
        rec.id = strdup("doc-123456");
        rec.op = VCDC_OP_UPSERT;
        rec.dim = (size_t)dim;
        rec.vector = malloc(sizeof(float) * rec.dim);
        rec.metadata = strdup("{\"cluster\":7,\"version\":1}");
        rec.source_ts_ms = 1700000000000LL;
        copy = malloc(sizeof(float) * rec.dim);
        if (!rec.collection || !rec.id || !rec.vector || !rec.metadata ||
            !copy)
                goto done;
        for (i = 0; i < rec.dim; i++)
                rec.vector[i] = (float)((double)(i * 7919 % 1000) / 1000.0);

        for (r = 0; r < rounds; r++) {
                double t0, t_enc, t_dec, t_cpy, t_gen, t_gdec;

                t0 = now_ns();
                for (k = 0; k < n; k++) {
                        free(buf);
                        buf = NULL;
                        if (vcdc_codec_encode(codec, &rec, &buf, &len, errstr,
                                              sizeof(errstr))) {
                                fprintf(stderr, "encode: %s\n", errstr);
                                goto done;
                        }
                }
                t_enc = now_ns() - t0;

                t0 = now_ns();
                for (k = 0; k < n; k++) {
                        free(buf);
                        buf = NULL;
                        if (vcdc_codec_encode_generic(codec, &rec, &buf, &len,
                                                      errstr,
                                                      sizeof(errstr))) {
                                fprintf(stderr, "encode_generic: %s\n",
                                        errstr);
                                goto done;
                        }
                }
                t_gen = now_ns() - t0;

                t0 = now_ns();
                for (k = 0; k < n; k++) {
                        if (vcdc_codec_decode(codec, buf, len, &out, errstr,
                                              sizeof(errstr))) {
                                fprintf(stderr, "decode: %s\n", errstr);
                                goto done;
                        }
                        sink += out.vector[k % out.dim];
                }
                t_dec = now_ns() - t0;

                t0 = now_ns();
                for (k = 0; k < n; k++) {
                        if (vcdc_codec_decode_generic(codec, buf, len, &out,
                                                      errstr,
                                                      sizeof(errstr))) {
                                fprintf(stderr, "decode_generic: %s\n",
                                        errstr);
                                goto done;
                        }
                        sink += out.vector[k % out.dim];
                }
                t_gdec = now_ns() - t0;

                /* The floor: the vector's bytes copied once, as any
                 * encoder and any decoder must at least do. */
                t0 = now_ns();
                for (k = 0; k < n; k++) {
                        memcpy(copy, rec.vector, sizeof(float) * rec.dim);
                        sink += copy[k % rec.dim];
                        __asm__ __volatile__("" ::: "memory");
                }
                t_cpy = now_ns() - t0;

                printf("%ld %.1f %.1f %.1f %zu %.1f %.1f\n", dim,
                       t_enc / (double)n, t_dec / (double)n,
                       t_cpy / (double)n, len, t_gen / (double)n,
                       t_gdec / (double)n);
        }
        rc = 0;
done:
        (void)sink;
        free(buf);
        free(copy);
        vcdc_record_clear(&rec);
        vcdc_record_clear(&out);
        vcdc_codec_destroy(codec);
        return rc;
}

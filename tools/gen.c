/*
 * vcdc-gen - generate vector changes as JSON Lines (or fvecs) for demos,
 * tests and benchmarks: clustered float32 vectors (so k-NN queries have
 * meaningful neighbours) from a fixed seed, optionally at a fixed rate,
 * with a share of updates and deletes of ids written before.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t run = 1;

static void on_signal(int sig) {
        (void)sig;
        run = 0;
}

/* splitmix64: small, fast, reproducible. */
static uint64_t rng_state;

static uint64_t rng_next(void) {
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static double rng_uniform(void) {
        return (double)(rng_next() >> 11) / 9007199254740992.0;
}

static double rng_gauss(void) {
        double u = rng_uniform(), v = rng_uniform();
        if (u < 1e-300)
                u = 1e-300;
        return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

static int parse_num(const char *opt, const char *s, double min, double max,
                     double *out) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (end == s || *end || errno || v < min || v > max) {
                fprintf(stderr, "vcdc-gen: %s %s: expected a number in "
                                "%g..%g\n",
                        opt, s, min, max);
                return -1;
        }
        *out = v;
        return 0;
}

static void usage(FILE *fp) {
        fprintf(fp,
                "Usage: vcdc-gen [options] > changes.jsonl\n"
                "  -n COUNT        changes to write (default 1000; 0: until "
                "stopped)\n"
                "  -d DIM          dimension (default 128)\n"
                "  -k CLUSTERS     clusters of vectors (default 32)\n"
                "  -s SEED         seed (default 1)\n"
                "  -c COLLECTION   collection (default docs)\n"
                "  -r RATE         changes per second (default: as fast as "
                "possible)\n"
                "  --start N       first new id number (default 0)\n"
                "  --updates F     share of changes that re-upsert an "
                "earlier id (0..1)\n"
                "  --deletes F     share of changes that delete an earlier "
                "id (0..1)\n"
                "  --fvecs         write fvecs (upserts only) instead of "
                "JSONL\n"
                "  --digits N      significant digits of each value (default "
                "9, which\n"
                "                  reads back the same float32; 17 prints "
                "the double\n"
                "                  that float32 widens to, as numpy's "
                "tolist() does)\n"
                "Ids are \"doc-N\"; metadata holds the cluster and a "
                "version.\n");
}

int main(int argc, char **argv) {
        enum { O_START = 256, O_UPDATES, O_DELETES, O_FVECS, O_DIGITS };
        static const struct option longopts[] = {
                {"start", required_argument, NULL, O_START},
                {"updates", required_argument, NULL, O_UPDATES},
                {"deletes", required_argument, NULL, O_DELETES},
                {"fvecs", no_argument, NULL, O_FVECS},
                {"digits", required_argument, NULL, O_DIGITS},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        double count = 1000, dim = 128, clusters = 32, seed = 1, rate = 0,
               start = 0, updates = 0, deletes = 0, digits = 9, v;
        const char *collection = "docs";
        int fvecs = 0, opt, d, D, K;
        float *centers, *vec;
        uint64_t i, next_id, n;
        struct timespec t0, now;
        struct sigaction sa;

        while ((opt = getopt_long(argc, argv, "n:d:k:s:c:r:h", longopts,
                                  NULL)) != -1) {
                int bad = 0;
                switch (opt) {
                case 'n': bad = parse_num("-n", optarg, 0, 1e12, &count); break;
                case 'd': bad = parse_num("-d", optarg, 1, 65536, &dim); break;
                case 'k': bad = parse_num("-k", optarg, 1, 1e6, &clusters); break;
                case 's': bad = parse_num("-s", optarg, 0, 1e15, &seed); break;
                case 'r': bad = parse_num("-r", optarg, 0, 1e9, &rate); break;
                case 'c': collection = optarg; break;
                case O_START: bad = parse_num("--start", optarg, 0, 1e15, &start); break;
                case O_UPDATES: bad = parse_num("--updates", optarg, 0, 1, &updates); break;
                case O_DELETES: bad = parse_num("--deletes", optarg, 0, 1, &deletes); break;
                case O_FVECS: fvecs = 1; break;
                case O_DIGITS: bad = parse_num("--digits", optarg, 1, 17, &digits); break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 64;
                }
                if (bad)
                        return 64;
        }
        if (strpbrk(collection, "\"\\") ||
            strlen(collection) != strcspn(collection, "\x01\x02\x03\x04\x05"
                                                      "\x06\x07\x08\t\n\r")) {
                fprintf(stderr, "vcdc-gen: -c %s: quotes, backslashes and "
                                "control characters are not supported\n",
                        collection);
                return 64;
        }
        if (updates + deletes > 1) {
                fprintf(stderr, "vcdc-gen: --updates + --deletes > 1\n");
                return 64;
        }
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_DFL);

        D = (int)dim;
        K = (int)clusters;
        rng_state = (uint64_t)seed;
        centers = malloc((size_t)K * (size_t)D * sizeof(float));
        vec = malloc((size_t)D * sizeof(float));
        if (!centers || !vec) {
                fprintf(stderr, "vcdc-gen: out of memory\n");
                return 1;
        }
        for (i = 0; i < (uint64_t)K * (uint64_t)D; i++)
                centers[i] = (float)(rng_uniform() * 2.0 - 1.0);

        clock_gettime(CLOCK_MONOTONIC, &t0);
        next_id = (uint64_t)start;
        n = (uint64_t)count;
        for (i = 0; run && (n == 0 || i < n); i++) {
                double pick = rng_uniform();
                int cluster = (int)(rng_next() % (uint64_t)K);
                uint64_t id;
                int del = 0;

                if (rate > 0) {
                        /* Sleep until this change is due. */
                        double due = (double)i / rate, el;
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        el = (double)(now.tv_sec - t0.tv_sec) +
                             (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
                        if (due > el) {
                                struct timespec ts;
                                ts.tv_sec = (time_t)(due - el);
                                ts.tv_nsec = (long)((due - el -
                                                     (double)ts.tv_sec) * 1e9);
                                nanosleep(&ts, NULL);
                        }
                }
                if (!fvecs && next_id > (uint64_t)start &&
                    pick < updates + deletes) {
                        id = (uint64_t)start +
                             rng_next() % (next_id - (uint64_t)start);
                        del = pick >= updates;
                } else {
                        id = next_id++;
                }
                for (d = 0; d < D; d++) {
                        v = centers[(size_t)cluster * (size_t)D + (size_t)d] +
                            0.05 * rng_gauss();
                        vec[d] = (float)v;
                }
                if (fvecs) {
                        int32_t dd = D;
                        if (fwrite(&dd, sizeof(dd), 1, stdout) != 1 ||
                            fwrite(vec, sizeof(float), (size_t)D, stdout) !=
                                    (size_t)D)
                                break;
                        continue;
                }
                if (del) {
                        printf("{\"collection\":\"%s\",\"id\":\"doc-%llu\","
                               "\"op\":\"delete\"}\n",
                               collection, (unsigned long long)id);
                        continue;
                }
                printf("{\"collection\":\"%s\",\"id\":\"doc-%llu\","
                       "\"vector\":[",
                       collection, (unsigned long long)id);
                for (d = 0; d < D; d++)
                        printf(d ? ",%.*g" : "%.*g", (int)digits,
                               (double)vec[d]);
                printf("],\"metadata\":{\"cluster\":%d,\"version\":%llu},"
                       "\"document\":\"vector %llu of cluster %d\"}\n",
                       cluster, (unsigned long long)i, (unsigned long long)id,
                       cluster);
                if (rate > 0)
                        fflush(stdout);
        }
        fflush(stdout);
        free(centers);
        free(vec);
        return ferror(stdout) ? 1 : 0;
}

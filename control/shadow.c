/*
 * vcdc - shadow reads: the same k-NN queries on OLD and NEW, compared.
 *
 * Query vectors come from a JSON Lines file ({"vector": [...]} a line) or
 * are sampled from OLD (the ids by reservoir sampling, then their vectors
 * by get). Each query runs on both sides, in alternating order; the
 * answers give overlap@k and rank agreement, the timings p50/p99 latency.
 */
#include "shadow.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "record.h"
#include "verify.h"

#define LOG_COMP         "shadow"
#define K_DEFAULT        10
#define GET_PAGE         500
#define RETRIES          3
#define RETRY_BASE_MS    250
#define PROGRESS_EVERY_S 5.0

/* ---- The queries file -------------------------------------------------- */

static int is_blank(const char *s, size_t len) {
        size_t i;

        for (i = 0; i < len; i++)
                if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
                        return 0;
        return 1;
}

int vcdc_shadow_parse_query(const char *line, size_t len, size_t dim,
                            float **vecp, size_t *dimp, char *errstr,
                            size_t errstr_size) {
        const json_t *jvec;
        json_error_t jerr;
        float *vec = NULL;
        json_t *root;
        size_t n, i;
        int rc = -1;

        *vecp = NULL;
        *dimp = 0;
        if (is_blank(line, len))
                return 0;
        if (!(root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr))) {
                snprintf(errstr, errstr_size, "not JSON: %s (column %d)",
                         jerr.text, jerr.column);
                return -1;
        }
        if (!json_is_object(root)) {
                snprintf(errstr, errstr_size,
                         "expected an object {\"vector\": [...]}");
                goto done;
        }
        jvec = json_object_get(root, "vector");
        if (!json_is_array(jvec)) {
                snprintf(errstr, errstr_size, "%s",
                         jvec ? "\"vector\" is not an array"
                              : "no \"vector\" member");
                goto done;
        }
        n = json_array_size(jvec);
        if (!n || n > VCDC_DIM_MAX_DEFAULT) {
                snprintf(errstr, errstr_size,
                         "\"vector\" has %zu numbers (1..%d expected)", n,
                         VCDC_DIM_MAX_DEFAULT);
                goto done;
        }
        if (dim && n != dim) {
                snprintf(errstr, errstr_size,
                         "vector of dimension %zu, earlier queries have %zu", n,
                         dim);
                goto done;
        }
        if (!(vec = malloc(n * sizeof(*vec)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        for (i = 0; i < n; i++) {
                const json_t *x = json_array_get(jvec, i);
                double d = json_number_value(x);
                if (!json_is_number(x)) {
                        snprintf(errstr, errstr_size,
                                 "vector[%zu] is not a number", i);
                        goto done;
                }
                if (!(fabs(d) <= FLT_MAX)) {
                        snprintf(errstr, errstr_size,
                                 "vector[%zu] = %g is out of float32 range", i,
                                 d);
                        goto done;
                }
                vec[i] = (float)d;
        }
        *vecp = vec;
        *dimp = n;
        vec = NULL;
        rc = 1;
done:
        free(vec);
        json_decref(root);
        return rc;
}

int vcdc_shadow_read_queries(FILE *fp, const char *name, float **vecsp,
                             size_t *cntp, size_t *dimp, char *errstr,
                             size_t errstr_size) {
        float *vecs = NULL, *vec;
        size_t cnt = 0, cap = 0, dim = 0, n, size = 0, lineno = 0;
        char *line = NULL, err[256];
        ssize_t len;
        int rc = -1, r;

        *vecsp = NULL;
        *cntp = *dimp = 0;
        while ((len = getline(&line, &size, fp)) != -1) {
                lineno++;
                r = vcdc_shadow_parse_query(line, (size_t)len, dim, &vec, &n,
                                            err, sizeof(err));
                if (r == -1) {
                        snprintf(errstr, errstr_size, "%s:%zu: %s", name,
                                 lineno, err);
                        goto done;
                }
                if (!r)
                        continue;
                if (cnt == cap) {
                        size_t ncap = cap ? cap * 2 : 64;
                        float *nv = realloc(vecs, ncap * n * sizeof(*nv));
                        if (!nv) {
                                free(vec);
                                snprintf(errstr, errstr_size,
                                         "%s:%zu: out of memory", name, lineno);
                                goto done;
                        }
                        vecs = nv;
                        cap = ncap;
                }
                memcpy(vecs + cnt * n, vec, n * sizeof(*vec));
                free(vec);
                dim = n;
                cnt++;
        }
        if (ferror(fp)) {
                snprintf(errstr, errstr_size, "%s:%zu: read error: %s", name,
                         lineno + 1, strerror(errno));
                goto done;
        }
        if (!cnt) {
                snprintf(errstr, errstr_size, "%s: no query vectors", name);
                goto done;
        }
        *vecsp = vecs;
        *cntp = cnt;
        *dimp = dim;
        vecs = NULL;
        rc = 0;
done:
        free(line);
        free(vecs);
        return rc;
}

/* ---- Figures ----------------------------------------------------------- */

static int str_ptr_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* How many answers count: min(k, max(na, nb)). */
static size_t positions(size_t na, size_t nb, size_t k) {
        size_t n = na > nb ? na : nb;

        return n < k ? n : k;
}

double vcdc_shadow_overlap(const char *const *a, size_t na,
                           const char *const *b, size_t nb, size_t k) {
        size_t d = positions(na, nb, k), common = 0, i, j;
        const char **sa, **sb;

        if (!d)
                return 1.0;
        if (na > k)
                na = k;
        if (nb > k)
                nb = k;
        sa = malloc((na + nb + 1) * sizeof(*sa));
        if (!sa) {
                /* Quadratic, but needs no memory. */
                for (i = 0; i < na; i++)
                        for (j = 0; j < nb; j++)
                                if (!strcmp(a[i], b[j])) {
                                        common++;
                                        break;
                                }
                return (double)common / (double)d;
        }
        sb = sa + na;
        memcpy(sa, a, na * sizeof(*sa));
        memcpy(sb, b, nb * sizeof(*sb));
        qsort(sa, na, sizeof(*sa), str_ptr_cmp);
        qsort(sb, nb, sizeof(*sb), str_ptr_cmp);
        for (i = j = 0; i < na && j < nb;) {
                int c = strcmp(sa[i], sb[j]);
                if (!c) {
                        common++;
                        i++;
                        j++;
                } else if (c < 0) {
                        i++;
                } else {
                        j++;
                }
        }
        free(sa);
        return (double)common / (double)d;
}

size_t vcdc_shadow_rank_matches(const char *const *a, size_t na,
                                const char *const *b, size_t nb, size_t k,
                                size_t *positionsp) {
        size_t d = positions(na, nb, k), i, same = 0;

        for (i = 0; i < d && i < na && i < nb; i++)
                if (!strcmp(a[i], b[i]))
                        same++;
        if (positionsp)
                *positionsp = d;
        return same;
}

static int double_cmp(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

double vcdc_shadow_percentile(double *values, size_t n, double p) {
        double rank;
        size_t i;

        if (!n)
                return 0;
        qsort(values, n, sizeof(*values), double_cmp);
        rank = ceil(p / 100.0 * (double)n);
        i = rank < 1 ? 1 : rank > (double)n ? n : (size_t)rank;
        return values[i - 1];
}

/* ---- Running the queries ----------------------------------------------- */

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* After a failed call: 1 (having waited) when it is worth another try. */
static int retry(vcdc_sink_status_t status, int *attemptp, const char *role,
                 const char *what, const char *err) {
        struct timespec ts;
        long ms;

        if (status != VCDC_SINK_RETRIABLE || *attemptp >= RETRIES)
                return 0;
        ms = (long)RETRY_BASE_MS << *attemptp;
        VCDC_WARN(LOG_COMP, "%s: %s failed, retrying in %ld ms: %s", role, what,
                  ms, err);
        ts.tv_sec = ms / 1000;
        ts.tv_nsec = (ms % 1000) * 1000000L;
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
                ;
        (*attemptp)++;
        return 1;
}

/* The vectors of n ids sampled from OLD, as one array of *cntp * *dimp. */
static int sample_queries(vcdc_sink_t *sink, size_t n, uint32_t seed,
                          float **vecsp, size_t *cntp, size_t *dimp,
                          char *errstr, size_t errstr_size) {
        vcdc_record_t recs[GET_PAGE];
        vcdc_sink_status_t status;
        char **ids = NULL, err[512];
        size_t cnt = 0, i, j, m, dim = 0, got = 0;
        float *vecs = NULL;
        int rc = -1, attempt;

        *vecsp = NULL;
        *cntp = *dimp = 0;
        for (j = 0; j < GET_PAGE; j++)
                vcdc_record_init(&recs[j]);
        if (vcdc_verify_sample_ids(sink, n, seed, 0, &ids, &cnt, NULL, errstr,
                                   errstr_size) == -1)
                return -1;
        if (!cnt) {
                snprintf(errstr, errstr_size,
                         "OLD holds no records to sample queries from");
                goto done;
        }
        for (i = 0; i < cnt; i += m) {
                m = cnt - i < GET_PAGE ? cnt - i : GET_PAGE;
                attempt = 0;
                while ((status = vcdc_sink_get(
                                sink, (const char *const *)ids + i, m, recs,
                                err, sizeof(err))) != VCDC_SINK_OK) {
                        for (j = 0; j < m; j++)
                                vcdc_record_clear(&recs[j]);
                        if (!retry(status, &attempt, "OLD", "get", err)) {
                                snprintf(errstr, errstr_size,
                                         "OLD: getting the sampled vectors: "
                                         "%s",
                                         err);
                                goto done;
                        }
                }
                for (j = 0; j < m; j++) {
                        vcdc_record_t *rec = &recs[j];
                        /* Deleted since the sampling scan: skip it. */
                        if (!rec->id || !rec->vector || !rec->dim)
                                continue;
                        if (!dim) {
                                dim = rec->dim;
                                if (!(vecs = malloc(cnt * dim *
                                                    sizeof(*vecs)))) {
                                        snprintf(errstr, errstr_size,
                                                 "out of memory");
                                        goto done;
                                }
                        }
                        if (rec->dim != dim) {
                                snprintf(errstr, errstr_size,
                                         "OLD: \"%.100s\" has dimension %zu, "
                                         "other records %zu",
                                         rec->id, rec->dim, dim);
                                goto done;
                        }
                        memcpy(vecs + got * dim, rec->vector,
                               dim * sizeof(*vecs));
                        got++;
                }
                for (j = 0; j < m; j++)
                        vcdc_record_clear(&recs[j]);
        }
        if (!got) {
                snprintf(errstr, errstr_size,
                         "OLD: none of the sampled records has a vector");
                goto done;
        }
        *vecsp = vecs;
        *cntp = got;
        *dimp = dim;
        vecs = NULL;
        rc = 0;
done:
        for (j = 0; j < GET_PAGE; j++)
                vcdc_record_clear(&recs[j]);
        free(vecs);
        vcdc_verify_ids_free(ids, cnt);
        return rc;
}

static int load_queries(vcdc_sink_t *old_sink, const vcdc_shadow_opts_t *opts,
                        float **vecsp, size_t *cntp, size_t *dimp, char *errstr,
                        size_t errstr_size) {
        FILE *fp;
        int rc;

        if (!opts->queries_path) {
                if (!opts->sample) {
                        snprintf(errstr, errstr_size,
                                 "no queries: give a queries file or a "
                                 "sample size");
                        return -1;
                }
                return sample_queries(old_sink, opts->sample, opts->seed, vecsp,
                                      cntp, dimp, errstr, errstr_size);
        }
        if (!(fp = fopen(opts->queries_path, "r"))) {
                snprintf(errstr, errstr_size, "%s: cannot open: %s",
                         opts->queries_path, strerror(errno));
                return -1;
        }
        rc = vcdc_shadow_read_queries(fp, opts->queries_path, vecsp, cntp, dimp,
                                      errstr, errstr_size);
        fclose(fp);
        return rc;
}

/* One query on one side; *msp is the latency of the attempt that worked. */
static int query_side(vcdc_sink_t *sink, const char *role, size_t q,
                      const float *vec, size_t dim, size_t k, vcdc_hit_t *hits,
                      size_t *cntp, double *msp, char *errstr,
                      size_t errstr_size) {
        vcdc_sink_status_t status;
        int attempt = 0;
        char err[512];
        double t0;

        for (;;) {
                t0 = now_s();
                status = vcdc_sink_query(sink, vec, dim, k, hits, cntp, err,
                                         sizeof(err));
                *msp = (now_s() - t0) * 1000.0;
                if (status == VCDC_SINK_OK)
                        return 0;
                if (!retry(status, &attempt, role, "query", err))
                        break;
        }
        snprintf(errstr, errstr_size, "%s: query %zu: %s", role, q + 1, err);
        return -1;
}

static void hits_free(vcdc_hit_t *hits, size_t cnt) {
        size_t i;

        for (i = 0; i < cnt; i++) {
                free(hits[i].id);
                hits[i].id = NULL;
        }
}

static int check_dim(vcdc_sink_t *sink, const char *role, size_t dim,
                     char *errstr, size_t errstr_size) {
        size_t have = vcdc_sink_dim(sink);

        if (!have || have == dim)
                return 0;
        snprintf(errstr, errstr_size,
                 "the queries have dimension %zu, %s (%s) has %zu", dim, role,
                 vcdc_sink_name(sink), have);
        return -1;
}

int vcdc_shadow(vcdc_sink_t *old_sink, vcdc_sink_t *new_sink,
                const vcdc_shadow_opts_t *opts, vcdc_shadow_result_t *res,
                char *errstr, size_t errstr_size) {
        vcdc_hit_t *old_hits = NULL, *new_hits = NULL;
        const char **old_ids = NULL, **new_ids = NULL;
        size_t cnt = 0, dim = 0, k, q, i, old_n = 0, new_n = 0;
        size_t same = 0, slots = 0, d;
        double *old_ms = NULL, *new_ms = NULL, start = now_s(), last;
        double overlap_sum = 0, overlap;
        float *vecs = NULL;
        int rc = -1;

        memset(res, 0, sizeof(*res));
        k = opts->k ? opts->k : K_DEFAULT;
        if (k > VCDC_SHADOW_K_MAX) {
                snprintf(errstr, errstr_size, "k = %zu is more than %d", k,
                         VCDC_SHADOW_K_MAX);
                return -1;
        }
        if (load_queries(old_sink, opts, &vecs, &cnt, &dim, errstr,
                         errstr_size) == -1)
                return -1;
        if (check_dim(old_sink, "OLD", dim, errstr, errstr_size) == -1 ||
            check_dim(new_sink, "NEW", dim, errstr, errstr_size) == -1)
                goto done;
        if (!(old_hits = calloc(k, sizeof(*old_hits))) ||
            !(new_hits = calloc(k, sizeof(*new_hits))) ||
            !(old_ids = calloc(k, sizeof(*old_ids))) ||
            !(new_ids = calloc(k, sizeof(*new_ids))) ||
            !(old_ms = calloc(cnt, sizeof(*old_ms))) ||
            !(new_ms = calloc(cnt, sizeof(*new_ms)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        VCDC_NOTICE(LOG_COMP, "%zu queries of dimension %zu, k = %zu", cnt, dim,
                    k);
        res->overlap_min = 1.0;
        last = start;
        for (q = 0; q < cnt; q++) {
                const float *vec = vecs + q * dim;
                int r;

                /* Alternate which side goes first: caches warmed by the
                 * first query do not always favour the same side. */
                if (q % 2 == 0)
                        r = query_side(old_sink, "OLD", q, vec, dim, k,
                                       old_hits, &old_n, &old_ms[q], errstr,
                                       errstr_size) ||
                            query_side(new_sink, "NEW", q, vec, dim, k,
                                       new_hits, &new_n, &new_ms[q], errstr,
                                       errstr_size);
                else
                        r = query_side(new_sink, "NEW", q, vec, dim, k,
                                       new_hits, &new_n, &new_ms[q], errstr,
                                       errstr_size) ||
                            query_side(old_sink, "OLD", q, vec, dim, k,
                                       old_hits, &old_n, &old_ms[q], errstr,
                                       errstr_size);
                if (r)
                        goto done;
                for (i = 0; i < old_n; i++)
                        old_ids[i] = old_hits[i].id;
                for (i = 0; i < new_n; i++)
                        new_ids[i] = new_hits[i].id;
                overlap =
                        vcdc_shadow_overlap(old_ids, old_n, new_ids, new_n, k);
                overlap_sum += overlap;
                if (overlap < res->overlap_min)
                        res->overlap_min = overlap;
                same += vcdc_shadow_rank_matches(old_ids, old_n, new_ids, new_n,
                                                 k, &d);
                slots += d;
                hits_free(old_hits, old_n);
                hits_free(new_hits, new_n);
                old_n = new_n = 0;
                if (now_s() - last >= PROGRESS_EVERY_S) {
                        last = now_s();
                        VCDC_NOTICE(LOG_COMP, "%zu of %zu queries (%.0f/s)",
                                    q + 1, cnt,
                                    (double)(q + 1) / (last - start));
                }
        }
        res->queries = cnt;
        res->k = k;
        res->dim = dim;
        res->overlap_mean = overlap_sum / (double)cnt;
        res->rank_agreement = slots ? (double)same / (double)slots : 1.0;
        for (q = 0; q < cnt; q++) {
                res->old_mean_ms += old_ms[q] / (double)cnt;
                res->new_mean_ms += new_ms[q] / (double)cnt;
        }
        res->old_p50_ms = vcdc_shadow_percentile(old_ms, cnt, 50);
        res->old_p99_ms = vcdc_shadow_percentile(old_ms, cnt, 99);
        res->new_p50_ms = vcdc_shadow_percentile(new_ms, cnt, 50);
        res->new_p99_ms = vcdc_shadow_percentile(new_ms, cnt, 99);
        rc = 0;
done:
        if (old_hits)
                hits_free(old_hits, old_n);
        if (new_hits)
                hits_free(new_hits, new_n);
        free(old_hits);
        free(new_hits);
        free(old_ids);
        free(new_ids);
        free(old_ms);
        free(new_ms);
        free(vecs);
        res->seconds = now_s() - start;
        return rc;
}

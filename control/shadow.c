/*
 * vcdc - shadow reads: the same k-NN queries on OLD and NEW, compared.
 *
 * Query vectors come from a JSON Lines file ({"vector": [...]} a line) or
 * are sampled from OLD (the ids by reservoir sampling, then their vectors
 * by get). Each query runs on both sides, in alternating order; the
 * answers give overlap@k and rank agreement, the timings p50/p99 latency.
 * Sink calls and their retries go through control/side.h; nothing here
 * prints a report (cli/shadow.c, the cut-over gate).
 */
#include "shadow.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "exact.h"
#include "log.h"
#include "record.h"
#include "side.h"
#include "verify.h"

#define LOG_COMP          "shadow"
#define K_DEFAULT         10
#define GET_PAGE          500
#define RETRIES           3 /* attempts after the first */
#define PROGRESS_EVERY_US 5000000

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

/* How many answers count: min(k, max(na, nb)). */
static size_t positions(size_t na, size_t nb, size_t k) {
        size_t n = na > nb ? na : nb;

        return n < k ? n : k;
}

double vcdc_shadow_overlap(const char *const *a, size_t na,
                           const char *const *b, size_t nb, size_t k) {
        size_t d = positions(na, nb, k);

        if (!d)
                return 1.0;
        if (na > k)
                na = k;
        if (nb > k)
                nb = k;
        return (double)vcdc_exact_common(a, na, b, nb) / (double)d;
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

/* The vectors of n ids sampled from OLD, as one array of *cntp * *dimp. */
static int sample_queries(const vcdc_side_t *side, size_t n, uint32_t seed,
                          float **vecsp, size_t *cntp, size_t *dimp,
                          char *errstr, size_t errstr_size) {
        vcdc_record_t recs[GET_PAGE];
        char **ids = NULL;
        size_t cnt = 0, i, j, m, dim = 0, got = 0;
        float *vecs = NULL;
        int rc = -1;

        *vecsp = NULL;
        *cntp = *dimp = 0;
        for (j = 0; j < GET_PAGE; j++)
                vcdc_record_init(&recs[j]);
        if (vcdc_verify_sample_ids(side->sink, n, seed, 0, &ids, &cnt, NULL,
                                   errstr, errstr_size) == -1)
                return -1;
        if (!cnt) {
                snprintf(errstr, errstr_size,
                         "OLD holds no records to sample queries from");
                goto done;
        }
        for (i = 0; i < cnt; i += m) {
                m = cnt - i < GET_PAGE ? cnt - i : GET_PAGE;
                if (vcdc_side_get(side, "getting the sampled vectors",
                                  (const char *const *)ids + i, m, recs, errstr,
                                  errstr_size) == -1)
                        goto done;
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

int vcdc_shadow_load_queries(vcdc_sink_t *old_sink,
                             const vcdc_shadow_opts_t *opts, float **vecsp,
                             size_t *cntp, size_t *dimp, char *errstr,
                             size_t errstr_size) {
        const vcdc_side_t side = {old_sink, "OLD", LOG_COMP, RETRIES};
        const vcdc_side_t *old_side = &side;
        FILE *fp;
        int rc;

        if (!opts->queries_path) {
                if (!opts->sample) {
                        snprintf(errstr, errstr_size,
                                 "no queries: give a queries file or a "
                                 "sample size");
                        return -1;
                }
                return sample_queries(old_side, opts->sample, opts->seed, vecsp,
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

static void hits_free(vcdc_hit_t *hits, size_t cnt) {
        size_t i;

        for (i = 0; i < cnt; i++) {
                free(hits[i].id);
                hits[i].id = NULL;
        }
}

static int check_dim(const vcdc_side_t *side, size_t dim, char *errstr,
                     size_t errstr_size) {
        size_t have = vcdc_sink_dim(side->sink);

        if (!have || have == dim)
                return 0;
        snprintf(errstr, errstr_size,
                 "the queries have dimension %zu, %s (%s) has %zu", dim,
                 side->role, vcdc_sink_name(side->sink), have);
        return -1;
}

int vcdc_shadow(vcdc_sink_t *old_sink, vcdc_sink_t *new_sink,
                const vcdc_shadow_opts_t *opts, vcdc_shadow_result_t *res,
                char *errstr, size_t errstr_size) {
        /* [0] OLD, [1] NEW */
        const vcdc_side_t sides[2] = {{old_sink, "OLD", LOG_COMP, RETRIES},
                                      {new_sink, "NEW", LOG_COMP, RETRIES}};
        vcdc_hit_t *hits[2] = {NULL, NULL};
        const char **ids[2] = {NULL, NULL};
        double *ms[2] = {NULL, NULL};
        size_t n[2] = {0, 0}, cnt = 0, dim = 0, k, q, i, s, same = 0, slots = 0,
               d;
        int64_t start_us = vcdc_clock_us(), last_us = start_us;
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
        if (opts->vectors) {
                if (!opts->vector_cnt || !opts->vector_dim) {
                        snprintf(errstr, errstr_size, "no query vectors");
                        return -1;
                }
                cnt = opts->vector_cnt;
                dim = opts->vector_dim;
                if (!(vecs = malloc(cnt * dim * sizeof(*vecs)))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
                memcpy(vecs, opts->vectors, cnt * dim * sizeof(*vecs));
        } else if (vcdc_shadow_load_queries(old_sink, opts, &vecs, &cnt, &dim,
                                            errstr, errstr_size) == -1) {
                return -1;
        }
        if (check_dim(&sides[0], dim, errstr, errstr_size) == -1 ||
            check_dim(&sides[1], dim, errstr, errstr_size) == -1)
                goto done;
        for (s = 0; s < 2; s++)
                if (!(hits[s] = calloc(k, sizeof(*hits[s]))) ||
                    !(ids[s] = calloc(k, sizeof(*ids[s]))) ||
                    !(ms[s] = calloc(cnt, sizeof(*ms[s])))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto done;
                }
        VCDC_NOTICE(LOG_COMP, "%zu queries of dimension %zu, k = %zu", cnt, dim,
                    k);
        res->overlap_min = 1.0;
        for (q = 0; q < cnt; q++) {
                const float *vec = vecs + q * dim;

                /* Alternate which side goes first (OLD on even queries):
                 * caches warmed by the first query do not always favour
                 * the same side. */
                for (i = 0; i < 2; i++) {
                        s = (q + i) % 2;
                        if (vcdc_side_query(&sides[s], q, vec, dim, k, hits[s],
                                            &n[s], &ms[s][q], errstr,
                                            errstr_size) == -1)
                                goto done;
                }
                if (opts->on_answer &&
                    opts->on_answer(opts->answer_ctx, q, hits[0], n[0], hits[1],
                                    n[1], errstr, errstr_size) == -1)
                        goto done;
                for (s = 0; s < 2; s++)
                        for (i = 0; i < n[s]; i++)
                                ids[s][i] = hits[s][i].id;
                overlap = vcdc_shadow_overlap(ids[0], n[0], ids[1], n[1], k);
                overlap_sum += overlap;
                if (overlap < res->overlap_min)
                        res->overlap_min = overlap;
                same += vcdc_shadow_rank_matches(ids[0], n[0], ids[1], n[1], k,
                                                 &d);
                slots += d;
                for (s = 0; s < 2; s++) {
                        hits_free(hits[s], n[s]);
                        n[s] = 0;
                }
                if (vcdc_clock_us() - last_us >= PROGRESS_EVERY_US) {
                        last_us = vcdc_clock_us();
                        VCDC_NOTICE(LOG_COMP, "%zu of %zu queries (%.0f/s)",
                                    q + 1, cnt,
                                    (double)(q + 1) * 1e6 /
                                            (double)(last_us - start_us));
                }
        }
        res->queries = cnt;
        res->k = k;
        res->dim = dim;
        res->overlap_mean = overlap_sum / (double)cnt;
        res->rank_agreement = slots ? (double)same / (double)slots : 1.0;
        for (q = 0; q < cnt; q++) {
                res->old_mean_ms += ms[0][q] / (double)cnt;
                res->new_mean_ms += ms[1][q] / (double)cnt;
        }
        res->old_p50_ms = vcdc_shadow_percentile(ms[0], cnt, 50);
        res->old_p99_ms = vcdc_shadow_percentile(ms[0], cnt, 99);
        res->new_p50_ms = vcdc_shadow_percentile(ms[1], cnt, 50);
        res->new_p99_ms = vcdc_shadow_percentile(ms[1], cnt, 99);
        rc = 0;
done:
        for (s = 0; s < 2; s++) {
                if (hits[s])
                        hits_free(hits[s], n[s]);
                free(hits[s]);
                free(ids[s]);
                free(ms[s]);
        }
        free(vecs);
        res->seconds = (double)(vcdc_clock_us() - start_us) / 1e6;
        return rc;
}

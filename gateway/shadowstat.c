/*
 * vcdc gateway - the shadow reads' measures: two query answers compared
 * id by id (overlap@k and rank agreement, as control/shadow.c computes
 * them for `vcdc shadow`), the running figures, and their Prometheus
 * text.
 */
#include "shadowstat.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "shadow.h"
#include "shadowprom.h"

static const double ov_bound[VCDC_GW_SHADOW_OV_BUCKETS] = {0.5,  0.8,  0.9,
                                                           0.95, 0.99, 1.0};

void vcdc_gw_shadow_cmp_clear(vcdc_gw_shadow_cmp_t *cmp) {
        if (!cmp)
                return;
        free(cmp->overlap);
        memset(cmp, 0, sizeof(*cmp));
}

/* The "ids" of answer text as an array (a borrowed reference into
 * *rootp, which the caller decrefs). NULL with errstr. */
static json_t *answer_ids(const char *text, size_t len, const char *which,
                          json_t **rootp, char *errstr, size_t errstr_size) {
        json_error_t jerr;
        json_t *ids;

        if (!(*rootp = json_loadb(text, len, 0, &jerr))) {
                snprintf(errstr, errstr_size, "%s answer: not JSON: %s", which,
                         jerr.text);
                return NULL;
        }
        if (!json_is_array(ids = json_object_get(*rootp, "ids"))) {
                snprintf(errstr, errstr_size, "%s answer: no \"ids\" array",
                         which);
                return NULL;
        }
        return ids;
}

/* The strings of arr into a new array *vp of *np pointers into arr.
 * Returns 0, or -1 with errstr. */
static int id_list(json_t *arr, const char *which, size_t q, const char ***vp,
                   size_t *np, char *errstr, size_t errstr_size) {
        size_t i, n;

        *vp = NULL;
        *np = 0;
        if (!json_is_array(arr)) {
                snprintf(errstr, errstr_size,
                         "%s answer: ids[%zu] is not an array", which, q);
                return -1;
        }
        n = json_array_size(arr);
        if (!(*vp = calloc(n + 1, sizeof(**vp)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        for (i = 0; i < n; i++)
                if (!((*vp)[i] = json_string_value(json_array_get(arr, i)))) {
                        snprintf(errstr, errstr_size,
                                 "%s answer: ids[%zu][%zu] is not a string",
                                 which, q, i);
                        free(*vp);
                        *vp = NULL;
                        return -1;
                }
        *np = n;
        return 0;
}

int vcdc_gw_shadow_compare(const char *a, size_t alen, const char *b,
                           size_t blen, vcdc_gw_shadow_cmp_t *out, char *errstr,
                           size_t errstr_size) {
        json_t *ra = NULL, *rb = NULL, *ia, *ib;
        const char **va = NULL, **vb = NULL;
        size_t q, nq, na, nb, pos;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (!(ia = answer_ids(a, alen, "serving side's", &ra, errstr,
                              errstr_size)) ||
            !(ib = answer_ids(b, blen, "other side's", &rb, errstr,
                              errstr_size)))
                goto done;
        if ((nq = json_array_size(ia)) != json_array_size(ib)) {
                snprintf(errstr, errstr_size,
                         "the answers hold %zu and %zu queries", nq,
                         json_array_size(ib));
                goto done;
        }
        if (!(out->overlap = calloc(nq + 1, sizeof(*out->overlap)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        for (q = 0; q < nq; q++) {
                if (id_list(json_array_get(ia, q), "serving side's", q, &va,
                            &na, errstr, errstr_size) == -1 ||
                    id_list(json_array_get(ib, q), "other side's", q, &vb, &nb,
                            errstr, errstr_size) == -1)
                        goto done;
                /* k: the longer answer (neither exceeds n_results). */
                out->overlap[q] = vcdc_shadow_overlap(va, na, vb, nb, SIZE_MAX);
                out->matches += vcdc_shadow_rank_matches(va, na, vb, nb,
                                                         SIZE_MAX, &pos);
                out->positions += pos;
                free(va);
                free(vb);
                va = vb = NULL;
        }
        out->n = nq;
        rc = 0;
done:
        free(va);
        free(vb);
        json_decref(ra);
        json_decref(rb);
        if (rc == -1)
                vcdc_gw_shadow_cmp_clear(out);
        return rc;
}

void vcdc_gw_shadow_stats_init(vcdc_gw_shadow_stats_t *st) {
        memset(st, 0, sizeof(*st));
        pthread_mutex_init(&st->lock, NULL);
        st->overlap_min = 1.0;
}

void vcdc_gw_shadow_stats_destroy(vcdc_gw_shadow_stats_t *st) {
        if (st)
                pthread_mutex_destroy(&st->lock);
}

/* A latency sample of side (lock held). */
static void add_latency(vcdc_gw_shadow_stats_t *st, int side, double ms) {
        st->lat_ms[side][st->lat_pos[side]] = ms;
        st->lat_pos[side] = (st->lat_pos[side] + 1) % VCDC_GW_SHADOW_LAT_RING;
        if (st->lat_n[side] < VCDC_GW_SHADOW_LAT_RING)
                st->lat_n[side]++;
        st->lat_count[side]++;
        st->lat_sum_ms[side] += ms;
}

void vcdc_gw_shadow_stats_add(vcdc_gw_shadow_stats_t *st, int serving_side,
                              double serving_ms, double other_ms,
                              const vcdc_gw_shadow_cmp_t *cmp) {
        size_t i, b;

        pthread_mutex_lock(&st->lock);
        st->queries++;
        st->compared += cmp->n;
        for (i = 0; i < cmp->n; i++) {
                double ov = cmp->overlap[i];

                st->overlap_sum += ov;
                if (ov < st->overlap_min)
                        st->overlap_min = ov;
                for (b = 0; b < VCDC_GW_SHADOW_OV_BUCKETS && ov > ov_bound[b];
                     b++)
                        ;
                st->overlap_bucket[b]++;
        }
        st->matches += cmp->matches;
        st->positions += cmp->positions;
        add_latency(st, serving_side ? 1 : 0, serving_ms);
        add_latency(st, serving_side ? 0 : 1, other_ms);
        pthread_mutex_unlock(&st->lock);
}

void vcdc_gw_shadow_stats_error(vcdc_gw_shadow_stats_t *st, int side) {
        pthread_mutex_lock(&st->lock);
        st->errors[side ? 1 : 0]++;
        pthread_mutex_unlock(&st->lock);
}

/* Appends to a fixed buffer; what does not fit is cut. */
typedef struct out_s {
        char *buf;
        size_t size, len;
} out_t;

static void put(out_t *o, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void put(out_t *o, const char *fmt, ...) {
        va_list ap;
        int n;

        if (!o->size || o->len >= o->size - 1)
                return;
        va_start(ap, fmt);
        n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        o->len += (size_t)n;
        if (o->len > o->size - 1)
                o->len = o->size - 1;
}

/* Prometheus's spelling of a float: NaN when undefined. */
static void put_value(out_t *o, double v) {
        if (isnan(v))
                put(o, " NaN\n");
        else
                put(o, " %.9g\n", v);
}

static const char *const side_name[2] = {"old", "new"};

size_t vcdc_gw_shadow_stats_render(vcdc_gw_shadow_stats_t *st, double rate,
                                   size_t queued, char *buf, size_t size) {
        out_t o = {buf, size, 0};
        double lat[VCDC_GW_SHADOW_LAT_RING], q50[2], q99[2];
        uint64_t cum = 0;
        size_t b, n;
        int s;

        if (size)
                buf[0] = '\0';
        pthread_mutex_lock(&st->lock);
        for (s = 0; s < 2; s++) {
                n = st->lat_n[s];
                memcpy(lat, st->lat_ms[s], n * sizeof(*lat));
                q50[s] = vcdc_shadow_percentile(lat, n, 50) / 1000.0;
                q99[s] = vcdc_shadow_percentile(lat, n, 99) / 1000.0;
        }
        put(&o, "# TYPE " VCDC_SHADOW_M_RATE " gauge\n" VCDC_SHADOW_M_RATE);
        put_value(&o, rate);
        put(&o,
            "# TYPE " VCDC_SHADOW_M_SAMPLED " counter\n" VCDC_SHADOW_M_SAMPLED
            " %llu\n",
            (unsigned long long)__atomic_load_n(&st->sampled,
                                                __ATOMIC_RELAXED));
        put(&o,
            "# TYPE " VCDC_SHADOW_M_DROPPED " counter\n" VCDC_SHADOW_M_DROPPED
            " %llu\n",
            (unsigned long long)__atomic_load_n(&st->dropped,
                                                __ATOMIC_RELAXED));
        put(&o,
            "# TYPE " VCDC_SHADOW_M_QUEUE " gauge\n" VCDC_SHADOW_M_QUEUE
            " %zu\n",
            queued);
        put(&o,
            "# TYPE " VCDC_SHADOW_M_QUERIES " counter\n" VCDC_SHADOW_M_QUERIES
            " %llu\n",
            (unsigned long long)st->queries);
        put(&o,
            "# TYPE " VCDC_SHADOW_M_COMPARED " counter\n" VCDC_SHADOW_M_COMPARED
            " %llu\n",
            (unsigned long long)st->compared);
        put(&o, "# TYPE " VCDC_SHADOW_M_ERRORS " counter\n");
        for (s = 0; s < 2; s++)
                put(&o, VCDC_SHADOW_M_ERRORS "{side=\"%s\"} %llu\n",
                    side_name[s], (unsigned long long)st->errors[s]);
        put(&o,
            "# TYPE " VCDC_SHADOW_M_OV_MEAN " gauge\n" VCDC_SHADOW_M_OV_MEAN);
        put_value(&o,
                  st->compared ? st->overlap_sum / (double)st->compared : NAN);
        put(&o, "# TYPE " VCDC_SHADOW_M_OV_MIN " gauge\n" VCDC_SHADOW_M_OV_MIN);
        put_value(&o, st->compared ? st->overlap_min : NAN);
        put(&o, "# TYPE " VCDC_SHADOW_M_OVERLAP " histogram\n");
        for (b = 0; b <= VCDC_GW_SHADOW_OV_BUCKETS; b++) {
                cum += st->overlap_bucket[b];
                if (b < VCDC_GW_SHADOW_OV_BUCKETS)
                        put(&o,
                            VCDC_SHADOW_M_OVERLAP "_bucket{le=\"%g\"} %llu\n",
                            ov_bound[b], (unsigned long long)cum);
                else
                        put(&o,
                            VCDC_SHADOW_M_OVERLAP "_bucket{le=\"+Inf\"} %llu\n",
                            (unsigned long long)cum);
        }
        put(&o, VCDC_SHADOW_M_OVERLAP "_sum");
        put_value(&o, st->overlap_sum);
        put(&o, VCDC_SHADOW_M_OVERLAP "_count %llu\n",
            (unsigned long long)st->compared);
        put(&o,
            "# TYPE " VCDC_SHADOW_M_MATCHES " counter\n" VCDC_SHADOW_M_MATCHES
            " %llu\n",
            (unsigned long long)st->matches);
        put(&o,
            "# TYPE " VCDC_SHADOW_M_POSITIONS
            " counter\n" VCDC_SHADOW_M_POSITIONS " %llu\n",
            (unsigned long long)st->positions);
        put(&o, "# TYPE " VCDC_SHADOW_M_RANK " gauge\n" VCDC_SHADOW_M_RANK);
        put_value(&o, st->positions
                              ? (double)st->matches / (double)st->positions
                      : st->compared ? 1.0
                                     : NAN);
        put(&o, "# TYPE " VCDC_SHADOW_M_LATENCY " summary\n");
        for (s = 0; s < 2; s++) {
                put(&o, VCDC_SHADOW_M_LATENCY "{side=\"%s\",quantile=\"0.5\"}",
                    side_name[s]);
                put_value(&o, st->lat_n[s] ? q50[s] : NAN);
                put(&o, VCDC_SHADOW_M_LATENCY "{side=\"%s\",quantile=\"0.99\"}",
                    side_name[s]);
                put_value(&o, st->lat_n[s] ? q99[s] : NAN);
                put(&o, VCDC_SHADOW_M_LATENCY "_sum{side=\"%s\"}",
                    side_name[s]);
                put_value(&o, st->lat_sum_ms[s] / 1000.0);
                put(&o, VCDC_SHADOW_M_LATENCY "_count{side=\"%s\"} %llu\n",
                    side_name[s], (unsigned long long)st->lat_count[s]);
        }
        pthread_mutex_unlock(&st->lock);
        return o.len;
}

/*
 * vcdc gateway - shadow reads: the bounded queue of served queries and
 * the worker threads that run each on the other side (through gwread.c,
 * the same code that serves reads) and compare the answers
 * (shadowstat.c). The request path only copies into the queue, or drops
 * and counts when it is full; nothing here can make a client wait.
 */
#include "gwshadow.h"
#include "gwdata_int.h"
#include "shadowstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define THREADS_MAX 16

/* One served query waiting for its shadow. */
typedef struct job_s {
        struct job_s *next;
        gw_cstate_t *cs; /* lives as long as the data layer */
        char *name;      /* the collection's */
        const char *metric;
        vcdc_route_side_t serving;
        double serving_ms;
        char *body, *answer; /* one allocation: body, then the answer */
        size_t len, alen;
} job_t;

struct gw_shadow_s {
        vcdc_gw_data_t *d;
        double rate;
        uint64_t seen; /* atomic: queries offered to the sampler */
        pthread_mutex_t lock;
        pthread_cond_t cond;
        job_t *head, *tail;
        size_t queued, queued_bytes, queue_max, queue_bytes;
        int stop;
        pthread_t threads[THREADS_MAX];
        unsigned nthreads;
        vcdc_gw_shadow_stats_t stats;
};

static void job_free(job_t *j) {
        if (!j)
                return;
        free(j->name);
        free(j->body);
        free(j);
}

/* A failed shadow: counted; logged the first time and then at every
 * power of two, so a side that is down does not flood the log. */
static void failed(gw_shadow_t *sh, vcdc_route_side_t side, const char *coll,
                   const char *why) {
        uint64_t n;

        vcdc_gw_shadow_stats_error(&sh->stats, (int)side);
        pthread_mutex_lock(&sh->stats.lock);
        n = sh->stats.errors[side ? 1 : 0];
        pthread_mutex_unlock(&sh->stats.lock);
        if ((n & (n - 1)) == 0)
                VCDC_WARN("gateway",
                          "shadow query of %s on %s failed (%llu so far): %s",
                          coll, vcdc_route_side_name(side),
                          (unsigned long long)n, why);
        else
                VCDC_DEBUG("gateway", "shadow query of %s on %s failed: %s",
                           coll, vcdc_route_side_name(side), why);
}

static void run_job(gw_shadow_t *sh, job_t *j) {
        vcdc_route_side_t other =
                j->serving == VCDC_ROUTE_OLD ? VCDC_ROUTE_NEW : VCDC_ROUTE_OLD;
        vcdc_gw_coll_t c;
        vcdc_gw_resp_t resp;
        vcdc_gw_shadow_cmp_t cmp;
        char errstr[512];
        int64_t t0;
        double ms;

        memset(&c, 0, sizeof(c));
        memset(&resp, 0, sizeof(resp));
        c.name = j->name;
        c.metric = j->metric;
        t0 = vcdc_clock_us();
        /* dim 0: the serving side checked the dimension already, and
         * learning the other side's would open its sink under the
         * collection's lock, which the request path takes too. */
        gw_read_query_dim(sh->d, j->cs, &c, other, 0, j->body, j->len, &resp);
        ms = (double)(vcdc_clock_us() - t0) / 1000.0;
        if (resp.status != 200) {
                snprintf(errstr, sizeof(errstr), "HTTP %d: %.*s", resp.status,
                         (int)(resp.len < 300 ? resp.len : 300),
                         resp.body ? resp.body : "");
                failed(sh, other, j->name, errstr);
        } else if (vcdc_gw_shadow_compare(j->answer, j->alen, resp.body,
                                          resp.len, &cmp, errstr,
                                          sizeof(errstr)) == -1) {
                failed(sh, other, j->name, errstr);
        } else {
                vcdc_gw_shadow_stats_add(&sh->stats, (int)j->serving,
                                         j->serving_ms, ms, &cmp);
                vcdc_gw_shadow_cmp_clear(&cmp);
        }
        vcdc_gw_resp_clear(&resp);
}

static void *worker(void *arg) {
        gw_shadow_t *sh = arg;
        job_t *j;

        for (;;) {
                pthread_mutex_lock(&sh->lock);
                while (!sh->stop && !sh->head)
                        pthread_cond_wait(&sh->cond, &sh->lock);
                if (sh->stop) {
                        pthread_mutex_unlock(&sh->lock);
                        break;
                }
                j = sh->head;
                if (!(sh->head = j->next))
                        sh->tail = NULL;
                sh->queued--;
                sh->queued_bytes -= j->len + j->alen;
                pthread_mutex_unlock(&sh->lock);
                run_job(sh, j);
                job_free(j);
        }
        return NULL;
}

gw_shadow_t *gw_shadow_new(vcdc_gw_data_t *d, double rate, size_t queue_max,
                           size_t queue_bytes, unsigned threads, char *errstr,
                           size_t errstr_size) {
        gw_shadow_t *sh;
        unsigned i;

        if (rate < 0 || rate > 1 || threads < 1 || threads > THREADS_MAX ||
            !queue_max) {
                snprintf(errstr, errstr_size,
                         "shadow reads: rate %g not 0..1, %u threads not "
                         "1..%d, or an empty queue",
                         rate, threads, THREADS_MAX);
                return NULL;
        }
        if (!(sh = calloc(1, sizeof(*sh)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        sh->d = d;
        sh->rate = rate;
        sh->queue_max = queue_max;
        sh->queue_bytes = queue_bytes;
        pthread_mutex_init(&sh->lock, NULL);
        pthread_cond_init(&sh->cond, NULL);
        vcdc_gw_shadow_stats_init(&sh->stats);
        for (i = 0; rate > 0 && i < threads; i++) {
                if (pthread_create(&sh->threads[i], NULL, worker, sh) != 0) {
                        snprintf(errstr, errstr_size,
                                 "shadow reads: cannot start a thread");
                        gw_shadow_destroy(sh);
                        return NULL;
                }
                sh->nthreads++;
        }
        return sh;
}

int gw_shadow_want(gw_shadow_t *sh) {
        uint64_t n;

        if (!sh || sh->rate <= 0)
                return 0;
        if (sh->rate >= 1)
                return 1;
        /* The n-th query is sampled when the count of samples due,
         * floor(n * rate), steps up at it. */
        n = __atomic_fetch_add(&sh->seen, 1, __ATOMIC_RELAXED);
        return (uint64_t)((double)(n + 1) * sh->rate) >
               (uint64_t)((double)n * sh->rate);
}

void gw_shadow_offer(gw_shadow_t *sh, gw_cstate_t *cs, const vcdc_gw_coll_t *c,
                     vcdc_route_side_t serving, const char *body, size_t len,
                     const char *answer, size_t alen, double serving_ms) {
        job_t *j = NULL;
        int full;

        if (!sh || !sh->nthreads)
                return;
        __atomic_fetch_add(&sh->stats.sampled, 1, __ATOMIC_RELAXED);
        /* Checked before copying (a full queue costs nothing), and again
         * when adding (another request may have filled it meanwhile). */
        pthread_mutex_lock(&sh->lock);
        full = sh->stop || sh->queued >= sh->queue_max ||
               len + alen > sh->queue_bytes - sh->queued_bytes ||
               sh->queued_bytes > sh->queue_bytes;
        pthread_mutex_unlock(&sh->lock);
        if (full || !(j = calloc(1, sizeof(*j))) ||
            !(j->name = strdup(c->name)) || !(j->body = malloc(len + alen + 2)))
                goto drop;
        j->cs = cs;
        j->metric = c->metric;
        j->serving = serving;
        j->serving_ms = serving_ms;
        memcpy(j->body, body, len);
        j->body[len] = '\0';
        j->answer = j->body + len + 1;
        memcpy(j->answer, answer, alen);
        j->answer[alen] = '\0';
        j->len = len;
        j->alen = alen;
        pthread_mutex_lock(&sh->lock);
        if (sh->stop || sh->queued >= sh->queue_max ||
            len + alen > sh->queue_bytes - sh->queued_bytes ||
            sh->queued_bytes > sh->queue_bytes) {
                pthread_mutex_unlock(&sh->lock);
                goto drop;
        }
        if (sh->tail)
                sh->tail->next = j;
        else
                sh->head = j;
        sh->tail = j;
        sh->queued++;
        sh->queued_bytes += len + alen;
        pthread_cond_signal(&sh->cond);
        pthread_mutex_unlock(&sh->lock);
        return;
drop:
        job_free(j);
        __atomic_fetch_add(&sh->stats.dropped, 1, __ATOMIC_RELAXED);
}

size_t gw_shadow_render(gw_shadow_t *sh, char *buf, size_t size) {
        size_t queued;

        if (!sh) {
                if (size)
                        buf[0] = '\0';
                return 0;
        }
        pthread_mutex_lock(&sh->lock);
        queued = sh->queued;
        pthread_mutex_unlock(&sh->lock);
        return vcdc_gw_shadow_stats_render(&sh->stats, sh->rate, queued, buf,
                                           size);
}

void gw_shadow_destroy(gw_shadow_t *sh) {
        job_t *j;
        unsigned i;

        if (!sh)
                return;
        pthread_mutex_lock(&sh->lock);
        sh->stop = 1;
        pthread_cond_broadcast(&sh->cond);
        pthread_mutex_unlock(&sh->lock);
        for (i = 0; i < sh->nthreads; i++)
                pthread_join(sh->threads[i], NULL);
        while ((j = sh->head)) {
                sh->head = j->next;
                job_free(j);
        }
        vcdc_gw_shadow_stats_destroy(&sh->stats);
        pthread_cond_destroy(&sh->cond);
        pthread_mutex_destroy(&sh->lock);
        free(sh);
}

/*
 * vcdc - one side of a comparison: sink calls with retries, full scans in
 * pages, progress. The only place in control/ that waits to retry a sink.
 */
#include "side.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "log.h"

#define RETRY_BASE_MS     250
#define RETRY_MAX_MS      4000
#define PROGRESS_EVERY_US 5000000

static void sleep_ms(int64_t ms) {
        struct timespec ts = {.tv_sec = ms / 1000,
                              .tv_nsec = (ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
                ;
}

int vcdc_side_retry(const vcdc_side_t *side, vcdc_sink_status_t status,
                    int *attemptp, const char *what, const char *err) {
        int64_t ms;

        if (status != VCDC_SINK_RETRIABLE || *attemptp >= side->retries)
                return 0;
        /* The low bits of the microsecond clock are jitter enough. */
        ms = vcdc_backoff_ms(*attemptp, RETRY_BASE_MS, RETRY_MAX_MS,
                             (uint32_t)vcdc_clock_us());
        VCDC_WARN(side->log_comp, "%s: %s failed, retrying in %ld ms: %s",
                  side->role, what, (long)ms, err);
        sleep_ms(ms);
        (*attemptp)++;
        return 1;
}

int vcdc_side_count(const vcdc_side_t *side, uint64_t *countp, char *errstr,
                    size_t errstr_size) {
        vcdc_sink_status_t status;
        int attempt = 0;
        char err[512];

        while ((status = vcdc_sink_count(side->sink, countp, err,
                                         sizeof(err))) != VCDC_SINK_OK)
                if (!vcdc_side_retry(side, status, &attempt, "count", err)) {
                        snprintf(errstr, errstr_size, "%s: counting: %s",
                                 side->role, err);
                        return -1;
                }
        return 0;
}

int vcdc_side_get(const vcdc_side_t *side, const char *what,
                  const char *const *ids, size_t cnt, vcdc_record_t *out,
                  char *errstr, size_t errstr_size) {
        vcdc_sink_status_t status;
        int attempt = 0;
        char err[512];
        size_t i;

        for (;;) {
                status = vcdc_sink_get(side->sink, ids, cnt, out, err,
                                       sizeof(err));
                if (status == VCDC_SINK_OK)
                        return 0;
                for (i = 0; i < cnt; i++)
                        vcdc_record_clear(&out[i]);
                if (!vcdc_side_retry(side, status, &attempt, "get", err))
                        break;
        }
        snprintf(errstr, errstr_size, "%s: %s: %s", side->role, what, err);
        return -1;
}

int vcdc_side_query(const vcdc_side_t *side, size_t q, const float *vec,
                    size_t dim, size_t k, vcdc_hit_t *hits, size_t *cntp,
                    double *msp, char *errstr, size_t errstr_size) {
        vcdc_sink_status_t status;
        int attempt = 0;
        char err[512];
        int64_t t0;

        for (;;) {
                t0 = vcdc_clock_us();
                status = vcdc_sink_query(side->sink, vec, dim, k, hits, cntp,
                                         err, sizeof(err));
                *msp = (double)(vcdc_clock_us() - t0) / 1000.0;
                if (status == VCDC_SINK_OK)
                        return 0;
                if (!vcdc_side_retry(side, status, &attempt, "query", err))
                        break;
        }
        snprintf(errstr, errstr_size, "%s: query %zu: %s", side->role, q + 1,
                 err);
        return -1;
}

void vcdc_progress_start(vcdc_progress_t *prog, const char *log_comp,
                         const char *what, uint64_t total) {
        prog->log_comp = log_comp;
        prog->what = what;
        prog->done = 0;
        prog->total = total;
        prog->start_us = prog->last_us = vcdc_clock_us();
}

void vcdc_progress_add(vcdc_progress_t *prog, size_t n) {
        int64_t now = vcdc_clock_us();
        double rate;

        prog->done += n;
        if (now - prog->last_us < PROGRESS_EVERY_US)
                return;
        prog->last_us = now;
        rate = (double)prog->done * 1e6 / (double)(now - prog->start_us);
        if (prog->total > prog->done && rate > 0)
                VCDC_NOTICE(prog->log_comp,
                            "%s: %llu of ~%llu records (%.0f/s, ETA %.0f s)",
                            prog->what, (unsigned long long)prog->done,
                            (unsigned long long)prog->total, rate,
                            (double)(prog->total - prog->done) / rate);
        else
                VCDC_NOTICE(prog->log_comp, "%s: %llu records (%.0f/s)",
                            prog->what, (unsigned long long)prog->done, rate);
}

int vcdc_side_scan(const vcdc_side_t *side, size_t page, int with_vectors,
                   vcdc_progress_t *prog, vcdc_side_record_cb_t cb, void *ctx,
                   char *errstr, size_t errstr_size) {
        vcdc_sink_status_t status;
        vcdc_record_t *recs;
        char *cursor = NULL, err[512];
        size_t n, i;
        int rc = 0, attempt;

        if (!(recs = calloc(page, sizeof(*recs)))) {
                snprintf(errstr, errstr_size, "%s: out of memory", side->role);
                return -1;
        }
        for (i = 0; i < page; i++)
                vcdc_record_init(&recs[i]);
        do {
                attempt = 0;
                while ((status = vcdc_sink_scan(side->sink, &cursor, page,
                                                with_vectors, recs, &n, err,
                                                sizeof(err))) != VCDC_SINK_OK) {
                        if (!vcdc_side_retry(side, status, &attempt, "scan",
                                             err)) {
                                snprintf(errstr, errstr_size,
                                         "%s: scanning: %s", side->role, err);
                                rc = -1;
                                goto done;
                        }
                }
                for (i = 0; i < n && !rc; i++)
                        if (recs[i].id)
                                rc = cb(ctx, &recs[i], errstr, errstr_size);
                for (i = 0; i < n; i++)
                        vcdc_record_clear(&recs[i]);
                vcdc_progress_add(prog, n);
        } while (!rc && cursor && n);
done:
        free(cursor);
        free(recs);
        return rc;
}

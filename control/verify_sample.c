/*
 * vcdc - verification, sample mode: N ids drawn uniformly from OLD by
 * reservoir sampling over one scan of ids only (seeded: the same seed and
 * data give the same ids), then judged on both sides. Shadow reads sample
 * their queries the same way. It cannot find extra records.
 */
#include "verify_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static uint64_t splitmix64(uint64_t *state) {
        uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

typedef struct reservoir_s {
        char **ids;
        size_t cnt, n;
        uint64_t seen, rng;
} reservoir_t;

static int reservoir_record(void *ctx, vcdc_record_t *rec, char *errstr,
                            size_t errstr_size) {
        reservoir_t *rs = ctx;
        uint64_t j;
        char *id;

        rs->seen++;
        if (rs->cnt < rs->n) {
                j = rs->cnt++;
        } else {
                j = splitmix64(&rs->rng) % rs->seen;
                if (j >= rs->n)
                        return 0;
        }
        if (!(id = strdup(rec->id))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        free(rs->ids[j]);
        rs->ids[j] = id;
        return 0;
}

void vcdc_verify_ids_free(char **ids, size_t cnt) {
        size_t i;

        if (!ids)
                return;
        for (i = 0; i < cnt; i++)
                free(ids[i]);
        free(ids);
}

int vcdc_verify_sample_ids(vcdc_sink_t *sink, size_t n, uint32_t seed,
                           size_t page, char ***idsp, size_t *cntp,
                           uint64_t *scannedp, char *errstr,
                           size_t errstr_size) {
        vcdc_side_t side = {sink, "OLD", VCDC_VERIFY_LOG_COMP,
                            VCDC_VERIFY_RETRIES};
        reservoir_t rs;
        vcdc_progress_t prog;

        *idsp = NULL;
        *cntp = 0;
        if (scannedp)
                *scannedp = 0;
        memset(&rs, 0, sizeof(rs));
        rs.n = n;
        rs.rng = seed;
        if (!page)
                page = VCDC_VERIFY_PAGE_DEFAULT;
        if (!(rs.ids = calloc(n ? n : 1, sizeof(*rs.ids)))) {
                snprintf(errstr, errstr_size, "out of memory for %zu ids", n);
                return -1;
        }
        vcdc_progress_start(&prog, VCDC_VERIFY_LOG_COMP, "sampling OLD's ids",
                            0);
        if (n && vcdc_side_scan(&side, page, 0 /*ids only*/, &prog,
                                reservoir_record, &rs, errstr, errstr_size)) {
                vcdc_verify_ids_free(rs.ids, rs.cnt);
                return -1;
        }
        *idsp = rs.ids;
        *cntp = rs.cnt;
        if (scannedp)
                *scannedp = rs.seen;
        return 0;
}

int vcdc_verify_sampled(const vcdc_verify_run_t *run, size_t sample,
                        uint32_t seed, vcdc_verify_result_t *res, char *errstr,
                        size_t errstr_size) {
        char **ids = NULL;
        size_t cnt = 0, i;
        uint64_t scanned;
        vcdc_verify_judge_t jg;
        int rc = -1;

        if (vcdc_verify_judge_init(&jg, run, res) == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        res->old_count = run->old_count;
        res->new_count = run->new_count;
        if (vcdc_verify_sample_ids(run->old_side.sink, sample, seed, run->page,
                                   &ids, &cnt, &scanned, errstr,
                                   errstr_size) == -1)
                goto done;
        VCDC_NOTICE(VCDC_VERIFY_LOG_COMP,
                    "sampled %zu of %llu ids of OLD (seed %u)", cnt,
                    (unsigned long long)scanned, (unsigned)seed);
        res->sampled = cnt;
        for (i = 0; i < cnt; i++) {
                /* The judge takes the string over. */
                jg.ids[jg.cnt++] = ids[i];
                ids[i] = NULL;
                if (jg.cnt == jg.page &&
                    vcdc_verify_judge_flush(&jg, errstr, errstr_size) == -1)
                        goto done;
        }
        if (vcdc_verify_judge_flush(&jg, errstr, errstr_size) == -1)
                goto done;
        rc = 0;
done:
        vcdc_verify_ids_free(ids, cnt);
        vcdc_verify_judge_free(&jg);
        return rc;
}

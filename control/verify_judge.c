/*
 * vcdc - verification, the verdicts: candidates read again by id from both
 * sides a page at a time and classified (missing, extra, vector, metadata,
 * document) into the result, with a few example ids of each kind. It
 * neither scans nor plans partitions (verify.c).
 */
#include "verify_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void note(uint64_t *countp, char (*examples)[128], const char *id) {
        (*countp)++;
        if (*countp <= VCDC_VERIFY_EXAMPLES)
                snprintf(examples[*countp - 1], sizeof(*examples), "%s", id);
}

void vcdc_verify_account(vcdc_verify_result_t *res, const char *id,
                         const vcdc_record_t *old_rec,
                         const vcdc_record_t *new_rec, double tolerance) {
        int in_old = old_rec && old_rec->id, in_new = new_rec && new_rec->id;
        int mask;

        if (!in_old && !in_new)
                return; /* deleted from both since the scan */
        if (!in_new) {
                note(&res->missing, res->missing_ex, id);
                return;
        }
        if (!in_old) {
                note(&res->extra, res->extra_ex, id);
                return;
        }
        res->compared++;
        mask = vcdc_verify_compare(old_rec, new_rec, tolerance);
        if (mask & VCDC_VERIFY_VECTOR)
                note(&res->vector_diff, res->vector_ex, id);
        if (mask & VCDC_VERIFY_METADATA)
                note(&res->metadata_diff, res->metadata_ex, id);
        if (mask & VCDC_VERIFY_DOCUMENT)
                note(&res->document_diff, res->document_ex, id);
}

int vcdc_verify_ok(const vcdc_verify_result_t *res) {
        if (res->missing || res->extra || res->vector_diff ||
            res->metadata_diff || res->document_diff)
                return 0;
        return !res->sampled || res->old_count == res->new_count;
}

/*
 * A candidate from NEW's scan comes with NEW's record (taken from the scan
 * page), so only OLD is read again; a candidate without one (missing from
 * NEW's scan, or sampled) is read from both sides.
 */

void vcdc_verify_judge_free(vcdc_verify_judge_t *jg) {
        size_t i;

        for (i = 0; jg->ids && i < jg->cnt; i++) {
                free(jg->ids[i]);
                vcdc_record_clear(&jg->new_recs[i]);
        }
        free(jg->ids);
        free(jg->old_recs);
        free(jg->new_recs);
        free(jg->fetch_idx);
        free(jg->fetch_ids);
        free(jg->fetch_recs);
        memset(jg, 0, sizeof(*jg));
}

int vcdc_verify_judge_init(vcdc_verify_judge_t *jg,
                           const vcdc_verify_run_t *run,
                           vcdc_verify_result_t *res) {
        size_t i, page = run->page;

        memset(jg, 0, sizeof(*jg));
        jg->old_side = &run->old_side;
        jg->new_side = &run->new_side;
        jg->res = res;
        jg->tolerance = run->tolerance;
        jg->page = page;
        if (!(jg->ids = calloc(page, sizeof(*jg->ids))) ||
            !(jg->old_recs = calloc(page, sizeof(*jg->old_recs))) ||
            !(jg->new_recs = calloc(page, sizeof(*jg->new_recs))) ||
            !(jg->fetch_idx = calloc(page, sizeof(*jg->fetch_idx))) ||
            !(jg->fetch_ids = calloc(page, sizeof(*jg->fetch_ids))) ||
            !(jg->fetch_recs = calloc(page, sizeof(*jg->fetch_recs)))) {
                vcdc_verify_judge_free(jg);
                return -1;
        }
        for (i = 0; i < page; i++) {
                vcdc_record_init(&jg->old_recs[i]);
                vcdc_record_init(&jg->new_recs[i]);
                vcdc_record_init(&jg->fetch_recs[i]);
        }
        return 0;
}

/* Reads NEW for the candidates that came without NEW's record. */
static int judge_read_new(vcdc_verify_judge_t *jg, char *errstr,
                          size_t errstr_size) {
        size_t i, n = 0;

        for (i = 0; i < jg->cnt; i++)
                if (!jg->new_recs[i].id) {
                        jg->fetch_idx[n] = i;
                        jg->fetch_ids[n++] = jg->ids[i];
                }
        if (!n)
                return 0;
        if (vcdc_side_get(jg->new_side, "getting records by id", jg->fetch_ids,
                          n, jg->fetch_recs, errstr, errstr_size) == -1)
                return -1;
        for (i = 0; i < n; i++) {
                /* Moved: the fetch slot is left initialised. */
                jg->new_recs[jg->fetch_idx[i]] = jg->fetch_recs[i];
                vcdc_record_init(&jg->fetch_recs[i]);
        }
        return 0;
}

/* Reads and judges the pending candidates. */
int vcdc_verify_judge_flush(vcdc_verify_judge_t *jg, char *errstr,
                            size_t errstr_size) {
        size_t i;
        int rc = -1;

        if (!jg->cnt)
                return 0;
        if (vcdc_side_get(jg->old_side, "getting records by id",
                          (const char *const *)jg->ids, jg->cnt, jg->old_recs,
                          errstr, errstr_size) == -1)
                goto done;
        if (judge_read_new(jg, errstr, errstr_size) == -1)
                goto done;
        for (i = 0; i < jg->cnt; i++)
                vcdc_verify_account(jg->res, jg->ids[i], &jg->old_recs[i],
                                    &jg->new_recs[i], jg->tolerance);
        jg->res->fetched += jg->cnt;
        rc = 0;
done:
        for (i = 0; i < jg->cnt; i++) {
                vcdc_record_clear(&jg->old_recs[i]);
                vcdc_record_clear(&jg->new_recs[i]);
                free(jg->ids[i]);
                jg->ids[i] = NULL;
        }
        jg->cnt = 0;
        return rc;
}

/* Adds a candidate; new_rec (may be NULL) is NEW's record, which the judge
 * takes over (it is left initialised). */
int vcdc_verify_judge_add(vcdc_verify_judge_t *jg, const char *id,
                          vcdc_record_t *new_rec, char *errstr,
                          size_t errstr_size) {
        if (!(jg->ids[jg->cnt] = strdup(id))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (new_rec) {
                jg->new_recs[jg->cnt] = *new_rec;
                vcdc_record_init(new_rec);
        }
        if (++jg->cnt == jg->page)
                return vcdc_verify_judge_flush(jg, errstr, errstr_size);
        return 0;
}

/*
 * vcdc - verification: does NEW hold exactly what OLD holds? This file is
 * the entry point and full mode's passes (planning, scanning, splitting);
 * comparing two records is verify_compare.c, the id map verify_idmap.c,
 * reading candidates and keeping the result verify_judge.c, sample mode
 * verify_sample.c. Nothing here compares fields or prints: the report is
 * the caller's (cli/verify.c, the cut-over gate).
 *
 * Full mode, in bounded memory. Each sink scans in its own order (Chroma:
 * insertion order through offset paging; pgvector: by id), so the two
 * streams cannot be merged like sorted runs. Instead the id space is cut
 * into hash partitions: partition (r, m) holds the ids whose 64-bit hash h
 * has h mod m == r, m a power of two. One pass handles one partition:
 *
 *   1. scan OLD (with vectors); keep each record of the partition as
 *      (id, 64-bit digest of vector + metadata + document) in an
 *      open-addressing hash map whose memory, ids included, stays within
 *      the budget (--memory, default 64 MiB);
 *   2. scan NEW; a record of the partition is either absent from the map
 *      (an extra candidate), present with the same digest (equal: counted
 *      as compared, nothing fetched), or present with another digest (a
 *      candidate); each id found is marked seen;
 *   3. the map's ids never seen in NEW are missing candidates.
 *
 * Candidates are read again by id with vcdc_sink_get() in pages and only
 * then classified (vcdc_verify_account()): missing, extra, vector beyond
 * the tolerance, metadata, document. A candidate out of NEW's scan keeps
 * NEW's scanned record, so only OLD is read for it; a missing candidate is
 * read from both. A digest covers the exact float bits, so float noise
 * within the tolerance changes it; the tolerance is applied to the records
 * read, never to digests. (A cosine collection in Chroma answers with
 * vectors normalised and scaled back, up to one float32 ulp away from what
 * was written on about a third of the components: against it nearly every
 * record is a candidate, and a full comparison costs a scan of each side
 * plus reading OLD by id. Exact targets, such as pgvector or an l2 Chroma
 * collection, cost one scan of each side.)
 * Re-reading OLD also judges a record that changed during the scan on its
 * current state.
 *
 * The number of partitions is planned from OLD's count so that one
 * partition's map fits the budget (vcdc_verify_partitions(): about 32
 * bytes of table per id plus the id itself; 1,000,000 ids of up to ~30
 * bytes fit 64 MiB in one pass). When a partition outgrows the budget
 * anyway (longer ids than assumed, a stale count), its pass stops, and it
 * is split into 2^j sub-partitions (h mod m*2^j) sized from what the
 * aborted pass measured. Every pass scans both sides in full: more
 * partitions cost time, never memory. Memory outside the map is a page of
 * records per side and a page of fetched candidates.
 *
 * Sample mode (verify_sample.c) draws N ids from OLD (reservoir sampling
 * over one scan of ids only, seeded), gets them from both sides and
 * classifies them the same way. It cannot find extra records; it compares
 * the two counts.
 */
#include "verify_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define TOLERANCE_DEFAULT 1e-6
#define ID_LEN_ASSUMED    16 /* for planning when OLD is empty */

/* ---- Full mode --------------------------------------------------------- */

typedef struct part_s {
        uint64_t r, m; /* ids with hash mod m == r */
} part_t;

typedef struct full_s {
        vcdc_verify_judge_t judge;
        vcdc_verify_map_t map;
        part_t part;
        uint64_t old_seen, new_seen; /* this pass, in the partition */
        uint64_t scanned;            /* this pass, all of OLD */
        uint64_t dups;
} full_t;

static int in_part(const part_t *part, uint64_t hash) {
        return (hash & (part->m - 1)) == part->r;
}

static int old_record(void *ctx, vcdc_record_t *rec, char *errstr,
                      size_t errstr_size) {
        full_t *f = ctx;
        uint64_t hash = vcdc_verify_hash_id(rec->id);

        f->scanned++;
        if (!in_part(&f->part, hash))
                return 0;
        switch (vcdc_verify_map_insert(&f->map, hash, rec->id,
                                       vcdc_verify_digest(rec))) {
        case VCDC_VERIFY_MAP_OK:
                f->old_seen++;
                return 0;
        case VCDC_VERIFY_MAP_DUP:
                f->dups++;
                return 0;
        case VCDC_VERIFY_MAP_FULL:
                return 1;
        default:
                snprintf(errstr, errstr_size,
                         "out of memory holding %zu ids (%zu bytes)",
                         f->map.cnt, vcdc_verify_map_bytes(&f->map));
                return -1;
        }
}

static int new_record(void *ctx, vcdc_record_t *rec, char *errstr,
                      size_t errstr_size) {
        full_t *f = ctx;
        uint64_t hash = vcdc_verify_hash_id(rec->id);
        size_t i;

        if (!in_part(&f->part, hash))
                return 0;
        i = vcdc_verify_map_probe(&f->map, hash, rec->id);
        if (!f->map.slots[i].id) {
                f->new_seen++;
                return vcdc_verify_judge_add(&f->judge, rec->id, rec, errstr,
                                             errstr_size);
        }
        if (vcdc_verify_map_seen(&f->map, i)) {
                f->dups++;
                return 0;
        }
        vcdc_verify_map_set_seen(&f->map, i);
        f->new_seen++;
        if (f->map.slots[i].digest == vcdc_verify_digest(rec)) {
                f->judge.res->compared++;
                return 0;
        }
        return vcdc_verify_judge_add(&f->judge, rec->id, rec, errstr,
                                     errstr_size);
}

/* The ids of OLD's first page, to plan with their average length. */
typedef struct peek_s {
        size_t n, bytes, max;
} peek_t;

static int peek_record(void *ctx, vcdc_record_t *rec, char *errstr,
                       size_t errstr_size) {
        peek_t *pk = ctx;

        (void)errstr;
        (void)errstr_size;
        pk->bytes += strlen(rec->id);
        return ++pk->n >= pk->max;
}

static int avg_id_len(const vcdc_verify_run_t *run, size_t *lenp, char *errstr,
                      size_t errstr_size) {
        peek_t pk = {0, 0, run->page};
        vcdc_progress_t prog;

        vcdc_progress_start(&prog, VCDC_VERIFY_LOG_COMP, "OLD, first page", 0);
        if (vcdc_side_scan(&run->old_side, run->page, 0 /*ids only*/, &prog,
                           peek_record, &pk, errstr, errstr_size) == -1)
                return -1;
        *lenp = pk.n ? (pk.bytes + pk.n - 1) / pk.n : ID_LEN_ASSUMED;
        return 0;
}

/* Splits the partition that overflowed into enough sub-partitions, from
 * what its aborted pass measured; appends them to *partsp. */
static int split(full_t *f, const vcdc_verify_run_t *run, part_t **partsp,
                 size_t *cntp, size_t *sizep, char *errstr,
                 size_t errstr_size) {
        uint64_t old_count = run->old_count, est, ways, j;
        size_t memory = run->memory;
        size_t avg = f->map.cnt ? f->map.id_bytes / f->map.cnt : 1;

        /* The partition's share of OLD, extrapolated from how far the
         * scan got; at least twice what it held when it overflowed. */
        est = old_count / f->part.m;
        if (f->scanned && f->scanned < old_count &&
            est < (uint64_t)((double)f->map.cnt * (double)old_count /
                             (double)f->scanned))
                est = (uint64_t)((double)f->map.cnt * (double)old_count /
                                 (double)f->scanned);
        if (est < (uint64_t)f->map.cnt * 2)
                est = (uint64_t)f->map.cnt * 2;
        ways = vcdc_verify_partitions(est, avg, memory);
        if (ways < 2)
                ways = 2;
        if (f->part.m > VCDC_VERIFY_PARTITIONS_MAX / ways) {
                snprintf(errstr, errstr_size,
                         "the memory budget (%zu bytes) is too small for "
                         "these ids",
                         memory);
                return -1;
        }
        VCDC_NOTICE(VCDC_VERIFY_LOG_COMP,
                    "partition %llu/%llu outgrew %zu bytes at %zu ids "
                    "(%zu bytes an id on average): splitting it in %llu",
                    (unsigned long long)f->part.r,
                    (unsigned long long)f->part.m, memory, f->map.cnt, avg,
                    (unsigned long long)ways);
        if (*cntp + ways > *sizep) {
                size_t size = (*cntp + ways) * 2;
                part_t *parts = realloc(*partsp, size * sizeof(*parts));
                if (!parts) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
                *partsp = parts;
                *sizep = size;
        }
        /* Pushed last to first, so they are taken in order. */
        for (j = ways; j-- > 0;) {
                (*partsp)[*cntp].r = f->part.r + j * f->part.m;
                (*partsp)[*cntp].m = f->part.m * ways;
                (*cntp)++;
        }
        return 0;
}

static int verify_full(const vcdc_verify_run_t *run, vcdc_verify_result_t *res,
                       char *errstr, size_t errstr_size) {
        uint64_t old_count = run->old_count, new_count = run->new_count;
        size_t cnt = 0, size, i, memory = run->memory, id_len;
        part_t *parts = NULL;
        uint64_t planned;
        vcdc_progress_t prog;
        char what[128];
        full_t f;
        int rc = -1;

        memset(&f, 0, sizeof(f));
        if (vcdc_verify_judge_init(&f.judge, run, res) == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (avg_id_len(run, &id_len, errstr, errstr_size) == -1)
                goto done;
        planned = vcdc_verify_partitions(old_count, id_len, memory);
        size = (size_t)planned + 16;
        if (!(parts = calloc(size, sizeof(*parts)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        for (i = (size_t)planned; i-- > 0; cnt++) {
                parts[cnt].r = i;
                parts[cnt].m = planned;
        }
        VCDC_NOTICE(VCDC_VERIFY_LOG_COMP,
                    "full comparison: OLD holds %llu records, NEW %llu; "
                    "%llu partition(s) for %zu bytes of ids (%zu bytes "
                    "long on average) and digests",
                    (unsigned long long)old_count,
                    (unsigned long long)new_count, (unsigned long long)planned,
                    memory, id_len);
        while (cnt > 0) {
                int r;

                f.part = parts[--cnt];
                f.old_seen = f.new_seen = f.scanned = 0;
                if (vcdc_verify_map_init(&f.map,
                                         (size_t)(old_count / f.part.m +
                                                  old_count / f.part.m / 16),
                                         memory) == -1) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto done;
                }
                snprintf(what, sizeof(what), "OLD, partition %llu/%llu",
                         (unsigned long long)f.part.r,
                         (unsigned long long)f.part.m);
                vcdc_progress_start(&prog, VCDC_VERIFY_LOG_COMP, what,
                                    old_count);
                r = vcdc_side_scan(&run->old_side, run->page,
                                   1 /*with vectors*/, &prog, old_record, &f,
                                   errstr, errstr_size);
                if (r == -1)
                        goto done;
                if (r == 1) {
                        if (split(&f, run, &parts, &cnt, &size, errstr,
                                  errstr_size) == -1)
                                goto done;
                        vcdc_verify_map_free(&f.map);
                        continue;
                }
                snprintf(what, sizeof(what), "NEW, partition %llu/%llu",
                         (unsigned long long)f.part.r,
                         (unsigned long long)f.part.m);
                vcdc_progress_start(&prog, VCDC_VERIFY_LOG_COMP, what,
                                    new_count);
                if (vcdc_side_scan(&run->new_side, run->page,
                                   1 /*with vectors*/, &prog, new_record, &f,
                                   errstr, errstr_size))
                        goto done;
                for (i = 0; i < f.map.cap; i++)
                        if (f.map.slots[i].id &&
                            !vcdc_verify_map_seen(&f.map, i) &&
                            vcdc_verify_judge_add(&f.judge, f.map.slots[i].id,
                                                  NULL, errstr,
                                                  errstr_size) == -1)
                                goto done;
                if (vcdc_verify_judge_flush(&f.judge, errstr, errstr_size) ==
                    -1)
                        goto done;
                res->old_count += f.old_seen;
                res->new_count += f.new_seen;
                res->passes++;
                VCDC_INFO(VCDC_VERIFY_LOG_COMP,
                          "partition %llu/%llu done: %llu OLD and %llu NEW "
                          "records, %zu bytes for ids and digests",
                          (unsigned long long)f.part.r,
                          (unsigned long long)f.part.m,
                          (unsigned long long)f.old_seen,
                          (unsigned long long)f.new_seen,
                          vcdc_verify_map_bytes(&f.map));
                vcdc_verify_map_free(&f.map);
        }
        if (f.dups)
                VCDC_WARN(VCDC_VERIFY_LOG_COMP,
                          "%llu ids came twice in a scan (did a target change "
                          "during verification?)",
                          (unsigned long long)f.dups);
        rc = 0;
done:
        vcdc_verify_map_free(&f.map);
        vcdc_verify_judge_free(&f.judge);
        free(parts);
        return rc;
}

/* ---- Entry ------------------------------------------------------------- */

int vcdc_verify(vcdc_sink_t *old_sink, vcdc_sink_t *new_sink,
                const vcdc_verify_opts_t *opts, vcdc_verify_result_t *res,
                char *errstr, size_t errstr_size) {
        vcdc_verify_opts_t defaults = {0};
        int64_t start_us = vcdc_clock_us();
        vcdc_verify_run_t run;
        int rc;

        memset(res, 0, sizeof(*res));
        if (!opts)
                opts = &defaults;
        run.old_side = (vcdc_side_t){old_sink, "OLD", VCDC_VERIFY_LOG_COMP,
                                     VCDC_VERIFY_RETRIES};
        run.new_side = (vcdc_side_t){new_sink, "NEW", VCDC_VERIFY_LOG_COMP,
                                     VCDC_VERIFY_RETRIES};
        run.page = opts->page ? opts->page : VCDC_VERIFY_PAGE_DEFAULT;
        run.memory = opts->memory ? opts->memory : VCDC_VERIFY_MEMORY_DEFAULT;
        if (run.memory < VCDC_VERIFY_MEMORY_MIN)
                run.memory = VCDC_VERIFY_MEMORY_MIN;
        run.tolerance =
                opts->tolerance == 0 ? TOLERANCE_DEFAULT : opts->tolerance;
        if (vcdc_side_count(&run.old_side, &run.old_count, errstr,
                            errstr_size) == -1 ||
            vcdc_side_count(&run.new_side, &run.new_count, errstr,
                            errstr_size) == -1)
                return -1;
        if (opts->sample)
                rc = vcdc_verify_sampled(&run, opts->sample, opts->seed, res,
                                         errstr, errstr_size);
        else
                rc = verify_full(&run, res, errstr, errstr_size);
        res->seconds = (double)(vcdc_clock_us() - start_us) / 1e6;
        return rc;
}

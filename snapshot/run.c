/*
 * vcdc - the snapshot's run (DESIGN.md, The snapshot of a live OLD): the
 * checks made before anything is written, the resumption of an
 * interrupted run from its checkpoint, the chunk loop (low watermark, wait
 * for OLD, read, high watermark, window, checkpoint, append, repairs,
 * checkpoint), the throttle and the progress line. What a chunk decides
 * is chunk.c's.
 */
#include "snap_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "clock.h"
#include "collconf.h"
#include "ctltopic.h"
#include "lag.h"
#include "log.h"

#define ADMIN_TIMEOUT_MS 15000
#define WAIT_DEFAULT_MS  (10 * 60 * 1000)
#define PROGRESS_MS      2000

static void sleep_ms(int64_t ms) {
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};

        nanosleep(&ts, NULL);
}

static int stopped(const snap_t *s) {
        return s->o->stop && *s->o->stop;
}

/* ---- Before anything is written ---------------------------------------- */

static int check_topic(snap_t *s, char *errstr, size_t errstr_size) {
        rd_kafka_t *rk = vcdc_logread_handle(s->lr);
        char policy[64], lag[32], want[32], err[512];
        int64_t lag_ms;

        if (vcdc_admin_topic_config(rk, s->o->topic, "cleanup.policy", policy,
                                    sizeof(policy), ADMIN_TIMEOUT_MS, errstr,
                                    errstr_size) == -1 ||
            vcdc_admin_topic_config(rk, s->o->topic, "min.compaction.lag.ms",
                                    lag, sizeof(lag), ADMIN_TIMEOUT_MS, errstr,
                                    errstr_size) == -1)
                return VCDC_SNAPSHOT_UNAVAILABLE;
        if (!vcdc_admin_policy_keeps_history(policy)) {
                snprintf(errstr, errstr_size,
                         "topic %s has cleanup.policy=%s, which deletes "
                         "history: a replay of it would not yield OLD's "
                         "state; use a topic with cleanup.policy=compact",
                         s->o->topic, policy);
                return VCDC_SNAPSHOT_BAD_INPUT;
        }
        lag_ms = strtoll(lag, NULL, 10);
        if (lag_ms >= VCDC_SNAPSHOT_MIN_COMPACTION_LAG_MS)
                return 0;
        snprintf(want, sizeof(want), "%d", VCDC_SNAPSHOT_MIN_COMPACTION_LAG_MS);
        if (!s->o->set_compaction_lag) {
                snprintf(errstr, errstr_size,
                         "topic %s has min.compaction.lag.ms=%s: the cleaner "
                         "may merge away the live changes a chunk's window "
                         "and repairs must see; set it to at least %s "
                         "(--set-compaction-lag does it)",
                         s->o->topic, lag, want);
                return VCDC_SNAPSHOT_BAD_INPUT;
        }
        if (vcdc_admin_set_topic_config(rk, s->o->topic,
                                        "min.compaction.lag.ms", want,
                                        ADMIN_TIMEOUT_MS, err,
                                        sizeof(err)) == -1) {
                snprintf(errstr, errstr_size, "%s", err);
                return VCDC_SNAPSHOT_FAILED;
        }
        VCDC_NOTICE("snapshot", "topic %s: min.compaction.lag.ms %s -> %s",
                    s->o->topic, lag, want);
        return 0;
}

/* OLD's consumer: a group with members, which has applied or committed
 * something of a topic that holds records. */
static int check_group(snap_t *s, char *errstr, size_t errstr_size) {
        vcdc_lag_sample_t smp;
        int64_t records = 0;
        int seen = 0;
        size_t i;

        if (vcdc_lag_sample(vcdc_logread_handle(s->lr), s->o->topic,
                            s->o->old_group, s->old, &smp, errstr,
                            errstr_size) == -1)
                return VCDC_SNAPSHOT_UNAVAILABLE;
        for (i = 0; i < smp.part_cnt; i++) {
                records += smp.parts[i].end - smp.parts[i].start;
                if (smp.parts[i].committed >= 0 || smp.parts[i].recorded >= 0)
                        seen = 1;
        }
        if (!smp.members) {
                snprintf(errstr, errstr_size,
                         "group %s has no member (%s): OLD's consumer must "
                         "be running, applying %s to %s, while the snapshot "
                         "runs",
                         s->o->old_group, smp.group_state, s->o->topic,
                         vcdc_sink_name(s->old));
                vcdc_lag_sample_clear(&smp);
                return VCDC_SNAPSHOT_BAD_INPUT;
        }
        vcdc_lag_sample_clear(&smp);
        if (records > 0 && !seen) {
                snprintf(errstr, errstr_size,
                         "group %s has committed nothing of topic %s and %s "
                         "records no offsets of it: the group is not "
                         "applying the topic to OLD",
                         s->o->old_group, s->o->topic, vcdc_sink_name(s->old));
                return VCDC_SNAPSHOT_BAD_INPUT;
        }
        return 0;
}

/* ---- A chunk ------------------------------------------------------------ */

/* Waits until OLD's recorded offsets show every change of the collection
 * read so far applied (s->need): OLD then reflects the log up to s->pos. */
static int wait_for_old(snap_t *s, char *errstr, size_t errstr_size) {
        const int64_t *need = s->need;
        int64_t wait = s->o->wait_ms ? s->o->wait_ms : WAIT_DEFAULT_MS;
        int64_t deadline = vcdc_clock_ms() + wait, behind = 0;
        vcdc_sink_offset_t *rec;
        vcdc_sink_status_t st;
        size_t cnt, i;
        int p, late;

        for (;;) {
                if ((st = vcdc_sink_read_offsets(s->old, s->o->topic, &rec,
                                                 &cnt, errstr, errstr_size)) !=
                    VCDC_SINK_OK) {
                        if (st != VCDC_SINK_RETRIABLE)
                                return -1;
                        VCDC_WARN("snapshot", "%s", errstr);
                        cnt = 0;
                        rec = NULL;
                }
                for (p = 0, late = -1; p < s->parts && late < 0; p++) {
                        int64_t have = -1;

                        for (i = 0; i < cnt; i++)
                                if (rec[i].partition == p)
                                        have = rec[i].offset;
                        if (need[p] >= 0 && have < need[p]) {
                                late = p;
                                behind = need[p] - have;
                        }
                }
                free(rec);
                if (late < 0)
                        return 0;
                if (stopped(s) || vcdc_clock_ms() > deadline) {
                        snprintf(errstr, errstr_size,
                                 "%s: OLD's consumer (group %s) has not "
                                 "applied %s [%d] up to offset %" PRId64
                                 " (%" PRId64 " behind) after %" PRId64
                                 " s: is it running against %s?",
                                 stopped(s) ? "stopped" : "timed out",
                                 s->o->old_group, s->o->topic, late,
                                 need[late], behind, wait / 1000,
                                 vcdc_sink_name(s->old));
                        return -1;
                }
                sleep_ms(100);
        }
}

/* Keeps reads from OLD under --max-rate. */
static void throttle(snap_t *s, int64_t t0, uint64_t read) {
        int64_t due;

        if (s->o->max_rate <= 0)
                return;
        due = t0 + (int64_t)((double)read * 1000.0 / s->o->max_rate);
        while (vcdc_clock_ms() < due && !stopped(s))
                sleep_ms(due - vcdc_clock_ms() > 100 ? 100
                                                     : due - vcdc_clock_ms());
}

static void progress(snap_t *s, int64_t t0, uint64_t total, int64_t chunk,
                     int force) {
        double secs = (double)(vcdc_clock_ms() - t0) / 1000.0;
        uint64_t done = s->res->records + s->res->superseded;
        double rate = secs > 0 ? (double)done / secs : 0;
        char eta[32] = "?";

        if (!force && vcdc_clock_ms() - s->progress_ms < PROGRESS_MS)
                return;
        s->progress_ms = vcdc_clock_ms();
        if (rate > 0 && total > done)
                snprintf(eta, sizeof(eta), "%.0f s",
                         (double)(total - done) / rate);
        else if (total <= done)
                snprintf(eta, sizeof(eta), "0 s");
        VCDC_NOTICE("snapshot",
                    "chunk %" PRId64 ": %" PRIu64 " of about %" PRIu64
                    " records (%.0f%%), %" PRIu64 " superseded, %" PRIu64
                    " repairs, %.0f records/s, ETA %s",
                    chunk, done, total,
                    total ? 100.0 * (double)done / (double)total : 100.0,
                    s->res->superseded, s->res->repairs, rate, eta);
}

/* Where the scan goes on, and the low watermark of the page that cursor
 * came from: the deletes that can have moved OLD's records since that
 * page are counted from there. */
typedef struct scanpos_s {
        char *cursor;
        int64_t *cursor_lw;
} scanpos_t;

/*
 * When OLD lags by more than LAG_MAX records behind the log end, windows
 * get long: the run waits for it to apply every live change of the
 * collection read so far, so that the next page's low watermark is near
 * the end again. lw is left alone: a page read already keeps the low
 * watermark it was read under. Returns 1 when it waited, 0 when there was
 * no need, -1 with errstr. Only while no page is being read (OLD's sink is
 * the page thread's then).
 */
#define LAG_MAX(s) ((s)->o->chunk * 20 > 20000 ? (s)->o->chunk * 20 : 20000)

static int catch_up(snap_t *s, const int64_t *lw, const int64_t *end,
                    char *errstr, size_t errstr_size) {
        uint64_t lag = 0;
        int p;

        for (p = 0; p < s->parts; p++)
                lag += end[p] > lw[p] ? (uint64_t)(end[p] - lw[p]) : 0;
        if (lag <= (uint64_t)LAG_MAX(s))
                return 0;
        VCDC_INFO("snapshot",
                  "OLD is %" PRIu64 " records behind the log end: waiting "
                  "for it",
                  lag);
        if (snap_read(s, NULL, end, NULL, errstr, errstr_size) == -1 ||
            wait_for_old(s, errstr, errstr_size) == -1)
                return -1;
        s->old_pos_ms = 0; /* the next page asks OLD again */
        return 1;
}

static int ckpt_write(snap_t *s, ckpt_state_t state, int64_t n,
                      const char *cursor, const int64_t *cursor_lw,
                      const int64_t *hw, char *errstr, size_t errstr_size) {
        ckpt_t ck = {.state = state,
                     .chunk = n,
                     .cursor = (char *)cursor,
                     .cursor_lw = (int64_t *)cursor_lw,
                     .hw = (int64_t *)hw,
                     .parts = s->parts,
                     .records = s->res->records,
                     .repairs = s->res->repairs,
                     .superseded = s->res->superseded};

        snprintf(ck.run, sizeof(ck.run), "%s", s->run);
        return snap_ckpt_write(s, &ck, errstr, errstr_size);
}

/*
 * The ids of an interrupted chunk, read again as a chunk of their own
 * (DESIGN.md, Restarts): watermarks, window, append and repairs. Its low
 * watermark must be past every orphan (the records the interrupted chunk
 * wrote, all before orphans_end): one in the window would drop its id,
 * and the orphan, never repaired, would stay last. So OLD is first waited
 * for up to there (it skips them, and records their offsets).
 */
static int ids_chunk(snap_t *s, chunk_t *c, char **ids, size_t cnt,
                     const int64_t *orphans_end, char *errstr,
                     size_t errstr_size) {
        int64_t *lw = calloc((size_t)s->parts, sizeof(*lw));
        int64_t *hw = calloc((size_t)s->parts, sizeof(*hw));
        int p, r = -1;

        if (!lw || !hw) {
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
        }
        for (p = 0; p < s->parts; p++)
                if (orphans_end[p] - 1 > s->need[p])
                        s->need[p] = orphans_end[p] - 1;
        if (wait_for_old(s, errstr, errstr_size) == -1 ||
            snap_old_position(s, lw, 1, errstr, errstr_size) == -1 ||
            vcdc_logread_ends(s->lr, hw, errstr, errstr_size) == -1 ||
            catch_up(s, lw, hw, errstr, errstr_size) == -1 ||
            snap_old_position(s, lw, 1, errstr, errstr_size) == -1 ||
            snap_read_ids(s, c, ids, cnt, errstr, errstr_size) == -1 ||
            vcdc_logread_ends(s->lr, hw, errstr, errstr_size) == -1 ||
            snap_chunk_index(c, errstr, errstr_size) == -1 ||
            snap_read(s, lw, hw, c, errstr, errstr_size) == -1 ||
            snap_append(s, c, errstr, errstr_size) == -1 ||
            snap_repair(s, c, hw, errstr, errstr_size) == -1)
                goto out;
        r = 0;
out:
        free(lw);
        free(hw);
        return r;
}

/*
 * The chunks of the scan from sp: each page is read (page.c) while the
 * chunk before it is written and repaired. For a page: its window, the
 * check that the scan did not lose its place by more than it stepped back
 * (else the page is read again), the "appending" checkpoint, the next
 * page started, the append and repairs, the "done" checkpoint. Returns 0
 * when the scan is over, -1 with errstr (a stop asked for included).
 */
static int scan_chunks(snap_t *s, scanpos_t *sp, int64_t *np, int64_t t0,
                       uint64_t total, char *errstr, size_t errstr_size) {
        int64_t n = *np;
        page_t pages[2] = {{0}, {0}}, *pg = &pages[0], *next = &pages[1], *t;
        chunk_t *c;
        int r = -1;

        if (snap_page_start(s, pg, sp->cursor, sp->cursor_lw, errstr,
                            errstr_size) == -1)
                goto out;
        for (;;) {
                if (snap_page_wait(pg, errstr, errstr_size) == -1)
                        goto out;
                c = &pg->c;
                c->n = n;
                snprintf(c->tag, sizeof(c->tag), "%s:%" PRId64, s->run, n);
                if (snap_chunk_index(c, errstr, errstr_size) == -1 ||
                    snap_read(s, pg->lw, pg->hw, c, errstr, errstr_size) == -1)
                        goto out;
                if (snap_page_misplaced(s, pg)) {
                        /* More deletes reached OLD while the page was read
                         * than it knew of: read it again, knowing them. */
                        VCDC_INFO("snapshot",
                                  "chunk %" PRId64 ": the scan may have "
                                  "lost its place (%" PRIu64 " deletes "
                                  "since, not %" PRIu64 "%s): reading the "
                                  "page again",
                                  n, snap_dels(s, pg->from, pg->hw),
                                  pg->sh.deletes,
                                  pg->sh.lost ? "" : "; the record it "
                                                     "followed among them");
                        free(sp->cursor);
                        sp->cursor = pg->before;
                        pg->before = NULL;
                        snap_page_clear(pg);
                        if (snap_page_start(s, pg, sp->cursor, sp->cursor_lw,
                                            errstr, errstr_size) == -1)
                                goto out;
                        continue;
                }
                if (!c->cnt && !pg->cursor)
                        break;
                if (catch_up(s, pg->lw, pg->hw, errstr, errstr_size) == -1 ||
                    ckpt_write(s, CKPT_APPENDING, n, pg->before, sp->cursor_lw,
                               pg->hw, errstr, errstr_size) == -1)
                        goto out;
                if (pg->cursor && !stopped(s)) {
                        throttle(s, t0, s->res->records + s->res->superseded +
                                                c->cnt);
                        if (snap_page_start(s, next, pg->cursor, pg->lw,
                                            errstr, errstr_size) == -1)
                                goto out;
                }
                if (snap_append(s, c, errstr, errstr_size) == -1 ||
                    snap_repair(s, c, pg->hw, errstr, errstr_size) == -1 ||
                    ckpt_write(s, CKPT_DONE, n, pg->cursor, pg->lw, NULL,
                               errstr, errstr_size) == -1)
                        goto out;
                s->res->chunks++;
                n++;
                memcpy(sp->cursor_lw, pg->lw, (size_t)s->parts * sizeof(*pg->lw));
                free(sp->cursor);
                sp->cursor = pg->cursor;
                pg->cursor = NULL;
                progress(s, t0, total, n, !sp->cursor);
                if (!sp->cursor)
                        break;
                if (stopped(s)) {
                        snprintf(errstr, errstr_size,
                                 "stopped after chunk %" PRId64
                                 "; a rerun resumes at the next one",
                                 n - 1);
                        goto out;
                }
                snap_page_clear(pg);
                t = pg;
                pg = next;
                next = t;
        }
        r = 0;
out:
        *np = n;
        snap_page_clear(next);
        snap_page_clear(pg);
        return r;
}


/* A checkpoint whose offsets lie past the log end is of a topic since
 * deleted and created again under the same name: not this topic's. */
static int ckpt_fits(const snap_t *s, const ckpt_t *ck) {
        int p;

        for (p = 0; p < s->parts; p++)
                if ((ck->cursor_lw && ck->cursor_lw[p] > s->pos[p]) ||
                    (ck->hw && ck->hw[p] > s->pos[p]))
                        return 0;
        return 1;
}

static void new_run_id(char *buf, size_t size) {
        unsigned char b[8] = {0};
        FILE *fp = fopen("/dev/urandom", "rb");
        uint64_t v;
        size_t i;

        if (!fp || fread(b, 1, sizeof(b), fp) != sizeof(b)) {
                v = (uint64_t)vcdc_wall_ms() ^ ((uint64_t)clock() << 40);
                memcpy(b, &v, sizeof(b));
        }
        if (fp)
                fclose(fp);
        for (i = 0; i < sizeof(b) && 2 * i + 2 < size; i++)
                snprintf(buf + 2 * i, 3, "%02x", b[i]);
}

/* Picks up an interrupted run: its id, where its scan goes on, and the
 * ids of a chunk it may have written only in part, read again. */
static int resume(snap_t *s, const ckpt_t *ck, scanpos_t *sp, int64_t *np,
                  char *errstr, size_t errstr_size) {
        chunk_t c = {.n = ck->chunk};
        int64_t *end = calloc((size_t)s->parts, sizeof(*end));
        char **ids = NULL;
        size_t cnt = 0, i;
        int r = -1;

        snprintf(s->run, sizeof(s->run), "%s", ck->run);
        s->res->resumed_chunk = ck->chunk;
        if (!end || (ck->cursor && !(sp->cursor = strdup(ck->cursor)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
        }
        if (ck->cursor_lw) {
                for (i = 0; i < (size_t)s->parts; i++)
                        s->need[i] = ck->cursor_lw[i] - 1;
                memcpy(s->pos, ck->cursor_lw,
                       (size_t)s->parts * sizeof(*s->pos));
                memcpy(sp->cursor_lw, ck->cursor_lw,
                       (size_t)s->parts * sizeof(*s->pos));
        }
        *np = ck->state == CKPT_DONE ? ck->chunk + 1 : ck->chunk;
        VCDC_NOTICE("snapshot", "resuming run %s at chunk %" PRId64, s->run,
                    *np);
        if (ck->state != CKPT_APPENDING) {
                r = 0;
                goto out;
        }
        snprintf(c.tag, sizeof(c.tag), "%s:%" PRId64, s->run, c.n);
        if (snap_tagged_ids(s, ck->hw, c.tag, end, &ids, &cnt, errstr,
                            errstr_size) == -1)
                goto out;
        VCDC_NOTICE("snapshot",
                    "chunk %" PRId64 " was being written when the run "
                    "stopped: reading its %zu ids written so far again",
                    c.n, cnt);
        if (cnt &&
            ids_chunk(s, &c, ids, cnt, end, errstr, errstr_size) == -1)
                goto out;
        s->res->resolved += cnt;
        r = 0;
out:
        snap_chunk_clear(&c);
        for (i = 0; i < cnt; i++)
                free(ids[i]);
        free(ids);
        free(end);
        return r;
}

/* Opens OLD and the topic and makes every check; nothing is written. */
static int open_checked(snap_t *s, char *errstr, size_t errstr_size) {
        vcdc_sink_conf_t sc = {.timeout_ms = s->o->timeout_ms};
        vcdc_sink_status_t st;
        int exists, missing, rc;
        char err[512];

        if (!(s->old = vcdc_sink_open(s->o->from_url, &sc, &st, err,
                                      sizeof(err)))) {
                snprintf(errstr, errstr_size, "OLD: %s", err);
                return st == VCDC_SINK_RETRIABLE ? VCDC_SNAPSHOT_UNAVAILABLE
                                                 : VCDC_SNAPSHOT_BAD_INPUT;
        }
        if ((st = vcdc_sink_exists(s->old, &exists, err, sizeof(err)))) {
                snprintf(errstr, errstr_size, "OLD: %s", err);
                return st == VCDC_SINK_RETRIABLE ? VCDC_SNAPSHOT_UNAVAILABLE
                                                 : VCDC_SNAPSHOT_BAD_INPUT;
        }
        if (!exists) {
                snprintf(errstr, errstr_size,
                         "%s: %s does not exist: nothing to copy (is the "
                         "URL's collection or table right?)",
                         vcdc_sink_name(s->old), vcdc_sink_target(s->old));
                return VCDC_SNAPSHOT_BAD_INPUT;
        }
        s->collection = s->o->collection ? s->o->collection
                                         : vcdc_sink_target(s->old);
        if (!(s->lr = vcdc_logread_new(s->conf, s->o->topic, 1, &missing,
                                       errstr, errstr_size)))
                return missing ? VCDC_SNAPSHOT_BAD_INPUT
                               : VCDC_SNAPSHOT_UNAVAILABLE;
        s->parts = vcdc_logread_partitions(s->lr);
        if (!s->o->skip_topic_checks &&
            ((rc = check_topic(s, errstr, errstr_size)) ||
             (rc = check_group(s, errstr, errstr_size))))
                return rc;
        if (!(s->prod = vcdc_producer_new(s->conf, s->o->topic, errstr,
                                          errstr_size)))
                return VCDC_SNAPSHOT_BAD_INPUT;
        if (!s->o->skip_topic_checks &&
            vcdc_producer_ensure_topic(s->prod, 0, 0, errstr, errstr_size) ==
                    -1)
                return VCDC_SNAPSHOT_BAD_INPUT;
        return 0;
}

/* OLD's configuration on the control topic, so that NEW's consumer
 * creates its target with OLD's metric and dimension (collconf.h). */
static int record_config(snap_t *s, char *errstr, size_t errstr_size) {
        vcdc_collconf_t cc = {.collection = (char *)s->collection,
                              .metric = vcdc_sink_metric(s->old),
                              .dim = vcdc_sink_dim(s->old),
                              .source = (char *)vcdc_sink_name(s->old),
                              .ts_ms = vcdc_wall_ms()};
        vcdc_index_info_t ix;
        char index[256];

        if (vcdc_sink_can_index(s->old) &&
            vcdc_sink_index_state(s->old, VCDC_INDEX_NONE, &ix, errstr,
                                  errstr_size) == VCDC_SINK_OK &&
            ix.state == VCDC_INDEX_VALID) {
                snprintf(index, sizeof(index),
                         "{\"kind\":\"%s\",\"opclass\":\"%s\"}",
                         vcdc_index_kind_name(ix.kind), ix.opclass);
                cc.index = index;
        }
        return vcdc_collconf_write(s->conf, s->control_topic, &cc, errstr,
                                   errstr_size);
}

static void snap_close(snap_t *s) {
        vcdc_producer_destroy(s->prod);
        vcdc_logread_destroy(s->lr);
        vcdc_sink_destroy(s->old);
        vcdc_ctlwriter_destroy(s->ckpt);
        snap_dels_free(s);
        pthread_mutex_destroy(&s->dels_lock);
        free(s->pos);
        free(s->need);
        free(s->old_pos);
}

int vcdc_snapshot_run(vcdc_conf_t *conf, const vcdc_snapshot_opts_t *opts,
                      vcdc_snapshot_result_t *res, char *errstr,
                      size_t errstr_size) {
        snap_t s = {.conf = conf,
                    .o = opts,
                    .res = res,
                    .dels_lock = PTHREAD_MUTEX_INITIALIZER};
        scanpos_t sp = {0};
        ckpt_t ck = {0};
        int64_t t0 = vcdc_clock_ms(), n = 0;
        uint64_t total = 0;
        int rc, i;

        memset(res, 0, sizeof(*res));
        res->resumed_chunk = -1;
        s.control_topic = opts->control_topic ? opts->control_topic
                                              : VCDC_CONTROL_TOPIC;
        if ((rc = open_checked(&s, errstr, errstr_size)))
                goto out;
        rc = VCDC_SNAPSHOT_FAILED;
        if (record_config(&s, errstr, errstr_size) == -1)
                goto out;
        if (!(s.pos = calloc((size_t)s.parts, sizeof(*s.pos))) ||
            !(s.need = calloc((size_t)s.parts, sizeof(*s.need))) ||
            !(s.old_pos = calloc((size_t)s.parts, sizeof(*s.old_pos))) ||
            !(s.dels = calloc((size_t)s.parts, sizeof(*s.dels))) ||
            !(sp.cursor_lw = calloc((size_t)s.parts, sizeof(*sp.cursor_lw)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
        }
        if (vcdc_logread_ends(s.lr, s.pos, errstr, errstr_size) == -1)
                goto out;
        memcpy(sp.cursor_lw, s.pos, (size_t)s.parts * sizeof(*s.pos));
        for (i = 0; i < s.parts; i++)
                s.need[i] = s.pos[i] - 1;
        if (vcdc_sink_count(s.old, &total, errstr, errstr_size) !=
                    VCDC_SINK_OK ||
            snap_ckpt_read(&s, &ck, errstr, errstr_size) == -1)
                goto out;
        if ((ck.state == CKPT_APPENDING || ck.state == CKPT_DONE) &&
            !ckpt_fits(&s, &ck)) {
                VCDC_WARN("snapshot",
                          "the checkpoint of run %s (chunk %" PRId64
                          ") names offsets past the end of %s: the topic was "
                          "created again since; starting a new run",
                          ck.run, ck.chunk, opts->topic);
                ck.state = CKPT_NONE;
        }
        if (ck.state == CKPT_APPENDING || ck.state == CKPT_DONE) {
                if (resume(&s, &ck, &sp, &n, errstr, errstr_size) == -1)
                        goto out;
        } else {
                new_run_id(s.run, sizeof(s.run));
                VCDC_NOTICE("snapshot",
                            "run %s: %s into %s, about %" PRIu64
                            " records, chunks of %zu",
                            s.run, vcdc_sink_name(s.old), opts->topic, total,
                            opts->chunk ? opts->chunk : SNAP_CHUNK_DEFAULT);
        }
        snprintf(res->run, sizeof(res->run), "%s", s.run);
        if (scan_chunks(&s, &sp, &n, t0, total, errstr, errstr_size) == -1)
                goto out;
        if (ckpt_write(&s, CKPT_FINISHED, n, NULL, NULL, NULL, errstr,
                       errstr_size) == -1)
                goto out;
        res->finished = 1;
        rc = VCDC_SNAPSHOT_DONE;
out:
        res->seconds = (double)(vcdc_clock_ms() - t0) / 1000.0;
        snap_ckpt_clear(&ck);
        free(sp.cursor);
        free(sp.cursor_lw);
        snap_close(&s);
        return rc;
}

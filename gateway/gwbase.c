/*
 * vcdc gateway - what a write builds on: the serving side's copy of an id,
 * or the record this instance wrote last and the side may not have
 * applied yet (gwpending.h); and the ids a delete resolves to, the same
 * way. DESIGN.md, The gateway's data routes.
 */
#include "gwdata_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "filter.h"

/* With cs->wlock held: whether side may be read for an id this instance
 * has no pending record of (the pending records synced with side's
 * applied offsets when due, DESIGN.md). 1 yes, 0 not yet (side has not
 * applied a record whose entry left), -1 side's offsets could not be
 * read (errstr). */
static int pending_ready(vcdc_gw_data_t *d, gw_cstate_t *cs,
                         vcdc_route_side_t side, char *errstr,
                         size_t errstr_size) {
        int64_t now = vcdc_clock_ms();
        vcdc_sink_offset_t *offs = NULL;
        size_t cnt = 0;
        vcdc_sink_t *sink;
        int due = vcdc_gw_pending_sync_due(d->pending, cs->name, (int)side, now,
                                           GW_PENDING_SYNC_MS);
        int rc;

        if (!due)
                return 1;
        if (!(sink = gw_sink(d, cs, side, errstr, errstr_size)) ||
            vcdc_sink_read_offsets(sink, d->topic, &offs, &cnt, errstr,
                                   errstr_size) != VCDC_SINK_OK)
                /* Only the pruning waits for another time. */
                return due == VCDC_GW_PENDING_DUE_PRUNE ? 1 : -1;
        rc = vcdc_gw_pending_sync(d->pending, cs->name, (int)side, offs, cnt,
                                  now);
        free(offs);
        return rc;
}

int gw_wait_round(const vcdc_gw_data_t *d, int64_t deadline,
                  vcdc_route_side_t side, const char *what,
                  const char *errstr, vcdc_gw_resp_t *resp) {
        if (vcdc_clock_ms() > deadline) {
                vcdc_gw_resp_error(resp, 503, NULL,
                                   "%s on the serving side (%s) after %d "
                                   "ms%s%s",
                                   what, vcdc_route_side_name(side),
                                   d->applied_timeout_ms, *errstr ? ": " : "",
                                   errstr);
                resp->retry_after = 1;
                return -1;
        }
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000L}, NULL);
        return 0;
}

int gw_lock_ready(vcdc_gw_data_t *d, gw_cstate_t *cs, vcdc_route_side_t side,
                  vcdc_gw_resp_t *resp) {
        int64_t deadline = vcdc_clock_ms() + d->applied_timeout_ms;
        char errstr[512] = "";

        for (;;) {
                pthread_mutex_lock(&cs->wlock);
                if (pending_ready(d, cs, side, errstr, sizeof(errstr)) == 1)
                        return 0;
                pthread_mutex_unlock(&cs->wlock);
                if (gw_wait_round(d, deadline, side,
                                  "this gateway's earlier writes of the "
                                  "collection are not yet applied",
                                  errstr, resp) == -1)
                        return -1;
        }
}

int gw_pending_over(vcdc_gw_data_t *d, const char *coll, vcdc_record_t *have,
                    const char *id) {
        vcdc_record_t rec;
        int r;

        vcdc_record_init(&rec);
        r = vcdc_gw_pending_get(d->pending, coll, id, &rec);
        if (r == -1)
                return -1;
        if (r == VCDC_GW_PENDING_NONE)
                return 0;
        vcdc_record_clear(have);
        if (r == VCDC_GW_PENDING_RECORD)
                *have = rec; /* moved */
        return 0;
}

/* The pending entries a delete concerns, taken before the serving side
 * is read, sorted by id: for each, whether it is deleted (a pending record
 * matching the delete) or not (a pending delete, or a record that does
 * not match). Either way the side's copy of the id does not count. */
struct dent_s {
        char *id;
        int del;
};

typedef struct dsnap_s {
        const vcdc_api_read_t *r;
        struct dent_s *e;
        size_t n, cap;
} dsnap_t;

static int dsnap_add(void *opaque, const vcdc_record_t *rec, int deleted) {
        dsnap_t *s = opaque;
        int del = !deleted;

        if (del && s->r->has_filter)
                del = vcdc_filter_match_text(s->r->filter, rec->metadata,
                                             rec->document) == 1;
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 16;
                struct dent_s *e = realloc(s->e, cap * sizeof(*e));

                if (!e)
                        return -1;
                s->e = e;
                s->cap = cap;
        }
        if (!(s->e[s->n].id = strdup(rec->id)))
                return -1;
        s->e[s->n++].del = del;
        return 0;
}

static int dent_cmp(const void *a, const void *b) {
        return strcmp(((const struct dent_s *)a)->id,
                      ((const struct dent_s *)b)->id);
}

static void dsnap_clear(dsnap_t *s) {
        size_t i;

        for (i = 0; i < s->n; i++)
                free(s->e[i].id);
        free(s->e);
}

/* Fills s from the pending entries of coll (of r's ids, when it names
 * ids). Call with cs->wlock held. -1: out of memory. */
static int dsnap_take(vcdc_gw_data_t *d, const char *coll, dsnap_t *s) {
        vcdc_record_t rec;
        size_t i;
        int r = 0;

        if (!s->r->has_ids)
                r = vcdc_gw_pending_each(d->pending, coll, dsnap_add, s);
        for (i = 0; s->r->has_ids && r == 0 && i < s->r->nids; i++) {
                vcdc_record_init(&rec);
                r = vcdc_gw_pending_get(d->pending, coll, s->r->ids[i], &rec);
                if (r == VCDC_GW_PENDING_RECORD || r == VCDC_GW_PENDING_DELETED)
                        r = dsnap_add(
                                s,
                                r == VCDC_GW_PENDING_RECORD
                                        ? &rec
                                        : &(vcdc_record_t){.id = s->r->ids[i]},
                                r == VCDC_GW_PENDING_DELETED);
                vcdc_record_clear(&rec);
        }
        if (r == -1)
                return -1;
        if (s->n)
                qsort(s->e, s->n, sizeof(*s->e), dent_cmp);
        return 0;
}

int gw_delete_ids(vcdc_gw_data_t *d, gw_cstate_t *cs, const vcdc_gw_coll_t *c,
                  vcdc_route_side_t side, const vcdc_api_read_t *r,
                  const char *body, size_t len, char ***idsp, size_t *nidsp,
                  vcdc_gw_resp_t *resp) {
        dsnap_t s = {.r = r};
        char **ids = NULL, **out = NULL;
        const char *prev = NULL;
        size_t nids = 0, nout = 0, i;
        int rc = -1, taken;

        *idsp = NULL;
        *nidsp = 0;
        /* The pending entries first: one that leaves after this was
         * applied on side before the read below. */
        if (gw_lock_ready(d, cs, side, resp) == -1)
                return -1;
        taken = dsnap_take(d, c->name, &s);
        pthread_mutex_unlock(&cs->wlock);
        if (taken == -1)
                goto oom;
        if (gw_read_ids(d, cs, c, side, r, body, len, &ids, &nids, resp) == -1)
                goto done;
        if (!(out = calloc(nids + s.n + 1, sizeof(*out))))
                goto oom;
        for (i = 0; i < nids; i++) {
                struct dent_s key = {.id = ids[i]};

                if (!s.n || !bsearch(&key, s.e, s.n, sizeof(*s.e), dent_cmp)) {
                        out[nout++] = ids[i]; /* moved */
                        ids[i] = NULL;
                }
        }
        for (i = 0; i < s.n; i++) {
                const char *id = s.e[i].id;
                int again = prev && !strcmp(prev, id); /* ids repeated */

                prev = id;
                if (s.e[i].del && !again) {
                        out[nout++] = s.e[i].id; /* moved */
                        s.e[i].id = NULL;
                }
        }
        *idsp = out;
        *nidsp = nout;
        out = NULL;
        rc = 0;
        goto done;
oom:
        vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
done:
        for (i = 0; i < nids; i++)
                free(ids[i]);
        free(ids);
        free(out);
        dsnap_clear(&s);
        return rc;
}

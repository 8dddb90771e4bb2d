/*
 * vcdc gateway - the record routes: add, upsert, update and delete become
 * change records on the topic (read-modify-write on the serving side
 * under a per-id lock, so a concurrent change of the same id through this
 * instance is not lost); get, query and count go to the side the route
 * names (gwread.c). DESIGN.md, The gateway: write path.
 */
#include "gwdata_int.h"
#include "gwmerge.h"
#include "gwpending.h"
#include "gwshadow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "clock.h"
#include "log.h"

int gw_coll_by_id(vcdc_gw_data_t *d, vcdc_gw_req_t *req, vcdc_gw_resp_t *resp,
                  vcdc_gw_coll_t *c);

static unsigned stripe(const char *coll, const char *id) {
        return vcdc_gw_key_hash(coll, id) % GW_ID_STRIPES;
}

/* Locks (or unlocks) the stripes of the ids in ascending order, so two
 * requests never wait for each other in a circle. */
static void lock_ids(vcdc_gw_data_t *d, const char *coll,
                     const vcdc_record_t *recs, size_t n, int lock) {
        unsigned char want[GW_ID_STRIPES];
        size_t i;

        memset(want, 0, sizeof(want));
        for (i = 0; i < n; i++)
                want[stripe(coll, recs[i].id)] = 1;
        for (i = 0; i < GW_ID_STRIPES; i++)
                if (want[i]) {
                        if (lock)
                                pthread_mutex_lock(&d->idlock[i]);
                        else
                                pthread_mutex_unlock(&d->idlock[i]);
                }
}

/* Where one record of a request went: its partition and offset from
 * its delivery report (-1: not reported, or failed). The message's
 * track; a delete's DELETE record sets it, not its tombstone. */
typedef struct gw_recpos_s {
        struct gw_flight_s *f;
        int32_t partition;
        int64_t offset;
} gw_recpos_t;

/* One request's records in flight: what their delivery reports said.
 * On the heap, as the reports may be served by any thread. */
typedef struct gw_flight_s {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        long pending; /* messages not reported yet */
        int failed;
        int64_t offsets[GW_MAX_PARTITIONS]; /* -1: none */
        size_t n;
        gw_recpos_t pos[]; /* per record */
} gw_flight_t;

void gw_on_delivery(void *opaque, void *track, int32_t partition,
                    int64_t offset, int failed) {
        gw_recpos_t *pos = track;
        gw_flight_t *f;

        (void)opaque;
        if (!pos)
                return;
        f = pos->f;
        pthread_mutex_lock(&f->lock);
        if (failed || partition < 0 || partition >= GW_MAX_PARTITIONS)
                f->failed = 1; /* (a topic grown past GW_MAX_PARTITIONS) */
        else if (offset >= 0) {
                pos->partition = partition;
                pos->offset = offset;
                if (offset > f->offsets[partition])
                        f->offsets[partition] = offset;
        }
        if (--f->pending <= 0)
                pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
}

static void flight_free(gw_flight_t *f) {
        pthread_cond_destroy(&f->cond);
        pthread_mutex_destroy(&f->lock);
        free(f);
}

/*
 * Sends recs and waits for Kafka's report on every message: the sends
 * under the producer's lock (the vcdc wrapper is not thread-safe), the
 * wait outside it, so concurrent requests' records share Kafka's
 * batches. The delivery reports are served by whichever waiting request
 * polls (under the lock), each counted into its own request's flight.
 * Fills t with the highest offset per partition, and pos[0..n) (when not
 * NULL) with where each record went (partition -1: not known delivered;
 * filled on failure too). Returns 0, or -1 with resp filled (503).
 */
static int produce(vcdc_gw_data_t *d, vcdc_record_t *const *recs, size_t n,
                   gw_track_t *t, gw_recpos_t *pos, vcdc_gw_resp_t *resp) {
        int64_t deadline = vcdc_clock_ms() + d->log_timeout_ms;
        gw_flight_t *f = calloc(1, sizeof(*f) + n * sizeof(*f->pos));
        char errstr[512] = "not acknowledged in time";
        size_t i, k;
        int r = 0, done = 0, sr = 0;

        if (!f) {
                vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
                return -1;
        }
        pthread_mutex_init(&f->lock, NULL);
        pthread_cond_init(&f->cond, NULL);
        for (k = 0; k < GW_MAX_PARTITIONS; k++)
                f->offsets[k] = -1;
        f->n = n;
        for (i = 0; i < n; i++) {
                f->pending += recs[i]->op == VCDC_OP_DELETE ? 2 : 1;
                f->pos[i].f = f;
                f->pos[i].partition = -1;
                f->pos[i].offset = -1;
                if (pos) {
                        pos[i].partition = -1;
                        pos[i].offset = -1;
                }
        }
        pthread_mutex_lock(&d->plock);
        for (i = 0; i < n && sr == 0; i++)
                sr = vcdc_producer_send_tracked(d->producer, recs[i],
                                                &f->pos[i], errstr,
                                                sizeof(errstr));
        pthread_mutex_unlock(&d->plock);
        if (sr == VCDC_PRODUCER_ERR_RECORD) {
                /* Nothing of record i-1 nor of those after it went out. */
                pthread_mutex_lock(&f->lock);
                for (k = i - 1; k < n; k++)
                        f->pending -= recs[k]->op == VCDC_OP_DELETE ? 2 : 1;
                f->failed = 1;
                pthread_mutex_unlock(&f->lock);
        } else if (sr) {
                /* Fatal: what went out is unknown; f stays allocated for
                 * reports that may still come. */
                VCDC_ERR("gateway", "producer: %s", errstr);
                vcdc_gw_resp_error(resp, 503, NULL,
                                   "the write could not be written to the "
                                   "log (%s): retry it",
                                   errstr);
                return -1;
        }
        while (!done) {
                struct timespec ts;

                pthread_mutex_lock(&d->plock);
                vcdc_producer_poll(d->producer, 0 /*non-blocking*/);
                pthread_mutex_unlock(&d->plock);
                pthread_mutex_lock(&f->lock);
                if (f->pending <= 0)
                        done = 1;
                else if (vcdc_clock_ms() > deadline)
                        done = -1;
                else {
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_nsec += 1000000L; /* 1 ms */
                        if (ts.tv_nsec >= 1000000000L) {
                                ts.tv_sec++;
                                ts.tv_nsec -= 1000000000L;
                        }
                        pthread_cond_timedwait(&f->cond, &f->lock, &ts);
                }
                pthread_mutex_unlock(&f->lock);
        }
        if (done == -1) {
                /* message.timeout.ms is below the deadline, so this is not
                 * expected; f stays for the reports still to come. */
                VCDC_ERR("gateway",
                         "%ld message(s) without a delivery "
                         "report after %d ms",
                         f->pending, d->log_timeout_ms);
                r = -1;
        } else {
                memcpy(t->offsets, f->offsets,
                       (size_t)t->cnt * sizeof(*t->offsets));
                for (i = 0; pos && i < n; i++) {
                        pos[i].partition = f->pos[i].partition;
                        pos[i].offset = f->pos[i].offset;
                }
                if (f->failed) {
                        snprintf(errstr, sizeof(errstr),
                                 "a delivery failed (see the gateway's log)");
                        r = -1;
                }
                flight_free(f);
        }
        if (r == -1)
                vcdc_gw_resp_error(resp, 503, NULL,
                                   "the write could not be written to the "
                                   "log (%s): retry it",
                                   errstr);
        return r;
}

/* The audit line's offsets: {"PARTITION": OFFSET, ...}, the highest
 * written per partition. */
static void audit_offsets(vcdc_gw_req_t *req, long ids, const gw_track_t *t) {
        char buf[2048];
        size_t o = 0;
        int32_t p;

        buf[o++] = '{';
        for (p = 0; p < t->cnt && o < sizeof(buf) - 64; p++)
                if (t->offsets[p] >= 0)
                        o += (size_t)snprintf(buf + o, sizeof(buf) - o,
                                              "%s\"%d\":%lld", o > 1 ? "," : "",
                                              (int)p, (long long)t->offsets[p]);
        buf[o++] = '}';
        buf[o] = '\0';
        vcdc_gw_req_set_audit(req, ids, buf);
}

/* Waits until side applied every offset of t (--ack applied). Returns 0,
 * or -1 with resp filled (503). */
static int wait_applied(vcdc_gw_data_t *d, gw_cstate_t *cs,
                        vcdc_route_side_t side, const gw_track_t *t,
                        vcdc_gw_resp_t *resp) {
        int64_t deadline = vcdc_clock_ms() + d->applied_timeout_ms;
        char errstr[512] = "";

        for (;;) {
                vcdc_sink_offset_t *offs = NULL;
                size_t cnt = 0;
                int32_t p;
                int done = 1;
                vcdc_sink_t *sink;

                pthread_mutex_lock(&cs->wlock);
                sink = gw_sink(d, cs, side, errstr, sizeof(errstr));
                if (sink && vcdc_sink_read_offsets(sink, d->topic, &offs, &cnt,
                                                   errstr, sizeof(errstr)))
                        done = -1;
                pthread_mutex_unlock(&cs->wlock);
                if (!sink)
                        done = -1;
                for (p = 0; done == 1 && p < t->cnt; p++)
                        if (t->offsets[p] >= 0 &&
                            vcdc_sink_offset_for(offs, cnt, p) < t->offsets[p])
                                done = 0;
                free(offs);
                if (done == 1)
                        return 0;
                if (gw_wait_round(d, deadline, side,
                                  "the write is durable in the log but not "
                                  "yet visible",
                                  errstr, resp) == -1)
                        return -1;
        }
}

/* The records of recs that Kafka took, into the pending set (called
 * under their ids' locks). Returns 1 when one did not fit (the caller
 * then waits until the serving side applied it), else 0. */
static int pending_put(vcdc_gw_data_t *d, vcdc_record_t *const *recs,
                       const gw_recpos_t *pos, size_t n) {
        size_t i;
        int full = 0;

        for (i = 0; i < n; i++)
                if (pos[i].partition >= 0 &&
                    vcdc_gw_pending_put(d->pending, recs[i], pos[i].partition,
                                        pos[i].offset) == -1)
                        full = 1;
        return full;
}

/* After a wait for side to apply recs: their entries leave at once, so
 * that the next write of an id reads the side (and a change made there
 * through another instance) rather than this instance's copy. */
static void pending_applied(vcdc_gw_data_t *d, vcdc_route_side_t side,
                            vcdc_record_t *const *recs, const gw_recpos_t *pos,
                            size_t n) {
        size_t i;

        for (i = 0; i < n; i++)
                if (pos[i].partition >= 0)
                        vcdc_gw_pending_applied(
                                d->pending, recs[i]->collection, recs[i]->id,
                                (int)side, pos[i].partition, pos[i].offset);
}

static const char *op_name(vcdc_api_write_op_t op) {
        return op == VCDC_API_ADD      ? "add"
               : op == VCDC_API_UPSERT ? "upsert"
                                       : "update";
}

static void write_route(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp,
                        vcdc_gw_data_t *d, vcdc_api_write_op_t op) {
        vcdc_api_write_t w;
        vcdc_api_error_t err;
        vcdc_gw_coll_t c;
        gw_cstate_t *cs;
        gw_track_t t = {0};
        vcdc_record_t *have = NULL, *out = NULL;
        vcdc_record_t **send = NULL;
        const char **ids = NULL;
        char errstr[512];
        size_t i, j, nout = 0, dim = 0;
        vcdc_route_side_t side;
        vcdc_sink_t *sink;
        vcdc_sink_status_t st = VCDC_SINK_OK;
        gw_recpos_t *pos = NULL;
        int locked = 0, full = 0;

        memset(&w, 0, sizeof(w));
        memset(&c, 0, sizeof(c));
        vcdc_api_error_clear(&err);
        if (!gw_coll_by_id(d, req, resp, &c))
                return;
        if (!(cs = gw_cstate(d, c.name, resp)))
                goto done;
        side = gw_serving_side(d, cs);
        pthread_mutex_lock(&cs->wlock);
        dim = gw_dim(d, cs, side);
        sink = gw_sink(d, cs, side, errstr, sizeof(errstr));
        pthread_mutex_unlock(&cs->wlock);
        if (!sink) {
                vcdc_gw_resp_error(resp, 503, NULL, "%s", errstr);
                goto done;
        }
        if (vcdc_api_parse_write(op, c.name, req->body, req->body_len, dim, &w,
                                 &err) == -1) {
                vcdc_gw_resp_error(resp, err.status, err.name, "%s",
                                   err.message);
                goto done;
        }
        vcdc_gw_req_set_audit(req, (long)w.n, NULL);
        if (!(have = calloc(w.n + 1, sizeof(*have))) ||
            !(out = calloc(w.n + 1, sizeof(*out))) ||
            !(send = calloc(w.n + 1, sizeof(*send))) ||
            !(ids = calloc(w.n + 1, sizeof(*ids))) ||
            !(pos = calloc(w.n + 1, sizeof(*pos))) ||
            !(t.offsets = malloc(GW_MAX_PARTITIONS * sizeof(*t.offsets)))) {
                vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
                goto done;
        }
        t.cnt = GW_MAX_PARTITIONS;
        for (i = 0; i < GW_MAX_PARTITIONS; i++)
                t.offsets[i] = -1;
        for (i = 0; i < w.n; i++) {
                vcdc_record_init(&have[i]);
                ids[i] = w.recs[i].id;
        }
        /* Read what the serving side holds, modify, write whole records:
         * under the ids' locks until the write is applied there. */
        lock_ids(d, c.name, w.recs, w.n, 1);
        locked = 1;
        if (gw_lock_ready(d, cs, side, resp) == -1)
                goto done;
        if (!(sink = gw_sink(d, cs, side, errstr, sizeof(errstr))))
                st = VCDC_SINK_RETRIABLE;
        else
                st = vcdc_sink_get(sink, ids, w.n, have, errstr,
                                   sizeof(errstr));
        for (i = 0; sink && st != VCDC_SINK_OK && i < 20 &&
                    strstr(errstr, "Nothing found on disk");
             i++) {
                /* Chroma 1.0, seen on a collection whose first records
                 * were just applied: its HNSW segment reader finds no
                 * files for a moment. Retried for up to a second. */
                nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000L}, NULL);
                st = vcdc_sink_get(sink, ids, w.n, have, errstr,
                                   sizeof(errstr));
        }
        if (sink && st != VCDC_SINK_OK) {
                /* Chroma 1.0 answers a get on a collection that never held
                 * a record with a 500 ("Error creating hnsw segment
                 * reader: Nothing found on disk"): empty is empty. */
                uint64_t n = 1;
                char e2[256];

                if (vcdc_sink_count(sink, &n, e2, sizeof(e2)) == VCDC_SINK_OK &&
                    n == 0)
                        st = VCDC_SINK_OK;
        }
        /* What this instance wrote last and the serving side may not
         * have applied yet is the base, not the side's older copy. Read
         * under cs->wlock, as the side's copy: no sync drops an entry in
         * between. */
        for (i = 0; st == VCDC_SINK_OK && i < w.n; i++)
                if (gw_pending_over(d, c.name, &have[i], ids[i]) == -1) {
                        snprintf(errstr, sizeof(errstr), "out of memory");
                        st = VCDC_SINK_FATAL;
                }
        pthread_mutex_unlock(&cs->wlock);
        if (st != VCDC_SINK_OK) {
                vcdc_gw_resp_error(resp, 503, NULL, "reading the ids on %s: %s",
                                   vcdc_route_side_name(side), errstr);
                goto done;
        }
        for (i = 0; i < w.n; i++) {
                const vcdc_record_t *base = have[i].id ? &have[i] : NULL;
                size_t prev = nout;

                /* An id earlier in this request: its result is the base. */
                for (j = 0; j < nout; j++)
                        if (!strcmp(out[j].id, w.recs[i].id))
                                prev = j;
                if (prev < nout)
                        base = &out[prev];
                if (op == VCDC_API_ADD && base)
                        continue; /* add never overwrites */
                if (op == VCDC_API_UPDATE && !base)
                        continue; /* Chroma ignores updates of missing ids */
                if (prev < nout) {
                        vcdc_record_t merged;

                        if (vcdc_gw_merge_record(base, &w.recs[i], w.has[i],
                                                 &merged)) {
                                vcdc_record_clear(&merged);
                                goto oom;
                        }
                        vcdc_record_clear(&out[prev]);
                        out[prev] = merged;
                } else if (vcdc_gw_merge_record(base, &w.recs[i], w.has[i],
                                                &out[nout++]))
                        goto oom;
        }
        for (i = 0; i < nout; i++)
                send[i] = &out[i];
        if (nout) {
                int pr = produce(d, send, nout, &t, pos, resp);

                /* Even on failure: what was delivered is in the log. */
                full = pending_put(d, send, pos, nout);
                if (pr == -1)
                        goto done;
                audit_offsets(req, (long)w.n, &t);
        }
        if (w.dim) {
                pthread_mutex_lock(&cs->lock);
                cs->written_dim = w.dim;
                pthread_mutex_unlock(&cs->lock);
        }
        /* A record the pending set could not keep: wait until the side
         * applied it, as --ack applied does, the ids still locked. */
        if (nout && (d->ack_applied || full)) {
                if (wait_applied(d, cs, side, &t, resp) == -1)
                        goto done;
                pending_applied(d, side, send, pos, nout);
        }
        VCDC_DEBUG("gateway", "%s %s: %zu id(s), %zu record(s) written",
                   op_name(op), c.name, w.n, nout);
        if (op == VCDC_API_ADD)
                vcdc_gw_resp_json(resp, 201, "{}", 2);
        else
                vcdc_gw_resp_json(resp, 200, "{}", 2);
        goto done;
oom:
        vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
done:
        if (locked)
                lock_ids(d, c.name, w.recs, w.n, 0);
        for (i = 0; have && i < w.n; i++)
                vcdc_record_clear(&have[i]);
        for (i = 0; out && i < nout; i++)
                vcdc_record_clear(&out[i]);
        free(have);
        free(out);
        free(send);
        free(ids);
        free(pos);
        free(t.offsets);
        vcdc_api_write_clear(&w);
        vcdc_gw_coll_clear(&c);
}

static void add(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        write_route(req, resp, opaque, VCDC_API_ADD);
}
static void upsert(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        write_route(req, resp, opaque, VCDC_API_UPSERT);
}
static void update(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        write_route(req, resp, opaque, VCDC_API_UPDATE);
}

/* A delete: ids and filter resolved on the serving side to the ids that
 * exist and match, then logged as deletes by id. */
static void delete_route(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp,
                         void *opaque) {
        vcdc_gw_data_t *d = opaque;
        vcdc_api_read_t r;
        vcdc_api_error_t err;
        vcdc_gw_coll_t c;
        gw_cstate_t *cs;
        gw_track_t t = {0};
        vcdc_record_t *recs = NULL;
        vcdc_record_t **send = NULL;
        char **ids = NULL;
        size_t nids = 0, i;
        vcdc_route_side_t side;
        gw_recpos_t *pos = NULL;
        int locked = 0, full = 0;

        memset(&r, 0, sizeof(r));
        memset(&c, 0, sizeof(c));
        vcdc_api_error_clear(&err);
        if (!gw_coll_by_id(d, req, resp, &c))
                return;
        if (vcdc_api_parse_delete(req->body, req->body_len, &r, &err) == -1) {
                vcdc_gw_resp_error(resp, err.status, err.name, "%s",
                                   err.message);
                goto done;
        }
        if (!r.has_ids && !r.has_filter) {
                vcdc_gw_resp_json(resp, 200, "{}", 2);
                goto done;
        }
        if (!(cs = gw_cstate(d, c.name, resp)))
                goto done;
        side = gw_serving_side(d, cs);
        if (gw_delete_ids(d, cs, &c, side, &r, req->body, req->body_len, &ids,
                          &nids, resp) == -1)
                goto done;
        vcdc_gw_req_set_audit(req, (long)nids, NULL);
        if (!(recs = calloc(nids + 1, sizeof(*recs))) ||
            !(send = calloc(nids + 1, sizeof(*send))) ||
            !(pos = calloc(nids + 1, sizeof(*pos))) ||
            !(t.offsets = malloc(GW_MAX_PARTITIONS * sizeof(*t.offsets)))) {
                vcdc_gw_resp_error(resp, 500, NULL, "out of memory");
                goto done;
        }
        t.cnt = GW_MAX_PARTITIONS;
        for (i = 0; i < GW_MAX_PARTITIONS; i++)
                t.offsets[i] = -1;
        for (i = 0; i < nids; i++) {
                vcdc_record_init(&recs[i]);
                recs[i].collection = c.name;
                recs[i].id = ids[i];
                recs[i].op = VCDC_OP_DELETE;
                send[i] = &recs[i];
        }
        /* Under the ids' locks, as the updates: one of this instance in
         * flight is applied before the delete is logged, so it cannot
         * write a deleted record back. */
        lock_ids(d, c.name, recs, nids, 1);
        locked = 1;
        if (nids) {
                int pr = produce(d, send, nids, &t, pos, resp);

                /* Deletes pending too: an update after one finds no
                 * record, even before the side applied it. */
                full = pending_put(d, send, pos, nids);
                if (pr == -1)
                        goto done;
                audit_offsets(req, (long)nids, &t);
        }
        if (nids && (d->ack_applied || full)) {
                if (wait_applied(d, cs, side, &t, resp) == -1)
                        goto done;
                pending_applied(d, side, send, pos, nids);
        }
        vcdc_gw_resp_json(resp, 200, "{}", 2);
done:
        if (locked)
                lock_ids(d, c.name, recs, nids, 0);
        for (i = 0; i < nids; i++)
                free(ids[i]);
        free(ids);
        free(recs);
        free(send);
        free(pos);
        free(t.offsets);
        vcdc_api_read_clear(&r);
        vcdc_gw_coll_clear(&c);
}

/* A query: the serving side answers; a sample of the answered ones goes
 * on to the shadow workers, after the answer is made (its copy is all the
 * request path pays). */
static void query_route(vcdc_gw_data_t *d, gw_cstate_t *cs,
                        const vcdc_gw_coll_t *c, vcdc_route_side_t side,
                        const vcdc_gw_req_t *req, vcdc_gw_resp_t *resp) {
        int64_t t0 = vcdc_clock_us();

        gw_read_query(d, cs, c, side, req->body, req->body_len, resp);
        if (resp->status == 200 && resp->body && gw_shadow_want(d->shadow))
                gw_shadow_offer(d->shadow, cs, c, side, req->body,
                                req->body_len, resp->body, resp->len,
                                (double)(vcdc_clock_us() - t0) / 1000.0);
}

/* get, query, count: the serving side answers. */
static void read_route(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp,
                       vcdc_gw_data_t *d, int what) {
        vcdc_gw_coll_t c;
        gw_cstate_t *cs;
        vcdc_route_side_t side;

        memset(&c, 0, sizeof(c));
        if (!gw_coll_by_id(d, req, resp, &c))
                return;
        if ((cs = gw_cstate(d, c.name, resp))) {
                side = gw_serving_side(d, cs);
                if (what == 0)
                        gw_read_get(d, cs, &c, side, req->body, req->body_len,
                                    resp);
                else if (what == 1)
                        query_route(d, cs, &c, side, req, resp);
                else
                        gw_read_count(d, cs, &c, side, resp);
        }
        vcdc_gw_coll_clear(&c);
}

static void get(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        read_route(req, resp, opaque, 0);
}
static void query(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        read_route(req, resp, opaque, 1);
}
static void count(vcdc_gw_req_t *req, vcdc_gw_resp_t *resp, void *opaque) {
        read_route(req, resp, opaque, 2);
}

int gw_write_add_routes(vcdc_gw_data_t *d, vcdc_gw_router_t *router,
                        char *errstr, size_t errstr_size) {
#define C                                                                      \
        "/api/v2/tenants/{tenant}/databases/{database}/collections/"           \
        "{collection_id}"
        static const gw_route_t routes[] = {
                {"POST", C "/add", add},
                {"POST", C "/upsert", upsert},
                {"POST", C "/update", update},
                {"POST", C "/delete", delete_route},
                {"POST", C "/get", get},
                {"POST", C "/query", query},
                {"GET", C "/count", count},
        };
#undef C

        return gw_add_routes(d, router, routes,
                             sizeof(routes) / sizeof(*routes), errstr,
                             errstr_size);
}

/*
 * vcdc - model test: the sinks over the shared-file database (memdb.c).
 *
 * Three sinks share the code: mfence:// records offsets atomically with
 * the data and fences on them (offsets_apart 0, as pgvector), mpipe:// is
 * the same in two halves (apply_send applies, apply_wait answers), and
 * mapart:// keeps offsets apart (offsets_apart 1, as Chroma: written after
 * the data by record_offsets, unconditionally).
 *
 * URL: SCHEME://memdb/TARGET?db=PATH&seed=N&inst=N&fail=P&lost=P&big=P&
 *      bigmin=N&lat=MS&rfail=P&scan=insert|key
 * Faults, each call drawn from a generator seeded by seed and inst (so a
 * seed replays the same schedule per consumer process), P in permille:
 *   fail   RETRIABLE, nothing applied, retry_smaller drawn at random;
 *   big    RETRIABLE with retry_smaller for an apply of bigmin changes or
 *          more (a call that timed out);
 *   lost   applied, but the answer says RETRIABLE (the answer was lost);
 *   lat    up to MS of latency, with the lock held: a kill can land in
 *          the middle of an apply;
 *   rfail  read_offsets answers RETRIABLE.
 * The database refuses (INVALID, nothing applied) an apply holding an
 * upsert of another dimension than the target's (or the configured one,
 * or the first upsert's when the apply creates the target), nested
 * metadata (check() knows that rule too) or a document ending in
 * MEMDB_REFUSE_MARK (check() does not).
 *
 * Rows keep their insertion order (an upsert of an existing row keeps its
 * place, a delete moves the later ones down), which the scan=insert reads
 * page by (memscan.c). get, exists and scan read a copy of the target taken
 * under the lock, so a reader never sees half a commit.
 */
#include "memdb_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sink_int.h"

typedef struct msink_s {
        memdb_t *db;
        size_t slot;
        char target[MEMDB_NAME];
        int apart;
        uint64_t rng;
        int fail, lost, big, rfail; /* permille */
        int lat_ms;
        uint64_t bigmin;
        int scan_key;  /* scan=key: by id; else in insertion order */
        int in_flight; /* mpipe: sent, the answer not yet read */
        vcdc_sink_status_t answer;
        char answer_err[512];
} msink_t;

/* splitmix64 */
static uint64_t next_rand(uint64_t *s) {
        uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static int permille(msink_t *ms, int p) {
        return p > 0 && (int)(next_rand(&ms->rng) % 1000) < p;
}

/* The faults of one call. */
typedef struct fault_s {
        int fail, smaller, lost, lat_ms;
} fault_t;

static void draw(msink_t *ms, size_t changes, fault_t *f) {
        memset(f, 0, sizeof(*f));
        /* Drawn even when faults are off, so that turning them off does
         * not shift the schedule of the calls before. */
        f->smaller = (int)(next_rand(&ms->rng) & 1);
        if (permille(ms, ms->big) && ms->bigmin && changes >= ms->bigmin)
                f->fail = f->smaller = 1;
        else if (permille(ms, ms->fail))
                f->fail = 1;
        f->lost = permille(ms, ms->lost);
        f->lat_ms = ms->lat_ms > 0 ? (int)(next_rand(&ms->rng) %
                                           (uint64_t)(ms->lat_ms + 1))
                                   : 0;
        if (ms->db->faults_off)
                memset(f, 0, sizeof(*f));
}

static void sleep_ms(int ms) {
        struct timespec ts = {.tv_sec = ms / 1000,
                              .tv_nsec = (long)(ms % 1000) * 1000000L};

        if (ms > 0)
                nanosleep(&ts, NULL);
}

/* The latency of a commit, spent with the next state written and not yet
 * made current: a kill now must leave the previous state. */
static void commit_wait(memdb_t *db, int lat_ms) {
        if (lat_ms <= 0)
                return;
        db->busy = getpid();
        sleep_ms(lat_ms);
}

/* A call against the sink's contract: remembered for the test, FATAL. */
static vcdc_sink_status_t violation(msink_t *ms, char *errstr,
                                    size_t errstr_size, const char *fmt,
                                    const char *arg) {
        memdb_stats_t *st = &ms->db->stats[ms->slot];
        char what[256];

        snprintf(what, sizeof(what), fmt, arg);
        if (!st->violations++)
                snprintf(st->violation, sizeof(st->violation), "%s", what);
        snprintf(errstr, errstr_size, "memdb %s: %s", ms->target, what);
        return VCDC_SINK_FATAL;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every id of a batch once at most (sink.h). Returns the first repeated
 * id, or NULL; "" when out of memory. */
static const char *repeated_id(const vcdc_sink_batch_t *b) {
        size_t n = b->upsert_cnt + b->delete_cnt, i;
        const char **ids, *dup = NULL;
        static const char none[] = "";

        if (n < 2)
                return NULL;
        if (!(ids = malloc(n * sizeof(*ids))))
                return none;
        for (i = 0; i < b->upsert_cnt; i++)
                ids[i] = b->upserts[i]->id;
        for (i = 0; i < b->delete_cnt; i++)
                ids[b->upsert_cnt + i] = b->delete_ids[i];
        qsort(ids, n, sizeof(*ids), cmp_str);
        for (i = 1; i < n && !dup; i++)
                if (!strcmp(ids[i - 1], ids[i]))
                        dup = ids[i];
        free(ids);
        return dup;
}

static memdb_row_t *row_find(memdb_target_t *t, const char *id) {
        return (memdb_row_t *)memdb_row(t, id);
}

static int ends_with(const char *s, const char *suffix) {
        size_t n = s ? strlen(s) : 0, m = strlen(suffix);

        return n >= m && !strcmp(s + n - m, suffix);
}

/* Checks the offsets of a call: the topic, the partitions, and (fenced
 * sinks) that each is above the recorded one. */
static vcdc_sink_status_t check_offsets(msink_t *ms, const memdb_target_t *t,
                                        const char *topic,
                                        const vcdc_sink_offset_t *offsets,
                                        size_t cnt, char *errstr,
                                        size_t errstr_size) {
        size_t i;

        if (cnt && (!topic || strcmp(topic, ms->db->topic)))
                return violation(ms, errstr, errstr_size,
                                 "offsets for topic %s, not the test's",
                                 topic ? topic : "(null)");
        for (i = 0; i < cnt; i++)
                if (offsets[i].partition < 0 ||
                    offsets[i].partition >= MEMDB_PARTS ||
                    offsets[i].offset < 0)
                        return violation(ms, errstr, errstr_size,
                                         "offsets out of range%s", "");
        if (ms->apart)
                return VCDC_SINK_OK;
        for (i = 0; i < cnt; i++) {
                if (t->offsets[offsets[i].partition] >= offsets[i].offset) {
                        snprintf(errstr, errstr_size,
                                 "memdb %s: stale: partition %" PRId32
                                 " offset %" PRId64 ", recorded %" PRId64,
                                 ms->target, offsets[i].partition,
                                 offsets[i].offset,
                                 t->offsets[offsets[i].partition]);
                        ms->db->stats[ms->slot].stale++;
                        return VCDC_SINK_STALE;
                }
        }
        return VCDC_SINK_OK;
}

/* One upsert into the next state: refused as the database would. */
static vcdc_sink_status_t put_row(msink_t *ms, memdb_target_t *t,
                                  const vcdc_record_t *rec, uint32_t *dimp,
                                  char *errstr, size_t errstr_size) {
        memdb_row_t *row;

        if (!rec->collection || !rec->id ||
            strlen(rec->collection) >= MEMDB_NAME ||
            strlen(rec->id) >= MEMDB_NAME)
                return violation(ms, errstr, errstr_size,
                                 "an upsert without collection or id, or "
                                 "too long: %s",
                                 rec->id ? rec->id : "(null)");
        if (!*dimp) {
                *dimp = (uint32_t)rec->dim; /* creates the target */
        } else if (rec->dim != *dimp) {
                snprintf(errstr, errstr_size,
                         "memdb %s: id %s: vector of dimension %zu, the "
                         "target has %" PRIu32,
                         ms->target, rec->id, rec->dim, *dimp);
                return VCDC_SINK_INVALID;
        }
        if (memdb_metadata_nested(rec->metadata)) {
                snprintf(errstr, errstr_size,
                         "memdb %s: id %s: nested metadata", ms->target,
                         rec->id);
                return VCDC_SINK_INVALID;
        }
        if (ends_with(rec->document, MEMDB_REFUSE_MARK)) {
                snprintf(errstr, errstr_size,
                         "memdb %s: id %s: the database refuses it",
                         ms->target, rec->id);
                return VCDC_SINK_INVALID;
        }
        if (!(row = row_find(t, rec->id))) {
                if (t->row_cnt == MEMDB_ROWS)
                        return violation(ms, errstr, errstr_size,
                                         "more rows than the test holds at "
                                         "%s",
                                         rec->id);
                row = &t->rows[t->row_cnt++];
        }
        memset(row, 0, sizeof(*row));
        snprintf(row->id, sizeof(row->id), "%s", rec->id);
        snprintf(row->collection, sizeof(row->collection), "%s",
                 rec->collection);
        snprintf(row->tag, sizeof(row->tag), "%s",
                 rec->document ? rec->document : "-");
        row->dim = (uint32_t)rec->dim;
        row->hash = memdb_record_hash(rec);
        return VCDC_SINK_OK;
}

/* Applies b in one transaction (with the lock held). */
static vcdc_sink_status_t commit_batch(msink_t *ms, vcdc_sink_t *sink,
                                       const vcdc_sink_batch_t *b, int lat_ms,
                                       char *errstr, size_t errstr_size) {
        memdb_t *db = ms->db;
        memdb_stats_t *st = &db->stats[ms->slot];
        const memdb_target_t *cur = &db->half[db->active].targets[ms->slot];
        memdb_state_t *next = &db->half[!db->active];
        memdb_target_t *t = &next->targets[ms->slot];
        vcdc_sink_status_t r;
        const char *dup;
        uint32_t dim;
        size_t i;

        if ((r = check_offsets(ms, cur, b->topic, b->offsets, b->offset_cnt,
                               errstr, errstr_size)) != VCDC_SINK_OK)
                return r;
        if ((dup = repeated_id(b)))
                return violation(ms, errstr, errstr_size,
                                 "a batch holds id %s twice", dup);
        *next = db->half[db->active];
        dim = t->exists ? t->dim : (uint32_t)sink->conf.dim;
        for (i = 0; i < b->upsert_cnt; i++)
                if ((r = put_row(ms, t, b->upserts[i], &dim, errstr,
                                 errstr_size)) != VCDC_SINK_OK) {
                        if (r == VCDC_SINK_INVALID)
                                st->invalid++;
                        return r;
                }
        if (b->upsert_cnt && !t->exists) {
                t->exists = 1;
                t->dim = dim;
        }
        for (i = 0; i < b->delete_cnt; i++) {
                memdb_row_t *row = row_find(t, b->delete_ids[i]);
                if (row) {
                        /* In order: later rows move down one, as in a
                         * database that pages by offset. */
                        memmove(row, row + 1,
                                (size_t)(&t->rows[t->row_cnt] - (row + 1)) *
                                        sizeof(*row));
                        t->row_cnt--;
                }
        }
        if (!b->fence_only)
                for (i = 0; i < b->offset_cnt; i++)
                        t->offsets[b->offsets[i].partition] =
                                b->offsets[i].offset;
        commit_wait(db, lat_ms);
        db->active = !db->active; /* the commit */
        db->busy = 0;
        st->commits++;
        st->upserts += b->upsert_cnt;
        st->deletes += b->delete_cnt;
        if (b->upsert_cnt + b->delete_cnt > st->max_changes)
                st->max_changes = b->upsert_cnt + b->delete_cnt;
        return VCDC_SINK_OK;
}

/* One apply with its faults (lock held). *sentp: 0 when the call failed
 * before reaching the database. */
static vcdc_sink_status_t apply_locked(vcdc_sink_t *sink,
                                       const vcdc_sink_batch_t *b,
                                       int *sentp, char *errstr,
                                       size_t errstr_size) {
        msink_t *ms = sink->state;
        memdb_stats_t *st = &ms->db->stats[ms->slot];
        vcdc_sink_status_t r;
        fault_t f;

        st->calls++;
        *sentp = 0;
        if (ms->in_flight)
                return violation(ms, errstr, errstr_size,
                                 "apply while a batch is in flight%s", "");
        draw(ms, b->upsert_cnt + b->delete_cnt, &f);
        if (f.fail) {
                st->retriable++;
                st->smaller += (uint64_t)f.smaller;
                sink->retry_smaller = f.smaller;
                snprintf(errstr, errstr_size, "memdb %s: injected %s",
                         ms->target,
                         f.smaller ? "timeout" : "connection failure");
                return VCDC_SINK_RETRIABLE;
        }
        *sentp = 1;
        r = commit_batch(ms, sink, b, f.lat_ms, errstr, errstr_size);
        if (r == VCDC_SINK_OK && f.lost) {
                st->lost++;
                sink->retry_smaller = f.smaller;
                snprintf(errstr, errstr_size,
                         "memdb %s: injected lost answer (applied)",
                         ms->target);
                r = VCDC_SINK_RETRIABLE;
        }
        return r;
}

static vcdc_sink_status_t m_apply(vcdc_sink_t *sink,
                                  const vcdc_sink_batch_t *b, char *errstr,
                                  size_t errstr_size) {
        msink_t *ms = sink->state;
        vcdc_sink_status_t r;
        int sent;

        memdb_lock(ms->db);
        r = apply_locked(sink, b, &sent, errstr, errstr_size);
        memdb_unlock(ms->db);
        return r;
}

static vcdc_sink_status_t m_apply_send(vcdc_sink_t *sink,
                                       const vcdc_sink_batch_t *b,
                                       char *errstr, size_t errstr_size) {
        msink_t *ms = sink->state;
        vcdc_sink_status_t r;
        int sent;

        memdb_lock(ms->db);
        r = apply_locked(sink, b, &sent, errstr, errstr_size);
        if (sent) {
                /* The database has it; the answer waits for apply_wait. */
                ms->answer = r;
                snprintf(ms->answer_err, sizeof(ms->answer_err), "%s",
                         r == VCDC_SINK_OK ? "" : errstr);
                ms->in_flight = 1;
                r = VCDC_SINK_OK;
        }
        memdb_unlock(ms->db);
        return r;
}

static vcdc_sink_status_t m_apply_wait(vcdc_sink_t *sink, char *errstr,
                                       size_t errstr_size) {
        msink_t *ms = sink->state;
        vcdc_sink_status_t r;

        memdb_lock(ms->db);
        if (!ms->in_flight) {
                r = violation(ms, errstr, errstr_size,
                              "apply_wait without a batch sent%s", "");
        } else {
                ms->in_flight = 0;
                r = ms->answer;
                if (r != VCDC_SINK_OK)
                        snprintf(errstr, errstr_size, "%s", ms->answer_err);
        }
        memdb_unlock(ms->db);
        return r;
}

static vcdc_sink_status_t m_record_offsets(vcdc_sink_t *sink,
                                           const char *topic,
                                           const vcdc_sink_offset_t *offsets,
                                           size_t cnt, char *errstr,
                                           size_t errstr_size) {
        vcdc_sink_batch_t b = {.topic = topic, .offsets = offsets,
                               .offset_cnt = cnt};
        msink_t *ms = sink->state;
        memdb_t *db = ms->db;
        memdb_state_t *next;
        vcdc_sink_status_t r;
        fault_t f;
        size_t i;

        memdb_lock(db);
        db->stats[ms->slot].calls++;
        if (ms->in_flight) {
                r = violation(ms, errstr, errstr_size,
                              "record_offsets while a batch is in flight%s",
                              "");
                goto done;
        }
        draw(ms, 0, &f);
        if (f.fail) {
                db->stats[ms->slot].retriable++;
                sink->retry_smaller = 0;
                snprintf(errstr, errstr_size,
                         "memdb %s: injected connection failure",
                         ms->target);
                r = VCDC_SINK_RETRIABLE;
                goto done;
        }
        if ((r = check_offsets(ms, &db->half[db->active].targets[ms->slot],
                               b.topic, b.offsets, b.offset_cnt, errstr,
                               errstr_size)) != VCDC_SINK_OK)
                goto done;
        next = &db->half[!db->active];
        *next = db->half[db->active];
        for (i = 0; i < cnt; i++)
                next->targets[ms->slot].offsets[offsets[i].partition] =
                        offsets[i].offset;
        commit_wait(db, f.lat_ms);
        db->active = !db->active;
        db->busy = 0;
        db->stats[ms->slot].commits++;
        if (f.lost) {
                db->stats[ms->slot].lost++;
                snprintf(errstr, errstr_size,
                         "memdb %s: injected lost answer (recorded)",
                         ms->target);
                r = VCDC_SINK_RETRIABLE;
        }
done:
        memdb_unlock(db);
        return r;
}

static vcdc_sink_status_t m_read_offsets(vcdc_sink_t *sink, const char *topic,
                                         vcdc_sink_offset_t **offsetsp,
                                         size_t *cntp, char *errstr,
                                         size_t errstr_size) {
        msink_t *ms = sink->state;
        memdb_t *db = ms->db;
        const memdb_target_t *t;
        vcdc_sink_offset_t *o;
        vcdc_sink_status_t r = VCDC_SINK_OK;
        int32_t p;

        *offsetsp = NULL;
        *cntp = 0;
        if (!(o = calloc(MEMDB_PARTS, sizeof(*o)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return VCDC_SINK_RETRIABLE;
        }
        memdb_lock(db);
        db->stats[ms->slot].calls++;
        if (ms->in_flight) {
                r = violation(ms, errstr, errstr_size,
                              "read_offsets while a batch is in flight%s", "");
        } else if (permille(ms, ms->rfail) && !db->faults_off) {
                db->stats[ms->slot].retriable++;
                snprintf(errstr, errstr_size,
                         "memdb %s: injected connection failure",
                         ms->target);
                r = VCDC_SINK_RETRIABLE;
        } else if (!strcmp(topic, db->topic)) {
                t = &db->half[db->active].targets[ms->slot];
                for (p = 0; p < MEMDB_PARTS; p++)
                        if (t->offsets[p] >= 0) {
                                o[*cntp].partition = p;
                                o[(*cntp)++].offset = t->offsets[p];
                        }
        }
        memdb_unlock(db);
        if (r != VCDC_SINK_OK) {
                free(o);
                *cntp = 0;
                return r;
        }
        *offsetsp = o;
        return r;
}

static vcdc_sink_status_t m_check(vcdc_sink_t *sink, const vcdc_record_t *rec,
                                  char *errstr, size_t errstr_size) {
        msink_t *ms = sink->state;

        if (rec->op == VCDC_OP_UPSERT && memdb_metadata_nested(rec->metadata)) {
                snprintf(errstr, errstr_size,
                         "memdb %s: id %s: nested metadata, which the "
                         "target cannot hold",
                         ms->target, rec->id);
                return VCDC_SINK_INVALID;
        }
        return VCDC_SINK_OK;
}

static size_t m_dim(vcdc_sink_t *sink) {
        msink_t *ms = sink->state;
        const memdb_target_t *t;
        size_t dim;

        memdb_lock(ms->db);
        t = &ms->db->half[ms->db->active].targets[ms->slot];
        dim = t->exists ? t->dim : 0;
        memdb_unlock(ms->db);
        return dim;
}

static const char *m_target(vcdc_sink_t *sink) {
        return ((msink_t *)sink->state)->target;
}

static size_t m_max_batch(vcdc_sink_t *sink) {
        (void)sink;
        return 100000;
}

static vcdc_sink_status_t m_count(vcdc_sink_t *sink, uint64_t *countp,
                                  char *errstr, size_t errstr_size) {
        msink_t *ms = sink->state;

        (void)errstr;
        (void)errstr_size;
        memdb_lock(ms->db);
        *countp = ms->db->half[ms->db->active].targets[ms->slot].row_cnt;
        memdb_unlock(ms->db);
        return VCDC_SINK_OK;
}

int memdb_load(memdb_t *db, const char *target, const vcdc_record_t *recs,
               size_t cnt, char *errstr, size_t errstr_size) {
        msink_t ms = {.db = db};
        vcdc_sink_t sink = {.state = &ms};
        const vcdc_record_t **ups = malloc((cnt ? cnt : 1) * sizeof(*ups));
        vcdc_sink_batch_t b = {.upsert_cnt = cnt};
        vcdc_sink_status_t r;
        size_t i;

        if (!ups) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        for (i = 0; i < cnt; i++)
                ups[i] = &recs[i];
        b.upserts = ups;
        snprintf(ms.target, sizeof(ms.target), "%s", target);
        memdb_lock(db);
        if ((ms.slot = memdb_slot_of(db, target)) == MEMDB_TARGETS) {
                snprintf(errstr, errstr_size, "memdb: no free target for %s",
                         target);
                r = VCDC_SINK_FATAL;
        } else {
                r = commit_batch(&ms, &sink, &b, 0, errstr, errstr_size);
        }
        memdb_unlock(db);
        free(ups);
        return r == VCDC_SINK_OK ? 0 : -1;
}

/* A copy of the sink's target as it is now (NULL: out of memory). */
static memdb_target_t *target_copy(msink_t *ms) {
        memdb_target_t *t = malloc(sizeof(*t));

        if (!t)
                return NULL;
        memdb_lock(ms->db);
        *t = ms->db->half[ms->db->active].targets[ms->slot];
        memdb_unlock(ms->db);
        return t;
}

static vcdc_sink_status_t m_get(vcdc_sink_t *sink, const char *const *ids,
                                size_t cnt, vcdc_record_t *out, char *errstr,
                                size_t errstr_size) {
        msink_t *ms = sink->state;
        memdb_target_t *t = target_copy(ms);
        char err[512];
        int r;

        if (!t) {
                snprintf(errstr, errstr_size, "out of memory");
                return VCDC_SINK_RETRIABLE;
        }
        r = memdb_get_rows(t, ids, cnt, out, err, sizeof(err));
        free(t);
        return r ? violation(ms, errstr, errstr_size, "get: %s", err)
                 : VCDC_SINK_OK;
}

static vcdc_sink_status_t m_exists(vcdc_sink_t *sink, int *existsp,
                                   char *errstr, size_t errstr_size) {
        msink_t *ms = sink->state;

        (void)errstr;
        (void)errstr_size;
        memdb_lock(ms->db);
        *existsp = ms->db->half[ms->db->active].targets[ms->slot].exists;
        memdb_unlock(ms->db);
        return VCDC_SINK_OK;
}

static vcdc_sink_status_t m_scan(vcdc_sink_t *sink, char **cursorp,
                                 size_t max, int with_vectors,
                                 vcdc_sink_shift_t *sh, vcdc_record_t *out,
                                 size_t *cntp,
                                 char *errstr, size_t errstr_size) {
        msink_t *ms = sink->state;
        memdb_target_t *t = target_copy(ms);
        char err[512];
        int r;

        *cntp = 0;
        if (!t) {
                snprintf(errstr, errstr_size, "out of memory");
                return VCDC_SINK_RETRIABLE;
        }
        r = ms->scan_key ? memdb_scan_key(t, cursorp, max, with_vectors, out,
                                          cntp, err, sizeof(err))
                         : memdb_scan_insert(t, cursorp, max, with_vectors,
                                             sh, out, cntp, err, sizeof(err));
        free(t);
        if (r)
                return violation(ms, errstr, errstr_size, "scan: %s", err);
        memdb_lock(ms->db);
        ms->db->scans++;
        for (ms->db->page_cnt = 0; ms->db->page_cnt < *cntp &&
                                   ms->db->page_cnt < MEMDB_PAGE_IDS;
             ms->db->page_cnt++)
                snprintf(ms->db->page[ms->db->page_cnt], MEMDB_NAME, "%s",
                         out[ms->db->page_cnt].id);
        memdb_unlock(ms->db);
        return VCDC_SINK_OK;
}

/* An integer URL parameter, def when absent. -1 when malformed. */
static int int_param(const vcdc_sink_t *sink, const char *key, long def,
                     long *out) {
        const char *v = vcdc_url_param(sink->url, key);
        char *end;

        *out = def;
        if (!v)
                return 0;
        errno = 0;
        *out = strtol(v, &end, 10);
        return errno || end == v || *end || *out < 0 ? -1 : 0;
}

static int m_open(vcdc_sink_t *sink, char *errstr, size_t errstr_size) {
        static const char *const keys[] = {"fail", "lost", "big", "bigmin",
                                           "lat", "rfail", "seed", "inst"};
        long v[sizeof(keys) / sizeof(*keys)];
        const char *path = vcdc_url_param(sink->url, "db");
        msink_t *ms = calloc(1, sizeof(*ms));
        memdb_target_t *t;
        const char *scan = vcdc_url_param(sink->url, "scan");
        size_t i, s;

        if (!ms) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        for (i = 0; i < sizeof(keys) / sizeof(*keys); i++)
                if (int_param(sink, keys[i], 0, &v[i]) == -1) {
                        snprintf(errstr, errstr_size, "%s: bad %s=",
                                 sink->name, keys[i]);
                        goto err;
                }
        if (!path || !*sink->url->path ||
            strlen(sink->url->path) >= MEMDB_NAME) {
                snprintf(errstr, errstr_size,
                         "%s: needs db=PATH and a target name", sink->name);
                goto err;
        }
        if (scan && strcmp(scan, "insert") && strcmp(scan, "key")) {
                snprintf(errstr, errstr_size,
                         "%s: bad scan=%s (insert or key)", sink->name, scan);
                goto err;
        }
        ms->scan_key = scan && !strcmp(scan, "key");
        if (!(ms->db = memdb_map(path, errstr, errstr_size)))
                goto err;
        snprintf(ms->target, sizeof(ms->target), "%s", sink->url->path);
        ms->apart = sink->ops->offsets_apart;
        ms->fail = (int)v[0];
        ms->lost = (int)v[1];
        ms->big = (int)v[2];
        ms->bigmin = (uint64_t)v[3];
        ms->lat_ms = (int)v[4];
        ms->rfail = (int)v[5];
        ms->rng = (uint64_t)v[6] * 0x100000001b3ULL ^ (uint64_t)v[7] << 40 ^
                  0x5eed;

        memdb_lock(ms->db);
        if ((s = memdb_slot_of(ms->db, ms->target)) == MEMDB_TARGETS) {
                snprintf(errstr, errstr_size, "%s: no free target",
                         sink->name);
        } else if ((t = &ms->db->half[ms->db->active].targets[s])->exists &&
                   sink->conf.dim && t->dim != sink->conf.dim) {
                snprintf(errstr, errstr_size,
                         "%s: the target has dimension %" PRIu32
                         ", configured %zu",
                         sink->name, t->dim, sink->conf.dim);
                s = MEMDB_TARGETS;
        }
        memdb_unlock(ms->db);
        if (s == MEMDB_TARGETS)
                goto err;
        ms->slot = s;
        sink->state = ms;
        return 0;
err:
        memdb_unmap(ms->db);
        free(ms);
        return -1;
}

static void m_close(vcdc_sink_t *sink) {
        msink_t *ms = sink->state;

        if (!ms)
                return;
        memdb_unmap(ms->db);
        free(ms);
        sink->state = NULL;
}

/* What the three sinks share: all but how they write and record. */
#define M_OPS                                                                  \
        .open = m_open, .close = m_close, .target = m_target,                  \
        .max_batch = m_max_batch, .dim = m_dim, .check = m_check,              \
        .apply = m_apply, .record_offsets = m_record_offsets,                  \
        .read_offsets = m_read_offsets, .count = m_count, .get = m_get,        \
        .exists = m_exists, .scan = m_scan

static const struct vcdc_sink_ops mfence_ops = {.scheme = "mfence", M_OPS};

static const struct vcdc_sink_ops mpipe_ops = {.scheme = "mpipe",
                                               .apply_send = m_apply_send,
                                               .apply_wait = m_apply_wait,
                                               M_OPS};

static const struct vcdc_sink_ops mapart_ops = {.scheme = "mapart",
                                                .offsets_apart = 1, M_OPS};

int memdb_register_sinks(void) {
        if (vcdc_sink_register(&mfence_ops) ||
            vcdc_sink_register(&mpipe_ops) || vcdc_sink_register(&mapart_ops))
                return -1;
        return 0;
}

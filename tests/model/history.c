/*
 * vcdc - model test: generating a history from a seed.
 *
 * Histories are small (tens to hundreds of records over 8-40 ids per
 * collection, so ids repeat inside batches) and unambiguous under the
 * specification: the dimension a target is created with is that of the
 * first upsert in offset order, which is defined only within one
 * partition, so a history whose upserts have two dimensions either has
 * one partition or pins the dimension (vcdc.sink.dim), and without a pin
 * the first upsert of each collection is one the target accepts. Records
 * of a collection no group applies are never undecodable (whether a
 * consumer of another collection dead-letters those is not specified).
 */
#include "model.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "memdb.h"

static const char *const coll_names[] = {"docs", "img", "au/dio", "t%x",
                                         "docs2"};
#define COLL_NAMES (sizeof(coll_names) / sizeof(*coll_names))

static const uint32_t dims[] = {2, 3, 4, 8, 16};
#define DIMS (sizeof(dims) / sizeof(*dims))

/* splitmix64 */
static uint64_t rnd(uint64_t *s) {
        uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static int between(uint64_t *s, int lo, int hi) {
        return lo + (int)(rnd(s) % (uint64_t)(hi - lo + 1));
}

/* 1 with probability p permille. */
static int chance(uint64_t *s, int p) {
        return (int)(rnd(s) % 1000) < p;
}

const char *sink_scheme(sink_kind_t kind) {
        switch (kind) {
        case SINK_FENCE:
                return "mfence";
        case SINK_PIPE:
                return "mpipe";
        case SINK_APART:
                return "mapart";
        }
        return "?";
}

void hist_id(int id, char *buf, size_t size) {
        /* A few ids with a '/' or a '%', which keys carry as they are. */
        if (id % 9 == 4)
                snprintf(buf, size, "k/%02d", id);
        else if (id % 13 == 7)
                snprintf(buf, size, "k%%%02d", id);
        else
                snprintf(buf, size, "k%02d", id);
}

int hist_record(const hist_t *h, const hmsg_t *m, vcdc_record_t *rec) {
        char id[16], buf[96];
        uint32_t i;

        vcdc_record_init(rec);
        hist_id(m->id, id, sizeof(id));
        if (!(rec->collection = strdup(h->colls[m->coll])) ||
            !(rec->id = strdup(id)))
                goto err;
        rec->op = m->kind == M_DELETE ? VCDC_OP_DELETE : VCDC_OP_UPSERT;
        rec->source_ts_ms = m->tag;
        if (rec->op == VCDC_OP_DELETE)
                return 0;
        rec->dim = m->dim;
        if (!(rec->vector = malloc(m->dim * sizeof(float))))
                goto err;
        for (i = 0; i < m->dim; i++)
                rec->vector[i] = (float)m->tag + 0.125f * (float)i;
        if (m->nested)
                snprintf(buf, sizeof(buf), "{\"n\":%d,\"x\":{\"y\":[1,2]}}",
                         m->tag);
        else
                snprintf(buf, sizeof(buf), "{\"n\":%d,\"c\":\"%s\"}", m->tag,
                         m->coll == 3 ? "t" : "c");
        if (!(rec->metadata = strdup(buf)))
                goto err;
        snprintf(buf, sizeof(buf), "r%d%s", m->tag,
                 m->refuse ? MEMDB_REFUSE_MARK : "");
        if (!(rec->document = strdup(buf)))
                goto err;
        return 0;
err:
        vcdc_record_clear(rec);
        return -1;
}

void hist_free(hist_t *h) {
        size_t i;

        for (i = 0; h->msgs && i < h->msg_cnt; i++) {
                free(h->msgs[i].key);
                free(h->msgs[i].value);
        }
        free(h->msgs);
        h->msgs = NULL;
        h->msg_cnt = 0;
}

static hmsg_t *add_msg(hist_t *h, size_t *capp) {
        hmsg_t *m;

        if (h->msg_cnt == *capp) {
                size_t cap = *capp ? *capp * 2 : 128;
                if (!(m = realloc(h->msgs, cap * sizeof(*m))))
                        return NULL;
                h->msgs = m;
                *capp = cap;
        }
        m = &h->msgs[h->msg_cnt++];
        memset(m, 0, sizeof(*m));
        m->partition = -1;
        m->offset = -1;
        return m;
}

/* Encodes m's key, and its value unless a tombstone: corrupted for
 * M_CORRUPT, in one of three ways, each checked to fail decoding. */
static int encode_msg(const hist_t *h, vcdc_codec_t *codec, hmsg_t *m,
                      uint64_t *s, char *errstr, size_t errstr_size) {
        vcdc_record_t rec;
        unsigned char *v;
        char id[16], *key = NULL;
        size_t key_len;
        int how;

        if (m->kind == M_BADKEY) {
                char buf[32];
                snprintf(buf, sizeof(buf), "badkey%d", m->tag);
                m->key_len = strlen(buf);
                return (m->key = strdup(buf)) ? 0 : -1;
        }
        hist_id(m->id, id, sizeof(id));
        if (vcdc_key_encode(h->colls[m->coll], id, &key, &key_len) == -1)
                return -1;
        m->key = key;
        m->key_len = key_len;
        if (m->kind == M_TOMBSTONE)
                return 0;
        if (hist_record(h, m, &rec) == -1)
                return -1;
        if (m->kind == M_UPSERT)
                m->hash = memdb_record_hash(&rec);
        if (vcdc_codec_encode(codec, &rec, &m->value, &m->len, errstr,
                              errstr_size) == -1) {
                vcdc_record_clear(&rec);
                return -1;
        }
        vcdc_record_clear(&rec);
        if (m->kind != M_CORRUPT)
                return 0;
        v = m->value;
        how = between(s, 0, 2);
        if (how == 0) {
                m->len = m->len / 2; /* truncated */
        } else if (how == 1) {
                unsigned char *n = realloc(v, m->len + 1); /* trailing */
                if (!n)
                        return -1;
                n[m->len++] = 0x02;
                m->value = v = n;
        } else {
                v[0] ^= 0x5a; /* unknown framing */
        }
        vcdc_record_init(&rec);
        if (vcdc_codec_decode(codec, m->value, m->len, &rec, errstr,
                              errstr_size) == 0) {
                vcdc_record_clear(&rec);
                v[0] = 0x7f; /* decoded after all: no framing starts so */
        }
        return 0;
}

static void add_event(hist_t *h, int t_ms, ev_type_t type, int group,
                      int member, int segment) {
        hevent_t *e;

        if (h->event_cnt == HIST_MAX_EVENTS)
                return;
        e = &h->events[h->event_cnt++];
        e->t_ms = t_ms;
        e->type = type;
        e->group = group;
        e->member = member;
        e->segment = segment;
}

static int cmp_event(const void *a, const void *b) {
        const hevent_t *x = a, *y = b;

        /* At the same time: writing, killing, stopping, then starting. */
        static const int rank[] = {[EV_PRODUCE] = 0, [EV_KILL] = 1,
                                   [EV_STOP] = 2, [EV_START] = 3};

        if (x->t_ms != y->t_ms)
                return x->t_ms < y->t_ms ? -1 : 1;
        return rank[x->type] - rank[y->type];
}

static void gen_schedule(hist_t *h, uint64_t *s) {
        int free_ms[HIST_MAX_GROUPS][HIST_MAX_MEMBERS] = {{0}};
        int g, m, k, seg, kills, stops, t, d, in_apply;

        int seg_ms[3] = {0};

        /* Segments in order: the log is written as one producer would. */
        for (seg = 1; seg < h->seg_cnt; seg++)
                seg_ms[seg] = between(s, 300, 4000);
        if (h->seg_cnt == 3 && seg_ms[1] > seg_ms[2]) {
                t = seg_ms[1];
                seg_ms[1] = seg_ms[2];
                seg_ms[2] = t;
        }
        for (seg = 0; seg < h->seg_cnt; seg++)
                add_event(h, seg_ms[seg], EV_PRODUCE, 0, 0, seg);
        for (g = 0; g < h->group_cnt; g++) {
                add_event(h, 0, EV_START, g, 0, 0);
                if (h->groups[g].members > 1) {
                        free_ms[g][1] = chance(s, 600)
                                                ? 0
                                                : between(s, 500, 3000);
                        add_event(h, free_ms[g][1], EV_START, g, 1, 0);
                }
        }
        k = between(s, 0, 99);
        kills = k < 45 ? 0 : k < 80 ? 1 : 2;
        stops = chance(s, 300);
        for (k = 0; k < kills + stops; k++) {
                g = between(s, 0, h->group_cnt - 1);
                m = between(s, 0, h->groups[g].members - 1);
                in_apply = k < kills && h->groups[g].lat && chance(s, 600);
                /* Mostly after the first join (3 s); a kill in a commit
                 * soon after a segment is written, while there is work. */
                if (in_apply) {
                        seg = between(s, 0, h->seg_cnt - 1);
                        t = (seg ? seg_ms[seg] : 3000) + between(s, 0, 300);
                } else {
                        t = between(s, 1000, 7000);
                }
                if (t < free_ms[g][m] + 100)
                        t = free_ms[g][m] + 100;
                d = between(s, 0, 1500);
                add_event(h, t, k < kills ? EV_KILL : EV_STOP, g, m, 0);
                h->events[h->event_cnt - 1].in_apply = in_apply;
                /* A stopped second member may stay away: its partner
                 * takes its partitions. */
                if (k < kills || m == 0 || chance(s, 500))
                        add_event(h, t + d, EV_START, g, m, 0);
                free_ms[g][m] = t + d;
        }
        qsort(h->events, (size_t)h->event_cnt, sizeof(*h->events),
              cmp_event);
}

static void gen_group(hist_t *h, int g, uint64_t *s) {
        static const int batch_ms[] = {0, 5, 20, 100, 300};
        static const int commit_ms[] = {0, 10, 100, 500, 1000};
        hgroup_t *gr = &h->groups[g];
        int e;

        gr->coll = g;
        /* Without opts.collection a consumer applies the collection of
         * its target's name and stops at any other: only in a topic of
         * one collection. */
        gr->opt_coll = h->coll_cnt > 1 || chance(s, 500);
        if (gr->opt_coll)
                snprintf(gr->target, sizeof(gr->target), "tgt%d", g);
        else /* both NUL-terminated, the target the larger */
                memcpy(gr->target, h->colls[g], sizeof(h->colls[g]));
        gr->members = chance(s, 350) ? 2 : 1;
        gr->sink = (sink_kind_t)between(s, 0, 2);
        /* Log-uniform over 1..5000. */
        e = between(s, 0, 370);
        gr->batch_records = 1;
        while (e >= 100) {
                gr->batch_records *= 10;
                e -= 100;
        }
        gr->batch_records += gr->batch_records * e * 9 / 100;
        if (gr->batch_records > 5000)
                gr->batch_records = 5000;
        gr->batch_ms = batch_ms[between(s, 0, 4)];
        gr->commit_ms = commit_ms[between(s, 0, 4)];
        gr->fail = chance(s, 700) ? between(s, 20, 200) : 0;
        gr->lost = chance(s, 600) ? between(s, 20, 150) : 0;
        if (chance(s, 400)) {
                gr->big = 300;
                gr->bigmin = between(s, 2, 50);
        }
        gr->lat = chance(s, 500) ? between(s, 1, 10) : 0;
        gr->rfail = chance(s, 400) ? 150 : 0;
}

int hist_generate(hist_t *h, uint64_t seed, int max_records, char *errstr,
                  size_t errstr_size) {
        uint64_t s = seed * 0x2545f4914f6cdd1dULL + 1;
        int seen_upsert[HIST_MAX_COLLS] = {0};
        int order[COLL_NAMES];
        vcdc_codec_t *codec;
        size_t cap = 0, n, i, cut[3];
        int c, k, j, tmp, tag = 0, block;
        hmsg_t *m;

        memset(h, 0, sizeof(*h));
        h->seed = seed;
        k = between(&s, 0, 99);
        h->partitions = k < 30 ? 1 : k < 55 ? 2 : k < 75 ? 3 : 4;
        h->brokers = between(&s, 1, 3);
        k = between(&s, 0, 99);
        h->group_cnt = k < 60 ? 1 : k < 90 ? 2 : 3;
        h->coll_cnt = h->group_cnt + chance(&s, 250);
        for (c = 0; c < (int)COLL_NAMES; c++)
                order[c] = c;
        for (c = (int)COLL_NAMES - 1; c > 0; c--) {
                j = between(&s, 0, c);
                tmp = order[c];
                order[c] = order[j];
                order[j] = tmp;
        }
        for (c = 0; c < h->coll_cnt; c++) {
                snprintf(h->colls[c], sizeof(h->colls[c]), "%s",
                         coll_names[order[c]]);
                h->id_cnt[c] = between(&s, 8, HIST_MAX_IDS);
        }
        h->dim_a = dims[between(&s, 0, DIMS - 1)];
        do
                h->dim_b = dims[between(&s, 0, DIMS - 1)];
        while (h->dim_b == h->dim_a);
        h->mixed = chance(&s, 400);
        if (h->mixed && chance(&s, 500))
                h->pinned = chance(&s, 500) ? h->dim_a : h->dim_b;
        else if (!h->mixed && chance(&s, 150))
                h->pinned = chance(&s, 800) ? h->dim_a : h->dim_b;
        if (h->mixed && !h->pinned)
                h->partitions = 1;
        for (c = 0; c < h->group_cnt; c++)
                gen_group(h, c, &s);

        /* The log. Mixed dimensions come in blocks (the first part of the
         * log in one, the rest in the other, as two producer runs would
         * write them) or scattered. */
        n = (size_t)between(&s, max_records / 8 > 4 ? max_records / 8 : 4,
                            max_records);
        block = chance(&s, 500);
        h->seg_cnt = between(&s, 1, 3);
        for (k = 0; k < 2; k++)
                cut[k] = (size_t)between(&s, 1, (int)n - 1);
        if (cut[0] > cut[1]) {
                cut[2] = cut[0];
                cut[0] = cut[1];
                cut[1] = cut[2];
        }
        if (!(codec = vcdc_codec_new(errstr, errstr_size)))
                return -1;
        for (i = 0; i < n; i++) {
                int seg = h->seg_cnt == 1   ? 0
                          : h->seg_cnt == 2 ? i >= cut[0]
                                            : (i >= cut[0]) + (i >= cut[1]);
                int coll, r, foreign;

                /* A foreign collection gets fewer records. */
                coll = between(&s, 0,
                               h->group_cnt * 10 +
                                       (h->coll_cnt > h->group_cnt ? 4 : 0) -
                                       1) /
                       10;
                foreign = coll >= h->group_cnt;
                if (!(m = add_msg(h, &cap)))
                        goto oom;
                m->segment = seg;
                m->tag = tag++;
                m->coll = coll;
                m->id = between(&s, 0, h->id_cnt[coll] - 1);
                r = between(&s, 0, 999);
                if (r < 40 && !foreign) {
                        m->kind = M_CORRUPT;
                } else if (r < 55) {
                        m->kind = M_TOMBSTONE;
                        m->lone = 1;
                } else if (r < 60 && !foreign) {
                        m->kind = M_BADKEY;
                        m->coll = m->id = -1;
                } else if (r < 280) {
                        m->kind = M_DELETE;
                } else {
                        m->kind = M_UPSERT;
                }
                if (m->kind == M_UPSERT || m->kind == M_CORRUPT) {
                        if (!h->mixed)
                                m->dim = h->dim_a;
                        else if (block)
                                m->dim = i < n / 2 ? h->dim_a : h->dim_b;
                        else
                                m->dim = chance(&s, 850) ? h->dim_a
                                                         : h->dim_b;
                        m->nested = chance(&s, 40);
                        m->refuse = chance(&s, 40);
                }
                if (m->kind == M_UPSERT && !seen_upsert[coll]++ &&
                    h->mixed && !h->pinned)
                        m->nested = m->refuse = 0;
                if (encode_msg(h, codec, m, &s, errstr, errstr_size) == -1)
                        goto err;
                if (m->kind == M_DELETE) {
                        /* The tombstone vcdc_producer_send() writes. */
                        hmsg_t *t = add_msg(h, &cap);
                        if (!t)
                                goto oom;
                        m = &h->msgs[h->msg_cnt - 2];
                        t->kind = M_TOMBSTONE;
                        t->segment = seg;
                        t->tag = m->tag;
                        t->coll = m->coll;
                        t->id = m->id;
                        if (encode_msg(h, codec, t, &s, errstr,
                                       errstr_size) == -1)
                                goto err;
                }
        }
        vcdc_codec_destroy(codec);
        gen_schedule(h, &s);
        return 0;
oom:
        snprintf(errstr, errstr_size, "out of memory");
err:
        vcdc_codec_destroy(codec);
        hist_free(h);
        return -1;
}

void hist_describe(const hist_t *h, char *buf, size_t size) {
        static const char *const ev_names[] = {"write", "start", "kill",
                                               "stop"};
        size_t n = 0, i;
        int g, e;

#define OUT(...)                                                               \
        do {                                                                   \
                if (n < size)                                                  \
                        n += (size_t)snprintf(buf + n, size - n, __VA_ARGS__); \
        } while (0)
        OUT("seed %" PRIu64 ": %d partitions, %d brokers, %zu messages in "
            "%d segments; dims %" PRIu32 "/%" PRIu32 "%s, vcdc.sink.dim=%"
            PRIu32 "\n",
            h->seed, h->partitions, h->brokers, h->msg_cnt, h->seg_cnt,
            h->dim_a, h->dim_b, h->mixed ? " mixed" : "", h->pinned);
        for (i = 0; i < (size_t)h->coll_cnt; i++)
                OUT("  collection %s: %d ids%s\n", h->colls[i], h->id_cnt[i],
                    (int)i >= h->group_cnt ? ", no consumer (foreign)" : "");
        for (g = 0; g < h->group_cnt; g++) {
                const hgroup_t *gr = &h->groups[g];
                OUT("  group g%d: %s -> %s://%s, %s, %d member(s), "
                    "batch.records=%d batch.ms=%d commit.interval.ms=%d, "
                    "faults fail=%d lost=%d big=%d/%d lat=%d rfail=%d\n",
                    g, h->colls[gr->coll], sink_scheme(gr->sink), gr->target,
                    gr->opt_coll ? "opts.collection" : "no opts.collection",
                    gr->members, gr->batch_records, gr->batch_ms,
                    gr->commit_ms, gr->fail, gr->lost, gr->big, gr->bigmin,
                    gr->lat, gr->rfail);
        }
        OUT("  schedule:");
        for (e = 0; e < h->event_cnt; e++) {
                const hevent_t *ev = &h->events[e];
                if (ev->type == EV_PRODUCE)
                        OUT(" %dms write segment %d;", ev->t_ms,
                            ev->segment);
                else
                        OUT(" %dms %s g%d.%d%s;", ev->t_ms,
                            ev_names[ev->type], ev->group, ev->member,
                            ev->in_apply ? " in a commit" : "");
        }
        OUT("\n");
#undef OUT
}

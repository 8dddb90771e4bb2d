/*
 * vcdc - model test: the sequential reference model, and the comparison
 * of a run's outcome with it.
 *
 * The model applies each group's collection one message at a time in
 * offset order per partition (partition by partition: the histories are
 * generated so that the order across partitions cannot matter):
 *   a tombstone whose key does not decode, a value that does not decode
 *                      refused (a), for every group that could own it;
 *   another collection's record   filtered: never applied;
 *   a DELETE or a tombstone       the id is deleted;
 *   an UPSERT    refused (c) when the target's dimension (or the pinned
 *                one) is known and differs; else refused (b) when check()
 *                refuses its metadata; else refused (d) when the database
 *                refuses it; else applied, and the first one applied
 *                creates the target with its dimension.
 * The database must then hold exactly the model's rows (the very records,
 * by hash), dimension and existence, and the dead-letter topic exactly the
 * refused messages, as a set of origins: (a)-(c) all of them; (d) only
 * refused ones, and at least those that no later applied change of their
 * id could have superseded within a batch (the one exception the
 * specification allows: a (d) record superseded in its batch by a change
 * the database accepts is never sent, so never refused).
 */
#include "model.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"
#include "memdb.h"

#define LIST_MAX 12 /* differences listed per kind; the rest counted */

void hres_add(hresult_t *res, const char *fmt, ...) {
        va_list ap;
        int n;

        res->failed = 1;
        res->diffs++;
        for (;;) {
                size_t room = res->text_cap - res->text_len;
                va_start(ap, fmt);
                n = room ? vsnprintf(res->text + res->text_len, room, fmt, ap)
                         : 0;
                va_end(ap);
                if (room && n >= 0 && (size_t)n + 1 < room) {
                        res->text_len += (size_t)n;
                        res->text[res->text_len++] = '\n';
                        res->text[res->text_len] = '\0';
                        return;
                }
                {
                        size_t cap = res->text_cap ? res->text_cap * 2 : 1024;
                        char *t = realloc(res->text, cap + (size_t)n + 2);
                        if (!t)
                                return;
                        res->text = t;
                        res->text_cap = cap + (size_t)n + 2;
                }
        }
}

void hres_free(hresult_t *res) {
        free(res->text);
        res->text = NULL;
        res->text_len = res->text_cap = 0;
}

/* A message's place in the log, for sorting. */
typedef struct pos_s {
        int32_t partition;
        int64_t offset;
        size_t i;
} pos_t;

static int cmp_pos(const void *a, const void *b) {
        const pos_t *x = a, *y = b;

        if (x->partition != y->partition)
                return x->partition < y->partition ? -1 : 1;
        return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int model_build(const hist_t *h, model_t *mo) {
        size_t n = h->msg_cnt, k;
        pos_t *order;
        int g, id;

        memset(mo, 0, sizeof(*mo));
        mo->fate = calloc(n ? n : 1, sizeof(*mo->fate));
        mo->required = calloc(n ? n : 1, sizeof(*mo->required));
        order = malloc((n ? n : 1) * sizeof(*order));
        if (!mo->fate || !mo->required || !order) {
                free(order);
                model_free(mo);
                return -1;
        }
        for (k = 0; k < n; k++) {
                order[k].partition = h->msgs[k].partition;
                order[k].offset = h->msgs[k].offset;
                order[k].i = k;
        }
        qsort(order, n, sizeof(*order), cmp_pos);

        for (g = 0; g < h->group_cnt; g++) {
                int c = h->groups[g].coll;

                mo->creator[g] = -1;
                for (id = 0; id < HIST_MAX_IDS; id++)
                        mo->row[g][id] = mo->last[g][id] = -1;
                for (k = 0; k < n; k++) {
                        size_t i = order[k].i;
                        const hmsg_t *m = &h->msgs[i];
                        uint32_t dim;

                        if (m->kind == M_BADKEY) {
                                mo->fate[i] = F_DECODE;
                                continue;
                        }
                        if (m->coll != c)
                                continue;
                        switch (m->kind) {
                        case M_CORRUPT:
                                mo->fate[i] = F_DECODE;
                                break;
                        case M_DELETE:
                        case M_TOMBSTONE:
                                mo->row[g][m->id] = -1;
                                mo->last[g][m->id] = (int)i;
                                mo->fate[i] = F_APPLIED;
                                break;
                        case M_UPSERT:
                                dim = mo->exists[g] ? mo->dim[g] : h->pinned;
                                if (dim && m->dim != dim) {
                                        mo->fate[i] = F_DIM;
                                } else if (m->nested) {
                                        mo->fate[i] = F_CHECK;
                                } else if (m->refuse) {
                                        mo->fate[i] = F_DB;
                                } else {
                                        if (!mo->exists[g]) {
                                                mo->exists[g] = 1;
                                                mo->dim[g] = m->dim;
                                                mo->creator[g] = (int)i;
                                        }
                                        mo->row[g][m->id] = (int)i;
                                        mo->last[g][m->id] = (int)i;
                                        mo->fate[i] = F_APPLIED;
                                }
                                break;
                        case M_BADKEY:
                                break;
                        }
                }
        }
        /* A (d) refusal must reach the DLQ unless a later change of its id
         * is applied (ids live in one partition: offsets compare). */
        for (k = 0; k < n; k++) {
                const hmsg_t *m = &h->msgs[k];
                int last;

                mo->refused[mo->fate[k]]++;
                if (mo->fate[k] != F_DB)
                        continue;
                for (g = 0; g < h->group_cnt && h->groups[g].coll != m->coll;
                     g++)
                        ;
                last = mo->last[g][m->id];
                mo->required[k] = last < 0 || h->msgs[last].offset < m->offset;
        }
        free(order);
        return 0;
}

void model_free(model_t *mo) {
        free(mo->fate);
        free(mo->required);
        mo->fate = NULL;
        mo->required = NULL;
}

static const char *kind_name(mkind_t kind) {
        switch (kind) {
        case M_UPSERT:
                return "upsert";
        case M_DELETE:
                return "delete";
        case M_TOMBSTONE:
                return "tombstone";
        case M_CORRUPT:
                return "undecodable";
        case M_BADKEY:
                return "tombstone with a bad key";
        }
        return "?";
}

static const char *fate_name(fate_t fate) {
        switch (fate) {
        case F_FILTERED:
                return "filtered (another collection's)";
        case F_APPLIED:
                return "applied";
        case F_DECODE:
                return "refused (a): does not decode";
        case F_CHECK:
                return "refused (b): check() refuses its metadata";
        case F_DIM:
                return "refused (c): another dimension than the target's";
        case F_DB:
                return "refused (d): the database refuses it";
        }
        return "?";
}

/* "p0@17 upsert docs/k03 r17 8-d" */
static const char *msg_name(const hist_t *h, int i, char *buf, size_t size) {
        const hmsg_t *m;
        char id[16];

        if (i < 0) {
                snprintf(buf, size, "nothing");
                return buf;
        }
        m = &h->msgs[i];
        if (m->kind == M_BADKEY) {
                snprintf(buf, size, "p%" PRId32 "@%" PRId64 " %s",
                         m->partition, m->offset, kind_name(m->kind));
                return buf;
        }
        hist_id(m->id, id, sizeof(id));
        snprintf(buf, size, "p%" PRId32 "@%" PRId64 " %s %s/%s r%d",
                 m->partition, m->offset, kind_name(m->kind),
                 h->colls[m->coll], id, m->tag);
        if (m->kind == M_UPSERT || m->kind == M_CORRUPT)
                snprintf(buf + strlen(buf), size - strlen(buf), " %" PRIu32
                         "-d%s%s",
                         m->dim, m->nested ? " nested" : "",
                         m->refuse ? " db-refused" : "");
        return buf;
}

/* The message a row's tag ("r17") names, or -1. */
static int tag_msg(const hist_t *h, const char *tag) {
        char *end;
        long t;
        size_t i;

        if (tag[0] != 'r')
                return -1;
        t = strtol(tag + 1, &end, 10);
        for (i = 0; i < h->msg_cnt; i++)
                if (h->msgs[i].tag == t && h->msgs[i].kind == M_UPSERT)
                        return (int)i;
        return -1;
}

/* Bounded listing: the first LIST_MAX of each kind, then a count. */
typedef struct lister_s {
        size_t cnt;
} lister_t;

#define LIST(res, l, ...)                                                      \
        do {                                                                   \
                if ((l)->cnt++ < LIST_MAX)                                     \
                        hres_add((res), __VA_ARGS__);                          \
        } while (0)

static void list_end(hresult_t *res, const lister_t *l, const char *what) {
        if (l->cnt > LIST_MAX)
                hres_add(res, "  ... and %zu more %s", l->cnt - LIST_MAX,
                         what);
}

static void check_target(const hist_t *h, const model_t *mo, int g,
                         const memdb_state_t *state, const int64_t *ends,
                         hresult_t *res) {
        const hgroup_t *gr = &h->groups[g];
        const memdb_target_t *t = memdb_target(state, gr->target);
        const char *coll = h->colls[gr->coll];
        char a[160], b[160], id[16];
        lister_t rows = {0};
        int exists = t && t->exists, i, mr, dr;
        uint32_t r;
        int32_t p;

        /* A target the model creates and empties again may be missing
         * (its upsert coalesced away): that shows only in the dimension
         * later upserts meet, which the rows and dead letters check. */
        if (exists && !mo->exists[g])
                hres_add(res,
                         "target %s (collection %s) exists in the database "
                         "(%" PRIu32 "-d); the model applies no upsert, so "
                         "never creates it",
                         gr->target, coll, t->dim);
        else if (exists && t->dim != mo->dim[g])
                hres_add(res,
                         "target %s (collection %s): dimension %" PRIu32
                         ", the model %" PRIu32 " (created by %s)",
                         gr->target, coll, t->dim, mo->dim[g],
                         msg_name(h, mo->creator[g], a, sizeof(a)));
        for (i = 0; i < h->id_cnt[gr->coll]; i++) {
                const memdb_row_t *row;
                hist_id(i, id, sizeof(id));
                row = t ? memdb_row(t, id) : NULL;
                mr = mo->row[g][i];
                if ((mr < 0 && !row) ||
                    (mr >= 0 && row && row->hash == h->msgs[mr].hash &&
                     !strcmp(row->collection, coll)))
                        continue;
                dr = row ? tag_msg(h, row->tag) : -1;
                if (!row)
                        LIST(res, &rows,
                             "id %s/%s: missing in %s, the model holds %s",
                             coll, id, gr->target,
                             msg_name(h, mr, a, sizeof(a)));
                else if (mr < 0)
                        LIST(res, &rows,
                             "id %s/%s: %s holds %s (%s's, %" PRIu32
                             "-d), the model has none (last change: %s)",
                             coll, id, gr->target,
                             dr >= 0 ? msg_name(h, dr, a, sizeof(a))
                                     : row->tag,
                             row->collection, row->dim,
                             msg_name(h, mo->last[g][i], b, sizeof(b)));
                else
                        LIST(res, &rows,
                             "id %s/%s: %s holds %s (%s's, %" PRIu32
                             "-d), the model %s",
                             coll, id, gr->target,
                             dr >= 0 ? msg_name(h, dr, a, sizeof(a))
                                     : row->tag,
                             row->collection, row->dim,
                             msg_name(h, mr, b, sizeof(b)));
        }
        for (r = 0; t && r < t->row_cnt; r++) {
                for (i = 0; i < h->id_cnt[gr->coll]; i++) {
                        hist_id(i, id, sizeof(id));
                        if (!strcmp(id, t->rows[r].id))
                                break;
                }
                if (i == h->id_cnt[gr->coll])
                        LIST(res, &rows,
                             "%s holds id %s (from %s's %s), not an id of "
                             "collection %s",
                             gr->target, t->rows[r].id,
                             t->rows[r].collection, t->rows[r].tag, coll);
        }
        list_end(res, &rows, "rows");
        for (p = 0; t && p < h->partitions; p++)
                if (t->offsets[p] > ends[p] - 1)
                        hres_add(res,
                                 "%s records offset %" PRId64
                                 " for partition %" PRId32
                                 ", past the log end %" PRId64,
                                 gr->target, t->offsets[p], p, ends[p]);
}

static void check_dlq(const hist_t *h, const model_t *mo,
                      const kit_msg_t *dlq, size_t dlq_cnt, const char *topic,
                      const int64_t *ends, hresult_t *res) {
        int *at[MEMDB_PARTS] = {NULL}, i;
        char *has = calloc(h->msg_cnt ? h->msg_cnt : 1, 1);
        lister_t extra = {0}, missing = {0}, bad = {0};
        char a[160];
        int32_t p;
        size_t k;

        for (p = 0; p < h->partitions; p++)
                at[p] = calloc(ends[p] ? (size_t)ends[p] : 1, sizeof(int));
        for (p = 0; p < h->partitions; p++)
                if (!at[p] || !has)
                        goto oom;
        for (k = 0; k < h->msg_cnt; k++)
                at[h->msgs[k].partition][h->msgs[k].offset] = (int)k;
        for (k = 0; k < dlq_cnt; k++) {
                const kit_msg_t *d = &dlq[k];
                if (strcmp(d->origin_topic, topic) ||
                    d->origin_partition < 0 ||
                    d->origin_partition >= h->partitions ||
                    d->origin_offset < 0 ||
                    d->origin_offset >= ends[d->origin_partition]) {
                        LIST(res, &bad,
                             "DLQ message at offset %" PRId64
                             " names the origin %s [%" PRId32 "] @%" PRId64
                             ", not a message of the topic",
                             d->offset, d->origin_topic, d->origin_partition,
                             d->origin_offset);
                        continue;
                }
                has[at[d->origin_partition][d->origin_offset]] = 1;
        }
        list_end(res, &bad, "bad dead letters");
        for (i = 0; i < (int)h->msg_cnt; i++) {
                fate_t f = mo->fate[i];
                if (has[i] && (f == F_APPLIED || f == F_FILTERED))
                        LIST(res, &extra,
                             "DLQ holds %s, which the model has %s",
                             msg_name(h, i, a, sizeof(a)), fate_name(f));
                else if (!has[i] && (f == F_DECODE || f == F_CHECK ||
                                     f == F_DIM))
                        LIST(res, &missing, "DLQ misses %s, %s",
                             msg_name(h, i, a, sizeof(a)), fate_name(f));
                else if (!has[i] && f == F_DB && mo->required[i])
                        LIST(res, &missing,
                             "DLQ misses %s, %s, and no later change of "
                             "its id is applied",
                             msg_name(h, i, a, sizeof(a)), fate_name(f));
        }
        list_end(res, &extra, "dead letters the model applies");
        list_end(res, &missing, "missing dead letters");
        goto done;
oom:
        hres_add(res, "out of memory checking the DLQ");
done:
        for (p = 0; p < MEMDB_PARTS; p++)
                free(at[p]);
        free(has);
}

void model_check(const hist_t *h, const model_t *mo,
                 const memdb_state_t *state, const kit_msg_t *dlq,
                 size_t dlq_cnt, const char *topic, const int64_t *ends,
                 hresult_t *res) {
        int g;

        for (g = 0; g < h->group_cnt; g++)
                check_target(h, mo, g, state, ends, res);
        check_dlq(h, mo, dlq, dlq_cnt, topic, ends, res);
}

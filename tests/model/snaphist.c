/*
 * vcdc - the snapshot's model test: histories from a seed, the sequential
 * model, and the comparison with a target (snaphist.h).
 */
#include "snaphist.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"

/* ---- The history ------------------------------------------------------ */

static uint64_t rnd(uint64_t *s) {
        uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static int pick(uint64_t *s, int lo, int hi) { /* lo..hi */
        return lo + (int)(rnd(s) % (uint64_t)(hi - lo + 1));
}

void snaphist_generate(hist_t *h, uint64_t seed) {
        uint64_t s = seed * 0x2545f4914f6cdd1dULL;
        int perm[MAX_IDS], i, j, t, news, hot;

        memset(h, 0, sizeof(*h));
        h->seed = seed;
        h->parts = pick(&s, 1, 4);
        h->key_scan = (int)(rnd(&s) & 1);
        h->chunk = pick(&s, 1, 5);
        h->prefill = pick(&s, 4, kit_small() ? 16 : 40);
        news = pick(&s, 0, 8);
        h->id_cnt = h->prefill + news;
        /* Names in a shuffled order: OLD's insertion order is not its key
         * order, and new ids sort among the old ones. */
        for (i = 0; i < h->id_cnt; i++)
                perm[i] = i;
        for (i = h->id_cnt - 1; i > 0; i--) {
                j = pick(&s, 0, i);
                t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
        }
        for (i = 0; i < h->id_cnt; i++)
                snprintf(h->ids[i], sizeof(h->ids[i]), "id%03d", perm[i] * 7);
        h->live_cnt = pick(&s, 5, kit_small() ? 40 : 90);
        /* A few hot ids get most changes: updates and deletes racing the
         * chunk that reads them. */
        hot = pick(&s, 1, h->prefill < 6 ? h->prefill : 6);
        for (i = 0; i < h->live_cnt; i++) {
                live_t *l = &h->live[i];
                int r = pick(&s, 0, 99);

                if (r < 40)
                        l->id = pick(&s, 0, hot - 1);
                else if (r < 85 || !news)
                        l->id = pick(&s, 0, h->prefill - 1);
                else
                        l->id = pick(&s, h->prefill, h->id_cnt - 1);
                l->del = pick(&s, 0, 99) < 35;
                l->pause_ms = pick(&s, 0, 99) < 30 ? 0 : pick(&s, 1, 120);
                l->react = pick(&s, 0, 99) < 40;
                l->react_pick = pick(&s, 0, 999);
                l->delay_ms = pick(&s, 0, 99) < 30 ? 0 : pick(&s, 1, 25);
        }
        h->before = pick(&s, 1, h->live_cnt / 4);
        h->stop_cnt = pick(&s, 0, MAX_STOPS);
        for (i = 0; i < h->stop_cnt; i++) {
                h->stops[i].after_ms = pick(&s, 50, 2500);
                h->stops[i].sig = rnd(&s) & 1 ? SIGKILL : SIGTERM;
        }
}

void snaphist_describe(const hist_t *h, char *buf, size_t size) {
        size_t n = 0;
        int i;

        n += (size_t)snprintf(buf + n, size - n,
                              "seed %" PRIu64 ": %d partitions, %s scan, "
                              "chunks of %d, %d prefilled ids, %d new, "
                              "%d live changes (%d before the snapshot)",
                              h->seed, h->parts,
                              h->key_scan ? "keyset" : "insertion-order",
                              h->chunk, h->prefill, h->id_cnt - h->prefill,
                              h->live_cnt, h->before);
        for (i = 0; i < h->stop_cnt && n < size; i++)
                n += (size_t)snprintf(buf + n, size - n, ", %s at %d ms",
                                      h->stops[i].sig == SIGKILL ? "kill"
                                                                 : "stop",
                                      h->stops[i].after_ms);
        for (i = 0; i < h->live_cnt && n < size; i++)
                n += (size_t)snprintf(buf + n, size - n, "%s%s %s L%d %s%dms",
                                      i % 8 ? "; " : "\n  live: ",
                                      h->live[i].del ? "del" : "put",
                                      h->ids[h->live[i].id], i + 1,
                                      h->live[i].react ? "after a page +" : "+",
                                      h->live[i].react ? h->live[i].delay_ms
                                                       : h->live[i].pause_ms);
}

/* ---- The model -------------------------------------------------------- */

void snaphist_tag_of(int seq, char *buf, size_t size) {
        if (seq)
                snprintf(buf, size, "L%d", seq);
        else
                snprintf(buf, size, "P");
}

/* -1 for a tag the test never wrote. */
int snaphist_seq_of(const char *tag) {
        char *end;
        long v;

        if (!strcmp(tag, "P"))
                return 0;
        if (tag[0] != 'L')
                return -1;
        v = strtol(tag + 1, &end, 10);
        return *end || v <= 0 ? -1 : (int)v;
}

int snaphist_make(vcdc_record_t *rec, const char *id, int seq) {
        char tag[16];

        snaphist_tag_of(seq, tag, sizeof(tag));
        return memdb_record_make(rec, COLL, id, tag, DIM);
}

int snaphist_model(const hist_t *h, want_t *w) {
        vcdc_record_t rec;
        int i;

        vcdc_record_init(&rec);
        memset(w, 0, sizeof(*w) * MAX_IDS);
        for (i = 0; i < h->id_cnt; i++) {
                if (i >= h->prefill)
                        continue;
                if (snaphist_make(&rec, h->ids[i], 0))
                        return -1;
                w[i] = (want_t){1, 0, memdb_record_hash(&rec)};
        }
        for (i = 0; i < h->live_cnt; i++) {
                want_t *x = &w[h->live[i].id];
                x->present = !h->live[i].del;
                x->seq = i + 1;
                x->hash = 0;
                if (x->present) {
                        if (snaphist_make(&rec, h->ids[h->live[i].id], i + 1))
                                return -1;
                        x->hash = memdb_record_hash(&rec);
                }
        }
        vcdc_record_clear(&rec);
        return 0;
}

void snaphist_fail(res_t *r, const char *fmt, ...) {
        va_list ap;

        r->failed = 1;
        if (r->len + 2 >= sizeof(r->text))
                return;
        va_start(ap, fmt);
        r->len += (size_t)vsnprintf(r->text + r->len, sizeof(r->text) - r->len,
                                    fmt, ap);
        va_end(ap);
        if (r->len < sizeof(r->text) - 1)
                r->text[r->len++] = '\n';
        else
                r->len = sizeof(r->text) - 1;
        r->text[r->len] = '\0';
}

/* Compares target name of st with the model; what differs goes into r. */
void snaphist_compare(const hist_t *h, const want_t *w, const memdb_state_t *st,
                      const char *name, res_t *r) {
        const memdb_target_t *t = memdb_target(st, name);
        const memdb_row_t *row;
        int i, want_cnt = 0, shown = 0;
        char tag[16];

        if (!t) {
                snaphist_fail(r, "%s: no such target", name);
                return;
        }
        for (i = 0; i < h->id_cnt; i++) {
                want_cnt += w[i].present;
                row = memdb_row(t, h->ids[i]);
                snaphist_tag_of(w[i].seq, tag, sizeof(tag));
                if (w[i].present && !row) {
                        if (shown++ < 8)
                                snaphist_fail(r,
                                              "%s: id %s missing, the model "
                                              "has it (%s)",
                                              name, h->ids[i], tag);
                } else if (!w[i].present && row) {
                        if (shown++ < 8)
                                snaphist_fail(r,
                                              "%s: id %s holds %s, the model "
                                              "deleted it %s%s",
                                              name, h->ids[i], row->tag,
                                              w[i].seq ? "at "
                                                       : "(never written)",
                                              w[i].seq ? tag : "");
                } else if (row &&
                           (row->hash != w[i].hash || strcmp(row->tag, tag))) {
                        if (shown++ < 8)
                                snaphist_fail(r,
                                              "%s: id %s holds %s, the model "
                                              "%s%s",
                                              name, h->ids[i], row->tag, tag,
                                              !strcmp(row->tag, tag)
                                                      ? " (another record hash)"
                                              : snaphist_seq_of(row->tag) <
                                                              w[i].seq
                                                      ? " (an update "
                                                        "rolled back)"
                                                      : "");
                }
        }
        if ((int)t->row_cnt != want_cnt)
                snaphist_fail(r, "%s: %" PRIu32 " rows, the model %d", name,
                              t->row_cnt, want_cnt);
}

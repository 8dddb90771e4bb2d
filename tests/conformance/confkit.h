/*
 * vcdc - test kit of the sink conformance suite (it_sink_conformance_*.c):
 * the sink under test, named by a URL template, and the targets made for
 * it (dropped at the end); records of a family written, read back and
 * compared; scans collected into sorted id lists; and the main loop that
 * runs a program's cases against every sink. Through sink.h alone. What
 * the suite is and how a sink is named: confkit.c. Test code only;
 * include after cmocka.h.
 */
#ifndef VCDC_TEST_CONFKIT_H
#define VCDC_TEST_CONFKIT_H

#include <stddef.h>

#include "sink.h"

#define DIM   8
#define TOPIC "it.conformance"
#define ERR   1024

/* The sink under test: its URL template and its scheme ("chroma"). */
const char *sut_tmpl(void);
const char *sut_scheme(void);

/* ------------------------------------------------------------- targets */

/* A new target name of this run, remembered to be dropped at the end;
 * returns name. */
const char *target_new(char *name, size_t size);

/* The template with target put in and extra ("k=v", may be NULL)
 * appended as a parameter. */
void url_of(char *out, size_t size, const char *tmpl, const char *target,
            const char *extra);

/* vcdc_sink_open() of target through tmpl; NULL with *statusp and errstr
 * (ERR bytes) filled when refused. */
vcdc_sink_t *sink_open_as(const char *tmpl, const char *target,
                          const char *extra, vcdc_metric_t metric, size_t dim,
                          int timeout_ms, vcdc_sink_status_t *statusp,
                          char *errstr);

/* target of the sink under test opened, or the test fails. */
vcdc_sink_t *must_open(const char *target, vcdc_metric_t metric, size_t dim);

/* ------------------------------------------------------------- records */

/* An upsert of id with copies of vec[0..dim), metadata and document
 * (either may be NULL). */
void rec_set(vcdc_record_t *rec, const char *id, const float *vec, size_t dim,
             const char *metadata, const char *document);

/* Record i of a family: a vector of exactly representable components,
 * the first i / 4 (no two records alike), metadata {"i": i, "v": v},
 * document "doc i/v". */
void rec_nth(vcdc_record_t *rec, const char *id, int i, int v);

void recs_clear(vcdc_record_t *recs, size_t cnt);

/* Applies upserts recs[0..cnt) and deletes dels[0..del_cnt) with offsets
 * offs[0..off_cnt) of TOPIC (fence_only as given); errstr: ERR bytes. */
vcdc_sink_status_t apply_full(vcdc_sink_t *sink, const vcdc_record_t *recs,
                              size_t cnt, const char *const *dels,
                              size_t del_cnt, const vcdc_sink_offset_t *offs,
                              size_t off_cnt, int fence_only, char *errstr);

/* apply_full() without offsets, or the test fails. */
void apply_ok(vcdc_sink_t *sink, const vcdc_record_t *recs, size_t cnt,
              const char *const *dels, size_t del_cnt);

/* Gets ids[0..cnt) into out (initialised here; clear it after). */
void get_ids(vcdc_sink_t *sink, const char *const *ids, size_t cnt,
             vcdc_record_t *out);

/* got holds what wanted says: vector bit for bit (targets are l2 or ip,
 * which store vectors as given), metadata as JSON (none and {} alike),
 * document as text. */
void assert_same(const vcdc_record_t *got, const vcdc_record_t *wanted);

/* Reads recs back by id and checks each. */
void assert_stored(vcdc_sink_t *sink, const vcdc_record_t *recs, size_t cnt);

/* ------------------------------------------------------------ scanning */

/* Ids a scan returned, copies (idlist_free()); start from {0}. */
typedef struct idlist_s {
        char **ids;
        size_t cnt, size;
} idlist_t;

void idlist_add(idlist_t *l, const char *id);
void idlist_free(idlist_t *l);
void idlist_sort(idlist_t *l);

/* How many times id is in l. */
size_t idlist_count(const idlist_t *l, const char *id);

/* Fails when a sorted list holds an id twice. */
void assert_no_doubles(const idlist_t *l);

/* One page of a scan into l; returns the records' count. Records are
 * checked for what with_vectors asked. */
size_t scan_page(vcdc_sink_t *sink, char **cursorp, size_t page,
                 int with_vectors, idlist_t *l);

/* A whole scan in pages of page into l, sorted. */
void scan_all(vcdc_sink_t *sink, size_t page, int with_vectors, idlist_t *l);

/* ---------------------------------------------------------------- main */

/* Runs tests[0..cnt) against every sink (VCDC_CONFORMANCE_URLS, else the
 * stack's), one cmocka group each, the targets dropped after; prog names
 * the program in its messages. Returns main()'s exit status: 0 also when
 * no sink is set (it says so). */
int conformance_run(const char *prog, const struct CMUnitTest *tests,
                    size_t cnt);

#endif

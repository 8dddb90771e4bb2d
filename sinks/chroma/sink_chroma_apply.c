/*
 * vcdc - the Chroma sink's writes: check() and apply(). Upserts go as
 * whole states (what Chroma stores is read first, stale keys removed
 * with nulls, records whose document must go deleted first), deletes in
 * lists of at most max_batch ids. Writes no offsets (sink_chroma_offsets.c)
 * and reads nothing back for a caller.
 */
#include "sink_chroma_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "utf8.h"

/* s for a message: at most 100 bytes, printable ASCII as it is, any
 * other byte as \xNN. */
static const char *escaped(char *buf, size_t size, const char *s) {
        static const char hex[] = "0123456789abcdef";
        size_t n = 0, i;

        for (i = 0; s[i] && i < 100 && n + 5 < size; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
                        buf[n++] = (char)c;
                } else {
                        buf[n++] = '\\';
                        buf[n++] = 'x';
                        buf[n++] = hex[c >> 4];
                        buf[n++] = hex[c & 15];
                }
        }
        buf[n] = '\0';
        return buf;
}

static vcdc_sink_status_t delete_ids(vcdc_sink_t *sink, const char *const *ids,
                                     size_t cnt, char *errstr,
                                     size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        size_t i, n;

        /* Never an empty list: Chroma refuses it (and "delete where" with
         * nothing would be a different request altogether). */
        for (i = 0; i < cnt && status == VCDC_SINK_OK; i += n) {
                char *body;
                n = cnt - i < st->max_batch ? cnt - i : st->max_batch;
                body = vcdc_chroma_delete_body(ids + i, n);
                status = vcdc_chroma_post(sink, "delete", body, NULL, errstr,
                                          errstr_size);
                free(body);
        }
        return status;
}

/*
 * Upserts recs[0..cnt) (at most max_batch) as whole states: reads what
 * Chroma stores for them, removes stale keys through nulls and records
 * whose document must go, then sends bodies that fit the request limit.
 */
static vcdc_sink_status_t upsert_chunk(vcdc_sink_t *sink,
                                       const vcdc_record_t *const *recs,
                                       size_t cnt, char *errstr,
                                       size_t errstr_size) {
        chroma_t *st = sink->state;
        const char **ids = NULL, **clear = NULL;
        const json_t **olds = NULL;
        vcdc_sink_status_t status;
        json_t *resp = NULL;
        size_t i, n, clear_cnt = 0;
        char *body = NULL, *has_doc = NULL, err[512];

        if (!(ids = malloc(cnt * sizeof(*ids))) ||
            !(clear = malloc(cnt * sizeof(*clear))) ||
            !(olds = calloc(cnt, sizeof(*olds))) ||
            !(has_doc = calloc(cnt, 1))) {
                status = vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                          errstr_size, "out of memory");
                goto done;
        }
        for (i = 0; i < cnt; i++)
                ids[i] = recs[i]->id;
        body = vcdc_chroma_get_body(ids, cnt, 0, 0,
                                    VCDC_CHROMA_INC_METADATAS |
                                            VCDC_CHROMA_INC_DOCUMENTS);
        status =
                vcdc_chroma_post(sink, "get", body, &resp, errstr, errstr_size);
        free(body);
        body = NULL;
        if (status != VCDC_SINK_OK)
                goto done;
        if (vcdc_chroma_parse_stored(resp, ids, cnt, olds, has_doc, err,
                                     sizeof(err)) == -1) {
                /* Without it, stale keys would survive the upsert. */
                status = vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                          errstr_size,
                                          "reading the stored state before "
                                          "the upsert: %s",
                                          err);
                goto done;
        }
        for (i = 0; i < cnt; i++)
                if (has_doc[i] && !recs[i]->document)
                        clear[clear_cnt++] = recs[i]->id;
        if (clear_cnt) {
                /* Chroma cannot unset a document: delete those first. A
                 * crash before the upsert below leaves them missing until
                 * the batch is replayed, which the uncommitted offsets
                 * guarantee. */
                status =
                        delete_ids(sink, clear, clear_cnt, errstr, errstr_size);
                if (status != VCDC_SINK_OK)
                        goto done;
                for (i = 0; i < cnt; i++)
                        if (has_doc[i] && !recs[i]->document)
                                olds[i] = NULL;
        }
        for (i = 0; i < cnt; i += n) {
                size_t len, inexact;
                n = vcdc_chroma_upsert_body(
                        recs + i, cnt - i, olds + i, st->base64,
                        VCDC_CHROMA_MAX_REQUEST_BYTES, &body, &len, &inexact,
                        err, sizeof(err));
                if (inexact && !st->inexact)
                        VCDC_WARN("chroma",
                                  "%s: Chroma's JSON parser alters some "
                                  "metadata floats by a few ulps "
                                  "(counted, told again at close)",
                                  sink->name);
                st->inexact += inexact;
                if (!n) {
                        status = vcdc_chroma_fail(sink,
                                                  strcmp(err, "out of memory")
                                                          ? VCDC_SINK_INVALID
                                                          : VCDC_SINK_RETRIABLE,
                                                  errstr, errstr_size, "%s",
                                                  err);
                        goto done;
                }
                status = vcdc_chroma_post(sink, "upsert", body, NULL, errstr,
                                          errstr_size);
                free(body);
                body = NULL;
                if (status != VCDC_SINK_OK)
                        goto done;
        }

done:
        json_decref(resp);
        free(has_doc);
        free(olds);
        free(clear);
        free(ids);
        return status;
}

vcdc_sink_status_t vcdc_chroma_op_apply(vcdc_sink_t *sink,
                                        const vcdc_sink_batch_t *batch,
                                        char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        size_t dim = st->dim ? st->dim : sink->conf.dim, i, n, del_cnt = 0;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        const char **dels = NULL;
        char err[512];

        /* Everything is checked before anything is sent. */
        for (i = 0; i < batch->upsert_cnt; i++)
                if (vcdc_chroma_record_check(batch->upserts[i],
                                             sink->conf.metric, &dim, err,
                                             sizeof(err)) == -1)
                        return vcdc_chroma_fail(sink, VCDC_SINK_INVALID, errstr,
                                                errstr_size, "%s", err);
        if (batch->delete_cnt &&
            !(dels = malloc(batch->delete_cnt * sizeof(*dels))))
                return vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                        errstr_size, "out of memory");
        for (i = 0; i < batch->delete_cnt; i++) {
                const char *id = batch->delete_ids[i];

                /* No record has an empty id (Chroma refuses one in an
                 * upsert): deleting it changes nothing. */
                if (!id || !*id)
                        continue;
                if (!vcdc_utf8_valid(id, strlen(id))) {
                        status = vcdc_chroma_fail(
                                sink, VCDC_SINK_INVALID, errstr, errstr_size,
                                "delete of id \"%s\": not UTF-8",
                                escaped(err, sizeof(err), id));
                        goto done;
                }
                dels[del_cnt++] = id;
        }

        if (batch->upsert_cnt) {
                if ((status = vcdc_chroma_ensure(sink, errstr, errstr_size)) !=
                    VCDC_SINK_OK)
                        goto done;
        } else if (!del_cnt) {
                goto done;
        }
        if (st->id[0] && del_cnt &&
            (status = delete_ids(sink, dels, del_cnt, errstr, errstr_size)) !=
                    VCDC_SINK_OK)
                goto done;
        for (i = 0; i < batch->upsert_cnt; i += n) {
                n = batch->upsert_cnt - i;
                if (n > st->max_batch)
                        n = st->max_batch;
                if ((status = upsert_chunk(sink, batch->upserts + i, n, errstr,
                                           errstr_size)) != VCDC_SINK_OK)
                        goto done;
        }
        if (batch->upsert_cnt && !st->dim)
                st->dim = dim;
done:
        free(dels);
        return status;
}

vcdc_sink_status_t vcdc_chroma_op_check(vcdc_sink_t *sink,
                                        const vcdc_record_t *rec, char *errstr,
                                        size_t errstr_size) {
        chroma_t *st = sink->state;
        size_t dim = st->dim ? st->dim : sink->conf.dim;
        char err[512];

        /* A delete's id goes into JSON: UTF-8. An empty one is a no-op
         * (no record has it), which apply() skips. */
        if (rec->op != VCDC_OP_UPSERT)
                return !rec->id || vcdc_utf8_valid(rec->id, strlen(rec->id))
                               ? VCDC_SINK_OK
                               : vcdc_chroma_fail(
                                         sink, VCDC_SINK_INVALID, errstr,
                                         errstr_size,
                                         "delete of id \"%s\": not UTF-8",
                                         escaped(err, sizeof(err), rec->id));
        if (vcdc_chroma_record_check(rec, sink->conf.metric, &dim, err,
                                     sizeof(err)) == -1)
                return vcdc_chroma_fail(sink, VCDC_SINK_INVALID, errstr,
                                        errstr_size, "%s", err);
        return VCDC_SINK_OK;
}

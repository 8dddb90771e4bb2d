/*
 * vcdc - the Chroma sink's offsets: recording and reading the applied
 * offsets in the companion collection COLLECTION_vcdc_offsets, each
 * record stamped with the id of the user's collection it describes.
 * Never creates the user's collection nor touches its records.
 */
#include "sink_chroma_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Records offsets[0..cnt) of topic in the companion collection (created
 * if missing), stamped with the id of the user's collection as it is now
 * ("" while it does not exist): offsets belong to that collection, and
 * read_offsets() leaves out those of another. Never creates the user's
 * collection.
 */
vcdc_sink_status_t
vcdc_chroma_op_record_offsets(vcdc_sink_t *sink, const char *topic,
                              const vcdc_sink_offset_t *offsets, size_t cnt,
                              char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_sink_status_t status = VCDC_SINK_OK;
        size_t i, n;
        long code = 0;

        if (!topic || !*topic || strchr(topic, '/'))
                return vcdc_chroma_fail(
                        sink, VCDC_SINK_INVALID, errstr, errstr_size,
                        "offsets need a topic name without '/'");
        /* Another process may have created the collection since. */
        if ((status = vcdc_chroma_refresh(sink, errstr, errstr_size)) !=
            VCDC_SINK_OK)
                return status;
        if (!st->offsets_id[0]) {
                vcdc_metric_t metric;
                size_t dim;
                status = vcdc_chroma_create(sink, st->offsets_name,
                                            VCDC_METRIC_L2, st->offsets_id,
                                            &dim, &metric, errstr, errstr_size);
                if (status != VCDC_SINK_OK)
                        return status;
        }
        for (i = 0; i < cnt && status == VCDC_SINK_OK; i += n) {
                char *body;
                n = cnt - i;
                if (n > st->max_batch)
                        n = st->max_batch;
                body = vcdc_chroma_offsets_body(topic, st->id, offsets + i, n);
                status = vcdc_chroma_coll_call(sink, "POST", st->offsets_id,
                                               "upsert", body, NULL, &code,
                                               errstr, errstr_size);
                free(body);
        }
        if (status != VCDC_SINK_OK && code == 404) {
                st->offsets_id[0] = '\0'; /* re-created on the next try */
                status = VCDC_SINK_RETRIABLE;
        }
        return status;
}

vcdc_sink_status_t vcdc_chroma_op_read_offsets(vcdc_sink_t *sink,
                                               const char *topic,
                                               vcdc_sink_offset_t **offsetsp,
                                               size_t *cntp, char *errstr,
                                               size_t errstr_size) {
        chroma_t *st = sink->state;
        char err[400], *body, current[CHROMA_ID_SIZE];
        vcdc_sink_status_t status;
        vcdc_metric_t current_metric;
        size_t current_dim;
        json_t *resp = NULL;
        long code = 0;
        int found;

        *offsetsp = NULL;
        *cntp = 0;
        /* The collection as it is now, not as we last saw it: offsets of
         * one since deleted or re-created do not count. */
        status = vcdc_chroma_lookup(sink, sink->url->path, current,
                                    &current_dim, &current_metric, &found,
                                    errstr, errstr_size);
        if (status != VCDC_SINK_OK)
                return status;
        if (!found)
                current[0] = '\0';
        if (!st->offsets_id[0]) {
                vcdc_metric_t metric;
                size_t dim;
                status = vcdc_chroma_lookup(sink, st->offsets_name,
                                            st->offsets_id, &dim, &metric,
                                            &found, errstr, errstr_size);
                if (status != VCDC_SINK_OK)
                        return status;
                if (!found)
                        goto none;
        }
        body = vcdc_chroma_offsets_get_body(topic);
        status = vcdc_chroma_coll_call(sink, "POST", st->offsets_id, "get",
                                       body, &resp, &code, errstr, errstr_size);
        free(body);
        if (status != VCDC_SINK_OK) {
                if (code != 404)
                        return status;
                st->offsets_id[0] = '\0';
                goto none;
        }
        if (vcdc_chroma_parse_offsets(resp, topic, current, offsetsp, cntp, err,
                                      sizeof(err)) == -1) {
                json_decref(resp);
                return vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                        errstr_size, "reading offsets: %s",
                                        err);
        }
        json_decref(resp);
        return VCDC_SINK_OK;

none:
        if (!(*offsetsp = calloc(1, sizeof(**offsetsp))))
                return vcdc_chroma_fail(sink, VCDC_SINK_RETRIABLE, errstr,
                                        errstr_size, "out of memory");
        return VCDC_SINK_OK;
}

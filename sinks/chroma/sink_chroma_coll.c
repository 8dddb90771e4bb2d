/*
 * vcdc - the Chroma sink's collections: looking the user's collection up,
 * refusing one whose dimension or space differ, creating it (and the
 * offsets collection) on first need, noticing it was deleted under us,
 * and the POST to it that says so. Sends no records of its own.
 */
#include "sink_chroma_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/*
 * Looks collection name up: *foundp 1 with id, dimension and space filled,
 * or 0 when it does not exist.
 */
vcdc_sink_status_t vcdc_chroma_lookup(vcdc_sink_t *sink, const char *name,
                                      char *id, size_t *dimp,
                                      vcdc_metric_t *metricp, int *foundp,
                                      char *errstr, size_t errstr_size) {
        vcdc_sink_status_t status;
        json_t *resp = NULL;
        char err[400];
        long code;

        *foundp = 0;
        status = vcdc_chroma_coll_call(sink, "GET", name, NULL, NULL, &resp,
                                       &code, errstr, errstr_size);
        if (status != VCDC_SINK_OK)
                return code == 404 ? VCDC_SINK_OK : status;
        if (vcdc_chroma_parse_collection(resp, id, CHROMA_ID_SIZE, dimp,
                                         metricp, err, sizeof(err)) == -1) {
                json_decref(resp);
                return vcdc_chroma_fail(
                        sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                        "looking up collection %s: %s", name, err);
        }
        json_decref(resp);
        *foundp = 1;
        return VCDC_SINK_OK;
}

/* Takes the collection's id, dimension and space when it exists. */
vcdc_sink_status_t vcdc_chroma_adopt(vcdc_sink_t *sink, const char *id,
                                     size_t dim, vcdc_metric_t metric,
                                     char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        char what[VCDC_CHROMA_NAME_MAX + 16];
        vcdc_sink_status_t status;

        snprintf(what, sizeof(what), "collection %s", sink->url->path);
        if ((status = vcdc_sink_target_compat(sink, what, dim, metric, errstr,
                                              errstr_size)) != VCDC_SINK_OK)
                return status;
        snprintf(st->id, sizeof(st->id), "%s", id);
        if (dim)
                st->dim = dim;
        return VCDC_SINK_OK;
}

/* Creates (or gets) a collection, *id filled. */
vcdc_sink_status_t vcdc_chroma_create(vcdc_sink_t *sink, const char *name,
                                      vcdc_metric_t metric, char *id,
                                      size_t *dimp, vcdc_metric_t *metricp,
                                      char *errstr, size_t errstr_size) {
        char err[400], *body = vcdc_chroma_create_body(name, metric);
        vcdc_sink_status_t status;
        json_t *resp = NULL;

        status = vcdc_chroma_coll_call(sink, "POST", NULL, NULL, body, &resp,
                                       NULL, errstr, errstr_size);
        free(body);
        if (status != VCDC_SINK_OK)
                return status;
        if (vcdc_chroma_parse_collection(resp, id, CHROMA_ID_SIZE, dimp,
                                         metricp, err, sizeof(err)) == -1) {
                json_decref(resp);
                return vcdc_chroma_fail(
                        sink, VCDC_SINK_RETRIABLE, errstr, errstr_size,
                        "creating collection %s: %s", name, err);
        }
        json_decref(resp);
        VCDC_INFO("chroma", "%s: collection %s ready (space %s)", sink->name,
                  name, vcdc_metric_name(*metricp));
        return VCDC_SINK_OK;
}

/* The user's collection as it is now, while it is not known: looked up,
 * or (create) created when missing; taken when it is compatible. */
static vcdc_sink_status_t find(vcdc_sink_t *sink, int create, char *errstr,
                               size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_sink_status_t status;
        vcdc_metric_t metric;
        char id[CHROMA_ID_SIZE];
        size_t dim;
        int found = 1;

        if (st->id[0])
                return VCDC_SINK_OK;
        if (create)
                status = vcdc_chroma_create(sink, sink->url->path,
                                            sink->conf.metric, id, &dim,
                                            &metric, errstr, errstr_size);
        else
                status = vcdc_chroma_lookup(sink, sink->url->path, id, &dim,
                                            &metric, &found, errstr,
                                            errstr_size);
        if (status != VCDC_SINK_OK || !found)
                return status;
        return vcdc_chroma_adopt(sink, id, dim, metric, errstr, errstr_size);
}

vcdc_sink_status_t vcdc_chroma_refresh(vcdc_sink_t *sink, char *errstr,
                                       size_t errstr_size) {
        return find(sink, 0, errstr, errstr_size);
}

vcdc_sink_status_t vcdc_chroma_ensure(vcdc_sink_t *sink, char *errstr,
                                      size_t errstr_size) {
        return find(sink, 1, errstr, errstr_size);
}

/* A 404 on the collection's own id: it was deleted under us. Writing on
 * into a re-created one would leave the offsets claiming data it lacks. */
static vcdc_sink_status_t gone(vcdc_sink_t *sink, char *errstr,
                               size_t errstr_size) {
        chroma_t *st = sink->state;
        char id[CHROMA_ID_SIZE];

        snprintf(id, sizeof(id), "%s", st->id);
        st->id[0] = '\0';
        return vcdc_chroma_fail(
                sink, VCDC_SINK_FATAL, errstr, errstr_size,
                "collection %s (id %s) was deleted while in use; delete "
                "%s too before replaying into a new one",
                sink->url->path, id, st->offsets_name);
}

vcdc_sink_status_t vcdc_chroma_post(vcdc_sink_t *sink, const char *verb,
                                    const char *body, json_t **respp,
                                    char *errstr, size_t errstr_size) {
        chroma_t *st = sink->state;
        vcdc_sink_status_t status;
        long code;

        status = vcdc_chroma_coll_call(sink, "POST", st->id, verb, body, respp,
                                       &code, errstr, errstr_size);
        if (status != VCDC_SINK_OK && code == 404)
                return gone(sink, errstr, errstr_size);
        return status;
}

/*
 * vcdc - the Chroma sink: Chroma's HTTP API v2 through libcurl and jansson.
 *
 *   chroma://HOST:PORT/COLLECTION?tenant=..&database=..&metric=cosine|l2|ip
 *
 * The collection is created (get_or_create, the metric as hnsw space) by the
 * first apply with upserts; until then it counts as empty. Applied offsets
 * live in a companion collection, COLLECTION_vcdc_offsets, one record per
 * (topic, partition), written by record_offsets() after the data they
 * cover (apply() takes none), which never creates the user's collection.
 * Each record is stamped with the id (a UUID) of the user's collection as
 * it was when written, "" while there was none: read_offsets() returns
 * only those of the collection that exists now, so offsets of one since
 * deleted or re-created do not count (a new group replays it whole), and
 * those stamped "" only while it is missing. Records from before the
 * stamp count for no collection.
 * sink_chroma_int.h lists what Chroma does that shapes the sink.
 *
 * The sink's files, one concern each: sink_chroma_call.c (requests and
 * their failures, auth), sink_chroma_body.c (request bodies),
 * sink_chroma_answer.c (answers), sink_chroma_scan.c (get answers
 * without a tree), sink_chroma_check.c (what Chroma
 * refuses), sink_chroma_float.c (what it does to metadata floats),
 * sink_chroma_coll.c (the collections), sink_chroma_apply.c (check and
 * apply), sink_chroma_offsets.c, sink_chroma_read.c (count, get, scan,
 * query), http.c (the HTTP client). This file opens and closes the sink
 * and fills the ops table; it sends no records.
 */
#include "sink_chroma_state.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *chroma_target(vcdc_sink_t *sink) {
        return sink->url->path;
}

static size_t chroma_max_batch(vcdc_sink_t *sink) {
        return ((chroma_t *)sink->state)->max_batch;
}

static size_t chroma_dim(vcdc_sink_t *sink) {
        chroma_t *st = sink->state;

        return st->dim ? st->dim : sink->conf.dim;
}

void vcdc_sink_chroma_set_base64(vcdc_sink_t *sink, int on) {
        chroma_t *st = sink->state;

        st->base64 = on && st->base64_ok;
}

static void state_destroy(chroma_t *st) {
        if (!st)
                return;
        vcdc_http_destroy(st->http);
        vcdc_jsonscan_destroy(st->js);
        free(st->offsets_name);
        free(st->base);
        free(st);
}

static void chroma_close(vcdc_sink_t *sink) {
        chroma_t *st = sink->state;

        if (st && st->inexact)
                VCDC_WARN("chroma",
                          "%s: Chroma altered %" PRIu64 " metadata floats by "
                          "a few ulps",
                          sink->name, st->inexact);
        state_destroy(sink->state);
        sink->state = NULL;
}

/* pre-flight-checks: the batch limit and whether base64 embeddings go. */
static int preflight(vcdc_sink_t *sink, chroma_t *st, char *errstr,
                     size_t errstr_size) {
        static const char path[] = "/api/v2/pre-flight-checks";
        const json_t *mbs;
        json_t *resp = NULL;

        if (vcdc_chroma_call(sink, "GET", path, NULL, &resp, NULL, errstr,
                             errstr_size) != VCDC_SINK_OK)
                return -1;
        mbs = json_object_get(resp, "max_batch_size");
        if (!json_is_integer(mbs) || json_integer_value(mbs) < 1) {
                json_decref(resp);
                vcdc_chroma_fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                                 "GET %s: no max_batch_size in the answer",
                                 path);
                return -1;
        }
        st->max_batch = (size_t)json_integer_value(mbs);
        st->base64_ok = st->base64 =
                json_is_true(json_object_get(resp, "supports_base64_encoding"));
        json_decref(resp);
        return 0;
}

static int chroma_open(vcdc_sink_t *sink, char *errstr, size_t errstr_size) {
        static const char *const allowed[] = {"tenant", "database", "metric",
                                              NULL};
        const vcdc_url_t *url = sink->url;
        const char *tenant, *database;
        char err[512], base_url[512], id[CHROMA_ID_SIZE];
        chroma_t *st;
        vcdc_buf_t b = VCDC_BUF_INIT;
        vcdc_metric_t metric;
        size_t dim;
        int found, offsets_found, n;

        if (vcdc_url_check_params(url, allowed, err, sizeof(err)) == -1) {
                vcdc_chroma_fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                                 "%s", err);
                return -1;
        }
        if (url->user) {
                vcdc_chroma_fail(
                        sink, VCDC_SINK_FATAL, errstr, errstr_size,
                        "chroma:// takes no user name; the token comes from "
                        "VCDC_CHROMA_TOKEN or VCDC_CHROMA_TOKEN_FILE");
                return -1;
        }
        if (!*url->path) {
                vcdc_chroma_fail(
                        sink, VCDC_SINK_FATAL, errstr, errstr_size,
                        "no collection: chroma://HOST:PORT/COLLECTION");
                return -1;
        }
        if (vcdc_chroma_name_check(url->path, err, sizeof(err)) == -1) {
                vcdc_chroma_fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                                 "%s", err);
                return -1;
        }
        if (strlen(url->path) + strlen(VCDC_CHROMA_OFFSETS_SUFFIX) >
            VCDC_CHROMA_NAME_MAX) {
                vcdc_chroma_fail(
                        sink, VCDC_SINK_FATAL, errstr, errstr_size,
                        "collection name too long for its offsets collection "
                        "(name%s, at most %d characters)",
                        VCDC_CHROMA_OFFSETS_SUFFIX, VCDC_CHROMA_NAME_MAX);
                return -1;
        }
        if (!(st = calloc(1, sizeof(*st)))) {
                vcdc_chroma_fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                                 "out of memory");
                return -1;
        }
        sink->state = st;

        vcdc_buf_puts(&b, url->path);
        vcdc_buf_puts(&b, VCDC_CHROMA_OFFSETS_SUFFIX);
        st->offsets_name = vcdc_buf_detach(&b, NULL);
        tenant = vcdc_url_param(url, "tenant");
        database = vcdc_url_param(url, "database");
        vcdc_buf_puts(&b, "/api/v2/tenants/");
        vcdc_chroma_put_segment(&b,
                                tenant && *tenant ? tenant : "default_tenant");
        vcdc_buf_puts(&b, "/databases/");
        vcdc_chroma_put_segment(&b, database && *database ? database
                                                          : "default_database");
        st->base = vcdc_buf_detach(&b, NULL);
        if (!st->offsets_name || !st->base) {
                vcdc_chroma_fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                                 "out of memory");
                goto err;
        }
        if (strlen(st->base) > CHROMA_BASE_MAX) {
                vcdc_chroma_fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                                 "tenant and database names too long");
                goto err;
        }
        n = snprintf(base_url, sizeof(base_url), "http://%s:%d", url->host,
                     url->port ? url->port : CHROMA_DEFAULT_PORT);
        if (n < 0 || (size_t)n >= sizeof(base_url)) {
                vcdc_chroma_fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                                 "host name too long");
                goto err;
        }
        if (!(st->http = vcdc_http_new(base_url, sink->conf.timeout_ms,
                                       VCDC_CHROMA_MAX_RESPONSE_BYTES, err,
                                       sizeof(err)))) {
                vcdc_chroma_fail(sink, VCDC_SINK_FATAL, errstr, errstr_size,
                                 "%s", err);
                goto err;
        }
        if (vcdc_chroma_add_token(sink, st, errstr, errstr_size) == -1 ||
            preflight(sink, st, errstr, errstr_size) == -1)
                goto err;
        /* The database must exist (this also proves the token). */
        if (vcdc_chroma_call(sink, "GET", st->base, NULL, NULL, NULL, errstr,
                             errstr_size) != VCDC_SINK_OK)
                goto err;

        if (vcdc_chroma_lookup(sink, url->path, id, &dim, &metric, &found,
                               errstr, errstr_size) != VCDC_SINK_OK)
                goto err;
        if (found && vcdc_chroma_adopt(sink, id, dim, metric, errstr,
                                       errstr_size) != VCDC_SINK_OK)
                goto err;
        if (vcdc_chroma_lookup(sink, st->offsets_name, st->offsets_id, &dim,
                               &metric, &offsets_found, errstr,
                               errstr_size) != VCDC_SINK_OK)
                goto err;
        VCDC_INFO("chroma", "%s: %s, dimension %zu, max batch %zu, base64 %s",
                  sink->name, found ? "collection exists" : "no collection yet",
                  st->dim, st->max_batch, st->base64_ok ? "yes" : "no");
        return 0;

err:
        state_destroy(st);
        sink->state = NULL;
        return -1;
}

const struct vcdc_sink_ops vcdc_sink_chroma_ops = {
        .scheme = "chroma",
        .offsets_apart = 1,
        .open = chroma_open,
        .close = chroma_close,
        .target = chroma_target,
        .max_batch = chroma_max_batch,
        .dim = chroma_dim,
        .check = vcdc_chroma_op_check,
        .apply = vcdc_chroma_op_apply,
        .record_offsets = vcdc_chroma_op_record_offsets,
        .read_offsets = vcdc_chroma_op_read_offsets,
        .count = vcdc_chroma_op_count,
        .get = vcdc_chroma_op_get,
        .exists = vcdc_chroma_op_exists,
        .scan = vcdc_chroma_op_scan,
        .query = vcdc_chroma_op_query,
};

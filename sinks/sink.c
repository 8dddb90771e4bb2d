/*
 * vcdc - the sink wrappers: choose the implementation by URL scheme and
 * guard the optional slots. Callers never touch the ops table; nothing
 * here knows a database (each is behind its ops table).
 */
#include "sink_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct vcdc_sink_ops *const sink_impls[] = {
        &vcdc_sink_chroma_ops,
        &vcdc_sink_pgvector_ops,
};

/* Sinks registered at run time (tests' in-memory sinks). Set before any
 * sink is opened, read-only after. */
#define EXTRA_MAX 4
static const struct vcdc_sink_ops *extra_impls[EXTRA_MAX];

int vcdc_sink_register(const struct vcdc_sink_ops *ops) {
        size_t i;

        if (!ops || !ops->scheme || !ops->open || !ops->close ||
            !ops->target || !ops->dim || !ops->apply ||
            !ops->record_offsets || !ops->read_offsets)
                return -1;
        for (i = 0; i < EXTRA_MAX; i++) {
                if (extra_impls[i] && !strcmp(extra_impls[i]->scheme,
                                              ops->scheme))
                        return -1;
                if (!extra_impls[i]) {
                        extra_impls[i] = ops;
                        return 0;
                }
        }
        return -1;
}

const char *vcdc_sink_status_name(vcdc_sink_status_t status) {
        switch (status) {
        case VCDC_SINK_OK:
                return "ok";
        case VCDC_SINK_RETRIABLE:
                return "retriable";
        case VCDC_SINK_INVALID:
                return "invalid";
        case VCDC_SINK_FATAL:
                return "fatal";
        case VCDC_SINK_STALE:
                return "stale";
        }
        return "unknown";
}

const char *vcdc_metric_name(vcdc_metric_t metric) {
        switch (metric) {
        case VCDC_METRIC_COSINE:
                return "cosine";
        case VCDC_METRIC_L2:
                return "l2";
        case VCDC_METRIC_IP:
                return "ip";
        case VCDC_METRIC_UNSET:
                break;
        }
        return "unset";
}

vcdc_metric_t vcdc_metric_parse(const char *name) {
        if (!strcmp(name, "cosine"))
                return VCDC_METRIC_COSINE;
        if (!strcmp(name, "l2"))
                return VCDC_METRIC_L2;
        if (!strcmp(name, "ip") || !strcmp(name, "inner_product"))
                return VCDC_METRIC_IP;
        return VCDC_METRIC_UNSET;
}

vcdc_sink_status_t vcdc_sink_target_compat(vcdc_sink_t *sink, const char *what,
                                           size_t dim, vcdc_metric_t metric,
                                           char *errstr, size_t errstr_size) {
        vcdc_metric_t want = sink->conf.metric;

        if (sink->conf.dim && dim && dim != sink->conf.dim) {
                snprintf(errstr, errstr_size,
                         "%s: %s has dimension %zu, this sink is configured "
                         "for %zu",
                         sink->name, what, dim, sink->conf.dim);
                return VCDC_SINK_FATAL;
        }
        if (metric == VCDC_METRIC_UNSET)
                return VCDC_SINK_OK;
        if (sink->metric_explicit && metric != want) {
                snprintf(errstr, errstr_size,
                         "%s: %s has metric %s, this sink is configured for "
                         "%s (?metric=%s to use it)",
                         sink->name, what, vcdc_metric_name(metric),
                         vcdc_metric_name(want), vcdc_metric_name(metric));
                return VCDC_SINK_FATAL;
        }
        sink->conf.metric = metric; /* the target's own */
        return VCDC_SINK_OK;
}

vcdc_sink_t *vcdc_sink_new(const char *url, const vcdc_sink_conf_t *conf,
                           char *errstr, size_t errstr_size) {
        return vcdc_sink_open(url, conf, NULL, errstr, errstr_size);
}

vcdc_sink_t *vcdc_sink_open(const char *url, const vcdc_sink_conf_t *conf,
                            vcdc_sink_status_t *statusp, char *errstr,
                            size_t errstr_size) {
        vcdc_sink_t *sink;
        const char *metric;
        size_t i;

        if (statusp)
                *statusp = VCDC_SINK_FATAL;

        if (!(sink = calloc(1, sizeof(*sink)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        if (!(sink->url = vcdc_url_parse(url, errstr, errstr_size)))
                goto err;
        for (i = 0; i < sizeof(sink_impls) / sizeof(*sink_impls); i++)
                if (!strcmp(sink_impls[i]->scheme, sink->url->scheme))
                        sink->ops = sink_impls[i];
        for (i = 0; i < EXTRA_MAX && extra_impls[i] && !sink->ops; i++)
                if (!strcmp(extra_impls[i]->scheme, sink->url->scheme))
                        sink->ops = extra_impls[i];
        if (!sink->ops) {
                snprintf(errstr, errstr_size,
                         "%s: unknown sink scheme \"%s\" (known: chroma, "
                         "pgvector)",
                         url, sink->url->scheme);
                goto err;
        }
        if (conf)
                sink->conf = *conf;
        metric = vcdc_url_param(sink->url, "metric");
        sink->metric_explicit = sink->conf.metric != VCDC_METRIC_UNSET ||
                                metric != NULL;
        if (sink->conf.metric == VCDC_METRIC_UNSET) {
                sink->conf.metric =
                        metric ? vcdc_metric_parse(metric) : VCDC_METRIC_COSINE;
                if (sink->conf.metric == VCDC_METRIC_UNSET) {
                        snprintf(errstr, errstr_size,
                                 "%s: metric \"%s\" is not cosine, l2 or ip",
                                 url, metric);
                        goto err;
                }
        }
        if (sink->conf.timeout_ms <= 0)
                sink->conf.timeout_ms = 30000;
        snprintf(sink->name, sizeof(sink->name), "%s://%s:%d/%s",
                 sink->url->scheme, sink->url->host, sink->url->port,
                 sink->url->path);
        sink->open_status = VCDC_SINK_FATAL;
        if (sink->ops->open(sink, errstr, errstr_size) == -1) {
                if (statusp)
                        *statusp = sink->open_status;
                goto err;
        }
        return sink;

err:
        vcdc_url_destroy(sink->url);
        free(sink);
        return NULL;
}

void vcdc_sink_destroy(vcdc_sink_t *sink) {
        if (!sink)
                return;
        sink->ops->close(sink);
        vcdc_url_destroy(sink->url);
        free(sink);
}

const char *vcdc_sink_name(const vcdc_sink_t *sink) {
        return sink->name;
}

const char *vcdc_sink_target(const vcdc_sink_t *sink) {
        return sink->ops->target((vcdc_sink_t *)sink);
}

int vcdc_sink_offsets_apart(const vcdc_sink_t *sink) {
        return sink->ops->offsets_apart;
}

size_t vcdc_sink_max_batch(const vcdc_sink_t *sink) {
        return sink->ops->max_batch ? sink->ops->max_batch((vcdc_sink_t *)sink)
                                    : 1000;
}

size_t vcdc_sink_dim(const vcdc_sink_t *sink) {
        size_t dim = sink->ops->dim((vcdc_sink_t *)sink);

        /* A configured dimension holds before the target exists. */
        return dim ? dim : sink->conf.dim;
}

vcdc_metric_t vcdc_sink_metric(const vcdc_sink_t *sink) {
        return sink->conf.metric;
}

vcdc_sink_status_t vcdc_sink_check(vcdc_sink_t *sink, const vcdc_record_t *rec,
                                   char *errstr, size_t errstr_size) {
        size_t dim = vcdc_sink_dim(sink);

        /* A delete's id can be refused too (not UTF-8, empty): the sink's
         * own check decides. */
        if (rec->op == VCDC_OP_UPSERT && dim && rec->dim != dim) {
                snprintf(errstr, errstr_size,
                         "%s: vector of dimension %zu, the target has %zu",
                         sink->name, rec->dim, dim);
                return VCDC_SINK_INVALID;
        }
        return sink->ops->check ? sink->ops->check(sink, rec, errstr,
                                                   errstr_size)
                                : VCDC_SINK_OK;
}

/* Offsets in a batch are only for a sink that records them with the data. */
static int offsets_misplaced(const vcdc_sink_t *sink,
                             const vcdc_sink_batch_t *batch, char *errstr,
                             size_t errstr_size) {
        if (!batch->offset_cnt || !sink->ops->offsets_apart)
                return 0;
        snprintf(errstr, errstr_size,
                 "%s: the %s sink records offsets apart from the data "
                 "(vcdc_sink_record_offsets())",
                 sink->name, sink->ops->scheme);
        return 1;
}

vcdc_sink_status_t vcdc_sink_apply(vcdc_sink_t *sink,
                                   const vcdc_sink_batch_t *batch,
                                   char *errstr, size_t errstr_size) {
        if (offsets_misplaced(sink, batch, errstr, errstr_size))
                return VCDC_SINK_FATAL;
        sink->retry_smaller = 0;
        return sink->ops->apply(sink, batch, errstr, errstr_size);
}

vcdc_sink_status_t vcdc_sink_record_offsets(vcdc_sink_t *sink,
                                            const char *topic,
                                            const vcdc_sink_offset_t *offsets,
                                            size_t cnt, char *errstr,
                                            size_t errstr_size) {
        if (!cnt)
                return VCDC_SINK_OK;
        sink->retry_smaller = 0;
        return sink->ops->record_offsets(sink, topic, offsets, cnt, errstr,
                                         errstr_size);
}

int vcdc_sink_retry_smaller(const vcdc_sink_t *sink) {
        return sink->retry_smaller;
}

int vcdc_sink_can_send(const vcdc_sink_t *sink) {
        return sink->ops->apply_send && sink->ops->apply_wait;
}

/* An optional slot the sink left NULL. */
static vcdc_sink_status_t unsupported(const vcdc_sink_t *sink, const char *op,
                                      char *errstr, size_t errstr_size) {
        snprintf(errstr, errstr_size, "%s: the %s sink cannot %s", sink->name,
                 sink->ops->scheme, op);
        return VCDC_SINK_FATAL;
}

vcdc_sink_status_t vcdc_sink_apply_send(vcdc_sink_t *sink,
                                        const vcdc_sink_batch_t *batch,
                                        char *errstr, size_t errstr_size) {
        if (!vcdc_sink_can_send(sink))
                return unsupported(sink, "send a batch apart", errstr,
                                   errstr_size);
        if (offsets_misplaced(sink, batch, errstr, errstr_size))
                return VCDC_SINK_FATAL;
        sink->retry_smaller = 0;
        return sink->ops->apply_send(sink, batch, errstr, errstr_size);
}

vcdc_sink_status_t vcdc_sink_apply_wait(vcdc_sink_t *sink, char *errstr,
                                        size_t errstr_size) {
        if (!vcdc_sink_can_send(sink))
                return unsupported(sink, "wait for a batch sent apart",
                                   errstr, errstr_size);
        return sink->ops->apply_wait(sink, errstr, errstr_size);
}

vcdc_sink_status_t vcdc_sink_read_offsets(vcdc_sink_t *sink, const char *topic,
                                          vcdc_sink_offset_t **offsetsp,
                                          size_t *cntp, char *errstr,
                                          size_t errstr_size) {
        return sink->ops->read_offsets(sink, topic, offsetsp, cntp, errstr,
                                       errstr_size);
}

vcdc_sink_status_t vcdc_sink_count(vcdc_sink_t *sink, uint64_t *countp,
                                   char *errstr, size_t errstr_size) {
        if (!sink->ops->count)
                return unsupported(sink, "count", errstr, errstr_size);
        return sink->ops->count(sink, countp, errstr, errstr_size);
}

vcdc_sink_status_t vcdc_sink_get(vcdc_sink_t *sink, const char *const *ids,
                                 size_t cnt, vcdc_record_t *out, char *errstr,
                                 size_t errstr_size) {
        if (!sink->ops->get)
                return unsupported(sink, "get", errstr, errstr_size);
        return sink->ops->get(sink, ids, cnt, out, errstr, errstr_size);
}

vcdc_sink_status_t vcdc_sink_scan(vcdc_sink_t *sink, char **cursorp,
                                  size_t max, int with_vectors,
                                  vcdc_record_t *out, size_t *cntp,
                                  char *errstr, size_t errstr_size) {
        return vcdc_sink_scan_shifted(sink, cursorp, max, with_vectors, NULL,
                                      out, cntp, errstr, errstr_size);
}

vcdc_sink_status_t vcdc_sink_scan_shifted(vcdc_sink_t *sink, char **cursorp,
                                          size_t max, int with_vectors,
                                          vcdc_sink_shift_t *sh,
                                          vcdc_record_t *out, size_t *cntp,
                                          char *errstr, size_t errstr_size) {
        if (sh) {
                sh->lost = 0;
                free(sh->anchor);
                sh->anchor = NULL;
        }
        if (!sink->ops->scan)
                return unsupported(sink, "scan", errstr, errstr_size);
        return sink->ops->scan(sink, cursorp, max, with_vectors, sh, out, cntp,
                               errstr, errstr_size);
}

vcdc_sink_status_t vcdc_sink_exists(vcdc_sink_t *sink, int *existsp,
                                    char *errstr, size_t errstr_size) {
        *existsp = 0;
        if (!sink->ops->exists)
                return unsupported(sink, "exists", errstr, errstr_size);
        return sink->ops->exists(sink, existsp, errstr, errstr_size);
}

vcdc_sink_status_t vcdc_sink_query(vcdc_sink_t *sink, const float *vector,
                                   size_t dim, size_t k, vcdc_hit_t *hits,
                                   size_t *cntp, char *errstr,
                                   size_t errstr_size) {
        if (!sink->ops->query)
                return unsupported(sink, "query", errstr, errstr_size);
        return sink->ops->query(sink, vector, dim, k, hits, cntp, errstr,
                                errstr_size);
}

int vcdc_sink_url_can_index(const char *url) {
        char errstr[256];
        vcdc_url_t *u = vcdc_url_parse(url, errstr, sizeof(errstr));
        int r = -1;
        size_t i;

        if (!u)
                return -1;
        for (i = 0; i < sizeof(sink_impls) / sizeof(*sink_impls); i++)
                if (!strcmp(sink_impls[i]->scheme, u->scheme))
                        r = sink_impls[i]->index_start != NULL;
        for (i = 0; i < EXTRA_MAX && extra_impls[i] && r == -1; i++)
                if (!strcmp(extra_impls[i]->scheme, u->scheme))
                        r = extra_impls[i]->index_start != NULL;
        vcdc_url_destroy(u);
        return r;
}

int vcdc_sink_can_index(const vcdc_sink_t *sink) {
        return sink->ops->index_start && sink->ops->index_poll &&
               sink->ops->index_state;
}

vcdc_sink_status_t vcdc_sink_index_start(vcdc_sink_t *sink,
                                         const vcdc_index_spec_t *spec,
                                         int *startedp, char *errstr,
                                         size_t errstr_size) {
        *startedp = 0;
        if (!vcdc_sink_can_index(sink))
                return unsupported(sink, "build an index", errstr,
                                   errstr_size);
        if (spec->kind == VCDC_INDEX_NONE)
                return VCDC_SINK_OK;
        return sink->ops->index_start(sink, spec, startedp, errstr,
                                      errstr_size);
}

vcdc_sink_status_t vcdc_sink_index_poll(vcdc_sink_t *sink, int *donep,
                                        char *errstr, size_t errstr_size) {
        *donep = 1;
        if (!vcdc_sink_can_index(sink))
                return unsupported(sink, "build an index", errstr,
                                   errstr_size);
        return sink->ops->index_poll(sink, donep, errstr, errstr_size);
}

vcdc_sink_status_t vcdc_sink_index_state(vcdc_sink_t *sink,
                                         vcdc_index_kind_t kind,
                                         vcdc_index_info_t *info,
                                         char *errstr, size_t errstr_size) {
        memset(info, 0, sizeof(*info));
        info->percent = -1;
        if (!vcdc_sink_can_index(sink))
                return unsupported(sink, "report an index", errstr,
                                   errstr_size);
        return sink->ops->index_state(sink, kind, info, errstr, errstr_size);
}

int64_t vcdc_sink_offset_for(const vcdc_sink_offset_t *offs, size_t cnt,
                             int32_t partition) {
        size_t i;

        for (i = 0; i < cnt; i++)
                if (offs[i].partition == partition)
                        return offs[i].offset;
        return -1;
}

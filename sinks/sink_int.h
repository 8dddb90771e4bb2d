/*
 * vcdc - sink internals: the table of operations each sink fills, and the
 * handle the wrappers in sink.c pass around. Only sink.c and the sink
 * implementations include this.
 */
#ifndef VCDC_SINK_INT_H
#define VCDC_SINK_INT_H

#include "sink.h"
#include "url.h"

/*
 * Required slots: scheme, open, close, target, dim, apply, record_offsets,
 * read_offsets (what the consumer uses). The others are optional: NULL means the sink cannot do
 * it, and the wrapper says so (VCDC_SINK_FATAL).
 */
struct vcdc_sink_ops {
        const char *scheme;
        /* 1: apply() records offsets in a write of their own after the
         * data (Chroma), not in the data's transaction (pgvector). */
        int offsets_apart;
        /* Fills sink->state; on failure returns -1 with errstr, after freeing
         * what it allocated (close is not called), and sets open_status to
         * RETRIABLE when the database could not be reached (it stays FATAL
         * otherwise: bad configuration, credentials, an incompatible
         * target). */
        int (*open)(vcdc_sink_t *sink, char *errstr, size_t errstr_size);
        void (*close)(vcdc_sink_t *sink);
        /* The collection or table written (vcdc_sink_target()). */
        const char *(*target)(vcdc_sink_t *sink);
        size_t (*max_batch)(vcdc_sink_t *sink);
        size_t (*dim)(vcdc_sink_t *sink);
        vcdc_sink_status_t (*check)(vcdc_sink_t *sink, const vcdc_record_t *rec,
                                    char *errstr, size_t errstr_size);
        vcdc_sink_status_t (*apply)(vcdc_sink_t *sink,
                                    const vcdc_sink_batch_t *batch,
                                    char *errstr, size_t errstr_size);
        /* apply() in two halves (sink.h): both or neither. */
        vcdc_sink_status_t (*apply_send)(vcdc_sink_t *sink,
                                         const vcdc_sink_batch_t *batch,
                                         char *errstr, size_t errstr_size);
        vcdc_sink_status_t (*apply_wait)(vcdc_sink_t *sink, char *errstr,
                                         size_t errstr_size);
        vcdc_sink_status_t (*record_offsets)(vcdc_sink_t *sink,
                                             const char *topic,
                                             const vcdc_sink_offset_t *offsets,
                                             size_t cnt, char *errstr,
                                             size_t errstr_size);
        vcdc_sink_status_t (*read_offsets)(vcdc_sink_t *sink, const char *topic,
                                           vcdc_sink_offset_t **offsetsp,
                                           size_t *cntp, char *errstr,
                                           size_t errstr_size);
        vcdc_sink_status_t (*count)(vcdc_sink_t *sink, uint64_t *countp,
                                    char *errstr, size_t errstr_size);
        vcdc_sink_status_t (*get)(vcdc_sink_t *sink, const char *const *ids,
                                  size_t cnt, vcdc_record_t *out, char *errstr,
                                  size_t errstr_size);
        vcdc_sink_status_t (*exists)(vcdc_sink_t *sink, int *existsp,
                                     char *errstr, size_t errstr_size);
        /* sh: vcdc_sink_scan_shifted() (may be NULL; lost and anchor
         * cleared). */
        vcdc_sink_status_t (*scan)(vcdc_sink_t *sink, char **cursorp,
                                   size_t max, int with_vectors,
                                   vcdc_sink_shift_t *sh,
                                   vcdc_record_t *out, size_t *cntp,
                                   char *errstr, size_t errstr_size);
        vcdc_sink_status_t (*query)(vcdc_sink_t *sink, const float *vector,
                                    size_t dim, size_t k, vcdc_hit_t *hits,
                                    size_t *cntp, char *errstr,
                                    size_t errstr_size);
        /* The index (sink.h): all three or none. */
        vcdc_sink_status_t (*index_start)(vcdc_sink_t *sink,
                                          const vcdc_index_spec_t *spec,
                                          int *startedp, char *errstr,
                                          size_t errstr_size);
        vcdc_sink_status_t (*index_poll)(vcdc_sink_t *sink, int *donep,
                                         char *errstr, size_t errstr_size);
        vcdc_sink_status_t (*index_state)(vcdc_sink_t *sink,
                                          vcdc_index_kind_t kind,
                                          vcdc_index_info_t *info,
                                          char *errstr, size_t errstr_size);
};

struct vcdc_sink_s {
        const struct vcdc_sink_ops *ops;
        vcdc_url_t *url;
        vcdc_sink_conf_t conf; /* metric resolved (never UNSET), timeout set */
        int metric_explicit;   /* the metric came from conf or the URL: an
                                * existing target must have it; otherwise
                                * the sink adopts the target's */
        int retry_smaller;     /* vcdc_sink_retry_smaller(): set by the
                                * implementation with a RETRIABLE answer */
        vcdc_sink_status_t open_status; /* why open failed (see open) */
        char name[256];
        void *state; /* the implementation's own */
};

extern const struct vcdc_sink_ops vcdc_sink_chroma_ops;
extern const struct vcdc_sink_ops vcdc_sink_pgvector_ops;

/**
 * Makes a sink implementation known by its scheme, in addition to chroma
 * and pgvector: for tests (an in-memory sink lets the Kafka side be tested
 * without a database). Call before any vcdc_sink_new(); ops must outlive
 * every sink. Returns 0, or -1 when a required slot is NULL, the scheme is
 * taken or the table is full (4).
 */
int vcdc_sink_register(const struct vcdc_sink_ops *ops);

/**
 * The rule every sink applies to a target that exists: refuses it (FATAL,
 * errstr saying why) when its dimension dim (0: not known) differs from
 * conf.dim, or its metric differs from the one configured (conf or the
 * URL's ?metric=); takes its metric when none was configured. metric
 * UNSET: the target records none, and is taken as configured. what names
 * the target in errstr ("collection docs", "table \"docs\"").
 */
vcdc_sink_status_t vcdc_sink_target_compat(vcdc_sink_t *sink, const char *what,
                                           size_t dim, vcdc_metric_t metric,
                                           char *errstr, size_t errstr_size);

#endif

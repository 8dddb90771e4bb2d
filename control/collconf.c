/*
 * vcdc - a collection's configuration on the control topic: codec, writer
 * and reader (collconf.h). The topic's plumbing is ctltopic.c's; what a
 * consumer does with a configuration is consumer.c's.
 */
#include "collconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctltopic.h"
#include "log.h"
#include "record.h"

#define JSON_TEXT_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII | \
                         JSON_REAL_PRECISION(17))

void vcdc_collconf_init(vcdc_collconf_t *cc) {
        memset(cc, 0, sizeof(*cc));
}

void vcdc_collconf_clear(vcdc_collconf_t *cc) {
        if (!cc)
                return;
        free(cc->collection);
        free(cc->index);
        free(cc->source);
        vcdc_collconf_init(cc);
}

char *vcdc_collconf_encode(const vcdc_collconf_t *cc, char *errstr,
                           size_t errstr_size) {
        json_t *obj = NULL, *index = NULL;
        json_error_t jerr;
        char *text;

        if (!cc->collection || !*cc->collection) {
                snprintf(errstr, errstr_size,
                         "collection configuration without a collection");
                return NULL;
        }
        if (cc->metric == VCDC_METRIC_UNSET) {
                snprintf(errstr, errstr_size,
                         "collection configuration of %s without a metric",
                         cc->collection);
                return NULL;
        }
        if (cc->dim > VCDC_DIM_MAX) {
                snprintf(errstr, errstr_size,
                         "collection configuration of %s: dimension %zu is "
                         "more than %d",
                         cc->collection, cc->dim, VCDC_DIM_MAX);
                return NULL;
        }
        if (cc->index) {
                if (!(index = json_loads(cc->index, JSON_REJECT_DUPLICATES,
                                         &jerr)) ||
                    !json_is_object(index)) {
                        snprintf(errstr, errstr_size,
                                 "collection configuration of %s: the index "
                                 "is not a JSON object%s%s",
                                 cc->collection, index ? "" : ": ",
                                 index ? "" : jerr.text);
                        json_decref(index);
                        return NULL;
                }
        } else if (!(index = json_null()))
                goto oom;
        /* json_pack with "o" steals index even on failure. */
        if (!(obj = json_pack("{s:s, s:s, s:s, s:I, s:o, s:s*, s:I}", "kind",
                              "collection", "collection", cc->collection,
                              "metric", vcdc_metric_name(cc->metric), "dim",
                              (json_int_t)cc->dim, "index", index, "source",
                              cc->source, "ts_ms", (json_int_t)cc->ts_ms)))
                goto oom;
        if (!(text = json_dumps(obj, JSON_TEXT_FLAGS)))
                goto oom;
        json_decref(obj);
        return text;
oom:
        json_decref(obj);
        snprintf(errstr, errstr_size,
                 "out of memory (or invalid UTF-8 in a collection "
                 "configuration string)");
        return NULL;
}

/* An optional string member, copied; 0, or -1 with errstr. */
static int get_str(json_t *obj, const char *name, int required, char **outp,
                   char *errstr, size_t errstr_size) {
        json_t *v = json_object_get(obj, name);

        if (!v || json_is_null(v)) {
                if (!required)
                        return 0;
                snprintf(errstr, errstr_size,
                         "collection configuration without \"%s\"", name);
                return -1;
        }
        if (!json_is_string(v)) {
                snprintf(errstr, errstr_size,
                         "collection configuration: \"%s\" is not a string",
                         name);
                return -1;
        }
        if (!(*outp = strdup(json_string_value(v)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        return 0;
}

/* The members after kind and collection. */
static int decode_fields(json_t *obj, vcdc_collconf_t *cc, char *errstr,
                         size_t errstr_size) {
        json_t *v;

        v = json_object_get(obj, "metric");
        if (!json_is_string(v) ||
            (cc->metric = vcdc_metric_parse(json_string_value(v))) ==
                    VCDC_METRIC_UNSET) {
                snprintf(errstr, errstr_size,
                         "collection configuration of %.100s: \"metric\" "
                         "must be \"cosine\", \"l2\" or \"ip\"",
                         cc->collection);
                return -1;
        }
        v = json_object_get(obj, "dim");
        if (v && !json_is_null(v)) {
                if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                    json_integer_value(v) > VCDC_DIM_MAX) {
                        snprintf(errstr, errstr_size,
                                 "collection configuration of %.100s: "
                                 "\"dim\" must be an integer 0..%d",
                                 cc->collection, VCDC_DIM_MAX);
                        return -1;
                }
                cc->dim = (size_t)json_integer_value(v);
        }
        v = json_object_get(obj, "index");
        if (v && !json_is_null(v)) {
                if (!json_is_object(v)) {
                        snprintf(errstr, errstr_size,
                                 "collection configuration of %.100s: "
                                 "\"index\" is not an object",
                                 cc->collection);
                        return -1;
                }
                if (!(cc->index = json_dumps(v, JSON_TEXT_FLAGS))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
        }
        if (get_str(obj, "source", 0, &cc->source, errstr, errstr_size) == -1)
                return -1;
        v = json_object_get(obj, "ts_ms");
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
                snprintf(errstr, errstr_size,
                         "collection configuration of %.100s: \"ts_ms\" "
                         "must be an integer >= 0",
                         cc->collection);
                return -1;
        }
        cc->ts_ms = (int64_t)json_integer_value(v);
        return 0;
}

int vcdc_collconf_decode(const void *buf, size_t len, vcdc_collconf_t *cc,
                         char *errstr, size_t errstr_size) {
        json_error_t jerr;
        json_t *obj;
        int r = -1;

        vcdc_collconf_init(cc);
        if (!buf) {
                snprintf(errstr, errstr_size,
                         "collection configuration without a value "
                         "(tombstone)");
                return -1;
        }
        if (!(obj = json_loadb(buf, len,
                               JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                               &jerr))) {
                snprintf(errstr, errstr_size,
                         "control record is not JSON: %s (at byte %d)",
                         jerr.text, jerr.position);
                return -1;
        }
        if (!json_is_object(obj)) {
                snprintf(errstr, errstr_size,
                         "control record is not a JSON object");
                goto done;
        }
        if (!vcdc_ctltopic_kind_is(obj, "collection")) {
                r = 1;
                goto done;
        }
        if (get_str(obj, "collection", 1, &cc->collection, errstr,
                    errstr_size) == -1)
                goto done;
        if (!*cc->collection) {
                snprintf(errstr, errstr_size,
                         "collection configuration: \"collection\" is "
                         "empty");
                goto done;
        }
        r = decode_fields(obj, cc, errstr, errstr_size);
done:
        json_decref(obj);
        if (r != 0)
                vcdc_collconf_clear(cc);
        return r;
}

int vcdc_collconf_write(const vcdc_conf_t *conf, const char *control_topic,
                        const vcdc_collconf_t *cc, char *errstr,
                        size_t errstr_size) {
        rd_kafka_resp_err_t err;
        const char *value_p;
        char *key = NULL, *value;
        size_t key_size;
        int r = -1;

        if (!control_topic)
                control_topic = VCDC_CONTROL_TOPIC;
        if (!(value = vcdc_collconf_encode(cc, errstr, errstr_size)))
                return -1;
        key_size = sizeof(VCDC_COLLCONF_KEY_PREFIX) + strlen(cc->collection);
        if (!(key = malloc(key_size))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        snprintf(key, key_size, "%s%s", VCDC_COLLCONF_KEY_PREFIX,
                 cc->collection);
        value_p = value;
        if (vcdc_ctltopic_write(conf, control_topic,
                                (const char *const *)&key, &value_p, 1, &err,
                                errstr, errstr_size) == -1)
                goto done;
        if (err) {
                snprintf(errstr, errstr_size,
                         "control topic %s: the configuration of collection "
                         "%s was not written: %s",
                         control_topic, cc->collection,
                         err == RD_KAFKA_RESP_ERR__IN_PROGRESS
                                 ? "no delivery report within the timeout"
                                 : rd_kafka_err2str(err));
                goto done;
        }
        r = 0;
done:
        free(key);
        free(value);
        return r;
}

/* The reader's state: the newest configuration of one collection. */
typedef struct collconf_find_s {
        const char *topic, *collection;
        vcdc_collconf_t *cc;
        int found;
} collconf_find_t;

static void find_cb(const rd_kafka_message_t *rkm, void *opaque) {
        collconf_find_t *fd = opaque;
        vcdc_collconf_t cc;
        char errstr[256];
        int r;

        if (rkm->err) {
                if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        VCDC_WARN("control", "%s [%" PRId32 "]: %s",
                                  fd->topic, rkm->partition,
                                  rd_kafka_message_errstr(rkm));
                return;
        }
        if (!rkm->payload)
                return; /* a tombstone: some key was retired */
        if ((r = vcdc_collconf_decode(rkm->payload, rkm->len, &cc, errstr,
                                      sizeof(errstr))) == 1)
                return; /* a route, a snapshot checkpoint, ... */
        if (r == -1) {
                VCDC_WARN("control",
                          "%s [%" PRId32 "] offset %" PRId64 ": skipped: %s",
                          fd->topic, rkm->partition, rkm->offset, errstr);
                return;
        }
        if (strcmp(cc.collection, fd->collection) ||
            (fd->found && cc.ts_ms < fd->cc->ts_ms)) {
                vcdc_collconf_clear(&cc);
                return;
        }
        vcdc_collconf_clear(fd->cc);
        *fd->cc = cc;
        fd->found = 1;
}

int vcdc_collconf_read(const vcdc_conf_t *conf, const char *control_topic,
                       const char *collection, vcdc_collconf_t *cc,
                       int *foundp, char *errstr, size_t errstr_size) {
        collconf_find_t fd = {.collection = collection, .cc = cc};
        vcdc_ctlreader_t *r;
        int missing;

        *foundp = 0;
        vcdc_collconf_init(cc);
        fd.topic = control_topic ? control_topic : VCDC_CONTROL_TOPIC;
        if (!(r = vcdc_ctlreader_new(conf, fd.topic, 0 /*never create*/,
                                     find_cb, &fd, &missing, errstr,
                                     errstr_size)))
                return missing ? 0 : -1;
        vcdc_ctlreader_destroy(r);
        *foundp = fd.found;
        return 0;
}

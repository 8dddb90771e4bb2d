/*
 * vcdc - the route in the control topic: record codec, reader, writer and
 * follower (the topic's plumbing is ctltopic.c's). It stores and reads switches; deciding whether to switch is
 * the cut-over gate's (control/cutover.c).
 */
#include "route.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "ctltopic.h"
#include "log.h"

const char *vcdc_route_side_name(vcdc_route_side_t side) {
        return side == VCDC_ROUTE_NEW ? "new" : "old";
}

int vcdc_route_side_parse(const char *name, vcdc_route_side_t *sidep) {
        if (!strcmp(name, "old"))
                *sidep = VCDC_ROUTE_OLD;
        else if (!strcmp(name, "new"))
                *sidep = VCDC_ROUTE_NEW;
        else
                return -1;
        return 0;
}

/*
 * The record codec.
 */

void vcdc_route_time_str(char *buf, size_t size, int64_t ts_ms) {
        time_t secs = (time_t)(ts_ms / 1000);
        struct tm tm;

        gmtime_r(&secs, &tm);
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(ts_ms % 1000));
}


void vcdc_route_record_init(vcdc_route_record_t *rec) {
        memset(rec, 0, sizeof(*rec));
}

void vcdc_route_record_clear(vcdc_route_record_t *rec) {
        if (!rec)
                return;
        free(rec->collection);
        free(rec->action);
        free(rec->user);
        free(rec->host);
        free(rec->gate);
        vcdc_route_record_init(rec);
}

static int record_copy(vcdc_route_record_t *dst,
                       const vcdc_route_record_t *src) {
        vcdc_route_record_init(dst);
        *dst = *src;
        dst->collection = dst->action = dst->user = dst->host = dst->gate =
                NULL;
        if ((src->collection && !(dst->collection = strdup(src->collection))) ||
            (src->action && !(dst->action = strdup(src->action))) ||
            (src->user && !(dst->user = strdup(src->user))) ||
            (src->host && !(dst->host = strdup(src->host))) ||
            (src->gate && !(dst->gate = strdup(src->gate)))) {
                vcdc_route_record_clear(dst);
                return -1;
        }
        return 0;
}

char *vcdc_route_record_encode(const vcdc_route_record_t *rec, char *errstr,
                               size_t errstr_size) {
        json_t *obj = NULL, *gate = NULL;
        json_error_t jerr;
        char *text = NULL;

        if (!rec->collection || !*rec->collection) {
                snprintf(errstr, errstr_size, "route record without a "
                                              "collection");
                return NULL;
        }
        if (rec->gate) {
                if (!(gate = json_loads(rec->gate, JSON_REJECT_DUPLICATES,
                                        &jerr))) {
                        snprintf(errstr, errstr_size,
                                 "gate of the route record is not JSON: %s",
                                 jerr.text);
                        return NULL;
                }
                if (!json_is_object(gate)) {
                        snprintf(errstr, errstr_size,
                                 "gate of the route record is not a JSON "
                                 "object");
                        json_decref(gate);
                        return NULL;
                }
        } else if (!(gate = json_object()))
                goto oom;
        /* json_pack with "o" steals gate even on failure. */
        obj = json_pack("{s:s, s:s, s:s, s:s*, s:I, s:s*, s:s*, s:b, s:o, "
                        "s:s}",
                        "collection", rec->collection, "route",
                        vcdc_route_side_name(rec->route), "previous",
                        vcdc_route_side_name(rec->previous), "action",
                        rec->action, "ts_ms", (json_int_t)rec->ts_ms, "user",
                        rec->user, "host", rec->host, "forced",
                        rec->forced ? 1 : 0, "gate", gate, "kind",
                        "route");
        if (!obj)
                goto oom;
        if (!(text = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII |
                                           JSON_REAL_PRECISION(15))))
                goto oom;
        json_decref(obj);
        return text;
oom:
        json_decref(obj);
        snprintf(errstr, errstr_size, "out of memory (or invalid UTF-8 in a "
                                      "route record string)");
        return NULL;
}

/* A string member: 0 when absent (and optional) or copied, -1 otherwise. */
static int get_str(json_t *obj, const char *name, int required, char **outp,
                   char *errstr, size_t errstr_size) {
        json_t *v = json_object_get(obj, name);

        if (!v || json_is_null(v)) {
                if (!required)
                        return 0;
                snprintf(errstr, errstr_size, "route record without \"%s\"",
                         name);
                return -1;
        }
        if (!json_is_string(v)) {
                snprintf(errstr, errstr_size,
                         "route record: \"%s\" is not a string", name);
                return -1;
        }
        if (!(*outp = strdup(json_string_value(v)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        return 0;
}

static int get_side(json_t *obj, const char *name, vcdc_route_side_t *sidep,
                    char *errstr, size_t errstr_size) {
        json_t *v = json_object_get(obj, name);

        if (!v || !json_is_string(v) ||
            vcdc_route_side_parse(json_string_value(v), sidep) == -1) {
                snprintf(errstr, errstr_size,
                         "route record: \"%s\" must be \"old\" or \"new\"",
                         name);
                return -1;
        }
        return 0;
}

int vcdc_route_record_decode(const void *buf, size_t len,
                             vcdc_route_record_t *rec, char *errstr,
                             size_t errstr_size) {
        json_error_t jerr;
        json_t *obj, *v;
        int r = -1;

        vcdc_route_record_init(rec);
        if (!buf) {
                snprintf(errstr, errstr_size, "route record without a value "
                                              "(tombstone)");
                return -1;
        }
        if (!(obj = json_loadb(buf, len,
                               JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                               &jerr))) {
                snprintf(errstr, errstr_size,
                         "route record is not JSON: %s (at byte %d)",
                         jerr.text, jerr.position);
                return -1;
        }
        if (!json_is_object(obj)) {
                snprintf(errstr, errstr_size,
                         "route record is not a JSON object");
                goto done;
        }
        if (!vcdc_ctltopic_kind_is(obj, "route")) {
                r = 1; /* another kind of control record */
                goto done;
        }
        if (get_str(obj, "collection", 1, &rec->collection, errstr,
                    errstr_size) == -1)
                goto done;
        if (!*rec->collection) {
                snprintf(errstr, errstr_size,
                         "route record: \"collection\" is empty");
                goto done;
        }
        if (get_side(obj, "route", &rec->route, errstr, errstr_size) == -1 ||
            get_side(obj, "previous", &rec->previous, errstr, errstr_size) ==
                    -1)
                goto done;
        v = json_object_get(obj, "ts_ms");
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
                snprintf(errstr, errstr_size,
                         "route record: \"ts_ms\" must be an integer >= 0");
                goto done;
        }
        rec->ts_ms = (int64_t)json_integer_value(v);
        if (get_str(obj, "action", 0, &rec->action, errstr, errstr_size) ==
                    -1 ||
            get_str(obj, "user", 0, &rec->user, errstr, errstr_size) == -1 ||
            get_str(obj, "host", 0, &rec->host, errstr, errstr_size) == -1)
                goto done;
        v = json_object_get(obj, "forced");
        if (v && !json_is_boolean(v)) {
                snprintf(errstr, errstr_size,
                         "route record: \"forced\" is not a boolean");
                goto done;
        }
        rec->forced = v && json_is_true(v);
        v = json_object_get(obj, "gate");
        if (v && !json_is_null(v)) {
                if (!json_is_object(v)) {
                        snprintf(errstr, errstr_size,
                                 "route record: \"gate\" is not an object");
                        goto done;
                }
                if (!(rec->gate = json_dumps(
                              v, JSON_COMPACT | JSON_ENSURE_ASCII |
                                         JSON_REAL_PRECISION(15)))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto done;
                }
        }
        r = 0;
done:
        json_decref(obj);
        if (r != 0)
                vcdc_route_record_clear(rec);
        return r;
}

int vcdc_route_history_key(const vcdc_route_record_t *rec, char *buf,
                           size_t size) {
        int n = snprintf(buf, size, "%s#%" PRId64, rec->collection,
                         rec->ts_ms);

        return n < 0 || (size_t)n >= size ? -1 : 0;
}

/*
 * The follower (the reader is a follower that also keeps the history and
 * stops at the end), on the control topic's reader (ctltopic.h).
 */

struct vcdc_route_follower_s {
        vcdc_ctlreader_t *reader;
        char *collection;
        int has_current;
        vcdc_route_record_t current;
        int keep_history;
        vcdc_route_record_t *history;
        size_t history_cnt, history_cap;
};

static void history_add(vcdc_route_follower_t *f,
                        const vcdc_route_record_t *rec) {
        size_t i;

        for (i = 0; i < f->history_cnt; i++)
                if (f->history[i].ts_ms == rec->ts_ms)
                        return; /* the same switch seen under another key */
        if (f->history_cnt == f->history_cap) {
                size_t cap = f->history_cap ? f->history_cap * 2 : 16;
                vcdc_route_record_t *h =
                        realloc(f->history, cap * sizeof(*h));
                if (!h) {
                        VCDC_ERR("route", "out of memory: history incomplete");
                        return;
                }
                f->history = h;
                f->history_cap = cap;
        }
        if (record_copy(&f->history[f->history_cnt], rec) == 0)
                f->history_cnt++;
}

/* One message of the control topic (vcdc_ctlreader_cb_t). */
static void handle(const rd_kafka_message_t *rkm, void *opaque) {
        vcdc_route_follower_t *f = opaque;
        /* Not f->reader's: this runs inside vcdc_ctlreader_new too. */
        const char *topic =
                rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "control topic";
        vcdc_route_record_t rec;
        char errstr[256];
        int r;

        if (rkm->err) {
                if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        VCDC_WARN("route", "%s [%" PRId32 "]: %s", topic,
                                  rkm->partition,
                                  rd_kafka_message_errstr(rkm));
                return;
        }
        if (!rkm->payload)
                return; /* a tombstone: some key was retired */
        if ((r = vcdc_route_record_decode(rkm->payload, rkm->len, &rec,
                                          errstr, sizeof(errstr))) == 1)
                return; /* a record of another kind */
        if (r == -1) {
                VCDC_WARN("route",
                          "%s [%" PRId32 "] offset %" PRId64 ": skipped: %s",
                          topic, rkm->partition, rkm->offset, errstr);
                return;
        }
        if (strcmp(rec.collection, f->collection)) {
                vcdc_route_record_clear(&rec);
                return;
        }
        if (f->keep_history &&
            !(rkm->key_len == strlen(f->collection) &&
              !memcmp(rkm->key, f->collection, rkm->key_len)))
                history_add(f, &rec);
        if (!f->has_current || rec.ts_ms >= f->current.ts_ms) {
                vcdc_route_record_clear(&f->current);
                f->current = rec;
                f->has_current = 1;
        } else
                vcdc_route_record_clear(&rec);
}

static vcdc_route_follower_t *follower_new(const vcdc_conf_t *conf,
                                           const char *control_topic,
                                           const char *collection,
                                           int keep_history, char *errstr,
                                           size_t errstr_size) {
        vcdc_route_follower_t *f = calloc(1, sizeof(*f));

        if (!f || !(f->collection = strdup(collection))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        f->keep_history = keep_history;
        /* Reads up to the end seen at start: the route is known once _new
         * returns. */
        if (!(f->reader = vcdc_ctlreader_new(conf, control_topic,
                                             1 /*create*/, handle, f, NULL,
                                             errstr, errstr_size)))
                goto err;
        return f;
err:
        vcdc_route_follower_destroy(f);
        return NULL;
}

vcdc_route_follower_t *vcdc_route_follower_new(const vcdc_conf_t *conf,
                                               const char *control_topic,
                                               const char *collection,
                                               char *errstr,
                                               size_t errstr_size) {
        return follower_new(conf, control_topic, collection, 0, errstr,
                            errstr_size);
}

vcdc_route_side_t vcdc_route_follower_side(const vcdc_route_follower_t *f) {
        return f->has_current ? f->current.route : VCDC_ROUTE_OLD;
}

const vcdc_route_record_t *
vcdc_route_follower_record(const vcdc_route_follower_t *f) {
        return f->has_current ? &f->current : NULL;
}

int vcdc_route_follower_poll(vcdc_route_follower_t *f, int timeout_ms) {
        vcdc_route_side_t before = vcdc_route_follower_side(f);

        vcdc_ctlreader_poll(f->reader, timeout_ms, 0 /*default bound*/);
        return vcdc_route_follower_side(f) != before;
}

void vcdc_route_follower_destroy(vcdc_route_follower_t *f) {
        size_t i;

        if (!f)
                return;
        vcdc_ctlreader_destroy(f->reader);
        vcdc_route_record_clear(&f->current);
        for (i = 0; i < f->history_cnt; i++)
                vcdc_route_record_clear(&f->history[i]);
        free(f->history);
        free(f->collection);
        free(f);
}

/*
 * The reader.
 */

static int by_ts(const void *a, const void *b) {
        const vcdc_route_record_t *x = a, *y = b;

        return x->ts_ms < y->ts_ms ? -1 : x->ts_ms > y->ts_ms;
}

int vcdc_route_read(const vcdc_conf_t *conf, const char *control_topic,
                    const char *collection, vcdc_route_state_t *state,
                    char *errstr, size_t errstr_size) {
        vcdc_route_follower_t *f;

        memset(state, 0, sizeof(*state));
        if (!(f = follower_new(conf, control_topic, collection, 1, errstr,
                               errstr_size)))
                return -1;
        if (f->has_current) {
                /* A switch whose history record was lost still counts. */
                history_add(f, &f->current);
                state->current = f->current;
                vcdc_route_record_init(&f->current);
                state->has_current = 1;
        }
        if (f->history_cnt > 1)
                qsort(f->history, f->history_cnt, sizeof(*f->history), by_ts);
        state->history = f->history;
        state->history_cnt = f->history_cnt;
        f->history = NULL;
        f->history_cnt = 0;
        vcdc_route_follower_destroy(f);
        return 0;
}

void vcdc_route_state_clear(vcdc_route_state_t *state) {
        size_t i;

        if (!state)
                return;
        vcdc_route_record_clear(&state->current);
        for (i = 0; i < state->history_cnt; i++)
                vcdc_route_record_clear(&state->history[i]);
        free(state->history);
        memset(state, 0, sizeof(*state));
}


/*
 * The writer.
 */

int vcdc_route_write(const vcdc_conf_t *conf, const char *control_topic,
                     const vcdc_route_record_t *rec, char *errstr,
                     size_t errstr_size) {
        rd_kafka_resp_err_t errs[2];
        const char *keys[2], *values[2];
        char hkey[1024], *value;
        int r = -1;

        if (!control_topic)
                control_topic = VCDC_ROUTE_CONTROL_TOPIC;
        if (!(value = vcdc_route_record_encode(rec, errstr, errstr_size)))
                return -1;
        if (vcdc_route_history_key(rec, hkey, sizeof(hkey)) == -1) {
                snprintf(errstr, errstr_size, "collection name too long");
                goto done;
        }
        /* The current route first: a history record of a switch that never
         * happened would be worse than a switch missing from the history
         * (the reader adds the current record to the history anyway). */
        keys[0] = rec->collection;
        keys[1] = hkey;
        values[0] = values[1] = value;
        if (vcdc_ctltopic_write(conf, control_topic, keys, values, 2, errs,
                                errstr, errstr_size) == -1)
                goto done;
        if (errs[0]) {
                snprintf(errstr, errstr_size,
                         "control topic %s: the route of %s was not written: "
                         "%s",
                         control_topic, rec->collection,
                         errs[0] == RD_KAFKA_RESP_ERR__IN_PROGRESS
                                 ? "no delivery report within the timeout"
                                 : rd_kafka_err2str(errs[0]));
                goto done;
        }
        if (errs[1])
                VCDC_WARN("route",
                          "control topic %s: the route of %s is written but "
                          "its history record %s is not: %s",
                          control_topic, rec->collection, hkey,
                          errs[1] == RD_KAFKA_RESP_ERR__IN_PROGRESS
                                  ? "no delivery report within the timeout"
                                  : rd_kafka_err2str(errs[1]));
        r = 0;
done:
        free(value);
        return r;
}

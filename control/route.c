/*
 * vcdc - the route in the control topic: record codec, reader, writer and
 * follower. It stores and reads switches; deciding whether to switch is
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

#include "admin.h"
#include "clock.h"
#include "log.h"

#define CONNECT_TIMEOUT_MS 15000
#define WRITE_TIMEOUT_MS   15000
#define DRAIN_MAX          10000 /* records handled by one poll at most */

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
        obj = json_pack("{s:s, s:s, s:s, s:s*, s:I, s:s*, s:s*, s:b, s:o}",
                        "collection", rec->collection, "route",
                        vcdc_route_side_name(rec->route), "previous",
                        vcdc_route_side_name(rec->previous), "action",
                        rec->action, "ts_ms", (json_int_t)rec->ts_ms, "user",
                        rec->user, "host", rec->host, "forced",
                        rec->forced ? 1 : 0, "gate", gate);
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
        v = json_object_get(obj, "kind");
        if (v && !(json_is_string(v) && !strcmp(json_string_value(v),
                                                 "route"))) {
                /* Another kind of control record (the gateway's
                 * collections): not a route, skipped quietly. */
                snprintf(errstr, errstr_size, "not a route record");
                r = VCDC_ROUTE_NOT_ROUTE;
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
        if (r < 0)
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
 * Kafka plumbing shared by the reader, the writer and the follower.
 */

/* A client configuration from conf without group settings: readers of the
 * control topic never join a group. */
static rd_kafka_conf_t *client_conf(const vcdc_conf_t *conf,
                                    const char *const *props, char *errstr,
                                    size_t errstr_size) {
        static const char *filter[] = {"group.", "enable.auto.",
                                       "auto.commit."};
        rd_kafka_conf_t *copy, *rkc;
        char err[256];

        if (!(copy = vcdc_conf_kafka_dup(conf))) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        rkc = rd_kafka_conf_dup_filter(copy, sizeof(filter) / sizeof(*filter),
                                       filter);
        rd_kafka_conf_destroy(copy);
        if (!rkc) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        rd_kafka_conf_set_log_cb(rkc, vcdc_log_rdkafka_cb);
        for (; props && props[0]; props += 2)
                if (rd_kafka_conf_set(rkc, props[0], props[1], err,
                                      sizeof(err)) != RD_KAFKA_CONF_OK) {
                        snprintf(errstr, errstr_size, "%s=%s: %s", props[0],
                                 props[1], err);
                        rd_kafka_conf_destroy(rkc);
                        return NULL;
                }
        return rkc;
}

/*
 * Creates the control topic if needed and waits until its partitions are
 * known. Returns the partition count, or -1 with errstr.
 */
int vcdc_route_ensure_topic(rd_kafka_t *rk, const char *topic, char *errstr,
                            size_t errstr_size) {
        static const char *const configs[] = {"cleanup.policy", "compact",
                                              NULL};
        int64_t deadline = vcdc_clock_ms() + CONNECT_TIMEOUT_MS;
        char policy[64], err[512];
        int cnt, created = 0;

        for (;;) {
                if (vcdc_admin_partition_count(rk, topic, &cnt, 5000, errstr,
                                               errstr_size) == -1)
                        return -1;
                if (cnt > 0)
                        break;
                if (!created) {
                        if (vcdc_admin_create_topic(
                                    rk, topic, 1 /*partition*/,
                                    -1 /*broker default*/, configs, 10000,
                                    errstr, errstr_size) == -1)
                                return -1;
                        VCDC_INFO("route", "created the control topic %s",
                                  topic);
                        created = 1;
                }
                if (vcdc_clock_ms() > deadline) {
                        snprintf(errstr, errstr_size,
                                 "control topic %s: no partitions after "
                                 "%d ms",
                                 topic, CONNECT_TIMEOUT_MS);
                        return -1;
                }
                nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000L}, NULL);
        }
        if (!created &&
            vcdc_admin_topic_config(rk, topic, "cleanup.policy", policy,
                                    sizeof(policy), 10000, err,
                                    sizeof(err)) == 0 &&
            !vcdc_admin_policy_keeps_history(policy))
                VCDC_WARN("route",
                          "control topic %s has cleanup.policy=%s: the "
                          "route and its history can be deleted; it should "
                          "be compact",
                          topic, policy);
        return cnt;
}

/*
 * The follower (the reader is a follower that also keeps the history and
 * stops at the end).
 */

typedef struct fpart_s {
        int32_t partition;
        int64_t end;    /* log end when the follower started */
        int started, caught_up;
} fpart_t;

struct vcdc_route_follower_s {
        rd_kafka_t *rk;
        rd_kafka_topic_t *rkt;
        rd_kafka_queue_t *q;
        char *topic, *collection;
        fpart_t *parts;
        size_t part_cnt;
        int has_current;
        vcdc_route_record_t current;
        int keep_history;
        vcdc_route_record_t *history;
        size_t history_cnt, history_cap;
};

static fpart_t *fpart_find(vcdc_route_follower_t *f, int32_t partition) {
        size_t i;

        for (i = 0; i < f->part_cnt; i++)
                if (f->parts[i].partition == partition)
                        return &f->parts[i];
        return NULL;
}

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

/* One message of the control topic. Returns 1 when the side changed. */
static int handle(vcdc_route_follower_t *f, const rd_kafka_message_t *rkm) {
        vcdc_route_record_t rec;
        vcdc_route_side_t before = vcdc_route_follower_side(f);
        fpart_t *p = fpart_find(f, rkm->partition);
        char errstr[256];
        int r;

        if (rkm->err) {
                if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (p)
                                p->caught_up = 1;
                } else
                        VCDC_WARN("route", "%s [%" PRId32 "]: %s", f->topic,
                                  rkm->partition,
                                  rd_kafka_message_errstr(rkm));
                return 0;
        }
        if (p && rkm->offset + 1 >= p->end)
                p->caught_up = 1;
        if (!rkm->payload)
                return 0; /* a tombstone: some key was retired */
        if ((r = vcdc_route_record_decode(rkm->payload, rkm->len, &rec,
                                          errstr, sizeof(errstr))) ==
            VCDC_ROUTE_NOT_ROUTE)
                return 0;
        if (r == -1) {
                VCDC_WARN("route",
                          "%s [%" PRId32 "] offset %" PRId64 ": skipped: %s",
                          f->topic, rkm->partition, rkm->offset, errstr);
                return 0;
        }
        if (strcmp(rec.collection, f->collection)) {
                vcdc_route_record_clear(&rec);
                return 0;
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
        return vcdc_route_follower_side(f) != before;
}

static int caught_up(const vcdc_route_follower_t *f) {
        size_t i;

        for (i = 0; i < f->part_cnt; i++)
                if (f->parts[i].started && !f->parts[i].caught_up)
                        return 0;
        return 1;
}

static vcdc_route_follower_t *follower_new(const vcdc_conf_t *conf,
                                           const char *control_topic,
                                           const char *collection,
                                           int keep_history, char *errstr,
                                           size_t errstr_size) {
        static const char *const props[] = {
                "enable.partition.eof", "true",
                "fetch.wait.max.ms", "100",
                "fetch.error.backoff.ms", "100",
                "auto.offset.reset", "earliest",
                "topic.metadata.refresh.interval.ms", "10000",
                NULL,
        };
        vcdc_route_follower_t *f = calloc(1, sizeof(*f));
        rd_kafka_conf_t *rkc = NULL;
        rd_kafka_message_t *rkm;
        int64_t deadline = vcdc_clock_ms() + CONNECT_TIMEOUT_MS, lo;
        char err[512];
        int cnt;
        size_t i;

        if (!control_topic)
                control_topic = VCDC_ROUTE_CONTROL_TOPIC;
        if (!f || !(f->topic = strdup(control_topic)) ||
            !(f->collection = strdup(collection))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        f->keep_history = keep_history;
        if (!(rkc = client_conf(conf, props, errstr, errstr_size)))
                goto err;
        if (!(f->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, err,
                                   sizeof(err)))) {
                snprintf(errstr, errstr_size, "control topic reader: %s", err);
                goto err;
        }
        rkc = NULL;
        if ((cnt = vcdc_route_ensure_topic(f->rk, control_topic, errstr, errstr_size)) ==
            -1)
                goto err;
        if (!(f->parts = calloc((size_t)cnt, sizeof(*f->parts))) ||
            !(f->rkt = rd_kafka_topic_new(f->rk, control_topic, NULL)) ||
            !(f->q = rd_kafka_queue_new(f->rk))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto err;
        }
        f->part_cnt = (size_t)cnt;
        for (i = 0; i < f->part_cnt; i++) {
                fpart_t *p = &f->parts[i];
                rd_kafka_resp_err_t kerr;

                p->partition = (int32_t)i;
                /* A new topic's leader may take a moment to be elected. */
                while ((kerr = rd_kafka_query_watermark_offsets(
                                f->rk, control_topic, p->partition, &lo,
                                &p->end, 5000)) &&
                       vcdc_clock_ms() < deadline)
                        nanosleep(&(struct timespec){.tv_nsec = 100000000L},
                                  NULL);
                if (kerr) {
                        snprintf(errstr, errstr_size,
                                 "control topic %s [%" PRId32
                                 "]: cannot read the log end: %s",
                                 control_topic, p->partition,
                                 rd_kafka_err2str(kerr));
                        goto err;
                }
                p->caught_up = p->end <= lo;
                if (rd_kafka_consume_start_queue(f->rkt, p->partition,
                                                 RD_KAFKA_OFFSET_BEGINNING,
                                                 f->q) == -1) {
                        snprintf(errstr, errstr_size,
                                 "control topic %s [%" PRId32 "]: %s",
                                 control_topic, p->partition,
                                 rd_kafka_err2str(rd_kafka_last_error()));
                        goto err;
                }
                p->started = 1;
        }
        /* Up to the end seen at start: the route is known once _new
         * returns. */
        while (!caught_up(f)) {
                if (vcdc_clock_ms() > deadline) {
                        snprintf(errstr, errstr_size,
                                 "control topic %s: not read to its end "
                                 "within %d ms",
                                 control_topic, CONNECT_TIMEOUT_MS);
                        goto err;
                }
                if ((rkm = rd_kafka_consume_queue(f->q, 100 /*ms*/))) {
                        handle(f, rkm);
                        rd_kafka_message_destroy(rkm);
                }
        }
        return f;
err:
        if (rkc)
                rd_kafka_conf_destroy(rkc);
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
        rd_kafka_message_t *rkm;
        int n = 0;

        rkm = rd_kafka_consume_queue(f->q, timeout_ms);
        while (rkm) {
                handle(f, rkm);
                rd_kafka_message_destroy(rkm);
                if (++n >= DRAIN_MAX)
                        break;
                rkm = rd_kafka_consume_queue(f->q, 0 /*non-blocking*/);
        }
        return vcdc_route_follower_side(f) != before;
}

void vcdc_route_follower_destroy(vcdc_route_follower_t *f) {
        size_t i;

        if (!f)
                return;
        for (i = 0; i < f->part_cnt; i++)
                if (f->parts[i].started)
                        rd_kafka_consume_stop(f->rkt, f->parts[i].partition);
        if (f->q)
                rd_kafka_queue_destroy(f->q);
        if (f->rkt)
                rd_kafka_topic_destroy(f->rkt);
        if (f->rk)
                rd_kafka_destroy(f->rk);
        vcdc_route_record_clear(&f->current);
        for (i = 0; i < f->history_cnt; i++)
                vcdc_route_record_clear(&f->history[i]);
        free(f->history);
        free(f->parts);
        free(f->topic);
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

typedef struct delivery_s {
        int pending;
        rd_kafka_resp_err_t err[2];
} delivery_t;

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                      void *opaque) {
        delivery_t *d = opaque;
        intptr_t which = (intptr_t)rkm->_private;

        (void)rk;
        if (which >= 0 && which < 2)
                d->err[which] = rkm->err;
        d->pending--;
}

int vcdc_route_write(const vcdc_conf_t *conf, const char *control_topic,
                     const vcdc_route_record_t *rec, char *errstr,
                     size_t errstr_size) {
        static const char *const props[] = {
                "enable.idempotence", "true",
                "acks", "all",
                "linger.ms", "0",
                /* A producer's metadata request would otherwise have the
                 * broker create a missing topic with its defaults (not
                 * compacted) before ensure_topic() creates it right. */
                "allow.auto.create.topics", "false",
                NULL,
        };
        delivery_t d = {.pending = 0,
                        .err = {RD_KAFKA_RESP_ERR__IN_PROGRESS,
                                RD_KAFKA_RESP_ERR__IN_PROGRESS}};
        rd_kafka_conf_t *rkc;
        rd_kafka_t *rk = NULL;
        rd_kafka_resp_err_t kerr;
        char hkey[1024], err[512], *value;
        const char *keys[2];
        int64_t deadline;
        int r = -1;
        intptr_t i;

        if (!control_topic)
                control_topic = VCDC_ROUTE_CONTROL_TOPIC;
        if (!(value = vcdc_route_record_encode(rec, errstr, errstr_size)))
                return -1;
        if (vcdc_route_history_key(rec, hkey, sizeof(hkey)) == -1) {
                snprintf(errstr, errstr_size, "collection name too long");
                goto done;
        }
        if (!(rkc = client_conf(conf, props, errstr, errstr_size)))
                goto done;
        rd_kafka_conf_set_opaque(rkc, &d);
        rd_kafka_conf_set_dr_msg_cb(rkc, dr_msg_cb);
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, err, sizeof(err)))) {
                snprintf(errstr, errstr_size, "control topic writer: %s", err);
                rd_kafka_conf_destroy(rkc);
                goto done;
        }
        if (vcdc_route_ensure_topic(rk, control_topic, errstr, errstr_size) == -1)
                goto done;
        /* The current route first: a history record of a switch that never
         * happened would be worse than a switch missing from the history
         * (the reader adds the current record to the history anyway). */
        keys[0] = rec->collection;
        keys[1] = hkey;
        for (i = 0; i < 2; i++) {
                deadline = vcdc_clock_ms() + WRITE_TIMEOUT_MS;
                while ((kerr = rd_kafka_producev(
                                rk, RD_KAFKA_V_TOPIC(control_topic),
                                RD_KAFKA_V_KEY(keys[i], strlen(keys[i])),
                                RD_KAFKA_V_VALUE(value, strlen(value)),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_OPAQUE((void *)i),
                                RD_KAFKA_V_END)) ==
                               RD_KAFKA_RESP_ERR__QUEUE_FULL &&
                       vcdc_clock_ms() < deadline)
                        rd_kafka_poll(rk, 100 /*ms*/);
                if (kerr) {
                        snprintf(errstr, errstr_size,
                                 "control topic %s: cannot produce: %s",
                                 control_topic, rd_kafka_err2str(kerr));
                        goto done;
                }
                d.pending++;
        }
        rd_kafka_flush(rk, WRITE_TIMEOUT_MS);
        if (d.err[0]) {
                snprintf(errstr, errstr_size,
                         "control topic %s: the route of %s was not written: "
                         "%s",
                         control_topic, rec->collection,
                         d.err[0] == RD_KAFKA_RESP_ERR__IN_PROGRESS
                                 ? "no delivery report within the timeout"
                                 : rd_kafka_err2str(d.err[0]));
                goto done;
        }
        if (d.err[1])
                VCDC_WARN("route",
                          "control topic %s: the route of %s is written but "
                          "its history record %s is not: %s",
                          control_topic, rec->collection, hkey,
                          d.err[1] == RD_KAFKA_RESP_ERR__IN_PROGRESS
                                  ? "no delivery report within the timeout"
                                  : rd_kafka_err2str(d.err[1]));
        r = 0;
done:
        if (rk)
                rd_kafka_destroy(rk);
        free(value);
        return r;
}

/*
 * vcdc - the snapshot's checkpoints on the control topic: one record per
 * step of a chunk, under the key "snapshot:TOPIC:COLLECTION" (compaction
 * keeps the latest), value a JSON object:
 *
 *   {"kind": "snapshot", "topic": "vectors", "collection": "docs",
 *    "run": "5f0c...", "chunk": 12, "state": "appending|done|finished",
 *    "cursor": "..."|null, "cursor_lw": [..], "hw": [..]|null,
 *    "records": N, "repairs": N, "superseded": N, "ts_ms": ...}
 *
 * Readers of routes skip records whose kind is not "route". Writes wait
 * for their acknowledgement: a chunk is never written before the
 * checkpoint that lets a rerun repair it is in the log.
 */
#include "snap_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin.h"
#include "clock.h"
#include "log.h"

#define WRITE_TIMEOUT_MS 30000

static const char *const state_names[] = {"none", "appending", "done",
                                          "finished"};

void snap_ckpt_clear(ckpt_t *ck) {
        free(ck->cursor);
        free(ck->cursor_lw);
        free(ck->hw);
        memset(ck, 0, sizeof(*ck));
}

static int key_of(const snap_t *s, char *buf, size_t size) {
        return snprintf(buf, size, "snapshot:%s:%s", s->o->topic,
                        s->collection) < (int)size
                       ? 0
                       : -1;
}

static json_t *offsets_json(const int64_t *v, int n) {
        json_t *a = json_array();
        int i;

        for (i = 0; v && a && i < n; i++)
                json_array_append_new(a, json_integer(v[i]));
        return v ? a : (json_decref(a), json_null());
}

/* An array of n offsets, or NULL (with *okp 0 when it is malformed). */
static int64_t *offsets_of(json_t *a, int n, int *okp) {
        int64_t *v;
        int i;

        if (!a || json_is_null(a))
                return NULL;
        if (!json_is_array(a) || json_array_size(a) != (size_t)n ||
            !(v = calloc((size_t)n, sizeof(*v)))) {
                *okp = 0;
                return NULL;
        }
        for (i = 0; i < n; i++) {
                if (!json_is_integer(json_array_get(a, (size_t)i))) {
                        free(v);
                        *okp = 0;
                        return NULL;
                }
                v[i] = json_integer_value(json_array_get(a, (size_t)i));
        }
        return v;
}

/* Parses one checkpoint value of s's topic and collection into ck.
 * Returns 1 when it is one, 0 when it is another record, -1 malformed. */
static int decode(const snap_t *s, const void *buf, size_t len, ckpt_t *ck) {
        json_t *root = json_loadb(buf, len, 0, NULL);
        const char *kind = NULL, *topic = NULL, *coll = NULL, *run = NULL,
                   *state = NULL, *cursor = NULL;
        json_int_t chunk = 0, records = 0, repairs = 0, superseded = 0;
        json_t *lw = NULL, *hw = NULL;
        int r = -1, ok = 1;
        size_t i;

        memset(ck, 0, sizeof(*ck));
        if (!root)
                return -1;
        if (json_unpack(root, "{s?s}", "kind", &kind) || !kind ||
            strcmp(kind, "snapshot")) {
                r = 0;
                goto out;
        }
        if (json_unpack(root,
                        "{s:s, s:s, s:s, s:I, s:s, s?s, s?o, s?o, s?I, s?I, "
                        "s?I}",
                        "topic", &topic, "collection", &coll, "run", &run,
                        "chunk", &chunk, "state", &state, "cursor", &cursor,
                        "cursor_lw", &lw, "hw", &hw, "records", &records,
                        "repairs", &repairs, "superseded", &superseded) ||
            strlen(run) >= sizeof(ck->run))
                goto out;
        if (strcmp(topic, s->o->topic) || strcmp(coll, s->collection)) {
                r = 0;
                goto out;
        }
        for (i = 1; i < sizeof(state_names) / sizeof(*state_names); i++)
                if (!strcmp(state, state_names[i]))
                        ck->state = (ckpt_state_t)i;
        if (ck->state == CKPT_NONE)
                goto out;
        snprintf(ck->run, sizeof(ck->run), "%s", run);
        ck->chunk = chunk;
        ck->parts = s->parts;
        ck->records = (uint64_t)records;
        ck->repairs = (uint64_t)repairs;
        ck->superseded = (uint64_t)superseded;
        if (cursor && !(ck->cursor = strdup(cursor)))
                ok = 0;
        ck->cursor_lw = offsets_of(lw, s->parts, &ok);
        ck->hw = offsets_of(hw, s->parts, &ok);
        if (!ok || (ck->state == CKPT_APPENDING && !ck->hw))
                goto out;
        r = 1;
out:
        if (r != 1)
                snap_ckpt_clear(ck);
        json_decref(root);
        return r;
}

typedef struct scan_s {
        const snap_t *s;
        const char *key;
        ckpt_t *latest;
} scan_t;

static int on_record(const vcdc_logmsg_t *m, void *opaque, char *errstr,
                     size_t errstr_size) {
        scan_t *x = opaque;
        ckpt_t ck;
        int r;

        (void)errstr;
        (void)errstr_size;
        if (!m->value || m->key_len != strlen(x->key) ||
            memcmp(m->key, x->key, m->key_len))
                return 0;
        if ((r = decode(x->s, m->value, m->value_len, &ck)) == -1) {
                VCDC_WARN("snapshot",
                          "control topic [%" PRId32 "] offset %" PRId64
                          ": a malformed snapshot checkpoint, skipped",
                          m->partition, m->offset);
                return 0;
        }
        if (r == 1) {
                snap_ckpt_clear(x->latest);
                *x->latest = ck;
        }
        return 0;
}

int snap_ckpt_read(snap_t *s, ckpt_t *ck, char *errstr, size_t errstr_size) {
        vcdc_logread_t *lr;
        char key[1024];
        int64_t *from = NULL, *to = NULL;
        scan_t x = {s, key, ck};
        int missing, n, r = -1;

        memset(ck, 0, sizeof(*ck));
        if (key_of(s, key, sizeof(key)) == -1) {
                snprintf(errstr, errstr_size, "collection name too long");
                return -1;
        }
        if (!(lr = vcdc_logread_new(s->conf, s->control_topic, 0, &missing,
                                    errstr, errstr_size)))
                return missing ? 0 : -1;
        n = vcdc_logread_partitions(lr);
        if (!(from = calloc((size_t)n, sizeof(*from))) ||
            !(to = calloc((size_t)n, sizeof(*to)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
        }
        if (vcdc_logread_ends(lr, to, errstr, errstr_size) == -1 ||
            vcdc_logread_range(lr, from, to, on_record, &x, errstr,
                               errstr_size) == -1)
                goto out;
        r = 0;
out:
        free(from);
        free(to);
        vcdc_logread_destroy(lr);
        return r;
}

/* ---- The writer --------------------------------------------------------- */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                  void *opaque) {
        (void)rk;
        *(rd_kafka_resp_err_t *)opaque = rkm->err;
}

/* The run's control-topic producer, made on first use (the topic created
 * compacted when missing, as the route's writer does). */
static rd_kafka_t *writer(snap_t *s, rd_kafka_resp_err_t *errp, char *errstr,
                          size_t errstr_size) {
        static const char *const props[] = {
                "enable.idempotence", "true",
                "acks", "all",
                "linger.ms", "0",
                NULL,
        };
        static const char *const configs[] = {"cleanup.policy", "compact",
                                              NULL};
        rd_kafka_conf_t *rkc;
        char err[512];
        int cnt;

        if (s->ckpt_rk)
                return s->ckpt_rk;
        if (!(rkc = vcdc_conf_kafka_reader(s->conf, props, errstr,
                                           errstr_size)))
                return NULL;
        rd_kafka_conf_set_opaque(rkc, errp);
        rd_kafka_conf_set_dr_msg_cb(rkc, dr_cb);
        if (!(s->ckpt_rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, err,
                                        sizeof(err)))) {
                snprintf(errstr, errstr_size, "control topic writer: %s", err);
                rd_kafka_conf_destroy(rkc);
                return NULL;
        }
        if (vcdc_admin_partition_count(s->ckpt_rk, s->control_topic, &cnt,
                                       WRITE_TIMEOUT_MS, errstr,
                                       errstr_size) == -1 ||
            (!cnt && vcdc_admin_create_topic(s->ckpt_rk, s->control_topic, 1,
                                             -1, configs, WRITE_TIMEOUT_MS,
                                             errstr, errstr_size) == -1))
                return NULL;
        return s->ckpt_rk;
}

int snap_ckpt_write(snap_t *s, const ckpt_t *ck, char *errstr,
                    size_t errstr_size) {
        rd_kafka_resp_err_t err;
        rd_kafka_t *rk;
        char key[1024], *value;
        json_t *root;
        int r = -1;

        if (key_of(s, key, sizeof(key)) == -1) {
                snprintf(errstr, errstr_size, "collection name too long");
                return -1;
        }
        root = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s?, s:o, s:o, "
                         "s:I, s:I, s:I, s:I}",
                         "kind", "snapshot", "topic", s->o->topic,
                         "collection", s->collection, "run", ck->run, "chunk",
                         (json_int_t)ck->chunk, "state",
                         state_names[ck->state], "cursor", ck->cursor,
                         "cursor_lw", offsets_json(ck->cursor_lw, s->parts),
                         "hw", offsets_json(ck->hw, s->parts), "records",
                         (json_int_t)ck->records, "repairs",
                         (json_int_t)ck->repairs, "superseded",
                         (json_int_t)ck->superseded, "ts_ms",
                         (json_int_t)vcdc_wall_ms());
        if (!root || !(value = json_dumps(root, JSON_COMPACT))) {
                json_decref(root);
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        json_decref(root);
        err = RD_KAFKA_RESP_ERR__IN_PROGRESS;
        if (!(rk = writer(s, &s->ckpt_err, errstr, errstr_size)))
                goto out;
        s->ckpt_err = RD_KAFKA_RESP_ERR__IN_PROGRESS;
        if ((err = rd_kafka_producev(
                     rk, RD_KAFKA_V_TOPIC(s->control_topic),
                     RD_KAFKA_V_KEY(key, strlen(key)),
                     RD_KAFKA_V_VALUE(value, strlen(value)),
                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                     RD_KAFKA_V_END))) {
                snprintf(errstr, errstr_size, "control topic %s: %s",
                         s->control_topic, rd_kafka_err2str(err));
                goto out;
        }
        rd_kafka_flush(rk, WRITE_TIMEOUT_MS);
        if (s->ckpt_err) {
                snprintf(errstr, errstr_size,
                         "control topic %s: the checkpoint of chunk %" PRId64
                         " was not written: %s",
                         s->control_topic, ck->chunk,
                         s->ckpt_err == RD_KAFKA_RESP_ERR__IN_PROGRESS
                                 ? "no delivery report within the timeout"
                                 : rd_kafka_err2str(s->ckpt_err));
                goto out;
        }
        r = 0;
out:
        free(value);
        return r;
}

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
 * The control topic's plumbing is ctltopic.h's; readers of other kinds
 * skip these records. Writes wait for their acknowledgement: a chunk is never written before the
 * checkpoint that lets a rerun repair it is in the log.
 */
#include "snap_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "ctltopic.h"
#include "log.h"

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
                if (v[i] < 0) {
                        free(v);
                        *okp = 0;
                        return NULL;
                }
        }
        return v;
}

int snap_ckpt_decode(const char *topic_want, const char *coll_want,
                     int parts, const void *buf, size_t len, ckpt_t *ck) {
        json_t *root = json_loadb(buf, len, 0, NULL);
        const char *topic = NULL, *coll = NULL, *run = NULL, *state = NULL;
        json_int_t chunk = 0, records = 0, repairs = 0, superseded = 0;
        json_t *lw = NULL, *hw = NULL, *cursor = NULL;
        int r = -1, ok = 1;
        size_t i;

        memset(ck, 0, sizeof(*ck));
        if (!root)
                return -1;
        if (!json_is_object(root) || !vcdc_ctltopic_kind_is(root, "snapshot")) {
                r = 0;
                goto out;
        }
        if (json_unpack(root,
                        "{s:s, s:s, s:s, s:I, s:s, s?o, s?o, s?o, s?I, s?I, "
                        "s?I}",
                        "topic", &topic, "collection", &coll, "run", &run,
                        "chunk", &chunk, "state", &state, "cursor", &cursor,
                        "cursor_lw", &lw, "hw", &hw, "records", &records,
                        "repairs", &repairs, "superseded", &superseded) ||
            strlen(run) >= sizeof(ck->run) ||
            (cursor && !json_is_null(cursor) && !json_is_string(cursor)))
                goto out;
        if (strcmp(topic, topic_want) || strcmp(coll, coll_want)) {
                r = 0;
                goto out;
        }
        for (i = 1; i < sizeof(state_names) / sizeof(*state_names); i++)
                if (!strcmp(state, state_names[i]))
                        ck->state = (ckpt_state_t)i;
        if (ck->state == CKPT_NONE || chunk < 0)
                goto out;
        snprintf(ck->run, sizeof(ck->run), "%s", run);
        ck->chunk = chunk;
        ck->parts = parts;
        ck->records = (uint64_t)records;
        ck->repairs = (uint64_t)repairs;
        ck->superseded = (uint64_t)superseded;
        if (json_is_string(cursor) &&
            !(ck->cursor = strdup(json_string_value(cursor))))
                ok = 0;
        ck->cursor_lw = offsets_of(lw, parts, &ok);
        ck->hw = offsets_of(hw, parts, &ok);
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

static void on_record(const rd_kafka_message_t *rkm, void *opaque) {
        scan_t *x = opaque;
        ckpt_t ck;
        int r;

        if (rkm->err || !rkm->payload || rkm->key_len != strlen(x->key) ||
            memcmp(rkm->key, x->key, rkm->key_len))
                return;
        if ((r = snap_ckpt_decode(x->s->o->topic, x->s->collection,
                                  x->s->parts, rkm->payload, rkm->len,
                                  &ck)) == -1) {
                VCDC_WARN("snapshot",
                          "control topic [%" PRId32 "] offset %" PRId64
                          ": a malformed snapshot checkpoint, skipped",
                          rkm->partition, rkm->offset);
                return;
        }
        if (r == 1) {
                snap_ckpt_clear(x->latest);
                *x->latest = ck;
        }
}

int snap_ckpt_read(snap_t *s, ckpt_t *ck, char *errstr, size_t errstr_size) {
        vcdc_ctlreader_t *r;
        char key[1024];
        scan_t x = {s, key, ck};
        int missing;

        memset(ck, 0, sizeof(*ck));
        if (key_of(s, key, sizeof(key)) == -1) {
                snprintf(errstr, errstr_size, "collection name too long");
                return -1;
        }
        if (!(r = vcdc_ctlreader_new(s->conf, s->control_topic, 0, on_record,
                                     &x, &missing, errstr, errstr_size)))
                return missing ? 0 : -1;
        vcdc_ctlreader_destroy(r);
        return 0;
}

/* ---- The writer --------------------------------------------------------- */

char *snap_ckpt_encode(const char *topic, const char *collection,
                       const ckpt_t *ck) {
        json_t *root;
        char *value;

        root = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s?, s:o, s:o, "
                         "s:I, s:I, s:I, s:I}",
                         "kind", "snapshot", "topic", topic, "collection",
                         collection, "run", ck->run, "chunk",
                         (json_int_t)ck->chunk, "state",
                         state_names[ck->state], "cursor", ck->cursor,
                         "cursor_lw", offsets_json(ck->cursor_lw, ck->parts),
                         "hw", offsets_json(ck->hw, ck->parts), "records",
                         (json_int_t)ck->records, "repairs",
                         (json_int_t)ck->repairs, "superseded",
                         (json_int_t)ck->superseded, "ts_ms",
                         (json_int_t)vcdc_wall_ms());
        value = root ? json_dumps(root, JSON_COMPACT) : NULL;
        json_decref(root);
        return value;
}

int snap_ckpt_write(snap_t *s, const ckpt_t *ck, char *errstr,
                    size_t errstr_size) {
        rd_kafka_resp_err_t err;
        char key[1024], *value;
        const char *k = key;
        int r = -1;

        if (key_of(s, key, sizeof(key)) == -1) {
                snprintf(errstr, errstr_size, "collection name too long");
                return -1;
        }
        if (!(value = snap_ckpt_encode(s->o->topic, s->collection, ck))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (!s->ckpt &&
            !(s->ckpt = vcdc_ctlwriter_new(s->conf, s->control_topic, errstr,
                                           errstr_size)))
                goto out;
        if (vcdc_ctlwriter_write(s->ckpt, &k, (const char *const *)&value, 1,
                                 &err, errstr, errstr_size) == -1)
                goto out;
        if (err) {
                snprintf(errstr, errstr_size,
                         "control topic %s: the checkpoint of chunk %" PRId64
                         " was not written: %s",
                         s->control_topic, ck->chunk,
                         err == RD_KAFKA_RESP_ERR__IN_PROGRESS
                                 ? "no delivery report within the timeout"
                                 : rd_kafka_err2str(err));
                goto out;
        }
        r = 0;
out:
        free(value);
        return r;
}

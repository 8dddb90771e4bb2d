/*
 * vcdc - test kit for the consumer's scenario tests: one scenario's world
 * and what the tests do in it (scenario.h). Moved here unchanged from
 * test_consumer_scenarios.c when it was split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "scenario/scenario.h"

int scen_init(int argc, char **argv, int *rcp) {
        const char *v;

        if (kit_main_init(argc, argv, rcp))
                return 1;
        if ((v = getenv("VCDC_TEST_FILTER")) && *v)
                cmocka_set_test_filter(v);
        return 0;
}

void scen_start(scen_t *s, const char *topic) {
        char errstr[512];
        vcdc_conf_t *conf;

        memset(s, 0, sizeof(*s));
        s->topic = topic;
        snprintf(s->dir, sizeof(s->dir), "/tmp/vcdc-scenario-XXXXXX");
        if (!mkdtemp(s->dir))
                fail_msg("mkdtemp: %s", strerror(errno));
        snprintf(s->db_path, sizeof(s->db_path), "%s/db", s->dir);
        if (kit_mock_start(&s->mock, 1, topic, 1, errstr, sizeof(errstr)))
                fail_msg("%s", errstr);
        if (!(s->db = memdb_create(s->db_path, topic, errstr,
                                   sizeof(errstr))))
                fail_msg("%s", errstr);
        assert_non_null(conf = vcdc_conf_new());
        if (vcdc_conf_set(conf, "bootstrap.servers", s->mock.bootstraps,
                          errstr, sizeof(errstr)) ||
            vcdc_conf_set(conf, "max.in.flight.requests.per.connection", "1",
                          errstr, sizeof(errstr)) ||
            !(s->producer = vcdc_producer_new(conf, topic, errstr,
                                              sizeof(errstr))))
                fail_msg("producer: %s", errstr);
        vcdc_conf_destroy(conf);
}

/* The record of tag: a vector of dim floats from tag, metadata (nested or
 * not) and document "s<tag><suffix>". */
void scen_make_rec(vcdc_record_t *rec, const char *coll, const char *id,
                   vcdc_op_t op, uint32_t dim, int tag, const char *suffix,
                   int nested) {
        char buf[96];
        uint32_t i;

        vcdc_record_init(rec);
        assert_non_null(rec->collection = strdup(coll));
        assert_non_null(rec->id = strdup(id));
        rec->op = op;
        rec->source_ts_ms = tag;
        if (op == VCDC_OP_DELETE)
                return;
        rec->dim = dim;
        assert_non_null(rec->vector = malloc(dim * sizeof(float)));
        for (i = 0; i < dim; i++)
                rec->vector[i] = (float)tag + 0.5f * (float)i;
        if (nested)
                snprintf(buf, sizeof(buf), "{\"tag\":%d,\"x\":{\"y\":1}}",
                         tag);
        else
                snprintf(buf, sizeof(buf), "{\"tag\":%d}", tag);
        assert_non_null(rec->metadata = strdup(buf));
        snprintf(buf, sizeof(buf), "s%d%s", tag, suffix ? suffix : "");
        assert_non_null(rec->document = strdup(buf));
}

/* Writes one change; returns its offset (a delete's tombstone follows). */
int64_t scen_send(scen_t *s, const char *coll, const char *id, vcdc_op_t op,
                  uint32_t dim, int tag, const char *suffix, int nested) {
        vcdc_record_t rec;
        char errstr[512];
        int64_t offset = s->written;

        scen_make_rec(&rec, coll, id, op, dim, tag, suffix, nested);
        if (vcdc_producer_send(s->producer, &rec, errstr, sizeof(errstr)))
                fail_msg("send: %s", errstr);
        vcdc_record_clear(&rec);
        s->written += op == VCDC_OP_DELETE ? 2 : 1;
        return offset;
}

void scen_flush(scen_t *s) {
        char errstr[512];

        if (vcdc_producer_flush(s->producer, SCEN_WAIT_MS, errstr,
                                sizeof(errstr)))
                fail_msg("flush: %s", errstr);
}

/* The hash of the record scen_send() wrote for these arguments. */
uint64_t scen_rec_hash(const char *coll, const char *id, uint32_t dim, int tag,
                       const char *suffix) {
        vcdc_record_t rec;
        uint64_t h;

        scen_make_rec(&rec, coll, id, VCDC_OP_UPSERT, dim, tag, suffix, 0);
        h = memdb_record_hash(&rec);
        vcdc_record_clear(&rec);
        return h;
}

/* Starts a consumer of a new group (at the start of the topic) applying
 * collection (NULL: none given) to target. Returns its index. */
int scen_consumer(scen_t *s, const char *group, const char *target,
                  const char *collection, const char *const *kv) {
        char url[512], errstr[512];
        kit_spec_t spec = {0};
        int i = s->cnt++;

        assert_true(i < SCEN_MAX_CONSUMERS);
        snprintf(s->c[i].group, sizeof(s->c[i].group), "%s", group);
        snprintf(s->c[i].log, sizeof(s->c[i].log), "%s/%s.log", s->dir,
                 group);
        snprintf(url, sizeof(url), "mfence://memdb/%s?db=%s", target,
                 s->db_path);
        if (!(s->c[i].client = kit_client(s->mock.bootstraps, group, errstr,
                                          sizeof(errstr))) ||
            kit_commit_zero(s->c[i].client, s->topic, 1, errstr,
                            sizeof(errstr)))
                fail_msg("group %s: %s", group, errstr);
        spec.bootstraps = s->mock.bootstraps;
        spec.topic = s->topic;
        spec.group = group;
        spec.sink_url = url;
        spec.collection = collection;
        spec.kv = kv;
        spec.log_path = s->c[i].log;
        if ((s->c[i].pid = kit_spawn(&spec, errstr, sizeof(errstr))) == -1)
                fail_msg("%s", errstr);
        return i;
}

int64_t scen_committed(scen_t *s, int i) {
        char errstr[512];
        int64_t off = -1;

        if (kit_committed(s->c[i].client, s->topic, 1, &off, errstr,
                          sizeof(errstr)))
                return -1;
        return off;
}

/* Waits until consumer i's group committed offset reaches want. */
int scen_wait_committed(scen_t *s, int i, int64_t want) {
        int64_t until = kit_now_ms() + SCEN_WAIT_MS, at = -1;

        while ((at = scen_committed(s, i)) < want) {
                if (kit_now_ms() > until) {
                        hres_add(&s->res,
                                 "group %s did not reach offset %" PRId64
                                 " within %d s (committed %" PRId64
                                 "; log %s)",
                                 s->c[i].group, want, SCEN_WAIT_MS / 1000, at,
                                 s->c[i].log);
                        return -1;
                }
                kit_sleep_ms(100);
        }
        return 0;
}

/* Stops consumer i with SIGTERM; its exit status, or -1 when it had to be
 * killed. */
int scen_stop(scen_t *s, int i) {
        int status;

        if (!s->c[i].pid)
                return -1;
        kill(s->c[i].pid, SIGTERM);
        if (!kit_reap(s->c[i].pid, 30000, &status)) {
                kill(s->c[i].pid, SIGKILL);
                kit_reap(s->c[i].pid, 30000, &status);
                hres_add(&s->res,
                         "consumer of %s did not stop within 30 s of "
                         "SIGTERM (log %s)",
                         s->c[i].group, s->c[i].log);
                s->c[i].pid = 0;
                return -1;
        }
        s->c[i].pid = 0;
        return status;
}

/* A clean stop: SIGTERM, exit 0. */
void scen_stop_ok(scen_t *s, int i) {
        char how[128], last[2100];
        int status = scen_stop(s, i);

        if (status == -1 || (WIFEXITED(status) && !WEXITSTATUS(status)))
                return;
        kit_describe_exit(status, how, sizeof(how));
        kit_log_last(s->c[i].log, " error ", last, sizeof(last));
        hres_add(&s->res, "consumer of %s %s after SIGTERM; last error: %s",
                 s->c[i].group, how, *last ? last : "none");
}

/* The origins the dead-letter topic names: has[offset] for offsets up to
 * s->written. */
char *scen_dlq_origins(scen_t *s) {
        char dlq_topic[128], errstr[512];
        char *has = calloc((size_t)s->written + 1, 1);
        kit_msg_t *msgs;
        size_t cnt, k;

        assert_non_null(has);
        snprintf(dlq_topic, sizeof(dlq_topic), "%s.dlq", s->topic);
        if (kit_read_topic(s->mock.bootstraps, dlq_topic, 1, &msgs, &cnt,
                           errstr, sizeof(errstr))) {
                hres_add(&s->res, "reading the DLQ: %s", errstr);
                return has;
        }
        for (k = 0; k < cnt; k++) {
                if (strcmp(msgs[k].origin_topic, s->topic) ||
                    msgs[k].origin_partition != 0 ||
                    msgs[k].origin_offset < 0 ||
                    msgs[k].origin_offset >= s->written)
                        hres_add(&s->res,
                                 "a dead letter names origin %s [%" PRId32
                                 "] @%" PRId64 ", not a message of %s",
                                 msgs[k].origin_topic,
                                 msgs[k].origin_partition,
                                 msgs[k].origin_offset, s->topic);
                else
                        has[msgs[k].origin_offset] = 1;
        }
        kit_msgs_free(msgs, cnt);
        return has;
}

void scen_snapshot(scen_t *s, memdb_state_t **statep, memdb_stats_t *stats) {
        assert_non_null(*statep = malloc(sizeof(**statep)));
        memdb_snapshot(s->db, *statep, stats);
}

/* Tears down, then fails with everything that differed. */
void scen_finish(scen_t *s, const char *name) {
        char path[256];
        int i, failed = s->res.failed;

        for (i = 0; i < s->cnt; i++) {
                if (s->c[i].pid) {
                        kill(s->c[i].pid, SIGKILL);
                        kit_reap(s->c[i].pid, 30000, &(int){0});
                }
                if (s->c[i].client) {
                        rd_kafka_consumer_close(s->c[i].client);
                        rd_kafka_destroy(s->c[i].client);
                }
                if (!failed)
                        unlink(s->c[i].log);
        }
        vcdc_producer_destroy(s->producer);
        kit_mock_stop(&s->mock);
        memdb_unmap(s->db);
        if (!failed) {
                unlink(s->db_path);
                rmdir(s->dir);
        }
        if (!failed) {
                hres_free(&s->res);
                return;
        }
        print_message("[ scenario ] %s: %zu differences (files in %s):\n",
                      name, s->res.diffs, s->dir);
        {
                const char *t = s->res.text, *nl;
                while (t && *t) {
                        nl = strchr(t, '\n');
                        print_message("  %.*s\n",
                                      (int)(nl ? (size_t)(nl - t)
                                               : strlen(t)),
                                      t);
                        t = nl ? nl + 1 : "";
                }
        }
        snprintf(path, sizeof(path), "%s", s->dir);
        hres_free(&s->res);
        fail_msg("%s: the outcome differs from the specification (files in "
                 "%s)",
                 name, path);
}

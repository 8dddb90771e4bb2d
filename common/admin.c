/*
 * vcdc - Kafka admin operations.
 * Asks and creates; never deletes or alters a topic.
 */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vcdc_admin_partition_count(rd_kafka_t *rk, const char *topic, int *cntp,
                               int timeout_ms, char *errstr,
                               size_t errstr_size) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt;
        rd_kafka_resp_err_t err;

        *cntp = 0;
        if (!(rkt = rd_kafka_topic_new(rk, topic, NULL))) {
                snprintf(errstr, errstr_size, "topic %s: %s", topic,
                         rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
        }
        err = rd_kafka_metadata(rk, 0 /*only this topic*/, rkt, &md,
                                timeout_ms);
        rd_kafka_topic_destroy(rkt);
        if (err) {
                char brokers[256] = "?", proto[32] = "?";
                size_t size = sizeof(brokers);
                const rd_kafka_conf_t *rkc = rd_kafka_conf(rk);

                rd_kafka_conf_get(rkc, "bootstrap.servers", brokers, &size);
                size = sizeof(proto);
                rd_kafka_conf_get(rkc, "security.protocol", proto, &size);
                snprintf(errstr, errstr_size,
                         "no answer from the Kafka broker(s) %s "
                         "(security.protocol=%s) within %d ms: metadata for "
                         "topic %s: %s (broker down or unreachable, or a "
                         "TLS or SASL authentication failure: the broker "
                         "errors above say which)",
                         brokers, proto, timeout_ms, topic,
                         rd_kafka_err2str(err));
                return -1;
        }
        if (md->topic_cnt == 1) {
                err = md->topics[0].err;
                if (!err)
                        *cntp = md->topics[0].partition_cnt;
                else if (err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                        snprintf(errstr, errstr_size, "topic %s: %s", topic,
                                 rd_kafka_err2str(err));
                        rd_kafka_metadata_destroy(md);
                        return -1;
                }
        }
        rd_kafka_metadata_destroy(md);
        return 0;
}

/* Waits for the admin result of the given type on a temporary queue. */
static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, int timeout_ms,
                                    rd_kafka_event_type_t type, char *errstr,
                                    size_t errstr_size) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 1000);

        if (!ev) {
                snprintf(errstr, errstr_size, "no answer within %d ms",
                         timeout_ms);
                return NULL;
        }
        if (rd_kafka_event_type(ev) != type || rd_kafka_event_error(ev)) {
                snprintf(errstr, errstr_size, "%s",
                         rd_kafka_event_error(ev)
                                 ? rd_kafka_event_error_string(ev)
                                 : "unexpected admin event");
                rd_kafka_event_destroy(ev);
                return NULL;
        }
        return ev;
}

/* Describes topic's configuration: the result event (destroy it) with
 * *entriesp and *cntp pointing into it, or NULL with errstr. */
static rd_kafka_event_t *describe(rd_kafka_t *rk, rd_kafka_queue_t *q,
                                  const char *topic,
                                  const rd_kafka_ConfigEntry_t ***entriesp,
                                  size_t *cntp, int timeout_ms, char *errstr,
                                  size_t errstr_size) {
        rd_kafka_ConfigResource_t *res;
        const rd_kafka_ConfigResource_t **results;
        rd_kafka_AdminOptions_t *opts;
        rd_kafka_event_t *ev;
        char err[256];
        size_t cnt;

        res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
        opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
        rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, err,
                                                  sizeof(err));
        rd_kafka_DescribeConfigs(rk, &res, 1, opts, q);
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_ConfigResource_destroy(res);

        if (!(ev = admin_wait(q, timeout_ms,
                              RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, err,
                              sizeof(err)))) {
                snprintf(errstr, errstr_size,
                         "describe configs of topic %s: %s", topic, err);
                return NULL;
        }
        results = rd_kafka_DescribeConfigs_result_resources(
                rd_kafka_event_DescribeConfigs_result(ev), &cnt);
        if (cnt != 1 || rd_kafka_ConfigResource_error(results[0])) {
                snprintf(errstr, errstr_size,
                         "describe configs of topic %s: %s", topic,
                         cnt == 1 ? rd_kafka_ConfigResource_error_string(
                                            results[0])
                                  : "no result");
                rd_kafka_event_destroy(ev);
                return NULL;
        }
        *entriesp = rd_kafka_ConfigResource_configs(results[0], cntp);
        return ev;
}

int vcdc_admin_topic_config(rd_kafka_t *rk, const char *topic,
                            const char *name, char *out, size_t out_size,
                            int timeout_ms, char *errstr, size_t errstr_size) {
        const rd_kafka_ConfigEntry_t **entries;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        size_t i, ecnt;
        int r = -1;

        q = rd_kafka_queue_new(rk);
        if (!(ev = describe(rk, q, topic, &entries, &ecnt, timeout_ms, errstr,
                            errstr_size)))
                goto done;
        for (i = 0; i < ecnt; i++) {
                if (!strcmp(rd_kafka_ConfigEntry_name(entries[i]), name)) {
                        const char *v = rd_kafka_ConfigEntry_value(entries[i]);
                        snprintf(out, out_size, "%s", v ? v : "");
                        r = 0;
                        goto done_ev;
                }
        }
        snprintf(errstr, errstr_size, "topic %s has no configuration %s",
                 topic, name);
done_ev:
        rd_kafka_event_destroy(ev);
done:
        rd_kafka_queue_destroy(q);
        return r;
}

int vcdc_admin_set_topic_config(rd_kafka_t *rk, const char *topic,
                                const char *name, const char *value,
                                int timeout_ms, char *errstr,
                                size_t errstr_size) {
        const rd_kafka_ConfigEntry_t **entries;
        const rd_kafka_ConfigResource_t **results;
        rd_kafka_ConfigResource_t *res;
        rd_kafka_AdminOptions_t *opts;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev, *aev;
        char err[256];
        size_t i, ecnt, cnt;
        int r = -1;

        q = rd_kafka_queue_new(rk);
        if (!(ev = describe(rk, q, topic, &entries, &ecnt, timeout_ms, errstr,
                            errstr_size)))
                goto done;
        /* AlterConfigs replaces the topic's whole set of overrides (the
         * incremental call needs a newer librdkafka): send every override
         * the topic has, with name's value set. */
        res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
        for (i = 0; i < ecnt; i++) {
                const char *n = rd_kafka_ConfigEntry_name(entries[i]);

                if (rd_kafka_ConfigEntry_source(entries[i]) ==
                            RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG &&
                    strcmp(n, name) &&
                    rd_kafka_ConfigEntry_value(entries[i]))
                        rd_kafka_ConfigResource_set_config(
                                res, n, rd_kafka_ConfigEntry_value(entries[i]));
        }
        rd_kafka_event_destroy(ev);
        rd_kafka_ConfigResource_set_config(res, name, value);
        opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
        rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, err,
                                                  sizeof(err));
        rd_kafka_AlterConfigs(rk, &res, 1, opts, q);
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_ConfigResource_destroy(res);
        if (!(aev = admin_wait(q, timeout_ms,
                               RD_KAFKA_EVENT_ALTERCONFIGS_RESULT, err,
                               sizeof(err)))) {
                snprintf(errstr, errstr_size, "set %s=%s on topic %s: %s",
                         name, value, topic, err);
                goto done;
        }
        results = rd_kafka_AlterConfigs_result_resources(
                rd_kafka_event_AlterConfigs_result(aev), &cnt);
        if (cnt != 1 || rd_kafka_ConfigResource_error(results[0]))
                snprintf(errstr, errstr_size, "set %s=%s on topic %s: %s",
                         name, value, topic,
                         cnt == 1 ? rd_kafka_ConfigResource_error_string(
                                            results[0])
                                  : "no result");
        else
                r = 0;
        rd_kafka_event_destroy(aev);
done:
        rd_kafka_queue_destroy(q);
        return r;
}

int vcdc_admin_create_topic(rd_kafka_t *rk, const char *topic, int partitions,
                            int replication, const char *const *configs,
                            int timeout_ms, char *errstr, size_t errstr_size) {
        const rd_kafka_topic_result_t **results;
        rd_kafka_AdminOptions_t *opts;
        rd_kafka_NewTopic_t *nt;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        char err[256];
        size_t cnt;
        int r = -1;

        if (!(nt = rd_kafka_NewTopic_new(topic, partitions, replication, err,
                                          sizeof(err)))) {
                snprintf(errstr, errstr_size, "create topic %s: %s", topic,
                         err);
                return -1;
        }
        for (; configs && configs[0] && configs[1]; configs += 2)
                rd_kafka_NewTopic_set_config(nt, configs[0], configs[1]);
        q = rd_kafka_queue_new(rk);
        opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, err,
                                                    sizeof(err));
        rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_NewTopic_destroy(nt);

        if (!(ev = admin_wait(q, timeout_ms,
                              RD_KAFKA_EVENT_CREATETOPICS_RESULT, err,
                              sizeof(err)))) {
                snprintf(errstr, errstr_size, "create topic %s: %s", topic,
                         err);
                goto done;
        }
        results = rd_kafka_CreateTopics_result_topics(
                rd_kafka_event_CreateTopics_result(ev), &cnt);
        if (cnt == 1 &&
            (!rd_kafka_topic_result_error(results[0]) ||
             rd_kafka_topic_result_error(results[0]) ==
                     RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS))
                r = 0;
        else
                snprintf(errstr, errstr_size, "create topic %s: %s", topic,
                         cnt == 1 ? rd_kafka_topic_result_error_string(
                                            results[0])
                                  : "no result");
        rd_kafka_event_destroy(ev);
done:
        rd_kafka_queue_destroy(q);
        return r;
}

int vcdc_admin_policy_keeps_history(const char *cleanup_policy) {
        return strstr(cleanup_policy, "compact") &&
               !strstr(cleanup_policy, "delete");
}

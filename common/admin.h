/*
 * vcdc - the few Kafka admin operations vcdc needs, over any client handle
 * (producer or consumer): topic existence and partition count, a topic's
 * configuration value, topic creation.
 * They never delete a topic; the one that alters one sets a single
 * configuration value the caller was told to set (vcdc snapshot
 * --set-compaction-lag).
 */
#ifndef VCDC_ADMIN_H
#define VCDC_ADMIN_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

/**
 * The number of partitions of topic in *cntp: 0 when the topic does not
 * exist. Returns 0, or -1 with errstr when the cluster does not answer.
 */
int vcdc_admin_partition_count(rd_kafka_t *rk, const char *topic, int *cntp,
                               int timeout_ms, char *errstr,
                               size_t errstr_size);

/**
 * The value of topic configuration name (e.g. "cleanup.policy") into out.
 * Returns 0, or -1 with errstr.
 */
int vcdc_admin_topic_config(rd_kafka_t *rk, const char *topic,
                            const char *name, char *out, size_t out_size,
                            int timeout_ms, char *errstr, size_t errstr_size);

/**
 * Creates topic with partitions and replication (-1: the broker's default)
 * and the NULL-terminated key, value, key, value... configs. An existing
 * topic is not an error. Returns 0, or -1 with errstr.
 */
int vcdc_admin_create_topic(rd_kafka_t *rk, const char *topic, int partitions,
                            int replication, const char *const *configs,
                            int timeout_ms, char *errstr, size_t errstr_size);

/**
 * Sets topic configuration name to value, keeping the topic's other
 * overrides. Returns 0, or -1 with errstr.
 */
int vcdc_admin_set_topic_config(rd_kafka_t *rk, const char *topic,
                                const char *name, const char *value,
                                int timeout_ms, char *errstr,
                                size_t errstr_size);

/** 1 when a cleanup.policy value keeps the latest record of every key
 *  forever ("compact" without "delete"). */
int vcdc_admin_policy_keeps_history(const char *cleanup_policy);

#endif

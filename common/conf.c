/*
 * vcdc - configuration table and librdkafka pass-through.
 * Checks and stores values; never acts on them.
 */
#include "conf.h"
#include "log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { T_INT, T_DOUBLE, T_STR, T_ENUM } prop_type_t;

typedef struct prop_s {
        const char *name;
        prop_type_t type;
        const char *def;
        double min, max;     /* T_INT, T_DOUBLE */
        const char *choices; /* T_ENUM: "a|b|c" */
        const char *desc;
} prop_t;

/* Every key vcdc itself reads. */
static const prop_t props[] = {
        /* producer */
        {"vcdc.on.error", T_ENUM, "stop", 0, 0, "stop|skip",
         "producer: a bad input line stops the run, or is skipped and "
         "reported"},
        {"vcdc.max.dim", T_INT, "65536", 1, 1048576, NULL,
         "largest vector dimension accepted"},
        {"vcdc.schema.id", T_INT, "-1", -1, 2147483647, NULL,
         "Confluent schema id of the current schema: the producer frames "
         "messages in the Confluent wire format with it, the consumer "
         "decodes messages of that id (-1: single-object encoding only)"},
        {"vcdc.progress.ms", T_INT, "2000", 0, 3600000, NULL,
         "interval of the progress line on stderr, 0 for none"},
        {"vcdc.config.check.ms", T_INT, "10000", 0, 600000, NULL,
         "how long the advisory reads of a topic's configuration wait for "
         "the cluster (the control topic's cleanup.policy, the consumer's "
         "delete.retention.ms: warnings only); 0 skips them (tests: "
         "librdkafka's mock cluster has no controller to answer them)"},
        {"vcdc.flush.timeout.ms", T_INT, "60000", 1, 86400000, NULL,
         "how long the final flush waits for delivery reports"},
        {"vcdc.topic.partitions", T_INT, "6", 1, 100000, NULL,
         "partitions of a topic created with --create-topic"},
        {"vcdc.topic.replication", T_INT, "-1", -1, 100, NULL,
         "replication factor of a created topic, -1 for the broker's "
         "default"},
        /* consumer */
        {"vcdc.batch.records", T_INT, "1000", 1, 1000000, NULL,
         "consumer: most records in one batch applied to the sink"},
        {"vcdc.batch.bytes", T_INT, "16777216", 1024, 1073741824, NULL,
         "consumer: most message bytes in one batch"},
        {"vcdc.batch.ms", T_INT, "200", 0, 600000, NULL,
         "consumer: longest wait to fill a batch (a batch is applied at "
         "once when nothing more is waiting)"},
        {"vcdc.commit.interval.ms", T_INT, "1000", 0, 3600000, NULL,
         "consumer: least time between offset commits, and between the "
         "offset records of a sink that writes them apart from the data "
         "(Chroma; pgvector records them with every batch)"},
        {"vcdc.retry.backoff.ms", T_INT, "200", 1, 600000, NULL,
         "consumer: first wait before retrying a failed apply"},
        {"vcdc.retry.backoff.max.ms", T_INT, "10000", 1, 3600000, NULL,
         "consumer: longest wait between retries"},
        {"vcdc.retry.split.after", T_INT, "3", 1, 1000, NULL,
         "consumer: failed tries (timeouts, server errors) before a batch "
         "is applied in halves"},
        {"vcdc.dlq.topic", T_STR, "", 0, 0, NULL,
         "consumer: dead-letter topic (default: TOPIC.dlq)"},
        {"vcdc.sink.metric", T_ENUM, "", 0, 0, "|cosine|l2|ip",
         "distance metric: a new target gets it, an existing one must have "
         "it (default: an existing target's own, else cosine)"},
        {"vcdc.sink.dim", T_INT, "0", 0, 1048576, NULL,
         "dimension the target must have (0: an existing target's, else "
         "the first batch's most common)"},
        {"vcdc.sink.timeout.ms", T_INT, "30000", 100, 3600000, NULL,
         "timeout of one database request"},
        {"vcdc.metrics.bind", T_STR, "127.0.0.1", 0, 0, NULL,
         "address the metrics endpoint listens on"},
        /* gateway */
        {"vcdc.gateway.tenant", T_STR, "default_tenant", 0, 0, NULL,
         "gateway: the Chroma tenant it serves"},
        {"vcdc.gateway.database", T_STR, "default_database", 0, 0, NULL,
         "gateway: the Chroma database it serves"},
        {"vcdc.gateway.max.batch.size", T_INT, "5461", 1, 1000000, NULL,
         "gateway: max_batch_size in pre-flight-checks (the Chroma 1.0 "
         "server's own)"},
        {"vcdc.gateway.applied.timeout.ms", T_INT, "10000", 1, 3600000, NULL,
         "gateway: --ack applied: how long a write waits for the serving "
         "side to apply it before answering 503"},
        {"vcdc.gateway.pending.max.bytes", T_INT, "67108864", 0,
         1099511627776.0, NULL,
         "gateway: memory for the records written and not yet applied on "
         "the serving side, kept as the base of the next update of their "
         "ids; past it a write waits until applied (0: every write)"},
        {"vcdc.gateway.control.topic", T_STR, "vcdc.control", 0, 0, NULL,
         "gateway: the control topic (routes, collections)"},
        {"vcdc.gateway.drain.timeout.ms", T_INT, "30000", 0, 3600000, NULL,
         "gateway: on SIGTERM, how long requests in flight may take to "
         "finish"},
        {"vcdc.gateway.idle.timeout.s", T_INT, "60", 1, 86400, NULL,
         "gateway: a keep-alive connection idle this long is closed"},
        {"vcdc.gateway.shadow.queue", T_INT, "64", 1, 100000, NULL,
         "gateway: shadow reads waiting for a worker, at most (a sample "
         "past it is dropped and counted)"},
        {"vcdc.gateway.shadow.queue.bytes", T_INT, "67108864", 1024,
         1099511627776.0, NULL,
         "gateway: bytes of request bodies and answers the shadow queue "
         "holds, at most"},
        {"vcdc.gateway.shadow.threads", T_INT, "1", 1, 16, NULL,
         "gateway: threads running shadow reads"},
        {"vcdc.gateway.connections", T_INT, "16", 1, 64, NULL,
         "gateway: connections to each database for reads, each used by one "
         "request at a time"},
        {"vcdc.gateway.group.sample.ms", T_INT, "2000", 100, 3600000, NULL,
         "gateway: how often the OLD and NEW groups' lag is sampled for the "
         "metrics"},
};

#define PROP_CNT (sizeof(props) / sizeof(*props))

struct vcdc_conf_s {
        char *values[PROP_CNT];
        rd_kafka_conf_t *rk_conf;
};

static int prop_index(const char *name) {
        size_t i;

        for (i = 0; i < PROP_CNT; i++)
                if (!strcmp(props[i].name, name))
                        return (int)i;
        return -1;
}

vcdc_conf_t *vcdc_conf_new(void) {
        vcdc_conf_t *conf = calloc(1, sizeof(*conf));
        size_t i;

        if (!conf)
                return NULL;
        for (i = 0; i < PROP_CNT; i++)
                if (!(conf->values[i] = strdup(props[i].def)))
                        goto err;
        if (!(conf->rk_conf = rd_kafka_conf_new()))
                goto err;
        return conf;
err:
        vcdc_conf_destroy(conf);
        return NULL;
}

void vcdc_conf_destroy(vcdc_conf_t *conf) {
        size_t i;

        if (!conf)
                return;
        for (i = 0; i < PROP_CNT; i++)
                free(conf->values[i]);
        if (conf->rk_conf)
                rd_kafka_conf_destroy(conf->rk_conf);
        free(conf);
}

int vcdc_conf_parse_int(const char *s, int64_t min, int64_t max,
                        int64_t *vp) {
        long long v;
        char *end;

        if (!s)
                return -1;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (end == s || *end || errno || v < min || v > max)
                return -1;
        *vp = v;
        return 0;
}

int vcdc_conf_parse_double(const char *s, double min, double max,
                           double *vp) {
        double v;
        char *end;

        if (!s)
                return -1;
        errno = 0;
        v = strtod(s, &end);
        if (end == s || *end || errno || !isfinite(v) || v < min || v > max)
                return -1;
        *vp = v;
        return 0;
}

int vcdc_conf_parse_size(const char *s, size_t *vp) {
        unsigned long long v;
        uint64_t mult = 1;
        char *end;

        if (!s || !*s || *s == '-' || *s == '+')
                return -1;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s)
                return -1;
        if (*end == 'K' || *end == 'k')
                mult = (uint64_t)1 << 10;
        else if (*end == 'M' || *end == 'm')
                mult = (uint64_t)1 << 20;
        else if (*end == 'G' || *end == 'g')
                mult = (uint64_t)1 << 30;
        else if (*end)
                return -1;
        if (*end && end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "iB"))
                return -1;
        if (v > SIZE_MAX / mult)
                return -1;
        *vp = (size_t)(v * mult);
        return 0;
}

static int validate(const prop_t *p, const char *value, char *errstr,
                    size_t errstr_size) {
        switch (p->type) {
        case T_INT: {
                int64_t v;
                if (vcdc_conf_parse_int(value, (int64_t)p->min,
                                        (int64_t)p->max, &v) == -1) {
                        snprintf(errstr, errstr_size,
                                 "%s: \"%s\" is not an integer in %.0f..%.0f",
                                 p->name, value, p->min, p->max);
                        return -1;
                }
                return 0;
        }
        case T_DOUBLE: {
                double v;
                if (vcdc_conf_parse_double(value, p->min, p->max, &v) ==
                    -1) {
                        snprintf(errstr, errstr_size,
                                 "%s: \"%s\" is not a number in %g..%g",
                                 p->name, value, p->min, p->max);
                        return -1;
                }
                return 0;
        }
        case T_ENUM: {
                const char *c = p->choices;
                size_t len = strlen(value);
                while (c && *c) {
                        size_t n = strcspn(c, "|");
                        if (n == len && !strncmp(c, value, n))
                                return 0;
                        c += n + (c[n] == '|');
                }
                /* A leading '|' allows the empty value: say so. */
                snprintf(errstr, errstr_size, "%s: \"%s\" is not one of %s%s",
                         p->name, value, p->choices + (*p->choices == '|'),
                         *p->choices == '|' ? " (or empty)" : "");
                return -1;
        }
        case T_STR:
                return 0;
        }
        return -1;
}

/* A key whose value is a secret, or carries one (a JAAS line, a private
 * key): an error about it never repeats the value. */
static int is_sensitive(const char *name) {
        static const char *const words[] = {
                "password",           "secret",  "jaas",   "token",
                "oauthbearer.config", "key.pem", "ssl_key"};
        size_t i;

        for (i = 0; i < sizeof(words) / sizeof(*words); i++)
                if (strstr(name, words[i]))
                        return 1;
        return 0;
}

/* librdkafka's messages may end in a newline. */
static void chomp(char *s) {
        size_t len = strlen(s);

        while (len > 0 &&
               (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
                s[--len] = '\0';
}

/* "name=value: why", or "name: why" when the value must not be shown (a
 * secret) or does not matter (the key is unknown). */
static void rk_conf_error(const char *name, const char *value,
                          rd_kafka_conf_res_t res, char *rkerr, char *errstr,
                          size_t errstr_size) {
        chomp(rkerr);
        if (res == RD_KAFKA_CONF_UNKNOWN)
                snprintf(errstr, errstr_size,
                         "unknown configuration key \"%s\" (neither a "
                         "librdkafka property nor a vcdc.* key)",
                         name);
        else if (is_sensitive(name))
                snprintf(errstr, errstr_size, "%s=(hidden): %s", name,
                         *value && strstr(rkerr, value) ? "invalid value"
                                                        : rkerr);
        else
                snprintf(errstr, errstr_size, "%s=%s: %s", name, value, rkerr);
}

int vcdc_conf_set(vcdc_conf_t *conf, const char *name, const char *value,
                  char *errstr, size_t errstr_size) {
        rd_kafka_conf_res_t res;
        char rkerr[512];
        int idx;
        char *v;

        if (!strncmp(name, "vcdc.", 5)) {
                if ((idx = prop_index(name)) == -1) {
                        snprintf(errstr, errstr_size,
                                 "unknown configuration key \"%s\" "
                                 "(vcdc keys: see --help-conf)",
                                 name);
                        return -1;
                }
                if (validate(&props[idx], value, errstr, errstr_size) == -1)
                        return -1;
                if (!(v = strdup(value))) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
                free(conf->values[idx]);
                conf->values[idx] = v;
                return 0;
        }
        res = rd_kafka_conf_set(conf->rk_conf, name, value, rkerr,
                                sizeof(rkerr));
        if (res != RD_KAFKA_CONF_OK) {
                rk_conf_error(name, value, res, rkerr, errstr, errstr_size);
                return -1;
        }
        return 0;
}

int vcdc_conf_kafka_set(rd_kafka_conf_t *rkc, const char *name,
                        const char *value, char *errstr, size_t errstr_size) {
        rd_kafka_conf_res_t res;
        char err[512];

        res = rd_kafka_conf_set(rkc, name, value, err, sizeof(err));
        if (res != RD_KAFKA_CONF_OK) {
                rk_conf_error(name, value, res, err, errstr, errstr_size);
                return -1;
        }
        return 0;
}

int vcdc_conf_set_kv(vcdc_conf_t *conf, const char *kv, char *errstr,
                     size_t errstr_size) {
        const char *eq = strchr(kv, '=');
        char name[256];

        if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(name)) {
                snprintf(errstr, errstr_size,
                         "\"%s\": expected key=value", kv);
                return -1;
        }
        memcpy(name, kv, (size_t)(eq - kv));
        name[eq - kv] = '\0';
        return vcdc_conf_set(conf, name, eq + 1, errstr, errstr_size);
}

static char *trim(char *s) {
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
                         e[-1] == '\r'))
                *--e = '\0';
        return s;
}

int vcdc_conf_common_opt(vcdc_conf_t *conf, int opt, const char *arg,
                         char *errstr, size_t errstr_size) {
        char why[480];

        switch (opt) {
        case 'X':
                if (vcdc_conf_set_kv(conf, arg, why, sizeof(why)) == -1) {
                        snprintf(errstr, errstr_size, "-X %s", why);
                        return -1;
                }
                return 0;
        case 'F':
                return vcdc_conf_load_file(conf, arg, errstr, errstr_size);
        case 'v':
                vcdc_log_level++;
                return 0;
        case 'q':
                vcdc_log_level = VCDC_LOG_ERR;
                return 0;
        default:
                snprintf(errstr, errstr_size, "-%c is not a common option",
                         opt);
                return -1;
        }
}

int vcdc_conf_load_file(vcdc_conf_t *conf, const char *path, char *errstr,
                        size_t errstr_size) {
        char *line = NULL, *s, *eq, err[512];
        size_t cap = 0, lineno = 0;
        int r = 0;
        FILE *fp;

        if (!(fp = fopen(path, "r"))) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return -1;
        }
        while (getline(&line, &cap, fp) != -1) {
                lineno++;
                s = trim(line);
                if (!*s || *s == '#' || *s == '!')
                        continue;
                if (!(eq = strchr(s, '=')) || eq == s) {
                        snprintf(errstr, errstr_size,
                                 "%s:%zu: expected key=value", path, lineno);
                        r = -1;
                        break;
                }
                *eq = '\0';
                if (vcdc_conf_set(conf, trim(s), trim(eq + 1), err,
                                  sizeof(err)) == -1) {
                        snprintf(errstr, errstr_size, "%s:%zu: %s", path,
                                 lineno, err);
                        r = -1;
                        break;
                }
        }
        if (!r && ferror(fp)) {
                snprintf(errstr, errstr_size, "%s: read error", path);
                r = -1;
        }
        free(line);
        fclose(fp);
        return r;
}

static const char *value_of(const vcdc_conf_t *conf, const char *name) {
        int idx = prop_index(name);

        if (idx == -1) {
                fprintf(stderr, "vcdc: BUG: unknown configuration key %s\n",
                        name);
                abort();
        }
        return conf->values[idx];
}

int64_t vcdc_conf_int(const vcdc_conf_t *conf, const char *name) {
        return strtoll(value_of(conf, name), NULL, 10);
}

double vcdc_conf_double(const vcdc_conf_t *conf, const char *name) {
        return strtod(value_of(conf, name), NULL);
}

const char *vcdc_conf_str(const vcdc_conf_t *conf, const char *name) {
        return value_of(conf, name);
}

rd_kafka_conf_t *vcdc_conf_kafka(vcdc_conf_t *conf) {
        return conf->rk_conf;
}

rd_kafka_conf_t *vcdc_conf_kafka_dup(const vcdc_conf_t *conf) {
        return rd_kafka_conf_dup(conf->rk_conf);
}

rd_kafka_conf_t *vcdc_conf_kafka_reader(const vcdc_conf_t *conf,
                                        const char *const *props,
                                        char *errstr, size_t errstr_size) {
        /* A group's settings, and a producer's that a program set for its
         * own producer (librdkafka warns of them on a consumer). */
        static const char *filter[] = {
                "group.",          "enable.auto.",
                "auto.commit.",    "message.timeout.ms",
                "linger.ms",       "queue.buffering.max.ms",
                "delivery.timeout.ms"};
        rd_kafka_conf_t *rkc;

        if (!(rkc = rd_kafka_conf_dup_filter(
                      conf->rk_conf, sizeof(filter) / sizeof(*filter),
                      filter))) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        rd_kafka_conf_set_log_cb(rkc, vcdc_log_rdkafka_cb);
        for (; props && props[0]; props += 2)
                if (vcdc_conf_kafka_set(rkc, props[0], props[1], errstr,
                                        errstr_size) == -1) {
                        rd_kafka_conf_destroy(rkc);
                        return NULL;
                }
        return rkc;
}

void vcdc_conf_print_help(FILE *fp) {
        size_t i;

        for (i = 0; i < PROP_CNT; i++)
                fprintf(fp, "  %-26s %s (default: %s)\n", props[i].name,
                        props[i].desc, *props[i].def ? props[i].def : "\"\"");
}

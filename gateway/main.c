/*
 * vcdc-gateway - a server speaking Chroma's HTTP API v2 in front of the
 * log: parses, starts, serves until SIGTERM/SIGINT, drains, stops. No
 * logic of its own (the rest of gateway/ holds it).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "audit.h"
#include "builtin.h"
#include "conf.h"
#include "gwdata.h"
#include "httpd.h"
#include "log.h"
#include "gwgroups.h"
#include "metrics.h"
#include "options.h"
#include "router.h"
#include "url.h"

#define CMD "gateway"

static volatile sig_atomic_t run = 1;

static void on_signal(int sig) {
        (void)sig;
        run = 0;
}

static void usage(FILE *fp) {
        fprintf(fp,
                "Usage: vcdc-gateway -b BROKERS -t TOPIC --old URL --new URL "
                "[options]\n"
                "Serves Chroma's HTTP API v2: writes go to the topic, reads "
                "to the side the\nroute names.\n\n"
                "  --listen HOST:PORT  address to serve on (default "
                "127.0.0.1:8010)\n"
                "  -b BROKERS          bootstrap servers (default: "
                "$VCDC_BROKERS)\n"
                "  -t TOPIC            the change records' topic\n"
                "  --old URL, --new URL  the databases holding the "
                "collections\n"
                "                      (chroma://HOST:PORT, "
                "pgvector://USER@HOST:PORT/DB)\n"
                "  --old-group G, --new-group G  their consumers' groups "
                "(default vcdc.old,\n"
                "                      vcdc.new): their lag and members "
                "in the metrics\n"
                "  --ack applied|log   answer a write once the serving side "
                "applied it\n"
                "                      (default) or once Kafka has it\n"
                "  --shadow-rate X     fraction of queries also sent to the "
                "other side (0..1,\n"
                "                      default 0), off the request path, "
                "compared in the\n"
                "                      metrics (vcdc shadow --gateway)\n"
                "  --tokens FILE       TOKEN ROLE COLLECTIONS lines (mode "
                "0600); without it\n"
                "                      every request is allowed\n"
                "  --audit FILE        one JSON line per write and "
                "administrative request\n"
                "  --metrics-port N    serve Prometheus metrics on "
                "127.0.0.1:N\n"
                "  --max-body BYTES    largest request body (default 32M; "
                "413 beyond)\n"
                "  --max-inflight N    most requests in flight (default "
                "%d; 503 beyond)\n"
                "  --threads N         server threads (default %d)\n"
                "  -X key=value        librdkafka or vcdc.* setting\n"
                "  -F FILE             properties file of such settings\n"
                "  -v, -q              more, less logging\n"
                "  --help-conf         list the vcdc.* settings\n\n"
                "Exit status: 0 on a clean stop (SIGTERM, SIGINT), 1 on a "
                "fatal error, 64 on\na usage or configuration error.\n",
                VCDC_GW_MAX_INFLIGHT_DEFAULT, VCDC_GW_THREADS_DEFAULT);
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT" into host (a copy to free) and
 * port. Returns 0 or -1. */
static int parse_listen(const char *arg, char **hostp, int *portp) {
        const char *colon = strrchr(arg, ':'), *h = arg;
        size_t hlen;
        int64_t port;

        if (!colon || vcdc_conf_parse_int(colon + 1, 0, 65535, &port) == -1 ||
            colon[1] == '+' || colon[1] == '-' || colon[1] == ' ')
                return -1;
        hlen = (size_t)(colon - arg);
        if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
                h++;
                hlen -= 2;
        }
        if (!(*hostp = hlen ? strndup(h, hlen) : strdup("0.0.0.0")))
                return -1;
        *portp = (int)port;
        return 0;
}

/* A database URL: chroma:// or pgvector:// with a host. */
static int check_db_url(const char *opt, const char *arg) {
        char errstr[512];
        vcdc_url_t *url = vcdc_url_parse(arg, errstr, sizeof(errstr));
        int ok;

        if (!url) {
                fprintf(stderr, "vcdc %s: %s: %s\n", CMD, opt, errstr);
                return -1;
        }
        ok = (!strcmp(url->scheme, "chroma") ||
              !strcmp(url->scheme, "pgvector")) &&
             *url->host;
        if (!ok)
                fprintf(stderr,
                        "vcdc %s: %s %s: expected chroma://HOST:PORT or "
                        "pgvector://USER@HOST:PORT/DB\n",
                        CMD, opt, arg);
        vcdc_url_destroy(url);
        return ok ? 0 : -1;
}

/* The metrics endpoint's text: the server's counters, the data layer's
 * (shadow reads), then the consumer groups'. */
typedef struct metrics_src_s {
        vcdc_gw_http_t *http;
        vcdc_gw_data_t *data;
        vcdc_gw_groups_t *groups;
} metrics_src_t;

static size_t render_metrics(char *buf, size_t size, void *opaque) {
        metrics_src_t *src = opaque;
        size_t n = vcdc_gw_http_render_metrics(src->http, buf, size);

        n += vcdc_gw_data_render_metrics(src->data, buf + n, size - n);
        return n + vcdc_gw_groups_render(src->groups, buf + n, size - n);
}

int main(int argc, char **argv) {
        enum {
                O_LISTEN = 256,
                O_OLD,
                O_NEW,
                O_OLD_GROUP,
                O_NEW_GROUP,
                O_ACK,
                O_SHADOW,
                O_TOKENS,
                O_AUDIT,
                O_METRICS_PORT,
                O_MAX_BODY,
                O_MAX_INFLIGHT,
                O_THREADS,
                O_HELP_CONF
        };
        static const struct option longopts[] = {
                {"listen", required_argument, NULL, O_LISTEN},
                {"old", required_argument, NULL, O_OLD},
                {"new", required_argument, NULL, O_NEW},
                {"old-group", required_argument, NULL, O_OLD_GROUP},
                {"new-group", required_argument, NULL, O_NEW_GROUP},
                {"ack", required_argument, NULL, O_ACK},
                {"shadow-rate", required_argument, NULL, O_SHADOW},
                {"tokens", required_argument, NULL, O_TOKENS},
                {"audit", required_argument, NULL, O_AUDIT},
                {"metrics-port", required_argument, NULL, O_METRICS_PORT},
                {"max-body", required_argument, NULL, O_MAX_BODY},
                {"max-inflight", required_argument, NULL, O_MAX_INFLIGHT},
                {"threads", required_argument, NULL, O_THREADS},
                {"help-conf", no_argument, NULL, O_HELP_CONF},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        const char *brokers = getenv("VCDC_BROKERS"), *topic = NULL;
        const char *old_url = NULL, *new_url = NULL, *tokens = NULL;
        const char *old_group = "vcdc.old", *new_group = "vcdc.new";
        const char *audit_path = NULL, *listen = "127.0.0.1:8010";
        const char *ack = "applied";
        vcdc_gw_http_opts_t hopts;
        vcdc_gw_info_t info;
        vcdc_gw_router_t *router = NULL;
        vcdc_gw_access_t *access = NULL;
        vcdc_gw_audit_t *audit = NULL;
        vcdc_gw_http_t *http = NULL;
        vcdc_gw_data_t *data = NULL;
        vcdc_gw_data_opts_t dopts;
        vcdc_metrics_t *metrics = NULL;
        metrics_src_t msrc = {0};
        vcdc_conf_t *conf;
        struct sigaction sa;
        char errstr[1024], *host = NULL;
        int64_t v, metrics_port = -1;
        double shadow_rate = 0;
        int opt, port, rc = 64;
        uint64_t left;

        memset(&hopts, 0, sizeof(hopts));
        if (!(conf = vcdc_conf_new())) {
                fprintf(stderr, "vcdc %s: out of memory\n", CMD);
                return 1;
        }
        /* A write the broker does not take within 10 s fails (503) rather
         * than waiting in the queue: once the request is answered, its
         * records are delivered or failed, never delivered later (-X
         * message.timeout.ms=N changes it; the data layer waits that long
         * plus 5 s). And as a request waits for its records' delivery,
         * librdkafka's 5 ms of linger would be on every write's answer:
         * 1 ms still lets concurrent requests share batches (-X linger.ms
         * changes it). */
        if (vcdc_conf_set(conf, "message.timeout.ms", "10000", errstr,
                          sizeof(errstr)) == -1 ||
            vcdc_conf_set(conf, "linger.ms", "1", errstr, sizeof(errstr)) ==
                    -1) {
                fprintf(stderr, "vcdc %s: %s\n", CMD, errstr);
                vcdc_conf_destroy(conf);
                return 1;
        }
        while ((opt = getopt_long(argc, argv, "b:t:X:F:vqh", longopts, NULL)) !=
               -1) {
                switch (opt) {
                case 'b':
                        brokers = optarg;
                        break;
                case 't':
                        topic = optarg;
                        break;
                case O_LISTEN:
                        listen = optarg;
                        break;
                case O_OLD:
                        old_url = optarg;
                        break;
                case O_NEW:
                        new_url = optarg;
                        break;
                case O_OLD_GROUP:
                case O_NEW_GROUP:
                        if (!*optarg) {
                                fprintf(stderr,
                                        "vcdc %s: a group name is empty\n",
                                        CMD);
                                goto done;
                        }
                        *(opt == O_OLD_GROUP ? &old_group : &new_group) =
                                optarg;
                        break;
                case O_ACK:
                        ack = optarg;
                        if (strcmp(ack, "applied") && strcmp(ack, "log")) {
                                fprintf(stderr,
                                        "vcdc %s: --ack %s: expected "
                                        "applied or log\n",
                                        CMD, ack);
                                goto done;
                        }
                        break;
                case O_SHADOW:
                        if (vcdc_cli_double(CMD, "--shadow-rate", optarg, 0, 1,
                                            "expected a number in 0..1",
                                            &shadow_rate))
                                goto done;
                        break;
                case O_TOKENS:
                        tokens = optarg;
                        break;
                case O_AUDIT:
                        audit_path = optarg;
                        break;
                case O_METRICS_PORT:
                        if (vcdc_cli_int(CMD, "--metrics-port", optarg, 0,
                                         65535, "expected 0..65535",
                                         &metrics_port))
                                goto done;
                        break;
                case O_MAX_BODY:
                        if (vcdc_conf_parse_size(optarg, &hopts.max_body) ||
                            hopts.max_body < 1024 ||
                            hopts.max_body > ((size_t)1 << 30)) {
                                fprintf(stderr,
                                        "vcdc %s: --max-body %s: expected "
                                        "a size from 1K to 1G\n",
                                        CMD, optarg);
                                goto done;
                        }
                        break;
                case O_MAX_INFLIGHT:
                        if (vcdc_cli_int(CMD, "--max-inflight", optarg, 1,
                                         100000, "expected 1..100000", &v))
                                goto done;
                        hopts.max_inflight = (unsigned)v;
                        break;
                case O_THREADS:
                        if (vcdc_cli_int(CMD, "--threads", optarg, 1, 256,
                                         "expected 1..256", &v))
                                goto done;
                        hopts.threads = (unsigned)v;
                        break;
                case 'X':
                case 'F':
                case 'v':
                case 'q':
                        if (vcdc_conf_common_opt(conf, opt, optarg, errstr,
                                                 sizeof(errstr))) {
                                fprintf(stderr, "vcdc %s: %s\n", CMD, errstr);
                                goto done;
                        }
                        break;
                case O_HELP_CONF:
                        vcdc_conf_print_help(stdout);
                        rc = 0;
                        goto done;
                case 'h':
                        usage(stdout);
                        rc = 0;
                        goto done;
                default:
                        usage(stderr);
                        goto done;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "vcdc %s: unexpected argument \"%s\"\n", CMD,
                        argv[optind]);
                goto done;
        }
        if (!brokers || !*brokers || !topic || !*topic || !old_url ||
            !new_url) {
                fprintf(stderr,
                        "vcdc %s: -b (or VCDC_BROKERS), -t, --old and --new "
                        "are required (--help)\n",
                        CMD);
                goto done;
        }
        if (check_db_url("--old", old_url) || check_db_url("--new", new_url))
                goto done;
        if (parse_listen(listen, &host, &port) == -1) {
                fprintf(stderr,
                        "vcdc %s: --listen %s: expected HOST:PORT, "
                        "[IPV6]:PORT or :PORT\n",
                        CMD, listen);
                goto done;
        }
        if (vcdc_conf_set(conf, "bootstrap.servers", brokers, errstr,
                          sizeof(errstr)) == -1) {
                fprintf(stderr, "vcdc %s: %s\n", CMD, errstr);
                goto done;
        }
        info.tenant = vcdc_conf_str(conf, "vcdc.gateway.tenant");
        info.database = vcdc_conf_str(conf, "vcdc.gateway.database");
        info.max_batch_size =
                (long)vcdc_conf_int(conf, "vcdc.gateway.max.batch.size");
        info.base64 = 1; /* the record routes decode base64 */
        if (!*info.tenant || !*info.database) {
                fprintf(stderr,
                        "vcdc %s: vcdc.gateway.tenant and "
                        "vcdc.gateway.database must not be empty\n",
                        CMD);
                goto done;
        }
        if (tokens &&
            !(access = vcdc_gw_access_load(tokens, errstr, sizeof(errstr)))) {
                fprintf(stderr, "vcdc %s: --tokens %s\n", CMD, errstr);
                goto done;
        }
        if (audit_path &&
            !(audit = vcdc_gw_audit_open(audit_path, errstr, sizeof(errstr)))) {
                fprintf(stderr, "vcdc %s: --audit %s\n", CMD, errstr);
                goto done;
        }
        if (!(router = vcdc_gw_router_new_chroma(errstr, sizeof(errstr))) ||
            vcdc_gw_builtin_add(router, &info, errstr, sizeof(errstr))) {
                fprintf(stderr, "vcdc %s: %s\n", CMD, errstr);
                rc = 1;
                goto done;
        }

        memset(&dopts, 0, sizeof(dopts));
        dopts.conf = conf;
        dopts.topic = topic;
        dopts.old_url = old_url;
        dopts.new_url = new_url;
        dopts.ack_applied = !strcmp(ack, "applied");
        dopts.audit = audit;
        dopts.shadow_rate = shadow_rate;
        if (!(data = vcdc_gw_data_new(&dopts, errstr, sizeof(errstr))) ||
            vcdc_gw_data_add_routes(data, router, errstr, sizeof(errstr))) {
                fprintf(stderr, "vcdc %s: %s\n", CMD, errstr);
                rc = 1;
                goto done;
        }

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);

        hopts.host = host;
        hopts.port = port;
        hopts.router = router;
        hopts.access = access;
        hopts.audit = audit;
        hopts.idle_timeout_s =
                (unsigned)vcdc_conf_int(conf, "vcdc.gateway.idle.timeout.s");
        if (!(http = vcdc_gw_http_start(&hopts, errstr, sizeof(errstr)))) {
                fprintf(stderr, "vcdc %s: %s\n", CMD, errstr);
                rc = 1;
                goto done;
        }
        msrc.http = http;
        msrc.data = data;
        if (metrics_port >= 0 &&
            !(msrc.groups = vcdc_gw_groups_start(
                      conf, topic, old_group, new_group,
                      (int)vcdc_conf_int(conf, "vcdc.gateway.group.sample.ms"),
                      errstr, sizeof(errstr)))) {
                fprintf(stderr, "vcdc %s: %s\n", CMD, errstr);
                rc = 1;
                goto done;
        }
        if (metrics_port >= 0 &&
            !(metrics = vcdc_metrics_start(
                      vcdc_conf_str(conf, "vcdc.metrics.bind"),
                      (int)metrics_port, render_metrics, &msrc, errstr,
                      sizeof(errstr)))) {
                fprintf(stderr, "vcdc %s: --metrics-port: %s\n", CMD, errstr);
                rc = 1;
                goto done;
        }
        VCDC_NOTICE(CMD,
                    "listening on %s:%d (%s tokens, audit %s, ack %s, "
                    "shadow rate %g, topic %s)",
                    host, vcdc_gw_http_port(http), access ? "with" : "without",
                    audit_path ? audit_path : "off", ack, shadow_rate, topic);
        if (access)
                VCDC_INFO(CMD, "%zu token(s) loaded from %s",
                          vcdc_gw_access_count(access), tokens);
        left = vcdc_gw_http_serve(
                http, &run,
                (int)vcdc_conf_int(conf, "vcdc.gateway.drain.timeout.ms"),
                vcdc_gw_data_flush, data);
        rc = left ? 1 : 0;
        VCDC_NOTICE(CMD, "stopped%s", left ? " with requests cut off" : "");
done:
        vcdc_metrics_stop(metrics);
        vcdc_gw_groups_stop(msrc.groups);
        vcdc_gw_http_destroy(http);
        vcdc_gw_router_destroy(router);
        vcdc_gw_data_destroy(data);
        vcdc_gw_audit_close(audit);
        vcdc_gw_access_destroy(access);
        vcdc_conf_destroy(conf);
        free(host);
        return rc;
}

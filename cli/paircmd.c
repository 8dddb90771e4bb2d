/*
 * vcdc - what the commands comparing OLD and NEW share (paircmd.h); it
 * never compares records itself.
 */
#include "paircmd.h"

#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "options.h"
#include "output.h"
#include "pair.h"

int vcdc_cli_usage_error(const vcdc_cli_pair_t *p, const char *fmt,
                         const char *what) {
        fprintf(stderr, "vcdc %s: ", p->cmd);
        fprintf(stderr, fmt, what);
        fprintf(stderr, "\n%s", p->usage);
        return VCDC_CLI_USAGE;
}

int vcdc_cli_pair_opt(vcdc_cli_pair_t *p, int argc, char **argv, int *ip) {
        const char *arg = argv[*ip], *v;
        int64_t n;

        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
                p->help = 1;
        } else if (!strcmp(arg, "--json")) {
                p->json = 1;
        } else if (vcdc_cli_take(argc, argv, ip, "--old", &v)) {
                if (!v || !*v)
                        return vcdc_cli_usage_error(p, "%s needs a URL", arg);
                p->old_url = v;
        } else if (vcdc_cli_take(argc, argv, ip, "--new", &v)) {
                if (!v || !*v)
                        return vcdc_cli_usage_error(p, "%s needs a URL", arg);
                p->new_url = v;
        } else if (vcdc_cli_take(argc, argv, ip, "--seed", &v)) {
                if (vcdc_conf_parse_int(v, 0, UINT32_MAX, &n))
                        return vcdc_cli_usage_error(p,
                                                    "--seed \"%s\" is not "
                                                    "0..4294967295",
                                                    v ? v : "");
                p->seed = (uint32_t)n;
                p->have_seed = 1;
        } else if (vcdc_cli_take(argc, argv, ip, "--timeout-ms", &v)) {
                if (vcdc_conf_parse_int(v, 1, 3600 * 1000, &n))
                        return vcdc_cli_usage_error(p,
                                                    "--timeout-ms \"%s\" is "
                                                    "not 1..3600000",
                                                    v ? v : "");
                p->timeout_ms = (int)n;
        } else {
                return 0;
        }
        return 1;
}

int vcdc_cli_pair_done(vcdc_cli_pair_t *p) {
        if (!p->old_url || !p->new_url)
                return vcdc_cli_usage_error(p, "%s",
                                            "--old and --new are required");
        if (!p->have_seed)
                p->seed = vcdc_cli_seed();
        return 0;
}

int vcdc_cli_pair_run(const vcdc_cli_pair_t *p, vcdc_cli_pair_run_t run,
                      void *ctx) {
        vcdc_sink_conf_t sink_conf = {.timeout_ms = p->timeout_ms};
        vcdc_sink_t *old_sink, *new_sink;
        char errstr[640];
        int rc = -1;

        if (vcdc_pair_open(p->old_url, p->new_url, &sink_conf, &old_sink,
                           &new_sink, errstr, sizeof(errstr)) == -1) {
                vcdc_cli_error(p->cmd, p->json, errstr);
                return -1;
        }
        if (run(old_sink, new_sink, ctx, errstr, sizeof(errstr)) == -1)
                vcdc_cli_error(p->cmd, p->json, errstr);
        else
                rc = 0;
        vcdc_sink_destroy(new_sink);
        vcdc_sink_destroy(old_sink);
        return rc;
}

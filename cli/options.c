/*
 * vcdc - reading the commands' options.
 */
#include "options.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"

int vcdc_cli_int(const char *cmd, const char *opt, const char *arg, int64_t min,
                 int64_t max, const char *expect, int64_t *vp) {
        if (vcdc_conf_parse_int(arg, min, max, vp) == 0)
                return 0;
        fprintf(stderr, "vcdc %s: %s %s: %s\n", cmd, opt, arg, expect);
        return -1;
}

int vcdc_cli_double(const char *cmd, const char *opt, const char *arg,
                    double min, double max, const char *expect, double *vp) {
        if (vcdc_conf_parse_double(arg, min, max, vp) == 0)
                return 0;
        fprintf(stderr, "vcdc %s: %s %s: %s\n", cmd, opt, arg, expect);
        return -1;
}

int vcdc_cli_take(int argc, char **argv, int *ip, const char *name,
                  const char **valp) {
        const char *arg = argv[*ip];
        size_t len = strlen(name);

        if (strncmp(arg, name, len))
                return 0;
        if (arg[len] == '=') {
                *valp = arg + len + 1;
                return 1;
        }
        if (arg[len])
                return 0;
        *valp = *ip + 1 < argc ? argv[++*ip] : NULL;
        return 1;
}

uint32_t vcdc_cli_seed(void) {
        return (uint32_t)time(NULL) ^ (uint32_t)getpid() << 16;
}

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

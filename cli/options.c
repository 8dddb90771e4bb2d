/*
 * vcdc - reading the commands' options (options.h); it never runs a
 * command.
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

/*
 * vcdc - what the commands comparing OLD and NEW (verify, shadow) share:
 * their common options (--old, --new, --seed, --timeout-ms, --json,
 * --help), their usage errors, and a run against the opened pair that
 * reports a failure the same way. The comparing itself is the library's.
 */
#ifndef VCDC_CLI_PAIRCMD_H
#define VCDC_CLI_PAIRCMD_H

#include <stddef.h>
#include <stdint.h>

#include "sink.h"

typedef struct vcdc_cli_pair_s {
        const char *cmd;   /* "verify" */
        const char *usage; /* the usage text, printed after an error */
        const char *old_url, *new_url;
        uint32_t seed;
        int have_seed;
        int timeout_ms; /* 0: the sink's default */
        int json;
        int help;
} vcdc_cli_pair_t;

/**
 * Says "vcdc CMD: " and fmt with what, then the usage text, on stderr.
 * Returns VCDC_CLI_USAGE.
 */
int vcdc_cli_usage_error(const vcdc_cli_pair_t *p, const char *fmt,
                         const char *what);

/**
 * Reads argv[*ip] when it is an option every pair command takes (-h,
 * --help, --json, --old, --new, --seed, --timeout-ms). Returns 1 when it
 * was one (check p->help), 0 when it is not, VCDC_CLI_USAGE after a usage
 * error.
 */
int vcdc_cli_pair_opt(vcdc_cli_pair_t *p, int argc, char **argv, int *ip);

/**
 * After the options: --old and --new are required; without --seed the
 * seed comes from vcdc_cli_seed(). Returns 0, or VCDC_CLI_USAGE after a
 * usage error.
 */
int vcdc_cli_pair_done(vcdc_cli_pair_t *p);

/* The comparison a pair command runs: 0, or -1 with errstr. */
typedef int (*vcdc_cli_pair_run_t)(vcdc_sink_t *old_sink, vcdc_sink_t *new_sink,
                                   void *ctx, char *errstr, size_t errstr_size);

/**
 * Opens p's OLD and NEW (with p's timeout), runs run on them and closes
 * them. A failure, opening or running, is reported as the command's
 * (vcdc_cli_error(), as JSON too with --json). Returns 0 when run
 * succeeded, else -1.
 */
int vcdc_cli_pair_run(const vcdc_cli_pair_t *p, vcdc_cli_pair_run_t run,
                      void *ctx);

#endif

/*
 * vcdc - reading the commands' options: a number with the command's own
 * message, "--name VALUE" / "--name=VALUE" for the commands that read
 * argv by hand, a default seed. Errors go to stderr as "vcdc CMD: ...";
 * nothing here runs a command.
 */
#ifndef VCDC_CLI_OPTIONS_H
#define VCDC_CLI_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

/* The exit status of bad usage, for every command. */
#define VCDC_CLI_USAGE 64

/**
 * Option opt's argument arg as an integer in min..max
 * (vcdc_conf_parse_int()). Returns 0 with *vp set, or -1 after saying
 * "vcdc CMD: OPT ARG: EXPECT" on stderr.
 */
int vcdc_cli_int(const char *cmd, const char *opt, const char *arg, int64_t min,
                 int64_t max, const char *expect, int64_t *vp);

/** The same for a number (vcdc_conf_parse_double()). */
int vcdc_cli_double(const char *cmd, const char *opt, const char *arg,
                    double min, double max, const char *expect, double *vp);

/**
 * When argv[*ip] is option name, given as "name VALUE" (then *ip moves to
 * VALUE) or "name=VALUE": returns 1 with *valp the value, NULL when it is
 * missing. Returns 0 for any other argument.
 */
int vcdc_cli_take(int argc, char **argv, int *ip, const char *name,
                  const char **valp);

/** A seed from the clock and the process id, for samples without
 *  --seed. */
uint32_t vcdc_cli_seed(void);

#endif

/*
 * vcdc - `vcdc verify`: does NEW hold exactly what OLD holds?
 */
#ifndef VCDC_CLI_VERIFY_H
#define VCDC_CLI_VERIFY_H

/**
 * Runs `vcdc verify --old URL --new URL [--sample N] [--tolerance X]
 * [--json] ...`; argv[0] is "verify". The report goes to stdout, logs and
 * progress to stderr. Returns the exit status: 0 when the targets match,
 * 1 when they differ, 2 on errors (a database that cannot be read),
 * 64 on bad usage.
 */
int vcdc_cmd_verify(int argc, char **argv);

#endif

/*
 * vcdc - `vcdc shadow`: the same k-NN queries on OLD and NEW, compared.
 */
#ifndef VCDC_CLI_SHADOW_H
#define VCDC_CLI_SHADOW_H

/**
 * Runs `vcdc shadow --old URL --new URL (--queries FILE | --sample N)
 * [-k 10] [--min-overlap X] [--json] ...`; argv[0] is "shadow". The report
 * goes to stdout, logs and progress to stderr. Returns the exit status:
 * 0 when the queries ran (and the mean overlap reached --min-overlap when
 * given), 1 when it fell below --min-overlap, 2 on errors, 64 on bad usage.
 */
int vcdc_cmd_shadow(int argc, char **argv);

#endif

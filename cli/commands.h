/*
 * vcdc - the operator's commands, one function each: parse argv, call the
 * control library (control/), print. Each returns the process's exit
 * status. Nothing here is used by the programs' libraries.
 */
#ifndef VCDC_CLI_COMMANDS_H
#define VCDC_CLI_COMMANDS_H

/**
 * Runs `vcdc status -t TOPIC --group G[=SINK_URL] [--group ...] [--json]
 * [--watch SECONDS] [--window N] [--max-lag N] ...`; argv[0] is "status".
 * The report goes to stdout, logs to stderr. Returns the exit status: 0
 * when every group is OK, 1 otherwise, 2 on errors (the cluster or a sink
 * cannot be read), 64 on bad usage.
 */
int vcdc_cmd_status(int argc, char **argv);

/**
 * Runs `vcdc verify --old URL --new URL [--sample N] [--tolerance X]
 * [--json] ...`; argv[0] is "verify". The report goes to stdout, logs and
 * progress to stderr. Returns the exit status: 0 when the targets match,
 * 1 when they differ, 2 on errors (a database that cannot be read),
 * 64 on bad usage.
 */
int vcdc_cmd_verify(int argc, char **argv);

/**
 * Runs `vcdc shadow --old URL --new URL (--queries FILE | --sample N)
 * [-k 10] [--min-overlap X] [--json] ...`; argv[0] is "shadow". The report
 * goes to stdout, logs and progress to stderr. Returns the exit status:
 * 0 when the queries ran (and the mean overlap reached --min-overlap when
 * given), 1 when it fell below --min-overlap, 2 on errors, 64 on bad usage.
 */
int vcdc_cmd_shadow(int argc, char **argv);

/**
 * Runs `vcdc shadow --gateway URL [--min-overlap X] [--min-rank X]
 * [--min-queries N] [--json]` (vcdc_cmd_shadow() hands over when it sees
 * --gateway): reads a running gateway's shadow-read metrics. Returns 0
 * when read (and the thresholds met), 1 below one, 2 on errors (the
 * endpoint unreachable or without shadow metrics), 64 on bad usage.
 */
int vcdc_cmd_shadow_gateway(int argc, char **argv);

/**
 * Runs `vcdc cutover -t TOPIC --collection C --to new|old --old URL
 * --new URL --old-group G --new-group G [options]`; argv[0] is "cutover".
 * Evaluates the gate (readiness of the target side's group, its recorded
 * offsets at or past the other side's, verification, shadow overlap),
 * prints each check, and writes the new route only when all pass (or with
 * --force). Returns 0 when switched (or already there), 1 when the gate
 * refused, 2 on errors, 64 on bad usage.
 */
int vcdc_cmd_cutover(int argc, char **argv);

/**
 * Runs `vcdc rollback --collection C [options]`; argv[0] is "rollback".
 * Routes C back to the side before its last cut-over at once, without a
 * gate. Returns 0 when switched back, 1 when there is nothing to roll back,
 * 2 on errors, 64 on bad usage.
 */
int vcdc_cmd_rollback(int argc, char **argv);

/**
 * Runs `vcdc route --collection C [--history | --follow] [--json]
 * [options]`; argv[0] is "route". Prints the current route and, with
 * --history, every switch; with --follow, the side and then one line per
 * switch until SIGINT or SIGTERM. Returns 0, 2 on errors, 64 on bad usage.
 */
int vcdc_cmd_route(int argc, char **argv);

/**
 * Runs `vcdc snapshot --from URL -t TOPIC --old-group G [options]`;
 * argv[0] is "snapshot". Copies OLD into the topic while writes go on
 * (snapshot/snap.h). Returns 0 when done, 1 when it failed or was
 * stopped midway (a rerun resumes), 64 on bad usage or input, 75 when OLD
 * or the cluster cannot be reached at start.
 */
int vcdc_cmd_snapshot(int argc, char **argv);

#endif

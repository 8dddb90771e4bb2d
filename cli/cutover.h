/*
 * vcdc - `vcdc cutover`, `vcdc rollback`, `vcdc route`: switching reads
 * between OLD and NEW through the control topic (common/route.h).
 */
#ifndef VCDC_CLI_CUTOVER_H
#define VCDC_CLI_CUTOVER_H

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

#endif

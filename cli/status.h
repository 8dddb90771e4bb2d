/*
 * vcdc - `vcdc status`: lag and readiness of the consumer groups.
 */
#ifndef VCDC_CLI_STATUS_H
#define VCDC_CLI_STATUS_H

/**
 * Runs `vcdc status -t TOPIC --group G[=SINK_URL] [--group ...] [--json]
 * [--watch SECONDS] [--window N] [--max-lag N] ...`; argv[0] is "status".
 * The report goes to stdout, logs to stderr. Returns the exit status: 0
 * when every group is OK, 1 otherwise, 2 on errors (the cluster or a sink
 * cannot be read), 64 on bad usage.
 */
int vcdc_cmd_status(int argc, char **argv);

#endif

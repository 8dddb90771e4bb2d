/*
 * vcdc - what the commands print alike: an error (on stderr, and as JSON
 * on stdout with --json), a JSON report, a switch record as JSON. Nothing
 * here decides anything.
 */
#ifndef VCDC_CLI_OUTPUT_H
#define VCDC_CLI_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "route.h"

/**
 * Reports errstr for command cmd: "vcdc CMD: ERRSTR" on stderr and, with
 * json, {"error": ERRSTR, "ok": false} on stdout.
 */
void vcdc_cli_error(const char *cmd, int json, const char *errstr);

/**
 * Prints root (stolen; NULL prints nothing) compactly on one line of
 * stdout, reals with precision significant digits, and flushes. Returns
 * 0, or -1 when it could not be written.
 */
int vcdc_cli_print_json(json_t *root, int precision);

/** A switch record as a JSON value (a new reference; null when it cannot
 *  be encoded). */
json_t *vcdc_cli_record_json(const vcdc_route_record_t *rec);

#endif

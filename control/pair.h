/*
 * vcdc - what `vcdc verify` and `vcdc shadow` share: both read an OLD and a
 * NEW database and report an error the same way.
 */
#ifndef VCDC_CLI_PAIR_H
#define VCDC_CLI_PAIR_H

#include "sink.h"

/**
 * Reports errstr for command cmd: "vcdc CMD: ERRSTR" on stderr and, with
 * json, {"error": ERRSTR, "ok": false} on stdout.
 */
void vcdc_cli_error(const char *cmd, int json, const char *errstr);

/**
 * Opens the sinks of old_url and new_url with a request timeout of
 * timeout_ms into *oldp and *newp. Returns 0, or -1 after reporting which
 * side failed and why (vcdc_cli_error()) with both set to NULL.
 */
int vcdc_cli_open_pair(const char *cmd, int json, const char *old_url,
                       const char *new_url, int timeout_ms,
                       vcdc_sink_t **oldp, vcdc_sink_t **newp);

#endif

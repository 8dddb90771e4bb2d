/*
 * vcdc gateway - the audit log (--audit FILE): one JSON line per write
 * request and per administrative operation, appended and flushed line by
 * line, so a crash loses at most the line being written:
 *
 *   {"ts":"2026-12-06T08:00:00.123Z","who":"sha256:0123456789ab",
 *    "method":"POST","path":"/api/v2/...","collection":"docs","ids":3,
 *    "offsets":null,"status":200}
 *
 * who is the token's fingerprint ("-" without a tokens file), never the
 * token; offsets is what the write path reports (JSON, null until it
 * does). Safe to call from several threads.
 */
#ifndef VCDC_GW_AUDIT_H
#define VCDC_GW_AUDIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct vcdc_gw_audit_s vcdc_gw_audit_t;

typedef struct vcdc_gw_audit_entry_s {
        int64_t ts_ms;   /* wall clock, ms since the epoch */
        const char *who; /* a token fingerprint */
        const char *method;
        const char *path;
        const char *collection; /* or NULL */
        long ids;               /* -1: unknown */
        const char *offsets;    /* JSON text, or NULL */
        int status;
} vcdc_gw_audit_entry_t;

/** Opens path for appending (created with mode 0600). NULL with errstr. */
vcdc_gw_audit_t *vcdc_gw_audit_open(const char *path, char *errstr,
                                    size_t errstr_size);

/** Appends one line. Returns 0, or -1 when it could not be written (the
 *  first failure is logged). */
int vcdc_gw_audit_write(vcdc_gw_audit_t *audit,
                        const vcdc_gw_audit_entry_t *entry);

/** The line for entry, NUL-terminated, without the newline, into a
 *  malloc'd string (free it); NULL on allocation failure. */
char *vcdc_gw_audit_format(const vcdc_gw_audit_entry_t *entry);

/** Flushes and closes. Accepts NULL. */
void vcdc_gw_audit_close(vcdc_gw_audit_t *audit);

#endif

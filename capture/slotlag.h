/*
 * vcdc - how far a vcdc-capture is behind its database, as the database
 * sees it: the replication slot's confirmed position against
 * pg_current_wal_lsn() (bytes), the walsender's flush lag (seconds), and
 * whether a capture streams the slot now. For `vcdc status --capture`;
 * it reads, never changes anything.
 */
#ifndef VCDC_SLOTLAG_H
#define VCDC_SLOTLAG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

typedef struct vcdc_slotlag_s {
        char name[320]; /* "slot@HOST:PORT/DB", for reports */
        char slot[64];
        int exists;          /* the slot exists */
        int active;          /* a session streams it */
        uint64_t confirmed;  /* confirmed_flush_lsn */
        uint64_t current;    /* pg_current_wal_lsn() */
        int64_t lag_bytes;   /* current - confirmed, 0 at least */
        double lag_s;        /* seconds behind: the walsender's flush lag,
                              * 0 when caught up, -1 when unknown */
        char wal_status[16]; /* reserved, extended, unreserved, lost */
        char error[1024];    /* why it could not be read, "" if it was */
} vcdc_slotlag_t;

/**
 * Reads the slot named by url, pgvector://USER@HOST:PORT/DB?slot=NAME
 * (or ?table=T: the slot vcdc-capture names by default, vcdc_t),
 * password as vcdc-capture takes it. Returns 0, or -1 with out->error (bad
 * URL, database unreachable, no such slot).
 */
int vcdc_slotlag_read(const char *url, vcdc_slotlag_t *out);

/** One line for `vcdc status`: the slot, OK (a capture streams it) or
 *  STOPPED, the lag in bytes and seconds, the positions; or the error. */
void vcdc_slotlag_print(FILE *fp, const vcdc_slotlag_t *c);

/** The same for n slots as a JSON array (a new reference; NULL on
 *  allocation failure). */
json_t *vcdc_slotlag_json(const vcdc_slotlag_t *c, size_t n);

#endif

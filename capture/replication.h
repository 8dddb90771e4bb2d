/*
 * vcdc - a client of PostgreSQL's streaming replication protocol, logical
 * flavour, over libpq (a replication=database connection):
 * CREATE_REPLICATION_SLOT with an exported snapshot, DROP_REPLICATION_SLOT,
 * START_REPLICATION ... LOGICAL with pgoutput's options, the CopyBoth
 * stream of XLogData and primary keepalive messages, and standby status
 * updates that confirm what the capture has published.
 *
 * It decodes the stream's framing only; what XLogData carries is
 * pgoutput's business (pgoutput.h). It keeps no position of its own: the
 * caller decides what to confirm and when. Frames are parsed by a pure
 * function, unit-tested and fuzzed without a server.
 */
#ifndef VCDC_REPLICATION_H
#define VCDC_REPLICATION_H

#include <stddef.h>
#include <stdint.h>

#include "pgconn.h"

/* Bytes of a standby status update ('r', three LSNs, a time, a flag). */
#define VCDC_REPL_STATUS_LEN 34
/* PostgreSQL's epoch (2000-01-01) in Unix seconds. */
#define VCDC_PG_EPOCH_UNIX_S 946684800LL

/* One message of the replication stream. */
typedef struct vcdc_repl_frame_s {
        char type;            /* 'w' XLogData, 'k' primary keepalive */
        uint64_t wal_start;   /* 'w': the LSN of the data */
        uint64_t wal_end;     /* the server's WAL position (for logical
                               * replication: what it has sent up to) */
        int64_t send_time_us; /* server clock, microseconds since 2000 */
        int reply_requested;  /* 'k': answer at once */
        const char *data;     /* 'w': len bytes of pgoutput message */
        size_t len;
} vcdc_repl_frame_t;

/**
 * Parses one CopyData message of the stream, buf[0..len). *f points into
 * buf. Returns 0, or -1 with errstr (unknown type, truncated, trailing
 * bytes in a keepalive).
 */
int vcdc_replication_parse_frame(const char *buf, size_t len,
                                 vcdc_repl_frame_t *f, char *errstr,
                                 size_t errstr_size);

/**
 * Writes a standby status update into out: written, flushed and applied
 * up to the given LSNs, at now_us (microseconds since 2000), asking for an
 * immediate keepalive when reply is set. Returns VCDC_REPL_STATUS_LEN.
 */
size_t vcdc_replication_build_status(unsigned char *out, uint64_t write,
                                     uint64_t flush, uint64_t apply,
                                     int64_t now_us, int reply);

/** Now, in microseconds since PostgreSQL's epoch. */
int64_t vcdc_replication_now_us(void);

typedef struct vcdc_replication_s vcdc_replication_t;

/**
 * Opens a replication connection. Returns NULL with *statusp
 * (VCDC_PG_TRANSIENT or VCDC_PG_FATAL, as vcdc_pgconn_connect()) and
 * errstr.
 */
vcdc_replication_t *vcdc_replication_open(const vcdc_pgconn_t *pc, int *statusp,
                                          char *errstr, size_t errstr_size);

/** Closes the connection (and with it any temporary slot). Accepts NULL. */
void vcdc_replication_close(vcdc_replication_t *r);

/**
 * Creates logical slot name with pgoutput, temporary when asked, and an
 * exported snapshot: its name in snapshot (valid until this connection
 * runs its next command), the slot's consistent point in *lsnp. Returns
 * VCDC_PG_OK or an error status with errstr.
 */
int vcdc_replication_create_slot(vcdc_replication_t *r, const char *name,
                                 int temporary, uint64_t *lsnp, char *snapshot,
                                 size_t snapshot_size, char *errstr,
                                 size_t errstr_size);

/** Drops slot name. Returns VCDC_PG_OK or an error status. */
int vcdc_replication_drop_slot(vcdc_replication_t *r, const char *name,
                               char *errstr, size_t errstr_size);

/**
 * Starts streaming slot from start_lsn (0: the slot's confirmed position;
 * an earlier LSN counts as that too) with pgoutput protocol version 1 and
 * publication, values in binary (pgoutput's binary 'true') when binary is
 * set. Returns VCDC_PG_OK or an error status.
 */
int vcdc_replication_start(vcdc_replication_t *r, const char *slot,
                           uint64_t start_lsn, const char *publication,
                           int binary, char *errstr, size_t errstr_size);

/**
 * Reads the next message of the stream within timeout_ms into *f (valid
 * until the next read). Returns 1 with a message, 0 when none came in
 * time, or VCDC_PG_TRANSIENT (the connection was lost or the server ended
 * the stream: reconnect) / VCDC_PG_FATAL with errstr.
 */
int vcdc_replication_read(vcdc_replication_t *r, int timeout_ms,
                          vcdc_repl_frame_t *f, char *errstr,
                          size_t errstr_size);

/** Sends a standby status update (see vcdc_replication_build_status()).
 *  Returns VCDC_PG_OK or an error status. */
int vcdc_replication_send_status(vcdc_replication_t *r, uint64_t write,
                                 uint64_t flush, int reply, char *errstr,
                                 size_t errstr_size);

/** The server's version number (160014 for 16.14). */
int vcdc_replication_server_version(const vcdc_replication_t *r);

#endif

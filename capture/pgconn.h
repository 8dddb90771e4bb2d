/*
 * vcdc - connections to the source PostgreSQL of vcdc-capture: the
 * parameters from a pgvector:// URL (password from VCDC_PG_PASSWORD or
 * the file VCDC_PG_PASSWORD_FILE names, or libpq's own PGPASSWORD and
 * .pgpass: never from argv, never logged), normal and replication
 * connections, statements whose errors say whether they may pass, and LSN
 * text.
 *
 * The retry decision lives here, once: VCDC_PG_TRANSIENT means the same
 * call may work later (the server is unreachable, starting, shutting down
 * or restarting, a connection was lost, a slot is still held by a session
 * that is going away); VCDC_PG_FATAL means it will fail again until
 * someone changes the configuration, the permissions or the schema.
 * It must not decide what a failure means for the capture (wait, retry,
 * stop): it only says which kind it is.
 */
#ifndef VCDC_PGCONN_H
#define VCDC_PGCONN_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "url.h"

#define VCDC_PG_OK        0
#define VCDC_PG_FATAL     -1
#define VCDC_PG_TRANSIENT -2

/* An LSN's text, "XXXXXXXX/XXXXXXXX", NUL included. */
#define VCDC_LSN_TEXT_MAX 18

typedef struct vcdc_pgconn_s vcdc_pgconn_t;

/**
 * Connection parameters for url (host, port, user, database, ?sslmode=),
 * each connection bounded by connect_timeout_s and kept alive by TCP
 * keepalives. Reads the password (see above). Returns NULL with errstr
 * when the password file cannot be read or memory runs out.
 */
vcdc_pgconn_t *vcdc_pgconn_new(const vcdc_url_t *url, int connect_timeout_s,
                               char *errstr, size_t errstr_size);

/** Wipes the password. Accepts NULL. */
void vcdc_pgconn_destroy(vcdc_pgconn_t *pc);

/** "HOST:PORT/DB", for messages (no user, no password). */
const char *vcdc_pgconn_name(const vcdc_pgconn_t *pc);

/**
 * A new connection: a normal one, or with replication set a logical
 * replication connection (replication=database). On failure returns NULL
 * with *statusp VCDC_PG_TRANSIENT when the server does not accept
 * connections now (unreachable, starting or shutting down: PQping says
 * so), else VCDC_PG_FATAL (refused credentials, no such database or role,
 * no replication privilege), and errstr giving libpq's reason.
 */
PGconn *vcdc_pgconn_connect(const vcdc_pgconn_t *pc, int replication,
                            int *statusp, char *errstr, size_t errstr_size);

/**
 * Runs sql with nparams text parameters. Returns the result (PQclear()
 * it) when the statement succeeded (PGRES_COMMAND_OK, PGRES_TUPLES_OK,
 * PGRES_COPY_OUT or PGRES_COPY_BOTH), else NULL with *statusp and errstr
 * (the server's message, with its SQLSTATE).
 */
PGresult *vcdc_pgconn_exec(PGconn *conn, const char *sql, int nparams,
                           const char *const *params, int *statusp,
                           char *errstr, size_t errstr_size);

/**
 * The status of a failed result on conn: VCDC_PG_TRANSIENT for a lost
 * connection and SQLSTATE classes 08 (connection), 40 (serialization,
 * deadlock), 53 (resources), 57 (operator intervention: shutdown,
 * cancel), 58 (system error), and 55006 (object in use: a slot still held
 * by a session going away); VCDC_PG_FATAL otherwise.
 */
int vcdc_pgconn_status_of(PGconn *conn, const PGresult *res);

/** The same classification for a SQLSTATE ("" or NULL: fatal). */
int vcdc_pgconn_sqlstate_status(const char *sqlstate);

/** Parses "X/Y" (two hex numbers of at most 8 digits each). Returns 0, or
 *  -1 when s is not an LSN. */
int vcdc_pgconn_lsn_parse(const char *s, uint64_t *lsnp);

/** Writes lsn as PostgreSQL prints it ("16/B374D848") into buf. */
void vcdc_pgconn_lsn_format(uint64_t lsn, char *buf, size_t size);

/**
 * 1 when transaction xid (32 bits, as Begin messages carry it) is visible
 * in snap, a snapshot as txid_current_snapshot() prints it
 * ("xmin:xmax:xip,..." with 64-bit ids): it was committed (or ended)
 * before the snapshot was taken. 0 when it was still running then, or
 * snap is not such text.
 */
int vcdc_pgconn_xid_visible(const char *snap, uint32_t xid);

/** The first line of a libpq or server message, as an int for "%.*s". */
int vcdc_pgconn_msg_len(const char *msg);

#endif

/*
 * vcdc - what vcdc-capture checks and prepares in the source database
 * before it captures anything, over a normal connection: the server
 * (version, wal_level, replication privilege), the table (its columns'
 * types, its replica identity, its id's uniqueness), the publication
 * (created when missing, refused when it leaves the table or some of its
 * changes out), the slot (refused when another plugin, kind or database
 * owns the name), and the slot operations done in SQL (copy, drop, the
 * WAL position).
 *
 * Every refusal names the table, column, publication or slot and says
 * how to fix it. Nothing here reads rows or streams: snapshot.c and
 * replication.c do.
 */
#ifndef VCDC_SOURCE_H
#define VCDC_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "pgvec.h"

/* The oldest server vcdc-capture runs against: 12 brought
 * pg_copy_logical_replication_slot(), which ends the initial snapshot. */
#define VCDC_SOURCE_VERSION_MIN 120000

/* What the options name. metadata and document may be absent from the
 * table when not named explicitly (*_set 0): then records carry none. */
typedef struct vcdc_source_names_s {
        const char *table, *id, *vector, *metadata, *document;
        int metadata_set, document_set;
} vcdc_source_names_t;

typedef enum vcdc_id_type_e {
        VCDC_ID_TEXT = 0, /* text, varchar (not char(n), whose ::text drops
                           * the padding its output keeps) */
        VCDC_ID_INT,      /* int2, int4, int8 */
        VCDC_ID_UUID,
} vcdc_id_type_t;

typedef struct vcdc_source_col_s {
        char *name; /* NULL: not in the table */
        uint32_t type_oid;
        char type_name[64]; /* as format_type() prints it */
} vcdc_source_col_t;

typedef struct vcdc_source_table_s {
        uint32_t oid;
        char *nspname, *relname;
        char *qname;    /* "nsp"."rel", quoted for SQL */
        char replident; /* 'd' default, 'f' full, 'i' index */
        vcdc_id_type_t id_type;
        vcdc_pgvec_kind_t vector_kind;
        vcdc_source_col_t id, vector, metadata, document;
} vcdc_source_table_t;

/**
 * Checks the server: version at least VCDC_SOURCE_VERSION_MIN, wal_level
 * logical, the role has the REPLICATION attribute (or is a superuser),
 * replication slots and WAL senders available. Returns VCDC_PG_OK, or an
 * error status with errstr naming the setting and the fix.
 */
int vcdc_source_check_server(PGconn *conn, char *errstr, size_t errstr_size);

/**
 * Finds and checks the table (see the top of this file) into *t (clear it
 * with vcdc_source_table_clear(), also after a failure). Returns
 * VCDC_PG_OK or an error status with errstr.
 */
int vcdc_source_inspect(PGconn *conn, const vcdc_source_names_t *names,
                        vcdc_source_table_t *t, char *errstr,
                        size_t errstr_size);

void vcdc_source_table_clear(vcdc_source_table_t *t);

/**
 * Makes sure publication publishes every insert, update, delete and
 * truncate of the whole table: creates it (FOR TABLE) when missing,
 * setting *createdp; refuses one that leaves the table, one of those
 * operations, a column or rows (a row filter) out. Returns VCDC_PG_OK or
 * an error status with errstr.
 */
int vcdc_source_ensure_publication(PGconn *conn, const vcdc_source_table_t *t,
                                   const char *publication, int *createdp,
                                   char *errstr, size_t errstr_size);

/**
 * Looks slot up: *existsp 0 when there is none; 1 when there is a logical
 * pgoutput slot of this database (*activep 1 while a session streams it).
 * A slot of that name that is physical, of another plugin or of another
 * database is refused (VCDC_PG_FATAL, errstr saying whose it is).
 */
int vcdc_source_slot(PGconn *conn, const char *slot, int *existsp, int *activep,
                     char *errstr, size_t errstr_size);

/** pg_copy_logical_replication_slot(from, to, false): a permanent slot at
 *  from's position. Returns VCDC_PG_OK or an error status. */
int vcdc_source_copy_slot(PGconn *conn, const char *from, const char *to,
                          char *errstr, size_t errstr_size);

/** pg_drop_replication_slot(slot). Returns VCDC_PG_OK or an error status
 *  (a slot in use by a running capture is refused). */
int vcdc_source_drop_slot(PGconn *conn, const char *slot, char *errstr,
                          size_t errstr_size);

/** pg_current_wal_lsn() into *lsnp. Returns VCDC_PG_OK or an error
 *  status. */
int vcdc_source_wal_lsn(PGconn *conn, uint64_t *lsnp, char *errstr,
                        size_t errstr_size);

/** 1 when name can be a slot name: 1..63 of [a-z0-9_]. */
int vcdc_source_slot_name_valid(const char *name);

/** 1 when name can be a table, column or publication name here: 1..63
 *  ASCII letters, digits and '_', not starting with a digit (always
 *  double-quoted in SQL, so case is kept). */
int vcdc_source_ident_valid(const char *name);

#endif

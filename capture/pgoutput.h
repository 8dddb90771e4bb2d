/*
 * vcdc - a decoder of pgoutput's logical replication messages, protocol
 * version 1 (PostgreSQL's "Logical Replication Message Formats"): Begin,
 * Commit, Origin, Relation, Type, Insert, Update, Delete, Truncate and
 * logical decoding Message.
 *
 * Pure and zero-copy: a decoded message points into the buffer it was
 * decoded from (strings there are NUL-terminated, which the decoder
 * checks), so it is valid while that buffer is. Every length is checked
 * against the buffer; trailing bytes, unknown message types and the
 * messages of protocol versions above 1 (streamed and two-phase
 * transactions, which vcdc never asks for) are errors. It knows nothing of
 * tables, columns or records: capture.c and rowmap.c give them meaning.
 *
 *   vcdc_pgoutput_t *dec = vcdc_pgoutput_new();
 *   vcdc_pgoutput_msg_t msg;
 *   if (vcdc_pgoutput_decode(dec, buf, len, &msg, errstr, sz) == 0)
 *           switch (msg.type) { case VCDC_PGO_INSERT: ... }
 *   vcdc_pgoutput_destroy(dec);
 */
#ifndef VCDC_PGOUTPUT_H
#define VCDC_PGOUTPUT_H

#include <stddef.h>
#include <stdint.h>

/* PostgreSQL's most columns in a table (MaxTupleAttributeNumber). */
#define VCDC_PGOUTPUT_COLS_MAX 1664

typedef enum vcdc_pgoutput_type_e {
        VCDC_PGO_BEGIN = 'B',
        VCDC_PGO_COMMIT = 'C',
        VCDC_PGO_ORIGIN = 'O',
        VCDC_PGO_RELATION = 'R',
        VCDC_PGO_TYPE = 'Y',
        VCDC_PGO_INSERT = 'I',
        VCDC_PGO_UPDATE = 'U',
        VCDC_PGO_DELETE = 'D',
        VCDC_PGO_TRUNCATE = 'T',
        VCDC_PGO_MESSAGE = 'M',
} vcdc_pgoutput_type_t;

/* One column of a tuple. */
typedef struct vcdc_pgoutput_value_s {
        char kind;        /* 'n' null, 'u' unchanged TOASTed value (not
                           * sent), 't' text, 'b' binary */
        const char *data; /* 't', 'b': len bytes (not NUL-terminated) */
        uint32_t len;
} vcdc_pgoutput_value_t;

typedef struct vcdc_pgoutput_tuple_s {
        size_t ncols;
        const vcdc_pgoutput_value_t *cols; /* the decoder's, ncols of them */
} vcdc_pgoutput_tuple_t;

/* One column of a Relation message. */
typedef struct vcdc_pgoutput_column_s {
        int key;          /* part of the replica identity (flag 1) */
        const char *name; /* NUL-terminated, in the buffer */
        uint32_t type_oid;
        int32_t typmod;
} vcdc_pgoutput_column_t;

typedef struct vcdc_pgoutput_msg_s {
        vcdc_pgoutput_type_t type;
        /* Begin: the transaction's final (commit) LSN; Commit: the commit
         * record's LSN; Origin: the commit LSN on the origin; Message: the
         * message's LSN. */
        uint64_t lsn;
        uint64_t end_lsn; /* Commit: the end of the transaction */
        int64_t ts_us;    /* Begin, Commit: commit time, microseconds since
                           * 2000-01-01 00:00 UTC */
        uint32_t xid;     /* Begin */
        uint8_t flags;    /* Commit (0); Truncate: 1 CASCADE, 2 RESTART
                           * IDENTITY; Message: 1 transactional */
        uint32_t oid;     /* Relation, Insert, Update, Delete: the relation;
                           * Type: the type */
        /* Relation, Type: namespace ("" for pg_catalog) and name; Origin:
         * name in name; Message: prefix in name. */
        const char *nspname, *name;
        char replident; /* Relation: relreplident ('d', 'n', 'f', 'i') */
        size_t ncols;   /* Relation */
        const vcdc_pgoutput_column_t *cols;
        /* Update: 'K' (key) or 'O' (old tuple) when an old tuple came, 0
         * when not; Delete: 'K' or 'O'. */
        char old_kind;
        vcdc_pgoutput_tuple_t old_tuple; /* Update (when old_kind), Delete */
        vcdc_pgoutput_tuple_t new_tuple; /* Insert, Update */
        size_t nrelids;                  /* Truncate */
        const uint32_t *relids;
        const char *content; /* Message: content_len bytes */
        size_t content_len;
} vcdc_pgoutput_msg_t;

typedef struct vcdc_pgoutput_s vcdc_pgoutput_t;

/** A decoder (its scratch space for columns and tuples). NULL on
 *  allocation failure. */
vcdc_pgoutput_t *vcdc_pgoutput_new(void);

/** Accepts NULL. */
void vcdc_pgoutput_destroy(vcdc_pgoutput_t *dec);

/**
 * Decodes one message buf[0..len) into *msg. The message points into buf
 * and into dec's scratch space: it is valid until buf is freed or dec
 * decodes again. Returns 0, or -1 with errstr saying what is wrong and at
 * which byte.
 */
int vcdc_pgoutput_decode(vcdc_pgoutput_t *dec, const char *buf, size_t len,
                         vcdc_pgoutput_msg_t *msg, char *errstr,
                         size_t errstr_size);

/** "Begin", "Insert", ... for a message type byte; "?" if unknown. */
const char *vcdc_pgoutput_type_name(int type);

#endif

/*
 * vcdc - the pgvector sink's COPY path, its pure half
 * (sink_pgvector_int.h): records as rows of PostgreSQL's binary COPY
 * format, byte for byte, and the SQL of the staging table and the merge
 * out of it. Bytes in, bytes out: no connection, no I/O, no decision of
 * when COPY is used (that is sink_pgvector_copy.c's).
 *
 * The binary COPY stream: the 11-byte signature "PGCOPY\n\377\r\n\0", a
 * 32-bit flags word (0: no OIDs) and a 32-bit header extension length (0);
 * then per row a 16-bit field count and per field a 32-bit length (-1 for
 * NULL) and that many bytes of the type's binary input (its _recv
 * function); then a 16-bit -1. Every integer is big-endian. The fields:
 *   id        text: the bytes as they are (the server checks the
 *             encoding, as it does for a text parameter);
 *   embedding vector: pgvector's vector_recv, int16 dim, int16 unused (0),
 *             dim float4 (vcdc_pgvector_vector_binary());
 *   metadata  jsonb: jsonb_recv, a version byte 1 then the JSON text;
 *   document  text, as id.
 */
#include "sink_pgvector_int.h"

#include <stdint.h>
#include <string.h>

#include "buf.h"

static const char signature[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n',
                                    '\377', '\r', '\n', '\0'};

/* The jsonb binary format's version (jsonb_recv accepts only 1). */
#define JSONB_VERSION 1
/* id, embedding, metadata, document. */
#define FIELDS 4

static char *put16(char *out, int16_t v) {
        uint16_t u = (uint16_t)v;

        out[0] = (char)(u >> 8);
        out[1] = (char)(u & 0xff);
        return out + 2;
}

static char *put32(char *out, int32_t v) {
        uint32_t u = (uint32_t)v;

        out[0] = (char)(u >> 24);
        out[1] = (char)((u >> 16) & 0xff);
        out[2] = (char)((u >> 8) & 0xff);
        out[3] = (char)(u & 0xff);
        return out + 4;
}

size_t vcdc_pgvector_copy_header(char *out) {
        memcpy(out, signature, sizeof(signature));
        put32(put32(out + sizeof(signature), 0 /*flags*/), 0 /*ext length*/);
        return VCDC_PGVECTOR_COPY_HEADER_SIZE;
}

size_t vcdc_pgvector_copy_trailer(char *out) {
        put16(out, -1);
        return VCDC_PGVECTOR_COPY_TRAILER_SIZE;
}

size_t vcdc_pgvector_copy_row_size(const vcdc_record_t *rec) {
        size_t id = strlen(rec->id), meta = 0, doc = 0, size;

        if (rec->metadata)
                meta = 1 + strlen(rec->metadata);
        if (rec->document)
                doc = strlen(rec->document);
        /* Each field's length is an int32. */
        if (id > INT32_MAX || meta > INT32_MAX || doc > INT32_MAX ||
            rec->dim > VCDC_PGVECTOR_DIM_MAX)
                return 0;
        size = 2 + FIELDS * 4 + id +
               vcdc_pgvector_vector_binary_size(rec->dim) + meta + doc;
        return size;
}

size_t vcdc_pgvector_copy_row(const vcdc_record_t *rec, char *out) {
        size_t id = strlen(rec->id), len;
        char *p = out;

        p = put16(p, FIELDS);
        p = put32(p, (int32_t)id);
        memcpy(p, rec->id, id);
        p += id;
        len = vcdc_pgvector_vector_binary_size(rec->dim);
        p = put32(p, (int32_t)len);
        p += vcdc_pgvector_vector_binary(rec->vector, rec->dim, p);
        if (rec->metadata) {
                len = strlen(rec->metadata);
                p = put32(p, (int32_t)(1 + len));
                *p++ = JSONB_VERSION;
                memcpy(p, rec->metadata, len);
                p += len;
        } else {
                p = put32(p, -1 /*NULL*/);
        }
        if (rec->document) {
                len = strlen(rec->document);
                p = put32(p, (int32_t)len);
                memcpy(p, rec->document, len);
                p += len;
        } else {
                p = put32(p, -1 /*NULL*/);
        }
        return (size_t)(p - out);
}

const char *vcdc_pgvector_stage_sql(void) {
        /* Temporary: the session's own, gone with the connection. Emptied
         * at each commit, so a batch never sees another's rows. The vector
         * is unconstrained: the target's column checks the dimension when
         * the rows move over, as it does for a parameter. Rows stay in the
         * page up to 8,160 bytes (a 768-d vector is 3 kB), not moved to
         * TOAST and read back for nothing. */
        return "CREATE TEMP TABLE IF NOT EXISTS " VCDC_PGVECTOR_STAGE
               " (id text, embedding vector, metadata jsonb, document text)"
               " WITH (toast_tuple_target = 8160)"
               " ON COMMIT DELETE ROWS";
}

const char *vcdc_pgvector_copy_sql(void) {
        return "COPY pg_temp." VCDC_PGVECTOR_STAGE
               " (id, embedding, metadata, document) FROM STDIN "
               "(FORMAT binary)";
}

char *vcdc_pgvector_merge_sql(const char *qtable) {
        vcdc_buf_t b = VCDC_BUF_INIT;

        vcdc_buf_printf(&b,
                        "INSERT INTO %s (id, embedding, metadata, document) "
                        "SELECT id, embedding, metadata, document FROM "
                        "pg_temp." VCDC_PGVECTOR_STAGE
                        " ON CONFLICT (id) DO UPDATE SET "
                        "embedding = EXCLUDED.embedding, "
                        "metadata = EXCLUDED.metadata, "
                        "document = EXCLUDED.document",
                        qtable);
        return vcdc_buf_detach(&b, NULL);
}

/*
 * vcdc - libFuzzer target: what vcdc-capture reads from PostgreSQL. The
 * input is one pgoutput message (vcdc_pgoutput_decode); the text values
 * of a decoded tuple go through the vector parser and, as a row, through
 * the row mapping. The same bytes are also read as a replication stream
 * frame (whose XLogData payload is decoded again), as COPY BINARY data,
 * and as a single number.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgoutput.h"
#include "pgvec.h"
#include "replication.h"
#include "rowmap.h"
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static vcdc_rowmap_t *rm_vec, *rm_half;

static int count_row(void *opaque, const vcdc_rowmap_row_t *row) {
        const vcdc_record_t *rec;
        char errstr[256];

        (void)opaque;
        (void)vcdc_rowmap_upsert(rm_vec, row, -1, &rec, errstr, sizeof(errstr));
        return 0;
}

/* The tuple's first four columns as id, vector, metadata, document. */
static void map_tuple(const vcdc_pgoutput_tuple_t *t) {
        vcdc_rowmap_value_t *v[4];
        const vcdc_record_t *rec;
        vcdc_rowmap_row_t row;
        char errstr[256];
        size_t i;

        memset(&row, 0, sizeof(row));
        v[0] = &row.id;
        v[1] = &row.vector;
        v[2] = &row.metadata;
        v[3] = &row.document;
        for (i = 0; i < t->ncols && i < 4; i++) {
                const vcdc_pgoutput_value_t *c = &t->cols[i];
                if (c->kind != 't' && c->kind != 'b')
                        continue;
                v[i]->present = 1;
                v[i]->binary = c->kind == 'b';
                v[i]->data = c->data;
                v[i]->len = c->len;
        }
        (void)vcdc_rowmap_upsert(rm_half, &row, 0, &rec, errstr,
                                 sizeof(errstr));
        (void)vcdc_rowmap_delete(rm_half, &row.id, 0, &rec, errstr,
                                 sizeof(errstr));
}

static void decode(vcdc_pgoutput_t *dec, const char *buf, size_t len) {
        vcdc_pgoutput_msg_t msg;
        char errstr[256], tiny[8];
        size_t i, dim, cap = 0;
        float *vec = NULL;

        if (vcdc_pgoutput_decode(dec, buf, len, &msg, errstr, sizeof(errstr)) ==
            -1) {
                (void)vcdc_pgoutput_decode(dec, buf, len, &msg, tiny,
                                           sizeof(tiny));
                return;
        }
        (void)vcdc_pgoutput_type_name(msg.type);
        for (i = 0; i < msg.ncols; i++)
                (void)strlen(msg.cols[i].name);
        for (i = 0; i < msg.new_tuple.ncols; i++) {
                const vcdc_pgoutput_value_t *c = &msg.new_tuple.cols[i];
                if (c->kind == 't')
                        (void)vcdc_pgvec_parse_text(c->data, c->len, &vec, &cap,
                                                    &dim, errstr,
                                                    sizeof(errstr));
        }
        free(vec);
        if (msg.new_tuple.ncols)
                map_tuple(&msg.new_tuple);
        if (msg.old_kind)
                map_tuple(&msg.old_tuple);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static vcdc_pgoutput_t *dec;
        char *buf = malloc(size ? size : 1), errstr[256];
        int header_done = 0, end = 0;
        vcdc_repl_frame_t f;
        uint64_t rows = 0;
        float x;

        if (!buf)
                return 0;
        if ((!dec && !(dec = vcdc_pgoutput_new())) ||
            (!rm_vec && !(rm_vec = vcdc_rowmap_new("c", VCDC_PGVEC_VECTOR))) ||
            (!rm_half &&
             !(rm_half = vcdc_rowmap_new("c", VCDC_PGVEC_HALFVEC)))) {
                free(buf);
                return 0;
        }
        /* An exact-size copy: reading one byte past it is caught. */
        memcpy(buf, data, size);
        decode(dec, buf, size);
        if (vcdc_replication_parse_frame(buf, size, &f, errstr,
                                         sizeof(errstr)) == 0 &&
            f.type == 'w')
                decode(dec, f.data, f.len);
        (void)vcdc_snapshot_parse_copy(buf, size, &header_done, &end, count_row,
                                       NULL, &rows, errstr, sizeof(errstr));
        header_done = 1;
        end = 0;
        (void)vcdc_snapshot_parse_copy(buf, size, &header_done, &end, count_row,
                                       NULL, &rows, errstr, sizeof(errstr));
        (void)vcdc_pgvec_parse_float(buf, size, &x);
        free(buf);
        return 0;
}

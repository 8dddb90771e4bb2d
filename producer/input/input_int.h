/*
 * vcdc - producer input internals: the reader's state and what input.c
 * (opening, options, dispatch) shares with jsonl.c and fvecs.c (one file
 * per input format). Only those files include this.
 */
#ifndef VCDC_INPUT_INT_H
#define VCDC_INPUT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "input.h"
#include "jsonscan.h"
#include "reader.h"

#define MAX_LINE_DEFAULT     ((size_t)64 * 1024 * 1024)
#define MAX_DOCUMENT_DEFAULT ((size_t)1024 * 1024)
#define MAX_METADATA_DEFAULT ((size_t)256 * 1024)
#define MAX_DEPTH_DEFAULT    16

struct vcdc_input_s {
        vcdc_input_opts_t opts; /* defaults resolved */
        char *path;             /* for messages: the path or "<stdin>" */
        char *ids_path;
        vcdc_reader_t rd;
        vcdc_reader_t ids;
        int has_ids;
        size_t line;         /* last line (JSONL) or record (fvecs) read */
        size_t ids_line;     /* last line read from the ids file */
        size_t dim;          /* fixed dimension, 0 until known */
        size_t dim_line;     /* the line/record that fixed it; 0: opts->dim */
        int failed;          /* an IOERR was returned */
        vcdc_jsonscan_t *js; /* JSONL: the scanner of its lines */
};

/* A little-endian uint32 at p (fvecs' dimensions and floats). */
static inline uint32_t vcdc_input_le32(const unsigned char *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
               (uint32_t)p[3] << 24;
}

/* Resolves opts' defaults into *o. Returns 0, or -1 with errstr. */
int vcdc_input_opts_resolve(vcdc_input_opts_t *o, const vcdc_input_opts_t *src,
                            char *errstr, size_t errstr_size);

/* A read error of rd (the input, or its ids file at path): in is failed
 * from now on. Returns VCDC_INPUT_IOERR with errstr. */
int vcdc_input_read_error(vcdc_input_t *in, const vcdc_reader_t *rd,
                          const char *path, char *errstr, size_t errstr_size);

/* The next record of each format, as vcdc_input_next(). */
int vcdc_input_next_jsonl(vcdc_input_t *in, vcdc_record_t *rec, char *errstr,
                          size_t errstr_size);
int vcdc_input_next_fvecs(vcdc_input_t *in, vcdc_record_t *rec, char *errstr,
                          size_t errstr_size);

#endif

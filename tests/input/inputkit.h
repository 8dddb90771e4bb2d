/*
 * vcdc - test kit for the producer's input readers: temporary files, opening
 * them, and expectations on what the reader answers (a record, a bad line
 * naming its place, an I/O error, the end). Test code only.
 */
#ifndef VCDC_TEST_INPUTKIT_H
#define VCDC_TEST_INPUTKIT_H

#include <stddef.h>
#include <stdint.h>

#include "input.h"

/* Where the last call of a kit function or a test wrote its message. */
extern char errstr[512];

void assert_contains(const char *s, const char *sub);

void assert_record_clear(const vcdc_record_t *rec);

char *write_temp(const void *data, size_t len);

char *write_temp_str(const char *s);

void remove_temp(char *path);

vcdc_input_t *open_jsonl(const char *path, const char *collection,
                         size_t max_line);

void expect_bad_at(vcdc_input_t *in, vcdc_record_t *rec, const char *path,
                   int fvecs, size_t line, const char *what);

void expect_bad(vcdc_input_t *in, vcdc_record_t *rec, const char *path,
                size_t line, const char *what);

void expect_bad_record(vcdc_input_t *in, vcdc_record_t *rec, const char *path,
                       size_t record, const char *what);

void expect_record(vcdc_input_t *in, vcdc_record_t *rec, size_t line,
                   const char *id);

void expect_eof(vcdc_input_t *in, vcdc_record_t *rec);

size_t put_fvec(unsigned char *p, int32_t dim, const float *v);

vcdc_input_t *open_fvecs(const char *path, const char *ids_path, size_t dim);

void expect_ioerr(vcdc_input_t *in, vcdc_record_t *rec, const char *path,
                  size_t record, const char *what);

#endif

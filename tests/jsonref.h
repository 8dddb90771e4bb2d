/*
 * vcdc - the reference the JSON fast path (jsonrec.h) is checked against:
 * jansson's tree plus strtof() of each vector number's text, with the
 * checks and messages producer/input.c had before issue 20.
 *
 * For the tests and the fuzzer (fuzz_jsonfast) only; must not be linked
 * into the programs.
 */
#ifndef VCDC_JSONREF_H
#define VCDC_JSONREF_H

#include <stddef.h>

#include "jsonrec.h"
#include "record.h"

/** As vcdc_jsonrec_parse(), through jansson: 0, or -1 with errstr. */
int vcdc_jsonref_parse(const char *line, size_t len, size_t skipped,
                       const vcdc_jsonrec_opts_t *opts, vcdc_record_t *rec,
                       char *errstr, size_t errstr_size);

#endif

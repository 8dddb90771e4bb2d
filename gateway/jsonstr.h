/*
 * vcdc gateway - JSON strings out: a string quoted and escaped for a JSON
 * text (error messages, audit lines). Input bytes that are not valid
 * UTF-8 become U+FFFD, so what is written is always valid JSON whatever a
 * client sent. Writes only; parsing is the API codec's job.
 */
#ifndef VCDC_GW_JSONSTR_H
#define VCDC_GW_JSONSTR_H

#include <stddef.h>

#include "buf.h"

/** Appends s[0..len) to b as a JSON string, quotes included. */
void vcdc_gw_json_string(vcdc_buf_t *b, const char *s, size_t len);

/** The same for a NUL-terminated string; NULL is written as null. */
void vcdc_gw_json_cstr(vcdc_buf_t *b, const char *s);

#endif

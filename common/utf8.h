/*
 * vcdc - UTF-8 validation (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF). Validates only; never transcodes.
 */
#ifndef VCDC_UTF8_H
#define VCDC_UTF8_H

#include <stddef.h>

/** 1 when s[0..len) is valid UTF-8, else 0. */
int vcdc_utf8_valid(const char *s, size_t len);

#endif

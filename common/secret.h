/*
 * vcdc - secrets (passwords, tokens) read from the environment or from a
 * file, as containers mount them. Nothing here logs a secret or keeps one.
 */
#ifndef VCDC_SECRET_H
#define VCDC_SECRET_H

#include <stddef.h>

/**
 * The secret in environment variable name, else in the file that
 * name_FILE names (one line; trailing newlines dropped), else NULL (not
 * set). *failedp is 1 when the file cannot be read (errstr says why).
 * Returns a new string (wipe and free() it).
 */
char *vcdc_secret(const char *name, int *failedp, char *errstr,
                  size_t errstr_size);

#endif

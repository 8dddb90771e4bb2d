/*
 * vcdc - sink URL parsing:
 *   scheme://[user@]host[:port][/path][?key=value&key=value]
 *
 * Percent-escapes are decoded in user, path and parameters. A password in
 * the URL is refused: secrets come from the environment or a file, never
 * from argv (DESIGN.md, Operability).
 */
#ifndef VCDC_URL_H
#define VCDC_URL_H

#include <stddef.h>

typedef struct vcdc_url_param_s {
        char *key;
        char *value;
} vcdc_url_param_t;

typedef struct vcdc_url_s {
        char *scheme; /* lower case */
        char *user;   /* or NULL */
        char *host;
        int port;     /* 0 when absent */
        char *path;   /* without the leading '/', "" when absent */
        vcdc_url_param_t *params;
        size_t param_cnt;
} vcdc_url_t;

/**
 * Parses url. Returns a new URL to free with vcdc_url_destroy(), or NULL
 * with errstr saying what is wrong and where.
 */
vcdc_url_t *vcdc_url_parse(const char *url, char *errstr, size_t errstr_size);

void vcdc_url_destroy(vcdc_url_t *url);

/** The value of parameter key, or NULL. The last occurrence wins. */
const char *vcdc_url_param(const vcdc_url_t *url, const char *key);

/**
 * Checks that every parameter is one of allowed (NULL-terminated). Returns
 * 0, or -1 with errstr naming the first unknown key.
 */
int vcdc_url_check_params(const vcdc_url_t *url, const char *const *allowed,
                          char *errstr, size_t errstr_size);

#endif

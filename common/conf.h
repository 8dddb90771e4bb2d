/*
 * vcdc - configuration: vcdc's own keys (prefix "vcdc.") with names,
 * defaults and validation in one table (conf.c), and every other key passed
 * straight to librdkafka. -X key=value and -F properties files go through
 * here for every program.
 * Nothing here acts on a value: each program reads what it needs.
 */
#ifndef VCDC_CONF_H
#define VCDC_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

typedef struct vcdc_conf_s vcdc_conf_t;

/** A new configuration holding every vcdc key at its default and an empty
 *  librdkafka configuration. NULL on allocation failure. */
vcdc_conf_t *vcdc_conf_new(void);

void vcdc_conf_destroy(vcdc_conf_t *conf);

/**
 * Sets name to value: a vcdc key is validated against the table, any other
 * key goes to rd_kafka_conf_set(). Returns 0, or -1 with errstr naming the
 * key and what is wrong.
 */
int vcdc_conf_set(vcdc_conf_t *conf, const char *name, const char *value,
                  char *errstr, size_t errstr_size);

/** Parses "key=value" (as given to -X) and sets it. */
int vcdc_conf_set_kv(vcdc_conf_t *conf, const char *kv, char *errstr,
                     size_t errstr_size);

/**
 * Loads a properties file: key=value lines, '#' and '!' comments, blank
 * lines. Errors read "path:line: what".
 */
int vcdc_conf_load_file(vcdc_conf_t *conf, const char *path, char *errstr,
                        size_t errstr_size);

/**
 * The options every vcdc program takes, by their getopt letter: 'X'
 * (key=value, as vcdc_conf_set_kv()), 'F' (a properties file), 'v' (log
 * one level more) and 'q' (errors only). Returns 0, or -1 with errstr
 * ("-X ..." or "path:line: ...") for the caller to print after its name.
 */
int vcdc_conf_common_opt(vcdc_conf_t *conf, int opt, const char *arg,
                         char *errstr, size_t errstr_size);

/* Typed getters for vcdc keys; an unknown name is a programming error and
 * aborts. */
int64_t vcdc_conf_int(const vcdc_conf_t *conf, const char *name);
double vcdc_conf_double(const vcdc_conf_t *conf, const char *name);
const char *vcdc_conf_str(const vcdc_conf_t *conf, const char *name);

/** The librdkafka configuration gathered so far (still owned by conf). */
rd_kafka_conf_t *vcdc_conf_kafka(vcdc_conf_t *conf);

/** A copy of the librdkafka configuration for a new client: the caller
 *  owns it (rd_kafka_new() takes it on success). */
rd_kafka_conf_t *vcdc_conf_kafka_dup(const vcdc_conf_t *conf);

/**
 * A copy for a client that reads without a consumer group (the control
 * topic's readers, vcdc snapshot's log reader): conf's settings without
 * group.*, enable.auto.* and auto.commit.*, with the log callback, then
 * the NULL-terminated name, value, name, value... props. Returns NULL with
 * errstr on failure.
 */
rd_kafka_conf_t *vcdc_conf_kafka_reader(const vcdc_conf_t *conf,
                                        const char *const *props,
                                        char *errstr, size_t errstr_size);

/** rd_kafka_conf_set() on a client's own configuration, with an errstr
 *  that names the key and value. Returns 0 or -1. */
int vcdc_conf_kafka_set(rd_kafka_conf_t *rkc, const char *name,
                        const char *value, char *errstr, size_t errstr_size);

/*
 * Numbers on a command line, read by the rules of the vcdc.* keys: the
 * whole string, within range. Each returns 0 with *vp set, or -1 (NULL,
 * empty, not a number, out of range) leaving *vp alone: the caller says
 * what it expected, in its own words.
 */

/** A decimal integer in min..max (as strtoll: leading blanks and a sign
 *  allowed). */
int vcdc_conf_parse_int(const char *s, int64_t min, int64_t max,
                        int64_t *vp);

/** A finite number in min..max (as strtod). */
int vcdc_conf_parse_double(const char *s, double min, double max,
                           double *vp);

/** A size in bytes, unsigned: digits, then optionally K, M or G (powers of
 *  1024, either case) and then optionally B or iB: "1048576", "512K",
 *  "64M", "1GiB". */
int vcdc_conf_parse_size(const char *s, size_t *vp);

/** Prints the vcdc keys, their defaults and what they do. */
void vcdc_conf_print_help(FILE *fp);

#endif

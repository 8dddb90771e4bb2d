/*
 * vcdc - the OLD/NEW pair of sinks that verify, shadow reads and the
 * cut-over gate compare: opened together, or neither. It opens sinks and
 * says which side failed; it prints nothing and compares nothing.
 */
#ifndef VCDC_PAIR_H
#define VCDC_PAIR_H

#include <stddef.h>

#include "sink.h"

/**
 * Opens the sinks of old_url and new_url with conf (may be NULL: the
 * defaults) into *oldp and *newp. Returns 0, or -1 with both set to NULL
 * and errstr "OLD: why" or "NEW: why".
 */
int vcdc_pair_open(const char *old_url, const char *new_url,
                   const vcdc_sink_conf_t *conf, vcdc_sink_t **oldp,
                   vcdc_sink_t **newp, char *errstr, size_t errstr_size);

#endif

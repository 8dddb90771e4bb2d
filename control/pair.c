/*
 * vcdc - the OLD/NEW pair of sinks, opened together; it prints nothing.
 */
#include "pair.h"

#include <stdio.h>

int vcdc_pair_open(const char *old_url, const char *new_url,
                   const vcdc_sink_conf_t *conf, vcdc_sink_t **oldp,
                   vcdc_sink_t **newp, char *errstr, size_t errstr_size) {
        char err[512];

        *newp = NULL;
        if (!(*oldp = vcdc_sink_new(old_url, conf, err, sizeof(err)))) {
                snprintf(errstr, errstr_size, "OLD: %s", err);
                return -1;
        }
        if (!(*newp = vcdc_sink_new(new_url, conf, err, sizeof(err)))) {
                snprintf(errstr, errstr_size, "NEW: %s", err);
                vcdc_sink_destroy(*oldp);
                *oldp = NULL;
                return -1;
        }
        return 0;
}

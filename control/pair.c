/*
 * vcdc - the OLD/NEW sink pair and error report of verify and shadow.
 */
#include "pair.h"

#include <stdio.h>

#include <jansson.h>

void vcdc_cli_error(const char *cmd, int json, const char *errstr) {
        json_t *obj;

        fprintf(stderr, "vcdc %s: %s\n", cmd, errstr);
        if (!json)
                return;
        obj = json_pack("{s:s, s:b}", "error", errstr, "ok", 0);
        if (obj) {
                json_dumpf(obj, stdout, JSON_COMPACT);
                printf("\n");
                json_decref(obj);
        }
}

int vcdc_cli_open_pair(const char *cmd, int json, const char *old_url,
                       const char *new_url, int timeout_ms,
                       vcdc_sink_t **oldp, vcdc_sink_t **newp) {
        vcdc_sink_conf_t conf = {0};
        char errstr[640], err[512];

        conf.timeout_ms = timeout_ms;
        *newp = NULL;
        if (!(*oldp = vcdc_sink_new(old_url, &conf, err, sizeof(err)))) {
                snprintf(errstr, sizeof(errstr), "OLD: %s", err);
                vcdc_cli_error(cmd, json, errstr);
                return -1;
        }
        if (!(*newp = vcdc_sink_new(new_url, &conf, err, sizeof(err)))) {
                snprintf(errstr, sizeof(errstr), "NEW: %s", err);
                vcdc_cli_error(cmd, json, errstr);
                vcdc_sink_destroy(*oldp);
                *oldp = NULL;
                return -1;
        }
        return 0;
}

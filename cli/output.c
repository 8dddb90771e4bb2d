/*
 * vcdc - what the commands print alike (output.h); no command's logic.
 */
#include "output.h"

#include <stdio.h>
#include <stdlib.h>

void vcdc_cli_error(const char *cmd, int json, const char *errstr) {
        fprintf(stderr, "vcdc %s: %s\n", cmd, errstr);
        if (json)
                vcdc_cli_print_json(
                        json_pack("{s:s, s:b}", "error", errstr, "ok", 0), 9);
}

int vcdc_cli_print_json(json_t *root, int precision) {
        int r = -1;

        if (root &&
            json_dumpf(root, stdout,
                       JSON_COMPACT | JSON_REAL_PRECISION(precision)) == 0) {
                printf("\n");
                r = 0;
        }
        fflush(stdout);
        json_decref(root);
        return r;
}

json_t *vcdc_cli_record_json(const vcdc_route_record_t *rec) {
        char errstr[256], *text;
        json_t *v;

        if (!(text = vcdc_route_record_encode(rec, errstr, sizeof(errstr))))
                return json_null();
        v = json_loads(text, 0, NULL);
        free(text);
        return v ? v : json_null();
}

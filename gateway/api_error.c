/*
 * vcdc - the gateway's API errors (api_error.h): filling one, and its
 * JSON body.
 */
#include "api_error.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int set_v(vcdc_api_error_t *err, int status, const char *name,
                 const char *prefix, const char *fmt, va_list ap) {
        size_t n;

        if (!err || err->status)
                return -1;
        err->status = status;
        snprintf(err->name, sizeof(err->name), "%s", name);
        n = (size_t)snprintf(err->message, sizeof(err->message), "%s", prefix);
        if (n < sizeof(err->message))
                vsnprintf(err->message + n, sizeof(err->message) - n, fmt, ap);
        return -1;
}

int vcdc_api_error_set(vcdc_api_error_t *err, int status, const char *name,
                       const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        set_v(err, status, name, "", fmt, ap);
        va_end(ap);
        return -1;
}

void vcdc_api_error_clear(vcdc_api_error_t *err) {
        if (err)
                memset(err, 0, sizeof(*err));
}

int vcdc_api_error_json(vcdc_api_error_t *err, const char *what, size_t line,
                        size_t column) {
        return vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                  "Failed to parse the request body as JSON: "
                                  "%s at line %zu column %zu",
                                  what, line, column);
}

int vcdc_api_error_shape(vcdc_api_error_t *err, const char *path,
                         const char *fmt, ...) {
        char prefix[200];
        va_list ap;

        snprintf(prefix, sizeof(prefix),
                 "Failed to deserialize the JSON body into the target type: "
                 "%s%s",
                 path ? path : "", path && *path ? ": " : "");
        va_start(ap, fmt);
        set_v(err, 422, VCDC_API_CHROMA_ERROR, prefix, fmt, ap);
        va_end(ap);
        return -1;
}

char *vcdc_api_error_body(const vcdc_api_error_t *err) {
        json_t *o = json_pack("{s:s,s:s}", "error", err->name, "message",
                              err->message);
        char *s;

        if (!o) /* a message cut inside a UTF-8 sequence: the name alone */
                o = json_pack("{s:s,s:s}", "error", err->name, "message",
                              err->name);
        if (!o)
                return NULL;
        s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        return s;
}

/*
 * vcdc - the gateway's API errors: what the HTTP layer sends back as
 * {"error": name, "message": message} with status, in the words the
 * Chroma 1.0 server uses (its names: InvalidArgumentError for 400,
 * ChromaError for 422 body-shape errors, NotFoundError, InternalError).
 *
 * Must not: know about HTTP beyond the status number, or allocate.
 */
#ifndef VCDC_API_ERROR_H
#define VCDC_API_ERROR_H

#include <stddef.h>

#define VCDC_API_ERROR_NAME_MAX    40
#define VCDC_API_ERROR_MESSAGE_MAX 1024

typedef struct vcdc_api_error_s {
        int status; /* HTTP status: 400, 422, 404, 409, 500 */
        char name[VCDC_API_ERROR_NAME_MAX];
        char message[VCDC_API_ERROR_MESSAGE_MAX];
} vcdc_api_error_t;

/* Chroma's names for the statuses this layer produces. */
#define VCDC_API_INVALID_ARGUMENT "InvalidArgumentError" /* 400 */
#define VCDC_API_CHROMA_ERROR     "ChromaError"          /* 422 */
#define VCDC_API_INTERNAL         "InternalError"        /* 500 */

/** Fills err (may be NULL: then nothing). First error wins: a call on an
 *  err whose status is already set changes nothing. Returns -1, so that
 *  callers can `return vcdc_api_error_set(...)`. */
int vcdc_api_error_set(vcdc_api_error_t *err, int status, const char *name,
                       const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/** Sets err to nothing (status 0). */
void vcdc_api_error_clear(vcdc_api_error_t *err);

/** 400 InvalidArgumentError "Failed to parse the request body as JSON: ..."
 *  (Chroma's words for a body that is not JSON). */
int vcdc_api_error_json(vcdc_api_error_t *err, const char *what, size_t line,
                        size_t column);

/** 422 ChromaError "Failed to deserialize the JSON body into the target
 *  type: PATH: WHAT" (serde's words for a body of the wrong shape; the
 *  position is left out where it is not known). */
int vcdc_api_error_shape(vcdc_api_error_t *err, const char *path,
                         const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/** {"error":name,"message":message} as a new string (free()), NULL on
 *  allocation failure. */
char *vcdc_api_error_body(const vcdc_api_error_t *err);

#endif

/*
 * vcdc gateway - the routes the gateway answers itself, with the Chroma
 * 1.0 server's JSON shapes: heartbeat, version, healthcheck,
 * pre-flight-checks, auth/identity, and the lookup of the one tenant and
 * database the gateway serves. The data routes (collections, records)
 * are the API part's.
 */
#ifndef VCDC_GW_BUILTIN_H
#define VCDC_GW_BUILTIN_H

#include <stddef.h>

#include "router.h"

typedef struct vcdc_gw_info_s {
        const char *tenant;   /* the tenant served ("default_tenant") */
        const char *database; /* the database served ("default_database") */
        long max_batch_size;  /* pre-flight-checks' max_batch_size */
        int base64;           /* supports_base64_encoding: set only when
                               * the record routes decode base64 */
} vcdc_gw_info_t;

/**
 * Adds the handlers of the built-in routes to router (which must have
 * them declared: vcdc_gw_router_new_chroma). info must outlive router.
 * Returns 0, or -1 with errstr.
 */
int vcdc_gw_builtin_add(vcdc_gw_router_t *router, const vcdc_gw_info_t *info,
                        char *errstr, size_t errstr_size);

/* The version the gateway reports: the Chroma API it speaks. */
#define VCDC_GW_CHROMA_VERSION "1.0.0"

/* The id Chroma 1.0 gives the default database. */
#define VCDC_GW_DATABASE_ID "00000000-0000-0000-0000-000000000000"

#endif

/*
 * vcdc gateway - the data routes: collections (collreg.h), writes into
 * the log through the producer library, reads from the side the route
 * names (DESIGN.md, The gateway: write path, ack, reads).
 *
 *   d = vcdc_gw_data_new(&opts, errstr, sz);   // producer, collections
 *   vcdc_gw_data_add_routes(d, router, ...);   // the handlers
 *   ... serve ...
 *   vcdc_gw_data_flush(d);                     // on stopping
 *   vcdc_gw_data_destroy(d);
 *
 * Every handler may run on several server threads at once: the producer
 * is shared under a lock, sinks and database connections are per
 * collection and side, each under its own lock.
 */
#ifndef VCDC_GW_DATA_H
#define VCDC_GW_DATA_H

#include <stddef.h>

#include "conf.h"
#include "router.h"

typedef struct vcdc_gw_data_s vcdc_gw_data_t;

typedef struct vcdc_gw_data_opts_s {
        const vcdc_conf_t *conf; /* brokers, client settings, vcdc.gateway.*;
                                  * outlives the data layer */
        const char *topic;       /* the change records' */
        const char *old_url, *new_url; /* chroma://H:P, pgvector://U@H:P/DB */
        int ack_applied;               /* 1: --ack applied, 0: --ack log */
        struct vcdc_gw_audit_s *audit; /* not owned; NULL: none. Gets a
                                        * line per route switch seen */
        double shadow_rate; /* 0..1: the fraction of queries also run on
                             * the other side (vcdc.gateway.shadow.*) */
} vcdc_gw_data_opts_t;

/** Starts the producer, reads the collections from the control topic.
 *  NULL with errstr. */
vcdc_gw_data_t *vcdc_gw_data_new(const vcdc_gw_data_opts_t *opts, char *errstr,
                                 size_t errstr_size);

/** Adds the collection and record routes' handlers to router. */
int vcdc_gw_data_add_routes(vcdc_gw_data_t *d, vcdc_gw_router_t *router,
                            char *errstr, size_t errstr_size);

/** The data layer's Prometheus text (the shadow reads') into buf;
 *  returns its length. Safe from any thread. */
size_t vcdc_gw_data_render_metrics(vcdc_gw_data_t *d, char *buf, size_t size);

/** Waits for every record sent to be acknowledged (on stopping). */
void vcdc_gw_data_flush(void *d);

void vcdc_gw_data_destroy(vcdc_gw_data_t *d);

#endif

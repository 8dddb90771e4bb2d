/*
 * vcdc gateway - the data layer's insides, shared by gwdata.c (context,
 * collections, writes) and gwread.c (reads from Chroma and pgvector).
 */
#ifndef VCDC_GW_DATA_INT_H
#define VCDC_GW_DATA_INT_H

#include <pthread.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "api_body.h"
#include "collreg.h"
#include "exchange.h"
#include "gwdata.h"
#include "gwpending.h"
#include "http.h"
#include "producer.h"
#include "route.h"
#include "sink.h"

#define GW_ID_STRIPES     64
#define GW_MAX_PARTITIONS 1024 /* of the topic; refused beyond at start */
#define GW_PENDING_SYNC_MS                                                     \
        400 /* how often a collection's pending records are checked            \
             * against the serving side's applied offsets (one read of         \
             * them, under the collection's lock) */

#define GW_SIDE_CONNS_MAX 64 /* connections per side, at most */

struct gw_side_s;

/* One connection to a side's database, used by one request at a time. */
typedef struct gw_conn_s {
        struct gw_side_s *side;
        int busy; /* taken (under the side's pool lock) */
        vcdc_http_t *http; /* chroma */
        PGconn *pg;        /* pgvector */
} gw_conn_t;

/* One database the collections live in (OLD or NEW). */
typedef struct gw_side_s {
        int is_pg;
        char *url;    /* as given */
        char *base;   /* chroma: "http://H:P"; pg: the URL */
        char *prefix; /* chroma: /api/v2/tenants/T/databases/D */
        /* The pool (vcdc.gateway.connections of them): a request takes a
         * free one, or waits on cond for the first one given back. */
        pthread_mutex_t pool_lock;
        pthread_cond_t pool_cond;
        int nconn;
        gw_conn_t conn[GW_SIDE_CONNS_MAX];
} gw_side_t;

/** A free connection of s, taken: waits for one when every one is in
 *  use. Give it back with gw_conn_give(). */
gw_conn_t *gw_conn_take(gw_side_t *s);
void gw_conn_give(gw_conn_t *c);

/** Closes c's connection (taken by the caller, or at the end). */
void gw_conn_close(gw_conn_t *c);

/* What the gateway keeps per collection: the route follower and a sink on
 * each side (existing records, recorded offsets, dimension). */
/* Two locks: lock, held for moments (never across a request to a
 * database), guards the route, the cached ids and dimensions; wlock, held
 * across requests to a database, guards the sinks and makes a write's
 * sync of the pending records and its read of the serving side one step
 * (gwbase.c). Reads of data never take wlock but to learn a dimension
 * nothing has told yet, so a query never waits for a write's round trip.
 * Order: wlock before lock. */
typedef struct gw_cstate_s {
        char *name;
        pthread_mutex_t lock;
        pthread_mutex_t wlock;
        /* Under lock: */
        vcdc_route_follower_t *follower;
        int64_t polled_ms;
        vcdc_route_side_t side;
        char chroma_id[2][64];    /* the Chroma collection's id per side */
        size_t written_dim;       /* of the embeddings this gateway wrote */
        size_t dim[2];            /* gw_dim()'s last answer per side */
        /* Under wlock: */
        vcdc_sink_t *sink[2];
        int64_t dim_probed_ms[2]; /* when a sink without a dimension was
                                   * last reopened to learn it */
        struct gw_cstate_s *next;
} gw_cstate_t;

/* One request's produced offsets: the highest per partition. */
typedef struct gw_track_s {
        int64_t *offsets; /* by partition, -1: none */
        int32_t cnt;
        int failed;
} gw_track_t;

struct vcdc_gw_data_s {
        const vcdc_conf_t *conf;
        char *topic, *control_topic, *tenant, *database;
        int ack_applied, applied_timeout_ms;
        int log_timeout_ms;    /* message.timeout.ms + 5 s: past it every
                                * record sent is delivered or failed */
        pthread_mutex_t plock; /* the producer (sends, polls, flushes) */
        vcdc_producer_t *producer;
        vcdc_gw_colls_t *colls;
        struct vcdc_gw_audit_s *audit;
        gw_side_t side[2];
        pthread_mutex_t clock; /* cstates */
        gw_cstate_t *cstates;
        pthread_mutex_t idlock[GW_ID_STRIPES];
        vcdc_gw_pending_t *pending; /* records written, maybe not yet
                                     * applied (gwpending.h) */
        struct gw_shadow_s *shadow; /* shadow reads (gwshadow.c) */
};

/** The producer's delivery hook (gwwrite.c). */
void gw_on_delivery(void *opaque, void *track, int32_t partition,
                    int64_t offset, int failed);

/** The state of collection name (made on first use). NULL: out of memory
 *  or the cluster unreachable (resp filled). */
gw_cstate_t *gw_cstate(vcdc_gw_data_t *d, const char *name,
                       vcdc_gw_resp_t *resp);

/** The side serving cs's reads now (polls the follower at most every
 *  100 ms). */
vcdc_route_side_t gw_serving_side(vcdc_gw_data_t *d, gw_cstate_t *cs);

/** cs's sink on side, opened on first use (call with cs->wlock held).
 *  NULL with errstr. */
vcdc_sink_t *gw_sink(vcdc_gw_data_t *d, gw_cstate_t *cs, vcdc_route_side_t side,
                     char *errstr, size_t errstr_size);

/** The dimension of cs on side, 0 while the target has none (call with
 *  cs->wlock held). A sink learns the dimension only when opened on an
 *  existing target or when it writes, and this one only reads: while it
 *  has none it is reopened, at most once a second. */
size_t gw_dim(vcdc_gw_data_t *d, gw_cstate_t *cs, vcdc_route_side_t side);

/** gw_dim() for a read, which takes no cs->wlock a write holds: while
 *  one does, the dimension gw_dim() last gave (or this gateway wrote);
 *  only while none is known, it waits for the write. */
size_t gw_read_dim(vcdc_gw_data_t *d, gw_cstate_t *cs,
                   vcdc_route_side_t side);

/*
 * Reads (gwread.c): each answers resp with the side's answer in Chroma's
 * shape. ids_only: a get that returns only the ids matching (for deletes
 * by filter) in *idsp / *nidsp (free each and the array).
 */
void gw_read_get(vcdc_gw_data_t *d, gw_cstate_t *cs, const vcdc_gw_coll_t *c,
                 vcdc_route_side_t side, const char *body, size_t len,
                 vcdc_gw_resp_t *resp);
void gw_read_query(vcdc_gw_data_t *d, gw_cstate_t *cs, const vcdc_gw_coll_t *c,
                   vcdc_route_side_t side, const char *body, size_t len,
                   vcdc_gw_resp_t *resp);
/** gw_read_query() with the dimension the embeddings must have given
 *  (0: any, the first's): the shadow's, which must not learn the other
 *  side's under cs->wlock. */
void gw_read_query_dim(vcdc_gw_data_t *d, gw_cstate_t *cs,
                       const vcdc_gw_coll_t *c, vcdc_route_side_t side,
                       size_t dim, const char *body, size_t len,
                       vcdc_gw_resp_t *resp);
void gw_read_count(vcdc_gw_data_t *d, gw_cstate_t *cs, const vcdc_gw_coll_t *c,
                   vcdc_route_side_t side, vcdc_gw_resp_t *resp);
/** The ids matching r's ids and filter on side. Returns 0, or -1 with
 *  resp filled. */
int gw_read_ids(vcdc_gw_data_t *d, gw_cstate_t *cs, const vcdc_gw_coll_t *c,
                vcdc_route_side_t side, const vcdc_api_read_t *r,
                const char *body, size_t len, char ***idsp, size_t *nidsp,
                vcdc_gw_resp_t *resp);

/*
 * The base of a write (gwbase.c).
 */
/** One round of a wait for side that ends at deadline (a wall of
 *  vcdc.gateway.applied.timeout.ms): past it, -1 with resp filled (503
 *  "<what> on the serving side (SIDE) after N ms[: errstr]", Retry-After
 *  1); else it sleeps 10 ms and returns 0. */
int gw_wait_round(const vcdc_gw_data_t *d, int64_t deadline,
                  vcdc_route_side_t side, const char *what,
                  const char *errstr, vcdc_gw_resp_t *resp);
/** Takes cs->wlock once side may be read for ids this instance has no
 *  pending record of (the pending records synced with side's applied
 *  offsets when due), polling every 10 ms up to
 *  vcdc.gateway.applied.timeout.ms. Returns 0 with the lock held, or -1
 *  with resp filled (503) and the lock not held. */
int gw_lock_ready(vcdc_gw_data_t *d, gw_cstate_t *cs, vcdc_route_side_t side,
                  vcdc_gw_resp_t *resp);
/** have (the serving side's copy of id; id NULL when missing) replaced by
 *  this instance's pending record of id (or made missing by a pending
 *  delete). Call with cs->wlock held since gw_lock_ready(). 0, or -1 out
 *  of memory. */
int gw_pending_over(vcdc_gw_data_t *d, const char *coll, vcdc_record_t *have,
                    const char *id);
/** gw_read_ids() with the pending records in place of side's copies: a
 *  pending delete is not deleted again, a pending record is when it
 *  matches r's ids and filter. Returns 0, or -1 with resp filled. */
int gw_delete_ids(vcdc_gw_data_t *d, gw_cstate_t *cs, const vcdc_gw_coll_t *c,
                  vcdc_route_side_t side, const vcdc_api_read_t *r,
                  const char *body, size_t len, char ***idsp, size_t *nidsp,
                  vcdc_gw_resp_t *resp);

/** Makes the collection exist in Chroma on side (get_or_create with its
 *  space), so the consumer finds it with the right metric. */
int gw_chroma_create(vcdc_gw_data_t *d, vcdc_route_side_t side,
                     const vcdc_gw_coll_t *c, char *errstr, size_t errstr_size);

/** Closes every connection of s (nothing may use them). */
void gw_side_close(gw_side_t *s);

/* A route of the data layer and its handler. */
typedef struct gw_route_s {
        const char *method, *pattern;
        vcdc_gw_handler_t *handler;
} gw_route_t;

/** Registers routes[0..cnt) with d as their opaque (gwdata.c). */
int gw_add_routes(vcdc_gw_data_t *d, vcdc_gw_router_t *router,
                  const gw_route_t *routes, size_t cnt, char *errstr,
                  size_t errstr_size);

/** The record routes (gwwrite.c). */
int gw_write_add_routes(vcdc_gw_data_t *d, vcdc_gw_router_t *router,
                        char *errstr, size_t errstr_size);

#endif

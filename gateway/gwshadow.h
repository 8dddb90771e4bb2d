/*
 * vcdc gateway - shadow reads: a sampled fraction of the queries also
 * runs on the side that does not serve, on a worker thread, after the
 * client has its answer; the two answers are compared (shadowstat.h).
 * Part of the data layer (it reads through gwread.c).
 *
 *   sh = gw_shadow_new(d, rate, ...);     // starts the worker(s)
 *   if (gw_shadow_want(sh)) gw_shadow_offer(sh, ...);   // request path
 *   gw_shadow_render(sh, buf, size);      // metrics thread
 *   gw_shadow_destroy(sh);                // stops them
 */
#ifndef VCDC_GW_SHADOW_H
#define VCDC_GW_SHADOW_H

#include <stddef.h>

#include "collreg.h"
#include "route.h"

struct vcdc_gw_data_s;
struct gw_cstate_s;

typedef struct gw_shadow_s gw_shadow_t;

/**
 * Starts threads workers (1..16) comparing a fraction rate (0..1) of the
 * queries; the queue holds at most queue_max requests and queue_bytes of
 * their bodies and answers (past either, a sample is dropped and
 * counted). d outlives the shadow. NULL with errstr.
 */
gw_shadow_t *gw_shadow_new(struct vcdc_gw_data_s *d, double rate,
                           size_t queue_max, size_t queue_bytes,
                           unsigned threads, char *errstr, size_t errstr_size);

/** 1 when this query is one of the sample (every 1/rate-th: a counter,
 *  so the fraction is exact over any run of queries), else 0. Cheap: one
 *  atomic add. NULL sh: 0. */
int gw_shadow_want(gw_shadow_t *sh);

/**
 * Hands a served query to the workers: the request body (len bytes) and
 * the serving side's answer (alen bytes, status 200), both copied, and
 * how long the serving side took. Never waits for a worker: when the
 * queue is full the sample is dropped and counted.
 */
void gw_shadow_offer(gw_shadow_t *sh, struct gw_cstate_s *cs,
                     const vcdc_gw_coll_t *c, vcdc_route_side_t serving,
                     const char *body, size_t len, const char *answer,
                     size_t alen, double serving_ms);

/** The shadow metrics' Prometheus text into buf; returns its length. */
size_t gw_shadow_render(gw_shadow_t *sh, char *buf, size_t size);

/** Stops the workers (each finishes the query it runs), drops what is
 *  queued, frees. Accepts NULL. */
void gw_shadow_destroy(gw_shadow_t *sh);

#endif

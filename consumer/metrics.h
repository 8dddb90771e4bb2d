/*
 * vcdc - a Prometheus text endpoint: GET /metrics on a port of its own,
 * served by one thread, bound to 127.0.0.1 unless told otherwise.
 */
#ifndef VCDC_METRICS_H
#define VCDC_METRICS_H

#include <stddef.h>

typedef struct vcdc_metrics_s vcdc_metrics_t;

/* Writes the exposition text into buf (at most size bytes, NUL-terminated)
 * and returns its length. Called from the metrics thread: it must only
 * read what is safe to read concurrently. */
typedef size_t(vcdc_metrics_render_t)(char *buf, size_t size, void *opaque);

/**
 * Listens on bind:port (port 0 picks a free one, see vcdc_metrics_port)
 * and serves render's text. Returns NULL with errstr.
 */
vcdc_metrics_t *vcdc_metrics_start(const char *bind, int port,
                                   vcdc_metrics_render_t *render,
                                   void *opaque, char *errstr,
                                   size_t errstr_size);

int vcdc_metrics_port(const vcdc_metrics_t *m);

/** Stops the thread and closes the socket. Accepts NULL. */
void vcdc_metrics_stop(vcdc_metrics_t *m);

#endif

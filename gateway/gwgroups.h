/*
 * vcdc gateway - the consumer groups that apply the topic to OLD and NEW
 * (--old-group, --new-group; vcdc.old and vcdc.new by default), sampled in
 * the background (control/lag.h) for the metrics endpoint: per side the
 * group's lag in records, its members and its time lag. A write that
 * waits with --ack applied waits for one of these groups; the figures say
 * why it waits (no member, a lag that does not shrink) without another
 * tool.
 *
 *   g = vcdc_gw_groups_start(conf, topic, "vcdc.old", "vcdc.new", 2000, ...);
 *   n = vcdc_gw_groups_render(g, buf, size);   // any thread
 *   vcdc_gw_groups_stop(g);
 */
#ifndef VCDC_GW_GROUPS_H
#define VCDC_GW_GROUPS_H

#include <stddef.h>

#include "conf.h"

typedef struct vcdc_gw_groups_s vcdc_gw_groups_t;

/**
 * Starts sampling old_group and new_group on topic every interval_ms with
 * a client made from conf. NULL with errstr (the client could not be
 * made; an unreachable cluster is not an error: its samples fail and say
 * so).
 */
vcdc_gw_groups_t *vcdc_gw_groups_start(const vcdc_conf_t *conf,
                                       const char *topic,
                                       const char *old_group,
                                       const char *new_group, int interval_ms,
                                       char *errstr, size_t errstr_size);

/** The newest samples as Prometheus text into buf (NUL-terminated);
 *  returns its length. Never waits for a sample. */
size_t vcdc_gw_groups_render(vcdc_gw_groups_t *g, char *buf, size_t size);

/** Stops the sampling thread and frees g. Accepts NULL. */
void vcdc_gw_groups_stop(vcdc_gw_groups_t *g);

/** value as a Prometheus label value (\\, \" and \n escaped) into out;
 *  cut short, never overrun. */
void vcdc_gw_prom_label(const char *value, char *out, size_t size);

#endif

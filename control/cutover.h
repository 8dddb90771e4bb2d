/*
 * vcdc - the cut-over (DESIGN.md, Readiness, cut-over, rollback) as a
 * library: the gate for the side reads move to (the target) against the
 * side they leave (the reference), and the switch written to the control
 * topic (control/route.h) with who, when and the gate's figures.
 *
 * The gate's checks:
 *   readiness  the target's group is OK over a window of samples
 *   offsets    the target's recorded offsets are at or past the
 *              reference's, partition by partition
 *   verify     the target holds exactly what the reference holds (full,
 *              or a sample of ids)
 *   shadow     top-k overlap of the same queries at least min_overlap
 *   index      vcdc's approximate index on the target is valid, when one
 *              was requested: require_index, or a vcdc index exists that
 *              is building or invalid (a target without one, whose
 *              consumer ran with --index none, passes unless required)
 * Every check runs even after one failed, so the operator sees the whole
 * picture. Nothing here prints or parses options (cli/cutover.c does).
 *
 *   vcdc_route_read(...)            already routed there? nothing to do
 *   vcdc_pair_open(...)             the two sinks
 *   vcdc_gate_evaluate(...)         the five checks
 *   if (vcdc_gate_passed(&gate) || force)
 *           vcdc_cutover_switch(...)
 *   vcdc_gate_clear(&gate)
 */
#ifndef VCDC_CUTOVER_H
#define VCDC_CUTOVER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "conf.h"
#include "route.h"
#include "sink.h"

#define VCDC_GATE_CHECKS 5

typedef enum vcdc_check_result_e {
        VCDC_CHECK_PASS,
        VCDC_CHECK_FAIL,
        VCDC_CHECK_ERROR, /* it could not run: errstr in the summary */
} vcdc_check_result_t;

/** "PASS", "FAIL", "ERROR". */
const char *vcdc_check_result_name(vcdc_check_result_t result);

typedef struct vcdc_check_s {
        const char *name; /* "readiness", "offsets", "verify", "shadow",
                           * "index" */
        vcdc_check_result_t result;
        char summary[2048]; /* one line, with the figures */
        json_t *figures;    /* an object, owned; NULL when it did not run */
} vcdc_check_t;

typedef struct vcdc_gate_opts_s {
        const char *topic;      /* the change topic */
        const char *collection; /* for the log */
        vcdc_route_side_t to;   /* the target */
        const char *old_group, *new_group;
        int64_t max_lag;      /* readiness: the most lag now */
        size_t window;        /* readiness: samples, >= 1 */
        int interval_ms;      /* readiness: between them */
        size_t verify_sample; /* 0: a full comparison */
        double tolerance;     /* as vcdc_verify_opts_t */
        double min_overlap;   /* shadow: least mean overlap@k */
        size_t shadow_sample; /* shadow: queries sampled from the reference */
        size_t k;             /* shadow: neighbours per query */
        uint32_t seed;        /* for both samples */
        int require_index;    /* index: the target must have a valid one */
} vcdc_gate_opts_t;

typedef struct vcdc_gate_s {
        vcdc_check_t checks[VCDC_GATE_CHECKS]; /* in the order above */
        int failed, errors;  /* checks that failed, that could not run */
        json_t *json;        /* what the switch records: each check by name,
                              * passed, from, to, topic, old, new,
                              * old_group, new_group */
        json_t *checks_json; /* the checks in order, each with its name,
                              * result and summary */
} vcdc_gate_t;

/**
 * Evaluates the gate of opts->to with old_sink and new_sink, a Kafka
 * client from conf for readiness. Returns 0 with gate filled (clear it with
 * vcdc_gate_clear()), or -1 with errstr when out of memory.
 */
int vcdc_gate_evaluate(const vcdc_conf_t *conf, const vcdc_gate_opts_t *opts,
                       vcdc_sink_t *old_sink, vcdc_sink_t *new_sink,
                       vcdc_gate_t *gate, char *errstr, size_t errstr_size);

/**
 * The index check's verdict on the target's index ix (tname: "new" or
 * "old"): PASS when it is valid, or absent and not required; FAIL when it
 * is building or invalid (an index was requested), or absent and
 * required. summary says why. Pure.
 */
vcdc_check_result_t vcdc_gate_index_judge(const vcdc_index_info_t *ix,
                                          int require_index,
                                          const char *tname, char *summary,
                                          size_t summary_size);

/** 1 when every check passed. */
int vcdc_gate_passed(const vcdc_gate_t *gate);

/** Frees what gate holds. Accepts a zeroed gate. */
void vcdc_gate_clear(vcdc_gate_t *gate);

/**
 * Switches collection's reads to side to: reads the route again (the
 * previous side and ts_ms follow the newest switch), then writes a
 * "cutover" record by this user at this host, forced when gate did not
 * pass, carrying gate->json. *rec is what was written (clear it). Returns
 * 0, or -1 with errstr.
 */
int vcdc_cutover_switch(const vcdc_conf_t *conf, const char *control_topic,
                        const char *collection, vcdc_route_side_t to,
                        const vcdc_gate_t *gate, vcdc_route_record_t *rec,
                        char *errstr, size_t errstr_size);

/**
 * Routes collection back to the side before its last cut-over, at once
 * and without a gate. *state is the route read first, *rec what was
 * written (clear both either way). Returns 0 when switched back; 1 when
 * there is nothing to roll back (never switched, or the last switch was
 * a rollback: rolling it back would redo a cut-over without its gate),
 * errstr saying which; -1 with errstr on errors.
 */
int vcdc_cutover_rollback(const vcdc_conf_t *conf, const char *control_topic,
                          const char *collection, vcdc_route_state_t *state,
                          vcdc_route_record_t *rec, char *errstr,
                          size_t errstr_size);

#endif

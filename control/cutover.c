/*
 * vcdc - the cut-over gate and switch. The checks read the cluster and both
 * sinks through control/lag.h, verify.h and shadow.h; the switch goes
 * through control/route.h. Nothing here prints or parses options.
 */
#include "cutover.h"

#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "lag.h"
#include "log.h"
#include "shadow.h"
#include "verify.h"

const char *vcdc_check_result_name(vcdc_check_result_t result) {
        return result == VCDC_CHECK_PASS   ? "PASS"
               : result == VCDC_CHECK_FAIL ? "FAIL"
                                           : "ERROR";
}

/*
 * The checks. Each fills c: its result, a summary with the figures, and
 * the figures as JSON.
 */

static void check_readiness(const vcdc_conf_t *conf, const vcdc_gate_opts_t *o,
                            vcdc_sink_t *sink, vcdc_check_t *c) {
        const char *group =
                o->to == VCDC_ROUTE_NEW ? o->new_group : o->old_group;
        vcdc_lag_sample_t *samples = NULL;
        const vcdc_lag_sample_t *s;
        vcdc_readiness_t ready;
        rd_kafka_t *rk = NULL;
        char errstr[1024], tl[64];
        size_t i;

        c->name = "readiness";
        c->result = VCDC_CHECK_ERROR;
        if (!(samples = calloc(o->window, sizeof(*samples)))) {
                snprintf(c->summary, sizeof(c->summary), "out of memory");
                goto done;
        }
        if (!(rk = vcdc_lag_client_new(conf, errstr, sizeof(errstr)))) {
                snprintf(c->summary, sizeof(c->summary), "%s", errstr);
                goto done;
        }
        if (vcdc_lag_window(rk, o->topic, group, sink, o->window,
                            o->interval_ms, samples, errstr,
                            sizeof(errstr)) == -1) {
                snprintf(c->summary, sizeof(c->summary), "group %s: %s", group,
                         errstr);
                free(samples);
                samples = NULL;
                goto done;
        }
        vcdc_lag_evaluate(samples, o->window, o->max_lag, &ready);
        s = &samples[o->window - 1];
        c->result = ready.state == VCDC_STATE_OK ? VCDC_CHECK_PASS
                                                 : VCDC_CHECK_FAIL;
        if (s->time_lag_ms >= 0)
                snprintf(tl, sizeof(tl), "%" PRId64 " ms", s->time_lag_ms);
        else
                snprintf(tl, sizeof(tl), "unknown");
        snprintf(c->summary, sizeof(c->summary),
                 "group %s is %s: lag %" PRId64 ", time lag %s, %d "
                 "member%s; %s",
                 group, vcdc_group_state_name(ready.state), ready.lag, tl,
                 s->members, s->members == 1 ? "" : "s", ready.reason);
        c->figures = json_pack(
                "{s:s, s:s, s:I, s:I, s:I, s:i, s:b, s:f, s:f, s:I, s:s}",
                "group", group, "state", vcdc_group_state_name(ready.state),
                "lag", (json_int_t)ready.lag, "max_lag", (json_int_t)o->max_lag,
                "time_lag_ms", (json_int_t)s->time_lag_ms, "members",
                s->members, "reached_zero", ready.reached_zero, "rate",
                ready.rate, "eta_s", ready.eta_s, "samples",
                (json_int_t)o->window, "reason", ready.reason);
done:
        if (samples) {
                for (i = 0; i < o->window; i++)
                        vcdc_lag_sample_clear(&samples[i]);
                free(samples);
        }
        if (rk)
                rd_kafka_destroy(rk);
}

static void check_offsets(const vcdc_gate_opts_t *o, vcdc_sink_t *target,
                          vcdc_sink_t *reference, const char *tname,
                          const char *rname, vcdc_check_t *c) {
        vcdc_sink_offset_t *toffs = NULL, *roffs = NULL;
        size_t tcnt = 0, rcnt = 0, i, behind = 0, seen = 0;
        int64_t max_behind = 0;
        int32_t first = -1, pmax = -1;
        char errstr[1024], first_str[128] = "";
        json_t *parts;

        c->name = "offsets";
        c->result = VCDC_CHECK_ERROR;
        if (vcdc_sink_read_offsets(target, o->topic, &toffs, &tcnt, errstr,
                                   sizeof(errstr)) != VCDC_SINK_OK) {
                snprintf(c->summary, sizeof(c->summary), "%s (%s): %s", tname,
                         vcdc_sink_name(target), errstr);
                goto done;
        }
        if (vcdc_sink_read_offsets(reference, o->topic, &roffs, &rcnt, errstr,
                                   sizeof(errstr)) != VCDC_SINK_OK) {
                snprintf(c->summary, sizeof(c->summary), "%s (%s): %s", rname,
                         vcdc_sink_name(reference), errstr);
                goto done;
        }
        if (!(c->figures = json_object()) || !(parts = json_array()) ||
            json_object_set_new(c->figures, "partitions", parts)) {
                snprintf(c->summary, sizeof(c->summary), "out of memory");
                goto done;
        }
        /* Every partition either side recorded: the target's offset must
         * be at or past the reference's (none counts as -1). */
        for (pmax = 0, i = 0; i < tcnt; i++)
                if (toffs[i].partition > pmax)
                        pmax = toffs[i].partition;
        for (i = 0; i < rcnt; i++)
                if (roffs[i].partition > pmax)
                        pmax = roffs[i].partition;
        if (!tcnt && !rcnt)
                pmax = -1;
        for (int32_t p = 0; p <= pmax; p++) {
                int64_t t = vcdc_sink_offset_for(toffs, tcnt, p);
                int64_t r = vcdc_sink_offset_for(roffs, rcnt, p);
                if (t < 0 && r < 0)
                        continue;
                seen++;
                json_array_append_new(parts,
                                      json_pack("{s:i, s:I, s:I}", "partition",
                                                (int)p, tname, (json_int_t)t,
                                                rname, (json_int_t)r));
                if (t >= r)
                        continue;
                if (!behind++) {
                        first = p;
                        if (t >= 0)
                                snprintf(first_str, sizeof(first_str),
                                         "%" PRId64 " < %" PRId64, t, r);
                        else
                                snprintf(first_str, sizeof(first_str),
                                         "none < %" PRId64, r);
                }
                if (r - t > max_behind)
                        max_behind = r - t;
        }
        json_object_set_new(c->figures, "behind",
                            json_integer((json_int_t)behind));
        json_object_set_new(c->figures, "max_behind", json_integer(max_behind));
        if (behind) {
                c->result = VCDC_CHECK_FAIL;
                snprintf(c->summary, sizeof(c->summary),
                         "%s's recorded offsets are behind %s's in %zu of "
                         "%zu partitions (partition %" PRId32 ": %s), by "
                         "%" PRId64 " at most",
                         tname, rname, behind, seen, first, first_str,
                         max_behind);
        } else {
                c->result = VCDC_CHECK_PASS;
                if (seen)
                        snprintf(c->summary, sizeof(c->summary),
                                 "%s's recorded offsets are at or past "
                                 "%s's in all %zu partitions",
                                 tname, rname, seen);
                else
                        snprintf(c->summary, sizeof(c->summary),
                                 "neither side recorded offsets for %s",
                                 o->topic);
        }
done:
        free(toffs);
        free(roffs);
}

static void check_verify(const vcdc_gate_opts_t *o, vcdc_sink_t *target,
                         vcdc_sink_t *reference, const char *tname,
                         const char *rname, vcdc_check_t *c) {
        vcdc_verify_opts_t opts = {0};
        vcdc_verify_result_t res;
        char errstr[1024], ex[256] = "";

        c->name = "verify";
        opts.sample = o->verify_sample;
        opts.tolerance = o->tolerance;
        opts.seed = o->seed;
        memset(&res, 0, sizeof(res));
        /* verify's "old" is the reference, its "new" the target. */
        if (vcdc_verify(reference, target, &opts, &res, errstr,
                        sizeof(errstr)) == -1) {
                c->result = VCDC_CHECK_ERROR;
                snprintf(c->summary, sizeof(c->summary), "%s", errstr);
                return;
        }
        c->result = vcdc_verify_ok(&res) ? VCDC_CHECK_PASS : VCDC_CHECK_FAIL;
        if (res.missing_ex[0][0])
                snprintf(ex, sizeof(ex), "; missing e.g. %s",
                         res.missing_ex[0]);
        else if (res.vector_ex[0][0])
                snprintf(ex, sizeof(ex), "; vector differs e.g. %s",
                         res.vector_ex[0]);
        else if (res.metadata_ex[0][0])
                snprintf(ex, sizeof(ex), "; metadata differs e.g. %s",
                         res.metadata_ex[0]);
        else if (res.document_ex[0][0])
                snprintf(ex, sizeof(ex), "; document differs e.g. %s",
                         res.document_ex[0]);
        else if (res.extra_ex[0][0])
                snprintf(ex, sizeof(ex), "; extra e.g. %s", res.extra_ex[0]);
        snprintf(c->summary, sizeof(c->summary),
                 "%s comparison, %s %" PRIu64 " records, %s %" PRIu64
                 ": %" PRIu64 " compared, %" PRIu64 " missing in %s, %" PRIu64
                 " extra, %" PRIu64 " vector, %" PRIu64 " metadata, %" PRIu64
                 " document differences%s",
                 o->verify_sample ? "sampled" : "full", rname, res.old_count,
                 tname, res.new_count, res.compared, res.missing, tname,
                 res.extra, res.vector_diff, res.metadata_diff,
                 res.document_diff, ex);
        c->figures = json_pack(
                "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
                "mode", o->verify_sample ? "sample" : "full", "sample",
                (json_int_t)o->verify_sample, "reference_count",
                (json_int_t)res.old_count, "target_count",
                (json_int_t)res.new_count, "compared", (json_int_t)res.compared,
                "missing", (json_int_t)res.missing, "extra",
                (json_int_t)res.extra, "vector_diff",
                (json_int_t)res.vector_diff, "metadata_diff",
                (json_int_t)res.metadata_diff, "document_diff",
                (json_int_t)res.document_diff, "seconds", res.seconds);
}

static void check_shadow(const vcdc_gate_opts_t *o, vcdc_sink_t *target,
                         vcdc_sink_t *reference, const char *tname,
                         const char *rname, vcdc_check_t *c) {
        vcdc_shadow_opts_t opts = {0};
        vcdc_shadow_result_t res;
        char errstr[1024];

        c->name = "shadow";
        opts.k = o->k;
        opts.sample = o->shadow_sample;
        opts.seed = o->seed;
        memset(&res, 0, sizeof(res));
        if (vcdc_shadow(reference, target, &opts, &res, errstr,
                        sizeof(errstr)) == -1) {
                c->result = VCDC_CHECK_ERROR;
                snprintf(c->summary, sizeof(c->summary), "%s", errstr);
                return;
        }
        c->result = res.overlap_mean >= o->min_overlap ? VCDC_CHECK_PASS
                                                       : VCDC_CHECK_FAIL;
        snprintf(c->summary, sizeof(c->summary),
                 "%zu queries, overlap@%zu mean %.3f min %.3f (at least "
                 "%.3f), rank agreement %.3f, p50/p99 %s %.1f/%.1f ms, %s "
                 "%.1f/%.1f ms",
                 res.queries, o->k, res.overlap_mean, res.overlap_min,
                 o->min_overlap, res.rank_agreement, tname, res.new_p50_ms,
                 res.new_p99_ms, rname, res.old_p50_ms, res.old_p99_ms);
        c->figures = json_pack(
                "{s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "queries",
                (json_int_t)res.queries, "k", (json_int_t)o->k, "overlap_mean",
                res.overlap_mean, "overlap_min", res.overlap_min, "min_overlap",
                o->min_overlap, "rank_agreement", res.rank_agreement,
                "target_p50_ms", res.new_p50_ms, "target_p99_ms",
                res.new_p99_ms, "reference_p50_ms", res.old_p50_ms,
                "reference_p99_ms", res.old_p99_ms);
}

/* figures of the index check: the state, and whether it was required. */
static json_t *index_figures(const vcdc_gate_opts_t *o,
                             const vcdc_index_info_t *ix) {
        json_t *obj = json_pack("{s:b, s:s, s:s, s:s?, s:s?}", "required",
                                o->require_index, "state",
                                vcdc_index_state_name(ix->state), "kind",
                                vcdc_index_kind_name(ix->kind), "name",
                                ix->name[0] ? ix->name : NULL, "opclass",
                                ix->opclass[0] ? ix->opclass : NULL);

        if (obj && ix->state == VCDC_INDEX_BUILDING)
                json_object_set_new(obj, "percent",
                                    ix->percent >= 0 ? json_real(ix->percent)
                                                     : json_null());
        return obj;
}

/*
 * Reads on the target go through its approximate index once cut over: a
 * target whose index is still building or was left invalid answers by
 * scanning the table. An index was requested when require_index says so,
 * or when vcdc's index exists at all; a target without one (--index none)
 * passes unless it is required.
 */
static void check_index(const vcdc_gate_opts_t *o, vcdc_sink_t *target,
                        const char *tname, vcdc_check_t *c) {
        vcdc_index_info_t ix;
        char errstr[1024];

        c->name = "index";
        c->result = VCDC_CHECK_PASS;
        if (!vcdc_sink_can_index(target)) {
                snprintf(c->summary, sizeof(c->summary),
                         "%s keeps its own index (%s)", tname,
                         vcdc_sink_name(target));
                c->figures = json_pack("{s:b, s:s}", "required",
                                       o->require_index, "state", "builtin");
                return;
        }
        if (vcdc_sink_index_state(target, VCDC_INDEX_NONE, &ix, errstr,
                                  sizeof(errstr)) != VCDC_SINK_OK) {
                c->result = o->require_index ? VCDC_CHECK_ERROR
                                             : VCDC_CHECK_PASS;
                snprintf(c->summary, sizeof(c->summary),
                         "%s%s", o->require_index ? "" : "not required; ",
                         errstr);
                return;
        }
        c->figures = index_figures(o, &ix);
        c->result = vcdc_gate_index_judge(&ix, o->require_index, tname,
                                          c->summary, sizeof(c->summary));
}

vcdc_check_result_t vcdc_gate_index_judge(const vcdc_index_info_t *ix,
                                          int require_index,
                                          const char *tname, char *summary,
                                          size_t summary_size) {
        char state[256];

        vcdc_index_info_format(ix, state, sizeof(state));
        switch (ix->state) {
        case VCDC_INDEX_VALID:
                snprintf(summary, summary_size, "%s: index %s", tname,
                         state);
                return VCDC_CHECK_PASS;
        case VCDC_INDEX_ABSENT:
                if (!require_index) {
                        snprintf(summary, summary_size,
                                 "%s has no vcdc index and none is "
                                 "required (queries scan the table)",
                                 tname);
                        return VCDC_CHECK_PASS;
                }
                snprintf(summary, summary_size,
                         "%s has no vcdc index and --require-index wants a "
                         "valid one: run its consumer with --index hnsw or "
                         "ivfflat",
                         tname);
                return VCDC_CHECK_FAIL;
        case VCDC_INDEX_BUILDING:
                snprintf(summary, summary_size,
                         "%s: index %s; until it is valid, queries scan "
                         "the table: wait for the build",
                         tname, state);
                return VCDC_CHECK_FAIL;
        case VCDC_INDEX_INVALID:
                break;
        }
        snprintf(summary, summary_size,
                 "%s: index %s (a build stopped midway): restart its "
                 "consumer with --index to build it again, or DROP INDEX %s "
                 "if none is wanted",
                 tname, state, ix->name);
        return VCDC_CHECK_FAIL;
}

/*
 * The gate.
 */

/* The gate's JSON from its checks: gate->json (what the switch records)
 * and gate->checks_json. */
static int gate_json(const vcdc_gate_opts_t *o, vcdc_sink_t *old_sink,
                     vcdc_sink_t *new_sink, vcdc_gate_t *gate) {
        const char *tname = vcdc_route_side_name(o->to);
        const char *rname = vcdc_route_side_name(!o->to);
        json_t *obj;
        size_t i;

        if (!(gate->json = json_object()) ||
            !(gate->checks_json = json_array()))
                return -1;
        for (i = 0; i < VCDC_GATE_CHECKS; i++) {
                const vcdc_check_t *c = &gate->checks[i];
                if (!(obj = c->figures ? json_deep_copy(c->figures)
                                       : json_object()))
                        return -1;
                json_object_set_new(
                        obj, "result",
                        json_string(vcdc_check_result_name(c->result)));
                json_object_set_new(obj, "summary", json_string(c->summary));
                /* The same object under its name in the gate, and in
                 * order in the list, where it also carries the name. */
                json_object_set(gate->json, c->name, obj);
                json_object_set_new(obj, "name", json_string(c->name));
                json_array_append_new(gate->checks_json, obj);
        }
        json_object_set_new(gate->json, "passed",
                            json_boolean(vcdc_gate_passed(gate)));
        json_object_set_new(gate->json, "from", json_string(rname));
        json_object_set_new(gate->json, "to", json_string(tname));
        json_object_set_new(gate->json, "topic", json_string(o->topic));
        json_object_set_new(gate->json, "old",
                            json_string(vcdc_sink_name(old_sink)));
        json_object_set_new(gate->json, "new",
                            json_string(vcdc_sink_name(new_sink)));
        json_object_set_new(gate->json, "old_group", json_string(o->old_group));
        json_object_set_new(gate->json, "new_group", json_string(o->new_group));
        return 0;
}

int vcdc_gate_evaluate(const vcdc_conf_t *conf, const vcdc_gate_opts_t *opts,
                       vcdc_sink_t *old_sink, vcdc_sink_t *new_sink,
                       vcdc_gate_t *gate, char *errstr, size_t errstr_size) {
        const char *tname = vcdc_route_side_name(opts->to);
        const char *rname = vcdc_route_side_name(!opts->to);
        vcdc_sink_t *target = opts->to == VCDC_ROUTE_NEW ? new_sink : old_sink;
        vcdc_sink_t *reference =
                opts->to == VCDC_ROUTE_NEW ? old_sink : new_sink;
        size_t i;

        memset(gate, 0, sizeof(*gate));
        VCDC_NOTICE("cutover", "gate of %s: %s -> %s", opts->collection, rname,
                    tname);
        check_readiness(conf, opts, target, &gate->checks[0]);
        check_offsets(opts, target, reference, tname, rname, &gate->checks[1]);
        check_verify(opts, target, reference, tname, rname, &gate->checks[2]);
        check_shadow(opts, target, reference, tname, rname, &gate->checks[3]);
        check_index(opts, target, tname, &gate->checks[4]);
        for (i = 0; i < VCDC_GATE_CHECKS; i++)
                if (gate->checks[i].result == VCDC_CHECK_FAIL)
                        gate->failed++;
                else if (gate->checks[i].result == VCDC_CHECK_ERROR)
                        gate->errors++;
        if (gate_json(opts, old_sink, new_sink, gate) == -1) {
                snprintf(errstr, errstr_size, "out of memory");
                vcdc_gate_clear(gate);
                return -1;
        }
        return 0;
}

int vcdc_gate_passed(const vcdc_gate_t *gate) {
        return !gate->failed && !gate->errors;
}

void vcdc_gate_clear(vcdc_gate_t *gate) {
        size_t i;

        for (i = 0; i < VCDC_GATE_CHECKS; i++)
                json_decref(gate->checks[i].figures);
        json_decref(gate->checks_json);
        json_decref(gate->json);
        memset(gate, 0, sizeof(*gate));
}

/*
 * The switch: who and when.
 */

static char *current_user(void) {
        const char *name = getenv("USER");
        struct passwd *pw;

        if (!name || !*name)
                name = getenv("LOGNAME");
        if ((!name || !*name) && (pw = getpwuid(geteuid())))
                name = pw->pw_name;
        return strdup(name && *name ? name : "unknown");
}

static char *current_host(void) {
        char host[256];

        if (gethostname(host, sizeof(host)) == -1)
                return strdup("unknown");
        host[sizeof(host) - 1] = '\0';
        return strdup(host);
}

/*
 * Writes the switch of collection to side to, after the record of state
 * (the route read just before; its ts_ms keeps ours increasing). gate
 * (may be NULL) is stolen. Fills *rec with what was written.
 */
static int write_switch(const vcdc_conf_t *conf, const char *control_topic,
                        const char *collection, const vcdc_route_state_t *state,
                        vcdc_route_side_t to, const char *action, int forced,
                        json_t *gate, vcdc_route_record_t *rec, char *errstr,
                        size_t errstr_size) {
        int64_t now = vcdc_wall_ms();
        int r = -1;

        vcdc_route_record_init(rec);
        rec->route = to;
        rec->previous =
                state->has_current ? state->current.route : VCDC_ROUTE_OLD;
        rec->ts_ms = state->has_current && state->current.ts_ms >= now
                             ? state->current.ts_ms + 1
                             : now;
        rec->forced = forced;
        if (!(rec->collection = strdup(collection)) ||
            !(rec->action = strdup(action)) || !(rec->user = current_user()) ||
            !(rec->host = current_host()) ||
            (gate &&
             !(rec->gate = json_dumps(
                       gate, JSON_COMPACT | JSON_REAL_PRECISION(10))))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        r = vcdc_route_write(conf, control_topic, rec, errstr, errstr_size);
done:
        json_decref(gate);
        return r;
}

int vcdc_cutover_switch(const vcdc_conf_t *conf, const char *control_topic,
                        const char *collection, vcdc_route_side_t to,
                        const vcdc_gate_t *gate, vcdc_route_record_t *rec,
                        char *errstr, size_t errstr_size) {
        vcdc_route_state_t state;
        int r = -1;

        vcdc_route_record_init(rec);
        if (vcdc_route_read(conf, control_topic, collection, &state, errstr,
                            errstr_size) == -1)
                goto done;
        r = write_switch(conf, control_topic, collection, &state, to, "cutover",
                         !vcdc_gate_passed(gate), json_incref(gate->json), rec,
                         errstr, errstr_size);
done:
        vcdc_route_state_clear(&state);
        return r;
}

int vcdc_cutover_rollback(const vcdc_conf_t *conf, const char *control_topic,
                          const char *collection, vcdc_route_state_t *state,
                          vcdc_route_record_t *rec, char *errstr,
                          size_t errstr_size) {
        vcdc_route_side_t to;
        json_t *gate;
        char was[64];

        vcdc_route_record_init(rec);
        if (vcdc_route_read(conf, control_topic, collection, state, errstr,
                            errstr_size) == -1)
                return -1;
        if (!state->has_current) {
                snprintf(errstr, errstr_size,
                         "%s was never switched (it routes to old): nothing "
                         "to roll back",
                         collection);
                return 1;
        }
        if (state->current.action &&
            !strcmp(state->current.action, "rollback")) {
                /* Rolling a rollback back would redo a cut-over without
                 * its gate. */
                vcdc_route_time_str(was, sizeof(was), state->current.ts_ms);
                snprintf(errstr, errstr_size,
                         "the last switch of %s was already a rollback (to "
                         "%s, %s): use vcdc cutover to switch again",
                         collection, vcdc_route_side_name(state->current.route),
                         was);
                return 1;
        }
        to = state->current.previous;
        if (to == state->current.route)
                to = !to;
        gate = json_pack("{s:I, s:s}", "rolled_back_ts_ms",
                         (json_int_t)state->current.ts_ms, "rolled_back_from",
                         vcdc_route_side_name(state->current.route));
        return write_switch(conf, control_topic, collection, state, to,
                            "rollback", 0, gate, rec, errstr, errstr_size);
}

/*
 * vcdc - the consumer's side of the index on the target (DESIGN.md, The
 * index on NEW): when the build starts (once everything up to the log end
 * seen at start is applied, so a replay's inserts never pay for the
 * index), following it (its progress at notice level), and whether an
 * --exit-at-end run must still wait for it. The build is the sink's, on a
 * connection of its own (vcdc_sink_index_*()); nothing here names a
 * database or blocks the loop.
 */
#include "consumer_int.h"

#include <inttypes.h>
#include <stdio.h>

#include "log.h"

/* After a build that failed for a reason that may pass (the server was
 * not there), the next try waits this long. */
#define INDEX_RETRY_MS 10000
/* A build takes minutes: its progress every 10 s at most, however often
 * the consumer's own progress line comes (vcdc.progress.ms). */
#define INDEX_PROGRESS_MIN_MS 10000

void vcdc_consumer_index_init(vcdc_consumer_t *c,
                              const vcdc_index_spec_t *spec) {
        c->index_spec = *spec;
        c->index_phase = spec->kind == VCDC_INDEX_NONE ? IX_OFF : IX_WAIT;
}

int vcdc_consumer_index_pending(const vcdc_consumer_t *c) {
        return c->index_phase == IX_WAIT || c->index_phase == IX_BUILDING;
}

int vcdc_consumer_index_failed(const vcdc_consumer_t *c) {
        return c->index_phase == IX_FAILED;
}

static void failed(vcdc_consumer_t *c, vcdc_sink_status_t st,
                   const char *errstr, int64_t now) {
        if (st == VCDC_SINK_RETRIABLE) {
                VCDC_WARN("consumer", "index: %s; trying again in %d s", errstr,
                          INDEX_RETRY_MS / 1000);
                c->index_phase = IX_WAIT;
                c->index_retry_at = now + INDEX_RETRY_MS;
                return;
        }
        VCDC_ERR("consumer",
                 "index: %s; applying goes on without it (vcdc status "
                 "shows it invalid)",
                 errstr);
        c->index_phase = IX_FAILED;
}

static void start(vcdc_consumer_t *c, int64_t now) {
        vcdc_index_info_t info;
        vcdc_sink_status_t st;
        char errstr[512], params[96];
        int started;

        vcdc_index_spec_format(&c->index_spec, params, sizeof(params));
        VCDC_NOTICE("consumer",
                    "%s: caught up with the log end seen at start (%" PRIu64
                    " messages applied): the %s index (%s) comes now",
                    vcdc_sink_name(c->sink),
                    (uint64_t)atomic_load(&c->messages),
                    vcdc_index_kind_name(c->index_spec.kind), params);
        st = vcdc_sink_index_start(c->sink, &c->index_spec, &started, errstr,
                                   sizeof(errstr));
        if (st != VCDC_SINK_OK) {
                failed(c, st, errstr, now);
                return;
        }
        if (started) {
                c->index_phase = IX_BUILDING;
                c->index_last_log = now;
                return;
        }
        /* Nothing to build: it is there, or there is no table yet (then
         * the first change applied brings the build back). */
        c->index_phase = IX_DONE;
        if (vcdc_sink_index_state(c->sink, c->index_spec.kind, &info, errstr,
                                  sizeof(errstr)) == VCDC_SINK_OK &&
            info.state == VCDC_INDEX_ABSENT) {
                c->index_phase = IX_NO_TABLE;
                c->index_applied_at = atomic_load(&c->applied);
        }
}

static void follow(vcdc_consumer_t *c, int64_t now) {
        vcdc_index_info_t info;
        vcdc_sink_status_t st;
        char errstr[512], state[256];
        int done;

        st = vcdc_sink_index_poll(c->sink, &done, errstr, sizeof(errstr));
        if (st != VCDC_SINK_OK) {
                failed(c, st, errstr, now);
                return;
        }
        if (done) {
                c->index_phase = IX_DONE;
                return;
        }
        if (c->progress_ms <= 0 ||
            now - c->index_last_log < (c->progress_ms > INDEX_PROGRESS_MIN_MS
                                               ? c->progress_ms
                                               : INDEX_PROGRESS_MIN_MS))
                return;
        c->index_last_log = now;
        if (vcdc_sink_index_state(c->sink, c->index_spec.kind, &info, errstr,
                                  sizeof(errstr)) != VCDC_SINK_OK) {
                VCDC_INFO("consumer", "index progress: %s", errstr);
                return;
        }
        vcdc_index_info_format(&info, state, sizeof(state));
        VCDC_NOTICE("consumer", "%s: index %s", vcdc_sink_name(c->sink), state);
}

void vcdc_consumer_index_tick(vcdc_consumer_t *c, int at_end, int64_t now) {
        switch (c->index_phase) {
        case IX_NO_TABLE:
                if (atomic_load(&c->applied) == c->index_applied_at)
                        break;
                c->index_phase = IX_WAIT;
                /* fall through */
        case IX_WAIT:
                if (at_end && now >= c->index_retry_at)
                        start(c, now);
                break;
        case IX_BUILDING:
                follow(c, now);
                break;
        case IX_OFF:
        case IX_DONE:
        case IX_FAILED:
                break;
        }
}

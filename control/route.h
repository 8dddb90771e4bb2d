/*
 * vcdc - the route: which side, OLD or NEW, the readers of a collection use
 * (DESIGN.md, Readiness, cut-over, rollback). It stores and reads
 * switches; whether to switch is the cut-over gate's (control/cutover.h).
 *
 * The route lives in a control topic (default "vcdc.control"), created on
 * first use with one partition and cleanup.policy=compact (ctltopic.h).
 * Each switch writes two records carrying the same value:
 *
 *   key "COLLECTION"            the current route. Compaction keeps the
 *                               latest value of a key, so this one is
 *                               always there.
 *   key "COLLECTION#<ts_ms>"    the history: one key per switch, never
 *                               written twice, so compaction keeps every
 *                               one (`vcdc route --history`).
 *
 * The value is a UTF-8 JSON object:
 *
 *   {"collection": "docs",       the collection routed
 *    "route": "new",             "old" or "new": where reads go now
 *    "previous": "old",          where they went before
 *    "action": "cutover",        "cutover" or "rollback"
 *    "ts_ms": 1767225600000,     when, ms since the epoch
 *    "user": "ops", "host": "ops1",   who, from where
 *    "forced": false,            true: switched by --force despite the gate
 *    "gate": {...},              the gate's checks with their figures
 *                                (vcdc cutover); {} for a rollback
 *    "kind": "route"}            the control record's kind (ctltopic.h);
 *                                absent in records written before kinds
 *
 * A record belongs to the collection its value names, whatever the key
 * (a collection whose name holds '#' is no problem), and the newest ts_ms
 * wins: a switch takes max(now, last ts_ms + 1), so history keys of a
 * collection never collide and order is total even across partitions.
 *
 * A collection nothing was ever written for is routed to OLD. Tombstones
 * and malformed values are skipped (with a warning) by every reader;
 * records of another kind (a "kind" other than "route": the collections'
 * configuration, snapshot checkpoints) are skipped without one.
 */
#ifndef VCDC_ROUTE_H
#define VCDC_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define VCDC_ROUTE_CONTROL_TOPIC "vcdc.control"

typedef enum vcdc_route_side_e {
        VCDC_ROUTE_OLD = 0,
        VCDC_ROUTE_NEW = 1,
} vcdc_route_side_t;

/** "old" or "new". */
const char *vcdc_route_side_name(vcdc_route_side_t side);

/** Parses "old" or "new". Returns 0, or -1 for anything else. */
int vcdc_route_side_parse(const char *name, vcdc_route_side_t *sidep);

/* One switch, as written to the control topic. Plain data: the record owns
 * its strings, vcdc_route_record_clear() frees them. */
typedef struct vcdc_route_record_s {
        char *collection;
        vcdc_route_side_t route;
        vcdc_route_side_t previous;
        char *action;   /* "cutover", "rollback"; NULL: unknown */
        int64_t ts_ms;
        char *user;     /* NULL: unknown */
        char *host;     /* NULL: unknown */
        int forced;
        char *gate;     /* a JSON object as text; NULL: {} */
} vcdc_route_record_t;

void vcdc_route_record_init(vcdc_route_record_t *rec);

/** Frees what rec owns and re-initialises it. Accepts NULL. */
void vcdc_route_record_clear(vcdc_route_record_t *rec);

/**
 * The record as the JSON value described above: a new NUL-terminated
 * string (free() it), or NULL with errstr (no collection, a gate that is not
 * a JSON object, out of memory).
 */
char *vcdc_route_record_encode(const vcdc_route_record_t *rec, char *errstr,
                               size_t errstr_size);

/**
 * Parses a control record's value into rec (initialised or cleared; cleared
 * again unless 0 is returned). Unknown fields are ignored. Returns 0, 1
 * for a control record of another kind (its "kind" is present and not
 * "route"; errstr untouched), or -1 with errstr saying what is wrong.
 */
int vcdc_route_record_decode(const void *buf, size_t len,
                             vcdc_route_record_t *rec, char *errstr,
                             size_t errstr_size);

/** A switch's ts_ms as "2026-01-01T12:00:00.000Z" (UTC) into buf. */
void vcdc_route_time_str(char *buf, size_t size, int64_t ts_ms);

/** The key of rec's history record, "COLLECTION#<ts_ms>", into buf.
 *  Returns 0, or -1 when it does not fit. */
int vcdc_route_history_key(const vcdc_route_record_t *rec, char *buf,
                           size_t size);

/* What the control topic says about one collection. */
typedef struct vcdc_route_state_s {
        int has_current;             /* 0: never switched, the route is OLD */
        vcdc_route_record_t current; /* the newest record */
        vcdc_route_record_t *history; /* every switch, oldest first */
        size_t history_cnt;
} vcdc_route_state_t;

/**
 * Reads the control topic from the beginning to its end and fills state for
 * collection (creating the topic when it does not exist). conf gives the
 * brokers and client settings. Returns 0, or -1 with errstr. Clear state
 * with vcdc_route_state_clear() either way.
 */
int vcdc_route_read(const vcdc_conf_t *conf, const char *control_topic,
                    const char *collection, vcdc_route_state_t *state,
                    char *errstr, size_t errstr_size);

void vcdc_route_state_clear(vcdc_route_state_t *state);

/**
 * Writes rec (collection, route, previous and ts_ms set) under the
 * collection's key and under its history key, idempotently with acks=all,
 * and waits for both delivery reports. Creates the control topic when it
 * does not exist. Returns 0 when the current route was written (a failed
 * history record is then only logged), or -1 with errstr.
 */
int vcdc_route_write(const vcdc_conf_t *conf, const char *control_topic,
                     const vcdc_route_record_t *rec, char *errstr,
                     size_t errstr_size);

/*
 * The follower: what a reader embeds to send its reads where the route
 * says. It reads the control topic from the beginning (every partition
 * assigned, no consumer group, nothing committed), so it knows the route
 * when _new returns, then keeps consuming: a switch is seen within a
 * second of being written as long as the reader calls _poll.
 *
 *   f = vcdc_route_follower_new(conf, "vcdc.control", "docs", errstr, sz);
 *   for (;;) {
 *           if (vcdc_route_follower_poll(f, 100) == 1)
 *                   reopen(vcdc_route_follower_side(f));
 *           ... serve reads from vcdc_route_follower_side(f) ...
 *   }
 *   vcdc_route_follower_destroy(f);
 *
 * One follower is used by one thread at a time.
 */
typedef struct vcdc_route_follower_s vcdc_route_follower_t;

/**
 * Starts following collection's route on control_topic (NULL: the
 * default), creating the topic when it does not exist, and reads it up to
 * its current end. conf is only read. Returns NULL with errstr when the
 * cluster cannot be reached within about 15 s.
 */
vcdc_route_follower_t *vcdc_route_follower_new(const vcdc_conf_t *conf,
                                               const char *control_topic,
                                               const char *collection,
                                               char *errstr,
                                               size_t errstr_size);

/** The current side: VCDC_ROUTE_OLD when nothing was ever written. */
vcdc_route_side_t vcdc_route_follower_side(const vcdc_route_follower_t *f);

/** The newest switch seen (who, when, gate), or NULL when none. Valid until
 *  the next poll. */
const vcdc_route_record_t *
vcdc_route_follower_record(const vcdc_route_follower_t *f);

/**
 * Consumes what arrived on the control topic, waiting up to timeout_ms for
 * the first record. Returns 1 when the side changed, else 0.
 */
int vcdc_route_follower_poll(vcdc_route_follower_t *f, int timeout_ms);

/** Stops following and frees. Accepts NULL. */
void vcdc_route_follower_destroy(vcdc_route_follower_t *f);

#endif

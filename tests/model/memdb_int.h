/*
 * vcdc - model test: the test database's layout in its file, and what
 * memdb.c lends the sinks (msink.c): the lock and a target's slot.
 */
#ifndef VCDC_MODEL_MEMDB_INT_H
#define VCDC_MODEL_MEMDB_INT_H

#include "memdb.h"

#define MEMDB_MAGIC 0x6d656d64u /* "memd" */

struct memdb_s {
        uint32_t magic;
        pthread_mutex_t lock;
        int active; /* the current half */
        int faults_off;
        volatile pid_t busy; /* a sink sleeping in a commit (latency) */
        uint64_t recovered;
        char topic[256];
        uint64_t scans; /* pages read by scan (the last one's ids below) */
        uint32_t page_cnt;
        char page[MEMDB_PAGE_IDS][MEMDB_NAME];
        memdb_stats_t stats[MEMDB_TARGETS];
        memdb_state_t half[2];
};

/* The lock; taken over when its owner died. */
void memdb_lock(memdb_t *db);
void memdb_unlock(memdb_t *db);

/* The slot of the target named name (lock held), given a free one when
 * there is none; MEMDB_TARGETS when every slot is taken. */
size_t memdb_slot_of(memdb_t *db, const char *name);

#endif

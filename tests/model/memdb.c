/*
 * vcdc - model test: the shared-file database (memdb.h): creating and
 * mapping the file, its robust lock, consistent copies of its state, and
 * the record hash the rows keep. The sinks over it are in msink.c.
 */
#include "memdb_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

static void init_state(memdb_state_t *st) {
        size_t t, p;

        memset(st, 0, sizeof(*st));
        for (t = 0; t < MEMDB_TARGETS; t++)
                for (p = 0; p < MEMDB_PARTS; p++)
                        st->targets[t].offsets[p] = -1;
}

memdb_t *memdb_create(const char *path, const char *topic, char *errstr,
                      size_t errstr_size) {
        pthread_mutexattr_t attr;
        memdb_t *db = MAP_FAILED;
        int fd;

        if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1 ||
            ftruncate(fd, sizeof(*db)) == -1 ||
            (db = mmap(NULL, sizeof(*db), PROT_READ | PROT_WRITE, MAP_SHARED,
                       fd, 0)) == MAP_FAILED) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                if (fd != -1)
                        close(fd);
                return NULL;
        }
        close(fd);
        memset(db, 0, sizeof(*db));
        pthread_mutexattr_init(&attr);
        pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
        pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
        pthread_mutex_init(&db->lock, &attr);
        pthread_mutexattr_destroy(&attr);
        snprintf(db->topic, sizeof(db->topic), "%s", topic);
        init_state(&db->half[0]);
        init_state(&db->half[1]);
        db->magic = MEMDB_MAGIC;
        return db;
}

memdb_t *memdb_map(const char *path, char *errstr, size_t errstr_size) {
        memdb_t *db;
        struct stat sb;
        int fd;

        if ((fd = open(path, O_RDWR)) == -1) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return NULL;
        }
        if (fstat(fd, &sb) == -1 || (size_t)sb.st_size != sizeof(*db)) {
                snprintf(errstr, errstr_size, "%s: not a test database",
                         path);
                close(fd);
                return NULL;
        }
        db = mmap(NULL, sizeof(*db), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                  0);
        close(fd);
        if (db == MAP_FAILED) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return NULL;
        }
        if (db->magic != MEMDB_MAGIC) {
                snprintf(errstr, errstr_size, "%s: not a test database",
                         path);
                munmap(db, sizeof(*db));
                return NULL;
        }
        return db;
}

void memdb_unmap(memdb_t *db) {
        if (db)
                munmap(db, sizeof(*db));
}

/* The lock; taken over when its owner died (the active half is whole:
 * a writer only ever wrote the other one). */
void memdb_lock(memdb_t *db) {
        int rc = pthread_mutex_lock(&db->lock);

        if (rc == EOWNERDEAD) {
                pthread_mutex_consistent(&db->lock);
                db->recovered++;
        } else if (rc) {
                fprintf(stderr, "memdb: lock: %s\n", strerror(rc));
                abort();
        }
}

void memdb_unlock(memdb_t *db) {
        pthread_mutex_unlock(&db->lock);
}

void memdb_snapshot(memdb_t *db, memdb_state_t *state, memdb_stats_t *stats) {
        memdb_lock(db);
        *state = db->half[db->active];
        if (stats)
                memcpy(stats, db->stats, sizeof(db->stats));
        memdb_unlock(db);
}

uint64_t memdb_last_page(memdb_t *db, char (*ids)[MEMDB_NAME],
                         size_t max, size_t *cntp) {
        uint64_t n;

        memdb_lock(db);
        n = db->scans;
        for (*cntp = 0; *cntp < db->page_cnt && *cntp < max; (*cntp)++)
                memcpy(ids[*cntp], db->page[*cntp], MEMDB_NAME);
        memdb_unlock(db);
        return n;
}

uint64_t memdb_recovered(memdb_t *db) {
        uint64_t n;

        memdb_lock(db);
        n = db->recovered;
        memdb_unlock(db);
        return n;
}

pid_t memdb_busy(memdb_t *db) {
        return db->busy;
}

void memdb_set_faults(memdb_t *db, int on) {
        memdb_lock(db);
        db->faults_off = !on;
        memdb_unlock(db);
}

const memdb_target_t *memdb_target(const memdb_state_t *st, const char *name) {
        size_t t;

        for (t = 0; t < MEMDB_TARGETS; t++)
                if (st->targets[t].name[0] &&
                    !strcmp(st->targets[t].name, name))
                        return &st->targets[t];
        return NULL;
}

const memdb_row_t *memdb_row(const memdb_target_t *t, const char *id) {
        uint32_t i;

        for (i = 0; i < t->row_cnt; i++)
                if (!strcmp(t->rows[i].id, id))
                        return &t->rows[i];
        return NULL;
}

static uint64_t fnv(uint64_t h, const void *buf, size_t len) {
        const unsigned char *p = buf;
        size_t i;

        for (i = 0; i < len; i++) {
                h ^= p[i];
                h *= 1099511628211ULL;
        }
        return h;
}

static uint64_t fnv_str(uint64_t h, const char *s) {
        /* The NUL too: "ab"+"c" and "a"+"bc" differ; NULL differs from "". */
        return s ? fnv(h, s, strlen(s) + 1) : fnv(h, "\xff", 1);
}

uint64_t memdb_record_hash(const vcdc_record_t *rec) {
        uint64_t h = 1469598103934665603ULL, dim = rec->dim;

        h = fnv_str(h, rec->collection);
        h = fnv_str(h, rec->id);
        h = fnv(h, &dim, sizeof(dim));
        if (rec->vector)
                h = fnv(h, rec->vector, rec->dim * sizeof(float));
        h = fnv_str(h, rec->metadata);
        return fnv_str(h, rec->document);
}

int memdb_metadata_nested(const char *metadata) {
        json_t *obj, *v;
        const char *k;
        int nested = 0;

        if (!metadata || !(obj = json_loads(metadata, 0, NULL)))
                return 0;
        if (json_is_object(obj)) {
                json_object_foreach(obj, k, v) {
                        nested |= json_is_object(v) || json_is_array(v);
                }
        }
        json_decref(obj);
        return nested;
}

/* The slot of the target named name (lock held), given a free one when
 * there is none; MEMDB_TARGETS when every slot is taken. */
size_t memdb_slot_of(memdb_t *db, const char *name) {
        size_t s, free_slot = MEMDB_TARGETS;
        const memdb_target_t *t;

        for (s = 0; s < MEMDB_TARGETS; s++) {
                t = &db->half[db->active].targets[s];
                if (t->name[0] && !strcmp(t->name, name))
                        return s;
                if (!t->name[0] && free_slot == MEMDB_TARGETS)
                        free_slot = s;
        }
        if ((s = free_slot) < MEMDB_TARGETS) {
                /* Names are not data: both halves get it. */
                snprintf(db->half[0].targets[s].name, MEMDB_NAME, "%s", name);
                snprintf(db->half[1].targets[s].name, MEMDB_NAME, "%s", name);
        }
        return s;
}

/*
 * vcdc - model tests: running one generated history per seed on a pool of
 * threads, and reporting the ones that differ from the model. The test
 * says how to run a history and what a failure says; the seeds, the
 * threads, the files' directory and the final verdict are here, the same
 * for every model test.
 *
 * Environment, PREFIX being the test's (e.g. VCDC_MODEL):
 *   PREFIX_SEED=N        replay that one history, described in full
 *   PREFIX_HISTORIES=N   how many (the test's default otherwise)
 *   PREFIX_BASE_SEED=N   the first seed (default 1)
 *   PREFIX_JOBS=N        histories run at once (the test's default)
 */
#ifndef VCDC_MODEL_SEEDS_H
#define VCDC_MODEL_SEEDS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kit_seeds_s kit_seeds_t;

struct kit_seeds_s {
        /* The test's. */
        const char *tag;    /* the log lines' "[ tag ]" */
        const char *env;    /* PREFIX above */
        uint64_t histories; /* defaults */
        int jobs;
        size_t result_size;
        /* Runs the history of seed into result (zeroed); *descp takes its
         * description (malloc()ed), or stays NULL. */
        void (*run)(kit_seeds_t *s, uint64_t seed, void *result,
                    char **descp);
        /* What a failed history's result says, or NULL when it passed. */
        const char *(*failure)(const void *result);
        /* Frees what a result owns; may be NULL. */
        void (*clear)(void *result);
        void *opaque;

        /* Set by kit_seeds_run(). */
        int describe;   /* one seed replayed: describe it in full */
        char dir[64];   /* the histories' files */
        uint64_t base, count;
        void *results;  /* count results of result_size, by seed - base */
        char **descriptions;

        pthread_mutex_t lock;
        uint64_t next;
};

/** Runs every history (failing the test when it cannot start). */
void kit_seeds_run(kit_seeds_t *s);

/** The result of the i-th history (seed base + i). */
void *kit_seeds_result(const kit_seeds_t *s, uint64_t i);

/** Prints each history that differs from the model (its description and
 *  its failure), frees the results, and fails the test naming their
 *  seeds; removes the directory when every history passed. */
void kit_seeds_finish(kit_seeds_t *s);

#endif

/*
 * vcdc - model tests: one history per seed on a pool of threads, and the
 * verdict (seeds.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "seeds.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"

static uint64_t env_of(const kit_seeds_t *s, const char *what, uint64_t def) {
        char name[128];

        snprintf(name, sizeof(name), "%s_%s", s->env, what);
        return kit_env_u64(name, def);
}

void *kit_seeds_result(const kit_seeds_t *s, uint64_t i) {
        return (char *)s->results + i * s->result_size;
}

static void *worker(void *arg) {
        kit_seeds_t *s = arg;
        uint64_t seed;

        for (;;) {
                pthread_mutex_lock(&s->lock);
                seed = s->next < s->base + s->count ? s->next++ : 0;
                pthread_mutex_unlock(&s->lock);
                if (!seed)
                        break;
                s->run(s, seed, kit_seeds_result(s, seed - s->base),
                       &s->descriptions[seed - s->base]);
        }
        return NULL;
}

void kit_seeds_run(kit_seeds_t *s) {
        uint64_t one = env_of(s, "SEED", 0);
        int jobs = (int)env_of(s, "JOBS", (uint64_t)s->jobs), t;
        pthread_t *thr;

        s->count = one ? 1 : env_of(s, "HISTORIES", s->histories);
        s->base = one ? one : env_of(s, "BASE_SEED", 1);
        s->describe = one != 0;
        if (!s->base)
                fail_msg("seeds start at 1");
        s->next = s->base;
        snprintf(s->dir, sizeof(s->dir), "/tmp/vcdc-%s-XXXXXX", s->tag);
        if (!mkdtemp(s->dir))
                fail_msg("mkdtemp: %s", strerror(errno));
        assert_non_null(s->results = calloc(s->count, s->result_size));
        assert_non_null(s->descriptions =
                                calloc(s->count, sizeof(*s->descriptions)));
        if (jobs < 1)
                jobs = 1;
        print_message("[ %-8s ] %" PRIu64 " histories, seeds %" PRIu64
                      "..%" PRIu64 ", %d at once, files in %s\n",
                      s->tag, s->count, s->base, s->base + s->count - 1,
                      jobs, s->dir);
        pthread_mutex_init(&s->lock, NULL);
        assert_non_null(thr = calloc((size_t)jobs, sizeof(*thr)));
        for (t = 0; t < jobs; t++)
                assert_int_equal(pthread_create(&thr[t], NULL, worker, s), 0);
        for (t = 0; t < jobs; t++)
                pthread_join(thr[t], NULL);
        free(thr);
        pthread_mutex_destroy(&s->lock);
}

void kit_seeds_finish(kit_seeds_t *s) {
        char seeds[1024] = "";
        uint64_t i, failed = 0;
        size_t n = 0;

        for (i = 0; i < s->count; i++) {
                void *r = kit_seeds_result(s, i);
                const char *text = s->failure(r);

                if (text) {
                        failed++;
                        print_message("\n[ %-8s ] seed %" PRIu64
                                      " differs from the model:\n",
                                      s->tag, s->base + i);
                        kit_print_lines(s->descriptions[i]);
                        kit_print_lines(text);
                        if (n < sizeof(seeds))
                                n += (size_t)snprintf(
                                        seeds + n, sizeof(seeds) - n,
                                        "%s%" PRIu64, n ? " " : "",
                                        s->base + i);
                }
                if (s->clear)
                        s->clear(r);
                free(s->descriptions[i]);
        }
        free(s->results);
        free(s->descriptions);
        s->results = NULL;
        s->descriptions = NULL;
        if (failed)
                fail_msg("%" PRIu64 " of %" PRIu64
                         " histories differ from the model (seeds %s; replay "
                         "one with %s_SEED=N; files in %s)",
                         failed, s->count, seeds, s->env, s->dir);
        rmdir(s->dir); /* fails, as it should, when files were kept */
}

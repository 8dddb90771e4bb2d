/*
 * vcdc - producer input on a worker thread (inpipe.h).
 *
 * A ring of INPIPE_BATCHES batches. The worker fills the batch after the
 * last one it handed over, when the ring has one free, and hands it over
 * under the lock; then it writes one byte to a pipe. The caller reads one
 * byte per batch (a wait a signal can interrupt, which a condition
 * variable's is not), takes the batch under the lock, moves its records
 * out one by one, and gives it back under the lock, waking the worker.
 * Batches are handed over and given back in ring order, so "used" (handed
 * over, not yet given back) is all the state the two share.
 */
#include "inpipe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_RECORDS 256
#define BATCH_BYTES   ((size_t)4 << 20)

typedef struct item_s {
        int status;      /* what vcdc_input_next() returned */
        vcdc_record_t rec;
        char *err;       /* its message (BAD, IOERR), or NULL */
        size_t line;     /* vcdc_input_line() after it */
        size_t dim;      /* vcdc_input_dim() after it */
} item_t;

typedef struct batch_s {
        item_t items[BATCH_RECORDS];
        size_t n;
} batch_t;

struct vcdc_inpipe_s {
        vcdc_input_t *in;
        pthread_t thread;
        int started;
        pthread_mutex_t lock;
        pthread_cond_t room;   /* the worker waits for a batch to fill */
        batch_t *batches;      /* [INPIPE_BATCHES] */
        size_t used;           /* handed over, not given back (lock) */
        int stop;              /* the worker is to end (lock) */
        int notify[2];         /* one byte per batch handed over */
        /* the worker's */
        size_t fill;
        /* the caller's */
        size_t take;
        batch_t *cur;          /* the batch being read, or NULL */
        size_t pos;
        int done;              /* the end or an error was returned */
        int interrupted;       /* a signal ended a wait */
        size_t line, dim;
};

/* About the memory a record holds, for the batch limit. */
static size_t record_bytes(const vcdc_record_t *rec) {
        return sizeof(*rec) + rec->dim * sizeof(float) +
               rec->sparse_nnz * (sizeof(uint32_t) + sizeof(float)) +
               (rec->metadata ? strlen(rec->metadata) : 0) +
               (rec->document ? strlen(rec->document) : 0);
}

/* Fills one batch. Returns 1 when the input ended (the end, an error). */
static int fill_batch(vcdc_inpipe_t *ip, batch_t *b) {
        char errstr[1024];
        size_t bytes = 0;

        b->n = 0;
        for (;;) {
                item_t *it = &b->items[b->n++];

                vcdc_record_init(&it->rec);
                errstr[0] = '\0';
                it->status = vcdc_input_next(ip->in, &it->rec, errstr,
                                             sizeof(errstr));
                it->err = NULL;
                if (it->status == VCDC_INPUT_BAD ||
                    it->status == VCDC_INPUT_IOERR)
                        it->err = strdup(errstr); /* NULL: said later */
                it->line = vcdc_input_line(ip->in);
                it->dim = vcdc_input_dim(ip->in);
                if (it->status == VCDC_INPUT_EOF ||
                    it->status == VCDC_INPUT_IOERR)
                        return 1;
                bytes += record_bytes(&it->rec);
                if (b->n == BATCH_RECORDS || bytes >= BATCH_BYTES ||
                    !vcdc_input_ready(ip->in))
                        return 0;
        }
}

static void *worker(void *arg) {
        vcdc_inpipe_t *ip = arg;
        int ended = 0;

        while (!ended) {
                batch_t *b;
                ssize_t w;

                pthread_mutex_lock(&ip->lock);
                while (ip->used == INPIPE_BATCHES && !ip->stop)
                        pthread_cond_wait(&ip->room, &ip->lock);
                if (ip->stop) {
                        pthread_mutex_unlock(&ip->lock);
                        break;
                }
                pthread_mutex_unlock(&ip->lock);
                b = &ip->batches[ip->fill];
                ended = fill_batch(ip, b);
                ip->fill = (ip->fill + 1) % INPIPE_BATCHES;
                pthread_mutex_lock(&ip->lock);
                ip->used++;
                pthread_mutex_unlock(&ip->lock);
                do
                        w = write(ip->notify[1], "b", 1);
                while (w < 0 && errno == EINTR);
        }
        return NULL;
}

vcdc_inpipe_t *vcdc_inpipe_new(vcdc_input_t *in, char *errstr,
                               size_t errstr_size) {
        vcdc_inpipe_t *ip = calloc(1, sizeof(*ip));
        sigset_t all, old;
        int r;

        if (!ip || !(ip->batches = calloc(INPIPE_BATCHES,
                                          sizeof(*ip->batches)))) {
                free(ip);
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        ip->notify[0] = ip->notify[1] = -1;
        if (pipe(ip->notify) ||
            fcntl(ip->notify[0], F_SETFD, FD_CLOEXEC) ||
            fcntl(ip->notify[1], F_SETFD, FD_CLOEXEC)) {
                snprintf(errstr, errstr_size, "input worker: %s",
                         strerror(errno));
                goto err;
        }
        pthread_mutex_init(&ip->lock, NULL);
        pthread_cond_init(&ip->room, NULL);
        ip->in = in;
        /* The worker starts with every signal blocked: they are for the
         * caller, whose waits they must end. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = pthread_create(&ip->thread, NULL, worker, ip);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r) {
                snprintf(errstr, errstr_size, "input worker: %s",
                         strerror(r));
                pthread_cond_destroy(&ip->room);
                pthread_mutex_destroy(&ip->lock);
                ip->in = NULL;
                goto err;
        }
        ip->started = 1;
        return ip;
err:
        if (ip->notify[0] >= 0)
                close(ip->notify[0]);
        if (ip->notify[1] >= 0)
                close(ip->notify[1]);
        free(ip->batches);
        free(ip);
        return NULL;
}

/* Gives the batch being read back to the worker. */
static void give_back(vcdc_inpipe_t *ip) {
        ip->cur = NULL;
        ip->take = (ip->take + 1) % INPIPE_BATCHES;
        pthread_mutex_lock(&ip->lock);
        ip->used--;
        pthread_cond_signal(&ip->room);
        pthread_mutex_unlock(&ip->lock);
}

int vcdc_inpipe_next(vcdc_inpipe_t *ip, vcdc_record_t *rec, char *errstr,
                     size_t errstr_size) {
        item_t *it;
        char c;

        vcdc_record_clear(rec);
        if (ip->done && !ip->interrupted)
                return vcdc_input_next(ip->in, rec, errstr, errstr_size);
        while (!ip->interrupted && (!ip->cur || ip->pos == ip->cur->n)) {
                ssize_t r;

                if (ip->cur)
                        give_back(ip);
                r = read(ip->notify[0], &c, 1);
                if (r < 0 && errno == EINTR) {
                        ip->interrupted = 1;
                        break;
                }
                if (r != 1) {
                        snprintf(errstr, errstr_size, "input worker: %s",
                                 r < 0 ? strerror(errno) : "gone");
                        ip->interrupted = ip->done = 1;
                        return VCDC_INPUT_IOERR;
                }
                pthread_mutex_lock(&ip->lock);
                ip->cur = &ip->batches[ip->take];
                pthread_mutex_unlock(&ip->lock);
                ip->pos = 0;
        }
        if (ip->interrupted) {
                ip->done = 1;
                snprintf(errstr, errstr_size,
                         "%s: read error after line %zu: %s",
                         vcdc_input_path(ip->in), ip->line, strerror(EINTR));
                return VCDC_INPUT_IOERR;
        }
        it = &ip->cur->items[ip->pos++];
        *rec = it->rec;
        vcdc_record_init(&it->rec);
        ip->line = it->line;
        ip->dim = it->dim;
        if (it->status == VCDC_INPUT_BAD || it->status == VCDC_INPUT_IOERR)
                snprintf(errstr, errstr_size, "%s",
                         it->err ? it->err : "out of memory");
        free(it->err);
        it->err = NULL;
        if (it->status == VCDC_INPUT_EOF || it->status == VCDC_INPUT_IOERR)
                ip->done = 1; /* the worker has ended: in is ours again */
        return it->status;
}

size_t vcdc_inpipe_line(const vcdc_inpipe_t *ip) {
        return ip->line;
}

size_t vcdc_inpipe_dim(const vcdc_inpipe_t *ip) {
        return ip->dim;
}

void vcdc_inpipe_destroy(vcdc_inpipe_t *ip) {
        size_t b, i;

        if (!ip)
                return;
        if (ip->started) {
                pthread_mutex_lock(&ip->lock);
                ip->stop = 1;
                pthread_cond_broadcast(&ip->room);
                pthread_mutex_unlock(&ip->lock);
                vcdc_input_interrupt(ip->in); /* a read it may wait in */
                pthread_join(ip->thread, NULL);
                pthread_cond_destroy(&ip->room);
                pthread_mutex_destroy(&ip->lock);
        }
        for (b = 0; b < INPIPE_BATCHES; b++) {
                for (i = 0; i < ip->batches[b].n; i++) {
                        vcdc_record_clear(&ip->batches[b].items[i].rec);
                        free(ip->batches[b].items[i].err);
                }
        }
        close(ip->notify[0]);
        close(ip->notify[1]);
        vcdc_input_close(ip->in);
        free(ip->batches);
        free(ip);
}

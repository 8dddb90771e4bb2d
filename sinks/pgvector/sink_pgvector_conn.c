/*
 * vcdc - the pgvector sink's connection edges (issue 14, scenarios 8 and
 * 10): connecting with the server's refusal readable, telling a refusal
 * that will recur (authentication) from one that will pass (the server is
 * starting, full, or not there), and cancelling a statement we stopped
 * waiting for, in bounded time.
 *
 * libpq gives no SQLSTATE for a failed connection (there is no PGresult),
 * only PQerrorMessage(). Its text is the server's own message, translated
 * by the server's lc_messages, after libpq's prefix, so matching words
 * would break with the server's language. Instead the connection is made
 * with PQconnectStartParams() and PQsetErrorVerbosity(PQERRORS_VERBOSE)
 * set before the first PQconnectPoll(): libpq then writes each error the
 * server sends as "SEVERITY:  SQLSTATE: message", whatever the language,
 * and vcdc_pgvector_connect_status() reads the codes back:
 *   class 28 (invalid authorization: password authentication failed, no
 *   or a rejecting pg_hba.conf entry, role does not exist or may not log
 *   in), 42501 (no CONNECT privilege), 3D000 (the database does not
 *   exist): FATAL, the configuration must change;
 *   any other code (57P03 starting up or shutting down, 53300 too many
 *   connections, ...): RETRIABLE.
 * An error without a code comes from libpq itself (connection refused,
 * timed out, name not resolved, TLS): RETRIABLE, except when
 * PQconnectionNeedsPassword() says the server asked for a password and
 * none was given, which is FATAL.
 *
 * A cancel request is a new connection to the postmaster that waits for it
 * to close; PQcancel() (libpq 15 has no asynchronous cancel) can block for
 * as long as the server does not answer. vcdc_pgvector_cancel() runs it in
 * a thread and waits a bounded time; one that outlasts it finishes in the
 * background and frees itself.
 */
#include "sink_pgvector_int.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What a connection refusal reads like in verbose form: "...:  CODE: ". */
#define CODE_LEN 5

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int code_char(char c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

/* 1 when the label that ends at end (just before its ":  ") is one of
 * the fields libpq adds in verbose mode after the message line ("DETAIL:
 * ", "HINT:  ", ...): what follows it is text, not a code. */
static int field_label(const char *msg, const char *end) {
        static const char *const labels[] = {
                "DETAIL",        "HINT",           "QUERY",      "CONTEXT",
                "LOCATION",      "SCHEMA NAME",    "TABLE NAME", "COLUMN NAME",
                "DATATYPE NAME", "CONSTRAINT NAME"};
        size_t i, n;

        for (i = 0; i < sizeof(labels) / sizeof(*labels); i++) {
                n = strlen(labels[i]);
                if ((size_t)(end - msg) >= n &&
                    !strncmp(end - n, labels[i], n) &&
                    (end - n == msg || end[-(long)n - 1] == '\n' ||
                     end[-(long)n - 1] == '\t'))
                        return 1;
        }
        return 0;
}

/* The first SQLSTATE at or after *posp in msg ("SEVERITY:  CODE: text"):
 * copied into code, *posp moved past it. Returns 1, or 0 when none is
 * left. */
static int next_code(const char *msg, const char **posp, char *code) {
        const char *p;
        int i;

        for (p = strstr(*posp, ":  "); p; p = strstr(p + 1, ":  ")) {
                const char *c = p + 3;
                if (field_label(msg, p))
                        continue;
                for (i = 0; i < CODE_LEN && code_char(c[i]); i++)
                        ;
                if (i == CODE_LEN && c[CODE_LEN] == ':') {
                        memcpy(code, c, CODE_LEN);
                        code[CODE_LEN] = '\0';
                        *posp = c + CODE_LEN;
                        return 1;
                }
        }
        return 0;
}

static int code_fatal(const char *code) {
        return !strncmp(code, "28", 2) || !strcmp(code, "42501") ||
               !strcmp(code, "3D000");
}

vcdc_sink_status_t vcdc_pgvector_connect_status(const char *message,
                                                int needs_password, char *code,
                                                const char **textp) {
        const char *msg = message ? message : "", *pos = msg, *line = NULL;
        char c[CODE_LEN + 1];
        vcdc_sink_status_t status = VCDC_SINK_RETRIABLE;

        if (code)
                code[0] = '\0';
        while (next_code(msg, &pos, c)) {
                if (!line || (code_fatal(c) && status != VCDC_SINK_FATAL)) {
                        line = pos + 2; /* past ": " */
                        if (code)
                                memcpy(code, c, sizeof(c));
                }
                if (code_fatal(c))
                        status = VCDC_SINK_FATAL;
        }
        if (!line && needs_password)
                status = VCDC_SINK_FATAL;
        if (textp)
                *textp = line;
        return status;
}

/* The length of s's first line. */
static int line_len(const char *s) {
        size_t n = strcspn(s, "\r\n");

        return n > INT_MAX ? INT_MAX : (int)n;
}

PGconn *vcdc_pgvector_connect(const char *const *keys,
                              const char *const *values, int timeout_ms,
                              vcdc_sink_status_t *statusp, char *errstr,
                              size_t errstr_size) {
        PostgresPollingStatusType poll_st = PGRES_POLLING_WRITING;
        int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 30000);
        const char *msg, *text;
        char code[CODE_LEN + 1];
        PGconn *conn;

        *statusp = VCDC_SINK_RETRIABLE;
        if (!(conn = PQconnectStartParams(keys, values,
                                          0 /*no expand_dbname*/))) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        PQsetErrorVerbosity(conn, PQERRORS_VERBOSE);
        while (PQstatus(conn) != CONNECTION_BAD &&
               poll_st != PGRES_POLLING_OK && poll_st != PGRES_POLLING_FAILED) {
                struct pollfd pfd = {.fd = PQsocket(conn)};
                int64_t left = deadline - now_ms();
                int r;

                pfd.events =
                        poll_st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
                if (pfd.fd < 0)
                        break;
                if (left <= 0) {
                        snprintf(errstr, errstr_size,
                                 "no connection within %d ms", timeout_ms);
                        PQfinish(conn);
                        return NULL;
                }
                r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
                if (r < 0 && errno != EINTR) {
                        snprintf(errstr, errstr_size, "poll: %s",
                                 strerror(errno));
                        PQfinish(conn);
                        return NULL;
                }
                if (r > 0)
                        poll_st = PQconnectPoll(conn);
        }
        if (PQstatus(conn) == CONNECTION_OK) {
                PQsetErrorVerbosity(conn, PQERRORS_DEFAULT);
                *statusp = VCDC_SINK_OK;
                return conn;
        }
        msg = PQerrorMessage(conn);
        *statusp = vcdc_pgvector_connect_status(
                msg, PQconnectionNeedsPassword(conn), code, &text);
        if (*statusp == VCDC_SINK_FATAL && text)
                snprintf(errstr, errstr_size,
                         "authentication refused: %.*s (SQLSTATE %s); check "
                         "the user and database in the URL and the password "
                         "in VCDC_PG_PASSWORD (or VCDC_PG_PASSWORD_FILE, "
                         "PGPASSWORD, ~/.pgpass)",
                         line_len(text), text, code);
        else if (*statusp == VCDC_SINK_FATAL)
                snprintf(errstr, errstr_size,
                         "authentication refused: the server wants a "
                         "password and none was given: set "
                         "VCDC_PG_PASSWORD (or VCDC_PG_PASSWORD_FILE)");
        else if (text)
                snprintf(errstr, errstr_size, "%.*s (SQLSTATE %s)",
                         line_len(text), text, code);
        else
                snprintf(errstr, errstr_size, "%.*s", line_len(msg), msg);
        PQfinish(conn);
        return NULL;
}

/*
 * Cancel in a thread.
 */

typedef struct cancel_job_s {
        pthread_mutex_t lock;
        pthread_cond_t cond; /* on CLOCK_MONOTONIC */
        PGcancel *cancel;
        int done;      /* PQcancel() returned */
        int abandoned; /* the caller stopped waiting: the thread frees */
        int sent;
        char err[256];
} cancel_job_t;

static void job_free(cancel_job_t *job) {
        PQfreeCancel(job->cancel);
        pthread_cond_destroy(&job->cond);
        pthread_mutex_destroy(&job->lock);
        free(job);
}

static void *cancel_main(void *arg) {
        cancel_job_t *job = arg;
        char err[sizeof(job->err)];
        int sent, abandoned;

        err[0] = '\0';
        sent = PQcancel(job->cancel, err, (int)sizeof(err));
        pthread_mutex_lock(&job->lock);
        job->sent = sent;
        memcpy(job->err, err, sizeof(err));
        job->done = 1;
        abandoned = job->abandoned;
        pthread_cond_signal(&job->cond);
        pthread_mutex_unlock(&job->lock);
        if (abandoned)
                job_free(job);
        return NULL;
}

int vcdc_pgvector_cancel(PGconn *conn, int wait_ms, char *errstr,
                         size_t errstr_size) {
        pthread_condattr_t cattr;
        pthread_attr_t attr;
        pthread_t thread;
        struct timespec until;
        cancel_job_t *job;
        int r = 0, started;

        if (!(job = calloc(1, sizeof(*job)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (!(job->cancel = PQgetCancel(conn))) {
                snprintf(errstr, errstr_size, "no cancel key (not connected)");
                free(job);
                return -1;
        }
        pthread_mutex_init(&job->lock, NULL);
        pthread_condattr_init(&cattr);
        pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
        pthread_cond_init(&job->cond, &cattr);
        pthread_condattr_destroy(&cattr);

        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        started = !pthread_create(&thread, &attr, cancel_main, job);
        pthread_attr_destroy(&attr);
        if (!started) {
                snprintf(errstr, errstr_size, "cannot start a thread");
                job_free(job);
                return -1;
        }

        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&job->lock);
        while (!job->done && pthread_cond_timedwait(&job->cond, &job->lock,
                                                    &until) != ETIMEDOUT)
                ;
        if (job->done) {
                r = job->sent ? 1 : -1;
                if (!job->sent)
                        snprintf(errstr, errstr_size, "%.*s",
                                 line_len(job->err), job->err);
        } else {
                job->abandoned = 1;
                snprintf(errstr, errstr_size,
                         "no answer to the cancel request within %d ms",
                         wait_ms);
        }
        pthread_mutex_unlock(&job->lock);
        if (r)
                job_free(job);
        return r;
}

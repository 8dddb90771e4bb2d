/*
 * http_load - the load generator of bench/bench_gateway.py: N client
 * threads send the request bodies of a file (one a line) to one URL, or
 * run one SQL statement on PostgreSQL with each line as its parameter,
 * and it prints what came back as one JSON object: requests, seconds,
 * answers 2xx a second ("qps"), their latency p50/p99/max (a refusal such
 * as a 503 is quick and would hide the wait of the others), the status
 * counts.
 *
 * It must not bound the measurement itself: each thread owns one libcurl
 * easy handle (one kept-alive connection) or one libpq connection, and
 * does nothing between requests but pick the next line; latencies go into
 * a per-thread array, sorted once at the end. The same tool sends the
 * same bodies to the gateway and to Chroma directly, so both sides pay
 * the same client.
 *
 * Usage: http_load [options] URL BODIES
 *        http_load [options] --pg CONNINFO SQL BODIES
 *   -c N       client threads (default 1)
 *   -d SECS    run for SECS seconds (default 10)
 *   -n COUNT   send COUNT requests instead, line i % lines for request i
 *              (every line once when COUNT is the number of lines)
 *   -r RATE    open loop: RATE requests/s in all, each thread on its own
 *              schedule; a latency counts from the scheduled send time, so
 *              a client that falls behind shows the wait (no coordinated
 *              omission)
 *   -w SECS    warm-up: requests of the first SECS not counted
 *   --ok FILE  write the line numbers answered 2xx, one a line
 *   --pg-binary-vector  each line is a pgvector text ("[1,2.5]") sent as
 *              pgvector's binary input, as the gateway sends a query vector
 * A status of 0 is a transport error (connection refused, timeout) or, in
 * --pg mode, a failed statement; --pg counts a good result as 200.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#include "clock.h"
#include "sink_pgvector_int.h"

#define MAX_STATUS 600

typedef struct {
        const char *url, *conninfo, *sql;
        char **lines;
        size_t *lens;
        int pg_binary;
        size_t nlines;
        int clients;
        double secs, warm_secs, rate;
        long count;
        atomic_long next; /* -n: the next request's number */
        int64_t t0_us;
} load_t;

typedef struct {
        load_t *load;
        int index;
        pthread_t tid;
        double *lat_ms;
        size_t nlat, cap;
        long status[MAX_STATUS];
        long retry_after; /* 503s with a Retry-After header */
        char *ok;         /* per line: answered 2xx */
        char err[256];    /* the first transport error */
        int failed;       /* could not start: the run is void */
} client_t;

static void *xrealloc(void *p, size_t n) {
        void *q = realloc(p, n);

        if (!q) {
                fprintf(stderr, "http_load: out of memory\n");
                exit(1);
        }
        return q;
}

static size_t discard(char *p, size_t size, size_t n, void *opaque) {
        (void)p;
        (void)opaque;
        return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *opaque) {
        int *seen = opaque;

        if (size * n >= 12 && !strncasecmp(p, "Retry-After:", 12))
                *seen = 1;
        return size * n;
}

static void record(client_t *c, int64_t start_us, int64_t end_us,
                   long status, long line, int retry_after) {
        if (start_us - c->load->t0_us < (int64_t)(c->load->warm_secs * 1e6))
                return;
        if (status >= 200 && status < 300) {
                if (c->nlat == c->cap) {
                        c->cap = c->cap ? c->cap * 2 : 4096;
                        c->lat_ms = xrealloc(c->lat_ms,
                                             c->cap * sizeof(*c->lat_ms));
                }
                c->lat_ms[c->nlat++] = (double)(end_us - start_us) / 1000.0;
        }
        if (status < 0 || status >= MAX_STATUS)
                status = 0;
        c->status[status]++;
        if (status == 503 && retry_after)
                c->retry_after++;
        if (status >= 200 && status < 300 && c->ok && line >= 0)
                c->ok[line] = 1;
}

/* The next request: its line, or -1 when the run is over. *sched_us: the
 * time it is due (open loop), else 0. */
static long next_request(client_t *c, long *seq, int64_t *sched_us) {
        load_t *l = c->load;
        int64_t now = vcdc_clock_us();
        long i;

        *sched_us = 0;
        if (l->count > 0) {
                i = atomic_fetch_add(&l->next, 1);
                if (i >= l->count)
                        return -1;
        } else {
                if (now - l->t0_us >= (int64_t)(l->secs * 1e6))
                        return -1;
                i = (*seq)++ * l->clients + c->index;
        }
        if (l->rate > 0) {
                /* Thread k sends its j-th request at t0 + (j*N + k)/rate. */
                long j = l->count > 0 ? (*seq)++ : *seq - 1;
                *sched_us = l->t0_us +
                            (int64_t)((double)(j * l->clients + c->index) /
                                      l->rate * 1e6);
                if (l->count <= 0 &&
                    *sched_us - l->t0_us >= (int64_t)(l->secs * 1e6))
                        return -1;
                while ((now = vcdc_clock_us()) < *sched_us) {
                        int64_t d = *sched_us - now;
                        struct timespec ts = {d / 1000000,
                                              (d % 1000000) * 1000};
                        nanosleep(&ts, NULL);
                }
        }
        return i % (long)l->nlines;
}

static void *http_client(void *arg) {
        client_t *c = arg;
        load_t *l = c->load;
        CURL *h = curl_easy_init();
        struct curl_slist *hdr = NULL;
        long seq = 0, line, status;
        int64_t sched, t;
        int retry_after;
        CURLcode rc;

        if (!h) {
                snprintf(c->err, sizeof(c->err), "curl_easy_init failed");
                c->failed = 1;
                return NULL;
        }
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        hdr = curl_slist_append(hdr, "Expect:"); /* no 100-continue pause */
        curl_easy_setopt(h, CURLOPT_URL, l->url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &retry_after);
        while ((line = next_request(c, &seq, &sched)) >= 0) {
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, l->lines[line]);
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                                 (curl_off_t)l->lens[line]);
                retry_after = 0;
                t = vcdc_clock_us();
                rc = curl_easy_perform(h);
                status = 0;
                if (rc == CURLE_OK)
                        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
                else if (!c->err[0])
                        snprintf(c->err, sizeof(c->err), "%s",
                                 curl_easy_strerror(rc));
                record(c, sched ? sched : t, vcdc_clock_us(), status, line,
                       retry_after);
        }
        curl_slist_free_all(hdr);
        curl_easy_cleanup(h);
        return NULL;
}

static void *pg_client(void *arg) {
        client_t *c = arg;
        load_t *l = c->load;
        PGconn *pg = PQconnectdb(l->conninfo);
        PGresult *res;
        long seq = 0, line, status;
        int64_t sched, t;
        int i, j, rows, cols;
        size_t sum = 0;

        if (PQstatus(pg) != CONNECTION_OK) {
                snprintf(c->err, sizeof(c->err), "%s", PQerrorMessage(pg));
                c->failed = 1;
                PQfinish(pg);
                return NULL;
        }
        while ((line = next_request(c, &seq, &sched)) >= 0) {
                const char *param = l->lines[line];
                int plen = (int)l->lens[line], pfmt = l->pg_binary;

                t = vcdc_clock_us();
                res = PQexecParams(pg, l->sql, 1, NULL, &param, &plen, &pfmt,
                                   0 /*text results*/);
                status = PQresultStatus(res) == PGRES_TUPLES_OK ? 200 : 0;
                if (!status && !c->err[0])
                        snprintf(c->err, sizeof(c->err), "%s",
                                 PQresultErrorMessage(res));
                /* Touch every value, as the gateway reads them all. */
                rows = PQntuples(res);
                cols = PQnfields(res);
                for (i = 0; i < rows; i++)
                        for (j = 0; j < cols; j++)
                                sum += (size_t)PQgetlength(res, i, j);
                PQclear(res);
                record(c, sched ? sched : t, vcdc_clock_us(), status, line, 0);
        }
        (void)sum;
        PQfinish(pg);
        return NULL;
}

/* Reads BODIES: one request a line, empty lines skipped. */
static int read_lines(load_t *l, const char *path) {
        FILE *fp = fopen(path, "r");
        char *line = NULL;
        size_t cap = 0, alloc = 0;
        ssize_t n;

        if (!fp) {
                fprintf(stderr, "http_load: %s: %s\n", path, strerror(errno));
                return -1;
        }
        while ((n = getline(&line, &cap, fp)) != -1) {
                while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        line[--n] = '\0';
                if (!n)
                        continue;
                if (l->nlines == alloc) {
                        alloc = alloc ? alloc * 2 : 1024;
                        l->lines = xrealloc(l->lines, alloc * sizeof(char *));
                        l->lens = xrealloc(l->lens, alloc * sizeof(size_t));
                }
                l->lens[l->nlines] = (size_t)n;
                l->lines[l->nlines++] = line;
                line = NULL;
                cap = 0;
        }
        free(line);
        fclose(fp);
        if (!l->nlines) {
                fprintf(stderr, "http_load: %s: no request bodies\n", path);
                return -1;
        }
        return 0;
}

/* Each line "[1,2.5,...]" into pgvector's binary input format. */
static int binary_vectors(load_t *l) {
        size_t i, dim, cap = 0;
        float *v = NULL;
        char *p, *end, *bin;

        for (i = 0; i < l->nlines; i++) {
                dim = 0;
                p = l->lines[i] + (l->lines[i][0] == '[');
                while (*p && *p != ']') {
                        if (dim == cap) {
                                cap = cap ? cap * 2 : 1024;
                                v = xrealloc(v, cap * sizeof(*v));
                        }
                        v[dim++] = strtof(p, &end);
                        if (end == p) {
                                fprintf(stderr,
                                        "http_load: line %zu: not a vector\n",
                                        i + 1);
                                free(v);
                                return -1;
                        }
                        p = end + (*end == ',');
                }
                bin = xrealloc(NULL, vcdc_pgvector_vector_binary_size(dim));
                l->lens[i] = vcdc_pgvector_vector_binary(v, dim, bin);
                free(l->lines[i]);
                l->lines[i] = bin;
        }
        free(v);
        return 0;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

static int parse_num(const char *s, double lo, double hi, double *out) {
        char *end;

        errno = 0;
        *out = strtod(s, &end);
        return end == s || *end || errno || *out < lo || *out > hi ? -1 : 0;
}

static void usage(void) {
        fprintf(stderr,
                "usage: http_load [-c N] [-d SECS | -n COUNT] [-r RATE] "
                "[-w SECS] [--ok FILE]\n"
                "                 URL BODIES | --pg CONNINFO "
                "[--pg-binary-vector] SQL BODIES\n");
}

int main(int argc, char **argv) {
        load_t l;
        client_t *cs;
        const char *okpath = NULL;
        double v, *all = NULL, secs;
        size_t total = 0, k;
        long status[MAX_STATUS] = {0}, retry_after = 0, i, requests = 0;
        int a, first, rc = 1;
        char *ok = NULL;
        FILE *fp;

        memset(&l, 0, sizeof(l));
        l.clients = 1;
        l.secs = 10;
        for (a = 1; a < argc && argv[a][0] == '-'; a++) {
                const char *o = argv[a], *arg = a + 1 < argc ? argv[a + 1] : 0;

                if (!arg) {
                        usage();
                        return 64;
                }
                if (!strcmp(o, "-c") && !parse_num(arg, 1, 4096, &v))
                        l.clients = (int)v;
                else if (!strcmp(o, "-d") && !parse_num(arg, 0.01, 1e6, &v))
                        l.secs = v;
                else if (!strcmp(o, "-n") && !parse_num(arg, 1, 1e12, &v))
                        l.count = (long)v;
                else if (!strcmp(o, "-r") && !parse_num(arg, 0.01, 1e9, &v))
                        l.rate = v;
                else if (!strcmp(o, "-w") && !parse_num(arg, 0, 1e6, &v))
                        l.warm_secs = v;
                else if (!strcmp(o, "--ok"))
                        okpath = arg;
                else if (!strcmp(o, "--pg"))
                        l.conninfo = arg;
                else if (!strcmp(o, "--pg-binary-vector")) {
                        l.pg_binary = 1;
                        continue; /* no argument */
                }
                else {
                        fprintf(stderr, "http_load: bad option %s %s\n", o,
                                arg);
                        usage();
                        return 64;
                }
                a++;
        }
        if (argc - a != 2) { /* URL or SQL, then BODIES */
                usage();
                return 64;
        }
        if (l.conninfo)
                l.sql = argv[a];
        else
                l.url = argv[a];
        if (read_lines(&l, argv[a + 1]) == -1 ||
            (l.pg_binary && binary_vectors(&l) == -1))
                return 1;
        if (!l.conninfo && curl_global_init(CURL_GLOBAL_DEFAULT)) {
                fprintf(stderr, "http_load: curl_global_init failed\n");
                return 1;
        }
        if (!(cs = calloc((size_t)l.clients, sizeof(*cs))))
                return 1;
        l.t0_us = vcdc_clock_us();
        for (a = 0; a < l.clients; a++) {
                cs[a].load = &l;
                cs[a].index = a;
                if (okpath && !(cs[a].ok = calloc(l.nlines, 1)))
                        return 1;
                if (pthread_create(&cs[a].tid, NULL,
                                   l.conninfo ? pg_client : http_client,
                                   &cs[a])) {
                        fprintf(stderr, "http_load: pthread_create failed\n");
                        return 1;
                }
        }
        for (a = 0; a < l.clients; a++)
                pthread_join(cs[a].tid, NULL);
        secs = (double)(vcdc_clock_us() - l.t0_us) / 1e6 - l.warm_secs;
        if (okpath && !(ok = calloc(l.nlines, 1)))
                return 1;
        for (a = 0; a < l.clients; a++) {
                all = xrealloc(all, (total + cs[a].nlat + 1) * sizeof(*all));
                memcpy(all + total, cs[a].lat_ms,
                       cs[a].nlat * sizeof(*all));
                total += cs[a].nlat;
                for (i = 0; i < MAX_STATUS; i++)
                        status[i] += cs[a].status[i];
                retry_after += cs[a].retry_after;
                for (k = 0; ok && k < l.nlines; k++)
                        ok[k] |= cs[a].ok[k];
                if (cs[a].err[0])
                        fprintf(stderr, "http_load: client %d: %s\n", a,
                                cs[a].err);
        }
        for (a = 0; a < l.clients; a++)
                if (cs[a].failed)
                        goto done; /* named on stderr above */
        for (i = 0; i < MAX_STATUS; i++)
                requests += status[i];
        qsort(all, total, sizeof(*all), cmp_double);
#define PCT(q) (total ? all[(size_t)((q) * (double)(total - 1) + 0.5)] : 0.0)
        printf("{\"clients\": %d, \"requests\": %ld, \"seconds\": %.3f, "
               "\"qps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
               "\"max_ms\": %.3f, \"retry_after_503\": %ld, \"status\": {",
               l.clients, requests, secs, secs > 0 ? (double)total / secs : 0,
               PCT(0.5), PCT(0.99), total ? all[total - 1] : 0.0,
               retry_after);
        for (i = 0, first = 1; i < MAX_STATUS; i++)
                if (status[i]) {
                        printf("%s\"%ld\": %ld", first ? "" : ", ", i,
                               status[i]);
                        first = 0;
                }
        printf("}}\n");
        if (okpath) {
                if (!(fp = fopen(okpath, "w"))) {
                        fprintf(stderr, "http_load: %s: %s\n", okpath,
                                strerror(errno));
                        goto done;
                }
                for (k = 0; k < l.nlines; k++)
                        if (ok[k])
                                fprintf(fp, "%zu\n", k);
                if (fclose(fp)) {
                        fprintf(stderr, "http_load: %s: write failed\n",
                                okpath);
                        goto done;
                }
        }
        rc = 0;
done:
        for (a = 0; a < l.clients; a++) {
                free(cs[a].lat_ms);
                free(cs[a].ok);
        }
        free(cs);
        free(ok);
        free(all);
        for (k = 0; k < l.nlines; k++)
                free(l.lines[k]);
        free(l.lines);
        free(l.lens);
        if (!l.conninfo)
                curl_global_cleanup();
        return rc;
}

/*
 * pg_apply - the pgvector sink's two apply paths timed against each other
 * for bench/bench_pgapply.py: the same generated records applied through
 * the sink's own apply() with ?copy=never (prepared multi-row INSERT) or
 * ?copy=always (COPY into the staging table, then INSERT ... SELECT).
 * Times the sink only: no Kafka, no decoding. Creates nothing but through
 * the sink, and drops nothing (the driver drops the table).
 *
 * Usage: pg_apply URL DIM BATCH ROWS
 *   URL   a pgvector:// URL naming a fresh table and the path (?copy=)
 *
 * Builds ROWS records of DIM floats (fixed seed; a small metadata object
 * and a document each) before the clock starts, then applies them in
 * batches of BATCH, each with its offset (partition 0), into the fresh
 * table (the load), and again with other vectors and metadata (the
 * overwrite: every row an update). Checks the count. Prints
 * "load_seconds overwrite_seconds cpu_seconds": the last is the CPU both
 * phases cost, this process's (getrusage) plus the server's: every child
 * of the postmaster of VCDC_PG_DATA (the backend, the WAL writer, ...),
 * read from /proc; a machine shared with other work slows the wall clock
 * of both sides alike, but barely moves their CPU. Without VCDC_PG_DATA
 * (or /proc) the server's part is 0.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "record.h"
#include "sink.h"

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This process's CPU seconds. */
static double self_cpu_s(void) {
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The postmaster's pid from DATA/postmaster.pid, 0 if unknown. */
static long postmaster_pid(void) {
        const char *data = getenv("VCDC_PG_DATA");
        char path[1024], line[64];
        long pid = 0;
        FILE *fp;

        if (!data || !*data)
                return 0;
        snprintf(path, sizeof(path), "%s/postmaster.pid", data);
        if (!(fp = fopen(path, "r")))
                return 0;
        if (fgets(line, sizeof(line), fp))
                pid = strtol(line, NULL, 10);
        fclose(fp);
        return pid > 0 ? pid : 0;
}

/* utime + stime (clock ticks) of /proc/PID/stat when its parent is ppid,
 * else 0: the fields after the parenthesised name are state, ppid, then
 * 8 more, then utime and stime. */
static unsigned long long child_ticks(const char *pid, long ppid) {
        unsigned long long v[12];
        char path[288], buf[1024], *p, *end;
        size_t n;
        FILE *fp;
        int i;

        snprintf(path, sizeof(path), "/proc/%s/stat", pid);
        if (!(fp = fopen(path, "r")))
                return 0;
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        buf[n] = '\0';
        if (!(p = strrchr(buf, ')')) || !p[1] || !p[2] || !p[3])
                return 0;
        p += 4; /* ") S " */
        for (i = 0; i < 12; i++) {
                errno = 0;
                v[i] = strtoull(p, &end, 10);
                if (errno || end == p)
                        return 0;
                p = end;
        }
        return (long)v[0] == ppid ? v[10] + v[11] : 0;
}

/* CPU seconds of the postmaster's children alive now. */
static double server_cpu_s(long postmaster) {
        long tick = sysconf(_SC_CLK_TCK);
        unsigned long long total = 0;
        struct dirent *de;
        DIR *dir;

        if (!postmaster || tick <= 0 || !(dir = opendir("/proc")))
                return 0;
        while ((de = readdir(dir)))
                if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
                        total += child_ticks(de->d_name, postmaster);
        closedir(dir);
        return (double)total / (double)tick;
}

static uint32_t next_rand(uint32_t *s) {
        /* xorshift32: the same floats on both sides of a comparison. */
        *s ^= *s << 13;
        *s ^= *s >> 17;
        *s ^= *s << 5;
        return *s;
}

static int parse_size(const char *s, size_t *vp) {
        unsigned long long v;
        char *end;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || *end || v == 0)
                return -1;
        *vp = (size_t)v;
        return 0;
}

/* Record i of version variant. */
static int make(vcdc_record_t *rec, size_t i, size_t dim, int variant) {
        uint32_t seed = (uint32_t)(i * 2654435761u + (uint32_t)variant + 1);
        char buf[160];
        size_t d;

        vcdc_record_init(rec);
        rec->op = VCDC_OP_UPSERT;
        rec->dim = dim;
        snprintf(buf, sizeof(buf), "doc-%08zu", i);
        if (!(rec->id = strdup(buf)) ||
            !(rec->vector = malloc(dim * sizeof(float))))
                return -1;
        for (d = 0; d < dim; d++)
                rec->vector[d] =
                        (float)(next_rand(&seed) % 20001) / 10000.0f - 1.0f;
        snprintf(buf, sizeof(buf),
                 "{\"n\":%zu,\"v\":%d,\"tag\":\"group-%zu\",\"ok\":true}", i,
                 variant, i % 17);
        if (!(rec->metadata = strdup(buf)))
                return -1;
        snprintf(buf, sizeof(buf), "document %zu, version %d of the bench", i,
                 variant);
        return (rec->document = strdup(buf)) ? 0 : -1;
}

/* Applies recs[0..rows) in batches; returns the seconds, or -1. */
static double apply_all(vcdc_sink_t *sink, vcdc_record_t *recs, size_t rows,
                        size_t batch, int64_t *offsetp) {
        const vcdc_record_t **ptrs;
        char errstr[1024];
        size_t i, j, cnt;
        double t0, dt = -1;

        if (!(ptrs = malloc(batch * sizeof(*ptrs))))
                return -1;
        t0 = now_s();
        for (i = 0; i < rows; i += cnt) {
                vcdc_sink_offset_t off;
                vcdc_sink_batch_t b = {0};
                vcdc_sink_status_t st;

                cnt = rows - i < batch ? rows - i : batch;
                for (j = 0; j < cnt; j++)
                        ptrs[j] = &recs[i + j];
                *offsetp += (int64_t)cnt;
                off.partition = 0;
                off.offset = *offsetp;
                b.upserts = ptrs;
                b.upsert_cnt = cnt;
                b.topic = "bench.pg_apply";
                b.offsets = &off;
                b.offset_cnt = 1;
                if ((st = vcdc_sink_apply(sink, &b, errstr, sizeof(errstr)))) {
                        fprintf(stderr, "pg_apply: %s: %s\n",
                                vcdc_sink_status_name(st), errstr);
                        goto done;
                }
        }
        dt = now_s() - t0;
done:
        free(ptrs);
        return dt;
}

int main(int argc, char **argv) {
        vcdc_sink_conf_t conf = {.metric = VCDC_METRIC_COSINE,
                                 .timeout_ms = 120000};
        size_t dim, batch, rows, i;
        vcdc_record_t *recs = NULL;
        vcdc_sink_t *sink = NULL;
        char errstr[1024];
        double load, overwrite, cpu0, cpu;
        long postmaster = postmaster_pid();
        int64_t offset = 0;
        uint64_t count = 0;
        int rc = 1;

        if (argc != 5 || parse_size(argv[2], &dim) || parse_size(argv[3], &batch) ||
            parse_size(argv[4], &rows)) {
                fprintf(stderr, "usage: pg_apply URL DIM BATCH ROWS\n");
                return 2;
        }
        if (!(recs = calloc(rows, sizeof(*recs))))
                goto done;
        for (i = 0; i < rows; i++)
                if (make(&recs[i], i, dim, 0) == -1)
                        goto oom;
        if (!(sink = vcdc_sink_new(argv[1], &conf, errstr, sizeof(errstr)))) {
                fprintf(stderr, "pg_apply: %s\n", errstr);
                goto done;
        }
        cpu0 = self_cpu_s() + server_cpu_s(postmaster);
        if ((load = apply_all(sink, recs, rows, batch, &offset)) < 0)
                goto done;
        cpu = self_cpu_s() + server_cpu_s(postmaster) - cpu0;
        for (i = 0; i < rows; i++) {
                vcdc_record_clear(&recs[i]);
                if (make(&recs[i], i, dim, 1) == -1)
                        goto oom;
        }
        cpu0 = self_cpu_s() + server_cpu_s(postmaster);
        if ((overwrite = apply_all(sink, recs, rows, batch, &offset)) < 0)
                goto done;
        cpu += self_cpu_s() + server_cpu_s(postmaster) - cpu0;
        if (vcdc_sink_count(sink, &count, errstr, sizeof(errstr)) ||
            count != rows) {
                fprintf(stderr, "pg_apply: the table holds %" PRIu64
                                " rows, not %zu\n",
                        count, rows);
                goto done;
        }
        printf("%.6f %.6f %.6f\n", load, overwrite, cpu);
        rc = 0;
        goto done;
oom:
        fprintf(stderr, "pg_apply: out of memory\n");
done:
        vcdc_sink_destroy(sink);
        for (i = 0; recs && i < rows; i++)
                vcdc_record_clear(&recs[i]);
        free(recs);
        return rc;
}

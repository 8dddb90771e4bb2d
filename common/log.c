/*
 * vcdc - logging to stderr.
 * Writes to stderr only: stdout carries data.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int vcdc_log_level = VCDC_LOG_NOTICE;

static const char *level_names[] = {
        [VCDC_LOG_ERR] = "error",   [VCDC_LOG_WARN] = "warn",
        [VCDC_LOG_NOTICE] = "notice", [VCDC_LOG_INFO] = "info",
        [VCDC_LOG_DEBUG] = "debug",
};

int vcdc_log_level_parse(const char *name) {
        int level;
        char *end;
        long v;

        for (level = VCDC_LOG_ERR; level <= VCDC_LOG_DEBUG; level++)
                if (!strcasecmp(name, level_names[level]))
                        return level;
        v = strtol(name, &end, 10);
        if (end != name && !*end && v >= VCDC_LOG_ERR && v <= VCDC_LOG_DEBUG)
                return (int)v;
        return -1;
}

void vcdc_log_rdkafka_cb(const struct rd_kafka_s *rk, int level,
                         const char *fac, const char *buf) {
        (void)rk;
        vcdc_log(level < VCDC_LOG_ERR ? VCDC_LOG_ERR : level, "rdkafka",
                 "%s: %s", fac, buf);
}

void vcdc_log_write(int level, const char *component, const char *fmt, ...) {
        char line[2048];
        struct timespec ts;
        struct tm tm;
        va_list ap;
        int n;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(line, sizeof(line),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                     level >= VCDC_LOG_ERR && level <= VCDC_LOG_DEBUG
                             ? level_names[level]
                             : "log",
                     component);
        if (n < 0 || (size_t)n >= sizeof(line))
                n = 0;
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        /* One fputs of the whole line keeps concurrent lines apart. */
        fprintf(stderr, "%s\n", line);
}

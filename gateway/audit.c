/*
 * vcdc gateway - the audit log (audit.h). One write(2) per line on a file
 * opened O_APPEND: lines of concurrent requests never interleave, and
 * each line is in the file once written (what "line-buffered" means
 * here); close fsyncs.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "errstr.h"
#include "jsonstr.h"
#include "log.h"

struct vcdc_gw_audit_s {
        int fd;
        char *path;
        pthread_mutex_t lock;
        int failed; /* a write failed: said once */
};

vcdc_gw_audit_t *vcdc_gw_audit_open(const char *path, char *errstr,
                                    size_t errstr_size) {
        vcdc_gw_audit_t *audit = calloc(1, sizeof(*audit));

        if (!audit || !(audit->path = strdup(path))) {
                free(audit);
                vcdc_fail(errstr, errstr_size, "out of memory");
                return NULL;
        }
        audit->fd =
                open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
                     0600);
        if (audit->fd == -1) {
                vcdc_fail(errstr, errstr_size, "%s: %s", path, strerror(errno));
                free(audit->path);
                free(audit);
                return NULL;
        }
        pthread_mutex_init(&audit->lock, NULL);
        return audit;
}

char *vcdc_gw_audit_format(const vcdc_gw_audit_entry_t *e) {
        vcdc_buf_t b = VCDC_BUF_INIT;
        time_t secs = (time_t)(e->ts_ms / 1000);
        char ts[64];
        struct tm tm;

        gmtime_r(&secs, &tm);
        snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int)(e->ts_ms % 1000));
        vcdc_buf_printf(&b, "{\"ts\":\"%s\",\"who\":", ts);
        vcdc_gw_json_cstr(&b, e->who ? e->who : "-");
        vcdc_buf_puts(&b, ",\"method\":");
        vcdc_gw_json_cstr(&b, e->method);
        vcdc_buf_puts(&b, ",\"path\":");
        vcdc_gw_json_cstr(&b, e->path);
        vcdc_buf_puts(&b, ",\"collection\":");
        vcdc_gw_json_cstr(&b, e->collection);
        if (e->ids >= 0)
                vcdc_buf_printf(&b, ",\"ids\":%ld", e->ids);
        else
                vcdc_buf_puts(&b, ",\"ids\":null");
        /* The write path hands over JSON it built itself. */
        vcdc_buf_printf(&b, ",\"offsets\":%s,\"status\":%d}",
                        e->offsets ? e->offsets : "null", e->status);
        return vcdc_buf_detach(&b, NULL);
}

int vcdc_gw_audit_write(vcdc_gw_audit_t *audit,
                        const vcdc_gw_audit_entry_t *entry) {
        char *line = vcdc_gw_audit_format(entry);
        size_t len, off = 0;
        int r = 0;

        if (!line)
                return -1;
        len = strlen(line);
        line[len] = '\n'; /* the NUL becomes the newline */
        len++;
        pthread_mutex_lock(&audit->lock);
        while (off < len) {
                ssize_t n = write(audit->fd, line + off, len - off);
                if (n == -1 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        if (!audit->failed)
                                VCDC_ERR("gateway",
                                         "audit: %s: %s (later failures "
                                         "are not logged)",
                                         audit->path,
                                         n ? strerror(errno) : "no progress");
                        audit->failed = 1;
                        r = -1;
                        break;
                }
                off += (size_t)n;
        }
        pthread_mutex_unlock(&audit->lock);
        free(line);
        return r;
}

void vcdc_gw_audit_close(vcdc_gw_audit_t *audit) {
        if (!audit)
                return;
        if (fsync(audit->fd) == -1 && errno != EINVAL)
                VCDC_WARN("gateway", "audit: fsync %s: %s", audit->path,
                          strerror(errno));
        close(audit->fd);
        pthread_mutex_destroy(&audit->lock);
        free(audit->path);
        free(audit);
}

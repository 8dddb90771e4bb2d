/*
 * vcdc - the producer input's buffered reader of a file descriptor (reader.h).
 * It knows lines and bytes, never JSON or fvecs.
 */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* First size of a read buffer; it grows only for a longer line/record. */
#define READ_BUF_SIZE ((size_t)256 * 1024)

/* A pipe, close-on-exec and non-blocking at both ends. */
static int wake_pipe(int fds[2]) {
        int i;

        if (pipe(fds)) {
                fds[0] = fds[1] = -1;
                return -1;
        }
        for (i = 0; i < 2; i++) {
                if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) ||
                    fcntl(fds[i], F_SETFL, O_NONBLOCK)) {
                        int e = errno;

                        close(fds[0]);
                        close(fds[1]);
                        fds[0] = fds[1] = -1;
                        errno = e;
                        return -1;
                }
        }
        return 0;
}

int vcdc_reader_init(vcdc_reader_t *rd, int fd, int owns_fd, size_t max_cap) {
        struct stat st;

        memset(rd, 0, sizeof(*rd));
        rd->fd = fd;
        rd->owns_fd = owns_fd;
        rd->wake[0] = rd->wake[1] = -1;
        atomic_init(&rd->interrupted, 0);
        /* A pipe, a terminal, a socket can keep a read waiting for ever:
         * a wake pipe lets another thread end that wait. */
        if ((fstat(fd, &st) || !S_ISREG(st.st_mode)) && wake_pipe(rd->wake)) {
                rd->fd = -1; /* the caller still owns fd */
                rd->owns_fd = 0;
                return -1;
        }
        rd->cap = READ_BUF_SIZE;
        rd->max_cap = max_cap > READ_BUF_SIZE ? max_cap : READ_BUF_SIZE;
        if (!(rd->buf = malloc(rd->cap))) {
                rd->fd = -1; /* the caller still owns fd */
                rd->owns_fd = 0;
                vcdc_reader_destroy(rd);
                return -1;
        }
        return 0;
}

void vcdc_reader_destroy(vcdc_reader_t *rd) {
        if (rd->owns_fd && rd->fd >= 0)
                close(rd->fd);
        rd->fd = -1;
        if (rd->wake[0] >= 0)
                close(rd->wake[0]);
        if (rd->wake[1] >= 0)
                close(rd->wake[1]);
        rd->wake[0] = rd->wake[1] = -1;
        free(rd->buf);
        rd->buf = NULL;
}

/* Makes room at the end of the buffer (moving unread data to the front,
 * growing up to max_cap) and reads once. Returns the bytes read, 0 at end
 * of file or when there is no room, -1 on a read error (rd->err). */
static ssize_t reader_fill(vcdc_reader_t *rd) {
        ssize_t r;

        if (rd->start > 0 &&
            (rd->start == rd->end || rd->cap - rd->end < rd->cap / 2)) {
                memmove(rd->buf, rd->buf + rd->start, rd->end - rd->start);
                rd->end -= rd->start;
                rd->scan -= rd->start;
                rd->offset += rd->start;
                rd->start = 0;
        }
        if (rd->end == rd->cap) {
                size_t cap = rd->cap * 2;
                char *buf;

                if (cap > rd->max_cap)
                        cap = rd->max_cap;
                if (cap <= rd->cap)
                        return 0;
                if (!(buf = realloc(rd->buf, cap))) {
                        rd->err = ENOMEM;
                        return -1;
                }
                rd->buf = buf;
                rd->cap = cap;
        }
        /* EINTR is not retried: a signal (SIGTERM, SIGINT) must be able to
         * stop a reader blocked on a pipe that stays open; so must
         * vcdc_reader_interrupt() from another thread. */
        if (atomic_load(&rd->interrupted)) {
                rd->err = EINTR;
                return -1;
        }
        if (rd->wake[0] >= 0) {
                struct pollfd pfd[2] = {{rd->fd, POLLIN, 0},
                                        {rd->wake[0], POLLIN, 0}};

                if (poll(pfd, 2, -1 /*no timeout*/) < 0) {
                        rd->err = errno;
                        return -1;
                }
                if (pfd[1].revents || atomic_load(&rd->interrupted)) {
                        rd->err = EINTR;
                        return -1;
                }
        }
        r = read(rd->fd, rd->buf + rd->end, rd->cap - rd->end);
        if (r < 0) {
                rd->err = errno;
                return -1;
        }
        if (r == 0)
                rd->eof = 1;
        rd->end += (size_t)r;
        return r;
}

/* Discards the rest of an over-long line, up to and including its "\n".
 * *lenp counts the line's bytes (without "\r\n"). */
static int reader_skip_line(vcdc_reader_t *rd, uint64_t *lenp) {
        uint64_t len = rd->end - rd->start;
        int last = len ? (unsigned char)rd->buf[rd->end - 1] : -1;

        for (;;) {
                const char *nl;
                ssize_t r;

                rd->offset += rd->end;
                rd->start = rd->scan = rd->end = 0;
                r = reader_fill(rd);
                if (r < 0)
                        return VCDC_LINE_IOERR;
                if (r == 0)
                        break;
                nl = memchr(rd->buf, '\n', rd->end);
                if (nl) {
                        size_t n = (size_t)(nl - rd->buf);

                        len += n;
                        if (n > 0)
                                last = (unsigned char)nl[-1];
                        rd->start = rd->scan = n + 1;
                        break;
                }
                len += rd->end;
                last = (unsigned char)rd->buf[rd->end - 1];
        }
        if (last == '\r')
                len--;
        *lenp = len;
        return VCDC_LINE_TOO_LONG;
}

/* Reads the next line (without its "\n" or "\r\n") into *linep, *lenp;
 * valid until the next call. A line longer than max_line is skipped and
 * VCDC_LINE_TOO_LONG returned with its length in *longp. */
int vcdc_reader_line(vcdc_reader_t *rd, size_t max_line, const char **linep,
                       size_t *lenp, uint64_t *longp) {
        for (;;) {
                const char *nl = memchr(rd->buf + rd->scan, '\n',
                                        rd->end - rd->scan);
                const char *line = rd->buf + rd->start;
                size_t len;
                ssize_t r;

                if (nl || (rd->eof && rd->start < rd->end)) {
                        len = nl ? (size_t)(nl - line) : rd->end - rd->start;
                        rd->start = rd->scan = nl ? rd->start + len + 1
                                                  : rd->end;
                        if (len > 0 && line[len - 1] == '\r')
                                len--;
                        if (len > max_line) {
                                *longp = len;
                                return VCDC_LINE_TOO_LONG;
                        }
                        *linep = line;
                        *lenp = len;
                        return VCDC_LINE_OK;
                }
                rd->scan = rd->end;
                if (rd->eof)
                        return VCDC_LINE_EOF;
                /* No end in sight: content plus a "\r" is over the limit. */
                if (rd->end - rd->start > max_line + 1)
                        return reader_skip_line(rd, longp);
                r = reader_fill(rd);
                if (r < 0)
                        return VCDC_LINE_IOERR;
                if (r == 0 && !rd->eof) {
                        rd->err = EFBIG; /* no room: cannot happen */
                        return VCDC_LINE_IOERR;
                }
        }
}

/* Makes at least n unread bytes available, if the file has them. Returns
 * 0, or -1 on a read error; rd->end - rd->start < n means end of file. */
int vcdc_reader_need(vcdc_reader_t *rd, size_t n) {
        while (rd->end - rd->start < n && !rd->eof) {
                ssize_t r = reader_fill(rd);

                if (r < 0)
                        return -1;
                if (r == 0 && !rd->eof) {
                        rd->err = EFBIG; /* n above max_cap: cannot happen */
                        return -1;
                }
        }
        return 0;
}



int vcdc_reader_line_ready(const vcdc_reader_t *rd, int skip_blank) {
        const char *p = rd->buf + rd->start, *end = rd->buf + rd->end, *nl;

        if (rd->eof || atomic_load(&rd->interrupted))
                return 1;
        while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
                if (!skip_blank)
                        return 1;
                for (; p < nl; p++)
                        if (*p != ' ' && *p != '\t' && *p != '\r')
                                return 1;
                p = nl + 1;
        }
        return 0;
}

int vcdc_reader_bytes_ready(const vcdc_reader_t *rd, size_t n) {
        return rd->eof || atomic_load(&rd->interrupted) ||
               rd->end - rd->start >= n;
}

void vcdc_reader_interrupt(vcdc_reader_t *rd) {
        atomic_store(&rd->interrupted, 1);
        if (rd->wake[1] >= 0) {
                ssize_t w = write(rd->wake[1], "x", 1);

                (void)w; /* full: a wake-up is already pending */
        }
}

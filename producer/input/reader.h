/*
 * vcdc - the producer input's buffered reader of a file descriptor: lines
 * (JSON Lines, ids files) or byte counts (fvecs), in one buffer that grows
 * only up to a bound, so memory stays bounded by the longest line or
 * record allowed. Internal to input.c.
 *
 * A read waiting on a pipe or a terminal ends on a signal (EINTR, not
 * retried) or when another thread calls vcdc_reader_interrupt(). Must not:
 * retry EINTR, or grow past max_cap.
 */
#ifndef VCDC_READER_H
#define VCDC_READER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* buf[start..end) is unread data. */
typedef struct vcdc_reader_s {
        int fd;
        int owns_fd;
        char *buf;
        size_t cap;
        size_t max_cap;
        size_t start;
        size_t end;
        size_t scan;     /* buf[start..scan) holds no '\n' */
        uint64_t offset; /* file offset of buf[0] */
        int eof;
        int err;         /* errno of a failed read, else 0 */
        int wake[2];     /* not a regular file: a read waits on both */
        atomic_int interrupted;
} vcdc_reader_t;

/* vcdc_reader_line() results */
#define VCDC_LINE_OK       1
#define VCDC_LINE_EOF      0
#define VCDC_LINE_IOERR    -1
#define VCDC_LINE_TOO_LONG -2

/** Sets up rd on fd (closed by vcdc_reader_destroy() if owns_fd). Returns
 *  0, or -1 out of memory or fds (rd is then empty, fd still open). */
int vcdc_reader_init(vcdc_reader_t *rd, int fd, int owns_fd, size_t max_cap);

void vcdc_reader_destroy(vcdc_reader_t *rd);

/**
 * Reads the next line (without its "\n" or "\r\n") into *linep, *lenp;
 * valid until the next call. A line longer than max_line is skipped and
 * VCDC_LINE_TOO_LONG returned with its length in *longp.
 */
int vcdc_reader_line(vcdc_reader_t *rd, size_t max_line, const char **linep,
                     size_t *lenp, uint64_t *longp);

/** Makes at least n unread bytes available, if the file has them. Returns
 *  0, or -1 on a read error; end - start < n means end of file. */
int vcdc_reader_need(vcdc_reader_t *rd, size_t n);

/** 1 if a whole line (skip_blank: one that is not only spaces and tabs),
 *  or n bytes, can be had without reading, or the end or an error is
 *  known: the caller would not wait. */
int vcdc_reader_line_ready(const vcdc_reader_t *rd, int skip_blank);
int vcdc_reader_bytes_ready(const vcdc_reader_t *rd, size_t n);

/** Ends a read another thread waits in, and every read after it, with
 *  EINTR. Thread-safe and async-signal-safe. */
void vcdc_reader_interrupt(vcdc_reader_t *rd);

#endif

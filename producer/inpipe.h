/*
 * vcdc - producer input on a worker thread: an input (input.h) read and
 * parsed by a thread of its own while the caller publishes the records
 * before, so that parsing JSON and producing to Kafka use both cores.
 *
 * The caller sees exactly what vcdc_input_next() would give, in file
 * order: records, bad lines with their "path:line: what" messages and
 * line numbers, the end, a read error. The worker hands records over in
 * batches (at most INPIPE_BATCHES of them in flight, each of at most 256
 * records or 4 MiB of record data, plus one more record), and hands a
 * batch over early whenever its next read could wait (a pipe that is
 * quiet), so a slow stream is not held back.
 *
 * A signal that interrupts the caller's wait (a handler without
 * SA_RESTART, as vcdc-producer installs for SIGINT and SIGTERM) ends
 * vcdc_inpipe_next() with VCDC_INPUT_IOERR, as it ends a read of the
 * input today; the worker blocks signals, so they reach the caller.
 *
 * Must not: reorder, drop or copy a record, or let the worker outlive
 * vcdc_inpipe_destroy(), even when it waits on a pipe that stays open.
 */
#ifndef VCDC_INPIPE_H
#define VCDC_INPIPE_H

#include <stddef.h>

#include "input.h"

typedef struct vcdc_inpipe_s vcdc_inpipe_t;

#define INPIPE_BATCHES 4

/**
 * Starts a worker reading in. Takes ownership of in on success (closed by
 * vcdc_inpipe_destroy()); on failure returns NULL with errstr and in is
 * still the caller's.
 */
vcdc_inpipe_t *vcdc_inpipe_new(vcdc_input_t *in, char *errstr,
                               size_t errstr_size);

/** As vcdc_input_next(): the next record (rec cleared first), bad line,
 *  end or error, with its message in errstr. */
int vcdc_inpipe_next(vcdc_inpipe_t *ip, vcdc_record_t *rec, char *errstr,
                     size_t errstr_size);

/** As vcdc_input_line() and vcdc_input_dim(), as of the last result
 *  vcdc_inpipe_next() returned. */
size_t vcdc_inpipe_line(const vcdc_inpipe_t *ip);
size_t vcdc_inpipe_dim(const vcdc_inpipe_t *ip);

/** Stops the worker (ending a read it waits in), frees what it read
 *  ahead, closes the input. Accepts NULL. */
void vcdc_inpipe_destroy(vcdc_inpipe_t *ip);

#endif

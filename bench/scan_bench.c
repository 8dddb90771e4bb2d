/*
 * scan_bench - the plain full read of a database for bench/bench_snapshot.py:
 * every record of the target at URL read page by page through the sink's
 * own scan (vcdc_sink_scan(), vectors, metadata and documents), writing
 * nothing anywhere. `vcdc snapshot` reads the same database with the same
 * page size and also writes what it reads into Kafka; the ratio of the two
 * rates is what its design costs over a read.
 *
 * Usage: scan_bench URL PAGE
 * Prints "records seconds" (open and close included, as the snapshot's
 * run includes them).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "record.h"
#include "sink.h"

static long parse_pos(const char *s) {
        char *end;
        long v = strtol(s, &end, 10);

        return (end == s || *end || v <= 0 || v > 1000000) ? -1 : v;
}

int main(int argc, char **argv) {
        char errstr[512];
        vcdc_sink_t *sink = NULL;
        vcdc_record_t *page = NULL;
        char *cursor = NULL;
        size_t cnt, i;
        unsigned long long total = 0;
        long size;
        int64_t t0;
        int rc = 1;

        if (argc != 3 || (size = parse_pos(argv[2])) < 0) {
                fprintf(stderr, "usage: scan_bench URL PAGE (1..1000000)\n");
                return 64;
        }
        if (!(page = calloc((size_t)size, sizeof(*page)))) {
                fprintf(stderr, "scan_bench: out of memory\n");
                return 1;
        }
        for (i = 0; i < (size_t)size; i++)
                vcdc_record_init(&page[i]);
        t0 = vcdc_clock_us();
        if (!(sink = vcdc_sink_new(argv[1], NULL, errstr, sizeof(errstr)))) {
                fprintf(stderr, "scan_bench: %s\n", errstr);
                goto done;
        }
        do {
                if (vcdc_sink_scan(sink, &cursor, (size_t)size,
                                   1 /*with_vectors*/, page, &cnt, errstr,
                                   sizeof(errstr)) != VCDC_SINK_OK) {
                        fprintf(stderr, "scan_bench: scan: %s\n", errstr);
                        goto done;
                }
                total += cnt;
                for (i = 0; i < cnt; i++)
                        vcdc_record_clear(&page[i]);
        } while (cursor);
        vcdc_sink_destroy(sink);
        sink = NULL;
        printf("%llu %.6f\n", total, (double)(vcdc_clock_us() - t0) / 1e6);
        rc = 0;
done:
        free(cursor);
        vcdc_sink_destroy(sink);
        if (page)
                for (i = 0; i < (size_t)size; i++)
                        vcdc_record_clear(&page[i]);
        free(page);
        return rc;
}

/*
 * vcdc - unit tests: the gateway's audit log (gateway/audit.c): the line
 * format, appending to an existing file, mode 0600, lines from several
 * threads never interleaving.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"

static void test_format(void **state) {
        vcdc_gw_audit_entry_t e = {
                .ts_ms = 1796545139637LL,
                .who = "sha256:0123456789ab",
                .method = "POST",
                .path = "/api/v2/x/\"q\"\n",
                .collection = "docs",
                .ids = 3,
                .offsets = "{\"0\":[10,12]}",
                .status = 200,
        };
        char *line;

        (void)state;
        line = vcdc_gw_audit_format(&e);
        assert_non_null(line);
        assert_string_equal(line,
                            "{\"ts\":\"2026-12-06T08:18:59.637Z\",\"who\":"
                            "\"sha256:0123456789ab\",\"method\":\"POST\","
                            "\"path\":\"/api/v2/x/\\\"q\\\"\\n\","
                            "\"collection\":\"docs\",\"ids\":3,\"offsets\":"
                            "{\"0\":[10,12]},\"status\":200}");
        free(line);
        e.collection = NULL;
        e.ids = -1;
        e.offsets = NULL;
        e.who = NULL;
        e.status = 403;
        line = vcdc_gw_audit_format(&e);
        assert_non_null(strstr(line, "\"who\":\"-\""));
        assert_non_null(strstr(line, "\"collection\":null,\"ids\":null,"
                                     "\"offsets\":null,\"status\":403}"));
        free(line);
}

#define THREADS 4
#define LINES   200

static void *writer(void *arg) {
        vcdc_gw_audit_t *audit = arg;
        vcdc_gw_audit_entry_t e = {.ts_ms = 0,
                                   .who = "w",
                                   .method = "POST",
                                   .path = "/p",
                                   .collection = "c",
                                   .ids = 1,
                                   .status = 200};
        int i;

        for (i = 0; i < LINES; i++)
                if (vcdc_gw_audit_write(audit, &e))
                        return (void *)1;
        return NULL;
}

static void test_file(void **state) {
        char dir[] = "/tmp/vcdc-test-audit-XXXXXX", path[128], errstr[256];
        char line[512];
        pthread_t th[THREADS];
        vcdc_gw_audit_t *audit;
        struct stat st;
        size_t lines = 0;
        void *ret;
        FILE *fp;
        int i;

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
        fp = fopen(path, "w");
        assert_non_null(fp);
        fputs("{\"earlier\":true}\n", fp);
        fclose(fp);
        chmod(path, 0600);

        audit = vcdc_gw_audit_open(path, errstr, sizeof(errstr));
        assert_non_null(audit);
        for (i = 0; i < THREADS; i++)
                assert_int_equal(pthread_create(&th[i], NULL, writer, audit),
                                 0);
        for (i = 0; i < THREADS; i++) {
                assert_int_equal(pthread_join(th[i], &ret), 0);
                assert_null(ret);
        }
        vcdc_gw_audit_close(audit);

        fp = fopen(path, "r");
        assert_non_null(fp);
        assert_non_null(fgets(line, sizeof(line), fp));
        assert_string_equal(line, "{\"earlier\":true}\n");
        while (fgets(line, sizeof(line), fp)) {
                assert_string_equal(
                        line, "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"who\":"
                              "\"w\",\"method\":\"POST\",\"path\":\"/p\","
                              "\"collection\":\"c\",\"ids\":1,\"offsets\":"
                              "null,\"status\":200}\n");
                lines++;
        }
        fclose(fp);
        assert_int_equal(lines, THREADS * LINES);
        unlink(path);

        /* A new file is created 0600. */
        audit = vcdc_gw_audit_open(path, errstr, sizeof(errstr));
        assert_non_null(audit);
        vcdc_gw_audit_close(audit);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        unlink(path);

        snprintf(path, sizeof(path), "%s/no/such/dir", dir);
        assert_null(vcdc_gw_audit_open(path, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "No such file"));
        vcdc_gw_audit_close(NULL);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_file),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

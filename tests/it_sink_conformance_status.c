/*
 * vcdc - the sink conformance suite (tests/conformance/confkit.c says
 * what it is and how a sink is named), its cases of offsets and of the
 * statuses a sink answers:
 *   offsets      recorded and read back per topic and partition; where
 *                the sink records them with the data, fenced: a batch at
 *                or behind them is STALE and applies nothing
 *   errors       each status on purpose: ok; invalid (check() of a wrong
 *                dimension, NaN, metadata that is not an object; apply()
 *                of the first two, nothing of the batch applied); retriable
 *                (the server
 *                unreachable at open, and cut off mid-use through a proxy,
 *                then back); fatal (an unknown URL parameter, an
 *                incompatible target, offsets in a batch of a sink that
 *                keeps them apart); stale (see offsets)
 * each for every sink.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance/confkit.h"
#include "it_proxy.h"
#include "it_sink.h"
#include "sink.h"
#include "url.h"

/* The partitions read back for topic: want_cnt of them, each once. */
static void partitions_once(vcdc_sink_t *sink, const char *topic,
                            size_t want_cnt) {
        vcdc_sink_offset_t *offs = NULL;
        char errstr[ERR];
        size_t cnt = 0, i, j;

        its_want(vcdc_sink_read_offsets(sink, topic, &offs, &cnt, errstr, ERR),
                 VCDC_SINK_OK, "read_offsets", errstr);
        assert_int_equal(cnt, want_cnt);
        for (i = 0; i < cnt; i++)
                for (j = i + 1; j < cnt; j++)
                        assert_true(offs[i].partition != offs[j].partition);
        free(offs);
}

static void record(vcdc_sink_t *sink, const char *topic,
                   const vcdc_sink_offset_t *offs, size_t cnt,
                   vcdc_sink_status_t wanted) {
        char errstr[ERR];

        its_want(vcdc_sink_record_offsets(sink, topic, offs, cnt, errstr, ERR),
                 wanted, "record_offsets", errstr);
}

static void test_offsets(void **state) {
        const vcdc_sink_offset_t first[] = {{3, 7}, {0, 10}};
        const vcdc_sink_offset_t later[] = {{0, 20}};
        const vcdc_sink_offset_t other[] = {{0, 99}};
        vcdc_record_t rec, old;
        char name[64], errstr[ERR];
        const char *id = "o1";
        vcdc_sink_t *sink;

        (void)state;
        sink = must_open(target_new(name, sizeof(name)), VCDC_METRIC_L2, 0);
        rec_nth(&old, id, 1, 0);
        apply_ok(sink, &old, 1, NULL, 0);
        assert_int_equal(its_offset(sink, TOPIC, 0, NULL), -1);
        record(sink, TOPIC, first, 2, VCDC_SINK_OK);
        record(sink, "it.other", other, 1, VCDC_SINK_OK);
        assert_int_equal(its_offset(sink, TOPIC, 0, NULL), 10);
        assert_int_equal(its_offset(sink, TOPIC, 3, NULL), 7);
        record(sink, TOPIC, later, 1, VCDC_SINK_OK);
        assert_int_equal(its_offset(sink, TOPIC, 0, NULL), 20);
        assert_int_equal(its_offset(sink, TOPIC, 3, NULL), 7);
        partitions_once(sink, TOPIC, 2);
        assert_int_equal(its_offset(sink, "it.other", 0, NULL), 99);
        assert_int_equal(its_offset(sink, "it.none", 0, NULL), -1);

        rec_nth(&rec, id, 1, 5);
        if (vcdc_sink_offsets_apart(sink)) {
                /* Offsets go apart from the data: none in a batch. */
                its_want(
                        apply_full(sink, &rec, 1, NULL, 0, later, 1, 0, errstr),
                        VCDC_SINK_FATAL, "offsets in a batch", errstr);
                assert_stored(sink, &old, 1);
        } else {
                const vcdc_sink_offset_t next[] = {{0, 30}};
                const vcdc_sink_offset_t behind[] = {{0, 25}};
                const vcdc_sink_offset_t ahead[] = {{0, 40}};

                /* Recorded with the data, and fenced on them. */
                its_want(apply_full(sink, &rec, 1, NULL, 0, next, 1, 0, errstr),
                         VCDC_SINK_OK, "apply with offsets", errstr);
                assert_int_equal(its_offset(sink, TOPIC, 0, NULL), 30);
                assert_stored(sink, &rec, 1);
                its_want(apply_full(sink, &old, 1, NULL, 0, behind, 1, 0,
                                    errstr),
                         VCDC_SINK_STALE, "a batch behind", errstr);
                its_want(apply_full(sink, &old, 1, NULL, 0, next, 1, 0, errstr),
                         VCDC_SINK_STALE, "the same batch again", errstr);
                its_want(apply_full(sink, &old, 1, NULL, 0, behind, 1, 1,
                                    errstr),
                         VCDC_SINK_STALE, "a part behind", errstr);
                record(sink, TOPIC, behind, 1, VCDC_SINK_STALE);
                assert_stored(sink, &rec, 1); /* nothing applied */
                assert_int_equal(its_offset(sink, TOPIC, 0, NULL), 30);
                /* A part ahead applies and records nothing. */
                its_want(
                        apply_full(sink, &rec, 1, NULL, 0, ahead, 1, 1, errstr),
                        VCDC_SINK_OK, "a part ahead", errstr);
                assert_int_equal(its_offset(sink, TOPIC, 0, NULL), 30);
        }
        vcdc_sink_destroy(sink);
        vcdc_record_clear(&rec);
        vcdc_record_clear(&old);
}

/* host:port of the template replaced by 127.0.0.1:port. */
static void tmpl_at(char *out, size_t size, int port) {
        const char *tmpl = sut_tmpl();
        const char *p = strstr(tmpl, "://"), *host, *end;

        assert_non_null(p);
        host = p + 3;
        end = host + strcspn(host, "/?");
        if (memchr(host, '@', (size_t)(end - host)))
                host = (const char *)memchr(host, '@', (size_t)(end - host)) +
                       1;
        snprintf(out, size, "%.*s127.0.0.1:%d%s", (int)(host - tmpl), tmpl,
                 port, end);
}

/* A port on 127.0.0.1 where nothing listens (bound, never listening:
 * connections are refused). Returns the socket holding it. */
static int dead_port(int *portp) {
        struct sockaddr_in addr = {.sin_family = AF_INET};
        socklen_t len = sizeof(addr);
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
        *portp = ntohs(addr.sin_port);
        return fd;
}

/* The server's host (an IPv4 literal) and port, from the template. */
static int server_of(char *host, size_t size, int *portp) {
        char url[1200], errstr[ERR];
        vcdc_url_t *u;

        url_of(url, sizeof(url), sut_tmpl(), "x", NULL);
        if (!(u = vcdc_url_parse(url, errstr, sizeof(errstr))))
                return -1;
        snprintf(host, size, "%s", u->host);
        *portp = u->port;
        if (!*portp)
                *portp = !strcmp(sut_scheme(), "chroma")     ? 8000
                         : !strcmp(sut_scheme(), "pgvector") ? 5432
                                                             : 0;
        vcdc_url_destroy(u);
        return *portp ? 0 : -1;
}

static void test_errors(void **state) {
        float nan_vec[DIM] = {1, NAN}, short_vec[DIM / 2] = {1};
        vcdc_record_t good[2], bad[3];
        vcdc_sink_status_t status;
        char name[64], errstr[ERR], tmpl[1100], host[256];
        vcdc_sink_t *sink, *via;
        it_proxy_t px;
        int fd, port, server_port;
        size_t i;

        (void)state;
        target_new(name, sizeof(name));
        sink = must_open(name, VCDC_METRIC_L2, 0);
        rec_nth(&good[0], "e1", 1, 0);
        rec_nth(&good[1], "e2", 2, 0);
        apply_ok(sink, good, 1, NULL, 0); /* ok */

        /* invalid: check() refuses each; apply() refuses a record the
         * database cannot hold (dimension, NaN) and applies nothing of
         * its batch. check() alone speaks for what the target could
         * store but vcdc's records do not allow (metadata that is not an
         * object). */
        rec_set(&bad[0], "dim", short_vec, DIM / 2, NULL, NULL);
        rec_set(&bad[1], "nan", nan_vec, DIM, NULL, NULL);
        rec_nth(&bad[2], "array", 3, 0);
        free(bad[2].metadata);
        bad[2].metadata = strdup("[1,2]");
        for (i = 0; i < 3; i++) {
                vcdc_record_t batch[2];
                batch[0] = good[1];
                batch[1] = bad[i];
                its_want(vcdc_sink_check(sink, &bad[i], errstr, ERR),
                         VCDC_SINK_INVALID, bad[i].id, errstr);
                if (i == 2)
                        continue;
                its_want(
                        apply_full(sink, batch, 2, NULL, 0, NULL, 0, 0, errstr),
                        VCDC_SINK_INVALID, bad[i].id, errstr);
                assert_int_equal(its_count(sink), 1);
        }
        its_want(vcdc_sink_check(sink, &good[1], errstr, ERR), VCDC_SINK_OK,
                 "check", errstr);

        /* fatal: a parameter the sink does not know; an incompatible
         * target (test_refuse has more). */
        assert_null(sink_open_as(sut_tmpl(), name, "vcdc_no_such_param=1",
                                 VCDC_METRIC_L2, 0, 30000, &status, errstr));
        its_want(status, VCDC_SINK_FATAL, "unknown parameter", errstr);
        assert_null(sink_open_as(sut_tmpl(), name, NULL, VCDC_METRIC_L2,
                                 DIM + 1, 30000, &status, errstr));
        its_want(status, VCDC_SINK_FATAL, "other dimension", errstr);

        /* retriable: nothing answers at open... */
        fd = dead_port(&port);
        tmpl_at(tmpl, sizeof(tmpl), port);
        assert_null(sink_open_as(tmpl, name, NULL, VCDC_METRIC_L2, 0, 5000,
                                 &status, errstr));
        its_want(status, VCDC_SINK_RETRIABLE, "no server", errstr);
        close(fd);

        /* ...or the server goes away while in use, and comes back. */
        if (server_of(host, sizeof(host), &server_port) == -1 ||
            it_proxy_start(&px, host, server_port) == -1) {
                fprintf(stderr, "  (the server is not an IPv4 address and "
                                "port: no proxy test)\n");
        } else {
                tmpl_at(tmpl, sizeof(tmpl), px.port);
                via = sink_open_as(tmpl, name, NULL, VCDC_METRIC_L2, 0, 5000,
                                   &status, errstr);
                if (!via)
                        fail_msg("open through the proxy: %s", errstr);
                it_proxy_cmd(&px, 'd');
                its_want(apply_full(via, good + 1, 1, NULL, 0, NULL, 0, 0,
                                    errstr),
                         VCDC_SINK_RETRIABLE, "server gone", errstr);
                it_proxy_cmd(&px, 'u');
                its_want(apply_full(via, good + 1, 1, NULL, 0, NULL, 0, 0,
                                    errstr),
                         VCDC_SINK_OK, "server back", errstr);
                vcdc_sink_destroy(via);
                it_proxy_stop(&px);
                assert_stored(sink, good, 2);
        }
        vcdc_sink_destroy(sink);
        recs_clear(good, 2);
        recs_clear(bad, 3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_offsets),
                cmocka_unit_test(test_errors),
        };

        return conformance_run("it_sink_conformance_status", tests,
                               sizeof(tests) / sizeof(*tests));
}

/*
 * raw_producer - the broker's limit for bench/bench.py: a minimal
 * librdkafka producer sending pre-built payloads.
 *
 * Usage: raw_producer -b BROKERS -t TOPIC -c COLLECTION [-X key=value]...
 *        FILE.fvecs
 *
 * Before the clock starts it builds, for row i of the fvecs file, the key
 * and the value vcdc-producer would send (the key "COLLECTION/i", the value
 * encoded by the vcdc codec), so sizes and keys are the same. Timed: create
 * the producer (idempotent, acks=all, the -X settings), produce every
 * message without copying it, flush. Prints "records bytes seconds".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "codec.h"
#include "record.h"

typedef struct msg_s {
        char *key;
        size_t key_len;
        void *val;
        size_t val_len;
} msg_t;

static long failed;

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                      void *opaque) {
        (void)rk;
        (void)opaque;
        if (rkm->err)
                failed++;
}

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int conf_set(rd_kafka_conf_t *rkc, const char *name, const char *value) {
        char errstr[512];

        if (rd_kafka_conf_set(rkc, name, value, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
                fprintf(stderr, "raw_producer: %s=%s: %s\n", name, value,
                        errstr);
                return -1;
        }
        return 0;
}

/* Reads the fvecs file and builds every message. Returns the count, or -1. */
static long build_msgs(const char *path, const char *collection,
                       msg_t **msgsp) {
        char errstr[512], idbuf[32];
        vcdc_codec_t *codec = NULL;
        vcdc_record_t rec;
        msg_t *msgs = NULL, *m;
        long cnt = 0, cap = 0;
        int32_t dim;
        FILE *fp;

        vcdc_record_init(&rec);
        if (!(fp = fopen(path, "rb"))) {
                perror(path);
                return -1;
        }
        if (!(codec = vcdc_codec_new(errstr, sizeof(errstr)))) {
                fprintf(stderr, "raw_producer: %s\n", errstr);
                goto err;
        }
        while (fread(&dim, sizeof(dim), 1 /*one header*/, fp) == 1) {
                if (dim <= 0 || dim > VCDC_DIM_MAX_DEFAULT)
                        goto bad;
                if (cnt == cap) {
                        cap = cap ? cap * 2 : 1024;
                        if (!(m = realloc(msgs, sizeof(*msgs) * (size_t)cap)))
                                goto err;
                        msgs = m;
                }
                snprintf(idbuf, sizeof(idbuf), "%ld", cnt);
                vcdc_record_clear(&rec);
                rec.collection = strdup(collection);
                rec.id = strdup(idbuf);
                rec.dim = (size_t)dim;
                rec.vector = malloc(sizeof(float) * rec.dim);
                if (!rec.collection || !rec.id || !rec.vector)
                        goto err;
                if (fread(rec.vector, sizeof(float), rec.dim, fp) != rec.dim)
                        goto bad;
                m = &msgs[cnt];
                if (vcdc_key_encode(collection, idbuf, &m->key,
                                    &m->key_len) == -1)
                        goto err;
                if (vcdc_codec_encode(codec, &rec, &m->val, &m->val_len,
                                      errstr, sizeof(errstr)) == -1) {
                        free(m->key);
                        fprintf(stderr, "raw_producer: %s\n", errstr);
                        goto err;
                }
                cnt++;
        }
        fclose(fp);
        vcdc_record_clear(&rec);
        vcdc_codec_destroy(codec);
        *msgsp = msgs;
        return cnt;
bad:
        fprintf(stderr, "raw_producer: %s: truncated or bad fvecs row %ld\n",
                path, cnt);
err:
        while (cnt-- > 0) {
                free(msgs[cnt].key);
                free(msgs[cnt].val);
        }
        free(msgs);
        fclose(fp);
        vcdc_record_clear(&rec);
        vcdc_codec_destroy(codec);
        return -1;
}

int main(int argc, char **argv) {
        const char *brokers = NULL, *topic = NULL, *collection = NULL;
        char errstr[512];
        rd_kafka_conf_t *rkc = NULL;
        rd_kafka_t *rk = NULL;
        msg_t *msgs = NULL;
        long cnt = 0, i;
        size_t bytes = 0;
        double t0, t1;
        int opt, rc = 1;

        if (!(rkc = rd_kafka_conf_new()))
                return 1;
        if (conf_set(rkc, "enable.idempotence", "true") ||
            conf_set(rkc, "acks", "all"))
                goto done;
        while ((opt = getopt(argc, argv, "b:t:c:X:")) != -1) {
                char *eq;

                switch (opt) {
                case 'b': brokers = optarg; break;
                case 't': topic = optarg; break;
                case 'c': collection = optarg; break;
                case 'X':
                        if (!(eq = strchr(optarg, '='))) {
                                fprintf(stderr, "raw_producer: -X %s: "
                                                "expected key=value\n",
                                        optarg);
                                rc = 64;
                                goto done;
                        }
                        *eq = '\0';
                        if (conf_set(rkc, optarg, eq + 1))
                                goto done;
                        break;
                default: rc = 64; goto done;
                }
        }
        if (!brokers || !topic || !collection || optind != argc - 1) {
                fprintf(stderr, "usage: raw_producer -b BROKERS -t TOPIC -c "
                                "COLLECTION [-X k=v]... FILE.fvecs\n");
                rc = 64;
                goto done;
        }
        if ((cnt = build_msgs(argv[optind], collection, &msgs)) < 0)
                goto done;
        if (conf_set(rkc, "bootstrap.servers", brokers))
                goto done;
        rd_kafka_conf_set_dr_msg_cb(rkc, dr_msg_cb);

        t0 = now_s();
        if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, rkc, errstr,
                                sizeof(errstr)))) {
                fprintf(stderr, "raw_producer: %s\n", errstr);
                goto done;
        }
        rkc = NULL; /* owned by rk */
        for (i = 0; i < cnt; i++) {
                rd_kafka_resp_err_t err;

                for (;;) {
                        err = rd_kafka_producev(
                                rk, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_KEY(msgs[i].key, msgs[i].key_len),
                                RD_KAFKA_V_VALUE(msgs[i].val, msgs[i].val_len),
                                RD_KAFKA_V_MSGFLAGS(0 /*no copy, no free*/),
                                RD_KAFKA_V_END);
                        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                break;
                        rd_kafka_poll(rk, 100 /*ms*/);
                }
                if (err) {
                        fprintf(stderr, "raw_producer: produce: %s\n",
                                rd_kafka_err2str(err));
                        goto done;
                }
                bytes += msgs[i].val_len + msgs[i].key_len;
                rd_kafka_poll(rk, 0 /*non-blocking*/);
        }
        rd_kafka_flush(rk, 60000 /*ms*/);
        t1 = now_s();
        if (rd_kafka_outq_len(rk) > 0 || failed) {
                fprintf(stderr, "raw_producer: %d undelivered, %ld failed\n",
                        rd_kafka_outq_len(rk), failed);
                goto done;
        }
        printf("%ld %zu %.6f\n", cnt, bytes, t1 - t0);
        rc = 0;
done:
        if (rk)
                rd_kafka_destroy(rk);
        if (rkc)
                rd_kafka_conf_destroy(rkc);
        for (i = 0; i < cnt; i++) {
                free(msgs[i].key);
                free(msgs[i].val);
        }
        free(msgs);
        return rc;
}

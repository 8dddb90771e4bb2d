/*
 * direct_loader - the database's limit for bench/bench.py: the same
 * batches of the same vectors sent straight to the database, with no
 * Kafka, no Avro and no consumer. It shares only the sinks' pure
 * formatters (the upsert statement, the vector encodings), so that both
 * sides send the same bytes.
 *
 * Usage: direct_loader pgvector CONNINFO TABLE BATCH FILE.jsonl
 *        direct_loader pgcopy CONNINFO TABLE FILE.jsonl
 *        direct_loader chroma HOST PORT COLLECTION BATCH FILE.jsonl
 *
 * Reads the JSON Lines (as vcdc-gen writes them: id, vector, metadata,
 * document) into memory first. Timed: create the target, then one request
 * per BATCH records: for pgvector one multi-row INSERT ... ON CONFLICT (id)
 * DO UPDATE, prepared once, the vector in pgvector's binary input format
 * and the rest as text, as the vcdc sink sends them; for
 * Chroma one POST .../upsert with base64 embeddings when the server takes
 * them (pre-flight-checks), as the vcdc sink does. pgcopy is PostgreSQL's
 * own limit: every row in one COPY ... FROM STDIN (FORMAT binary) straight
 * into the table, no conflict handling, rows written before the clock
 * starts by the sink's COPY row formatter (the lines read with vcdc's
 * JSON Lines parser, which is quicker than jansson on a million lines).
 * Prints "records seconds".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "buf.h"
#include "clock.h"
#include "jsonrec.h"
#include "jsonscan.h"
#include "record.h"
#include "sink_chroma_int.h"
#include "sink_pgvector_int.h"

typedef struct row_s {
        char *id;
        char *vec_text; /* "[x,y,...]": Chroma without base64 */
        char *vec_bin;  /* pgvector binary input: dim, 0, big-endian floats */
        char *vec_b64;  /* little-endian float32, base64 */
        char *meta;     /* JSON object text */
        char *doc;      /* or NULL */
} row_t;

static double now_s(void) {
        return (double)vcdc_clock_ms() / 1000.0;
}

/* Reads every line; the vector as text and base64 too when chroma (the
 * server's pre-flight checks pick one). Returns the count, or -1. */
static long read_rows(const char *path, int chroma, row_t **rowsp,
                      size_t *dimp) {
        char line[1 << 16];
        row_t *rows = NULL;
        long cnt = 0, cap = 0;
        FILE *fp = fopen(path, "r");

        if (!fp) {
                perror(path);
                return -1;
        }
        while (fgets(line, sizeof(line), fp)) {
                json_error_t jerr;
                json_t *obj = json_loads(line, 0, &jerr), *vec, *x;
                float *f;
                size_t i;
                row_t *r;

                if (!obj || !(vec = json_object_get(obj, "vector")) ||
                    !json_array_size(vec)) {
                        fprintf(stderr, "%s:%ld: bad line\n", path, cnt + 1);
                        exit(1);
                }
                if (cnt == cap) {
                        cap = cap ? cap * 2 : 1024;
                        if (!(rows = realloc(rows,
                                             sizeof(*rows) * (size_t)cap)))
                                exit(1);
                }
                r = &rows[cnt++];
                memset(r, 0, sizeof(*r));
                *dimp = json_array_size(vec);
                f = malloc(sizeof(float) * *dimp);
                json_array_foreach(vec, i, x) f[i] =
                        (float)json_number_value(x);
                if (!f || !(r->vec_bin = malloc(
                                    vcdc_pgvector_vector_binary_size(*dimp))))
                        exit(1);
                vcdc_pgvector_vector_binary(f, *dimp, r->vec_bin);
                if (chroma) {
                        size_t max = vcdc_pgvector_vector_text_max(*dimp);

                        if (!(r->vec_text = malloc(max)) ||
                            !vcdc_pgvector_vector_format(f, *dimp, r->vec_text,
                                                         max) ||
                            !(r->vec_b64 =
                                      vcdc_chroma_base64_floats(f, *dimp))) {
                                fprintf(stderr, "%s:%ld: bad vector\n", path,
                                        cnt);
                                exit(1);
                        }
                }
                free(f);
                r->id = strdup(json_string_value(json_object_get(obj, "id")));
                r->meta = json_dumps(json_object_get(obj, "metadata"),
                                     JSON_COMPACT);
                if (json_is_string(json_object_get(obj, "document")))
                        r->doc = strdup(json_string_value(
                                json_object_get(obj, "document")));
                json_decref(obj);
        }
        fclose(fp);
        *rowsp = rows;
        if (!cnt) {
                fprintf(stderr, "%s: no records\n", path);
                return -1;
        }
        return cnt;
}

static int pg_exec(PGconn *conn, const char *sql) {
        PGresult *res = PQexec(conn, sql);
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
                 PQresultStatus(res) == PGRES_TUPLES_OK;

        if (!ok)
                fprintf(stderr, "direct_loader: %s: %s", sql,
                        PQerrorMessage(conn));
        PQclear(res);
        return ok ? 0 : -1;
}

/* The multi-row upsert of n rows into table: the vcdc sink's statement. */
static char *upsert_sql(const char *table, long n) {
        char *q = vcdc_pgvector_quote_ident(table), *sql;

        sql = q ? vcdc_pgvector_upsert_sql(q, (size_t)n) : NULL;
        free(q);
        return sql;
}

static int pg_ok(PGconn *conn, PGresult *res, const char *what) {
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

        if (!ok)
                fprintf(stderr, "direct_loader: %s: %s", what,
                        PQerrorMessage(conn));
        PQclear(res);
        return ok;
}

/* A full chunk goes as a statement prepared once, as the vcdc sink sends
 * it; the last, shorter one unprepared. The statement is named for the
 * process and deallocated at the end: PGlite keeps one session for all
 * its clients. */
static int load_pg(const char *conninfo, const char *table, row_t *rows,
                   long cnt, size_t dim, long batch) {
        PGconn *conn = PQconnectdb(conninfo);
        const char **params = calloc((size_t)batch * 4, sizeof(*params));
        int *lengths = calloc((size_t)batch * 4, sizeof(*lengths));
        int *formats = calloc((size_t)batch * 4, sizeof(*formats));
        char sql[512], stmt[32], *full = NULL, *tail;
        long i, j, n;
        int rc = -1;

        if (PQstatus(conn) != CONNECTION_OK) {
                fprintf(stderr, "direct_loader: %s", PQerrorMessage(conn));
                goto done;
        }
        snprintf(sql, sizeof(sql),
                 "CREATE TABLE %s (id text PRIMARY KEY, embedding "
                 "vector(%zu) NOT NULL, metadata jsonb, document text)",
                 table, dim);
        if (pg_exec(conn, sql))
                goto done;
        snprintf(stmt, sizeof(stmt), "upsert_%ld", (long)getpid());
        if (cnt >= batch &&
            (!(full = upsert_sql(table, batch)) ||
             !pg_ok(conn, PQprepare(conn, stmt, full, (int)batch * 4, NULL),
                    "prepare")))
                goto done;
        for (i = 0; i < cnt; i += n) {
                n = cnt - i < batch ? cnt - i : batch;
                for (j = 0; j < n; j++) {
                        long p = j * 4;
                        params[p] = rows[i + j].id;
                        params[p + 1] = rows[i + j].vec_bin;
                        lengths[p + 1] = (int)(4 + 4 * dim);
                        formats[p + 1] = 1;
                        params[p + 2] = rows[i + j].meta;
                        params[p + 3] = rows[i + j].doc;
                }
                if (n == batch) {
                        if (!pg_ok(conn,
                                   PQexecPrepared(conn, stmt, (int)n * 4,
                                                  params, lengths, formats, 0),
                                   "insert"))
                                goto done;
                        continue;
                }
                if (!(tail = upsert_sql(table, n)))
                        goto done;
                if (!pg_ok(conn,
                           PQexecParams(conn, tail, (int)n * 4, NULL, params,
                                        lengths, formats, 0),
                           "insert")) {
                        free(tail);
                        goto done;
                }
                free(tail);
        }
        snprintf(sql, sizeof(sql), "DEALLOCATE %s", stmt);
        rc = full && pg_exec(conn, sql) ? -1 : 0;
done:
        free(full);
        free(formats);
        free(lengths);
        free(params);
        PQfinish(conn);
        return rc;
}

/* Room for n more bytes at the end of b; NULL when b failed. The caller
 * writes there, then adds what it wrote with put_done(). */
static char *put_room(vcdc_buf_t *b, size_t n) {
        return vcdc_buf_reserve(b, n) ? NULL : b->p + b->len;
}

static void put_done(vcdc_buf_t *b, size_t n) {
        b->len += n;
        b->p[b->len] = '\0';
}

/* Reads every line of path as a change record and writes it as a row of
 * binary COPY into *stream (header first, trailer last), as the sink's COPY
 * path writes it. *dimp: the lines' dimension. Returns the rows, or -1. */
static long read_copy_rows(const char *path, vcdc_buf_t *stream, size_t *dimp) {
        vcdc_jsonrec_opts_t opts = {.collection = "docs",
                                    .max_dim = VCDC_DIM_MAX_DEFAULT,
                                    .max_document = 1 << 20,
                                    .max_metadata = 1 << 20,
                                    .max_depth = 64};
        vcdc_jsonscan_t *js = vcdc_jsonscan_new();
        char *line = NULL, errstr[512], *out;
        size_t cap = 0, size;
        ssize_t len;
        long cnt = -1, n = 0;
        FILE *fp = fopen(path, "r");

        if (!fp || !js) {
                perror(path);
                goto done;
        }
        if (!(out = put_room(stream, VCDC_PGVECTOR_COPY_HEADER_SIZE)))
                goto done;
        put_done(stream, vcdc_pgvector_copy_header(out));
        while ((len = getline(&line, &cap, fp)) > 0) {
                vcdc_record_t rec;

                vcdc_record_init(&rec);
                if (vcdc_jsonrec_parse(js, line, (size_t)len, 0, &opts, &rec,
                                       errstr, sizeof(errstr))) {
                        fprintf(stderr, "%s:%ld: %s\n", path, n + 1, errstr);
                        goto done;
                }
                *dimp = rec.dim;
                opts.dim = rec.dim;
                size = vcdc_pgvector_copy_row_size(&rec);
                if (!size || !(out = put_room(stream, size))) {
                        fprintf(stderr, "%s:%ld: row not written\n", path,
                                n + 1);
                        vcdc_record_clear(&rec);
                        goto done;
                }
                put_done(stream, vcdc_pgvector_copy_row(&rec, out));
                vcdc_record_clear(&rec);
                n++;
        }
        if (!(out = put_room(stream, VCDC_PGVECTOR_COPY_TRAILER_SIZE)))
                goto done;
        put_done(stream, vcdc_pgvector_copy_trailer(out));
        cnt = n ? n : -1;
done:
        free(line);
        if (fp)
                fclose(fp);
        vcdc_jsonscan_destroy(js);
        return cnt;
}

/* Creates table, then sends stream in one COPY ... FROM STDIN (FORMAT
 * binary), in pieces of 1 MiB, autocommitted. */
static int copy_pg(const char *conninfo, const char *table,
                   const vcdc_buf_t *stream, size_t dim) {
        PGconn *conn = PQconnectdb(conninfo);
        char sql[512];
        size_t off, piece;
        PGresult *res;
        int rc = -1;

        if (PQstatus(conn) != CONNECTION_OK) {
                fprintf(stderr, "direct_loader: %s", PQerrorMessage(conn));
                goto done;
        }
        snprintf(sql, sizeof(sql),
                 "CREATE TABLE %s (id text PRIMARY KEY, embedding "
                 "vector(%zu) NOT NULL, metadata jsonb, document text)",
                 table, dim);
        if (pg_exec(conn, sql))
                goto done;
        snprintf(sql, sizeof(sql),
                 "COPY %s (id, embedding, metadata, document) FROM STDIN "
                 "(FORMAT binary)",
                 table);
        res = PQexec(conn, sql);
        if (PQresultStatus(res) != PGRES_COPY_IN) {
                fprintf(stderr, "direct_loader: %s: %s", sql,
                        PQerrorMessage(conn));
                PQclear(res);
                goto done;
        }
        PQclear(res);
        for (off = 0; off < stream->len; off += piece) {
                piece = stream->len - off < (1 << 20) ? stream->len - off
                                                      : (1 << 20);
                if (PQputCopyData(conn, stream->p + off, (int)piece) != 1) {
                        fprintf(stderr, "direct_loader: COPY: %s",
                                PQerrorMessage(conn));
                        goto done;
                }
        }
        if (PQputCopyEnd(conn, NULL) != 1 ||
            !pg_ok(conn, PQgetResult(conn), "COPY"))
                goto done;
        rc = 0;
done:
        PQfinish(conn);
        return rc;
}

static size_t write_cb(char *p, size_t size, size_t n, void *opaque) {
        vcdc_buf_t *b = opaque;

        if (b->len < 65536)
                vcdc_buf_put(b, p, size * n);
        return size * n;
}

/* POST (body) or GET (body NULL); the answer in *resp. Returns the HTTP
 * status, or -1. */
static long http(CURL *curl, const char *url, const char *body,
                 vcdc_buf_t *resp) {
        long status = -1;
        CURLcode res;

        vcdc_buf_truncate(resp, 0);
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
        if (body)
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
        if ((res = curl_easy_perform(curl)) != CURLE_OK) {
                fprintf(stderr, "direct_loader: %s: %s\n", url,
                        curl_easy_strerror(res));
                return -1;
        }
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200 && status != 201)
                fprintf(stderr, "direct_loader: %s: HTTP %ld: %.300s\n", url,
                        status, resp->p ? resp->p : "");
        return status;
}

static int load_chroma(const char *host, const char *port, const char *name,
                       row_t *rows, long cnt, long batch) {
        static const char base[] =
                "/api/v2/tenants/default_tenant/databases/default_database";
        CURL *curl = curl_easy_init();
        struct curl_slist *hdrs = NULL;
        vcdc_buf_t resp = VCDC_BUF_INIT, body = VCDC_BUF_INIT;
        char url[1024];
        json_t *obj = NULL;
        const char *cid;
        int b64, rc = -1;
        long i, j, n;

        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
        snprintf(url, sizeof(url), "http://%s:%s/api/v2/pre-flight-checks",
                 host, port);
        if (http(curl, url, NULL, &resp) != 200 || !resp.p ||
            !(obj = json_loads(resp.p, 0, NULL)))
                goto done;
        b64 = json_is_true(json_object_get(obj, "supports_base64_encoding"));
        json_decref(obj);
        snprintf(url, sizeof(url), "http://%s:%s%s/collections", host, port,
                 base);
        vcdc_buf_puts(&body, "{\"name\":\"");
        vcdc_buf_puts(&body, name);
        vcdc_buf_puts(&body, "\",\"configuration\":{\"hnsw\":{\"space\":"
                             "\"cosine\"}},\"get_or_create\":true}");
        if (body.failed || http(curl, url, body.p, &resp) != 200 ||
            !(obj = json_loads(resp.p, 0, NULL)) ||
            !(cid = json_string_value(json_object_get(obj, "id"))))
                goto done;
        snprintf(url, sizeof(url), "http://%s:%s%s/collections/%s/upsert", host,
                 port, base, cid);
        for (i = 0; i < cnt; i += n) {
                n = cnt - i < batch ? cnt - i : batch;
                vcdc_buf_truncate(&body, 0);
                vcdc_buf_puts(&body, "{\"ids\":[");
                for (j = 0; j < n; j++) {
                        char *s = json_dumps(json_string(rows[i + j].id),
                                             JSON_ENCODE_ANY);
                        if (j)
                                vcdc_buf_puts(&body, ",");
                        vcdc_buf_puts(&body, s);
                        free(s);
                }
                vcdc_buf_puts(&body, "],\"embeddings\":[");
                for (j = 0; j < n; j++) {
                        if (j)
                                vcdc_buf_puts(&body, ",");
                        if (b64) {
                                vcdc_buf_puts(&body, "\"");
                                vcdc_buf_puts(&body, rows[i + j].vec_b64);
                                vcdc_buf_puts(&body, "\"");
                        } else {
                                vcdc_buf_puts(&body, rows[i + j].vec_text);
                        }
                }
                vcdc_buf_puts(&body, "],\"metadatas\":[");
                for (j = 0; j < n; j++) {
                        if (j)
                                vcdc_buf_puts(&body, ",");
                        vcdc_buf_puts(&body, rows[i + j].meta);
                }
                vcdc_buf_puts(&body, "],\"documents\":[");
                for (j = 0; j < n; j++) {
                        char *s = rows[i + j].doc
                                          ? json_dumps(json_string(
                                                               rows[i + j].doc),
                                                       JSON_ENCODE_ANY)
                                          : strdup("null");
                        if (j)
                                vcdc_buf_puts(&body, ",");
                        vcdc_buf_puts(&body, s);
                        free(s);
                }
                vcdc_buf_puts(&body, "]}");
                if (body.failed) {
                        fprintf(stderr, "direct_loader: out of memory\n");
                        goto done;
                }
                if (http(curl, url, body.p, &resp) != 200)
                        goto done;
        }
        rc = 0;
done:
        json_decref(obj);
        vcdc_buf_free(&resp);
        vcdc_buf_free(&body);
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(curl);
        return rc;
}

static long parse_pos(const char *s) {
        char *end;
        long v = strtol(s, &end, 10);

        return (end == s || *end || v <= 0) ? -1 : v;
}

static void free_rows(row_t *rows, long cnt) {
        while (cnt-- > 0) {
                free(rows[cnt].id);
                free(rows[cnt].vec_text);
                free(rows[cnt].vec_bin);
                free(rows[cnt].vec_b64);
                free(rows[cnt].meta);
                free(rows[cnt].doc);
        }
        free(rows);
}

int main(int argc, char **argv) {
        row_t *rows = NULL;
        size_t dim = 0;
        long cnt = 0, batch;
        double t0;
        int rc;

        if (argc == 6 && !strcmp(argv[1], "pgvector") &&
            (batch = parse_pos(argv[4])) > 0) {
                if ((cnt = read_rows(argv[5], 0, &rows, &dim)) < 0)
                        return 1;
                t0 = now_s();
                rc = load_pg(argv[2], argv[3], rows, cnt, dim, batch);
        } else if (argc == 5 && !strcmp(argv[1], "pgcopy")) {
                vcdc_buf_t stream = VCDC_BUF_INIT;

                if ((cnt = read_copy_rows(argv[4], &stream, &dim)) < 0) {
                        vcdc_buf_free(&stream);
                        return 1;
                }
                t0 = now_s();
                rc = copy_pg(argv[2], argv[3], &stream, dim);
                vcdc_buf_free(&stream);
                cnt = rc ? 0 : cnt;
                if (!rc)
                        printf("%ld %.6f\n", cnt, now_s() - t0);
                return rc ? 1 : 0;
        } else if (argc == 7 && !strcmp(argv[1], "chroma") &&
                   (batch = parse_pos(argv[5])) > 0) {
                if ((cnt = read_rows(argv[6], 1, &rows, &dim)) < 0)
                        return 1;
                curl_global_init(CURL_GLOBAL_DEFAULT);
                t0 = now_s();
                rc = load_chroma(argv[2], argv[3], argv[4], rows, cnt, batch);
        } else {
                fprintf(stderr,
                        "usage: direct_loader pgvector CONNINFO TABLE BATCH "
                        "FILE.jsonl\n"
                        "       direct_loader pgcopy CONNINFO TABLE "
                        "FILE.jsonl\n"
                        "       direct_loader chroma HOST PORT COLLECTION "
                        "BATCH FILE.jsonl\n");
                return 64;
        }
        if (!rc)
                printf("%ld %.6f\n", cnt, now_s() - t0);
        free_rows(rows, cnt);
        curl_global_cleanup();
        return rc ? 1 : 0;
}

/*
 * vcdc - the pgvector sink's pure helpers (sink_pgvector_int.h): table
 * names, vectors as text and binary, text[] literals, the upsert's SQL,
 * the SQLSTATE map, jsonb text made compact, result cells as numbers.
 * Text in, text out: no connection, no I/O.
 */
#include "sink_pgvector_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Bytes one float takes in "%.9g" plus its separator: "-1.23456789e-38,". */
#define FLOAT_TEXT_MAX 16

int vcdc_pgvector_ident_valid(const char *name) {
        size_t i;

        if (!name || !*name || strlen(name) > VCDC_PGVECTOR_IDENT_MAX)
                return 0;
        if (name[0] >= '0' && name[0] <= '9')
                return 0;
        for (i = 0; name[i]; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '_'))
                        return 0;
        }
        /* The bookkeeping tables are not targets. */
        if (!strcmp(name, "vcdc_targets") || !strcmp(name, "vcdc_offsets"))
                return 0;
        return 1;
}

char *vcdc_pgvector_quote_ident(const char *name) {
        size_t len = strlen(name), i, n = 0;
        char *q;

        if (!(q = malloc(2 * len + 3)))
                return NULL;
        q[n++] = '"';
        for (i = 0; i < len; i++) {
                if (name[i] == '"')
                        q[n++] = '"';
                q[n++] = name[i];
        }
        q[n++] = '"';
        q[n] = '\0';
        return q;
}

size_t vcdc_pgvector_vector_text_max(size_t dim) {
        return dim * FLOAT_TEXT_MAX + 3; /* '[', ']', NUL */
}

size_t vcdc_pgvector_vector_format(const float *v, size_t dim, char *out,
                                   size_t out_size) {
        size_t i, n = 0;
        int r;

        if (out_size < 3)
                return 0;
        out[n++] = '[';
        for (i = 0; i < dim; i++) {
                if (!isfinite(v[i]))
                        return 0;
                /* Room for this float, a ',' or ']', and the NUL. */
                if (out_size - n < FLOAT_TEXT_MAX + 2)
                        return 0;
                if (i > 0)
                        out[n++] = ',';
                r = snprintf(out + n, out_size - n, "%.9g", (double)v[i]);
                if (r < 0 || (size_t)r >= out_size - n)
                        return 0;
                n += (size_t)r;
        }
        if (out_size - n < 2)
                return 0;
        out[n++] = ']';
        out[n] = '\0';
        return n;
}

size_t vcdc_pgvector_vector_binary_size(size_t dim) {
        return 4 + 4 * dim;
}

size_t vcdc_pgvector_vector_binary(const float *v, size_t dim, char *out) {
        uint16_t head[2] = {htons((uint16_t)dim), 0};
        size_t i;

        memcpy(out, head, sizeof(head));
        for (i = 0; i < dim; i++) {
                uint32_t u;
                memcpy(&u, &v[i], sizeof(u));
                u = htonl(u);
                memcpy(out + 4 + 4 * i, &u, sizeof(u));
        }
        return 4 + 4 * dim;
}

static const char *skip_blanks(const char *p) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                p++;
        return p;
}

int vcdc_pgvector_vector_parse(const char *text, float **vecp, size_t *dimp) {
        const char *p;
        size_t cnt = 1, n = 0;
        float *vec;

        *vecp = NULL;
        *dimp = 0;
        p = skip_blanks(text);
        if (*p != '[')
                return -1;
        for (p = text; *p; p++)
                if (*p == ',')
                        cnt++;
        if (!(vec = malloc(cnt * sizeof(*vec))))
                return -1;
        p = skip_blanks(text) + 1;
        for (;;) {
                char *end;
                float f;

                p = skip_blanks(p);
                errno = 0;
                f = strtof(p, &end);
                if (end == p || !isfinite(f) || n == cnt)
                        goto bad;
                vec[n++] = f;
                p = skip_blanks(end);
                if (*p == ',') {
                        p++;
                        continue;
                }
                if (*p == ']')
                        break;
                goto bad;
        }
        if (*skip_blanks(p + 1) != '\0')
                goto bad;
        *vecp = vec;
        *dimp = n;
        return 0;
bad:
        free(vec);
        return -1;
}

char *vcdc_pgvector_text_array(const char *const *items, size_t cnt) {
        size_t size = 3, i, n = 0;
        const char *s;
        char *out;

        for (i = 0; i < cnt; i++)
                size += 2 * strlen(items[i]) + 3; /* worst case: all escaped */
        if (!(out = malloc(size)))
                return NULL;
        out[n++] = '{';
        for (i = 0; i < cnt; i++) {
                if (i > 0)
                        out[n++] = ',';
                out[n++] = '"';
                for (s = items[i]; *s; s++) {
                        if (*s == '"' || *s == '\\')
                                out[n++] = '\\';
                        out[n++] = *s;
                }
                out[n++] = '"';
        }
        out[n++] = '}';
        out[n] = '\0';
        return out;
}

char *vcdc_pgvector_upsert_sql(const char *qtable, size_t rows) {
        vcdc_buf_t b = VCDC_BUF_INIT;
        size_t i, p;

        if (!rows)
                return NULL;
        vcdc_buf_printf(&b,
                        "INSERT INTO %s (id, embedding, metadata, document) "
                        "VALUES ",
                        qtable);
        for (i = 0; i < rows; i++) {
                p = i * VCDC_PGVECTOR_UPSERT_PARAMS;
                vcdc_buf_printf(&b,
                                "%s($%zu::text,$%zu::vector,$%zu::jsonb,"
                                "$%zu::text)",
                                i ? "," : "", p + 1, p + 2, p + 3, p + 4);
        }
        vcdc_buf_printf(&b, " ON CONFLICT (id) DO UPDATE SET "
                            "embedding = EXCLUDED.embedding, "
                            "metadata = EXCLUDED.metadata, "
                            "document = EXCLUDED.document");
        return vcdc_buf_detach(&b, NULL);
}

size_t vcdc_pgvector_statement_cnt(size_t upsert_cnt, size_t delete_cnt,
                                   int with_offsets, int prepare) {
        size_t chunks = (upsert_cnt + VCDC_PGVECTOR_CHUNK_ROWS - 1) /
                        VCDC_PGVECTOR_CHUNK_ROWS;

        return 2 /* BEGIN, COMMIT */ + (with_offsets ? 1 : 0) + chunks +
               (prepare && upsert_cnt >= VCDC_PGVECTOR_CHUNK_ROWS ? 1 : 0) +
               (delete_cnt ? 1 : 0);
}

/* Exact codes first: they override their class (the first two characters). */
static const struct {
        const char *code;
        vcdc_sink_status_t status;
} sqlstate_map[] = {
        {"25006", VCDC_SINK_RETRIABLE}, /* read-only transaction: a standby
                                         * after a failover */
        {"26000", VCDC_SINK_RETRIABLE}, /* invalid statement name: the
                                         * unnamed statement was lost
                                         * between Parse and Bind (a
                                         * transaction pooler; PGlite's
                                         * socket server with two clients);
                                         * parsed again on retry */
        {"40002", VCDC_SINK_INVALID},   /* integrity violation at commit */
        {"53400", VCDC_SINK_FATAL},     /* configuration limit exceeded */
        {"55006", VCDC_SINK_RETRIABLE}, /* object in use */
        {"55P03", VCDC_SINK_RETRIABLE}, /* lock not available */
        {"57014", VCDC_SINK_RETRIABLE}, /* query canceled (statement_timeout) */
        {"57P01", VCDC_SINK_RETRIABLE}, /* admin shutdown */
        {"57P02", VCDC_SINK_RETRIABLE}, /* crash shutdown */
        {"57P03", VCDC_SINK_RETRIABLE}, /* cannot connect now */
        {"57P05", VCDC_SINK_RETRIABLE}, /* idle session timeout */
        {"08", VCDC_SINK_RETRIABLE},    /* connection exception */
        {"40", VCDC_SINK_RETRIABLE},    /* transaction rollback: 40001
                                         * serialization, 40P01 deadlock */
        {"53", VCDC_SINK_RETRIABLE},    /* insufficient resources: 53300 too
                                         * many connections, disk full */
        {"58", VCDC_SINK_RETRIABLE},    /* system error (I/O) */
        {"21", VCDC_SINK_INVALID},      /* cardinality violation */
        {"22", VCDC_SINK_INVALID},      /* data exception: bad vector text,
                                         * wrong dimension, bad JSON */
        {"23", VCDC_SINK_INVALID},      /* integrity constraint violation */
        {"54", VCDC_SINK_INVALID},      /* program limit exceeded: too many
                                         * dimensions, row too big */
};

vcdc_sink_status_t vcdc_pgvector_sqlstate_status(const char *sqlstate) {
        size_t i;

        if (!sqlstate || !*sqlstate)
                return VCDC_SINK_RETRIABLE;
        for (i = 0; i < sizeof(sqlstate_map) / sizeof(*sqlstate_map); i++) {
                const char *code = sqlstate_map[i].code;
                if (!strncmp(sqlstate, code, strlen(code)))
                        return sqlstate_map[i].status;
        }
        return VCDC_SINK_FATAL;
}

int vcdc_pgvector_sqlstate_smaller(const char *sqlstate) {
        static const char *const codes[] = {"57014", "53000", "53100", "53200"};
        size_t i;

        for (i = 0; sqlstate && i < sizeof(codes) / sizeof(*codes); i++)
                if (!strcmp(sqlstate, codes[i]))
                        return 1;
        return 0;
}

char *vcdc_pgvector_json_compact(const char *json) {
        size_t n = 0;
        int in_string = 0;
        const char *s;
        char *out;

        if (!(out = malloc(strlen(json) + 1)))
                return NULL;
        for (s = json; *s; s++) {
                if (in_string) {
                        out[n++] = *s;
                        if (*s == '\\' && s[1])
                                out[n++] = *++s;
                        else if (*s == '"')
                                in_string = 0;
                } else if (*s == '"') {
                        out[n++] = *s;
                        in_string = 1;
                } else if (*s != ' ' && *s != '\t' && *s != '\n' &&
                           *s != '\r') {
                        out[n++] = *s;
                }
        }
        out[n] = '\0';
        return out;
}

/* Parses a non-negative decimal from a result cell. */
int vcdc_pgvector_parse_u64(const char *s, uint64_t *vp) {
        unsigned long long v;
        char *end;

        if (*s < '0' || *s > '9')
                return -1;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end)
                return -1;
        *vp = v;
        return 0;
}

int vcdc_pgvector_parse_i64(const char *s, int64_t *vp) {
        long long v;
        char *end;

        errno = 0;
        v = strtoll(s, &end, 10);
        if (end == s || errno || *end)
                return -1;
        *vp = v;
        return 0;
}

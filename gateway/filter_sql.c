/*
 * vcdc - a filter (filter.h) as a SQL condition on the pgvector sink's
 * table (id text, embedding vector, metadata jsonb, document text), with
 * every key and value a $n parameter, never in the SQL text.
 *
 * How Chroma's types map onto jsonb: strings and booleans are jsonb's own.
 * jsonb has one number type, but keeps a number's text: the gateway and the
 * producer write Chroma's floats with a '.' or an exponent (jansson's
 * compact form), ints without, and jsonb prints a number with its scale,
 * so a number whose text has a '.' (or more than 19 digits: no int64 has)
 * is a float, compared as float8, like Chroma's f64; any other is an
 * integer, compared as numeric (exact, like Chroma's i64) with the
 * operand's integer form. A float of 1e17 or more written with an exponent
 * and no fraction reads as an integer here; it is integral, and compares
 * the same except against operands beyond 2^53.
 */
#include "filter_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

typedef struct sqlctx_s {
        vcdc_buf_t b;
        const char *prefix;
        int next; /* the next parameter's number */
        char **params;
        size_t nparams, cap;
        int failed;
} sqlctx_t;

/* Adds a parameter (takes ownership of s); returns its number. */
static int param_num(sqlctx_t *c, char *s) {
        char **p;

        if (!s || c->failed) {
                free(s);
                c->failed = 1;
                return c->next;
        }
        if (c->nparams == c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 8;
                if (!(p = realloc(c->params, cap * sizeof(*p)))) {
                        free(s);
                        c->failed = 1;
                        return c->next;
                }
                c->params = p;
                c->cap = cap;
        }
        c->params[c->nparams++] = s;
        return c->next++;
}

/* Adds a parameter (takes ownership of s) and writes $n. */
static void param(sqlctx_t *c, char *s) {
        vcdc_buf_printf(&c->b, "$%d", param_num(c, s));
}

static char *dup_n(const char *s, size_t n) {
        char *d = malloc(n + 1);

        if (d) {
                memcpy(d, s, n);
                d[n] = '\0';
        }
        return d;
}

static char *fmt_double(double f) {
        char tmp[40];

        snprintf(tmp, sizeof(tmp), "%.17g", f);
        return dup_n(tmp, strlen(tmp));
}

static char *fmt_int(int64_t i) {
        char tmp[24];

        snprintf(tmp, sizeof(tmp), "%lld", (long long)i);
        return dup_n(tmp, strlen(tmp));
}

/* A PostgreSQL array literal of the node's values, as kind: 'i' the
 * integer forms, 'f' the float forms, 's' strings, 'b' booleans. */
static char *array_literal(const node_t *n, char kind) {
        vcdc_buf_t b = VCDC_BUF_INIT;
        size_t i, j;

        vcdc_buf_putc(&b, '{');
        for (i = 0; i < n->nvalues; i++) {
                const value_t *v = &n->values[i];
                if (i)
                        vcdc_buf_putc(&b, ',');
                switch (kind) {
                case 'i':
                        vcdc_buf_printf(&b, "%lld", (long long)v->i);
                        break;
                case 'f':
                        vcdc_buf_printf(&b, "%.17g", v->f);
                        break;
                case 'b':
                        vcdc_buf_putc(&b, v->b ? 't' : 'f');
                        break;
                default:
                        vcdc_buf_putc(&b, '"');
                        for (j = 0; j < v->len; j++) {
                                if (v->s[j] == '"' || v->s[j] == '\\')
                                        vcdc_buf_putc(&b, '\\');
                                vcdc_buf_putc(&b, v->s[j]);
                        }
                        vcdc_buf_putc(&b, '"');
                }
        }
        vcdc_buf_putc(&b, '}');
        return vcdc_buf_detach(&b, NULL);
}

static const char *sql_op(meta_op_t op) {
        switch (op) {
        case OP_GT:
                return ">";
        case OP_GTE:
                return ">=";
        case OP_LT:
                return "<";
        case OP_LTE:
                return "<=";
        default:
                return "=";
        }
}

/* (metadata -> $k) and (metadata ->> $k), with $k the key; for Chroma's
 * "chroma:document", the document as jsonb and as text. */
static void key_refs(sqlctx_t *c, const node_t *n, char *m, size_t msize,
                     char *mt, size_t mtsize) {
        int k;

        if (n->key_len == sizeof(VCDC_FILTER_DOCUMENT_KEY) - 1 &&
            !memcmp(n->key, VCDC_FILTER_DOCUMENT_KEY, n->key_len)) {
                snprintf(m, msize, "to_jsonb(%sdocument)", c->prefix);
                snprintf(mt, mtsize, "(%sdocument)", c->prefix);
                return;
        }
        k = param_num(c, dup_n(n->key, n->key_len));
        snprintf(m, msize, "(%smetadata -> $%d::text)", c->prefix, k);
        snprintf(mt, mtsize, "(%smetadata ->> $%d::text)", c->prefix, k);
}

static void meta_sql(sqlctx_t *c, const node_t *n) {
        char m[96], mt[96];
        int set = n->op == OP_IN || n->op == OP_NIN;
        int negate = n->op == OP_NE || n->op == OP_NIN;

        key_refs(c, n, m, sizeof(m), mt, sizeof(mt));
        vcdc_buf_puts(&c->b, negate ? "(NOT coalesce(" : "coalesce(");
        switch (n->type) {
        case VAL_STR:
                if (set) {
                        vcdc_buf_printf(&c->b,
                                        "jsonb_typeof(%s) = 'string' AND "
                                        "%s = ANY(",
                                        m, mt);
                        param(c, array_literal(n, 's'));
                        vcdc_buf_puts(&c->b, "::text[])");
                } else {
                        vcdc_buf_printf(&c->b, "%s = to_jsonb(", m);
                        param(c, dup_n(n->values[0].s, n->values[0].len));
                        vcdc_buf_puts(&c->b, "::text)");
                }
                break;
        case VAL_BOOL:
                if (set) {
                        vcdc_buf_printf(&c->b,
                                        "CASE WHEN jsonb_typeof(%s) = "
                                        "'boolean' THEN %s::boolean = ANY(",
                                        m, mt);
                        param(c, array_literal(n, 'b'));
                        vcdc_buf_puts(&c->b, "::boolean[]) ELSE false END");
                } else {
                        vcdc_buf_printf(&c->b, "%s = to_jsonb(", m);
                        param(c, dup_n(n->values[0].b ? "true" : "false",
                                       n->values[0].b ? 4 : 5));
                        vcdc_buf_puts(&c->b, "::boolean)");
                }
                break;
        case VAL_INT:
        case VAL_FLOAT:
                vcdc_buf_printf(&c->b,
                                "CASE WHEN jsonb_typeof(%s) = 'number' THEN "
                                "CASE WHEN strpos(%s, '.') > 0 OR "
                                "length(ltrim(%s, '-')) > 19 THEN %s::float8 ",
                                m, mt, mt, mt);
                if (set) {
                        vcdc_buf_puts(&c->b, "= ANY(");
                        param(c, array_literal(n, 'f'));
                        vcdc_buf_printf(&c->b,
                                        "::float8[]) ELSE %s::numeric = ANY(",
                                        mt);
                        param(c, array_literal(n, 'i'));
                        vcdc_buf_puts(&c->b, "::numeric[]) END ELSE false END");
                } else {
                        vcdc_buf_printf(&c->b, "%s ", sql_op(n->op));
                        param(c, fmt_double(n->values[0].f));
                        vcdc_buf_printf(&c->b, "::float8 ELSE %s::numeric %s ",
                                        mt, sql_op(n->op));
                        param(c, fmt_int(n->values[0].i));
                        vcdc_buf_puts(&c->b, "::numeric END ELSE false END");
                }
                break;
        }
        vcdc_buf_puts(&c->b, negate ? ", false))" : ", false)");
}

static void doc_sql(sqlctx_t *c, const node_t *n) {
        int negate =
                n->doc_op == DOC_NOT_CONTAINS || n->doc_op == DOC_NOT_REGEX;

        vcdc_buf_puts(&c->b, negate ? "(NOT coalesce(" : "coalesce(");
        if (n->doc_op == DOC_CONTAINS || n->doc_op == DOC_NOT_CONTAINS) {
                vcdc_buf_printf(&c->b, "strpos(%sdocument, ", c->prefix);
                param(c, dup_n(n->pattern, n->pattern_len));
                vcdc_buf_puts(&c->b, "::text) > 0");
        } else {
                vcdc_buf_printf(&c->b, "%sdocument ~ ", c->prefix);
                param(c, dup_n(n->pattern, n->pattern_len));
                vcdc_buf_puts(&c->b, "::text");
        }
        vcdc_buf_puts(&c->b, negate ? ", false))" : ", false)");
}

static void node_sql(sqlctx_t *c, const node_t *n) {
        size_t i;

        switch (n->kind) {
        case NODE_AND:
        case NODE_OR:
                if (!n->nchildren) {
                        vcdc_buf_puts(&c->b,
                                      n->kind == NODE_AND ? "TRUE" : "FALSE");
                        return;
                }
                vcdc_buf_putc(&c->b, '(');
                for (i = 0; i < n->nchildren; i++) {
                        if (i)
                                vcdc_buf_puts(&c->b, n->kind == NODE_AND
                                                             ? " AND "
                                                             : " OR ");
                        node_sql(c, n->children[i]);
                }
                vcdc_buf_putc(&c->b, ')');
                return;
        case NODE_META:
                meta_sql(c, n);
                return;
        case NODE_DOC:
                doc_sql(c, n);
                return;
        }
}

int vcdc_filter_sql(const vcdc_filter_t *f, const char *prefix, int first,
                    vcdc_filter_sql_t *out) {
        sqlctx_t c;

        memset(&c, 0, sizeof(c));
        memset(out, 0, sizeof(*out));
        vcdc_buf_init(&c.b, 0);
        c.prefix = prefix ? prefix : "";
        c.next = first;
        if (!f || !f->root)
                vcdc_buf_puts(&c.b, "TRUE");
        else
                node_sql(&c, f->root);
        out->params = c.params;
        out->nparams = c.nparams;
        if (c.failed || c.b.failed ||
            !(out->sql = vcdc_buf_detach(&c.b, NULL))) {
                vcdc_buf_free(&c.b);
                vcdc_filter_sql_clear(out);
                return -1;
        }
        return 0;
}

void vcdc_filter_sql_clear(vcdc_filter_sql_t *out) {
        size_t i;

        if (!out)
                return;
        for (i = 0; i < out->nparams; i++)
                free(out->params[i]);
        free(out->params);
        free(out->sql);
        memset(out, 0, sizeof(*out));
}

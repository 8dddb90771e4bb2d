/*
 * vcdc - Chroma's where and where_document parsed into the filter tree
 * (filter.h, filter_int.h), with the Chroma 1.0 server's checks and words
 * (its where_parsing.rs, and answers recorded from a running server).
 * Builds the tree only: evaluation and SQL live beside it.
 */
#include "filter_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define INVALID_WHERE "Invalid where clause"
#define INVALID_DOC   "Invalid where document clause"

static void node_free(node_t *n) {
        size_t i;

        if (!n)
                return;
        for (i = 0; i < n->nchildren; i++)
                node_free(n->children[i]);
        free(n->children);
        free(n->key);
        for (i = 0; i < n->nvalues; i++)
                free(n->values[i].s);
        free(n->values);
        free(n->pattern);
        if (n->re_ok)
                regfree(&n->re);
        free(n);
}

void vcdc_filter_destroy(vcdc_filter_t *f) {
        if (!f)
                return;
        node_free(f->root);
        free(f);
}

int vcdc_filter_is_empty(const vcdc_filter_t *f) {
        return !f || !f->root;
}

int64_t vcdc_filter_f2i(double f) {
        if (isnan(f))
                return 0;
        if (f >= 9223372036854775807.0)
                return INT64_MAX;
        if (f <= -9223372036854775808.0)
                return INT64_MIN;
        return (int64_t)f; /* C truncates toward zero, as Rust does */
}

static int oom(vcdc_api_error_t *err) {
        return vcdc_api_error_set(err, 500, VCDC_API_INTERNAL,
                                  "out of memory parsing a filter");
}

static int bad(vcdc_api_error_t *err, const char *what) {
        return vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT, "%s",
                                  what);
}

static char *dup_n(const char *s, size_t n) {
        char *d = malloc(n + 1);

        if (d) {
                memcpy(d, s, n);
                d[n] = '\0';
        }
        return d;
}

/* The one member of an object that must have exactly one. */
static int only_member(const json_t *obj, const char **key,
                       const json_t **value) {
        void *it;

        if (!json_is_object(obj) || json_object_size(obj) != 1)
                return -1;
        it = json_object_iter((json_t *)obj);
        *key = json_object_iter_key(it);
        *value = json_object_iter_value(it);
        return 0;
}

typedef node_t *(*parse_fn)(const json_t *, int, vcdc_api_error_t *);

/* $and / $or: value must be an array of clauses parsed by parse. */
static node_t *parse_composite(node_kind_t kind, const json_t *arr, int depth,
                               parse_fn parse, const char *words,
                               vcdc_api_error_t *err) {
        node_t *n;
        size_t i;

        if (!json_is_array(arr)) {
                bad(err, words);
                return NULL;
        }
        if (!(n = calloc(1, sizeof(*n)))) {
                oom(err);
                return NULL;
        }
        n->kind = kind;
        if (json_array_size(arr) &&
            !(n->children = calloc(json_array_size(arr), sizeof(node_t *)))) {
                oom(err);
                goto err;
        }
        for (i = 0; i < json_array_size(arr); i++) {
                if (!(n->children[i] =
                              parse(json_array_get(arr, i), depth + 1, err)))
                        goto err;
                n->nchildren++;
        }
        return n;
err:
        node_free(n);
        return NULL;
}

/* An operand as serde_json's Value sees it: a string, a bool, an f64 (a
 * JSON real) or an i64 (a JSON integer). */
static int value_of(const json_t *j, value_type_t *type, value_t *v) {
        memset(v, 0, sizeof(*v));
        if (json_is_string(j)) {
                *type = VAL_STR;
                v->len = json_string_length(j);
                if (!(v->s = dup_n(json_string_value(j), v->len)))
                        return -2;
        } else if (json_is_boolean(j)) {
                *type = VAL_BOOL;
                v->b = json_is_true(j);
        } else if (json_is_real(j)) {
                *type = VAL_FLOAT;
                v->f = json_real_value(j);
                v->i = vcdc_filter_f2i(v->f);
        } else if (json_is_integer(j)) {
                *type = VAL_INT;
                v->i = (int64_t)json_integer_value(j);
                v->f = (double)v->i;
        } else {
                return -1;
        }
        return 0;
}

static const struct {
        const char *name;
        meta_op_t op;
        int ordered; /* only for numbers */
} meta_ops[] = {
        {"$eq", OP_EQ, 0},   {"$ne", OP_NE, 0}, {"$gt", OP_GT, 1},
        {"$gte", OP_GTE, 1}, {"$lt", OP_LT, 1}, {"$lte", OP_LTE, 1},
};

/* The set of $in / $nin: non-empty, every element of the first one's
 * type, except that a list starting with a real takes integers too (as
 * serde's as_f64 does). */
static int parse_set(node_t *n, const json_t *arr, vcdc_api_error_t *err) {
        size_t i, cnt = json_array_size(arr);
        value_type_t first, t;
        int r;

        if (!cnt)
                return bad(err, INVALID_WHERE);
        if (!(n->values = calloc(cnt, sizeof(value_t))))
                return oom(err);
        for (i = 0; i < cnt; i++) {
                r = value_of(json_array_get(arr, i), &t, &n->values[i]);
                if (r == -2)
                        return oom(err);
                n->nvalues++;
                if (r)
                        return bad(err, INVALID_WHERE);
                if (i == 0)
                        first = t;
                else if (t != first && !(first == VAL_FLOAT && t == VAL_INT))
                        return bad(err, INVALID_WHERE);
                if (first == VAL_FLOAT && t == VAL_INT) {
                        /* as_f64 of an integer, then `as i64` back */
                        n->values[i].i = vcdc_filter_f2i(n->values[i].f);
                }
        }
        n->type = first;
        return 0;
}

static node_t *parse_where(const json_t *w, int depth, vcdc_api_error_t *err) {
        const json_t *value, *operand;
        const char *key, *opname;
        node_t *n = NULL;
        value_type_t t;
        size_t i;
        int r;

        if (depth > VCDC_FILTER_MAX_DEPTH || only_member(w, &key, &value)) {
                bad(err, INVALID_WHERE);
                return NULL;
        }
        if (!strcmp(key, "$and"))
                return parse_composite(NODE_AND, value, depth, parse_where,
                                       INVALID_WHERE, err);
        if (!strcmp(key, "$or"))
                return parse_composite(NODE_OR, value, depth, parse_where,
                                       INVALID_WHERE, err);
        if (!(n = calloc(1, sizeof(*n)))) {
                oom(err);
                return NULL;
        }
        n->kind = NODE_META;
        n->key_len = strlen(key);
        if (!(n->key = dup_n(key, n->key_len))) {
                oom(err);
                goto err;
        }
        if (!json_is_object(value)) {
                /* {"key": value}: $eq */
                if (!(n->values = calloc(1, sizeof(value_t)))) {
                        oom(err);
                        goto err;
                }
                r = value_of(value, &n->type, &n->values[0]);
                n->nvalues = 1;
                if (r == -2) {
                        oom(err);
                        goto err;
                }
                if (r) {
                        bad(err, INVALID_WHERE);
                        goto err;
                }
                n->op = OP_EQ;
                return n;
        }
        if (only_member(value, &opname, &operand)) {
                bad(err, INVALID_WHERE);
                goto err;
        }
        if (json_is_array(operand)) {
                if (!strcmp(opname, "$in"))
                        n->op = OP_IN;
                else if (!strcmp(opname, "$nin"))
                        n->op = OP_NIN;
                else {
                        bad(err, INVALID_WHERE);
                        goto err;
                }
                if (parse_set(n, operand, err))
                        goto err;
                return n;
        }
        if (!(n->values = calloc(1, sizeof(value_t)))) {
                oom(err);
                goto err;
        }
        r = value_of(operand, &t, &n->values[0]);
        n->nvalues = 1;
        if (r == -2) {
                oom(err);
                goto err;
        }
        if (r) {
                bad(err, INVALID_WHERE);
                goto err;
        }
        n->type = t;
        for (i = 0; i < sizeof(meta_ops) / sizeof(*meta_ops); i++)
                if (!strcmp(opname, meta_ops[i].name))
                        break;
        if (i == sizeof(meta_ops) / sizeof(*meta_ops) ||
            (meta_ops[i].ordered && (t == VAL_STR || t == VAL_BOOL))) {
                bad(err, INVALID_WHERE);
                goto err;
        }
        n->op = meta_ops[i].op;
        return n;
err:
        node_free(n);
        return NULL;
}

static node_t *parse_doc(const json_t *w, int depth, vcdc_api_error_t *err) {
        static const struct {
                const char *name;
                doc_op_t op;
        } ops[] = {
                {"$contains", DOC_CONTAINS},
                {"$not_contains", DOC_NOT_CONTAINS},
                {"$regex", DOC_REGEX},
                {"$not_regex", DOC_NOT_REGEX},
        };
        const json_t *value;
        const char *key;
        char why[256];
        node_t *n;
        size_t i;
        int rc;

        if (depth > VCDC_FILTER_MAX_DEPTH || only_member(w, &key, &value)) {
                bad(err, INVALID_DOC);
                return NULL;
        }
        if (!strcmp(key, "$and"))
                return parse_composite(NODE_AND, value, depth, parse_doc,
                                       INVALID_DOC, err);
        if (!strcmp(key, "$or"))
                return parse_composite(NODE_OR, value, depth, parse_doc,
                                       INVALID_DOC, err);
        for (i = 0; i < sizeof(ops) / sizeof(*ops); i++)
                if (!strcmp(key, ops[i].name))
                        break;
        if (!json_is_string(value) || i == sizeof(ops) / sizeof(*ops)) {
                bad(err, INVALID_DOC);
                return NULL;
        }
        if (!(n = calloc(1, sizeof(*n)))) {
                oom(err);
                return NULL;
        }
        n->kind = NODE_DOC;
        n->doc_op = ops[i].op;
        n->pattern_len = json_string_length(value);
        if (!(n->pattern = dup_n(json_string_value(value), n->pattern_len))) {
                oom(err);
                goto err;
        }
        if (n->doc_op == DOC_REGEX || n->doc_op == DOC_NOT_REGEX) {
                if (strlen(n->pattern) != n->pattern_len) {
                        bad(err, "Regex syntax errror: a pattern may not "
                                 "hold a NUL character");
                        goto err;
                }
                if (vcdc_filter_regex_check(n->pattern, why, sizeof(why))) {
                        vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                           "Regex syntax errror: regex parse "
                                           "error: %s",
                                           why);
                        goto err;
                }
                rc = regcomp(&n->re, n->pattern, REG_EXTENDED | REG_NOSUB);
                if (rc) {
                        regerror(rc, &n->re, why, sizeof(why));
                        vcdc_api_error_set(err, 400, VCDC_API_INVALID_ARGUMENT,
                                           "Regex syntax errror: regex parse "
                                           "error: %s",
                                           why);
                        goto err;
                }
                n->re_ok = 1;
        }
        return n;
err:
        node_free(n);
        return NULL;
}

vcdc_filter_t *vcdc_filter_parse(const json_t *where,
                                 const json_t *where_document,
                                 vcdc_api_error_t *err) {
        vcdc_filter_t *f = calloc(1, sizeof(*f));
        node_t *w = NULL, *d = NULL;

        if (!f) {
                oom(err);
                return NULL;
        }
        if (where && !json_is_null(where) && !(w = parse_where(where, 0, err)))
                goto err;
        if (where_document && !json_is_null(where_document) &&
            !(d = parse_doc(where_document, 0, err)))
                goto err;
        if (w && d) {
                if (!(f->root = calloc(1, sizeof(node_t))) ||
                    !(f->root->children = calloc(2, sizeof(node_t *)))) {
                        oom(err);
                        goto err;
                }
                f->root->kind = NODE_AND;
                f->root->children[0] = w;
                f->root->children[1] = d;
                f->root->nchildren = 2;
        } else {
                f->root = w ? w : d;
        }
        return f;
err:
        if (f->root && f->root != w && f->root != d) {
                free(f->root->children);
                free(f->root);
        }
        f->root = NULL;
        node_free(w);
        node_free(d);
        free(f);
        return NULL;
}

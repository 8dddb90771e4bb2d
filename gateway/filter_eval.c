/*
 * vcdc - evaluating a filter (filter.h) against one record: its metadata
 * object and its document, with the Chroma 1.0 semantics filter.h spells
 * out. Pure: no I/O, no allocation but the metadata text's parse.
 */
#include "filter_int.h"

#include <string.h>

static int ordered(meta_op_t op, int cmp) {
        switch (op) {
        case OP_EQ:
                return cmp == 0;
        case OP_GT:
                return cmp > 0;
        case OP_GTE:
                return cmp >= 0;
        case OP_LT:
                return cmp < 0;
        case OP_LTE:
                return cmp <= 0;
        default:
                return 0;
        }
}

/* Whether metadata value m equals or compares OP to operand v, m being of
 * the node's type family; -1 when m is of another type (never matches). */
static int compare(const node_t *n, const json_t *m, const value_t *v,
                   meta_op_t op) {
        int cmp;

        switch (n->type) {
        case VAL_STR:
                if (!json_is_string(m))
                        return -1;
                return json_string_length(m) == v->len &&
                       !memcmp(json_string_value(m), v->s, v->len);
        case VAL_BOOL:
                if (!json_is_boolean(m))
                        return -1;
                return json_is_true(m) == v->b;
        case VAL_INT:
        case VAL_FLOAT:
                if (json_is_integer(m)) {
                        int64_t a = (int64_t)json_integer_value(m);
                        cmp = a < v->i ? -1 : a > v->i;
                } else if (json_is_real(m)) {
                        double a = json_real_value(m);
                        if (a != a || v->f != v->f)
                                return 0;
                        cmp = a < v->f ? -1 : a > v->f;
                } else {
                        return -1;
                }
                return ordered(op, cmp);
        }
        return -1;
}

static int match_value(const node_t *n, const json_t *m) {
        size_t i;
        int hit = 0;

        switch (n->op) {
        case OP_NE:
                return !(m && compare(n, m, &n->values[0], OP_EQ) == 1);
        case OP_IN:
        case OP_NIN:
                for (i = 0; m && !hit && i < n->nvalues; i++)
                        hit = compare(n, m, &n->values[i], OP_EQ) == 1;
                return n->op == OP_IN ? hit : !hit;
        default:
                return m && compare(n, m, &n->values[0], n->op) == 1;
        }
}

static int match_meta(const node_t *n, const json_t *metadata,
                      const char *document) {
        json_t *doc;
        int r;

        if (n->key_len == sizeof(VCDC_FILTER_DOCUMENT_KEY) - 1 &&
            !memcmp(n->key, VCDC_FILTER_DOCUMENT_KEY, n->key_len)) {
                /* Chroma keeps the document as this metadata key */
                doc = document ? json_string_nocheck(document) : NULL;
                r = match_value(n, doc);
                json_decref(doc);
                return r;
        }
        /* keys may hold NUL: compare with their length */
        return match_value(
                n, json_is_object(metadata)
                           ? json_object_getn(metadata, n->key, n->key_len)
                           : NULL);
}

static int match_doc(const node_t *n, const char *document) {
        int hit = 0;

        if (document) {
                if (n->doc_op == DOC_CONTAINS || n->doc_op == DOC_NOT_CONTAINS)
                        hit = n->pattern_len == 0 ||
                              strstr(document, n->pattern) != NULL;
                else
                        hit = regexec(&n->re, document, 0, NULL, 0) == 0;
        }
        return n->doc_op == DOC_CONTAINS || n->doc_op == DOC_REGEX ? hit : !hit;
}

static int match_node(const node_t *n, const json_t *metadata,
                      const char *document) {
        size_t i;

        switch (n->kind) {
        case NODE_AND:
                for (i = 0; i < n->nchildren; i++)
                        if (!match_node(n->children[i], metadata, document))
                                return 0;
                return 1;
        case NODE_OR:
                for (i = 0; i < n->nchildren; i++)
                        if (match_node(n->children[i], metadata, document))
                                return 1;
                return 0;
        case NODE_META:
                return match_meta(n, metadata, document);
        case NODE_DOC:
                return match_doc(n, document);
        }
        return 0;
}

int vcdc_filter_match(const vcdc_filter_t *f, const json_t *metadata,
                      const char *document) {
        if (!f || !f->root)
                return 1;
        return match_node(f->root, metadata, document);
}

int vcdc_filter_match_text(const vcdc_filter_t *f, const char *metadata_text,
                           const char *document) {
        json_t *m = NULL;
        int r;

        if (metadata_text && !(m = json_loads(metadata_text, 0, NULL)))
                return -1;
        r = vcdc_filter_match(f, m, document);
        json_decref(m);
        return r;
}

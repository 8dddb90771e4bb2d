/*
 * vcdc - the filter tree shared by the parser (filter.c), the evaluator
 * (filter_eval.c) and the SQL translator (filter_sql.c). Internal.
 */
#ifndef VCDC_FILTER_INT_H
#define VCDC_FILTER_INT_H

#include <regex.h>
#include <stdint.h>

#include "filter.h"

typedef enum node_kind_e {
        NODE_AND,
        NODE_OR,
        NODE_META, /* a comparison of one metadata key */
        NODE_DOC,  /* a test of the document */
} node_kind_t;

typedef enum meta_op_e {
        OP_EQ,
        OP_NE,
        OP_GT,
        OP_GTE,
        OP_LT,
        OP_LTE,
        OP_IN,
        OP_NIN,
} meta_op_t;

typedef enum value_type_e {
        VAL_STR,
        VAL_INT,   /* the operand was an integer: i, f = (double)i */
        VAL_FLOAT, /* the operand was a real: f, i = f truncated */
        VAL_BOOL,
} value_type_t;

/* One operand; numbers carry both forms (filter.h). */
typedef struct value_s {
        char *s;
        size_t len; /* of s */
        int64_t i;
        double f;
        int b;
} value_t;

typedef enum doc_op_e {
        DOC_CONTAINS,
        DOC_NOT_CONTAINS,
        DOC_REGEX,
        DOC_NOT_REGEX,
} doc_op_t;

typedef struct node_s node_t;
struct node_s {
        node_kind_t kind;
        /* NODE_AND, NODE_OR */
        node_t **children;
        size_t nchildren;
        /* NODE_META */
        char *key;
        size_t key_len;
        meta_op_t op;
        value_type_t type;
        value_t *values; /* 1, or the list of $in / $nin */
        size_t nvalues;
        /* NODE_DOC */
        doc_op_t doc_op;
        char *pattern;
        size_t pattern_len;
        regex_t re; /* DOC_REGEX, DOC_NOT_REGEX */
        int re_ok;
};

struct vcdc_filter_s {
        node_t *root; /* NULL: matches everything */
};

/** Chroma's float to integer: truncation toward zero, saturated, NaN 0
 *  (Rust's `f as i64`). */
int64_t vcdc_filter_f2i(double f);

/* A $regex's limits (filter_regex.c): the compiled size, its repetitions
 * expanded, and the largest count of a bounded repetition. */
#define VCDC_FILTER_REGEX_MAX    50000
#define VCDC_FILTER_REGEX_REPEAT 1000

/* 0 when pattern may go to regcomp(), or -1 with why (what is wrong, in
 * words after Chroma's "regex parse error: "). */
int vcdc_filter_regex_check(const char *pattern, char *why, size_t why_size);

#endif

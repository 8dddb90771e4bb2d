/*
 * vcdc - the JSON scanner's lexer: one token at a time from a text,
 * checking UTF-8, strings and numbers as jansson does (jsonscan.h says
 * what that means). Internal to jsonscan.c.
 *
 * Must not: allocate, or read outside [text, end).
 */
#ifndef VCDC_JSONLEX_H
#define VCDC_JSONLEX_H

#include <stddef.h>

#include "jsonscan.h"

typedef enum vcdc_jsonlex_tok_e {
        VCDC_T_ERROR = -1, /* the lexer set the error */
        VCDC_T_EOF = 0,
        VCDC_T_INVALID,    /* not a token: a word, a stray character, ... */
        VCDC_T_STRING,
        VCDC_T_INTEGER,
        VCDC_T_REAL,
        VCDC_T_TRUE,
        VCDC_T_FALSE,
        VCDC_T_NULL,
        VCDC_T_LBRACE,
        VCDC_T_RBRACE,
        VCDC_T_LBRACKET,
        VCDC_T_RBRACKET,
        VCDC_T_COLON,
        VCDC_T_COMMA,
} vcdc_jsonlex_tok_t;

typedef struct vcdc_jsonlex_s {
        const char *text, *end;
        const char *pos;  /* what is read so far ends here */
        const char *tok;  /* the current token: [tok, pos) */
        int str_escaped;  /* a string token: it has backslash escapes */
        int str_nul;      /* ... one of them is \u0000 */
        vcdc_json_error_t *err;
} vcdc_jsonlex_t;

/** Reads the next token (after whitespace). */
vcdc_jsonlex_tok_t vcdc_jsonlex_next(vcdc_jsonlex_t *lx);

/**
 * Sets *lx->err as jansson's error_set() would: the token so far is
 * [saved, pos), the error's position is pos; utf8 marks the reader's own
 * error (no "near end of file" then). Returns -1.
 */
int vcdc_jsonlex_error(vcdc_jsonlex_t *lx, vcdc_json_err_t code,
                       const char *saved, const char *pos, int utf8,
                       const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));

#endif

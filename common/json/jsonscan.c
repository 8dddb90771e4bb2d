/*
 * vcdc - a strict JSON scanner that builds no tree (jsonscan.h).
 *
 * The parser: jansson's recursive descent (parse_value, parse_object,
 * parse_array in load.c) turned into a loop over an explicit stack of open
 * containers, asking the lexer (jsonlex.h) for one token at a time and
 * failing with jansson's words where jansson fails. Duplicate keys: an
 * object's keys are compared one by one up to KEYS_LINEAR of them, then
 * through a hash table shared by the whole text (entries tagged with the
 * object and the run), so a huge object costs linear time.
 * It validates and locates; building records is jsonrec.c's.
 */
#include "jsonscan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decfloat.h"
#include "jsonlex.h"
#include "jsonspan.h"

#define KEYS_LINEAR 16

typedef struct keyref_s {
        const char *p;
        size_t len;
        uint32_t hash;
} keyref_t;

typedef struct hslot_s {
        uint32_t gen;    /* the run that wrote it; other runs' are empty */
        uint32_t obj;    /* the object it belongs to within the run */
        uint32_t hash;
        const char *p;
        size_t len;
} hslot_t;

typedef struct frame_s {
        const char *start;
        size_t count;
        size_t key_base; /* the object's keys: keys[key_base..nkeys) */
        uint32_t obj;    /* its tag in the hash table, once hashed */
        int hashed;
        int depth;       /* deepest member so far */
        int is_object;
        int rows_ok;       /* a top-level member's array whose elements
                            * so far are arrays of numbers, their floats
                            * kept: from floats_base, counts from
                            * row_counts[rows_base] */
        size_t rows_base, floats_base;
} frame_t;

struct vcdc_jsonscan_s {
        vcdc_jsonlex_t lx;
        frame_t *frames; /* grows up to VCDC_JSON_MAX_DEPTH */
        int nframes, frames_cap;
        keyref_t *keys;
        size_t nkeys, keys_cap;
        hslot_t *slots;
        size_t slots_cap, slots_used;
        uint32_t gen, next_obj;
        char *arena; /* unescaped keys; as large as the text once needed */
        size_t arena_cap, arena_used;
        vcdc_json_member_t *members;
        size_t nmembers, members_cap;
        size_t *member_floats; /* each member's floats[] offset, or NONE */
        size_t *member_rows;   /* each member's row_counts[] offset, or NONE */
        size_t *member_row_floats; /* ... and its rows' floats[] offset */
        float *floats;         /* the numbers of top-level members' arrays
                                * and of their arrays' arrays */
        size_t nfloats, floats_cap;
        size_t *row_counts;    /* the counts of those arrays' arrays */
        size_t nrows, rows_cap;
};

#define NONE ((size_t)-1)

/* What numbers() did with an array */
#define NUMBERS_NONE   0 /* read nothing */
#define NUMBERS_COMMA  1 /* read numbers, each with its comma */
#define NUMBERS_CLOSED 2 /* read all the elements and the ']' */


/* A parser error about the current token. */
static int parse_error(vcdc_jsonscan_t *js, vcdc_json_err_t code,
                       const char *msg) {
        return vcdc_jsonlex_error(&js->lx, code, js->lx.tok, js->lx.pos, 0,
                                  "%s", msg);
}

static int no_memory(vcdc_jsonscan_t *js) {
        return vcdc_jsonlex_error(&js->lx, VCDC_JSON_ERR_OUT_OF_MEMORY,
                                  js->lx.pos, js->lx.pos, 1, "out of memory");
}


/*
 * Keys
 */

static uint32_t key_hash(const char *p, size_t len) {
        uint32_t h = 2166136261u; /* FNV-1a */
        size_t i;

        for (i = 0; i < len; i++)
                h = (h ^ (unsigned char)p[i]) * 16777619u;
        return h;
}

static int slots_grow(vcdc_jsonscan_t *js) {
        size_t cap = js->slots_cap ? js->slots_cap * 2 : 256, i;
        hslot_t *s = calloc(cap, sizeof(*s));

        if (!s)
                return -1;
        for (i = 0; i < js->slots_cap; i++) {
                hslot_t *o = &js->slots[i];
                size_t k;

                if (o->gen != js->gen)
                        continue;
                for (k = o->hash & (cap - 1); s[k].gen == js->gen;
                     k = (k + 1) & (cap - 1))
                        ;
                s[k] = *o;
        }
        free(js->slots);
        js->slots = s;
        js->slots_cap = cap;
        return 0;
}

/* Finds the key in f's hash entries, else adds it. Returns 1 if found, 0
 * if added, -1 out of memory. */
static int slot_find_add(vcdc_jsonscan_t *js, const frame_t *f,
                         const keyref_t *k) {
        size_t i;

        if ((js->slots_used + 1) * 2 > js->slots_cap && slots_grow(js))
                return -1;
        for (i = k->hash & (js->slots_cap - 1); js->slots[i].gen == js->gen;
             i = (i + 1) & (js->slots_cap - 1)) {
                const hslot_t *s = &js->slots[i];

                if (s->obj == f->obj && s->hash == k->hash &&
                    s->len == k->len && !memcmp(s->p, k->p, k->len))
                        return 1;
        }
        js->slots[i].gen = js->gen;
        js->slots[i].obj = f->obj;
        js->slots[i].hash = k->hash;
        js->slots[i].p = k->p;
        js->slots[i].len = k->len;
        js->slots_used++;
        return 0;
}

/* Adds a key to the object f. Returns 0, 1 if f already has it, -1 out of
 * memory. */
static int key_add(vcdc_jsonscan_t *js, frame_t *f, const char *p,
                   size_t len) {
        keyref_t k = {p, len, 0};
        size_t i;
        int r;

        if (!f->hashed) {
                for (i = f->key_base; i < js->nkeys; i++)
                        if (js->keys[i].len == len &&
                            !memcmp(js->keys[i].p, p, len))
                                return 1;
                if (js->nkeys - f->key_base >= KEYS_LINEAR) {
                        f->hashed = 1;
                        f->obj = js->next_obj++;
                        for (i = f->key_base; i < js->nkeys; i++) {
                                js->keys[i].hash = key_hash(js->keys[i].p,
                                                            js->keys[i].len);
                                if (slot_find_add(js, f, &js->keys[i]) < 0)
                                        return -1;
                        }
                }
        }
        if (f->hashed) {
                k.hash = key_hash(p, len);
                if ((r = slot_find_add(js, f, &k)) != 0)
                        return r;
        }
        if (js->nkeys == js->keys_cap) {
                size_t cap = js->keys_cap ? js->keys_cap * 2 : 64;
                keyref_t *keys = realloc(js->keys, cap * sizeof(*keys));

                if (!keys)
                        return -1;
                js->keys = keys;
                js->keys_cap = cap;
        }
        js->keys[js->nkeys++] = k;
        return 0;
}

/* The current string token as a key: unescaped into the arena if it has
 * escapes. Returns 0, or -1 out of memory. */
static int key_text(vcdc_jsonscan_t *js, const char **kp, size_t *klen) {
        vcdc_json_span_t s;

        if (!js->lx.str_escaped) {
                *kp = js->lx.tok + 1;
                *klen = (size_t)(js->lx.pos - js->lx.tok) - 2;
                return 0;
        }
        if (!js->arena_used &&
            js->arena_cap < (size_t)(js->lx.end - js->lx.text)) {
                /* sized once per run: keys never move while it lasts */
                size_t cap = (size_t)(js->lx.end - js->lx.text);
                char *a = realloc(js->arena, cap);

                if (!a)
                        return -1;
                js->arena = a;
                js->arena_cap = cap;
        }
        memset(&s, 0, sizeof(s));
        s.p = js->lx.tok;
        s.len = (size_t)(js->lx.pos - js->lx.tok);
        s.type = VCDC_JSON_STRING;
        s.escaped = 1;
        *kp = js->arena + js->arena_used;
        *klen = vcdc_json_unescape(&s, js->arena + js->arena_used);
        js->arena_used += *klen;
        return 0;
}

static int member_add(vcdc_jsonscan_t *js, const char *k, size_t len) {
        if (js->nmembers == js->members_cap) {
                size_t cap = js->members_cap ? js->members_cap * 2 : 16;
                vcdc_json_member_t *m =
                        realloc(js->members, cap * sizeof(*m));
                size_t *mf;

                if (!m)
                        return -1;
                js->members = m;
                if (!(mf = realloc(js->member_floats, cap * sizeof(*mf))))
                        return -1;
                js->member_floats = mf;
                if (!(mf = realloc(js->member_rows, cap * sizeof(*mf))))
                        return -1;
                js->member_rows = mf;
                if (!(mf = realloc(js->member_row_floats, cap * sizeof(*mf))))
                        return -1;
                js->member_row_floats = mf;
                js->members_cap = cap;
        }
        js->member_floats[js->nmembers] = NONE;
        js->member_rows[js->nmembers] = NONE;
        memset(&js->members[js->nmembers], 0, sizeof(*js->members));
        js->members[js->nmembers].key = k;
        js->members[js->nmembers].key_len = len;
        js->nmembers++;
        return 0;
}


/*
 * The parser
 */

vcdc_jsonscan_t *vcdc_jsonscan_new(void) {
        return calloc(1, sizeof(vcdc_jsonscan_t));
}

void vcdc_jsonscan_destroy(vcdc_jsonscan_t *js) {
        if (!js)
                return;
        free(js->frames);
        free(js->keys);
        free(js->slots);
        free(js->arena);
        free(js->members);
        free(js->member_floats);
        free(js->member_rows);
        free(js->member_row_floats);
        free(js->floats);
        free(js->row_counts);
        free(js);
}

size_t vcdc_jsonscan_members(const vcdc_jsonscan_t *js,
                             const vcdc_json_member_t **members) {
        *members = js->members;
        return js->nmembers;
}

static int frame_push(vcdc_jsonscan_t *js, int is_object) {
        frame_t *f;

        if (js->nframes == js->frames_cap) {
                int cap = js->frames_cap ? js->frames_cap * 4 : 16;

                if (cap > VCDC_JSON_MAX_DEPTH)
                        cap = VCDC_JSON_MAX_DEPTH;
                if (!(f = realloc(js->frames, (size_t)cap * sizeof(*f))))
                        return -1;
                js->frames = f;
                js->frames_cap = cap;
        }
        f = &js->frames[js->nframes++];

        f->start = js->lx.tok;
        f->count = 0;
        f->key_base = js->nkeys;
        f->hashed = 0;
        f->depth = 0;
        f->is_object = is_object;
        f->rows_ok = js->nframes == 2 && !is_object && js->frames[0].is_object;
        f->rows_base = js->nrows;
        f->floats_base = js->nfloats;
        return 0;
}

/* A top-level member's array (f) took element v: while every element is
 * an array of numbers whose floats were kept (v_floats), counts them. */
static void row_add(vcdc_jsonscan_t *js, frame_t *f, const vcdc_json_span_t *v,
                    size_t v_floats) {
        if (v_floats == NONE || v->type != VCDC_JSON_ARRAY) {
                f->rows_ok = 0;
                return;
        }
        if (js->nrows == js->rows_cap) {
                size_t cap = js->rows_cap ? js->rows_cap * 2 : 256;
                size_t *rc = realloc(js->row_counts, cap * sizeof(*rc));

                if (!rc) {
                        f->rows_ok = 0; /* read the slow way */
                        return;
                }
                js->row_counts = rc;
                js->rows_cap = cap;
        }
        js->row_counts[js->nrows++] = v->count;
}

static const char *skip_ws(const char *p, const char *end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                p++;
        return p;
}

/*
 * The fast lane of an array just opened: reads plain numbers and their
 * commas while they come, converting them to float32 into js->floats when
 * the array is a top-level member's value, or an element of one whose
 * elements so far were all such arrays (*off: where they start, or
 * NONE). It takes only what jansson would take the same way (a number that
 * fits without question, then ',' or ']'); at anything else it stops
 * before that element, and the parser reads on from there.
 */
static int numbers(vcdc_jsonscan_t *js, size_t *off) {
        const char *p = js->lx.pos, *end = js->lx.end, *q, *e;
        frame_t *f = &js->frames[js->nframes - 1];
        int sink = js->frames[0].is_object &&
                   (js->nframes == 2 ||
                    (js->nframes == 3 && js->frames[1].rows_ok));
        size_t start = js->nfloats, count = 0;
        vcdc_decfloat_json_t info;
        float fl;

        *off = NONE;
        for (;;) {
                q = skip_ws(p, end);
                if (q == end || (*q != '-' && (*q < '0' || *q > '9')))
                        break;
                if (!(e = vcdc_decfloat_json(q, end, &fl, &info)))
                        break;
                if (info.real ? info.int_digits > 300 || info.exp10 > 99 ||
                                        info.exp10 < -99
                              : info.int_digits > 18)
                        break; /* jansson's range checks decide */
                e = skip_ws(e, end);
                if (e == end || (*e != ',' && *e != ']'))
                        break;
                if (sink) {
                        if (js->nfloats == js->floats_cap) {
                                size_t cap = js->floats_cap ? js->floats_cap * 2
                                                            : 1024;
                                float *fs = realloc(js->floats,
                                                    cap * sizeof(*fs));

                                if (!fs)
                                        sink = 0;
                                else {
                                        js->floats = fs;
                                        js->floats_cap = cap;
                                }
                        }
                        if (sink)
                                js->floats[js->nfloats++] = fl;
                }
                count++;
                p = e + 1;
                if (*e == ']') {
                        f->count = count;
                        js->lx.tok = e;
                        js->lx.pos = p;
                        if (sink)
                                *off = start;
                        return NUMBERS_CLOSED;
                }
        }
        js->nfloats = start;
        f->count = count;
        js->lx.pos = p;
        return count ? NUMBERS_COMMA : NUMBERS_NONE;
}

int vcdc_jsonscan_run(vcdc_jsonscan_t *js, const char *text, size_t len,
                      vcdc_json_span_t *root, vcdc_json_error_t *err) {
        vcdc_json_span_t v;
        frame_t *f;
        const char *kp;
        size_t klen, v_floats = NONE, v_rows = NONE, v_row_floats = 0, i;
        vcdc_jsonlex_tok_t t;
        int r;

        js->lx.text = js->lx.pos = js->lx.tok = text;
        js->lx.end = text + len;
        js->lx.err = err;
        js->nframes = 0;
        js->nkeys = 0;
        js->nmembers = 0;
        js->arena_used = 0;
        js->nfloats = 0;
        js->nrows = 0;
        js->slots_used = 0;
        js->next_obj = 0;
        if (++js->gen == 0) { /* wrapped: every slot may look current */
                if (js->slots)
                        memset(js->slots, 0,
                               js->slots_cap * sizeof(*js->slots));
                js->gen = 1;
        }
        memset(&v, 0, sizeof(v));

        t = vcdc_jsonlex_next(&js->lx);
value:
        if (t == VCDC_T_ERROR)
                return -1;
        if (js->nframes + 1 > VCDC_JSON_MAX_DEPTH)
                return parse_error(js, VCDC_JSON_ERR_DEPTH,
                                   "maximum parsing depth reached");
        v_floats = NONE;
        v_rows = NONE;
        v.p = js->lx.tok;
        v.len = (size_t)(js->lx.pos - js->lx.tok);
        v.count = 0;
        v.depth = 0;
        v.escaped = 0;
        switch (t) {
        case VCDC_T_STRING:
                if (js->lx.str_nul)
                        return parse_error(
                                js, VCDC_JSON_ERR_NUL_CHARACTER,
                                "\\u0000 is not allowed without "
                                "JSON_ALLOW_NUL");
                v.type = VCDC_JSON_STRING;
                v.escaped = js->lx.str_escaped;
                goto done;
        case VCDC_T_INTEGER:
                v.type = VCDC_JSON_INTEGER;
                goto done;
        case VCDC_T_REAL:
                v.type = VCDC_JSON_REAL;
                goto done;
        case VCDC_T_TRUE:
                v.type = VCDC_JSON_TRUE;
                goto done;
        case VCDC_T_FALSE:
                v.type = VCDC_JSON_FALSE;
                goto done;
        case VCDC_T_NULL:
                v.type = VCDC_JSON_NULL;
                goto done;
        case VCDC_T_LBRACE:
                if (frame_push(js, 1))
                        return no_memory(js);
                t = vcdc_jsonlex_next(&js->lx);
                if (t == VCDC_T_RBRACE)
                        goto close;
                goto key;
        case VCDC_T_LBRACKET:
                if (frame_push(js, 0))
                        return no_memory(js);
                if (js->nframes < VCDC_JSON_MAX_DEPTH) {
                        r = numbers(js, &v_floats);
                        if (r == NUMBERS_CLOSED)
                                goto close;
                        if (r == NUMBERS_COMMA) {
                                t = vcdc_jsonlex_next(&js->lx);
                                goto after_comma;
                        }
                }
                t = vcdc_jsonlex_next(&js->lx);
                if (t == VCDC_T_RBRACKET)
                        goto close;
                if (t == VCDC_T_EOF)
                        return parse_error(js, VCDC_JSON_ERR_SYNTAX,
                                           "']' expected");
                goto value;
        case VCDC_T_INVALID:
                return parse_error(js, VCDC_JSON_ERR_SYNTAX, "invalid token");
        default:
                return parse_error(js, VCDC_JSON_ERR_SYNTAX,
                                   "unexpected token");
        }

key:
        if (t == VCDC_T_ERROR)
                return -1;
        if (t != VCDC_T_STRING)
                return parse_error(js, VCDC_JSON_ERR_SYNTAX,
                                   "string or '}' expected");
        if (key_text(js, &kp, &klen))
                return no_memory(js);
        if (js->lx.str_nul)
                return parse_error(js, VCDC_JSON_ERR_NUL_IN_KEY,
                                   "NUL byte in object key not supported");
        f = &js->frames[js->nframes - 1];
        if ((r = key_add(js, f, kp, klen)) < 0)
                return no_memory(js);
        if (r)
                return parse_error(js, VCDC_JSON_ERR_DUPLICATE_KEY,
                                   "duplicate object key");
        if (js->nframes == 1 && member_add(js, kp, klen))
                return no_memory(js);
        t = vcdc_jsonlex_next(&js->lx);
        if (t == VCDC_T_ERROR)
                return -1;
        if (t != VCDC_T_COLON)
                return parse_error(js, VCDC_JSON_ERR_SYNTAX, "':' expected");
        t = vcdc_jsonlex_next(&js->lx);
        goto value;

done:
        /* v is a whole value */
        if (js->nframes == 0) {
                *root = v;
                t = vcdc_jsonlex_next(&js->lx);
                if (t == VCDC_T_ERROR)
                        return -1;
                if (t != VCDC_T_EOF)
                        return parse_error(js, VCDC_JSON_ERR_END_EXPECTED,
                                           "end of file expected");
                if (v.type != VCDC_JSON_OBJECT)
                        js->nmembers = 0;
                for (i = 0; i < js->nmembers; i++) {
                        vcdc_json_span_t *mv = &js->members[i].value;

                        mv->floats = js->member_floats[i] == NONE
                                             ? NULL
                                             : js->floats +
                                                       js->member_floats[i];
                        mv->row_counts = NULL;
                        mv->row_floats = NULL;
                        if (js->member_rows[i] != NONE) {
                                mv->row_counts =
                                        js->row_counts + js->member_rows[i];
                                mv->row_floats =
                                        js->floats + js->member_row_floats[i];
                        }
                }
                return 0;
        }
        f = &js->frames[js->nframes - 1];
        f->count++;
        if (v.depth > f->depth)
                f->depth = v.depth;
        if (js->nframes == 1 && f->is_object) {
                js->members[js->nmembers - 1].value = v;
                js->member_floats[js->nmembers - 1] = v_floats;
                js->member_rows[js->nmembers - 1] = v_rows;
                js->member_row_floats[js->nmembers - 1] = v_row_floats;
        }
        if (f->rows_ok)
                row_add(js, f, &v, v_floats);
        t = vcdc_jsonlex_next(&js->lx);
        if (t == VCDC_T_ERROR)
                return -1;
        if (f->is_object) {
                if (t == VCDC_T_COMMA) {
                        t = vcdc_jsonlex_next(&js->lx);
                        goto key;
                }
                if (t != VCDC_T_RBRACE)
                        return parse_error(js, VCDC_JSON_ERR_SYNTAX,
                                           "'}' expected");
        } else {
                if (t == VCDC_T_COMMA) {
                        t = vcdc_jsonlex_next(&js->lx);
after_comma:
                        if (t == VCDC_T_EOF)
                                return parse_error(js, VCDC_JSON_ERR_SYNTAX,
                                                   "']' expected");
                        goto value;
                }
                if (t != VCDC_T_RBRACKET)
                        return parse_error(js, VCDC_JSON_ERR_SYNTAX,
                                           "']' expected");
        }
        v_floats = NONE; /* the last element's, not this container's */

close:
        /* the token at js->lx.tok closes the container on top */
        f = &js->frames[js->nframes - 1];
        v_rows = NONE;
        if (f->rows_ok && f->count && js->nrows - f->rows_base == f->count) {
                v_rows = f->rows_base;
                v_row_floats = f->floats_base;
        }
        v.p = f->start;
        v.len = (size_t)(js->lx.pos - f->start);
        v.type = f->is_object ? VCDC_JSON_OBJECT : VCDC_JSON_ARRAY;
        v.count = f->count;
        v.depth = f->depth + 1;
        v.escaped = 0;
        js->nkeys = f->key_base;
        js->nframes--;
        goto done;
}

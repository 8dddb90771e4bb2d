/*
 * vcdc - pgoutput protocol version 1 decoder (pgoutput.h), written from
 * PostgreSQL's documentation of the message formats. A reader over the
 * buffer fails at the first field that does not fit and says where.
 */
#include "pgoutput.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vcdc_pgoutput_s {
        vcdc_pgoutput_column_t *cols;
        vcdc_pgoutput_value_t *old_vals, *new_vals;
        uint32_t *relids;
        size_t cols_cap, old_cap, new_cap, relids_cap;
};

typedef struct reader_s {
        const unsigned char *p;
        size_t len, off;
        const char *what; /* the field being read, for errors */
} reader_t;

vcdc_pgoutput_t *vcdc_pgoutput_new(void) {
        return calloc(1, sizeof(vcdc_pgoutput_t));
}

void vcdc_pgoutput_destroy(vcdc_pgoutput_t *dec) {
        if (!dec)
                return;
        free(dec->cols);
        free(dec->old_vals);
        free(dec->new_vals);
        free(dec->relids);
        free(dec);
}

const char *vcdc_pgoutput_type_name(int type) {
        switch (type) {
        case VCDC_PGO_BEGIN:
                return "Begin";
        case VCDC_PGO_COMMIT:
                return "Commit";
        case VCDC_PGO_ORIGIN:
                return "Origin";
        case VCDC_PGO_RELATION:
                return "Relation";
        case VCDC_PGO_TYPE:
                return "Type";
        case VCDC_PGO_INSERT:
                return "Insert";
        case VCDC_PGO_UPDATE:
                return "Update";
        case VCDC_PGO_DELETE:
                return "Delete";
        case VCDC_PGO_TRUNCATE:
                return "Truncate";
        case VCDC_PGO_MESSAGE:
                return "Message";
        default:
                return "?";
        }
}

/* Grows *arrp to hold n items of size each. Returns 0 or -1. */
static int reserve(void **arrp, size_t *capp, size_t n, size_t size) {
        void *arr;

        if (n <= *capp)
                return 0;
        if (!(arr = realloc(*arrp, n * size)))
                return -1;
        *arrp = arr;
        *capp = n;
        return 0;
}

static int have(const reader_t *r, size_t n) {
        return r->len - r->off >= n;
}

static int get_u8(reader_t *r, uint8_t *v) {
        if (!have(r, 1))
                return -1;
        *v = r->p[r->off++];
        return 0;
}

static int get_u16(reader_t *r, uint16_t *v) {
        if (!have(r, 2))
                return -1;
        *v = (uint16_t)(r->p[r->off] << 8 | r->p[r->off + 1]);
        r->off += 2;
        return 0;
}

static int get_u32(reader_t *r, uint32_t *v) {
        const unsigned char *p = r->p + r->off;

        if (!have(r, 4))
                return -1;
        *v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
             (uint32_t)p[3];
        r->off += 4;
        return 0;
}

static int get_u64(reader_t *r, uint64_t *v) {
        uint32_t hi, lo;

        if (!have(r, 8))
                return -1;
        get_u32(r, &hi);
        get_u32(r, &lo);
        *v = (uint64_t)hi << 32 | lo;
        return 0;
}

/* A NUL-terminated string: *s points at it in the buffer. */
static int get_str(reader_t *r, const char **s) {
        const void *nul;

        if (!have(r, 1) ||
            !(nul = memchr(r->p + r->off, '\0', r->len - r->off)))
                return -1;
        *s = (const char *)r->p + r->off;
        r->off = (size_t)((const unsigned char *)nul - r->p) + 1;
        return 0;
}

static int fail(const reader_t *r, int type, char *errstr, size_t errstr_size) {
        snprintf(errstr, errstr_size,
                 "pgoutput %s message of %zu bytes: %s at byte %zu",
                 vcdc_pgoutput_type_name(type), r->len, r->what, r->off);
        return -1;
}

/* TupleData into vals (grown as needed). */
static int get_tuple(vcdc_pgoutput_t *dec, reader_t *r, int old,
                     vcdc_pgoutput_tuple_t *t) {
        vcdc_pgoutput_value_t *vals;
        uint16_t n;
        size_t i;

        r->what = "truncated column count";
        if (get_u16(r, &n))
                return -1;
        r->what = "too many columns";
        if (n > VCDC_PGOUTPUT_COLS_MAX)
                return -1;
        r->what = "out of memory";
        if (old ? reserve((void **)&dec->old_vals, &dec->old_cap, n,
                          sizeof(*vals))
                : reserve((void **)&dec->new_vals, &dec->new_cap, n,
                          sizeof(*vals)))
                return -1;
        vals = old ? dec->old_vals : dec->new_vals;
        for (i = 0; i < n; i++) {
                uint8_t kind;
                uint32_t len;

                r->what = "truncated column kind";
                if (get_u8(r, &kind))
                        return -1;
                vals[i].kind = (char)kind;
                vals[i].data = NULL;
                vals[i].len = 0;
                switch (kind) {
                case 'n':
                case 'u':
                        break;
                case 't':
                case 'b':
                        r->what = "truncated column length";
                        if (get_u32(r, &len))
                                return -1;
                        r->what = "column value longer than the message";
                        if (!have(r, len))
                                return -1;
                        vals[i].data = (const char *)r->p + r->off;
                        vals[i].len = len;
                        r->off += len;
                        break;
                default:
                        r->what = "unknown column kind";
                        r->off--;
                        return -1;
                }
        }
        t->ncols = n;
        t->cols = vals;
        return 0;
}

static int get_relation(vcdc_pgoutput_t *dec, reader_t *r,
                        vcdc_pgoutput_msg_t *msg) {
        uint16_t n;
        uint8_t replident;
        size_t i;

        r->what = "truncated relation";
        if (get_u32(r, &msg->oid) || get_str(r, &msg->nspname) ||
            get_str(r, &msg->name) || get_u8(r, &replident) || get_u16(r, &n))
                return -1;
        msg->replident = (char)replident;
        r->what = "too many columns";
        if (n > VCDC_PGOUTPUT_COLS_MAX)
                return -1;
        r->what = "out of memory";
        if (reserve((void **)&dec->cols, &dec->cols_cap, n, sizeof(*dec->cols)))
                return -1;
        for (i = 0; i < n; i++) {
                vcdc_pgoutput_column_t *c = &dec->cols[i];
                uint8_t flags;
                uint32_t typmod;

                r->what = "truncated column";
                if (get_u8(r, &flags) || get_str(r, &c->name) ||
                    get_u32(r, &c->type_oid) || get_u32(r, &typmod))
                        return -1;
                c->key = flags & 1;
                c->typmod = (int32_t)typmod;
        }
        msg->ncols = n;
        msg->cols = dec->cols;
        return 0;
}

static int get_truncate(vcdc_pgoutput_t *dec, reader_t *r,
                        vcdc_pgoutput_msg_t *msg) {
        uint32_t n;
        size_t i;

        r->what = "truncated relation count";
        if (get_u32(r, &n) || get_u8(r, &msg->flags))
                return -1;
        r->what = "relation count beyond the message";
        if ((size_t)n > (r->len - r->off) / 4)
                return -1;
        r->what = "out of memory";
        if (reserve((void **)&dec->relids, &dec->relids_cap, n ? n : 1,
                    sizeof(*dec->relids)))
                return -1;
        for (i = 0; i < n; i++)
                get_u32(r, &dec->relids[i]);
        msg->nrelids = n;
        msg->relids = dec->relids;
        return 0;
}

/* Insert, Update, Delete after the type byte. */
static int get_change(vcdc_pgoutput_t *dec, reader_t *r,
                      vcdc_pgoutput_msg_t *msg) {
        uint8_t tag;

        r->what = "truncated relation id";
        if (get_u32(r, &msg->oid))
                return -1;
        r->what = "missing tuple tag";
        if (get_u8(r, &tag))
                return -1;
        if (msg->type == VCDC_PGO_UPDATE || msg->type == VCDC_PGO_DELETE) {
                if (tag == 'K' || tag == 'O') {
                        msg->old_kind = (char)tag;
                        if (get_tuple(dec, r, 1, &msg->old_tuple))
                                return -1;
                        if (msg->type == VCDC_PGO_DELETE)
                                return 0;
                        r->what = "missing new tuple tag";
                        if (get_u8(r, &tag))
                                return -1;
                } else if (msg->type == VCDC_PGO_DELETE) {
                        r->what = "expected 'K' or 'O'";
                        r->off--;
                        return -1;
                }
        }
        if (tag != 'N') {
                r->what = "expected 'N'";
                r->off--;
                return -1;
        }
        return get_tuple(dec, r, 0, &msg->new_tuple);
}

int vcdc_pgoutput_decode(vcdc_pgoutput_t *dec, const char *buf, size_t len,
                         vcdc_pgoutput_msg_t *msg, char *errstr,
                         size_t errstr_size) {
        reader_t r = {.p = (const unsigned char *)buf, .len = len};
        uint8_t type;
        uint64_t ts = 0;
        uint32_t clen = 0;
        int rc = 0;

        memset(msg, 0, sizeof(*msg));
        r.what = "empty message";
        if (get_u8(&r, &type))
                return fail(&r, 0, errstr, errstr_size);
        msg->type = (vcdc_pgoutput_type_t)type;
        switch (type) {
        case VCDC_PGO_BEGIN:
                r.what = "truncated Begin";
                rc = get_u64(&r, &msg->lsn) || get_u64(&r, &ts) ||
                     get_u32(&r, &msg->xid);
                msg->ts_us = (int64_t)ts;
                break;
        case VCDC_PGO_COMMIT:
                r.what = "truncated Commit";
                rc = get_u8(&r, &msg->flags) || get_u64(&r, &msg->lsn) ||
                     get_u64(&r, &msg->end_lsn) || get_u64(&r, &ts);
                msg->ts_us = (int64_t)ts;
                break;
        case VCDC_PGO_ORIGIN:
                r.what = "truncated Origin";
                rc = get_u64(&r, &msg->lsn) || get_str(&r, &msg->name);
                break;
        case VCDC_PGO_RELATION:
                rc = get_relation(dec, &r, msg);
                break;
        case VCDC_PGO_TYPE:
                r.what = "truncated Type";
                rc = get_u32(&r, &msg->oid) || get_str(&r, &msg->nspname) ||
                     get_str(&r, &msg->name);
                break;
        case VCDC_PGO_INSERT:
        case VCDC_PGO_UPDATE:
        case VCDC_PGO_DELETE:
                rc = get_change(dec, &r, msg);
                break;
        case VCDC_PGO_TRUNCATE:
                rc = get_truncate(dec, &r, msg);
                break;
        case VCDC_PGO_MESSAGE:
                r.what = "truncated Message";
                rc = get_u8(&r, &msg->flags) || get_u64(&r, &msg->lsn) ||
                     get_str(&r, &msg->name) || get_u32(&r, &clen);
                if (!rc) {
                        r.what = "content longer than the message";
                        rc = !have(&r, clen);
                }
                if (!rc) {
                        msg->content = (const char *)r.p + r.off;
                        msg->content_len = clen;
                        r.off += clen;
                }
                break;
        default:
                /* 'S', 'E', 'c', 'A' (streaming), 'b', 'P', 'K', 'r'
                 * (two-phase) belong to versions vcdc does not ask for. */
                snprintf(errstr, errstr_size,
                         "pgoutput message of unknown type 0x%02x ('%c') "
                         "for protocol version 1",
                         type, type >= 0x20 && type < 0x7f ? type : '?');
                return -1;
        }
        if (rc)
                return fail(&r, type, errstr, errstr_size);
        if (r.off != len) {
                r.what = "trailing bytes";
                return fail(&r, type, errstr, errstr_size);
        }
        return 0;
}

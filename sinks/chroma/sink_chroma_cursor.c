/*
 * vcdc - the Chroma sink's scan cursor, as text: where the next page
 * starts (an offset in Chroma's insertion order) and the ids last
 * returned, the anchors that let a scan find its place again after
 * records before it were deleted (sink_chroma_read.c). Text in, text out:
 * no request, no answer.
 *
 *   OFFSET[,LEN:ID]...   e.g. "120,3:a/b,4:x,yz"
 *
 * A cursor of the offset alone (vcdc before anchors) is read too.
 */
#include "sink_chroma_int.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void vcdc_chroma_cursor_clear(vcdc_chroma_cursor_t *cur) {
        size_t i;

        for (i = 0; i < cur->anchor_cnt; i++)
                free(cur->anchors[i]);
        memset(cur, 0, sizeof(*cur));
}

int vcdc_chroma_cursor_push(vcdc_chroma_cursor_t *cur, const char *id) {
        char *copy = strdup(id);

        if (!copy)
                return -1;
        if (cur->anchor_cnt == VCDC_CHROMA_SCAN_ANCHORS) {
                free(cur->anchors[0]);
                memmove(cur->anchors, cur->anchors + 1,
                        (cur->anchor_cnt - 1) * sizeof(*cur->anchors));
                cur->anchor_cnt--;
        }
        cur->anchors[cur->anchor_cnt++] = copy;
        return 0;
}

void vcdc_chroma_cursor_keep(vcdc_chroma_cursor_t *cur, size_t cnt) {
        while (cur->anchor_cnt > cnt)
                free(cur->anchors[--cur->anchor_cnt]);
}

/* A decimal at *pp, moved past it. */
static int read_decimal(const char **pp, uint64_t *vp) {
        unsigned long long v;
        char *end;

        if (**pp < '0' || **pp > '9')
                return -1;
        errno = 0;
        v = strtoull(*pp, &end, 10);
        if (errno)
                return -1;
        *pp = end;
        *vp = v;
        return 0;
}

int vcdc_chroma_cursor_parse(const char *text, vcdc_chroma_cursor_t *cur) {
        const char *p = text;
        uint64_t len;

        memset(cur, 0, sizeof(*cur));
        if (read_decimal(&p, &cur->offset) == -1)
                return -1;
        while (*p == ',') {
                p++;
                if (read_decimal(&p, &len) == -1 || *p != ':' ||
                    len > strlen(p + 1) ||
                    cur->anchor_cnt == VCDC_CHROMA_SCAN_ANCHORS ||
                    memchr(p + 1, '\0', (size_t)len))
                        goto err;
                if (!(cur->anchors[cur->anchor_cnt] =
                              strndup(p + 1, (size_t)len)))
                        goto err;
                cur->anchor_cnt++;
                p += 1 + len;
        }
        if (*p)
                goto err;
        return 0;
err:
        vcdc_chroma_cursor_clear(cur);
        return -1;
}

char *vcdc_chroma_cursor_format(const vcdc_chroma_cursor_t *cur) {
        vcdc_buf_t b = VCDC_BUF_INIT;
        size_t i;

        vcdc_buf_printf(&b, "%llu", (unsigned long long)cur->offset);
        for (i = 0; i < cur->anchor_cnt; i++) {
                vcdc_buf_printf(&b, ",%zu:", strlen(cur->anchors[i]));
                vcdc_buf_puts(&b, cur->anchors[i]);
        }
        return vcdc_buf_detach(&b, NULL);
}

/*
 * vcdc - libFuzzer target: vcdc snapshot's checkpoints as a rerun reads
 * them from the control topic (snap_ckpt_decode). A value accepted must
 * encode and decode back to the same fields; a refused one leaves
 * nothing allocated behind.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snap_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_offsets(const int64_t *a, const int64_t *b, int n) {
        return (!a && !b) ||
               (a && b && !memcmp(a, b, (size_t)n * sizeof(*a)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ckpt_t ck, back;
        char *text;
        int parts, r;

        for (parts = 1; parts <= 3; parts++) {
                r = snap_ckpt_decode("t", "c", parts, data, size, &ck);
                if (r != 1) {
                        if (ck.cursor || ck.cursor_lw || ck.hw)
                                abort();
                        continue;
                }
                if (!(text = snap_ckpt_encode("t", "c", &ck)))
                        abort();
                if (snap_ckpt_decode("t", "c", parts, text, strlen(text),
                                     &back) != 1 ||
                    back.state != ck.state || strcmp(back.run, ck.run) ||
                    back.chunk != ck.chunk ||
                    (!back.cursor) != (!ck.cursor) ||
                    (ck.cursor && strcmp(back.cursor, ck.cursor)) ||
                    !same_offsets(back.cursor_lw, ck.cursor_lw, parts) ||
                    !same_offsets(back.hw, ck.hw, parts) ||
                    back.records != ck.records)
                        abort();
                snap_ckpt_clear(&back);
                snap_ckpt_clear(&ck);
                free(text);
        }
        return 0;
}

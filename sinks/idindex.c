/*
 * vcdc - the index of ids asked for (idindex.h).
 */
#include "idindex.h"

#include <stdlib.h>
#include <string.h>

static int ent_cmp(const void *a, const void *b) {
        const vcdc_idindex_ent_t *x = a, *y = b;
        int c = strcmp(x->id, y->id);

        return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

int vcdc_idindex_init(vcdc_idindex_t *ix, const char *const *ids, size_t cnt) {
        size_t i;

        ix->cnt = 0;
        if (!(ix->ents = malloc((cnt ? cnt : 1) * sizeof(*ix->ents))))
                return -1;
        for (i = 0; i < cnt; i++) {
                ix->ents[i].id = ids[i];
                ix->ents[i].idx = i;
        }
        qsort(ix->ents, cnt, sizeof(*ix->ents), ent_cmp);
        ix->cnt = cnt;
        return 0;
}

void vcdc_idindex_free(vcdc_idindex_t *ix) {
        free(ix->ents);
        ix->ents = NULL;
        ix->cnt = 0;
}

size_t vcdc_idindex_find(const vcdc_idindex_t *ix, const char *id) {
        size_t lo = 0, hi = ix->cnt;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(ix->ents[mid].id, id) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < ix->cnt && !strcmp(ix->ents[lo].id, id) ? lo : ix->cnt;
}

int vcdc_idindex_match(const vcdc_idindex_t *ix, size_t pos, const char *id,
                       size_t *idxp) {
        if (pos >= ix->cnt || strcmp(ix->ents[pos].id, id))
                return 0;
        if (idxp)
                *idxp = ix->ents[pos].idx;
        return 1;
}

/*
 * vcdc - the index a target should get, as the operator gives it, and its
 * state in words (sinkindex.h). Pure: it builds no SQL and opens nothing.
 */
#include "sinkindex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *vcdc_index_kind_name(vcdc_index_kind_t kind) {
        switch (kind) {
        case VCDC_INDEX_HNSW:
                return "hnsw";
        case VCDC_INDEX_IVFFLAT:
                return "ivfflat";
        case VCDC_INDEX_NONE:
                break;
        }
        return "none";
}

const char *vcdc_index_state_name(vcdc_index_state_t state) {
        switch (state) {
        case VCDC_INDEX_BUILDING:
                return "building";
        case VCDC_INDEX_VALID:
                return "valid";
        case VCDC_INDEX_INVALID:
                return "invalid";
        case VCDC_INDEX_ABSENT:
                break;
        }
        return "none";
}

/* One key a kind takes, with pgvector's bounds. */
typedef struct param_s {
        vcdc_index_kind_t kind;
        const char *key;
        long min, max;
} param_t;

static const param_t params_known[] = {
        {VCDC_INDEX_HNSW, "m", 2, 100},
        {VCDC_INDEX_HNSW, "ef_construction", 4, 1000},
        {VCDC_INDEX_IVFFLAT, "lists", 1, 32768},
        /* either kind (NONE stands for both here); a size, not a count */
        {VCDC_INDEX_NONE, "maintenance_work_mem", 0, 0},
};

/* PostgreSQL's bounds for maintenance_work_mem, in kB. */
#define WORK_MEM_MIN_KB 1024LL
#define WORK_MEM_MAX_KB 2147483647LL

/* A size as PostgreSQL writes one: digits, then kB, MB, GB or TB (none:
 * kB). Returns the kB, or -1 when it is not one or out of bounds. */
static long long parse_kb(const char *value) {
        static const struct {
                const char *unit;
                long long kb;
        } units[] = {{"", 1},
                     {"kB", 1},
                     {"MB", 1024},
                     {"GB", 1024 * 1024},
                     {"TB", 1024LL * 1024 * 1024}};
        long long v;
        char *end;
        size_t i;

        if (*value < '0' || *value > '9')
                return -1;
        errno = 0;
        v = strtoll(value, &end, 10);
        if (errno)
                return -1;
        for (i = 0; i < sizeof(units) / sizeof(*units); i++)
                if (!strcmp(end, units[i].unit))
                        break;
        if (i == sizeof(units) / sizeof(*units) ||
            v > WORK_MEM_MAX_KB / units[i].kb)
                return -1;
        v *= units[i].kb;
        return v < WORK_MEM_MIN_KB ? -1 : v;
}

#define PARAM_CNT (sizeof(params_known) / sizeof(*params_known))

static int *param_slot(vcdc_index_spec_t *spec, const char *key) {
        if (!strcmp(key, "m"))
                return &spec->m;
        if (!strcmp(key, "ef_construction"))
                return &spec->ef_construction;
        return &spec->lists;
}

static const char *allowed_keys(vcdc_index_kind_t kind) {
        return kind == VCDC_INDEX_HNSW
                       ? "m, ef_construction, maintenance_work_mem"
                       : "lists, maintenance_work_mem";
}

/* One "key=value" of len bytes. seen: the keys already given. */
static int parse_param(const char *item, size_t len, vcdc_index_spec_t *spec,
                       int *seen, char *errstr, size_t errstr_size) {
        const char *eq = memchr(item, '=', len);
        char key[32], value[32], *end;
        size_t i, klen;
        long v;

        klen = eq ? (size_t)(eq - item) : len;
        if (!eq || !klen || klen >= sizeof(key) ||
            len - klen - 1 >= sizeof(value) || len - klen - 1 == 0) {
                snprintf(errstr, errstr_size,
                         "--index-param \"%.*s\": expected key=value (%s)",
                         (int)(len > 64 ? 64 : len), item,
                         allowed_keys(spec->kind));
                return -1;
        }
        memcpy(key, item, klen);
        key[klen] = '\0';
        memcpy(value, eq + 1, len - klen - 1);
        value[len - klen - 1] = '\0';
        for (i = 0; i < PARAM_CNT; i++)
                if ((params_known[i].kind == spec->kind ||
                     params_known[i].kind == VCDC_INDEX_NONE) &&
                    !strcmp(params_known[i].key, key))
                        break;
        if (i == PARAM_CNT) {
                snprintf(errstr, errstr_size,
                         "--index-param %s: not a parameter of a %s index "
                         "(%s)",
                         key, vcdc_index_kind_name(spec->kind),
                         allowed_keys(spec->kind));
                return -1;
        }
        if (seen[i]) {
                snprintf(errstr, errstr_size, "--index-param %s: given twice",
                         key);
                return -1;
        }
        seen[i] = 1;
        if (params_known[i].kind == VCDC_INDEX_NONE) {
                if ((spec->maintenance_work_mem_kb = parse_kb(value)) < 0) {
                        snprintf(errstr, errstr_size,
                                 "--index-param %s=%s: expected a size "
                                 "from 1MB to 2147483647kB (kB, MB, GB, "
                                 "TB)",
                                 key, value);
                        return -1;
                }
                return 0;
        }
        errno = 0;
        v = strtol(value, &end, 10);
        if (end == value || *end || errno || v < params_known[i].min ||
            v > params_known[i].max) {
                snprintf(errstr, errstr_size,
                         "--index-param %s=%s: expected an integer in "
                         "%ld..%ld",
                         key, value, params_known[i].min, params_known[i].max);
                return -1;
        }
        *param_slot(spec, key) = (int)v;
        return 0;
}

int vcdc_index_spec_parse(const char *kind, const char *params,
                          vcdc_index_spec_t *spec, char *errstr,
                          size_t errstr_size) {
        int seen[PARAM_CNT] = {0};
        const char *p, *comma;

        memset(spec, 0, sizeof(*spec));
        if (!kind || !strcmp(kind, "none"))
                spec->kind = VCDC_INDEX_NONE;
        else if (!strcmp(kind, "hnsw"))
                spec->kind = VCDC_INDEX_HNSW;
        else if (!strcmp(kind, "ivfflat"))
                spec->kind = VCDC_INDEX_IVFFLAT;
        else {
                snprintf(errstr, errstr_size,
                         "--index %.64s: expected hnsw, ivfflat or none", kind);
                return -1;
        }
        if (spec->kind == VCDC_INDEX_NONE) {
                if (params && *params) {
                        snprintf(errstr, errstr_size,
                                 "--index-param needs --index hnsw or "
                                 "ivfflat");
                        return -1;
                }
                return 0;
        }
        spec->m = VCDC_INDEX_HNSW_M_DEFAULT;
        spec->ef_construction = VCDC_INDEX_HNSW_EF_DEFAULT;
        spec->lists = VCDC_INDEX_LISTS_DEFAULT;
        if (spec->kind == VCDC_INDEX_HNSW)
                spec->lists = 0;
        else
                spec->m = spec->ef_construction = 0;
        for (p = params; p && *p; p = comma ? comma + 1 : NULL) {
                comma = strchr(p, ',');
                if (parse_param(p, comma ? (size_t)(comma - p) : strlen(p),
                                spec, seen, errstr, errstr_size) == -1)
                        return -1;
                if (comma && !comma[1]) {
                        snprintf(errstr, errstr_size,
                                 "--index-param: a trailing comma");
                        return -1;
                }
        }
        if (spec->kind == VCDC_INDEX_HNSW &&
            spec->ef_construction < 2 * spec->m) {
                snprintf(errstr, errstr_size,
                         "--index-param: ef_construction (%d) must be at "
                         "least twice m (%d)",
                         spec->ef_construction, spec->m);
                return -1;
        }
        return 0;
}

void vcdc_index_spec_format(const vcdc_index_spec_t *spec, char *buf,
                            size_t size) {
        char mem[48] = "";

        if (spec->maintenance_work_mem_kb)
                snprintf(mem, sizeof(mem), ",maintenance_work_mem=%lldkB",
                         spec->maintenance_work_mem_kb);
        if (spec->kind == VCDC_INDEX_HNSW)
                snprintf(buf, size, "m=%d,ef_construction=%d%s", spec->m,
                         spec->ef_construction, mem);
        else if (spec->kind == VCDC_INDEX_IVFFLAT)
                snprintf(buf, size, "lists=%d%s", spec->lists, mem);
        else
                snprintf(buf, size, "%s", "");
}

void vcdc_index_info_format(const vcdc_index_info_t *info, char *buf,
                            size_t size) {
        const char *state = vcdc_index_state_name(info->state);

        if (info->state == VCDC_INDEX_ABSENT)
                snprintf(buf, size, "%s", state);
        else if (info->state != VCDC_INDEX_BUILDING)
                snprintf(buf, size, "%s %s %s%s%s%s", info->name,
                         vcdc_index_kind_name(info->kind), state,
                         info->opclass[0] ? " (" : "", info->opclass,
                         info->opclass[0] ? ")" : "");
        else if (info->percent >= 0)
                snprintf(buf, size, "%s %s %s (%s, %.0f%%)", info->name,
                         vcdc_index_kind_name(info->kind), state,
                         info->phase[0] ? info->phase : "starting",
                         info->percent);
        else
                snprintf(buf, size, "%s %s %s (%s)", info->name,
                         vcdc_index_kind_name(info->kind), state,
                         info->phase[0] ? info->phase : "starting");
}

/*
 * vcdc - what an approximate index on a target is (DESIGN.md, The index
 * on NEW): its kind and build parameters as the operator gives them
 * (--index, --index-param), and its state as a sink reports it. Pure:
 * parsing and names only. Nothing here talks to a database or knows one's
 * SQL (sinks/pgvector/sink_pgvector_index.c builds pgvector's).
 */
#ifndef VCDC_SINKINDEX_H
#define VCDC_SINKINDEX_H

#include <stddef.h>

typedef enum vcdc_index_kind_e {
        VCDC_INDEX_NONE = 0, /* no index (today's behaviour) */
        VCDC_INDEX_HNSW,
        VCDC_INDEX_IVFFLAT,
} vcdc_index_kind_t;

/* pgvector's own defaults and bounds (hnsw: m 2..100, ef_construction
 * 4..1000 and at least 2 * m; ivfflat: lists 1..32768). */
#define VCDC_INDEX_HNSW_M_DEFAULT  16
#define VCDC_INDEX_HNSW_EF_DEFAULT 64
#define VCDC_INDEX_LISTS_DEFAULT   100

typedef struct vcdc_index_spec_s {
        vcdc_index_kind_t kind;
        int m;                             /* hnsw */
        int ef_construction;               /* hnsw */
        int lists;                         /* ivfflat */
        long long maintenance_work_mem_kb; /* for the build; 0: the
                                            * server's own */
} vcdc_index_spec_t;

typedef enum vcdc_index_state_e {
        VCDC_INDEX_ABSENT = 0, /* no vcdc index on the target */
        VCDC_INDEX_BUILDING,   /* a build is under way */
        VCDC_INDEX_VALID,      /* built: queries use it */
        VCDC_INDEX_INVALID,    /* a build that stopped midway left it */
} vcdc_index_state_t;

/* What a sink reports of the index vcdc builds on its target. */
typedef struct vcdc_index_info_s {
        vcdc_index_state_t state;
        vcdc_index_kind_t kind; /* NONE while ABSENT */
        char name[64];          /* the index's name, "" while ABSENT */
        char opclass[64];       /* its operator class, "" unknown */
        char phase[64];         /* BUILDING: the server's phase, "" */
        double percent;         /* BUILDING: done of the phase, -1 unknown */
} vcdc_index_info_t;

/** "none", "hnsw", "ivfflat". */
const char *vcdc_index_kind_name(vcdc_index_kind_t kind);

/** "none", "building", "valid", "invalid". */
const char *vcdc_index_state_name(vcdc_index_state_t state);

/**
 * Parses --index KIND (hnsw, ivfflat, none) and --index-param PARAMS
 * (NULL or "key=value,key=value": m and ef_construction for hnsw, lists
 * for ivfflat; for either, maintenance_work_mem, a size in PostgreSQL's
 * units, 1MB to 2147483647kB: the build's memory, which decides whether
 * an HNSW graph is built in memory) into *spec, defaults filled.
 * Returns 0, or -1 with errstr saying what is wrong and what is allowed
 * (an unknown kind or key, a value out of range, a key given twice,
 * parameters for none).
 */
int vcdc_index_spec_parse(const char *kind, const char *params,
                          vcdc_index_spec_t *spec, char *errstr,
                          size_t errstr_size);

/** The parameters as "m=16,ef_construction=64" or "lists=100" ("" for
 *  none), ",maintenance_work_mem=NkB" when given, for logs. */
void vcdc_index_spec_format(const vcdc_index_spec_t *spec, char *buf,
                            size_t size);

/** The state in words: "none", "valid", "building (loading tuples, 45%)"
 *  for a report line. */
void vcdc_index_info_format(const vcdc_index_info_t *info, char *buf,
                            size_t size);

#endif

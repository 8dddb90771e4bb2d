/*
 * vcdc - the pgvector index's pure helpers (sink_pgvector_idxsql.c): its
 * name, operator class, the SQL that builds, drops and reports it, and
 * progress arithmetic. Exposed for tests; nothing here holds a
 * connection or sink state (sink_pgvector_index.c runs the statements).
 */
#ifndef VCDC_SINK_PGVECTOR_INDEX_H
#define VCDC_SINK_PGVECTOR_INDEX_H

#include <stddef.h>

#include "sink.h"

/**
 * The index's name, "<table>_vcdc_<kind>_idx" (docs_vcdc_hnsw_idx), with
 * the table's part cut so the whole fits PostgreSQL's 63 bytes: the same
 * table and kind always give the same name, which is how a restart finds
 * the index it began. Returns 0, or -1 when kind is NONE or out is too
 * small (64 bytes suffice).
 */
int vcdc_pgvector_index_name(const char *table, vcdc_index_kind_t kind,
                             char *out, size_t out_size);

/** The operator class for metric: vector_cosine_ops, vector_l2_ops,
 *  vector_ip_ops (UNSET: cosine's, the sink's default). */
const char *vcdc_pgvector_index_opclass(vcdc_metric_t metric);

/**
 * CREATE INDEX CONCURRENTLY IF NOT EXISTS "<name>" ON "<table>" USING
 * hnsw|ivfflat (embedding <opclass>) WITH (<spec's parameters>). Returns a
 * new string (free() it), NULL on allocation failure or a spec of kind
 * NONE.
 */
char *vcdc_pgvector_index_create_sql(const char *table,
                                     const vcdc_index_spec_t *spec,
                                     vcdc_metric_t metric);

/** DROP INDEX CONCURRENTLY IF EXISTS "<name>". Returns a new string
 *  (free() it), NULL on allocation failure. */
char *vcdc_pgvector_index_drop_sql(const char *name);

/** vcdc's indexes on a table: $1 the quoted table name (for
 *  to_regclass), $2 a text[] of index names. Rows: name, valid (t/f),
 *  access method, operator class; valid ones first. */
const char *vcdc_pgvector_index_catalog_sql(void);

/** Builds of indexes on a table under way: $1 the quoted table name. Rows:
 *  the index's name ("" before it exists), phase, blocks done, blocks
 *  total, tuples done, tuples total. */
const char *vcdc_pgvector_index_progress_sql(void);

/**
 * Percent done of a build's phase from pg_stat_progress_create_index's
 * counters: blocks when the phase counts blocks (the table scan that
 * loads the graph or the lists, the validation of a concurrent build),
 * else tuples; -1 when neither is known.
 */
double vcdc_pgvector_index_percent(long long blocks_done,
                                   long long blocks_total,
                                   long long tuples_done,
                                   long long tuples_total);

/** The kind an access method name stands for ("hnsw", "ivfflat"), NONE
 *  for another. */
vcdc_index_kind_t vcdc_pgvector_index_kind_of(const char *amname);

#endif

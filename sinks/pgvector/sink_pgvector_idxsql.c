/*
 * vcdc - the pgvector index's names and SQL text (sink_pgvector_index.h).
 * Pure string building: it never runs a statement nor keeps state (that
 * is sink_pgvector_index.c's).
 */
#include "sink_pgvector_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink_pgvector_int.h"

int vcdc_pgvector_index_name(const char *table, vcdc_index_kind_t kind,
                             char *out, size_t out_size) {
        char suffix[32];
        size_t room, tlen = strlen(table);
        int n;

        if (kind == VCDC_INDEX_NONE)
                return -1;
        snprintf(suffix, sizeof(suffix), "_vcdc_%s_idx",
                 vcdc_index_kind_name(kind));
        /* Table names are ASCII (vcdc_pgvector_ident_valid()): cutting at
         * any byte keeps the name whole characters. */
        room = VCDC_PGVECTOR_IDENT_MAX - strlen(suffix);
        if (tlen > room)
                tlen = room;
        n = snprintf(out, out_size, "%.*s%s", (int)tlen, table, suffix);
        return n < 0 || (size_t)n >= out_size ? -1 : 0;
}

const char *vcdc_pgvector_index_opclass(vcdc_metric_t metric) {
        switch (metric) {
        case VCDC_METRIC_L2:
                return "vector_l2_ops";
        case VCDC_METRIC_IP:
                return "vector_ip_ops";
        case VCDC_METRIC_COSINE:
        case VCDC_METRIC_UNSET:
                break;
        }
        return "vector_cosine_ops";
}

char *vcdc_pgvector_index_create_sql(const char *table,
                                     const vcdc_index_spec_t *spec,
                                     vcdc_metric_t metric) {
        char name[VCDC_PGVECTOR_IDENT_MAX + 1], with[96];
        char *qname = NULL, *qtable = NULL, *sql = NULL;
        size_t size;

        if (vcdc_pgvector_index_name(table, spec->kind, name, sizeof(name)))
                return NULL;
        if (spec->kind == VCDC_INDEX_HNSW)
                snprintf(with, sizeof(with), "m = %d, ef_construction = %d",
                         spec->m, spec->ef_construction);
        else
                snprintf(with, sizeof(with), "lists = %d", spec->lists);
        if (!(qname = vcdc_pgvector_quote_ident(name)) ||
            !(qtable = vcdc_pgvector_quote_ident(table)))
                goto done;
        size = strlen(qname) + strlen(qtable) + strlen(with) + 160;
        if (!(sql = malloc(size)))
                goto done;
        snprintf(sql, size,
                 "CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s USING %s "
                 "(embedding %s) WITH (%s)",
                 qname, qtable, vcdc_index_kind_name(spec->kind),
                 vcdc_pgvector_index_opclass(metric), with);
done:
        free(qtable);
        free(qname);
        return sql;
}

char *vcdc_pgvector_index_drop_sql(const char *name) {
        char *qname = vcdc_pgvector_quote_ident(name), *sql = NULL;
        size_t size;

        if (!qname)
                return NULL;
        size = strlen(qname) + 48;
        if ((sql = malloc(size)))
                snprintf(sql, size, "DROP INDEX CONCURRENTLY IF EXISTS %s",
                         qname);
        free(qname);
        return sql;
}

const char *vcdc_pgvector_index_catalog_sql(void) {
        return "SELECT c.relname, i.indisvalid, am.amname, oc.opcname "
               "FROM pg_index i "
               "JOIN pg_class c ON c.oid = i.indexrelid "
               "JOIN pg_am am ON am.oid = c.relam "
               "LEFT JOIN pg_opclass oc ON oc.oid = i.indclass[0] "
               "WHERE i.indrelid = to_regclass($1) "
               "AND c.relname = ANY($2::text[]) "
               "ORDER BY i.indisvalid DESC, c.relname";
}

const char *vcdc_pgvector_index_progress_sql(void) {
        return "SELECT coalesce((SELECT relname FROM pg_class "
               "WHERE oid = p.index_relid), ''), p.phase, p.blocks_done, "
               "p.blocks_total, p.tuples_done, p.tuples_total "
               "FROM pg_stat_progress_create_index p "
               "WHERE p.relid = to_regclass($1)";
}

double vcdc_pgvector_index_percent(long long blocks_done,
                                   long long blocks_total,
                                   long long tuples_done,
                                   long long tuples_total) {
        double pct;

        if (blocks_total > 0)
                pct = 100.0 * (double)blocks_done / (double)blocks_total;
        else if (tuples_total > 0)
                pct = 100.0 * (double)tuples_done / (double)tuples_total;
        else
                return -1;
        return pct < 0 ? 0 : pct > 100 ? 100 : pct;
}

vcdc_index_kind_t vcdc_pgvector_index_kind_of(const char *amname) {
        if (!strcmp(amname, "hnsw"))
                return VCDC_INDEX_HNSW;
        if (!strcmp(amname, "ivfflat"))
                return VCDC_INDEX_IVFFLAT;
        return VCDC_INDEX_NONE;
}

/*
 * vcdc - start-up checks and slot operations in the source database
 * (source.h).
 */
#include "source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgconn.h"

#define IDENT_MAX 63

int vcdc_source_slot_name_valid(const char *name) {
        size_t i;

        if (!name || !*name || strlen(name) > IDENT_MAX)
                return 0;
        for (i = 0; name[i]; i++)
                if (!((name[i] >= 'a' && name[i] <= 'z') ||
                      (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
                        return 0;
        return 1;
}

int vcdc_source_ident_valid(const char *name) {
        size_t i;

        if (!name || !*name || strlen(name) > IDENT_MAX ||
            (name[0] >= '0' && name[0] <= '9'))
                return 0;
        for (i = 0; name[i]; i++)
                if (!((name[i] >= 'a' && name[i] <= 'z') ||
                      (name[i] >= 'A' && name[i] <= 'Z') ||
                      (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
                        return 0;
        return 1;
}

/* Runs a query expected to answer rows; NULL with status and errstr
 * (prefixed with what) otherwise. */
static PGresult *query(PGconn *conn, const char *what, const char *sql,
                       int nparams, const char *const *params, int *statusp,
                       char *errstr, size_t errstr_size) {
        char err[512];
        PGresult *res = vcdc_pgconn_exec(conn, sql, nparams, params, statusp,
                                         err, sizeof(err));

        if (!res)
                snprintf(errstr, errstr_size, "%s: %s", what, err);
        return res;
}

static long get_long(const PGresult *res, int row, int col) {
        return strtol(PQgetvalue(res, row, col), NULL, 10);
}

static int get_bool(const PGresult *res, int row, int col) {
        return !PQgetisnull(res, row, col) &&
               PQgetvalue(res, row, col)[0] == 't';
}

int vcdc_source_check_server(PGconn *conn, char *errstr, size_t errstr_size) {
        static const char sql[] =
                "SELECT current_setting('server_version_num')::int, "
                "current_setting('wal_level'), "
                "current_setting('max_replication_slots')::int, "
                "current_setting('max_wal_senders')::int, "
                "r.rolreplication OR r.rolsuper, current_user "
                "FROM pg_roles r WHERE r.rolname = current_user";
        PGresult *res;
        int status = VCDC_PG_FATAL;
        long version;

        if (!(res = query(conn, "checking the server", sql, 0, NULL, &status,
                          errstr, errstr_size)))
                return status;
        status = VCDC_PG_FATAL;
        if (PQntuples(res) != 1) {
                snprintf(errstr, errstr_size,
                         "checking the server: the current role is not in "
                         "pg_roles");
                goto done;
        }
        version = get_long(res, 0, 0);
        if (version < VCDC_SOURCE_VERSION_MIN) {
                snprintf(errstr, errstr_size,
                         "PostgreSQL %ld is too old: vcdc-capture needs 12 "
                         "or newer (pg_copy_logical_replication_slot)",
                         version / 10000);
                goto done;
        }
        if (strcmp(PQgetvalue(res, 0, 1), "logical")) {
                snprintf(errstr, errstr_size,
                         "wal_level is %s, not logical: PostgreSQL writes no "
                         "logical decoding information. Set wal_level = "
                         "logical (postgresql.conf or ALTER SYSTEM SET "
                         "wal_level = logical) and restart PostgreSQL",
                         PQgetvalue(res, 0, 1));
                goto done;
        }
        if (get_long(res, 0, 2) < 1 || get_long(res, 0, 3) < 1) {
                snprintf(errstr, errstr_size,
                         "max_replication_slots is %s and max_wal_senders "
                         "is %s: both must be at least 1 (then restart "
                         "PostgreSQL)",
                         PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
                goto done;
        }
        if (!get_bool(res, 0, 4)) {
                snprintf(errstr, errstr_size,
                         "role %s has no REPLICATION privilege: it cannot "
                         "create or read replication slots. Grant it: ALTER "
                         "ROLE %s REPLICATION",
                         PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 5));
                goto done;
        }
        status = VCDC_PG_OK;
done:
        PQclear(res);
        return status;
}

static char *quote_ident(PGconn *conn, const char *name) {
        char *q = PQescapeIdentifier(conn, name, strlen(name)), *copy;

        if (!q)
                return NULL;
        copy = strdup(q);
        PQfreemem(q);
        return copy;
}

/* Fills col from the row of pg_attribute whose name is col's name. */
static int find_column(const PGresult *cols, const char *name,
                       vcdc_source_col_t *col, int *attnum, int *notnull,
                       int *generated) {
        int i;

        for (i = 0; i < PQntuples(cols); i++) {
                if (strcmp(PQgetvalue(cols, i, 0), name))
                        continue;
                if (!(col->name = strdup(name)))
                        return -1;
                col->type_oid =
                        (uint32_t)strtoul(PQgetvalue(cols, i, 1), NULL, 10);
                snprintf(col->type_name, sizeof(col->type_name), "%s",
                         PQgetvalue(cols, i, 2));
                *attnum = (int)get_long(cols, i, 4);
                *notnull = get_bool(cols, i, 5);
                *generated = get_bool(cols, i, 6);
                return 1;
        }
        return 0;
}

/* The column names of the table, for "no such column" messages. */
static void list_columns(const PGresult *cols, char *out, size_t size) {
        size_t off = 0;
        int i;

        out[0] = '\0';
        for (i = 0; i < PQntuples(cols) && off < size; i++)
                off += (size_t)snprintf(out + off, size - off, "%s%s",
                                        i ? ", " : "", PQgetvalue(cols, i, 0));
}

/* The checks of one column's type, by its type name in pg_type
 * (PQgetvalue column 3) and namespace (column 7). */
static int check_types(const PGresult *cols, vcdc_source_table_t *t,
                       char *errstr, size_t errstr_size) {
        static const struct {
                const char *typname;
                vcdc_id_type_t type;
        } id_types[] = {
                {"text", VCDC_ID_TEXT}, {"varchar", VCDC_ID_TEXT},
                {"int2", VCDC_ID_INT},  {"int4", VCDC_ID_INT},
                {"int8", VCDC_ID_INT},  {"uuid", VCDC_ID_UUID},
        };
        const char *typname = NULL, *nsp = NULL;
        size_t k;
        int i;

        for (i = 0; i < PQntuples(cols); i++) {
                const char *name = PQgetvalue(cols, i, 0);
                typname = PQgetvalue(cols, i, 3);
                nsp = PQgetvalue(cols, i, 7);
                if (!strcmp(name, t->id.name)) {
                        for (k = 0; k < sizeof(id_types) / sizeof(*id_types);
                             k++)
                                if (!strcmp(typname, id_types[k].typname) &&
                                    !strcmp(nsp, "pg_catalog"))
                                        break;
                        if (k == sizeof(id_types) / sizeof(*id_types)) {
                                snprintf(errstr, errstr_size,
                                         "%s: id column %s has type %s; "
                                         "expected text, varchar, smallint, "
                                         "integer, bigint or uuid",
                                         t->qname, name, t->id.type_name);
                                return -1;
                        }
                        t->id_type = id_types[k].type;
                }
                if (!strcmp(name, t->vector.name)) {
                        if (!strcmp(typname, "vector"))
                                t->vector_kind = VCDC_PGVEC_VECTOR;
                        else if (!strcmp(typname, "halfvec"))
                                t->vector_kind = VCDC_PGVEC_HALFVEC;
                        else if (!strcmp(typname, "sparsevec")) {
                                snprintf(errstr, errstr_size,
                                         "%s: vector column %s is a "
                                         "sparsevec: vcdc-capture reads dense "
                                         "vectors only (pgvector's vector or "
                                         "halfvec)",
                                         t->qname, name);
                                return -1;
                        } else {
                                snprintf(errstr, errstr_size,
                                         "%s: vector column %s has type %s; "
                                         "expected pgvector's vector (or "
                                         "halfvec)",
                                         t->qname, name, t->vector.type_name);
                                return -1;
                        }
                }
                if (t->metadata.name && !strcmp(name, t->metadata.name) &&
                    (strcmp(typname, "jsonb") || strcmp(nsp, "pg_catalog"))) {
                        snprintf(errstr, errstr_size,
                                 "%s: metadata column %s has type %s; "
                                 "expected jsonb (ALTER TABLE %s ALTER "
                                 "COLUMN %s TYPE jsonb USING %s::jsonb)",
                                 t->qname, name, t->metadata.type_name,
                                 t->qname, name, name);
                        return -1;
                }
                if (t->document.name && !strcmp(name, t->document.name) &&
                    (strcmp(nsp, "pg_catalog") ||
                     (strcmp(typname, "text") && strcmp(typname, "varchar")))) {
                        snprintf(errstr, errstr_size,
                                 "%s: document column %s has type %s; "
                                 "expected text or varchar",
                                 t->qname, name, t->document.type_name);
                        return -1;
                }
        }
        return 0;
}

/* The replica identity must let every delete and key change carry the id,
 * and ids must be unique and never NULL. */
static int check_identity(PGconn *conn, vcdc_source_table_t *t, int id_attnum,
                          int id_notnull, char *errstr, size_t errstr_size) {
        static const char sql[] =
                "SELECT i.indisprimary, i.indisreplident, i.indisunique "
                "AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS "
                "NULL, i.indnkeyatts, i.indkey[0] FROM pg_index i "
                "WHERE i.indrelid = $1::oid";
        char oid[16], err[512];
        const char *params[1] = {oid};
        int pk = 0, pk_is_id = 0, ri_is_id = 0, unique_id = 0, status, i;
        PGresult *res;

        snprintf(oid, sizeof(oid), "%u", t->oid);
        if (!(res = query(conn, "reading the table's indexes", sql, 1, params,
                          &status, errstr, errstr_size)))
                return status;
        for (i = 0; i < PQntuples(res); i++) {
                int on_id = get_long(res, i, 3) == 1 &&
                            get_long(res, i, 4) == id_attnum;
                if (get_bool(res, i, 0)) {
                        pk = 1;
                        pk_is_id = on_id;
                }
                if (get_bool(res, i, 1))
                        ri_is_id = on_id;
                if (get_bool(res, i, 2) && on_id)
                        unique_id = 1;
        }
        PQclear(res);
        err[0] = '\0';
        switch (t->replident) {
        case 'n':
                snprintf(err, sizeof(err),
                         "has REPLICA IDENTITY NOTHING: its updates and "
                         "deletes would not carry the id");
                break;
        case 'd':
                if (!pk)
                        snprintf(err, sizeof(err),
                                 "has no primary key, and REPLICA IDENTITY "
                                 "DEFAULT: its deletes would not carry the "
                                 "id");
                else if (!pk_is_id)
                        snprintf(err, sizeof(err),
                                 "has a primary key other than (%s), and "
                                 "REPLICA IDENTITY DEFAULT: its deletes "
                                 "would carry that key, not the id",
                                 t->id.name);
                break;
        case 'i':
                if (!ri_is_id)
                        snprintf(err, sizeof(err),
                                 "has REPLICA IDENTITY USING INDEX on an "
                                 "index other than one on (%s): its deletes "
                                 "would not carry the id",
                                 t->id.name);
                break;
        case 'f':
                if (!unique_id || !id_notnull)
                        snprintf(err, sizeof(err),
                                 "has no primary key or unique index on "
                                 "(%s) with %s NOT NULL: ids must be unique "
                                 "to name one vector each",
                                 t->id.name, t->id.name);
                break;
        default:
                snprintf(err, sizeof(err),
                         "has an unknown replica identity '%c'", t->replident);
        }
        if (!err[0])
                return VCDC_PG_OK;
        snprintf(errstr, errstr_size,
                 "table %s %s. Fix: make %s its primary key (ALTER TABLE %s "
                 "ADD PRIMARY KEY (%s)), or log whole old rows (ALTER TABLE "
                 "%s REPLICA IDENTITY FULL) with a unique index on %s",
                 t->qname, err, t->id.name, t->qname, t->id.name, t->qname,
                 t->id.name);
        return VCDC_PG_FATAL;
}

int vcdc_source_inspect(PGconn *conn, const vcdc_source_names_t *names,
                        vcdc_source_table_t *t, char *errstr,
                        size_t errstr_size) {
        static const char table_sql[] =
                "SELECT c.oid, n.nspname, c.relname, c.relreplident, "
                "c.relkind, has_table_privilege(c.oid, 'SELECT') "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = "
                "c.relnamespace WHERE c.oid = to_regclass($1)";
        static const char cols_sql[] =
                "SELECT a.attname, a.atttypid, format_type(a.atttypid, "
                "a.atttypmod), t.typname, a.attnum, a.attnotnull, "
                "a.attgenerated <> '', tn.nspname FROM pg_attribute a "
                "JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace tn "
                "ON tn.oid = t.typnamespace WHERE a.attrelid = $1::oid AND "
                "a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
        struct {
                const char *role, *option, *name;
                vcdc_source_col_t *col;
                int required;
        } roles[4] = {
                {"id", "--id-column", names->id, &t->id, 1},
                {"vector", "--vector-column", names->vector, &t->vector, 1},
                {"metadata", "--metadata-column", names->metadata, &t->metadata,
                 names->metadata_set},
                {"document", "--document-column", names->document, &t->document,
                 names->document_set},
        };
        PGresult *res = NULL, *cols = NULL;
        char *qtable = NULL, oid[16], list[512];
        const char *params[1];
        int status = VCDC_PG_FATAL, id_attnum = 0, id_notnull = 0, i;

        memset(t, 0, sizeof(*t));
        if (!(qtable = quote_ident(conn, names->table))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        params[0] = qtable;
        if (!(res = query(conn, "looking up the table", table_sql, 1, params,
                          &status, errstr, errstr_size)))
                goto done;
        status = VCDC_PG_FATAL;
        if (PQntuples(res) != 1) {
                snprintf(errstr, errstr_size,
                         "table %s does not exist (or is not on the "
                         "search_path of the connecting role)",
                         qtable);
                goto done;
        }
        t->oid = (uint32_t)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
        t->replident = PQgetvalue(res, 0, 3)[0];
        if (!(t->nspname = strdup(PQgetvalue(res, 0, 1))) ||
            !(t->relname = strdup(PQgetvalue(res, 0, 2)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        {
                char *qn = quote_ident(conn, t->nspname);
                char *qr = quote_ident(conn, t->relname);
                size_t len = (qn ? strlen(qn) : 0) + (qr ? strlen(qr) : 0) + 2;
                if (qn && qr && (t->qname = malloc(len)))
                        snprintf(t->qname, len, "%s.%s", qn, qr);
                free(qn);
                free(qr);
                if (!t->qname) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto done;
                }
        }
        if (strcmp(PQgetvalue(res, 0, 4), "r")) {
                snprintf(errstr, errstr_size,
                         "%s is not a plain table (relkind %s): "
                         "vcdc-capture reads ordinary tables only "
                         "(not views, partitioned or foreign tables)",
                         t->qname, PQgetvalue(res, 0, 4));
                goto done;
        }
        if (!get_bool(res, 0, 5)) {
                snprintf(errstr, errstr_size,
                         "the role may not read %s: GRANT SELECT ON %s TO "
                         "the capture's role",
                         t->qname, t->qname);
                goto done;
        }
        snprintf(oid, sizeof(oid), "%u", t->oid);
        params[0] = oid;
        if (!(cols = query(conn, "reading the table's columns", cols_sql, 1,
                           params, &status, errstr, errstr_size)))
                goto done;
        status = VCDC_PG_FATAL;
        for (i = 0; i < 4; i++) {
                int attnum = 0, notnull = 0, generated = 0, found;
                found = find_column(cols, roles[i].name, roles[i].col, &attnum,
                                    &notnull, &generated);
                if (found == -1) {
                        snprintf(errstr, errstr_size, "out of memory");
                        goto done;
                }
                if (!found && roles[i].required) {
                        list_columns(cols, list, sizeof(list));
                        snprintf(errstr, errstr_size,
                                 "%s has no column %s for the %s (%s; its "
                                 "columns: %s)",
                                 t->qname, roles[i].name, roles[i].role,
                                 roles[i].option, list);
                        goto done;
                }
                if (found && generated) {
                        snprintf(errstr, errstr_size,
                                 "%s: column %s is generated, and logical "
                                 "replication does not send generated "
                                 "columns",
                                 t->qname, roles[i].name);
                        goto done;
                }
                if (i == 0) {
                        id_attnum = attnum;
                        id_notnull = notnull;
                }
        }
        if (check_types(cols, t, errstr, errstr_size) == -1)
                goto done;
        status = check_identity(conn, t, id_attnum, id_notnull, errstr,
                                errstr_size);
done:
        PQclear(res);
        PQclear(cols);
        free(qtable);
        return status;
}

void vcdc_source_table_clear(vcdc_source_table_t *t) {
        if (!t)
                return;
        free(t->nspname);
        free(t->relname);
        free(t->qname);
        free(t->id.name);
        free(t->vector.name);
        free(t->metadata.name);
        free(t->document.name);
        memset(t, 0, sizeof(*t));
}

/* What publication publishes of the table: 0 with *pub_exists 0 when there
 * is no such publication. */
static int publication_refusal(PGconn *conn, const vcdc_source_table_t *t,
                               const char *publication, int *pub_exists,
                               char *errstr, size_t errstr_size) {
        static const char pub_sql[] =
                "SELECT pubinsert, pubupdate, pubdelete, pubtruncate "
                "FROM pg_publication WHERE pubname = $1";
        /* Row filters and column lists came with PostgreSQL 15. */
        static const char member_sql_15[] =
                "SELECT rowfilter IS NOT NULL "
                "FROM pg_publication_tables WHERE pubname = $1 AND "
                "schemaname = $2 AND tablename = $3";
        static const char member_sql[] =
                "SELECT false FROM pg_publication_tables "
                "WHERE pubname = $1 AND schemaname = $2 AND tablename = $3";
        static const char list_sql[] =
                "SELECT coalesce(string_agg(format('%I.%I', schemaname, "
                "tablename), ', '), 'no tables') FROM pg_publication_tables "
                "WHERE pubname = $1";
        const char *params[3] = {publication, t->nspname, t->relname};
        PGresult *res;
        int status, i;

        *pub_exists = 0;
        if (!(res = query(conn, "looking up the publication", pub_sql, 1,
                          params, &status, errstr, errstr_size)))
                return status;
        if (PQntuples(res) == 0) {
                PQclear(res);
                return VCDC_PG_OK;
        }
        *pub_exists = 1;
        for (i = 0; i < 4; i++)
                if (!get_bool(res, 0, i)) {
                        snprintf(errstr, errstr_size,
                                 "publication %s does not publish every "
                                 "insert, update, delete and truncate: "
                                 "changes would be missed. ALTER "
                                 "PUBLICATION %s SET (publish = 'insert, "
                                 "update, delete, truncate'), or name another "
                                 "with --publication",
                                 publication, publication);
                        PQclear(res);
                        return VCDC_PG_FATAL;
                }
        PQclear(res);
        if (!(res = query(conn, "reading the publication's tables",
                          PQserverVersion(conn) >= 150000 ? member_sql_15
                                                          : member_sql,
                          3, params, &status, errstr, errstr_size)))
                return status;
        if (PQntuples(res) == 1) {
                int filtered = get_bool(res, 0, 0);
                PQclear(res);
                if (filtered) {
                        snprintf(errstr, errstr_size,
                                 "publication %s has a row filter on %s: "
                                 "rows outside it would be missed. Drop the "
                                 "filter or name another publication",
                                 publication, t->qname);
                        return VCDC_PG_FATAL;
                }
                return VCDC_PG_OK;
        }
        PQclear(res);
        if (!(res = query(conn, "listing the publication's tables", list_sql, 1,
                          params, &status, errstr, errstr_size)))
                return status;
        snprintf(errstr, errstr_size,
                 "publication %s exists but does not publish %s (it "
                 "publishes %.200s): ALTER PUBLICATION %s ADD TABLE %s, or "
                 "name another with --publication",
                 publication, t->qname, PQgetvalue(res, 0, 0), publication,
                 t->qname);
        PQclear(res);
        return VCDC_PG_FATAL;
}

/* Every column vcdc reads must be in the publication's column list. */
static int check_column_list(PGconn *conn, const vcdc_source_table_t *t,
                             const char *publication, char *errstr,
                             size_t errstr_size) {
        static const char sql[] =
                "SELECT c FROM unnest($4::text[]) c WHERE NOT EXISTS ("
                "SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND "
                "schemaname = $2 AND tablename = $3 AND (attnames IS NULL "
                "OR c = ANY(attnames::text[])))";
        char cols[4 * (IDENT_MAX + 3) + 3];
        const char *params[4] = {publication, t->nspname, t->relname, cols};
        const vcdc_source_col_t *used[4] = {&t->id, &t->vector, &t->metadata,
                                            &t->document};
        size_t off = 0, i;
        PGresult *res;
        int status;

        if (PQserverVersion(conn) < 150000)
                return VCDC_PG_OK;
        off += (size_t)snprintf(cols, sizeof(cols), "{");
        for (i = 0; i < 4; i++)
                if (used[i]->name)
                        off += (size_t)snprintf(cols + off, sizeof(cols) - off,
                                                "%s\"%s\"", off > 1 ? "," : "",
                                                used[i]->name);
        snprintf(cols + off, sizeof(cols) - off, "}");
        if (!(res = query(conn, "reading the publication's columns", sql, 4,
                          params, &status, errstr, errstr_size)))
                return status;
        if (PQntuples(res) > 0) {
                snprintf(errstr, errstr_size,
                         "publication %s publishes a column list of %s "
                         "without %s: ALTER PUBLICATION %s SET TABLE %s",
                         publication, t->qname, PQgetvalue(res, 0, 0),
                         publication, t->qname);
                PQclear(res);
                return VCDC_PG_FATAL;
        }
        PQclear(res);
        return VCDC_PG_OK;
}

int vcdc_source_ensure_publication(PGconn *conn, const vcdc_source_table_t *t,
                                   const char *publication, int *createdp,
                                   char *errstr, size_t errstr_size) {
        char sql[512], err[512];
        PGresult *res;
        int status, exists;

        *createdp = 0;
        if ((status = publication_refusal(conn, t, publication, &exists, errstr,
                                          errstr_size)) != VCDC_PG_OK)
                return status;
        if (exists)
                return check_column_list(conn, t, publication, errstr,
                                         errstr_size);
        /* The name is [A-Za-z0-9_] (checked by the caller). */
        snprintf(sql, sizeof(sql), "CREATE PUBLICATION \"%s\" FOR TABLE %s",
                 publication, t->qname);
        if (!(res = vcdc_pgconn_exec(conn, sql, 0, NULL, &status, err,
                                     sizeof(err)))) {
                /* Two captures starting at once: the other one made it. */
                if (strstr(err, "42710"))
                        return vcdc_source_ensure_publication(
                                conn, t, publication, createdp, errstr,
                                errstr_size);
                snprintf(errstr, errstr_size,
                         "creating publication %s for %s: %s (create it as "
                         "the table's owner: %s)",
                         publication, t->qname, err, sql);
                return status;
        }
        PQclear(res);
        *createdp = 1;
        return VCDC_PG_OK;
}

int vcdc_source_slot(PGconn *conn, const char *slot, int *existsp, int *activep,
                     char *errstr, size_t errstr_size) {
        static const char sql[] =
                "SELECT slot_type, coalesce(plugin, ''), coalesce(database, "
                "''), database = current_database(), active, temporary "
                "FROM pg_replication_slots WHERE slot_name = $1";
        const char *params[1] = {slot};
        PGresult *res;
        int status;

        *existsp = *activep = 0;
        if (!(res = query(conn, "looking up the replication slot", sql, 1,
                          params, &status, errstr, errstr_size)))
                return status;
        if (PQntuples(res) == 0) {
                PQclear(res);
                return VCDC_PG_OK;
        }
        status = VCDC_PG_FATAL;
        if (strcmp(PQgetvalue(res, 0, 0), "logical"))
                snprintf(errstr, errstr_size,
                         "replication slot %s exists and is a %s slot, not "
                         "a logical one made by vcdc-capture: name another "
                         "with --slot",
                         slot, PQgetvalue(res, 0, 0));
        else if (strcmp(PQgetvalue(res, 0, 1), "pgoutput"))
                snprintf(errstr, errstr_size,
                         "replication slot %s exists with output plugin %s, "
                         "not pgoutput: it was not made by vcdc-capture. "
                         "Name another with --slot, or drop it if nothing "
                         "uses it (SELECT pg_drop_replication_slot('%s'))",
                         slot, PQgetvalue(res, 0, 1), slot);
        else if (!get_bool(res, 0, 3))
                snprintf(errstr, errstr_size,
                         "replication slot %s belongs to database %s, not "
                         "this one: name another with --slot",
                         slot, PQgetvalue(res, 0, 2));
        else if (get_bool(res, 0, 5))
                snprintf(errstr, errstr_size,
                         "replication slot %s is a temporary slot of "
                         "another session: name another with --slot",
                         slot);
        else {
                *existsp = 1;
                *activep = get_bool(res, 0, 4);
                status = VCDC_PG_OK;
        }
        PQclear(res);
        return status;
}

int vcdc_source_copy_slot(PGconn *conn, const char *from, const char *to,
                          char *errstr, size_t errstr_size) {
        static const char sql[] =
                "SELECT lsn FROM pg_copy_logical_replication_slot($1::name, "
                "$2::name, false)";
        const char *params[2] = {from, to};
        PGresult *res;
        int status;

        if (!(res = query(conn, "creating the slot", sql, 2, params, &status,
                          errstr, errstr_size)))
                return status;
        PQclear(res);
        return VCDC_PG_OK;
}

int vcdc_source_drop_slot(PGconn *conn, const char *slot, char *errstr,
                          size_t errstr_size) {
        static const char sql[] = "SELECT pg_drop_replication_slot($1)";
        const char *params[1] = {slot};
        PGresult *res;
        int status;

        if (!(res = query(conn, "dropping the slot", sql, 1, params, &status,
                          errstr, errstr_size)))
                return status;
        PQclear(res);
        return VCDC_PG_OK;
}

int vcdc_source_wal_lsn(PGconn *conn, uint64_t *lsnp, char *errstr,
                        size_t errstr_size) {
        PGresult *res;
        int status;

        if (!(res = query(conn, "reading the WAL position",
                          "SELECT pg_current_wal_lsn()::text", 0, NULL, &status,
                          errstr, errstr_size)))
                return status;
        if (PQntuples(res) != 1 ||
            vcdc_pgconn_lsn_parse(PQgetvalue(res, 0, 0), lsnp) == -1) {
                snprintf(errstr, errstr_size,
                         "reading the WAL position: unexpected answer");
                PQclear(res);
                return VCDC_PG_FATAL;
        }
        PQclear(res);
        return VCDC_PG_OK;
}

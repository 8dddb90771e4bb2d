/*
 * vcdc - a test tool: the gateway's filters (gateway/filter.h) run from
 * outside, for tests/integration/test_gateway_filters.py. Reads one JSON
 * document on stdin:
 *   {"records": [{"id": ID, "metadata": OBJECT|null, "document": S|null}],
 *    "filters": [{"where": W, "where_document": D}, ...]}
 * and writes one JSON document on stdout:
 *   {"results": [{"ids": [ids the evaluator selects, in input order],
 *                 "sql": CONDITION, "params": [$1, $2, ...]}
 *                | {"status": N, "error": NAME, "message": TEXT}, ...]}
 * Exit 0, or 2 when the input is not that shape.
 */
#include <jansson.h>
#include <stdio.h>

#include "filter.h"

static json_t *run_one(const json_t *records, const json_t *spec) {
        vcdc_api_error_t err;
        vcdc_filter_sql_t sql;
        vcdc_filter_t *f;
        json_t *out, *ids, *params, *rec;
        size_t i;

        vcdc_api_error_clear(&err);
        f = vcdc_filter_parse(json_object_get(spec, "where"),
                              json_object_get(spec, "where_document"), &err);
        if (!f)
                return json_pack("{s:i,s:s,s:s}", "status", err.status, "error",
                                 err.name, "message", err.message);
        ids = json_array();
        json_array_foreach(records, i, rec) {
                const json_t *doc = json_object_get(rec, "document");
                if (vcdc_filter_match(f, json_object_get(rec, "metadata"),
                                      json_is_string(doc)
                                              ? json_string_value(doc)
                                              : NULL))
                        json_array_append(ids, json_object_get(rec, "id"));
        }
        if (vcdc_filter_sql(f, "", 1, &sql)) {
                vcdc_filter_destroy(f);
                json_decref(ids);
                return json_pack("{s:i,s:s,s:s}", "status", 500, "error",
                                 "InternalError", "message", "out of memory");
        }
        params = json_array();
        for (i = 0; i < sql.nparams; i++)
                json_array_append_new(params, json_string(sql.params[i]));
        out = json_pack("{s:o,s:s,s:o}", "ids", ids, "sql", sql.sql, "params",
                        params);
        vcdc_filter_sql_clear(&sql);
        vcdc_filter_destroy(f);
        return out;
}

int main(void) {
        json_error_t jerr;
        json_t *in = json_loadf(stdin, 0, &jerr), *records, *filters, *results;
        json_t *spec, *out;
        size_t i;

        if (!in) {
                fprintf(stderr, "gw_filter_tool: stdin: %s (line %d)\n",
                        jerr.text, jerr.line);
                return 2;
        }
        records = json_object_get(in, "records");
        filters = json_object_get(in, "filters");
        if (!json_is_array(records) || !json_is_array(filters)) {
                fprintf(stderr, "gw_filter_tool: want {\"records\": [..], "
                                "\"filters\": [..]}\n");
                json_decref(in);
                return 2;
        }
        results = json_array();
        json_array_foreach(filters, i, spec)
                json_array_append_new(results, run_one(records, spec));
        out = json_pack("{s:o}", "results", results);
        json_dumpf(out, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(out);
        json_decref(in);
        return 0;
}

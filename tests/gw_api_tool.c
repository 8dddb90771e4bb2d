/*
 * vcdc - a test tool: the gateway's request parsers (gateway/api_body.h)
 * run from outside, for tests/integration/test_gateway_bodies.py. Reads
 * one JSON document on stdin:
 *   {"cases": [{"kind": "add"|"upsert"|"update"|"delete"|"get"|"query"|
 *               "create"|"modify"|"add_get", "dim": N, "body": TEXT}, ...]}
 * and writes {"results": [{"status": 0} | {"status": N, "error": NAME,
 * "message": TEXT}, ...]} on stdout. "add_get" parses an add and answers,
 * as "answer", the get of its records with embeddings, documents and
 * metadatas (api_result.h), to be compared with Chroma's. Exit 0, or 2
 * when the input is not that shape.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_body.h"
#include "api_result.h"

static json_t *run_one(const json_t *c) {
        const char *kind = json_string_value(json_object_get(c, "kind"));
        const char *body = json_string_value(json_object_get(c, "body"));
        size_t len = json_string_length(json_object_get(c, "body"));
        size_t dim = (size_t)json_integer_value(json_object_get(c, "dim"));
        vcdc_api_collection_req_t coll;
        vcdc_api_error_t err;
        vcdc_api_write_t w;
        vcdc_api_read_t r;
        int rc;

        if (!kind || !body)
                return json_pack("{s:i,s:s,s:s}", "status", -1, "error", "tool",
                                 "message", "kind and body wanted");
        vcdc_api_error_clear(&err);
        if (!strcmp(kind, "add_get")) {
                vcdc_api_include_t inc = {
                        VCDC_API_INC_EMBEDDINGS | VCDC_API_INC_DOCUMENTS |
                                VCDC_API_INC_METADATAS,
                        {VCDC_API_INC_EMBEDDINGS, VCDC_API_INC_DOCUMENTS,
                         VCDC_API_INC_METADATAS},
                        3};
                json_t *answer;
                char *text;

                if (vcdc_api_parse_write(VCDC_API_ADD, "c", body, len, dim, &w,
                                         &err))
                        return json_pack("{s:i,s:s,s:s}", "status", err.status,
                                         "error", err.name, "message",
                                         err.message);
                text = vcdc_api_get_result(w.recs, w.n, &inc, NULL);
                answer = text ? json_loads(text, 0, NULL) : NULL;
                free(text);
                vcdc_api_write_clear(&w);
                return json_pack("{s:i,s:o*}", "status", 0, "answer", answer);
        }
        if (!strcmp(kind, "add") || !strcmp(kind, "upsert") ||
            !strcmp(kind, "update")) {
                rc = vcdc_api_parse_write(!strcmp(kind, "add") ? VCDC_API_ADD
                                          : !strcmp(kind, "upsert")
                                                  ? VCDC_API_UPSERT
                                                  : VCDC_API_UPDATE,
                                          "c", body, len, dim, &w, &err);
                if (!rc)
                        vcdc_api_write_clear(&w);
        } else if (!strcmp(kind, "delete") || !strcmp(kind, "get") ||
                   !strcmp(kind, "query")) {
                rc = !strcmp(kind, "delete")
                             ? vcdc_api_parse_delete(body, len, &r, &err)
                     : !strcmp(kind, "get")
                             ? vcdc_api_parse_get(body, len, &r, &err)
                             : vcdc_api_parse_query(body, len, dim, &r, &err);
                if (!rc)
                        vcdc_api_read_clear(&r);
        } else {
                rc = !strcmp(kind, "create")
                             ? vcdc_api_parse_create_collection(body, len,
                                                                &coll, &err)
                             : vcdc_api_parse_modify_collection(body, len,
                                                                &coll, &err);
                if (!rc)
                        vcdc_api_collection_req_clear(&coll);
        }
        if (!rc)
                return json_pack("{s:i}", "status", 0);
        return json_pack("{s:i,s:s,s:s}", "status", err.status, "error",
                         err.name, "message", err.message);
}

int main(void) {
        json_error_t jerr;
        json_t *in = json_loadf(stdin, 0, &jerr), *cases, *results, *c, *out;
        size_t i;

        if (!in) {
                fprintf(stderr, "gw_api_tool: stdin: %s (line %d)\n", jerr.text,
                        jerr.line);
                return 2;
        }
        if (!json_is_array(cases = json_object_get(in, "cases"))) {
                fprintf(stderr, "gw_api_tool: want {\"cases\": [..]}\n");
                json_decref(in);
                return 2;
        }
        results = json_array();
        json_array_foreach(cases, i, c)
                json_array_append_new(results, run_one(c));
        out = json_pack("{s:o}", "results", results);
        json_dumpf(out, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(out);
        json_decref(in);
        return 0;
}

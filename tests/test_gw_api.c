/*
 * vcdc - unit tests: the gateway's request bodies and answers
 * (gateway/api_body.h, api_result.h, api_error.h). Bodies as the official
 * clients send them and as they must not be, side by side with the Chroma
 * 1.0 server's answers recorded from a running one (status, error name,
 * message; the server's "at line L column C" is left out where the parser
 * does not know the position); base64 embeddings; the answers' shapes
 * against recorded ones. Pure: no server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_body.h"
#include "api_json.h"
#include "api_result.h"

static const struct {
        vcdc_api_write_op_t op;
        size_t dim;
        const char *body;
        int status;                 /* 0: taken */
        const char *name, *message; /* message: a prefix */
} writes[] = {
        {VCDC_API_ADD, 0,
         "{\"ids\":[\"a\",\"b\",\"c\"],\"embeddings\":[[1,2,3],[4,5,6.5],"
         "[0.1,0.2,0.3]],\"metadatas\":[{\"k\":1,\"s\":\"x\",\"f\":1.5,"
         "\"b\":true},null,{\"k\":2}],\"documents\":[\"hello world\",\"foo\","
         "null]}",
         0, NULL, NULL},
        /* what chromadb-client 1.0.20 sends: base64, nulls for the rest */
        {VCDC_API_UPSERT, 2,
         "{\"ids\":[\"e\"],\"embeddings\":[\"AACgQAAAwEA=\"],\"metadatas\":"
         "null,\"documents\":null,\"uris\":null}",
         0, NULL, NULL},
        {VCDC_API_ADD, 0, "{\"ids\":[],\"embeddings\":[]}", 0, NULL, NULL},
        {VCDC_API_ADD, 3,
         "{\"ids\":[\"d\",\"d\"],\"embeddings\":[[1,2,3],"
         "[1,2,3]]}",
         0, NULL, NULL},
        {VCDC_API_ADD, 3,
         "{\"ids\":[\"d\"],\"embeddings\":[[1,2,3]],\"foo\":1}", 0, NULL, NULL},
        {VCDC_API_UPDATE, 2, "{\"ids\":[\"b\"],\"embeddings\":[null]}", 0, NULL,
         NULL},
        {VCDC_API_UPDATE, 2,
         "{\"ids\":[\"b\"],\"metadatas\":[{\"x\":null,\"w\":true}]}", 0, NULL,
         NULL},
        {VCDC_API_UPDATE, 2, "{\"ids\":[\"b\"]}", 0, NULL, NULL},
        {VCDC_API_UPSERT, 2,
         "{\"ids\":[\"a\"],\"embeddings\":[[1,2]],\"metadatas\":[{\"y\":null,"
         "\"z\":3}]}",
         0, NULL, NULL},
        /* refused, in the server's words */
        {VCDC_API_ADD, 3, "{\"ids\":[\"d\"],\"embeddings\":[[1,2]]}", 400,
         "InvalidArgumentError",
         "Collection expecting embedding with dimension of 3, got 2"},
        {VCDC_API_ADD, 0,
         "{\"ids\":[\"d\",\"e\"],\"embeddings\":[[1,2,3],[1,2]]}", 400,
         "InvalidArgumentError",
         "Inconsistent dimensions in provided embeddings"},
        {VCDC_API_ADD, 0, "{\"ids\":[\"d\",\"e\"],\"embeddings\":[[1,2],[]]}",
         400, "InvalidArgumentError",
         "Validation error: embeddings: Each embedding must have at least 1 "
         "dimension"},
        {VCDC_API_UPDATE, 2, "{\"ids\":[\"b\"],\"embeddings\":[[1,2,3]]}", 400,
         "InvalidArgumentError",
         "Collection expecting embedding with dimension of 2, got 3"},
        /* an update has no non-empty check: the dimension speaks */
        {VCDC_API_UPDATE, 2, "{\"ids\":[\"a\",\"b\"],\"embeddings\":[[]]}", 400,
         "InvalidArgumentError",
         "Collection expecting embedding with dimension of 2, got 0"},
        {VCDC_API_UPDATE, 0, "{\"ids\":[\"a\"],\"embeddings\":[\"\"]}", 400,
         "InvalidArgumentError",
         "Validation error: embeddings: Each embedding must have at least 1 "
         "dimension"},
        /* the shape first, member by member in the body's order */
        {VCDC_API_ADD, 2,
         "{\"documents\":[1],\"ids\":[\"\"],\"embeddings\":[[1]]}", 422,
         "ChromaError",
         "Failed to deserialize the JSON body into the target "
         "type: documents[0]: invalid type: integer `1`"},
        {VCDC_API_ADD, 2, "{\"ids\":null,\"embeddings\":[[1,2]]}", 422,
         "ChromaError",
         "Failed to deserialize the JSON body into the target "
         "type: ids: invalid type: null, expected a sequence"},
        /* then base64, dimensions, counts, empty ids */
        {VCDC_API_ADD, 2, "{\"ids\":[\"a\",\"b\"],\"embeddings\":[\"x\"]}", 400,
         "InvalidArgumentError",
         "Base64 decoding error: Invalid base64 string: Invalid input length: "
         "1"},
        {VCDC_API_ADD, 2,
         "{\"ids\":[\"a\",\"b\"],\"embeddings\":[[1,2],[1,2,3]],"
         "\"metadatas\":[{}]}",
         400, "InvalidArgumentError",
         "Inconsistent dimensions in provided embeddings"},
        {VCDC_API_ADD, 2,
         "{\"ids\":[\"a\"],\"embeddings\":[[1,2,3]],\"documents\":[]}", 400,
         "InvalidArgumentError",
         "Collection expecting embedding with dimension of 2, got 3"},
        {VCDC_API_ADD, 2, "{\"ids\":[\"\"],\"embeddings\":[[1,2],[1,2]]}", 400,
         "InvalidArgumentError",
         "Inconsistent number of IDs, embeddings, documents, URIs and "
         "metadatas"},
        {VCDC_API_ADD, 3, "{\"ids\":[\"d\",\"e\"],\"embeddings\":[[1,2,3]]}",
         400, "InvalidArgumentError",
         "Inconsistent number of IDs, embeddings, documents, URIs and "
         "metadatas"},
        {VCDC_API_ADD, 3,
         "{\"ids\":[\"d\"],\"embeddings\":[[1,2,3]],\"metadatas\":[{},{}]}",
         400, "InvalidArgumentError", "Inconsistent number of IDs"},
        {VCDC_API_ADD, 3,
         "{\"ids\":[\"d\"],\"embeddings\":[[1,2,3]],\"documents\":[]}", 400,
         "InvalidArgumentError", "Inconsistent number of IDs"},
        {VCDC_API_ADD, 3, "{\"ids\":[\"\"],\"embeddings\":[[1,2,3]]}", 400,
         "InvalidArgumentError",
         "Empty ID, ID must have at least one character"},
        {VCDC_API_ADD, 0, "{\"ids\":[\"d\"]}", 422, "ChromaError",
         "Failed to deserialize the JSON body into the target type: missing "
         "field `embeddings`"},
        {VCDC_API_ADD, 0, "{\"ids\":[\"d\"],\"embeddings\":null}", 422,
         "ChromaError",
         "Failed to deserialize the JSON body into the target type: "
         "embeddings: data did not match any variant of untagged enum "
         "EmbeddingsPayload"},
        {VCDC_API_ADD, 0, "{\"ids\":[\"d\"],\"embeddings\":[[\"a\"]]}", 422,
         "ChromaError",
         "Failed to deserialize the JSON body into the target "
         "type: embeddings: data did not match any variant of "
         "untagged enum EmbeddingsPayload"},
        {VCDC_API_ADD, 0, "{\"ids\":[\"d\"],\"embeddings\":[5]}", 422,
         "ChromaError",
         "Failed to deserialize the JSON body into the target "
         "type: embeddings: data did not match any variant"},
        {VCDC_API_ADD, 0, "{\"ids\":[\"d\"],\"embeddings\":[[]]}", 400,
         "InvalidArgumentError",
         "Validation error: embeddings: Each embedding must have at least 1 "
         "dimension"},
        {VCDC_API_ADD, 0,
         "{\"ids\":[\"d\"],\"embeddings\":[[1,2,3]],\"metadatas\":[{\"x\":"
         "{\"y\":1}}]}",
         422, "ChromaError",
         "Failed to deserialize the JSON body into the target type: "
         "metadatas[0].x: data did not match any variant of untagged enum "
         "MetadataValue"},
        {VCDC_API_ADD, 0,
         "{\"ids\":[\"d\"],\"embeddings\":[[1,2,3]],\"metadatas\":[{\"x\":"
         "[1]}]}",
         422, "ChromaError",
         "Failed to deserialize the JSON body into the "
         "target type: metadatas[0].x: data did not"},
        {VCDC_API_ADD, 0,
         "{\"ids\":[\"d\"],\"embeddings\":[[1,2,3]],\"metadatas\":[{\"x\":"
         "null}]}",
         422, "ChromaError",
         "Failed to deserialize the JSON body into the "
         "target type: metadatas[0].x: data did not"},
        {VCDC_API_ADD, 0, "{\"ids\":", 400, "InvalidArgumentError",
         "Failed to parse the request body as JSON: "},
        {VCDC_API_ADD, 0, "{\"ids\":[\"d\"],\"embeddings\":[[NaN,2,3]]}", 400,
         "InvalidArgumentError", "Failed to parse the request body as JSON: "},
        {VCDC_API_ADD, 0, "[1]", 422, "ChromaError",
         "Failed to deserialize the JSON body into the target type: "},
        {VCDC_API_ADD, 0, "{\"ids\":\"d\",\"embeddings\":[[1,2,3]]}", 422,
         "ChromaError",
         "Failed to deserialize the JSON body into the target "
         "type: ids: invalid type: string \"d\", expected a "
         "sequence"},
        {VCDC_API_ADD, 0, "{\"ids\":[5],\"embeddings\":[[1,2,3]]}", 422,
         "ChromaError",
         "Failed to deserialize the JSON body into the target "
         "type: ids[0]: invalid type: integer `5`, expected a "
         "string"},
        {VCDC_API_ADD, 0,
         "{\"ids\":[\"d\"],\"embeddings\":[[1,2,3]],\"documents\":[1]}", 422,
         "ChromaError",
         "Failed to deserialize the JSON body into the target "
         "type: documents[0]: invalid type: integer `1`, "
         "expected a string"},
        {VCDC_API_ADD, 0, "{\"ids\":[\"f\"],\"embeddings\":[\"YWJjZGU=\"]}",
         400, "InvalidArgumentError",
         "Base64 decoding error: Invalid byte length: 5 bytes cannot be "
         "converted to f32 values (must be divisible by 4)"},
        {VCDC_API_ADD, 0, "{\"ids\":[\"f\"],\"embeddings\":[\"!!!!\"]}", 400,
         "InvalidArgumentError",
         "Base64 decoding error: Invalid base64 string: Invalid symbol 33, "
         "offset 0."},
        {VCDC_API_ADD, 2,
         "{\"ids\":[\"f\"],\"embeddings\":[\"AACAPwAAAEAAAEBA\"]}", 400,
         "InvalidArgumentError",
         "Collection expecting embedding with dimension of 2, got 3"},
        {VCDC_API_ADD, 0, "{\"ids\":[\"g\"],\"embeddings\":[\"AADgQAAAAEE\"]}",
         400, "InvalidArgumentError",
         "Base64 decoding error: Invalid base64 string: Invalid padding"},
        {VCDC_API_ADD, 0, "{\"ids\":[\"h\"],\"embeddings\":[\"\"]}", 400,
         "InvalidArgumentError",
         "Validation error: embeddings: Each embedding must have at least 1 "
         "dimension"},
        {VCDC_API_ADD, 0,
         "{\"ids\":[\"h\"],\"embeddings\":[\"AACgQAAAwEA=\",[1,2]]}", 422,
         "ChromaError",
         "Failed to deserialize the JSON body into the target "
         "type: embeddings: data did not match"},
        /* where vcdc refuses what Chroma takes (api_body.h) */
        {VCDC_API_ADD, 0, "{\"ids\":[\"d\"],\"embeddings\":[[1e39,2,3]]}", 400,
         "InvalidArgumentError",
         "embeddings[0][0]: 1e+39 is beyond float32's range"},
        {VCDC_API_ADD, 0, "{\"ids\":[\"d\"],\"embeddings\":[\"AACAfw==\"]}",
         400, "InvalidArgumentError", "embeddings[0][0] is not finite"},
        {VCDC_API_ADD, 0,
         "{\"ids\":[\"d\"],\"embeddings\":[[1]],\"metadatas\":[{\"chroma:"
         "document\":1}]}",
         400, "InvalidArgumentError",
         "metadatas[0]: metadata key \"chroma:document\" starts with"},
        {VCDC_API_ADD, 0,
         "{\"ids\":[\"d\"],\"embeddings\":[[1]],\"uris\":[\"file://x\"]}", 400,
         "InvalidArgumentError", "uris[0]: vcdc-gateway does not store uris"},
        {VCDC_API_ADD, 0,
         "{\"ids\":[\"d\"],\"embeddings\":[[1]],\"metadatas\":[{\"x\":"
         "9223372036854775808}]}",
         400, "InvalidArgumentError",
         "Failed to parse the request body as JSON: too big integer"},
};

static void test_writes(void **state) {
        vcdc_api_write_t w;
        vcdc_api_error_t err;
        size_t i;
        int rc;

        (void)state;
        for (i = 0; i < sizeof(writes) / sizeof(*writes); i++) {
                vcdc_api_error_clear(&err);
                rc = vcdc_api_parse_write(writes[i].op, "coll", writes[i].body,
                                          strlen(writes[i].body), writes[i].dim,
                                          &w, &err);
                if (!writes[i].status) {
                        if (rc)
                                fail_msg("case %zu (%s): refused: %d %s", i,
                                         writes[i].body, err.status,
                                         err.message);
                        vcdc_api_write_clear(&w);
                        continue;
                }
                if (!rc)
                        fail_msg("case %zu (%s): taken", i, writes[i].body);
                assert_null(w.recs);
                if (err.status != writes[i].status ||
                    strcmp(err.name, writes[i].name) ||
                    strncmp(err.message, writes[i].message,
                            strlen(writes[i].message)))
                        fail_msg("case %zu (%s): %d %s \"%s\", want %d %s "
                                 "\"%s\"",
                                 i, writes[i].body, err.status, err.name,
                                 err.message, writes[i].status, writes[i].name,
                                 writes[i].message);
        }
}

static void test_write_records(void **state) {
        const char *body = writes[0].body;
        vcdc_api_write_t w;
        vcdc_api_error_t err;

        (void)state;
        assert_int_equal(vcdc_api_parse_write(VCDC_API_ADD, "coll", body,
                                              strlen(body), 0, &w, &err),
                         0);
        assert_int_equal(w.n, 3);
        assert_int_equal(w.dim, 3);
        assert_string_equal(w.recs[0].collection, "coll");
        assert_string_equal(w.recs[2].id, "c");
        assert_int_equal(w.recs[0].op, VCDC_OP_UPSERT);
        /* straight to float32: 0.1f, not (float)0.1 rounded twice */
        assert_true(w.recs[2].vector[0] == 0.1f);
        assert_true(w.recs[1].vector[2] == 6.5f);
        assert_string_equal(w.recs[0].metadata,
                            "{\"k\":1,\"s\":\"x\",\"f\":1.5,\"b\":true}");
        assert_null(w.recs[1].metadata);
        assert_string_equal(w.recs[0].document, "hello world");
        assert_null(w.recs[2].document);
        assert_int_equal(w.has[0], VCDC_API_HAS_EMBEDDING |
                                           VCDC_API_HAS_METADATA |
                                           VCDC_API_HAS_DOCUMENT);
        assert_int_equal(w.has[2],
                         VCDC_API_HAS_EMBEDDING | VCDC_API_HAS_METADATA);
        vcdc_api_write_clear(&w);

        /* base64 of <2f 5.0 6.0, as the Python client packs it */
        body = writes[1].body;
        assert_int_equal(vcdc_api_parse_write(VCDC_API_UPSERT, "coll", body,
                                              strlen(body), 2, &w, &err),
                         0);
        assert_int_equal(w.recs[0].dim, 2);
        assert_true(w.recs[0].vector[0] == 5.0f);
        assert_true(w.recs[0].vector[1] == 6.0f);
        assert_int_equal(w.has[0], VCDC_API_HAS_EMBEDDING);
        vcdc_api_write_clear(&w);

        /* update: null keeps what is stored; metadata nulls remove keys */
        body = "{\"ids\":[\"b\",\"c\"],\"embeddings\":[null,[1,2]],"
               "\"metadatas\":[{\"x\":null,\"w\":true},null],"
               "\"documents\":[null,\"d\"]}";
        assert_int_equal(vcdc_api_parse_write(VCDC_API_UPDATE, "coll", body,
                                              strlen(body), 2, &w, &err),
                         0);
        assert_int_equal(w.has[0], VCDC_API_HAS_METADATA);
        assert_string_equal(w.recs[0].metadata, "{\"x\":null,\"w\":true}");
        assert_null(w.recs[0].vector);
        assert_int_equal(w.has[1],
                         VCDC_API_HAS_EMBEDDING | VCDC_API_HAS_DOCUMENT);
        vcdc_api_write_clear(&w);
        vcdc_api_write_clear(NULL);
}

static void test_base64(void **state) {
        static const struct {
                const char *text;
                size_t dim;
                float v[3];
                const char *err;
        } cases[] = {
                {"AACAPw==", 1, {1.0f}, NULL},
                {"AACAPwAAAEAAAEBA", 3, {1.0f, 2.0f, 3.0f}, NULL},
                {"zczMPQ==", 1, {0.1f}, NULL},
                {"", 0, {0}, NULL},
                /* Chroma 1.0's answers to each */
                {"AACAPw=", 0, {0}, "Invalid padding"},
                {"AB=", 0, {0}, "Invalid padding"},
                {"AAAAAx", 0, {0}, "Invalid padding"},
                {"x", 0, {0}, "Invalid input length: 1"},
                {"AAAAx", 0, {0}, "Invalid input length: 5"},
                {"A=", 0, {0}, "Invalid symbol 61, offset 1."},
                {"ABC=D===", 0, {0}, "Invalid symbol 61, offset 3."},
                {"A!==", 0, {0}, "Invalid symbol 33, offset 1."},
                {"AB=!", 0, {0}, "Invalid symbol 61, offset 2."},
                {"=", 0, {0}, "Invalid symbol 61, offset 0."},
                {"AAAA=", 0, {0}, "Invalid symbol 61, offset 4."},
                {"AAA==", 0, {0}, "Invalid symbol 61, offset 3."},
                {"AACAPw==x", 0, {0}, "Invalid symbol 61, offset 6."},
                {"AAB=", 0, {0}, "Invalid last symbol 66, offset 2."},
                {"AAAAAAA=", 0, {0}, "Invalid byte length: 5 bytes"},
                {"AAAB", 0, {0}, "Invalid byte length: 3 bytes"},
                {"AAA=", 0, {0}, "Invalid byte length: 2 bytes"},
        };
        vcdc_api_error_t err;
        size_t i, k, dim;
        float *v;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                vcdc_api_error_clear(&err);
                int rc = vcdc_api_base64_floats(
                        cases[i].text, strlen(cases[i].text), &v, &dim, &err);
                if (cases[i].err) {
                        assert_int_equal(rc, -1);
                        assert_null(v);
                        if (!strstr(err.message, cases[i].err))
                                fail_msg("case %zu: %s", i, err.message);
                        continue;
                }
                assert_int_equal(rc, 0);
                assert_int_equal(dim, cases[i].dim);
                for (k = 0; k < dim; k++)
                        assert_true(v[k] == cases[i].v[k]);
                free(v);
        }
}

static void test_reads(void **state) {
        static const struct {
                char kind; /* d delete, g get, q query */
                const char *body;
                int status;
                const char *message;
        } cases[] = {
                {'d', "{}", 0, NULL},
                {'d', "{\"ids\":[\"a\"]}", 0, NULL},
                {'d', "{\"where\":{\"x\":1}}", 0, NULL},
                {'d', "{\"ids\":[]}", 400,
                 "Validation error: ids, where: Either ids or where must be "
                 "specified"},
                {'d', "{\"where\":{\"x\":null}}", 400, "Invalid where clause"},
                {'g', "{}", 0, NULL},
                {'g', "{\"ids\":[],\"limit\":0,\"offset\":100}", 0, NULL},
                {'g', "{\"limit\":-1}", 422,
                 "Failed to deserialize the JSON body into the target type: "
                 "limit: invalid value: integer `-1`, expected u32"},
                {'g', "{\"include\":[\"data\"]}", 422,
                 "Failed to deserialize the JSON body into the target type: "
                 "include[0]: unknown variant `data`, expected one of "
                 "`distances`, `documents`, `embeddings`, `metadatas`, "
                 "`uris`"},
                {'g', "{\"where_document\":{\"$regex\":\"[\"}}", 400,
                 "Regex syntax errror: "},
                {'q', "{\"query_embeddings\":[[1,2]]}", 0, NULL},
                {'q', "{\"query_embeddings\":[],\"n_results\":1}", 0, NULL},
                {'q', "{\"n_results\":1}", 422,
                 "Failed to deserialize the JSON body into the target type: "
                 "missing field `query_embeddings`"},
                {'q', "{\"query_embeddings\":[[1,2,3]]}", 400,
                 "Collection expecting embedding with dimension of 2, got 3"},
                {'q', "{\"query_embeddings\":[\"AACgQAAAwEA=\"]}", 422,
                 "Failed to deserialize the JSON body into the target type: "
                 "query_embeddings[0]: invalid type: string \"AACgQAAAwEA=\", "
                 "expected a sequence"},
                {'q', "{\"query_embeddings\":[[1,2]],\"n_results\":-1}", 422,
                 "Failed to deserialize the JSON body into the target type: "
                 "n_results: invalid value: integer `-1`, expected u32"},
                {'q', "{\"query_embeddings\":[[1,2]],\"include\":[\"data\"]}",
                 422,
                 "Failed to deserialize the JSON body into the target "
                 "type: include[0]: unknown variant `data`"},
        };
        vcdc_api_error_t err;
        vcdc_api_read_t r;
        size_t i;
        int rc;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                const char *b = cases[i].body;
                vcdc_api_error_clear(&err);
                rc = cases[i].kind == 'd'
                             ? vcdc_api_parse_delete(b, strlen(b), &r, &err)
                     : cases[i].kind == 'g'
                             ? vcdc_api_parse_get(b, strlen(b), &r, &err)
                             : vcdc_api_parse_query(b, strlen(b), 2, &r, &err);
                if (!cases[i].status) {
                        if (rc)
                                fail_msg("case %zu (%s): refused: %s", i, b,
                                         err.message);
                        vcdc_api_read_clear(&r);
                        continue;
                }
                if (!rc)
                        fail_msg("case %zu (%s): taken", i, b);
                if (err.status != cases[i].status ||
                    strncmp(err.message, cases[i].message,
                            strlen(cases[i].message)))
                        fail_msg("case %zu (%s): %d \"%s\"", i, b, err.status,
                                 err.message);
        }
}

static void test_read_values(void **state) {
        const char *b = "{\"ids\":[\"c\",\"a\"],\"limit\":5,\"include\":"
                        "[\"metadatas\",\"embeddings\"]}";
        vcdc_api_error_t err;
        vcdc_api_read_t r;

        (void)state;
        assert_int_equal(vcdc_api_parse_get(b, strlen(b), &r, &err), 0);
        assert_int_equal(r.nids, 2);
        assert_string_equal(r.ids[1], "a");
        assert_int_equal(r.limit, 5);
        assert_int_equal(r.offset, 0);
        assert_int_equal(r.include.flags,
                         VCDC_API_INC_METADATAS | VCDC_API_INC_EMBEDDINGS);
        assert_int_equal(r.include.order[0], VCDC_API_INC_METADATAS);
        assert_true(vcdc_filter_is_empty(r.filter));
        vcdc_api_read_clear(&r);

        b = "{\"query_embeddings\":[[0.1,2],[3,4e-3]],\"where\":{\"k\":1}}";
        assert_int_equal(vcdc_api_parse_query(b, strlen(b), 0, &r, &err), 0);
        assert_int_equal(r.nqueries, 2);
        assert_int_equal(r.dim, 2);
        assert_true(r.queries[0] == 0.1f && r.queries[3] == 4e-3f);
        assert_int_equal(r.n_results, 10);
        assert_int_equal(r.include.flags, VCDC_API_INC_DOCUMENTS |
                                                  VCDC_API_INC_METADATAS |
                                                  VCDC_API_INC_DISTANCES);
        assert_false(vcdc_filter_is_empty(r.filter));
        vcdc_api_read_clear(&r);

        b = "{}";
        assert_int_equal(vcdc_api_parse_get(b, 2, &r, &err), 0);
        assert_int_equal(r.limit, -1);
        assert_int_equal(r.include.n, 2);
        assert_int_equal(r.include.order[0], VCDC_API_INC_DOCUMENTS);
        vcdc_api_read_clear(&r);
        vcdc_api_read_clear(NULL);
}

static void test_collections(void **state) {
        static const struct {
                int modify;
                const char *body;
                int status;
                const char *message;
        } cases[] = {
                {0, "{\"name\":\"ok_name-1.x\"}", 0, NULL},
                {0,
                 "{\"name\":\"p4c\",\"configuration\":{\"hnsw\":{\"space\":"
                 "\"cosine\"}},\"get_or_create\":true}",
                 0, NULL},
                {0, "{\"name\":\"ab\"}", 400,
                 "Validation error: name: Expected a name containing 3-512 "
                 "characters from [a-zA-Z0-9._-], starting and ending with a "
                 "character in [a-zA-Z0-9]. Got: ab"},
                {0, "{\"name\":\"a..b\"}", 400,
                 "Validation error: name: Expected a name that does not "
                 "contains two consecutive periods (..). Got a..b"},
                {0, "{\"name\":\"-ab\"}", 400,
                 "Validation error: name: "
                 "Expected a name containing"},
                {0, "{\"name\":\"has space\"}", 400,
                 "Validation error: name: Expected a name containing"},
                {0, "{\"name\":\"192.168.1.1\"}", 400,
                 "Validation error: name: Expected a name that is not a valid "
                 "ip address. Got 192.168.1.1"},
                {0, "{}", 422,
                 "Failed to deserialize the JSON body into the target type: "
                 "missing field `name`"},
                {0, "{\"name\":5}", 422,
                 "Failed to deserialize the JSON body into the target type: "
                 "name: invalid type: integer `5`, expected a string"},
                {0, "{\"name\":\"p4x\",\"metadata\":{\"a\":{\"b\":1}}}", 422,
                 "Failed to deserialize the JSON body into the target type: "
                 "metadata.a: data did not match any variant of untagged enum "
                 "MetadataValue"},
                {0, "{\"name\":\"p4y\",\"metadata\":{}}", 400,
                 "Validation error: metadata: Metadata cannot be empty"},
                {0,
                 "{\"name\":\"p4z\",\"configuration\":{\"hnsw\":{\"space\":"
                 "\"bogus\"}}}",
                 422,
                 "Failed to deserialize the JSON body into the target type: "
                 "configuration.hnsw.space: unknown variant `bogus`, expected "
                 "one of `l2`, `cosine`, `ip`"},
                {1, "{\"new_name\":\"x\"}", 400,
                 "Validation error: new_name: Expected a name containing"},
                {1, "{\"new_metadata\":{\"q\":1}}", 0, NULL},
                {1, "{\"new_metadata\":{\"q\":null}}", 0, NULL},
                {1, "{\"new_name\":\"probe4b\"}", 0, NULL},
        };
        vcdc_api_collection_req_t c;
        vcdc_api_error_t err;
        size_t i;
        int rc;

        (void)state;
        for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
                const char *b = cases[i].body;
                vcdc_api_error_clear(&err);
                rc = cases[i].modify
                             ? vcdc_api_parse_modify_collection(b, strlen(b),
                                                                &c, &err)
                             : vcdc_api_parse_create_collection(b, strlen(b),
                                                                &c, &err);
                if (!cases[i].status) {
                        if (rc)
                                fail_msg("case %zu (%s): refused: %s", i, b,
                                         err.message);
                        if (i == 1) {
                                assert_true(c.get_or_create);
                                assert_string_equal(c.name, "p4c");
                                assert_string_equal(
                                        vcdc_api_configuration_space(
                                                c.configuration),
                                        "cosine");
                        }
                        vcdc_api_collection_req_clear(&c);
                        continue;
                }
                if (!rc)
                        fail_msg("case %zu (%s): taken", i, b);
                if (err.status != cases[i].status ||
                    strncmp(err.message, cases[i].message,
                            strlen(cases[i].message)))
                        fail_msg("case %zu (%s): %d \"%s\"", i, b, err.status,
                                 err.message);
        }
}

/* What the official clients sent for a typical application (captured
 * through a recording proxy in front of Chroma 1.0, which took each). */
static const struct {
        char kind; /* a add, u upsert, p update, g get, q query, d delete,
                    * c create, m modify */
        const char *body;
} client_bodies[] = {
        /* chromadb-client 1.0.20 */
        {'c', "{\"name\":\"capapp\",\"metadata\":{\"team\":\"x\"},\"config"
              "uration\":{\"hnsw\":{\"space\":\"cosine\"},\"spann\":null"
              ",\"embedding_function\":{\"type\":\"legacy\"}},\"get_or"
              "_create\":false}"},
        {'a', "{\"ids\":[\"a\",\"b\",\"c\"],\"embeddings\":[\"zczMPc3MTD4="
              "\",\"AACAPwAAIMA=\",\"WdkAM+x4rWA=\"],\"metadatas\":[{\""
              "k\":1,\"f\":1.5,\"s\":\"x\",\"b\":true},{\"k\":2},{\"k\":3}],"
              "\"documents\":[\"hello world\",\"foo\",\"bar\"],\"uris\":n"
              "ull}"},
        {'u', "{\"ids\":[\"a\",\"d\"],\"embeddings\":[\"AAAAPwAAAD8=\",\"A"
              "ACAPgAAgD8=\"],\"metadatas\":[{\"k\":7},{\"k\":8}],\"doc"
              "uments\":null,\"uris\":null}"},
        {'p', "{\"ids\":[\"b\"],\"embeddings\":null,\"metadatas\":[{\"k\""
              ":9}],\"documents\":null,\"uris\":null}"},
        {'p', "{\"ids\":[\"c\"],\"embeddings\":[\"AACAPwAAgD8=\"],\"meta"
              "datas\":null,\"documents\":[\"baz\"],\"uris\":null}"},
        {'g', "{\"ids\":null,\"where\":{\"k\":{\"$gte\":2}},\"limit\":nul"
              "l,\"offset\":null,\"where_document\":null,\"include\":"
              "[\"metadatas\",\"documents\",\"embeddings\"]}"},
        {'q', "{\"ids\":null,\"query_embeddings\":[[0.1000000014901"
              "1612,0.20000000298023224]],\"n_results\":2,\"where\""
              ":null,\"where_document\":{\"$contains\":\"o\"},\"includ"
              "e\":[\"metadatas\",\"documents\",\"distances\"]}"},
        {'d', "{\"ids\":null,\"where\":{\"k\":9},\"where_document\":nul"
              "l}"},
        {'d', "{\"ids\":[\"d\"],\"where\":null,\"where_document\":null}"},
        {'m', "{\"new_metadata\":{\"team\":\"y\"},\"new_name\":\"capapp2"
              "\",\"new_configuration\":null}"},
        {'c', "{\"name\":\"capapp2\",\"metadata\":null,\"configuration"
              "\":{\"hnsw\":{\"space\":\"l2\"},\"spann\":null,\"embedding"
              "_function\":{\"name\":\"default\",\"type\":\"known\",\"con"
              "fig\":{}}},\"get_or_create\":true}"},
        /* chromadb 3.0.6 (npm) */
        {'c', "{\"name\":\"capjs\",\"configuration\":{\"hnsw\":{\"space\""
              ":\"cosine\"},\"embedding_function\":{\"type\":\"legacy\""
              "}},\"metadata\":{\"team\":\"x\"},\"get_or_create\":false"
              "}"},
        {'a', "{\"ids\":[\"a\",\"b\"],\"embeddings\":[\"zczMPc3MTD4=\",\"A"
              "ACAPwAAIMA=\"],\"documents\":[\"hello\",\"foo\"],\"metad"
              "atas\":[{\"k\":1,\"f\":1.5,\"b\":true},{\"k\":2}]}"},
        {'u', "{\"ids\":[\"a\"],\"embeddings\":[\"AAAAPwAAAD8=\"],\"meta"
              "datas\":[{\"k\":7}]}"},
        {'p', "{\"ids\":[\"b\"],\"metadatas\":[{\"k\":9}]}"},
        {'g', "{\"where\":{\"k\":{\"$gte\":2}},\"include\":[\"metadatas\""
              ",\"documents\",\"embeddings\"]}"},
        {'q', "{\"include\":[\"metadatas\",\"documents\",\"distances\"]"
              ",\"n_results\":2,\"query_embeddings\":[[0.1,0.2]],\"w"
              "here_document\":{\"$contains\":\"o\"}}"},
        {'d', "{\"where\":{\"k\":9}}"},
        {'d', "{\"ids\":[\"a\"]}"},
        {'m', "{\"new_name\":\"capjs2\",\"new_metadata\":{\"team\":\"y\"}"
              "}"},
        {'c', "{\"name\":\"capjs2\",\"configuration\":{\"embedding_fun"
              "ction\":{\"type\":\"legacy\"}},\"get_or_create\":true}"},

};

static void test_client_bodies(void **state) {
        vcdc_api_collection_req_t c;
        vcdc_api_error_t err;
        vcdc_api_write_t w;
        vcdc_api_read_t r;
        size_t i, n;
        int rc;

        (void)state;
        for (i = 0; i < sizeof(client_bodies) / sizeof(*client_bodies); i++) {
                const char *b = client_bodies[i].body;
                n = strlen(b);
                vcdc_api_error_clear(&err);
                switch (client_bodies[i].kind) {
                case 'a':
                case 'u':
                case 'p':
                        rc = vcdc_api_parse_write(client_bodies[i].kind == 'a'
                                                          ? VCDC_API_ADD
                                                  : client_bodies[i].kind == 'u'
                                                          ? VCDC_API_UPSERT
                                                          : VCDC_API_UPDATE,
                                                  "capapp", b, n, 2, &w, &err);
                        if (!rc && client_bodies[i].kind == 'a') {
                                /* base64 of float32 0.1, 0.2 */
                                assert_true(w.recs[0].vector[0] == 0.1f);
                                assert_true(w.recs[0].vector[1] == 0.2f);
                                if (w.n == 3) /* the Python one */
                                        assert_true(w.recs[2].vector[1] ==
                                                    1e20f);
                        }
                        if (!rc)
                                vcdc_api_write_clear(&w);
                        break;
                case 'g':
                case 'q':
                case 'd':
                        rc = client_bodies[i].kind == 'g'
                                     ? vcdc_api_parse_get(b, n, &r, &err)
                             : client_bodies[i].kind == 'q'
                                     ? vcdc_api_parse_query(b, n, 2, &r, &err)
                                     : vcdc_api_parse_delete(b, n, &r, &err);
                        if (!rc && client_bodies[i].kind == 'q')
                                assert_true(r.queries[0] == 0.1f);
                        if (!rc)
                                vcdc_api_read_clear(&r);
                        break;
                default:
                        rc = client_bodies[i].kind == 'c'
                                     ? vcdc_api_parse_create_collection(
                                               b, n, &c, &err)
                                     : vcdc_api_parse_modify_collection(
                                               b, n, &c, &err);
                        if (!rc)
                                vcdc_api_collection_req_clear(&c);
                }
                if (rc)
                        fail_msg("client body %zu (%s): refused: %s", i, b,
                                 err.message);
        }
}

/* The answers, against the server's (metadata keys in the stored order:
 * Chroma's own order is a hash map's, arbitrary). */
static void test_results(void **state) {
        float v[3][3] = {{1, 2, 3}, {4, 5, 6.5f}, {0.1f, 0.2f, 0.3f}};
        vcdc_record_t recs[3];
        vcdc_api_include_t inc = {0, {0}, 0};
        vcdc_api_hits_t hits[2];
        float d0[2] = {0.0f, 11.34f}, d1[2] = {0.53999996f, 9.0f};
        vcdc_api_error_t err;
        char *s;
        size_t len, i;

        (void)state;
        memset(recs, 0, sizeof(recs));
        for (i = 0; i < 3; i++) {
                recs[i].id = (char *)(i == 0 ? "a" : i == 1 ? "b" : "c");
                recs[i].vector = v[i];
                recs[i].dim = 3;
        }
        recs[0].metadata = (char *)"{\"b\":true,\"s\":\"x\",\"f\":1.5,\"k\":1}";
        recs[2].metadata = (char *)"{\"k\":2}";
        recs[0].document = (char *)"hello world";
        recs[1].document = (char *)"foo";
        inc.flags = VCDC_API_INC_EMBEDDINGS | VCDC_API_INC_DOCUMENTS |
                    VCDC_API_INC_METADATAS | VCDC_API_INC_URIS |
                    VCDC_API_INC_DISTANCES;
        inc.order[0] = VCDC_API_INC_EMBEDDINGS;
        inc.order[1] = VCDC_API_INC_DOCUMENTS;
        inc.order[2] = VCDC_API_INC_METADATAS;
        inc.order[3] = VCDC_API_INC_URIS;
        inc.order[4] = VCDC_API_INC_DISTANCES;
        inc.n = 5;
        s = vcdc_api_get_result(recs, 3, &inc, &len);
        assert_string_equal(
                s, "{\"ids\":[\"a\",\"b\",\"c\"],\"embeddings\":[[1.0,2.0,3.0],"
                   "[4.0,5.0,6.5],[0.1,0.2,0.3]],\"documents\":[\"hello "
                   "world\",\"foo\",null],\"uris\":[null,null,null],"
                   "\"metadatas\":[{\"b\":true,\"s\":\"x\",\"f\":1.5,\"k\":1},"
                   "null,{\"k\":2}],\"include\":[\"embeddings\",\"documents\","
                   "\"metadatas\",\"uris\",\"distances\"]}");
        assert_int_equal(len, strlen(s));
        free(s);

        inc.flags = VCDC_API_INC_DOCUMENTS | VCDC_API_INC_METADATAS;
        inc.order[0] = VCDC_API_INC_DOCUMENTS;
        inc.order[1] = VCDC_API_INC_METADATAS;
        inc.n = 2;
        s = vcdc_api_get_result(recs, 0, &inc, NULL);
        assert_string_equal(s, "{\"ids\":[],\"embeddings\":null,\"documents\":"
                               "[],\"uris\":null,\"metadatas\":[],\"include\":"
                               "[\"documents\",\"metadatas\"]}");
        free(s);

        /* the query {"query_embeddings":[[1,2,3],[0,0,1]],"n_results":2} */
        {
                vcdc_record_t q0[2], q1[2];
                q0[0] = recs[0];
                q0[1] = recs[2];
                q1[0] = recs[2];
                q1[1] = recs[0];
                hits[0].recs = q0;
                hits[0].distances = d0;
                hits[0].n = 2;
                hits[1].recs = q1;
                hits[1].distances = d1;
                hits[1].n = 2;
                inc.flags |= VCDC_API_INC_DISTANCES;
                inc.order[2] = VCDC_API_INC_DISTANCES;
                inc.n = 3;
                s = vcdc_api_query_result(hits, 2, &inc, NULL);
                assert_string_equal(
                        s,
                        "{\"ids\":[[\"a\",\"c\"],[\"c\",\"a\"]],\"embeddings\":"
                        "null,\"documents\":[[\"hello world\",null],[null,"
                        "\"hello "
                        "world\"]],\"uris\":null,\"metadatas\":[[{\"b\":"
                        "true,\"s\":\"x\",\"f\":1.5,\"k\":1},{\"k\":2}],[{"
                        "\"k\":"
                        "2},{\"b\":true,\"s\":\"x\",\"f\":1.5,\"k\":1}]],"
                        "\"distances\":[[0.0,11.34],[0.53999996,9.0]],"
                        "\"include\":[\"documents\",\"metadatas\","
                        "\"distances\"]}");
                free(s);
                inc.n = 0;
                inc.flags = 0;
                hits[0].n = 1;
                s = vcdc_api_query_result(hits, 1, &inc, NULL);
                assert_string_equal(s, "{\"ids\":[[\"a\"]],\"embeddings\":null,"
                                       "\"documents\":null,\"uris\":null,"
                                       "\"metadatas\":null,\"distances\":null,"
                                       "\"include\":[]}");
                free(s);
        }

        {
                vcdc_api_collection_t c = {
                        "a4633b33-9d7a-4b6c-9662-c4227300a19c",
                        "probe1",
                        NULL,
                        "{\"b\":\"x\",\"d\":true,\"c\":1.5,\"a\":1}",
                        0,
                        NULL,
                        NULL,
                        0,
                        0};
                s = vcdc_api_collection_result(&c, NULL);
                assert_string_equal(
                        s,
                        "{\"id\":\"a4633b33-9d7a-4b6c-9662-c4227300a19c\","
                        "\"name\":\"probe1\",\"configuration_json\":{\"hnsw\":"
                        "{\"space\":\"l2\",\"ef_construction\":100,"
                        "\"ef_search\":100,\"max_neighbors\":16,"
                        "\"resize_factor\":1.2,\"sync_threshold\":1000},"
                        "\"spann\":null,\"embedding_function\":null},"
                        "\"metadata\":{\"b\":\"x\",\"d\":true,\"c\":1.5,"
                        "\"a\":1},\"dimension\":null,\"tenant\":"
                        "\"default_tenant\",\"database\":\"default_database\","
                        "\"log_position\":0,\"version\":0}");
                free(s);
                c.dimension = 2;
                c.metadata = NULL;
                s = vcdc_api_collections_result(&c, 1, NULL);
                assert_non_null(
                        strstr(s, "\"metadata\":null,\"dimension\":2,"));
                assert_true(s[0] == '[' && s[strlen(s) - 1] == ']');
                free(s);
        }
        s = vcdc_api_configuration_json(
                "{\"hnsw\":{\"space\":\"cosine\",\"ef_search\":50}}");
        assert_string_equal(s, "{\"hnsw\":{\"space\":\"cosine\","
                               "\"ef_construction\":100,\"ef_search\":50,"
                               "\"max_neighbors\":16,\"resize_factor\":1.2,"
                               "\"sync_threshold\":1000},\"spann\":null,"
                               "\"embedding_function\":null}");
        assert_string_equal(vcdc_api_configuration_space(s), "cosine");
        free(s);
        assert_string_equal(vcdc_api_configuration_space(NULL), "l2");

        vcdc_api_error_clear(&err);
        vcdc_api_error_set(&err, 404, "NotFoundError",
                           "Collection [%s] does not exists", "nope_nope");
        vcdc_api_error_set(&err, 500, "InternalError", "later: ignored");
        s = vcdc_api_error_body(&err);
        assert_string_equal(s, "{\"error\":\"NotFoundError\",\"message\":"
                               "\"Collection [nope_nope] does not exists\"}");
        free(s);
}

/* Floats written back: each reads to the same float32 (or double). */
static void test_numbers(void **state) {
        static const float fs[] = {0.1f, 1e-45f,      3.4028235e38f, -0.0f,
                                   1.0f, 0.53999996f, 16777217.0f,   1e30f};
        vcdc_buf_t b;
        size_t i;
        char *s;

        (void)state;
        for (i = 0; i < sizeof(fs) / sizeof(*fs); i++) {
                vcdc_buf_init(&b, 0);
                vcdc_api_put_float(&b, fs[i]);
                s = vcdc_buf_detach(&b, NULL);
                assert_true(strtof(s, NULL) == fs[i]);
                assert_non_null(strpbrk(s, ".e"));
                free(s);
        }
        vcdc_buf_init(&b, 0);
        vcdc_api_put_float(&b, INFINITY);
        vcdc_buf_putc(&b, ' ');
        vcdc_api_put_double(&b, 0.1);
        vcdc_buf_putc(&b, ' ');
        vcdc_api_put_double(&b, 9.223372036854776e18);
        vcdc_buf_putc(&b, ' ');
        vcdc_api_put_string(&b, "a\"\\\n\x01", 5);
        s = vcdc_buf_detach(&b, NULL);
        assert_string_equal(s, "null 0.1 9.223372036854776e+18 "
                               "\"a\\\"\\\\\\n\\u0001\"");
        free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_writes),
                cmocka_unit_test(test_write_records),
                cmocka_unit_test(test_base64),
                cmocka_unit_test(test_reads),
                cmocka_unit_test(test_read_values),
                cmocka_unit_test(test_collections),
                cmocka_unit_test(test_client_bodies),
                cmocka_unit_test(test_results),
                cmocka_unit_test(test_numbers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

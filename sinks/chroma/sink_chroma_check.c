/*
 * vcdc - the Chroma sink: what Chroma would refuse or store altered,
 * decided without a server (sink_chroma_int.h lists what it does):
 * collection names, metadata values, a whole upsert record. Reads
 * records; never builds a request nor talks to Chroma.
 */
#include "sink_chroma_int.h"

#include <arpa/inet.h>
#include <float.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

int vcdc_chroma_name_check(const char *name, char *errstr, size_t errstr_size) {
        size_t len = strlen(name), i;
        unsigned char addr[4];

        if (len < 3 || len > VCDC_CHROMA_NAME_MAX) {
                snprintf(errstr, errstr_size,
                         "collection name \"%.64s\" has %zu characters, Chroma "
                         "takes 3 to %d",
                         name, len, VCDC_CHROMA_NAME_MAX);
                return -1;
        }
        for (i = 0; i < len; i++) {
                char c = name[i];
                int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9');
                if (!alnum && c != '.' && c != '_' && c != '-') {
                        snprintf(errstr, errstr_size,
                                 "collection name \"%.64s\": Chroma takes only "
                                 "[a-zA-Z0-9._-]",
                                 name);
                        return -1;
                }
                if (!alnum && (i == 0 || i == len - 1)) {
                        snprintf(errstr, errstr_size,
                                 "collection name \"%.64s\" must start and end "
                                 "with a letter or digit",
                                 name);
                        return -1;
                }
        }
        if (strstr(name, "..")) {
                snprintf(errstr, errstr_size,
                         "collection name \"%.64s\" contains \"..\"", name);
                return -1;
        }
        if (inet_pton(AF_INET, name, addr) == 1) {
                snprintf(errstr, errstr_size,
                         "collection name \"%s\" is an IP address", name);
                return -1;
        }
        return 0;
}

/* Parses and checks metadata text; returns the object (NULL with errstr
 * on failure). */
static json_t *metadata_parse(const char *text, char *errstr,
                              size_t errstr_size) {
        json_error_t jerr;
        const char *key;
        json_t *obj, *v;

        if (!(obj = json_loads(text, JSON_REJECT_DUPLICATES, &jerr))) {
                snprintf(errstr, errstr_size,
                         "metadata is not valid JSON: %s (at byte %d)",
                         jerr.text, jerr.position);
                return NULL;
        }
        if (!json_is_object(obj)) {
                snprintf(errstr, errstr_size, "metadata is not a JSON object");
                goto err;
        }
        json_object_foreach(obj, key, v) {
                const char *what = NULL;
                if (!strncmp(key, "chroma:", 7)) {
                        snprintf(errstr, errstr_size,
                                 "metadata key \"%.100s\": keys \"chroma:*\" "
                                 "are reserved by Chroma (chroma:document "
                                 "holds the document)",
                                 key);
                        goto err;
                }
                switch (json_typeof(v)) {
                case JSON_NULL:
                        snprintf(errstr, errstr_size,
                                 "metadata key \"%.100s\" is null, which "
                                 "Chroma takes as \"remove the key\"",
                                 key);
                        goto err;
                case JSON_ARRAY:
                        what = "an array";
                        break;
                case JSON_OBJECT:
                        what = "a nested object";
                        break;
                default:
                        break;
                }
                if (what) {
                        snprintf(errstr, errstr_size,
                                 "metadata key \"%.100s\" is %s: Chroma holds "
                                 "only strings, numbers and booleans",
                                 key, what);
                        goto err;
                }
        }
        return obj;
err:
        json_decref(obj);
        return NULL;
}

int vcdc_chroma_metadata_check(const char *metadata, char *errstr,
                               size_t errstr_size) {
        json_t *obj;

        if (!metadata)
                return 0;
        if (!(obj = metadata_parse(metadata, errstr, errstr_size)))
                return -1;
        json_decref(obj);
        return 0;
}

/* Bytes jansson writes for s as a JSON string (quotes included): '"',
 * '\\' and control characters escaped, the rest as it is. */
static size_t json_string_len(const char *s) {
        size_t n = 2;

        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\' || c == '\b' || c == '\f' ||
                    c == '\n' || c == '\r' || c == '\t')
                        n += 2;
                else if (c < 0x20)
                        n += 6;
                else
                        n++;
        }
        return n;
}

/* vcdc_chroma_record_check(), handing back the parsed metadata (NULL for
 * none) when metap is not NULL. */
int vcdc_chroma_record_check_meta(const vcdc_record_t *rec,
                                  vcdc_metric_t metric, size_t *dimp,
                                  json_t **metap, char *errstr,
                                  size_t errstr_size) {
        char err[400];
        json_t *meta = NULL;
        double sumsq = 0, sq;
        size_t i, body;
        int all_underflow = 1, nonzero = 0;

        if (metap)
                *metap = NULL;
        if (!rec->id || !*rec->id) {
                snprintf(errstr, errstr_size, "empty id (Chroma needs one)");
                return -1;
        }
        if (!vcdc_utf8_valid(rec->id, strlen(rec->id))) {
                snprintf(errstr, errstr_size, "id is not UTF-8");
                return -1;
        }
        if (vcdc_vector_check(rec->vector, rec->dim, err, sizeof(err)) == -1) {
                snprintf(errstr, errstr_size, "id \"%.100s\": %s", rec->id,
                         err);
                return -1;
        }
        if (*dimp && rec->dim != *dimp) {
                snprintf(errstr, errstr_size,
                         "id \"%.100s\": vector of dimension %zu, expected %zu",
                         rec->id, rec->dim, *dimp);
                return -1;
        }
        for (i = 0; i < rec->dim; i++) {
                sq = (double)rec->vector[i] * rec->vector[i]; /* exact */
                sumsq += sq;
                nonzero |= rec->vector[i] != 0;
                /* float32 rounds a square of 2^-150 or less to 0 */
                all_underflow &= sq <= 0x1p-150;
        }
        /* Half of FLT_MAX leaves room for float32 rounding in the sum. */
        if (metric == VCDC_METRIC_COSINE && sumsq > FLT_MAX / 2) {
                snprintf(errstr, errstr_size,
                         "id \"%.100s\": the vector's squared norm %g "
                         "overflows float32; Chroma's cosine space would "
                         "store NaN",
                         rec->id, sumsq);
                return -1;
        }
        /* Chroma normalises in float32: when every square rounds to 0 the
         * norm is 0 and it stores zeros. */
        if (metric == VCDC_METRIC_COSINE && nonzero && all_underflow) {
                snprintf(errstr, errstr_size,
                         "id \"%.100s\": every component's square "
                         "underflows float32 (all below 2^-75); Chroma's "
                         "cosine space would store the vector as zeros",
                         rec->id);
                return -1;
        }
        if (rec->metadata &&
            !(meta = metadata_parse(rec->metadata, err, sizeof(err)))) {
                snprintf(errstr, errstr_size, "id \"%.100s\": %s", rec->id,
                         err);
                return -1;
        }
        if (rec->document &&
            !vcdc_utf8_valid(rec->document, strlen(rec->document))) {
                snprintf(errstr, errstr_size,
                         "id \"%.100s\": document is not UTF-8", rec->id);
                json_decref(meta);
                return -1;
        }
        /* The record alone in an upsert, embedding as numbers (the longer
         * form), metadata about as long as its text. */
        body = 64 + json_string_len(rec->id) + rec->dim * 16 +
               (rec->metadata ? strlen(rec->metadata) : 4) +
               (rec->document ? json_string_len(rec->document) : 4);
        if (body > VCDC_CHROMA_SERVER_BODY_MAX) {
                snprintf(errstr, errstr_size,
                         "id \"%.100s\": an upsert of this record alone "
                         "takes about %zu bytes; Chroma refuses request "
                         "bodies over %zu (HTTP 413)",
                         rec->id, body, VCDC_CHROMA_SERVER_BODY_MAX);
                json_decref(meta);
                return -1;
        }
        *dimp = rec->dim;
        if (metap)
                *metap = meta;
        else
                json_decref(meta);
        return 0;
}

int vcdc_chroma_record_check(const vcdc_record_t *rec, vcdc_metric_t metric,
                             size_t *dimp, char *errstr, size_t errstr_size) {
        return vcdc_chroma_record_check_meta(rec, metric, dimp, NULL, errstr,
                                             errstr_size);
}

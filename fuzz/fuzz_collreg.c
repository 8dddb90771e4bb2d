/*
 * vcdc - libFuzzer target: the gateway's collection records on the
 * control topic as every instance reads them (vcdc_gw_coll_parse): the
 * input's first line is the key, the rest the value. What parses must
 * hold its key's name within the limit, a configuration that is a JSON
 * object, metadata that is none or an object, a known metric and the
 * derived id; written again (vcdc_gw_coll_encode) it must read back the
 * same. What is skipped or refused leaves nothing allocated, and a short
 * error buffer truncates.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "collreg.h"
#include "record.h"

#define PREFIX "vcdc.collection/"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b) {
        return (!a && !b) || (a && b && !strcmp(a, b));
}

static void is_object(const char *text) {
        json_t *v = json_loads(text, 0, NULL);

        if (!json_is_object(v))
                abort();
        json_decref(v);
}

static void check(const vcdc_gw_coll_t *c, const uint8_t *key, size_t key_len) {
        size_t plen = strlen(PREFIX);
        vcdc_gw_coll_t back;
        char errstr[512], id[37], *text;

        if (!c->name || strlen(c->name) != key_len - plen ||
            memcmp(c->name, key + plen, key_len - plen) ||
            strlen(c->name) > VCDC_COLLECTION_MAX_BYTES)
                abort();
        is_object(c->configuration_json);
        if (c->metadata)
                is_object(c->metadata);
        if (strcmp(c->metric, "l2") && strcmp(c->metric, "cosine") &&
            strcmp(c->metric, "ip"))
                abort();
        vcdc_gw_coll_id("t", "d", c->name, id);
        if (strlen(c->id) != 36 || strcmp(id, c->id))
                abort();
        /* As vcdc_gw_colls_put() writes it: read back the same. */
        if (!(text = vcdc_gw_coll_encode(c, "t", "d", 1, errstr,
                                         sizeof(errstr))))
                abort();
        if (vcdc_gw_coll_parse(key, key_len, text, strlen(text), "t", "d",
                               &back, errstr, sizeof(errstr)) != 1 ||
            !same(back.name, c->name) || !same(back.metadata, c->metadata) ||
            !same(back.configuration_json, c->configuration_json) ||
            strcmp(back.metric, c->metric) || strcmp(back.id, c->id))
                abort();
        vcdc_gw_coll_clear(&back);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t key_len = nl ? (size_t)(nl - data) : size;
        const uint8_t *value = nl ? nl + 1 : NULL;
        size_t len = nl ? size - key_len - 1 : 0;
        vcdc_gw_coll_t c;
        char errstr[512], tiny[8];
        int r, r2;

        errstr[0] = '\0';
        r = vcdc_gw_coll_parse(data, key_len, value, len, "t", "d", &c, errstr,
                               sizeof(errstr));
        if (r == 1)
                check(&c, data, key_len);
        else if (c.name || c.metadata || c.configuration_json)
                abort(); /* left behind */
        else if (r == -1 && !errstr[0])
                abort(); /* refused without a reason */
        vcdc_gw_coll_clear(&c);
        r2 = vcdc_gw_coll_parse(data, key_len, value, len, "t", "d", &c, tiny,
                                sizeof(tiny));
        if (r2 != r || (r == -1 && strlen(tiny) >= sizeof(tiny)))
                abort();
        vcdc_gw_coll_clear(&c);
        return 0;
}

/*
 * vcdc - Kafka keys: the collection, percent-escaped, a '/', then the id
 * (codec.h).
 * Keys only: no partitioning (the producer's), no decoding of values.
 */
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Keys.
 */
size_t vcdc_key_write(const char *collection, const char *id, char *buf,
                      size_t size) {
        size_t clen = strlen(collection), ilen = strlen(id), n = 0, i;

        for (i = 0; i < clen; i++)
                if (collection[i] == '%' || collection[i] == '/')
                        n += 2;
        n += clen + 1 + ilen;
        if (n >= size)
                return n;
        for (i = 0; i < clen; i++) {
                char c = collection[i];
                if (c == '%' || c == '/') {
                        *buf++ = '%';
                        *buf++ = '2';
                        *buf++ = c == '%' ? '5' : 'F';
                } else {
                        *buf++ = c;
                }
        }
        *buf++ = '/';
        memcpy(buf, id, ilen);
        buf[ilen] = '\0';
        return n;
}

int vcdc_key_encode(const char *collection, const char *id, char **keyp,
                    size_t *lenp) {
        size_t n = vcdc_key_write(collection, id, NULL, 0);
        char *key = malloc(n + 1);

        if (!key)
                return -1;
        vcdc_key_write(collection, id, key, n + 1);
        *keyp = key;
        *lenp = n;
        return 0;
}

int vcdc_key_check(const void *key, size_t len, const vcdc_record_t *rec,
                   char *errstr, size_t errstr_size) {
        char buf[VCDC_COLLECTION_MAX_BYTES * 3 + VCDC_ID_MAX_BYTES + 2];
        size_t need =
                vcdc_key_write(rec->collection, rec->id, buf, sizeof(buf));

        if (need >= sizeof(buf))
                need = 0, buf[0] = '\0'; /* beyond the limits: not written */
        else if (key && len == need && !memcmp(key, buf, len))
                return 0;
        snprintf(errstr, errstr_size,
                 "the message key \"%.*s\" is not the record's "
                 "collection/id \"%.*s\" (keys decide the partition, and so "
                 "the order of one id's changes)",
                 key ? (int)(len < 80 ? len : 80) : 0,
                 key ? (const char *)key : "", (int)(need < 80 ? need : 80),
                 buf);
        return -1;
}

int vcdc_key_decode(const void *key, size_t len, char **collectionp,
                    char **idp) {
        const char *k = key, *slash;
        char *coll, *id;
        size_t i, n = 0, clen;

        *collectionp = *idp = NULL;
        if (!k || !(slash = memchr(k, '/', len)))
                return -1;
        clen = (size_t)(slash - k);
        if (!(coll = malloc(clen + 1)))
                return -1;
        for (i = 0; i < clen; i++) {
                if (k[i] == '%') {
                        if (i + 2 < clen && k[i + 1] == '2' &&
                            (k[i + 2] == '5' || k[i + 2] == 'F')) {
                                coll[n++] = k[i + 2] == '5' ? '%' : '/';
                                i += 2;
                                continue;
                        }
                        free(coll);
                        return -1;
                }
                if (k[i] == '\0') {
                        free(coll);
                        return -1;
                }
                coll[n++] = k[i];
        }
        coll[n] = '\0';
        len -= clen + 1;
        if (memchr(slash + 1, '\0', len) || !(id = malloc(len + 1))) {
                free(coll);
                return -1;
        }
        memcpy(id, slash + 1, len);
        id[len] = '\0';
        *collectionp = coll;
        *idp = id;
        return 0;
}

/*
 * vcdc gateway - the tokens file and the access decisions (access.h).
 * Keeps SHA-256 digests of the tokens, never the tokens; no message here
 * quotes a field of a tokens file line (a line with its columns swapped
 * would put a token where a role belongs).
 */
#include "access.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "errstr.h"

#define DIGEST_LEN   32
#define TOKEN_MIN    8
#define TOKEN_MAX    4096
#define NAME_MAX_LEN 512
/* A tokens file is small; a bigger one is a mistake (a wrong path). */
#define FILE_MAX (16 * 1024 * 1024)

struct vcdc_gw_token_s {
        unsigned char digest[DIGEST_LEN];
        vcdc_gw_role_t role;
        char **colls; /* NULL: all collections (*) */
        size_t coll_cnt;
        size_t line;
        char fingerprint[VCDC_GW_FINGERPRINT_SIZE];
};

struct vcdc_gw_access_s {
        vcdc_gw_token_t *toks;
        size_t cnt;
};

const char *vcdc_gw_role_name(vcdc_gw_role_t role) {
        switch (role) {
        case VCDC_GW_ROLE_PUBLIC:
                return "public";
        case VCDC_GW_ROLE_READ:
                return "read";
        case VCDC_GW_ROLE_WRITE:
                return "write";
        case VCDC_GW_ROLE_ADMIN:
                return "admin";
        }
        return "?";
}

static int sha256(const char *s, size_t len, unsigned char *out) {
        unsigned int n = 0;

        if (!EVP_Digest(s, len, out, &n, EVP_sha256(), NULL) || n != DIGEST_LEN)
                return -1;
        return 0;
}

static void fingerprint(const unsigned char *digest, char *out) {
        static const char hex[] = "0123456789abcdef";
        size_t i;

        memcpy(out, "sha256:", 7);
        for (i = 0; i < 6; i++) {
                out[7 + 2 * i] = hex[digest[i] >> 4];
                out[8 + 2 * i] = hex[digest[i] & 15];
        }
        out[19] = '\0';
}

void vcdc_gw_access_destroy(vcdc_gw_access_t *access) {
        size_t i, j;

        if (!access)
                return;
        for (i = 0; i < access->cnt; i++) {
                for (j = 0; j < access->toks[i].coll_cnt; j++)
                        free(access->toks[i].colls[j]);
                free(access->toks[i].colls);
        }
        if (access->toks)
                OPENSSL_cleanse(access->toks,
                                access->cnt * sizeof(*access->toks));
        free(access->toks);
        free(access);
}

size_t vcdc_gw_access_count(const vcdc_gw_access_t *access) {
        return access ? access->cnt : 0;
}

static int is_blank(char c) {
        return c == ' ' || c == '\t';
}

static int name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* COLLECTIONS of one line into tok. Returns 0 or -1 with errstr. */
static int parse_colls(vcdc_gw_token_t *tok, const char *s, size_t len,
                       const char *name, size_t lineno, char *errstr,
                       size_t errstr_size) {
        size_t i = 0, n, k, item = 0;

        if (len == 1 && s[0] == '*')
                return 0;
        while (i <= len) {
                char **colls;

                item++;
                n = i;
                while (n < len && s[n] != ',')
                        n++;
                if (n == i)
                        return vcdc_fail(errstr, errstr_size,
                                         "%s:%zu: collection %zu of the "
                                         "list is empty",
                                         name, lineno, item);
                if (n - i == 1 && s[i] == '*')
                        return vcdc_fail(errstr, errstr_size,
                                         "%s:%zu: * stands for all "
                                         "collections and must stand alone",
                                         name, lineno);
                if (n - i > NAME_MAX_LEN)
                        return vcdc_fail(errstr, errstr_size,
                                         "%s:%zu: collection %zu of the "
                                         "list is longer than %d characters",
                                         name, lineno, item, NAME_MAX_LEN);
                for (k = i; k < n; k++)
                        if (!name_char(s[k]))
                                return vcdc_fail(
                                        errstr, errstr_size,
                                        "%s:%zu: collection %zu of the list "
                                        "holds a character outside "
                                        "[A-Za-z0-9._-]",
                                        name, lineno, item);
                colls = realloc(tok->colls,
                                (tok->coll_cnt + 1) * sizeof(*colls));
                if (!colls)
                        return vcdc_fail(errstr, errstr_size, "out of memory");
                tok->colls = colls;
                if (!(colls[tok->coll_cnt] = strndup(s + i, n - i)))
                        return vcdc_fail(errstr, errstr_size, "out of memory");
                tok->coll_cnt++;
                i = n + 1;
        }
        return 0;
}

/* One non-blank, non-comment line (len bytes, no newline) into tok. */
static int parse_line(vcdc_gw_token_t *tok, const char *s, size_t len,
                      const char *name, size_t lineno, char *errstr,
                      size_t errstr_size) {
        const char *f[4];
        size_t flen[4], nf = 0, i = 0, k;

        while (i < len) {
                while (i < len && is_blank(s[i]))
                        i++;
                if (i == len)
                        break;
                k = i;
                while (k < len && !is_blank(s[k]))
                        k++;
                if (nf < 4) {
                        f[nf] = s + i;
                        flen[nf] = k - i;
                }
                nf++;
                i = k;
        }
        if (nf != 3)
                return vcdc_fail(errstr, errstr_size,
                                 "%s:%zu: expected TOKEN ROLE COLLECTIONS, "
                                 "found %zu field%s",
                                 name, lineno, nf, nf == 1 ? "" : "s");
        for (k = 0; k < flen[0]; k++)
                if ((unsigned char)f[0][k] < 0x21 ||
                    (unsigned char)f[0][k] > 0x7e)
                        return vcdc_fail(errstr, errstr_size,
                                         "%s:%zu: the token holds a byte "
                                         "that is not printable ASCII",
                                         name, lineno);
        if (flen[0] < TOKEN_MIN || flen[0] > TOKEN_MAX)
                return vcdc_fail(errstr, errstr_size,
                                 "%s:%zu: the token must have %d to %d "
                                 "characters",
                                 name, lineno, TOKEN_MIN, TOKEN_MAX);
        if (flen[1] == 4 && !memcmp(f[1], "read", 4))
                tok->role = VCDC_GW_ROLE_READ;
        else if (flen[1] == 5 && !memcmp(f[1], "write", 5))
                tok->role = VCDC_GW_ROLE_WRITE;
        else if (flen[1] == 5 && !memcmp(f[1], "admin", 5))
                tok->role = VCDC_GW_ROLE_ADMIN;
        else
                return vcdc_fail(errstr, errstr_size,
                                 "%s:%zu: the role (second field) must be "
                                 "read, write or admin",
                                 name, lineno);
        if (parse_colls(tok, f[2], flen[2], name, lineno, errstr,
                        errstr_size) == -1)
                return -1;
        if (sha256(f[0], flen[0], tok->digest) == -1)
                return vcdc_fail(errstr, errstr_size, "%s:%zu: SHA-256 failed",
                                 name, lineno);
        fingerprint(tok->digest, tok->fingerprint);
        tok->line = lineno;
        return 0;
}

vcdc_gw_access_t *vcdc_gw_access_parse(const char *text, size_t len,
                                       const char *name, char *errstr,
                                       size_t errstr_size) {
        vcdc_gw_access_t *access = calloc(1, sizeof(*access));
        size_t pos = 0, lineno = 0, cap = 0, i;

        if (!access) {
                vcdc_fail(errstr, errstr_size, "out of memory");
                return NULL;
        }
        while (pos < len) {
                const char *s = text + pos, *nl;
                size_t n, k;

                lineno++;
                nl = memchr(s, '\n', len - pos);
                n = nl ? (size_t)(nl - s) : len - pos;
                pos += n + (nl != NULL);
                if (memchr(s, '\0', n)) {
                        vcdc_fail(errstr, errstr_size, "%s:%zu: a NUL byte",
                                  name, lineno);
                        goto err;
                }
                if (n && s[n - 1] == '\r')
                        n--;
                for (k = 0; k < n && is_blank(s[k]); k++)
                        ;
                if (k == n || s[k] == '#')
                        continue;
                if (access->cnt == cap) {
                        vcdc_gw_token_t *t;
                        size_t ncap = cap ? 2 * cap : 8;
                        if (!(t = realloc(access->toks, ncap * sizeof(*t)))) {
                                vcdc_fail(errstr, errstr_size, "out of memory");
                                goto err;
                        }
                        access->toks = t;
                        cap = ncap;
                }
                memset(&access->toks[access->cnt], 0, sizeof(vcdc_gw_token_t));
                access->cnt++;
                if (parse_line(&access->toks[access->cnt - 1], s, n, name,
                               lineno, errstr, errstr_size) == -1)
                        goto err;
                for (i = 0; i + 1 < access->cnt; i++)
                        if (!CRYPTO_memcmp(access->toks[i].digest,
                                           access->toks[access->cnt - 1].digest,
                                           DIGEST_LEN)) {
                                vcdc_fail(errstr, errstr_size,
                                          "%s:%zu: the same token as line "
                                          "%zu",
                                          name, lineno, access->toks[i].line);
                                goto err;
                        }
        }
        if (!access->cnt) {
                vcdc_fail(errstr, errstr_size,
                          "%s: no tokens (every request would be refused)",
                          name);
                goto err;
        }
        return access;
err:
        vcdc_gw_access_destroy(access);
        return NULL;
}

vcdc_gw_access_t *vcdc_gw_access_load(const char *path, char *errstr,
                                      size_t errstr_size) {
        vcdc_gw_access_t *access = NULL;
        char *text = NULL;
        size_t got = 0;
        struct stat st;
        ssize_t r;
        int fd;

        if ((fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC)) == -1) {
                vcdc_fail(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return NULL;
        }
        /* The checks are on the file opened, not on the path again. */
        if (fstat(fd, &st) == -1) {
                vcdc_fail(errstr, errstr_size, "%s: %s", path, strerror(errno));
                goto done;
        }
        if (!S_ISREG(st.st_mode)) {
                vcdc_fail(errstr, errstr_size, "%s: not a regular file", path);
                goto done;
        }
        if (st.st_uid != geteuid()) {
                vcdc_fail(errstr, errstr_size,
                          "%s: owned by uid %lu, not by the gateway's user "
                          "(uid %lu)",
                          path, (unsigned long)st.st_uid,
                          (unsigned long)geteuid());
                goto done;
        }
        if (st.st_mode & 077) {
                vcdc_fail(errstr, errstr_size,
                          "%s: mode %04o lets others read or write it: it "
                          "must be 0600 or stricter (chmod 600 %s)",
                          path, (unsigned)(st.st_mode & 07777), path);
                goto done;
        }
        if (st.st_size > FILE_MAX) {
                vcdc_fail(errstr, errstr_size,
                          "%s: larger than %d bytes: not a tokens file?", path,
                          FILE_MAX);
                goto done;
        }
        if (!(text = malloc((size_t)st.st_size + 1))) {
                vcdc_fail(errstr, errstr_size, "out of memory");
                goto done;
        }
        while (got < (size_t)st.st_size) {
                r = read(fd, text + got, (size_t)st.st_size - got);
                if (r == -1 && errno == EINTR)
                        continue;
                if (r == -1) {
                        vcdc_fail(errstr, errstr_size, "%s: %s", path,
                                  strerror(errno));
                        goto done;
                }
                if (r == 0)
                        break;
                got += (size_t)r;
        }
        access = vcdc_gw_access_parse(text, got, path, errstr, errstr_size);
done:
        if (text) {
                OPENSSL_cleanse(text, (size_t)st.st_size + 1);
                free(text);
        }
        close(fd);
        return access;
}

/* The token in a header value: blanks around it dropped; for
 * Authorization, after the "Bearer" scheme (case-insensitive, RFC 9110).
 * Returns its length (0: none) with *startp set. */
static size_t header_token(const char *v, int bearer, const char **startp) {
        size_t len;

        if (!v)
                return 0;
        while (is_blank(*v))
                v++;
        if (bearer) {
                if (strncasecmp(v, "Bearer", 6) || !is_blank(v[6]))
                        return 0;
                v += 7;
                while (is_blank(*v))
                        v++;
        }
        len = strlen(v);
        while (len && is_blank(v[len - 1]))
                len--;
        *startp = v;
        return len;
}

const vcdc_gw_token_t *
vcdc_gw_access_authenticate(const vcdc_gw_access_t *access,
                            const char *authorization,
                            const char *x_chroma_token) {
        unsigned char digest[DIGEST_LEN];
        const char *tok = NULL;
        size_t len, i, found = 0, hit = 0;

        if (!access)
                return NULL;
        if (!(len = header_token(authorization, 1, &tok)))
                len = header_token(x_chroma_token, 0, &tok);
        if (!len || len > TOKEN_MAX || sha256(tok, len, digest) == -1)
                return NULL;
        /* Every entry is compared; no branch depends on which matched. */
        for (i = 0; i < access->cnt; i++) {
                size_t eq = (size_t)(CRYPTO_memcmp(access->toks[i].digest,
                                                   digest, DIGEST_LEN) == 0);
                found |= (i + 1) & (0 - eq);
                hit |= eq;
        }
        OPENSSL_cleanse(digest, sizeof(digest));
        return hit ? &access->toks[found - 1] : NULL;
}

int vcdc_gw_access_may_see(const vcdc_gw_access_t *access,
                           const vcdc_gw_token_t *tok, const char *collection) {
        size_t i;

        if (!access)
                return 1;
        if (!tok)
                return 0;
        if (!tok->colls)
                return 1;
        if (!collection)
                return 0;
        for (i = 0; i < tok->coll_cnt; i++)
                if (!strcmp(tok->colls[i], collection))
                        return 1;
        return 0;
}

vcdc_gw_verdict_t vcdc_gw_access_decide(const vcdc_gw_access_t *access,
                                        const vcdc_gw_token_t *tok,
                                        vcdc_gw_role_t role,
                                        const char *collection) {
        if (!access || role == VCDC_GW_ROLE_PUBLIC)
                return VCDC_GW_ALLOW;
        if (!tok)
                return VCDC_GW_DENY_UNAUTHENTICATED;
        if (tok->role < role)
                return VCDC_GW_DENY_FORBIDDEN;
        if (collection && !vcdc_gw_access_may_see(access, tok, collection))
                return VCDC_GW_DENY_FORBIDDEN;
        return VCDC_GW_ALLOW;
}

vcdc_gw_role_t vcdc_gw_token_role(const vcdc_gw_token_t *tok) {
        return tok ? tok->role : VCDC_GW_ROLE_ADMIN;
}

const char *vcdc_gw_token_fingerprint(const vcdc_gw_token_t *tok) {
        return tok ? tok->fingerprint : "-";
}

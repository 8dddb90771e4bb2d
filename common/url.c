/*
 * vcdc - sink URL parsing.
 * Parses only: never resolves a host or opens a connection.
 */
#include "url.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(int c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = tolower(c);
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Decodes len bytes of s with percent-escapes into a new string.
 * Returns NULL on a bad escape, an encoded NUL, or allocation failure. */
static char *pct_decode(const char *s, size_t len, int plus_is_space) {
        char *out = malloc(len + 1), *o = out;
        size_t i;

        if (!out)
                return NULL;
        for (i = 0; i < len; i++) {
                if (s[i] == '%') {
                        int hi, lo;
                        if (i + 2 >= len)
                                goto bad;
                        hi = hexval((unsigned char)s[i + 1]);
                        lo = hexval((unsigned char)s[i + 2]);
                        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                                goto bad;
                        *o++ = (char)(hi * 16 + lo);
                        i += 2;
                } else if (plus_is_space && s[i] == '+') {
                        *o++ = ' ';
                } else {
                        *o++ = s[i];
                }
        }
        *o = '\0';
        return out;
bad:
        free(out);
        return NULL;
}

/* s as error messages show it: a password ("user:secret@host") replaced
 * by "***", so that no message echoes it. Truncated to out_size. */
static const char *redact(const char *s, char *out, size_t out_size) {
        const char *auth = strstr(s, "://"), *first_at = strchr(s, '@');
        const char *end, *at = NULL, *colon, *p;

        /* The user part starts after "://", or at s when an '@' comes
         * first ("u:secret@h/x://" has no scheme of ours). */
        auth = auth && (!first_at || auth < first_at) ? auth + 3 : s;
        end = auth + strcspn(auth, "?#");
        for (p = auth; p < end; p++)
                if (*p == '@')
                        at = p;
        if (!at || !(colon = memchr(auth, ':', (size_t)(at - auth)))) {
                snprintf(out, out_size, "%s", s);
                return out;
        }
        snprintf(out, out_size, "%.*s***%s", (int)(colon + 1 - s), s, at);
        return out;
}

void vcdc_url_destroy(vcdc_url_t *url) {
        size_t i;

        if (!url)
                return;
        for (i = 0; i < url->param_cnt; i++) {
                free(url->params[i].key);
                free(url->params[i].value);
        }
        free(url->params);
        free(url->scheme);
        free(url->user);
        free(url->host);
        free(url->path);
        free(url);
}

static int parse_params(vcdc_url_t *url, const char *q, char *errstr,
                        size_t errstr_size) {
        while (*q) {
                const char *amp = strchr(q, '&');
                size_t len = amp ? (size_t)(amp - q) : strlen(q);
                const char *eq = memchr(q, '=', len);
                vcdc_url_param_t *p;

                if (len == 0) {
                        q++;
                        continue;
                }
                if (!eq || eq == q) {
                        snprintf(errstr, errstr_size,
                                 "parameter \"%.*s\": expected key=value",
                                 (int)len, q);
                        return -1;
                }
                p = realloc(url->params,
                            (url->param_cnt + 1) * sizeof(*url->params));
                if (!p) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
                url->params = p;
                p = &url->params[url->param_cnt];
                p->key = pct_decode(q, (size_t)(eq - q), 1);
                p->value = pct_decode(eq + 1, len - (size_t)(eq - q) - 1, 1);
                url->param_cnt++;
                if (!p->key || !p->value) {
                        snprintf(errstr, errstr_size,
                                 "parameter \"%.*s\": bad percent-escape",
                                 (int)len, q);
                        return -1;
                }
                q += len;
        }
        return 0;
}

vcdc_url_t *vcdc_url_parse(const char *s, char *errstr, size_t errstr_size) {
        vcdc_url_t *url;
        const char *p, *auth, *auth_end, *at, *hostp, *colon, *shown;
        char shown_buf[1024];
        size_t i;

        if (!s || !*s) {
                snprintf(errstr, errstr_size, "empty URL");
                return NULL;
        }
        shown = redact(s, shown_buf, sizeof(shown_buf));
        if (!(url = calloc(1, sizeof(*url)))) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }

        p = strstr(s, "://");
        if (!p || p == s) {
                snprintf(errstr, errstr_size,
                         "\"%s\": expected scheme://host[:port]/...", shown);
                goto err;
        }
        if (!(url->scheme = strndup(s, (size_t)(p - s))))
                goto oom;
        for (i = 0; url->scheme[i]; i++) {
                unsigned char c = (unsigned char)url->scheme[i];
                if (!isalnum(c) && c != '+' && c != '-' && c != '.') {
                        snprintf(errstr, errstr_size, "\"%s\": invalid scheme",
                                 shown);
                        goto err;
                }
                url->scheme[i] = (char)tolower(c);
        }

        auth = p + 3;
        auth_end = auth + strcspn(auth, "/?#");
        if (strchr(auth, '#')) {
                snprintf(errstr, errstr_size, "\"%s\": fragments are not used",
                         shown);
                goto err;
        }
        at = NULL;
        for (p = auth; p < auth_end; p++)
                if (*p == '@')
                        at = p;
        hostp = auth;
        if (at) {
                if (memchr(auth, ':', (size_t)(at - auth))) {
                        snprintf(errstr, errstr_size,
                                 "\"%s\": a password in the URL is refused: "
                                 "pass it through the environment or a file",
                                 shown);
                        goto err;
                }
                if (!(url->user = pct_decode(auth, (size_t)(at - auth), 0)) ||
                    !*url->user) {
                        snprintf(errstr, errstr_size, "\"%s\": bad user name",
                                 shown);
                        goto err;
                }
                hostp = at + 1;
        }
        colon = memchr(hostp, ':', (size_t)(auth_end - hostp));
        if (!(url->host = strndup(hostp, (size_t)((colon ? colon : auth_end) -
                                                  hostp))))
                goto oom;
        if (!*url->host) {
                snprintf(errstr, errstr_size, "\"%s\": missing host", shown);
                goto err;
        }
        if (colon) {
                char *end;
                long port;
                errno = 0;
                port = strtol(colon + 1, &end, 10);
                if (end == colon + 1 || end != auth_end || errno || port < 1 ||
                    port > 65535) {
                        snprintf(errstr, errstr_size,
                                 "\"%s\": port \"%.*s\" is not 1..65535", shown,
                                 (int)(auth_end - colon - 1), colon + 1);
                        goto err;
                }
                url->port = (int)port;
        }

        p = auth_end;
        if (*p == '/')
                p++;
        {
                size_t plen = strcspn(p, "?");
                if (!(url->path = pct_decode(p, plen, 0))) {
                        snprintf(errstr, errstr_size,
                                 "\"%s\": bad percent-escape in path", shown);
                        goto err;
                }
                p += plen;
        }
        if (*p == '?') {
                char perr[256];
                if (parse_params(url, p + 1, perr, sizeof(perr)) == -1) {
                        snprintf(errstr, errstr_size, "\"%s\": %s", shown,
                                 perr);
                        goto err;
                }
        }
        return url;

oom:
        snprintf(errstr, errstr_size, "out of memory");
err:
        vcdc_url_destroy(url);
        return NULL;
}

const char *vcdc_url_param(const vcdc_url_t *url, const char *key) {
        size_t i = url->param_cnt;

        while (i-- > 0)
                if (!strcmp(url->params[i].key, key))
                        return url->params[i].value;
        return NULL;
}

int vcdc_url_check_params(const vcdc_url_t *url, const char *const *allowed,
                          char *errstr, size_t errstr_size) {
        size_t i;

        for (i = 0; i < url->param_cnt; i++) {
                const char *const *a;
                for (a = allowed; *a; a++)
                        if (!strcmp(*a, url->params[i].key))
                                break;
                if (!*a) {
                        size_t n = 0;
                        n += (size_t)snprintf(errstr, errstr_size,
                                              "unknown %s:// parameter \"%s\" "
                                              "(known:",
                                              url->scheme, url->params[i].key);
                        for (a = allowed; *a && n < errstr_size; a++)
                                n += (size_t)snprintf(errstr + n,
                                                      errstr_size - n, " %s",
                                                      *a);
                        if (n < errstr_size)
                                snprintf(errstr + n, errstr_size - n, ")");
                        return -1;
                }
        }
        return 0;
}

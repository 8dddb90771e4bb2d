/*
 * vcdc gateway - who may do what: the tokens file (--tokens FILE), the
 * token a request carries (Authorization: Bearer TOKEN or X-Chroma-Token:
 * TOKEN, as Chroma's clients send it) and the decision for a route's role
 * and collection: allowed, 401 or 403.
 *
 * A tokens file line: TOKEN ROLE COLLECTIONS, fields separated by blanks;
 * ROLE is read, write or admin (each allows what the one before does);
 * COLLECTIONS is a comma-separated list of names or * for all. Blank lines
 * and lines starting with # are skipped. Only a SHA-256 digest of each
 * token is kept; tokens are compared through their digests in constant
 * time; no token is ever written anywhere: a request's identity is a
 * short fingerprint of its token's digest.
 */
#ifndef VCDC_GW_ACCESS_H
#define VCDC_GW_ACCESS_H

#include <stddef.h>

typedef enum vcdc_gw_role_e {
        VCDC_GW_ROLE_PUBLIC = 0, /* a route anyone may call, no token */
        VCDC_GW_ROLE_READ = 1,
        VCDC_GW_ROLE_WRITE = 2,
        VCDC_GW_ROLE_ADMIN = 3,
} vcdc_gw_role_t;

/* "public", "read", "write", "admin". */
const char *vcdc_gw_role_name(vcdc_gw_role_t role);

typedef struct vcdc_gw_access_s vcdc_gw_access_t;

/* One token of the file, as the decisions see it. */
typedef struct vcdc_gw_token_s vcdc_gw_token_t;

/* The fingerprint's length with its NUL: "sha256:" and 12 hex digits. */
#define VCDC_GW_FINGERPRINT_SIZE 20

/**
 * Loads the tokens file path: refuses a file that is not a regular file,
 * not owned by the effective user, or readable or writable by group or
 * others (mode 0600 or stricter). Returns NULL with errstr ("path: ..."
 * or "path:line: ...", never quoting a token).
 */
vcdc_gw_access_t *vcdc_gw_access_load(const char *path, char *errstr,
                                      size_t errstr_size);

/**
 * Parses a tokens file's text (len bytes, NULs refused) without the file
 * checks; name is what errors call it. Returns NULL with errstr.
 */
vcdc_gw_access_t *vcdc_gw_access_parse(const char *text, size_t len,
                                       const char *name, char *errstr,
                                       size_t errstr_size);

/** Frees, wiping the digests. Accepts NULL. */
void vcdc_gw_access_destroy(vcdc_gw_access_t *access);

/** How many tokens were loaded. */
size_t vcdc_gw_access_count(const vcdc_gw_access_t *access);

/**
 * The token a request presents: the value of its Authorization header
 * (which must be "Bearer TOKEN") or else of its X-Chroma-Token header;
 * either may be NULL. Surrounding blanks are ignored, as Chroma does.
 * Returns the token's entry, or NULL when none is presented or it is
 * unknown. Every entry is compared, in time independent of where (and
 * whether) it matches.
 */
const vcdc_gw_token_t *
vcdc_gw_access_authenticate(const vcdc_gw_access_t *access,
                            const char *authorization,
                            const char *x_chroma_token);

/* A decision. */
typedef enum vcdc_gw_verdict_e {
        VCDC_GW_ALLOW = 200,
        VCDC_GW_DENY_UNAUTHENTICATED = 401, /* no token, or not known */
        VCDC_GW_DENY_FORBIDDEN = 403,       /* role or collection */
} vcdc_gw_verdict_t;

/**
 * May tok (NULL: none or unknown) call a route needing role, on
 * collection (NULL: the route names none)? Without a tokens file
 * (access NULL) everything is allowed; a public route is allowed to all.
 */
vcdc_gw_verdict_t vcdc_gw_access_decide(const vcdc_gw_access_t *access,
                                        const vcdc_gw_token_t *tok,
                                        vcdc_gw_role_t role,
                                        const char *collection);

/** May tok see collection (list filtering)? 1 or 0; 1 without a file. */
int vcdc_gw_access_may_see(const vcdc_gw_access_t *access,
                           const vcdc_gw_token_t *tok, const char *collection);

/** tok's role; admin without a tokens file (tok NULL). */
vcdc_gw_role_t vcdc_gw_token_role(const vcdc_gw_token_t *tok);

/** tok's fingerprint ("sha256:" + 12 hex digits of its digest), "-" for
 *  NULL: what logs and the audit name a caller by. */
const char *vcdc_gw_token_fingerprint(const vcdc_gw_token_t *tok);

#endif

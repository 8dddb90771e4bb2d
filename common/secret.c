/*
 * vcdc - secrets from the environment or a file (secret.h).
 */
#include "secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *vcdc_secret(const char *name, int *failedp, char *errstr,
                  size_t errstr_size) {
        char fname[128], buf[4096];
        const char *v, *path;
        size_t n;
        FILE *fp;
        char *s;

        *failedp = 0;
        if ((v = getenv(name)) && *v)
                return strdup(v);
        snprintf(fname, sizeof(fname), "%s_FILE", name);
        if (!(path = getenv(fname)) || !*path)
                return NULL;
        if (!(fp = fopen(path, "r"))) {
                snprintf(errstr, errstr_size, "%s=%s: cannot open: %s", fname,
                         path, strerror(errno));
                *failedp = 1;
                return NULL;
        }
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        buf[n] = '\0';
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                buf[--n] = '\0';
        s = strdup(buf);
        explicit_bzero(buf, sizeof(buf));
        return s;
}

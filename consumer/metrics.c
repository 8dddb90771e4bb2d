/*
 * vcdc - Prometheus text endpoint.
 * It serves what render() writes and never touches the consumer's state.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BODY_MAX (256 * 1024)

struct vcdc_metrics_s {
        int fd, port;
        pthread_t thread;
        atomic_int stop;
        vcdc_metrics_render_t *render;
        void *opaque;
        char *body;
};

static void serve_one(vcdc_metrics_t *m, int cfd) {
        char req[2048], hdr[256];
        struct pollfd pfd = {.fd = cfd, .events = POLLIN};
        ssize_t n;
        size_t len, off;
        int ok;

        /* One short request line is all we need; a slow client gets 1 s. */
        if (poll(&pfd, 1, 1000) <= 0 ||
            (n = recv(cfd, req, sizeof(req) - 1, 0)) <= 0)
                return;
        req[n] = '\0';
        ok = !strncmp(req, "GET /metrics ", 13) || !strncmp(req, "GET / ", 6);
        len = ok ? m->render(m->body, BODY_MAX, m->opaque) : 0;
        snprintf(hdr, sizeof(hdr),
                 "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                 ok ? "200 OK" : "404 Not Found", len);
        if (send(cfd, hdr, strlen(hdr), MSG_NOSIGNAL) < 0)
                return;
        for (off = 0; off < len; off += (size_t)n)
                if ((n = send(cfd, m->body + off, len - off, MSG_NOSIGNAL)) <=
                    0)
                        return;
}

static void *run(void *arg) {
        vcdc_metrics_t *m = arg;
        struct pollfd pfd = {.fd = m->fd, .events = POLLIN};
        int cfd;

        while (!atomic_load(&m->stop)) {
                if (poll(&pfd, 1, 200 /*ms: sees stop*/) <= 0)
                        continue;
                if ((cfd = accept(m->fd, NULL, NULL)) < 0)
                        continue;
                serve_one(m, cfd);
                close(cfd);
        }
        return NULL;
}

vcdc_metrics_t *vcdc_metrics_start(const char *bind_addr, int port,
                                   vcdc_metrics_render_t *render,
                                   void *opaque, char *errstr,
                                   size_t errstr_size) {
        vcdc_metrics_t *m = calloc(1, sizeof(*m));
        struct sockaddr_in sin = {0};
        socklen_t slen = sizeof(sin);
        int one = 1;

        if (!m || !(m->body = malloc(BODY_MAX))) {
                free(m);
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        m->fd = -1;
        m->render = render;
        m->opaque = opaque;
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, bind_addr, &sin.sin_addr) != 1) {
                snprintf(errstr, errstr_size,
                         "metrics: bind address \"%s\" is not an IPv4 "
                         "address",
                         bind_addr);
                goto err;
        }
        if ((m->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
            setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
            bind(m->fd, (struct sockaddr *)&sin, sizeof(sin)) ||
            listen(m->fd, 16) ||
            getsockname(m->fd, (struct sockaddr *)&sin, &slen)) {
                snprintf(errstr, errstr_size, "metrics: %s:%d: %s", bind_addr,
                         port, strerror(errno));
                goto err;
        }
        m->port = ntohs(sin.sin_port);
        if (pthread_create(&m->thread, NULL, run, m)) {
                snprintf(errstr, errstr_size, "metrics: cannot start thread");
                goto err;
        }
        return m;
err:
        if (m->fd >= 0)
                close(m->fd);
        free(m->body);
        free(m);
        return NULL;
}

int vcdc_metrics_port(const vcdc_metrics_t *m) {
        return m->port;
}

void vcdc_metrics_stop(vcdc_metrics_t *m) {
        if (!m)
                return;
        atomic_store(&m->stop, 1);
        pthread_join(m->thread, NULL);
        close(m->fd);
        free(m->body);
        free(m);
}

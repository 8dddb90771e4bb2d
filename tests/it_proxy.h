/*
 * vcdc - a TCP proxy for the integration tests, in a thread: it forwards
 * to a server (a database, Chroma), and on command holds a client's
 * bytes, refuses connections or forwards again, so a test can make a
 * sink's server slow, absent or back; and the two clock helpers the
 * integration tests share (it_now(), it_sleep_ms()). Tests only;
 * header-only (static inline). Include after cmocka.h.
 */
#ifndef VCDC_IT_PROXY_H
#define VCDC_IT_PROXY_H

/* Every descriptor is close-on-exec: a server a test restarts (system())
 * must not inherit the listening socket, or it would take a share of
 * the connections (SO_REUSEPORT) and never answer them. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* Seconds of the monotonic clock. */
static inline double it_now(void) {
        return (double)vcdc_clock_ms() / 1000.0;
}

static inline void it_sleep_ms(int ms) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
}

/*
 * A TCP proxy to a server in a thread. Commands: 'h' holds the clients
 * connected now (their bytes stay unread; later connections, such as a
 * cancel request, pass), 'r' releases them: what they sent goes on to the
 * server, then their end of file, and the server's answers are dropped
 * once the client is gone. 'd' closes everything and refuses connections
 * (the port stays reserved), 'u' listens again, 'q' quits.
 */
#define IT_PROXY_PAIRS 16

typedef struct it_pair_s {
        int fd[2]; /* client, server; -1 when unused */
        int held;
        int client_eof;
} it_pair_t;

typedef struct it_proxy_s {
        struct sockaddr_in target;
        int port, reserve_fd, listen_fd;
        int ctl[2], ack[2];
        it_pair_t pairs[IT_PROXY_PAIRS];
        pthread_t thread;
} it_proxy_t;

/* pipe(), close-on-exec. */
static inline int it_pipe(int fds[2]) {
        if (pipe(fds) == -1)
                return -1;
        fcntl(fds[0], F_SETFD, FD_CLOEXEC);
        fcntl(fds[1], F_SETFD, FD_CLOEXEC);
        return 0;
}

static inline int it_proxy_bind(it_proxy_t *px) {
        struct sockaddr_in addr;
        socklen_t len = sizeof(addr);
        int fd, one = 1;

        if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
                return -1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        memset(&addr, 0, sizeof(addr));
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons((uint16_t)px->port);
        if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == -1 ||
            getsockname(fd, (struct sockaddr *)&addr, &len) == -1) {
                close(fd);
                return -1;
        }
        px->port = ntohs(addr.sin_port);
        return fd;
}

static inline int it_proxy_listen(it_proxy_t *px) {
        int fd = it_proxy_bind(px);

        if (fd == -1 || listen(fd, 16) == -1) {
                if (fd != -1)
                        close(fd);
                return -1;
        }
        px->listen_fd = fd;
        return 0;
}

static inline void it_pair_close(it_pair_t *p) {
        if (p->fd[0] != -1)
                close(p->fd[0]);
        if (p->fd[1] != -1)
                close(p->fd[1]);
        memset(p, 0, sizeof(*p));
        p->fd[0] = p->fd[1] = -1;
}

static inline void it_proxy_accept(it_proxy_t *px) {
        int c = accept(px->listen_fd, NULL, NULL), s, j;

        if (c == -1)
                return;
        fcntl(c, F_SETFD, FD_CLOEXEC);
        for (j = 0; j < IT_PROXY_PAIRS; j++)
                if (px->pairs[j].fd[0] == -1 && px->pairs[j].fd[1] == -1)
                        break;
        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (j == IT_PROXY_PAIRS || s == -1 ||
            connect(s, (struct sockaddr *)&px->target, sizeof(px->target)) ==
                    -1) {
                close(c);
                if (s != -1)
                        close(s);
                return;
        }
        px->pairs[j].fd[0] = c;
        px->pairs[j].fd[1] = s;
}

/* Moves what side of pair p has to the other side. */
static inline void it_pair_forward(it_pair_t *p, int side) {
        char buf[65536];
        ssize_t n = read(p->fd[side], buf, sizeof(buf)), off = 0, w;

        if (n <= 0) {
                if (side == 0 && n == 0) {
                        /* The client is gone: the server gets the end of
                         * what it sent and may still answer. */
                        shutdown(p->fd[1], SHUT_WR);
                        p->client_eof = 1;
                        return;
                }
                it_pair_close(p);
                return;
        }
        if (side == 1 && p->client_eof)
                return; /* answers for a client that left */
        while (off < n) {
                if ((w = write(p->fd[!side], buf + off, (size_t)(n - off))) <=
                    0) {
                        if (side == 1) {
                                p->client_eof = 1;
                                return;
                        }
                        it_pair_close(p);
                        return;
                }
                off += w;
        }
}

static inline void *it_proxy_main(void *arg) {
        it_proxy_t *px = arg;

        for (;;) {
                struct pollfd pfd[2 + 2 * IT_PROXY_PAIRS];
                int who[2 + 2 * IT_PROXY_PAIRS];
                int n = 0, i, j;
                char cmd;

                pfd[n].fd = px->ctl[0];
                pfd[n].events = POLLIN;
                who[n++] = -1;
                if (px->listen_fd != -1) {
                        pfd[n].fd = px->listen_fd;
                        pfd[n].events = POLLIN;
                        who[n++] = -2;
                }
                for (i = 0; i < IT_PROXY_PAIRS; i++) {
                        it_pair_t *p = &px->pairs[i];
                        if (p->fd[1] == -1)
                                continue;
                        for (j = 0; j < 2; j++) {
                                if (j == 0 && (p->held || p->client_eof))
                                        continue;
                                pfd[n].fd = p->fd[j];
                                pfd[n].events = POLLIN;
                                who[n++] = i * 2 + j;
                        }
                }
                if (poll(pfd, (nfds_t)n, -1) == -1) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (pfd[0].revents) {
                        if (read(px->ctl[0], &cmd, 1) != 1 || cmd == 'q')
                                break;
                        for (i = 0; i < IT_PROXY_PAIRS; i++) {
                                it_pair_t *p = &px->pairs[i];
                                if (p->fd[1] == -1)
                                        continue;
                                if (cmd == 'h')
                                        p->held = 1;
                                else if (cmd == 'r')
                                        p->held = 0;
                                else if (cmd == 'd')
                                        it_pair_close(p);
                        }
                        if (cmd == 'd' && px->listen_fd != -1) {
                                close(px->listen_fd);
                                px->listen_fd = -1;
                        } else if (cmd == 'u' && px->listen_fd == -1) {
                                it_proxy_listen(px);
                        } else if (cmd == 'c') {
                                /* how many pairs are open */
                                for (i = 0, j = 0; i < IT_PROXY_PAIRS; i++)
                                        j += px->pairs[i].fd[1] != -1;
                                cmd = (char)j;
                        }
                        if (write(px->ack[1], &cmd, 1) != 1)
                                break;
                        continue;
                }
                for (i = 1; i < n; i++) {
                        if (!pfd[i].revents)
                                continue;
                        if (who[i] == -2)
                                it_proxy_accept(px);
                        else if (px->pairs[who[i] / 2].fd[who[i] % 2] ==
                                 pfd[i].fd)
                                it_pair_forward(&px->pairs[who[i] / 2],
                                                who[i] % 2);
                }
        }
        return NULL;
}

/* Sends cmd and returns the proxy's answer (for 'c', the open pairs). */
static inline int it_proxy_cmd(it_proxy_t *px, char cmd) {
        char a = 0;

        assert_int_equal(write(px->ctl[1], &cmd, 1), 1);
        if (cmd != 'q')
                assert_int_equal(read(px->ack[0], &a, 1), 1);
        return a;
}

/* Waits until no pair is open (every server connection closed). */
static inline int it_proxy_drained(it_proxy_t *px, double timeout_s) {
        double t0 = it_now();

        while (it_proxy_cmd(px, 'c') > 0) {
                if (it_now() - t0 > timeout_s)
                        return 0;
                it_sleep_ms(50);
        }
        return 1;
}

static inline int it_proxy_start(it_proxy_t *px, const char *host, int port) {
        int i;

        memset(px, 0, sizeof(*px));
        px->listen_fd = -1;
        for (i = 0; i < IT_PROXY_PAIRS; i++)
                px->pairs[i].fd[0] = px->pairs[i].fd[1] = -1;
        px->target.sin_family = AF_INET;
        px->target.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &px->target.sin_addr) != 1)
                return -1; /* IPv4 literals only */
        if (it_pipe(px->ctl) == -1 || it_pipe(px->ack) == -1 ||
            (px->reserve_fd = it_proxy_bind(px)) == -1 ||
            it_proxy_listen(px) == -1)
                return -1;
        return pthread_create(&px->thread, NULL, it_proxy_main, px) ? -1 : 0;
}

static inline void it_proxy_stop(it_proxy_t *px) {
        int i;

        it_proxy_cmd(px, 'q');
        pthread_join(px->thread, NULL);
        if (px->listen_fd != -1)
                close(px->listen_fd);
        close(px->reserve_fd);
        for (i = 0; i < IT_PROXY_PAIRS; i++)
                it_pair_close(&px->pairs[i]);
        close(px->ctl[0]);
        close(px->ctl[1]);
        close(px->ack[0]);
        close(px->ack[1]);
}

#endif

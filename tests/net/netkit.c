/*
 * vcdc - test kit: a listening socket on 127.0.0.1 (netkit.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "net/netkit.h"

int listen_loopback(int *portp) {
        struct sockaddr_in sa;
        socklen_t salen = sizeof(sa);
        int fd, one = 1;

        fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 8), 0);
        getsockname(fd, (struct sockaddr *)&sa, &salen);
        *portp = ntohs(sa.sin_port);
        return fd;
}

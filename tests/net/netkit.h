/*
 * vcdc - test kit for tests that stand in for a server: a listening
 * socket on 127.0.0.1 at a port the system picks (the canned responder of
 * test_sink_chroma_http.c, the fake Chroma of test_sink_chroma_faults.c).
 * Test code only: it fails the test (cmocka) when it cannot listen.
 */
#ifndef VCDC_TEST_NETKIT_H
#define VCDC_TEST_NETKIT_H

/** A TCP socket listening on 127.0.0.1 (backlog 8) at a free port, put in
 *  *portp. Returns the socket. */
int listen_loopback(int *portp);

#endif

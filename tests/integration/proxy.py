"""A TCP proxy on 127.0.0.1 in front of one real server, for fault tests.

cut() takes the server off the network as a crash would look from the
client: every open connection is reset and new ones are refused, while the
server itself keeps running with its data intact. restore() puts it back
on the same port. slow(lo, hi) holds each chunk the server sends for a
random lo..hi seconds (a connection's chunks stay in order), which makes
the server slow without touching it; fast() ends that. Counters:
connections accepted, chunks delayed.

Why not stop the server: Chroma 1.0's local server (the npm `chroma run`
of chromadb 3.0.6) has no SIGTERM handler, and a kill while it writes can
leave a collection's HNSW segment unusable ("Failed to apply logs to the
hnsw segment writer" on every later request, or a server that dies when
the collection is next touched). A target outage test is about the
consumer, so Chroma's outages go through this proxy; PostgreSQL, which
shuts down cleanly and recovers from a crash, is stopped for real.
"""

import random
import socket
import struct
import threading
import time


class TcpProxy:
    def __init__(self, host, port, seed=0):
        self.target = (host, port)
        self.rng = random.Random(seed)
        self.connections = 0
        self.delayed = 0
        self._delay = None  # (lo, hi) seconds while slow
        self._lock = threading.Lock()
        self._conns = set()
        self._listener = None
        self._thread = None
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.restore()

    # ------------------------------------------------------------ control

    def restore(self):
        """Accept connections again on the same port."""
        if self._listener is not None:
            return
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        s.settimeout(0.1)
        self._listener = s
        self._thread = threading.Thread(target=self._accept_loop, args=(s,),
                                        daemon=True)
        self._thread.start()

    def slow(self, lo, hi):
        """From now on, hold each server->client chunk lo..hi seconds."""
        self._delay = (lo, hi)

    def fast(self):
        self._delay = None

    def cut(self):
        """Refuse new connections and reset the open ones."""
        s, self._listener = self._listener, None
        if s is not None:
            self._thread.join()
            s.close()
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for c in conns:
            _reset(c)

    def close(self):
        self.cut()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ plumbing

    def _accept_loop(self, listener):
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            client.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    _reset(client)
                    _reset(server)
                    return
                self._conns.update((client, server))
                self.connections += 1
            for src, dst, slow in ((client, server, False),
                                   (server, client, True)):
                threading.Thread(target=self._pump, args=(src, dst, slow),
                                 daemon=True).start()

    def _pump(self, src, dst, slow):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                delay = self._delay if slow else None
                if delay:
                    with self._lock:
                        self.delayed += 1
                        held = self.rng.uniform(*delay)
                    time.sleep(held)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self._lock:
            for s in (src, dst):
                if s in self._conns:
                    self._conns.discard(s)
                    s.close()


def _reset(sock):
    """Close with an RST, as a dead peer's kernel would answer."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass

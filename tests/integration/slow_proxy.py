"""A TCP proxy that can make a database slow, for test_faults.py.

SlowProxy(host, port) listens on a free loopback port and forwards every
connection to host:port in both directions. While slow(lo, hi) is in
effect, each chunk the server sends back is held for a random lo..hi
seconds before the client gets it (chunks stay in order: one connection's
chunks are delayed one after another), so every request/response round
trip of a client costs at least that much. fast() ends it. The proxy runs
its own asyncio loop in a daemon thread; close() stops it and its
connections.

Counters: connections (accepted), delayed (server->client chunks held),
bytes_down (server->client bytes forwarded).
"""

import asyncio
import random
import threading


class SlowProxy:
    def __init__(self, host, port, seed=0):
        self.target = (host, port)
        self.rng = random.Random(seed)
        self.delay = None  # (lo, hi) seconds, or None: forward at once
        self.connections = 0
        self.delayed = 0
        self.bytes_down = 0
        self._loop = asyncio.new_event_loop()
        self._server = None
        self._tasks = set()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,),
                                        daemon=True)
        self._thread.start()
        if not ready.wait(10) or self._server is None:
            raise RuntimeError("slow proxy: listener did not start")
        self.port = self._server.sockets[0].getsockname()[1]

    # ------------------------------------------------------------ control

    def slow(self, lo, hi):
        """From now on, hold each server->client chunk lo..hi seconds."""
        self.delay = (lo, hi)

    def fast(self):
        self.delay = None

    def close(self):
        if not self._loop.is_running():
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        fut.result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)

    # ----------------------------------------------------------- the loop

    def _run(self, ready):
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._accept, "127.0.0.1", 0))
        finally:
            ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _shutdown(self):
        self._server.close()
        await self._server.wait_closed()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, creader, cwriter):
        task = asyncio.current_task()
        self._tasks.add(task)
        self.connections += 1
        swriter = None
        try:
            sreader, swriter = await asyncio.open_connection(*self.target)
            await asyncio.gather(self._pipe(creader, swriter, False),
                                 self._pipe(sreader, cwriter, True))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            for w in (cwriter, swriter):
                if w is not None:
                    w.close()

    async def _pipe(self, reader, writer, down):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if down:
                    d = self.delay
                    if d is not None:
                        self.delayed += 1
                        await asyncio.sleep(self.rng.uniform(*d))
                    self.bytes_down += len(data)
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            # One side closed: close the other, so the peer sees it.
            try:
                writer.close()
            except OSError:
                pass

"""vcdc-gateway's data routes when a part fails (issue 19), through the
official Python client (chromadb-client 1.0.20), with the two
vcdc-consumers of test_gateway_data.py (OLD to Chroma, NEW to pgvector):

- the broker stopped: a write answers 503 (message.timeout.ms bounds it,
  it is not delivered later), reads go on;
- the gateway SIGKILLed: every write it acknowledged (--ack log) reaches
  both databases;
- the database that serves reads stopped (Chroma; pgvector after the
  cut-over): reads and writes answer 503 in Chroma's error shape, the
  gateway stays up;
- the database that does not serve reads stopped: reads and writes go on,
  and it catches up once back.

Once the part is back, a refused write goes through when retried and both
databases hold every acknowledged write. The tests that stop a server
need the stack's stop-one/start-one (VCDC_STACK_DIR); the environment
(the `env` fixture: topic, consumers, gateways) is conftest.py's.
"""
import json
import os
import signal
import threading
import time

import pytest

from conftest import GATEWAY_BIN, create_collection
from consumer_helpers import Threads, unique, wait_for

chromadb = pytest.importorskip("chromadb")
pytestmark = pytest.mark.skipif(not GATEWAY_BIN.exists(),
                                reason="bin/vcdc-gateway is not built")


def goes_through(call, what, timeout=90):
    """Retries call until the gateway takes it (no ChromaError) and it
    returns anything but False: a write once a failed part is back."""
    def attempt():
        try:
            return call() is not False
        except chromadb.errors.ChromaError:
            return False
    wait_for(attempt, timeout, what)


@pytest.mark.skipif(not os.environ.get("VCDC_STACK_DIR"),
                    reason="needs the stack's stop-one/start-one")
def test_broker_down_gives_503_then_recovers(env):
    """The broker stopped: a write is refused with 503 (not delivered
    later: message.timeout.ms bounds it), reads still answer; once the
    broker is back the same write goes through."""
    name = unique("gwbroker").replace("-", "_")
    env.consumers(name)
    port, _, _ = env.gateway("-X", "message.timeout.ms=3000")
    gw = chromadb.HttpClient(host="127.0.0.1", port=port)
    col = create_collection(gw, name)
    col.add(ids=["a"], embeddings=[[1, 0, 0]])
    env.stack.stop_one("kafka")
    try:
        t0 = time.monotonic()
        with pytest.raises(chromadb.errors.ChromaError,
                           match="could not be written to the log"):
            col.add(ids=["b"], embeddings=[[0, 1, 0]])
        assert time.monotonic() - t0 < 30
        assert col.count() == 1  # reads go on
    finally:
        env.stack.start_one("kafka")

    goes_through(lambda: col.add(ids=["b"], embeddings=[[0, 1, 0]]),
                 "a write after the broker came back")
    assert sorted(col.get()["ids"]) == ["a", "b"]


def test_sigkill_loses_no_acknowledged_write(env):
    """Writes acknowledged (--ack log) before the gateway is SIGKILLed all
    reach both databases."""
    name = unique("gwkill").replace("-", "_")
    env.consumers(name)
    port, proc, _ = env.gateway("--ack", "log")
    col = create_collection(
        chromadb.HttpClient(host="127.0.0.1", port=port), name)
    acked, errors, stop = [], [], threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            ids = ["k%05d" % (i + j) for j in range(20)]
            try:
                col.upsert(ids=ids, embeddings=[[1.0, j * 0.01, 0.5]
                                                for j in range(20)])
            except Exception as e:  # noqa: BLE001 - the gateway is gone
                errors.append(repr(e))
                return
            acked.extend(ids)
            i += 20
    writers = Threads(writer, [()])
    wait_for(lambda: len(acked) >= 200 or errors,
             90, "some acknowledged writes")
    assert not errors
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    stop.set()
    writers.join(30)
    direct = chromadb.HttpClient(host=env.stack.chroma_host,
                                 port=env.stack.chroma_port)
    dcol = direct.get_collection(name, embedding_function=None)
    wait_for(lambda: set(acked) <= set(dcol.get(include=[])["ids"]),
             60, "every acknowledged id in Chroma")
    import psycopg2

    with psycopg2.connect(env.stack.pg_conninfo) as conn:
        def in_pg():
            with conn.cursor() as cur:
                cur.execute('SELECT id FROM "%s"' % name)
                return set(acked) <= {r[0] for r in cur.fetchall()}
        wait_for(in_pg, 60, "every acknowledged id in pgvector")


@pytest.mark.skipif(not os.environ.get("VCDC_STACK_DIR"),
                    reason="needs the stack's stop-one/start-one")
def test_serving_database_down_gives_503_then_recovers(env):
    """Chroma (the serving side) stopped: reads and writes answer 503, the
    gateway stays up; once Chroma is back both work again, and a write
    refused meanwhile can be retried."""
    name = unique("gwdbdown").replace("-", "_")
    env.consumers(name)
    port, proc, _ = env.gateway("-X", "vcdc.gateway.applied.timeout.ms=3000")
    gw = chromadb.HttpClient(host="127.0.0.1", port=port)
    col = create_collection(gw, name)
    col.add(ids=["a"], embeddings=[[1, 0, 0]])
    env.stack.stop_one("chroma")
    try:
        with pytest.raises(chromadb.errors.ChromaError) as e:
            col.count()
        assert "unreachable" in str(e.value) or "old" in str(e.value)
        with pytest.raises(chromadb.errors.ChromaError):
            col.upsert(ids=["b"], embeddings=[[0, 1, 0]])
        assert proc.poll() is None
    finally:
        env.stack.start_one("chroma")

    goes_through(lambda: col.upsert(ids=["b"], embeddings=[[0, 1, 0]])
                 or col.count() == 2, "Chroma back behind the gateway")
    assert sorted(col.get()["ids"]) == ["a", "b"]


def cut_over(env, name, col, gwname):
    """vcdc cutover of name to NEW, and the gateway following it (it looks
    at the route when a request comes)."""
    def cut():
        return env.vcdc("cutover", "-t", env.topic, "--collection", name,
                        "--to", "new", "--old", env.stack.chroma_url(name),
                        "--new", env.stack.pgvector_url(name),
                        "--old-group", env.group("old", name),
                        "--new-group", env.group("new", name),
                        "--window", "1")
    # The gate may refuse (exit 1) while a group's committed offsets
    # trail what it applied (a commit per vcdc.commit.interval.ms): asked
    # again until it passes, as an operator would.
    deadline = time.monotonic() + 60
    while (run := cut()).returncode == 1 and time.monotonic() < deadline:
        pass
    assert run.returncode == 0, run.stdout + run.stderr
    wait_for(lambda: col.count() >= 0 and
             "reads go to new" in env.log(gwname),
             10, "the gateway to follow the cut-over")


def raw_count(port, col):
    """GET .../count of col through the gateway: (status, decoded body)."""
    import urllib.error
    import urllib.request

    url = ("http://127.0.0.1:%d/api/v2/tenants/default_tenant/databases/"
           "default_database/collections/%s/count" % (port, col.id))
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def same_in_both(env, name, want, timeout=90):
    """Waits until Chroma and pgvector each hold exactly the ids of want,
    then `vcdc verify` finds them equal (vectors, metadata, documents)."""
    import psycopg2

    dcol = chromadb.HttpClient(
        host=env.stack.chroma_host,
        port=env.stack.chroma_port).get_collection(name,
                                                   embedding_function=None)
    wait_for(lambda: set(want) == set(dcol.get(include=[])["ids"]),
             timeout, "Chroma to hold the acknowledged ids")

    def in_pg():
        try:
            with psycopg2.connect(env.stack.pg_conninfo,
                                  connect_timeout=5) as conn:
                with conn.cursor() as cur:
                    cur.execute('SELECT id FROM "%s"' % name)
                    return set(want) == {r[0] for r in cur.fetchall()}
        except psycopg2.Error:
            return False
    wait_for(in_pg, timeout, "pgvector to hold the acknowledged ids")
    v = env.vcdc("verify", "--old", env.stack.chroma_url(name),
                 "--new", env.stack.pgvector_url(name))
    assert v.returncode == 0, v.stdout + v.stderr


@pytest.mark.skipif(not os.environ.get("VCDC_STACK_DIR"),
                    reason="needs the stack's stop-one/start-one")
def test_serving_pgvector_down_after_cutover_gives_503_then_recovers(env):
    """pgvector serving (after the cut-over) and stopped: reads answer 503
    in Chroma's error shape and the gateway stays up. Writes answer 503
    too, even with --ack log: each write reads its ids on the serving side
    first (the read-modify-write that keeps Chroma's merge semantics), so
    none is written to the log, and none is acknowledged. Once pgvector is
    back, reads recover, the refused write goes through when retried, and
    every acknowledged write is in both databases."""
    name = unique("gwpgdown").replace("-", "_")
    env.consumers(name)
    port, proc, gwname = env.gateway("--ack", "log")
    col = create_collection(
        chromadb.HttpClient(host="127.0.0.1", port=port), name)
    acked = ["a%02d" % i for i in range(10)]
    col.add(ids=acked, embeddings=[[1.0, i * 0.1, 0.5] for i in range(10)])
    same_in_both(env, name, acked)
    cut_over(env, name, col, gwname)
    col.upsert(ids=["b"], embeddings=[[0, 1, 0]])
    acked.append("b")
    env.stack.stop_one("pgvector")
    try:
        status, body = raw_count(port, col)
        assert status == 503, body
        assert set(body) == {"error", "message"} and body["message"], body
        with pytest.raises(chromadb.errors.ChromaError):
            col.query(query_embeddings=[[1, 0, 0]], n_results=2)
        with pytest.raises(chromadb.errors.ChromaError,
                           match="reading the ids on new"):
            col.upsert(ids=["c"], embeddings=[[0, 0, 1]])
        assert proc.poll() is None
    finally:
        env.stack.start_one("pgvector")

    goes_through(lambda: col.upsert(ids=["c"], embeddings=[[0, 0, 1]]),
                 "a write after pgvector came back")
    acked.append("c")
    wait_for(lambda: col.count() == len(acked), 30, "pgvector's reads back")
    assert sorted(col.get()["ids"]) == sorted(acked)
    same_in_both(env, name, acked)


@pytest.mark.skipif(not os.environ.get("VCDC_STACK_DIR"),
                    reason="needs the stack's stop-one/start-one")
@pytest.mark.parametrize("down", ["pgvector", "chroma"])
def test_non_serving_database_down_changes_nothing_then_catches_up(env,
                                                                   down):
    """The database that does not serve reads stopped (pgvector before the
    cut-over, Chroma after it): reads and writes through the gateway go on
    (--ack log); once it is back, its consumer applies what it missed and
    it holds every acknowledged write."""
    name = unique("gwside").replace("-", "_")
    env.consumers(name)
    port, proc, gwname = env.gateway("--ack", "log")
    col = create_collection(
        chromadb.HttpClient(host="127.0.0.1", port=port), name)
    acked = ["a%02d" % i for i in range(10)]
    col.add(ids=acked, embeddings=[[1.0, i * 0.1, 0.5] for i in range(10)])
    same_in_both(env, name, acked)
    if down == "chroma":
        cut_over(env, name, col, gwname)
    env.stack.stop_one(down)
    try:
        for k in range(5):
            ids = ["d%d_%d" % (k, j) for j in range(4)]
            col.upsert(ids=ids, embeddings=[[0.2 * j, 1.0, 0.1 * k]
                                            for j in range(4)])
            acked.extend(ids)
        col.update(ids=["a00"], metadatas=[{"during": True}])
        col.delete(ids=["a01"])
        acked.remove("a01")
        # The serving side reads its writes (once applied: --ack log).
        wait_for(lambda: col.count() == len(acked),
                 30, "the serving side to apply the writes")
        got = col.get(ids=["a00", "a01"], include=["metadatas"])
        assert got["ids"] == ["a00"] and got["metadatas"] == [
            {"during": True}]
        res = col.query(query_embeddings=[[0, 1, 0]], n_results=3)
        assert len(res["ids"][0]) == 3
        assert proc.poll() is None
    finally:
        env.stack.start_one(down)
    same_in_both(env, name, acked)
    assert col.count() == len(acked)

"""vcdc-gateway's data routes end to end (issue 19): the official clients
(PyPI chromadb-client 1.0.20, npm chromadb@3.0.6) run a typical
application against the gateway and, separately, against Chroma directly;
the answers must be the same. The gateway writes to a topic that two
vcdc-consumers apply, OLD to Chroma and NEW to pgvector; reads follow the
route, so after `vcdc cutover` the same script is answered by pgvector,
after `vcdc rollback` by Chroma again, and no request fails meanwhile.
Also here: errors in Chroma's shape, --ack log and --ack applied, and
concurrent partial updates of the same ids (none lost, with and without
the pending records' bound, through a cut-over and a rollback). What the
gateway does when a part fails is test_gateway_faults.py's; the
environment (the `env` fixture: topic, consumers, gateways) is
conftest.py's.

Where Chroma itself leaves an order undefined the comparison does too:
a get's records are compared as a set keyed by id (Chroma returns them in
its internal order, which a record rewritten through the log may change;
pgvector's in id order), and a limit/offset page by its size and by being
part of the whole answer. The data has no ties among query distances.
"""
import json
import os
import shutil
import subprocess
import threading
import time

import pytest

from conftest import GATEWAY_BIN, REPO, create_collection
from consumer_helpers import Threads, in_threads, unique, wait_for

TOL = 1e-5

chromadb = pytest.importorskip("chromadb")
pytestmark = pytest.mark.skipif(not GATEWAY_BIN.exists(),
                                reason="bin/vcdc-gateway is not built")


# ------------------------------------------------------- the application

DOCS = ["the quick brown fox", "jumps over", "the lazy dog", "hello world",
        "vectors in a log", "a b c", "zero downtime", "kafka topic"]


def vec(i, shift=0.0):
    # No two records at the same distance from the queries below.
    return [1.0 + i * 0.37 + shift, (i * i) % 7 * 0.11 + 0.05,
            0.3 * (i % 3) + 0.01 * i, 0.9 - 0.05 * i]


def writes(col, phase):
    """A typical application's writes; phase 1 then 2."""
    if phase == 1:
        n = len(DOCS)
        col.add(ids=["id%02d" % i for i in range(n)],
                embeddings=[vec(i) for i in range(n)],
                metadatas=[{"i": i, "even": i % 2 == 0, "tag": "t%d" % (i % 3),
                            "score": i * 0.5} for i in range(n)],
                documents=DOCS)
        # add of an existing id leaves it as it is (Chroma's semantics)
        col.add(ids=["id01"], embeddings=[vec(40)], documents=["not kept"])
        col.upsert(ids=["id02", "id20"],
                   embeddings=[vec(2, 0.2), vec(20)],
                   metadatas=[{"tag": "up", "score": None}, {"i": 20}],
                   documents=["the lazy cat", "new record"])
        # partial updates: metadata only (merged, null removes), and
        # document with embedding
        col.update(ids=["id03"], metadatas=[{"extra": "x", "even": None}])
        col.update(ids=["id04"], documents=["vectors in the log"],
                   embeddings=[vec(4, 0.1)])
        col.update(ids=["nope"], metadatas=[{"i": 1}])  # ignored
        col.delete(ids=["id05"])
        col.delete(where={"tag": "t0"}, where_document={"$contains": "zero"})
    else:
        col.upsert(ids=["id30", "id31"], embeddings=[vec(30), vec(31)],
                   metadatas=[{"i": 30, "tag": "p2"}, {"i": 31, "tag": "p2"}],
                   documents=["phase two", "phase two again"])
        col.update(ids=["id00"], metadatas=[{"i": 100}])
        col.delete(where={"i": {"$gte": 31}})


def rows(res, fields):
    out = {}
    for k, id_ in enumerate(res["ids"]):
        out[id_] = tuple(
            (json.dumps(res[f][k], sort_keys=True) if f != "embeddings"
             else [round(x, 5) for x in res[f][k]]) for f in fields)
    return out


def reads(col):
    """A typical application's reads, normalised for comparison."""
    out = {"count": col.count()}
    full = col.get(include=["documents", "metadatas", "embeddings"])
    out["all"] = rows(full, ["documents", "metadatas", "embeddings"])
    for name, kw in {
            "where": {"where": {"even": True}},
            "where_and": {"where": {"$and": [{"i": {"$gte": 2}},
                                             {"tag": {"$in": ["t0", "t1",
                                                               "up"]}}]}},
            "where_doc": {"where_document": {"$contains": "the"}},
            "ids": {"ids": ["id00", "id03", "missing"]},
            "both": {"where": {"score": {"$lt": 3}},
                     "where_document": {"$not_contains": "log"}}}.items():
        r = col.get(include=["documents", "metadatas"], **kw)
        out[name] = rows(r, ["documents", "metadatas"])
    page = col.get(limit=3, offset=1, include=[])
    out["page_size"] = len(page["ids"])
    out["page_in_all"] = set(page["ids"]) <= set(out["all"])
    q = col.query(query_embeddings=[vec(1, 0.05), vec(6, -0.1)],
                  n_results=4, include=["distances", "documents",
                                        "metadatas"])
    out["query"] = [[(q["ids"][j][k], q["documents"][j][k],
                      json.dumps(q["metadatas"][j][k], sort_keys=True))
                     for k in range(len(q["ids"][j]))]
                    for j in range(len(q["ids"]))]
    out["dist"] = q["distances"]
    qf = col.query(query_embeddings=[vec(3)], n_results=3,
                   where={"i": {"$ne": 0}},
                   where_document={"$contains": "o"}, include=["distances"])
    out["query_filtered"] = qf["ids"]
    out["dist_filtered"] = qf["distances"]
    return out


def assert_same(ours, theirs):
    for key in theirs:
        if key.startswith("dist"):
            for a, b in zip(ours[key], theirs[key]):
                assert len(a) == len(b), key
                for x, y in zip(a, b):
                    assert abs(x - y) < TOL, (key, ours[key], theirs[key])
        elif key == "all":
            assert ours[key].keys() == theirs[key].keys()
            for id_ in theirs[key]:
                d1, m1, e1 = ours[key][id_]
                d2, m2, e2 = theirs[key][id_]
                assert (d1, m1) == (d2, m2), id_
                assert all(abs(x - y) < TOL for x, y in zip(e1, e2)), id_
        else:
            assert ours[key] == theirs[key], (key, ours[key], theirs[key])


# ------------------------------------------------------------------ tests


def test_python_client_same_as_chroma_then_cutover_and_rollback(env):
    name = unique("gwapp").replace("-", "_")
    env.consumers(name)
    audit = env.tmp / "audit-cut.jsonl"
    port, _, gwname = env.gateway("--audit", audit)
    gw = chromadb.HttpClient(host="127.0.0.1", port=port)
    direct = chromadb.HttpClient(host=env.stack.chroma_host,
                                 port=env.stack.chroma_port)
    ref_name = name + "_ref"
    gcol = create_collection(gw, name)
    dcol = create_collection(direct, ref_name)
    assert gcol.name == name and gcol.metadata == {"app": "test"}
    assert gw.get_collection(name).id == gcol.id
    assert name in [c.name for c in gw.list_collections()]

    writes(gcol, 1)
    writes(dcol, 1)
    # --ack applied: every read sees the writes before it, on OLD.
    theirs = reads(dcol)
    assert_same(reads(gcol), theirs)
    assert theirs["count"] == 7

    # Reads go on through the switch; none may fail (the first failure
    # is raised again by join()).
    stop = threading.Event()

    def reader():
        c = chromadb.HttpClient(host="127.0.0.1", port=port).get_collection(
            name, embedding_function=None)
        while not stop.is_set():
            assert c.count() == theirs["count"]
            c.query(query_embeddings=[vec(1)], n_results=2)
    readers = Threads(reader, [()])
    try:
        cut = env.vcdc("cutover", "-t", env.topic, "--collection", name,
                       "--to", "new", "--old", env.stack.chroma_url(name),
                       "--new", env.stack.pgvector_url(name),
                       "--old-group", env.group("old", name),
                       "--new-group", env.group("new", name),
                       "--window", "1")
        assert cut.returncode == 0, cut.stdout + cut.stderr
        t0 = time.monotonic()
        wait_for(lambda: "reads go to new" in env.log(gwname),
                 5, "the gateway to follow the cut-over")
        assert time.monotonic() - t0 < 1.5
        time.sleep(0.3)  # reads keep going across the switch
    finally:
        stop.set()
        readers.join()

    # pgvector answers the same script.
    assert_same(reads(gcol), theirs)
    writes(gcol, 2)
    writes(dcol, 2)
    theirs = reads(dcol)
    assert_same(reads(gcol), theirs)

    rb = env.vcdc("rollback", "--collection", name)
    assert rb.returncode == 0, rb.stdout + rb.stderr
    # The gateway looks at the route when a request comes.
    wait_for(lambda: gcol.count() >= 0 and
             "reads go to old" in env.log(gwname),
             5, "the gateway to follow the rollback")
    assert_same(reads(gcol), theirs)
    # The audit records the switches the gateway saw.
    routes = [(x["path"], x["collection"]) for x in
              map(json.loads, audit.read_text().splitlines())
              if x["method"] == "ROUTE"]
    assert routes == [("cutover old->new", name),
                      ("rollback new->old", name)]

    # A second gateway knows the collection (the control topic) under the
    # same id, and answers the same.
    port2, _, _ = env.gateway()
    gw2 = chromadb.HttpClient(host="127.0.0.1", port=port2)
    col2 = gw2.get_collection(name, embedding_function=None)
    assert col2.id == gcol.id and col2.metadata == {"app": "test"}
    assert_same(reads(col2), theirs)


def test_errors_and_ack_log(env):
    name = unique("gwerr").replace("-", "_")
    env.consumers(name)
    audit = env.tmp / "audit.jsonl"
    port, _, _ = env.gateway("--ack", "log", "--audit", audit)
    gw = chromadb.HttpClient(host="127.0.0.1", port=port)
    col = create_collection(gw, name)
    with pytest.raises(chromadb.errors.NotFoundError):
        gw.get_collection("no_such_collection")
    with pytest.raises(chromadb.errors.ChromaError):
        gw.create_collection(name)  # exists
    with pytest.raises(chromadb.errors.ChromaError, match="does not delete"):
        gw.delete_collection(name)
    col.add(ids=["a", "b"], embeddings=[[1, 0, 0], [0, 1, 0]])
    # --ack log: acknowledged by Kafka; visible once the consumer applied.
    wait_for(lambda: col.count() == 2, 30, "the add to be applied")
    with pytest.raises(chromadb.errors.InvalidArgumentError):
        col.add(ids=["c"], embeddings=[[1, 0]])  # wrong dimension
    col.modify(metadata={"v": 2})
    assert gw.get_collection(name).metadata == {"v": 2}
    # The audit names the offsets the add wrote.
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    adds = [x for x in lines if x["path"].endswith("/add") and
            x["status"] == 201]
    assert len(adds) == 1 and adds[0]["ids"] == 2
    assert adds[0]["collection"] == name
    offs = adds[0]["offsets"]
    assert offs and all(int(p) >= 0 and o >= 0 for p, o in offs.items())


def test_without_consumer_the_write_is_durable_but_503(env):
    """--ack applied past its timeout: 503, and the records are in the
    log (a consumer started later applies them)."""
    name = unique("gwslow").replace("-", "_")
    port, _, _ = env.gateway("-X", "vcdc.gateway.applied.timeout.ms=1500")
    gw = chromadb.HttpClient(host="127.0.0.1", port=port)
    col = create_collection(gw, name)
    t0 = time.monotonic()
    with pytest.raises(chromadb.errors.ChromaError,
                       match="durable in the log but not yet visible"):
        col.add(ids=["x"], embeddings=[[1, 2, 3]])
    assert time.monotonic() - t0 < 10
    env.consumers(name)
    wait_for(lambda: col.count() == 1, 30, "the late consumer to apply it")


def test_concurrent_partial_updates_of_one_id_lose_nothing(env):
    """Eight clients update distinct metadata keys of the same id at once
    through one gateway: every key is there at the end, on both sides
    (read-modify-write under the gateway's per-id locks)."""
    name = unique("gwconc").replace("-", "_")
    env.consumers(name)
    port, _, _ = env.gateway("--threads", "8")
    col = create_collection(
        chromadb.HttpClient(host="127.0.0.1", port=port), name)
    col.add(ids=["x"], embeddings=[[1, 2, 3]], metadatas=[{"base": 0}],
            documents=["kept"])

    def worker(w):
        c = chromadb.HttpClient(host="127.0.0.1", port=port).get_collection(
            name, embedding_function=None)
        for i in range(5):
            c.update(ids=["x"], metadatas=[{"w%d_%d" % (w, i): i}])
    in_threads(worker, [(w,) for w in range(8)])  # raises a failed update
    want = {"base": 0, **{"w%d_%d" % (w, i): i for w in range(8)
                          for i in range(5)}}
    got = col.get(ids=["x"], include=["metadatas", "documents"])
    assert got["metadatas"][0] == want
    assert got["documents"][0] == "kept"
    import psycopg2

    with psycopg2.connect(env.stack.pg_conninfo) as conn:
        def pg_has_all():
            with conn.cursor() as cur:
                cur.execute('SELECT metadata FROM "%s" WHERE id = %%s' % name,
                            ("x",))
                row = cur.fetchone()
                return row is not None and row[0] == want
        wait_for(pg_has_all, 30, "pgvector to hold every key")


def both_sides_hold(env, name, want, timeout=60):
    """Waits until Chroma (directly) and pgvector hold exactly want, a
    {id: (metadata, document)} (a missing id: absent on both)."""
    import psycopg2

    dcol = chromadb.HttpClient(
        host=env.stack.chroma_host,
        port=env.stack.chroma_port).get_collection(name,
                                                   embedding_function=None)
    last = {}

    def chroma_ok():
        g = dcol.get(include=["metadatas", "documents"])
        last["chroma"] = {i: (m, d) for i, m, d in
                          zip(g["ids"], g["metadatas"], g["documents"])}
        return last["chroma"] == want
    try:
        wait_for(chroma_ok, timeout, "Chroma to hold every write")
    except AssertionError:
        raise AssertionError("Chroma holds %r, want %r" %
                             (last.get("chroma"), want))
    with psycopg2.connect(env.stack.pg_conninfo) as conn:
        def pg_ok():
            with conn.cursor() as cur:
                cur.execute('SELECT id, metadata, document FROM "%s"' % name)
                last["pg"] = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
            return last["pg"] == want
        try:
            wait_for(pg_ok, timeout, "pgvector to hold every write")
        except AssertionError:
            raise AssertionError("pgvector holds %r, want %r" %
                                 (last.get("pg"), want))


# The bound of the pending records: the default (all fit), none (every
# write waits until applied, as --ack applied), and a few records' worth
# (some fit, some wait).
PENDING_BOUNDS = [[], ["-X", "vcdc.gateway.pending.max.bytes=0"],
                  ["-X", "vcdc.gateway.pending.max.bytes=2000"]]


@pytest.mark.parametrize("bound", PENDING_BOUNDS, ids=["fit", "none", "some"])
def test_ack_log_concurrent_partial_updates_lose_nothing(env, bound):
    """--ack log: eight clients update distinct metadata keys of the same
    ids at once, each answered as soon as Kafka has it, long before the
    consumers applied the update before it. Every key written is on both
    sides at the end: the next update of an id merges onto what this
    gateway wrote last (its pending records), not onto the serving side's
    older copy."""
    name = unique("gwlogconc").replace("-", "_")
    env.consumers(name)
    port, _, _ = env.gateway("--ack", "log", "--threads", "8", *bound)
    col = create_collection(
        chromadb.HttpClient(host="127.0.0.1", port=port), name)
    ids = ["x", "y", "z"]
    col.add(ids=ids, embeddings=[[1, 2, 3], [2, 3, 4], [3, 4, 5]],
            metadatas=[{"base": k} for k in range(3)],
            documents=["kept %s" % i for i in ids])

    def worker(w):
        c = chromadb.HttpClient(host="127.0.0.1", port=port).get_collection(
            name, embedding_function=None)
        for i in range(6):
            c.update(ids=ids, metadatas=[{"w%d_%d" % (w, i): i}] * 3)
    in_threads(worker, [(w,) for w in range(8)])  # raises a failed update
    keys = {"w%d_%d" % (w, i): i for w in range(8) for i in range(6)}
    want = {i: ({"base": k, **keys}, "kept %s" % i)
            for k, i in enumerate(ids)}
    both_sides_hold(env, name, want)


@pytest.mark.parametrize("bound", PENDING_BOUNDS, ids=["fit", "none", "some"])
def test_ack_log_write_after_write_in_flight(env, bound):
    """--ack log, one client, no pause: an update right after the add of
    its id (not yet applied) applies; an update right after a delete (not
    yet applied) does not bring the record back; an add after a delete
    in flight writes the new record; upsert merges onto an update in
    flight."""
    name = unique("gwlogseq").replace("-", "_")
    env.consumers(name)
    port, _, _ = env.gateway("--ack", "log", *bound)
    col = create_collection(
        chromadb.HttpClient(host="127.0.0.1", port=port), name)
    want = {}
    for r in range(5):
        a, b, c = "a%d" % r, "b%d" % r, "c%d" % r
        col.add(ids=[a, b, c], embeddings=[[1, 0, r], [0, 1, r], [r, 1, 1]],
                metadatas=[{"k": 0}] * 3, documents=["one", "two", "three"])
        col.update(ids=[a], metadatas=[{"u": r}])
        col.upsert(ids=[a], embeddings=[[1, 1, r]], metadatas=[{"v": r}])
        col.delete(ids=[b])
        col.update(ids=[b], metadatas=[{"back": True}])
        col.delete(where={"k": 0}, ids=[c])
        col.add(ids=[c], embeddings=[[1, 1, 1]], documents=["new"])
        col.update(ids=[c], metadatas=[{"again": r}])
        want[a] = ({"k": 0, "u": r, "v": r}, "one")
        want[c] = ({"again": r}, "new")
    both_sides_hold(env, name, want)


def test_ack_log_updates_through_cutover_and_rollback(env):
    """--ack log: clients keep updating distinct metadata keys of the same
    ids while the route switches to NEW and back. A switch changes the
    side the updates read; the pending records are trusted against the
    new side only once it applied what they held. Every key acknowledged
    is on both sides at the end, and the sides agree."""
    name = unique("gwlogcut").replace("-", "_")
    env.consumers(name)
    port, _, gwname = env.gateway("--ack", "log", "--threads", "8")
    col = create_collection(
        chromadb.HttpClient(host="127.0.0.1", port=port), name)
    ids = ["p", "q"]
    col.add(ids=ids, embeddings=[[1, 2, 3], [3, 2, 1]],
            metadatas=[{"base": 0}, {"base": 1}], documents=["d", "e"])
    acked, stop = [], threading.Event()

    def worker(w):
        c = chromadb.HttpClient(host="127.0.0.1", port=port).get_collection(
            name, embedding_function=None)
        i = 0
        while not stop.is_set():
            key = "w%d_%d" % (w, i)
            c.update(ids=ids, metadatas=[{key: i}] * 2)
            acked.append(key)
            i += 1
    workers = Threads(worker, [(w,) for w in range(4)])
    try:
        wait_for(lambda: len(acked) >= 20, 30, "some updates")
        cut = env.vcdc("cutover", "-t", env.topic, "--collection", name,
                       "--to", "new", "--old", env.stack.chroma_url(name),
                       "--new", env.stack.pgvector_url(name),
                       "--old-group", env.group("old", name),
                       "--new-group", env.group("new", name),
                       # The gate wants the sides equal, which the
                       # updates never let them be: the switch itself
                       # is what this test is about.
                       "--window", "1", "--force")
        assert cut.returncode == 0, cut.stdout + cut.stderr
        wait_for(lambda: "reads go to new" in env.log(gwname),
                 5, "the gateway to follow the cut-over")
        n = len(acked)
        wait_for(lambda: len(acked) >= n + 20, 30, "updates read on NEW")
        rb = env.vcdc("rollback", "--collection", name)
        assert rb.returncode == 0, rb.stdout + rb.stderr
        wait_for(lambda: "reads go to old" in env.log(gwname),
                 5, "the gateway to follow the rollback")
        n = len(acked)
        wait_for(lambda: len(acked) >= n + 20, 30, "updates read on OLD")
    finally:
        stop.set()
        workers.join(60)  # raises a failed update
    keys = {k: int(k.split("_")[1]) for k in acked}
    want = {i: ({"base": k, **keys}, d)
            for k, (i, d) in enumerate(zip(ids, ["d", "e"]))}
    both_sides_hold(env, name, want)


JS_APP = r"""
const { ChromaClient } = await import(process.env.CHROMADB_MJS);
const c = new ChromaClient({ host: "127.0.0.1",
                             port: Number(process.env.PORT), ssl: false });
// The application brings its embeddings; this function is never called.
const ef = { generate: async (texts) => texts.map(() => [1, 0, 0]) };
const col = await c.getOrCreateCollection({ name: process.env.NAME,
    embeddingFunction: ef, configuration: { hnsw: { space: "cosine" } } });
await col.add({ ids: ["a", "b", "c"],
                embeddings: [[1, 0, 0], [0.6, 0.8, 0], [0, 0.2, 1]],
                metadatas: [{ k: 1 }, { k: 2 }, { k: 3 }],
                documents: ["one", "two", "three"] });
await col.update({ ids: ["b"], metadatas: [{ k: 20 }] });
await col.delete({ where: { k: 3 } });
const out = {};
out.count = await col.count();
const g = await col.get({ include: ["documents", "metadatas"] });
out.get = g.ids.map((id, i) => [id, g.documents[i], g.metadatas[i]]).sort();
const q = await col.query({ queryEmbeddings: [[1, 0.1, 0]], nResults: 2,
                            include: ["distances", "documents"] });
out.q = [q.ids[0], q.distances[0].map((d) => Math.round(d * 1e5))];
console.log(JSON.stringify(out));
"""


def test_js_client_same_as_chroma(env):
    mjs = (REPO / "scripts" / "node" / "node_modules" / "chromadb" / "dist" /
           "chromadb.mjs")
    if not shutil.which("node") or not mjs.exists():
        pytest.skip("node or scripts/node/node_modules/chromadb missing")
    name = unique("gwjs").replace("-", "_")
    env.consumers(name)
    port, _, _ = env.gateway()

    def run(p, n):
        r = subprocess.run(["node", "--input-type=module", "-e", JS_APP],
                           capture_output=True, text=True, timeout=120,
                           env={**os.environ, "CHROMADB_MJS": str(mjs),
                                "PORT": str(p), "NAME": n})
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)
    ours = run(port, name)
    theirs = run(env.stack.chroma_port, name + "_ref")
    assert ours == theirs
    assert ours["count"] == 2

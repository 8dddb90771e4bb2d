"""The gateway's request parsers (gateway/api_body.h) against the real
Chroma 1.0 server of scripts/stack.sh, differentially.

Seeded generated request bodies, each a valid body of one kind (add,
upsert, update, delete, get, query, create or modify a collection) with
one mutation (a field dropped, null or of the wrong type, lists of unequal
length, a wrong dimension, bad base64, bad metadata values, bad include,
limit or n_results, an invalid filter, an invalid collection name...), go
to Chroma and to the parsers (tests/gw_api_tool). Chroma taking a body
must mean the parser takes it; a refusal must have the same status and
error name, and the same message once Chroma's "at line L column C" is
cut, except where the parser's words are its own: a body that is not
JSON (jansson's words), and serde's wording of what it found.

test_answers_agree: valid adds of varied content (random float32 bits as
base64, 17-digit text, metadata of every type, documents with escapes
and non-ASCII text), parsed and written back as a get's answer by the
gateway's codec, must equal Chroma's answer to a get of the same add.

Kept out of generation, with the reason (api_body.h lists them): what
vcdc refuses on purpose (non-finite embeddings, uris, "chroma:" metadata
keys, which also leave Chroma failing every later write, integers beyond
int64), and ids already used by a create (a create of an existing name is
409 from Chroma; the parser cannot know what exists).

Run under scripts/with-stack.sh (make test-integration), or after
`scripts/stack.sh up DIR` with DIR/env sourced; needs `make it`.
"""

import base64
import copy
import json
import os
import random
import re
import struct
import subprocess
import urllib.error

import pytest

from consumer_helpers import REPO, unique

TOOL = REPO / "build" / "tests" / "gw_api_tool"
SEED = int(os.environ.get("VCDC_GWB_SEED", "1907"))  # another: VCDC_GWB_SEED
N_CASES = 400
DIM = 2
WRONG = ["x", 5, 1.5, True, {}, [], None, [5], ["x"], {"a": 1}]


def b64(vec):
    return base64.b64encode(struct.pack("<%df" % len(vec), *vec)).decode()


def vec(rng, dim=DIM):
    return [rng.randint(-40, 40) / 8 for _ in range(dim)]


def meta(rng):
    return rng.choice([None, {}, {"k": rng.randint(0, 3)},
                       {"s": "x", "f": 1.5, "b": True}])


def write_body(rng, kind):
    n = rng.randint(1, 3)
    ids = ["id%d" % rng.randint(0, 30) for _ in range(n)]
    body = {"ids": ids}
    if kind != "update" or rng.random() < 0.5:
        body["embeddings"] = ([b64(vec(rng)) for _ in ids]
                              if rng.random() < 0.5
                              else [vec(rng) for _ in ids])
    if rng.random() < 0.7:
        body["metadatas"] = [meta(rng) for _ in ids]
    if rng.random() < 0.7:
        body["documents"] = [rng.choice([None, "doc a", ""]) for _ in ids]
    if rng.random() < 0.3:
        body["uris"] = None
    return body


def mutate_write(rng, body, kind):
    m = rng.randrange(14)
    fields = [k for k in ("ids", "embeddings", "metadatas", "documents")
              if k in body]
    f = rng.choice(fields)
    if m == 0:
        del body[f]
    elif m == 1:
        body[f] = rng.choice(WRONG)
    elif m == 2 and isinstance(body[f], list):
        body[f] = body[f] + body[f][:1] if rng.random() < 0.5 \
            else body[f][1:]
    elif m == 3 and "embeddings" in body:
        e = body["embeddings"]
        i = rng.randrange(len(e))
        e[i] = rng.choice([vec(rng, 1), vec(rng, 3), [], b64(vec(rng, 3)),
                           b64([]), None, "AAAA", "AAA=", "!!!!",
                           b64(vec(rng))[:-1], [["x"]], ["x", 1], 5])
    elif m == 4 and "embeddings" in body and len(body["embeddings"]) > 1:
        # arrays and base64 mixed
        e = body["embeddings"]
        e[0] = b64(vec(rng)) if isinstance(e[0], list) else vec(rng)
    elif m == 5:
        md = body.setdefault("metadatas", [None] * len(body["ids"]))
        if isinstance(md, list) and md:
            md[0] = rng.choice([{"x": {"y": 1}}, {"x": [1]}, {"x": None},
                                5, "x", [], {"x": 1.25, "y": None}])
    elif m == 6:
        body["ids"] = [rng.choice(["", 5, None, "ok"])] + body["ids"][1:]
    elif m == 7:
        docs = body.setdefault("documents", [None] * len(body["ids"]))
        if isinstance(docs, list) and docs:
            docs[0] = rng.choice([1, True, ["x"], {"a": "b"}])
    elif m == 8:
        body["unknown"] = 1
    elif m == 9:
        body["ids"] = []
        for k in ("embeddings", "metadatas", "documents"):
            if k in body:
                body[k] = []
    elif m == 10:
        body["ids"] = body["ids"][:1] * len(body["ids"])  # duplicates
    # 11..13: no mutation (valid bodies too)
    return body


def filt(rng):
    return rng.choice([None, {"k": 1}, {"k": {"$gte": 1}},
                       {"$or": [{"s": "x"}, {"b": True}]}, {"k": None},
                       {"k": {"$in": []}}, {}, {"$and": {"k": 1}},
                       {"s": {"$gt": "a"}}])


def filt_doc(rng):
    return rng.choice([None, {"$contains": "doc"}, {"$regex": "^d"},
                       {"$contains": 1}, {}, {"$bogus": "x"},
                       {"$and": [{"$contains": "a"}]}])


def read_body(rng, kind):
    body = {}
    if rng.random() < 0.5:
        body["where"] = filt(rng)
    if rng.random() < 0.3:
        body["where_document"] = filt_doc(rng)
    if rng.random() < 0.4 and kind != "query":
        # (a query with ids of records that do not exist is Chroma 1.0's
        # 500, "Error finding id": a server fault, not a rule to follow)
        body["ids"] = rng.choice([["id1", "id2"], [], None, "id1", [5]])
    if kind == "get":
        for k in ("limit", "offset"):
            if rng.random() < 0.4:
                body[k] = rng.choice([0, 3, None, -1, 1.5, "x", 2**32])
    if kind == "query":
        r = rng.random()
        if r < 0.8:
            body["query_embeddings"] = [vec(rng)
                                        for _ in range(rng.randint(0, 2))]
            if rng.random() < 0.2 and body["query_embeddings"]:
                body["query_embeddings"][0] = rng.choice(
                    [vec(rng, 3), [], b64(vec(rng)), None, ["x", 1]])
        elif r < 0.9:
            body["query_embeddings"] = rng.choice(WRONG)
        if rng.random() < 0.4:
            # (not 0: with a filter, Chroma 1.0's brute force panics)
            body["n_results"] = rng.choice([1, 3, None, -1, "x", 2.5])
    if kind in ("get", "query") and rng.random() < 0.4:
        body["include"] = rng.choice([
            [], ["documents"], ["embeddings", "metadatas", "distances"],
            ["uris"], ["data"], ["bogus"], "documents", [1]])
    return body


NAMES = ["ab", "a..b", "-ab", "ab-", "192.168.1.1", "has space", "x" * 513,
         "ok_name", "a.b-c_d", "\u00fcnicode", "1.2.3", "abc.", ""]
VALID_NAMES = ("ok_name", "a.b-c_d", "1.2.3")


def coll_body(rng, kind):
    body = {}
    if kind == "create" or rng.random() < 0.6:
        name = rng.choice(NAMES)
        if name in VALID_NAMES:  # made unique: never an existing one
            name = "%s%s" % (name, unique("x"))
        body["name" if kind == "create" else "new_name"] = \
            rng.choice([name, name, 5, None]) if kind == "create" \
            else rng.choice([name, None])
    if rng.random() < 0.6:
        body["metadata" if kind == "create" else "new_metadata"] = \
            rng.choice([{"a": 1}, {}, {"a": {"b": 1}}, {"a": None}, None,
                        "x"])
    if kind == "create" and rng.random() < 0.5:
        body["configuration"] = rng.choice([
            {"hnsw": {"space": "cosine"}}, {"hnsw": {"space": "bogus"}},
            None, {"hnsw": {"space": "ip"}, "embedding_function":
                   {"type": "legacy"}}])
    if kind == "create" and rng.random() < 0.4:
        body["get_or_create"] = rng.choice([True, False, "x", 1])
    if kind == "create" and "name" not in body and rng.random() < 0.7:
        body["name"] = unique("gwb")
    return body


def make_cases(rng):
    cases = []
    for _ in range(N_CASES):
        kind = rng.choice(["add", "upsert", "update", "delete", "get",
                           "query", "create", "modify"])
        if kind in ("add", "upsert", "update"):
            body = mutate_write(rng, write_body(rng, kind), kind)
        elif kind in ("create", "modify"):
            body = coll_body(rng, kind)
        else:
            body = read_body(rng, kind)
        cases.append({"kind": kind, "dim": DIM, "body": json.dumps(body)})
    return cases


class Raw:
    """Chroma's answers to raw bodies."""

    def __init__(self, chroma):
        self.chroma = chroma
        self.name = unique("gwb")
        chroma._call("POST", "/collections", {"name": self.name})
        self.cid = chroma.collection_id(self.name)
        chroma._call("POST", "/collections/%s/add" % self.cid,
                     {"ids": ["seed"], "embeddings": [[0.5, 0.5]]})
        self.created = []

    def send(self, case):
        import urllib.request
        kind = case["kind"]
        new_name = json.loads(case["body"]).get("new_name") \
            if kind == "modify" else None
        if kind == "create":
            method, path = "POST", "/collections"
        elif kind == "modify":
            method, path = "PUT", "/collections/%s" % self.cid
        else:
            method, path = "POST", "/collections/%s/%s" % (self.cid, kind)
        req = urllib.request.Request(
            self.chroma.base + path, data=case["body"].encode(),
            method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                out = r.read()
                if kind == "create":
                    self.created.append(json.loads(out)["name"])
                if isinstance(new_name, str):
                    self.name = new_name  # renamed: deleted by this name
                return (0, None, None)
        except urllib.error.HTTPError as e:
            err = json.loads(e.read())
            return (e.code, err["error"], err["message"])


POSITION = re.compile(r" at line \d+ column \d+$")


def test_bodies_agree(chroma):
    if not TOOL.exists():
        pytest.skip("%s is missing: run `make it`" % TOOL)
    rng = random.Random(SEED)
    cases = make_cases(rng)
    p = subprocess.run([str(TOOL)], input=json.dumps({"cases": cases}),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    ours = json.loads(p.stdout)["results"]
    raw = Raw(chroma)
    taken = refused = 0
    try:
        for case, mine in zip(cases, ours):
            status, name, message = raw.send(case)
            got = (mine["status"], mine.get("error"))
            assert got == (status, name), (case, mine, (status, name,
                                                        message))
            if status == 0:
                taken += 1
                continue
            refused += 1
            want = POSITION.sub("", message)
            if message.startswith("Failed to parse the request body as "
                                  "JSON") or status == 422:
                # Words of their own after the common prefix (jansson's,
                # serde's description of what was found).
                prefix = want.split(": ")[0]
                assert mine["message"].startswith(prefix), (case, mine, want)
            elif want.startswith("Regex syntax errror: "):
                assert mine["message"].startswith("Regex syntax errror: ")
            elif "\n" in want:
                # Several problems, one a line, in an order that varies
                # from one answer of the server to the next.
                assert (sorted(mine["message"].split("\n")[1:] + [
                    mine["message"].split("\n")[0].replace(
                        "Validation error: ", "")]) ==
                    sorted(want.split("\n")[1:] + [
                        want.split("\n")[0].replace(
                            "Validation error: ", "")])), (case, mine, want)
                assert mine["message"].startswith("Validation error: ")
            else:
                assert mine["message"] == want, (case, mine, want)
    finally:
        for name in raw.created + [raw.name]:
            try:
                chroma._call("DELETE", "/collections/" + name)
            except urllib.error.HTTPError:
                pass
    # Both kinds are there in numbers.
    assert taken > N_CASES // 5 and refused > N_CASES // 5, (taken, refused)


def answer_cases(rng, n=60):
    """Valid adds of varied content: embeddings as text (17 digits,
    integers, exponents) or base64 of random float32, metadata of every
    type (floats of at most 15 digits, which Chroma stores exactly),
    documents with escapes and non-ASCII text."""
    cases = []
    for c in range(n):
        k = rng.randint(1, 4)
        dim = DIM  # the collection Raw() makes has DIM
        ids = ["ans%d_%d" % (c, i) for i in range(k)]
        if rng.random() < 0.5:
            emb = [[rng.choice([rng.uniform(-1e3, 1e3), rng.randint(-5, 5),
                                rng.uniform(-1, 1) * 1e-20])
                    for _ in range(dim)] for _ in ids]
        else:
            emb = []
            for _ in ids:
                vals = []
                while len(vals) < dim:
                    f = struct.unpack("<f", struct.pack(
                        "<I", rng.getrandbits(32)))[0]
                    if f == f and abs(f) < 3e38:
                        vals.append(f)
                emb.append(b64(vals))
        metas = [rng.choice([None, {"i": rng.randint(-10**12, 10**12),
                                    "f": round(rng.uniform(-1e6, 1e6), 6),
                                    "b": rng.random() < 0.5,
                                    "s": rng.choice(["", "x\"y\\z",
                                                     "caf\u00e9 \u2603",
                                                     "tab\there\nline"])}])
                 for _ in ids]
        docs = [rng.choice([None, "", "plain", "quote \" and \\ back",
                            "\u00fcber \U0001F600", "ctl \u0001 x"])
                for _ in ids]
        cases.append({"kind": "add_get", "dim": 0, "body": json.dumps(
            {"ids": ids, "embeddings": emb, "metadatas": metas,
             "documents": docs})})
    return cases


def test_answers_agree(chroma):
    """What the parser reads of an add, written back as a get's answer,
    is what Chroma answers for the same add: the float32 of each
    embedding, metadata of each type, documents, the shape."""
    if not TOOL.exists():
        pytest.skip("%s is missing: run `make it`" % TOOL)
    cases = answer_cases(random.Random(SEED))
    p = subprocess.run([str(TOOL)], input=json.dumps({"cases": cases}),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    ours = json.loads(p.stdout)["results"]
    raw = Raw(chroma)
    try:
        for case, mine in zip(cases, ours):
            assert mine["status"] == 0, (case, mine)
            body = json.loads(case["body"])
            raw.chroma._call("POST", "/collections/%s/add" % raw.cid, body)
            want = raw.chroma._call(
                "POST", "/collections/%s/get" % raw.cid,
                {"ids": body["ids"],
                 "include": ["embeddings", "documents", "metadatas"]})
            assert mine["answer"] == want, (case, mine["answer"], want)
    finally:
        chroma._call("DELETE", "/collections/" + raw.name)

"""The gateway's filters (gateway/filter.h) against the real Chroma 1.0
server and the real PostgreSQL with pgvector of scripts/stack.sh.

The same few hundred records (metadata of every type Chroma stores:
strings, ints, floats, bools, keys missing, no metadata at all; documents,
empty ones and none) are loaded into Chroma directly (its HTTP API) and
into a table of the pgvector sink's schema (id text, embedding vector,
metadata jsonb, document text). Then, for seeded generated filters (every
operator, implicit equality, nested $and/$or, where and where_document
together), three answers must be the same set of ids:
  - Chroma's get(where=.., where_document=..);
  - the gateway's evaluator (tests/gw_filter_tool);
  - the gateway's SQL translation, run by PostgreSQL with its parameters.
Filters Chroma refuses must be refused by the parser with the same status,
error name and message.

What is kept out of generation, and why: regular expressions beyond the
subset Rust's regex (Chroma), POSIX ERE (the evaluator) and PostgreSQL's
ARE (the SQL) read the same way (filter.h lists the differences: \\d \\w
\\s \\b, inline flags, named groups, newlines), and documents with
newlines or non-ASCII text under a regex.

Run under scripts/with-stack.sh (make test-integration), or after
`scripts/stack.sh up DIR` with DIR/env sourced; needs `make it` (the tool).
"""

import json
import os
import random
import subprocess
import urllib.error

import pytest

from consumer_helpers import REPO, pg_connect, unique

TOOL = REPO / "build" / "tests" / "gw_filter_tool"
SEED = int(os.environ.get("VCDC_GWF_SEED", "1906"))  # another seed: VCDC_GWF_SEED
N_RECORDS = 300
N_FILTERS = 400
# zz: never stored; chroma:document: Chroma's key for the document
KEYS = ["i", "f", "n", "s", "b", "big", "zz", "chroma:document"]
WORDS = ["alpha", "beta", "gamma", "delta", "apple", "banana", "cab",
         "Alpha", "x.y", "a_b", "100%"]
# The regex subset all three dialects read alike.
REGEXES = ["^a", "a$", "b.t", "[a-c]a", "(al|be)ta", "p+l", "^$", "ma?",
           "[^a-z ]", "an{2}", "^(Alpha|gamma)", "x\\.y", "e.*a", ""]


def make_records(rng):
    recs = []
    for k in range(N_RECORDS):
        md = {}
        if rng.random() < 0.8:
            md["i"] = rng.randint(-3, 3)
        if rng.random() < 0.8:
            md["f"] = rng.randint(-12, 12) / 4.0  # 1.0, 2.5, -0.25 ...
        if rng.random() < 0.9:
            md["n"] = rng.choice([rng.randint(-2, 2), rng.randint(-8, 8) / 4,
                                  rng.choice(["1", "a", "", "2.5"]),
                                  rng.choice([True, False])])
        if rng.random() < 0.7:
            md["s"] = rng.choice(["a", "b", "ab", "", "1", "B", "a b"])
        if rng.random() < 0.6:
            md["b"] = rng.random() < 0.5
        if rng.random() < 0.1:
            md["big"] = rng.choice([10**15, -(2**62), 1e20, -2.5e-8,
                                    123456789.5, 1e17])
        meta = md if (md or rng.random() < 0.5) else None
        r = rng.random()
        if r < 0.1:
            doc = None
        elif r < 0.15:
            doc = ""
        else:
            doc = " ".join(rng.choice(WORDS)
                           for _ in range(rng.randint(1, 4)))
        recs.append({"id": "r%03d" % k, "metadata": meta, "document": doc})
    return recs


def number(rng):
    return rng.choice([rng.randint(-3, 3), rng.randint(-12, 12) / 4.0,
                       rng.choice([1.5, -1.5, 0.5, 2.0, 1e20, 10**15])])


def operand(rng, kind):
    if kind == "num":
        return number(rng)
    if kind == "str":
        return rng.choice(["a", "b", "ab", "", "1", "B", "2.5", "zzz",
                           "alpha", "cab", "x.y"])
    return rng.choice([True, False])


def leaf(rng):
    key = rng.choice(KEYS)
    op = rng.choice(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in",
                     "$nin", "implicit"])
    kind = "num" if op in ("$gt", "$gte", "$lt", "$lte") else \
        rng.choice(["num", "num", "str", "bool"])
    if op == "implicit":
        return {key: operand(rng, kind)}
    if op in ("$in", "$nin"):
        if kind == "num" and rng.random() < 0.5:
            # a list led by a float takes ints too (serde's as_f64)
            vals = [rng.randint(-8, 8) / 4.0 + 0.25] + \
                [rng.randint(-3, 3) for _ in range(rng.randint(0, 2))]
        elif kind == "num":
            vals = [rng.randint(-3, 3) for _ in range(rng.randint(1, 3))]
        else:
            vals = [operand(rng, kind) for _ in range(rng.randint(1, 3))]
        return {key: {op: vals}}
    return {key: {op: operand(rng, kind)}}


def where(rng, depth=0):
    if depth < 3 and rng.random() < 0.35:
        return {rng.choice(["$and", "$or"]):
                [where(rng, depth + 1) for _ in range(rng.randint(0, 3))]}
    return leaf(rng)


def where_document(rng, depth=0):
    if depth < 2 and rng.random() < 0.3:
        return {rng.choice(["$and", "$or"]):
                [where_document(rng, depth + 1)
                 for _ in range(rng.randint(0, 3))]}
    op = rng.choice(["$contains", "$not_contains", "$regex", "$not_regex"])
    if "regex" in op:
        return {op: rng.choice(REGEXES)}
    w = rng.choice(WORDS + [""])
    return {op: w[:rng.randint(0, len(w))] if w else w}


def make_filters(rng):
    out = []
    for _ in range(N_FILTERS):
        r = rng.random()
        spec = {}
        if r < 0.6:
            spec["where"] = where(rng)
        elif r < 0.8:
            spec["where_document"] = where_document(rng)
        else:
            spec["where"] = where(rng)
            spec["where_document"] = where_document(rng)
        out.append(spec)
    return out


# Filters Chroma refuses; the gateway must refuse them in the same words.
INVALID = [
    {"where": {"s": {"$gt": "a"}}}, {"where": {"n": {"$in": []}}},
    {"where": {"n": {"$in": [1, "a"]}}}, {"where": {"n": {"$in": [1, 1.5]}}},
    {"where": {"n": None}}, {"where": {"n": [1]}}, {"where": {}},
    {"where": {"n": {"$eq": 1, "$ne": 2}}}, {"where": {"n": 1, "s": "a"}},
    {"where": {"$and": {"n": 1}}}, {"where": {"$not": {"n": 1}}},
    {"where": {"n": {"$gt": True}}}, {"where": {"n": {"$contains": "a"}}},
    {"where": {"$and": [{"n": 1}, 5]}}, {"where": "x"}, {"where": []},
    {"where_document": {"$contains": 1}}, {"where_document": {}},
    {"where_document": {"$bogus": "x"}}, {"where_document": {"n": 1}},
    {"where_document": {"$contains": "a", "$not_contains": "b"}},
    {"where": {"n": 1}, "where_document": {"$or": "x"}},
]


class ChromaGet:
    def __init__(self, chroma, name):
        self.chroma = chroma
        chroma._call("POST", "/collections", {"name": name})
        self.cid = chroma.collection_id(name)

    def add(self, recs):
        self.chroma._call("POST", "/collections/%s/add" % self.cid, {
            "ids": [r["id"] for r in recs],
            "embeddings": [[float(k), 1.0] for k in range(len(recs))],
            "metadatas": [r["metadata"] for r in recs],
            "documents": [r["document"] for r in recs]})

    def ids(self, spec):
        """(ids, None) or (None, (status, error, message))."""
        body = {"include": []}
        body.update(spec)
        try:
            r = self.chroma._call("POST", "/collections/%s/get" % self.cid,
                                  body)
            return set(r["ids"]), None
        except urllib.error.HTTPError as e:
            err = json.loads(e.read())
            return None, (e.code, err["error"], err["message"])


def run_tool(recs, filters):
    if not TOOL.exists():
        pytest.skip("%s is missing: run `make it`" % TOOL)
    p = subprocess.run([str(TOOL)], input=json.dumps(
        {"records": recs, "filters": filters}), capture_output=True,
        text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["results"]


@pytest.fixture(scope="module")
def loaded(chroma, stack):
    rng = random.Random(SEED)
    recs = make_records(rng)
    name = unique("gwf")
    cg = ChromaGet(chroma, name)
    cg.add(recs)
    conn = pg_connect(stack)
    with conn.cursor() as cur:
        cur.execute('CREATE TABLE "%s" (id text PRIMARY KEY, embedding '
                    'vector(2), metadata jsonb, document text)' % name)
        for k, r in enumerate(recs):
            cur.execute('INSERT INTO "%s" VALUES (%%s, %%s, %%s, %%s)' % name,
                        (r["id"], "[%d,1]" % k,
                         None if r["metadata"] is None
                         else json.dumps(r["metadata"]), r["document"]))
    yield recs, cg, conn, name
    with conn.cursor() as cur:
        cur.execute('DROP TABLE "%s"' % name)
    conn.close()
    chroma._call("DELETE", "/collections/" + name)


def sql_ids(conn, table, res):
    with conn.cursor() as cur:
        cur.execute('PREPARE gwf AS SELECT id FROM "%s" WHERE %s'
                    % (table, res["sql"]))
        try:
            ph = ",".join(["%s"] * len(res["params"]))
            cur.execute("EXECUTE gwf(%s)" % ph if ph else "EXECUTE gwf",
                        res["params"])
            return {row[0] for row in cur.fetchall()}
        finally:
            cur.execute("DEALLOCATE gwf")


def test_generated_filters_agree(loaded):
    recs, cg, conn, table = loaded
    filters = make_filters(random.Random(SEED + 1))
    results = run_tool(recs, filters)
    checked = nonempty = 0
    for spec, res in zip(filters, results):
        want, err = cg.ids(spec)
        assert err is None, (spec, err)
        assert "ids" in res, (spec, res)
        assert set(res["ids"]) == want, (
            "evaluator", spec, sorted(set(res["ids"]) ^ want))
        got = sql_ids(conn, table, res)
        assert got == want, ("sql", spec, res["sql"], res["params"],
                             sorted(got ^ want))
        checked += 1
        nonempty += 0 < len(want) < len(recs)
    assert checked == N_FILTERS
    # The generation must discriminate: many filters select some records,
    # not all and not none (174 of 400 with this seed).
    assert nonempty > N_FILTERS * 2 // 5, nonempty


def test_refused_filters_agree(loaded):
    recs, cg, _, _ = loaded
    results = run_tool(recs, INVALID)
    for spec, res in zip(INVALID, results):
        want, err = cg.ids(spec)
        assert want is None, ("Chroma took", spec)
        assert (res.get("status"), res.get("error"),
                res.get("message")) == err, (spec, res, err)


def test_regex_syntax_refused(loaded):
    recs, cg, _, _ = loaded
    spec = {"where_document": {"$regex": "["}}
    res = run_tool(recs, [spec])[0]
    _, err = cg.ids(spec)
    assert err[:2] == (400, "InvalidArgumentError"), err
    assert (res["status"], res["error"]) == err[:2], res
    assert err[2].startswith("Regex syntax errror: ")
    assert res["message"].startswith("Regex syntax errror: "), res

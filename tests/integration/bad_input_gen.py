"""Malformed JSON Lines for vcdc-producer, mixed among valid ones.

generate(path, seed) writes a file of valid change lines with malformed
ones at random positions and returns what a correct producer must do with
each line: the valid ones (to be published exactly once), the bad ones
(each to be reported by line number, with a reason matching its class's
pattern) and the blank ones (neither). Seeded and deterministic: the same
seed writes the same bytes.

The classes follow producer/input.c's rules and README's "Bad input". Each
class makes its line from the random generator, so instances differ (the
field that is wrong, where a cut falls, which bad byte, how deep).

Run as a script to write a corpus by hand:
    python bad_input_gen.py OUT.jsonl [--valid N] [--bad N] [--seed S]
or the small committed sample:
    python bad_input_gen.py --sample tests/data/input/bad-sample.jsonl
"""

import argparse
import json
import random
import struct
from dataclasses import dataclass
from pathlib import Path

COLLECTION = "bad"
DIM = 8
MAX_DIM = 64  # the producer runs with -X vcdc.max.dim=64
ID_MAX = 512
COLLECTION_MAX = 256
DOCUMENT_MAX = 1024 * 1024
METADATA_MAX = 256 * 1024
DEPTH_MAX = 16
MESSAGE_MAX = 1_000_000  # librdkafka's message.max.bytes default
SAMPLE_SEED = 46
REPO_SAMPLE = (Path(__file__).resolve().parents[1] / "data" / "input" /
               "bad-sample.jsonl")


@dataclass
class Valid:
    line: int
    op: str  # "UPSERT" or "DELETE"
    collection: str
    id: str
    vector: bytes  # float32 little-endian; b"" for a delete
    metadata: object  # dict or None
    document: object  # str or None


@dataclass
class Bad:
    line: int
    cls: str
    pattern: str  # a regular expression the reason must match


# ------------------------------------------------------------ valid lines


def f32(values):
    return struct.pack("<%df" % len(values), *values)


# Float texts a valid vector may hold, with the float32 each must become.
EDGE_FLOATS = [("3.4028235e38", 3.4028234663852886e38),
               ("-3.4028235e38", -3.4028234663852886e38),
               ("1e-46", 0.0), ("1e-400", 0.0), ("-0.0", -0.0),
               ("16777217", 16777216.0), ("9223372036854775807",
                                           9.223372036854775807e18),
               ("1E+2", 100.0), ("0.1", 0.1)]


def valid_vector(rng, dim=DIM):
    texts, values = [], []
    for _ in range(dim):
        if rng.random() < 0.05:
            t, v = rng.choice(EDGE_FLOATS)
        else:
            v = rng.uniform(-1, 1)
            t = repr(v)
        texts.append(t)
        values.append(v)
    return "[" + ",".join(texts) + "]", f32(values)


def nested(depth, leaf):
    """An object nesting depth levels (the object itself is level 1),
    objects and arrays alternating inside it."""
    v = leaf
    for i in range(depth - 1):
        v = [v] if i % 2 else {"d%d" % i: v}
    return {"top": v}


def depth_of(v):
    if isinstance(v, dict):
        return 1 + max((depth_of(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((depth_of(x) for x in v), default=0)
    return 0


def valid_line(rng, i, lineno):
    """One valid line and what the topic must carry for it. Some are
    traps a strict-but-wrong parser would refuse: integer ids, ids and
    collections at their byte limits, float32 edge values, nulls, deletes
    whose (ignored) payload would be invalid in an upsert."""
    collection = COLLECTION
    id_ = "v-%d-%x" % (i, rng.getrandbits(24))
    id_text = None
    kind = rng.random()
    if kind < 0.03:
        n = rng.randrange(10 ** 6, 10 ** 12)
        id_, id_text = str(n), str(n)  # an integer id
    elif kind < 0.05:
        stem = "v%d-" % i
        id_ = stem + "\u00e9" * ((ID_MAX - len(stem)) // 2)  # <= 512 bytes
    elif kind < 0.06:
        collection = ("c%d-" % i).ljust(COLLECTION_MAX, "x")
    elif kind < 0.10:
        id_ = "v-%d-\u65e5\u672c/%%2F \"q\" \U0001F642" % i
    fields = {"collection": collection}
    if kind >= 0.95:
        # A delete: vector, metadata and document are ignored unchecked.
        fields["id"] = id_
        fields["op"] = rng.choice(["delete", "DELETE", "Delete"])
        if rng.random() < 0.5:
            fields["vector"] = [1, 2, 3]
            fields["metadata"] = "not an object"
            fields["document"] = 5
        text = json.dumps(fields, ensure_ascii=rng.random() < 0.5)
        return text, Valid(lineno, "DELETE", collection, id_, b"", None,
                           None)
    vtext, vbytes = valid_vector(rng)
    metadata = {"i": i, "tag": rng.choice(["a", "\u00df", "\u65e5"])}
    if rng.random() < 0.05:
        metadata["deep"] = nested(DEPTH_MAX - 1, "leaf")  # exactly 16
        assert depth_of(metadata) == DEPTH_MAX
    document = None
    if rng.random() < 0.3:
        document = rng.choice(["text %d" % i, "", "\u00fc\n\t\"\\ %d" % i])
    fields["id"] = "@ID@"
    if rng.random() < 0.2:
        fields["op"] = rng.choice(["upsert", "UPSERT"])
    fields["vector"] = "@VEC@"
    fields["metadata"] = metadata
    if document is not None or rng.random() < 0.1:
        fields["document"] = document
    if rng.random() < 0.1:
        fields["sparse"] = None
    if rng.random() < 0.2:
        fields["source_ts_ms"] = rng.choice([None, 0, 1700000000000 + i])
    keys = list(fields)
    rng.shuffle(keys)
    text = json.dumps({k: fields[k] for k in keys},
                      ensure_ascii=rng.random() < 0.5)
    text = text.replace('"@ID@"', id_text if id_text else
                        json.dumps(id_, ensure_ascii=False))
    text = text.replace('"@VEC@"', vtext)
    return text, Valid(lineno, "UPSERT", collection, id_, vbytes, metadata,
                       document)


# -------------------------------------------------------------- bad lines
#
# Each class: name -> (maker, pattern). maker(rng, i) returns the line's
# bytes; pattern is what the reason must say.


def base(rng, i, **over):
    """A valid upsert's fields as an ordered dict, with overrides; a value
    of ... removes the field."""
    f = {"collection": COLLECTION, "id": "bad-%d" % i,
         "vector": [round(rng.uniform(-1, 1), 6) for _ in range(DIM)],
         "metadata": {"k": i}}
    for k, v in over.items():
        if v is ...:
            f.pop(k, None)
        else:
            f[k] = v
    return f


def dumps(f):
    return json.dumps(f, ensure_ascii=False).encode("utf-8")


def with_raw(f, key, raw):
    """f as JSON with key's value replaced by the raw text raw (bytes)."""
    f = dict(f, **{key: "@RAW@"})
    return dumps(f).replace(b'"@RAW@"', raw)


def vec_with(rng, token, dim=DIM):
    """A vector's JSON text with token (bytes) at a random index."""
    items = [repr(round(rng.uniform(-1, 1), 4)).encode()
             for _ in range(dim)]
    items[rng.randrange(dim)] = token
    return b"[" + b",".join(items) + b"]"


def any_field_wrong_type(field, choices):
    def make(rng, i):
        return with_raw(base(rng, i), field, rng.choice(choices))
    return make


def truncated(rng, i):
    whole = dumps(base(rng, i, document="doc %d" % i))
    return whole[:rng.randrange(1, len(whole) - 1)]


def trailing(rng, i):
    return dumps(base(rng, i)) + rng.choice([b" x", b"}", b",", b" {}",
                                             b"]", b" 1", b' "s"'])


def two_objects(rng, i):
    return dumps(base(rng, i)) + dumps(base(rng, i + 1))


def not_object(rng, i):
    return rng.choice([b"[1,2,3]", b'"a string"', b"42", b"null", b"true",
                       b"false", b"-1.5", b"[]", b'["id","x"]'])


def syntax(rng, i):
    good = dumps(base(rng, i))
    bad = rng.choice([
        good.replace(b'"', b"'"),                    # single quotes
        good[:-1] + b",}",                           # trailing comma
        good.replace(b"]", b",]", 1),                # trailing comma
        good.replace(b'"id"', b"id", 1),             # unquoted key
        b"// comment\n"[:-1] + good,                 # a comment
        good.replace(b'"id":', b'"id"', 1),          # no colon
        good.replace(b",", b" ", 1),                 # no comma
        good[:1] + b"," + good[1:],                  # leading comma
    ])
    return bad


def bad_number(rng, i):
    token = rng.choice([b"01", b".5", b"5.", b"+1", b"0x1F", b"1e", b"-",
                        b"1.e5", b"--1", b"1e+", b"00", b"1_000"])
    return with_raw(base(rng, i), "vector", vec_with(rng, token))


def bad_escape(rng, i):
    esc = rng.choice([b"\\x41", b"\\u12", b"\\ud800", b"\\udc00",
                      b"\\ud83d\\u0041", b"\\a", b"\\U0001F642", b"\\"])
    field = rng.choice(["id", "document", "collection"])
    return with_raw(base(rng, i), field, b'"ab' + esc + b'zz"')


def raw_control(rng, i):
    c = bytes([rng.choice([1, 2, 8, 9, 11, 12, 27, 31])])
    field = rng.choice(["id", "document"])
    return with_raw(base(rng, i), field, b'"a' + c + b'b"')


def nul_byte(rng, i):
    good = dumps(base(rng, i, document="abcdef"))
    at = good.index(b"abcdef") + rng.randrange(6)
    return good[:at] + b"\x00" + good[at:]


def nul_escape(rng, i):
    field = rng.choice(["id", "document", "collection", "metadata"])
    if field == "metadata":
        return with_raw(base(rng, i), field, b'{"k":"a\\u0000b"}')
    return with_raw(base(rng, i), field, b'"a\\u0000b"')


BAD_UTF8 = [b"\xff", b"\xfe", b"\xc0\x80", b"\xc1\xbf", b"\xed\xa0\x80",
            b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80",
            b"\x80", b"\xbf", b"\xe6\x97", b"\xf0\x9f\x99",
            b"\xf8\x88\x80\x80\x80", b"\xe0\x80\xaf", b"\xc3"]


def invalid_utf8(rng, i):
    bad = rng.choice(BAD_UTF8)
    where = rng.choice(["id", "document", "collection", "metadata-value",
                        "metadata-key", "outside"])
    f = base(rng, i)
    if where == "metadata-value":
        return with_raw(f, "metadata", b'{"k":"x' + bad + b'"}')
    if where == "metadata-key":
        return with_raw(f, "metadata", b'{"k' + bad + b'":1}')
    if where == "outside":
        return dumps(f)[:-1] + b"," + bad + b"}"
    return with_raw(f, where, b'"x' + bad + b'y"')


def bom_inside(rng, i):
    return b"\xef\xbb\xbf" + dumps(base(rng, i))


def unknown_field(rng, i):
    name = rng.choice(["colour", "Id", "ID", "vectors", "meta", "doc",
                       "ts", "embedding", "", "id ", "sparse_vector"])
    f = base(rng, i)
    f[name] = rng.choice([1, "x", None, [1], {"a": 1}])
    return dumps(f)


def unknown_sparse_field(rng, i):
    return dumps(base(rng, i, sparse={"indices": [1], "values": [1.0],
                                      rng.choice(["weights", "idx", "x"]):
                                      [1]}))


def missing_id(rng, i):
    return dumps(base(rng, i, id=...))


def empty_id(rng, i):
    return dumps(base(rng, i, id=""))


def delete_without_id(rng, i):
    return dumps({"collection": COLLECTION, "op": "delete"})


def missing_collection(rng, i):
    return dumps(base(rng, i, collection=...))


def empty_collection(rng, i):
    return dumps(base(rng, i, collection=""))


def long_id(rng, i):
    stem = "long-%d-" % i
    if rng.random() < 0.5:
        return dumps(base(rng, i, id=stem.ljust(ID_MAX + 1 +
                                                rng.randrange(100), "x")))
    # 257 two-byte characters: 257 characters, 514 bytes
    return dumps(base(rng, i, id="\u00e9" * (ID_MAX // 2 + 1)))


def long_collection(rng, i):
    return dumps(base(rng, i, collection="c" * (COLLECTION_MAX + 1 +
                                                rng.randrange(50))))


def missing_vector(rng, i):
    return dumps(base(rng, i, vector=..., op=rng.choice(["upsert", ...])))


def empty_vector(rng, i):
    return dumps(base(rng, i, vector=[]))


def wrong_dim(rng, i):
    n = rng.choice([d for d in range(1, 17) if d != DIM])
    return dumps(base(rng, i, vector=[0.5] * n))


def over_max_dim(rng, i):
    return dumps(base(rng, i, vector=[0.25] * (MAX_DIM + 1 +
                                               rng.randrange(40))))


NAN_TOKENS = [b"NaN", b"nan", b"-NaN", b"Infinity", b"-Infinity",
              b"+Infinity", b"inf", b"-inf", b"INF", b"Inf"]
HUGE_EXP = [b"1e999", b"-1e999", b"1e309", b"2e308", b"-1.8e308",
            b"1E400", b"-17976931348623159e292"]


def nonfinite(tokens):
    def make(rng, i):
        tok = rng.choice(tokens)
        where = rng.choice(["vector", "vector", "sparse", "metadata"])
        f = base(rng, i)
        if where == "vector":
            return with_raw(f, "vector", vec_with(rng, tok))
        if where == "sparse":
            return with_raw(f, "sparse", b'{"indices":[1,5],"values":[0.5,'
                            + tok + b"]}")
        return with_raw(f, "metadata", b'{"k":' + tok + b"}")
    return make


def beyond_float32(rng, i):
    tok = rng.choice([b"3.5e38", b"-1e39", b"1e300", b"3.4028236e38",
                      b"-3.4028236e38", b"1.7976931348623157e308"])
    if rng.random() < 0.7:
        return with_raw(base(rng, i), "vector", vec_with(rng, tok))
    return with_raw(base(rng, i), "sparse",
                    b'{"indices":[3],"values":[' + tok + b"]}")


def huge_integer(rng, i):
    tok = rng.choice([b"99999999999999999999", b"-99999999999999999999",
                      b"9223372036854775808", b"1" + b"0" * 40])
    where = rng.choice(["vector", "id", "source_ts_ms", "metadata",
                        "sparse"])
    f = base(rng, i)
    if where == "vector":
        return with_raw(f, "vector", vec_with(rng, tok))
    if where == "metadata":
        return with_raw(f, "metadata", b'{"n":' + tok + b"}")
    if where == "sparse":
        return with_raw(f, "sparse", b'{"indices":[' + tok +
                        b'],"values":[1]}')
    return with_raw(f, where, tok)


def bad_sparse(rng, i):
    sp = rng.choice([
        {"indices": [-1], "values": [1.0]},
        {"indices": [4294967296], "values": [1.0]},
        {"indices": [5, 3], "values": [1.0, 2.0]},
        {"indices": [3, 3], "values": [1.0, 2.0]},
        {"indices": [1, 2], "values": [1.0]},
        {"indices": [1], "values": [1.0, 2.0]},
        {"indices": [1]},
        {"values": [1.0]},
        {},
    ])
    return dumps(base(rng, i, sparse=sp))


def duplicate_key(rng, i):
    f = base(rng, i)
    where = rng.choice(["id", "vector", "collection", "metadata", "sparse",
                        "same-value"])
    text = dumps(f)
    if where == "metadata":
        return with_raw(f, "metadata", b'{"k":1,"j":2,"k":3}')
    if where == "sparse":
        return with_raw(f, "sparse",
                        b'{"indices":[1],"values":[1],"indices":[2]}')
    if where == "same-value":
        return text[:-1] + b',"id":"bad-%d"}' % i
    return text[:-1] + b',"' + where.encode() + b'":' + \
        json.dumps(f[where]).encode() + b"}"


def too_deep(rng, i):
    if rng.random() < 0.9:
        depth = DEPTH_MAX + 1 + rng.randrange(20)
        md = nested(depth, rng.choice([1, "x", None, True]))
        assert depth_of(md) == depth
        return dumps(base(rng, i, metadata=md))
    # Deeper than jansson itself parses (2048 levels).
    depth = 2100 + rng.randrange(500)
    return with_raw(base(rng, i), "metadata",
                    b'{"a":' + b"[" * depth + b"]" * depth + b"}")


def oversized_document(rng, i):
    n = DOCUMENT_MAX + 1 + rng.randrange(1000)
    return dumps(base(rng, i, document="d" * n))


def oversized_metadata(rng, i):
    n = METADATA_MAX + rng.randrange(1000)
    return dumps(base(rng, i, metadata={"blob": "m" * n}))


def over_message_max(rng, i):
    # Within the document limit, beyond Kafka's message.max.bytes.
    n = MESSAGE_MAX + rng.randrange(1000)
    return dumps(base(rng, i, document="d" * n))


def bad_op(rng, i):
    return dumps(base(rng, i, op=rng.choice(["insert", "", "up sert",
                                             "upsert ", "del", "remove",
                                             "UPSERTS"])))


def negative_ts(rng, i):
    return dumps(base(rng, i, source_ts_ms=-rng.randrange(1, 10 ** 13)))


def metadata_json_string(rng, i):
    return dumps(base(rng, i, metadata=json.dumps({"k": i})))


WRONG = {
    "collection": [b"1", b"1.5", b"true", b"false", b"null", b"[]", b"{}",
                   b'["a"]'],
    "id": [b"1.5", b"true", b"false", b"null", b"[]", b"{}", b'["a"]',
           b"1e3", b"-0.0"],
    "op": [b"1", b"true", b"null", b"[]", b"{}", b'["upsert"]'],
    "vector": [b'"1,2"', b"1", b"true", b"null", b"{}", b'{"0":1}',
               b"[[1],2,3,4,5,6,7,8]", b'["1","2","3","4","5","6","7","8"]',
               b"[null,1,2,3,4,5,6,7]", b"[true,1,2,3,4,5,6,7]",
               b"[{},1,2,3,4,5,6,7]", b"[[],1,2,3,4,5,6,7]"],
    "sparse": [b"1", b'"x"', b"[]", b"true", b"[1,2]",
               b'{"indices":1,"values":[1]}',
               b'{"indices":[1],"values":"x"}',
               b'{"indices":[1.5],"values":[1]}',
               b'{"indices":["1"],"values":[1]}',
               b'{"indices":[1],"values":["a"]}',
               b'{"indices":[1],"values":[null]}'],
    "metadata": [b'"str"', b"1", b"1.5", b"true", b"false", b"[]",
                 b'[{"k":1}]'],
    "document": [b"1", b"1.5", b"true", b"false", b"[]", b"{}",
                 b'["text"]'],
    "source_ts_ms": [b'"1"', b"1.5", b"true", b"[]", b"{}", b"1e12",
                     b'"2024-01-01"'],
}

# name -> (maker, pattern of the reason)
CLASSES = {
    "truncated": (truncated, r"invalid JSON"),
    "trailing-garbage": (trailing, r"invalid JSON"),
    "two-objects": (two_objects, r"invalid JSON"),
    "not-an-object": (not_object, r"expected a JSON object"),
    "syntax": (syntax, r"invalid JSON"),
    "bad-number": (bad_number, r"invalid JSON"),
    "bad-escape": (bad_escape, r"invalid JSON"),
    "raw-control-char": (raw_control, r"invalid JSON"),
    "nul-byte": (nul_byte, r"NUL byte at column \d+"),
    "nul-escape": (nul_escape, r"\\u0000 .*NUL characters are not allowed"),
    "invalid-utf8": (invalid_utf8, r"invalid UTF-8 at byte \d+"),
    "bom-inside": (bom_inside, r"byte order mark"),
    "unknown-field": (unknown_field, r'unknown field ".*" \(known fields'),
    "unknown-sparse-field": (unknown_sparse_field,
                             r'unknown field "sparse\..*"'),
    "missing-id": (missing_id, r'"id" is missing'),
    "empty-id": (empty_id, r'"id" is empty'),
    "delete-without-id": (delete_without_id, r'"id" is missing'),
    "missing-collection": (missing_collection,
                           r'"collection" is missing and there is no '
                           r"default collection"),
    "empty-collection": (empty_collection, r'"collection" is empty'),
    "id-over-limit": (long_id, r'"id" is \d+ bytes, more than the maximum '
                      r"512"),
    "collection-over-limit": (long_collection,
                              r'"collection" is \d+ bytes, more than the '
                              r"maximum 256"),
    "missing-vector": (missing_vector, r'"vector" is missing'),
    "empty-vector": (empty_vector, r'"vector" is empty'),
    "wrong-dimension": (wrong_dim, r"vector has \d+ dimensions, expected 8 "
                        r"\(from line 1\)"),
    "over-max-dim": (over_max_dim, r"vector has \d+ dimensions, more than "
                     r"the maximum 64"),
    "nan-infinity-token": (nonfinite(NAN_TOKENS),
                           r"(?i)(nan|inf|infinity) at column \d+ is not a "
                           r"JSON number|invalid JSON"),
    "huge-exponent": (nonfinite(HUGE_EXP),
                      r"huge number at column \d+: real number overflow"),
    "beyond-float32": (beyond_float32, r"(vector|sparse\.values)\[\d+\] is a "
                       r"huge number \(.* does not fit in float32\)"),
    "huge-integer": (huge_integer, r"huge number at column \d+: too big "
                     r"(negative )?integer"),
    "bad-sparse": (bad_sparse, r"sparse"),
    "duplicate-key": (duplicate_key, r"duplicate field at column \d+: "
                      r"duplicate object key"),
    "metadata-too-deep": (too_deep, r'"metadata" nests deeper than 16 '
                          r"levels|maximum parsing depth"),
    "document-over-limit": (oversized_document,
                            r'"document" is \d+ bytes, more than the maximum '
                            r"1048576"),
    "metadata-over-limit": (oversized_metadata,
                            r'"metadata" is \d+ bytes as compact JSON, more '
                            r"than the maximum 262144"),
    "over-message-max-bytes": (over_message_max,
                               r"is \d+ bytes, more than message\.max\.bytes "
                               r"\(1000000\)"),
    "bad-op": (bad_op, r'"op" must be "upsert" or "delete"'),
    "negative-source-ts": (negative_ts, r'"source_ts_ms" is negative'),
    "metadata-json-in-a-string": (metadata_json_string,
                                  r'"metadata" must be an object or null, '
                                  r"not a string"),
}
for _field, _choices in WRONG.items():
    CLASSES["wrong-type-" + _field] = (
        any_field_wrong_type(_field, _choices),
        r"sparse" if _field == "sparse" else
        r'"?%s"?(\[\d+\])? must be' % _field)

# Classes whose lines are large: a few instances each keep the file small.
LARGE = {"document-over-limit": 3, "metadata-over-limit": 3,
         "over-message-max-bytes": 3}


def bad_line(cls, rng, i):
    return CLASSES[cls][0](rng, i)


# -------------------------------------------------------------- the file


def generate(path, seed, n_valid=3000, n_bad=1200, n_blank=40):
    """Writes the corpus to path. Returns (valid, bad, blank): the Valid
    lines in order, {line: Bad}, and the set of blank line numbers. Line 1
    is always valid (it fixes the dimension)."""
    rng = random.Random(seed)
    small = [c for c in CLASSES if c not in LARGE]
    kinds = []
    for c, n in LARGE.items():
        kinds += [c] * n
    while len(kinds) < n_bad:
        kinds.append(small[len(kinds) % len(small)])
    rng.shuffle(kinds)
    total = n_valid + n_bad + n_blank
    slots = list(range(2, total + 1))
    rng.shuffle(slots)
    bad_at = dict(zip(sorted(slots[:n_bad]), kinds))
    blank_at = set(slots[n_bad:n_bad + n_blank])
    valid, bad, out = [], {}, []
    v = 0
    for lineno in range(1, total + 1):
        if lineno in bad_at:
            cls = bad_at[lineno]
            text = bad_line(cls, rng, lineno)
            assert b"\n" not in text, cls
            bad[lineno] = Bad(lineno, cls, CLASSES[cls][1])
        elif lineno in blank_at:
            text = rng.choice([b"", b" ", b"\t", b"  \t ", b"\r"])
        else:
            t, rec = valid_line(rng, v, lineno)
            v += 1
            text = t.encode("utf-8")
            valid.append(rec)
        out.append(text)
    with open(path, "wb") as f:
        f.write(b"\n".join(out) + b"\n")
    return valid, bad, blank_at


def sample(path, seed=SAMPLE_SEED):
    """The small committed sample (tests/data/input/bad-sample.jsonl, read
    by tests/test_input.c): odd lines valid ("ok-LINE"), even lines one bad
    line of each class but the large ones, in class order. Returns the
    classes in line order."""
    rng = random.Random(seed)
    classes = [c for c in sorted(CLASSES) if c not in LARGE]
    out = []
    for k, cls in enumerate(classes + [None]):
        lineno = len(out) + 1
        vec = ",".join(repr(round(rng.uniform(-1, 1), 4))
                       for _ in range(DIM))
        out.append(b'{"collection":"bad","id":"ok-%d","vector":[%s]}'
                   % (lineno, vec.encode()))
        if cls:
            out.append(bad_line(cls, rng, len(out) + 1))
    with open(path, "wb") as f:
        f.write(b"\n".join(out) + b"\n")
    return classes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--valid", type=int, default=3000)
    ap.add_argument("--bad", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--sample", action="store_true",
                    help="write the small committed sample instead")
    a = ap.parse_args()
    if a.sample:
        print("%s: %d bad lines" % (a.out, len(sample(a.out))))
        return
    valid, bad, blank = generate(a.out, a.seed, a.valid, a.bad)
    print("%s: %d valid, %d bad (%d classes), %d blank lines"
          % (a.out, len(valid), len(bad), len({b.cls for b in bad.values()}),
             len(blank)))


if __name__ == "__main__":
    main()

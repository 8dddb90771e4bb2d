"""Independent readers of what vcdc writes into Kafka.

Nothing here shares code with vcdc: the Avro decoding is fastavro's, the
schema fingerprint is fastavro's and, as a cross-check, a transcription of
the Avro specification's CRC-64-AVRO; the key format and the Java client's
murmur2 partitioner are re-implemented from their definitions. Tests compare
vcdc's output against these, so a bug shared by encoder and decoder in vcdc
cannot hide.
"""

import io
import json
import struct
from pathlib import Path

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "schemas" / "change.avsc"

SCHEMA_V1 = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
PARSED_V1 = fastavro.parse_schema(SCHEMA_V1)
CANONICAL_V1 = to_parsing_canonical_form(PARSED_V1)
# fastavro gives the CRC-64-AVRO fingerprint as hex of its little-endian
# bytes: exactly the 8 bytes the single-object header carries.
FINGERPRINT_V1 = bytes.fromhex(fingerprint(CANONICAL_V1, "CRC-64-AVRO"))

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"

# ------------------------------------------------------------ CRC-64-AVRO

_EMPTY64 = 0xC15D213AA4D7A795


def _fp_table():
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY64 & -(fp & 1))
        table.append(fp & 0xFFFFFFFFFFFFFFFF)
    return table


_FP_TABLE = _fp_table()


def crc64_avro(data: bytes) -> int:
    """The Rabin fingerprint of the Avro specification (Schema Fingerprints),
    transcribed from its reference Java code."""
    fp = _EMPTY64
    for b in data:
        fp = (fp >> 8) ^ _FP_TABLE[(fp ^ b) & 0xFF]
    return fp


# ---------------------------------------------------------------- framing


class FramingError(AssertionError):
    pass


def split_frame(value: bytes):
    """Splits a message value into (framing, schema ref, Avro body).

    framing is "single-object" (ref: the 8 fingerprint bytes) or
    "confluent" (ref: the schema id)."""
    if value[:2] == SINGLE_OBJECT_MAGIC:
        if len(value) < 10:
            raise FramingError(f"single-object header truncated: {value!r}")
        return "single-object", value[2:10], value[10:]
    if value[:1] == CONFLUENT_MAGIC:
        if len(value) < 5:
            raise FramingError(f"confluent header truncated: {value!r}")
        return "confluent", int.from_bytes(value[1:5], "big"), value[5:]
    raise FramingError(f"unknown framing, first bytes {value[:4]!r}")


def read_body(body: bytes, writer=PARSED_V1, reader=None):
    """Decodes an Avro body with fastavro; the whole body must be used."""
    buf = io.BytesIO(body)
    rec = fastavro.schemaless_reader(buf, writer, reader)
    rest = buf.read()
    if rest:
        raise FramingError(f"{len(rest)} trailing bytes after the record")
    return rec


def decode_single_object(value: bytes):
    """A vcdc message in the single-object encoding, checked and decoded."""
    framing, ref, body = split_frame(value)
    if framing != "single-object":
        raise FramingError(f"expected single-object encoding, got {framing}")
    if ref != FINGERPRINT_V1:
        raise FramingError(
            f"fingerprint {ref.hex()} is not schema v1's "
            f"{FINGERPRINT_V1.hex()}")
    return read_body(body)


def decode_confluent(value: bytes, schema_id: int):
    framing, ref, body = split_frame(value)
    if framing != "confluent":
        raise FramingError(f"expected Confluent framing, got {framing}")
    if ref != schema_id:
        raise FramingError(f"schema id {ref}, expected {schema_id}")
    return read_body(body)


# -------------------------------------------------------------------- keys


def kafka_key(collection: str, id_: str) -> bytes:
    """The key vcdc must write: the collection with '%' and '/'
    percent-escaped, '/', the id as it is (UTF-8)."""
    escaped = collection.replace("%", "%25").replace("/", "%2F")
    return (escaped + "/" + id_).encode("utf-8")


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as an
    unsigned 32-bit value."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    end = length & ~3
    for i in range(0, end, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    extra = length & 3
    if extra == 3:
        h ^= data[end + 2] << 16
    if extra >= 2:
        h ^= data[end + 1] << 8
    if extra >= 1:
        h ^= data[end]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def java_partition(key: bytes, partitions: int) -> int:
    """The partition the Java client's default partitioner picks for key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def signed32(u: int) -> int:
    return u - (1 << 32) if u & 0x80000000 else u


# ------------------------------------------------------------------ floats


def f32_bytes(values) -> bytes:
    """values rounded to float32 (round to nearest even), little-endian."""
    return struct.pack(f"<{len(values)}f", *values)

"""Fixtures for vcdc's integration tests against the real local stack.

The stack's env (scripts/stack.sh up DIR writes DIR/env; with-stack.sh
exports it) names the broker in VCDC_BROKERS. Tests that need Kafka take the
`brokers` fixture and are skipped, with the reason, when it is unset.
The gateway's tests take `env` (a GatewayEnv: a topic, consumers,
gateways) and create their collections with create_collection.
"""

import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRODUCER = REPO / "bin" / "vcdc-producer"

NO_BROKER_REASON = (
    "VCDC_BROKERS is unset: no Kafka broker to test against "
    "(run `make test-integration`, or `scripts/stack.sh up DIR` and "
    "`. DIR/env`)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "soak: long fault runs (test_faults.py), deselected "
        "unless -m selects them: `make soak`")


def kafka_available():
    return bool(os.environ.get("VCDC_BROKERS"))


@pytest.fixture(scope="session")
def brokers():
    if not kafka_available():
        pytest.skip(NO_BROKER_REASON)
    return os.environ["VCDC_BROKERS"]


@pytest.fixture(scope="module")
def stack(brokers):
    """The whole stack's env (consumer_helpers.Stack); skipped, like
    brokers, without one."""
    from consumer_helpers import Stack
    return Stack()


@pytest.fixture(scope="module")
def chroma(stack):
    """An independent Chroma client (plain HTTP)."""
    from consumer_helpers import Chroma
    return Chroma(stack)


@pytest.fixture(scope="module")
def pg(stack):
    """An independent pgvector client (psycopg2)."""
    from consumer_helpers import Pg
    return Pg(stack)


@pytest.fixture
def procs():
    """Consumers a test starts; any still running at its end is killed."""
    started = []
    yield started
    for c in started:
        c.cleanup()


@pytest.fixture
def topic(request):
    """A topic name of this test's own, so tests never share data."""
    name = request.node.name
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return f"it-{safe[:80]}-{uuid.uuid4().hex[:12]}"


class Admin:
    """confluent-kafka's AdminClient with the few calls the tests need."""

    def __init__(self, brokers):
        from confluent_kafka.admin import AdminClient

        # A metadata request must never create the topic it asks about.
        self.client = AdminClient({"bootstrap.servers": brokers,
                                   "allow.auto.create.topics": False})

    def partitions(self, topic):
        """The partition count of topic, or None when it does not exist."""
        md = self.client.list_topics(topic, timeout=10)
        tmd = md.topics.get(topic)
        if tmd is None or tmd.error is not None:
            return None
        return len(tmd.partitions)

    def config(self, topic, name):
        from confluent_kafka.admin import ConfigResource

        res = ConfigResource(ConfigResource.Type.TOPIC, topic)
        configs = self.client.describe_configs([res])[res].result(timeout=10)
        return configs[name].value

    def create(self, topic, partitions=1, config=None):
        from confluent_kafka.admin import NewTopic

        new = NewTopic(topic, partitions, 1, config=config or {})
        self.client.create_topics([new])[topic].result(timeout=30)


@pytest.fixture(scope="session")
def admin(brokers):
    return Admin(brokers)


@pytest.fixture
def compacted_topic(admin, topic):
    """compacted_topic(partitions=1) creates this test's topic, compacted,
    through the admin API and returns its name: for tests about something
    other than --create-topic. (A producer that creates the topic itself
    first sees it about a second later, when librdkafka next refreshes
    metadata for a topic it found missing.)"""

    def create(partitions=1):
        admin.create(topic, partitions, {"cleanup.policy": "compact"})
        return topic

    return create


# ------------------------------------------------------------- the producer


@dataclass
class Run:
    args: list
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def __str__(self):
        return (f"$ {' '.join(map(str, self.args))}\n"
                f"exit {self.returncode} after {self.seconds:.1f}s\n"
                f"--- stderr ---\n{self.stderr[-6000:]}")


@pytest.fixture(scope="session")
def producer_bin():
    if not os.access(PRODUCER, os.X_OK):
        pytest.fail(f"{PRODUCER} is not built: run `make bin/vcdc-producer`")
    return PRODUCER


@pytest.fixture
def run_producer(producer_bin):
    """run_producer(*args, timeout=120, stdin=None) runs bin/vcdc-producer
    and returns a Run (args, returncode, stdout, stderr, seconds). A run
    that outlives timeout fails the test (subprocess kills it)."""

    def run(*args, timeout=120, stdin=None):
        argv = [str(producer_bin)] + [str(a) for a in args]
        t0 = time.monotonic()
        try:
            cp = subprocess.run(argv, input=stdin, capture_output=True,
                                timeout=timeout)
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"vcdc-producer did not exit within {timeout}s: "
                        f"{' '.join(argv)}\nstderr so far:\n"
                        f"{(e.stderr or b'').decode(errors='replace')}")
        return Run(argv, cp.returncode,
                   cp.stdout.decode("utf-8", errors="replace"),
                   cp.stderr.decode("utf-8", errors="replace"),
                   time.monotonic() - t0)

    return run


# ------------------------------------------------------------- consuming


@dataclass
class Message:
    partition: int
    offset: int
    key: bytes
    value: bytes  # None for a tombstone


def read_topic(brokers, topic, timeout=60):
    """The whole topic from offset 0 to its end, read with confluent-kafka (a
    fresh group, every partition assigned, until each partition reported EOF
    at its high watermark): Messages ordered by partition and offset."""
    from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError,
                                 TopicPartition)

    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": f"it-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "fetch.wait.max.ms": 100,
        "auto.offset.reset": "earliest",
        "fetch.max.bytes": 64 * 1024 * 1024,
        "max.partition.fetch.bytes": 16 * 1024 * 1024,
    })
    try:
        md = consumer.list_topics(topic, timeout=10)
        tmd = md.topics[topic]
        if tmd.error is not None:
            raise AssertionError(f"topic {topic}: {tmd.error}")
        parts = sorted(tmd.partitions)
        high = {p: consumer.get_watermark_offsets(
            TopicPartition(topic, p), timeout=10)[1] for p in parts}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                         for p in parts])
        pending = set(parts)
        out = []
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"topic {topic}: partitions {sorted(pending)} not "
                    f"read to the end within {timeout}s "
                    f"({len(out)} messages read)")
            # consume() waits its whole timeout unless the batch fills: keep
            # it short so small topics are read in a few milliseconds.
            for msg in consumer.consume(num_messages=10000, timeout=0.05):
                err = msg.error()
                if err is None:
                    out.append(Message(msg.partition(), msg.offset(),
                                       msg.key(), msg.value()))
                elif err.code() == KafkaError._PARTITION_EOF:
                    if msg.offset() >= high[msg.partition()]:
                        pending.discard(msg.partition())
                else:
                    raise AssertionError(f"consume {topic}: {err}")
        out.sort(key=lambda m: (m.partition, m.offset))
        return out
    finally:
        consumer.close()


@pytest.fixture
def consume_topic(brokers):
    """consume_topic(topic, timeout=60): read_topic on this stack's broker."""

    def consume(topic, timeout=60):
        return read_topic(brokers, topic, timeout)

    return consume


# ------------------------------------------------------------- the gateway

GATEWAY_BIN = REPO / "bin" / "vcdc-gateway"
VCDC_BIN = REPO / "bin" / "vcdc"


class GatewayEnv:
    """For the gateway's tests: a topic, OLD and NEW consumers per
    collection, and gateways."""

    def __init__(self, tmp_path):
        from confluent_kafka.admin import AdminClient, NewTopic
        from consumer_helpers import Stack, unique

        self.stack = Stack()
        self.tmp = tmp_path
        self.topic = unique("gwdata")
        self.procs = []
        admin = AdminClient({"bootstrap.servers": self.stack.brokers})
        for f in admin.create_topics([NewTopic(
                self.topic, 3, 1,
                config={"cleanup.policy": "compact"})]).values():
            f.result(30)
        self.old_base = "chroma://%s:%d" % (self.stack.chroma_host,
                                            self.stack.chroma_port)
        self.new_base = "pgvector://postgres@%s:%d/postgres" % (
            self.stack.pg_host, self.stack.pg_port)

    def spawn(self, name, args):
        log = open(self.tmp / (name + ".log"), "w")
        p = subprocess.Popen([str(a) for a in args], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=log)
        self.procs.append((p, log))
        return p

    def consumers(self, coll):
        """OLD (Chroma) and NEW (pgvector) consumers of collection coll."""
        from consumer_helpers import CONSUMER_BIN

        for side, url in (("old", self.stack.chroma_url(coll)),
                          ("new", self.stack.pgvector_url(coll))):
            self.spawn("consumer-%s-%s" % (side, coll),
                       [CONSUMER_BIN, "-b", self.stack.brokers,
                        "-t", self.topic, "-G", self.group(side, coll),
                        "--sink", url, "--collection", coll,
                        "--from-beginning",
                        "--metric", "cosine",
                        # Chroma's offsets are recorded apart, once per
                        # interval: --ack applied waits for them.
                        "-X", "vcdc.commit.interval.ms=50"])

    def group(self, side, coll):
        return "%s.%s.%s" % (self.topic, side, coll)

    def gateway(self, *args):
        """A gateway on a port of its own with args: (port, process,
        name of its log)."""
        from consumer_helpers import free_port, wait_for

        port = free_port()
        name = "gateway-%d" % port
        p = self.spawn(name, [GATEWAY_BIN, "--listen", "127.0.0.1:%d" % port,
                              "-b", self.stack.brokers, "-t", self.topic,
                              "--old", self.old_base, "--new", self.new_base,
                              "-v", *args])

        def up():
            if p.poll() is not None:
                raise AssertionError("gateway exited: " + self.log(name))
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return True
            except OSError:
                return False
        wait_for(up, 30, "the gateway")
        return port, p, name

    def log(self, name):
        return (self.tmp / (name + ".log")).read_text()

    def vcdc(self, *args):
        return subprocess.run([str(VCDC_BIN), *map(str, args)],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ,
                                   "VCDC_BROKERS": self.stack.brokers})

    def close(self):
        for p, log in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, log in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            log.close()


@pytest.fixture
def env(tmp_path):
    """A GatewayEnv; its processes are stopped at the end of the test."""
    e = GatewayEnv(tmp_path)
    yield e
    e.close()


def create_collection(client, name):
    """name through client (a chromadb client, of a gateway or of Chroma
    itself), created if missing: cosine space, metadata {"app": "test"},
    no embedding function (the tests bring their embeddings)."""
    return client.get_or_create_collection(
        name, configuration={"hnsw": {"space": "cosine"}},
        metadata={"app": "test"}, embedding_function=None)

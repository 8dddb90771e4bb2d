"""A second, separate Kafka broker with SASL/PLAIN listeners, for
test_security.py: one SASL_PLAINTEXT listener and one SASL_SSL listener on
free ports of 127.0.0.1, in a directory of its own, started from the same
jars as the stack's broker (scripts/kafka/target/dependency). The default
stack stays as it is; only the tests that need this broker pay for it.

TLS: a throw-away CA and a broker certificate for 127.0.0.1 and localhost,
made with openssl; the broker reads its key and certificate chain from one
PEM file (ssl.keystore.type=PEM). Clients trust the CA through
ssl.ca.location. Users are declared in the listeners' JAAS lines.

Nothing here shares code with vcdc: readiness is a metadata request over
SASL_PLAINTEXT with confluent-kafka.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from free_ports import free_ports  # noqa: E402
KAFKA_CP = str(REPO / "scripts" / "kafka" / "target" / "dependency" / "*")
READY_TIMEOUT = float(os.environ.get("VCDC_STACK_TIMEOUT", "120"))


def _run(args, cwd):
    cp = subprocess.run(args, cwd=cwd, capture_output=True, timeout=120)
    if cp.returncode:
        raise RuntimeError("%s: exit %d: %s" % (
            " ".join(map(str, args)), cp.returncode,
            cp.stderr.decode(errors="replace")[-2000:]))
    return cp.stdout.decode().strip()


def make_ca(dirpath, name):
    """A self-signed CA: (cert path, key path)."""
    cert, key = dirpath / (name + ".pem"), dirpath / (name + ".key")
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
          "-keyout", key, "-out", cert, "-days", "2",
          "-subj", "/CN=" + name], dirpath)
    return cert, key


class SaslBroker:
    """start() formats and launches the broker and waits until it answers;
    stop() ends it. Attributes: sasl_plaintext and sasl_ssl (host:port),
    ca (the CA's PEM file), user, password."""

    def __init__(self, dirpath):
        self.dir = Path(dirpath)
        self.user = "vcdc"
        # The password tests look for in every byte vcdc writes.
        self.password = "sasl-pw-" + uuid.uuid4().hex
        self.proc = None
        self.log_path = self.dir / "broker.log"

    def _certs(self):
        self.ca, ca_key = make_ca(self.dir, "ca")
        key, csr = self.dir / "broker.key", self.dir / "broker.csr"
        cert, ext = self.dir / "broker.crt", self.dir / "san.cnf"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes",
              "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
             self.dir)
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca,
              "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
              "-days", "2", "-extfile", ext], self.dir)
        # PEM keystore: the unencrypted PKCS#8 key, then the chain.
        self.keystore = self.dir / "broker-keystore.pem"
        self.keystore.write_text(key.read_text() + cert.read_text())

    def _properties(self):
        p_plain, p_ssl, p_ctl = free_ports(3)
        self.sasl_plaintext = "127.0.0.1:%d" % p_plain
        self.sasl_ssl = "127.0.0.1:%d" % p_ssl
        inter_pw = uuid.uuid4().hex
        plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
        users = 'user_broker="%s" user_%s="%s"' % (inter_pw, self.user,
                                                   self.password)
        lines = [
            "process.roles=broker,controller",
            "node.id=1",
            "controller.quorum.voters=1@127.0.0.1:%d" % p_ctl,
            "listeners=SASL_PLAINTEXT://%s,SASL_SSL://%s,"
            "CONTROLLER://127.0.0.1:%d" % (self.sasl_plaintext,
                                           self.sasl_ssl, p_ctl),
            "advertised.listeners=SASL_PLAINTEXT://%s,SASL_SSL://%s" % (
                self.sasl_plaintext, self.sasl_ssl),
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=SASL_PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,"
            "SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
            "sasl.enabled.mechanisms=PLAIN",
            "sasl.mechanism.inter.broker.protocol=PLAIN",
            'listener.name.sasl_plaintext.plain.sasl.jaas.config=%s '
            'required username="broker" password="%s" %s;' % (
                plain, inter_pw, users),
            "listener.name.sasl_ssl.plain.sasl.jaas.config=%s required %s;"
            % (plain, users),
            "listener.name.sasl_ssl.ssl.keystore.type=PEM",
            "listener.name.sasl_ssl.ssl.keystore.location=%s" % self.keystore,
            "log.dirs=%s" % (self.dir / "data"),
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "log.cleaner.dedupe.buffer.size=16777216",
        ]
        self.properties = self.dir / "server.properties"
        self.properties.write_text("\n".join(lines) + "\n")

    def client_conf(self, protocol, password=None, ca=None):
        """librdkafka settings (a dict) for this broker's listener of
        protocol ("SASL_PLAINTEXT" or "SASL_SSL")."""
        conf = {"security.protocol": protocol, "sasl.mechanism": "PLAIN",
                "sasl.username": self.user,
                "sasl.password": self.password if password is None
                else password}
        if protocol == "SASL_SSL":
            conf["ssl.ca.location"] = str(ca or self.ca)
        return conf

    def address(self, protocol):
        return (self.sasl_ssl if protocol == "SASL_SSL"
                else self.sasl_plaintext)

    def _port_open(self):
        host, port = self.sasl_plaintext.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return True
        except OSError:
            return False

    def _answers(self, admin):
        try:
            md = admin.list_topics(timeout=2)
        except Exception:  # KafkaException while it starts
            return False
        return bool(md.brokers)

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        self._certs()
        self._properties()
        java = os.environ.get("VCDC_JAVA", "java")
        cluster_id = _run([java, "-cp", KAFKA_CP, "kafka.tools.StorageTool",
                           "random-uuid"], self.dir).splitlines()[-1]
        _run([java, "-cp", KAFKA_CP, "kafka.tools.StorageTool", "format",
              "-t", cluster_id, "-c", self.properties, "--ignore-formatted"],
             self.dir)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [java, "-Xms128m", "-Xmx384m", "-XX:+UseG1GC", "-cp", KAFKA_CP,
             "kafka.Kafka", str(self.properties)],
            cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        admin = None
        while admin is None or not self._answers(admin):
            if admin is None and self._port_open():
                # One client, quiet while the broker starts.
                admin = AdminClient(dict(
                    self.client_conf("SASL_PLAINTEXT"),
                    **{"bootstrap.servers": self.sasl_plaintext,
                       "log_level": 0}))
            if self.proc.poll() is not None:
                raise RuntimeError("the SASL broker exited (%d): %s" % (
                    self.proc.returncode, self.tail()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the SASL broker did not answer within "
                                   "%.0f s: %s" % (READY_TIMEOUT,
                                                   self.tail()))
            time.sleep(0.2)

    def tail(self, n=30):
        try:
            return "\n".join(self.log_path.read_text(
                errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

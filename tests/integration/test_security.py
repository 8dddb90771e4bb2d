"""SASL/PLAIN and TLS against a real Kafka broker.

A second broker (sasl_broker.py: same jars as the stack's, its own
directory and ports) listens with SASL_PLAINTEXT and SASL_SSL; pgvector is
the stack's. The librdkafka settings reach vcdc-producer, vcdc-consumer and
`vcdc status` through -F, a properties file holding the password (never the
command line). Every run is at debug level with librdkafka's own security
and configuration debugging on, and the password must appear in none of
the bytes a program writes.

A wrong password and an untrusted CA must each end the program with a
non-zero status and an error naming the broker and the failure, within the
subprocess timeout (no hang).
"""

import json
import os
import subprocess

import pytest

from consumer_helpers import (
    CONSUMER_BIN, PRODUCER_BIN, Expected, Pg, diff_state, f32, run_bounded,
    unique, wait_for, write_jsonl)
from sasl_broker import SaslBroker, make_ca

VCDC_BIN = PRODUCER_BIN.parent / "vcdc"
RUN_TIMEOUT = 120
# librdkafka's debug contexts that log the handshake and the configuration
# (librdkafka itself prints sasl.password as [redacted]).
DEBUG = ["-X", "debug=security,conf,broker", "-v", "-v"]


@pytest.fixture(scope="module")
def sasl(tmp_path_factory):
    broker = SaslBroker(tmp_path_factory.mktemp("sasl-broker"))
    try:
        broker.start()
    except RuntimeError as e:
        pytest.fail(str(e))
    yield broker
    broker.stop()


def write_conf(path, conf):
    """A -F properties file, readable by its owner only."""
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
              "w") as f:
        for k, v in conf.items():
            f.write("%s=%s\n" % (k, v))
    return path


def run(args, timeout=RUN_TIMEOUT):
    """(exit status, stdout, stdout + stderr); a run that outlives timeout
    fails the test: the program hung."""
    cp = run_bounded(args, timeout)
    out = cp.stdout.decode(errors="replace")
    return cp.returncode, out, out + cp.stderr.decode(errors="replace")


def assert_no_password(output, *passwords):
    assert output.strip(), "no output at all (is -v -v logging?)"
    for pw in passwords:
        assert pw not in output, (
            "the password appears in the output:\n%s" % output[-3000:])


def changes_for(n):
    changes = [{"collection": "docs", "id": "k%03d" % i,
                "vector": f32([i + 0.25, -1.5, 2.0]),
                "metadata": {"i": i}, "document": "doc %d" % i}
               for i in range(n)]
    changes += [{"collection": "docs", "id": "k001", "op": "delete"},
                {"collection": "docs", "id": "k002",
                 "vector": f32([9.0, 9.0, 9.0])}]
    return changes


@pytest.mark.parametrize("protocol", ["SASL_SSL", "SASL_PLAINTEXT"])
def test_publish_apply_and_status(stack, sasl, tmp_path, protocol):
    topic, group, table = (unique("it_sec"), unique("g_sec"),
                           unique("sec"))
    conf = write_conf(tmp_path / "client.properties",
                      sasl.client_conf(protocol))
    addr = sasl.address(protocol)
    changes = changes_for(30)
    write_jsonl(tmp_path / "in.jsonl", changes)

    rc, _, out = run([PRODUCER_BIN, "-b", addr, "-t", topic,
                      "--create-topic", "--partitions", 3, "-F", conf,
                      *DEBUG, tmp_path / "in.jsonl"])
    assert rc == 0, out[-3000:]
    assert "published 32, skipped 0, failed 0" in out, out[-3000:]
    assert_no_password(out, sasl.password)

    rc, _, out = run([CONSUMER_BIN, "-b", addr, "-t", topic, "-G", group,
                      "--sink", stack.pgvector_url(table),
                      "--collection", "docs",
                      "--from-beginning", "--exit-at-end", "-F", conf,
                      *DEBUG])
    assert rc == 0, out[-3000:]
    assert_no_password(out, sasl.password)
    expected = Expected()
    expected.apply_all([dict(c, op=c.get("op", "upsert")) for c in changes])
    assert len(expected) == 29
    report = diff_state(expected, Pg(stack).get_all(table))
    assert not report, report

    # The group's offsets as `vcdc status` reads them over the same
    # listener: 33 messages (32 records and the delete's tombstone), all
    # committed, all recorded in the table; no consumer runs any more.
    rc, stdout, out = run([VCDC_BIN, "status", "-b", addr, "-t", topic,
                           "--group", "%s=%s" % (group,
                                                 stack.pgvector_url(table)),
                           "--window", 2, "--interval", 0.2, "--json",
                           "-F", conf, *DEBUG])
    assert rc == 1, out[-3000:]  # STOPPED is not OK
    report = json.loads(stdout.splitlines()[-1])
    (g,) = report["groups"]
    assert g["state"] == "STOPPED", g
    assert (g["end"], g["committed"], g["lag"]) == (33, 33, 0), g
    recorded = Pg(stack).recorded_offsets(table, topic)
    assert {p["partition"]: p["recorded"] for p in g["partitions"]
            if p["recorded"] >= 0} == recorded, (g, recorded)
    assert_no_password(out, sasl.password)


def bad_client_runs(stack, addr, conf, tmp_path):
    """The three programs, each pointed at addr with conf: what each must
    refuse."""
    write_jsonl(tmp_path / "one.jsonl",
                [{"collection": "docs", "id": "a", "vector": [1.0, 2.0]}])
    topic = unique("it_sec_bad")
    return {
        "producer": [PRODUCER_BIN, "-b", addr, "-t", topic,
                     "--create-topic", "-F", conf, *DEBUG,
                     tmp_path / "one.jsonl"],
        "consumer": [CONSUMER_BIN, "-b", addr, "-t", topic, "-G",
                     unique("g_bad"), "--sink",
                     stack.pgvector_url(unique("sec_bad")),
                     "--from-beginning", "--exit-at-end", "-F", conf,
                     *DEBUG],
        "status": [VCDC_BIN, "status", "-b", addr, "-t", topic, "--group",
                   "g", "--window", 1, "-F", conf, *DEBUG],
    }


# Each refused run waits out the programs' 10 s metadata timeout: every
# program over SASL_SSL, and one over SASL_PLAINTEXT.
@pytest.mark.parametrize("protocol,program", [
    ("SASL_SSL", "producer"), ("SASL_SSL", "consumer"),
    ("SASL_SSL", "status"), ("SASL_PLAINTEXT", "producer")])
def test_wrong_password_fails_clearly(stack, sasl, tmp_path, protocol,
                                      program):
    wrong = "wrong-pw-" + os.urandom(8).hex()
    conf = write_conf(tmp_path / "client.properties",
                      sasl.client_conf(protocol, password=wrong))
    addr = sasl.address(protocol)
    args = bad_client_runs(stack, addr, conf, tmp_path)[program]
    rc, _, out = run(args)
    assert rc != 0, out[-3000:]
    assert "Authentication failed" in out, out[-3000:]
    assert "SASL authentication error" in out, out[-3000:]
    # The last word names the broker it could not reach.
    assert "no answer from the Kafka broker(s) %s" % addr in out, (
        out[-3000:])
    assert_no_password(out, wrong, sasl.password)


@pytest.mark.parametrize("program", ["producer", "consumer", "status"])
def test_untrusted_ca_fails_clearly(stack, sasl, tmp_path, program):
    other_ca, _ = make_ca(tmp_path, "other-ca")
    conf = write_conf(tmp_path / "client.properties",
                      sasl.client_conf("SASL_SSL", ca=other_ca))
    args = bad_client_runs(stack, sasl.sasl_ssl, conf, tmp_path)[program]
    rc, _, out = run(args)
    assert rc != 0, out[-3000:]
    assert "SSL handshake failed" in out, out[-3000:]
    assert "certificate verify failed" in out, out[-3000:]
    assert "no answer from the Kafka broker(s) %s" % sasl.sasl_ssl in out, (
        out[-3000:])
    assert_no_password(out, sasl.password)


def test_tls_listener_refuses_plaintext_sasl(stack, sasl, tmp_path):
    """SASL without TLS against the TLS listener: refused, not hung."""
    conf = write_conf(tmp_path / "client.properties",
                      sasl.client_conf("SASL_PLAINTEXT"))
    args = bad_client_runs(stack, sasl.sasl_ssl, conf, tmp_path)["producer"]
    rc, _, out = run(args)
    assert rc != 0, out[-3000:]
    assert "no answer from the Kafka broker(s) %s" % sasl.sasl_ssl in out, (
        out[-3000:])
    assert_no_password(out, sasl.password)


def test_cutover_route_rollback_over_sasl_ssl(stack, sasl, tmp_path):
    """The control topic over SASL_SSL: a gated cut-over (both sides
    applied, NEW's consumer running), the route a reader sees, a
    rollback."""
    conf = write_conf(tmp_path / "client.properties",
                      sasl.client_conf("SASL_SSL"))
    addr = sasl.sasl_ssl
    topic, control = unique("it_sec_cut"), unique("it_sec_control")
    old_url = stack.chroma_url(unique("secold"))
    new_url = stack.pgvector_url(unique("secnew"))
    old_group, new_group = unique("g_old"), unique("g_new")
    write_jsonl(tmp_path / "in.jsonl", changes_for(20))
    rc, _, out = run([PRODUCER_BIN, "-b", addr, "-t", topic,
                      "--create-topic", "--partitions", 2, "-F", conf, "-q",
                      tmp_path / "in.jsonl"])
    assert rc == 0, out[-3000:]
    rc, _, out = run([CONSUMER_BIN, "-b", addr, "-t", topic, "-G", old_group,
                      "--sink", old_url, "--collection", "docs",
                      "--from-beginning", "--exit-at-end", "-F", conf, "-q"])
    assert rc == 0, out[-3000:]
    log = open(tmp_path / "new-consumer.log", "wb")
    new = subprocess.Popen([str(CONSUMER_BIN), "-b", addr, "-t", topic,
                            "-G", new_group, "--sink", new_url,
                            "--collection", "docs",
                            "--from-beginning", "-F", str(conf)],
                           stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    try:
        status = [VCDC_BIN, "status", "-b", addr, "-t", topic, "--group",
                  new_group, "--window", 2, "--interval", 0.2, "-F", conf,
                  "-q"]
        wait_for(lambda: run(status)[0] == 0, 90,
                 "the NEW group to be OK over SASL_SSL")
        common = ["-b", addr, "--collection", "docs", "--control-topic",
                  control, "-F", conf]
        rc, _, out = run([VCDC_BIN, "cutover", "-t", topic, "--to", "new",
                          "--old", old_url, "--new", new_url,
                          "--old-group", old_group, "--new-group",
                          new_group, "--window", 2, "--interval", 0.2,
                          "--shadow-sample", 5, "-k", 3] + common)
        assert rc == 0, out[-3000:]
        assert "docs now routes to new" in out, out[-3000:]
        rc, stdout, out = run([VCDC_BIN, "route", "--json"] + common)
        assert rc == 0, out[-3000:]
        assert json.loads(stdout)["route"] == "new", stdout
        rc, _, out = run([VCDC_BIN, "rollback"] + common)
        assert rc == 0, out[-3000:]
        rc, stdout, out = run([VCDC_BIN, "route", "--json"] + common)
        assert json.loads(stdout)["route"] == "old", stdout
        assert_no_password(out, sasl.password)
    finally:
        new.terminate()
        new.wait(60)
    assert new.returncode == 0, (tmp_path / "new-consumer.log").read_text()

"""Configuration errors: every program says what is wrong and exits
non-zero.

For vcdc-producer, vcdc-consumer and `vcdc` status, verify and cutover:
an unknown -X key, bad values (not a number, out of range, not one of the
choices, negative timeouts), an unreachable broker and an unreachable
database. Each message must name the key and the value, or the address;
each run must end by itself (the subprocess timeout fails a hang). The
broker and the databases are the stack's; nothing is written to them.
"""


import pytest

from consumer_helpers import CONSUMER_BIN, PRODUCER_BIN, run_bounded, unique

VCDC_BIN = PRODUCER_BIN.parent / "vcdc"
# Usage errors exit at once; an unreachable broker after the programs'
# metadata timeout (10 s at most).
RUN_TIMEOUT = 90
DEAD_BROKER = "127.0.0.1:1"
DEAD_PG = "pgvector://postgres@127.0.0.1:1/postgres?table=cfg_dead"
DEAD_CHROMA = "chroma://127.0.0.1:1/cfg_dead"


def run(args, timeout=RUN_TIMEOUT):
    cp = run_bounded(args, timeout)
    return cp.returncode, cp.stderr.decode(errors="replace")


def programs(stack, brokers=None):
    """Each program's command line, complete and valid but for what a test
    adds: {name: argv}."""
    b = brokers or stack.brokers
    topic = unique("it_cfg")
    pg = stack.pgvector_url(unique("cfg"))
    chroma = stack.chroma_url(unique("cfg"))
    return {
        "producer": [PRODUCER_BIN, "-b", b, "-t", topic, "/dev/null"],
        "consumer": [CONSUMER_BIN, "-b", b, "-t", topic, "-G",
                     unique("g_cfg"), "--sink", pg, "--exit-at-end"],
        "status": [VCDC_BIN, "status", "-b", b, "-t", topic, "--group",
                   "g", "--window", 1],
        "cutover": [VCDC_BIN, "cutover", "-b", b, "-t", topic,
                    "--collection", "docs", "--to", "new", "--old", chroma,
                    "--new", pg, "--old-group", "go", "--new-group", "gn"],
    }


KAFKA_PROGRAMS = ["producer", "consumer", "status", "cutover"]


# ------------------------------------------------------------ unknown key


@pytest.mark.parametrize("program", KAFKA_PROGRAMS)
@pytest.mark.parametrize("key", ["no.such.librdkafka.key", "vcdc.no.such",
                                 "sasl.pasword"])
def test_unknown_key(stack, program, key):
    rc, err = run(programs(stack)[program] + ["-X", key + "=v4lue"])
    assert rc == 64, err
    assert 'unknown configuration key "%s"' % key in err, err
    # The value of a key nobody knows is never repeated: it may be a
    # secret under a misspelt name.
    assert "v4lue" not in err, err


@pytest.mark.parametrize("program", KAFKA_PROGRAMS)
def test_unknown_key_in_file_names_file_and_line(stack, program, tmp_path):
    path = tmp_path / "client.properties"
    path.write_text("# settings\nclient.id=cfg\nno.such.key=1\n")
    rc, err = run(programs(stack)[program] + ["-F", path])
    assert rc == 64, err
    assert '%s:3: unknown configuration key "no.such.key"' % path in err, err


# -------------------------------------------------------------- bad values

# (setting, what the message must contain besides the key and value)
BAD_VALUES = [
    ("vcdc.on.error=maybe", "is not one of stop|skip"),
    ("vcdc.batch.records=abc", "is not an integer in 1..1000000"),
    ("vcdc.batch.records=0", "is not an integer in 1..1000000"),
    ("vcdc.batch.records=99999999999999999999", "is not an integer"),
    ("vcdc.flush.timeout.ms=-5", "is not an integer in 1..86400000"),
    ("vcdc.sink.timeout.ms=-1", "is not an integer in 100..3600000"),
    ("vcdc.sink.metric=dot", "is not one of cosine|l2|ip (or empty)"),
    ("socket.timeout.ms=-1", "outside allowed range"),
    ("message.timeout.ms=soon", "Invalid value"),
    ("security.protocol=bogus", "Invalid value"),
    ("enable.auto.commit=maybe", "Expected bool value"),
]


@pytest.mark.parametrize("program", KAFKA_PROGRAMS)
@pytest.mark.parametrize("kv,why", BAD_VALUES)
def test_bad_value(stack, program, kv, why):
    key, value = kv.split("=", 1)
    rc, err = run(programs(stack)[program] + ["-X", kv])
    assert rc == 64, err
    assert key in err and value in err and why in err, err
    assert not err.endswith("\n\n"), repr(err[-200:])


# The programs' own options: (program, arguments, message).
BAD_OPTIONS = [
    ("producer", ["--on-error", "maybe"],
     'vcdc.on.error: "maybe" is not one of stop|skip'),
    ("producer", ["--partitions", "0"],
     'vcdc.topic.partitions: "0" is not an integer'),
    ("producer", ["--dim", "-3"], "--dim -3: expected a positive integer"),
    ("producer", ["-f", "csv"], "-f csv: expected jsonl or fvecs"),
    ("producer", ["--schema-id", "x"], 'vcdc.schema.id: "x"'),
    ("consumer", ["--metric", "dot"], 'vcdc.sink.metric: "dot"'),
    ("consumer", ["--metrics-port", "70000"],
     "--metrics-port 70000: expected 0..65535"),
    ("consumer", ["--dim", "x"], 'vcdc.sink.dim: "x"'),
    ("status", ["--window", "0"], "--window 0: expected 1..100"),
    ("status", ["--interval", "-1"], "--interval -1: expected seconds"),
    ("status", ["--max-lag", "x"], "--max-lag x: expected a count"),
    ("cutover", ["--min-overlap", "2"], "--min-overlap 2: expected 0..1"),
    ("cutover", ["--to", "maybe"], "--to maybe: expected new or old"),
    ("cutover", ["-k", "0"], "-k 0: expected 1..1000"),
    ("cutover", ["--interval", "-3"], "--interval -3: expected seconds"),
    ("cutover", ["--tolerance", "-1"], "--tolerance -1: expected a number"),
]


@pytest.mark.parametrize("program,args,message", BAD_OPTIONS)
def test_bad_option(stack, program, args, message):
    rc, err = run(programs(stack)[program] + args)
    assert rc == 64, err
    assert message in err, err


def verify_args(stack):
    return [VCDC_BIN, "verify", "--old", stack.pgvector_url(unique("cfg")),
            "--new", stack.chroma_url(unique("cfg"))]


@pytest.mark.parametrize("args,message", [
    (["--tolerance", "abc"], '--tolerance "abc" is not a number >= 0'),
    (["--tolerance", "-1"], '--tolerance "-1" is not a number >= 0'),
    (["--page", "0"], '--page "0" is not 1..100000'),
    (["--timeout-ms", "-5"], '--timeout-ms "-5" is not 1..3600000'),
    (["--memory", "lots"], '--memory "lots" is not a size'),
    (["--sample", "x"], '--sample "x"'),
    (["-X", "linger.ms=1"], 'unknown argument "-X"'),
])
def test_verify_bad_option(stack, args, message):
    rc, err = run(verify_args(stack) + args)
    assert rc == 64, err
    assert message in err, err


# ------------------------------------------------------ unreachable broker


@pytest.mark.parametrize("program", KAFKA_PROGRAMS)
def test_unreachable_broker(stack, program):
    rc, err = run(programs(stack, brokers=DEAD_BROKER)[program])
    assert rc not in (0, None), err
    if program == "consumer":
        # An outage, not a usage error: EX_TEMPFAIL, try again later.
        assert rc == 75, (rc, err)
    assert "no answer from the Kafka broker(s) %s" % DEAD_BROKER in err, err
    assert "Connection refused" in err, err


# --------------------------------------------------------- unreachable sink


def sink_cases(stack):
    b, topic = stack.brokers, unique("it_cfg")
    return {
        "consumer-pgvector": [CONSUMER_BIN, "-b", b, "-t", topic, "-G", "g",
                              "--sink", DEAD_PG],
        "consumer-chroma": [CONSUMER_BIN, "-b", b, "-t", topic, "-G", "g",
                            "--sink", DEAD_CHROMA],
        "status-pgvector": [VCDC_BIN, "status", "-b", b, "-t", topic,
                            "--group", "g=" + DEAD_PG, "--window", 1],
        "status-chroma": [VCDC_BIN, "status", "-b", b, "-t", topic,
                          "--group", "g=" + DEAD_CHROMA, "--window", 1],
        "verify-old": [VCDC_BIN, "verify", "--old", DEAD_PG, "--new",
                       stack.chroma_url(unique("cfg"))],
        "verify-new": [VCDC_BIN, "verify", "--old",
                       stack.pgvector_url(unique("cfg")), "--new",
                       DEAD_CHROMA],
        "cutover-old": [VCDC_BIN, "cutover", "-b", b, "-t", topic,
                        "--collection", "docs", "--to", "new", "--old",
                        DEAD_CHROMA, "--new", stack.pgvector_url("cfg"),
                        "--old-group", "go", "--new-group", "gn"],
        "cutover-new": [VCDC_BIN, "cutover", "-b", b, "-t", topic,
                        "--collection", "docs", "--to", "new", "--old",
                        stack.chroma_url(unique("cfg")), "--new", DEAD_PG,
                        "--old-group", "go", "--new-group", "gn"],
    }


@pytest.mark.parametrize("case", ["consumer-pgvector", "consumer-chroma",
                                  "status-pgvector", "status-chroma",
                                  "verify-old", "verify-new", "cutover-old",
                                  "cutover-new"])
def test_unreachable_sink(stack, case):
    rc, err = run(sink_cases(stack)[case])
    assert rc not in (0, None), err
    if case.startswith("consumer-"):
        assert rc == 75, (rc, err)
    assert "127.0.0.1:1/" in err, err  # the sink's URL, as given
    assert ("Connection refused" in err or "Couldn't connect" in err), err

"""Secrets never reach vcdc-consumer's output.

The pgvector password (VCDC_PG_PASSWORD, or VCDC_PG_PASSWORD_FILE) and the
Chroma token (VCDC_CHROMA_TOKEN) are each set to a string of this run's own;
the consumer runs at debug level (-v -v) against the real stack, applying
records, and against a sink that refuses connections (a free port), so its
errors are logged too. Neither string may appear in its stdout or stderr.
A password written into the sink URL is refused, exit 64, with a message
that does not echo it.

The local Chroma has no auth: the token is sent and ignored, which is
enough to prove it is not logged.
"""

import subprocess
import uuid

import pytest

from consumer_helpers import CONSUMER_BIN, free_port, f32, produce, unique

RUN_TIMEOUT = 120
# How long a consumer facing a dead sink runs before it is stopped: long
# enough for a few failed connections and their retries to be logged.
DEAD_SINK_SECONDS = 8


@pytest.fixture(scope="module")
def secrets():
    """Two unique strings, looked for in every byte the consumer writes."""
    return {"pg": "pgpw-" + uuid.uuid4().hex,
            "chroma": "chtok-" + uuid.uuid4().hex}


@pytest.fixture(scope="module")
def topic_with_records(stack, tmp_path_factory):
    """A topic holding a few upserts and a delete, for the runs that apply."""
    topic = unique("it_secrets")
    changes = [{"collection": "docs", "id": "s%d" % i,
                "vector": f32([i + 0.5, -1.0, 2.0]),
                "metadata": {"n": i}, "document": "doc %d" % i}
               for i in range(20)]
    changes.append({"collection": "docs", "id": "s3", "op": "delete"})
    produce(stack, topic, changes,
            tmp_path_factory.mktemp("secrets") / "in.jsonl", "--create-topic")
    return topic


def env_with(secrets, extra=None):
    import os
    env = dict(os.environ)
    for k in ("VCDC_PG_PASSWORD_FILE", "VCDC_CHROMA_TOKEN_FILE", "PGPASSWORD"):
        env.pop(k, None)
    env["VCDC_PG_PASSWORD"] = secrets["pg"]
    env["VCDC_CHROMA_TOKEN"] = secrets["chroma"]
    env.update(extra or {})
    return env


def run_consumer(stack, topic, sink_url, env, timeout):
    """Runs vcdc-consumer at debug level; stops it after timeout seconds.
    Returns (exit status or None when stopped, stdout + stderr)."""
    args = [str(CONSUMER_BIN), "-b", stack.brokers, "-t", topic,
            "-G", unique("g_secrets"), "--sink", sink_url,
            "--collection", "docs", "--from-beginning", "--exit-at-end", "-v", "-v"]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        rc = None
    return rc, (out + err).decode("utf-8", errors="replace")


def assert_no_secret(secrets, output, what):
    assert output.strip(), "%s: no output at all (is -v -v logging?)" % what
    for name, value in secrets.items():
        assert value not in output, (
            "%s: the %s secret appears in the output:\n%s"
            % (what, name, output[-3000:]))


@pytest.mark.parametrize("kind", ["pgvector", "chroma"])
def test_applying_at_debug_level_logs_no_secret(stack, secrets,
                                                topic_with_records, kind):
    name = unique("secrets")
    url = (stack.pgvector_url(name) if kind == "pgvector"
           else stack.chroma_url(name))
    rc, output = run_consumer(stack, topic_with_records, url,
                              env_with(secrets), RUN_TIMEOUT)
    assert rc == 0, "vcdc-consumer exit %r:\n%s" % (rc, output[-3000:])
    assert_no_secret(secrets, output, "%s run" % kind)


@pytest.mark.parametrize("kind", ["pgvector", "chroma"])
def test_dead_sink_errors_log_no_secret(stack, secrets, topic_with_records,
                                        kind, tmp_path):
    port = free_port()
    if kind == "pgvector":
        url = "pgvector://postgres@127.0.0.1:%d/postgres?table=t" % port
    else:
        url = "chroma://127.0.0.1:%d/secrets_dead" % port
    # The password from a file as well: the same rule holds for both.
    pwfile = tmp_path / "pgpass"
    pwfile.write_text(secrets["pg"] + "\n")
    env = env_with(secrets)
    if kind == "pgvector":
        del env["VCDC_PG_PASSWORD"]
        env["VCDC_PG_PASSWORD_FILE"] = str(pwfile)
    rc, output = run_consumer(stack, topic_with_records, url, env,
                              DEAD_SINK_SECONDS)
    assert rc != 0, "vcdc-consumer applied to a dead sink:\n%s" % output
    assert str(port) in output, (
        "the error does not name the sink's address:\n%s" % output[-3000:])
    assert_no_secret(secrets, output, "dead %s sink" % kind)


def test_password_in_sink_url_is_refused_without_echo(stack, secrets,
                                                      topic_with_records):
    secret = "urlpw-" + uuid.uuid4().hex
    url = "pgvector://postgres:%s@%s:%d/postgres?table=t" % (
        secret, stack.pg_host, stack.pg_port)
    rc, output = run_consumer(stack, topic_with_records, url,
                              env_with(secrets), RUN_TIMEOUT)
    assert rc == 64, "exit %r, want 64 (configuration):\n%s" % (rc, output)
    assert "password" in output, output
    assert secret not in output, (
        "the refusal echoes the password:\n%s" % output)
    assert_no_secret(secrets, output, "URL with a password")

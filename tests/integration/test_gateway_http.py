"""vcdc-gateway's HTTP side (issue 19, the server part): the built-in
routes through the official Python client (chromadb-client 1.0.20) and raw
HTTP, their JSON shapes against the real Chroma 1.0 server of the stack,
tokens (401, 403, no token in any log or answer), the audit log, the
bounds (413, 503 with Retry-After), 501/405/404, and SIGTERM draining a
request in flight.

The gateway needs Kafka at start (its topic, the control topic): every
test here needs the stack's broker; the data routes are
test_gateway_data.py's and test_gateway_faults.py's.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GATEWAY = REPO / "bin" / "vcdc-gateway"
sys.path.insert(0, str(REPO / "scripts"))
from free_ports import free_ports  # noqa: E402

DB = "/api/v2/tenants/default_tenant/databases/default_database"
READER = "reader-0123456789abcdef"
WRITER = "writer-fedcba9876543210"
ADMIN = "admin-00112233445566778"
TOKENS = [READER, WRITER, ADMIN]

pytestmark = pytest.mark.skipif(not GATEWAY.exists(),
                                reason="bin/vcdc-gateway is not built")


def wait_for(cond, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def ensure_topic(topic):
    """The gateway refuses a topic that does not exist: make it."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": os.environ["VCDC_BROKERS"]})
    fs = admin.create_topics([NewTopic(topic, 1, 1, config={
        "cleanup.policy": "compact"})])
    for f in fs.values():
        try:
            f.result(30)
        except Exception as e:  # noqa: BLE001
            if "TOPIC_ALREADY_EXISTS" not in str(e):
                raise


class Gateway:
    """One vcdc-gateway process on a free port; stderr kept in a file."""

    def __init__(self, tmp_path, *args, verbose=True):
        ensure_topic("gw-test")
        self.port = free_ports(1)[0]
        self.log_path = tmp_path / f"gateway-{self.port}.log"
        cmd = [str(GATEWAY), "--listen", f"127.0.0.1:{self.port}",
               "-b", os.environ.get("VCDC_BROKERS", "127.0.0.1:9"),
               "-t", "gw-test", "--old", "chroma://127.0.0.1:8000",
               "--new", "pgvector://postgres@127.0.0.1:5432/postgres",
               *args]
        if verbose:
            cmd.append("-vv")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        wait_for(self.ready, f"the gateway on port {self.port}")

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"gateway exited {self.proc.returncode}:\n"
                                 f"{self.stderr()}")
        try:
            return self.get("/api/v2/heartbeat")[0] == 200
        except OSError:
            return False

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method, path, body=None, headers=None):
        """(status, headers, parsed JSON or None) of one request."""
        req = urllib.request.Request(self.url(path), data=body,
                                     method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
                return resp.status, resp.headers, json.loads(raw)
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, e.headers, json.loads(raw) if raw else None

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def stderr(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def gateways(tmp_path):
    started = []

    def start(*args, **kw):
        g = Gateway(tmp_path, *args, **kw)
        started.append(g)
        return g

    yield start
    for g in started:
        g.stop(signal.SIGKILL)


def client(port, token=None, header=None, tenant="default_tenant",
           database="default_database"):
    import chromadb
    from chromadb.config import Settings

    kw = {"anonymized_telemetry": False}
    if token:
        kw["chroma_client_auth_provider"] = (
            "chromadb.auth.token_authn.TokenAuthClientProvider")
        kw["chroma_client_auth_credentials"] = token
        if header:
            kw["chroma_auth_token_transport_header"] = header
    return chromadb.HttpClient(host="127.0.0.1", port=port,
                               settings=Settings(**kw), tenant=tenant,
                               database=database)


def assert_error_shape(body, name=None):
    assert isinstance(body, dict) and set(body) == {"error", "message"}, body
    assert isinstance(body["error"], str) and isinstance(body["message"],
                                                         str)
    assert body["message"]
    if name:
        assert body["error"] == name, body


def raw_exchange(port, data, shutdown_write=False, timeout=10):
    """Sends data on a new connection, returns what comes back until the
    server closes it or a whole response with its body is read."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if shutdown_write:
            s.shutdown(socket.SHUT_WR)
        return read_response(s)


def read_response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return buf
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def parse_raw(resp):
    head, _, body = resp.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, json.loads(body) if body else None


# ------------------------------------------------------------ the routes


def test_builtin_routes_through_the_official_client(gateways):
    import chromadb

    g = gateways()
    # HttpClient itself calls auth/identity, the tenant and the database.
    c = client(g.port)
    assert isinstance(c.heartbeat(), int) and c.heartbeat() > 0
    assert c.get_version() == "1.0.0"
    ident = c.get_user_identity()
    assert ident.tenant == "default_tenant"
    assert ident.databases == ["default_database"]
    assert c.get_max_batch_size() == 5461
    # Advertised: the record routes decode base64, as the server does.
    assert c._server.supports_base64_encoding() is True
    admin = chromadb.AdminClient(chromadb.config.Settings(
        chroma_api_impl="chromadb.api.fastapi.FastAPI",
        chroma_server_host="127.0.0.1", chroma_server_http_port=g.port,
        anonymized_telemetry=False))
    assert admin.get_tenant("default_tenant")["name"] == "default_tenant"
    assert admin.get_database("default_database")["name"] == \
        "default_database"
    with pytest.raises(chromadb.errors.NotFoundError):
        admin.get_tenant("no_such_tenant")
    with pytest.raises(chromadb.errors.NotFoundError):
        admin.get_database("no_such_db")


CHROMADB_MJS = (REPO / "scripts" / "node" / "node_modules" / "chromadb" /
                "dist" / "chromadb.mjs")

JS_SCRIPT = r"""
const { ChromaClient } = await import(process.env.CHROMADB_MJS);
const port = Number(process.env.GW_PORT);
const make = (headers) => new ChromaClient(
    { host: "127.0.0.1", port, ssl: false, headers });
const out = {};
const reader = make({ "x-chroma-token": process.env.GW_READER });
out.heartbeat = await reader.heartbeat();
out.version = await reader.version();
out.maxBatch = await reader.getMaxBatchSize();
const name = async (p) => { try { await p; return "ok"; }
                            catch (e) { return e.constructor.name; } };
out.noToken = await name(make({}).getMaxBatchSize());
out.bearer = await name(make({ Authorization: "Bearer " + process.env.GW_READER })
                        .getMaxBatchSize());
out.readerDrops = await name(reader.deleteCollection({ name: "docs" }));
console.log(JSON.stringify(out));
"""


def test_builtin_routes_through_the_js_client(gateways, tmp_path):
    """The pinned npm client, chromadb@3.0.6 (the stack's own copy)."""
    import shutil

    if not shutil.which("node") or not CHROMADB_MJS.exists():
        pytest.skip("node or scripts/node/node_modules/chromadb missing "
                    "(scripts/install-deps.sh)")
    g = gateways("--tokens", str(write_tokens(tmp_path)))
    run = subprocess.run(
        ["node", "--input-type=module", "-e", JS_SCRIPT],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "CHROMADB_MJS": str(CHROMADB_MJS),
             "GW_PORT": str(g.port), "GW_READER": READER})
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["heartbeat"] > 0
    assert out["version"] == "1.0.0"
    assert out["maxBatch"] == 5461
    assert out["noToken"] == "ChromaUnauthorizedError"
    assert out["bearer"] == "ok"
    assert out["readerDrops"] == "ChromaForbiddenError"


def test_builtin_routes_raw(gateways):
    g = gateways()
    status, headers, body = g.get("/api/v2/heartbeat")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert list(body) == ["nanosecond heartbeat"]
    assert abs(body["nanosecond heartbeat"] / 1e9 - time.time()) < 60
    assert g.get("/api/v2/version")[2] == "1.0.0"
    assert g.get("/api/v2/pre-flight-checks")[2] == {
        "max_batch_size": 5461, "supports_base64_encoding": True}
    assert g.get("/api/v2/auth/identity")[2] == {
        "user_id": "", "tenant": "default_tenant",
        "databases": ["default_database"]}
    assert g.get("/api/v2/tenants/default_tenant")[2] == {
        "name": "default_tenant", "resource_name": None}
    assert g.get(DB)[2] == {"id": "00000000-0000-0000-0000-000000000000",
                            "name": "default_database",
                            "tenant": "default_tenant"}
    status, _, body = g.get("/api/v2/tenants/nope")
    assert status == 404
    assert body == {"error": "NotFoundError",
                    "message": "Tenant [nope] not found"}


def test_tenant_and_database_are_configurable(gateways):
    g = gateways("-X", "vcdc.gateway.tenant=acme", "-X",
                 "vcdc.gateway.database=prod", "-X",
                 "vcdc.gateway.max.batch.size=1000")
    c = client(g.port, tenant="acme", database="prod")
    ident = c.get_user_identity()
    assert (ident.tenant, ident.databases) == ("acme", ["prod"])
    assert g.get("/api/v2/tenants/acme/databases/prod")[0] == 200
    assert g.get(DB)[0] == 404
    assert c.get_max_batch_size() == 1000


def shape(v):
    """The JSON value's shape: keys and types, not values."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(x) for x in v[:1]]
    if v is None:
        return None
    return type(v).__name__


def test_shapes_equal_the_real_chroma_server(gateways):
    chroma = os.environ.get("VCDC_CHROMA_URL")
    if not chroma:
        pytest.skip("VCDC_CHROMA_URL is unset: no Chroma to compare with "
                    "(scripts/stack.sh up DIR; . DIR/env)")
    g = gateways()
    paths = ["/api/v2/heartbeat", "/api/v2/version",
             "/api/v2/pre-flight-checks", "/api/v2/auth/identity",
             "/api/v2/healthcheck", "/api/v2/tenants/default_tenant", DB,
             "/api/v2/tenants/default_tenant/databases",
             "/api/v2/tenants/no_such_tenant",
             "/api/v2/tenants/default_tenant/databases/no_such_db"]
    for path in paths:
        req = urllib.request.Request(chroma + path)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                real = (resp.status, json.loads(resp.read()))
        except urllib.error.HTTPError as e:
            real = (e.code, json.loads(e.read()))
        ours = g.get(path)
        assert ours[0] == real[0], path
        assert shape(ours[2]) == shape(real[1]), path
        if path.endswith("no_such_db") or path.endswith("no_such_tenant"):
            assert ours[2] == real[1], path  # same words too
    # The real server advertises base64, and the gateway decodes it.
    assert g.get("/api/v2/pre-flight-checks")[2][
        "supports_base64_encoding"] is True


def test_unserved_routes_answer_501_and_wrong_methods_405(gateways):
    import chromadb

    g = gateways()
    for method, path in [("POST", DB + "/collections/abc/fork"),
                         ("DELETE", DB),
                         ("POST", "/api/v2/reset"),
                         ("GET", "/api/v2/no/such/route"),
                         ("GET", "/api/v1/heartbeat")]:
        status, _, body = g.request(method, path,
                                    body=b"{}" if method == "POST" else None)
        assert status == 501, (method, path)
        assert_error_shape(body, "ChromaError")
    status, headers, body = g.request("DELETE", "/api/v2/heartbeat")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert_error_shape(body, "ChromaError")
    status, _, body = g.get("/not-api")
    assert status == 404
    assert_error_shape(body, "NotFoundError")
    # The official client raises its own error class with the message.
    with pytest.raises(chromadb.errors.ChromaError, match="does not serve"):
        chromadb.AdminClient(chromadb.config.Settings(
            chroma_api_impl="chromadb.api.fastapi.FastAPI",
            chroma_server_host="127.0.0.1",
            chroma_server_http_port=g.port,
            anonymized_telemetry=False)).create_tenant("another")


# ---------------------------------------------------------------- access


def write_tokens(tmp_path, mode=0o600):
    path = tmp_path / "tokens"
    path.write_text("# test tokens\n"
                    f"{READER} read *\n"
                    f"{WRITER} write docs,notes\n"
                    f"{ADMIN} admin *\n")
    path.chmod(mode)
    return path


def test_tokens_file_must_be_private(tmp_path):
    path = write_tokens(tmp_path, 0o644)
    run = subprocess.run([str(GATEWAY), "-b", "x:1", "-t", "t", "--old",
                          "chroma://h:1", "--new", "chroma://h:2",
                          "--tokens", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 64
    assert f"{path}: mode 0644" in run.stderr
    path.write_text(f"{READER} reader *\n")
    path.chmod(0o600)
    run = subprocess.run([str(GATEWAY), "-b", "x:1", "-t", "t", "--old",
                          "chroma://h:1", "--new", "chroma://h:2",
                          "--tokens", str(path)],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 64
    assert f"{path}:1: the role (second field)" in run.stderr
    assert READER not in run.stderr


def test_401_403_and_no_token_anywhere(gateways, tmp_path):
    import chromadb

    tokens = write_tokens(tmp_path)
    audit = tmp_path / "audit.jsonl"
    g = gateways("--tokens", str(tokens), "--audit", str(audit))
    bearer = lambda t: {"Authorization": f"Bearer {t}"}  # noqa: E731

    # Public: heartbeat and version need no token.
    assert g.get("/api/v2/heartbeat")[0] == 200
    assert g.get("/api/v2/version")[0] == 200
    # No token, an unknown one, a malformed header: 401.
    for headers in [{}, bearer("nope-nope-nope-nope"),
                    {"Authorization": READER},
                    {"X-Chroma-Token": "unknown-token-123"}]:
        status, _, body = g.get("/api/v2/pre-flight-checks", headers)
        assert status == 401, headers
        assert_error_shape(body, "AuthError")
    # Either header works.
    assert g.get("/api/v2/pre-flight-checks", bearer(READER))[0] == 200
    assert g.get("/api/v2/pre-flight-checks",
                 {"X-Chroma-Token": READER})[0] == 200
    # Role too low: 403 (a write route, an admin route).
    status, _, body = g.request("POST", DB + "/collections/x/add", b"{}",
                                bearer(READER))
    assert status == 403
    assert_error_shape(body, "AuthorizationError")
    assert "needs write" in body["message"]
    status, _, body = g.request("DELETE", DB + "/collections/docs",
                                headers=bearer(WRITER))
    assert status == 403 and "needs admin" in body["message"]
    # Collection not in the token's list: 403; in it: through to the
    # handler (404: no such collection; 409: collections are not deleted).
    status, _, body = g.get(DB + "/collections/other", bearer(WRITER))
    assert status == 403 and "collection other" in body["message"]
    assert g.get(DB + "/collections/docs", bearer(WRITER))[0] == 404
    assert g.request("DELETE", DB + "/collections/other",
                     headers=bearer(ADMIN))[0] == 409

    # The official client, with each header it can send.
    c = client(g.port, READER)
    assert c.get_user_identity().user_id.startswith("sha256:")
    assert c.get_max_batch_size() == 5461
    c = client(g.port, WRITER, header="X-Chroma-Token")
    assert c.get_user_identity().tenant == "default_tenant"
    with pytest.raises(chromadb.errors.ChromaAuthError):
        client(g.port, "wrong-token-wrong-token")
    with pytest.raises(chromadb.errors.ChromaAuthError):
        client(g.port)

    # The audit log: the audited requests (writes, administration),
    # denied ones included, named by fingerprint.
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    assert [(x["method"], x["status"]) for x in lines] == [
        ("POST", 403), ("DELETE", 403), ("DELETE", 409)]
    assert lines[1]["collection"] == "docs"
    assert lines[2]["collection"] == "other"
    assert all(x["who"].startswith("sha256:") and len(x["who"]) == 19
               for x in lines)
    assert set(lines[0]) == {"ts", "who", "method", "path", "collection",
                             "ids", "offsets", "status"}
    ident = client(g.port, ADMIN).get_user_identity()
    assert lines[2]["who"] == ident.user_id

    assert g.stop() == 0
    logs = g.stderr()
    assert "GET /api/v2/pre-flight-checks 401" in logs  # -vv logs requests
    for secret in TOKENS + ["nope-nope-nope-nope", "unknown-token-123"]:
        assert secret not in logs
        assert secret not in audit.read_text()


# ---------------------------------------------------------------- bounds


def test_413_on_an_oversized_body(gateways, tmp_path):
    audit = tmp_path / "audit.jsonl"
    g = gateways("--audit", str(audit))
    # 40 MiB announced, nothing sent: answered from the headers alone.
    resp = raw_exchange(g.port, (
        b"POST " + DB.encode() + b"/collections/x/add HTTP/1.1\r\n"
        b"Host: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 41943040\r\n\r\n"))
    status, headers, body = parse_raw(resp)
    assert status == 413
    assert_error_shape(body, "ChromaError")
    assert "33554432" in body["message"]
    # A write refused before routing is audited all the same.
    [line] = [json.loads(x) for x in audit.read_text().splitlines()]
    assert (line["method"], line["status"], line["who"]) == ("POST", 413, "-")
    assert line["path"] == DB + "/collections/x/add"

    small = gateways("--max-body", "1K")
    payload = b"x" * 2048
    resp = raw_exchange(small.port, (
        b"POST /api/v2/reset HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 2048\r\n\r\n" + payload))
    assert parse_raw(resp)[0] == 413
    # Chunked, no length: read, dropped, then 413.
    chunk = b"800\r\n" + payload + b"\r\n0\r\n\r\n"
    resp = raw_exchange(small.port, (
        b"POST /api/v2/reset HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunk))
    assert parse_raw(resp)[0] == 413
    # Within the bound the route answers (501: not served yet).
    resp = raw_exchange(small.port, (
        b"POST /api/v2/reset HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 1000\r\n\r\n" + payload[:1000]))
    assert parse_raw(resp)[0] == 501


def held_request(port, body_len=10, sent=5):
    """A request whose headers and part of the body are sent: in flight
    until the rest comes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /api/v2/heartbeat HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: %d\r\n\r\n" % body_len + b"a" * sent)
    return s


def test_503_with_retry_after_beyond_max_inflight(gateways):
    mport = free_ports(1)[0]
    g = gateways("--max-inflight", "2", "--threads", "2", "--metrics-port",
                 str(mport))
    held = [held_request(g.port), held_request(g.port)]
    wait_for(lambda: "vcdc_gateway_inflight 2\n" in metrics(mport),
             "the two held requests to be in flight")

    def rejected():
        r = parse_raw(raw_exchange(g.port, b"GET /api/v2/heartbeat HTTP/1.1"
                                   b"\r\nHost: x\r\n\r\n"))
        return r if r[0] == 503 else None

    status, headers, body = wait_for(rejected, "a 503")
    assert headers["retry-after"] == "1"
    assert_error_shape(body, "ChromaError")
    assert "at most 2" in body["message"]
    for s in held:
        s.sendall(b"a" * 5)
        assert parse_raw(read_response(s))[0] == 200
        s.close()
    # Room again: served.
    assert wait_for(lambda: g.get("/api/v2/heartbeat")[0] == 200, "a 200")
    assert g.proc.poll() is None


def test_keep_alive(gateways):
    g = gateways()
    with socket.create_connection(("127.0.0.1", g.port), timeout=10) as s:
        for _ in range(3):
            s.sendall(b"GET /api/v2/version HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = parse_raw(read_response(s))
            assert status == 200 and body == "1.0.0"
            assert headers.get("connection", "").lower() != "close"


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                timeout=10) as resp:
        return resp.read().decode()


def test_sigterm_finishes_the_request_in_flight(gateways):
    mport = free_ports(1)[0]
    g = gateways("--metrics-port", str(mport))
    s = held_request(g.port)
    wait_for(lambda: "vcdc_gateway_inflight 1\n" in metrics(mport),
             "the held request to be in flight")
    g.proc.send_signal(signal.SIGTERM)

    def refused():
        try:
            socket.create_connection(("127.0.0.1", g.port), timeout=1).close()
            return False
        except OSError:
            return True

    wait_for(refused, "new connections to be refused")
    assert g.proc.poll() is None  # still finishing the held request
    s.sendall(b"a" * 5)
    status, headers, body = parse_raw(read_response(s))
    s.close()
    assert status == 200 and "nanosecond heartbeat" in body
    assert headers.get("connection") == "close"
    assert g.proc.wait(15) == 0
    assert "stopped" in g.stderr()


def test_bad_options_exit_64(tmp_path):
    base = [str(GATEWAY), "-b", "x:1", "-t", "t", "--old", "chroma://h:1",
            "--new", "chroma://h:2"]
    for extra, words in [
            (["--max-body", "12"], "--max-body 12"),
            (["--max-inflight", "0"], "--max-inflight 0"),
            (["--threads", "x"], "--threads x"),
            (["--ack", "never"], "--ack never"),
            (["--shadow-rate", "2"], "--shadow-rate 2"),
            (["--listen", "nope"], "--listen nope"),
            (["--metrics-port", "70000"], "--metrics-port 70000"),
            (["-X", "vcdc.gateway.max.batch.size=0"],
             "vcdc.gateway.max.batch.size"),
            (["--old", "http://h:1"], "--old http://h:1"),
    ]:
        run = subprocess.run(base + extra, capture_output=True, text=True,
                             timeout=30)
        assert run.returncode == 64, (extra, run.stderr)
        assert words in run.stderr, (extra, run.stderr)
    run = subprocess.run([str(GATEWAY), "-t", "t"], capture_output=True,
                         text=True, timeout=30,
                         env={k: v for k, v in os.environ.items()
                              if k != "VCDC_BROKERS"})
    assert run.returncode == 64 and "are required" in run.stderr


def test_metrics_port(gateways):
    port = free_ports(1)[0]
    g = gateways("--metrics-port", str(port))
    g.get("/api/v2/heartbeat")
    g.get("/api/v2/nothing")
    text = metrics(port)
    count = lambda cls: float(  # noqa: E731
        text.split(f'vcdc_gateway_requests_total{{class="{cls}"}} ')[1]
        .split()[0])
    assert count("2xx") >= 2 and count("5xx") >= 1
    # A request leaves the gauge when the server has finished with its
    # connection, which may come just after the client read the answer.
    wait_for(lambda: "vcdc_gateway_inflight 0\n" in metrics(port),
             "the answered requests to leave the in-flight gauge")


def test_metrics_show_the_old_and_new_groups(gateways):
    """--old-group/--new-group: the metrics carry each group's lag and
    members, sampled in the background; names are escaped as labels."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    topic = f"gw-groups-{os.getpid()}-{time.monotonic_ns()}"
    old, new = f"g-old-{os.getpid()}", f'g"new\\{os.getpid()}'
    ensure_topic(topic)
    brokers = os.environ["VCDC_BROKERS"]
    p = Producer({"bootstrap.servers": brokers})
    for i in range(5):
        p.produce(topic, key=f"k{i}".encode(), value=b"v")
    assert p.flush(30) == 0
    # OLD's group has applied everything and is a member; NEW's has
    # committed nothing.
    c = Consumer({"bootstrap.servers": brokers, "group.id": old,
                  "enable.auto.commit": False, "auto.offset.reset": "latest"})
    c.subscribe([topic])
    wait_for(lambda: c.poll(0.2) is None and c.assignment(),
             "the test's consumer to be assigned its partition")
    c.commit(offsets=[TopicPartition(topic, 0, 5)], asynchronous=False)

    port = free_ports(1)[0]
    g = gateways("-t", topic, "--metrics-port", str(port), "--old-group", old,
                 "--new-group", new, "-X", "vcdc.gateway.group.sample.ms=200")
    new_label = new.replace("\\", "\\\\").replace('"', '\\"')

    def line(name, side, group):
        return f'{name}{{side="{side}",group="{group}"}} '

    def value(text, name, side, group):
        head = line(name, side, group)
        for ln in text.splitlines():
            if ln.startswith(head):
                return float(ln[len(head):])
        return None

    def seen(want):
        text = metrics(port)
        return all(value(text, *k) == v for k, v in want.items())

    wait_for(lambda: seen({
        ("vcdc_gateway_group_up", "old", old): 1,
        ("vcdc_gateway_group_up", "new", new_label): 1,
        ("vcdc_gateway_group_lag", "old", old): 0,
        ("vcdc_gateway_group_lag", "new", new_label): 5,
        ("vcdc_gateway_group_members", "old", old): 1,
        ("vcdc_gateway_group_members", "new", new_label): 0}),
        "each group's lag and members in the metrics")
    c.close()
    wait_for(lambda: seen({("vcdc_gateway_group_members", "old", old): 0}),
             "OLD's group to show no member once its consumer left", 60)
    assert g.stop() == 0

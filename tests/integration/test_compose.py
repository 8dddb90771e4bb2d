"""docker-compose.yml and Dockerfile, checked for structure (no Docker
engine is needed): every service can start, refers to services that exist
on the ports they listen on, and the image builds with every library the
Makefile links.
"""

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
MAKEFILE = REPO / "Makefile"

# pkg-config module (Makefile PKGS) -> Debian 12 packages: (-dev, runtime).
DEBIAN_PACKAGES = {
    "rdkafka": ("librdkafka-dev", "librdkafka1"),
    "avro-c": ("libavro-dev", "libavro23"),
    "jansson": ("libjansson-dev", "libjansson4"),
    "libcurl": ("libcurl4-openssl-dev", "libcurl4"),
    "libpq": ("libpq-dev", "libpq5"),
    "libmicrohttpd": ("libmicrohttpd-dev", "libmicrohttpd12"),
    "libcrypto": ("libssl-dev", "libssl3"),
}

CONDITIONS = {"service_started", "service_healthy",
              "service_completed_successfully"}


@pytest.fixture(scope="module")
def compose():
    with open(COMPOSE, encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def depends_on(svc):
    """depends_on as {target: condition}, from either of its forms."""
    deps = svc.get("depends_on") or {}
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {d: (spec or {}).get("condition", "service_started")
            for d, spec in deps.items()}


def ports(svc):
    """Published ports as (host ip, host port, container port)."""
    out = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            out.append((p.get("host_ip", "0.0.0.0"), int(p["published"]),
                        int(p["target"])))
            continue
        parts = str(p).split("/")[0].split(":")
        if len(parts) == 3:
            out.append((parts[0], int(parts[1]), int(parts[2])))
        elif len(parts) == 2:
            out.append(("0.0.0.0", int(parts[0]), int(parts[1])))
        else:
            out.append(("0.0.0.0", None, int(parts[0])))
    return out


def env(svc):
    e = svc.get("environment") or {}
    if isinstance(e, list):
        e = dict(item.split("=", 1) for item in e)
    return {k: str(v) for k, v in e.items()}


def command(svc):
    c = svc.get("command")
    return shlex.split(c) if isinstance(c, str) else [str(a) for a in c]


def option(argv, name):
    """The value after option name in argv (None if absent)."""
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def kafka_listeners(kafka):
    """{listener name: port} of KAFKA_LISTENERS, and the advertised
    {listener name: (host, port)}."""
    e = env(kafka)

    def parse(value):
        out = {}
        for item in value.split(","):
            name, rest = item.split("://", 1)
            host, port = rest.rsplit(":", 1)
            out[name] = (host, int(port))
        return out

    return parse(e["KAFKA_LISTENERS"]), parse(e["KAFKA_ADVERTISED_LISTENERS"])


def unescape_compose(value):
    return value.replace("$$", "$")


def default_of(value):
    """The value of a plain string or of ${VAR:-default} interpolation."""
    m = re.fullmatch(r"\$\{(\w+):?-([^}]*)\}", value)
    return (m.group(1), m.group(2)) if m else (None, value)


CONSUMERS = {"consumer-old": ("chroma", "vcdc.old", False),
             "consumer-new": ("pgvector", "vcdc.new", True)}

# ----------------------------------------------------------------- services


def test_services_present(services):
    for name in ["kafka", "chroma", "postgres", "consumer-old",
                 "consumer-new"]:
        assert name in services, name


def test_every_service_has_an_image_or_a_build(services):
    for name, svc in services.items():
        assert svc.get("image") or svc.get("build"), name


def test_images_are_pinned(services):
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert services["postgres"]["image"] == "pgvector/pgvector:pg16"
    chroma = services["chroma"]["image"]
    # Chroma 1.x serves the API v2 the sink speaks.
    assert re.fullmatch(r"chromadb/chroma:1\.\d+\.\d+", chroma), chroma
    for name, svc in services.items():
        if svc.get("image") and not svc.get("build"):
            assert ":" in svc["image"] and not svc["image"].endswith(
                ":latest"), name


def test_depends_on_targets_exist_and_can_be_met(services):
    for name, svc in services.items():
        for target, cond in depends_on(svc).items():
            assert target in services, f"{name} depends on unknown {target}"
            assert target != name
            assert cond in CONDITIONS, (name, target, cond)
            if cond == "service_healthy":
                assert "healthcheck" in services[target], (
                    f"{name} waits for {target} to be healthy, but {target} "
                    "has no healthcheck")
            if cond == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", target


def test_no_dependency_cycles(services):
    state = {}

    def visit(n, path):
        assert state.get(n) != "open", f"cycle: {' -> '.join(path + [n])}"
        if state.get(n) == "done":
            return
        state[n] = "open"
        for t in depends_on(services[n]):
            if t in services:  # unknown targets: the test above
                visit(t, path + [n])
        state[n] = "done"

    for n in services:
        visit(n, [])


def test_long_running_services_have_healthchecks(services):
    for name in ["kafka", "chroma", "postgres", "consumer-old",
                 "consumer-new"]:
        hc = services[name].get("healthcheck")
        assert hc and hc.get("test"), name
        assert hc["test"][0] in ("CMD", "CMD-SHELL"), name


def test_ports_bind_where_expected(services):
    host_ports = []
    for name, svc in services.items():
        for ip, host_port, _ in ports(svc):
            # Local services for a try-out: never on all interfaces.
            assert ip == "127.0.0.1", (name, ip)
            host_ports.append(host_port)
    assert len(host_ports) == len(set(host_ports)), host_ports

    assert ports(services["chroma"]) == [("127.0.0.1", 8000, 8000)]
    assert ports(services["postgres"]) == [("127.0.0.1", 5432, 5432)]
    # Kafka: the published port is a listener that advertises itself on
    # localhost at that same port, so host clients can follow metadata.
    listeners, advertised = kafka_listeners(services["kafka"])
    (kafka_port,) = ports(services["kafka"])
    name = next(n for n, (_, p) in listeners.items() if p == kafka_port[2])
    assert advertised[name] == ("localhost", kafka_port[1])
    # The controller listener is not published.
    assert all(p != listeners["CONTROLLER"][1]
               for _, _, p in ports(services["kafka"]))
    for cname in CONSUMERS:
        svc = services[cname]
        metrics = int(option(command(svc), "--metrics-port"))
        assert [p[2] for p in ports(svc)] == [metrics], cname


def test_kafka_is_a_kraft_node_with_compaction(services):
    e = env(services["kafka"])
    assert set(e["KAFKA_PROCESS_ROLES"].split(",")) == {"broker",
                                                         "controller"}
    listeners, advertised = kafka_listeners(services["kafka"])
    node = e["KAFKA_NODE_ID"]
    voters = e["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert voters == f"{node}@kafka:{listeners['CONTROLLER'][1]}"
    assert e["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert e["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    protocols = dict(item.split(":") for item in
                     e["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(protocols) == set(listeners)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", e["CLUSTER_ID"])
    assert e.get("KAFKA_LOG_CLEANER_ENABLE", "true") == "true"
    assert e["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert e["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    # The data directory is the volume.
    vols = services["kafka"].get("volumes") or []
    assert any(str(v).endswith(":" + e["KAFKA_LOG_DIRS"]) for v in vols)


def test_topic_is_created_compacted_before_the_consumers(services):
    init = services["kafka-init"]
    argv = command(init)
    assert "--create" in argv
    configs = [argv[i + 1] for i, a in enumerate(argv) if a == "--config"]
    assert "cleanup.policy=compact" in configs
    assert depends_on(init) == {"kafka": "service_healthy"}
    for cname in CONSUMERS:
        assert option(command(services[cname]), "-t") == option(argv,
                                                                 "--topic")
        assert depends_on(services[cname])["kafka-init"] == \
            "service_completed_successfully"


def test_postgres_has_logical_decoding(services):
    """The official pgvector image, started with the settings the local
    stack (scripts/stack.sh) gives PostgreSQL."""
    argv = command(services["postgres"])
    assert argv[0] == "postgres"
    settings = dict(argv[i + 1].split("=", 1)
                    for i, a in enumerate(argv) if a == "-c")
    assert settings["wal_level"] == "logical"
    assert int(settings["max_replication_slots"]) >= 10
    assert int(settings["max_wal_senders"]) >= 10


# ---------------------------------------------------------------- consumers


def check_broker_ref(services, argv):
    host, port = option(argv, "-b").rsplit(":", 1)
    assert host in services, host
    listeners, advertised = kafka_listeners(services[host])
    # An advertised listener of the broker service, on the compose network.
    assert (host, int(port)) in advertised.values(), (host, port)
    name = next(n for n, hp in advertised.items() if hp == (host, int(port)))
    assert listeners[name][1] == int(port)


@pytest.mark.parametrize("cname", CONSUMERS)
def test_consumer_commands_reference_existing_services(services, cname):
    kind, group, from_beginning = CONSUMERS[cname]
    svc = services[cname]
    argv = command(svc)
    assert argv[0] == "vcdc-consumer"
    check_broker_ref(services, argv)
    assert option(argv, "-G") == group
    assert ("--from-beginning" in argv) == from_beginning
    sink = urlsplit(option(argv, "--sink"))
    assert sink.scheme == kind
    assert sink.hostname in services, sink.hostname
    target = services[sink.hostname]
    deps = depends_on(svc)
    assert deps.get(sink.hostname) == "service_healthy", deps
    if kind == "chroma":
        assert target["image"].startswith("chromadb/chroma:")
        assert sink.port == 8000
        assert sink.path.strip("/"), "a collection"
    else:
        assert target["image"].startswith("pgvector/pgvector:")
        assert sink.port == 5432
        pg = env(target)
        assert sink.username == pg.get("POSTGRES_USER", "postgres")
        assert sink.path.strip("/") == pg["POSTGRES_DB"]
        assert parse_qs(sink.query)["table"][0]
        # No password in the URL (it would be in argv): it comes from the
        # environment, the same value the database was created with.
        assert sink.password is None
        var, pw = default_of(env(svc)["VCDC_PG_PASSWORD"])
        dbvar, dbpw = default_of(pg["POSTGRES_PASSWORD"])
        assert (var, pw) == (dbvar, dbpw)
    # The healthcheck asks the metrics port the consumer serves.
    hc = " ".join(svc["healthcheck"]["test"])
    assert f"127.0.0.1:{option(argv, '--metrics-port')}/metrics" in hc
    # Built from this repository's Dockerfile.
    build = svc["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get(
        "dockerfile", "Dockerfile")
    assert (REPO / context / dockerfile).resolve() == DOCKERFILE


def test_consumer_options_exist_in_the_cli(services):
    """Every option the compose file passes is one vcdc-consumer --help
    lists (when the program is built)."""
    binary = REPO / "bin" / "vcdc-consumer"
    if not os.access(binary, os.X_OK):
        pytest.skip("bin/vcdc-consumer is not built")
    out = subprocess.run([str(binary), "--help"], capture_output=True,
                         text=True, timeout=10)
    helptext = out.stdout + out.stderr
    for cname in CONSUMERS:
        for a in command(services[cname])[1:]:
            if a.startswith("-") and not a.startswith("-X"):
                assert re.search(rf"(^|\s){re.escape(a)}\b", helptext), a


def test_consumer_program_is_built_by_the_makefile():
    text = MAKEFILE.read_text()
    assert re.search(r"^bin/vcdc-consumer:", text, re.M)
    assert "consumer/main.c" in text


# --------------------------------------------------------------- Dockerfile


def dockerfile_stages():
    """[(stage name, FROM image, [(instruction, args)])] of the Dockerfile,
    continuation lines joined and comments dropped."""
    lines, cur = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        lines.append(cur + s)
        cur = ""
    stages = []
    for ln in lines:
        instr, _, args = ln.partition(" ")
        if instr.upper() == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.I)
            stages.append((m.group(2), m.group(1), []))
        else:
            stages[-1][2].append((instr.upper(), args.strip()))
    return stages


def apt_installs(instructions):
    pkgs = set()
    for instr, args in instructions:
        if instr != "RUN":
            continue
        for cmd in re.split(r"&&|;|\|\|", args):
            words = cmd.split()
            if "apt-get" in words and "install" in words:
                rest = words[words.index("install") + 1:]
                pkgs |= {w for w in rest if not w.startswith("-")}
    return pkgs


def makefile_pkgs():
    m = re.search(r"^PKGS\s*:?=\s*(.+)$", MAKEFILE.read_text(), re.M)
    assert m, "no PKGS line in the Makefile"
    return m.group(1).split()


def test_dockerfile_exists_with_build_and_runtime_stages():
    assert DOCKERFILE.is_file()
    stages = dockerfile_stages()
    names = [s[0] for s in stages]
    assert "build" in names and len(stages) >= 2, names
    for _, image, _ in stages:
        assert re.fullmatch(r"debian:(12|bookworm)(-slim)?", image), image
    _, _, build = stages[names.index("build")]
    assert any(i == "RUN" and re.search(r"\bmake\b", a) for i, a in build)
    _, _, runtime = stages[-1]
    assert any(i == "COPY" and "--from=build" in a for i, a in runtime)
    assert (REPO / ".dockerignore").is_file()


def test_build_stage_installs_every_dev_package_the_makefile_needs():
    stages = dockerfile_stages()
    build = next(instr for name, _, instr in stages if name == "build")
    installed = apt_installs(build)
    pkgs = makefile_pkgs()
    assert pkgs, "empty PKGS"
    unknown = [p for p in pkgs if p not in DEBIAN_PACKAGES]
    assert not unknown, (f"Makefile PKGS has {unknown}: add its Debian "
                         "packages to DEBIAN_PACKAGES here and the Dockerfile")
    missing = [DEBIAN_PACKAGES[p][0] for p in pkgs
               if DEBIAN_PACKAGES[p][0] not in installed]
    assert not missing, f"build stage does not install {missing}"
    assert {"pkg-config", "build-essential"} <= installed


def test_runtime_stage_installs_the_shared_libraries():
    _, _, runtime = dockerfile_stages()[-1]
    installed = apt_installs(runtime)
    missing = [DEBIAN_PACKAGES[p][1] for p in makefile_pkgs()
               if DEBIAN_PACKAGES[p][1] not in installed]
    assert not missing, f"runtime stage does not install {missing}"
    assert not any(p.endswith("-dev") for p in installed), installed
    assert "curl" in installed  # the consumers' healthcheck


@pytest.mark.skipif(not shutil.which("dpkg") or not shutil.which(
    "pkg-config"), reason="needs dpkg and pkg-config (Debian)")
def test_package_table_matches_this_debian():
    """Where this machine is Debian with the -dev packages (it builds vcdc),
    each pkg-config module's .pc file belongs to the -dev package the table
    names, and the library it links to the runtime package."""
    for mod in makefile_pkgs():
        dev, runtime = DEBIAN_PACKAGES[mod]
        pcdir = subprocess.run(["pkg-config", "--variable=pcfiledir", mod],
                               capture_output=True, text=True).stdout.strip()
        if not pcdir:
            pytest.skip(f"pkg-config does not know {mod} here")
        owner = subprocess.run(["dpkg", "-S", f"{pcdir}/{mod}.pc"],
                               capture_output=True, text=True).stdout
        assert owner.split(":")[0] == dev, (mod, owner)
        listed = subprocess.run(["dpkg", "-L", runtime], capture_output=True,
                                text=True).stdout
        assert re.search(r"/lib[^/\n]*\.so\.\d+", listed), (mod, runtime)

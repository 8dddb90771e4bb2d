#!/usr/bin/env bash
# install-deps.sh - install everything vcdc needs to build and test on
# Debian 12 (run as root, or as a user with sudo for the apt step).
#
#   1. Debian packages: compilers (clang with its sanitizer and libFuzzer
#      runtimes, which --no-install-recommends leaves out), the C libraries
#      vcdc links, kcat, psql, valgrind, python3-venv; Java, Maven and
#      Node.js only if missing.
#   2. npm packages for the local stack (Chroma, PGlite + pgvector), exactly
#      as pinned in scripts/node/package-lock.json (`npm ci`).
#   3. The Kafka broker's jars, pinned in scripts/kafka/pom.xml, copied by
#      Maven into scripts/kafka/target/dependency/.
#   4. A Python venv at .deps/venv with tests/requirements.txt, the
#      independent decoders and clients the tests check vcdc's output with.
#
# Idempotent and quick when everything is there: each step checks first
# (dpkg status; for 2-4 a stamp file holding the hash of the lock file it
# installed from), and `apt-get update` runs only when a package is missing.
# Progress goes to stderr.

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO
readonly NODE_DIR="$REPO/scripts/node"
readonly KAFKA_DIR="$REPO/scripts/kafka"
readonly VENV="$REPO/.deps/venv"
readonly REQUIREMENTS="$REPO/tests/requirements.txt"

# Always needed; each is checked with dpkg before anything is installed.
readonly APT_PACKAGES=(
	build-essential pkg-config
	librdkafka-dev libavro-dev libjansson-dev libcurl4-openssl-dev
	libcmocka-dev libpq-dev
	kcat clang libclang-rt-dev valgrind python3-venv
	curl ca-certificates procps
)

log() { printf 'install-deps: %s\n' "$*" >&2; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

# hash_of FILE...: one sha256 over the files' contents.
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# stamp_ok STAMP KEY: the step that writes STAMP already ran for KEY.
stamp_ok() { [[ -f "$1" && "$(<"$1")" == "$2" ]]; }

as_root() {
	if ((EUID == 0)); then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root (or sudo) for: $*"
	fi
}

# ------------------------------------------------------------ 1. Debian

apt_packages() {
	local missing=() p
	# One dpkg-query for all: prints only the installed ones.
	local installed
	installed="$(dpkg-query -W -f='${Package} ${Status}\n' "${APT_PACKAGES[@]}" 2>/dev/null |
		awk '$NF == "installed" {print $1}')" || true
	for p in "${APT_PACKAGES[@]}"; do
		grep -qx -- "$p" <<<"$installed" || missing+=("$p")
	done
	# Tools that may come from elsewhere (pyenv, a JDK tarball, nvm): only
	# install Debian's when the command is absent.
	command -v psql >/dev/null || missing+=(postgresql-client)
	command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
	command -v mvn >/dev/null || missing+=(maven)
	command -v node >/dev/null || missing+=(nodejs)
	command -v npm >/dev/null || missing+=(npm)
	command -v flock >/dev/null || missing+=(util-linux)

	if ((${#missing[@]} == 0)); then
		log "apt: all packages present"
		return 0
	fi
	log "apt: installing ${missing[*]}"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >&2
}

check_node_version() {
	local major
	major="$(node -p 'process.versions.node.split(".")[0]')"
	((major >= 20)) ||
		log "warning: node $(node --version) found; chromadb 3 wants Node.js 20 or newer"
}

# -------------------------------------------------------------- 2. npm

npm_packages() {
	local stamp="$NODE_DIR/node_modules/.vcdc-stamp" key
	# The native Chroma bindings are built for one Node ABI: key on it too.
	key="$(hash_of "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json") node-abi-$(node -p process.versions.modules)"
	if stamp_ok "$stamp" "$key"; then
		log "npm: node_modules up to date"
		return 0
	fi
	log "npm: npm ci in scripts/node"
	(cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
	printf '%s' "$key" >"$stamp"
}

# ------------------------------------------------------------ 3. Kafka

kafka_jars() {
	local dep="$KAFKA_DIR/target/dependency" stamp key
	stamp="$dep/.vcdc-stamp"
	key="$(hash_of "$KAFKA_DIR/pom.xml")"
	if stamp_ok "$stamp" "$key"; then
		log "kafka: jars up to date"
		return 0
	fi
	log "kafka: mvn dependency:copy-dependencies in scripts/kafka"
	# Start clean so jars of an older pin do not linger on the classpath.
	rm -rf "$dep"
	# Maven 3.8 prints stray colour resets even with -q -B: strip them.
	(cd "$KAFKA_DIR" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime 2>&1) |
		sed 's/\x1b\[[0-9;]*m//g' >&2
	[[ -f "$dep/kafka_2.13-4.1.1.jar" ]] || die "kafka: jars missing after mvn"
	printf '%s' "$key" >"$stamp"
}

# ----------------------------------------------------------- 4. Python

python_venv() {
	local stamp="$VENV/.vcdc-stamp" key py
	# Debian's python3 (what python3-venv is for) unless told otherwise.
	py="${VCDC_PYTHON3:-/usr/bin/python3}"
	[[ -x "$py" ]] || py="$(command -v python3)" || die "python: python3 not found"
	key="$(hash_of "$REQUIREMENTS") $("$py" -c 'import sys; print(sys.version.split()[0])')"
	if stamp_ok "$stamp" "$key" && "$VENV/bin/python" -c '' 2>/dev/null; then
		log "python: venv up to date"
		return 0
	fi
	log "python: creating $VENV with $py"
	rm -rf "$VENV"
	"$py" -m venv "$VENV"
	log "python: pip install -r tests/requirements.txt"
	"$VENV/bin/pip" install -q --disable-pip-version-check --no-input \
		-r "$REQUIREMENTS" >&2
	printf '%s' "$key" >"$stamp"
}

main() {
	local t0=$SECONDS
	apt_packages
	mkdir -p "$REPO/.deps"
	# Two runs at once (parallel make, two shells) take turns.
	exec 9>"$REPO/.deps/install.lock"
	flock -w 900 9 || die "another install-deps.sh holds .deps/install.lock"
	check_node_version
	npm_packages
	kafka_jars
	python_venv
	log "done in $((SECONDS - t0))s"
}

main "$@"

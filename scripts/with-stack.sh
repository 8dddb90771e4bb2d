#!/usr/bin/env bash
# with-stack.sh CMD [ARGS...] - run CMD against a real local stack.
#
# If VCDC_STACK_DIR names a running, healthy stack (its env file exists and
# `stack.sh status` says all three answer), CMD runs against it and it is
# left running. Otherwise a fresh stack is brought up in a new temporary run
# dir and torn down (data included) when CMD ends, fails or is interrupted.
# Either way CMD sees the stack's env exported (VCDC_BROKERS,
# VCDC_CHROMA_URL, VCDC_PG_CONNINFO, ...; see stack.sh) and its exit status
# is ours.
#
# CMD runs in a process group of its own; whatever it leaves running is
# stopped when it ends (SIGTERM, then SIGKILL after 10 s), so no stray
# consumer outlives the stack. Ctrl-C / SIGTERM stop CMD, then the stack.
#
# VCDC_KEEP_STACK=1 keeps the temporary run dir (logs, data) after stopping.
# On failure the tail of each component's log is printed to stderr.
#
# Example (what `make test-integration` runs):
#   scripts/with-stack.sh bash tests/run-integration.sh

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO
readonly STACK="$REPO/scripts/stack.sh"

log() { printf 'with-stack: %s\n' "$*" >&2; }

OWN_DIR=""   # run dir we created and must tear down
CMD_PID=""

# teardown (EXIT trap): stop and remove the stack we started; keep the
# exit status.
# shellcheck disable=SC2317  # reached through trap
teardown() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ -n "$CMD_PID" ]]; then
		stop_cmd_group
	fi
	if [[ -n "$OWN_DIR" ]]; then
		if ((rc != 0)); then
			show_logs "$OWN_DIR"
		fi
		if [[ "${VCDC_KEEP_STACK:-0}" == 1 ]]; then
			bash "$STACK" down "$OWN_DIR" || rc=$((rc ? rc : 1))
			log "kept $OWN_DIR"
		else
			bash "$STACK" down --purge "$OWN_DIR" || rc=$((rc ? rc : 1))
			rm -rf "$OWN_DIR"
		fi
	fi
	exit "$rc"
}

# group_alive: a live (not zombie) process is in CMD's process group.
# shellcheck disable=SC2317  # called from teardown
group_alive() {
	ps -eo pgid=,stat= | awk -v g="$CMD_PID" '$1 == g && $2 !~ /^Z/ {f = 1} END {exit !f}'
}

# stop_cmd_group: SIGTERM whatever is left in CMD's process group (CMD
# itself if interrupted, or background processes a test forgot, which would
# otherwise outlive the stack and hold CI's output open), SIGKILL after 10 s.
# shellcheck disable=SC2317  # called from teardown
stop_cmd_group() {
	local i
	group_alive || return 0
	log "stopping what is left of the command (process group $CMD_PID)"
	kill -TERM -- "-$CMD_PID" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		group_alive || break
		sleep 0.2
	done
	kill -KILL -- "-$CMD_PID" 2>/dev/null || true
	wait "$CMD_PID" 2>/dev/null || true
}

# shellcheck disable=SC2317  # called from teardown
show_logs() {
	local f
	for f in "$1"/logs/*.log; do
		[[ -f "$f" ]] || continue
		printf 'with-stack: ---- last lines of %s ----\n' "$f" >&2
		tail -n 20 "$f" >&2 || true
	done
}

# healthy_existing: VCDC_STACK_DIR points at a stack that answers.
healthy_existing() {
	[[ -n "${VCDC_STACK_DIR:-}" && -f "$VCDC_STACK_DIR/env" ]] &&
		bash "$STACK" status "$VCDC_STACK_DIR" >/dev/null 2>&1
}

main() {
	if (($# == 0)); then
		echo "usage: $0 CMD [ARGS...]" >&2
		exit 2
	fi
	trap teardown EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	local dir
	if healthy_existing; then
		dir="$VCDC_STACK_DIR"
		log "using the running stack in $dir"
	else
		[[ -n "${VCDC_STACK_DIR:-}" ]] &&
			log "VCDC_STACK_DIR=$VCDC_STACK_DIR is not a healthy stack; starting a fresh one"
		OWN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/vcdc-stack.XXXXXX")"
		dir="$OWN_DIR"
		# If VCDC_STACK_DIR names another (dead) stack, stack.sh ignores the
		# VCDC_*_PORT values that came with it and picks fresh ports.
		bash "$STACK" up "$dir"
	fi
	set -a
	# shellcheck source=/dev/null
	. "$dir/env"
	set +a

	# CMD runs in the background so a signal to us is handled at once (bash
	# defers traps while a foreground child runs), in a process group of its
	# own so teardown can stop all it left behind. The subshell restores the
	# default SIGINT/SIGQUIT that bash ignores in background jobs, and CMD
	# keeps our stdin.
	local rc=0
	(
		trap - INT QUIT TERM
		exec setsid "$@"
	) <&0 &
	CMD_PID=$!
	wait "$CMD_PID" || rc=$?
	exit "$rc"
}

main "$@"

#!/usr/bin/env bash
# run-integration.sh [PYTEST ARGS...] - vcdc's integration tests against a
# running stack.
#
# `make test-integration` builds the programs and the C integration tests,
# then runs this under scripts/with-stack.sh, which exports the stack's env
# (VCDC_BROKERS, VCDC_CHROMA_HOST/PORT, VCDC_PG_CONNINFO, VCDC_PGVECTOR_URL,
# VCDC_STACK_DIR, ...). By hand, against a stack of your own:
#
#   scripts/stack.sh up /tmp/st && set -a && . /tmp/st/env && set +a
#   make all it && bash tests/run-integration.sh -k producer
#
# 1. Every C integration test, $BUILD/tests/it_* (cmocka programs), each
#    from tests/ like the unit tests, each under a time limit.
# 2. pytest on tests/integration with the venv's Python; arguments given to
#    this script go to pytest.
# Everything runs even when something fails; the summary at the end lists
# each part, and the exit status is non-zero if any part failed.
#
# Knobs: BUILD (default build), VCDC_IT_PYTHON (default .deps/venv/bin/python),
# VCDC_IT_TIMEOUT (seconds per C test, default 900).

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO
readonly BUILD_DIR="$REPO/${BUILD:-build}"
readonly PYTHON="${VCDC_IT_PYTHON:-$REPO/.deps/venv/bin/python}"
readonly IT_TIMEOUT="${VCDC_IT_TIMEOUT:-900}"

say() { printf 'run-integration: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

[[ -n "${VCDC_BROKERS:-}" ]] ||
	die "VCDC_BROKERS is unset: run under scripts/with-stack.sh (make test-integration) or source a stack's env"
[[ -x "$PYTHON" ]] ||
	die "$PYTHON not found: run scripts/install-deps.sh (or set VCDC_IT_PYTHON)"
"$PYTHON" -c 'import pytest' 2>/dev/null ||
	die "pytest is not installed for $PYTHON (tests/requirements.txt)"

RESULTS=()
FAILED=0

# record NAME STATUS SECONDS: one line of the summary.
record() {
	local line
	line="$(printf '%-4s  %-28s %5ss' "$( (($2)) && echo FAIL || echo PASS)" "$1" "$3")"
	if (($2)); then
		line+="  (exit $2)"
		FAILED=1
	fi
	RESULTS+=("$line")
}

# ------------------------------------------------------------ C programs

shopt -s nullglob
its=()
for src in "$REPO"/tests/it_*.c; do
	name="$(basename "$src" .c)"
	bin="$BUILD_DIR/tests/$name"
	if [[ ! -x "$bin" ]]; then
		say "$name: $bin is not built (make it)"
		record "$name" 127 0
		continue
	fi
	its+=("$bin")
done
shopt -u nullglob

for bin in "${its[@]}"; do
	name="$(basename "$bin")"
	printf '\n==== %s\n' "$name"
	t0=$SECONDS
	rc=0
	(cd "$REPO/tests" && exec timeout -k 10 "$IT_TIMEOUT" "$bin") || rc=$?
	if ((rc == 124)); then
		say "$name: killed after ${IT_TIMEOUT}s"
	fi
	record "$name" "$rc" $((SECONDS - t0))
done

# ---------------------------------------------------------------- pytest

# Soak tests (marker `soak`) only when asked for: without a -m of the
# caller's, `-m "not soak"`.
marks=(-m "not soak")
for arg in "$@"; do
	[[ "$arg" == -m || "$arg" == -m* || "$arg" == --markexpr* ]] && marks=()
done
set -- "${marks[@]}" "$@"

printf '\n==== pytest tests/integration %s\n' "$*"
t0=$SECONDS
rc=0
(cd "$REPO" && PYTHONDONTWRITEBYTECODE=1 exec "$PYTHON" -m pytest -q \
	-p no:cacheprovider --durations=10 tests/integration "$@") || rc=$?
record "pytest tests/integration" "$rc" $((SECONDS - t0))

# --------------------------------------------------------------- summary

printf '\n==== summary\n'
printf '%s\n' "${RESULTS[@]}"
if ((FAILED)); then
	say "FAILED"
	exit 1
fi
say "all passed"

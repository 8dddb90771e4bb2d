#!/usr/bin/env bash
# Runs every benchmark of bench/README.md on the stack whose env
# scripts/with-stack.sh exported; `--smoke` for tiny sizes and one round.
# The work is done by bench/bench.py under the stack's venv ($VCDC_PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${VCDC_BROKERS:?run me through scripts/with-stack.sh}"
exec "${VCDC_PYTHON:-python3}" bench/bench.py "$@"

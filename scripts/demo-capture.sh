#!/usr/bin/env bash
# demo-capture.sh - the migration off a live pgvector table, end to end, on
# the local stack, without touching the application: OLD is a PostgreSQL
# table the application keeps writing with plain SQL, NEW is Chroma. Run
# through `make demo-capture`, which starts the stack (scripts/with-stack.sh)
# and exports its env; everything started here is stopped here.
#
#   1. the application's table: VCDC_DEMO_RECORDS generated vectors
#      loaded directly, and an application writer that keeps inserting,
#      updating and deleting through psql for the rest of the demo
#   2. vcdc-capture publishes the table (a snapshot) and then every
#      committed change into a compacted topic
#   3. a consumer (group vcdc.new) backfills NEW from offset zero
#   4. vcdc status shows the capture's lag and NEW's falling to zero
#   5. verify and shadow compare NEW with OLD
#   6. cutover switches reads to NEW behind its gate; a reader following the
#      route switches
#   7. rollback switches back
#   8. the end of the migration: the application writes elsewhere, the
#      capture stops (SIGTERM) and its slot is dropped (--drop-slot), so
#      PostgreSQL keeps no WAL for it
set -euo pipefail
cd "$(dirname "$0")/.."

: "${VCDC_BROKERS:?run through make demo-capture (scripts/with-stack.sh)}"
RECORDS=${VCDC_DEMO_RECORDS:-100000}
DIM=${VCDC_DEMO_DIM:-128}
RATE=${VCDC_DEMO_RATE:-20}
TOPIC=vcdc.demo.capture
COLL=docs
PSQL="$VCDC_PG_BIN/psql"
OLD="${VCDC_PGVECTOR_URL}?table=$COLL"
SLOT="${VCDC_PGVECTOR_URL}?slot=vcdc_$COLL"
NEW="chroma://$VCDC_CHROMA_HOST:$VCDC_CHROMA_PORT/$COLL"
WORK=$(mktemp -d /tmp/vcdc-demo-capture.XXXXXX)
PIDS=()

t0=$SECONDS
declare -A took

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }
sql() { "$PSQL" "$VCDC_PG_CONNINFO" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

cleanup() {
	local rc=$?
	for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT INT TERM

# caught_up: the capture confirmed the WAL written so far, and NEW's group
# is OK (its lag reached zero).
caught_up() {
	local lsn i
	lsn=$(sql -c "SELECT pg_current_wal_lsn()")
	for ((i = 0; i < 600; i++)); do
		[[ $(sql -c "SELECT confirmed_flush_lsn >= '$lsn' FROM pg_replication_slots WHERE slot_name = 'vcdc_$COLL'") == t ]] && break
		sleep 0.2
	done
	for ((i = 0; i < 600; i++)); do
		bin/vcdc status -q -t "$TOPIC" --group "vcdc.new=$NEW" --window 2 \
			--interval 1 >"$WORK/status" 2>&1 && return 0
	done
	cat "$WORK/status" >&2
	return 1
}

step "1. The application's table: $RECORDS vectors ($DIM dimensions) in PostgreSQL"
s=$SECONDS
sql -c "CREATE TABLE $COLL (id text PRIMARY KEY, embedding vector($DIM), metadata jsonb, document text)"
# JSON Lines loaded as they are, then turned into rows by SQL.
sql -c "CREATE TEMP TABLE staging (j jsonb)" \
	-c "COPY staging FROM STDIN (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02')" \
	-c "INSERT INTO $COLL SELECT j->>'id', (j->'vector')::text::vector, j->'metadata', j->>'document' FROM staging" \
	< <(bin/vcdc-gen -n "$RECORDS" -d "$DIM" -k 64 -c "$COLL" -s 1)
took[load]=$((SECONDS - s))
say "$(sql -c "SELECT count(*) FROM $COLL") rows; the application keeps writing ~$RATE transactions/s through psql"
# The application: transactions of an insert, a metadata update, a vector
# update and a delete, in its own process group (paused and stopped as one).
setsid bash -c "
	i=$RECORDS
	while :; do
		i=\$((i + 1)); r=\$((RANDOM * 32768 + RANDOM)); a=\$((r % i)); b=\$(((r / 7) % i)); c=\$(((r / 13) % i))
		printf '%s\n' 'BEGIN;' \
			\"INSERT INTO $COLL VALUES ('doc-\$i', (SELECT array_agg(random()::real) FROM generate_series(1, $DIM))::vector, jsonb_build_object('cluster', \$((i % 64)), 'version', 0), 'written by the application');\" \
			\"UPDATE $COLL SET metadata = jsonb_set(metadata, '{version}', to_jsonb((metadata->>'version')::int + 1)) WHERE id = 'doc-\$a';\" \
			\"UPDATE $COLL SET embedding = (SELECT array_agg(random()::real) FROM generate_series(1, $DIM))::vector WHERE id = 'doc-\$b';\" \
			\"DELETE FROM $COLL WHERE id = 'doc-\$c';\" 'COMMIT;'
		sleep $(awk "BEGIN {print 1 / $RATE}")
	done | '$PSQL' '$VCDC_PG_CONNINFO' -X -q >/dev/null" &
APP=$!
PIDS+=("$APP")

step "2. vcdc-capture: the table's snapshot, then every committed change, into $TOPIC"
s=$SECONDS
setsid bin/vcdc-capture --from "$OLD" -t "$TOPIC" --create-topic --partitions 4 \
	2> >(grep --line-buffered -E 'snapshot|slot|publication|stream' >&2) &
CAPTURE=$!
PIDS+=("$CAPTURE")
for ((i = 0; i < 600; i++)); do
	[[ $(sql -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'vcdc_$COLL'") == 1 &&
		$(sql -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'vcdcp_vcdc_$COLL'") == 0 ]] && break
	sleep 0.5
done
took[snapshot]=$((SECONDS - s))

step "3. NEW: a consumer (group vcdc.new) backfills Chroma from offset zero"
s=$SECONDS
bin/vcdc-consumer -t "$TOPIC" -G vcdc.new --sink "$NEW" --from-beginning \
	-X vcdc.progress.ms=5000 2> >(grep --line-buffered 'lag' >&2) &
PIDS+=($!)

step "4. vcdc status: the capture's lag and NEW's (the application writing)"
until bin/vcdc status -t "$TOPIC" --group "vcdc.new=$NEW" --capture "$SLOT" \
	--window 2 --interval 1 >"$WORK/status" 2>/dev/null; do
	grep -E '^(capture|vcdc\.new) ' "$WORK/status" | sed 's/^/   /' || true
	sleep 3
done
grep -E '^(capture|vcdc\.new) ' "$WORK/status" | sed 's/^/   /' || true
took[catch-up]=$((SECONDS - s))
say "caught up in ${took[catch-up]} s while the application kept writing"

step "5. Verify and shadow reads (the application paused, so OLD holds still)"
kill -STOP -- "-$APP"
caught_up
s=$SECONDS
bin/vcdc verify --old "$OLD" --new "$NEW" | tee "$WORK/verify"
took[verify]=$((SECONDS - s))
s=$SECONDS
bin/vcdc shadow --old "$OLD" --new "$NEW" --sample 200 -k 10 | tee "$WORK/shadow"
took[shadow]=$((SECONDS - s))

step "6. Cut over reads to NEW (the gate: readiness, offsets, verify, shadow)"
bin/vcdc route --collection "$COLL" --follow >"$WORK/reader" 2>/dev/null &
READER=$!
PIDS+=("$READER")
s=$SECONDS
# OLD is the source, written by the application itself: no consumer group
# feeds it, so the old group named here has no members and no offsets.
bin/vcdc cutover -t "$TOPIC" --collection "$COLL" --to new \
	--old "$OLD" --new "$NEW" --old-group vcdc.capture-source --new-group vcdc.new \
	--verify-sample 2000 --min-overlap 0.9
took[cutover]=$((SECONDS - s))
kill -CONT -- "-$APP"
for ((i = 0; i < 50; i++)); do grep -q new "$WORK/reader" && break; sleep 0.1; done
say "the reader following the route now reads from: $(tail -1 "$WORK/reader")"

step "7. Roll back to OLD (instant: OLD is the application's own table)"
bin/vcdc rollback --collection "$COLL"
for ((i = 0; i < 50; i++)); do [[ $(tail -1 "$WORK/reader") == *old* ]] && break; sleep 0.1; done
say "the reader now reads from: $(tail -1 "$WORK/reader")"

step "8. The end: the application writes elsewhere; the capture stops, its slot goes"
kill -TERM -- "-$APP"
wait "$APP" 2>/dev/null || true
caught_up
kill -TERM "$CAPTURE"
rc=0
wait "$CAPTURE" || rc=$?
say "vcdc-capture stopped on SIGTERM (exit $rc), everything confirmed"
bin/vcdc-capture --from "$OLD" --drop-slot
say "replication slots left: $(sql -c "SELECT count(*) FROM pg_replication_slots")"
printf '\n   %-34s %8s\n' "step" "seconds"
for k in load snapshot catch-up verify shadow cutover; do
	printf '   %-34s %8s\n' "$k" "${took[$k]}"
done
printf '   %-34s %8s\n' "total" "$((SECONDS - t0))"
grep -iE 'overlap|missing|extra|match' "$WORK/verify" "$WORK/shadow" | sed 's/^/   /' || true

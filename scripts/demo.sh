#!/usr/bin/env bash
# demo.sh - the migration, end to end, on the local stack, starting as real
# migrations do: from a database that already holds the data. OLD is Chroma,
# NEW is pgvector. Run through `make demo`, which starts the stack
# (scripts/with-stack.sh) and exports its env; everything started here is
# stopped here.
#
#   1. the application fills OLD directly through Chroma's own HTTP API
#      (scripts/chroma_fill.py: no vcdc, no Kafka) with VCDC_DEMO_RECORDS
#      generated vectors (clustered, so queries have meaningful neighbours)
#   2. writers switch to the log: a live writer keeps overwriting and
#      deleting OLD's records through vcdc-producer for the rest of the demo
#   3. a consumer (group vcdc.old) keeps OLD current from the log
#   4. vcdc snapshot copies OLD into the topic, consistently, while the
#      writer goes on (it raises the topic's min.compaction.lag.ms)
#   5. a fresh group (vcdc.new) backfills NEW from offset zero
#   6. vcdc status shows the lag falling to zero
#   7. verify and shadow compare NEW with OLD
#   8. cutover switches reads to NEW behind its gate; a reader following the
#      route switches
#   9. rollback switches back
#  10. a summary table
set -euo pipefail
cd "$(dirname "$0")/.."

: "${VCDC_BROKERS:?run through make demo (scripts/with-stack.sh)}"
RECORDS=${VCDC_DEMO_RECORDS:-100000}
DIM=${VCDC_DEMO_DIM:-128}
RATE=${VCDC_DEMO_RATE:-200}
TOPIC=vcdc.demo.changes
COLL=docs
OLD="chroma://$VCDC_CHROMA_HOST:$VCDC_CHROMA_PORT/$COLL"
NEW="${VCDC_PGVECTOR_URL}?table=$COLL"
WORK=$(mktemp -d /tmp/vcdc-demo.XXXXXX)
PIDS=()

t0=$SECONDS
declare -A took

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }

cleanup() {
	local rc=$?
	# The writer first (its producer flushes on end of input), then the
	# consumers (SIGTERM: commit and leave the group).
	# Each background job leads its own process group (setsid or job
	# control): signal the whole group, so no pipeline member leaks.
	for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT INT TERM

# ready GROUP URL: waits until the group's state is OK (lag reached zero).
ready() {
	local group=$1 url=$2 i
	for ((i = 0; i < 600; i++)); do
		if bin/vcdc status -q -t "$TOPIC" --group "$group=$url" \
			--window 2 --interval 1 >"$WORK/status.$group" 2>&1; then
			return 0
		fi
	done
	cat "$WORK/status.$group" >&2
	return 1
}

step "1. The application fills OLD directly: $RECORDS vectors ($DIM dimensions) through Chroma's own API"
s=$SECONDS
bin/vcdc-gen -n "$RECORDS" -d "$DIM" -k 64 -c "$COLL" -s 1 |
	"${VCDC_PYTHON:-python3}" scripts/chroma_fill.py "$VCDC_CHROMA_HOST" \
		"$VCDC_CHROMA_PORT" "$COLL" >"$WORK/fill"
took[fill-old]=$((SECONDS - s))
say "OLD holds $(cut -d' ' -f1 "$WORK/fill") records, written without vcdc"

step "2. Writers switch to the log: a live writer through vcdc-producer into $TOPIC"
say "$RATE changes/s for the rest of the demo: overwrites of OLD's records, updates, deletes"
# --start 0: the writer's ids are OLD's own (doc-0, doc-1, ...), so it
# rewrites and deletes the very records the snapshot is reading.
bin/vcdc-producer -q -t "$TOPIC" --create-topic --partitions 4 /dev/null \
	2>"$WORK/create" || { cat "$WORK/create" >&2; exit 1; }
# Its own process group, so one signal pauses or stops generator and producer.
setsid bash -c "bin/vcdc-gen -n 0 -r $RATE -d $DIM -k 64 -c $COLL -s 2 \
	--start 0 --updates 0.3 --deletes 0.05 |
	bin/vcdc-producer -q -t $TOPIC -c $COLL" &
WRITER=$!
PIDS+=("$WRITER")

step "3. OLD: a consumer (group vcdc.old) keeps Chroma current from the log"
# Offsets recorded in Chroma every 200 ms, not every second: each chunk
# of the snapshot waits for OLD to record its low watermark.
bin/vcdc-consumer -t "$TOPIC" -G vcdc.old --sink "$OLD" --from-beginning \
	-X vcdc.commit.interval.ms=200 2>"$WORK/old.log" &
PIDS+=($!)
ready vcdc.old "$OLD"
say "started; from now on OLD changes only through the log"

step "4. vcdc snapshot: OLD's records into $TOPIC, consistently, while the writer goes on"
s=$SECONDS
bin/vcdc snapshot --from "$OLD" -t "$TOPIC" --old-group vcdc.old \
	--set-compaction-lag | tee "$WORK/snapshot" | sed 's/^/   /'
took[snapshot]=$((SECONDS - s))

step "5. NEW: a fresh group (vcdc.new) backfills pgvector from offset zero"
s=$SECONDS
bin/vcdc-consumer -t "$TOPIC" -G vcdc.new --sink "$NEW" --from-beginning \
	-X vcdc.progress.ms=5000 2> >(grep --line-buffered 'lag' >&2) &
PIDS+=($!)

step "6. vcdc status: the lag falls to zero (both groups, live writes flowing)"
until bin/vcdc status -t "$TOPIC" --group "vcdc.old=$OLD" \
	--group "vcdc.new=$NEW" --window 2 --interval 1 >"$WORK/status" 2>/dev/null; do
	grep -E '^vcdc\.(old|new) ' "$WORK/status" | sed 's/^/   /' || true
	sleep 3
done
grep -E '^vcdc\.(old|new) ' "$WORK/status" | sed 's/^/   /' || true
took[backfill]=$((SECONDS - s))
say "NEW backfilled and both caught up in ${took[backfill]} s, with live writes flowing"

step "7. Verify and shadow reads (the writer paused so both sides hold one offset)"
kill -STOP -- "-$WRITER"
ready vcdc.old "$OLD"
ready vcdc.new "$NEW"
s=$SECONDS
bin/vcdc verify --old "$OLD" --new "$NEW" | tee "$WORK/verify"
took[verify]=$((SECONDS - s))
s=$SECONDS
bin/vcdc shadow --old "$OLD" --new "$NEW" --sample 200 -k 10 | tee "$WORK/shadow"
took[shadow]=$((SECONDS - s))

step "8. Cut over reads to NEW (the gate: readiness, offsets, verify, shadow)"
bin/vcdc route --collection "$COLL" --follow >"$WORK/reader" 2>/dev/null &
READER=$!
PIDS+=("$READER")
s=$SECONDS
bin/vcdc cutover -t "$TOPIC" --collection "$COLL" --to new \
	--old "$OLD" --new "$NEW" --old-group vcdc.old --new-group vcdc.new \
	--verify-sample 2000 --min-overlap 0.9
took[cutover]=$((SECONDS - s))
kill -CONT -- "-$WRITER"
for ((i = 0; i < 50; i++)); do grep -q new "$WORK/reader" && break; sleep 0.1; done
say "the reader following the route now reads from: $(tail -1 "$WORK/reader")"

step "9. Roll back to OLD (instant: OLD never stopped being current)"
bin/vcdc rollback --collection "$COLL"
for ((i = 0; i < 50; i++)); do [[ $(tail -1 "$WORK/reader") == *old* ]] && break; sleep 0.1; done
say "the reader now reads from: $(tail -1 "$WORK/reader")"

step "10. Summary"
kill -TERM -- "-$WRITER"
wait "$WRITER" 2>/dev/null || true
ready vcdc.old "$OLD"
ready vcdc.new "$NEW"
bin/vcdc status -t "$TOPIC" --group "vcdc.old=$OLD" --group "vcdc.new=$NEW" \
	--window 2 --interval 1 | grep -E '^(vcdc|group)' || true
printf '\n   %-34s %8s\n' "step" "seconds"
for k in fill-old snapshot backfill verify shadow cutover; do
	printf '   %-34s %8s\n' "$k" "${took[$k]}"
done
printf '   %-34s %8s\n' "total" "$((SECONDS - t0))"
grep -iE 'overlap|missing|extra|match' "$WORK/verify" "$WORK/shadow" | sed 's/^/   /' || true
grep -E '^(records|superseded|repairs) ' "$WORK/snapshot" | sed 's/^/   snapshot: /' || true

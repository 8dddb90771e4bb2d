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
#   2. the application switches to vcdc-gateway (--ack log): on Chroma's
#      official Python client (scripts/demo_app.py), pointed at the
#      gateway instead of Chroma, it keeps upserting, updating, deleting
#      and reading OLD's records for the rest of the demo; its writes go
#      into the topic
#   3. a consumer (group vcdc.old) keeps OLD current from the log
#   4. vcdc snapshot copies OLD into the topic, consistently, while the
#      application goes on (it raises the topic's min.compaction.lag.ms)
#   5. a fresh group (vcdc.new) backfills NEW from offset zero
#   6. vcdc status shows the lag falling to zero
#   7. verify and shadow compare NEW with OLD
#   8. cutover switches reads to NEW behind its gate; a reader on the
#      official client keeps reading through the gateway, which switches
#      its reads to NEW (the gateway's audit records the switch)
#   9. rollback switches them back
#  10. a summary table: steps, the application's requests and failures,
#      which side answered the reader, and a final verify
set -euo pipefail
cd "$(dirname "$0")/.."

: "${VCDC_BROKERS:?run through make demo (scripts/with-stack.sh)}"
RECORDS=${VCDC_DEMO_RECORDS:-100000}
DIM=${VCDC_DEMO_DIM:-128}
RATE=${VCDC_DEMO_RATE:-200}
TOPIC=vcdc.demo.changes
COLL=docs
CONTROL=vcdc.control
# The application's interpreter: the venv that scripts/install-deps.sh
# filled (chromadb-client, pinned in tests/requirements.txt).
PY=${VCDC_PYTHON:-.deps/venv/bin/python}
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
	# SIGTERM to all: the application stops after its request in flight,
	# the gateway drains and flushes, the consumers commit and leave
	# their groups.
	# Each background job leads its own process group (setsid or job
	# control): signal the whole group, so no pipeline member leaks.
	for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT INT TERM

"$PY" -c 'import chromadb' 2>/dev/null || {
	echo "demo: $PY cannot import chromadb: run scripts/install-deps.sh" >&2
	exit 1
}

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
	"$PY" scripts/chroma_fill.py "$VCDC_CHROMA_HOST" \
		"$VCDC_CHROMA_PORT" "$COLL" >"$WORK/fill"
took[fill-old]=$((SECONDS - s))
say "OLD holds $(cut -d' ' -f1 "$WORK/fill") records, written without vcdc"

step "2. The application switches to vcdc-gateway: Chroma's official client, pointed at the gateway"
# The topic, compacted, made as the runbook makes it.
bin/vcdc-producer -q -t "$TOPIC" --create-topic --partitions 4 /dev/null \
	2>"$WORK/create" || { cat "$WORK/create" >&2; exit 1; }
GW_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# --ack log: a write is answered once Kafka has it (durable), not once
# OLD applied it; at $RATE changes/s a client waiting for OLD's consumer
# (--ack applied, commit interval 200 ms) would fall behind.
bin/vcdc-gateway --listen "127.0.0.1:$GW_PORT" -t "$TOPIC" \
	--old "chroma://$VCDC_CHROMA_HOST:$VCDC_CHROMA_PORT" \
	--new "$VCDC_PGVECTOR_URL" --old-group vcdc.old --new-group vcdc.new \
	--ack log --audit "$WORK/audit" -X vcdc.gateway.control.topic="$CONTROL" \
	2>"$WORK/gateway.log" &
GATEWAY=$!
PIDS+=("$GATEWAY")
for ((i = 0; i < 300; i++)); do
	curl -sf "http://127.0.0.1:$GW_PORT/api/v2/heartbeat" >/dev/null && break
	kill -0 "$GATEWAY" 2>/dev/null || { cat "$WORK/gateway.log" >&2; exit 1; }
	sleep 0.1
done
say "vcdc-gateway on 127.0.0.1:$GW_PORT: writes into $TOPIC (--ack log), reads from the side the route names"
say "the application (scripts/demo_app.py, chromadb-client $("$PY" -c 'import chromadb; print(chromadb.__version__)')): $RATE changes/s to OLD's ids"
say "(upserts, metadata updates, deletes; it reads some back) for the rest of the demo"
# Its own process group, so the cleanup's signal reaches it alone.
setsid "$PY" scripts/demo_app.py 127.0.0.1 "$GW_PORT" "$COLL" --ids "$RECORDS" \
	--dim "$DIM" --rate "$RATE" --state "$WORK/app.state" \
	>"$WORK/app.counts" 2>"$WORK/app.err" &
WRITER=$!
PIDS+=("$WRITER")
for ((i = 0; i < 300; i++)); do
	[[ -s "$WORK/app.state" ]] && break
	kill -0 "$WRITER" 2>/dev/null || { cat "$WORK/app.err" >&2; exit 1; }
	sleep 0.1
done

step "3. OLD: a consumer (group vcdc.old) keeps Chroma current from the log"
# Offsets recorded in Chroma every 200 ms, not every second: each chunk
# of the snapshot waits for OLD to record its low watermark.
bin/vcdc-consumer -t "$TOPIC" -G vcdc.old --sink "$OLD" --from-beginning \
	-X vcdc.commit.interval.ms=200 2>"$WORK/old.log" &
PIDS+=($!)
ready vcdc.old "$OLD"
say "started; from now on OLD changes only through the log"

step "4. vcdc snapshot: OLD's records into $TOPIC, consistently, while the application writes on"
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

step "7. Verify and shadow reads (the application paused so both sides hold one offset)"
kill -USR1 "$WRITER"
until [[ $(cat "$WORK/app.state") == paused ]]; do
	kill -0 "$WRITER" 2>/dev/null || { cat "$WORK/app.err" >&2; exit 1; }
	sleep 0.1
done
ready vcdc.old "$OLD"
ready vcdc.new "$NEW"
s=$SECONDS
bin/vcdc verify --old "$OLD" --new "$NEW" | tee "$WORK/verify"
took[verify]=$((SECONDS - s))
s=$SECONDS
bin/vcdc shadow --old "$OLD" --new "$NEW" --sample 200 -k 10 | tee "$WORK/shadow"
took[shadow]=$((SECONDS - s))

# switched ACTION: waits until the gateway's audit records the route
# switch ACTION (cutover, rollback) for the collection, and prints it.
switched() {
	local i
	for ((i = 0; i < 100; i++)); do
		grep -E "\"method\":\"ROUTE\",\"path\":\"$1 " "$WORK/audit" |
			grep -F "\"collection\":\"$COLL\"" | tail -1 | grep . && return 0
		sleep 0.1
	done
	echo "demo: the gateway did not see the $1 within 10 s" >&2
	return 1
}
# reads SINCE_LINE: "N reads, M failed" of the reader's log from that line.
reads() {
	tail -n +"$1" "$WORK/reader.log" |
		awk '{n++} $2 != "ok" {f++} END {printf "%d reads, %d failed", n, f}'
}
# read_on N: waits (up to 60 s) until the reader made N more reads, so
# each side answers it for a while (NEW, without an index, scans).
read_on() {
	local want i
	want=$(($(wc -l <"$WORK/reader.log") + $1))
	for ((i = 0; i < 600; i++)); do
		(($(wc -l <"$WORK/reader.log") >= want)) && return 0
		sleep 0.1
	done
}

step "8. Cut over reads to NEW (the gate: readiness, offsets, verify, shadow)"
say "a reader on the official client reads through the gateway, 20 requests/s, across the switch"
setsid "$PY" scripts/demo_app.py 127.0.0.1 "$GW_PORT" "$COLL" --reads-only \
	--ids "$RECORDS" --dim "$DIM" --rate 20 --log "$WORK/reader.log" \
	>"$WORK/reader.counts" 2>"$WORK/reader.err" &
READER=$!
PIDS+=("$READER")
until [[ -s "$WORK/reader.log" ]]; do
	kill -0 "$READER" 2>/dev/null || { cat "$WORK/reader.err" >&2; exit 1; }
	sleep 0.1
done
s=$SECONDS
bin/vcdc cutover -t "$TOPIC" --collection "$COLL" --to new \
	--old "$OLD" --new "$NEW" --old-group vcdc.old --new-group vcdc.new \
	--verify-sample 2000 --min-overlap 0.9
took[cutover]=$((SECONDS - s))
kill -USR2 "$WRITER"
say "the gateway's audit: $(switched cutover)"
read_on 20
say "the reader so far: $(reads 1)"

step "9. Roll back to OLD (instant: OLD never stopped being current)"
mark=$(($(wc -l <"$WORK/reader.log") + 1))
bin/vcdc rollback --collection "$COLL"
say "the gateway's audit: $(switched rollback)"
read_on 20
say "the reader during the rollback: $(reads "$mark")"

step "10. Summary"
# The application first (it prints its counts), then the gateway (it
# drains and flushes), then both sides catch up with everything it wrote.
kill -TERM "$READER" "$WRITER"
wait "$READER" "$WRITER" 2>/dev/null || true
kill -TERM "$GATEWAY"
wait "$GATEWAY" 2>/dev/null || true
ready vcdc.old "$OLD"
ready vcdc.new "$NEW"
bin/vcdc status -t "$TOPIC" --group "vcdc.old=$OLD" --group "vcdc.new=$NEW" \
	--window 2 --interval 1 | grep -E '^(vcdc|group)' || true
s=$SECONDS
final=match
bin/vcdc verify --old "$OLD" --new "$NEW" >"$WORK/verify.final" || final=DIFFER
took[final-verify]=$((SECONDS - s))
printf '\n   %-34s %8s\n' "step" "seconds"
for k in fill-old snapshot backfill verify shadow cutover final-verify; do
	printf '   %-34s %8s\n' "$k" "${took[$k]}"
done
printf '   %-34s %8s\n' "total" "$((SECONDS - t0))"
printf '\n   %-34s %8s\n' "the application (through the gateway)" "count"
awk '{printf "   writer %-27s %8s\n", $1, $2}' "$WORK/app.counts"
awk '{printf "   reader %-27s %8s\n", $1, $2}' "$WORK/reader.counts"
# Which side answered each of the reader's reads: by its start time
# against the times the gateway's audit gives the switches.
"$PY" - "$WORK/audit" "$WORK/reader.log" "$COLL" <<'PYEOF'
import datetime, json, sys
switches = []
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["method"] == "ROUTE" and e["collection"] == sys.argv[3]:
        t = datetime.datetime.strptime(e["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
        ms = t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000
        action, sides = e["path"].split(" ", 1)
        switches.append((ms, "%s, after the %s" % (
            sides.split("->")[1].upper(), action)))
counts = {}
for line in open(sys.argv[2]):
    ms, outcome, what, took = line.split()
    phase = 0
    for i, (at, _) in enumerate(switches, 1):
        if float(ms) >= at:
            phase = i
    c = counts.setdefault(phase, {"ok": 0, "error": 0, "get": [],
                                  "query": []})
    c[outcome] += 1
    c[what].append(float(took))
names = ["OLD, before the cutover"] + [w for _, w in switches]


def p50(v):
    return "%.0f" % sorted(v)[len(v) // 2] if v else "-"


for phase in sorted(counts):
    c = counts[phase]
    print("   reads answered by %-23s %4d ok, %d failed; "
          "p50 get %s ms, query %s ms" % (names[phase], c["ok"], c["error"],
                                          p50(c["get"]), p50(c["query"])))
PYEOF
echo
say "final verify of OLD against NEW, after every acknowledged write: $final"
grep -hiE 'overlap|missing|extra|match' "$WORK/verify" "$WORK/shadow" | sed 's/^/   /' || true
grep -E '^(records|superseded|repairs) ' "$WORK/snapshot" | sed 's/^/   snapshot: /' || true
failed=$(awk '$1 ~ /_failures$/ {n += $2} END {print n + 0}' \
	"$WORK/app.counts" "$WORK/reader.counts")
say "the application's failed requests: $failed"
[[ $final == match && $failed == 0 ]]

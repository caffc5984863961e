#!/usr/bin/env bash
# benches/fault_bench.sh — GET latency while peers stall: rf-2 GETs at a fixed rate through the
# router while a random peer is SIGSTOPped and SIGCONTed every few seconds.
#
# Builds the release binaries, starts three `mictlanx-peer`s and one `mictlanx-router` (byte cache off, so
# every GET reads from a peer; every other setting at its default) on loopback, and runs `mictlanx-bench
# --op get --rf 2 --rate N`. Once the bench's preload is stored, a chaos loop stops one random peer
# (SIGSTOP), keeps it stopped for FAULT_EVERY seconds, continues it (SIGCONT) and picks the next, until
# the timed phase ends. Prints the bench's report (errors, p50/p99/max), the number of stops and the
# router's hedge and failover counters. Every process it started is stopped on exit.
#
# Environment:
#   FAULT_SECONDS     length of the timed phase (default 60)
#   FAULT_EVERY       seconds each stopped peer stays stopped (default 3)
#   FAULT_RATE        GETs per second (default 200)
#   FAULT_SIZE        object size (default 4KiB)
#   FAULT_KEYS        objects read round-robin (default 100)
#   FAULT_PORT_BASE   first peer port (default 28000; peers +0..+2, router +100)
#   FAULT_DATA_DIR    where the peers' data and the logs go (default: $TMPDIR or /tmp)
#   FAULT_KEEP        set to 1 to keep the temporary directory
#   FAULT_ROUTER_ENV  extra router variables, space-separated VAR=value (e.g. MICTLANX_ROUTER_HEDGE_DELAY_MAX=0
#                     MICTLANX_ROUTER_READ_STALL_TIMEOUT=0 for the router without hedging or stall detection)
#   CARGO_TARGET_DIR  where cargo puts the binaries (default: <repo>/target)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=${FAULT_SECONDS:-60}
EVERY=${FAULT_EVERY:-3}
RATE=${FAULT_RATE:-200}
SIZE=${FAULT_SIZE:-4KiB}
KEYS=${FAULT_KEYS:-100}
PORT_BASE=${FAULT_PORT_BASE:-28000}
BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/release
ROUTER_PORT=$((PORT_BASE + 100))
ROUTER=http://127.0.0.1:$ROUTER_PORT
BUCKET=faultbench

echo "==> cargo build --release --bins" >&2
(cd "$ROOT" && cargo build --release --bins)

WORK=$(mktemp -d -p "${FAULT_DATA_DIR:-${TMPDIR:-/tmp}}" mictlanx-faultbench.XXXXXX)
KEEP_WORK=${FAULT_KEEP:-0}
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
CHAOS_PID=
before_stop() {
    [[ -n "$CHAOS_PID" ]] && kill "$CHAOS_PID" 2>/dev/null || true
}
start_peers 3

mkdir -p "$WORK/router"
# shellcheck disable=SC2086 # FAULT_ROUTER_ENV is deliberately word-split into VAR=value words
env MICTLANX_ROUTER_PORT="$ROUTER_PORT" MICTLANX_ROUTER_HOST=127.0.0.1 MICTLANX_PEERS_URI="$PEERS_URI" \
    MICTLANX_ROUTER_STATE_DIR="$WORK/router" MICTLANX_ROUTER_LOG_TO_FILE=0 MICTLANX_ROUTER_OPENTELEMETRY=0 \
    MICTLANX_ROUTER_LOG_LEVEL=warn MICTLANX_CACHE=0 ENV_FILE_PATH="$WORK/none.env" ${FAULT_ROUTER_ENV:-} \
    "$BIN_DIR/mictlanx-router" >"$WORK/router.log" 2>&1 &
PIDS+=($!)
wait_for "$ROUTER/ready" router
for i in $(seq 1 300); do
    n=$(curl -fsS "$ROUTER/api/v4/peers" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["available"]))')
    [[ "$n" == 3 ]] && break
    sleep 0.1
done

# counter NAME: the sum of a router counter's samples.
counter() {
    curl -fsS "$ROUTER/metrics" | awk -v n="$1" '$1 ~ "^"n"([{]|$)" {s += $2} END {printf "%d", s}'
}
H0=$(counter mictlanx_router_hedges_total)
W0=$(counter mictlanx_router_hedges_won_total)
F0=$(counter mictlanx_router_read_failovers_total)

BENCH_ARGS=(--target router --url "$ROUTER" --op get --rf 2 --size "$SIZE" --keys "$KEYS" --rate "$RATE"
    --concurrency 256 --duration "${SECS}s" --bucket "$BUCKET" --label fault-bench)
echo "==> mictlanx-bench ${BENCH_ARGS[*]}" >&2
"$BIN_DIR/mictlanx-bench" "${BENCH_ARGS[@]}" --json >"$WORK/report.json" 2>"$WORK/bench.err" &
BENCH_PID=$!

# The chaos starts once the preload is stored (every key listed) and read back (the bench then times).
for i in $(seq 1 600); do
    listed=$(curl -fsS "$ROUTER/api/v4/buckets/$BUCKET/metadata" 2>/dev/null |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)["balls"]))' 2>/dev/null || echo 0)
    [[ "$listed" -ge "$KEYS" ]] && break
    sleep 0.1
done
sleep 1
chaos() {
    local n=0 victim
    while true; do
        victim=${PEER_PIDS[$((RANDOM % 3))]}
        kill -STOP "$victim"
        n=$((n + 1))
        echo "$n" >"$WORK/stops"
        sleep "$EVERY"
        kill -CONT "$victim"
    done
}
chaos &
CHAOS_PID=$!
rc=0
wait "$BENCH_PID" || rc=$?
kill "$CHAOS_PID" 2>/dev/null || true
wait "$CHAOS_PID" 2>/dev/null || true
CHAOS_PID=
for pid in "${PEER_PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done

if [[ ! -s "$WORK/report.json" ]]; then
    echo "mictlanx-bench failed (exit $rc):" >&2
    cat "$WORK/bench.err" >&2
    exit 1
fi
python3 - "$WORK/report.json" "$(cat "$WORK/stops" 2>/dev/null || echo 0)" "$EVERY" \
    "$(($(counter mictlanx_router_hedges_total) - H0))" "$(($(counter mictlanx_router_hedges_won_total) - W0))" \
    "$(($(counter mictlanx_router_read_failovers_total) - F0))" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
stops, every, hedges, won, failovers = sys.argv[2:7]
l = r["latency"]
print(f"fault bench: GET {r['size_bytes']} B rf {r['rf']} at {r['rate']:g} ops/s for {r['elapsed_s']:.1f} s, "
      f"a random peer of 3 stopped for {every} s at a time ({stops} stops)")
print(f"  ops {r['ops']}  errors {r['errors']}  ops/s {r['ops_per_s']:.1f}")
print(f"  latency ms: p50 {l['p50_ms']:.3f}  p90 {l['p90_ms']:.3f}  p99 {l['p99_ms']:.3f}  max {l['max_ms']:.1f}")
print(f"  router: hedges {hedges} (won {won}), read failovers {failovers}")
if r.get("first_error"):
    print(f"  first error: {r['first_error']}")
EOF
exit "$rc"

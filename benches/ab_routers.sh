#!/usr/bin/env bash
# benches/ab_routers.sh — before/after of one change: two router binaries side by side on the same peer.
#
# Usage: benches/ab_routers.sh ROUTER_A ROUTER_B [ROUNDS]
#
# Starts one release `mictlanx-peer` and, for each of A and B, a cache-off and a cache-on router (all on
# loopback), then runs ROUNDS rounds (default 2) of three rows, A then B each time so drift on a shared
# machine hits both: GET 1 KiB cache off, GET 1 KiB Force-Get cache on (a miss that fills), and metadata GET
# cache on; concurrency 32. Prints ops/s, p99 and the router's CPU µs per operation (user + system ticks of
# that router over the run, preload and cleanup included). Build the "before" binary from the old commit
# (e.g. `git worktree add` or `git archive | tar -x` into a temporary directory, `cargo build --release`)
# and copy it aside first.
#
# Environment: BENCH_SECONDS (default 5), BENCH_PORT_BASE (default 29000: peer +0, routers +100..+103),
# MICTLANX_ROUTER_WORKER_THREADS (passed to every router), CARGO_TARGET_DIR (for the peer and the bench).
set -euo pipefail

A=$1
B=$2
ROUNDS=${3:-2}
SECS=${BENCH_SECONDS:-5}
BASE=${BENCH_PORT_BASE:-29000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release
W=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$W"' EXIT

MICTLANX_PEER_LOG_LEVEL=warn "$BIN/mictlanx-peer" --node-id p0 --port "$BASE" --host 127.0.0.1 \
    --base-path "$W/p0" --disk-capacity 10GB >"$W/p0.log" 2>&1 &
PIDS+=($!)
URI="mictlanx://p0@127.0.0.1:$BASE/?protocol=http&api_version=4"

declare -A PID PORT
# start NAME BINARY PORT CACHE
start() {
    mkdir -p "$W/$1"
    env MICTLANX_ROUTER_PORT="$3" MICTLANX_ROUTER_HOST=127.0.0.1 MICTLANX_PEERS_URI="$URI" \
        MICTLANX_ROUTER_STATE_DIR="$W/$1" MICTLANX_ROUTER_LOG_TO_FILE=0 MICTLANX_ROUTER_OPENTELEMETRY=0 \
        MICTLANX_ROUTER_LOG_LEVEL=warn MICTLANX_CACHE="$4" MICTLANX_CACHE_CAPACITY=10000 \
        "$2" >"$W/$1.log" 2>&1 &
    PIDS+=($!)
    PID[$1]=$!
    PORT[$1]=$3
}
start A-off "$A" $((BASE + 100)) 0
start B-off "$B" $((BASE + 101)) 0
start A-on "$A" $((BASE + 102)) 1
start B-on "$B" $((BASE + 103)) 1
for url in "$BASE/health" $((BASE + 100))/ready $((BASE + 101))/ready $((BASE + 102))/ready $((BASE + 103))/ready; do
    for _ in $(seq 300); do curl -fs -o /dev/null "http://127.0.0.1:$url" && break; sleep 0.1; done
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# run ROUTER-NAME ROW-TITLE BENCH-ARGS...
run() {
    local name=$1 title=$2 t0 t1 out
    shift 2
    t0=$(ticks "${PID[$name]}")
    out=$("$BIN/mictlanx-bench" --json --url "http://127.0.0.1:${PORT[$name]}" --size 1KiB --concurrency 32 \
        --keys 100 --bucket "ab$RANDOM" --cleanup --duration "${SECS}s" "$@")
    t1=$(ticks "${PID[$name]}")
    python3 -c 'import json, sys
r = json.loads(sys.argv[1])
us = int(sys.argv[4]) / float(sys.argv[5]) / r["ops"] * 1e6
print("%s  %-28s %9.1f ops/s  p99 %6.2f ms  router CPU %6.1f us/op" % (sys.argv[2], sys.argv[3], r["ops_per_s"], r["latency"]["p99_ms"], us))' \
        "$out" "${name%%-*}" "$title" $((t1 - t0)) "$(getconf CLK_TCK)"
}
for _ in $(seq "$ROUNDS"); do
    for ab in A B; do run "$ab-off" "GET 1 KiB, cache off" --op get; done
    for ab in A B; do run "$ab-on" "GET 1 KiB, Force-Get, cache on" --op get --force-get; done
    for ab in A B; do run "$ab-on" "metadata GET, cache on" --op get-metadata; done
done

#!/usr/bin/env bash
# benches/run_backends.sh — what the Redis state backend costs, as a ratio to the embedded backend measured in
# the same run on the same peers.
#
# Builds the release binaries, starts a `redis-server` (it must be installed), three `mictlanx-peer`s and four
# `mictlanx-router`s on loopback — embedded cache on/off, Redis cache on/off — and runs each row through
# `mictlanx-bench` once against the embedded router and once against the Redis one with the same parameters.
# Prints one table (Redis figures, embedded figures, Redis/embedded throughput ratio) and the CPU seconds the
# two routers under test and redis-server used. Every process it started is stopped on exit.
#
# Environment:
#   BENCH_SECONDS    length of each timed run (default 8; 8 runs plus preloads)
#   BENCH_PORT_BASE  first peer port (default 28000; peers +0..+2, routers +100..+103, redis +200)
#   BENCH_ROWS       comma-separated row ids (default all: get-1k-hit, get-1k-miss, put-1k, meta)
#   BENCH_DATA_DIR   where the peers' data goes (default $TMPDIR or /tmp; /dev/shm takes the disk out)
#   BENCH_KEEP       1 keeps the temporary directory
#   CARGO_TARGET_DIR where cargo puts the binaries (default <repo>/target)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_PER_ROW=${BENCH_SECONDS:-8}
PORT_BASE=${BENCH_PORT_BASE:-28000}
BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/release
REDIS_PORT=$((PORT_BASE + 200))
command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; exit 1; }

echo "==> cargo build --release --bins" >&2
(cd "$ROOT" && cargo build --release --bins)

WORK=$(mktemp -d -p "${BENCH_DATA_DIR:-${TMPDIR:-/tmp}}" mictlanx-backends.XXXXXX)
KEEP_WORK=${BENCH_KEEP:-0}
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"

redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --maxmemory-policy noeviction --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
REDIS_PID=$!

start_peers 3

declare -A URL PID
# start_router NAME PORT CACHE(1|0) BACKEND(embedded|redis)
start_router() {
    local name=$1 port=$2 cache=$3 backend=$4
    mkdir -p "$WORK/$name"
    env MICTLANX_ROUTER_PORT="$port" MICTLANX_ROUTER_HOST=127.0.0.1 MICTLANX_PEERS_URI="$PEERS_URI" \
        MICTLANX_ROUTER_STATE_DIR="$WORK/$name" MICTLANX_ROUTER_LOG_TO_FILE=0 \
        MICTLANX_ROUTER_OPENTELEMETRY=0 MICTLANX_ROUTER_LOG_LEVEL=warn MICTLANX_CACHE="$cache" \
        MICTLANX_CACHE_CAPACITY=10000 MICTLANX_ROUTER_STATE_BACKEND="$backend" \
        MICTLANX_ROUTER_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" MICTLANX_ROUTER_REDIS_PREFIX="$name" \
        "$BIN_DIR/mictlanx-router" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    PID[$name]=$!
    URL[$name]=http://127.0.0.1:$port
}
start_router emb-cache $((PORT_BASE + 100)) 1 embedded
start_router emb-nocache $((PORT_BASE + 101)) 0 embedded
start_router redis-cache $((PORT_BASE + 102)) 1 redis
start_router redis-nocache $((PORT_BASE + 103)) 0 redis
for name in emb-cache emb-nocache redis-cache redis-nocache; do
    wait_for "${URL[$name]}/ready" "$name"
done

RESULTS=$WORK/results.jsonl
: >"$RESULTS"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# bench LABEL ROUTER-NAME ARGS...: one run, with the CPU seconds of that router and of redis-server.
bench() {
    local label=$1 name=$2 out rc=0 r0 q0
    shift 2
    echo "==> $label: mictlanx-bench $*" >&2
    r0=$(ticks "${PID[$name]}")
    q0=$(ticks "$REDIS_PID")
    out=$("$BIN_DIR/mictlanx-bench" --json --label "$label" --target router --url "${URL[$name]}" \
        "$@" --duration "${SECONDS_PER_ROW}s" 2>"$WORK/bench.err") || rc=$?
    if [[ -n "$out" ]]; then
        python3 -c 'import json,sys; r=json.loads(sys.argv[1]); hz=float(sys.argv[2]); r["cpu_s"]={"router": int(sys.argv[3])/hz, "redis": int(sys.argv[4])/hz}; print(json.dumps(r))' \
            "$out" "$(getconf CLK_TCK)" "$(($(ticks "${PID[$name]}") - r0))" \
            "$(($(ticks "$REDIS_PID") - q0))" >>"$RESULTS"
    else
        python3 -c 'import json,sys; print(json.dumps({"label": sys.argv[1], "run_error": sys.argv[2]}))' \
            "$label" "exit $rc: $(cat "$WORK/bench.err")" >>"$RESULTS"
    fi
}

# row ID TITLE CACHE(cache|nocache) ARGS...: Redis first, then embedded, same arguments.
row() {
    local id=$1 title=$2 cache=$3
    shift 3
    if [[ -n "${BENCH_ROWS:-}" && ",$BENCH_ROWS," != *",$id,"* ]]; then return 0; fi
    bench "$id|redis|$title" "redis-$cache" "$@"
    bench "$id|embedded|$title" "emb-$cache" "$@"
}

row get-1k-hit "GET 1 KiB, cache hit, c32" cache \
    --op get --size 1KiB --concurrency 32 --keys 100 --bucket hit --cleanup
row get-1k-miss "GET 1 KiB, cache off, c32" nocache \
    --op get --size 1KiB --concurrency 32 --keys 100 --bucket miss --cleanup
row put-1k "PUT 1 KiB rf1, c32" cache \
    --op put --size 1KiB --concurrency 32 --rf 1 --bucket put1 --cleanup
row meta "metadata GET, c32" cache \
    --op get-metadata --size 1KiB --concurrency 32 --keys 100 --bucket meta --cleanup

python3 "$ROOT/benches/backends_table.py" "$RESULTS" \
    "each run ${SECONDS_PER_ROW}s; ratio = Redis/embedded throughput (same peers, same run)"

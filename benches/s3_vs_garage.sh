#!/usr/bin/env bash
# benches/s3_vs_garage.sh — the router's S3 API against its own MictlanX API, and against Garage.
#
# Builds the release binaries, starts three `mictlanx-peer`s and one `mictlanx-router` with the S3 API on
# (S3 objects at rf 3, byte cache off so every GET reads a peer) on loopback, and, when `garage` is on the
# PATH, a three-node Garage cluster with replication factor 3 (its rows are skipped otherwise). Each row runs
# through `mictlanx-bench` once against the router's S3 port (`--target s3`, SigV4-signed path-style
# requests), once against the router's MictlanX API with the same parameters (`--rf 3`), and once against
# Garage. It prints ops/s, MB/s, p50/p99 and errors of each, the S3/MictlanX throughput ratio (target ≥ 0.85),
# and the CPU µs per operation of the server processes (router + peers, or the Garage nodes; from
# /proc/PID/stat, preload and cleanup included), and the load generator's own CPU µs per operation (with GNU
# time). Every process it started is stopped on exit.
#
# Rows: PUT and GET of 4 KiB (c16), 1 MiB (c4), 64 MiB (c2), and listing pages of 1000 keys (ListObjectsV2
# on S3, the paged bucket listing on the MictlanX API) over 1000 objects.
#
# Garage is never vendored nor linked: install it yourself (about 20 minutes of compiling):
#   cargo install garage --version 2.5.0 --locked
#
# Environment:
#   BENCH_SECONDS   length of each timed run (default 8)
#   BENCH_PORT_BASE first peer port (default 28000; peers +0..+2, router +100, its S3 port +101, Garage
#                   nodes +200.. (S3), +210.. (RPC), +220.. (admin))
#   BENCH_ROWS      comma-separated row ids to run (default: all; ids: put-4k, get-4k, put-1m, get-1m,
#                   put-64m, get-64m, list-1000)
#   BENCH_DATA_DIR  where data directories and logs go (default: $TMPDIR or /tmp); /dev/shm takes the disk out
#   BENCH_KEEP      set to 1 to keep the temporary directory (logs, raw JSON)
#   BENCH_GARAGE    set to 0 to skip Garage even when it is installed
#   CARGO_TARGET_DIR  where cargo puts the binaries (default: <repo>/target)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_PER_ROW=${BENCH_SECONDS:-8}
PORT_BASE=${BENCH_PORT_BASE:-28000}
BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/release
ROUTER_PORT=$((PORT_BASE + 100))
S3_PORT=$((PORT_BASE + 101))
ROUTER=http://127.0.0.1:$ROUTER_PORT
S3=http://127.0.0.1:$S3_PORT
ACCESS=mictlanx-bench
SECRET=mictlanx-bench-secret

echo "==> cargo build --release --bins" >&2
(cd "$ROOT" && cargo build --release --bins)

WORK=$(mktemp -d -p "${BENCH_DATA_DIR:-${TMPDIR:-/tmp}}" mictlanx-s3.XXXXXX)
KEEP_WORK=${BENCH_KEEP:-0}
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
start_peers 3

mkdir -p "$WORK/router"
env MICTLANX_ROUTER_PORT="$ROUTER_PORT" MICTLANX_ROUTER_HOST=127.0.0.1 MICTLANX_PEERS_URI="$PEERS_URI" \
    MICTLANX_ROUTER_STATE_DIR="$WORK/router" MICTLANX_ROUTER_LOG_TO_FILE=0 \
    MICTLANX_ROUTER_OPENTELEMETRY=0 MICTLANX_ROUTER_LOG_LEVEL=warn MICTLANX_CACHE=0 \
    MICTLANX_S3_PORT="$S3_PORT" MICTLANX_S3_ACCESS_KEY="$ACCESS" MICTLANX_S3_SECRET_KEY="$SECRET" \
    MICTLANX_S3_REPLICATION_FACTOR=3 \
    "$BIN_DIR/mictlanx-router" >"$WORK/router.log" 2>&1 &
ROUTER_PID=$!
PIDS+=("$ROUTER_PID")
wait_for "$ROUTER/ready" router

GARAGE_PIDS=()
GARAGE_NOTE=
if [[ "${BENCH_GARAGE:-1}" == 0 ]]; then
    GARAGE_NOTE="Garage rows skipped (BENCH_GARAGE=0)"
elif ! command -v garage >/dev/null 2>&1; then
    GARAGE_NOTE="garage is not on the PATH (cargo install garage --version 2.5.0 --locked): its rows are skipped"
else
    source "$ROOT/benches/garage.sh"
    start_garage 3
    GARAGE_NOTE="$(garage --version 2>&1 | head -n 1), three nodes, replication factor 3"
fi

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
DUR=(--duration "${SECONDS_PER_ROW}s")

# cpu_ticks PID...: user+system clock ticks used so far by these processes (fields 14 and 15 of stat).
cpu_ticks() {
    local pid total=0 t
    for pid in "$@"; do
        t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
        total=$((total + t))
    done
    echo "$total"
}

# The load generator's own user+system CPU seconds (SigV4 signing and hashing on the S3 side), when GNU time is
# installed: it runs on the same cores as the servers.
TIMER=()
if [[ -x /usr/bin/time ]]; then TIMER=(/usr/bin/time -f "%U+%S" -o "$WORK/client.cpu.raw"); fi

# bench LABEL ARGS...: one mictlanx-bench run; its JSON report (or the failure) goes to RESULTS, with the CPU
# seconds the router, the peers and the Garage nodes used during the run added as "cpu_s".
bench() {
    local label=$1 out rc=0 r0 p0 g0
    shift
    echo "==> $label: mictlanx-bench $*" >&2
    r0=$(cpu_ticks "$ROUTER_PID")
    p0=$(cpu_ticks "${PEER_PIDS[@]}")
    g0=$(cpu_ticks "${GARAGE_PIDS[@]}")
    : >"$WORK/client.cpu"
    rm -f "$WORK/client.cpu.raw"
    out=$("${TIMER[@]}" "$BIN_DIR/mictlanx-bench" --json --label "$label" "$@" 2>"$WORK/bench.err") || rc=$?
    if [[ -s "$WORK/client.cpu.raw" ]]; then
        python3 -c 'import sys; print(sum(float(x) for x in open(sys.argv[1]).read().split()[-1].split("+")))' \
            "$WORK/client.cpu.raw" >"$WORK/client.cpu" || true
    fi
    if [[ -n "$out" ]]; then
        python3 -c 'import json,sys; r=json.loads(sys.argv[1]); hz=float(sys.argv[2]); r["cpu_s"]={"router": int(sys.argv[3])/hz, "peers": int(sys.argv[4])/hz, "garage": int(sys.argv[5])/hz}; c=open(sys.argv[6]).read().split(); r["cpu_s"]["client"]=float(c[-1]) if c else None; print(json.dumps(r))' \
            "$out" "$(getconf CLK_TCK)" \
            "$(($(cpu_ticks "$ROUTER_PID") - r0))" \
            "$(($(cpu_ticks "${PEER_PIDS[@]}") - p0))" \
            "$(($(cpu_ticks "${GARAGE_PIDS[@]}") - g0))" \
            "$WORK/client.cpu" \
            >>"$RESULTS"
    else
        python3 -c 'import json,sys; print(json.dumps({"label": sys.argv[1], "run_error": sys.argv[2]}))' \
            "$label" "exit $rc: $(cat "$WORK/bench.err")" >>"$RESULTS"
    fi
}

# row ID TITLE ARGS...: the same run through the router's S3 API, its MictlanX API, and Garage.
row() {
    local id=$1 title=$2
    shift 2
    if [[ -n "${BENCH_ROWS:-}" && ",$BENCH_ROWS," != *",$id,"* ]]; then return 0; fi
    bench "$id|s3|$title" --target s3 --url "$S3" --access-key "$ACCESS" --secret-key "$SECRET" \
        --bucket "s3-$id" "$@" "${DUR[@]}"
    bench "$id|mx|$title" --target router --url "$ROUTER" --rf 3 --bucket "mx-$id" "$@" "${DUR[@]}"
    if [[ ${#GARAGE_PIDS[@]} -gt 0 ]]; then
        bench "$id|garage|$title" --target s3 --url "$GARAGE_S3" --access-key "$GARAGE_ACCESS" \
            --secret-key "$GARAGE_SECRET" --region garage --bucket "s3-$id" "$@" "${DUR[@]}"
    fi
}

row put-4k "PUT 4 KiB, c16" --op put --size 4KiB --concurrency 16 --cleanup
row get-4k "GET 4 KiB, c16" --op get --size 4KiB --concurrency 16 --keys 100 --cleanup
row put-1m "PUT 1 MiB, c4" --op put --size 1MiB --concurrency 4 --cleanup
row get-1m "GET 1 MiB, c4" --op get --size 1MiB --concurrency 4 --keys 16 --cleanup
row put-64m "PUT 64 MiB, c2" --op put --size 64MiB --concurrency 2 --cleanup
row get-64m "GET 64 MiB, c2" --op get --size 64MiB --concurrency 2 --keys 2 --cleanup
row list-1000 "list pages of 1000 keys, c4" --op list --size 16 --concurrency 4 --keys 1000 --cleanup

echo
echo "router S3 and MictlanX API: $(nproc) cores, rf 3, cache off, ${SECONDS_PER_ROW} s per run; $GARAGE_NOTE"
python3 "$ROOT/benches/s3_table.py" "$RESULTS"

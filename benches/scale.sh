#!/usr/bin/env bash
# benches/scale.sh — what a space of N objects costs: Redis memory per object, the Redis CPU and wall time of
# an inventory pass (steady, and after 1% of the objects changed behind the router's back), the latency of
# listing pages of 1000 in a bucket of N keys, router and peer RSS, and a peer's restart time.
#
# Real processes on tmpfs (/dev/shm when there is one): release build, one `redis-server`, three
# `mictlanx-peer`s and one `mictlanx-router` on the Redis backend. N objects of 16 bytes at rf 3 are loaded
# through the router with `mictlanx-bench` (concurrent PUTs); the 1% change is written straight to the three
# peers (the router learns it from its next pass). Every process it started is stopped on exit.
#
# Environment:
#   SCALE_N            objects to load (default 1000000)
#   SCALE_CONCURRENCY  PUTs in flight while loading (default 32)
#   SCALE_PORT_BASE    first peer port (default 29000; peers +0..+2, router +100, redis +200)
#   SCALE_KEEP         1 keeps the temporary directory
#   CARGO_TARGET_DIR   where cargo puts the binaries (default <repo>/target)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${SCALE_N:-1000000}
CONC=${SCALE_CONCURRENCY:-32}
PORT_BASE=${SCALE_PORT_BASE:-29000}
BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/release
REDIS_PORT=$((PORT_BASE + 200))
ROUTER_PORT=$((PORT_BASE + 100))
ROUTER=http://127.0.0.1:$ROUTER_PORT
BUCKET=scale
CHANGED=$(( N / 100 > 0 ? N / 100 : 1 ))
command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; exit 1; }

echo "==> cargo build --release --bins" >&2
(cd "$ROOT" && cargo build --release --bins)

DATA_DIR=/dev/shm
[[ -d $DATA_DIR && -w $DATA_DIR ]] || DATA_DIR=${TMPDIR:-/tmp}
WORK=$(mktemp -d -p "$DATA_DIR" mictlanx-scale.XXXXXX)
KEEP_WORK=${SCALE_KEEP:-0}
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"

# the recommended Redis settings of docs/multi-router.md (compact hashes for records and per-peer indexes)
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --maxmemory-policy noeviction --hash-max-listpack-value 128 --hash-max-listpack-entries 512 \
    --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
REDIS_PID=$!
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
for _ in $(seq 1 100); do rcli ping >/dev/null 2>&1 && break; sleep 0.1; done

start_peers 3

# start_router INTERVAL: the router on Redis with inventory passes every INTERVAL (`0` = start-up only).
ROUTER_PID=
start_router() {
    mkdir -p "$WORK/router"
    env MICTLANX_ROUTER_PORT="$ROUTER_PORT" MICTLANX_ROUTER_HOST=127.0.0.1 MICTLANX_PEERS_URI="$PEERS_URI" \
        MICTLANX_ROUTER_STATE_DIR="$WORK/router" MICTLANX_ROUTER_LOG_TO_FILE=0 \
        MICTLANX_ROUTER_OPENTELEMETRY=0 MICTLANX_ROUTER_LOG_LEVEL=warn MICTLANX_CACHE=0 \
        MICTLANX_ROUTER_STATE_BACKEND=redis MICTLANX_ROUTER_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
        MICTLANX_ROUTER_REDIS_PREFIX=s MICTLANX_ROUTER_REBUILD_INTERVAL="$1" \
        "$BIN_DIR/mictlanx-router" >>"$WORK/router.log" 2>&1 &
    ROUTER_PID=$!
    PIDS+=("$ROUTER_PID")
    wait_for "$ROUTER/ready" router
}
stop_router() {
    kill "$ROUTER_PID" 2>/dev/null || true
    wait "$ROUTER_PID" 2>/dev/null || true
}

redis_mem() { rcli info memory | awk -F: '/^used_memory:/ {print $2+0}'; }
redis_cpu() { rcli info cpu | awk -F: '/^used_cpu_sys:/ {s=$2} /^used_cpu_user:/ {u=$2} END {printf "%.6f", s+u}'; }
# metric NAME: the sum of every sample of NAME in the router's /metrics (0 when absent).
metric() {
    curl -fsS "$ROUTER/metrics" | awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%.6f", s+0}'
}
passes() { metric 'mictlanx_router_inventory_passes_total{outcome="complete"}' | cut -d. -f1; }
# wait_passes K: until K more complete single-peer passes ran (3 = one full pass over the three peers).
wait_passes() {
    local target=$(( $(passes) + $1 )) i
    for i in $(seq 1 36000); do
        [[ $(passes) -ge $target ]] && return 0
        sleep 0.1
    done
    echo "inventory passes did not complete" >&2
    exit 1
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# --- load N objects (passes at start-up only, so the load is measured alone) ---
start_router 0
MEM0=$(redis_mem)
T0=$(date +%s.%N)
"$BIN_DIR/mictlanx-bench" --target router --url "$ROUTER" --op put --ops "$N" --size 16 --rf 3 \
    --concurrency "$CONC" --bucket "$BUCKET" >"$WORK/load.txt" 2>&1 || { cat "$WORK/load.txt" >&2; exit 1; }
T1=$(date +%s.%N)
MEM1=$(redis_mem)
# the record count is kept per shard ({s:N}:count:o, 1024 shards: docs/replica-manager.md)
OBJECTS=$(for i in $(seq 0 1023); do echo "GET {s:$i}:count:o"; done | rcli | awk '{n += $1} END {print n + 0}')
stop_router

# --- passes every 2 s: a steady pass, then a pass after 1% changed on the peers ---
start_router 2s
wait_passes 3
snapshot() { echo "$(redis_cpu) $(metric mictlanx_router_state_object_writes_total) $(metric mictlanx_router_inventory_pass_seconds_sum) $(metric mictlanx_router_inventory_pass_seconds_count) $(date +%s.%N)"; }
read -r C0 W0 S0 K0 _ <<<"$(snapshot)"
wait_passes 3
read -r C1 W1 S1 K1 _ <<<"$(snapshot)"

"$BIN_DIR/mictlanx-bench" --target peer --url "http://127.0.0.1:$PORT_BASE" \
    --mirror "http://127.0.0.1:$((PORT_BASE + 1))" --mirror "http://127.0.0.1:$((PORT_BASE + 2))" \
    --op put --ops "$CHANGED" --size 16 --concurrency "$CONC" --bucket "$BUCKET" >"$WORK/change.txt" 2>&1 \
    || { cat "$WORK/change.txt" >&2; exit 1; }
read -r C2 W2 S2 K2 _ <<<"$(snapshot)"
wait_passes 6
read -r C3 W3 S3 K3 _ <<<"$(snapshot)"

# --- listing pages of 1000 over the whole bucket ---
python3 - "$ROUTER" "$BUCKET" >"$WORK/pages.txt" <<'PY'
import json, sys, time, urllib.parse, urllib.request
base, bucket = sys.argv[1], sys.argv[2]
after, lat, keys = None, [], 0
while True:
    q = {"limit": "1000"}
    if after:
        q["start_after"] = after
    url = f"{base}/api/v4/buckets/{bucket}/metadata?{urllib.parse.urlencode(q)}"
    t = time.perf_counter()
    page = json.load(urllib.request.urlopen(url, timeout=120))
    lat.append(time.perf_counter() - t)
    keys += len(page["balls"])
    after = page["next_start_after"]
    if after is None:
        break
lat.sort()
pick = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
print(f"{len(lat)} {keys} {pick(0.50):.1f} {pick(0.99):.1f}")
PY
read -r PAGES LISTED P50 P99 <"$WORK/pages.txt"

ROUTER_RSS=$(rss_kib "$ROUTER_PID")
PEER_RSS=$(rss_kib "${PEER_PIDS[0]}")

# --- restart of peer p0 with its objects ---
kill "${PEER_PIDS[0]}"
wait "${PEER_PIDS[0]}" 2>/dev/null || true
R0=$(date +%s.%N)
MICTLANX_PEER_LOG_LEVEL=warn "$BIN_DIR/mictlanx-peer" --node-id p0 --port "$PORT_BASE" --host 127.0.0.1 \
    --base-path "$WORK/p0" --disk-capacity 100GB >>"$WORK/p0.log" 2>&1 &
PIDS+=($!)
PEER_PIDS[0]=$!
wait_for "http://127.0.0.1:$PORT_BASE/health" p0
R1=$(date +%s.%N)

python3 - <<PY
n, changed = $N, $CHANGED
us = lambda c: c * 1e6 / (n + changed)
steady_cpu, change_cpu = $C1 - $C0, $C3 - $C2
print(f"objects loaded:                  {n} (rf 3, 16 B, bucket '$BUCKET'; {int('$OBJECTS' or 0)} records) in {$T1 - $T0:.1f} s")
print(f"redis bytes per object:          {($MEM1 - $MEM0) / n:.0f}")
print(f"steady pass (3 peers):           redis cpu {steady_cpu:.3f} s = {us(steady_cpu):.2f} us/object, "
      f"{$W1 - $W0:.0f} records written, {($S1 - $S0) / max($K1 - $K0, 1):.2f} s per single-peer pass")
print(f"2 passes after {changed} changed:   redis cpu {change_cpu:.3f} s = {us(change_cpu):.2f} us/object, "
      f"{$W3 - $W2:.0f} records written, {($S3 - $S2) / max($K3 - $K2, 1):.2f} s per single-peer pass")
print(f"listing pages of 1000:           {$PAGES} pages, {$LISTED} keys, p50 {$P50} ms, p99 {$P99} ms")
print(f"rss:                             router {$ROUTER_RSS / 1024:.0f} MiB, peer p0 {$PEER_RSS / 1024:.0f} MiB")
print(f"peer restart with {n + changed} objects: {$R1 - $R0:.2f} s to /health")
PY

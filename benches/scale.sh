#!/usr/bin/env bash
# benches/scale.sh — what a space of N objects costs: Redis memory per object, how long the router's start-up
# pass takes to adopt N objects it finds on the peers, the Redis CPU and wall time of an inventory pass
# (steady, and after 1% of the objects changed behind the router's back), the latency of listing pages of
# 1000 in a bucket of N keys and the time of its complete (unpaged) listing, router and peer RSS, and a
# peer's restart time.
#
# Real processes on tmpfs (/dev/shm when there is one): release build, one `redis-server`, three
# `mictlanx-peer`s and one `mictlanx-router` on the Redis backend. N objects of 16 bytes at rf 3 go into
# bucket `scale`, by one of two loading modes:
#   peers  (default) `mictlanx-bench --target peer --mirror …` writes every object straight to the three peers
#          (one version and factor 3 on all three copies, as a router's fan-out writes them; 4-5x faster
#          than through the router), then the router is restarted and its start-up pass adopts them: that
#          pass writes the N records, and its wall time, Redis CPU and record writes are printed. What the
#          router's PUT path costs is not measured in this mode.
#   router `mictlanx-bench --target router --rf 3` PUTs every object through the router (its write path:
#          task groups, claims, commits), which records them as it goes.
# Both leave the same records (one per object, three holders); the router mode also leaves its PUTs' task-id
# locators in Redis until MICTLANX_ROUTER_TASK_TTL (1 h), which its bytes per object include. The 1% change
# is always written straight to the three peers (the router learns it from its next pass). Every process it
# started is stopped on exit.
#
# Memory: each copy costs a peer about 2.1 KiB of RAM (its index) and two small files on tmpfs (a 4 KiB page
# each, plus an inode and a dentry, about 1 KiB; the script prints the measured KiB per copy): budget about
# 12 KiB of RAM per copy, 36 KiB per object (three copies), so N = 10^6 needs about 34 GiB.
#
# Environment:
#   SCALE_N            objects to load (default 1000000)
#   SCALE_LOAD         `peers` (default) or `router`: how the N objects are loaded (above)
#   SCALE_KEY_LEN      every key zero-padded to this many characters (default: `{run}-p{i}`, 10-17 characters)
#   SCALE_LISTPACK_ENTRIES  Redis `hash-max-listpack-entries` (default 512, the recommended setting). A
#                      per-peer index hash holds one shard's keys of one peer (about N/1024 at rf 3 on 3
#                      peers) and stays a compact listpack up to this many: a lower value measures, at a
#                      small N, what an index entry costs beyond 512 per shard (over ~500 000 objects a peer)
#   SCALE_CONCURRENCY  PUTs in flight while loading (default 32)
#   SCALE_PORT_BASE    first peer port (default 29000; peers +0..+2, router +100, redis +200)
#   SCALE_KEEP         1 keeps the temporary directory
#   CARGO_TARGET_DIR   where cargo puts the binaries (default <repo>/target)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${SCALE_N:-1000000}
LOAD=${SCALE_LOAD:-peers}
KEY_LEN=${SCALE_KEY_LEN:-}
LISTPACK_ENTRIES=${SCALE_LISTPACK_ENTRIES:-512}
CONC=${SCALE_CONCURRENCY:-32}
PORT_BASE=${SCALE_PORT_BASE:-29000}
BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/release
REDIS_PORT=$((PORT_BASE + 200))
ROUTER_PORT=$((PORT_BASE + 100))
ROUTER=http://127.0.0.1:$ROUTER_PORT
BUCKET=scale
CHANGED=$(( N / 100 > 0 ? N / 100 : 1 ))
command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; exit 1; }
[[ $LOAD == peers || $LOAD == router ]] || { echo "SCALE_LOAD must be peers or router, not '$LOAD'" >&2; exit 2; }
KEY_ARGS=()
if [[ -n $KEY_LEN ]]; then KEY_ARGS=(--key-len "$KEY_LEN"); fi

# another run (of this or another bench) on these ports would answer in place of this run's processes
for port in $PORT_BASE $((PORT_BASE + 1)) $((PORT_BASE + 2)) $ROUTER_PORT $REDIS_PORT; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "port $port is in use: stop what listens there or pick another SCALE_PORT_BASE" >&2
        exit 1
    fi
done

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
    --maxmemory-policy noeviction --hash-max-listpack-value 128 --hash-max-listpack-entries "$LISTPACK_ENTRIES" \
    --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
REDIS_PID=$!
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
# on a failed run, say whether Redis was gone (killed from outside: its figures would be meaningless)
before_stop() {
    kill -0 "$REDIS_PID" 2>/dev/null || echo "redis-server (pid $REDIS_PID) was no longer running" >&2
}
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
# stop_router: SIGTERM and wait; then drop its leader lease (key `{s}:lease:leader`), which would keep the
# next router from being the leader, and so from running its start-up pass, for up to three health intervals.
stop_router() {
    kill "$ROUTER_PID" 2>/dev/null || true
    wait "$ROUTER_PID" 2>/dev/null || true
    rcli del '{s}:lease:leader' >/dev/null
}

redis_mem() { rcli info memory | awk -F: '/^used_memory:/ {print $2+0}'; }
redis_cpu() { rcli info cpu | awk -F: '/^used_cpu_sys:/ {s=$2} /^used_cpu_user:/ {u=$2} END {printf "%.6f", s+u}'; }
# metric NAME: the sum of every sample of NAME in the router's /metrics (0 when absent).
metric() {
    curl -fsS "$ROUTER/metrics" | awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%.6f", s+0}'
}
passes() { metric 'mictlanx_router_inventory_passes_total{outcome="complete"}' | cut -d. -f1; }
incomplete() { metric 'mictlanx_router_inventory_passes_total{outcome="incomplete"}' | cut -d. -f1; }
# wait_passes_until TARGET [strict]: until this router process has run TARGET complete single-peer passes.
# `strict` (the start-up passes) fails the run when a pass ends incomplete: the figures would not be those of
# whole passes. Otherwise an incomplete pass (a peer or Redis too slow on a loaded machine) is waited past
# and counted in the output.
wait_passes_until() {
    local i
    for i in $(seq 1 36000); do
        [[ $(passes) -ge $1 ]] && return 0
        if [[ ${2:-} == strict && $(incomplete) -ne 0 ]]; then
            echo "an inventory pass ended incomplete" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "inventory passes did not complete" >&2
    exit 1
}
# wait_passes K: until K more complete single-peer passes ran (3 = one full pass over the three peers).
wait_passes() { wait_passes_until $(( $(passes) + $1 )); }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# peer_load COUNT OUT: COUNT objects written straight to the three peers (same version on every copy).
peer_load() {
    "$BIN_DIR/mictlanx-bench" --target peer --url "http://127.0.0.1:$PORT_BASE" \
        --mirror "http://127.0.0.1:$((PORT_BASE + 1))" --mirror "http://127.0.0.1:$((PORT_BASE + 2))" \
        --op put --ops "$1" --size 16 --concurrency "$CONC" --bucket "$BUCKET" "${KEY_ARGS[@]}" >"$2" 2>&1 \
        || { cat "$2" >&2; exit 1; }
}
# the record count is kept per shard ({s:N}:count:o, 1024 shards: docs/replica-manager.md)
records() { for i in $(seq 0 1023); do echo "GET {s:$i}:count:o"; done | rcli | awk '{n += $1} END {print n + 0}'; }

# listings: pages of 1000 over the whole bucket, then its complete listing in one answer, on the router of
# the load (rebuild interval 0: no pass running), so they are measured alone; then the router's RSS.
listings() {
    python3 "$ROOT/benches/scale_listing.py" paged "$ROUTER" "$BUCKET" >"$WORK/pages.txt"
    read -r PAGES LISTED P50 P99 <"$WORK/pages.txt"
    python3 "$ROOT/benches/scale_listing.py" unpaged "$ROUTER" "$BUCKET" >"$WORK/unpaged.txt"
    read -r UNPAGED_S UNPAGED_KEYS UNPAGED_DONE <"$WORK/unpaged.txt"
    ROUTER_RSS=$(rss_kib "$ROUTER_PID")
}

# --- load N objects (passes at start-up only, so the load is measured alone) ---
# The router starts on the empty peers first, so the memory baseline holds what a running router keeps in
# Redis with no object (registry, leader lease, counters).
start_router 0
wait_passes_until 3 strict
MEM0=$(redis_mem)
T0=$(date +%s.%N)
ADOPT=
if [[ $LOAD == router ]]; then
    "$BIN_DIR/mictlanx-bench" --target router --url "$ROUTER" --op put --ops "$N" --size 16 --rf 3 \
        --concurrency "$CONC" --bucket "$BUCKET" "${KEY_ARGS[@]}" >"$WORK/load.txt" 2>&1 \
        || { cat "$WORK/load.txt" >&2; exit 1; }
    T1=$(date +%s.%N)
    listings
    stop_router
else
    peer_load "$N" "$WORK/load.txt"
    T1=$(date +%s.%N)
    stop_router
    # the start-up pass of a fresh router process adopts the N objects: it writes their N records
    AC0=$(redis_cpu)
    A0=$(date +%s.%N)
    start_router 0
    wait_passes_until 3 strict
    A1=$(date +%s.%N)
    AC1=$(redis_cpu)
    ADOPT="$(python3 -c "print(f'{$A1 - $A0:.1f}')") $(python3 -c "print(f'{$AC1 - $AC0:.3f}')")"
    ADOPT+=" $(metric mictlanx_router_state_object_writes_total | cut -d. -f1)"
    ADOPT+=" $(metric mictlanx_router_inventory_pass_seconds_sum)"
    ADOPT+=" $(metric mictlanx_router_repairs_total | cut -d. -f1) $(metric mictlanx_router_repair_deletes_total | cut -d. -f1)"
    listings
    stop_router
fi
MEM1=$(redis_mem)
OBJECTS=$(records)
PEER_FILES_KIB=$(du -sk "$WORK/p0" | cut -f1)

# --- passes every 2 s: a steady pass, then a pass after 1% changed on the peers ---
start_router 2s
wait_passes 3
snapshot() { echo "$(redis_cpu) $(metric mictlanx_router_state_object_writes_total) $(metric mictlanx_router_inventory_pass_seconds_sum) $(metric mictlanx_router_inventory_pass_seconds_count) $(date +%s.%N)"; }
read -r C0 W0 S0 K0 _ <<<"$(snapshot)"
wait_passes 3
read -r C1 W1 S1 K1 _ <<<"$(snapshot)"

peer_load "$CHANGED" "$WORK/change.txt"
read -r C2 W2 S2 K2 _ <<<"$(snapshot)"
wait_passes 6
read -r C3 W3 S3 K3 _ <<<"$(snapshot)"
INCOMPLETE=$(incomplete)

PEER_RSS=$(rss_kib "${PEER_PIDS[0]}")

# --- restart of peer p0 with its objects ---
kill "${PEER_PIDS[0]}"
wait "${PEER_PIDS[0]}" 2>/dev/null || true
R0=$(date +%s.%N)
MICTLANX_PEER_LOG_LEVEL=warn "$BIN_DIR/mictlanx-peer" --node-id p0 --port "$PORT_BASE" --host 127.0.0.1 \
    --base-path "$WORK/p0" --disk-capacity 100GB >>"$WORK/p0.log" 2>&1 &
PIDS+=($!)
PEER_PIDS[0]=$!
wait_for "http://127.0.0.1:$PORT_BASE/health" p0 $(( 60 + N / 1000 ))
R1=$(date +%s.%N)

python3 - <<PY
n, changed, total = $N, $CHANGED, $N + $CHANGED
us = lambda c: c * 1e6 / total
steady_cpu, change_cpu = $C1 - $C0, $C3 - $C2
keys = "$KEY_LEN-character keys" if "$KEY_LEN" else "keys {run}-p{i}"
print(f"objects loaded:                  {n} (rf 3, 16 B, bucket '$BUCKET', {keys}; {int('$OBJECTS' or 0)} records) "
      f"in {$T1 - $T0:.1f} s = {n / ($T1 - $T0):.0f} objects/s, " + ("PUT through the router" if "$LOAD" == "router" else "written straight to the peers"))
adopt = "$ADOPT".split()
if adopt:
    wall, cpu, writes, pass_s, repairs, deletes = adopt
    print(f"start-up pass adopting them:     {float(wall):.1f} s from router start to 3 complete peer passes "
          f"({float(pass_s) / 3:.1f} s per peer pass, concurrent), {int(writes)} records written, redis cpu "
          f"{float(cpu):.3f} s = {float(cpu) * 1e6 / n:.2f} us/object; repairs {repairs}, repair deletes {deletes}")
print(f"redis bytes per object:          {($MEM1 - $MEM0) / n:.0f} (hash-max-listpack-entries $LISTPACK_ENTRIES)")
print(f"peer p0 files on tmpfs:          {$PEER_FILES_KIB / n:.2f} KiB per copy (du)")
print(f"steady pass (3 peers):           redis cpu {steady_cpu:.3f} s = {us(steady_cpu):.2f} us/object, "
      f"{$W1 - $W0:.0f} records written, {($S1 - $S0) / max($K1 - $K0, 1):.2f} s per single-peer pass")
print(f"2 passes after {changed} changed:   redis cpu {change_cpu:.3f} s = {us(change_cpu):.2f} us/object, "
      f"{$W3 - $W2:.0f} records written, {($S3 - $S2) / max($K3 - $K2, 1):.2f} s per single-peer pass")
if $INCOMPLETE:
    print(f"incomplete single-peer passes:   $INCOMPLETE (the pass figures above include them)")
print(f"listing pages of 1000:           {$PAGES} pages, {$LISTED} keys of {n}, p50 {$P50} ms, p99 {$P99} ms")
complete = "complete" if $UNPAGED_DONE == 1 and $UNPAGED_KEYS == n else "INCOMPLETE"
print(f"unpaged listing:                 {$UNPAGED_KEYS} keys of {n} in {$UNPAGED_S} s ({complete})")
print(f"rss:                             router {$ROUTER_RSS / 1024:.0f} MiB (after the listings), peer p0 {$PEER_RSS / 1024:.0f} MiB")
print(f"peer restart with {total} objects: {$R1 - $R0:.2f} s to /health")
PY
# a listing that missed objects fails the run (CI smoke-runs this script)
[[ $LISTED == "$N" && $UNPAGED_KEYS == "$N" && $UNPAGED_DONE == 1 ]] \
    || { echo "the bucket's listings are incomplete" >&2; exit 1; }

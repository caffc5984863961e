#!/usr/bin/env bash
# benches/run_matrix.sh — the standard router-vs-direct benchmark matrix on one machine.
#
# Builds the release binaries, starts three `mictlanx-peer`s and two `mictlanx-router`s on loopback (one with
# the byte cache on, one with it off), runs each matrix row through `mictlanx-bench` once against a router and
# once directly against peer p0 with the same parameters, then prints one table (router figures, direct
# figures, router/direct throughput ratio), the CPU seconds the routers, the peers and mictlanx-bench used
# during each run, and the routers' peak RSS. Every process it started is stopped on exit; the temporary
# data directories are removed.
#
# When `nginx` is installed (Debian `nginx-light`), nginx runs as the reference
# reverse proxy in front of peer p0 (keep-alive upstream pool, no access log, never spooling to disk) and the
# GET 1 KiB, GET 10 MiB and metadata GET rows also run through it; the table then shows router/nginx next to
# router/direct and the CPU µs per request of the router and of nginx. Without nginx it says so and skips
# those runs. The direct side of PUT 64 MiB rf 3 writes three copies to p0, p1 and p2 itself
# (`mictlanx-bench --mirror`), the same work as the router's fan-out. The table ends with the performance targets
# (docs/performance/README.md).
#
# Environment:
#   BENCH_SECONDS   length of each timed run (default 8; the whole matrix is 14 runs plus preloads)
#   BENCH_PORT_BASE first peer port (default 27000; peers use +0..+2, routers +100 (cache) and +101 (no cache))
#   BENCH_KEEP      set to 1 to keep the temporary directory (logs, raw JSON) for inspection
#   BENCH_DATA_DIR  where the peers' data directories (and logs) go (default: $TMPDIR or /tmp). The peers
#                   fsync every object, so on a disk the PUT rows measure the disk; /dev/shm (tmpfs) takes
#                   the disk out and leaves the router, the loopback and the CPUs.
#   BENCH_ROWS      comma-separated row ids to run (default: all; ids: get-1k-hit, get-1k-miss,
#                   get-1k-force, get-1k-paced, get-10m, put-10m, put-64m, meta)
#   BENCH_NGINX     set to 0 to skip the nginx runs even when nginx is installed (port: BENCH_PORT_BASE+200)
#   BENCH_ROUTER_WORKERS  MICTLANX_ROUTER_WORKER_THREADS of both routers (default 0 = one per core, the
#                   router's default; 1 costs less CPU per request on a machine shared with the peers and the
#                   load generator, see docs/performance/2026-12-01-small-requests.md)
#   BENCH_PACED_RATE  fixed rate of the get-1k-paced row (default 1000 ops/s: well below the router's saturation
#                   on a 2-core machine, so its latency is what a request costs, not queueing)
#   CARGO_TARGET_DIR  where cargo puts the binaries (default: <repo>/target)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_PER_ROW=${BENCH_SECONDS:-8}
PORT_BASE=${BENCH_PORT_BASE:-27000}
BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/release
ROUTER_CACHE_PORT=$((PORT_BASE + 100))
ROUTER_NOCACHE_PORT=$((PORT_BASE + 101))
ROUTER_CACHE=http://127.0.0.1:$ROUTER_CACHE_PORT
ROUTER_NOCACHE=http://127.0.0.1:$ROUTER_NOCACHE_PORT
PEER0=http://127.0.0.1:$PORT_BASE
PEER1=http://127.0.0.1:$((PORT_BASE + 1))
PEER2=http://127.0.0.1:$((PORT_BASE + 2))
NGINX_PORT=$((PORT_BASE + 200))
NGINX=http://127.0.0.1:$NGINX_PORT

echo "==> cargo build --release --bins" >&2
(cd "$ROOT" && cargo build --release --bins)

WORK=$(mktemp -d -p "${BENCH_DATA_DIR:-${TMPDIR:-/tmp}}" mictlanx-matrix.XXXXXX)
KEEP_WORK=${BENCH_KEEP:-0}
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
LAST_PID=
start_peers 3

CACHE_BYTES=1000000000
# start_router NAME PORT CACHE(1|0): starts one router; its pid is left in LAST_PID.
start_router() {
    local name=$1 port=$2 cache=$3
    mkdir -p "$WORK/$name"
    env MICTLANX_ROUTER_PORT="$port" MICTLANX_ROUTER_HOST=127.0.0.1 MICTLANX_PEERS_URI="$PEERS_URI" \
        MICTLANX_ROUTER_STATE_DIR="$WORK/$name" MICTLANX_ROUTER_LOG_TO_FILE=0 \
        MICTLANX_ROUTER_OPENTELEMETRY=0 MICTLANX_ROUTER_LOG_LEVEL=warn MICTLANX_CACHE="$cache" \
        MICTLANX_CACHE_CAPACITY=10000 MICTLANX_CACHE_CAPACITY_STORAGE="$CACHE_BYTES" \
        MICTLANX_ROUTER_WORKER_THREADS="${BENCH_ROUTER_WORKERS:-0}" \
        "$BIN_DIR/mictlanx-router" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    LAST_PID=$!
}
start_router router-cache "$ROUTER_CACHE_PORT" 1
ROUTER_CACHE_PID=$LAST_PID
start_router router-nocache "$ROUTER_NOCACHE_PORT" 0
ROUTER_NOCACHE_PID=$LAST_PID
wait_for "$ROUTER_CACHE/ready" router-cache
wait_for "$ROUTER_NOCACHE/ready" router-nocache

# nginx as the reference proxy in front of p0, when installed.
NGINX_PID=
NGINX_NOTE=
if [[ "${BENCH_NGINX:-1}" == 0 ]]; then
    NGINX_NOTE="nginx runs skipped (BENCH_NGINX=0)"
elif ! command -v nginx >/dev/null 2>&1; then
    NGINX_NOTE="nginx is not installed (Debian: apt-get install nginx-light): the nginx runs are skipped"
else
    mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
    cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    client_max_body_size 0;
    upstream p0 { server 127.0.0.1:$PORT_BASE; keepalive 64; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://p0;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # streams both ways, like the router: never a temp file
            proxy_request_buffering off;
            proxy_max_temp_file_size 0;
        }
    }
}
CONF
    nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' >"$WORK/nginx.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    wait_for "$NGINX/health" nginx
    NGINX_NOTE="nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') in front of p0 ($(nproc) worker processes)"
fi
# nginx_pids: the master and its workers.
nginx_pids() {
    [[ -n "$NGINX_PID" ]] || return 0
    echo "$NGINX_PID"
    pgrep -P "$NGINX_PID" || true
}

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
DUR=(--duration "${SECONDS_PER_ROW}s")
PACED_RATE=${BENCH_PACED_RATE:-1000}

# cpu_ticks PID...: user+system clock ticks used so far by these processes (fields 14 and 15 of stat).
cpu_ticks() {
    local pid total=0 t
    for pid in "$@"; do
        t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
        total=$((total + t))
    done
    echo "$total"
}
# children_cpu VAR: sets VAR to the CPU seconds used so far by this shell's finished children (the `times`
# builtin's second line; it has to run in this shell, not in a command substitution).
children_cpu() {
    times >"$WORK/times.txt"
    printf -v "$1" '%s' "$(sed -n 2p "$WORK/times.txt" | python3 -c '
import re, sys
print(sum(float(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", sys.stdin.read())))')"
}

# bench LABEL ARGS...: one mictlanx-bench run; its JSON report (or the failure) goes to RESULTS, with the CPU
# seconds the routers, the peers and the bench process used during the run added as "cpu_s".
bench() {
    local label=$1 out rc=0 r0 p0 n0 b0 b1
    shift
    echo "==> $label: mictlanx-bench $*" >&2
    r0=$(cpu_ticks "$ROUTER_CACHE_PID" "$ROUTER_NOCACHE_PID")
    p0=$(cpu_ticks "${PEER_PIDS[@]}")
    # shellcheck disable=SC2046 # one pid per word
    n0=$(cpu_ticks $(nginx_pids))
    children_cpu b0
    out=$("$BIN_DIR/mictlanx-bench" --json --label "$label" "$@" 2>"$WORK/bench.err") || rc=$?
    children_cpu b1
    if [[ -n "$out" ]]; then
        # shellcheck disable=SC2046
        python3 -c 'import json,sys; r=json.loads(sys.argv[1]); hz=float(sys.argv[2]); r["cpu_s"]={"router": int(sys.argv[3])/hz, "peers": int(sys.argv[4])/hz, "bench": float(sys.argv[5]), "nginx": int(sys.argv[6])/hz}; print(json.dumps(r))' \
            "$out" "$(getconf CLK_TCK)" \
            "$(($(cpu_ticks "$ROUTER_CACHE_PID" "$ROUTER_NOCACHE_PID") - r0))" \
            "$(($(cpu_ticks "${PEER_PIDS[@]}") - p0))" \
            "$(python3 -c 'import sys; print(float(sys.argv[1]) - float(sys.argv[2]))' "$b1" "$b0")" \
            "$(($(cpu_ticks $(nginx_pids)) - n0))" \
            >>"$RESULTS"
    else
        python3 -c 'import json,sys; print(json.dumps({"label": sys.argv[1], "run_error": sys.argv[2]}))' \
            "$label" "exit $rc: $(cat "$WORK/bench.err")" >>"$RESULTS"
    fi
}

# row ID TITLE ROUTER_URL "ROUTER-ONLY ARGS" "DIRECT-ONLY ARGS" COMMON ARGS...
row() {
    local id=$1 title=$2 router=$3 router_only=$4 direct_only=$5
    shift 5
    if [[ -n "${BENCH_ROWS:-}" && ",$BENCH_ROWS," != *",$id,"* ]]; then return 0; fi
    # shellcheck disable=SC2086 # the *_only strings are deliberately word-split
    bench "$id|router|$title" --target router --url "$router" "$@" $router_only "${DUR[@]}"
    # shellcheck disable=SC2086
    bench "$id|direct|$title" --target peer --url "$PEER0" "$@" $direct_only "${DUR[@]}"
    # The reference proxy: the direct run's flags, through nginx (rows that compare with it).
    if [[ -n "$NGINX_PID" && " get-1k-miss get-10m meta " == *" $id "* ]]; then
        # shellcheck disable=SC2086
        bench "$id|nginx|$title" --target peer --url "$NGINX" "$@" $direct_only "${DUR[@]}"
    fi
}

row get-1k-hit "GET 1 KiB, cache hit, c32" "$ROUTER_CACHE" "" "" \
    --op get --size 1KiB --concurrency 32 --keys 100 --bucket hit --cleanup
row get-1k-miss "GET 1 KiB, cache off, c32" "$ROUTER_NOCACHE" "" "" \
    --op get --size 1KiB --concurrency 32 --keys 100 --bucket miss --cleanup
row get-1k-force "GET 1 KiB, cache on, Force-Get, c32" "$ROUTER_CACHE" "--force-get" "" \
    --op get --size 1KiB --concurrency 32 --keys 100 --bucket force --cleanup
row get-1k-paced "GET 1 KiB, cache off, c32, ${PACED_RATE} ops/s" "$ROUTER_NOCACHE" "" "" \
    --op get --size 1KiB --concurrency 32 --keys 100 --bucket paced --cleanup --rate "$PACED_RATE"
row get-10m "GET 10 MiB, cache off, c4" "$ROUTER_NOCACHE" "" "" \
    --op get --size 10MiB --concurrency 4 --keys 8 --bucket big --cleanup
row put-10m "PUT 10 MiB rf1, c4" "$ROUTER_CACHE" "--rf 1" "" \
    --op put --size 10MiB --concurrency 4 --bucket put10 --cleanup
row put-64m "PUT 64 MiB rf3 (direct: three copies), c2" "$ROUTER_CACHE" "--rf 3" "--mirror $PEER1 --mirror $PEER2" \
    --op put --size 64MiB --concurrency 2 --bucket put64 --cleanup
row meta "metadata GET, c32" "$ROUTER_CACHE" "" "" \
    --op get-metadata --size 1KiB --concurrency 32 --keys 100 --bucket meta --cleanup

vmhwm() { awk '/^VmHWM/ {print $2, $3}' "/proc/$1/status" 2>/dev/null || echo "n/a"; }
python3 "$ROOT/benches/matrix_table.py" "$RESULTS" \
    "router (cache on) peak RSS: $(vmhwm "$ROUTER_CACHE_PID")" \
    "router (cache off) peak RSS: $(vmhwm "$ROUTER_NOCACHE_PID")" \
    "router cache size: $CACHE_BYTES bytes; router worker threads: ${BENCH_ROUTER_WORKERS:-0} (0 = one per core)" \
    "${NGINX_NOTE}" \
    "each run ${SECONDS_PER_ROW}s; direct = peer p0; ratio = router/direct throughput"

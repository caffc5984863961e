# benches/lib.sh — what the bench scripts share: stopping every process they started, waiting for one to
# answer, and three peers on loopback. Sourced (not run) after the script has set WORK (its temporary
# directory), BIN_DIR (the release binaries) and PORT_BASE (the first peer port); KEEP_WORK=1 keeps WORK.
# A script that needs something done first on exit defines `before_stop`.

PIDS=()
PEER_PIDS=()

# stop_all: continue the peers (a stopped process cannot handle SIGTERM), SIGTERM everything started, wait up
# to 10 s, SIGKILL what is still alive, then remove WORK unless KEEP_WORK=1.
stop_all() {
    local pid i alive
    if declare -F before_stop >/dev/null; then before_stop; fi
    for pid in "${PEER_PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for i in $(seq 1 100); do
        alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [[ $alive == 0 ]] && break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ "${KEEP_WORK:-0}" == 1 ]]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# wait_for URL NAME [SECONDS]: poll until URL answers 200 (within SECONDS, default 60), else show NAME's log
# and fail.
wait_for() {
    local url=$1 name=$2 i
    for i in $(seq 1 $((${3:-60} * 10))); do
        if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "$name did not answer 200 on $url; its log:" >&2
    tail -n 30 "$WORK/$name.log" >&2 || true
    exit 1
}

# start_peers N: peers p0..p(N-1) on PORT_BASE+0.., data and logs under WORK; sets PEERS_URI and waits until
# every peer answers its health check.
start_peers() {
    local n=$1 i port
    PEERS_URI="mictlanx://"
    for ((i = 0; i < n; i++)); do
        port=$((PORT_BASE + i))
        mkdir -p "$WORK/p$i"
        MICTLANX_PEER_LOG_LEVEL=warn "$BIN_DIR/mictlanx-peer" --node-id "p$i" --port "$port" --host 127.0.0.1 \
            --base-path "$WORK/p$i" --disk-capacity 100GB >"$WORK/p$i.log" 2>&1 &
        PIDS+=($!)
        PEER_PIDS+=($!)
        PEERS_URI+="p$i@127.0.0.1:$port,"
    done
    PEERS_URI="${PEERS_URI%,}/?protocol=http&api_version=4"
    for ((i = 0; i < n; i++)); do wait_for "http://127.0.0.1:$((PORT_BASE + i))/health" "p$i"; done
}

#!/usr/bin/env bash
# benches/s3_memory.sh — the router's memory while S3 moves large objects: its peak RSS after a round trip of a
# small object and after one of a large object (a multipart upload with aws-cli, then a single-stream
# GetObject), which should be about the same, whatever the large object's size.
#
# Real processes on loopback (release build): three `mictlanx-peer`s and one `mictlanx-router` with the S3 API
# on (rf 3, byte cache off). The objects are random bytes, compared byte for byte after the download. The
# router's RSS is sampled every 0.1 s during each transfer; its VmHWM (peak since start) is read after each
# round trip.
#
# Environment:
#   S3MEM_SIZE        the large object, in MiB (default 1024)
#   S3MEM_SMALL       the small object, in MiB (default 64)
#   S3MEM_PORT_BASE   first peer port (default 30500; peers +0..+2, router +100, its S3 port +101)
#   S3MEM_DATA_DIR    where data directories go (default /dev/shm when writable, else $TMPDIR or /tmp)
#   S3MEM_KEEP        1 keeps the temporary directory
#   MICTLANX_S3_CLIENTS_VENV  a venv with `aws` (awscli); otherwise `aws` from the PATH
#   CARGO_TARGET_DIR  where cargo puts the binaries (default <repo>/target)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LARGE_MIB=${S3MEM_SIZE:-1024}
SMALL_MIB=${S3MEM_SMALL:-64}
PORT_BASE=${S3MEM_PORT_BASE:-30500}
BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/release
ROUTER=http://127.0.0.1:$((PORT_BASE + 100))
S3=http://127.0.0.1:$((PORT_BASE + 101))
AWS=aws
if [[ -n "${MICTLANX_S3_CLIENTS_VENV:-}" ]]; then AWS=$MICTLANX_S3_CLIENTS_VENV/bin/aws; fi
command -v "$AWS" >/dev/null || { echo "aws-cli not found (set MICTLANX_S3_CLIENTS_VENV)" >&2; exit 1; }

echo "==> cargo build --release --bins" >&2
(cd "$ROOT" && cargo build --release --bins)

DATA_DIR=${S3MEM_DATA_DIR:-/dev/shm}
[[ -d $DATA_DIR && -w $DATA_DIR ]] || DATA_DIR=${TMPDIR:-/tmp}
WORK=$(mktemp -d -p "$DATA_DIR" mictlanx-s3mem.XXXXXX)
KEEP_WORK=${S3MEM_KEEP:-0}
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
start_peers 3

mkdir -p "$WORK/router"
env MICTLANX_ROUTER_PORT=$((PORT_BASE + 100)) MICTLANX_ROUTER_HOST=127.0.0.1 MICTLANX_PEERS_URI="$PEERS_URI" \
    MICTLANX_ROUTER_STATE_DIR="$WORK/router" MICTLANX_ROUTER_LOG_TO_FILE=0 \
    MICTLANX_ROUTER_OPENTELEMETRY=0 MICTLANX_ROUTER_LOG_LEVEL=warn MICTLANX_CACHE=0 \
    MICTLANX_S3_PORT=$((PORT_BASE + 101)) MICTLANX_S3_ACCESS_KEY=s3mem MICTLANX_S3_SECRET_KEY=s3mem-secret \
    MICTLANX_S3_REPLICATION_FACTOR=3 \
    "$BIN_DIR/mictlanx-router" >"$WORK/router.log" 2>&1 &
ROUTER_PID=$!
PIDS+=("$ROUTER_PID")
wait_for "$ROUTER/ready" router

aws_s3() {
    AWS_ACCESS_KEY_ID=s3mem AWS_SECRET_ACCESS_KEY=s3mem-secret AWS_DEFAULT_REGION=us-east-1 \
        AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null HOME="$WORK" \
        "$AWS" --endpoint-url "$S3" "$@"
}

# status_kib FIELD: a field of the router's /proc status, in KiB.
status_kib() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$ROUTER_PID/status"; }

# sampled CMD...: run CMD while sampling the router's RSS every 0.1 s; prints the largest sample in KiB.
sampled() {
    local max=0 rss
    "$@" >"$WORK/cmd.log" 2>&1 &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        rss=$(status_kib VmRSS)
        ((rss > max)) && max=$rss
        sleep 0.1
    done
    if ! wait "$pid"; then
        echo "failed: $*" >&2
        cat "$WORK/cmd.log" >&2
        exit 1
    fi
    echo "$max"
}

mib() { echo $(($1 / 1024)); }

aws_s3 s3 mb s3://s3mem >/dev/null
BASE=$(status_kib VmRSS)

# round_trip MIB: a random object of MIB MiB up (aws s3 cp: multipart above 8 MiB) and down (one GetObject
# stream), compared; prints "upload-peak download-peak seconds" (KiB, KiB, s).
round_trip() {
    local size=$1 src="$WORK/obj-$1" back="$WORK/obj-$1.back" up down started
    head -c "$((size * 1024 * 1024))" /dev/urandom >"$src"
    started=$(date +%s.%N)
    up=$(sampled aws_s3 s3 cp --no-progress "$src" "s3://s3mem/obj-$size")
    down=$(sampled aws_s3 s3api get-object --bucket s3mem --key "obj-$size" "$back")
    cmp -s "$src" "$back" || { echo "the $size MiB object came back different" >&2; exit 1; }
    rm -f "$src" "$back"
    echo "$up $down $(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$started")"
}

SMALL=$(round_trip "$SMALL_MIB")
read -r SMALL_UP SMALL_DOWN SMALL_S <<<"$SMALL"
SMALL_HWM=$(status_kib VmHWM)
LARGE=$(round_trip "$LARGE_MIB")
read -r LARGE_UP LARGE_DOWN LARGE_S <<<"$LARGE"
LARGE_HWM=$(status_kib VmHWM)

echo
echo "router RSS, S3 round trips (aws s3 cp multipart up, one GetObject stream down; rf 3, cache off)"
echo "after start-up:                        $(mib "$BASE") MiB"
printf '%-38s %s MiB up, %s MiB down (peak samples), peak since start %s MiB, %ss\n' \
    "$SMALL_MIB MiB object:" "$(mib "$SMALL_UP")" "$(mib "$SMALL_DOWN")" "$(mib "$SMALL_HWM")" "$SMALL_S"
printf '%-38s %s MiB up, %s MiB down (peak samples), peak since start %s MiB, %ss\n' \
    "$LARGE_MIB MiB object:" "$(mib "$LARGE_UP")" "$(mib "$LARGE_DOWN")" "$(mib "$LARGE_HWM")" "$LARGE_S"
echo "peak growth from the $SMALL_MIB MiB to the $LARGE_MIB MiB round trip: $(mib $((LARGE_HWM - SMALL_HWM))) MiB"

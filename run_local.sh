#!/usr/bin/env bash
# Runs a complete MictlanX system on this machine: three storage peers and the router, then a PUT and a
# GET of a sample file through the router as a demo. Ctrl-C (or SIGTERM) stops everything.
#   ./run_local.sh
# Data is kept under ./.local (git-ignored) and reused by the next run. Environment overrides:
#   ROUTER_PORT (60666), PEER_BASE_PORT (25000; peers use it, +1, +2), RUN_LOCAL_DIR (./.local),
#   RUN_LOCAL_NO_BUILD=1 (skip `cargo build --release --bins`), RUN_LOCAL_BIN_DIR (dir of the binaries;
#   default $CARGO_TARGET_DIR/release or ./target/release), RUN_LOCAL_READY_TIMEOUT (60 seconds),
#   PEER_DISK_CAPACITY (10GB), and any router variable (MICTLANX_*, see docs/config.md).
#   The S3 API is on (docs/s3.md): S3_PORT (9000; more routers use +1, ...), development keys
#   MICTLANX_S3_ACCESS_KEY (mictlanx-dev) and MICTLANX_S3_SECRET_KEY (mictlanx-dev-secret), printed at start;
#   with aws-cli or boto3 installed the demo also does an S3 round trip.
#   RUN_LOCAL_ROUTERS=2 (or more) runs several routers on one space (ports ROUTER_PORT, +1, ...) sharing their
#   state on a local redis-server (it must be installed; REDIS_PORT, default 6390, data under RUN_LOCAL_DIR);
#   the demo then writes phase 1 through the first router, phase 2 through the second, reads through the last.
set -euo pipefail
cd "$(dirname "$0")"

ROUTER_PORT="${ROUTER_PORT:-60666}"
PEER_BASE_PORT="${PEER_BASE_PORT:-25000}"
RUN_DIR="${RUN_LOCAL_DIR:-./.local}"
READY_TIMEOUT="${RUN_LOCAL_READY_TIMEOUT:-60}"
PEER_DISK_CAPACITY="${PEER_DISK_CAPACITY:-10GB}"
ROUTERS="${RUN_LOCAL_ROUTERS:-1}"
REDIS_PORT="${REDIS_PORT:-6390}"
S3_PORT="${S3_PORT:-9000}"
S3_ACCESS_KEY="${MICTLANX_S3_ACCESS_KEY:-mictlanx-dev}"
S3_SECRET_KEY="${MICTLANX_S3_SECRET_KEY:-mictlanx-dev-secret}"
BUCKET="run-local"

say() { printf '[run_local] %s\n' "$*"; }
die() { printf '[run_local] error: %s\n' "$*" >&2; exit 1; }

for tool in curl cmp sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
[[ $ROUTERS =~ ^[1-9][0-9]*$ ]] || die "RUN_LOCAL_ROUTERS must be a positive integer (got '$ROUTERS')"
if ((ROUTERS > 1)); then
  command -v redis-server >/dev/null 2>&1 ||
    die "RUN_LOCAL_ROUTERS=$ROUTERS needs redis-server (e.g. apt-get install redis-server)"
fi

mkdir -p "$RUN_DIR"
RUN_DIR="$(cd "$RUN_DIR" && pwd)"
OUT_DIR="$RUN_DIR/log/run_local"
mkdir -p "$OUT_DIR" "$RUN_DIR/peers" "$RUN_DIR/router-state" "$RUN_DIR/demo"

# ---------------------------------------------------------------------------------------------- build
if [[ "${RUN_LOCAL_NO_BUILD:-0}" != 1 ]]; then
  say "building (cargo build --release --bins)"
  cargo build --release --bins
fi
BIN_DIR="${RUN_LOCAL_BIN_DIR:-${CARGO_TARGET_DIR:-./target}/release}"
for bin in mictlanx-peer mictlanx-router; do
  [[ -x "$BIN_DIR/$bin" ]] || die "$BIN_DIR/$bin not found (build it, or set RUN_LOCAL_BIN_DIR)"
done
BIN_DIR="$(cd "$BIN_DIR" && pwd)"

# ------------------------------------------------------------------------------- process bookkeeping
declare -a PIDS=() NAMES=()
STOPPING=0

show_logs() {
  local name
  for name in "${NAMES[@]}"; do
    printf '[run_local] --- last lines of %s ---\n' "$OUT_DIR/$name.out" >&2
    tail -n 20 "$OUT_DIR/$name.out" >&2 || true
  done
}

# Stops the children (SIGTERM, then SIGKILL after a grace period) and waits for every one of them.
stop_all() {
  local pid i alive
  [[ $STOPPING == 1 ]] && return
  STOPPING=1
  trap - INT TERM
  [[ ${#PIDS[@]} -eq 0 ]] && return
  say "stopping router and peers"
  # The router first, so that it never sees its peers disappear while it is still serving.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[i]}" 2>/dev/null || true
  done
  for _ in $(seq 1 150); do
    alive=0
    for pid in "${PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    [[ $alive == 0 ]] && break
    sleep 0.2
  done
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      say "pid $pid did not stop after 30s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  say "stopped"
}

on_signal() {
  stop_all
  exit 0
}
trap on_signal INT TERM
trap stop_all EXIT

# start NAME COMMAND...: runs COMMAND in the background with its output in $OUT_DIR/NAME.out.
start() {
  local name=$1
  shift
  "$@" >"$OUT_DIR/$name.out" 2>&1 &
  PIDS+=("$!")
  NAMES+=("$name")
}

check_alive() {
  local i
  for i in "${!PIDS[@]}"; do
    if ! kill -0 "${PIDS[i]}" 2>/dev/null; then
      show_logs
      die "${NAMES[i]} (pid ${PIDS[i]}) exited unexpectedly; its output is in $OUT_DIR/${NAMES[i]}.out"
    fi
  done
}

# --------------------------------------------------------------------------------------------- peers
PEERS_URI=""
for n in 0 1 2; do
  id="mictlanx-peer-$n"
  port=$((PEER_BASE_PORT + n))
  mkdir -p "$RUN_DIR/peers/$id"
  start "$id" "$BIN_DIR/mictlanx-peer" --node-id "$id" --host 127.0.0.1 --port "$port" \
    --base-path "$RUN_DIR/peers/$id" --disk-capacity "$PEER_DISK_CAPACITY"
  PEERS_URI+="${PEERS_URI:+,}$id@localhost:$port"
  say "started $id on 127.0.0.1:$port (pid $!, data $RUN_DIR/peers/$id)"
done
PEERS_URI="mictlanx://$PEERS_URI/?protocol=http&api_version=4"

# ---------------------------------------------------------------------------------- redis (2+ routers)
STATE_ENV=()
if ((ROUTERS > 1)); then
  mkdir -p "$RUN_DIR/redis"
  start redis-server redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$RUN_DIR/redis" \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction --save "" \
    --hash-max-listpack-value 128 --hash-max-listpack-entries 512
  say "started redis-server on 127.0.0.1:$REDIS_PORT (pid $!, data $RUN_DIR/redis)"
  STATE_ENV=(MICTLANX_ROUTER_STATE_BACKEND=redis "MICTLANX_ROUTER_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0")
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null && break
    sleep 0.1
  done
fi

# ------------------------------------------------------------------------------------------- routers
ROUTER_URLS=()
for ((r = 0; r < ROUTERS; r++)); do
  port=$((ROUTER_PORT + r))
  name=mictlanx-router
  ((ROUTERS > 1)) && name="mictlanx-router-$r"
  state_dir="$RUN_DIR/router-state"
  ((r > 0)) && state_dir="$RUN_DIR/router-state-$r"
  start "$name" env \
    MICTLANX_ROUTER_PORT="$port" \
    MICTLANX_ROUTER_HOST="${MICTLANX_ROUTER_HOST:-0.0.0.0}" \
    MICTLANX_PEERS_URI="$PEERS_URI" \
    MICTLANX_ROUTER_STATE_DIR="${MICTLANX_ROUTER_STATE_DIR:-$state_dir}" \
    MICTLANX_ROUTER_LOG_PATH="${MICTLANX_ROUTER_LOG_PATH:-$RUN_DIR/log}" \
    MICTLANX_ROUTER_LOG_NAME="${MICTLANX_ROUTER_LOG_NAME:-$name}" \
    MICTLANX_ROUTER_OPENTELEMETRY="${MICTLANX_ROUTER_OPENTELEMETRY:-0}" \
    MICTLANX_S3_PORT="$((S3_PORT + r))" \
    MICTLANX_S3_ACCESS_KEY="$S3_ACCESS_KEY" \
    MICTLANX_S3_SECRET_KEY="$S3_SECRET_KEY" \
    "${STATE_ENV[@]}" \
    "$BIN_DIR/mictlanx-router"
  say "started $name on port $port, S3 on port $((S3_PORT + r)) (pid $!, peers $PEERS_URI)"
  ROUTER_URLS+=("http://127.0.0.1:$port")
done
say "pids: ${PIDS[*]}"

for ROUTER in "${ROUTER_URLS[@]}"; do
  say "waiting for $ROUTER/ready (up to ${READY_TIMEOUT}s)"
  deadline=$((SECONDS + READY_TIMEOUT))
  until curl -fsS -o /dev/null --max-time 2 "$ROUTER/ready" 2>/dev/null; do
    check_alive
    if ((SECONDS >= deadline)); then
      show_logs
      die "the router did not become ready within ${READY_TIMEOUT}s (GET $ROUTER/ready never answered 200)"
    fi
    sleep 0.5
  done
  say "ready: $(curl -fsS --max-time 5 "$ROUTER/ready")"
done
# phase 1 through the first router, phase 2 through the second, the read through the last
ROUTER="${ROUTER_URLS[0]}"
ROUTER_PHASE2="${ROUTER_URLS[$((ROUTERS > 1 ? 1 : 0))]}"
ROUTER_READ="${ROUTER_URLS[$((ROUTERS - 1))]}"

# ---------------------------------------------------------------------------------------------- demo
# A fresh key per run: the router answers 404 (code 666) to a phase 1 for a key every peer already holds.
KEY="hello-$(date +%Y%m%d%H%M%S)-$$"
SAMPLE="$RUN_DIR/demo/$KEY.txt"
FETCHED="$RUN_DIR/demo/$KEY.fetched"
{
  echo "Hello from run_local.sh: bucket $BUCKET, key $KEY, written $(date -u +%Y-%m-%dT%H:%M:%SZ)."
  for i in $(seq 1 64); do echo "line $i of the MictlanX run_local.sh sample object"; done
} >"$SAMPLE"
SIZE=$(wc -c <"$SAMPLE" | tr -d ' ')
CHECKSUM=$(sha256sum "$SAMPLE" | cut -d' ' -f1)

say "PUT $BUCKET/$KEY ($SIZE bytes), phase 1: POST /api/v4/buckets/$BUCKET/metadata"
BODY=$(printf '{"bucket_id":"%s","key":"%s","ball_id":"%s","checksum":"%s","size":%s,"tags":{},"producer_id":"run_local","content_type":"text/plain","replication_factor":2}' \
  "$BUCKET" "$KEY" "$KEY" "$CHECKSUM" "$SIZE")
RESPONSE="$RUN_DIR/demo/$KEY.phase1.json"
status=$(curl -sS -o "$RESPONSE" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data "$BODY" "$ROUTER/api/v4/buckets/$BUCKET/metadata") || die "phase 1 request failed"
[[ $status == 200 ]] || die "phase 1 answered $status: $(cat "$RESPONSE")"
if command -v python3 >/dev/null 2>&1; then
  TASK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tasks_ids"][0])' "$RESPONSE")
else
  TASK=$(sed -n 's/.*"tasks_ids":[[:space:]]*\[[[:space:]]*"\([^"]*\)".*/\1/p' "$RESPONSE")
fi
[[ -n $TASK ]] || die "no tasks_ids in the phase 1 answer: $(cat "$RESPONSE")"
say "phase 1 ok: $(cat "$RESPONSE")"

say "PUT phase 2: POST $ROUTER_PHASE2/api/v4/buckets/data/$TASK/chunked"
RESPONSE="$RUN_DIR/demo/$KEY.phase2.json"
status=$(curl -sS -o "$RESPONSE" -w '%{http_code}' -X POST --data-binary "@$SAMPLE" \
  -H 'Content-Type: application/octet-stream' -H 'Transfer-Encoding: chunked' \
  "$ROUTER_PHASE2/api/v4/buckets/data/$TASK/chunked") || die "phase 2 request failed"
[[ $status == 200 ]] || die "phase 2 answered $status: $(cat "$RESPONSE")"
say "PUT ok: $(cat "$RESPONSE")"

status=$(curl -sS -o "$FETCHED" -w '%{http_code}' "$ROUTER_READ/api/v4/buckets/$BUCKET/$KEY") ||
  die "GET request failed"
[[ $status == 200 ]] || die "GET answered $status: $(cat "$FETCHED")"
cmp -s "$SAMPLE" "$FETCHED" || die "GET returned different bytes: compare $SAMPLE and $FETCHED"
say "GET ok: $BUCKET/$KEY returned the same $SIZE bytes (cmp) from $ROUTER_READ"

# --------------------------------------------------------------------------------------------- S3 demo
S3_URL="http://127.0.0.1:$S3_PORT"
say "S3 on $S3_URL with development keys: access key $S3_ACCESS_KEY, secret key $S3_SECRET_KEY"
export AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" AWS_DEFAULT_REGION=us-east-1
S3_BACK="$RUN_DIR/demo/$KEY.s3"
if command -v aws >/dev/null 2>&1; then
  aws --endpoint-url "$S3_URL" s3 mb "s3://$BUCKET" >/dev/null 2>&1 || true
  aws --endpoint-url "$S3_URL" s3 cp "$SAMPLE" "s3://$BUCKET/demo/$KEY.txt" >/dev/null || die "aws s3 cp up failed"
  aws --endpoint-url "$S3_URL" s3 cp "s3://$BUCKET/demo/$KEY.txt" "$S3_BACK" >/dev/null || die "aws s3 cp down failed"
  cmp -s "$SAMPLE" "$S3_BACK" || die "the S3 round trip returned different bytes"
  say "S3 ok: aws s3 cp up and down of s3://$BUCKET/demo/$KEY.txt returned the same $SIZE bytes"
elif command -v python3 >/dev/null 2>&1 && python3 -c 'import boto3' 2>/dev/null; then
  python3 - "$S3_URL" "$BUCKET" "demo/$KEY.txt" "$SAMPLE" <<'PY' || die "the boto3 round trip failed"
import sys, boto3
url, bucket, key, path = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=url)
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
data = open(path, "rb").read()
s3.put_object(Bucket=bucket, Key=key, Body=data)
assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data
PY
  say "S3 ok: boto3 put and get of s3://$BUCKET/demo/$KEY.txt returned the same $SIZE bytes"
else
  say "S3: install aws-cli (pip install awscli) to try: aws --endpoint-url $S3_URL s3 ls"
fi

cat <<TXT
[run_local] The system is running. Look next at:
  API docs (Swagger UI)   http://localhost:$ROUTER_PORT/docs
  Prometheus metrics      http://localhost:$ROUTER_PORT/metrics
  Registered peers        http://localhost:$ROUTER_PORT/api/v4/peers
  Fetch the demo object   curl -o out.txt http://localhost:$ROUTER_PORT/api/v4/buckets/$BUCKET/$KEY
  The S3 API              AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY \\
                            aws --endpoint-url $S3_URL s3 ls s3://$BUCKET/ --recursive
  Process output          $OUT_DIR/*.out   (router log files in ${MICTLANX_ROUTER_LOG_PATH:-$RUN_DIR/log})
  Traces and dashboards   ./run_opentelemetry.sh, then rerun with MICTLANX_ROUTER_OPENTELEMETRY=1
[run_local] Press Ctrl-C to stop.
TXT

# Wait until a signal arrives (the trap then stops everything) or a child dies on its own.
while true; do
  wait -n "${PIDS[@]}" 2>/dev/null || true
  [[ $STOPPING == 1 ]] && exit 0
  check_alive
done

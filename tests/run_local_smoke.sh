#!/usr/bin/env bash
# Smoke test of ./run_local.sh: on free ports and a temporary data dir, runs it until its demo PUT/GET
# succeeded, stops it with SIGINT, and checks that it exits 0 and leaves no peer or router process behind.
# A second round on the same data dir (stopped with SIGTERM) checks that a re-run reuses the data.
# Uses the debug binaries (`cargo build --bins`, a no-op after `cargo test`); set SMOKE_NO_BUILD=1 to
# skip that step, SMOKE_BIN_DIR to use other binaries. Run from anywhere: `bash tests/run_local_smoke.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
# Job control: the background run_local.sh gets its own process group (so everything it started can be
# found by group id) and, unlike a plain background job of a script, does not ignore SIGINT.
set -m

ROUND_TIMEOUT="${SMOKE_TIMEOUT:-240}"
BIN_DIR="${SMOKE_BIN_DIR:-${CARGO_TARGET_DIR:-./target}/debug}"

say() { printf '[smoke] %s\n' "$*"; }

if [[ "${SMOKE_NO_BUILD:-0}" != 1 ]]; then
  say "cargo build --bins"
  cargo build --bins --quiet
fi

# A router port, three consecutive peer ports and an S3 port that are free right now.
read -r ROUTER_PORT PEER_BASE_PORT S3_PORT < <(python3 - <<'PY'
import random, socket
def free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
while True:
    base = random.randrange(10000, 19990)  # below the ephemeral range: no outgoing connection takes them
    if all(free(base + i) for i in range(5)):
        print(base + 3, base, base + 4)
        break
PY
)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/run-local-smoke.XXXXXX")"
RUN_PID=""
cleanup() {
  # Whatever is left in run_local.sh's process group after a failure.
  if [[ -n $RUN_PID ]]; then
    pkill -KILL -g "$RUN_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  say "FAIL: $*"
  say "--- run_local.sh output ---"
  cat "$WORK/round.out" 2>/dev/null || true
  exit 1
}

# round NAME SIGNAL: one run of run_local.sh, stopped with SIGNAL once its demo succeeded.
round() {
  local name=$1 signal=$2 out="$WORK/round.out" deadline pids status pid
  say "$name: ./run_local.sh on router port $ROUTER_PORT, peers $PEER_BASE_PORT-$((PEER_BASE_PORT + 2))"
  RUN_LOCAL_NO_BUILD=1 RUN_LOCAL_BIN_DIR="$BIN_DIR" RUN_LOCAL_DIR="$WORK/local" \
    ROUTER_PORT="$ROUTER_PORT" PEER_BASE_PORT="$PEER_BASE_PORT" S3_PORT="$S3_PORT" MICTLANX_ROUTER_OPENTELEMETRY=0 \
    ./run_local.sh >"$out" 2>&1 &
  RUN_PID=$!

  deadline=$((SECONDS + ROUND_TIMEOUT))
  until grep -q '^\[run_local\] Press Ctrl-C to stop' "$out"; do
    kill -0 "$RUN_PID" 2>/dev/null || fail "$name: run_local.sh exited before its demo finished"
    ((SECONDS < deadline)) || fail "$name: no 'Press Ctrl-C' line within ${ROUND_TIMEOUT}s"
    sleep 0.5
  done
  grep -q '^\[run_local\] ready: ' "$out" || fail "$name: no ready line"
  grep -q '^\[run_local\] GET ok: ' "$out" || fail "$name: no 'GET ok' line"
  grep -q '^\[run_local\] S3 on ' "$out" || fail "$name: no 'S3 on' line"
  pids=$(sed -n 's/^\[run_local\] pids: //p' "$out")
  [[ $(wc -w <<<"$pids") -eq 4 ]] || fail "$name: expected 4 pids, got '$pids'"
  for pid in $pids; do
    kill -0 "$pid" 2>/dev/null || fail "$name: pid $pid is not running before the stop"
  done

  say "$name: demo ok; sending SIG$signal"
  kill -"$signal" "$RUN_PID"
  deadline=$((SECONDS + 60))
  while kill -0 "$RUN_PID" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "$name: run_local.sh still running 60s after SIG$signal"
    sleep 0.2
  done
  status=0
  wait "$RUN_PID" || status=$?
  [[ $status -eq 0 ]] || fail "$name: run_local.sh exited with $status after SIG$signal"

  for pid in $pids; do
    ! kill -0 "$pid" 2>/dev/null || fail "$name: pid $pid is still running after the stop"
  done
  if pgrep -g "$RUN_PID" >/dev/null; then
    fail "$name: processes left in run_local.sh's group: $(pgrep -a -g "$RUN_PID")"
  fi
  if pgrep -f "$WORK/local" >/dev/null; then
    fail "$name: processes still use the data dir: $(pgrep -a -f "$WORK/local")"
  fi
  grep -q '^\[run_local\] stopped' "$out" || fail "$name: no 'stopped' line"
  RUN_PID=""
  say "$name: ok (exit 0, no process left)"
}

round "first run" INT
round "second run (same data)" TERM
[[ -d "$WORK/local/peers/mictlanx-peer-0" && -d "$WORK/local/router-state" ]] ||
  fail "data dirs missing under $WORK/local"
say "PASS"

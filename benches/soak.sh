#!/usr/bin/env bash
# benches/soak.sh — the chaos soak: the model-based random run of `tests/faults/model.rs` (same workload,
# nemesis and checker, `crates/testkit/src/chaos`) for a given time, on real processes with the Redis
# backend: two `mictlanx-router`s on one `redis-server` (or, with SOAK_BACKEND=redis-cluster, on a Redis
# Cluster of three masters and three replicas), four `mictlanx-peer`s, four clients on 2 × 16 contended
# keys, a nemesis that stops and kills peers, kills and restarts routers, stops Redis (on a cluster: one
# master, and SIGKILLs a master, which fails over and is restarted to rejoin as a replica) and drains and
# removes a peer.
#
# Builds the test binary and the router and peer binaries once, copies them aside (so a rebuild in the same
# target directory while the soak runs cannot change what it restarts), and runs the one test with the
# given time and seed. Prints the summary: operations by type and outcome, faults injected, repairs done,
# p50/p99/max latency per operation type, and violations (each with the slice of history that shows it).
# Exits non-zero on any violation.
#
# Environment:
#   SOAK_SECONDS   how long the clients and the nemesis run (default 1800)
#   SOAK_SEED      the seed (default: the current time; printed, reproduce with it)
#   SOAK_BACKEND   redis (default) or redis-cluster (needs redis-cli too)
#   SOAK_PROFILE   cargo profile of the build (default dev; `release` needs a release build of the workspace)
#   CARGO_TARGET_DIR as usual
set -euo pipefail

SECS=${SOAK_SECONDS:-1800}
SEED=${SOAK_SEED:-$(date +%s)}
PROFILE=${SOAK_PROFILE:-dev}
BACKEND=${SOAK_BACKEND:-redis}
case "$BACKEND" in
    redis|redis-cluster) ;;
    *) echo "soak: SOAK_BACKEND is redis or redis-cluster, not $BACKEND" >&2; exit 2 ;;
esac
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

command -v redis-server >/dev/null || { echo "soak: redis-server is needed" >&2; exit 2; }
[ "$BACKEND" = redis ] || command -v redis-cli >/dev/null || { echo "soak: redis-cli is needed" >&2; exit 2; }

cargo build --profile "$PROFILE" --bins -q
EXE=$(cargo test --profile "$PROFILE" --test faults --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*faults-[0-9a-f]*\)).*/\1/p' | tail -1)
[ -x "$EXE" ] || { echo "soak: test binary not found" >&2; exit 2; }
BIN=$(dirname "$(dirname "$EXE")")

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/deps"
cp "$EXE" "$W/deps/"
cp "$BIN/mictlanx-router" "$BIN/mictlanx-peer" "$W/"

echo "soak: ${SECS}s, seed ${SEED}, backend ${BACKEND}, profile ${PROFILE}, started $(date -u +%FT%TZ)"
MICTLANX_MODEL_SEEDS=$SEED MICTLANX_MODEL_SECONDS=$SECS MICTLANX_MODEL_BACKEND=$BACKEND \
    MICTLANX_TEST_REQUIRE_TOOLS=1 \
    "$W/deps/$(basename "$EXE")" model::random_operations_under_faults_keep_every_promise \
    --exact --nocapture --test-threads 1
echo "soak: finished $(date -u +%FT%TZ)"

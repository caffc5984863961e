#!/usr/bin/env bash
# Starts (or stops) the local observability stack of config/docker-compose.otel.yml: Jaeger (OTLP on
# 4318), Prometheus scraping the router's /metrics on host port 60666 and the peers' on 25000-25002, and
# Grafana with both datasources.
#   ./run_opentelemetry.sh            start in the background and print the URLs
#   ./run_opentelemetry.sh down       stop (keeps the Prometheus/Grafana volumes; `down -v` drops them)
#   ./run_opentelemetry.sh logs|ps    anything else is passed to `docker compose`
# Then run the router with tracing on, e.g. `MICTLANX_ROUTER_OPENTELEMETRY=1 ./run_local.sh`.
set -euo pipefail
cd "$(dirname "$0")"

COMPOSE_FILE=config/docker-compose.otel.yml

if ! command -v docker >/dev/null 2>&1; then
  echo "run_opentelemetry.sh: docker is not installed (needed for Jaeger, Prometheus and Grafana)" >&2
  exit 1
fi
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  echo "run_opentelemetry.sh: neither 'docker compose' nor 'docker-compose' is available" >&2
  exit 1
fi

if [[ $# -gt 0 && $1 != up ]]; then
  exec "${compose[@]}" -f "$COMPOSE_FILE" "$@"
fi

"${compose[@]}" -f "$COMPOSE_FILE" up -d
cat <<'TXT'

Observability stack is up:
  Jaeger UI    http://localhost:16686   (service "mictlanx-router")
  Prometheus   http://localhost:9090    (router localhost:60666, peers localhost:25000-25002)
  Grafana      http://localhost:3000    (dashboard "MictlanX router": router and peers; admin/admin)

Send traces from a router on this host:
  MICTLANX_ROUTER_OPENTELEMETRY=1 MICTLANX_JAEGER_ENDPOINT=http://localhost:4318 ./run_local.sh
or from the compose deployment:
  MICTLANX_ROUTER_OPENTELEMETRY=1 docker compose -f mictlanx-router.yml up -d
Stop with: ./run_opentelemetry.sh down
TXT

# syntax=docker/dockerfile:1
# One image, two binaries: `mictlanx-router` (default command) and `mictlanx-peer`.
#   docker build -t mictlanx-router:local .
#   docker run --rm -p 60666:60666 -e MICTLANX_PEERS_URI=... mictlanx-router:local
#   docker run --rm -p 25000:25000 mictlanx-router:local mictlanx-peer
# Dependencies are compiled in their own layer (cargo-chef), so editing src/ only rebuilds the crate.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS chef
RUN cargo install cargo-chef --locked
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bins \
    && mkdir -p /out \
    && cp target/release/mictlanx-router target/release/mictlanx-peer /out/

FROM ${RUNTIME_IMAGE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# Fixed uid/gid so bind mounts can be chowned predictably; the directories below exist in the image so
# that named volumes mounted there start out owned by this user.
RUN groupadd --system --gid 10001 mictlanx \
    && useradd --system --uid 10001 --gid mictlanx --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin mictlanx \
    && mkdir -p /app/mictlanx /var/lib/mictlanx-router /mictlanx/router \
    && chown -R mictlanx:mictlanx /app /var/lib/mictlanx-router /mictlanx
COPY --from=builder /out/mictlanx-router /usr/local/bin/mictlanx-router
COPY --from=builder /out/mictlanx-peer /usr/local/bin/mictlanx-peer

# Router: state (peers.json) and logs in fixed places; peer: BASE_PATH keeps its /app/mictlanx default.
ENV MICTLANX_ROUTER_STATE_DIR=/var/lib/mictlanx-router \
    MICTLANX_ROUTER_LOG_PATH=/mictlanx/router
USER mictlanx:mictlanx
WORKDIR /app

# 60666: router; 9000: the router's S3 listener (on when S3 keys are set); 25000: peer (when started as
# `mictlanx-peer`).
EXPOSE 60666 9000 25000
# The binaries probe their own /health, so the image needs no curl. Peers override this in compose with
# `mictlanx-peer --healthcheck`.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
    CMD ["mictlanx-router", "--healthcheck"]
CMD ["mictlanx-router"]

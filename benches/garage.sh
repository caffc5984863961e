# benches/garage.sh — a Garage cluster on loopback for the S3 comparison. Sourced by s3_vs_garage.sh after
# benches/lib.sh (WORK, PORT_BASE, PIDS, wait_for). Untested here when `garage` is absent; Garage 2.5.0's
# configuration and CLI (https://garagehq.deuxfleurs.fr/documentation/reference-manual/configuration/).
#
# start_garage N: N nodes (S3 on PORT_BASE+200+i, RPC +210+i, admin +220+i), each with its own metadata and
# data directories, replication factor N, one zone, one layout version; imports the key GARAGE_ACCESS /
# GARAGE_SECRET allowed to create buckets. Sets GARAGE_PIDS and GARAGE_S3 (node 0's S3 endpoint).
GARAGE_ACCESS=GK0123456789abcdef01234567
GARAGE_SECRET=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
start_garage() {
    local n=$1 i dir secret ids=()
    secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    for ((i = 0; i < n; i++)); do
        dir=$WORK/garage$i
        mkdir -p "$dir/meta" "$dir/data"
        cat >"$dir/garage.toml" <<CONF
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = $n
rpc_bind_addr = "127.0.0.1:$((PORT_BASE + 210 + i))"
rpc_public_addr = "127.0.0.1:$((PORT_BASE + 210 + i))"
rpc_secret = "$secret"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$((PORT_BASE + 200 + i))"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$((PORT_BASE + 220 + i))"
CONF
        RUST_LOG=warn garage -c "$dir/garage.toml" server >"$WORK/garage$i.log" 2>&1 &
        PIDS+=($!)
        GARAGE_PIDS+=($!)
    done
    local g0=(garage -c "$WORK/garage0/garage.toml") id tries
    for ((i = 0; i < n; i++)); do
        id=
        for tries in $(seq 1 300); do
            id=$(garage -c "$WORK/garage$i/garage.toml" node id -q 2>/dev/null) && break
            sleep 0.2
        done
        [[ -n "$id" ]] || { echo "garage$i did not start; its log:" >&2; tail -n 30 "$WORK/garage$i.log" >&2; exit 1; }
        ids+=("$id")
    done
    for ((i = 1; i < n; i++)); do "${g0[@]}" node connect "${ids[$i]}" >/dev/null; done
    for ((i = 0; i < n; i++)); do "${g0[@]}" layout assign -z dc1 -c 10G "${ids[$i]%%@*}" >/dev/null; done
    "${g0[@]}" layout apply --version 1 >/dev/null
    "${g0[@]}" key import --yes -n bench "$GARAGE_ACCESS" "$GARAGE_SECRET" >/dev/null
    "${g0[@]}" key allow --create-bucket bench >/dev/null
    # The admin health check answers 200 once every partition has a quorum of nodes up.
    for ((i = 0; i < n; i++)); do wait_for "http://127.0.0.1:$((PORT_BASE + 220 + i))/health" "garage$i"; done
    GARAGE_S3=http://127.0.0.1:$((PORT_BASE + 200))
}

//! The deployment files agree with the code and with each other (no Docker needed): mictlanx-router.yml,
//! config/docker-compose.otel.yml, config/prometheus.yml, the Grafana datasources, config/peer.env.example,
//! the Dockerfile and run_local.sh run binaries of this package, set only variables the binaries know, and
//! use the same ports.

use std::collections::{BTreeMap, BTreeSet};

use mictlanx_router::config::DEFAULT_S3_PORT;
use mictlanx_router::peers_uri::parse_peers_uri;
use mictlanx_testkit::deploy::{
    cargo_bins, compose, peer_variables, read_repo_file, repo_file, router_variables,
};
use serde_yaml::Value;

const COMPOSE: &str = "mictlanx-router.yml";
const OTEL_COMPOSE: &str = "config/docker-compose.otel.yml";
const ROUTER_BIN: &str = "mictlanx-router";
const PEER_BIN: &str = "mictlanx-peer";
const ROUTER_PORT: u16 = 60666;

/// The Dockerfile's default command is the router, so a service without `command` runs the router.
fn program_or_default(service: &Value) -> String {
    compose::program(service).unwrap_or_else(|| ROUTER_BIN.to_string())
}

fn services_running(doc: &Value, bin: &str) -> BTreeMap<String, Value> {
    compose::services(doc)
        .into_iter()
        .filter(|(_, service)| program_or_default(service) == bin)
        .collect()
}

/// The routers of the compose file: two on one space, sharing their state on the `redis` service.
fn router_services() -> Vec<(String, Value)> {
    let routers: Vec<(String, Value)> = services_running(&compose::load(COMPOSE), ROUTER_BIN)
        .into_iter()
        .collect();
    assert_eq!(routers.len(), 2, "two routers on one space");
    routers
}

/// The Redis service the routers share (an official image, not one of this package's binaries).
const REDIS_SERVICE: &str = "redis";

#[test]
fn compose_services_run_and_healthcheck_binaries_of_this_package() {
    let bins = cargo_bins();
    assert_eq!(
        bins,
        BTreeSet::from([ROUTER_BIN.to_string(), PEER_BIN.to_string()])
    );
    let services = compose::services(&compose::load(COMPOSE));
    assert_eq!(services.len(), 6, "two routers, three peers and redis");
    let redis = &services[REDIS_SERVICE];
    assert!(compose::healthcheck(redis).contains(&"ping".to_string()));
    let redis_cmd = compose::words(&redis["command"]).join(" ");
    for setting in [
        "--appendonly yes",
        "--maxmemory-policy noeviction",
        "--hash-max-listpack-value 128",
        "--hash-max-listpack-entries 512",
    ] {
        assert!(redis_cmd.contains(setting), "redis runs with {setting}");
    }
    for (name, service) in services.iter().filter(|(n, _)| *n != REDIS_SERVICE) {
        let program = program_or_default(service);
        assert!(
            bins.contains(&program),
            "{name} runs {program}, not a [[bin]]"
        );
        let check = compose::healthcheck(service);
        assert_eq!(
            check,
            vec![program.clone(), "--healthcheck".to_string()],
            "{name}'s healthcheck must be `{program} --healthcheck` (the image has no curl)"
        );
        assert!(
            service.get("image").is_some() && service.get("build").is_some(),
            "{name} must be built from the Dockerfile into the shared image"
        );
    }
    assert_eq!(services_running(&compose::load(COMPOSE), PEER_BIN).len(), 3);
}

#[test]
fn router_service_sets_only_router_variables() {
    let known = router_variables();
    let mut seeds = BTreeSet::new();
    for (name, router) in router_services() {
        let env = compose::environment(&router);
        assert!(
            env.contains_key("MICTLANX_PEERS_URI"),
            "{name} sets its seed peers"
        );
        seeds.insert(env["MICTLANX_PEERS_URI"].clone());
        assert_eq!(env["MICTLANX_ROUTER_STATE_BACKEND"], "redis", "{name}");
        assert!(
            env["MICTLANX_ROUTER_REDIS_URL"].starts_with(&format!("redis://{REDIS_SERVICE}:")),
            "{name} uses the redis service"
        );
        for variable in env.keys() {
            assert!(
                known.contains(variable),
                "{name} sets {variable}, which is not in config::KNOWN_VARIABLES"
            );
        }
    }
    assert_eq!(
        seeds.len(),
        1,
        "every router of the space has the same seed peers"
    );
}

#[test]
fn peer_services_set_only_peer_variables() {
    let known = peer_variables();
    for (name, peer) in services_running(&compose::load(COMPOSE), PEER_BIN) {
        let env = compose::environment(&peer);
        for required in ["NODE_ID", "NODE_PORT", "BASE_PATH", "NODE_DISK_CAPACITY"] {
            assert!(env.contains_key(required), "{name} must set {required}");
        }
        for variable in env.keys() {
            assert!(
                known.contains(variable),
                "{name} sets {variable}, not a peer variable of docs/config.md §3"
            );
        }
    }
}

/// Each router turns S3 on (keys set) and publishes the S3 port it listens on; the image exposes the
/// default one.
#[test]
fn s3_port_agrees_in_env_published_ports_and_dockerfile() {
    let mut ports = BTreeSet::new();
    for (name, router) in &router_services() {
        let env = compose::environment(router);
        for var in ["MICTLANX_S3_ACCESS_KEY", "MICTLANX_S3_SECRET_KEY"] {
            assert!(env.contains_key(var), "{name} sets {var}, so S3 is on");
        }
        let port: u16 = env["MICTLANX_S3_PORT"].parse().expect("a port");
        assert!(
            compose::container_ports(router).contains(&port),
            "{name} publishes its S3 port {port}"
        );
        ports.insert(port);
    }
    assert!(
        ports.contains(&DEFAULT_S3_PORT),
        "one router on the default S3 port"
    );
    assert_eq!(ports.len(), 2, "each router on its own S3 port");
    assert!(dockerfile_exposed_ports().contains(&DEFAULT_S3_PORT));
}

#[test]
fn router_port_agrees_in_env_published_ports_dockerfile_and_prometheus() {
    let routers = router_services();
    let mut ports = BTreeSet::new();
    for (name, router) in &routers {
        let env = compose::environment(router);
        let port: u16 = env["MICTLANX_ROUTER_PORT"].parse().expect("a port");
        assert!(
            compose::container_ports(router).contains(&port),
            "{name} publishes the port it listens on (its healthcheck reads the same variable)"
        );
        ports.insert(port);
    }
    assert!(ports.contains(&ROUTER_PORT), "one router on 60666");
    assert_eq!(ports.len(), 2, "each router on its own port");
    assert!(dockerfile_exposed_ports().contains(&ROUTER_PORT));

    let prometheus: Value = serde_yaml::from_str(&read_repo_file("config/prometheus.yml"))
        .expect("config/prometheus.yml is YAML");
    let targets = scrape_targets(&prometheus, "mictlanx-router");
    assert!(!targets.is_empty(), "prometheus scrapes the router");
    for target in targets {
        assert!(
            target.ends_with(&format!(":{ROUTER_PORT}")),
            "prometheus target {target} must use the router port"
        );
    }
    let run_local = read_repo_file("run_local.sh");
    assert!(run_local.contains("ROUTER_PORT=\"${ROUTER_PORT:-60666}\""));
}

#[test]
fn peers_uri_names_every_peer_service_with_its_node_id_and_port() {
    let doc = compose::load(COMPOSE);
    let (name, router) = router_services().remove(0);
    let env = compose::environment(&router);
    let uri = compose::with_defaults(&env["MICTLANX_PEERS_URI"]);
    let seeds =
        parse_peers_uri(&uri).unwrap_or_else(|e| panic!("{name}'s MICTLANX_PEERS_URI: {e}"));
    let peers = services_running(&doc, PEER_BIN);
    assert_eq!(seeds.len(), peers.len(), "one seed per peer service");
    let exposed = dockerfile_exposed_ports();
    for seed in &seeds {
        let peer = peers
            .get(&seed.ip_addr)
            .unwrap_or_else(|| panic!("seed host {} is not a peer service", seed.ip_addr));
        let peer_env = compose::environment(peer);
        assert_eq!(
            peer_env["NODE_ID"], seed.peer_id,
            "NODE_ID of {}",
            seed.ip_addr
        );
        assert_eq!(
            peer_env["NODE_PORT"],
            seed.port.to_string(),
            "NODE_PORT of {}",
            seed.ip_addr
        );
        assert!(
            exposed.contains(&seed.port),
            "Dockerfile must EXPOSE {}",
            seed.port
        );
        assert_eq!((seed.protocol.as_str(), seed.api_version), ("http", 4));
        let condition = router
            .get("depends_on")
            .and_then(|d| d.get(seed.ip_addr.as_str()))
            .and_then(|d| d.get("condition"))
            .map(compose::scalar);
        assert_eq!(
            condition.as_deref(),
            Some("service_healthy"),
            "{name} waits until {} is healthy",
            seed.ip_addr
        );
    }
}

#[test]
fn services_share_the_network_and_keep_data_in_named_volumes() {
    let doc = compose::load(COMPOSE);
    let declared_volumes = compose::top_level_names(&doc, "volumes");
    assert!(compose::top_level_names(&doc, "networks").contains(&"mictlanx".to_string()));
    for (name, service) in compose::services(&doc) {
        assert!(
            compose::networks(&service).contains(&"mictlanx".to_string()),
            "{name} network"
        );
        let env = compose::environment(&service);
        let data_dir = if name == REDIS_SERVICE {
            "/data".to_string()
        } else {
            match program_or_default(&service).as_str() {
                ROUTER_BIN => env["MICTLANX_ROUTER_STATE_DIR"].clone(),
                _ => env["BASE_PATH"].clone(),
            }
        };
        let mounts = compose::volumes(&service);
        let (source, _) = mounts
            .iter()
            .find(|(_, target)| *target == data_dir)
            .unwrap_or_else(|| panic!("{name} must keep {data_dir} in a volume"));
        assert!(
            declared_volumes.contains(source),
            "{name}: {source} is a named volume"
        );
    }
    let mut sources: Vec<_> = compose::services(&doc)
        .values()
        .flat_map(compose::volumes)
        .map(|(source, _)| source)
        .collect();
    let count = sources.len();
    sources.sort();
    sources.dedup();
    assert_eq!(sources.len(), count, "no two services share a data volume");
}

/// Dockerfile instructions with continuation lines joined and comments dropped.
fn dockerfile_instructions() -> Vec<(String, String)> {
    let text = read_repo_file("Dockerfile");
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
        .into_iter()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (op, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
            (op.to_uppercase(), rest.trim().to_string())
        })
        .collect()
}

fn dockerfile_exposed_ports() -> BTreeSet<u16> {
    dockerfile_instructions()
        .iter()
        .filter(|(op, _)| op == "EXPOSE")
        .flat_map(|(_, args)| {
            args.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .map(|port| {
            port.split('/')
                .next()
                .unwrap_or_default()
                .parse()
                .expect("EXPOSE port")
        })
        .collect()
}

/// The words of an exec-form (`["a", "b"]`) or shell-form instruction argument.
fn exec_words(args: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<String>>(args) {
        Ok(words) => words,
        Err(_) => args.split_whitespace().map(str::to_string).collect(),
    }
}

#[test]
fn dockerfile_ships_both_binaries_as_non_root_with_a_curl_free_healthcheck() {
    let bins = cargo_bins();
    let instructions = dockerfile_instructions();
    let runtime_start = instructions
        .iter()
        .rposition(|(op, _)| op == "FROM")
        .expect("a FROM");
    let runtime = &instructions[runtime_start..];

    let copied: BTreeSet<String> = runtime
        .iter()
        .filter(|(op, _)| op == "COPY")
        .filter_map(|(_, args)| args.split_whitespace().last())
        .filter_map(|dest| dest.strip_prefix("/usr/local/bin/"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        copied, bins,
        "the runtime image has exactly the [[bin]]s in /usr/local/bin"
    );

    let cmd = runtime.iter().rfind(|(op, _)| op == "CMD").expect("a CMD");
    assert_eq!(exec_words(&cmd.1), vec![ROUTER_BIN.to_string()]);

    let (_, healthcheck) = runtime
        .iter()
        .rfind(|(op, _)| op == "HEALTHCHECK")
        .expect("HEALTHCHECK");
    let command = healthcheck
        .split_once("CMD")
        .expect("HEALTHCHECK ... CMD")
        .1;
    assert_eq!(
        exec_words(command.trim()),
        vec![ROUTER_BIN.to_string(), "--healthcheck".to_string()]
    );

    let user = runtime
        .iter()
        .rfind(|(op, _)| op == "USER")
        .expect("a USER");
    let name = user.1.split(':').next().unwrap_or_default();
    assert!(
        name != "root" && name != "0",
        "the image runs as a non-root user"
    );

    assert_eq!(
        dockerfile_exposed_ports(),
        BTreeSet::from([ROUTER_PORT, DEFAULT_S3_PORT, 25000])
    );

    let known: BTreeSet<String> = router_variables()
        .union(&peer_variables())
        .cloned()
        .collect();
    for (_, args) in runtime.iter().filter(|(op, _)| op == "ENV") {
        for assignment in args.split_whitespace() {
            let variable = assignment.split('=').next().unwrap_or_default();
            assert!(
                known.contains(variable),
                "Dockerfile sets unknown variable {variable}"
            );
        }
    }
    let builder = instructions[..runtime_start]
        .iter()
        .map(|(_, args)| args.as_str());
    let builder: Vec<&str> = builder.collect();
    assert!(builder
        .iter()
        .any(|a| a.contains("cargo chef cook --release")));
    assert!(builder
        .iter()
        .any(|a| a.contains("cargo build --release --locked --bins")));
}

/// `static_configs[].targets` of a Prometheus scrape job.
fn scrape_targets(prometheus: &Value, job: &str) -> Vec<String> {
    let jobs = prometheus["scrape_configs"]
        .as_sequence()
        .expect("scrape_configs");
    let job = jobs
        .iter()
        .find(|j| j["job_name"].as_str() == Some(job))
        .unwrap_or_else(|| panic!("scrape job {job}"));
    assert_eq!(job["metrics_path"].as_str(), Some("/metrics"));
    job["static_configs"]
        .as_sequence()
        .expect("static_configs")
        .iter()
        .flat_map(|c| c["targets"].as_sequence().cloned().unwrap_or_default())
        .map(|t| compose::scalar(&t))
        .collect()
}

#[test]
fn otel_stack_receives_router_traces_scrapes_metrics_and_provisions_grafana() {
    let doc = compose::load(OTEL_COMPOSE);
    let services = compose::services(&doc);
    let jaeger = &services["jaeger"];
    assert_eq!(
        compose::environment(jaeger)["COLLECTOR_OTLP_ENABLED"],
        "true"
    );
    assert!(
        compose::container_ports(jaeger).contains(&4318),
        "OTLP/HTTP published"
    );
    assert!(
        compose::container_ports(jaeger).contains(&16686),
        "Jaeger UI published"
    );

    let (_, router) = router_services().remove(0);
    let endpoint =
        compose::with_defaults(&compose::environment(&router)["MICTLANX_JAEGER_ENDPOINT"]);
    assert!(
        endpoint.ends_with(":4318"),
        "router exports to Jaeger's OTLP/HTTP port: {endpoint}"
    );
    assert!(compose::extra_hosts(&router).contains(&"host.docker.internal:host-gateway".into()));

    // Prometheus runs on the host's network, where the router and the peers listen (loopback); Grafana
    // reaches it through the host gateway.
    let prometheus = &services["prometheus"];
    assert_eq!(prometheus["network_mode"].as_str(), Some("host"));
    assert!(prometheus["command"]
        .as_sequence()
        .expect("prometheus command")
        .iter()
        .any(|a| a.as_str() == Some("--web.listen-address=:9090")));
    assert!(compose::extra_hosts(&services["grafana"])
        .contains(&"host.docker.internal:host-gateway".into()));
    assert!(compose::container_ports(&services["grafana"]).contains(&3000));

    // Bind-mounted files exist (relative to the compose file's directory).
    let base = repo_file(OTEL_COMPOSE)
        .parent()
        .expect("config dir")
        .to_path_buf();
    let declared = compose::top_level_names(&doc, "volumes");
    for (name, service) in &services {
        for (source, _) in compose::volumes(service) {
            if source.starts_with('.') || source.starts_with('/') {
                assert!(
                    base.join(&source).exists(),
                    "{name} mounts missing {source}"
                );
            } else {
                assert!(
                    declared.contains(&source),
                    "{name}: {source} is a named volume"
                );
            }
        }
    }

    let datasources: Value = serde_yaml::from_str(&read_repo_file(
        "config/grafana/provisioning/datasources/datasources.yml",
    ))
    .expect("datasources YAML");
    let datasources = datasources["datasources"]
        .as_sequence()
        .expect("datasources list");
    let url_of = |kind: &str| {
        datasources
            .iter()
            .find(|d| d["type"].as_str() == Some(kind))
            .unwrap_or_else(|| panic!("a {kind} datasource"))["url"]
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(url_of("jaeger").as_deref(), Some("http://jaeger:16686"));
    assert!(compose::container_ports(&services["jaeger"]).contains(&16686));
    assert_eq!(
        url_of("prometheus").as_deref(),
        Some("http://host.docker.internal:9090")
    );
}

/// `NAME` of every `NAME=value` or commented `# NAME=value` line.
fn env_file_names(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.trim().trim_start_matches('#').trim())
        .filter_map(|line| line.split_once('='))
        .map(|(name, _)| name.trim().to_string())
        .filter(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

#[test]
fn peer_env_example_names_only_peer_variables_and_the_default_port() {
    let text = read_repo_file("config/peer.env.example");
    let names = env_file_names(&text);
    let known = peer_variables();
    assert!(
        names.len() >= 10,
        "the example documents the peer variables"
    );
    for name in &names {
        assert!(
            known.contains(name),
            "config/peer.env.example names unknown {name}"
        );
    }
    assert!(text.lines().any(|l| l.trim() == "NODE_PORT=25000"));
}

/// Every `MICTLANX_...` word of a text.
fn mictlanx_words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .filter(|word| word.starts_with("MICTLANX_") && word.len() > "MICTLANX_".len())
        .map(str::to_string)
        .collect()
}

#[test]
fn run_local_sets_only_known_router_variables() {
    let known: BTreeSet<String> = router_variables()
        .union(&peer_variables())
        .cloned()
        .collect();
    let words = mictlanx_words(&read_repo_file("run_local.sh"));
    for required in [
        "MICTLANX_PEERS_URI",
        "MICTLANX_ROUTER_PORT",
        "MICTLANX_ROUTER_STATE_DIR",
    ] {
        assert!(words.contains(required), "run_local.sh sets {required}");
    }
    for word in &words {
        assert!(
            known.contains(word),
            "run_local.sh uses unknown variable {word}"
        );
    }
}

/// Host ports a service publishes (`[ip:]host:container` entries).
fn published_host_ports(service: &Value) -> Vec<u16> {
    service["ports"]
        .as_sequence()
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| {
                    let text = compose::with_defaults(&compose::scalar(p));
                    let parts: Vec<&str> = text.split(':').collect();
                    parts.get(parts.len().checked_sub(2)?)?.parse().ok()
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn prometheus_scrapes_every_peer_where_run_local_and_compose_publish_them() {
    let prometheus: Value = serde_yaml::from_str(&read_repo_file("config/prometheus.yml"))
        .expect("config/prometheus.yml is YAML");
    let targets: BTreeSet<String> = scrape_targets(&prometheus, "mictlanx-peer")
        .into_iter()
        .collect();
    let peers = services_running(&compose::load(COMPOSE), PEER_BIN);
    assert_eq!(peers.len(), 3);
    for (name, peer) in &peers {
        let ports = published_host_ports(peer);
        assert!(
            ports
                .iter()
                .any(|p| targets.contains(&format!("localhost:{p}"))),
            "{name} publishes {ports:?}; prometheus scrapes {targets:?}"
        );
    }
    let run_local = read_repo_file("run_local.sh");
    assert!(run_local.contains("PEER_BASE_PORT=\"${PEER_BASE_PORT:-25000}\""));
    for port in [25000, 25001, 25002] {
        assert!(targets.contains(&format!("localhost:{port}")), "{port}");
    }
}

//! The `mictlanx-router` binary: load the configuration, start telemetry, build the app and serve until
//! SIGINT/SIGTERM. Configuration errors print one line and exit 2.

use std::process::ExitCode;

use mictlanx_router::cluster::StateStoreUnreachable;
use mictlanx_router::{app::App, config::Config, health_check, telemetry};

/// glibc's malloc and free took ~15% of the router's CPU on a small GET (`docs/performance/`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HELP: &str =
    "mictlanx-router: the MictlanX router (configured by environment variables; see docs/config.md)

Usage: mictlanx-router [--healthcheck | --help | --version]

  --healthcheck  GET /health on the configured port; exit 0 on 200, 1 otherwise
  --help         print this help
  --version      print the version";

fn main() -> ExitCode {
    mictlanx_router::server::install_crypto_provider();
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        Some("--help") | Some("-h") => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Some("--version") | Some("-V") => {
            println!("mictlanx-router {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some("--healthcheck") | None => {}
        Some(other) => {
            eprintln!("unknown argument {other:?}; see --help");
            return ExitCode::from(2);
        }
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if config.server.worker_threads > 0 {
        builder.worker_threads(config.server.worker_threads);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if arg.as_deref() == Some("--healthcheck") {
        return if runtime.block_on(health_check::check(&config.server)) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    runtime.block_on(run(config))
}

async fn run(config: Config) -> ExitCode {
    let telemetry = match telemetry::init(&config.telemetry) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    config.log_ignored_variables();
    let app = match App::build(config).await {
        Ok(app) => app,
        Err(e) => {
            telemetry.shutdown().await;
            if let Some(unreachable) = e.downcast_ref::<StateStoreUnreachable>() {
                eprintln!("{unreachable}");
                return ExitCode::from(2);
            }
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let result = app.run_until(shutdown_signal()).await;
    telemetry.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = terminate => tracing::info!("SIGTERM received"),
    }
}

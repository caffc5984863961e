//! `mictlanx-peer`: parse flags/env, init logging, serve the storage peer until SIGINT/SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use mictlanx_router::peer::{healthcheck::healthcheck, logging, serve, PeerArgs, PeerConfig};

fn main() -> ExitCode {
    let args = PeerArgs::parse();
    let probe = args.healthcheck;
    let config = match args.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(w) = config.workers {
        rt.worker_threads(w);
    }
    let rt = match rt.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if probe {
        return if rt.block_on(healthcheck(&config)) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let _log_guard = logging::init(&config);
    match rt.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "mictlanx-peer failed");
            eprintln!("mictlanx-peer: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: PeerConfig) -> anyhow::Result<()> {
    let server = serve(config).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

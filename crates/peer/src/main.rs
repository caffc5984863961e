//! `mictlanx-peer`: parse flags/env, init logging, serve the storage peer until SIGINT/SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use mictlanx_peer::cli::log_no_effect_variables;
use mictlanx_peer::{healthcheck::healthcheck, logging, serve, PeerArgs, PeerConfig};

// as the router: the listings and metadata answers allocate many small strings, which glibc's allocator
// serves at several times the cost
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    log_no_effect_variables();
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
    // handlers are installed before the port opens, so a SIGTERM right after start-up is graceful too
    let stop = shutdown_signal()?;
    let server = serve(config).await?;
    stop.await;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use anyhow::Context;
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {},
            _ = term.recv() => {},
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

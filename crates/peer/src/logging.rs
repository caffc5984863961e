//! Logging of the `mictlanx-peer` binary: stdout in text or JSON, plus a daily file under `LOG_PATH` when
//! that directory is writable (otherwise one warning). `RUST_LOG` overrides the configured level.

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer, Registry};

use super::config::{LogFormat, PeerConfig};

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Install the global subscriber. Keep the returned guard alive so file logs are flushed on exit.
pub fn init(cfg: &PeerConfig) -> Option<WorkerGuard> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.log_level));
    let mut layers: Vec<BoxedLayer> = vec![match cfg.log_format {
        LogFormat::Text => fmt::layer().boxed(),
        LogFormat::Json => fmt::layer().json().boxed(),
    }];
    let file = std::fs::create_dir_all(&cfg.log_path)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            RollingFileAppender::builder()
                .rotation(Rotation::DAILY)
                .filename_prefix(format!("{}.log", cfg.node_id))
                .build(&cfg.log_path)
                .map_err(|e| e.to_string())
        });
    let (guard, warning) = match file {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            layers.push(match cfg.log_format {
                LogFormat::Text => fmt::layer().with_ansi(false).with_writer(writer).boxed(),
                LogFormat::Json => fmt::layer().json().with_writer(writer).boxed(),
            });
            (Some(guard), None)
        }
        Err(e) => (None, Some(e)),
    };
    let _ = tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init();
    if let Some(e) = warning {
        tracing::warn!(log_path = %cfg.log_path.display(), error = %e, "file logging disabled: log directory not writable");
    }
    guard
}

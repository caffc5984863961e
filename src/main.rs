//! The `mictlanx-router` binary (stand-in until the lead's `main.rs` lands): load the configuration first;
//! a configuration error prints exactly one line on stderr and exits 2.

use std::process::ExitCode;

use mictlanx_router::config::Config;

fn main() -> ExitCode {
    match Config::from_env() {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

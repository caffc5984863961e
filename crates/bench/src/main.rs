//! `mictlanx-bench` binary: parse flags, run the benchmark on a tokio runtime, print the report.

use std::process::ExitCode;

use clap::Parser;
use mictlanx_bench::{run, BenchArgs};

fn main() -> ExitCode {
    let args = BenchArgs::parse();
    if let Err(e) = args.check() {
        eprintln!("mictlanx-bench: {e}");
        return ExitCode::from(2);
    }
    // reqwest is built without a default rustls provider; https URLs need one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mictlanx-bench: cannot start the tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(report) => {
            if args.json {
                match serde_json::to_string(&report) {
                    Ok(line) => println!("{line}"),
                    Err(e) => {
                        eprintln!("mictlanx-bench: cannot serialise the report: {e}");
                        return ExitCode::from(1);
                    }
                }
            } else {
                print!("{}", report.render_text());
            }
            if report.errors > 0 {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("mictlanx-bench: {e}");
            ExitCode::from(1)
        }
    }
}

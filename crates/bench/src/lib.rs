//! `mictlanx-bench`: a load generator for a MictlanX router or a single storage peer (the shipped
//! `mictlanx-bench` binary). [`cli`] parses the flags, [`ops`] speaks the HTTP API, [`run`] drives the
//! preload and the timed phase, [`report`] turns the histogram into figures, [`s3`] speaks S3 (SigV4) for `--target s3`.

pub mod cli;
pub mod ops;
pub mod report;
pub mod run;
pub mod s3;

pub use cli::BenchArgs;
pub use report::Report;
pub use run::{run, BenchError};

//! `mictlanx-bench`: a load generator for a MictlanX router or a single storage peer (the shipped
//! `mictlanx-bench` binary). [`cli`] parses the flags, [`ops`] speaks the HTTP API, [`run`] drives the
//! preload and the timed phase, [`report`] turns the histogram into figures.

pub mod cli;
pub mod ops;
pub mod report;
pub mod run;

pub use cli::BenchArgs;
pub use report::Report;
pub use run::{run, BenchError};

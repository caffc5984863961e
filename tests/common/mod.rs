//! Shared test helpers (each test crate uses a subset).
#![allow(dead_code)]

pub mod bins;
pub mod cluster;
pub mod disk;
pub mod faults;
pub mod peer;
pub mod process;
pub mod redis;
pub mod tools;

//! Bit rot on demand: a real peer's disk does not flip bits when a test asks, so the tests flip one byte of
//! a stored file in place (the one fault of the suites that no real process produces).

use std::os::unix::fs::FileExt;
use std::path::Path;

/// Flip one byte of the file at `path`, at offset `at`, and sync it.
pub fn flip(path: &Path, at: u64) {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).unwrap();
    f.write_all_at(&[b[0] ^ 0x5a], at).unwrap();
    f.sync_all().unwrap();
}

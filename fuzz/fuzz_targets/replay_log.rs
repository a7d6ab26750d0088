//! cargo-fuzz target: see `tests/hostile/harness.rs` for what `replay_log` checks.
#![no_main]

#[path = "../../tests/hostile/harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::replay_log(data));

//! cargo-fuzz target: see `tests/suite/support/hostile.rs` for what `replay_log` checks.
#![no_main]

#[path = "../../tests/suite/support/hostile.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::replay_log(data));

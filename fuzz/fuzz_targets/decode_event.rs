//! cargo-fuzz target: see `tests/suite/support/hostile.rs` for what `decode_event` checks.
#![no_main]

#[path = "../../tests/suite/support/hostile.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::decode_event(data));

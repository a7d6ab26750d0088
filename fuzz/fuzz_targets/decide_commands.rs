//! cargo-fuzz target: see `tests/hostile/harness.rs` for what `decide_commands` checks.
#![no_main]

#[path = "../../tests/hostile/harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::decide_commands(data);
});

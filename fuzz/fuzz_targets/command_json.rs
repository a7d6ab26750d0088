//! cargo-fuzz target: see `tests/hostile/harness.rs` for what `command_json` checks.
#![no_main]

#[path = "../../tests/hostile/harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::command_json(data);
});

//! cargo-fuzz target: see `tests/suite/support/hostile.rs` for what `command_json` checks.
#![no_main]

#[path = "../../tests/suite/support/hostile.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::command_json(data);
});

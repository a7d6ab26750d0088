#!/usr/bin/env bash
# Runs one fuzz target (or all of them) for a number of seconds, on a fresh machine too.
#
#   fuzz/run.sh TARGET SECONDS
#
#   TARGET: decode_event | replay_log | decide_commands | command_json | all
#
# What it needs, and why this is enough:
#
# - cargo-fuzz. Installed from crates.io when missing (`cargo install cargo-fuzz
#   --locked`, the version pinned below), so a machine with only rustup's stable
#   toolchain and network access to crates.io can fuzz.
# - No nightly toolchain. cargo-fuzz builds the targets with libFuzzer's coverage
#   instrumentation and AddressSanitizer, which rustc only takes as unstable flags
#   (-Zsanitizer=address, -Cpasses=sancov-module with its -Cllvm-args). A stable rustc
#   accepts them with RUSTC_BOOTSTRAP=1, the switch the Rust project uses to build its
#   own compiler with unstable features; the sanitizer runtime those flags link is part
#   of the stable standard library for x86_64-unknown-linux-gnu. The switch is set for
#   this script's cargo-fuzz commands only, never for the library's own build, whose
#   code stays on stable Rust (CI builds it without the switch). A nightly toolchain,
#   when present and chosen (`cargo +nightly` or rustup's default), works the same way.
# - libFuzzer itself comes with the libfuzzer-sys crate (C++ sources it builds with
#   the machine's C++ compiler: g++ or clang++).
#
# The committed seeds in fuzz/corpus/TARGET are only read; what the fuzzer finds goes to
# fuzz/target/corpus/TARGET (ignored by git), and a crashing input to
# fuzz/artifacts/TARGET, which `RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET FILE` replays.
# The targets are thin wrappers: the checks live in tests/suite/support/hostile.rs, which
# tests/hostile.rs also runs in CI on proptest inputs.
#
# Exit status: 0 when every run ended without a finding, non-zero otherwise. The last
# lines of each run's output give the number of executions (stat::number_of_executed_units).
set -euo pipefail
cd "$(dirname "$0")"

CARGO_FUZZ_VERSION=0.13.2
TARGETS=(decode_event replay_log decide_commands command_json)

usage() {
    echo "usage: $0 decode_event|replay_log|decide_commands|command_json|all SECONDS" >&2
    exit 2
}
[ $# -eq 2 ] || usage
target=$1
seconds=$2
case $seconds in '' | *[!0-9]*) usage ;; esac
if [ "$target" = all ]; then
    targets=("${TARGETS[@]}")
elif [[ " ${TARGETS[*]} " == *" $target "* ]]; then
    targets=("$target")
else
    usage
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION from crates.io"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
# cargo-fuzz has no --locked: check here that fuzz/Cargo.lock needs no change, so the
# fuzzers build exactly the committed dependency versions.
cargo metadata --locked --format-version 1 >/dev/null

export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
    mkdir -p "target/corpus/$t"
    echo "== $t for ${seconds}s"
    # Sanitizer builds stay in fuzz/target (ignored by git) whatever CARGO_TARGET_DIR
    # says: they never mix with, or wait on the lock of, the library's target directory.
    cargo fuzz run --target-dir target "$t" "target/corpus/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -max_len=8192 -print_final_stats=1
done

#!/usr/bin/env bash
# Runs one fuzz target (or all of them) for a number of seconds.
#
#   fuzz/run.sh TARGET SECONDS      TARGET: decode_event | replay_log | decide_commands | all
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz builds with nightly-only
# flags (-Zsanitizer=address); on a stable toolchain RUSTC_BOOTSTRAP=1 lets rustc accept
# them, and the AddressSanitizer runtime ships with the standard library for
# x86_64-unknown-linux-gnu. The committed seeds in fuzz/corpus/TARGET are only read;
# what the fuzzer finds goes to fuzz/target/corpus/TARGET (ignored by git), and a
# crashing input to fuzz/artifacts/TARGET, which `cargo fuzz run TARGET FILE` replays.
#
# Exit status: 0 when every run ended without a finding, non-zero otherwise. The last
# lines of each run's output give the number of executions (stat::number_of_executed_units).
set -euo pipefail
cd "$(dirname "$0")"

usage() { echo "usage: $0 decode_event|replay_log|decide_commands|all SECONDS" >&2; exit 2; }
[ $# -eq 2 ] || usage
target=$1
seconds=$2
case $seconds in '' | *[!0-9]*) usage ;; esac
case $target in
    all) targets=(decode_event replay_log decide_commands) ;;
    decode_event | replay_log | decide_commands) targets=("$target") ;;
    *) usage ;;
esac
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: run \`cargo install cargo-fuzz\`" >&2
    exit 2
fi

export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
    mkdir -p "target/corpus/$t"
    echo "== $t for ${seconds}s"
    cargo fuzz run "$t" "target/corpus/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -max_len=8192 -print_final_stats=1
done

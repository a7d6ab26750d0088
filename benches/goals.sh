#!/usr/bin/env bash
# Issue 21's goals in one sitting: every figure README's "Performance goals" table quotes,
# each printed beside its floor or peer from the same run, with `uptime` before each
# step. Run it on a quiet machine (nothing else building); it takes about 10 minutes.
#
#   bash benches/goals.sh 2>&1 | tee /tmp/goals.log
#
# It starts (or reuses) the fsync-on PostgreSQL cluster of .ci/setup/10-postgres.sh.
# valgrind must be installed for the instruction counts (Debian's `valgrind`).
set -euo pipefail
cd "$(dirname "$0")/.."

load() { echo "-- $(date -u +%H:%M:%S) uptime:$(uptime | sed 's/.*load average//')"; }
# Criterion's lines for one bench: the name and its time.
times() { grep -E '^[a-z_]+/|time:' | grep -B1 'time:' | grep -v '^--$' || true; }

unset DATABASE_URL
# shellcheck source=/dev/null
CASELEDGER_PG_DURABLE=1 source .ci/setup/10-postgres.sh

echo "== build"
cargo bench --all-features --no-run --bench postgres --bench cold_start --bench file_store \
    --bench repository 2>&1 | tail -n 1
cargo bench --no-run --bench command_cost 2>&1 | tail -n 1

echo "== goal 1: PostgreSQL command vs a bare INSERT, latency and 16-task throughput"
load
cargo bench --all-features --bench postgres -- paired --warm-up-time 1 --measurement-time 2 2>&1 | grep '^paired:'

echo "== goal 7: the feed from 1e5- and 1e6-event tables"
load
cargo bench --all-features --bench postgres -- pg_feed --warm-up-time 1 --measurement-time 3 2>&1 \
    | grep -E 'pg_feed|thrpt:' | grep -v '^Benchmarking'

echo "== goal 2: cold start of a 1e5-event case, with and without a snapshot"
load
cargo bench --all-features --bench cold_start -- --warm-up-time 1 --measurement-time 5 2>&1 | times

echo "== goals 3 and 4: 2 threads vs 1 on distinct cases, Repository<MemoryStore>"
load
# The paired lines (1 and 2 threads in rotating rounds) are the figures; criterion's
# groups follow.
cargo bench --all-features --bench repository -- threads --warm-up-time 1 --measurement-time 4 2>&1 \
    | grep -E '^paired:|^threads/|time:' | grep -B1 -E 'time:|^paired' | grep -v '^--$'

echo "== goals 4 and 6: the file store's synced appends vs write + fdatasync, in rotation; reopen"
load
# The paired lines print whatever the filter; the filter picks the reopen group.
cargo bench --all-features --bench file_store -- reopen --warm-up-time 1 --measurement-time 4 2>&1 \
    | grep -E '^paired:|^reopen/|time:' | grep -B1 -E 'time:|^paired' | grep -v '^--$'

echo "== goal 5: instructions per in-memory command (callgrind; Ir / 5000)"
load
# Default features, as README's method: the `tracing` feature adds the command's span
# (about 430 instructions a command with no subscriber installed).
bin="$(cargo bench --bench command_cost --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p')"
for size in 10 1e3 1e5; do
    out="$(mktemp)"
    CASELEDGER_COMMANDS=5000 valgrind --tool=callgrind --toggle-collect='*command_cost::counted*' \
        --callgrind-out-file="$out" "$bin" "$size" >/dev/null 2>&1
    ir="$(grep -E '^(summary|totals):' "$out" | head -n 1 | awk '{print $2}')"
    echo "history $size: $ir Ir / 5000 = $((ir / 5000)) instructions a command (goal <= 5500)"
    rm -f "$out"
done

echo "== goal 3: the cache keeps a working set equal to its capacity (the unit test)"
cargo test --all-features --lib -- cache::tests::a_working_set_equal_to_the_capacity 2>&1 | grep -E '^test |test result'
load

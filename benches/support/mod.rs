//! What the benchmarks share: realistic case logs (the library's
//! `testkit::sample`, decided by `Rules::decide`, so every event is one the crate itself
//! would record), built once outside any timed loop, the sizes, and on-CPU measurement.
#![allow(dead_code)] // Each bench uses a different part of this module.

use caseledger::Event;

/// The sizes the issue asks for.
pub const SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];

/// [`SIZES`], up to `BENCH_MAX_EVENTS` when that is set (for quick runs and profiling:
/// building the 1e6 log takes seconds even when a filter skips its benchmarks).
pub fn sizes() -> Vec<usize> {
    let max = std::env::var("BENCH_MAX_EVENTS").ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::INFINITY);
    SIZES.into_iter().filter(|&n| n as f64 <= max).collect()
}

/// A typical log of exactly `n` events (`caseledger::testkit::sample`: notes, contacts,
/// replies, fact updates, handoffs between four people and a work item per 1,000 events),
/// decided under the default rules.
pub fn typical_log(n: usize) -> Vec<Event> {
    caseledger::testkit::sample::typical_log(n).expect("the default rules accept the typical mix")
}

/// The log as JSON Lines, and its size in bytes.
pub fn json_lines(events: &[Event]) -> String {
    caseledger::codec::encode_log(events).expect("encoding events")
}

/// A label for a size: `1e3`, `1e5`, `1e6`.
pub fn label(n: usize) -> String {
    let mut exp = 0;
    let mut rest = n;
    while rest >= 10 && rest.is_multiple_of(10) {
        rest /= 10;
        exp += 1;
    }
    if rest == 1 {
        format!("1e{exp}")
    } else {
        n.to_string()
    }
}

/// Fewer samples for the big logs, so each bench finishes in minutes on two shared cores.
pub fn sample_size(n: usize) -> usize {
    if n >= 1_000_000 {
        10
    } else {
        20
    }
}

/// Criterion measurement of the bench thread's time on a CPU, from the scheduler's
/// accounting in `/proc/thread-self/schedstat` (Linux).
///
/// The benches run on a 2-core machine shared with compilers and test suites; wall time
/// there mostly measures how long the thread waited for a core. On-CPU time does not
/// (cache pollution from neighbours still shows), and on an idle machine the two agree.
/// Set `BENCH_WALL_TIME=1` to measure wall time instead.
pub struct OnCpu {
    wall: Option<std::time::Instant>,
    formatter: criterion::measurement::WallTime,
}

impl OnCpu {
    /// Nanoseconds on a CPU (or, with `BENCH_WALL_TIME`, since the bench started).
    fn now(&self) -> u64 {
        match self.wall {
            Some(start) => u64::try_from(start.elapsed().as_nanos()).expect("bench shorter than 584 years"),
            None => std::fs::read_to_string("/proc/thread-self/schedstat")
                .ok()
                .and_then(|s| s.split_whitespace().next().and_then(|ns| ns.parse().ok()))
                .expect("/proc/thread-self/schedstat (Linux with schedstats); set BENCH_WALL_TIME=1 elsewhere"),
        }
    }
}

impl criterion::measurement::Measurement for OnCpu {
    type Intermediate = u64;
    type Value = std::time::Duration;

    fn start(&self) -> u64 {
        self.now()
    }

    fn end(&self, start: u64) -> std::time::Duration {
        std::time::Duration::from_nanos(self.now().saturating_sub(start))
    }

    fn add(&self, a: &std::time::Duration, b: &std::time::Duration) -> std::time::Duration {
        *a + *b
    }

    fn zero(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    fn to_f64(&self, value: &std::time::Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn criterion::measurement::ValueFormatter {
        self.formatter.formatter()
    }
}

/// The configuration every bench here uses: on-CPU time unless `BENCH_WALL_TIME` is set.
pub fn on_cpu() -> criterion::Criterion<OnCpu> {
    let wall = std::env::var_os("BENCH_WALL_TIME").map(|_| std::time::Instant::now());
    criterion::Criterion::default().with_measurement(OnCpu { wall, formatter: criterion::measurement::WallTime })
}

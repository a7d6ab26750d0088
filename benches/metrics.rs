//! Metrics over 100,000 cases (S9): one pass per log, memory independent of the number
//! of cases. The cases are 1,000 generated logs (`caseledger::testkit::sample::service_logs`),
//! each read 100 times, so generating them stays cheap while the metrics see 100,000
//! logs of about a dozen events each.
//!
//! `cargo bench --bench metrics -- --warm-up-time 1 --measurement-time 2`

use caseledger::testkit::sample::{service_logs, SERVICE_START};
use caseledger::{
    policy::{Deadlines, Span},
    Metrics,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use time::Duration;

const CASES: usize = 100_000;
const DISTINCT: usize = 1_000;

fn metrics(c: &mut Criterion) {
    let logs = service_logs(DISTINCT, 7).expect("generated cases");
    let events: usize = logs.iter().map(Vec::len).sum::<usize>() * (CASES / DISTINCT);
    let as_of = SERVICE_START + Duration::days(90);
    let deadlines = Deadlines::default().first_response(Span::hours(4)).next_update(Span::days(2));
    let mut group = c.benchmark_group("metrics");
    group.sample_size(10);
    group.throughput(Throughput::Elements(CASES as u64));
    group.bench_function(format!("100k cases ({events} events), report"), |b| {
        b.iter(|| {
            let mut metrics = Metrics::new(as_of).with_deadlines(deadlines.clone());
            for log in logs.iter().cycle().take(CASES) {
                metrics.add_log(log).expect("generated logs fold");
            }
            black_box(metrics.report())
        });
    });
    group.finish();
}

criterion_group!(benches, metrics);
criterion_main!(benches);

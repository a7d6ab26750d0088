//! apply: folding N in-memory events into a case (events/s).
//!
//! `apply` borrows each event (the host keeps its log); `replay` also checks that no two
//! events share an id. Both fold the same typical log, built once outside the timed loop.
//!
//! Run: `cargo bench --bench fold`

mod support;

use std::hint::black_box;

use caseledger::Case;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use support::{label, on_cpu, sample_size, sizes, typical_log, OnCpu};

fn fold(c: &mut Criterion<OnCpu>) {
    let mut group = c.benchmark_group("fold");
    for n in sizes() {
        let events = typical_log(n);
        let (first, rest) = events.split_first().expect("non-empty log");
        group.throughput(Throughput::Elements(n as u64));
        group.sample_size(sample_size(n));
        group.bench_function(format!("apply/{}", label(n)), |b| {
            b.iter(|| {
                let mut case = Case::from_opened(first).expect("opened");
                for event in rest {
                    case.apply(event).expect("valid log");
                }
                black_box(case)
            });
        });
        group.bench_function(format!("replay/{}", label(n)), |b| {
            b.iter(|| black_box(Case::replay(&events).expect("valid log")));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = on_cpu();
    targets = fold
}
criterion_main!(benches);

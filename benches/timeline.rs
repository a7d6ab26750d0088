//! Timeline: render the staff timeline of N events as text, JSON and Mermaid (events/s).
//!
//! Each measurement builds the timeline from the log and renders it, as a host answering
//! "show me the history" does.
//!
//! Run: `cargo bench --bench timeline`

mod support;

use std::hint::black_box;

use caseledger::Timeline;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use support::{label, on_cpu, sample_size, sizes, typical_log, OnCpu};

fn timeline(c: &mut Criterion<OnCpu>) {
    let mut group = c.benchmark_group("timeline");
    for n in sizes() {
        let events = typical_log(n);
        group.throughput(Throughput::Elements(n as u64));
        group.sample_size(sample_size(n));
        group.bench_function(format!("text/{}", label(n)), |b| {
            b.iter(|| black_box(Timeline::staff(&events).to_string()));
        });
        group.bench_function(format!("json/{}", label(n)), |b| {
            b.iter(|| black_box(Timeline::staff(&events).to_json().expect("timeline JSON")));
        });
        group.bench_function(format!("mermaid/{}", label(n)), |b| {
            b.iter(|| black_box(Timeline::staff(&events).to_mermaid()));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = on_cpu();
    targets = timeline
}
criterion_main!(benches);

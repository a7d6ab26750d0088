//! Timeline: render the staff timeline of N events as text, JSON and Mermaid (events/s).
//!
//! Each measurement builds the timeline from the log and renders it, as a host answering
//! "show me the history" does.
//!
//! `page`: the last page of 50 entries of a case of N events, as a host answering "show
//! me the latest entries" does: built from the page's events and the folded case
//! (`Timeline::page`), against building the whole timeline and slicing it.
//!
//! Run: `cargo bench --bench timeline`

mod support;

use std::hint::black_box;

use caseledger::{timeline::View, Timeline};
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

fn page(c: &mut Criterion<OnCpu>) {
    const PAGE: usize = 50;
    let mut group = c.benchmark_group("page");
    for n in sizes() {
        let events = typical_log(n);
        let case = caseledger::Case::replay(&events).expect("the typical log folds");
        let after = n.saturating_sub(PAGE);
        let tail = &events[after..];
        group.sample_size(sample_size(n));
        group.bench_function(format!("page/{}", label(n)), |b| {
            b.iter(|| black_box(Timeline::page(View::Staff, &case, after as u64, PAGE, tail).expect("a page")));
        });
        group.bench_function(format!("whole_then_slice/{}", label(n)), |b| {
            b.iter(|| {
                let whole = Timeline::staff(&events);
                black_box(whole.entries()[after..].to_vec())
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = on_cpu();
    targets = timeline, page
}
criterion_main!(benches);

//! Replay from JSON: decode a JSON Lines log of N events and fold it (MB/s), next to
//! decoding the same lines into typed events alone. The ratio of the two is the fold's
//! own overhead on top of decoding.
//!
//! Run: `cargo bench --bench replay_json`

mod support;

use std::hint::black_box;

use caseledger::{codec::decode_log, Case};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use support::{json_lines, label, on_cpu, sample_size, sizes, typical_log, OnCpu};

fn replay_json(c: &mut Criterion<OnCpu>) {
    let mut group = c.benchmark_group("replay_json");
    for n in sizes() {
        let text = json_lines(&typical_log(n));
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.sample_size(sample_size(n));
        group.bench_function(format!("decode/{}", label(n)), |b| {
            b.iter(|| black_box(decode_log(&text).expect("valid JSON")));
        });
        group.bench_function(format!("decode_and_fold/{}", label(n)), |b| {
            b.iter(|| {
                let events = decode_log(&text).expect("valid JSON");
                black_box(Case::replay(&events).expect("valid log"))
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = on_cpu();
    targets = replay_json
}
criterion_main!(benches);

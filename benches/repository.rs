//! Issue 6: what a host pays per command and across many cases.
//!
//! - `round_trip/N`: one command (decide + append + fold) through `Repository` over
//!   `MemoryStore` on a case that already has N events. Must be flat in N.
//! - `many_cases/*`: 100,000 cases of 20 events in one store (override the count with
//!   `CASELEDGER_BENCH_CASES`): open them, replay them all, and ask which breach a deadline.
//!
//! Run: `cargo bench --bench repository`.

mod support;

use std::hint::black_box;

use caseledger::{
    Actor, Case, CaseId, Command, DeadlineState, Deadlines, Event, EventId, Limits, MemoryStore, Opening, Repository,
    Rules, Span, Staff, Store, Visibility,
};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use support::{label, on_cpu, typical_log, OnCpu};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

/// The benches run far more commands on one case than the default cap of events allows.
fn unlimited() -> Rules {
    let mut limits = Limits::default();
    limits.max_events = u64::MAX;
    Rules::default().with_limits(limits)
}

/// Wall time: one command takes about a microsecond, finer than the scheduler's on-CPU
/// accounting that `support::on_cpu` reads, which would report zero for short samples.
fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip");
    group.throughput(Throughput::Elements(1));
    for n in [10usize, 1_000, 100_000] {
        let log = typical_log(n);
        let id = log[0].case;
        let last = log.last().map_or(T0, |e| e.at);
        let store = MemoryStore::new();
        store.append(id, 0, &log).expect("stores");
        let mut repo = Repository::new(store, unlimited());
        let by = Actor::Staff(repo.case(id).expect("loads once, outside the timed loop").owner().clone());
        group.bench_function(label(n), |b| {
            b.iter(|| {
                let note = Command::AddNote { text: "customer called again".into(), visibility: Visibility::Internal };
                black_box(repo.execute(id, note, &by, last).expect("accepted"))
            });
        });
    }
    group.finish();
}

fn case_count() -> usize {
    std::env::var("CASELEDGER_BENCH_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
}

fn many_cases(c: &mut Criterion<OnCpu>) {
    let cases = case_count();
    let ids: Vec<CaseId> = (0..cases as u64)
        .map(|i| {
            let mut random = [0u8; 10];
            random[..8].copy_from_slice(&i.to_be_bytes());
            CaseId::new_v7(T0, random)
        })
        .collect();
    // One 20-event history, re-stamped per case, keeps set-up time reasonable.
    let template = typical_log(20);
    let logs: Vec<Vec<Event>> = ids
        .iter()
        .map(|id| {
            template
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    e.case = *id;
                    // The case ids' last two bytes are zero, so `| seq` keeps every id unique.
                    let unique = id.as_uuid().as_u128() | u128::from(e.seq);
                    e.id = EventId::from_uuid(uuid::Uuid::from_u128(unique));
                    e
                })
                .collect()
        })
        .collect();
    let store = MemoryStore::new();
    for (id, log) in ids.iter().zip(&logs) {
        store.append(*id, 0, log).expect("stores");
    }
    let deadlines = Deadlines::default().first_response(Span::hours(4)).next_update(Span::days(2));
    let now = T0 + Duration::days(3);

    let mut group = c.benchmark_group("many_cases");
    group.sample_size(10);
    group.throughput(Throughput::Elements(cases as u64));
    let opening = Opening::new("cust-1", "my laptop works", Staff::new("ana", "software"));
    group.bench_function(BenchmarkId::new("open", cases), |b| {
        b.iter_batched(
            || Repository::new(MemoryStore::new(), Rules::default()),
            |mut repo| {
                for id in &ids {
                    repo.open(*id, opening.clone(), &Actor::Customer, T0).expect("opens");
                }
                repo
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function(BenchmarkId::new("replay_all", cases), |b| {
        b.iter(|| {
            let mut versions = 0;
            for id in &ids {
                let log = store.read(*id).expect("reads");
                versions += Case::replay(&log).expect("valid").version();
            }
            black_box(versions)
        });
    });
    let folded: Vec<Case> = logs.iter().map(|log| Case::replay(log).expect("valid")).collect();
    group.bench_function(BenchmarkId::new("deadline_breaches", cases), |b| {
        b.iter(|| {
            let breached: Vec<CaseId> = folded
                .iter()
                .filter(|case| {
                    deadlines.check(case, now).iter().any(|s| matches!(s.state, DeadlineState::Breached { .. }))
                })
                .map(Case::id)
                .collect();
            black_box(breached)
        });
    });
    group.finish();
}

criterion_group!(per_command, round_trip);
criterion_group! {
    name = across_cases;
    config = on_cpu();
    targets = many_cases
}
criterion_main!(per_command, across_cases);

//! Issue 6: what a host pays per command and across many cases.
//!
//! - `round_trip/N`: one command (decide + append + fold) through `Repository` over
//!   `MemoryStore` on a case that already has N events. Must be flat in N.
//! - `many_cases/*`: 100,000 cases of 20 events in one store (override the count with
//!   `CASELEDGER_BENCH_CASES`): open them, replay them all, and ask which breach a deadline.
//!
//! Run: `cargo bench --bench repository`.

use caseledger::{
    Actor, Case, CaseId, Channel, Command, DeadlineState, Deadlines, Event, Ledger, Limits, MemoryStore, Opening,
    Repository, Rules, Span, Staff, Store, Visibility,
};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

fn unlimited() -> Rules {
    let mut limits = Limits::default();
    limits.max_events = u64::MAX;
    Rules::default().with_limits(limits)
}

/// A case of `n` events with a typical mix (facts, notes, contacts, replies, handoffs,
/// work items) whose folded state stays small however long the history: the mix a real
/// long-running case has. Returns the log and the current owner.
fn history(rules: &Rules, id: CaseId, n: usize) -> (Vec<Event>, Staff) {
    let ana = Staff::new("ana", "software");
    let bo = Staff::new("bo", "hardware");
    let opening = Opening::new("cust-1", "my laptop works", ana.clone());
    let mut ledger = Ledger::open(rules, id, opening, &Actor::Customer, T0).expect("opens");
    let mut owner = ana;
    let mut other = bo;
    let mut work = 0;
    let mut at = T0;
    for i in 1..n {
        at += Duration::seconds(30);
        let by = Actor::Staff(owner.clone());
        let (by, command) = match i % 8 {
            0 => (
                by,
                Command::RecordFact {
                    name: format!("fact {}", i % 16),
                    value: format!("v{i}"),
                    visibility: Visibility::Customer,
                },
            ),
            1 | 6 => {
                (by, Command::AddNote { text: format!("note {i}: checked the logs"), visibility: Visibility::Internal })
            }
            2 => (
                by,
                Command::ContactCustomer { channel: Channel::Email, message: "any change since the update?".into() },
            ),
            3 => (Actor::Customer, Command::RecordReply { channel: Channel::Email, message: "still the same".into() }),
            4 => (by, Command::AddNote { text: "we are on it".into(), visibility: Visibility::Customer }),
            5 => {
                let to = other.clone();
                other = owner.clone();
                owner = to.clone();
                (by, Command::Transfer { to, note: format!("handoff {i}") })
            }
            _ if work < 32 && work % 2 == 0 => {
                let item = format!("W{}", work / 2).into();
                work += 1;
                (by, Command::OpenWork { item, department: owner.department.clone(), title: "check".into() })
            }
            _ if work < 32 => {
                let item = format!("W{}", work / 2).into();
                work += 1;
                (by, Command::CompleteWork { item, note: "done".into() })
            }
            _ => (by, Command::AddNote { text: "still investigating".into(), visibility: Visibility::Internal }),
        };
        ledger.execute(rules, command, &by, at).expect("the generated history is valid");
    }
    (ledger.into_events(), owner)
}

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip");
    group.throughput(Throughput::Elements(1));
    for n in [10usize, 1_000, 100_000] {
        let rules = unlimited();
        let id = CaseId::new_v7(T0, [1; 10]);
        let (log, owner) = history(&rules, id, n);
        let last = log.last().map_or(T0, |e| e.at);
        let store = MemoryStore::new();
        store.append(id, 0, &log).expect("stores");
        let mut repo = Repository::new(store, rules);
        repo.case(id).expect("loads once, outside the timed loop");
        let by = Actor::Staff(owner);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
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

fn many_cases(c: &mut Criterion) {
    let cases = case_count();
    let rules = unlimited();
    let ids: Vec<CaseId> = (0..cases as u64)
        .map(|i| {
            let mut random = [0u8; 10];
            random[..8].copy_from_slice(&i.to_be_bytes());
            CaseId::new_v7(T0, random)
        })
        .collect();
    // One 20-event history, re-stamped per case, keeps set-up time reasonable.
    let (template, _) = history(&rules, ids[0], 20);
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
                    e.id = caseledger::EventId::from_uuid(uuid::Uuid::from_u128(unique));
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

criterion_group!(benches, round_trip, many_cases);
criterion_main!(benches);

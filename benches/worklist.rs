//! Issue 17: the worklist's queue page and the projection's throughput.
//!
//! - `page/{owner,department,breached,due_within}/N`: one page of 50 rows from the
//!   in-process worklist holding N open cases (1e4, 1e5, 1e6; cap with
//!   `BENCH_MAX_CASES`). The index is built once per size, outside the timing. Must be
//!   flat in N: O(page + log N).
//! - `page/scan_every_case/10000`: the peer, what a queue without a worklist costs —
//!   replay each of 1e4 stored logs, derive its row, filter, sort, take 50.
//! - `apply/10000`: events/s the worklist projection applies in process (1e4 cases,
//!   their events interleaved).
//!
//! The resident memory the index took per case is printed while it is built.
//!
//! Run: `cargo bench --bench worklist` (`-- page` or `-- apply` for one group).

use std::hint::black_box;

use caseledger::projection::Projection;
use caseledger::worklist::{Query, Row, Worklist};
use caseledger::{
    event::Channel,
    policy::{Deadlines, Span},
    Actor, Case, CaseId, Command, Event, Opening, Rules, Staff,
};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);
const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];
const STAFF: usize = 200;
const DEPARTMENTS: usize = 10;

fn sizes() -> Vec<usize> {
    let max = std::env::var("BENCH_MAX_CASES").ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::INFINITY);
    SIZES.into_iter().filter(|&n| n as f64 <= max).collect()
}

fn deadlines() -> Deadlines {
    Deadlines::default().first_response(Span::hours(4)).next_update(Span::days(1))
}

fn staff(i: usize) -> Staff {
    Staff::new(format!("agent-{}", i % STAFF), format!("dept-{}", i % DEPARTMENTS))
}

/// Case `i`'s log: opened a second after case `i - 1`, for one of `n / 4` customers; one
/// case in two is contacted, one in three then answers, one in five is handed on.
fn log(rules: &Rules, i: usize, n: usize) -> Vec<Event> {
    let at = T0 + Duration::seconds(i as i64);
    let mut bytes = [0u8; 10];
    bytes[..8].copy_from_slice(&(i as u64).to_be_bytes());
    let id = CaseId::new_v7(at, bytes);
    let customer = format!("cust-{}", i % (n / 4).max(1));
    let opening = Opening::new(customer.as_str(), "my laptop works", staff(i));
    let customer = Actor::customer(customer);
    let opened = rules.open(id, opening, &customer, at).unwrap();
    let mut case = Case::from_opened(&opened).unwrap();
    let mut log = vec![opened];
    let owner = Actor::Staff(staff(i));
    let mut step = |case: &mut Case, by: &Actor, command: Command, minutes: i64| {
        let events = rules.decide(case, command, by, at + Duration::minutes(minutes)).unwrap();
        for e in &events {
            case.apply(e).unwrap();
        }
        log.extend(events);
    };
    if i.is_multiple_of(2) {
        step(&mut case, &owner, Command::ContactCustomer { channel: Channel::Email, message: "on it".into() }, 30);
    }
    if i.is_multiple_of(3) {
        step(&mut case, &customer, Command::RecordReply { channel: Channel::Email, message: "thanks".into() }, 60);
    }
    if i.is_multiple_of(5) {
        step(&mut case, &owner, Command::Transfer { to: staff(i + 7), note: "over to you".into() }, 90);
    }
    log
}

/// Resident memory of this process in bytes (Linux), to report what the index takes.
fn resident() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A worklist of `n` open cases, built by applying their logs; reports its memory.
fn build(n: usize) -> Worklist {
    let rules = Rules::default();
    let before = resident();
    let mut worklist = Worklist::new(deadlines());
    let mut events = 0usize;
    for i in 0..n {
        for e in log(&rules, i, n) {
            worklist.apply(&e).unwrap();
            events += 1;
        }
    }
    if let (Some(before), Some(after)) = (before, resident()) {
        eprintln!(
            "worklist of {n} open cases ({events} events): {} MiB resident, {} bytes per case",
            after.saturating_sub(before) / (1 << 20),
            after.saturating_sub(before) / n as u64
        );
    }
    worklist
}

fn label(n: usize) -> String {
    match n {
        10_000 => "1e4".into(),
        100_000 => "1e5".into(),
        1_000_000 => "1e6".into(),
        n => n.to_string(),
    }
}

fn page(c: &mut Criterion) {
    let mut group = c.benchmark_group("page");
    group.throughput(Throughput::Elements(50));
    group.sample_size(50);
    let now = T0 + Duration::hours(5);
    for n in sizes() {
        let worklist = build(n);
        let queries = [
            ("owner", Query::owner("agent-17")),
            ("department", Query::department("dept-3")),
            ("breached", Query::breached(now)),
            ("due_within", Query::due_within(now, Span::hours(2))),
        ];
        for (name, query) in queries {
            // A page from the middle of the queue, where a cursor brings an agent.
            let total = worklist.page(&query.clone().limit(usize::MAX)).rows.len();
            let skip = total.saturating_sub(50) / 2;
            let middle = if skip > 0 { worklist.page(&query.clone().limit(skip)).next } else { None };
            let query = query.after(middle).limit(50);
            assert_eq!(worklist.page(&query).rows.len(), total.min(50), "{name} at {n}: a full page");
            assert!(total >= 40, "{name} at {n}: only {total} rows");
            group.bench_function(BenchmarkId::new(name, label(n)), |b| b.iter(|| black_box(worklist.page(&query))));
        }
        drop(worklist);
    }
    // The peer: no worklist, every case replayed from its log for one page.
    let n = 10_000;
    let rules = Rules::default();
    let logs: Vec<Vec<Event>> = (0..n).map(|i| log(&rules, i, n)).collect();
    let deadlines = deadlines();
    let query = Query::owner("agent-17");
    group.bench_function(BenchmarkId::new("scan_every_case", label(n)), |b| {
        b.iter(|| {
            let mut rows: Vec<Row> = logs
                .iter()
                .filter_map(|log| Row::of(&Case::replay(log).unwrap(), &deadlines))
                .filter(|r| query.matches(r))
                .collect();
            rows.sort_by_key(Row::cursor);
            rows.truncate(50);
            black_box(rows)
        })
    });
    group.finish();
}

fn apply(c: &mut Criterion) {
    let n = 10_000;
    let rules = Rules::default();
    let logs: Vec<Vec<Event>> = (0..n).map(|i| log(&rules, i, n)).collect();
    // Interleaved across cases, as appends from many agents arrive.
    let longest = logs.iter().map(Vec::len).max().unwrap_or(0);
    let events: Vec<&Event> = (0..longest).flat_map(|k| logs.iter().filter_map(move |l| l.get(k))).collect();
    let mut group = c.benchmark_group("apply");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);
    group.bench_function(label(n), |b| {
        b.iter_batched(
            || Worklist::new(deadlines()),
            |mut worklist| {
                for e in &events {
                    worklist.apply(e).unwrap();
                }
                worklist
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, page, apply);
criterion_main!(benches);

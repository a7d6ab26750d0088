//! Issue 6: what a host pays per command and across many cases.
//!
//! - `round_trip/N`: one command (decide + append + fold) through `Repository` over
//!   `MemoryStore` on a case that has N events, in a fresh repository per sample. Must be
//!   flat in N.
//! - `threads/{memory_store,sharded_store}/T`: commands on distinct cases through one
//!   shared repository from T threads (wall time per command; the 2-thread throughput
//!   gain is `…/1 ÷ …/2`), and `threads/floor_sharing_nothing/T`, each thread with its
//!   own repository and store: what the machine allows, measured in the same run.
//! - `many_cases/*`: 100,000 cases of 20 events in one store (override the count with
//!   `CASELEDGER_BENCH_CASES`): open them, replay them all, and ask which breach a deadline.
//!
//! Run: `cargo bench --bench repository` (`-- round_trip`, `-- threads`, `-- many_cases`
//! for one group).

mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use caseledger::{
    error::StoreError,
    event::Visibility,
    id::EventId,
    policy::{DeadlineState, Deadlines, Span},
    rules::Limits,
    store::Appended,
    Actor, Case, CaseId, Command, Event, MemoryStore, Opening, Repository, Rules, Staff, Store,
};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use std::time::Duration as StdDuration;
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
///
/// The case's history stays at `n` while it is measured: commands run in rounds of
/// `max(10, n / 10)`, each round on a fresh store and repository holding one case of
/// exactly `n` events, built and loaded (and one command run) outside the timed part.
/// So the figure for 10 events is taken at 11 to 21 events, and for 1e5 at 1e5 to 1.1e5.
fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    for n in [10usize, 1_000, 100_000] {
        let log = typical_log(n);
        let id = log[0].case;
        let last = log.last().map_or(T0, |e| e.at);
        let round = (n as u64 / 10).max(10);
        group.bench_function(label(n), |b| {
            b.iter_custom(|iters| {
                let mut timed = StdDuration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let store = MemoryStore::new();
                    store.append(id, 0, &log).expect("stores");
                    let repo = Repository::new(store, unlimited());
                    let by = Actor::Staff(repo.case(id).expect("loads, outside the timed part").owner().clone());
                    // One untimed command: the store's log was built at exactly `n` events, so
                    // its first append doubles the vector, a cost amortized over `n` appends in
                    // a long-running store, not over one round.
                    let note = Command::AddNote { text: "first call".into(), visibility: Visibility::Internal };
                    repo.execute(id, note, &by, last).expect("accepted");
                    let commands = left.min(round);
                    let start = Instant::now();
                    for _ in 0..commands {
                        let note =
                            Command::AddNote { text: "customer called again".into(), visibility: Visibility::Internal };
                        black_box(repo.execute(id, note, &by, last).expect("accepted"));
                    }
                    timed += start.elapsed();
                    left -= commands;
                    drop(black_box(repo));
                }
                timed
            });
        });
    }
    group.finish();
}

/// Cases per thread in `threads`; each thread writes only to its own.
const CASES_PER_THREAD: usize = 500;

/// Commands on distinct cases through ONE shared repository (no outer lock) from 1 and
/// 2 threads: wall time per command, so the throughput gain is `…/1 ÷ …/2`. Each thread
/// round-robins over its own cases, all loaded into the cache before timing.
///
/// Two stores: `MemoryStore`, which appends under one lock for all cases, and
/// `Sharded`, 16 memory stores by case id, which isolates the repository's own scaling.
fn threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("threads");
    group.throughput(Throughput::Elements(1));
    let template = typical_log(20);
    let last = template.last().map_or(T0, |e| e.at);
    let owner = Case::replay(&template).expect("valid").owner().clone();
    let max_threads = 2;
    let ids: Vec<CaseId> = (0..CASES_PER_THREAD * max_threads)
        .map(|i| {
            let mut random = [0u8; 10];
            random[..8].copy_from_slice(&(i as u64).to_be_bytes());
            CaseId::new_v7(T0, random)
        })
        .collect();
    let memory = shared_repository(MemoryStore::new(), &ids, &template);
    let sharded = shared_repository(Sharded::default(), &ids, &template);
    // The floor: each thread its own repository and store, sharing nothing but the
    // machine (what per-thread ledgers would do).
    let own: Vec<Arc<Repository<MemoryStore>>> =
        ids.chunks(CASES_PER_THREAD).map(|mine| shared_repository(MemoryStore::new(), mine, &template)).collect();
    paired_threads(
        &[("memory_store", &[&memory]), ("floor_sharing_nothing", &own.iter().collect::<Vec<_>>())],
        &ids,
        &owner,
        last,
    );
    paired_threads(&[("sharded_store", &[&sharded])], &ids, &owner, last);
    for threads in 1..=max_threads {
        group.bench_function(BenchmarkId::new("memory_store", threads), |b| {
            b.iter_custom(|iters| run_threads(&[&memory], &ids, threads, iters, &owner, last));
        });
        group.bench_function(BenchmarkId::new("sharded_store", threads), |b| {
            b.iter_custom(|iters| run_threads(&[&sharded], &ids, threads, iters, &owner, last));
        });
        group.bench_function(BenchmarkId::new("floor_sharing_nothing", threads), |b| {
            let repos: Vec<&Arc<Repository<MemoryStore>>> = own.iter().collect();
            b.iter_custom(|iters| run_threads(&repos, &ids, threads, iters, &owner, last));
        });
    }
    group.finish();
}

/// The 2-thread gain as `paired:` lines: for each store, rounds of the same number of
/// commands from 1 thread and then from 2 (the order alternating by round), each run
/// long enough (`PAIRED_COMMANDS`) that starting two threads is lost in it; the median
/// over rounds of `time(1 thread) ÷ time(2 threads)`. criterion's `threads/…` groups
/// start the threads for every sample, most samples are a millisecond or two, and on
/// this project's 2-vCPU guest their 2-thread times came out 2-2.5× those of runs like
/// these (the floor sharing nothing "gained" 1.0-1.4× there, 1.5-2.2× here): these are
/// the figures to quote.
fn paired_threads<S: Store>(
    sets: &[(&str, &[&Arc<Repository<S>>])],
    ids: &[CaseId],
    owner: &Staff,
    last: OffsetDateTime,
) {
    const ROUNDS: usize = 9;
    const PAIRED_COMMANDS: u64 = 100_000;
    for (name, repos) in sets {
        let (mut gains, mut one, mut two) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let mut times = [StdDuration::ZERO; 2];
            for threads in if round % 2 == 0 { [1, 2] } else { [2, 1] } {
                times[threads - 1] = run_threads(repos, ids, threads, PAIRED_COMMANDS, owner, last);
            }
            gains.push(times[0].as_secs_f64() / times[1].as_secs_f64());
            one.push(times[0].as_secs_f64() * 1e9 / PAIRED_COMMANDS as f64);
            two.push(times[1].as_secs_f64() * 1e9 / PAIRED_COMMANDS as f64);
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "paired: threads {name}: 1 thread {:.0} ns a command | 2 threads {:.0} ns | gain {:.2}x (median of {ROUNDS} rounds; goal >= 1.6x)",
            median(one),
            median(two),
            median(gains)
        );
    }
}

fn shared_repository<S: Store>(store: S, ids: &[CaseId], template: &[Event]) -> Arc<Repository<S>> {
    for id in ids {
        store.append(*id, 0, &restamp(template, *id)).expect("stores");
    }
    let repo = Arc::new(Repository::new(store, unlimited()).with_capacity(ids.len()));
    for id in ids {
        repo.case(*id).expect("loads");
    }
    repo
}

/// `iters` commands split over `threads` threads, each on its own cases, thread `i`
/// through `repos[i % repos.len()]`; the wall time.
fn run_threads<S: Store>(
    repos: &[&Arc<Repository<S>>],
    ids: &[CaseId],
    threads: usize,
    iters: u64,
    owner: &Staff,
    last: OffsetDateTime,
) -> StdDuration {
    let per_thread = iters.div_ceil(threads as u64);
    let start = Instant::now();
    std::thread::scope(|s| {
        for (i, mine) in ids.chunks(CASES_PER_THREAD).take(threads).enumerate() {
            let repo = Arc::clone(repos[i % repos.len()]);
            // Each thread its own actor, as a host builds one per request: a clone of one
            // actor would share its names' text (`Arc<str>`), and with it one reference
            // count between the threads.
            let by = Actor::Staff(Staff::new(owner.id.as_str(), owner.department.as_str()));
            s.spawn(move || {
                for (i, id) in (0..per_thread).zip(mine.iter().cycle()) {
                    let text = if i % 2 == 0 { "customer called again" } else { "left a voicemail" };
                    let note = Command::AddNote { text: text.into(), visibility: Visibility::Internal };
                    black_box(repo.execute(*id, note, &by, last).expect("accepted"));
                }
            });
        }
    });
    // Each thread ran `per_thread` commands: `iters` rounded up to a multiple.
    start.elapsed().mul_f64(iters as f64 / (per_thread * threads as u64) as f64)
}

/// 16 memory stores, a case's events in the one its id picks: appends to different
/// cases rarely share a lock.
#[derive(Default)]
struct Sharded([MemoryStore; 16]);

impl Sharded {
    fn of(&self, case: CaseId) -> &MemoryStore {
        let bits = case.as_uuid().as_u128();
        &self.0[((bits ^ (bits >> 64)) as usize ^ (bits >> 80) as usize) % 16]
    }
}

impl Store for Sharded {
    fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError> {
        self.of(case).append(case, expected, events)
    }
    fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError> {
        self.of(case).read_after(case, after)
    }
    fn version(&self, case: CaseId) -> Result<u64, StoreError> {
        self.of(case).version(case)
    }
    fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
        let mut all = Vec::new();
        for store in &self.0 {
            all.extend(store.cases()?);
        }
        all.sort();
        Ok(all)
    }
}

/// `template`'s events as case `id`'s, with ids unique to it.
fn restamp(template: &[Event], id: CaseId) -> Vec<Event> {
    template
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.case = id;
            // The case ids' last two bytes are zero, so `| seq` keeps every id unique.
            let unique = id.as_uuid().as_u128() | u128::from(e.seq);
            e.id = EventId::from_uuid(uuid::Uuid::from_u128(unique));
            e
        })
        .collect()
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
    let logs: Vec<Vec<Event>> = ids.iter().map(|id| restamp(&template, *id)).collect();
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
            |repo| {
                for id in &ids {
                    repo.open(*id, opening.clone(), &Actor::customer("cust-1"), T0).expect("opens");
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

criterion_group!(per_command, round_trip, threads);
criterion_group! {
    name = across_cases;
    config = on_cpu();
    targets = many_cases
}
criterion_main!(per_command, across_cases);

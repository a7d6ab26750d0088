//! What the embedded file store costs, each figure beside its floor in the same run:
//!
//! - `append/{file_store,floor_write_fdatasync}/T`: a synced command through
//!   `Repository<FileStore>` from T threads (1, 2), each on its own case, against T
//!   threads each appending a line of the same size to a file of its own with `write` +
//!   `fdatasync` (the least a durable append costs on this disk). Wall time per append,
//!   so the ratio is floor ÷ store and the 2-thread gain `…/1 ÷ …/2`.
//! - `reopen/{open_and_first_command,decode_and_replay}/1e5`: opening a store whose one
//!   case has 1e5 events and running its first command, against decoding the same JSON
//!   Lines in memory and replaying them (what the store cannot do with less).
//! - `open/100_cases_of_20_events`: the recovery scan a restart pays.
//!
//! - `paired:` lines on stdout, printed before the `append` group: the same two sides in
//!   rotation (see [`paired`]), which the README's ratios come from.
//!
//! Run: `cargo bench --bench file_store` (`-- append`, `-- reopen`, `-- open`).

mod support;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use caseledger::{
    event::Visibility, rules::Limits, Actor, Case, CaseId, Command, FileStore, Opening, Repository, Rules, Staff, Store,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use support::typical_log;
use time::macros::datetime;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caseledger-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn note() -> Command {
    Command::AddNote { text: "customer called again".into(), visibility: Visibility::Internal }
}

/// The bench's cases take more events than the default cap allows.
fn unlimited() -> Rules {
    let mut limits = Limits::default();
    limits.max_events = u64::MAX;
    Rules::default().with_limits(limits)
}

/// `iters` calls of `op(thread, i)` split over `threads` threads; the wall time per call
/// scaled to `iters`.
fn on_threads(threads: usize, iters: u64, op: &(dyn Fn(usize, u64) + Sync)) -> StdDuration {
    let per_thread = iters.div_ceil(threads as u64);
    let start = Instant::now();
    std::thread::scope(|s| {
        for thread in 0..threads {
            s.spawn(move || {
                for i in 0..per_thread {
                    op(thread, i);
                }
            });
        }
    });
    start.elapsed().mul_f64(iters as f64 / (per_thread * threads as u64) as f64)
}

fn append(c: &mut Criterion) {
    let t = datetime!(2026-11-23 09:00 UTC);
    let ana = Staff::new("ana", "software");
    let by = Actor::Staff(ana.clone());
    let dir = scratch("append");
    let repo = Arc::new(Repository::new(FileStore::open(&dir).expect("opens"), unlimited()));
    let cases: Vec<CaseId> = (0..2u8).map(|n| CaseId::new_v7(t, [n + 1; 10])).collect();
    for case in &cases {
        repo.open(*case, Opening::new("cust-1", "my laptop works", ana.clone()), &Actor::customer("cust-1"), t)
            .expect("opens");
    }
    // The floor writes lines as long as the store's, each to a file of its own.
    repo.execute(cases[0], note(), &by, t).expect("accepted");
    let line_len = {
        let text = std::fs::read_to_string(dir.join(format!("{}.jsonl", cases[0]))).expect("reads");
        text.lines().last().expect("a line").len() + 1
    };
    let line = {
        let mut line = vec![b'x'; line_len - 1];
        line.push(b'\n');
        line
    };
    let floor_dir = scratch("append-floor");
    std::fs::create_dir_all(&floor_dir).expect("creates");
    let floors: Vec<File> = (0..2)
        .map(|n| OpenOptions::new().create(true).append(true).open(floor_dir.join(format!("{n}.log"))).expect("opens"))
        .collect();

    paired(&repo, &cases, &by, t, &floors, &line);

    let mut group = c.benchmark_group("append");
    group.sample_size(20).measurement_time(StdDuration::from_secs(8));
    for threads in [1usize, 2] {
        group.bench_function(BenchmarkId::new("floor_write_fdatasync", threads), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|thread, _| {
                    let mut file = &floors[thread];
                    file.write_all(&line).expect("writes");
                    file.sync_data().expect("syncs");
                })
            });
        });
        group.bench_function(BenchmarkId::new("file_store", threads), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, &|thread, _| {
                    repo.execute(cases[thread], note(), &by, t).expect("accepted");
                })
            });
        });
    }
    group.finish();
    drop(repo);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&floor_dir);
}

/// The store and its floor **in rotation**, so the disk's drift between two criterion
/// groups is not read into the ratio: each of T threads (1, 2) runs `ROUNDS` rounds of
/// one synced command on its case and one `write` + `fdatasync` on its file, the order
/// alternating by round, and times each; the medians over all threads are printed as
/// `paired:` lines. At 2 threads the two threads run side by side, so each side meets
/// the other thread's mix of both; the 2-thread gain is `2 × median(1) ÷ median(2)`.
fn paired(
    repo: &Repository<FileStore>,
    cases: &[CaseId],
    by: &Actor,
    t: time::OffsetDateTime,
    floors: &[File],
    line: &[u8],
) {
    const ROUNDS: usize = 3_000;
    let run = |thread: usize| {
        let (mut ours, mut bare) = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
        for round in 0..ROUNDS {
            for store_first in [round % 2 == 0, round % 2 == 1] {
                let start = Instant::now();
                if store_first {
                    repo.execute(cases[thread], note(), by, t).expect("accepted");
                    ours.push(start.elapsed());
                } else {
                    let mut file = &floors[thread];
                    file.write_all(line).expect("writes");
                    file.sync_data().expect("syncs");
                    bare.push(start.elapsed());
                }
            }
        }
        (ours, bare)
    };
    let median = |mut v: Vec<StdDuration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e6
    };
    let mut medians = Vec::new();
    for threads in [1usize, 2] {
        let (mut ours, mut bare) = (Vec::new(), Vec::new());
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|thread| s.spawn(move || run(thread))).collect();
            for handle in handles {
                let (o, b) = handle.join().expect("a bench thread");
                ours.extend(o);
                bare.extend(b);
            }
        });
        let (ours, bare) = (median(ours), median(bare));
        medians.push((ours, bare));
        println!(
            "paired: file appends {threads} thread(s): store median {ours:7.1} us | write + fdatasync {bare:7.1} us | \
             floor / store {:.2}x (goal >= 0.95x)",
            bare / ours
        );
    }
    let ((ours1, bare1), (ours2, bare2)) = (medians[0], medians[1]);
    println!(
        "paired: file appends, 2 threads / 1 thread: store {:.2}x, floor {:.2}x (goal >= 1.6x)",
        2.0 * ours1 / ours2,
        2.0 * bare1 / bare2
    );
}

/// A directory holding one case of `n` typical events, written by the store itself.
fn one_long_case(name: &str, n: usize) -> (PathBuf, CaseId, Actor, time::OffsetDateTime) {
    let dir = scratch(name);
    let log = typical_log(n);
    let case = log[0].case;
    let store = FileStore::open(&dir).expect("opens");
    store.append(case, 0, &log).expect("stores");
    let owner = Case::replay(&log).expect("valid").owner().clone();
    (dir, case, Actor::Staff(owner), log.last().map(|e| e.at).expect("events"))
}

fn reopen(c: &mut Criterion) {
    let n = 100_000;
    let (dir, case, by, last) = one_long_case("reopen", n);
    let text = std::fs::read_to_string(dir.join(format!("{case}.jsonl"))).expect("reads");
    let mut group = c.benchmark_group("reopen");
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("open_and_first_command", "1e5"), |b| {
        b.iter(|| {
            let repo = Repository::new(FileStore::open(&dir).expect("opens"), unlimited());
            repo.execute(case, note(), &by, last).expect("accepted");
            repo
        });
    });
    group.bench_function(BenchmarkId::new("decode_and_replay", "1e5"), |b| {
        b.iter(|| Case::replay(&caseledger::codec::decode_log(&text).expect("decodes")).expect("valid"));
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

fn open_directory(c: &mut Criterion) {
    let dir = scratch("open");
    let t = datetime!(2026-11-23 09:00 UTC);
    let ana = Staff::new("ana", "software");
    let by = Actor::Staff(ana.clone());
    {
        let repo = Repository::new(FileStore::open(&dir).expect("opens"), Rules::default());
        for n in 0..100u8 {
            let case = CaseId::new_v7(t, [n; 10]);
            repo.open(
                case,
                Opening::new(format!("cust-{n}"), "my laptop works", ana.clone()),
                &Actor::customer(format!("cust-{n}")),
                t,
            )
            .expect("opens");
            for _ in 0..19 {
                repo.execute(case, note(), &by, t).expect("accepted");
            }
        }
    }
    c.bench_function("open/100_cases_of_20_events", |b| {
        b.iter(|| FileStore::open(&dir).expect("opens"));
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = append, reopen, open_directory
}
criterion_main!(benches);

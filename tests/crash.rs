//! Crash test of the file store: a writer process is killed with SIGKILL at random
//! moments, again and again; after each kill the store must hold every event the writer
//! was told was stored, at its position, exactly once.
//!
//! The test binary is its own writer: started with `CASELEDGER_CRASH_WRITER=<dir>`, it
//! appends to the store in `<dir>` from two threads (one long-lived case that every
//! round continues, and new cases opened all the time, so files are created mid-run) and
//! prints `ack <case> <seq> <event id>` for each acknowledged append. Without it, it is
//! the test, which starts writers, kills them, and checks.
//!
//! `CASELEDGER_CRASH_SEED` replays a run (the seed is printed); `CASELEDGER_CRASH_SECONDS`
//! sets how long the test kills writers (default 12 s).
//! This target has no libtest harness (`harness = false` in Cargo.toml): `main` is the test.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use caseledger::{
    error::StoreError, event::Visibility, id::EventId, Actor, Case, CaseId, Command, FileStore, Opening, Rules, Staff,
    Store,
};
use time::macros::datetime;
use time::OffsetDateTime;

// The one piece of the suite's support it needs (tests/suite/support/seeded.rs).
#[path = "suite/support/seeded.rs"]
mod seeded;
use seeded::Rng;

const WRITER: &str = "CASELEDGER_CRASH_WRITER";
const ROUND: &str = "CASELEDGER_CRASH_ROUND";
const T0: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

fn main() {
    match std::env::var_os(WRITER) {
        Some(dir) => writer(Path::new(&dir)),
        None => crash_test(),
    }
}

// ---------------------------------------------------------------- the writer

/// The case every round continues.
fn long_lived() -> CaseId {
    CaseId::new_v7(T0, [0xaa; 10])
}

fn writer(dir: &Path) {
    let round: u16 = std::env::var(ROUND).ok().and_then(|r| r.parse().ok()).unwrap_or(0);
    let store = Arc::new(open_when_free(dir));
    let threads: Vec<_> = (0..2u8)
        .map(|thread| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || write_forever(&store, thread, round))
        })
        .collect();
    // The test kills this process; should it not, stop after a while rather than linger.
    std::thread::sleep(StdDuration::from_secs(60));
    drop(threads);
    std::process::exit(3);
}

/// The previous writer was killed and reaped, so the lock is free; but give the kernel a
/// moment should it not have let go yet.
fn open_when_free(dir: &Path) -> FileStore {
    for _ in 0..100 {
        match FileStore::open(dir) {
            Err(StoreError::Locked { .. }) => std::thread::sleep(StdDuration::from_millis(10)),
            other => return other.unwrap(),
        }
    }
    panic!("the store in {} stayed locked", dir.display());
}

fn write_forever(store: &FileStore, thread: u8, round: u16) {
    let rules = Rules::default();
    let ana = Staff::new("ana", "software");
    let by = Actor::Staff(ana.clone());
    let [r0, r1] = round.to_be_bytes();
    let mut n: u32 = 0;
    loop {
        n += 1;
        let id = if thread == 0 {
            long_lived()
        } else {
            let [a, b, c, d] = n.to_be_bytes();
            CaseId::new_v7(T0, [1, r0, r1, a, b, c, d, 0, 0, 0])
        };
        let mut case = match Case::replay(&store.read(id).unwrap()) {
            Ok(case) => case,
            Err(_) => {
                let opening = Opening::new(format!("cust-{thread}"), "my laptop works", ana.clone());
                let opened = rules.open(id, opening, &Actor::customer(format!("cust-{thread}")), T0).unwrap();
                store.append(id, 0, std::slice::from_ref(&opened)).unwrap();
                ack(&opened.case, opened.seq, &opened.id);
                Case::from_opened(&opened).unwrap()
            }
        };
        // A few notes per case on the new-case thread; the long-lived case gets them all.
        for i in 0..if thread == 0 { u32::MAX } else { 3 } {
            let note =
                Command::AddNote { text: format!("round {round} note {n}.{i}"), visibility: Visibility::Internal };
            let events = rules.decide(&case, note, &by, T0).unwrap();
            store.append(id, case.version(), &events).unwrap();
            for event in &events {
                case.apply(event).unwrap();
                ack(&event.case, event.seq, &event.id);
            }
        }
    }
}

fn ack(case: &CaseId, seq: u64, id: &EventId) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "ack {case} {seq} {id}").unwrap();
    out.flush().unwrap();
}

// ---------------------------------------------------------------- the test

fn crash_test() {
    let seed = Rng::seed_from_env("CASELEDGER_CRASH_SEED");
    let budget: u64 = std::env::var("CASELEDGER_CRASH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(12);
    println!("crash test: seed {seed} (CASELEDGER_CRASH_SEED={seed} replays it), {budget} s of kills");
    let mut rng = Rng::new(seed);
    let dir = std::env::temp_dir().join(format!("caseledger-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let exe = std::env::current_exe().unwrap();

    // Every acknowledged event: (case, seq) -> id.
    let mut acked: BTreeMap<(CaseId, u64), String> = BTreeMap::new();
    let started = Instant::now();
    let mut round: u16 = 0;
    let mut torn = 0;
    while started.elapsed() < StdDuration::from_secs(budget) {
        round += 1;
        // Mostly mid-run, sometimes while the writer is still opening and recovering.
        let after = if rng.below(4) == 0 { rng.below(30) } else { 30 + rng.below(300) };
        let new = run_and_kill(&exe, &dir, round, StdDuration::from_millis(after));
        for (key, id) in new {
            if let Some(old) = acked.insert(key, id.clone()) {
                assert_eq!(old, id, "seed {seed}, round {round}: position {key:?} acknowledged twice, differently");
            }
        }
        torn += check(&dir, &acked, seed, round);
    }
    assert!(round >= 5 && acked.len() >= 100, "seed {seed}: too little happened: {round} rounds, {} acks", acked.len());
    println!(
        "crash test: {round} writers killed, {} acknowledged events all present, in order, once; {torn} torn tails set aside",
        acked.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts a writer, kills it with SIGKILL after `after`, and returns what it acknowledged.
fn run_and_kill(exe: &PathBuf, dir: &Path, round: u16, after: StdDuration) -> Vec<((CaseId, u64), String)> {
    let mut child = Process::new(exe)
        .env(WRITER, dir)
        .env(ROUND, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let mut parts = line.split(' ');
            // A line cut short by the kill does not parse; it only means one check less.
            if let (Some("ack"), Some(case), Some(seq), Some(id), None) =
                (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
            {
                if let (Ok(case), Ok(seq)) = (case.parse(), seq.parse()) {
                    acks.push(((case, seq), id.to_owned()));
                }
            }
        }
        acks
    });
    std::thread::sleep(after);
    // `Child::kill` sends SIGKILL on Unix: no destructor, no flush, no unlock by the process.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(status.code().is_none(), "the writer ended by itself: {status}");
    reader.join().unwrap()
}

/// Opens the store as the next process would and checks every acknowledged event.
fn check(dir: &Path, acked: &BTreeMap<(CaseId, u64), String>, seed: u64, round: u16) -> usize {
    let store = FileStore::open(dir).unwrap();
    assert!(store.quarantined().is_empty(), "seed {seed}, round {round}: {:?}", store.quarantined());
    let mut cases: BTreeMap<CaseId, Vec<caseledger::Event>> = BTreeMap::new();
    for &(case, seq) in acked.keys() {
        let events = cases.entry(case).or_insert_with(|| store.read(case).unwrap());
        let stored = usize::try_from(seq - 1).ok().and_then(|i| events.get(i));
        assert_eq!(
            stored.map(|e| (e.seq, e.id.to_string())),
            Some((seq, acked[&(case, seq)].clone())),
            "seed {seed}, round {round}: acknowledged event {seq} of case {case} is missing or changed"
        );
    }
    for (case, events) in &cases {
        // In order and once: the log replays (sequence without gaps, no repeated id).
        Case::replay(events).unwrap_or_else(|e| panic!("seed {seed}, round {round}: case {case}: {e}"));
    }
    store.set_aside().len()
}

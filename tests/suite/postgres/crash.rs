//! The PostgreSQL store through server crashes: concurrent writers append while the
//! test kills the postmaster with SIGKILL at random moments and restarts it into crash
//! recovery, on a durable cluster of the test's own (never the shared test server).
//!
//! Every append is classified as the writer saw it: acknowledged (`Ok`), failed before
//! anything was sent (the pool handed out no connection), or in doubt (the connection
//! broke while the statement, and so its commit, was under way). After the last restart
//! the test checks what a host relies on: every acknowledged event is stored at its
//! place, nothing is stored that was neither acknowledged nor in doubt, every log
//! replays, and the change feed delivers every stored event exactly once, each case in
//! sequence order.
//!
//! Kills alternate between the postmaster alone (its backends notice and exit, finishing
//! what they were doing) and the postmaster with every child process at once, as a
//! crash of the whole server would. The operating system survives, and with it its page
//! cache: this is a server crash, not a power cut (that would need a machine of its own).
//! With `synchronous_commit = off` the test fails within a run or two: acknowledged
//! events are lost with the WAL buffers of the killed server.
//!
//! `CASELEDGER_PG_CRASH_SEED` replays a run's kill schedule (the seed is printed);
//! `CASELEDGER_PG_CRASH_KILLS` sets the number of kills (default 5).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use caseledger::{error::StoreError, Error};
use caseledger::{
    id::EventId, store::FeedPosition, Actor, AsyncRepository, Case, CaseId, Event, EventKind, PgStore, Rules,
};
use sqlx::postgres::PgPoolOptions;

use crate::support::cluster::Cluster;
use crate::support::postgres::{case_id, opened};
use crate::support::seeded::Rng;
use crate::support::{ana, note, T0};

/// Writers appending with `PgStore::append`, and writers going through `AsyncRepository`.
const STORE_WRITERS: u32 = 4;
const REPOSITORY_WRITERS: u32 = 2;
/// How long a writer waits for a connection before it counts the append as failed:
/// short, so writers keep trying (and failing) while the server is down.
const ACQUIRE: Duration = Duration::from_millis(500);
/// How long the server may stay unreachable before the test gives up on it.
const PATIENCE: Duration = Duration::from_secs(60);

/// How one append ended, as its writer saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Acknowledged,
    /// Nothing was sent: the pool had no live connection to give.
    FailedBeforeCommit,
    /// The statement may or may not have committed.
    InDoubt,
    /// The store refused it as a conflict: nothing written. Only a store that lost
    /// acknowledged events (or wrote ones it reported failed) makes a writer that owns
    /// its case meet one; the checks then name the event.
    Conflict,
}

/// One append a writer tried: its note text (unique in the run) names it; the event id
/// and position are known when the writer built the events itself or got them back.
#[derive(Debug)]
struct Attempt {
    text: String,
    outcome: Outcome,
    event: Option<(EventId, u64)>,
}

/// Everything one writer tried on its case, in order.
#[derive(Debug)]
struct Journal {
    case: CaseId,
    attempts: Vec<Attempt>,
}

/// What the writers share with the test: when to stop, how many restarts the server
/// has had, and for each writer the restart count at its latest acknowledged append.
struct Shared {
    stop: AtomicBool,
    restarts: AtomicU32,
    acknowledged_at: Vec<AtomicU32>,
}

impl Shared {
    fn acknowledged(&self, writer: u32) {
        let now = self.restarts.load(Ordering::SeqCst);
        self.acknowledged_at[writer as usize - 1].store(now, Ordering::SeqCst);
    }

    /// Whether every writer had an append acknowledged since the latest restart.
    fn caught_up(&self) -> bool {
        let now = self.restarts.load(Ordering::SeqCst);
        self.acknowledged_at.iter().all(|at| at.load(Ordering::SeqCst) == now)
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

/// How the failed append `err` ended: before anything was sent, or in doubt. Only the
/// pool's timeout is certain to come before the statement; anything else (a connection
/// reset, end of file, a server's "terminating connection") may have come after the
/// server committed, so it counts as in doubt.
fn classify(err: &StoreError) -> Outcome {
    match err {
        StoreError::Backend { source } => match source.downcast_ref::<sqlx::Error>() {
            Some(sqlx::Error::PoolTimedOut) => Outcome::FailedBeforeCommit,
            _ => Outcome::InDoubt,
        },
        StoreError::Conflict { .. } => Outcome::Conflict,
        other => panic!("only the database may fail here, every writer owns its case: {other}"),
    }
}

/// A store on a lazy pool of its own: connections are made (and remade after a crash)
/// when an append needs one.
fn connect(url: &str, max: u32) -> PgStore {
    let pool =
        PgPoolOptions::new().max_connections(max).acquire_timeout(ACQUIRE).connect_lazy(url).expect("a PostgreSQL URL");
    PgStore::new(pool)
}

/// The case as stored, once the server answers again (after an append in doubt, only
/// the recovered server knows whether it committed).
async fn reread(store: &PgStore, case: CaseId) -> Vec<Event> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match store.read(case).await {
            Ok(events) => return events,
            Err(err) => {
                assert!(Instant::now() < deadline, "case {case} unreadable for {PATIENCE:?}: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The note a writer's `n`th attempt adds, a minute after the previous attempt's.
fn attempt(writer: u32, n: u32) -> (String, time::OffsetDateTime) {
    (format!("writer {writer} attempt {n}"), T0 + time::Duration::minutes(i64::from(n)))
}

/// Appends notes to its own case with `PgStore::append` until told to stop.
async fn store_writer(writer: u32, store: PgStore, shared: Arc<Shared>) -> Journal {
    let case = case_id(writer);
    let mut log = vec![opened(case, &format!("cust-{writer}"), "my laptop works")];
    store.append(case, 0, &log).await.expect("the opening, with the server up");
    let mut journal = Journal { case, attempts: Vec::new() };
    let (rules, by) = (Rules::default(), Actor::Staff(ana()));
    for n in 1.. {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let (text, at) = attempt(writer, n);
        let folded = Case::replay(&log).expect("the writer's log replays");
        let events = rules.decide(&folded, note(&text), &by, at).expect("a note is accepted");
        let event = Some((events[0].id, events[0].seq));
        let outcome = match store.append(case, log.len() as u64, &events).await {
            Ok(appended) => {
                assert_eq!(appended.written, 1, "writer {writer}: nobody else writes this case");
                log.extend(events);
                shared.acknowledged(writer);
                Outcome::Acknowledged
            }
            Err(err) => classify(&err),
        };
        journal.attempts.push(Attempt { text, outcome, event });
        if matches!(outcome, Outcome::InDoubt | Outcome::Conflict) {
            log = reread(&store, case).await;
        }
    }
    journal
}

/// Adds notes to its own case through `AsyncRepository<PgStore>` until told to stop.
async fn repository_writer(writer: u32, store: PgStore, shared: Arc<Shared>) -> Journal {
    let case = case_id(writer);
    let repo = AsyncRepository::new(store, Rules::default());
    let opening = caseledger::Opening::new(format!("cust-{writer}"), "my laptop works", ana());
    repo.open(case, opening, &caseledger::Actor::customer(format!("cust-{writer}")), T0)
        .await
        .expect("the opening, with the server up");
    let mut journal = Journal { case, attempts: Vec::new() };
    let by = Actor::Staff(ana());
    for n in 1.. {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let (text, at) = attempt(writer, n);
        let (outcome, event) = match repo.execute(case, note(&text), &by, at).await {
            Ok(done) => {
                let events = done.events;
                assert_eq!(events.len(), 1, "writer {writer}: one note, one event");
                shared.acknowledged(writer);
                (Outcome::Acknowledged, Some((events[0].id, events[0].seq)))
            }
            Err(Error::Store(err)) => (classify(&err), None),
            Err(other) => panic!("writer {writer}: a note on an open case is accepted: {other}"),
        };
        journal.attempts.push(Attempt { text, outcome, event });
        if matches!(outcome, Outcome::InDoubt | Outcome::Conflict) {
            // The repository's cached case may lack a committed note: read it again.
            let deadline = Instant::now() + PATIENCE;
            while let Err(err) = repo.refresh(case).await {
                assert!(Instant::now() < deadline, "case {case} unreadable for {PATIENCE:?}: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    journal
}

fn note_text(event: &Event) -> &str {
    match &event.what {
        EventKind::NoteAdded { text, .. } => text,
        other => panic!("event {} of case {} is a {}, not a writer's note", event.seq, event.case, other.tag()),
    }
}

#[derive(Debug, Default)]
struct Counts {
    acknowledged: usize,
    before: usize,
    in_doubt: usize,
    in_doubt_committed: usize,
    conflicts: usize,
    stored: usize,
}

/// Checks one writer's case against its journal.
fn check_case(journal: &Journal, stored: &[Event], seed: u64, counts: &mut Counts) {
    let case = journal.case;
    Case::replay(stored).unwrap_or_else(|e| panic!("seed {seed}: case {case} does not replay: {e}"));
    counts.stored += stored.len();
    let mut by_text: BTreeMap<&str, &Event> = BTreeMap::new();
    for event in stored.iter().skip(1) {
        let again = by_text.insert(note_text(event), event);
        assert!(again.is_none(), "seed {seed}: case {case}: {:?} is stored twice", note_text(event));
    }
    let mut tried = BTreeSet::new();
    for attempt in &journal.attempts {
        tried.insert(attempt.text.as_str());
        let found = by_text.get(attempt.text.as_str());
        match attempt.outcome {
            Outcome::Acknowledged => {
                counts.acknowledged += 1;
                let event = found.unwrap_or_else(|| {
                    panic!("seed {seed}: case {case}: acknowledged {:?} is not stored", attempt.text)
                });
                assert_eq!(Some((event.id, event.seq)), attempt.event, "seed {seed}: case {case}: {:?}", attempt.text);
            }
            Outcome::FailedBeforeCommit | Outcome::Conflict => {
                if attempt.outcome == Outcome::Conflict {
                    counts.conflicts += 1;
                } else {
                    counts.before += 1;
                }
                assert!(
                    found.is_none(),
                    "seed {seed}: case {case}: {:?} failed ({:?}), yet is stored",
                    attempt.text,
                    attempt.outcome
                );
            }
            Outcome::InDoubt => {
                counts.in_doubt += 1;
                if let Some(event) = found {
                    counts.in_doubt_committed += 1;
                    if let Some(known) = attempt.event {
                        assert_eq!((event.id, event.seq), known, "seed {seed}: case {case}: {:?}", attempt.text);
                    }
                }
            }
        }
    }
    for text in by_text.keys() {
        let outcome = journal.attempts.iter().find(|a| a.text == *text).map(|a| a.outcome);
        assert!(
            matches!(outcome, Some(Outcome::Acknowledged | Outcome::InDoubt)),
            "seed {seed}: case {case}: {text:?} is stored but was {outcome:?}"
        );
    }
    assert_eq!(tried.len(), journal.attempts.len(), "every attempt has a text of its own");
}

/// Reads the whole feed in small pages; every stored event exactly once, each case in order.
async fn check_feed(store: &PgStore, stored: &BTreeMap<CaseId, Vec<Event>>, seed: u64) -> usize {
    let (mut fed, mut at) = (Vec::new(), FeedPosition::START);
    loop {
        let page = store.read_feed(at, 7).await.expect("read the feed");
        if page.events.is_empty() {
            break;
        }
        at = page.next;
        fed.extend(page.events.into_iter().map(|e| e.event));
    }
    assert_eq!(
        store.feed_lag(at).await.expect("feed lag"),
        caseledger::store::FeedLag::default(),
        "seed {seed}: feed lag"
    );
    let ids: BTreeSet<EventId> = fed.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), fed.len(), "seed {seed}: the feed delivered an event twice");
    let missing: Vec<(CaseId, u64)> =
        stored.values().flatten().filter(|e| !ids.contains(&e.id)).map(|e| (e.case, e.seq)).collect();
    assert!(
        missing.is_empty(),
        "seed {seed}: {} stored events never fed, the first (case, seq): {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let want: BTreeSet<EventId> = stored.values().flatten().map(|e| e.id).collect();
    let extra: Vec<(CaseId, u64)> = fed.iter().filter(|e| !want.contains(&e.id)).map(|e| (e.case, e.seq)).collect();
    assert!(extra.is_empty(), "seed {seed}: fed, not stored (case, seq): {extra:?}");
    let mut last: BTreeMap<CaseId, u64> = BTreeMap::new();
    for e in &fed {
        let before = last.insert(e.case, e.seq).unwrap_or(0);
        assert_eq!(e.seq, before + 1, "seed {seed}: case {} out of order in the feed", e.case);
    }
    fed.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_postmasters_lose_no_acknowledged_append_and_store_nothing_unasked() {
    let seed = Rng::seed_from_env("CASELEDGER_PG_CRASH_SEED");
    let kills = env_u64("CASELEDGER_PG_CRASH_KILLS").unwrap_or(5);
    println!(
        "postgres crash test: seed {seed} (CASELEDGER_PG_CRASH_SEED={seed} replays the kill schedule), {kills} kills"
    );
    let mut rng = Rng::new(seed);
    let started = Instant::now();

    let cluster = Arc::new(Cluster::create_durable("crash"));
    cluster.start();
    let url = cluster.url();
    let admin = connect(&url, 1);
    for setting in ["fsync", "synchronous_commit", "full_page_writes"] {
        let value: String =
            sqlx::query_scalar(&format!("SHOW {setting}")).fetch_one(admin.pool()).await.expect("SHOW a setting");
        assert_eq!(value, "on", "{setting} must be on: the test is about what survives a crash");
    }
    admin.migrate().await.expect("migrate");
    admin.pool().close().await;

    let all = STORE_WRITERS + REPOSITORY_WRITERS;
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        restarts: AtomicU32::new(0),
        acknowledged_at: (0..all).map(|_| AtomicU32::new(u32::MAX)).collect(),
    });
    let mut writers = Vec::new();
    for w in 1..=all {
        let (store, shared) = (connect(&url, 2), Arc::clone(&shared));
        writers.push(if w <= STORE_WRITERS {
            tokio::spawn(store_writer(w, store, shared))
        } else {
            tokio::spawn(repository_writer(w, store, shared))
        });
    }
    let caught_up = |after: &'static str| {
        let shared = Arc::clone(&shared);
        async move {
            let deadline = Instant::now() + PATIENCE;
            while !shared.caught_up() {
                assert!(Instant::now() < deadline, "seed {seed}: a writer got nothing acknowledged {after}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    caught_up("before the first kill").await;

    // Kills alternate between the postmaster alone and the postmaster with every backend
    // (which comes first is drawn), so each run has both.
    let (first, mut with_backends) = (rng.below(2), 0);
    for k in 0..kills {
        // A random moment under load: some writer is mid-append nearly all the time.
        tokio::time::sleep(Duration::from_millis(300 + rng.below(1200))).await;
        let backends_too = (k + first) % 2 == 0;
        with_backends += u32::from(backends_too);
        let (cluster, shared) = (Arc::clone(&cluster), Arc::clone(&shared));
        tokio::task::spawn_blocking(move || {
            cluster.kill(backends_too);
            // Writers fail for a while (before commit, or in doubt), then find it again.
            std::thread::sleep(Duration::from_millis(200));
            cluster.start_after_crash();
            // Counted once the server is back: every old backend is gone by then, so
            // only appends to the new server count as caught up.
            shared.restarts.fetch_add(1, Ordering::SeqCst);
        })
        .await
        .expect("kill and restart");
        caught_up("after a restart").await;
    }
    shared.stop.store(true, Ordering::SeqCst);
    let mut journals = Vec::new();
    for writer in writers {
        journals.push(writer.await.expect("a writer"));
    }

    // A fresh connection to the recovered server, as the next process would open.
    let store = connect(&url, 2);
    let (mut counts, mut stored) = (Counts::default(), BTreeMap::new());
    for journal in &journals {
        let events = reread(&store, journal.case).await;
        check_case(journal, &events, seed, &mut counts);
        stored.insert(journal.case, events);
    }
    let fed = check_feed(&store, &stored, seed).await;
    store.pool().close().await;
    assert_eq!(
        counts.stored,
        journals.len() + counts.acknowledged + counts.in_doubt_committed,
        "seed {seed}: stored = openings + acknowledged + committed in doubt"
    );
    assert_eq!(counts.conflicts, 0, "seed {seed}: writers that own their cases met conflicts");
    assert!(counts.acknowledged >= 50, "seed {seed}: too little happened: {counts:?}");
    // Written to the stderr handle, not with `println!`: the test harness captures what
    // the print macros write in a test that passes, and these counts belong in CI's log.
    let mut log = std::io::stderr().lock();
    writeln!(
        log,
        "postgres crash test: seed {seed}, {kills} postmaster kills ({with_backends} with every backend), \
         {all} writers: {} acknowledged, {} in doubt ({} of them committed), {} failed before commit, \
         {} stored, {fed} fed exactly once, in {:.1} s",
        counts.acknowledged,
        counts.in_doubt,
        counts.in_doubt_committed,
        counts.before,
        counts.stored,
        started.elapsed().as_secs_f64()
    )
    .expect("write the counts");
}

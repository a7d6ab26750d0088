//! The conformance suite for [`Store`] implementations: one call checks every promise of
//! the store contract against fresh stores and names each promise a store breaks.
//!
//! Run it from a `#[test]` of your store with a closure that makes a fresh, empty store;
//! each promise is checked on a store of its own:
//!
//! ```
//! use caseledger::testkit::conformance::{check_store, Violations};
//! use caseledger::MemoryStore;
//!
//! check_store(MemoryStore::new)?;
//! # Ok::<(), Violations>(())
//! ```
//!
//! A store that breaks promises makes [`check_store`] return [`Violations`], listing
//! each broken [`Promise`] with what the store did instead; its `Debug` is that report,
//! so `check_store(…).unwrap()` in a test prints it. A store that panics, or whose
//! factory panics, breaks the promise being checked; the panic is caught and reported.
//!
//! An [`AsyncStore`](crate::AsyncStore) (feature `async`) runs the same suite through
//! [`Blocking`], which drives its futures with the host's executor.
//!
//! The events are made by [`Rules::open`] and [`Rules::decide`], so they are valid; the
//! whole suite appends about a hundred events and takes well under a second on
//! [`MemoryStore`](crate::MemoryStore) in a debug build.

use std::collections::BTreeSet;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Barrier;
use std::thread;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::actor::{Actor, Staff};
use crate::case::{Case, Snapshot};
use crate::command::{Command, Opening};
use crate::error::{LogError, StoreError};
use crate::event::{Event, EventKind, Visibility};
use crate::id::{CaseId, CustomerRef, IncidentId};
use crate::rules::Rules;
use crate::store::{Appended, Store};

/// One promise of the [`Store`] contract, as the suite checks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Promise {
    /// A writer whose expected version is not the stored one (behind or ahead) gets
    /// [`StoreError::Conflict`] with the stored version, and nothing is written.
    ExpectedVersion,
    /// Resending events already stored at the same positions is a no-op that reports
    /// `written: 0` and the stored version.
    IdempotentRetry,
    /// The same event id at the same position with other content is
    /// [`StoreError::ChangedRetry`], and nothing is written.
    ChangedRetry,
    /// A resent batch that reaches past the stored log writes only the rest, and
    /// `written` counts only those.
    PartialRetry,
    /// An event of another case is [`StoreError::Rejected`] ([`LogError::ForeignCase`]),
    /// and nothing is written.
    ForeignCase,
    /// A batch that does not continue the sequence from the expected version is
    /// [`StoreError::Rejected`] ([`LogError::SequenceGap`]), and nothing is written.
    SequenceGap,
    /// An event id twice in one batch is [`StoreError::Rejected`]
    /// ([`LogError::DuplicateEventId`]), and nothing is written.
    DuplicateIdInBatch,
    /// An event id already stored at another position of the case's log is
    /// [`StoreError::Rejected`] ([`LogError::DuplicateEventId`]), and nothing is written.
    DuplicateIdInLog,
    /// `read_after` and `read` return a case's events after a version, in order, as
    /// appended; an unknown case reads as empty. `read_after_many` answers each of its
    /// reads as `read_after` would, one entry per read, in order.
    ReadAfter,
    /// `version` is the number of stored events, 0 for an unknown case.
    Version,
    /// `cases` lists every case with stored events, once, in id order, and no case
    /// whose only append was refused.
    Cases,
    /// `customer_cases` lists every case opened for the customer, once, in id order.
    CustomerIndex,
    /// `incident_cases` lists every case linked to the incident, once, in id order.
    IncidentIndex,
    /// Many threads appending to one case at once: no event lost, duplicated or
    /// reordered, every acknowledged event at the position acknowledged, losers get
    /// [`StoreError::Conflict`], and the log replays with [`Case::replay`].
    ConcurrentOneCase,
    /// Threads appending to different cases at once: each case gets exactly its own
    /// events, in order, and replays.
    ConcurrentCases,
    /// A store that keeps snapshots ([`Store::write_snapshot`] says `true`) reads back
    /// the same bytes, keeps the later of two, keeps them apart from the log (its
    /// version is unchanged), and loads the snapshot with the log's events from its
    /// version on ([`Store::load`]); one that keeps none reads none back.
    Snapshots,
}

impl Promise {
    /// Every promise the suite checks, in the order it checks them.
    pub const ALL: &'static [Promise] = &[
        Self::ExpectedVersion,
        Self::IdempotentRetry,
        Self::ChangedRetry,
        Self::PartialRetry,
        Self::ForeignCase,
        Self::SequenceGap,
        Self::DuplicateIdInBatch,
        Self::DuplicateIdInLog,
        Self::ReadAfter,
        Self::Version,
        Self::Cases,
        Self::CustomerIndex,
        Self::IncidentIndex,
        Self::ConcurrentOneCase,
        Self::ConcurrentCases,
        Self::Snapshots,
    ];

    /// A stable snake_case name, for test output and for matching.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::ExpectedVersion => "expected_version",
            Self::IdempotentRetry => "idempotent_retry",
            Self::ChangedRetry => "changed_retry",
            Self::PartialRetry => "partial_retry",
            Self::ForeignCase => "foreign_case",
            Self::SequenceGap => "sequence_gap",
            Self::DuplicateIdInBatch => "duplicate_id_in_batch",
            Self::DuplicateIdInLog => "duplicate_id_in_log",
            Self::ReadAfter => "read_after",
            Self::Version => "version",
            Self::Cases => "cases",
            Self::CustomerIndex => "customer_index",
            Self::IncidentIndex => "incident_index",
            Self::ConcurrentOneCase => "concurrent_one_case",
            Self::ConcurrentCases => "concurrent_cases",
            Self::Snapshots => "snapshots",
        }
    }

    /// The promise in one line.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::ExpectedVersion => "a stale writer gets Conflict and nothing is written",
            Self::IdempotentRetry => "resending stored events is a no-op",
            Self::ChangedRetry => "a stored event id resent with other content is ChangedRetry",
            Self::PartialRetry => "a retry that reaches past the log writes only the rest",
            Self::ForeignCase => "an event of another case is rejected",
            Self::SequenceGap => "a batch that does not continue the sequence is rejected",
            Self::DuplicateIdInBatch => "an event id twice in a batch is rejected",
            Self::DuplicateIdInLog => "an event id stored elsewhere in the log is rejected",
            Self::ReadAfter => "reads return the events after a version, in order",
            Self::Version => "the version is the number of stored events",
            Self::Cases => "every stored case is listed once, in id order",
            Self::CustomerIndex => "a customer's cases are listed once, in id order",
            Self::IncidentIndex => "an incident's cases are listed once, in id order",
            Self::ConcurrentOneCase => {
                "concurrent writers to one case lose, duplicate and reorder nothing; losers get Conflict"
            }
            Self::ConcurrentCases => "concurrent writers to different cases each get exactly their events",
            Self::Snapshots => "a kept snapshot reads back as written, the later one wins, and loads with its events",
        }
    }
}

impl fmt::Display for Promise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.describe())
    }
}

/// A broken promise, with what the store did instead.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Violation {
    /// The promise broken.
    pub promise: Promise,
    /// What the store did: the call, what it returned, what the contract wants.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.promise, self.detail)
    }
}

/// Every promise a store broke, in the order of [`Promise::ALL`]; returned by
/// [`check_store`]. `Display` and `Debug` print one line per broken promise.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct Violations {
    /// The broken promises (at least one).
    pub broken: Vec<Violation>,
}

impl Violations {
    /// Whether `promise` is among the broken ones.
    #[must_use]
    pub fn broke(&self, promise: Promise) -> bool {
        self.broken.iter().any(|v| v.promise == promise)
    }

    /// The broken promises.
    pub fn promises(&self) -> impl Iterator<Item = Promise> + '_ {
        self.broken.iter().map(|v| v.promise)
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the store broke {} of {} promises of the Store contract:", self.broken.len(), Promise::ALL.len())?;
        for violation in &self.broken {
            write!(f, "\n- {violation}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Violations {
    // Test harnesses print `Debug`; make that the readable report.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Checks every [`Promise`] of the [`Store`] contract, each on a fresh store made by
/// `fresh` (which must return an empty store each time: for a store on disk or in a
/// database, a new directory or schema).
///
/// The concurrency checks run 4 threads appending to one case and 4 threads appending
/// to cases of their own, all at once, 8 commands each; a writer that loses a race
/// reads the case again, decides again and retries.
///
/// # Errors
///
/// [`Violations`] naming every broken promise and what the store did instead.
///
/// # Example
///
/// ```
/// use caseledger::testkit::conformance::check_store;
/// use caseledger::FileStore;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// let root = std::env::temp_dir().join(format!("caseledger-conformance-doc-{}", std::process::id()));
/// let next = AtomicUsize::new(0);
/// let fresh = || {
///     let dir = root.join(next.fetch_add(1, Ordering::Relaxed).to_string());
///     FileStore::open(dir).expect("a fresh directory opens")
/// };
/// let result = check_store(fresh);
/// # std::fs::remove_dir_all(&root).ok();
/// result?;
/// # Ok::<(), caseledger::testkit::conformance::Violations>(())
/// ```
pub fn check_store<S, F>(fresh: F) -> Result<(), Violations>
where
    S: Store,
    F: Fn() -> S,
{
    let sequential: [(Promise, Check<S>); 14] = [
        (Promise::ExpectedVersion, expected_version),
        (Promise::IdempotentRetry, idempotent_retry),
        (Promise::ChangedRetry, changed_retry),
        (Promise::PartialRetry, partial_retry),
        (Promise::ForeignCase, foreign_case),
        (Promise::SequenceGap, sequence_gap),
        (Promise::DuplicateIdInBatch, duplicate_id_in_batch),
        (Promise::DuplicateIdInLog, duplicate_id_in_log),
        (Promise::ReadAfter, read_after),
        (Promise::Version, version),
        (Promise::Cases, cases),
        (Promise::CustomerIndex, customer_index),
        (Promise::IncidentIndex, incident_index),
        (Promise::Snapshots, snapshots),
    ];
    let mut broken = Vec::new();
    for (promise, check) in sequential {
        if let Err(detail) = guarded(|| check(&fresh())) {
            broken.push(Violation { promise, detail });
        }
    }
    match guarded(|| Ok(concurrent(&fresh()))) {
        Ok((one_case, cases)) => {
            broken.extend(one_case.err().map(|detail| Violation { promise: Promise::ConcurrentOneCase, detail }));
            broken.extend(cases.err().map(|detail| Violation { promise: Promise::ConcurrentCases, detail }));
        }
        Err(detail) => {
            for promise in [Promise::ConcurrentOneCase, Promise::ConcurrentCases] {
                broken.push(Violation { promise, detail: detail.clone() });
            }
        }
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(Violations { broken })
    }
}

/// Runs a future to completion on the calling thread: how [`Blocking`] drives an
/// [`AsyncStore`](crate::AsyncStore) for the suite. Implement it on a newtype around
/// your runtime's handle (with tokio: `handle.block_on(future)`); the suite calls it
/// from several threads at once, none of them a runtime thread.
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub trait BlockOn: Send + Sync {
    /// Runs `future` to completion and returns its output.
    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output;
}

/// An [`AsyncStore`](crate::AsyncStore) seen as a [`Store`], each call run to completion
/// by a [`BlockOn`], so that [`check_store`] can check it:
/// `check_store(|| Blocking::new(fresh_store(), runtime.clone()))`.
///
/// # Example
///
/// A thread-parking executor is enough for stores whose futures need no reactor, such
/// as [`MemoryStore`](crate::MemoryStore)'s:
///
/// ```
/// use std::future::Future;
/// use std::sync::Arc;
/// use std::task::{Context, Poll, Wake, Waker};
/// use caseledger::testkit::conformance::{check_store, BlockOn, Blocking};
/// use caseledger::MemoryStore;
///
/// struct Park;
/// struct Unpark(std::thread::Thread);
/// impl Wake for Unpark {
///     fn wake(self: Arc<Self>) { self.0.unpark() }
/// }
/// impl BlockOn for Park {
///     fn block_on<F: Future>(&self, future: F) -> F::Output {
///         let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
///         let mut future = std::pin::pin!(future);
///         loop {
///             match future.as_mut().poll(&mut Context::from_waker(&waker)) {
///                 Poll::Ready(output) => return output,
///                 Poll::Pending => std::thread::park(),
///             }
///         }
///     }
/// }
///
/// check_store(|| Blocking::new(MemoryStore::new(), Park))?;
/// # Ok::<(), caseledger::testkit::conformance::Violations>(())
/// ```
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
#[derive(Clone, Debug)]
pub struct Blocking<S, B> {
    store: S,
    runtime: B,
}

#[cfg(feature = "async")]
impl<S, B> Blocking<S, B> {
    /// `store`, its futures run by `runtime`.
    pub fn new(store: S, runtime: B) -> Self {
        Self { store, runtime }
    }

    /// The asynchronous store inside.
    pub fn store(&self) -> &S {
        &self.store
    }
}

#[cfg(feature = "async")]
impl<S: crate::AsyncStore, B: BlockOn> Store for Blocking<S, B> {
    fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError> {
        self.runtime.block_on(self.store.append(case, expected, events))
    }
    fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError> {
        self.runtime.block_on(self.store.read_after(case, after))
    }
    fn version(&self, case: CaseId) -> Result<u64, StoreError> {
        self.runtime.block_on(self.store.version(case))
    }
    fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
        self.runtime.block_on(self.store.cases())
    }
    fn read(&self, case: CaseId) -> Result<Vec<Event>, StoreError> {
        self.runtime.block_on(self.store.read(case))
    }
    fn read_after_many(&self, reads: &[(CaseId, u64)]) -> Result<Vec<Vec<Event>>, StoreError> {
        self.runtime.block_on(self.store.read_after_many(reads))
    }
    fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<CaseId>, StoreError> {
        self.runtime.block_on(self.store.customer_cases(customer))
    }
    fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<CaseId>, StoreError> {
        self.runtime.block_on(self.store.incident_cases(incident))
    }
    fn write_snapshot(&self, snapshot: &Snapshot) -> Result<bool, StoreError> {
        self.runtime.block_on(self.store.write_snapshot(snapshot))
    }
    fn read_snapshot(&self, case: CaseId) -> Result<Option<Snapshot>, StoreError> {
        self.runtime.block_on(self.store.read_snapshot(case))
    }
    fn load(&self, case: CaseId) -> Result<crate::store::Loaded, StoreError> {
        self.runtime.block_on(self.store.load(case))
    }
}

/// One sequential check: `Err` says what the store did instead.
type Check<S> = fn(&S) -> Result<(), String>;

/// Runs `check`, turning a panic (in the store or its factory) into a broken promise.
fn guarded<T>(check: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(check)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-text panic".to_owned());
        Err(format!("panicked: {message}"))
    })
}

// ---------------------------------------------------------------- fixtures

const T0: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

fn case_id(n: u8) -> CaseId {
    CaseId::new_v7(T0 + Duration::minutes(i64::from(n)), [n; 10])
}

fn ana() -> Actor {
    Actor::Staff(Staff::new("ana", "software"))
}

fn opened(case: CaseId, customer: &str) -> Result<Event, String> {
    let opening = Opening::new(customer, "my laptop works", Staff::new("ana", "software"));
    Rules::default()
        .open(case, opening, &Actor::customer(customer), T0)
        .map_err(|e| format!("the suite's opening: {e}"))
}

/// The events of `command` decided on the case `log` folds to.
fn decided(log: &[Event], command: Command) -> Result<Vec<Event>, String> {
    let case = Case::replay(log).map_err(|e| format!("the suite's log does not replay: {e}"))?;
    Rules::default()
        .decide(&case, command, &ana(), T0 + Duration::hours(1))
        .map_err(|e| format!("the suite's command: {e}"))
}

fn note(text: String) -> Command {
    Command::AddNote { text, visibility: Visibility::Internal }
}

/// A case opened for `customer`, then `notes` notes.
fn history(case: CaseId, customer: &str, notes: usize) -> Result<Vec<Event>, String> {
    let mut log = vec![opened(case, customer)?];
    for i in 0..notes {
        let new = decided(&log, note(format!("note {i}")))?;
        log.extend(new);
    }
    Ok(log)
}

/// `event` with another sequence number: the same id somewhere else.
fn moved(event: &Event, seq: u64) -> Event {
    let mut copy = event.clone();
    copy.seq = seq;
    copy
}

fn part(log: &[Event], range: std::ops::Range<usize>) -> Result<&[Event], String> {
    log.get(range.clone()).ok_or_else(|| format!("the suite's log has no events {range:?}"))
}

fn at(log: &[Event], i: usize) -> Result<&Event, String> {
    log.get(i).ok_or_else(|| format!("the suite's log has no event {i}"))
}

/// Appends and requires exactly `want`.
fn append<S: Store>(store: &S, case: CaseId, expected: u64, events: &[Event], want: Appended) -> Result<(), String> {
    match store.append(case, expected, events) {
        Ok(got) if got == want => Ok(()),
        other => Err(format!(
            "append at version {expected} of {} events (seq {}) returned {other:?}; the contract wants Ok({want:?})",
            events.len(),
            seqs(events)
        )),
    }
}

/// Appends and requires the error `fits` accepts (described by `want`), then that the
/// case's log is still `before`.
fn refused<S: Store>(
    store: &S,
    case: CaseId,
    expected: u64,
    events: &[Event],
    want: &str,
    fits: impl Fn(&StoreError) -> bool,
    before: &[Event],
) -> Result<(), String> {
    let call = format!("append at version {expected} of {} events (seq {})", events.len(), seqs(events));
    match store.append(case, expected, events) {
        Err(err) if fits(&err) => {}
        other => return Err(format!("{call} returned {other:?}; the contract wants {want}")),
    }
    let after = read(store, case)?;
    if after != before {
        return Err(format!(
            "{call} was refused as it should be, but the log changed from seq [{}] to [{}]: nothing may be written",
            seqs(before),
            seqs(&after)
        ));
    }
    Ok(())
}

fn read<S: Store>(store: &S, case: CaseId) -> Result<Vec<Event>, String> {
    store.read(case).map_err(|e| format!("read failed: {e}"))
}

fn seqs(events: &[Event]) -> String {
    events.iter().map(|e| e.seq.to_string()).collect::<Vec<_>>().join(", ")
}

fn rejected_with(case: CaseId, want: LogError) -> impl Fn(&StoreError) -> bool {
    move |err| matches!(err, StoreError::Rejected { case: c, source } if *c == case && **source == want)
}

fn conflict(case: CaseId, expected: u64, actual: u64) -> impl Fn(&StoreError) -> bool {
    move |err| matches!(err, StoreError::Conflict { case: c, expected: e, actual: a } if (*c, *e, *a) == (case, expected, actual))
}

fn same<T: PartialEq + fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what} returned {got:?}; the contract wants {want:?}"))
    }
}

// ---------------------------------------------------------------- sequential promises

fn expected_version<S: Store>(store: &S) -> Result<(), String> {
    let case = case_id(1);
    let log = history(case, "cust-1", 2)?;
    append(store, case, 0, part(&log, 0..1)?, Appended::new(1, 1))?;
    append(store, case, 1, part(&log, 1..3)?, Appended::new(3, 2))?;
    // A second writer decided on version 1, differently.
    let stale = decided(part(&log, 0..1)?, note("the stale writer's note".into()))?;
    let want = "Err(Conflict { expected: 1, actual: 3 })";
    refused(store, case, 1, &stale, want, conflict(case, 1, 3), &log)?;
    // A second opening of the case.
    let other = opened(case, "cust-2")?;
    refused(store, case, 0, &[other], "Err(Conflict { expected: 0, actual: 3 })", conflict(case, 0, 3), &log)?;
    // A writer ahead of the store.
    let ahead = decided(&log, note("from the future".into()))?.iter().map(|e| moved(e, 6)).collect::<Vec<_>>();
    refused(store, case, 5, &ahead, "Err(Conflict { expected: 5, actual: 3 })", conflict(case, 5, 3), &log)?;
    // Ahead on a case the store does not hold: nothing is created.
    let unknown = case_id(2);
    let first = history(unknown, "cust-1", 1)?;
    refused(
        store,
        unknown,
        1,
        part(&first, 1..2)?,
        "Err(Conflict { expected: 1, actual: 0 })",
        conflict(unknown, 1, 0),
        &[],
    )?;
    same("version of the case after the refused appends", store.version(case).map_err(|e| e.to_string())?, 3)
}

fn idempotent_retry<S: Store>(store: &S) -> Result<(), String> {
    let case = case_id(3);
    let log = history(case, "cust-1", 2)?;
    append(store, case, 0, &log, Appended::new(3, 3))?;
    // The acknowledgement was lost; the writer resends the batch, or part of it.
    append(store, case, 0, &log, Appended::new(3, 0))?;
    append(store, case, 1, part(&log, 1..3)?, Appended::new(3, 0))?;
    append(store, case, 1, part(&log, 1..2)?, Appended::new(3, 0))?;
    append(store, case, 3, &[], Appended::new(3, 0))?;
    same("read after the retries", read(store, case)?, log)
}

fn changed_retry<S: Store>(store: &S) -> Result<(), String> {
    let case = case_id(4);
    let log = history(case, "cust-1", 1)?;
    append(store, case, 0, &log, Appended::new(2, 2))?;
    let mut forged = at(&log, 1)?.clone();
    forged.what = EventKind::NoteAdded { text: "edited after the fact".into(), visibility: Visibility::Internal };
    let id = forged.id;
    let fits = move |err: &StoreError| matches!(err, StoreError::ChangedRetry { case: c, seq: 2, id: i } if *c == case && *i == id);
    let want = "Err(ChangedRetry { seq: 2, id: <the stored id> })";
    refused(store, case, 1, &[forged.clone()], want, fits, &log)?;
    refused(store, case, 0, &[at(&log, 0)?.clone(), forged], want, fits, &log)
}

fn partial_retry<S: Store>(store: &S) -> Result<(), String> {
    let case = case_id(5);
    let log = history(case, "cust-1", 3)?;
    append(store, case, 0, part(&log, 0..2)?, Appended::new(2, 2))?;
    // The writer sent all four, the store had kept two: only the last two are written.
    append(store, case, 0, &log, Appended::new(4, 2))?;
    same("read after the partial retry", read(store, case)?, log)
}

fn foreign_case<S: Store>(store: &S) -> Result<(), String> {
    let (case, other) = (case_id(6), case_id(7));
    let theirs = history(other, "cust-1", 1)?;
    let foreign = |seq| LogError::ForeignCase { seq, expected: case, found: other };
    let want = "Err(Rejected(ForeignCase))";
    refused(store, case, 0, part(&theirs, 0..1)?, want, rejected_with(case, foreign(1)), &[])?;
    let mixed = [opened(case, "cust-1")?, at(&theirs, 1)?.clone()];
    refused(store, case, 0, &mixed, want, rejected_with(case, foreign(2)), &[])?;
    same("cases after refused appends", store.cases().map_err(|e| e.to_string())?, vec![])
}

fn sequence_gap<S: Store>(store: &S) -> Result<(), String> {
    let case = case_id(8);
    let log = history(case, "cust-1", 2)?;
    let gap = LogError::SequenceGap { expected: 2, found: 3 };
    let want = "Err(Rejected(SequenceGap { expected: 2, found: 3 }))";
    let holed = [at(&log, 0)?.clone(), at(&log, 2)?.clone()];
    refused(store, case, 0, &holed, want, rejected_with(case, gap.clone()), &[])?;
    append(store, case, 0, part(&log, 0..1)?, Appended::new(1, 1))?;
    refused(store, case, 1, part(&log, 2..3)?, want, rejected_with(case, gap), part(&log, 0..1)?)?;
    // A batch numbered from an earlier version than the writer names.
    let early = LogError::SequenceGap { expected: 3, found: 2 };
    append(store, case, 1, part(&log, 1..2)?, Appended::new(2, 1))?;
    let want = "Err(Rejected(SequenceGap { expected: 3, found: 2 }))";
    refused(store, case, 2, &[moved(at(&log, 2)?, 2)], want, rejected_with(case, early), part(&log, 0..2)?)
}

fn duplicate_id_in_batch<S: Store>(store: &S) -> Result<(), String> {
    let case = case_id(9);
    let log = history(case, "cust-1", 1)?;
    let twice = at(&log, 1)?;
    let batch = [at(&log, 0)?.clone(), twice.clone(), moved(twice, 3)];
    let dup = LogError::DuplicateEventId { seq: 3, id: twice.id, first: 2 };
    let want = "Err(Rejected(DuplicateEventId { seq: 3, first: 2 }))";
    refused(store, case, 0, &batch, want, rejected_with(case, dup), &[])
}

fn duplicate_id_in_log<S: Store>(store: &S) -> Result<(), String> {
    let case = case_id(10);
    let log = history(case, "cust-1", 1)?;
    append(store, case, 0, &log, Appended::new(2, 2))?;
    let stored = at(&log, 1)?;
    let dup = LogError::DuplicateEventId { seq: 3, id: stored.id, first: 2 };
    let want = "Err(Rejected(DuplicateEventId { seq: 3, first: 2 }))";
    refused(store, case, 2, &[moved(stored, 3)], want, rejected_with(case, dup), &log)?;
    let opening = at(&log, 0)?;
    let dup = LogError::DuplicateEventId { seq: 3, id: opening.id, first: 1 };
    let want = "Err(Rejected(DuplicateEventId { seq: 3, first: 1 }))";
    refused(store, case, 2, &[moved(opening, 3)], want, rejected_with(case, dup), &log)
}

fn snapshots<S: Store>(store: &S) -> Result<(), String> {
    let case = case_id(40);
    let log = history(case, "cust-snap", 4)?;
    append(store, case, 0, &log, Appended::new(5, 5))?;
    let snapshot_at = |n: usize| -> Result<Snapshot, String> {
        let covered = part(&log, 0..n)?;
        let folded = Case::replay(covered).map_err(|e| format!("the suite's log does not replay: {e}"))?;
        Ok(Snapshot::take(&folded, at(&log, n - 1)?.id))
    };
    let (early, late) = (snapshot_at(2)?, snapshot_at(4)?);
    same("read_snapshot of a case without one", store.read_snapshot(case).map_err(|e| e.to_string())?, None)?;
    let kept = store.write_snapshot(&late).map_err(|e| format!("write_snapshot: {e}"))?;
    let read = store.read_snapshot(case).map_err(|e| format!("read_snapshot: {e}"))?;
    if !kept {
        return same("read_snapshot of a store that keeps none", read, None);
    }
    same("read_snapshot after write_snapshot", read.as_ref().map(Snapshot::as_bytes), Some(late.as_bytes()))?;
    store.write_snapshot(&early).map_err(|e| format!("write_snapshot: {e}"))?;
    let read = store.read_snapshot(case).map_err(|e| format!("read_snapshot: {e}"))?;
    same("read_snapshot after an older write_snapshot", read.as_ref().map(Snapshot::version), Some(4))?;
    same("version after write_snapshot", store.version(case).map_err(|e| e.to_string())?, 5)?;
    let loaded = store.load(case).map_err(|e| format!("load: {e}"))?;
    same("load's snapshot", loaded.snapshot.as_ref().map(Snapshot::as_bytes), Some(late.as_bytes()))?;
    same("load's events (from the snapshot's version on)", seqs(&loaded.events), seqs(part(&log, 3..5)?))?;
    let other = case_id(41);
    let none = store.load(other).map_err(|e| format!("load: {e}"))?;
    same("load of an unknown case", (none.snapshot.is_none(), none.events.len()), (true, 0))
}

fn read_after<S: Store>(store: &S) -> Result<(), String> {
    let case = case_id(11);
    let log = history(case, "cust-1", 3)?;
    append(store, case, 0, part(&log, 0..2)?, Appended::new(2, 2))?;
    append(store, case, 2, part(&log, 2..4)?, Appended::new(4, 2))?;
    for after in 0..=4 {
        let want = log.get(usize::try_from(after).unwrap_or(usize::MAX)..).unwrap_or_default().to_vec();
        same(&format!("read_after({after})"), store.read_after(case, after).map_err(|e| e.to_string())?, want)?;
    }
    same("read_after(9) of a case at version 4", store.read_after(case, 9).map_err(|e| e.to_string())?, vec![])?;
    same("read", read(store, case)?, log)?;
    let unknown = case_id(12);
    same("read of an unknown case", read(store, unknown)?, vec![])?;
    same("read_after(0) of an unknown case", store.read_after(unknown, 0).map_err(|e| e.to_string())?, vec![])?;
    let other = case_id(27);
    let other_log = history(other, "cust-2", 1)?;
    append(store, other, 0, &other_log, Appended::new(2, 2))?;
    let reads = [(case, 1), (unknown, 0), (other, 0), (case, 4), (case, 3), (other, 1)];
    let want = reads
        .iter()
        .map(|&(c, after)| store.read_after(c, after).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    same("read_after_many", store.read_after_many(&reads).map_err(|e| e.to_string())?, want)?;
    same("read_after_many of no reads", store.read_after_many(&[]).map_err(|e| e.to_string())?, vec![])
}

fn version<S: Store>(store: &S) -> Result<(), String> {
    let case = case_id(13);
    let version = |case| store.version(case).map_err(|e| format!("version failed: {e}"));
    same("version of an unknown case", version(case)?, 0)?;
    let log = history(case, "cust-1", 3)?;
    append(store, case, 0, part(&log, 0..1)?, Appended::new(1, 1))?;
    same("version after one event", version(case)?, 1)?;
    append(store, case, 1, part(&log, 1..4)?, Appended::new(4, 3))?;
    same("version after four events", version(case)?, 4)?;
    let _ = store.append(case, 1, part(&log, 1..2)?);
    let _ = store.append(case, 2, part(&log, 1..2)?);
    same("version after a retry and a refused append", version(case)?, 4)?;
    same("version of another, unknown case", version(case_id(14))?, 0)
}

fn cases<S: Store>(store: &S) -> Result<(), String> {
    same("cases of an empty store", store.cases().map_err(|e| e.to_string())?, vec![])?;
    let ids = [case_id(17), case_id(15), case_id(16)];
    for case in ids {
        let log = history(case, "cust-1", 1)?;
        append(store, case, 0, part(&log, 0..1)?, Appended::new(1, 1))?;
        append(store, case, 1, part(&log, 1..2)?, Appended::new(2, 1))?;
    }
    // Refused: nothing stored, so not listed.
    let refused_case = case_id(18);
    let _ = store.append(refused_case, 3, &[]);
    let _ = store.append(refused_case, 0, part(&history(case_id(19), "cust-1", 0)?, 0..1)?);
    let mut sorted = ids.to_vec();
    sorted.sort();
    same("cases", store.cases().map_err(|e| e.to_string())?, sorted)
}

fn customer_index<S: Store>(store: &S) -> Result<(), String> {
    let (a, b) = (CustomerRef::new("cust-a"), CustomerRef::new("cust-b"));
    let opened_for = [(case_id(22), "cust-a"), (case_id(20), "cust-a"), (case_id(21), "cust-b")];
    for (case, customer) in opened_for {
        let log = history(case, customer, 2)?;
        append(store, case, 0, part(&log, 0..1)?, Appended::new(1, 1))?;
        append(store, case, 1, part(&log, 1..3)?, Appended::new(3, 2))?;
    }
    let cases = |customer: &CustomerRef| store.customer_cases(customer).map_err(|e| e.to_string());
    same("customer_cases(cust-a)", cases(&a)?, vec![case_id(20), case_id(22)])?;
    same("customer_cases(cust-b)", cases(&b)?, vec![case_id(21)])?;
    same("customer_cases(cust-nobody)", cases(&CustomerRef::new("cust-nobody"))?, vec![])
}

fn incident_index<S: Store>(store: &S) -> Result<(), String> {
    let (fire, flood) = (IncidentId::new("fire-1"), IncidentId::new("flood-2"));
    let links =
        [(case_id(25), Some(&fire)), (case_id(23), Some(&fire)), (case_id(24), Some(&flood)), (case_id(26), None)];
    for (case, incident) in links {
        let mut log = history(case, "cust-1", 0)?;
        append(store, case, 0, &log, Appended::new(1, 1))?;
        if let Some(incident) = incident {
            let linked = decided(&log, Command::LinkIncident { incident: incident.clone() })?;
            append(store, case, 1, &linked, Appended::new(2, 1))?;
            log.extend(linked);
            // Later events do not list the case twice.
            append(store, case, 2, &decided(&log, note("after the link".into()))?, Appended::new(3, 1))?;
        }
    }
    let cases = |incident: &IncidentId| store.incident_cases(incident).map_err(|e| e.to_string());
    same("incident_cases(fire-1)", cases(&fire)?, vec![case_id(23), case_id(25)])?;
    same("incident_cases(flood-2)", cases(&flood)?, vec![case_id(24)])?;
    same("incident_cases(quake-3)", cases(&IncidentId::new("quake-3"))?, vec![])
}

// ---------------------------------------------------------------- concurrency

const WRITERS: usize = 4;
const COMMANDS: usize = 8;
/// A writer that loses this many races in a row reports the store as stuck.
const MAX_ATTEMPTS: usize = 1_000;

/// One command's events as acknowledged: the version the store said, and what was sent.
type Acked = (Appended, Vec<Event>);

/// What one writer did.
struct Run {
    acked: Vec<Acked>,
    /// How many races it lost.
    conflicts: usize,
}

/// Runs writers on one shared case and on cases of their own at once; returns the
/// verdict for [`Promise::ConcurrentOneCase`] and [`Promise::ConcurrentCases`].
fn concurrent<S: Store>(store: &S) -> (Result<(), String>, Result<(), String>) {
    let shared = case_id(30);
    let own: Vec<CaseId> = (31_u8..).take(WRITERS).map(case_id).collect();
    let opening = match opened(shared, "cust-1").and_then(|e| append(store, shared, 0, &[e], Appended::new(1, 1))) {
        Ok(()) => Ok(()),
        Err(e) => Err(format!("opening the shared case: {e}")),
    };
    if let Err(e) = opening {
        return (Err(e.clone()), Err(e));
    }
    let start = Barrier::new(WRITERS * 2);
    let race = Barrier::new(WRITERS);
    let (shared_runs, own_runs) = thread::scope(|scope| {
        let (start, race) = (&start, &race);
        let shared_handles: Vec<_> =
            (0..WRITERS).map(|w| scope.spawn(move || writer(store, shared, w, Some(race), start))).collect();
        let own_handles: Vec<_> =
            own.iter().enumerate().map(|(w, &case)| scope.spawn(move || writer(store, case, w, None, start))).collect();
        let join = |handles: Vec<thread::ScopedJoinHandle<'_, Result<Run, String>>>| {
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a writer thread panicked".into()))).collect()
        };
        let shared_runs: Vec<Result<Run, String>> = join(shared_handles);
        let own_runs: Vec<Result<Run, String>> = join(own_handles);
        (shared_runs, own_runs)
    });
    // All racers read version 1 before any appended: all but one must have lost.
    let one_case = verify(store, shared, 1, shared_runs, "the shared case").and_then(|conflicts| {
        if conflicts < WRITERS - 1 {
            return Err(format!(
                "{WRITERS} writers appended at version 1 at once, and only {conflicts} got Conflict; \
                 all but one must"
            ));
        }
        Ok(())
    });
    let mut cases = Ok(());
    for (case, run) in own.iter().zip(own_runs) {
        cases = cases.and_then(|()| match verify(store, *case, 0, vec![run], &format!("case {case}"))? {
            0 => Ok(()),
            n => Err(format!("case {case} has one writer, yet its appends got {n} Conflicts")),
        });
    }
    let listed = store.cases().map_err(|e| e.to_string()).and_then(|listed| {
        let mut want: Vec<CaseId> = own.iter().copied().chain([shared]).collect();
        want.sort();
        same("cases after the concurrent writers", listed, want)
    });
    (one_case, cases.and(listed))
}

/// One writer: `COMMANDS` notes on `case`, each read, decided and appended, retried
/// after a conflict. With a `race` (the shared case), every writer reads the case before
/// any of them appends its first note, so all but one lose that race for sure;
/// without, the writer opens its own case first.
fn writer<S: Store>(
    store: &S,
    case: CaseId,
    w: usize,
    mut race: Option<&Barrier>,
    start: &Barrier,
) -> Result<Run, String> {
    start.wait();
    let mut run = Run { acked: Vec::with_capacity(COMMANDS + 1), conflicts: 0 };
    if race.is_none() {
        let event = opened(case, &format!("cust-{w}"))?;
        let got = store.append(case, 0, std::slice::from_ref(&event)).map_err(|e| format!("opening: {e}"))?;
        run.acked.push((got, vec![event]));
    }
    for i in 0..COMMANDS {
        let mut attempts = 0;
        loop {
            attempts += 1;
            if attempts > MAX_ATTEMPTS {
                return Err(format!("writer {w} lost {MAX_ATTEMPTS} races in a row on note {i}"));
            }
            let prepared = guarded(|| {
                let log = store.read(case).map_err(|e| format!("writer {w} could not read: {e}"))?;
                let expected = u64::try_from(log.len()).unwrap_or(u64::MAX);
                let new = decided(&log, note(format!("writer {w} note {i}")))
                    .map_err(|e| format!("writer {w} read a log of {expected} events that {e}"))?;
                Ok((expected, new))
            });
            // Every racer reaches the barrier, even one that failed, so none waits forever.
            if let Some(race) = race.take() {
                race.wait();
            }
            let (expected, new) = prepared?;
            match store.append(case, expected, &new) {
                Ok(got) => {
                    run.acked.push((got, new));
                    break;
                }
                Err(StoreError::Conflict { expected: e, actual, .. }) if e == expected && actual > expected => {
                    run.conflicts += 1;
                }
                Err(other) => {
                    return Err(format!(
                        "writer {w} appending at version {expected}: got {other}; a writer that loses a race \
                         must get Conflict with the store's newer version"
                    ))
                }
            }
        }
    }
    Ok(run)
}

/// Checks a case's log after the writers: every acknowledgement right, every
/// acknowledged event at its place, each writer's notes once and in order, and the log
/// replays. `before` events were stored before the writers started. Returns how many
/// races the writers lost.
fn verify<S: Store>(
    store: &S,
    case: CaseId,
    before: usize,
    runs: Vec<Result<Run, String>>,
    what: &str,
) -> Result<usize, String> {
    let log = store.read(case).map_err(|e| format!("reading {what}: {e}"))?;
    let mut total = before;
    let mut conflicts = 0;
    for run in runs {
        let run = run?;
        conflicts += run.conflicts;
        for (got, sent) in &run.acked {
            let Some(last) = sent.last() else { continue };
            let want = Appended::new(last.seq, sent.len());
            if *got != want {
                return Err(format!(
                    "{what}: an append of seq {} was acknowledged as {got:?}; the contract wants {want:?}",
                    seqs(sent)
                ));
            }
            for event in sent {
                let stored = usize::try_from(event.seq).ok().and_then(|s| log.get(s.wrapping_sub(1)));
                if stored != Some(event) {
                    return Err(format!(
                        "{what}: event {} was acknowledged, but the log holds {:?} there (lost or overwritten)",
                        event.seq,
                        stored.map(|e| e.id)
                    ));
                }
            }
            total += sent.len();
        }
    }
    if log.len() != total {
        return Err(format!("{what}: {total} events were acknowledged but the log holds {}", log.len()));
    }
    Case::replay(&log).map_err(|e| format!("{what}: the log does not replay: {e}"))?;
    let notes: Vec<&str> = log
        .iter()
        .filter_map(|e| match &e.what {
            EventKind::NoteAdded { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let writers: BTreeSet<&str> = notes.iter().filter_map(|t| t.split(" note ").next()).collect();
    for writer in writers {
        let order: Vec<&str> = notes.iter().copied().filter(|t| t.starts_with(&format!("{writer} note "))).collect();
        let want: Vec<String> = (0..COMMANDS).map(|i| format!("{writer} note {i}")).collect();
        if order != want {
            return Err(format!("{what}: {writer}'s notes are stored as {order:?}; each once, in order, was wanted"));
        }
    }
    Ok(conflicts)
}

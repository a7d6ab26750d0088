//! A projection fed in process: a store wrapper that hands each acknowledged append to
//! the projection, and rebuilds it from the stored cases when it is made.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::Projection;
use crate::error::StoreError;
use crate::event::Event;
use crate::id::{CaseId, CustomerRef, IncidentId};
use crate::store::{Appended, Store};

/// A [`Store`] whose appends also feed a [`Projection`], in the same process.
///
/// - **Made by a rebuild.** [`Projected::new`] resets the projection and applies every
///   stored case's log, case by case, so reopening a [`FileStore`](crate::FileStore)
///   directory after a restart gives the model the process had before.
/// - **Fed after each acknowledged append**, before `append` returns: a read of the
///   projection after an append sees it (read your writes). Each case's events arrive in
///   sequence order and once, however appends race: the wrapper remembers per case the
///   version the projection has reached, and an append that finds a gap (a concurrent
///   append to the same case got there first with a later batch) reads the missing
///   events from the store.
/// - **Appends are not serialised.** The store's own I/O runs outside the wrapper's
///   lock; only applying events to the projection takes it, which is in-memory work.
/// - **A stored append is never reported as failed** because of the projection: a
///   refused event stalls the projection on that case (see [`Projected::status`]) and
///   is offered again on the case's next append and on [`Projected::retry`].
///
/// Reads go straight to the store. A projection that panics leaves the model as the
/// panic left it; the wrapper goes on with it.
///
/// # Reading the projection
///
/// [`Projected::view`] lends the projection to a closure and takes it back when the
/// closure returns; nothing of it outlives the call, so no lock is left held by a value
/// the caller forgot to drop. The worklist's queries have owned-value helpers on
/// `Projected<_, Worklist>` ([`page`](Projected::page),
/// [`breached_between`](Projected::breached_between)), so a host's timer loop never
/// holds the projection while it appends. An append made *inside* a `view` closure (on
/// the same thread, for instance a sweep that appends for each breach it reads) is
/// stored at once and reaches the projection when the closure returns, instead of
/// waiting for a lock its own thread holds. [`Projected::status`],
/// [`Projected::retry`], [`Projected::rebuild`] and a nested `view` need the projection
/// itself: called inside a `view` closure on the same thread they panic with a message
/// that says so, rather than deadlocking.
///
/// ```
/// use caseledger::projection::Projected;
/// use caseledger::worklist::Worklist;
/// use caseledger::{policy::{Deadlines, Span}, Actor, Case, CaseId, MemoryStore, Opening, Rules, Staff, Store};
/// use time::macros::datetime;
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let store = Projected::new(MemoryStore::new(), Worklist::new(Deadlines::default().first_response(Span::hours(4))))?;
/// let rules = Rules::default();
/// let case = CaseId::new_v7(t, [1; 10]);
/// store.append(case, 0, &[rules.open(case, Opening::new("cust-7", "my laptop works",
///     Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?])?;
///
/// // Appending while reading: the note is stored now and projected when the read ends.
/// let now = datetime!(2026-11-23 14:00 UTC);
/// store.view(|worklist| -> Result<(), caseledger::Error> {
///     for breach in worklist.breached_between(t, now) {
///         let folded = Case::replay(&store.read(breach.case)?)?;
///         let note = rules.decide(&folded, breach.deadline.breach_note(), &Actor::System, now)?;
///         store.append(breach.case, folded.version(), &note)?;
///     }
///     Ok(())
/// })?;
/// assert_eq!(store.view(|worklist| worklist.case(case).map(Case::version)), Some(2));
/// # Ok::<(), caseledger::Error>(())
/// ```
pub struct Projected<S, P: Projection> {
    store: S,
    state: Mutex<State<P>>,
    /// Appends made inside a `view` closure on its own thread, for the projection once
    /// the closure returns: the case, the batch and the version the store acknowledged.
    deferred: Mutex<Vec<(CaseId, Vec<Event>, u64)>>,
    /// Tells this wrapper apart in [`READING`].
    id: u64,
}

/// Gives each [`Projected`] its id.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The wrappers whose projection this thread is reading ([`Projected::view`]).
    static READING: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Marks the current thread as reading a wrapper's projection until dropped (also when
/// the reader's closure panics).
struct ReadingMark(u64);

impl ReadingMark {
    fn enter(id: u64) -> Self {
        READING.with(|reading| reading.borrow_mut().push(id));
        Self(id)
    }

    fn held(id: u64) -> bool {
        READING.with(|reading| reading.borrow().contains(&id))
    }
}

impl Drop for ReadingMark {
    fn drop(&mut self) {
        READING.with(|reading| {
            let mut reading = reading.borrow_mut();
            if let Some(i) = reading.iter().rposition(|&id| id == self.0) {
                reading.remove(i);
            }
        });
    }
}

struct State<P: Projection> {
    projection: P,
    /// The last sequence number applied, per case.
    applied: HashMap<CaseId, u64>,
    stalls: BTreeMap<CaseId, Stall<P::Error>>,
    events: u64,
}

/// Why a projection is stalled on one case.
#[non_exhaustive]
pub enum StallCause<E> {
    /// The projection refused the event.
    Projection(Arc<E>),
    /// Reading the case's missing events from the store failed.
    Store(Arc<StoreError>),
}

impl<E> Clone for StallCause<E> {
    fn clone(&self) -> Self {
        match self {
            Self::Projection(e) => Self::Projection(Arc::clone(e)),
            Self::Store(e) => Self::Store(Arc::clone(e)),
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for StallCause<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Projection(e) => f.debug_tuple("Projection").field(e).finish(),
            Self::Store(e) => f.debug_tuple("Store").field(e).finish(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for StallCause<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Projection(e) => write!(f, "the projection refused it: {e}"),
            Self::Store(e) => write!(f, "the store could not read it: {e}"),
        }
    }
}

/// A case the projection is stuck on: the event it could not apply, and why.
#[non_exhaustive]
pub struct Stall<E> {
    /// The case.
    pub case: CaseId,
    /// The sequence number of the event not applied; the case's later events wait.
    pub seq: u64,
    /// Why.
    pub cause: StallCause<E>,
}

impl<E> Clone for Stall<E> {
    fn clone(&self) -> Self {
        Self { case: self.case, seq: self.seq, cause: self.cause.clone() }
    }
}

impl<E: fmt::Debug> fmt::Debug for Stall<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stall").field("case", &self.case).field("seq", &self.seq).field("cause", &self.cause).finish()
    }
}

impl<E: fmt::Display> fmt::Display for Stall<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "case {} is stalled at event {}: {}", self.case, self.seq, self.cause)
    }
}

/// Where an in-process projection stands, from [`Projected::status`].
#[non_exhaustive]
pub struct ProjectionStatus<E> {
    /// Events applied since the last rebuild.
    pub applied: u64,
    /// Cases the projection has seen.
    pub cases: usize,
    /// The cases it is stuck on, in id order; empty when it is current.
    pub stalled: Vec<Stall<E>>,
}

impl<E> ProjectionStatus<E> {
    /// Whether every acknowledged event has been applied.
    #[must_use]
    pub fn is_current(&self) -> bool {
        self.stalled.is_empty()
    }
}

impl<E: fmt::Debug> fmt::Debug for ProjectionStatus<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProjectionStatus")
            .field("applied", &self.applied)
            .field("cases", &self.cases)
            .field("stalled", &self.stalled)
            .finish()
    }
}

impl<S: fmt::Debug, P: Projection> fmt::Debug for Projected<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Projected").field("store", &self.store).finish_non_exhaustive()
    }
}

impl<S: Store, P: Projection> Projected<S, P> {
    /// Wraps `store` and builds `projection` from every stored case (see
    /// [`Projected::rebuild`]).
    ///
    /// # Errors
    ///
    /// The store's failure to list its cases. A case whose events cannot be read or
    /// applied does not fail the call: the projection is stalled on it.
    pub fn new(store: S, projection: P) -> Result<Self, StoreError> {
        let state = State { projection, applied: HashMap::new(), stalls: BTreeMap::new(), events: 0 };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let this = Self { store, state: Mutex::new(state), deferred: Mutex::new(Vec::new()), id };
        this.rebuild()?;
        Ok(this)
    }

    /// Starts over: [`Projection::reset`], then every stored case's log in sequence
    /// order, case by case in id order. Appends wait meanwhile.
    ///
    /// # Errors
    ///
    /// As [`Projected::new`].
    ///
    /// # Panics
    ///
    /// Inside a [`Projected::view`] closure of the same wrapper on the same thread
    /// (the rebuild would wait for the read's own lock).
    pub fn rebuild(&self) -> Result<(), StoreError> {
        let mut state = self.lock_outside("rebuild");
        state.projection.reset();
        state.applied.clear();
        state.stalls.clear();
        state.events = 0;
        for case in self.store.cases()? {
            state.catch_up(&self.store, case, &[], None);
        }
        Ok(())
    }

    /// Offers every stalled case's waiting events to the projection again; returns the
    /// status afterwards.
    ///
    /// # Panics
    ///
    /// Inside a [`Projected::view`] closure of the same wrapper on the same thread.
    pub fn retry(&self) -> ProjectionStatus<P::Error> {
        let mut state = self.lock_outside("retry");
        let stalled: Vec<CaseId> = state.stalls.keys().copied().collect();
        for case in stalled {
            state.catch_up(&self.store, case, &[], None);
        }
        state.status()
    }

    /// How many events the projection has applied, and the cases it is stalled on.
    ///
    /// # Panics
    ///
    /// Inside a [`Projected::view`] closure of the same wrapper on the same thread.
    pub fn status(&self) -> ProjectionStatus<P::Error> {
        self.lock_outside("status").status()
    }

    /// Lends the projection to `read` and returns what it returns. Other threads'
    /// appends wait for the projection meanwhile (their store I/O does not), so keep
    /// the closure short; appends made inside it on this thread are stored at once and
    /// projected when it returns (see [Reading the projection](Projected#reading-the-projection)).
    ///
    /// # Panics
    ///
    /// Nested inside another `view` of the same wrapper on the same thread.
    pub fn view<R>(&self, read: impl FnOnce(&P) -> R) -> R {
        let mut state = self.lock_outside("view");
        let mark = ReadingMark::enter(self.id);
        let result = read(&state.projection);
        drop(mark);
        self.apply_deferred(&mut state);
        result
    }

    /// The wrapped store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store and the projection, taken apart.
    pub fn into_parts(self) -> (S, P) {
        drop(self.lock());
        let state = self.state.into_inner().unwrap_or_else(PoisonError::into_inner);
        (self.store, state.projection)
    }

    // The state is consistent between events (`applied` moves only after a successful
    // apply), so a lock poisoned by a panicking projection still guards usable data.
    fn lock(&self) -> MutexGuard<'_, State<P>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.apply_deferred(&mut state);
        state
    }

    /// The state's lock for `what`, refused with a panic that names the mistake when this
    /// thread already holds it in a [`Projected::view`] closure (it would deadlock).
    fn lock_outside(&self, what: &str) -> MutexGuard<'_, State<P>> {
        assert!(
            !ReadingMark::held(self.id),
            "Projected::{what} called inside Projected::view of the same store on the same thread: \
             it needs the projection the read holds; call it after the closure returns"
        );
        self.lock()
    }

    /// Projects the appends made inside a `view` closure (see [`Projected::view`]).
    fn apply_deferred(&self, state: &mut State<P>) {
        let deferred = std::mem::take(&mut *self.deferred.lock().unwrap_or_else(PoisonError::into_inner));
        for (case, events, version) in deferred {
            state.catch_up(&self.store, case, &events, Some(version));
        }
    }
}

impl<P: Projection> State<P> {
    /// Brings the projection up to `version` of `case` (or up to what the store holds,
    /// when `version` is `None`), applying from `batch` when it starts at the next
    /// event and reaches `version`, and reading from the store otherwise.
    fn catch_up<S: Store>(&mut self, store: &S, case: CaseId, batch: &[Event], version: Option<u64>) {
        let applied = self.applied.get(&case).copied().unwrap_or(0);
        if version.is_some_and(|v| applied >= v) {
            return;
        }
        let next = applied.saturating_add(1);
        let from_batch = batch
            .iter()
            .position(|e| e.seq == next)
            .and_then(|i| batch.get(i..))
            .filter(|tail| version.is_some_and(|v| tail.last().is_some_and(|e| e.seq >= v)));
        let events: Cow<'_, [Event]> = match from_batch {
            Some(tail) => Cow::Borrowed(tail),
            None => match store.read_after(case, applied) {
                Ok(events) => Cow::Owned(events),
                Err(err) => {
                    self.stalls.insert(case, Stall { case, seq: next, cause: StallCause::Store(Arc::new(err)) });
                    return;
                }
            },
        };
        let mut at = applied;
        for event in events.iter() {
            if event.seq != at.saturating_add(1) {
                // A store that returns another sequence breaks its contract; stop here
                // rather than apply out of order.
                let err = StoreError::backend(format!(
                    "case {case}: the store returned event {} where event {} was due",
                    event.seq,
                    at.saturating_add(1)
                ));
                self.stalls.insert(case, Stall { case, seq: at + 1, cause: StallCause::Store(Arc::new(err)) });
                self.applied.insert(case, at);
                return;
            }
            if let Err(err) = self.projection.apply(event) {
                self.stalls.insert(case, Stall { case, seq: event.seq, cause: StallCause::Projection(Arc::new(err)) });
                self.applied.insert(case, at);
                return;
            }
            at = event.seq;
            self.events = self.events.saturating_add(1);
        }
        self.applied.insert(case, at);
        self.stalls.remove(&case);
    }

    fn status(&self) -> ProjectionStatus<P::Error> {
        ProjectionStatus {
            applied: self.events,
            cases: self.applied.len(),
            stalled: self.stalls.values().cloned().collect(),
        }
    }
}

impl<S: Store, P: Projection> Store for Projected<S, P> {
    /// Appends to the wrapped store; once it acknowledges, applies the new events to the
    /// projection before returning. The result is the store's.
    fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError> {
        let appended = self.store.append(case, expected, events)?;
        if ReadingMark::held(self.id) {
            // This thread holds the projection in a `view` closure: waiting for it would
            // never end. The closure's end applies it.
            self.deferred.lock().unwrap_or_else(PoisonError::into_inner).push((
                case,
                events.to_vec(),
                appended.version,
            ));
        } else {
            self.lock().catch_up(&self.store, case, events, Some(appended.version));
        }
        Ok(appended)
    }

    fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError> {
        self.store.read_after(case, after)
    }

    fn version(&self, case: CaseId) -> Result<u64, StoreError> {
        self.store.version(case)
    }

    fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
        self.store.cases()
    }

    fn read(&self, case: CaseId) -> Result<Vec<Event>, StoreError> {
        self.store.read(case)
    }

    fn read_after_many(&self, reads: &[(CaseId, u64)]) -> Result<Vec<Vec<Event>>, StoreError> {
        self.store.read_after_many(reads)
    }

    fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<CaseId>, StoreError> {
        self.store.customer_cases(customer)
    }

    fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<CaseId>, StoreError> {
        self.store.incident_cases(incident)
    }

    /// Snapshots are the wrapped store's: they do not concern the projection.
    fn write_snapshot(&self, snapshot: &crate::case::Snapshot) -> Result<bool, StoreError> {
        self.store.write_snapshot(snapshot)
    }

    fn read_snapshot(&self, case: CaseId) -> Result<Option<crate::case::Snapshot>, StoreError> {
        self.store.read_snapshot(case)
    }

    fn load(&self, case: CaseId) -> Result<crate::store::Loaded, StoreError> {
        self.store.load(case)
    }
}

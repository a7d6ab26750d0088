//! The sans-IO core of both repositories: everything a command does except waiting for
//! the store. The protocol is the [`repository`](crate::repository) module's guide.

use std::borrow::Cow;
use std::sync::Arc;

use time::OffsetDateTime;

use super::cache::{Cache, Slot};
use super::executed::Executed;
use super::request::CaseRequest;
use super::snapshots::{self, Counters, Restored, SnapshotPolicy, SnapshotStats};
use crate::actor::Actor;
use crate::case::{Case, Snapshot};
use crate::command::{Opening, Request};
use crate::error::{Error, LogError, RequestError, StoreError};
use crate::event::Event;
use crate::id::CaseId;
use crate::rules::{Decision, Rules};
use crate::store::{Appended, Batch, Loaded};

/// What commands share: the rules they are decided under and the cache of folded cases.
///
/// The cache holds at most `capacity` cases; when it is full, the least recently used
/// case leaves it (approximately: the cache is split into up to 16 shards by case id,
/// each evicting its own least recently used case). A case that left is read and
/// replayed again by the next command that needs it. All methods take `&self`: a core
/// is shared by every thread or task of a host.
///
/// # Concurrency
///
/// Commands never hold a lock while the store works. Two commands on one case may both
/// decide on the same version; the store lets one append and gives the other
/// [`StoreError::Conflict`]. The loser catches its cached case up (reading only the
/// missing events) and decides again on the new state, up to the request's attempts.
/// Commands on different cases share nothing but a shard lock held for a lookup.
///
/// # Driving order
///
/// 1. Start a run: [`Execution::new`] (a command), [`Execution::open`] (a new case),
///    [`Lookup::case`] or [`Lookup::refresh`] (a read).
/// 2. Poll it: [`Execution::poll`] takes the core and the host's clock, which it reads
///    only before deciding again after a conflict (the first decision is at the
///    request's time); [`Lookup::poll`] decides nothing and takes no clock.
/// 3. Do what the [`Step`] asks and hand the store's result back, errors included (an
///    error is an answer: a conflict makes the run catch up and decide again):
///    - [`Step::Read`]: read the case's events after [`PendingRead::after`], answer
///      with [`PendingRead::answer`];
///    - [`Step::Append`]: append [`PendingAppend::batch`], answer with
///      [`PendingAppend::answer`];
///    - [`Step::Load`] (only with a [`SnapshotPolicy`], on a cache miss): load the case
///      ([`Store::load`](crate::Store::load): its snapshot and the events from the
///      snapshot's version on), answer with [`PendingLoad::answer`];
///    - [`Step::Save`] (only with a [`SnapshotPolicy`], after an append or a load that
///      crossed it): write the snapshot
///      ([`Store::write_snapshot`](crate::Store::write_snapshot)), answer with
///      [`PendingSave::answer`]; its failure fails nothing.
///
///    The answer returns the run: go back to 2.
/// 4. [`Step::Done`] carries the result; the run is over.
///
/// Between a step and its answer the driver may wait as long as it likes (await, hold
/// a transaction open); the core holds no lock meanwhile. A step that is never answered
/// (a timeout drops it) leaves the cache as it was. Steps are values that own the run,
/// so an answer can only be given to the step that asked for it, once, and nothing can
/// be polled after it is done.
///
/// [`Step`] is exhaustive: a driver matches its five variants and needs no catch-all.
/// Adding a step is a breaking change by design, since a driver that did not know it
/// would drop a write or never finish.
///
/// # Example
///
/// A driver over a blocking store, the loop [`Repository`](crate::Repository) runs:
///
/// ```
/// use caseledger::{
///     event::Visibility, repository::{Execution, Lookup, Machine, RepositoryCore, Step},
///     store::Batch, Actor, CaseId, CaseRequest, Command, Error, MemoryStore, Opening, Rules,
///     Staff, Store,
/// };
/// use time::macros::datetime;
///
/// /// Does what each step asks with `store` until the run is done.
/// fn drive<M: Machine>(store: &MemoryStore, mut run: M, mut poll: impl FnMut(M) -> Step<M>) -> Result<M::Output, Error> {
///     loop {
///         run = match poll(run) {
///             Step::Read(read) => {
///                 let result = store.read_after(read.case(), read.after());
///                 read.answer(result)
///             }
///             Step::Append(append) => {
///                 let Batch { case, expected, events } = append.batch();
///                 let result = store.append(case, expected, events);
///                 append.answer(result)
///             }
///             Step::Load(case, load) => load.answer(store.load(case)),
///             Step::Save(snapshot, save) => save.answer(store.write_snapshot(&snapshot)),
///             Step::Done(result) => return result,
///         };
///     }
/// }
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let core = RepositoryCore::new(Rules::default(), 1_000);
/// let store = MemoryStore::new();
/// let case = CaseId::new_v7(t, [1; 10]);
/// let ana = Staff::new("ana", "software");
/// let clock = || t; // the host's clock: read only to decide again after a conflict
///
/// let opening = Opening::new("cust-7", "my laptop works", ana.clone());
/// drive(&store, Execution::open(case, opening, Actor::customer("cust-7"), t), |run| run.poll(&core, &mut { clock }))?;
/// let note = Command::AddNote { text: "BIOS 1.9 tried".into(), visibility: Visibility::Internal };
/// let done = drive(&store, Execution::new(CaseRequest::new(case, note, ana, t)), |run| run.poll(&core, &mut { clock }))?;
/// assert_eq!((done.events[0].seq, done.version, done.already_done), (2, 2, false));
///
/// core.forget(case);
/// let read = drive(&store, Lookup::case(case), |lookup| lookup.poll(&core))?;
/// assert_eq!(read.version(), 2, "read from the store and replayed");
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug)]
pub struct RepositoryCore {
    rules: Arc<Rules>,
    cache: Cache,
    snapshots: SnapshotPolicy,
    counters: Counters,
}

impl RepositoryCore {
    /// A core deciding with `rules`, caching at most `capacity` folded cases (0: none;
    /// every command then reads and replays its case).
    #[must_use]
    pub fn new(rules: impl Into<Arc<Rules>>, capacity: usize) -> Self {
        Self {
            rules: rules.into(),
            cache: Cache::new(capacity),
            snapshots: SnapshotPolicy::Off,
            counters: Counters::default(),
        }
    }

    /// The same core writing and reading snapshots under `policy` (see
    /// [`SnapshotPolicy`]; off by default).
    #[must_use]
    pub fn with_snapshots(mut self, policy: SnapshotPolicy) -> Self {
        self.snapshots = policy;
        self
    }

    /// When snapshots are written.
    #[must_use]
    pub fn snapshot_policy(&self) -> SnapshotPolicy {
        self.snapshots
    }

    /// What the core did with snapshots so far: restored, ignored (with reasons),
    /// written, failed to write.
    #[must_use]
    pub fn snapshot_stats(&self) -> SnapshotStats {
        self.counters.stats()
    }

    pub(crate) fn snapshot_counters(&self) -> &Counters {
        &self.counters
    }

    /// The first step of a cold load: a read of the whole log, or with snapshots on, a
    /// load of the snapshot and what follows it.
    fn cold<S>(&self, state: S) -> Cold<S> {
        match self.snapshots {
            SnapshotPolicy::Off => Cold::Read(state),
            SnapshotPolicy::Every(_) => Cold::Load(state),
        }
    }

    /// The rules commands are decided under.
    #[must_use]
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub(crate) fn rules_arc(&self) -> Arc<Rules> {
        Arc::clone(&self.rules)
    }

    /// The most cases the cache holds.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.cache.capacity()
    }

    /// How many cases the cache holds now.
    #[must_use]
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Drops a case from the cache; the next command reads it again.
    pub fn forget(&self, case: CaseId) {
        self.cache.forget(case);
    }

    /// The cached case, if the cache holds it (no store access, not marked as used).
    #[must_use]
    pub fn peek(&self, case: CaseId) -> Option<Arc<Case>> {
        self.cache.get(case).map(|slot| slot.snapshot())
    }

    /// A private core for one host transaction: the same rules, a cache of its own
    /// holding up to `capacity` cases. Runs in the transaction fold into it, never into
    /// this core's cache; [`settle`](Self::settle) hands its cases over once the
    /// transaction has committed.
    #[cfg(feature = "postgres")]
    pub(crate) fn staging(&self, capacity: usize) -> Self {
        // The same snapshot policy; the counters are the transaction's own.
        Self {
            rules: self.rules_arc(),
            cache: Cache::new(capacity),
            snapshots: self.snapshots,
            counters: Counters::default(),
        }
    }

    /// Starts `staging`'s copy of `case` from this core's cached snapshot, when it holds
    /// none yet (a committed state; the first fold in the transaction copies it).
    #[cfg(feature = "postgres")]
    pub(crate) fn lend(&self, staging: &Self, case: CaseId) {
        if staging.cache.get(case).is_some() {
            return;
        }
        if let Some(snapshot) = self.peek(case) {
            staging.cache.settle(case, snapshot);
        }
    }

    /// Takes `staging`'s state of `case` into this core's cache unless it already holds
    /// the case at that version or later. Call it only once what `staging` saw is
    /// committed.
    #[cfg(feature = "postgres")]
    pub(crate) fn settle(&self, staging: &Self, case: CaseId) {
        if let Some(snapshot) = staging.peek(case) {
            self.cache.settle(case, snapshot);
        }
    }
}

/// What a run needs next, or its result (see the [driving order](RepositoryCore#driving-order)).
///
/// Exhaustive by design: a driver handles these five and nothing else, and a new step
/// would be a breaking change, since a driver that did not know it could not finish.
#[derive(Debug)]
pub enum Step<M: Machine> {
    /// Read the case's events after a version ([`Store::read_after`](crate::Store::read_after)).
    Read(PendingRead<M>),
    /// Append a [`Batch`] ([`Store::append`](crate::Store::append)).
    Append(PendingAppend<M>),
    /// Load the case: its snapshot and the events from its version on
    /// ([`Store::load`](crate::Store::load)). Only with snapshots on, on a cache miss.
    Load(CaseId, PendingLoad<M>),
    /// Keep this snapshot ([`Store::write_snapshot`](crate::Store::write_snapshot));
    /// answer with the result, which fails nothing. Only with snapshots on.
    Save(Snapshot, PendingSave<M>),
    /// Finished: what the command did ([`Executed`]; a [`Lookup`] gives the case), or why
    /// not.
    Done(Result<M::Output, Error>),
}

/// A request to read `case`'s events after version `after`; answer with the store's
/// result.
#[derive(Debug)]
#[must_use]
pub struct PendingRead<M> {
    machine: M,
    case: CaseId,
    after: u64,
}

impl<M: Machine> PendingRead<M> {
    /// The case to read.
    #[must_use]
    pub fn case(&self) -> CaseId {
        self.case
    }

    /// Read the events after this version (sequence numbers `after + 1` …).
    #[must_use]
    pub fn after(&self) -> u64 {
        self.after
    }

    /// Hands the store's answer back; poll the returned machine again.
    pub fn answer(mut self, result: Result<Vec<Event>, StoreError>) -> M {
        self.machine.give(Answer::Read(result.map_err(Box::new)));
        self.machine
    }
}

impl<M: Machine> PendingRead<M> {
    pub(super) fn new(machine: M, case: CaseId, after: u64) -> Self {
        Self { machine, case, after }
    }
}

/// A request to load a case (the [`CaseId`] in [`Step::Load`]); answer with the store's
/// result.
#[derive(Debug)]
#[must_use]
pub struct PendingLoad<M> {
    machine: M,
}

impl<M: Machine> PendingLoad<M> {
    pub(super) fn new(machine: M) -> Self {
        Self { machine }
    }

    /// Hands the store's answer back; poll the returned machine again.
    pub fn answer(mut self, result: Result<Loaded, StoreError>) -> M {
        self.machine.give(Answer::Loaded(result.map(Box::new).map_err(Box::new)));
        self.machine
    }
}

/// A request to keep the [`Snapshot`] in [`Step::Save`]; answer with the store's result
/// (an error is counted in [`SnapshotStats`] and fails nothing).
#[derive(Debug)]
#[must_use]
pub struct PendingSave<M> {
    machine: M,
}

impl<M: Machine> PendingSave<M> {
    /// Hands the store's answer back; poll the returned machine again.
    pub fn answer(mut self, result: Result<bool, StoreError>) -> M {
        self.machine.give(Answer::Saved(result.map_err(Box::new)));
        self.machine
    }
}

/// A request to append a [`Batch`]; answer with the store's result.
#[derive(Debug)]
#[must_use]
pub struct PendingAppend<M> {
    machine: M,
    case: CaseId,
    expected: u64,
}

impl<M: Machine> PendingAppend<M> {
    /// What to append: the events decided on the case at the batch's expected version,
    /// numbered from `expected + 1`.
    #[must_use]
    pub fn batch(&self) -> Batch<'_> {
        Batch { case: self.case, expected: self.expected, events: self.machine.pending() }
    }

    /// Hands the store's answer back; poll the returned machine again.
    pub fn answer(mut self, result: Result<Appended, StoreError>) -> M {
        self.machine.give(Answer::Appended(result.map_err(Box::new)));
        self.machine
    }
}

/// A run through the core that [`Step`]s drive: [`Execution`] or [`Lookup`].
pub trait Machine: sealed::Sealed + Send + Sync {
    /// What the run gives when done.
    type Output;
}

pub(crate) mod sealed {
    use crate::error::StoreError;
    use crate::event::Event;
    use crate::store::{Appended, Loaded};

    /// A store's answer to a step. Errors are boxed: they are rare, and a run (which
    /// holds its answer and its state) is moved at every step.
    #[derive(Debug)]
    pub enum Answer {
        Read(Result<Vec<Event>, Box<StoreError>>),
        Appended(Result<Appended, Box<StoreError>>),
        Loaded(Result<Box<Loaded>, Box<StoreError>>),
        Saved(Result<bool, Box<StoreError>>),
    }

    /// What the steps call to hand an answer back; not for hosts.
    pub trait Sealed: Sized {
        fn give(&mut self, answer: Answer);
        fn pending(&self) -> &[Event];
        /// The case and the command's tag (`"open"` for an opening), for the drivers'
        /// tracing; `None` for a read, which is not a command.
        fn label(&self) -> Option<(crate::id::CaseId, &'static str)>;
    }
}

use sealed::Answer;

/// One command's run through the core: decide, check, append, fold; after a conflict,
/// catch up and decide again.
///
/// Start it with [`Execution::new`] (a command) or [`Execution::open`] (a new case),
/// then call [`Execution::poll`] and do what each [`Step`] asks until [`Step::Done`],
/// which carries what the run did as an [`Executed`]: the new events (for an opening,
/// the `opened` event), the case's version after them, whether an earlier run had
/// already done it, and the attempts used. See the
/// [driving order](RepositoryCore#driving-order) and its example driver.
#[derive(Debug)]
pub struct Execution {
    case: CaseId,
    /// The request and who asks, boxed: a run is moved at every step, and these are
    /// most of its size.
    asked: Box<Asked>,
    /// Decisions still allowed.
    attempts_left: u32,
    /// Tries so far: decisions made, and looks that found the request already done.
    tries: u32,
    decided: bool,
    caught_up: bool,
    state: State,
    /// The events decided and not yet confirmed by the store.
    pending: Vec<Event>,
    answer: Option<Answer>,
}

/// What a run was asked, and by whom.
#[derive(Debug)]
struct Asked {
    /// The command and its key; `None` for an opening, and while `decide` has moved it
    /// into the events it is waiting to append.
    request: Option<Request>,
    /// Who asks; [`Actor::System`] while `decide` has moved it into those events.
    by: Actor,
    /// When the command is first decided.
    at: OffsetDateTime,
    /// The version the author saw, if given.
    expected: Option<u64>,
    /// A snapshot the load asked for, written once the command is done (boxed: rare).
    save: Option<Box<Snapshot>>,
    /// The command's tag, or `open` (the run's label; the request itself is moved into
    /// the events while they are appended).
    tag: &'static str,
}

#[derive(Debug)]
enum State {
    /// Nothing done yet (a command).
    Start,
    /// Nothing done yet (an opening).
    Open(Box<Opening>),
    /// Waiting for the whole log, to replay it; then `Then`.
    Load(Then),
    /// The case is at hand: decide.
    Decide(Arc<Slot>),
    /// Waiting for the append of `pending` at `expected`. `slot` is `None` for an
    /// opening; `folded` is the case after `pending` when that was built to check them.
    Append { slot: Option<Arc<Slot>>, expected: u64, folded: Option<Box<Case>> },
    /// Waiting for the events after `after`, to fold them into the cached case.
    CatchUp { slot: Arc<Slot>, after: u64, then: Then },
    /// Waiting for the events a first run with the same key stored, `first..=last`.
    Replay { slot: Arc<Slot>, first: u64, last: u64 },
    /// Waiting for a snapshot write; then done with `pending`, at `version`.
    Saving { version: u64, written: bool },
}

/// How a cold load starts (see [`RepositoryCore::cold`]).
enum Cold<S> {
    Read(S),
    Load(S),
}

/// What to do once the cached case is current again.
#[derive(Debug)]
enum Then {
    Decide,
    /// No decision left: look whether the case now knows the request's key (the
    /// conflict may have been its own earlier run), else fail with the conflict.
    CheckKey(Box<StoreError>),
    Fail(Box<StoreError>),
    /// The events are stored, in the store at `version` when appended; `written`: whether
    /// any of them was newly written.
    Finish {
        version: u64,
        written: bool,
    },
}

/// Where `advance` leaves an execution.
enum Flow {
    Next(State),
    Read(State, u64),
    Append(State, u64),
    Load(State),
    Save(State, Snapshot),
    Done(Result<Executed, Error>),
}

impl From<Cold<State>> for Flow {
    fn from(cold: Cold<State>) -> Self {
        match cold {
            Cold::Read(state) => Self::Read(state, 0),
            Cold::Load(state) => Self::Load(state),
        }
    }
}

impl Execution {
    /// A run of `request`.
    #[must_use]
    pub fn new(request: CaseRequest) -> Self {
        Self {
            case: request.case,
            asked: Box::new(Asked {
                tag: request.request.command.tag(),
                request: Some(request.request),
                by: request.by,
                at: request.at,
                expected: request.expected,
                save: None,
            }),
            attempts_left: request.attempts.max(1),
            tries: 0,
            decided: false,
            caught_up: false,
            state: State::Start,
            pending: Vec::new(),
            answer: None,
        }
    }

    /// A run opening case `case` ([`Rules::open`]); it appends at version 0. Opening the
    /// same case again with the same opening at the same time is a no-op retry; another
    /// opening of an existing case ends in [`StoreError::Conflict`].
    #[must_use]
    pub fn open(case: CaseId, opening: Opening, by: impl Into<Actor>, at: OffsetDateTime) -> Self {
        Self {
            case,
            asked: Box::new(Asked { request: None, by: by.into(), at, expected: Some(0), save: None, tag: "open" }),
            attempts_left: 1,
            tries: 0,
            decided: false,
            caught_up: false,
            state: State::Open(Box::new(opening)),
            pending: Vec::new(),
            answer: None,
        }
    }

    /// The case the command is for.
    #[must_use]
    pub fn case(&self) -> CaseId {
        self.case
    }

    /// Advances until the run needs the store or is done.
    ///
    /// The first decision is made at the request's time; `now` is called once before each
    /// later decision (after a conflict), never otherwise, so a host passes its clock or
    /// `&mut || at` to decide again at the same time.
    pub fn poll(mut self, core: &RepositoryCore, now: &mut dyn FnMut() -> OffsetDateTime) -> Step<Self> {
        loop {
            let state = std::mem::replace(&mut self.state, State::Start);
            match self.advance(core, now, state) {
                Flow::Next(state) => self.state = state,
                Flow::Read(state, after) => {
                    self.state = state;
                    let case = self.case;
                    return Step::Read(PendingRead { machine: self, case, after });
                }
                Flow::Append(state, expected) => {
                    self.state = state;
                    let case = self.case;
                    return Step::Append(PendingAppend { machine: self, case, expected });
                }
                Flow::Load(state) => {
                    self.state = state;
                    let case = self.case;
                    return Step::Load(case, PendingLoad { machine: self });
                }
                Flow::Save(state, snapshot) => {
                    self.state = state;
                    return Step::Save(snapshot, PendingSave { machine: self });
                }
                Flow::Done(result) => return Step::Done(result),
            }
        }
    }

    fn advance(&mut self, core: &RepositoryCore, now: &mut dyn FnMut() -> OffsetDateTime, state: State) -> Flow {
        let answer = self.answer.take();
        match state {
            State::Start => match core.cache.get(self.case) {
                Some(slot) => Flow::Next(State::Decide(slot)),
                None => core.cold(State::Load(Then::Decide)).into(),
            },
            State::Open(opening) => self.decide_open(core, *opening),
            State::Load(then) => match answer {
                Some(Answer::Read(Ok(events))) => match snapshots::replayed(core, self.case, &events) {
                    Ok((case, save)) => {
                        self.asked.save = save.map(Box::new);
                        let slot = core.cache.insert(self.case, case);
                        self.then(slot, then)
                    }
                    Err(err) => self.failed(then, err),
                },
                Some(Answer::Read(Err(err)) | Answer::Loaded(Err(err))) => self.failed(then, (*err).into()),
                Some(Answer::Loaded(Ok(loaded))) => match snapshots::restore(core, self.case, *loaded) {
                    Ok(Restored::Case(case, save)) => {
                        self.asked.save = save.map(Box::new);
                        let slot = core.cache.insert(self.case, *case);
                        self.then(slot, then)
                    }
                    Ok(Restored::ReadAll) => Flow::Read(State::Load(then), 0),
                    Err(err) => self.failed(then, err),
                },
                _ => Flow::Read(State::Load(then), 0),
            },
            State::Saving { version, written } => {
                if let Some(Answer::Saved(result)) = answer {
                    core.counters.saved(&result.map_err(|err| *err));
                }
                self.finish(version, written)
            }
            State::Decide(slot) => self.decide(core, now, slot),
            State::Append { slot, expected, folded } => match answer {
                Some(Answer::Appended(Ok(appended))) => self.appended(core, slot, expected, folded, appended),
                Some(Answer::Appended(Err(err))) => self.append_failed(core, slot, *err),
                _ => Flow::Append(State::Append { slot, expected, folded }, expected),
            },
            State::CatchUp { slot, after, then } => match answer {
                Some(Answer::Read(Ok(tail))) => {
                    let folded = fold_tail(&mut slot.lock(), &tail);
                    match folded {
                        Ok(()) => self.then(slot, then),
                        Err(err) => {
                            core.cache.remove(self.case, &slot);
                            self.failed(then, err.into())
                        }
                    }
                }
                Some(Answer::Read(Err(err))) => {
                    // The next command reads the case again.
                    core.cache.remove(self.case, &slot);
                    self.failed(then, (*err).into())
                }
                _ => Flow::Read(State::CatchUp { slot, after, then }, after),
            },
            State::Replay { slot, first, last } => match answer {
                Some(Answer::Read(Ok(stored))) => {
                    let mut done: Vec<Event> = stored.into_iter().filter(|e| (first..=last).contains(&e.seq)).collect();
                    if done.len() as u64 == last.saturating_sub(first).saturating_add(1) {
                        let case = slot.snapshot();
                        // An earlier run from a log older than named customers: name them.
                        crate::upcast::name_customers_as(&mut done, case.customer());
                        return self.executed(done, case.version().max(last), true);
                    }
                    // The cache knows events the store does not hold: it is behind the
                    // cache (replaced or restored). Read it again on the next command.
                    core.cache.remove(self.case, &slot);
                    let actual = done.last().map_or(first.saturating_sub(1), |e| e.seq);
                    Flow::Done(Err(StoreError::Conflict { case: self.case, expected: last, actual }.into()))
                }
                Some(Answer::Read(Err(err))) => Flow::Done(Err((*err).into())),
                _ => Flow::Read(State::Replay { slot, first, last }, first.saturating_sub(1)),
            },
        }
    }

    fn decide_open(&mut self, core: &RepositoryCore, opening: Opening) -> Flow {
        self.decided = true;
        self.tries = 1;
        let opened = match core.rules.open(self.case, opening, &self.asked.by, self.asked.at) {
            Ok(opened) => opened,
            Err(refusal) => return Flow::Done(Err(refusal.into())),
        };
        let case = match Case::from_opened(&opened) {
            Ok(case) => case,
            Err(err) => return Flow::Done(Err(err.into())),
        };
        self.pending = vec![opened];
        Flow::Append(State::Append { slot: None, expected: 0, folded: Some(Box::new(case)) }, 0)
    }

    fn decide(&mut self, core: &RepositoryCore, now: &mut dyn FnMut() -> OffsetDateTime, slot: Arc<Slot>) -> Flow {
        let guard = slot.lock();
        let case: &Case = &guard;
        let version = case.version();
        // A key the case knows wins over everything else: the first run passed every
        // check, its events are stored, and the answer is those events.
        match self.known_key(case) {
            Ok(Some((first, last))) => {
                drop(guard);
                self.tries = self.tries.saturating_add(1);
                return Flow::Read(State::Replay { slot, first, last }, first.saturating_sub(1));
            }
            Ok(None) => {}
            Err(err) => return Flow::Done(Err(err)),
        }
        if let Some(expected) = self.asked.expected {
            if version < expected && !self.caught_up {
                // The cache may only lag the store: look before calling the author stale.
                self.caught_up = true;
                drop(guard);
                return Flow::Read(State::CatchUp { slot, after: version, then: Then::Decide }, version);
            }
            if version != expected {
                let stale = RequestError::PreconditionFailed { case: self.case, expected, actual: version };
                return Flow::Done(Err(stale.into()));
            }
        }
        // Moved into the decision, not copied: were the append to conflict,
        // `append_failed` takes the request back from the unwritten events.
        let Some(request) = self.asked.request.take() else {
            // Only an opening has no request, and it never decides here.
            return Flow::Done(Err(StoreError::UnknownCase { case: self.case }.into()));
        };
        let at = if self.decided { now() } else { self.asked.at };
        self.decided = true;
        self.attempts_left = self.attempts_left.saturating_sub(1);
        self.tries = self.tries.saturating_add(1);
        // The command's event takes `by` rather than a copy; were the append to conflict,
        // `append_failed` takes it back from the unwritten event.
        let by = std::mem::replace(&mut self.asked.by, Actor::System);
        let events = match core.rules.decide_request_as(case, request, Cow::Owned(by), at) {
            Ok(Decision::Append(events)) => events,
            Ok(Decision::AlreadyDone(seqs)) => {
                // `known_key` saw it first; kept for a rule set that knows more keys.
                let (first, last) = (*seqs.start(), *seqs.end());
                drop(guard);
                return Flow::Read(State::Replay { slot, first, last }, first.saturating_sub(1));
            }
            Err(refusal) => return Flow::Done(Err(refusal.into())),
        };
        // Check before writing, so that only events that keep every rule reach the store.
        // A single event (what `decide` gives today) is checked in place and folded after
        // the append; a batch is folded onto a copy, since each event must be checked
        // against the one before, and the copy replaces the cached case.
        let folded = match events.as_slice() {
            [event] => {
                // The rules were checked while deciding, on this state; the envelope is
                // what the decision did not check.
                if let Err(err) = case.validate_decided(event) {
                    return Flow::Done(Err(err.into()));
                }
                None
            }
            _ => {
                let mut next = case.clone();
                for event in &events {
                    if let Err(err) = next.apply(event) {
                        return Flow::Done(Err(err.into()));
                    }
                }
                Some(Box::new(next))
            }
        };
        drop(guard);
        self.pending = events;
        Flow::Append(State::Append { slot: Some(slot), expected: version, folded }, version)
    }

    fn appended(
        &mut self,
        core: &RepositoryCore,
        slot: Option<Arc<Slot>>,
        expected: u64,
        folded: Option<Box<Case>>,
        appended: Appended,
    ) -> Flow {
        let (slot, version) = match (slot, folded) {
            (Some(slot), folded) => {
                let mut case = slot.lock();
                let result = match (folded, self.pending.as_slice()) {
                    // Nobody moved the cached case meanwhile: the checked copy is it.
                    (Some(next), _) if next.version() == case.version() + self.pending.len() as u64 => {
                        *case = Arc::new(*next);
                        Ok(())
                    }
                    // Nobody moved it: `decide` validated the event on this very state.
                    (None, [event]) if case.version() == expected => {
                        Arc::make_mut(&mut case).fold_validated(event);
                        Ok(())
                    }
                    _ => fold_tail(&mut case, &self.pending),
                };
                let version = case.version();
                drop(case);
                if result.is_err() {
                    // Unreachable after the check; never keep a case that disagrees with
                    // the store. The events are stored: the next command replays them.
                    core.cache.remove(self.case, &slot);
                    return self.finish(appended.version, appended.written > 0);
                }
                (slot, version)
            }
            (None, Some(opened)) => {
                let slot = core.cache.insert(self.case, *opened);
                let version = slot.lock().version();
                (slot, version)
            }
            (None, None) => return self.finish(appended.version, appended.written > 0),
        };
        core.cache.offer(self.case, &slot);
        let written = appended.written > 0;
        if appended.version > version {
            // The events were already stored (a retry) and others wrote after them.
            let then = Then::Finish { version: appended.version, written };
            return Flow::Read(State::CatchUp { slot, after: version, then }, version);
        }
        if core.snapshots != SnapshotPolicy::Off {
            // Serialised outside the slot's lock, from a reader's copy of the case.
            let case = slot.snapshot();
            let due = self.asked.save.take().is_some();
            if let Some(snapshot) = snapshots::after_append(core, &case, &self.pending, due) {
                return Flow::Save(State::Saving { version, written }, snapshot);
            }
        }
        self.finish(version, written)
    }

    fn append_failed(&mut self, core: &RepositoryCore, slot: Option<Arc<Slot>>, err: StoreError) -> Flow {
        let (StoreError::Conflict { actual, .. }, Some(slot)) = (&err, slot) else {
            // Nothing is known to be written: the cached case stays as it was.
            return Flow::Done(Err(err.into()));
        };
        // Nothing was written: `decide` moved the request and who asks into the events,
        // so take them back from there for the next decision or the key check.
        let mut unwritten = std::mem::take(&mut self.pending);
        if let Some(last) = unwritten.last_mut() {
            self.asked.by = std::mem::replace(&mut last.by, Actor::System);
        }
        self.asked.request = Request::from_decided(unwritten);
        if self.asked.request.is_none() {
            // Unreachable: every decision is a request's. Report the conflict as it is.
            return Flow::Done(Err(err.into()));
        }
        let actual = *actual;
        let keyed = self.asked.request.as_ref().is_some_and(|r| r.key.is_some());
        let then = if self.asked.expected.is_none() && self.attempts_left > 0 {
            Then::Decide
        } else if keyed {
            Then::CheckKey(Box::new(err))
        } else {
            Then::Fail(Box::new(err))
        };
        let cached = slot.lock().version();
        if actual < cached {
            // The store is behind the cache (replaced or restored): start over from it.
            core.cache.remove(self.case, &slot);
            return Flow::Read(State::Load(then), 0);
        }
        if actual == cached {
            // Another command on this case has already caught the cache up.
            return self.then(slot, then);
        }
        Flow::Read(State::CatchUp { slot, after: cached, then }, cached)
    }

    fn then(&mut self, slot: Arc<Slot>, then: Then) -> Flow {
        match then {
            Then::Decide => Flow::Next(State::Decide(slot)),
            Then::CheckKey(conflict) => {
                let known = self.known_key(&slot.lock());
                match known {
                    Ok(Some((first, last))) => Flow::Read(State::Replay { slot, first, last }, first.saturating_sub(1)),
                    Ok(None) => Flow::Done(Err(self.lost(*conflict))),
                    Err(err) => Flow::Done(Err(err)),
                }
            }
            Then::Fail(err) => Flow::Done(Err(self.lost(*err))),
            Then::Finish { version, written } => {
                let version = slot.lock().version().max(version);
                self.finish(version, written)
            }
        }
    }

    /// Done with the events `pending` holds, stored (`written`: by this run).
    fn finish(&mut self, version: u64, written: bool) -> Flow {
        let events = std::mem::take(&mut self.pending);
        self.executed(events, version, !written)
    }

    fn executed(&self, events: Vec<Event>, version: u64, already_done: bool) -> Flow {
        Flow::Done(Ok(Executed { events, version, already_done, attempts: self.tries.max(1) }))
    }

    /// The error for a conflict the run could not resolve: with an expected version, the
    /// case has left it (the author's precondition failed); without one (or for an
    /// opening), the conflict itself.
    fn lost(&self, conflict: StoreError) -> Error {
        match (self.asked.expected, &self.asked.request, &conflict) {
            (Some(expected), Some(_), StoreError::Conflict { actual, .. }) => {
                RequestError::PreconditionFailed { case: self.case, expected, actual: *actual }.into()
            }
            _ => conflict.into(),
        }
    }

    /// The events `first..=last` a run with this request's key stored, if the case knows
    /// the key for the same command by the same person; [`Refusal::KeyReused`] if for
    /// another.
    ///
    /// [`Refusal::KeyReused`]: crate::Refusal::KeyReused
    fn known_key(&self, case: &Case) -> Result<Option<(u64, u64)>, Error> {
        let Some(Request { command, key: Some(key), .. }) = &self.asked.request else { return Ok(None) };
        match case.idempotent(key, command, &self.asked.by) {
            Ok(Some(seqs)) if *seqs.start() >= 1 => Ok(Some((*seqs.start(), *seqs.end()))),
            Ok(_) => Ok(None),
            Err(refusal) => Err(refusal.into()),
        }
    }

    /// Catching up failed with `err`.
    fn failed(&mut self, then: Then, err: Error) -> Flow {
        match then {
            Then::Decide => Flow::Done(Err(err)),
            // The conflict is what the caller must hear about; the next command reloads.
            Then::Fail(conflict) | Then::CheckKey(conflict) => Flow::Done(Err(self.lost(*conflict))),
            // The events are stored; only the catch-up after them failed.
            Then::Finish { version, written } => self.finish(version, written),
        }
    }
}

impl Machine for Execution {
    type Output = Executed;
}

impl sealed::Sealed for Execution {
    fn give(&mut self, answer: Answer) {
        self.answer = Some(answer);
    }

    fn pending(&self) -> &[Event] {
        &self.pending
    }

    fn label(&self) -> Option<(CaseId, &'static str)> {
        Some((self.case, self.asked.tag))
    }
}

/// Reading a case through the core: from the cache, or read and replayed into it
/// ([`Lookup::case`]); or brought up to date with the store ([`Lookup::refresh`]).
/// Done gives an `Arc<Case>` snapshot.
#[derive(Debug)]
pub struct Lookup {
    case: CaseId,
    refresh: bool,
    state: LookupState,
    answer: Option<Answer>,
}

#[derive(Debug)]
enum LookupState {
    Start,
    Load,
    Refresh(Arc<Slot>),
    /// Waiting for a snapshot write the load asked for; then done with the case.
    Saving(Arc<Case>),
}

impl Lookup {
    /// The case, from the cache or, the first time, read from the store and replayed.
    #[must_use]
    pub fn case(case: CaseId) -> Self {
        Self { case, refresh: false, state: LookupState::Start, answer: None }
    }

    /// The case brought up to date with the store: only the events after the cached
    /// version are read (with the last cached one, to notice a store that is behind the
    /// cache, which makes it read everything again).
    #[must_use]
    pub fn refresh(case: CaseId) -> Self {
        Self { case, refresh: true, state: LookupState::Start, answer: None }
    }

    /// Advances until the lookup needs the store or is done. A lookup decides nothing,
    /// so it takes no clock.
    pub fn poll(mut self, core: &RepositoryCore) -> Step<Self> {
        let case = self.case;
        loop {
            let answer = self.answer.take();
            match std::mem::replace(&mut self.state, LookupState::Start) {
                LookupState::Start => match core.cache.get(case) {
                    Some(slot) if !self.refresh => return Step::Done(Ok(slot.snapshot())),
                    Some(slot) => {
                        let after = slot.lock().version().saturating_sub(1);
                        self.state = LookupState::Refresh(slot);
                        return Step::Read(PendingRead { machine: self, case, after });
                    }
                    None => {
                        self.state = LookupState::Load;
                        return match core.cold(()) {
                            Cold::Read(()) => Step::Read(PendingRead { machine: self, case, after: 0 }),
                            Cold::Load(()) => Step::Load(case, PendingLoad { machine: self }),
                        };
                    }
                },
                LookupState::Load => match answer {
                    Some(Answer::Read(Err(err)) | Answer::Loaded(Err(err))) => return Step::Done(Err((*err).into())),
                    Some(answer @ (Answer::Read(Ok(_)) | Answer::Loaded(Ok(_)))) => {
                        match restored(core, case, answer) {
                            Ok(Restored::Case(loaded, save)) => {
                                let cached = core.cache.insert(case, *loaded).snapshot();
                                let Some(snapshot) = save else { return Step::Done(Ok(cached)) };
                                self.state = LookupState::Saving(cached);
                                return Step::Save(snapshot, PendingSave { machine: self });
                            }
                            Ok(Restored::ReadAll) => {
                                self.state = LookupState::Load;
                                return Step::Read(PendingRead { machine: self, case, after: 0 });
                            }
                            Err(err) => return Step::Done(Err(err)),
                        }
                    }
                    _ => {
                        self.state = LookupState::Load;
                        return Step::Read(PendingRead { machine: self, case, after: 0 });
                    }
                },
                LookupState::Refresh(slot) => match answer {
                    Some(Answer::Read(Ok(tail))) if tail.is_empty() => {
                        // Not even the last cached event is stored: the store is behind
                        // the cache (replaced or restored). Read it all again.
                        core.cache.remove(case, &slot);
                        self.state = LookupState::Load;
                    }
                    Some(Answer::Read(Ok(tail))) => {
                        let mut cached = slot.lock();
                        let result = fold_tail(&mut cached, &tail).map(|()| Arc::clone(&cached));
                        drop(cached);
                        if result.is_err() {
                            core.cache.remove(case, &slot);
                        }
                        return Step::Done(result.map_err(Error::from));
                    }
                    Some(Answer::Read(Err(err))) => {
                        core.cache.remove(case, &slot);
                        return Step::Done(Err((*err).into()));
                    }
                    _ => {
                        let after = slot.lock().version().saturating_sub(1);
                        self.state = LookupState::Refresh(slot);
                        return Step::Read(PendingRead { machine: self, case, after });
                    }
                },
                LookupState::Saving(cached) => {
                    if let Some(Answer::Saved(result)) = answer {
                        core.counters.saved(&result.map_err(|err| *err));
                    }
                    return Step::Done(Ok(cached));
                }
            }
        }
    }
}

impl Machine for Lookup {
    type Output = Arc<Case>;
}

impl sealed::Sealed for Lookup {
    fn give(&mut self, answer: Answer) {
        self.answer = Some(answer);
    }

    fn pending(&self) -> &[Event] {
        &[]
    }

    fn label(&self) -> Option<(CaseId, &'static str)> {
        None
    }
}

/// Several cases read through the core at once, each as [`Lookup::refresh`] reads it,
/// with their reads batched: one store call ([`Store::read_after_many`]) for all the
/// cases, and a second only for the cases the first found behind their cached version
/// (a store replaced or restored), which are then read from the start. Done gives the
/// cases' snapshots in the order of the ids.
///
/// Each case goes through a [`Lookup`] of its own, so what a refresh folds, loads or
/// drops from the cache is the same one-case code. With snapshots on, a cold case is
/// loaded from its whole log in the same batched read (not from its snapshot), and a
/// batched refresh writes no snapshot. Drive it like the other runs, with a
/// step of its own: [`Lookups::poll`] gives [`LookupsStep::Read`] with every read of
/// the round ([`PendingReads::reads`]); answer them all at once with
/// [`PendingReads::answer`] and poll again, until [`LookupsStep::Done`].
///
/// [`Store::read_after_many`]: crate::Store::read_after_many
///
/// # Example
///
/// ```
/// use caseledger::repository::{Lookups, LookupsStep, RepositoryCore};
/// use caseledger::{Actor, CaseId, MemoryStore, Opening, Rules, Staff, Store};
/// use time::macros::datetime;
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let (store, core) = (MemoryStore::new(), RepositoryCore::new(Rules::default(), 100));
/// let ids = [CaseId::new_v7(t, [1; 10]), CaseId::new_v7(t, [2; 10])];
/// for case in ids {
///     let opening = Opening::new("cust-7", "my laptop works", Staff::new("ana", "software"));
///     store.append(case, 0, &[core.rules().open(case, opening, &Actor::customer("cust-7"), t)?])?;
/// }
/// let mut run = Lookups::refresh(ids.to_vec());
/// let mut calls = 0;
/// let cases = loop {
///     run = match run.poll(&core) {
///         LookupsStep::Read(reads) => {
///             calls += 1;
///             let answer = store.read_after_many(reads.reads());
///             reads.answer(answer)
///         }
///         LookupsStep::Done(result) => break result?,
///     };
/// };
/// assert_eq!(cases.len(), 2);
/// assert_eq!(calls, 1, "both cases in one store call");
/// # Ok::<(), caseledger::Error>(())
/// ```
#[derive(Debug)]
pub struct Lookups {
    runs: Vec<One>,
    failed: Option<Error>,
}

/// Where one case of a [`Lookups`] stands.
#[derive(Debug)]
enum One {
    Polled,
    Ready(Lookup),
    Reading(PendingRead<Lookup>),
    /// A cold case with snapshots on: served by the batched read from version 0.
    Loading(PendingLoad<Lookup>),
    Done(Arc<Case>),
}

impl One {
    fn waits(&self) -> bool {
        matches!(self, Self::Reading(_) | Self::Loading(_))
    }
}

/// What a [`Lookups`] needs next, or its result.
#[derive(Debug)]
pub enum LookupsStep {
    /// Read several cases' events after their versions in one call
    /// ([`Store::read_after_many`](crate::Store::read_after_many)).
    Read(PendingReads),
    /// Finished: each case's snapshot, in the order of the ids, or the first failure.
    Done(Result<Vec<Arc<Case>>, Error>),
}

/// The reads of one round of a [`Lookups`]; answer them all with the store's result.
#[derive(Debug)]
#[must_use]
pub struct PendingReads {
    lookups: Lookups,
    reads: Vec<(CaseId, u64)>,
}

impl PendingReads {
    /// What to read: for each `(case, after)`, the case's events after version `after`.
    #[must_use]
    pub fn reads(&self) -> &[(CaseId, u64)] {
        &self.reads
    }

    /// Hands the store's answer back (one entry per read, in order); poll the returned
    /// run again. An answer with another number of entries fails the run.
    pub fn answer(mut self, result: Result<Vec<Vec<Event>>, StoreError>) -> Lookups {
        let answers = match result {
            Ok(answers) if answers.len() == self.reads.len() => answers,
            Ok(answers) => {
                let err = StoreError::backend(format!(
                    "read_after_many answered {} entries for {} reads",
                    answers.len(),
                    self.reads.len()
                ));
                self.lookups.failed = Some(err.into());
                return self.lookups;
            }
            Err(err) => {
                self.lookups.fail_first(err);
                return self.lookups;
            }
        };
        let mut answers = answers.into_iter();
        for run in self.lookups.runs.iter_mut().filter(|run| run.waits()) {
            *run = match (std::mem::replace(run, One::Polled), answers.next()) {
                (One::Reading(read), Some(events)) => One::Ready(read.answer(Ok(events))),
                (One::Loading(load), Some(events)) => One::Ready(load.answer(Ok(Loaded::new(None, events)))),
                _ => One::Polled,
            };
        }
        self.lookups
    }
}

impl Lookups {
    /// Every case of `ids` brought up to date with the store (see [`Lookup::refresh`]).
    #[must_use]
    pub fn refresh(ids: Vec<CaseId>) -> Self {
        Self { runs: ids.into_iter().map(|id| One::Ready(Lookup::refresh(id))).collect(), failed: None }
    }

    /// Advances every case until the run needs the store or is done.
    pub fn poll(mut self, core: &RepositoryCore) -> LookupsStep {
        if let Some(err) = self.failed.take() {
            return LookupsStep::Done(Err(err));
        }
        let mut reads = Vec::new();
        for run in self.runs.iter_mut().filter(|run| matches!(run, One::Ready(_))) {
            let One::Ready(mut lookup) = std::mem::replace(run, One::Polled) else { continue };
            *run = loop {
                match lookup.poll(core) {
                    Step::Read(read) => {
                        reads.push((read.case(), read.after()));
                        break One::Reading(read);
                    }
                    // A batched refresh loads a cold case from its whole log, in the
                    // same query as the others, not from its snapshot.
                    Step::Load(case, load) => {
                        reads.push((case, 0));
                        break One::Loading(load);
                    }
                    // Nor does it write snapshots: the case's next command may.
                    Step::Save(_, save) => lookup = save.answer(Ok(false)),
                    Step::Done(Ok(case)) => break One::Done(case),
                    Step::Done(Err(err)) => return LookupsStep::Done(Err(err)),
                    // A lookup never appends.
                    Step::Append(append) => {
                        let case = append.batch().case;
                        let err = StoreError::backend(format!("case {case}: a read asked to append"));
                        return LookupsStep::Done(Err(err.into()));
                    }
                }
            };
        }
        if !reads.is_empty() {
            return LookupsStep::Read(PendingReads { lookups: self, reads });
        }
        let mut cases = Vec::with_capacity(self.runs.len());
        for run in self.runs {
            match run {
                One::Done(case) => cases.push(case),
                // Only after a failed read, whose error the poll above returned.
                _ => return LookupsStep::Done(Err(StoreError::backend("a batched read was left unanswered").into())),
            }
        }
        LookupsStep::Done(Ok(cases))
    }

    /// The batched read failed: the first waiting case takes the error as its own (so
    /// it leaves the cache as a failed refresh of it does, and the next poll ends the
    /// run with it); the other waiting cases are let go as they were.
    fn fail_first(&mut self, err: StoreError) {
        let mut err = Some(err);
        for run in self.runs.iter_mut().filter(|run| run.waits()) {
            *run = match (std::mem::replace(run, One::Polled), err.take()) {
                (One::Reading(read), Some(err)) => One::Ready(read.answer(Err(err))),
                (One::Loading(load), Some(err)) => One::Ready(load.answer(Err(err))),
                _ => One::Polled,
            };
        }
    }
}

/// A cold load's answer made into a case: a whole log replayed, or a snapshot restored.
fn restored(core: &RepositoryCore, case: CaseId, answer: Answer) -> Result<Restored, Error> {
    match answer {
        Answer::Loaded(Ok(loaded)) => snapshots::restore(core, case, *loaded),
        Answer::Read(Ok(events)) => {
            snapshots::replayed(core, case, &events).map(|(c, save)| Restored::Case(Box::new(c), save))
        }
        Answer::Read(Err(err)) | Answer::Loaded(Err(err)) => Err((*err).into()),
        Answer::Appended(_) | Answer::Saved(_) => Err(StoreError::UnknownCase { case }.into()),
    }
}

/// Folds the events of `tail` the cached case does not hold yet. Copies the case only
/// when a reader still holds a snapshot of it.
fn fold_tail(cached: &mut Arc<Case>, tail: &[Event]) -> Result<(), LogError> {
    let version = cached.version();
    let mut new = tail.iter().filter(|e| e.seq > version).peekable();
    if new.peek().is_none() {
        return Ok(());
    }
    let case = Arc::make_mut(cached);
    for event in new {
        case.apply(event)?;
    }
    Ok(())
}

/// The core driven by scripted store answers: no store at all.
#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use time::Duration;

    use super::*;
    use crate::actor::Staff;
    use crate::command::Command;
    use crate::error::Refusal;
    use crate::event::Visibility;

    const T0: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

    fn ana() -> Actor {
        Actor::Staff(Staff::new("ana", "software"))
    }

    fn case_id(n: u8) -> CaseId {
        CaseId::new_v7(T0, [n; 10])
    }

    fn note(text: &str) -> Command {
        Command::AddNote { text: text.into(), visibility: Visibility::Internal }
    }

    /// A stored log of `len` events: the opening, then notes a minute apart.
    fn log(case: CaseId, len: usize) -> Vec<Event> {
        let rules = Rules::default();
        let opened = rules
            .open(
                case,
                Opening::new("cust-1", "my laptop works", Staff::new("ana", "software")),
                &Actor::customer("cust-1"),
                T0,
            )
            .unwrap();
        let mut current = Case::from_opened(&opened).unwrap();
        let mut events = vec![opened];
        while events.len() < len {
            let at = T0 + Duration::minutes(events.len() as i64);
            for event in rules.decide(&current, note(&format!("stored {}", events.len())), &ana(), at).unwrap() {
                current.apply(&event).unwrap();
                events.push(event);
            }
        }
        events
    }

    /// Events another writer appended after `events` (same case), each a minute later.
    fn more(events: &[Event], extra: usize) -> Vec<Event> {
        let all = log(events[0].case, events.len() + extra);
        all[events.len()..].to_vec()
    }

    fn at(minutes: i64) -> OffsetDateTime {
        T0 + Duration::minutes(minutes)
    }

    fn read<M: Machine>(step: Step<M>, after: u64) -> PendingRead<M> {
        match step {
            Step::Read(read) => {
                assert_eq!(read.after(), after, "reads after the expected version");
                read
            }
            Step::Append(append) => {
                panic!("expected a read after {after}, got an append at {}", append.batch().expected)
            }
            Step::Load(..) | Step::Save(..) => panic!("expected a read after {after}, got a snapshot step"),
            Step::Done(result) => panic!("expected a read after {after}, got done: {:?}", result.err()),
        }
    }

    fn append<M: Machine>(step: Step<M>, expected: u64) -> PendingAppend<M> {
        match step {
            Step::Append(append) => {
                assert_eq!(append.batch().expected, expected, "appends at the expected version");
                append
            }
            Step::Read(read) => panic!("expected an append at {expected}, got a read after {}", read.after()),
            Step::Load(..) | Step::Save(..) => panic!("expected an append at {expected}, got a snapshot step"),
            Step::Done(result) => panic!("expected an append at {expected}, got done: {:?}", result.err()),
        }
    }

    fn done<M: Machine>(step: Step<M>) -> Result<M::Output, Error> {
        match step {
            Step::Done(result) => result,
            Step::Read(read) => panic!("expected done, got a read after {}", read.after()),
            Step::Append(append) => panic!("expected done, got an append at {}", append.batch().expected),
            Step::Load(..) | Step::Save(..) => panic!("expected done, got a snapshot step"),
        }
    }

    fn written(version: u64, written: usize) -> Result<Appended, StoreError> {
        Ok(Appended { version, written })
    }

    fn no_clock() -> impl FnMut() -> OffsetDateTime {
        || panic!("the first decision is made at the request's time")
    }

    /// A core holding `case` at the version of `events`, as if a command had read it.
    fn core_with(events: &[Event]) -> RepositoryCore {
        let core = RepositoryCore::new(Rules::default(), 100);
        let lookup = Lookup::case(events[0].case).poll(&core);
        done(read(lookup, 0).answer(Ok(events.to_vec())).poll(&core)).unwrap();
        core
    }

    #[test]
    fn a_write_whose_slot_was_evicted_still_reaches_the_cache_over_an_older_load() {
        let case = case_id(1);
        let other = case_id(2);
        let stored = log(case, 3);
        let core = core_with(&stored);

        // A command on the case decides and waits for its append...
        let step = Execution::new(CaseRequest::new(case, note("mine"), ana(), at(10))).poll(&core, &mut no_clock());
        let pending = append(step, 3);
        // ...meanwhile the case leaves the cache and a reader loads it as stored before
        // the append lands.
        core.forget(case);
        let lookup = read(Lookup::case(case).poll(&core), 0);
        let events = done(pending.answer(written(4, 1)).poll(&core, &mut no_clock())).unwrap().events;
        assert_eq!(events[0].seq, 4);
        let loaded = done(lookup.answer(Ok(stored.clone())).poll(&core)).unwrap();
        assert_eq!(loaded.version(), 4, "the reader read the store before the append, and gets the newer cached case");
        assert_eq!(core.peek(case).unwrap().version(), 4, "the cache keeps the repository's own write");

        // The other order: the reader caches the old state first, then the append lands.
        let stored = log(other, 3);
        let core = core_with(&stored);
        let step = Execution::new(CaseRequest::new(other, note("mine"), ana(), at(10))).poll(&core, &mut no_clock());
        let pending = append(step, 3);
        core.forget(other);
        let lookup = read(Lookup::case(other).poll(&core), 0);
        assert_eq!(done(lookup.answer(Ok(stored)).poll(&core)).unwrap().version(), 3);
        done(pending.answer(written(4, 1)).poll(&core, &mut no_clock())).unwrap();
        assert_eq!(core.peek(other).unwrap().version(), 4, "the stale load gives way to the write");
    }

    #[test]
    fn a_cache_miss_reads_once_then_commands_go_straight_to_the_append() {
        let case = case_id(1);
        let stored = log(case, 3);
        let core = RepositoryCore::new(Rules::default(), 100);

        let step = Execution::new(CaseRequest::new(case, note("first"), ana(), at(10))).poll(&core, &mut no_clock());
        let step = read(step, 0).answer(Ok(stored.clone())).poll(&core, &mut no_clock());
        let pending = append(step, 3);
        assert_eq!(pending.batch().events.len(), 1);
        assert_eq!(pending.batch().events[0].seq, 4);
        let ran = done(pending.answer(written(4, 1)).poll(&core, &mut no_clock())).unwrap();
        assert_eq!(ran.events[0].seq, 4);
        assert_eq!((ran.version, ran.already_done, ran.attempts), (4, false, 1));
        assert_eq!(core.peek(case).unwrap().version(), 4, "the new event is folded into the cache");

        // The next command needs no read at all.
        let step = Execution::new(CaseRequest::new(case, note("second"), ana(), at(11))).poll(&core, &mut no_clock());
        let events = done(append(step, 4).answer(written(5, 1)).poll(&core, &mut no_clock())).unwrap().events;
        assert_eq!(events[0].seq, 5);
        assert_eq!(core.peek(case).unwrap().version(), 5);
    }

    #[test]
    fn a_conflict_reads_only_the_missing_tail_and_decides_again_at_a_fresh_time() {
        let case = case_id(2);
        let stored = log(case, 2);
        let core = core_with(&stored);
        let theirs = more(&stored, 2);

        let mut clock_reads = 0;
        let mut clock = || {
            clock_reads += 1;
            at(30)
        };
        let step = Execution::new(CaseRequest::new(case, note("mine"), ana(), at(20))).poll(&core, &mut clock);
        let conflict = StoreError::Conflict { case, expected: 2, actual: 4 };
        let step = append(step, 2).answer(Err(conflict)).poll(&core, &mut clock);
        let step = read(step, 2).answer(Ok(theirs)).poll(&core, &mut clock);
        let pending = append(step, 4);
        assert_eq!(pending.batch().events[0].seq, 5, "decided again on the caught-up case");
        assert_eq!(pending.batch().events[0].at, at(30), "the second decision takes the clock's time");
        let ran = done(pending.answer(written(5, 1)).poll(&core, &mut clock)).unwrap();
        assert_eq!(ran.events[0].seq, 5);
        assert_eq!((ran.version, ran.already_done, ran.attempts), (5, false, 2), "decided twice");
        assert_eq!(clock_reads, 1, "the clock is read once, for the one later decision");
        assert_eq!(core.peek(case).unwrap().version(), 5);
    }

    #[test]
    fn conflicts_end_in_a_conflict_when_the_attempts_run_out_with_the_cache_caught_up() {
        let case = case_id(3);
        let stored = log(case, 2);
        let core = core_with(&stored);
        let theirs = more(&stored, 1);

        let request = CaseRequest::new(case, note("mine"), ana(), at(20)).attempts(1);
        let step = Execution::new(request).poll(&core, &mut no_clock());
        let step = append(step, 2)
            .answer(Err(StoreError::Conflict { case, expected: 2, actual: 3 }))
            .poll(&core, &mut no_clock());
        let err = done(read(step, 2).answer(Ok(theirs)).poll(&core, &mut no_clock())).unwrap_err();
        assert!(matches!(err, Error::Store(StoreError::Conflict { expected: 2, actual: 3, .. })), "{err}");
        assert_eq!(core.peek(case).unwrap().version(), 3, "caught up for the caller's next try");
    }

    #[test]
    fn events_already_stored_with_more_after_them_are_done_and_the_rest_is_caught_up() {
        let case = case_id(4);
        let stored = log(case, 2);
        let core = core_with(&stored);

        let step = Execution::new(CaseRequest::new(case, note("mine"), ana(), at(2))).poll(&core, &mut no_clock());
        let pending = append(step, 2);
        let mine = pending.batch().events.to_vec();
        // A retried append: the store already holds our event, and two more after it.
        let step = pending.answer(written(5, 0)).poll(&core, &mut no_clock());
        let mut after = stored.clone();
        after.extend(mine.iter().cloned());
        let tail = more(&after, 2);
        let ran = done(read(step, 3).answer(Ok(tail)).poll(&core, &mut no_clock())).unwrap();
        assert_eq!(ran.events, mine);
        assert_eq!((ran.version, ran.already_done), (5, true), "nothing newly written; the case is at 5");
        assert_eq!(core.peek(case).unwrap().version(), 5);
    }

    #[test]
    fn a_store_behind_the_cache_is_read_again_from_the_start() {
        let case = case_id(5);
        let stored = log(case, 5);
        let core = core_with(&stored);

        // The store was restored from an older backup: it holds 3 events.
        let step = Execution::new(CaseRequest::new(case, note("mine"), ana(), at(20))).poll(&core, &mut || at(21));
        let step = append(step, 5)
            .answer(Err(StoreError::Conflict { case, expected: 5, actual: 3 }))
            .poll(&core, &mut || at(21));
        let step = read(step, 0).answer(Ok(stored[..3].to_vec())).poll(&core, &mut || at(21));
        let pending = append(step, 3);
        assert_eq!(pending.batch().events[0].seq, 4);
        done(pending.answer(written(4, 1)).poll(&core, &mut || at(21))).unwrap();
        assert_eq!(core.peek(case).unwrap().version(), 4);

        // A refresh notices too: not even the last cached event is stored.
        let step = Lookup::refresh(case).poll(&core);
        let step = read(step, 3).answer(Ok(Vec::new())).poll(&core);
        let case_now = done(read(step, 0).answer(Ok(stored[..2].to_vec())).poll(&core)).unwrap();
        assert_eq!(case_now.version(), 2);
    }

    #[test]
    fn an_expected_version_that_moved_on_fails_its_precondition_without_deciding() {
        let case = case_id(6);
        let stored = log(case, 3);
        let core = core_with(&stored);

        // The cache already shows a later version: no store access, no decision.
        let step = Execution::new(CaseRequest::new(case, note("mine"), ana(), at(20)).expect_version(2))
            .poll(&core, &mut no_clock());
        let err = done(step).unwrap_err();
        assert!(
            matches!(err, Error::Request(RequestError::PreconditionFailed { expected: 2, actual: 3, .. })),
            "{err}"
        );

        // The cache is behind the version the author saw: catch up, then decide.
        let core = core_with(&stored[..2]);
        let step = Execution::new(CaseRequest::new(case, note("mine"), ana(), at(20)).expect_version(3))
            .poll(&core, &mut no_clock());
        let step = read(step, 2).answer(Ok(stored[2..].to_vec())).poll(&core, &mut no_clock());
        done(append(step, 3).answer(written(4, 1)).poll(&core, &mut no_clock())).unwrap();

        // The store moved on while deciding: the precondition failed, never retried.
        let step = Execution::new(CaseRequest::new(case, note("again"), ana(), at(21)).expect_version(4).attempts(5))
            .poll(&core, &mut no_clock());
        let step = append(step, 4)
            .answer(Err(StoreError::Conflict { case, expected: 4, actual: 5 }))
            .poll(&core, &mut no_clock());
        let mut four = stored.clone();
        four.extend(log(case, 4).into_iter().skip(3));
        let err = done(read(step, 4).answer(Ok(more(&four, 1))).poll(&core, &mut no_clock())).unwrap_err();
        assert!(
            matches!(err, Error::Request(RequestError::PreconditionFailed { expected: 4, actual: 5, .. })),
            "{err}"
        );
    }

    #[test]
    fn a_refusal_or_a_store_failure_leaves_the_cache_as_it_was() {
        let case = case_id(7);
        let stored = log(case, 2);
        let core = core_with(&stored);
        let before = core.peek(case).unwrap();

        let resolve = Command::Resolve { summary: "done".into() };
        let err = done(Execution::new(CaseRequest::new(case, resolve, ana(), at(20))).poll(&core, &mut no_clock()))
            .unwrap_err();
        assert!(matches!(err, Error::Refused(Refusal::OutcomeUnmet { .. })), "{err}");

        let step = Execution::new(CaseRequest::new(case, note("mine"), ana(), at(20))).poll(&core, &mut no_clock());
        let io = StoreError::Io { path: "db".into(), op: "append", source: std::io::Error::other("connection reset") };
        let err = done(append(step, 2).answer(Err(io)).poll(&core, &mut no_clock())).unwrap_err();
        assert!(matches!(err, Error::Store(StoreError::Io { .. })), "{err}");
        assert_eq!(core.peek(case).unwrap(), before, "nothing is known to be written");
    }

    #[test]
    fn an_unknown_case_and_an_opening_that_finds_others_after_it() {
        let case = case_id(8);
        let core = RepositoryCore::new(Rules::default(), 100);
        let step = Execution::new(CaseRequest::new(case, note("hello?"), ana(), at(1))).poll(&core, &mut no_clock());
        let err = done(read(step, 0).answer(Ok(Vec::new())).poll(&core, &mut no_clock())).unwrap_err();
        assert!(matches!(err, Error::Store(StoreError::UnknownCase { .. })), "{err}");
        assert_eq!(core.cached(), 0);

        // A retried opening: the store already holds it, and a note after it.
        let stored = log(case, 2);
        let opening = Opening::new("cust-1", "my laptop works", Staff::new("ana", "software"));
        let step = Execution::open(case, opening, Actor::customer("cust-1"), T0).poll(&core, &mut no_clock());
        let pending = append(step, 0);
        assert_eq!(pending.batch().events, &stored[..1], "the same opening decides the same event");
        let step = pending.answer(written(2, 0)).poll(&core, &mut no_clock());
        let ran = done(read(step, 1).answer(Ok(stored[1..].to_vec())).poll(&core, &mut no_clock())).unwrap();
        assert_eq!(ran.events, stored[..1]);
        assert_eq!((ran.version, ran.already_done, ran.attempts), (2, true, 1));
        assert_eq!(core.peek(case).unwrap().version(), 2);
    }

    #[test]
    fn a_reader_s_snapshot_stays_as_it_was_while_commands_fold_on() {
        let case = case_id(9);
        let stored = log(case, 2);
        let core = core_with(&stored);
        let snapshot = done(Lookup::case(case).poll(&core)).unwrap();

        let step = Execution::new(CaseRequest::new(case, note("mine"), ana(), at(20))).poll(&core, &mut no_clock());
        done(append(step, 2).answer(written(3, 1)).poll(&core, &mut no_clock())).unwrap();
        assert_eq!(snapshot.version(), 2, "a snapshot never changes under its reader");
        assert_eq!(core.peek(case).unwrap().version(), 3);
    }

    #[test]
    fn the_cache_keeps_at_most_its_capacity_and_drops_the_least_recently_used() {
        let core = RepositoryCore::new(Rules::default(), 2);
        let [a, b, c] = [case_id(10), case_id(11), case_id(12)];
        let load = |id| done(read(Lookup::case(id).poll(&core), 0).answer(Ok(log(id, 1))).poll(&core)).unwrap();
        load(a);
        load(b);
        // Touch `a`, so `b` is the least recently used when `c` comes in.
        done(Lookup::case(a).poll(&core)).unwrap();
        load(c);
        assert_eq!(core.cached(), 2);
        assert!(core.peek(a).is_some() && core.peek(c).is_some());
        assert!(core.peek(b).is_none(), "the least recently used case left");

        let none = RepositoryCore::new(Rules::default(), 0);
        let case = done(read(Lookup::case(a).poll(&none), 0).answer(Ok(log(a, 1))).poll(&none)).unwrap();
        assert_eq!(case.version(), 1, "capacity 0 still answers, from the store");
        assert_eq!(none.cached(), 0);
    }

    #[test]
    fn a_big_cache_spreads_over_shards_and_still_holds_exactly_its_capacity() {
        let core = RepositoryCore::new(Rules::default(), 300);
        let template = log(case_id(0), 1);
        for n in 0..1_000u32 {
            let mut random = [0u8; 10];
            random[..4].copy_from_slice(&n.to_be_bytes());
            let id = CaseId::new_v7(T0, random);
            let mut opened = template[0].clone();
            opened.case = id;
            done(read(Lookup::case(id).poll(&core), 0).answer(Ok(vec![opened])).poll(&core)).unwrap();
        }
        assert_eq!(core.cached(), 300);
    }

    /// What a scripted [`Lookups`] run gave, and the reads of each of its rounds.
    type Scripted = (Result<Vec<Arc<Case>>, Error>, Vec<Vec<(CaseId, u64)>>);

    /// Drives `run` with scripted answers to each batched round; returns its result and
    /// the reads of each round.
    fn lookups(
        core: &RepositoryCore,
        mut run: Lookups,
        mut answer: impl FnMut(&[(CaseId, u64)]) -> Result<Vec<Vec<Event>>, StoreError>,
    ) -> Scripted {
        let mut rounds = Vec::new();
        loop {
            run = match run.poll(core) {
                LookupsStep::Read(reads) => {
                    rounds.push(reads.reads().to_vec());
                    let result = answer(reads.reads());
                    reads.answer(result)
                }
                LookupsStep::Done(result) => return (result, rounds),
            }
        }
    }

    #[test]
    fn several_cases_refresh_in_one_round_and_a_store_behind_one_of_them_in_a_second() {
        let [a, b, c] = [case_id(30), case_id(31), case_id(32)];
        let (log_a, log_b, log_c) = (log(a, 4), log(b, 3), log(c, 2));
        let core = core_with(&log_a[..2]);
        done(read(Lookup::case(b).poll(&core), 0).answer(Ok(log_b.clone())).poll(&core)).unwrap();
        // The store: `a` moved on to 4; `b` was restored to version 1, behind the cache;
        // `c` is not cached.
        let stored = |case: CaseId| match case {
            x if x == a => log_a.clone(),
            x if x == b => log_b[..1].to_vec(),
            _ => log_c.clone(),
        };
        let (result, rounds) = lookups(&core, Lookups::refresh(vec![a, b, c]), |reads| {
            Ok(reads
                .iter()
                .map(|&(case, after)| stored(case).into_iter().filter(|e| e.seq > after).collect())
                .collect())
        });
        let versions: Vec<u64> = result.unwrap().iter().map(|case| case.version()).collect();
        assert_eq!(versions, vec![4, 1, 2]);
        assert_eq!(rounds, vec![vec![(a, 1), (b, 2), (c, 0)], vec![(b, 0)]]);
        assert_eq!(core.peek(b).unwrap().version(), 1, "the cache follows the restored store");

        // Nothing to read: no round at all.
        let (result, rounds) = lookups(&core, Lookups::refresh(Vec::new()), |_| unreachable!());
        assert!(result.unwrap().is_empty() && rounds.is_empty());
    }

    #[test]
    fn a_failed_or_short_batched_read_fails_the_run_and_drops_only_the_case_it_blamed() {
        let [a, b] = [case_id(33), case_id(34)];
        let core = core_with(&log(a, 2));
        done(read(Lookup::case(b).poll(&core), 0).answer(Ok(log(b, 2))).poll(&core)).unwrap();
        let io = || StoreError::Io { path: "db".into(), op: "read", source: std::io::Error::other("reset") };
        let (result, _) = lookups(&core, Lookups::refresh(vec![a, b]), |_| Err(io()));
        assert!(matches!(result, Err(Error::Store(StoreError::Io { .. }))), "{result:?}");
        assert!(core.peek(a).is_none(), "a failed refresh drops its case, as one refresh does");
        assert!(core.peek(b).is_some());

        let (result, _) = lookups(&core, Lookups::refresh(vec![a, b]), |_| Ok(vec![Vec::new()]));
        assert!(matches!(result, Err(Error::Store(StoreError::Backend { .. }))), "{result:?}");
    }

    fn keyed(text: &str, key: &str) -> Request {
        Request::new(note(text)).key(crate::id::IdempotencyKey::new(key).unwrap())
    }

    /// `events` and then the events `rules` decides for `request` on top of them.
    fn with_request(events: &[Event], request: Request, at: OffsetDateTime) -> Vec<Event> {
        let case = Case::replay(events).unwrap();
        let Decision::Append(new) = Rules::default().decide_request(&case, request, &ana(), at).unwrap() else {
            panic!("a new key")
        };
        let mut all = events.to_vec();
        all.extend(new);
        all
    }

    #[test]
    fn the_same_key_and_command_reads_the_stored_events_and_appends_nothing() {
        let case = case_id(20);
        let stored = with_request(&log(case, 2), keyed("called back", "req-1"), at(5));
        let core = core_with(&stored);

        // The retry comes a minute later, with an If-Match the first run already used.
        let retry = CaseRequest::new(case, keyed("called back", "req-1"), ana(), at(6)).expect_version(2);
        let step = Execution::new(retry).poll(&core, &mut no_clock());
        let ran = done(read(step, 2).answer(Ok(stored[2..].to_vec())).poll(&core, &mut no_clock())).unwrap();
        assert_eq!(ran.events, stored[2..], "the stored events, not a second note");
        assert_eq!((ran.version, ran.already_done, ran.attempts), (3, true, 1));

        let other = CaseRequest::new(case, keyed("something else", "req-1"), ana(), at(6));
        let err = done(Execution::new(other).poll(&core, &mut no_clock())).unwrap_err();
        assert!(matches!(err, Error::Refused(Refusal::KeyReused { first: 3, last: 3, .. })), "{err}");
    }

    #[test]
    fn a_lost_acknowledgement_is_recognised_after_the_conflict_it_causes() {
        let case = case_id(21);
        let before = log(case, 2);
        let core = core_with(&before);
        // The first run's append landed, but its answer was lost: the cache is stale.
        let stored = with_request(&before, keyed("called back", "req-2"), at(5));

        for request in [
            CaseRequest::new(case, keyed("called back", "req-2"), ana(), at(6)),
            CaseRequest::new(case, keyed("called back", "req-2"), ana(), at(6)).expect_version(2),
            CaseRequest::new(case, keyed("called back", "req-2"), ana(), at(6)).attempts(1),
        ] {
            core.forget(case);
            let core_step = Lookup::case(case).poll(&core);
            done(read(core_step, 0).answer(Ok(before.clone())).poll(&core)).unwrap();

            let step = Execution::new(request.clone()).poll(&core, &mut || at(7));
            let conflict = StoreError::Conflict { case, expected: 2, actual: 3 };
            let step = append(step, 2).answer(Err(conflict)).poll(&core, &mut || at(7));
            let step = read(step, 2).answer(Ok(stored[2..].to_vec())).poll(&core, &mut || at(7));
            let ran = done(read(step, 2).answer(Ok(stored[2..].to_vec())).poll(&core, &mut || at(7))).unwrap();
            assert_eq!(ran.events, stored[2..], "{request:?}");
            assert!(ran.already_done, "{request:?}");
        }
    }
}

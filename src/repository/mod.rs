//! The repositories: what a host calls per command, over a store.
//!
//! The logic of a command (cache lookup, decide, check, append plan, fold, catch-up and
//! retry) lives once, in the sans-IO [`core`](RepositoryCore). [`Repository`] drives it
//! with a blocking [`Store`]; `AsyncRepository` (feature `async`) with an `AsyncStore`,
//! awaiting where the other blocks. Nothing else differs.
//!
//! # The sans-IO protocol
//!
//! A [`RepositoryCore`] holds what commands share (the rules and the bounded cache of
//! folded cases). An [`Execution`] is one command's run through it: cache lookup,
//! [`Rules::decide`], the check of the new events against the case, the append plan,
//! the fold, and, after a conflict, the catch-up and a new decision. It performs no I/O
//! and reads no clock. [`Execution::poll`] says what it needs next as a [`Step`]: read
//! a case's events after a version, append events at an expected version, or done. The
//! driver does that with its store and hands the store's answer back
//! ([`PendingRead::answer`], [`PendingAppend::answer`]), which returns the execution to
//! poll again. [`Lookup`] does the same for reading a case.
//!
//! A host may drive the core itself, for instance to append inside its own database
//! transaction.
//!
//! Steps are values that own the execution, so an answer can only be given to the step
//! that asked for it, once, and nothing can be polled after it is done.

#[cfg(feature = "async")]
mod async_repository;
mod cache;
pub(crate) mod core;
mod request;

use std::sync::Arc;

use time::OffsetDateTime;

use crate::actor::Actor;
use crate::case::Case;
use crate::command::{Opening, Request};
use crate::error::{Error, StoreError};
use crate::event::Event;
use crate::id::{CaseId, CustomerRef, IncidentId};
use crate::rules::Rules;
use crate::store::Store;

pub use self::core::{Execution, Lookup, Machine, PendingAppend, PendingRead, RepositoryCore, Step};
#[cfg(feature = "async")]
pub use async_repository::AsyncRepository;
pub use request::{CaseRequest, DEFAULT_ATTEMPTS};

/// How many folded cases a repository caches unless the host says otherwise
/// ([`Repository::with_capacity`]).
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Runs commands against cases kept in a [`Store`], with a bounded cache of folded cases;
/// one repository serves every thread of a host.
///
/// [`Repository::execute`] takes the cached case (reading and replaying the stored log
/// only when the cache does not hold it), decides, checks the new events against the
/// case, appends them with the case's version as the expected version, and folds them
/// into the cached case. A command costs O(new events), never a copy of the case or a
/// replay of its history. Only events that fold are ever written.
///
/// # Sharing
///
/// Every method takes `&self`; put the repository in an `Arc` and call it from as many
/// threads as you like, with no lock around it. No lock is held while the store works:
///
/// - Commands on **different cases** do not wait for each other (they meet only on a
///   short lock of one of the cache's shards, and inside the store).
/// - Commands on **one case** run optimistically: both may decide on the same version;
///   the store appends one and refuses the other with [`StoreError::Conflict`]. The
///   loser reads only the events it missed, folds them into the cached case, and decides
///   again on the fresh state, at most [`DEFAULT_ATTEMPTS`] times in all (a
///   [`CaseRequest`] sets another number). A retry may therefore end in a refusal (the other
///   writer may have transferred the case); it is never a blind re-append.
///
/// The cache holds at most [`DEFAULT_CAPACITY`] cases ([`Repository::with_capacity`]);
/// the least recently used leave it first and are replayed from the store when needed
/// again. Several repositories (processes, nodes) may share one store: the store's
/// expected-version check keeps them consistent, and each catches up on conflict.
///
/// # Reading cases
///
/// [`Repository::case`] returns an `Arc<Case>`: a snapshot that costs one reference
/// count, can be kept, sent to another thread or held across an `.await`, and never
/// blocks a command. A command folding into a case whose snapshot a reader still holds
/// copies the case once (copy on write), so drop snapshots when done.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use caseledger::{
///     event::Visibility, Actor, CaseId, Command, MemoryStore, Opening, Repository, Rules, Staff,
///     Store,
/// };
/// use time::macros::datetime;
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let ana = Staff::new("ana", "software");
/// let repo = Arc::new(Repository::new(MemoryStore::new(), Rules::default()).with_capacity(1_000));
/// let case = CaseId::new_v7(t, [1; 10]);
/// repo.open(case, Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::Customer, t)?;
///
/// // Four request handlers write to the case at once; each note lands exactly once.
/// std::thread::scope(|s| {
///     for desk in 0..4 {
///         let (repo, by) = (Arc::clone(&repo), Actor::Staff(ana.clone()));
///         s.spawn(move || {
///             let note = Command::AddNote { text: format!("desk {desk}"), visibility: Visibility::Internal };
///             repo.execute_with_retry(case, note, &by, || t, 10)
///         });
///     }
/// });
/// assert_eq!(repo.case(case)?.version(), 5);
/// assert_eq!(repo.store().version(case)?, 5);
///
/// let transfer = Command::Transfer { to: Staff::new("bo", "hardware"), note: "fan noise after BIOS update".into() };
/// let events = repo.execute(case, transfer, &Actor::Staff(ana), t)?;
/// assert_eq!(events[0].seq, 6);
/// assert_eq!(repo.case(case)?.owner(), &Staff::new("bo", "hardware"));
/// # Ok::<(), caseledger::Error>(())
/// ```
///
/// [`StoreError::Conflict`]: crate::error::StoreError::Conflict
#[derive(Debug)]
pub struct Repository<S> {
    store: S,
    core: RepositoryCore,
}

impl<S: Store> Repository<S> {
    /// A repository over `store`, deciding with `rules` (a [`Rules`] or an `Arc<Rules>`
    /// shared with other repositories), caching up to [`DEFAULT_CAPACITY`] cases.
    #[must_use]
    pub fn new(store: S, rules: impl Into<Arc<Rules>>) -> Self {
        Self { store, core: RepositoryCore::new(rules, DEFAULT_CAPACITY) }
    }

    /// The same repository caching at most `capacity` folded cases (0: none; every
    /// command then reads and replays its case). Memory stays bounded however many cases
    /// the host touches.
    #[must_use]
    pub fn with_capacity(self, capacity: usize) -> Self {
        Self { core: RepositoryCore::new(self.core.rules_arc(), capacity), store: self.store }
    }

    /// Opens a new case and stores its first event. Opening the same case again with
    /// the same opening at the same time is a no-op (a retry).
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] when [`Rules::open`] refuses, [`StoreError::Conflict`] (as
    /// [`Error::Store`]) when the case already exists, and the store's own failures.
    ///
    /// [`StoreError::Conflict`]: crate::error::StoreError::Conflict
    pub fn open(&self, id: CaseId, opening: Opening, by: &Actor, at: OffsetDateTime) -> Result<Event, Error> {
        let events = drive(&self.store, &self.core, Execution::open(id, opening, by.clone(), at), &mut || at)?;
        // An opening that is done has its one `opened` event.
        events.into_iter().next().ok_or_else(|| StoreError::UnknownCase { case: id }.into())
    }

    /// Decides `command` (a [`Command`](crate::Command), or a [`Request`] carrying an
    /// idempotency key) on the case at `at`, stores the new events and returns them.
    /// When another writer appended first, decides again on the fresh state at the same
    /// `at`, up to [`DEFAULT_ATTEMPTS`] times in all. [`Repository::run`] takes a
    /// [`CaseRequest`] with more options (expected version, attempts).
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] with the broken rule (nothing is written);
    /// [`StoreError::Conflict`] when other writers appended first at every attempt
    /// (nothing is written, the cached case has caught up);
    /// [`StoreError::UnknownCase`]; [`Error::Log`] when the stored log is broken; and the
    /// store's own failures.
    ///
    /// [`StoreError::Conflict`]: crate::error::StoreError::Conflict
    /// [`StoreError::UnknownCase`]: crate::error::StoreError::UnknownCase
    pub fn execute(
        &self,
        id: CaseId,
        command: impl Into<Request>,
        by: &Actor,
        at: OffsetDateTime,
    ) -> Result<Vec<Event>, Error> {
        self.run(CaseRequest::new(id, command, by.clone(), at))
    }

    /// Runs `request`: decides its command on the case and stores the new events, keeping
    /// its options (see [`CaseRequest`]).
    ///
    /// # Errors
    ///
    /// As [`Repository::execute`]; with [`CaseRequest::expect_version`],
    /// [`StoreError::Conflict`] as soon as the case is not at that version.
    ///
    /// [`StoreError::Conflict`]: crate::error::StoreError::Conflict
    pub fn run(&self, request: CaseRequest) -> Result<Vec<Event>, Error> {
        let at = request.at();
        drive(&self.store, &self.core, Execution::new(request), &mut || at)
    }

    /// [`Repository::execute`], deciding up to `attempts` times in all when other writers
    /// append first, each decision at a fresh `now()` (the host's clock; the library
    /// reads none itself).
    ///
    /// # Errors
    ///
    /// As [`Repository::execute`]; [`StoreError::Conflict`] only when every attempt
    /// conflicted.
    ///
    /// [`StoreError::Conflict`]: crate::error::StoreError::Conflict
    pub fn execute_with_retry(
        &self,
        id: CaseId,
        command: impl Into<Request>,
        by: &Actor,
        mut now: impl FnMut() -> OffsetDateTime,
        attempts: u32,
    ) -> Result<Vec<Event>, Error> {
        let request = CaseRequest::new(id, command, by.clone(), now()).attempts(attempts);
        drive(&self.store, &self.core, Execution::new(request), &mut now)
    }

    /// The case: a snapshot from the cache or, when the cache does not hold it, read from
    /// the store and replayed. It may be behind the store if other repositories append;
    /// see [`Repository::refresh`].
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownCase`], [`Error::Log`] when the stored log is broken, and the
    /// store's own failures.
    ///
    /// [`StoreError::UnknownCase`]: crate::error::StoreError::UnknownCase
    pub fn case(&self, id: CaseId) -> Result<Arc<Case>, Error> {
        drive(&self.store, &self.core, Lookup::case(id), &mut || OffsetDateTime::UNIX_EPOCH)
    }

    /// Brings the cached case up to date with the store, reading only the events after
    /// its cached version, and returns a snapshot.
    ///
    /// # Errors
    ///
    /// As [`Repository::case`]; on error the case is dropped from the cache.
    pub fn refresh(&self, id: CaseId) -> Result<Arc<Case>, Error> {
        drive(&self.store, &self.core, Lookup::refresh(id), &mut || OffsetDateTime::UNIX_EPOCH)
    }

    /// Every case of `customer`, oldest first (S3: "treat me like you know me"), each
    /// brought up to date with the store.
    ///
    /// # Errors
    ///
    /// As [`Repository::case`], for any of the cases.
    pub fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<Arc<Case>>, Error> {
        let ids = self.store.customer_cases(customer)?;
        ids.into_iter().map(|id| self.refresh(id)).collect()
    }

    /// Every case linked to `incident`, oldest first (S6), each brought up to date with
    /// the store.
    ///
    /// # Errors
    ///
    /// As [`Repository::case`], for any of the cases.
    pub fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<Arc<Case>>, Error> {
        let ids = self.store.incident_cases(incident)?;
        ids.into_iter().map(|id| self.refresh(id)).collect()
    }

    /// Drops a case from the cache; the next command reads it again.
    pub fn forget(&self, id: CaseId) {
        self.core.forget(id);
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The rules commands are decided under.
    #[must_use]
    pub fn rules(&self) -> &Rules {
        self.core.rules()
    }

    /// The shared core: cache size and capacity, and a way to drive commands yourself.
    #[must_use]
    pub fn core(&self) -> &RepositoryCore {
        &self.core
    }
}

/// The blocking driver: do what each step asks, with the store, until done.
fn drive<S: Store, M: Machine>(
    store: &S,
    core: &RepositoryCore,
    mut machine: M,
    now: &mut dyn FnMut() -> OffsetDateTime,
) -> Result<M::Output, Error> {
    loop {
        machine = match machine.step(core, now) {
            Step::Read(read) => {
                let result = store.read_after(read.case(), read.after());
                read.answer(result)
            }
            Step::Append(append) => {
                let result = store.append(append.case(), append.expected(), append.events());
                append.answer(result)
            }
            Step::Done(result) => return result,
        };
    }
}

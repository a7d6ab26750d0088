//! The repositories: what a host calls per command, over a store.
//!
//! The logic of a command (cache lookup, decide, check, append plan, fold, catch-up and
//! retry) lives once, in the sans-IO [`core`](RepositoryCore). The methods a host calls
//! live once too, in the facade (`repository/facade.rs`) both repositories share.
//! [`Repository`] drives the core with a blocking [`Store`]; `AsyncRepository` (feature
//! `async`) with an `AsyncStore`, awaiting where the other blocks. Each has only its own
//! `drive` loop.
//!
//! # The sans-IO protocol
//!
//! A [`RepositoryCore`] holds what commands share (the rules and the bounded cache of
//! folded cases). An [`Execution`] is one command's run through it: cache lookup,
//! [`Rules::decide`], the check of the new events against the case, the append plan,
//! the fold, and, after a conflict, the catch-up and a new decision. A [`Lookup`] is one
//! read of a case. Neither performs I/O or reads a clock: each says what it needs next
//! as a [`Step`], and the host's driver does it with its store.
//!
//! A host may drive the core itself, for instance to append inside its own database
//! transaction.
//!
//! The order in which a host drives a run, with an example driver, is documented on
//! [`RepositoryCore`].

#[cfg(feature = "async")]
mod async_repository;
mod cache;
mod clock;
pub(crate) mod core;
mod executed;
mod facade;
#[cfg(feature = "postgres")]
mod postgres;
mod request;
mod snapshots;
mod watch;

use std::sync::Arc;

use time::OffsetDateTime;

use crate::actor::Actor;
use crate::case::Case;
use crate::command::{Opening, Request};
use crate::error::Error;
use crate::id::{CaseId, CustomerRef, IncidentId};
use crate::rules::Rules;
use crate::store::{Batch, Store};
use clock::HostClock;
use facade::facade;
use watch::Watch;

pub use self::core::{
    Execution, Lookup, Lookups, LookupsStep, Machine, PendingAppend, PendingLoad, PendingRead, PendingReads,
    PendingSave, RepositoryCore, Step,
};
#[cfg(feature = "async")]
pub use async_repository::AsyncRepository;
pub use executed::Executed;
#[cfg(feature = "postgres")]
pub use postgres::Staged;
pub use request::{CaseRequest, DEFAULT_ATTEMPTS};
pub use snapshots::{SnapshotCheck, SnapshotPolicy, SnapshotStats, Verify};

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
///   again on the fresh state, at the host's clock ([`Repository::with_clock`]), at most [`DEFAULT_ATTEMPTS`] times in all (a
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
/// repo.open(case, Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), t)?;
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
/// let done = repo.execute(case, transfer, &Actor::Staff(ana), t)?;
/// assert_eq!((done.events[0].seq, done.version, done.already_done), (6, 6, false));
/// assert_eq!(repo.case(case)?.owner(), &Staff::new("bo", "hardware"));
/// # Ok::<(), caseledger::Error>(())
/// ```
///
/// [`StoreError::Conflict`]: crate::error::StoreError::Conflict
#[derive(Debug)]
pub struct Repository<S> {
    store: S,
    core: RepositoryCore,
    clock: HostClock,
}

facade!(Repository, Store, [], [], []);

/// The blocking driver: do what each step asks, with the store, until done.
fn drive<S: Store, M: Machine>(store: &S, mut run: M, mut poll: impl FnMut(M) -> Step<M>) -> Result<M::Output, Error>
where
    M::Output: watch::Report,
{
    let mut watch = Watch::new(&run);
    loop {
        run = match poll(run) {
            Step::Read(read) => {
                let result = watch.blocking(false, || store.read_after(read.case(), read.after()));
                read.answer(result)
            }
            Step::Append(append) => {
                let Batch { case, expected, events } = append.batch();
                let result = watch.blocking(true, || store.append(case, expected, events));
                append.answer(result)
            }
            Step::Load(case, load) => load.answer(watch.blocking(false, || store.load(case))),
            Step::Save(snapshot, save) => save.answer(watch.blocking(false, || store.write_snapshot(&snapshot))),
            Step::Done(result) => {
                watch.finish(&result);
                return result;
            }
        };
    }
}

//! The asynchronous repository (feature `async`): the same core as [`Repository`],
//! awaiting an [`AsyncStore`] where the other blocks on a [`Store`](crate::Store).
//!
//! [`Repository`]: crate::Repository

use std::sync::Arc;

use time::OffsetDateTime;

use super::core::{Execution, Lookup, Machine, RepositoryCore, Step};
use super::request::CaseRequest;
use super::DEFAULT_CAPACITY;
use crate::actor::Actor;
use crate::case::Case;
use crate::command::{Opening, Request};
use crate::error::{Error, StoreError};
use crate::event::Event;
use crate::id::{CaseId, CustomerRef, IncidentId};
use crate::rules::Rules;
use crate::store::AsyncStore;

/// [`Repository`](crate::Repository) for hosts on an async runtime: the same commands,
/// cache, concurrency and results, each method awaiting the [`AsyncStore`].
///
/// Both repositories drive one [`RepositoryCore`]: what a command does (cache lookup,
/// decide, check, append plan, fold, catch-up, retry, idempotency keys, expected
/// versions) is written once, and only the waiting differs. No lock is held across an
/// `.await`, so the futures are `Send` (spawn them on tokio) and a command waiting for
/// the store blocks nothing else. No `block_on`, no `spawn_blocking`: the library needs
/// no runtime of its own.
///
/// Dropping a command's future while it waits (a timeout) leaves the cached case as it
/// was; see [`AsyncStore`] for what the store must do then.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use caseledger::{
///     event::Visibility, Actor, AsyncRepository, CaseId, Command, MemoryStore, Opening, Rules,
///     Staff,
/// };
/// use time::macros::datetime;
///
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// # block_on(async {
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let ana = Staff::new("ana", "software");
/// let repo = Arc::new(AsyncRepository::new(MemoryStore::new(), Rules::default()));
/// let case = CaseId::new_v7(t, [1; 10]);
/// repo.open(case, Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::Customer, t).await?;
///
/// let note = Command::AddNote { text: "BIOS 1.9 tried".into(), visibility: Visibility::Internal };
/// let events = repo.execute(case, note, &Actor::Staff(ana), t).await?;
/// assert_eq!(events[0].seq, 2);
/// assert_eq!(repo.case(case).await?.version(), 2);
/// # Ok::<(), caseledger::Error>(())
/// # })?;
/// # Ok::<(), caseledger::Error>(())
/// ```
#[derive(Debug)]
pub struct AsyncRepository<S> {
    store: S,
    core: RepositoryCore,
}

impl<S: AsyncStore> AsyncRepository<S> {
    /// A repository over `store`, deciding with `rules`, caching up to
    /// [`DEFAULT_CAPACITY`] cases.
    #[must_use]
    pub fn new(store: S, rules: impl Into<Arc<Rules>>) -> Self {
        Self { store, core: RepositoryCore::new(rules, DEFAULT_CAPACITY) }
    }

    /// The same repository caching at most `capacity` folded cases (0: none).
    #[must_use]
    pub fn with_capacity(self, capacity: usize) -> Self {
        Self { core: RepositoryCore::new(self.core.rules_arc(), capacity), store: self.store }
    }

    /// Opens a new case and stores its first event; see
    /// [`Repository::open`](crate::Repository::open).
    ///
    /// # Errors
    ///
    /// As [`Repository::open`](crate::Repository::open).
    pub async fn open(&self, id: CaseId, opening: Opening, by: &Actor, at: OffsetDateTime) -> Result<Event, Error> {
        let events = drive(&self.store, &self.core, Execution::open(id, opening, by.clone(), at), &mut || at).await?;
        events.into_iter().next().ok_or_else(|| StoreError::UnknownCase { case: id }.into())
    }

    /// Decides a command (or a [`Request`] with an idempotency key) on the case at `at`
    /// and stores the new events; see [`Repository::execute`](crate::Repository::execute).
    ///
    /// # Errors
    ///
    /// As [`Repository::execute`](crate::Repository::execute).
    pub async fn execute(
        &self,
        id: CaseId,
        command: impl Into<Request>,
        by: &Actor,
        at: OffsetDateTime,
    ) -> Result<Vec<Event>, Error> {
        self.run(CaseRequest::new(id, command, by.clone(), at)).await
    }

    /// Runs `request` with its options (expected version, key, attempts); see
    /// [`Repository::run`](crate::Repository::run).
    ///
    /// # Errors
    ///
    /// As [`Repository::run`](crate::Repository::run).
    pub async fn run(&self, request: CaseRequest) -> Result<Vec<Event>, Error> {
        let at = request.at();
        drive(&self.store, &self.core, Execution::new(request), &mut || at).await
    }

    /// [`AsyncRepository::execute`], deciding up to `attempts` times in all, each
    /// decision at a fresh `now()`; see
    /// [`Repository::execute_with_retry`](crate::Repository::execute_with_retry).
    ///
    /// # Errors
    ///
    /// As [`Repository::execute_with_retry`](crate::Repository::execute_with_retry).
    pub async fn execute_with_retry(
        &self,
        id: CaseId,
        command: impl Into<Request>,
        by: &Actor,
        mut now: impl FnMut() -> OffsetDateTime + Send,
        attempts: u32,
    ) -> Result<Vec<Event>, Error> {
        let request = CaseRequest::new(id, command, by.clone(), now()).attempts(attempts);
        drive(&self.store, &self.core, Execution::new(request), &mut now).await
    }

    /// The case, a snapshot; see [`Repository::case`](crate::Repository::case).
    ///
    /// # Errors
    ///
    /// As [`Repository::case`](crate::Repository::case).
    pub async fn case(&self, id: CaseId) -> Result<Arc<Case>, Error> {
        drive(&self.store, &self.core, Lookup::case(id), &mut || OffsetDateTime::UNIX_EPOCH).await
    }

    /// The case brought up to date with the store; see
    /// [`Repository::refresh`](crate::Repository::refresh).
    ///
    /// # Errors
    ///
    /// As [`Repository::refresh`](crate::Repository::refresh).
    pub async fn refresh(&self, id: CaseId) -> Result<Arc<Case>, Error> {
        drive(&self.store, &self.core, Lookup::refresh(id), &mut || OffsetDateTime::UNIX_EPOCH).await
    }

    /// Every case of `customer`, oldest first (S3), each brought up to date.
    ///
    /// # Errors
    ///
    /// As [`AsyncRepository::case`], for any of the cases.
    pub async fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<Arc<Case>>, Error> {
        let ids = self.store.customer_cases(customer).await?;
        let mut cases = Vec::with_capacity(ids.len());
        for id in ids {
            cases.push(self.refresh(id).await?);
        }
        Ok(cases)
    }

    /// Every case linked to `incident`, oldest first (S6), each brought up to date.
    ///
    /// # Errors
    ///
    /// As [`AsyncRepository::case`], for any of the cases.
    pub async fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<Arc<Case>>, Error> {
        let ids = self.store.incident_cases(incident).await?;
        let mut cases = Vec::with_capacity(ids.len());
        for id in ids {
            cases.push(self.refresh(id).await?);
        }
        Ok(cases)
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

    /// The shared core.
    #[must_use]
    pub fn core(&self) -> &RepositoryCore {
        &self.core
    }
}

/// The awaiting driver: the blocking one's loop, with `.await` on each store call.
async fn drive<S: AsyncStore, M: Machine>(
    store: &S,
    core: &RepositoryCore,
    mut machine: M,
    now: &mut (dyn FnMut() -> OffsetDateTime + Send),
) -> Result<M::Output, Error> {
    loop {
        machine = match machine.step(core, now) {
            Step::Read(read) => {
                let result = store.read_after(read.case(), read.after()).await;
                read.answer(result)
            }
            Step::Append(append) => {
                let result = store.append(append.case(), append.expected(), append.events()).await;
                append.answer(result)
            }
            Step::Done(result) => return result,
        };
    }
}

//! Where the helpdesk keeps its cases: one shared repository over the embedded file
//! store, or (with the `postgres` feature and a database URL) over PostgreSQL.
//!
//! Every operation is `async`. The file store is synchronous (it fsyncs), so its calls
//! run on tokio's blocking pool; the PostgreSQL repository is awaited directly.
//!
//! Both keep the crate's in-process [`Worklist`] of open cases, so the queue and the
//! deadline sweep never read every case: over the file store it lives in a
//! [`Projected`] store (rebuilt at open, fed after each acknowledged append); over
//! PostgreSQL a [`FeedFollower`] feeds it from the change feed, caught up before each
//! read so a page shows every write acknowledged before it.

use std::sync::Arc;

use caseledger::projection::Projected;
use caseledger::worklist::{Breach, Query, Worklist};
use caseledger::{
    error::StoreError,
    id::{CustomerRef, IncidentId},
    policy::Deadlines,
    repository::Executed,
    Actor, Case, CaseId, CaseRequest, Command, Error, Event, FileStore, IdempotencyKey, Opening, Repository, Rules,
    Staff, Store,
};
#[cfg(feature = "postgres")]
use caseledger::{projection::FeedFollower, AsyncRepository, AsyncStore, PgStore};
use serde::Serialize;
use time::OffsetDateTime;

use crate::Clock;

/// The repository the handlers share: `&self` throughout, so requests on different
/// cases never wait for each other. Cloning shares the same repository.
#[derive(Clone, Debug)]
pub enum Backend {
    /// The embedded file store, with its worklist.
    File(Arc<Repository<Files>>),
    /// PostgreSQL, with the worklist its change feed feeds.
    #[cfg(feature = "postgres")]
    Postgres(Arc<AsyncRepository<PgStore>>, Arc<tokio::sync::Mutex<FeedFollower<Worklist>>>),
}

/// The file store with the worklist kept after each append.
pub type Files = Projected<FileStore, Worklist>;

/// How many feed events one catch-up poll reads.
#[cfg(feature = "postgres")]
const FEED_PAGE: usize = 500;

/// How long a worklist read waits for the feed to serve the writes acknowledged before
/// it (a transaction older than them holds them back); then it answers without them.
#[cfg(feature = "postgres")]
const FEED_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// How many worklist rows one page reads while the queue collects an owner's cases.
const QUEUE_PAGE: usize = 200;

/// What a command asks of the repository beyond the command itself.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The version the author saw (`If-Match`).
    pub expected: Option<u64>,
    /// The client's idempotency key.
    pub key: Option<IdempotencyKey>,
}

/// A case the store found damaged, as `/health` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Damage {
    /// The case.
    pub case: CaseId,
    /// `set_aside` (a torn tail moved to a side file; the case serves without it) or
    /// `quarantined` (the case serves nothing until an operator repairs its file).
    pub state: &'static str,
    /// The case's log file.
    pub file: String,
    /// The first line concerned (from 1).
    pub line: usize,
    /// What the store found.
    pub detail: String,
}

/// How many times a command is decided in all when other writers keep appending first.
/// Each lost race means another command was recorded, so with up to this many writers
/// on one case at once every command gets through.
const ATTEMPTS: u32 = 10;

/// Runs a synchronous file-store call on the blocking pool.
async fn blocking<T: Send + 'static>(
    repo: &Arc<Repository<Files>>,
    work: impl FnOnce(&Repository<Files>) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let repo = Arc::clone(repo);
    // The request's span goes along, so the repository's command span nests under it.
    let span = tracing::Span::current();
    match tokio::task::spawn_blocking(move || span.in_scope(|| work(&repo))).await {
        Ok(result) => result,
        // A panic in the store call is a bug; it surfaces as one rather than as an answer.
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    }
}

impl Backend {
    /// The repository over the file store, caching at most `capacity` cases and deciding
    /// again after a lost race at `clock()`; the worklist (under `deadlines`) is built
    /// from every stored case here.
    ///
    /// # Errors
    ///
    /// The store's failure to list its cases.
    pub fn file(
        store: FileStore,
        rules: Rules,
        deadlines: Deadlines,
        capacity: usize,
        clock: Clock,
    ) -> Result<Self, Error> {
        let store = Projected::new(store, Worklist::new(deadlines))?;
        let repo = Repository::new(store, rules).with_capacity(capacity).with_clock(move || clock());
        Ok(Self::File(Arc::new(repo)))
    }

    /// The repository over PostgreSQL, caching at most `capacity` cases and deciding
    /// again after a lost race at `clock()`; the worklist
    /// (under `deadlines`) follows the feed from its start. The schema must be in place
    /// (`PgStore::migrate`).
    #[cfg(feature = "postgres")]
    pub fn postgres(store: PgStore, rules: Rules, deadlines: Deadlines, capacity: usize, clock: Clock) -> Self {
        let follower = FeedFollower::new(Worklist::new(deadlines));
        Self::Postgres(
            Arc::new(AsyncRepository::new(store, rules).with_capacity(capacity).with_clock(move || clock())),
            Arc::new(tokio::sync::Mutex::new(follower)),
        )
    }

    /// Runs `read` on the worklist as of now: every append acknowledged before the call
    /// is in it (on PostgreSQL, unless a transaction older than it stays open for
    /// [`FEED_PATIENCE`]).
    async fn worklist<T>(&self, now: OffsetDateTime, read: impl FnOnce(&Worklist) -> T) -> Result<T, Error> {
        match self {
            // `read` holds the projection's lock, which appends take only after their
            // fsync, for a few index lookups: no need for the blocking pool.
            Self::File(repo) => Ok(repo.store().view(read)),
            #[cfg(feature = "postgres")]
            Self::Postgres(repo, follower) => {
                // The feed serves an event once every older transaction has ended; wait
                // (briefly) until it serves every write acknowledged before this call.
                let barrier = repo.store().feed_barrier().await?;
                let waited_from = std::time::Instant::now();
                while !repo.store().feed_covers(barrier).await? {
                    if waited_from.elapsed() > FEED_PATIENCE {
                        tracing::warn!(?barrier, "the worklist answers without the newest writes: a transaction older than them is still open");
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
                let mut follower = follower.lock().await;
                follower.catch_up(repo.store(), FEED_PAGE, now).await.map_err(|err| match err {
                    caseledger::projection::RunError::Store(err) => Error::from(err),
                    caseledger::projection::RunError::Projection { error, .. }
                    | caseledger::projection::RunError::Reset { error } => Error::from(error),
                    other => Error::from(StoreError::backend(other.to_string())),
                })?;
                Ok(read(follower.projection()))
            }
        }
    }

    /// Brings the worklist up to date now (on PostgreSQL: follows the feed to its end),
    /// so the first page a user asks for does not pay for the rebuild.
    pub async fn catch_up(&self, now: OffsetDateTime) -> Result<(), Error> {
        self.worklist(now, |_| ()).await
    }

    /// The open cases owned by `staff` (for the department they act for), from the
    /// worklist a page at a time: never every case.
    pub async fn queue(&self, staff: &Staff, now: OffsetDateTime) -> Result<Vec<Arc<Case>>, Error> {
        self.worklist(now, |worklist| {
            let mut cases = Vec::new();
            let mut query = Query::owner(staff.id.clone()).limit(QUEUE_PAGE);
            loop {
                let page = worklist.page(&query);
                for row in page.rows.iter().filter(|row| row.owner == *staff) {
                    if let Some(case) = worklist.case(row.case) {
                        cases.push(Arc::new(case.clone()));
                    }
                }
                match page.next {
                    Some(next) => query = query.after(Some(next)),
                    None => break,
                }
            }
            cases
        })
        .await
    }

    /// The deadlines of open cases that breached after `after` and at or before `until`
    /// (the sweep's window), from the worklist.
    pub async fn breached_between(&self, after: OffsetDateTime, until: OffsetDateTime) -> Result<Vec<Breach>, Error> {
        self.worklist(until, |worklist| worklist.breached_between(after, until)).await
    }

    /// The store's name, for the log.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
            #[cfg(feature = "postgres")]
            Self::Postgres(..) => "postgres",
        }
    }

    /// Opens case `id`; what it did holds its `opened` event.
    pub async fn open(&self, id: CaseId, opening: Opening, by: &Actor, at: OffsetDateTime) -> Result<Executed, Error> {
        match self {
            Self::File(repo) => {
                let by = by.clone();
                blocking(repo, move |repo| repo.open(id, opening, &by, at)).await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(repo, _) => repo.open(id, opening, by, at).await,
        }
    }

    /// Decides `command` on the case as it is now, at the version the author saw if
    /// given, and appends what is new. A request whose key was already used for the same
    /// command answers with the events it recorded then (`already_done`).
    ///
    /// `at` gives the command's time; it is called just before the first decision (on
    /// the blocking pool for the file store), so time spent queueing for a thread does
    /// not make the command older than events appended meanwhile.
    pub async fn run(
        &self,
        id: CaseId,
        command: Command,
        by: &Actor,
        at: impl FnOnce() -> OffsetDateTime + Send + 'static,
        options: &Options,
    ) -> Result<Executed, Error> {
        let (by, expected, key) = (by.clone(), options.expected, options.key.clone());
        let request = move || {
            let mut request = CaseRequest::new(id, command, by, at()).attempts(ATTEMPTS);
            if let Some(expected) = expected {
                request = request.expect_version(expected);
            }
            if let Some(key) = key {
                request = request.key(key);
            }
            request
        };
        match self {
            Self::File(repo) => blocking(repo, move |repo| repo.run(request())).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(repo, _) => repo.run(request()).await,
        }
    }

    /// The case as stored now.
    pub async fn case(&self, id: CaseId) -> Result<Arc<Case>, Error> {
        match self {
            Self::File(repo) => blocking(repo, move |repo| repo.refresh(id)).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(repo, _) => repo.refresh(id).await,
        }
    }

    /// The case's whole log.
    pub async fn events(&self, id: CaseId) -> Result<Vec<Event>, Error> {
        let events = match self {
            Self::File(repo) => blocking(repo, move |repo| Ok(repo.store().read(id)?)).await?,
            #[cfg(feature = "postgres")]
            Self::Postgres(repo, _) => AsyncStore::read(repo.store(), id).await?,
        };
        if events.is_empty() {
            return Err(StoreError::UnknownCase { case: id }.into());
        }
        Ok(events)
    }

    /// The events after `after`.
    pub async fn events_after(&self, id: CaseId, after: u64) -> Result<Vec<Event>, Error> {
        match self {
            Self::File(repo) => blocking(repo, move |repo| Ok(repo.store().read_after(id, after)?)).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(repo, _) => Ok(AsyncStore::read_after(repo.store(), id, after).await?),
        }
    }

    /// The cases of `customer`, folded.
    pub async fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<Arc<Case>>, Error> {
        match self {
            Self::File(repo) => {
                let customer = customer.clone();
                blocking(repo, move |repo| repo.customer_cases(&customer)).await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(repo, _) => repo.customer_cases(customer).await,
        }
    }

    /// The cases linked to `incident`, folded.
    pub async fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<Arc<Case>>, Error> {
        match self {
            Self::File(repo) => {
                let incident = incident.clone();
                blocking(repo, move |repo| repo.incident_cases(&incident)).await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(repo, _) => repo.incident_cases(incident).await,
        }
    }

    /// What the store set aside or quarantined, in case order; empty for a healthy store.
    /// All the server knows of damage comes from here.
    pub fn damage(&self) -> Vec<Damage> {
        match self {
            Self::File(repo) => file_damage(repo.store().store()),
            // PostgreSQL keeps its own pages whole; nothing is set aside at this level.
            #[cfg(feature = "postgres")]
            Self::Postgres(..) => Vec::new(),
        }
    }

    /// Whether the store answers.
    pub async fn health(&self) -> Result<(), Error> {
        match self {
            Self::File(repo) => blocking(repo, |repo| Ok(repo.store().cases().map(drop)?)).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(repo, _) => Ok(repo.store().cases_page(None, 1).await.map(drop)?),
        }
    }
}

/// The file store's report of what it found at open: torn tails it set aside and cases it
/// quarantined.
fn file_damage(store: &FileStore) -> Vec<Damage> {
    let set_aside = store.set_aside().iter().map(|s| Damage {
        case: s.case,
        state: "set_aside",
        file: s.log.display().to_string(),
        line: s.line,
        detail: format!("{} bytes moved to {}", s.bytes, s.torn.display()),
    });
    let quarantined = store.quarantined().iter().map(|q| Damage {
        case: q.case,
        state: "quarantined",
        file: q.log.display().to_string(),
        line: q.line,
        detail: q.reason.to_string(),
    });
    let mut all: Vec<Damage> = set_aside.chain(quarantined).collect();
    all.sort_by_key(|d| d.case);
    all
}

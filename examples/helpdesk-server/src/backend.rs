//! Where the helpdesk keeps its cases: one shared repository over the embedded file
//! store, or (with the `postgres` feature and a database URL) over PostgreSQL.
//!
//! Every operation is `async`. The file store is synchronous (it fsyncs), so its calls
//! run on tokio's blocking pool; the PostgreSQL repository is awaited directly.

use std::sync::Arc;

use caseledger::{
    error::StoreError,
    id::{CustomerRef, IncidentId},
    Actor, Case, CaseId, CaseRequest, Command, Error, Event, FileStore, IdempotencyKey, Opening, Repository, Rules,
    Store,
};
#[cfg(feature = "postgres")]
use caseledger::{AsyncRepository, AsyncStore, PgStore};
use serde::Serialize;
use time::OffsetDateTime;

/// The repository the handlers share: `&self` throughout, so requests on different
/// cases never wait for each other. Cloning shares the same repository.
#[derive(Clone, Debug)]
pub enum Backend {
    /// The embedded file store.
    File(Arc<Repository<FileStore>>),
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(Arc<AsyncRepository<PgStore>>),
}

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
    repo: &Arc<Repository<FileStore>>,
    work: impl FnOnce(&Repository<FileStore>) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let repo = Arc::clone(repo);
    match tokio::task::spawn_blocking(move || work(&repo)).await {
        Ok(result) => result,
        // A panic in the store call is a bug; it surfaces as one rather than as an answer.
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    }
}

impl Backend {
    /// The repository over the file store, caching at most `capacity` cases.
    pub fn file(store: FileStore, rules: Rules, capacity: usize) -> Self {
        Self::File(Arc::new(Repository::new(store, rules).with_capacity(capacity)))
    }

    /// The repository over PostgreSQL, caching at most `capacity` cases. The schema must
    /// be in place (`PgStore::migrate`).
    #[cfg(feature = "postgres")]
    pub fn postgres(store: PgStore, rules: Rules, capacity: usize) -> Self {
        Self::Postgres(Arc::new(AsyncRepository::new(store, rules).with_capacity(capacity)))
    }

    /// The store's name, for the log.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => "postgres",
        }
    }

    /// Opens case `id` and returns its `opened` event.
    pub async fn open(&self, id: CaseId, opening: Opening, by: &Actor, at: OffsetDateTime) -> Result<Event, Error> {
        match self {
            Self::File(repo) => {
                let by = by.clone();
                blocking(repo, move |repo| repo.open(id, opening, &by, at)).await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(repo) => repo.open(id, opening, by, at).await,
        }
    }

    /// Decides `command` on the case as it is now, at the version the author saw if
    /// given, and appends what is new. A request whose key was already used for the same
    /// command answers with the events it recorded then.
    pub async fn run(
        &self,
        id: CaseId,
        command: Command,
        by: &Actor,
        at: OffsetDateTime,
        options: &Options,
    ) -> Result<Vec<Event>, Error> {
        let mut request = CaseRequest::new(id, command, by.clone(), at).attempts(ATTEMPTS);
        if let Some(expected) = options.expected {
            request = request.expect_version(expected);
        }
        if let Some(key) = &options.key {
            request = request.key(key.clone());
        }
        match self {
            Self::File(repo) => blocking(repo, move |repo| repo.run(request)).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(repo) => repo.run(request).await,
        }
    }

    /// The case as stored now.
    pub async fn case(&self, id: CaseId) -> Result<Arc<Case>, Error> {
        match self {
            Self::File(repo) => blocking(repo, move |repo| repo.refresh(id)).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(repo) => repo.refresh(id).await,
        }
    }

    /// The case's whole log.
    pub async fn events(&self, id: CaseId) -> Result<Vec<Event>, Error> {
        let events = match self {
            Self::File(repo) => blocking(repo, move |repo| Ok(repo.store().read(id)?)).await?,
            #[cfg(feature = "postgres")]
            Self::Postgres(repo) => AsyncStore::read(repo.store(), id).await?,
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
            Self::Postgres(repo) => Ok(AsyncStore::read_after(repo.store(), id, after).await?),
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
            Self::Postgres(repo) => repo.customer_cases(customer).await,
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
            Self::Postgres(repo) => repo.incident_cases(incident).await,
        }
    }

    /// Every case in the store. A reference server reads them all for a queue; a host
    /// with many cases keeps an owner index of its own.
    pub async fn all_cases(&self) -> Result<Vec<Arc<Case>>, Error> {
        match self {
            Self::File(repo) => {
                blocking(repo, |repo| repo.store().cases()?.into_iter().map(|id| repo.case(id)).collect()).await
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(repo) => {
                let mut cases = Vec::new();
                for id in AsyncStore::cases(repo.store()).await? {
                    cases.push(repo.case(id).await?);
                }
                Ok(cases)
            }
        }
    }

    /// What the store set aside or quarantined, in case order; empty for a healthy store.
    /// All the server knows of damage comes from here.
    pub fn damage(&self) -> Vec<Damage> {
        match self {
            Self::File(repo) => file_damage(repo.store()),
            // PostgreSQL keeps its own pages whole; nothing is set aside at this level.
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => Vec::new(),
        }
    }

    /// Whether the store answers.
    pub async fn health(&self) -> Result<(), Error> {
        match self {
            Self::File(repo) => blocking(repo, |repo| Ok(repo.store().cases().map(drop)?)).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(repo) => Ok(repo.store().cases_page(None, 1).await.map(drop)?),
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

//! Where the helpdesk keeps its cases: one shared repository over the store.
//!
//! Every call is synchronous (the file store fsyncs); the HTTP layer runs them on
//! tokio's blocking pool.

use std::sync::Mutex;

use caseledger::{
    Actor, Case, CaseId, Command, CustomerRef, Decision, Error, Event, FileStore, IdempotencyKey, IncidentId, Opening,
    Repository, Request, Rules, Store, StoreError,
};
use time::OffsetDateTime;

/// The repository the handlers share.
pub struct Backend {
    repo: Mutex<Repository<FileStore>>,
}

/// What a command asks of the repository beyond the command itself.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The version the author saw (`If-Match`).
    pub expected: Option<u64>,
    /// The client's idempotency key.
    pub key: Option<IdempotencyKey>,
}

impl Backend {
    pub fn file(store: FileStore, rules: Rules) -> Self {
        Self { repo: Mutex::new(Repository::new(store, rules)) }
    }

    fn repo(&self) -> std::sync::MutexGuard<'_, Repository<FileStore>> {
        self.repo.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn open(&self, id: CaseId, opening: Opening, by: &Actor, at: OffsetDateTime) -> Result<Event, Error> {
        self.repo().open(id, opening, by, at)
    }

    /// Decides `command` on the case as it is now, at the version the author saw if
    /// given, and appends what is new. A key already used for the same command answers
    /// with the events it recorded then; the library refuses a key reused for another.
    pub fn run(
        &self,
        id: CaseId,
        command: Command,
        by: &Actor,
        at: OffsetDateTime,
        options: &Options,
    ) -> Result<Vec<Event>, Error> {
        let mut repo = self.repo();
        let case = repo.refresh(id)?.clone();
        // A retry of a request already recorded answers with what it recorded, even
        // though the version it names has since moved on (by that very request).
        if let Some(key) = &options.key {
            if let Some(seqs) = case.idempotent(key, &command, by)? {
                return stored(&repo, id, seqs);
            }
        }
        if let Some(expected) = options.expected {
            if case.version() != expected {
                return Err(StoreError::Conflict { case: id, expected, actual: case.version() }.into());
            }
        }
        let request = match options.key.clone() {
            Some(key) => Request::new(command).key(key),
            None => Request::new(command),
        };
        match repo.rules().decide_request(&case, request, by, at)? {
            Decision::AlreadyDone(seqs) => stored(&repo, id, seqs),
            Decision::Append(events) => {
                // The mutex makes this process the only writer between the read and the
                // append; the store still checks the version.
                repo.store().append(id, case.version(), &events)?;
                repo.refresh(id)?;
                Ok(events)
            }
            // A kind of decision this server does not know: nothing is written.
            _ => Err(StoreError::Conflict { case: id, expected: case.version(), actual: case.version() }.into()),
        }
    }

    pub fn case(&self, id: CaseId) -> Result<Case, Error> {
        self.repo().refresh(id).cloned()
    }

    pub fn events(&self, id: CaseId) -> Result<Vec<Event>, Error> {
        let events = self.repo().store().read(id)?;
        if events.is_empty() {
            return Err(StoreError::UnknownCase { case: id }.into());
        }
        Ok(events)
    }

    pub fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<Case>, Error> {
        self.repo().customer_cases(customer)
    }

    pub fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<Case>, Error> {
        self.repo().incident_cases(incident)
    }

    pub fn all_cases(&self) -> Result<Vec<Case>, Error> {
        let mut repo = self.repo();
        let ids = repo.store().cases()?;
        ids.into_iter().map(|id| repo.refresh(id).cloned()).collect()
    }

    /// Whether the store answers.
    pub fn health(&self) -> Result<(), Error> {
        self.repo().store().cases()?;
        Ok(())
    }
}

/// The stored events numbered `seqs`.
fn stored(repo: &Repository<FileStore>, id: CaseId, seqs: std::ops::RangeInclusive<u64>) -> Result<Vec<Event>, Error> {
    let count = usize::try_from(seqs.end() - seqs.start() + 1).unwrap_or(usize::MAX);
    Ok(repo.store().read_after(id, seqs.start().saturating_sub(1))?.into_iter().take(count).collect())
}

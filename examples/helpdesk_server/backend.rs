//! Where the helpdesk keeps its cases: one shared repository over the store.
//!
//! Every call is synchronous (the file store fsyncs); the HTTP layer runs them on
//! tokio's blocking pool.

use std::sync::Mutex;

use caseledger::{
    Actor, Case, CaseId, Command, CustomerRef, Error, Event, FileStore, IncidentId, Opening, Repository, Rules, Store,
    StoreError,
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
    pub key: Option<String>,
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

    pub fn run(
        &self,
        id: CaseId,
        command: Command,
        by: &Actor,
        at: OffsetDateTime,
        options: &Options,
    ) -> Result<Vec<Event>, Error> {
        let mut repo = self.repo();
        if let Some(expected) = options.expected {
            let actual = repo.refresh(id)?.version();
            if actual != expected {
                return Err(StoreError::Conflict { case: id, expected, actual }.into());
            }
            return repo.execute(id, command, by, at);
        }
        repo.execute_with_retry(id, command, by, || at, 3)
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

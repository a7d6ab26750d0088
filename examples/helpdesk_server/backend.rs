//! Where the helpdesk keeps its cases: one shared repository over the store.
//!
//! Every call is synchronous (the file store fsyncs); the HTTP layer runs them on
//! tokio's blocking pool.

use std::sync::Arc;

use caseledger::{
    Actor, Case, CaseId, CaseRequest, Command, CustomerRef, Error, Event, FileStore, IdempotencyKey, IncidentId,
    Opening, Repository, Rules, Store, StoreError,
};
use time::OffsetDateTime;

/// The repository the handlers share: `&self` throughout, so requests on different
/// cases never wait for each other.
pub struct Backend {
    repo: Repository<FileStore>,
}

/// What a command asks of the repository beyond the command itself.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The version the author saw (`If-Match`).
    pub expected: Option<u64>,
    /// The client's idempotency key.
    pub key: Option<IdempotencyKey>,
}

/// How many times a command is decided in all when other writers keep appending first.
/// Each lost race means another command was recorded, so with up to this many writers
/// on one case at once every command gets through.
const ATTEMPTS: u32 = 10;

impl Backend {
    /// The repository over the file store, caching at most `capacity` cases.
    pub fn file(store: FileStore, rules: Rules, capacity: usize) -> Self {
        Self { repo: Repository::new(store, rules).with_capacity(capacity) }
    }

    pub fn open(&self, id: CaseId, opening: Opening, by: &Actor, at: OffsetDateTime) -> Result<Event, Error> {
        self.repo.open(id, opening, by, at)
    }

    /// Decides `command` on the case as it is now, at the version the author saw if
    /// given, and appends what is new. A request whose key was already used for the same
    /// command answers with the events it recorded then.
    pub fn run(
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
        self.repo.run(request)
    }

    /// The case as stored now.
    pub fn case(&self, id: CaseId) -> Result<Arc<Case>, Error> {
        self.repo.refresh(id)
    }

    pub fn events(&self, id: CaseId) -> Result<Vec<Event>, Error> {
        let events = self.repo.store().read(id)?;
        if events.is_empty() {
            return Err(StoreError::UnknownCase { case: id }.into());
        }
        Ok(events)
    }

    /// The events after `after`.
    pub fn events_after(&self, id: CaseId, after: u64) -> Result<Vec<Event>, Error> {
        Ok(self.repo.store().read_after(id, after)?)
    }

    pub fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<Arc<Case>>, Error> {
        self.repo.customer_cases(customer)
    }

    pub fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<Arc<Case>>, Error> {
        self.repo.incident_cases(incident)
    }

    /// Every case in the store. A reference server reads them all for a queue; a host
    /// with many cases keeps an owner index of its own.
    pub fn all_cases(&self) -> Result<Vec<Arc<Case>>, Error> {
        self.repo.store().cases()?.into_iter().map(|id| self.repo.case(id)).collect()
    }

    /// Whether the store answers.
    pub fn health(&self) -> Result<(), Error> {
        self.repo.store().cases()?;
        Ok(())
    }
}

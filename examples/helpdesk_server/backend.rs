//! Where the helpdesk keeps its cases: one shared repository over the store.
//!
//! Every call is synchronous (the file store fsyncs); the HTTP layer runs them on
//! tokio's blocking pool.

use std::sync::Arc;

use caseledger::{
    Actor, Case, CaseId, CaseRequest, Command, CustomerRef, Decision, Error, Event, FileStore, IdempotencyKey,
    IncidentId, Opening, Repository, Request, Rules, Store, StoreError,
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
    /// given, and appends what is new.
    pub fn run(
        &self,
        id: CaseId,
        command: Command,
        by: &Actor,
        at: OffsetDateTime,
        options: &Options,
    ) -> Result<Vec<Event>, Error> {
        let Some(key) = &options.key else {
            let mut request = CaseRequest::new(id, command, by.clone(), at).attempts(ATTEMPTS);
            if let Some(expected) = options.expected {
                request = request.expect_version(expected);
            }
            return self.repo.run(request);
        };
        // The repository's requests carry no idempotency key yet: decide with the
        // library's keyed decision on the cached case and append with its version as the
        // expected one, so the store still refuses a writer that came in between.
        let mut attempt = 1;
        loop {
            let case = self.repo.case(id)?;
            // A retry of a request already recorded answers with what it recorded, even
            // though the version it names has since moved on (by that very request).
            if let Some(seqs) = case.idempotent(key, &command, by)? {
                return self.stored(id, seqs);
            }
            if let Some(expected) = options.expected {
                if case.version() != expected {
                    return Err(StoreError::Conflict { case: id, expected, actual: case.version() }.into());
                }
            }
            let events = match self.repo.rules().decide_request(
                &case,
                Request::new(command.clone()).key(key.clone()),
                by,
                at,
            )? {
                Decision::AlreadyDone(seqs) => return self.stored(id, seqs),
                Decision::Append(events) => events,
                // A kind of decision this server does not know: nothing is written.
                _ => {
                    return Err(
                        StoreError::Conflict { case: id, expected: case.version(), actual: case.version() }.into()
                    )
                }
            };
            match self.repo.store().append(id, case.version(), &events) {
                Ok(_) => {
                    self.repo.refresh(id)?;
                    return Ok(events);
                }
                Err(err) if err.is_conflict() && options.expected.is_none() && attempt < ATTEMPTS => {
                    self.repo.refresh(id)?;
                    attempt += 1;
                }
                Err(err) => {
                    let _ = self.repo.refresh(id);
                    return Err(err.into());
                }
            }
        }
    }

    /// The stored events numbered `seqs`.
    fn stored(&self, id: CaseId, seqs: std::ops::RangeInclusive<u64>) -> Result<Vec<Event>, Error> {
        let count = usize::try_from(seqs.end() - seqs.start() + 1).unwrap_or(usize::MAX);
        Ok(self.repo.store().read_after(id, seqs.start().saturating_sub(1))?.into_iter().take(count).collect())
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

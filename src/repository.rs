//! The repository: what a host calls per command, over any [`Store`].
//!
//! [`Repository::execute`] is the whole cycle for a stored case: take the cached case
//! (loading and replaying it only the first time), [`Rules::decide`], fold the new
//! events, append them with the case's version as the expected version, and keep the
//! folded case. A command therefore costs O(new events) and one store append: the
//! new events are checked against the cached case before they are written and folded
//! into it after, with no copy of the case and no replay.
//!
//! The repository folds; the store checks versions, ids and case names (see
//! [`Store`]).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::actor::Actor;
use crate::case::Case;
use crate::command::{Command, Opening};
use crate::error::{Error, StoreError};
use crate::event::Event;
use crate::id::{CaseId, CustomerRef, IncidentId};
use crate::rules::Rules;
use crate::store::Store;

/// Runs commands against cases kept in a [`Store`], with a cache of folded cases.
///
/// [`Repository::execute`] takes the cached case (reading and replaying the stored log
/// only the first time a case is touched), decides, checks the new events against the
/// case, appends them with the case's version as the expected version, and folds them
/// into the cached case. A command costs O(new events), never a copy of the case or a
/// replay of its history. Only events that fold are ever written.
///
/// Use one repository per thread or worker, all sharing one store (for instance an
/// `Arc<FileStore>`): each keeps its own cache, and the store's expected-version check
/// keeps them consistent. The cache holds every case the repository has touched until
/// [`Repository::forget`] is called.
///
/// # Concurrency and retries
///
/// When another writer appended to the case since this repository last saw it,
/// [`Repository::execute`] returns [`StoreError::Conflict`] and nothing is written.
/// Before returning, it has already read the missing events (only those after its
/// cached version) and folded them, so simply decide again, with the current time:
///
/// ```
/// # use caseledger::{Actor, CaseId, Command, Error, MemoryStore, Opening, Repository, Rules, Staff, Visibility};
/// # use time::macros::datetime;
/// # let mut repo = Repository::new(MemoryStore::new(), Rules::default());
/// # let case = CaseId::new_v7(datetime!(2026-11-23 09:00 UTC), [1; 10]);
/// # let ana = Staff::new("ana", "software");
/// # repo.open(case, Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::Customer, datetime!(2026-11-23 09:00 UTC))?;
/// # let now = || datetime!(2026-11-23 10:00 UTC);
/// let note = Command::AddNote { text: "BIOS 1.9 tried".into(), visibility: Visibility::Internal };
/// let mut attempts = 0;
/// let events = loop {
///     attempts += 1;
///     match repo.execute(case, note.clone(), &Actor::Staff(ana.clone()), now()) {
///         Err(Error::Store(e)) if e.is_conflict() && attempts < 3 => continue,
///         result => break result?,
///     }
/// };
/// # assert_eq!(events.len(), 1);
/// # Ok::<(), Error>(())
/// ```
///
/// [`Repository::execute_with_retry`] is that loop. A retry decides again on the fresh
/// state, so it may now be refused (the other writer may have transferred the case);
/// it is never a blind re-append.
///
/// # Example
///
/// ```
/// use caseledger::{Actor, CaseId, Command, MemoryStore, Opening, Repository, Rules, Staff, Store};
/// use time::macros::datetime;
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let ana = Staff::new("ana", "software");
/// let mut repo = Repository::new(MemoryStore::new(), Rules::default());
/// let case = CaseId::new_v7(t, [1; 10]);
/// repo.open(case, Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::Customer, t)?;
///
/// let transfer = Command::Transfer { to: Staff::new("bo", "hardware"), note: "fan noise after BIOS update".into() };
/// let events = repo.execute(case, transfer, &Actor::Staff(ana), t)?;
/// assert_eq!(events.len(), 1);
/// assert_eq!(repo.case(case)?.owner(), &Staff::new("bo", "hardware"));
/// assert_eq!(repo.store().version(case)?, 2);
/// # Ok::<(), caseledger::Error>(())
/// ```
#[derive(Debug)]
pub struct Repository<S> {
    store: S,
    rules: Arc<Rules>,
    cache: HashMap<CaseId, Case>,
}

impl<S: Store> Repository<S> {
    /// A repository over `store`, deciding with `rules` (a [`Rules`] or an `Arc<Rules>`
    /// shared with other repositories).
    #[must_use]
    pub fn new(store: S, rules: impl Into<Arc<Rules>>) -> Self {
        Self { store, rules: rules.into(), cache: HashMap::new() }
    }

    /// Opens a new case and stores its first event. Opening the same case again with
    /// the same opening at the same time is a no-op (a retry).
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] when [`Rules::open`] refuses, [`StoreError::Conflict`] (as
    /// [`Error::Store`]) when the case already exists, and the store's own failures.
    pub fn open(&mut self, id: CaseId, opening: Opening, by: &Actor, at: OffsetDateTime) -> Result<Event, Error> {
        let opened = self.rules.open(id, opening, by, at)?;
        let case = Case::from_opened(&opened)?;
        let appended = self.store.append(id, 0, std::slice::from_ref(&opened))?;
        self.cache.insert(id, case);
        if appended.version > 1 {
            // A retried opening of a case others have written to since: catch up.
            self.refresh(id)?;
        }
        Ok(opened)
    }

    /// Decides `command` on the case, stores the new events and returns them.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] with the broken rule (nothing is written);
    /// [`StoreError::Conflict`] when another writer appended first (nothing is written,
    /// the cached case has caught up: decide again, see the type's documentation);
    /// [`StoreError::UnknownCase`]; [`Error::Log`] when the stored log is broken; and the
    /// store's own failures.
    pub fn execute(
        &mut self,
        id: CaseId,
        command: Command,
        by: &Actor,
        at: OffsetDateTime,
    ) -> Result<Vec<Event>, Error> {
        let case = load(&mut self.cache, &self.store, id)?;
        let events = self.rules.decide(case, command, by, at)?;
        // Check before writing, so that only events that keep every rule reach the store.
        // A single event (what `decide` gives today) is checked in place; a batch is
        // folded onto a copy, since each event must be checked against the one before.
        let folded = match events.as_slice() {
            [event] => {
                case.validate(event, None)?;
                None
            }
            _ => {
                let mut next = case.clone();
                for event in &events {
                    next.apply(event)?;
                }
                Some(next)
            }
        };
        match self.store.append(id, case.version(), &events) {
            Ok(appended) => {
                match folded {
                    Some(next) => *case = next,
                    None => {
                        for event in &events {
                            if let Err(err) = case.apply(event) {
                                // Unreachable after `validate`; never leave a cache that
                                // disagrees with the store.
                                self.cache.remove(&id);
                                return Err(err.into());
                            }
                        }
                    }
                }
                let case_version = self.cache.get(&id).map_or(0, Case::version);
                let behind = appended.version > case_version;
                if behind {
                    // The events were already stored (a retry) and others wrote after them.
                    self.refresh(id)?;
                }
                Ok(events)
            }
            Err(err) => {
                if err.is_conflict() {
                    // Catch up now so the caller's retry decides on fresh state. If that
                    // fails, `refresh` leaves the case out of the cache and the next call
                    // reloads it; the conflict is what the caller must hear about.
                    let _ = self.refresh(id);
                }
                Err(err.into())
            }
        }
    }

    /// [`Repository::execute`], deciding again up to `attempts` times in all when
    /// another writer appended first. `now` is the host's clock, read for each attempt
    /// (the library reads no clock itself).
    ///
    /// # Errors
    ///
    /// As [`Repository::execute`]; [`StoreError::Conflict`] only when every attempt
    /// conflicted.
    pub fn execute_with_retry(
        &mut self,
        id: CaseId,
        command: Command,
        by: &Actor,
        mut now: impl FnMut() -> OffsetDateTime,
        attempts: u32,
    ) -> Result<Vec<Event>, Error> {
        let mut attempt = 1;
        loop {
            match self.execute(id, command.clone(), by, now()) {
                Err(Error::Store(err)) if err.is_conflict() && attempt < attempts => attempt += 1,
                result => return result,
            }
        }
    }

    /// The case, from the cache or, the first time, read from the store and replayed.
    /// It may be behind the store if other writers appended; see [`Repository::refresh`].
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownCase`], [`Error::Log`] when the stored log is broken, and the
    /// store's own failures.
    pub fn case(&mut self, id: CaseId) -> Result<&Case, Error> {
        load(&mut self.cache, &self.store, id).map(|case| &*case)
    }

    /// Brings the cached case up to date with the store, reading only the events after
    /// its cached version.
    ///
    /// # Errors
    ///
    /// As [`Repository::case`]; on error the case is dropped from the cache.
    pub fn refresh(&mut self, id: CaseId) -> Result<&Case, Error> {
        let Some(mut case) = self.cache.remove(&id) else {
            return self.case(id);
        };
        let tail = self.store.read_after(id, case.version())?;
        if tail.is_empty() && self.store.version(id)? < case.version() {
            // The store is behind the cache (it was replaced or restored): start over.
            return self.case(id);
        }
        for event in &tail {
            case.apply(event)?;
        }
        Ok(self.cache.entry(id).or_insert(case))
    }

    /// Every case of `customer`, oldest first (S3: "treat me like you know me").
    ///
    /// # Errors
    ///
    /// As [`Repository::case`], for any of the cases.
    pub fn customer_cases(&mut self, customer: &CustomerRef) -> Result<Vec<Case>, Error> {
        let ids = self.store.customer_cases(customer)?;
        self.cases(ids)
    }

    /// Every case linked to `incident`, oldest first (S6).
    ///
    /// # Errors
    ///
    /// As [`Repository::case`], for any of the cases.
    pub fn incident_cases(&mut self, incident: &IncidentId) -> Result<Vec<Case>, Error> {
        let ids = self.store.incident_cases(incident)?;
        self.cases(ids)
    }

    /// Drops a case from the cache (to bound memory); the next command reloads it.
    pub fn forget(&mut self, id: CaseId) {
        self.cache.remove(&id);
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The rules commands are decided under.
    #[must_use]
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    fn cases(&mut self, ids: Vec<CaseId>) -> Result<Vec<Case>, Error> {
        // Index answers may be newer than the cache (a link made by another writer).
        ids.into_iter().map(|id| self.refresh(id).cloned()).collect()
    }
}

/// The cached case, or the stored log replayed into the cache.
fn load<'a, S: Store>(cache: &'a mut HashMap<CaseId, Case>, store: &S, id: CaseId) -> Result<&'a mut Case, Error> {
    match cache.entry(id) {
        Entry::Occupied(entry) => Ok(entry.into_mut()),
        Entry::Vacant(entry) => {
            let events = store.read(id)?;
            if events.is_empty() {
                return Err(StoreError::UnknownCase { case: id }.into());
            }
            Ok(entry.insert(Case::replay(&events)?))
        }
    }
}

//! The in-memory store: every case's log in a map behind one lock, for tests, benches and
//! hosts that persist elsewhere.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{Appended, Batch, CrossIndex, LogIndex, Store};
use crate::error::StoreError;
use crate::event::Event;
use crate::id::{CaseId, CustomerRef, IncidentId};

/// A [`Store`] in memory: nothing survives the process.
///
/// Appends take a write lock over all cases, so writers to different cases wait for
/// each other briefly (the critical section copies the new events and nothing else);
/// reads share a read lock. Cross-case questions are answered from indexes kept on
/// append, in O(answer).
///
/// # Example
///
/// ```
/// use caseledger::{Actor, CaseId, MemoryStore, Opening, Rules, Staff, Store, StoreError};
/// use time::macros::datetime;
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let case = CaseId::new_v7(t, [1; 10]);
/// let rules = Rules::default();
/// let opened = rules.open(case, Opening::new("cust-7", "my laptop works",
///     Staff::new("ana", "software")), &Actor::Customer, t)?;
/// let store = MemoryStore::new();
/// store.append(case, 0, &[opened])?;
///
/// // A writer that still believes the case is empty is told so, and nothing is written.
/// let other = rules.open(case, Opening::new("cust-7", "a refund",
///     Staff::new("bo", "billing")), &Actor::Customer, t)?;
/// let err = store.append(case, 0, &[other]).unwrap_err();
/// assert!(matches!(err, StoreError::Conflict { expected: 0, actual: 1, .. }));
/// assert_eq!(store.customer_cases(&"cust-7".into())?, vec![case]);
/// # Ok::<(), caseledger::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    cases: BTreeMap<CaseId, CaseLog>,
    cross: CrossIndex,
}

#[derive(Debug, Default)]
struct CaseLog {
    events: Vec<Event>,
    index: LogIndex,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    // Every critical section leaves the maps consistent before anything that could fail,
    // so a lock poisoned by a panicking host thread still guards valid data.
    fn read_lock(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_lock(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

fn after(events: &[Event], version: u64) -> Vec<Event> {
    usize::try_from(version).ok().and_then(|v| events.get(v..)).map(<[Event]>::to_vec).unwrap_or_default()
}

impl Store for MemoryStore {
    fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError> {
        let mut inner = self.write_lock();
        let Inner { cases, cross } = &mut *inner;
        let plan = match cases.get(&case) {
            Some(log) => log.index.plan(Batch { case, expected, events }, |v| Ok(after(&log.events, v)))?,
            None => LogIndex::default().plan(Batch { case, expected, events }, |_| Ok(Vec::new()))?,
        };
        let new = plan.events();
        if new.is_empty() {
            return Ok(plan.appended());
        }
        let log = cases.entry(case).or_default();
        log.events.extend_from_slice(new);
        log.index.extend(new);
        for event in new {
            cross.note(event);
        }
        Ok(plan.appended())
    }

    fn read_after(&self, case: CaseId, version: u64) -> Result<Vec<Event>, StoreError> {
        Ok(self.read_lock().cases.get(&case).map(|log| after(&log.events, version)).unwrap_or_default())
    }

    fn version(&self, case: CaseId) -> Result<u64, StoreError> {
        Ok(self.read_lock().cases.get(&case).map_or(0, |log| log.index.version))
    }

    fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
        Ok(self.read_lock().cases.keys().copied().collect())
    }

    fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<CaseId>, StoreError> {
        Ok(self.read_lock().cross.customer_cases(customer))
    }

    fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<CaseId>, StoreError> {
        Ok(self.read_lock().cross.incident_cases(incident))
    }
}

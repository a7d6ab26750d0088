//! Stores: where a case's events live between commands, with optimistic concurrency and
//! idempotent appends.
//!
//! The contract is documented on [`Store`]. Two stores ship with the crate: [`MemoryStore`]
//! for tests and small hosts, and [`FileStore`], an embedded JSON Lines store that
//! survives crashes.

mod file;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::error::{LogError, StoreError};
use crate::event::{Event, EventKind};
use crate::id::{CaseId, CustomerRef, EventId, IncidentId};

pub use file::{FileStore, SetAside};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{FeedEvent, FeedLag, FeedPage, FeedPosition, ParseFeedPositionError, PgStore};

/// What an append did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Appended {
    /// The case's version (number of stored events) after the append.
    pub version: u64,
    /// How many events of the batch were newly written; the others were already stored
    /// (a retried append).
    pub written: usize,
}

/// Where a case's events are kept: append with an expected version, read back in order.
///
/// A store keeps three promises and no more:
///
/// - **Expected version.** [`Store::append`] takes the version the writer based its
///   decision on. If another writer appended first, the stale writer gets
///   [`StoreError::Conflict`] and nothing is written.
/// - **Idempotent appends.** Resending events already stored at the same positions with
///   identical content (a retry after a lost acknowledgement) is a no-op; the same id
///   with different content is [`StoreError::ChangedRetry`]. A resent batch that reaches
///   past the stored log writes only the rest.
/// - **Envelope checks.** Each event names the case, continues the sequence, and carries
///   an id not used elsewhere in the log (I5); otherwise [`StoreError::Rejected`].
///
/// A store does **not** fold events or check the case's rules: the
/// [`Repository`](crate::Repository) folds every new event before it asks the store to
/// append it, so nothing that breaks a rule is written, and a store need not understand
/// cases. A host writing its own store over its own database only has to keep the
/// three promises, usually with one transaction and a unique index on `(case, seq)`.
///
/// Versions count events: a case with no stored events is at version 0, and after its
/// `opened` event at version 1, which is also that event's sequence number. The methods
/// take `&self` so one store can be shared by many threads (`Arc<S>` is a `Store` too);
/// implementations synchronise internally.
///
/// # Example
///
/// ```
/// use caseledger::{Actor, CaseId, MemoryStore, Opening, Rules, Staff, Store};
/// use time::macros::datetime;
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let case = CaseId::new_v7(t, [1; 10]);
/// let opened = Rules::default().open(case, Opening::new("cust-7", "my laptop works",
///     Staff::new("ana", "software")), &Actor::Customer, t)?;
///
/// let store = MemoryStore::new();
/// assert_eq!(store.append(case, 0, &[opened.clone()])?.written, 1);
/// assert_eq!(store.append(case, 0, &[opened])?.written, 0, "a retry is a no-op");
/// assert_eq!(store.read(case)?.len(), 1);
/// # Ok::<(), caseledger::Error>(())
/// ```
pub trait Store: Send + Sync {
    /// Appends `events` to `case`, whose stored version the writer expects to be
    /// `expected`. The events must be `case`'s, numbered `expected + 1`, `expected + 2`, ….
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the store holds a different version (nothing is
    /// written), [`StoreError::ChangedRetry`] when an event id is stored at the same
    /// position with other content, [`StoreError::Rejected`] when the batch does not
    /// continue the log, and the store's own failures ([`StoreError::Io`]).
    fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError>;

    /// The events of `case` after version `after` (sequence numbers `after + 1` …), in
    /// order. Empty for a case the store does not hold.
    ///
    /// # Errors
    ///
    /// The store's own failures: [`StoreError::Io`], or [`StoreError::Corrupt`] when
    /// stored data no longer decodes.
    fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError>;

    /// The stored version of `case`: its number of events, 0 if unknown.
    ///
    /// # Errors
    ///
    /// The store's own failures.
    fn version(&self, case: CaseId) -> Result<u64, StoreError>;

    /// Every case the store holds, in id order (for v7 ids: opening order).
    ///
    /// # Errors
    ///
    /// The store's own failures.
    fn cases(&self) -> Result<Vec<CaseId>, StoreError>;

    /// All events of `case`, in order. Empty for a case the store does not hold.
    ///
    /// # Errors
    ///
    /// As [`Store::read_after`].
    fn read(&self, case: CaseId) -> Result<Vec<Event>, StoreError> {
        self.read_after(case, 0)
    }

    /// Every case opened for `customer`, in id order (S3: "treat me like you know me").
    ///
    /// The default reads the first event of every case: O(number of cases) reads.
    /// [`MemoryStore`] and [`FileStore`] answer from an index in O(answer).
    ///
    /// # Errors
    ///
    /// The store's own failures.
    fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<CaseId>, StoreError> {
        let mut found = Vec::new();
        for case in self.cases()? {
            let events = self.read(case)?;
            if let Some(EventKind::Opened { customer: c, .. }) = events.first().map(|e| &e.what) {
                if c == customer {
                    found.push(case);
                }
            }
        }
        Ok(found)
    }

    /// Every case linked to `incident`, in id order (S6).
    ///
    /// The default reads every event of every case: O(all stored events).
    /// [`MemoryStore`] and [`FileStore`] answer from an index in O(answer).
    ///
    /// # Errors
    ///
    /// The store's own failures.
    fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<CaseId>, StoreError> {
        let mut found = Vec::new();
        for case in self.cases()? {
            let linked = self
                .read(case)?
                .iter()
                .any(|e| matches!(&e.what, EventKind::IncidentLinked { incident: i } if i == incident));
            if linked {
                found.push(case);
            }
        }
        Ok(found)
    }
}

macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        impl<T: Store + ?Sized> Store for $ty {
            fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError> {
                (**self).append(case, expected, events)
            }
            fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError> {
                (**self).read_after(case, after)
            }
            fn version(&self, case: CaseId) -> Result<u64, StoreError> {
                (**self).version(case)
            }
            fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
                (**self).cases()
            }
            fn read(&self, case: CaseId) -> Result<Vec<Event>, StoreError> {
                (**self).read(case)
            }
            fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<CaseId>, StoreError> {
                (**self).customer_cases(customer)
            }
            fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<CaseId>, StoreError> {
                (**self).incident_cases(incident)
            }
        }
    )*};
}

forward_store!(&T, Arc<T>, Box<T>);

/// What a store remembers about one case's log to check appends without reading it:
/// its version and which event id sits at which position.
#[derive(Debug, Default)]
struct LogIndex {
    ids: HashMap<EventId, u64>,
    version: u64,
}

impl LogIndex {
    /// Checks that `event` continues this log; used when loading a stored log.
    fn push(&mut self, case: CaseId, event: &Event) -> Result<(), LogError> {
        let expected = self.version.saturating_add(1);
        follows(case, expected, event)?;
        if let Some(&first) = self.ids.get(&event.id) {
            return Err(LogError::DuplicateEventId { seq: event.seq, id: event.id, first });
        }
        self.ids.insert(event.id, event.seq);
        self.version = expected;
        Ok(())
    }

    /// Decides what of `events` (based on version `expected`) must be written, without
    /// changing anything: returns how many leading events are already stored.
    ///
    /// `stored_after` reads the stored events after a version; it is only called when the
    /// batch overlaps what is stored, which happens on retries and conflicts.
    fn plan(
        &self,
        case: CaseId,
        expected: u64,
        events: &[Event],
        stored_after: impl FnOnce(u64) -> Result<Vec<Event>, StoreError>,
    ) -> Result<usize, StoreError> {
        let actual = self.version;
        let conflict = || StoreError::Conflict { case, expected, actual };
        if expected > actual {
            return Err(conflict());
        }
        if events.is_empty() {
            return Ok(0);
        }
        let mut next = expected;
        let mut batch_ids = BTreeMap::new();
        for event in events {
            next = next.saturating_add(1);
            let rejected = |source| StoreError::Rejected { case, source: Box::new(source) };
            follows(case, next, event).map_err(rejected)?;
            if let Some(first) = batch_ids.insert(event.id, event.seq) {
                return Err(rejected(LogError::DuplicateEventId { seq: event.seq, id: event.id, first }));
            }
            if let Some(&first) = self.ids.get(&event.id).filter(|&&first| first != event.seq) {
                return Err(rejected(LogError::DuplicateEventId { seq: event.seq, id: event.id, first }));
            }
        }
        if expected == actual {
            return Ok(0);
        }
        // The batch starts inside the stored log: it is a retry only if every overlapping
        // event is already stored, identically, at its position.
        let stored = stored_after(expected)?;
        let mut already = 0;
        for (new, old) in events.iter().zip(&stored) {
            if new.id != old.id {
                return Err(conflict());
            }
            if new != old {
                return Err(StoreError::ChangedRetry { case, seq: old.seq, id: old.id });
            }
            already += 1;
        }
        // A batch that matches what is stored and ends inside it is a retry of exactly
        // what it sent: the writer is not stale for those events, so no conflict.
        Ok(already)
    }

    /// Records events just written.
    fn extend(&mut self, events: &[Event]) {
        for event in events {
            self.ids.insert(event.id, event.seq);
            self.version = self.version.max(event.seq);
        }
    }
}

/// Checks that `event` is `case`'s event number `seq`.
fn follows(case: CaseId, seq: u64, event: &Event) -> Result<(), LogError> {
    if event.case != case {
        return Err(LogError::ForeignCase { seq: event.seq, expected: case, found: event.case });
    }
    if event.seq != seq {
        return Err(LogError::SequenceGap { expected: seq, found: event.seq });
    }
    Ok(())
}

/// The cross-case indexes: a customer's cases and an incident's cases.
#[derive(Debug, Default)]
struct CrossIndex {
    customers: BTreeMap<CustomerRef, BTreeSet<CaseId>>,
    incidents: BTreeMap<IncidentId, BTreeSet<CaseId>>,
}

impl CrossIndex {
    fn note(&mut self, event: &Event) {
        match &event.what {
            EventKind::Opened { customer, .. } => {
                self.customers.entry(customer.clone()).or_default().insert(event.case);
            }
            EventKind::IncidentLinked { incident } => {
                self.incidents.entry(incident.clone()).or_default().insert(event.case);
            }
            _ => {}
        }
    }

    fn customer_cases(&self, customer: &CustomerRef) -> Vec<CaseId> {
        self.customers.get(customer).map(|s| s.iter().copied().collect()).unwrap_or_default()
    }

    fn incident_cases(&self, incident: &IncidentId) -> Vec<CaseId> {
        self.incidents.get(incident).map(|s| s.iter().copied().collect()).unwrap_or_default()
    }
}

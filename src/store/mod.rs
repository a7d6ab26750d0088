//! Stores: where a case's events live between commands, with optimistic concurrency and
//! idempotent appends.
//!
//! The contract is documented on [`Store`]. Two stores ship with the crate: [`MemoryStore`]
//! for tests and small hosts, and [`FileStore`], an embedded JSON Lines store that
//! survives crashes. With feature `async`, [`AsyncStore`] is the same contract awaited;
//! with feature `postgres`, `PgStore` keeps cases in PostgreSQL and serves a feed of
//! every event in commit order (`FeedPosition`, `FeedPage`).
//!
//! The append rules are one pure piece, [`AppendCheck`]: given a batch and what a store
//! read under its lock or in its transaction, it decides what to write
//! ([`AppendPlan`]), so every store, sync or async, in memory, on files or over SQL,
//! keeps the same promises. A host writing its own store calls it too, and checks the
//! result with the conformance suite (`testkit::conformance`, feature `testkit`).

mod append;
#[cfg(feature = "async")]
mod async_store;
mod file;
mod line;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::error::{LogError, StoreError};
use crate::event::{Event, EventKind};
use crate::fnv::IdHashing;
use crate::id::{CaseId, CustomerRef, EventId, IncidentId};

pub use crate::case::Snapshot;
pub use append::{AppendCheck, AppendPlan, Batch};
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use async_store::AsyncStore;
pub use file::{DamageReport, FileStore, Quarantined, SetAside};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub(crate) use postgres::{decode_row, run_schema};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{FeedBarrier, FeedEvent, FeedLag, FeedPage, FeedPosition, ParseFeedPositionError, PgStore};

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

impl Appended {
    /// What an append returns: the case's `version` after it, and how many events of
    /// the batch it newly `written`. A host's store usually gets it from
    /// [`AppendPlan::appended`].
    #[must_use]
    pub const fn new(version: u64, written: usize) -> Self {
        Self { version, written }
    }
}

/// What a cold load reads ([`Store::load`]): the case's stored snapshot, if the store
/// keeps one, and the log's events from the snapshot's version on (the event at that
/// version included, so the repository can check the log still holds the event the
/// snapshot ends on), or the whole log when there is no snapshot.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Loaded {
    /// The stored snapshot, unchecked: the repository checks it and ignores it if any
    /// check fails.
    pub snapshot: Option<Snapshot>,
    /// The events after `snapshot.version() - 1`, or after 0 without a snapshot.
    pub events: Vec<Event>,
}

impl Loaded {
    /// A load: `snapshot` and the events from its version on (see [`Loaded`]).
    #[must_use]
    pub fn new(snapshot: Option<Snapshot>, events: Vec<Event>) -> Self {
        Self { snapshot, events }
    }

    /// The version a store reads the log after for `snapshot`: one before the
    /// snapshot's own version, or 0 without one.
    #[must_use]
    pub fn read_after(snapshot: Option<&Snapshot>) -> u64 {
        snapshot.map_or(0, |s| s.version().saturating_sub(1))
    }
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
/// three promises, and [`AppendCheck`] keeps them for it (see below).
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
///     Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?;
///
/// let store = MemoryStore::new();
/// assert_eq!(store.append(case, 0, &[opened.clone()])?.written, 1);
/// assert_eq!(store.append(case, 0, &[opened])?.written, 0, "a retry is a no-op");
/// assert_eq!(store.read(case)?.len(), 1);
/// # Ok::<(), caseledger::Error>(())
/// ```
///
/// # Writing a store over your own database
///
/// Do the I/O; let [`AppendCheck`] decide. The append rules are one pure piece that
/// takes what the store read and says what to write, so a store over SQL is its SQL and
/// little else. In one transaction: lock the case and read its version, read the stored
/// events the batch overlaps if [`AppendCheck::overlap`] asks for any (only on retries
/// and lost races), call [`AppendCheck::decide`], check the new events' ids with
/// [`AppendPlan::check_unique_ids`], insert [`AppendPlan::events`], commit, and return
/// [`AppendPlan::appended`]. The pieces are plain values, so the same calls work in
/// `async` code between `.await`s. Report the database's own failures as
/// [`StoreError::Backend`] (built with [`StoreError::backend`]).
///
/// A schema that fits: `events (case_id, seq, event_id, body)` with primary key
/// `(case_id, seq)`, which also catches a writer that skipped the lock, and a unique
/// index on `(case_id, event_id)`; a row per case holding its version to lock (`SELECT
/// version … FOR UPDATE`). Stored events must read back equal (`==`) to what was
/// written, or a retry looks changed. The `Vec` behind a `Mutex` below stands for the
/// table and the transaction. Check a store with the conformance suite,
/// `caseledger::testkit::conformance::check_store` (feature `testkit`).
///
/// ```
/// use std::collections::BTreeSet;
/// use std::sync::Mutex;
/// use caseledger::{error::StoreError, store::{AppendCheck, Appended}, CaseId, Event, Store};
///
/// #[derive(Default)]
/// struct Table {
///     rows: Mutex<Vec<Event>>,
/// }
///
/// impl Store for Table {
///     fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError> {
///         // BEGIN; SELECT version FROM cases WHERE case_id = $1 FOR UPDATE
///         let mut rows = self.rows.lock().map_err(|e| StoreError::backend(e.to_string()))?;
///         let version = rows.iter().filter(|e| e.case == case).count() as u64;
///         let check = AppendCheck::new(case, expected, events);
///         let stored: Vec<Event> = match check.overlap(version)? {
///             // SELECT body FROM events WHERE case_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq
///             Some(seqs) => rows.iter().filter(|e| e.case == case && seqs.contains(&e.seq)).cloned().collect(),
///             None => Vec::new(),
///         };
///         let plan = check.decide(version, &stored)?;
///         // SELECT event_id, seq FROM events WHERE case_id = $1 AND event_id = ANY($2)
///         let reused = rows.iter().filter(|e| e.case == case && plan.events().iter().any(|n| n.id == e.id));
///         plan.check_unique_ids(reused.map(|e| (e.id, e.seq)))?;
///         // INSERT INTO events …; UPDATE cases SET version = $2 …; COMMIT
///         rows.extend_from_slice(plan.events());
///         Ok(plan.appended())
///     }
///
///     fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError> {
///         let rows = self.rows.lock().map_err(|e| StoreError::backend(e.to_string()))?;
///         Ok(rows.iter().filter(|e| e.case == case && e.seq > after).cloned().collect())
///     }
///
///     fn version(&self, case: CaseId) -> Result<u64, StoreError> {
///         Ok(self.read(case)?.len() as u64)
///     }
///
///     fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
///         let rows = self.rows.lock().map_err(|e| StoreError::backend(e.to_string()))?;
///         Ok(rows.iter().map(|e| e.case).collect::<BTreeSet<_>>().into_iter().collect())
///     }
/// }
///
/// # use caseledger::{Actor, Opening, Rules, Staff};
/// # let t = time::macros::datetime!(2026-11-23 09:00 UTC);
/// # let case = CaseId::new_v7(t, [1; 10]);
/// # let opened = Rules::default().open(case, Opening::new("cust-7", "my laptop works",
/// #     Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?;
/// let table = Table::default();
/// assert_eq!(table.append(case, 0, &[opened.clone()])?, Appended::new(1, 1));
/// assert_eq!(table.append(case, 0, &[opened])?, Appended::new(1, 0), "a retry is a no-op");
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
    /// continue the log, and the store's own failures ([`StoreError::Io`],
    /// [`StoreError::Backend`]).
    fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError>;

    /// The events of `case` after version `after` (sequence numbers `after + 1` …), in
    /// order. Empty for a case the store does not hold.
    ///
    /// # Errors
    ///
    /// The store's own failures: [`StoreError::Io`] or [`StoreError::Backend`], or
    /// [`StoreError::Corrupt`] when stored data no longer decodes.
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

    /// Several cases' events in one call: for each `(case, after)` of `reads`, the
    /// events of `case` after version `after`, in order, exactly as
    /// [`Store::read_after`] gives them. The answer has one entry per read, in the order
    /// of `reads` (an empty one for a case the store does not hold).
    ///
    /// The repositories bring every case of a customer or an incident up to date with
    /// one call ([`Repository::customer_cases`](crate::Repository::customer_cases)). The
    /// default calls [`Store::read_after`] once per read, so a host's store need not
    /// implement it; [`MemoryStore`] and [`FileStore`] answer under one lookup of their
    /// case maps, and `PgStore` in one query.
    ///
    /// # Errors
    ///
    /// As [`Store::read_after`], for any of the reads; the first failure ends the call.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{Actor, CaseId, MemoryStore, Opening, Rules, Staff, Store};
    /// use time::macros::datetime;
    ///
    /// let t = datetime!(2026-11-23 09:00 UTC);
    /// let store = MemoryStore::new();
    /// let (a, b) = (CaseId::new_v7(t, [1; 10]), CaseId::new_v7(t, [2; 10]));
    /// for case in [a, b] {
    ///     let opened = Rules::default().open(case, Opening::new("cust-7", "my laptop works",
    ///         Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?;
    ///     store.append(case, 0, &[opened])?;
    /// }
    /// let answers = store.read_after_many(&[(a, 0), (b, 1)])?;
    /// assert_eq!(answers.len(), 2);
    /// assert_eq!(answers[0].len(), 1, "a's opening");
    /// assert!(answers[1].is_empty(), "nothing after b's version 1");
    /// # Ok::<(), caseledger::Error>(())
    /// ```
    fn read_after_many(&self, reads: &[(CaseId, u64)]) -> Result<Vec<Vec<Event>>, StoreError> {
        reads.iter().map(|&(case, after)| self.read_after(case, after)).collect()
    }

    /// Keeps `snapshot` as its case's latest (see [`Snapshot`]), unless the store holds
    /// one at the same or a later version; `Ok(false)` when the store keeps no snapshots.
    ///
    /// The default keeps none, so a store that does not implement snapshots works as
    /// before: every cold load folds the whole log. A snapshot is a cache: losing one
    /// loses nothing, and writing one never touches the log.
    ///
    /// # Errors
    ///
    /// The store's own failures. The repository reports them
    /// ([`SnapshotStats`](crate::repository::SnapshotStats)) and never fails a command
    /// for them.
    fn write_snapshot(&self, snapshot: &Snapshot) -> Result<bool, StoreError> {
        let _ = snapshot;
        Ok(false)
    }

    /// The latest snapshot kept for `case`, as stored (unchecked). The default keeps
    /// none.
    ///
    /// # Errors
    ///
    /// The store's own failures.
    fn read_snapshot(&self, case: CaseId) -> Result<Option<Snapshot>, StoreError> {
        let _ = case;
        Ok(None)
    }

    /// A cold load of `case`: its snapshot and the events from the snapshot's version
    /// on ([`Loaded`]). The default is [`Store::read_snapshot`], then
    /// [`Store::read_after`] `Loaded::read_after(snapshot)`; a database store does both
    /// in one round trip.
    ///
    /// # Errors
    ///
    /// As [`Store::read_after`].
    fn load(&self, case: CaseId) -> Result<Loaded, StoreError> {
        let snapshot = self.read_snapshot(case)?;
        let events = self.read_after(case, Loaded::read_after(snapshot.as_ref()))?;
        Ok(Loaded { snapshot, events })
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
            fn read_after_many(&self, reads: &[(CaseId, u64)]) -> Result<Vec<Vec<Event>>, StoreError> {
                (**self).read_after_many(reads)
            }
            fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<CaseId>, StoreError> {
                (**self).customer_cases(customer)
            }
            fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<CaseId>, StoreError> {
                (**self).incident_cases(incident)
            }
            fn write_snapshot(&self, snapshot: &Snapshot) -> Result<bool, StoreError> {
                (**self).write_snapshot(snapshot)
            }
            fn read_snapshot(&self, case: CaseId) -> Result<Option<Snapshot>, StoreError> {
                (**self).read_snapshot(case)
            }
            fn load(&self, case: CaseId) -> Result<Loaded, StoreError> {
                (**self).load(case)
            }
        }
    )*};
}

forward_store!(&T, Arc<T>, Box<T>);

/// What a store remembers about one case's log to check appends without reading it:
/// its version and which event id sits at which position.
#[derive(Clone, Debug, Default)]
struct LogIndex {
    ids: HashMap<EventId, u64, IdHashing>,
    version: u64,
}

impl LogIndex {
    /// Checks that `event` continues this log; used when loading a stored log.
    fn push(&mut self, case: CaseId, event: &Event) -> Result<(), LogError> {
        let expected = self.version.saturating_add(1);
        append::follows(case, expected, event)?;
        if let Some(&first) = self.ids.get(&event.id) {
            return Err(LogError::DuplicateEventId { seq: event.seq, id: event.id, first });
        }
        self.ids.insert(event.id, event.seq);
        self.version = expected;
        Ok(())
    }

    /// Decides an append with the public rules ([`AppendCheck`]) against this index,
    /// which knows the version and every stored id. `stored_after` reads the stored
    /// events after a version; it is only called when the batch overlaps what is
    /// stored, which happens on retries and conflicts.
    fn plan<'a>(
        &self,
        batch: Batch<'a>,
        stored_after: impl FnOnce(u64) -> Result<Vec<Event>, StoreError>,
    ) -> Result<AppendPlan<'a>, StoreError> {
        let check = AppendCheck::from(batch);
        let seqs = check.overlap(self.version)?;
        let stored = match &seqs {
            Some(seqs) => stored_after(seqs.start().saturating_sub(1))?,
            None => Vec::new(),
        };
        let plan = check.decide_checked(self.version, seqs, &stored)?;
        plan.check_unique_ids(plan.events().iter().filter_map(|e| self.ids.get(&e.id).map(|&seq| (e.id, seq))))?;
        Ok(plan)
    }

    /// Records events just written.
    fn extend(&mut self, events: &[Event]) {
        for event in events {
            self.ids.insert(event.id, event.seq);
            self.version = self.version.max(event.seq);
        }
    }
}

/// The cross-case indexes: a customer's cases and an incident's cases.
#[derive(Debug, Default)]
struct CrossIndex {
    customers: BTreeMap<CustomerRef, BTreeSet<CaseId>>,
    incidents: BTreeMap<IncidentId, BTreeSet<CaseId>>,
}

impl CrossIndex {
    /// Whether [`CrossIndex::note`] records anything for `event`: an opening (its
    /// customer) or an incident link. Every other event leaves the indexes as they are,
    /// so a store need not take their lock for it.
    #[inline]
    fn indexes(event: &Event) -> bool {
        matches!(event.what, EventKind::Opened { .. } | EventKind::IncidentLinked { .. })
    }

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

//! The append rules as one pure piece: given a batch and what a store read under its
//! lock or in its transaction, decide what to write. No I/O happens here, so a store in
//! memory, on files or over SQL (sync or async) calls the same code.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use super::Appended;
use crate::error::{LogError, StoreError};
use crate::event::Event;
use crate::id::{CaseId, EventId};

/// Batches up to this many events are checked for repeated ids pair by pair, with no map.
const SMALL_BATCH: usize = 8;

/// One append: `events` for `case`, decided on the case at version `expected`.
///
/// The one spelling of "what to append": the repository core asks its driver to append
/// one ([`PendingAppend::batch`](crate::repository::PendingAppend::batch)), the driver hands its
/// parts to [`Store::append`](super::Store::append) (which keeps three arguments, so a
/// host's store implements a plain signature), and the store checks it with
/// [`AppendCheck`] (`AppendCheck::from(batch)`).
///
/// The events must be `case`'s, numbered `expected + 1`, `expected + 2`, …; the store
/// checks that, not the batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Batch<'a> {
    /// The case appended to.
    pub case: CaseId,
    /// The version the writer based the events on: the case's stored version it expects.
    pub expected: u64,
    /// The events, in order.
    pub events: &'a [Event],
}

impl<'a> From<Batch<'a>> for AppendCheck<'a> {
    fn from(batch: Batch<'a>) -> Self {
        Self::new(batch.case, batch.expected, batch.events)
    }
}

/// One append, checked against the [`Store`](super::Store) contract without touching
/// the store: the built-in stores and any host store decide every append with it.
///
/// A store drives it in three steps, all inside one lock or transaction:
///
/// 1. Read the case's stored version, locked against other writers (`SELECT … FOR
///    UPDATE` on a row per case, a mutex).
/// 2. [`AppendCheck::overlap`] checks the batch against that version and says whether
///    the batch reaches into the stored log and, if so, which stored events (by
///    sequence number) to read. Usually it does not: a writer appends at the end.
/// 3. [`AppendCheck::decide`] takes the version and those events and returns an
///    [`AppendPlan`]: the events to write (a retry writes only what is not stored yet)
///    and the [`Appended`] to return. [`AppendPlan::check_unique_ids`] then checks that
///    no event to write reuses an id stored elsewhere in the case's log.
///
/// The outcomes, in the order they are decided:
///
/// | situation | result |
/// |---|---|
/// | `expected` is above the stored version | [`StoreError::Conflict`] |
/// | an event of another case, a sequence gap from `expected`, an id twice in the batch | [`StoreError::Rejected`] |
/// | an overlapping position holds another event id | [`StoreError::Conflict`] |
/// | an overlapping position holds the same id with other content | [`StoreError::ChangedRetry`] |
/// | an event to write reuses an id stored at another position | [`StoreError::Rejected`] |
/// | otherwise | write [`AppendPlan::events`], return [`AppendPlan::appended`] |
///
/// # Example
///
/// A store over a "table" of rows, as a SQL store would do it in one transaction:
///
/// ```
/// use caseledger::{
///     error::StoreError, event::Visibility, store::AppendCheck, Actor, CaseId, Command, Case,
///     Opening, Rules, Staff,
/// };
/// use time::macros::datetime;
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let case = CaseId::new_v7(t, [1; 10]);
/// let rules = Rules::default();
/// let opened = rules.open(case, Opening::new("cust-7", "my laptop works",
///     Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?;
/// let note = rules.decide(&Case::from_opened(&opened)?, Command::AddNote {
///     text: "tried safe mode".into(), visibility: Visibility::Internal,
/// }, &Actor::Staff(Staff::new("ana", "software")), t)?;
///
/// let mut table = vec![opened.clone()]; // stored rows of this case, ordered by seq
///
/// // A writer lost the acknowledgement of its first append and resends everything.
/// let batch = [opened, note[0].clone()];
/// let check = AppendCheck::new(case, 0, &batch);
/// let version = table.len() as u64;                          // 1. SELECT the version FOR UPDATE
/// let stored: Vec<_> = match check.overlap(version)? {       // 2. SELECT the overlap, if any
///     Some(seqs) => table.iter().filter(|e| seqs.contains(&e.seq)).cloned().collect(),
///     None => Vec::new(),
/// };
/// assert_eq!(stored.len(), 1, "position 1 is stored: read it");
/// let plan = check.decide(version, &stored)?;                // 3. the pure decision
/// plan.check_unique_ids(table.iter().filter(|e| plan.events().iter().any(|n| n.id == e.id))
///     .map(|e| (e.id, e.seq)))?;
/// table.extend_from_slice(plan.events());                    // INSERT the rest
/// let appended = plan.appended();                            // COMMIT, then return
/// assert_eq!((appended.version, appended.written), (2, 1));
/// # Ok::<(), caseledger::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AppendCheck<'a> {
    case: CaseId,
    expected: u64,
    events: &'a [Event],
}

impl<'a> AppendCheck<'a> {
    /// The append of `events` to `case` by a writer who saw the case at version
    /// `expected`. Nothing is checked yet: the rules need the stored version.
    #[must_use]
    pub fn new(case: CaseId, expected: u64, events: &'a [Event]) -> Self {
        Self { case, expected, events }
    }

    /// The batch to check.
    #[must_use]
    pub fn batch(&self) -> Batch<'a> {
        Batch { case: self.case, expected: self.expected, events: self.events }
    }

    /// Which stored events [`AppendCheck::decide`] needs, given the case's stored
    /// `version`: `None` when the batch starts at the end of the log (the usual append)
    /// or is empty; otherwise the sequence numbers of the stored events the batch
    /// overlaps (a retry, or a lost race), which the store reads before deciding.
    ///
    /// # Errors
    ///
    /// - [`StoreError::Conflict`] when `expected` is above `version`: the writer saw a
    ///   version the store never had.
    /// - [`StoreError::Rejected`] when the batch does not continue from `expected`:
    ///   carrying [`LogError::ForeignCase`], [`LogError::SequenceGap`] or
    ///   [`LogError::DuplicateEventId`] (an id twice in the batch) for the first event
    ///   that breaks a rule.
    pub fn overlap(&self, version: u64) -> Result<Option<RangeInclusive<u64>>, StoreError> {
        if self.expected > version {
            return Err(self.conflict(version));
        }
        self.check_envelope()?;
        Ok(self.overlapping(version))
    }

    /// The stored sequence numbers the batch overlaps, once `overlap`'s checks passed.
    fn overlapping(&self, version: u64) -> Option<RangeInclusive<u64>> {
        let stored_after = version.saturating_sub(self.expected);
        let len = u64::try_from(self.events.len()).unwrap_or(u64::MAX);
        let overlapping = stored_after.min(len);
        (overlapping > 0).then(|| self.expected.saturating_add(1)..=self.expected.saturating_add(overlapping))
    }

    fn check_envelope(&self) -> Result<(), StoreError> {
        let case = self.case;
        let rejected = |source| StoreError::Rejected { case, source: Box::new(source) };
        // A command decides one event or a few (overrides before it), so a small batch
        // looks for a repeated id among the events before each one instead of building
        // a map; either way the first event that breaks a rule is the one reported.
        let mut ids = (self.events.len() > SMALL_BATCH).then(BTreeMap::new);
        let mut next = self.expected;
        for (i, event) in self.events.iter().enumerate() {
            next = next.saturating_add(1);
            follows(case, next, event).map_err(rejected)?;
            let first = match &mut ids {
                Some(ids) => ids.insert(event.id, event.seq),
                None => self.events.get(..i).unwrap_or_default().iter().find(|e| e.id == event.id).map(|e| e.seq),
            };
            if let Some(first) = first {
                return Err(rejected(LogError::DuplicateEventId { seq: event.seq, id: event.id, first }));
            }
        }
        Ok(())
    }

    /// Decides the append, given the case's stored `version` (read under the store's
    /// lock, or in its transaction) and the stored events [`AppendCheck::overlap`] asked
    /// for, in sequence order (pass `&[]` when it asked for none; stored events after the
    /// asked-for ones are ignored, so a store may pass everything after `expected`).
    ///
    /// # Errors
    ///
    /// - As [`AppendCheck::overlap`]: [`StoreError::Conflict`] when `expected` is above
    ///   `version`, [`StoreError::Rejected`] when the batch does not continue from
    ///   `expected`.
    /// - [`StoreError::Conflict`]: a position the batch overlaps holds another event id
    ///   (another writer appended first).
    /// - [`StoreError::ChangedRetry`]: an overlapping position holds the same event id
    ///   with other content.
    /// - [`StoreError::Backend`]: `stored` does not hold the events asked for (the store
    ///   read the wrong rows); nothing should be written.
    pub fn decide(&self, version: u64, stored: &[Event]) -> Result<AppendPlan<'a>, StoreError> {
        let seqs = self.overlap(version)?;
        self.decide_checked(version, seqs, stored)
    }

    /// [`AppendCheck::decide`] once [`AppendCheck::overlap`] passed and gave `seqs`: the
    /// stores that call both check the batch once.
    pub(super) fn decide_checked(
        &self,
        version: u64,
        seqs: Option<RangeInclusive<u64>>,
        stored: &[Event],
    ) -> Result<AppendPlan<'a>, StoreError> {
        let Some(seqs) = seqs else {
            let written = if self.expected == version { self.events.len() } else { 0 };
            let rest = self.events.get(self.events.len().saturating_sub(written)..).unwrap_or_default();
            return Ok(self.plan(version, rest));
        };
        let mut already = 0;
        let mut stored = stored.iter();
        for (new, seq) in self.events.iter().zip(seqs) {
            let Some(old) = stored.next() else {
                let (case, first) = (self.case, self.expected.saturating_add(1));
                return Err(StoreError::backend(format!(
                    "case {case}: deciding the append needs the stored events from {first} on; event {seq} was not given"
                )));
            };
            follows(self.case, seq, old).map_err(StoreError::backend)?;
            if new.id != old.id {
                return Err(self.conflict(version));
            }
            if new != old {
                return Err(StoreError::ChangedRetry { case: self.case, seq, id: old.id });
            }
            already += 1;
        }
        // A batch that matches what is stored and ends inside it is a retry of exactly
        // what it sent: the writer is not stale for those events, so no conflict.
        Ok(self.plan(version, self.events.get(already..).unwrap_or_default()))
    }

    fn plan(&self, version: u64, rest: &'a [Event]) -> AppendPlan<'a> {
        let written = u64::try_from(rest.len()).unwrap_or(u64::MAX);
        AppendPlan {
            case: self.case,
            events: rest,
            appended: Appended::new(version.saturating_add(written), rest.len()),
        }
    }

    fn conflict(&self, actual: u64) -> StoreError {
        StoreError::Conflict { case: self.case, expected: self.expected, actual }
    }
}

/// What [`AppendCheck::decide`] decided: the events to write and what the append
/// returns once they are written.
#[derive(Clone, Copy, Debug, PartialEq)]
#[must_use = "a plan writes nothing by itself: write its events, then return `appended()`"]
pub struct AppendPlan<'a> {
    case: CaseId,
    events: &'a [Event],
    appended: Appended,
}

impl<'a> AppendPlan<'a> {
    /// The events to write, in order, right after the stored log: the part of the batch
    /// that is not stored yet. Empty for a retry of events already stored.
    #[must_use]
    pub fn events(&self) -> &'a [Event] {
        self.events
    }

    /// What [`Store::append`](super::Store::append) returns once [`AppendPlan::events`]
    /// are durably written.
    #[must_use]
    pub fn appended(&self) -> Appended {
        self.appended
    }

    /// Checks that no event to write reuses an event id stored elsewhere in the case's
    /// log (I5). `stored` lists `(id, seq)` of the case's stored events whose id is
    /// among [`AppendPlan::events`]; extra pairs with other ids are ignored.
    ///
    /// A store that keeps its ids in memory looks them up. A SQL store either selects
    /// them before inserting (`SELECT event_id, seq FROM events WHERE case_id = $1 AND
    /// event_id = ANY($2)`), or lets a unique index on `(case_id, event_id)` refuse the
    /// insert and, on that violation (match the SQLSTATE and the constraint's name, then
    /// roll back to a savepoint), runs the same select and passes its rows here, so that
    /// every store reports the same error.
    ///
    /// # Errors
    ///
    /// [`StoreError::Rejected`] carrying [`LogError::DuplicateEventId`] for the first
    /// event to write whose id is stored.
    pub fn check_unique_ids(&self, stored: impl IntoIterator<Item = (EventId, u64)>) -> Result<(), StoreError> {
        // Usually empty (no id is reused), so no map: the pairs are few and the events a
        // command's handful.
        let mut stored = stored.into_iter().peekable();
        if stored.peek().is_none() {
            return Ok(());
        }
        let stored: Vec<(EventId, u64)> = stored.collect();
        // As a map would keep them: the last pair given for an id counts.
        let index: Option<BTreeMap<EventId, u64>> =
            (stored.len() > SMALL_BATCH).then(|| stored.iter().copied().collect());
        for event in self.events {
            let first = match &index {
                Some(index) => index.get(&event.id).copied(),
                None => stored.iter().rev().find(|(id, _)| *id == event.id).map(|&(_, seq)| seq),
            };
            if let Some(first) = first {
                let source = LogError::DuplicateEventId { seq: event.seq, id: event.id, first };
                return Err(StoreError::Rejected { case: self.case, source: Box::new(source) });
            }
        }
        Ok(())
    }
}

/// Checks that `event` is `case`'s event number `seq`.
pub(super) fn follows(case: CaseId, seq: u64, event: &Event) -> Result<(), LogError> {
    if event.case != case {
        return Err(LogError::ForeignCase { seq: event.seq, expected: case, found: event.case });
    }
    if event.seq != seq {
        return Err(LogError::SequenceGap { expected: seq, found: event.seq });
    }
    Ok(())
}

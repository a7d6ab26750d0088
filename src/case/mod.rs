//! The case: the state folded from a log, and the rules every event must keep.
//!
//! A [`Case`] is made of named parts, each in its own file:
//!
//! - `invariants.rs`: every rule an event must keep to fold, each tagged with its invariant
//!   (I1–I8) or story; [`Rules::decide`](crate::Rules::decide) runs the same checks;
//! - `evolve.rs`: the fold itself ([`Case::from_opened`], [`Case::replay`],
//!   [`Case::apply`]), O(1) in the length of history;
//! - `owner.rs`: the owner history (current owner, previous owners, departments left,
//!   every change of owner);
//! - `keys.rs`: the idempotency keys the case remembers;
//! - `snapshot.rs`: the plain values a host reads ([`WorkItem`], [`Fact`],
//!   [`Reachability`], [`Counters`], [`Moments`]);
//! - `saved.rs`: the stored [`Snapshot`] of a whole case, which only the crate builds
//!   and restores, each restore checked ([`SnapshotRejection`]).
//!
//! This file holds the type and its accessors. The fold reads no clock, file or random
//! source (I7), so replaying the same log always yields the same case. The same rule
//! check runs when a command is decided and when an event is folded, so a log that was
//! never decided by this crate (imported, edited, forged) is held to the same invariants.
//!
//! Where a case and its work stand are the [`Status`], the customer's [`OutcomeState`]
//! and each [`WorkItem`]'s [`WorkState`]; they are kept apart from the fold, in a file of
//! their own, so a refusal can name a status
//! ([`Refusal::CaseClosed`]) without importing the case.

mod evolve;
mod invariants;
mod keys;
mod owner;
mod saved;
mod snapshot;

use std::collections::{BTreeMap, VecDeque};
use std::ops::RangeInclusive;

use serde::Serialize;
use time::OffsetDateTime;

use crate::actor::{Actor, Staff};
use crate::command::Command;
use crate::error::Refusal;
use crate::event::{Channel, Voice};
use crate::id::{CaseId, CustomerRef, Department, IdempotencyKey, IncidentId, WorkItemId};

pub(crate) use invariants::{check_outcome, unique_ids};
use keys::KeyMemory;
pub use owner::Acquisition;
use owner::OwnerHistory;
pub use saved::{Snapshot, SnapshotRejection};
pub use snapshot::{Counters, Fact, Moments, Reachability, WorkItem};

pub use crate::status::{OutcomeState, Status, WorkState};

/// One customer's problem, as folded from its log.
///
/// A `Case` is built by [`Case::replay`] (a whole log) or [`Case::from_opened`] (the
/// first event) and advanced by [`Case::apply`]. New events come from
/// [`Rules::decide`](crate::Rules::decide). Its memory depends on the number of work
/// items, facts, channels, incidents and distinct past owners, not on the number of
/// events, with two bounded or small exceptions: the latest
/// [`Case::IDEMPOTENCY_KEYS_KEPT`] idempotency keys, and 16 bytes per change of owner
/// (for [`Case::owner_at`], which lets a timeline page be built from its own events).
///
/// A case serialises (for a host's read model or a debug dump) but does not deserialise:
/// the only way to get one is to fold a log, so every case has passed the invariants.
/// A stored [`Snapshot`] does not change that: it is opaque, only the crate builds and
/// restores it, and a restore is checked against the case, the fold and the log (and
/// can be verified by folding the log again); see `saved.rs`'s notes.
///
/// # Invariants
///
/// Every case keeps the design's invariants, checked on every event it folds and on
/// every event [`Rules::decide`](crate::Rules::decide) proposes (in `src/case/invariants.rs`,
/// each check tagged with its number):
///
/// - **I1 One owner**: exactly one owner from opening to closing; a transfer names the
///   receiver and carries a non-empty handoff note.
/// - **I2 Outcome before resolution**: `resolved` is refused while the customer's outcome
///   is unmet or a work item is open; a confirmation is the customer's own, or staff
///   reporting words the log shows the customer saying.
/// - **I3 Honest endings**: ending without confirmation is a distinct state with evidence.
/// - **I4 One timeline**: nothing is department-private (see [`Timeline`](crate::Timeline)).
/// - **I5 Log integrity**: one case id, contiguous sequence numbers, time never going
///   back, unique event ids.
/// - **I6 Closed means closed**: a closed case accepts only a reopen, with a reason.
/// - **I7 Determinism**: same log, same case.
/// - **I8 No panics**: a broken log is a [`LogError`](crate::error::LogError), never a panic.
///
/// # Example
///
/// ```
/// use caseledger::{Actor, Case, Command, Opening, Rules, Staff};
/// use time::macros::datetime;
///
/// let rules = Rules::default();
/// let ana = Staff::new("ana", "software");
/// let id = caseledger::CaseId::new_v7(datetime!(2026-11-23 09:00 UTC), [7; 10]);
/// let opening = Opening::new("cust-42", "my laptop works", ana.clone());
/// let opened = rules.open(id, opening, &Actor::customer("cust-42"), datetime!(2026-11-23 09:00 UTC))?;
/// let mut case = Case::from_opened(&opened)?;
///
/// let resolve = Command::Resolve { summary: "BIOS updated".into() };
/// let refusal = rules.decide(&case, resolve, &ana.clone().into(), datetime!(2026-11-23 10:00 UTC));
/// assert!(refusal.is_err(), "the customer has not confirmed anything yet");
/// assert_eq!(case.owner(), &ana);
/// # Ok::<(), caseledger::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Case {
    id: CaseId,
    customer: CustomerRef,
    outcome: String,
    outcome_state: OutcomeState,
    /// Whose voice the confirmation or dispute in force is in, and who recorded it.
    outcome_voice: Option<(Voice, Actor)>,
    /// Channels the customer has spoken on since staff last contacted them (bits of
    /// [`Channel::bit`]): the evidence a reported confirmation needs (I2).
    heard_on: u8,
    /// The owner and who had the case before (I1); serialised as the fields `owner`,
    /// `previous_owners` and `departments_left`.
    #[serde(flatten)]
    owners: OwnerHistory,
    last_handoff_note: Option<String>,
    work: BTreeMap<WorkItemId, WorkItem>,
    open_work: usize,
    facts: BTreeMap<String, Fact>,
    channels: BTreeMap<Channel, Reachability>,
    incidents: Vec<IncidentId>,
    confirmation_requested: Option<String>,
    escalation_level: u32,
    status: Status,
    counters: Counters,
    clock: Moments,
    /// Times of the latest unanswered contacts, oldest first, at most
    /// [`Case::UNANSWERED_CONTACTS_KEPT`]: enough for a throttle to count contacts in a
    /// window without keeping history.
    unanswered_contact_times: VecDeque<OffsetDateTime>,
    version: u64,
    /// The latest [`Case::IDEMPOTENCY_KEYS_KEPT`] idempotency keys, with what each
    /// produced.
    #[serde(skip)]
    keys: KeyMemory,
}

impl Case {
    /// How many of the latest unanswered contact times a case keeps (see
    /// [`Case::unanswered_contact_times`]). A contact throttle can count up to this many
    /// contacts in a window.
    pub const UNANSWERED_CONTACTS_KEPT: usize = 32;

    /// Times of the latest contacts since the customer last replied, oldest first: all of
    /// them, or the latest [`Case::UNANSWERED_CONTACTS_KEPT`] when there were more.
    pub fn unanswered_contact_times(&self) -> impl DoubleEndedIterator<Item = OffsetDateTime> + ExactSizeIterator + '_ {
        self.unanswered_contact_times.iter().copied()
    }

    /// The case's id.
    #[must_use]
    pub fn id(&self) -> CaseId {
        self.id
    }

    /// The customer.
    #[must_use]
    pub fn customer(&self) -> &CustomerRef {
        &self.customer
    }

    /// The customer's desired outcome, in their words.
    #[must_use]
    pub fn outcome(&self) -> &str {
        &self.outcome
    }

    /// Whether the customer confirmed their outcome.
    #[must_use]
    pub fn outcome_state(&self) -> OutcomeState {
        self.outcome_state
    }

    /// Whose voice the confirmation or dispute in force is in, and who recorded it: the
    /// customer, or the staff member who reported the customer's words. `None` while the
    /// outcome is unmet.
    #[must_use]
    pub fn outcome_voice(&self) -> Option<(Voice, &Actor)> {
        self.outcome_voice.as_ref().map(|(voice, by)| (*voice, by))
    }

    /// The one accountable owner (I1).
    #[must_use]
    pub fn owner(&self) -> &Staff {
        self.owners.current()
    }

    /// Everyone who owned the case before the current owner, in the order they first
    /// handed it on, each once.
    #[must_use]
    pub fn previous_owners(&self) -> &[Staff] {
        self.owners.previous_owners()
    }

    /// How the current owner got the case: at the opening, by a transfer or by an
    /// escalation.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{case::Acquisition, Actor, CaseId, Command, Ledger, Opening, Rules, Staff};
    /// use time::macros::datetime;
    ///
    /// let t = datetime!(2026-11-23 09:00 UTC);
    /// let rules = Rules::default();
    /// let ana = Staff::new("ana", "software");
    /// let mut ledger = Ledger::open(&rules, CaseId::new_v7(t, [5; 10]),
    ///     Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), t)?;
    /// assert_eq!(ledger.case().owner_acquired(), Acquisition::Opened);
    /// assert_eq!(ledger.case().previous_owner(), None);
    ///
    /// let escalate = Command::Escalate { to: Staff::new("lee", "tier-2"), reason: "third call".into() };
    /// ledger.execute(&rules, escalate, &ana.clone().into(), t)?;
    /// assert_eq!(ledger.case().owner_acquired(), Acquisition::Escalated);
    /// assert_eq!(ledger.case().previous_owner(), Some(&ana));
    /// # Ok::<(), caseledger::Error>(())
    /// ```
    #[must_use]
    pub fn owner_acquired(&self) -> Acquisition {
        self.owners.acquired()
    }

    /// Who owned the case just before the current owner (who handed it to them), or
    /// `None` while the opening owner still has it.
    #[must_use]
    pub fn previous_owner(&self) -> Option<&Staff> {
        self.owners.previous()
    }

    /// Who owned the case right after event `seq` (`None` for 0 or a sequence number the
    /// case has not reached). O(log ownership changes).
    ///
    /// This is what lets a page of the timeline read like the whole timeline without
    /// building it (see [`Timeline::page`](crate::Timeline::page)).
    #[must_use]
    pub fn owner_at(&self, seq: u64) -> Option<&Staff> {
        if seq == 0 || seq > self.version {
            return None;
        }
        self.owners.at(seq)
    }

    /// Departments the case has been handed away from, in order, each once.
    #[must_use]
    pub fn departments_left(&self) -> &[Department] {
        self.owners.departments_left()
    }

    /// The note of the last transfer, or the reason of the last escalation.
    #[must_use]
    pub fn last_handoff_note(&self) -> Option<&str> {
        self.last_handoff_note.as_deref()
    }

    /// Where the case stands.
    #[must_use]
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Whether the case is closed (resolved or not).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.status.is_closed()
    }

    /// A work item by id.
    #[must_use]
    pub fn work_item(&self, id: &WorkItemId) -> Option<&WorkItem> {
        self.work.get(id)
    }

    /// All work items, open and closed, by id. Its `len()` is O(1).
    pub fn work_items(&self) -> impl ExactSizeIterator<Item = &WorkItem> {
        self.work.values()
    }

    /// The open work items, by id.
    pub fn open_work(&self) -> impl Iterator<Item = &WorkItem> {
        self.work.values().filter(|w| w.is_open())
    }

    /// How many work items are open.
    #[must_use]
    pub fn open_work_count(&self) -> usize {
        self.open_work
    }

    /// The facts recorded on the case, by name (S3).
    #[must_use]
    pub fn facts(&self) -> &BTreeMap<String, Fact> {
        &self.facts
    }

    /// Reachability per channel, as last recorded (S6).
    #[must_use]
    pub fn channels(&self) -> &BTreeMap<Channel, Reachability> {
        &self.channels
    }

    /// Whether the customer can be reached on `channel`: `Some(false)` when recorded
    /// unusable, `Some(true)` when recorded usable, `None` when nothing is recorded.
    #[must_use]
    pub fn reachable(&self, channel: Channel) -> Option<bool> {
        self.channels.get(&channel).map(|r| r.reachable)
    }

    /// Incidents the case is linked to, in the order linked.
    #[must_use]
    pub fn incidents(&self) -> &[IncidentId] {
        &self.incidents
    }

    /// Why the customer is to be asked for confirmation, while that request is pending.
    #[must_use]
    pub fn confirmation_requested(&self) -> Option<&str> {
        self.confirmation_requested.as_deref()
    }

    /// The escalation level: 0 until the first escalation.
    #[must_use]
    pub fn escalation_level(&self) -> u32 {
        self.escalation_level
    }

    /// Handoff, bounce and contact counters.
    #[must_use]
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Moments that deadlines are measured from.
    #[must_use]
    pub fn clock(&self) -> &Moments {
        &self.clock
    }

    /// The number of events folded so far: the sequence number of the last one.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Whether `staff` owns or has owned the case (O(log owners), from the owner index).
    pub(crate) fn has_owned(&self, staff: &Staff) -> bool {
        self.owners.has_owned(staff)
    }

    /// How many distinct owners the case has had, the current one included.
    pub(crate) fn distinct_owners(&self) -> usize {
        self.owners.distinct()
    }

    /// Whether handing the case to `to` now would be a bounce: back to someone who had
    /// it, or to a department it already left (S4).
    #[must_use]
    pub fn would_bounce(&self, to: &Staff) -> bool {
        self.owners.would_bounce(to)
    }

    /// How many idempotency keys a case remembers: the latest 1,000 keyed commands. A
    /// retry comes seconds or minutes after the first attempt, not a thousand keyed
    /// commands later; an older key is forgotten (by every replica alike, since this
    /// depends on the log only), and a command sent with it is decided as new.
    pub const IDEMPOTENCY_KEYS_KEPT: usize = 1_000;

    /// The events the command sent with `key` produced, if the case remembers the key.
    #[must_use]
    pub fn keyed_events(&self, key: &IdempotencyKey) -> Option<RangeInclusive<u64>> {
        self.keys.run(key).map(|run| run.first..=run.last)
    }

    /// Whether `command`, asked by `by` with `key`, was already done.
    ///
    /// `Ok(Some(seqs))`: the same person sent the same command with this key before; it
    /// produced the events `seqs`, and nothing is to be appended (answer with those
    /// events). `Ok(None)`: the case does not know the key; decide the command.
    /// [`Rules::decide_request`](crate::Rules::decide_request) does this first.
    ///
    /// # Errors
    ///
    /// [`Refusal::KeyReused`] when the key was used for another command, or by someone
    /// else; [`Refusal::OtherCustomer`] when `by` is a customer who is not the case's.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{
    ///     command::Request, event::Visibility, Actor, CaseId, Command, IdempotencyKey, Ledger,
    ///     Opening, Refusal, Rules, Staff,
    /// };
    /// use time::macros::datetime;
    ///
    /// let t = datetime!(2026-11-23 09:00 UTC);
    /// let rules = Rules::default();
    /// let ana = Actor::staff("ana", "software");
    /// let mut ledger = Ledger::open(&rules, CaseId::new_v7(t, [2; 10]),
    ///     Opening::new("cust-7", "my laptop works", Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?;
    /// let key = IdempotencyKey::new("req-1")?;
    /// let note = Command::AddNote { text: "BIOS 1.9 tried".into(), visibility: Visibility::Internal };
    /// ledger.execute_request(&rules, Request::new(note.clone()).key(key.clone()), &ana, t)?;
    ///
    /// assert_eq!(ledger.case().idempotent(&key, &note, &ana)?, Some(2..=2));
    /// let other = Command::AddNote { text: "something else".into(), visibility: Visibility::Internal };
    /// assert!(matches!(ledger.case().idempotent(&key, &other, &ana), Err(Refusal::KeyReused { .. })));
    /// # Ok::<(), caseledger::Error>(())
    /// ```
    pub fn idempotent(
        &self,
        key: &IdempotencyKey,
        command: &Command,
        by: &Actor,
    ) -> Result<Option<RangeInclusive<u64>>, Refusal> {
        self.check_customer(by)?;
        self.keys.idempotent(key, command, by)
    }

    /// Whether `by`, if a customer, is this case's customer.
    ///
    /// # Errors
    ///
    /// [`Refusal::OtherCustomer`] for any other customer (staff and the system pass).
    pub fn check_customer(&self, by: &Actor) -> Result<(), Refusal> {
        match by {
            Actor::Customer(customer) if *customer != self.customer => {
                Err(Refusal::OtherCustomer { customer: customer.clone() })
            }
            _ => Ok(()),
        }
    }
}

//! The case: the state folded from a log, and the core rules every event must keep.
//!
//! [`Case::apply`] folds one event in O(1) in the length of history (lookups are in
//! maps bounded by the number of work items, facts and owners, never by the number of
//! events). It reads no clock, file or random source (I7), so replaying the same log
//! always yields the same case. The same rule check runs when a command is decided and
//! when an event is folded, so a log that was never decided by this crate (imported,
//! edited, forged) is held to the same invariants.
//!
//! # The parts of a case
//!
//! A [`Case`] answers from its parts without scanning history: its [`Status`], the
//! customer's [`OutcomeState`] and each [`WorkItem`]'s [`WorkState`] (where each stands),
//! the [`Counters`] and [`Moments`] policies and deadlines measure from, the recorded
//! [`Fact`]s and [`Reachability`], and how the current owner got the case
//! ([`Acquisition`]). Statuses are kept apart from the fold, in a file of their own, so a
//! refusal can name one ([`Refusal::CaseClosed`]) without
//! importing the case.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::actor::{Actor, Staff};
use crate::command::Command;
use crate::error::{LogError, Refusal};
use crate::event::{Channel, Ending, Event, EventKind, Visibility, Voice, SCHEMA_VERSION};
use crate::id::{CaseId, CustomerRef, Department, EventId, IdempotencyKey, IncidentId, StaffId, WorkItemId};
use crate::limits::{cap, Limits};

pub use crate::status::{OutcomeState, Status, WorkState};

/// One department's piece of work on the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkItem {
    /// The host's id for it.
    pub id: WorkItemId,
    /// The department doing it.
    pub department: Department,
    /// What it is.
    pub title: String,
    /// Where it stands.
    pub state: WorkState,
    /// When it was opened.
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
}

impl WorkItem {
    /// Whether the work is still open.
    #[must_use]
    pub fn is_open(&self) -> bool {
        matches!(self.state, WorkState::Open)
    }
}

/// A fact recorded on the case (S3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Fact {
    /// The value.
    pub value: String,
    /// Who may read it.
    pub visibility: Visibility,
}

/// Whether the customer can be reached on a channel, as last recorded (S6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Reachability {
    /// Whether the customer can use the channel.
    pub reachable: bool,
    /// Why, as recorded.
    pub note: String,
}

/// Counters a policy or a dashboard reads without scanning history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Counters {
    /// Ownership changes, transfers and escalations alike.
    pub handoffs: u32,
    /// Handoffs that returned the case to an owner or department it had already left (S4).
    pub bounces: u32,
    /// Times staff contacted the customer.
    pub contacts: u32,
    /// Contacts since the customer last replied (or since opening).
    pub unanswered_contacts: u32,
    /// Messages from the customer after opening.
    pub customer_messages: u32,
    /// Messages from the customer since staff last contacted them: "asking again" (S5).
    pub customer_messages_unanswered: u32,
    /// Times the case was reopened.
    pub reopenings: u32,
    /// Handoffs since the last escalation (or since opening); an escalation resets it (S5).
    #[serde(default)]
    pub handoffs_since_escalation: u32,
    /// Messages from the customer since staff last contacted them *and* since the last
    /// escalation: the customer asking again, not yet answered by a contact or an
    /// escalation (S5).
    #[serde(default)]
    pub customer_asks_since_escalation: u32,
    /// Policies overridden for one command, with a reason (S8).
    #[serde(default)]
    pub overrides: u32,
}

/// The moments a deadline or a policy measures from ([`Case::clock`]): when the case was
/// opened, last heard from, escalated, closed, and so on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Moments {
    /// When the case was opened.
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    /// When the last event happened.
    #[serde(with = "time::serde::rfc3339")]
    pub last_event_at: OffsetDateTime,
    /// When staff first contacted the customer.
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_response_at: Option<OffsetDateTime>,
    /// When the customer last heard from staff (a contact or a customer-visible note).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_update_at: Option<OffsetDateTime>,
    /// When the customer last replied.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_customer_message_at: Option<OffsetDateTime>,
    /// The first contact attempt of the current unanswered run, if any.
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_unanswered_contact_at: Option<OffsetDateTime>,
    /// When ownership last changed (or the case was opened).
    #[serde(with = "time::serde::rfc3339")]
    pub owner_since: OffsetDateTime,
    /// When the case was last escalated, if ever.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub escalated_at: Option<OffsetDateTime>,
    /// When the case was last closed, if it is closed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    /// When staff last contacted the customer (a contact or a conversation), if ever.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_contact_at: Option<OffsetDateTime>,
    /// When the case was last reopened, if ever: the next-update deadline counts from
    /// here when no update came after it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub reopened_at: Option<OffsetDateTime>,
}

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
/// let opened = rules.open(id, opening, &Actor::Customer, datetime!(2026-11-23 09:00 UTC))?;
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
    owner: Staff,
    previous_owners: Vec<Staff>,
    departments_left: Vec<Department>,
    /// Indexes of the two lists above, so a handoff costs O(log owners) rather than a
    /// scan: a forged log with many distinct owners must not make replay quadratic.
    #[serde(skip)]
    seen_owners: BTreeSet<Staff>,
    #[serde(skip)]
    seen_owner_ids: BTreeSet<StaffId>,
    #[serde(skip)]
    seen_departments_left: BTreeSet<Department>,
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
    /// produced; `key_order` holds them oldest first, to forget the oldest.
    #[serde(skip)]
    keys: BTreeMap<IdempotencyKey, KeyedRun>,
    /// Every owner the case has had, each once, in order of first ownership, and their
    /// index there: `owner_changes` names owners by index.
    #[serde(skip)]
    owners: Vec<Staff>,
    #[serde(skip)]
    owner_index: BTreeMap<Staff, u32>,
    /// Each change of owner, the opening first, in log order.
    #[serde(skip)]
    owner_changes: Vec<OwnerChange>,
    #[serde(skip)]
    key_order: VecDeque<IdempotencyKey>,
}

/// How the current owner got the case: the event that made them the owner.
///
/// With [`Case::previous_owner`] a policy can tell a transfer from an escalation, for
/// instance "no transfer to the same department twice in a row".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Acquisition {
    /// The case was opened with them as its owner.
    Opened,
    /// It was transferred to them.
    Transferred,
    /// It was escalated to them.
    Escalated,
}

/// One change of owner: after event `seq`, owner number `owner` (see `Case::owners`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct OwnerChange {
    seq: u64,
    owner: u32,
    how: Acquisition,
}

/// What one keyed command produced: events `first..=last`, and a fingerprint of who asked
/// what, to tell a retry from another command under the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KeyedRun {
    first: u64,
    last: u64,
    fingerprint: u128,
}

fn override_fingerprint(by: &Actor, policy: &str, reason: &str) -> u128 {
    crate::fnv::hash128(&(by, "policy_overridden", policy, reason))
}

/// Who asked `command`: for an override, the override itself (its first event).
fn command_fingerprint(by: &Actor, command: &Command) -> u128 {
    match command {
        Command::Override { policy, reason, .. } => override_fingerprint(by, policy, reason),
        // The level is left out of the fingerprint; any will do.
        other => fingerprint(by, &other.clone().into_kind(0)),
    }
}

/// Who asked what, hashed with a fixed hash (I7). The escalation level is left out: it is
/// the rules' doing, not the asker's, and a retry meets a case one level up. Computed by
/// the fold from the log, never stored, so it may change between versions of the crate.
fn fingerprint(by: &Actor, what: &EventKind) -> u128 {
    match what {
        EventKind::Escalated { to, reason, .. } => crate::fnv::hash128(&(by, "escalated", to, reason)),
        // An override's first event quotes the policy, which the command does not carry.
        EventKind::PolicyOverridden { policy, reason, .. } => override_fingerprint(by, policy, reason),
        other => crate::fnv::hash128(&(by, other)),
    }
}

impl Case {
    /// Starts a case from its `opened` event.
    ///
    /// # Errors
    ///
    /// [`LogError::NotOpenedFirst`] if the event is not `opened`, [`LogError::SequenceGap`]
    /// if its sequence number is not 1, [`LogError::UnsupportedSchema`], or
    /// [`LogError::Broken`] if the opening itself breaks a rule (empty outcome).
    pub fn from_opened(event: &Event) -> Result<Self, LogError> {
        let EventKind::Opened { customer, outcome, owner } = &event.what else {
            return Err(LogError::NotOpenedFirst { seq: event.seq, kind: event.what.tag() });
        };
        if event.seq != 1 {
            return Err(LogError::SequenceGap { expected: 1, found: event.seq });
        }
        if event.schema != SCHEMA_VERSION {
            return Err(LogError::UnsupportedSchema { seq: event.seq, schema: event.schema });
        }
        if let Some(given) = event.given_at {
            // Nothing comes before the opening, so nothing to adjust its time to.
            return Err(LogError::ClockAdjustment { seq: event.seq, given, at: event.at });
        }
        check_outcome(outcome).map_err(|refusal| LogError::Broken { seq: 1, refusal })?;
        Ok(Self {
            id: event.case,
            customer: customer.clone(),
            outcome: outcome.clone(),
            outcome_state: OutcomeState::Unmet,
            outcome_voice: None,
            heard_on: 0,
            owner: owner.clone(),
            previous_owners: Vec::new(),
            departments_left: Vec::new(),
            seen_owners: BTreeSet::new(),
            seen_owner_ids: BTreeSet::new(),
            seen_departments_left: BTreeSet::new(),
            last_handoff_note: None,
            work: BTreeMap::new(),
            open_work: 0,
            facts: BTreeMap::new(),
            channels: BTreeMap::new(),
            incidents: Vec::new(),
            confirmation_requested: None,
            escalation_level: 0,
            status: Status::Open,
            counters: Counters::default(),
            clock: Moments {
                opened_at: event.at,
                last_event_at: event.at,
                first_response_at: None,
                last_update_at: None,
                last_customer_message_at: None,
                first_unanswered_contact_at: None,
                owner_since: event.at,
                escalated_at: None,
                closed_at: None,
                reopened_at: None,
                last_contact_at: None,
            },
            unanswered_contact_times: VecDeque::new(),
            version: 1,
            keys: BTreeMap::new(),
            key_order: VecDeque::new(),
            owners: vec![owner.clone()],
            owner_index: BTreeMap::from([(owner.clone(), 0)]),
            owner_changes: vec![OwnerChange { seq: 1, owner: 0, how: Acquisition::Opened }],
        }
        .keyed(event))
    }

    /// The case after remembering `event`'s key, for the opening.
    fn keyed(mut self, event: &Event) -> Self {
        self.remember_key(event);
        self
    }

    /// Folds a whole log into a case, checking every invariant on the way (I1–I7).
    ///
    /// Besides what [`Case::apply`] checks, replay checks that no two events share an
    /// id (I5). For a log from a source the host does not control, use
    /// [`Case::replay_with_limits`], which also bounds what the log can make it allocate.
    ///
    /// # Errors
    ///
    /// The first [`LogError`] met, naming the event's sequence number and the rule.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{error::LogError, Case};
    ///
    /// assert_eq!(Case::replay(Vec::new()), Err(LogError::Empty));
    /// ```
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> Result<Self, LogError> {
        Self::replay_within(events, None)
    }

    /// Folds a whole log like [`Case::replay`], and also holds every event to `limits`
    /// (text and id sizes, number of events, facts, work items, owners, incidents), so
    /// a hostile log cannot make the host allocate or search without bound.
    ///
    /// Policies are not consulted: a log recorded under one policy set stays readable
    /// after the host changes its policies. Limits are, because they protect the host.
    ///
    /// # Errors
    ///
    /// The first [`LogError`] met; a limit is reported as [`LogError::Broken`] carrying
    /// [`Refusal::LimitExceeded`].
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{
    ///     error::LogError, rules::Limits, Actor, Case, CaseId, Command, Ledger, Opening, Refusal,
    ///     Rules, Staff,
    /// };
    /// use time::macros::datetime;
    ///
    /// let t = datetime!(2026-11-23 09:00 UTC);
    /// let rules = Rules::default();
    /// let ana = Staff::new("ana", "software");
    /// let mut ledger = Ledger::open(&rules, CaseId::new_v7(t, [8; 10]),
    ///     Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::Customer, t)?;
    /// let note = Command::AddNote { text: "x".repeat(100), visibility: caseledger::event::Visibility::Internal };
    /// ledger.execute(&rules, note, &ana.into(), t)?;
    ///
    /// let mut strict = Limits::default();
    /// strict.max_text_bytes = 50;
    /// let err = Case::replay_with_limits(ledger.events(), &strict).unwrap_err();
    /// assert_eq!(err, LogError::Broken {
    ///     seq: 2,
    ///     refusal: Refusal::LimitExceeded { what: "bytes in the note", max: 50, actual: 100 },
    /// });
    /// # Ok::<(), caseledger::Error>(())
    /// ```
    pub fn replay_with_limits<'a>(
        events: impl IntoIterator<Item = &'a Event>,
        limits: &Limits,
    ) -> Result<Self, LogError> {
        Self::replay_within(events, Some(limits))
    }

    fn replay_within<'a>(
        events: impl IntoIterator<Item = &'a Event>,
        limits: Option<&Limits>,
    ) -> Result<Self, LogError> {
        let mut events = events.into_iter();
        let first = events.next().ok_or(LogError::Empty)?;
        let mut case = Self::from_opened(first)?;
        if let Some(limits) = limits {
            limits.check_sizes(1, &first.by, &first.what).map_err(|refusal| LogError::Broken { seq: 1, refusal })?;
        }
        // Only the ids are kept (16 bytes an event, freed on return); `ids[i]` is the id
        // of event `i + 1`, since the fold has checked the sequence numbers. As numbers
        // they compare in one instruction pair, in the same order as the UUIDs.
        let mut ids = Vec::with_capacity(events.size_hint().0.saturating_add(1));
        ids.push(first.id.as_uuid().as_u128());
        for event in events {
            case.fold(event, limits)?;
            ids.push(event.id.as_uuid().as_u128());
        }
        unique_ids(&ids)?;
        Ok(case)
    }

    /// Folds one event into the case.
    ///
    /// Texts holding control characters (which `decide` refuses, see
    /// [`Refusal::ControlCharacter`]) are folded here, so that a log stored before that
    /// rule stays readable; [`Case::apply_with_limits`] refuses them.
    ///
    /// # Errors
    ///
    /// A [`LogError`] if the event does not follow on from the case (another case, a
    /// gap in sequence numbers, time going backwards, an unknown schema) or breaks a
    /// rule ([`LogError::Broken`]). On error the case is unchanged.
    pub fn apply(&mut self, event: &Event) -> Result<(), LogError> {
        self.fold(event, None)
    }

    /// Folds one event like [`Case::apply`], and also holds it to `limits` (see
    /// [`Case::replay_with_limits`]), for events from a source the host does not control.
    ///
    /// # Errors
    ///
    /// As [`Case::apply`]; a limit is reported as [`LogError::Broken`] carrying
    /// [`Refusal::LimitExceeded`]. On error the case is unchanged.
    pub fn apply_with_limits(&mut self, event: &Event, limits: &Limits) -> Result<(), LogError> {
        self.fold(event, Some(limits))
    }

    fn fold(&mut self, event: &Event, limits: Option<&Limits>) -> Result<(), LogError> {
        self.validate(event, limits)?;
        self.evolve(event);
        Ok(())
    }

    /// Whether `event` would fold onto this case: everything [`Case::apply`] (or, with
    /// `limits`, [`Case::apply_with_limits`]) checks, without changing anything. Lets a
    /// writer check before storing and fold after, without copying the case.
    #[inline(always)]
    pub(crate) fn validate(&self, event: &Event, limits: Option<&Limits>) -> Result<(), LogError> {
        self.check_envelope(event)?;
        let broken = |refusal| LogError::Broken { seq: event.seq, refusal };
        if let Some(limits) = limits {
            self.check_limits(limits, &event.by, &event.what).map_err(broken)?;
        }
        self.check(&event.by, &event.what).map_err(broken)
    }

    /// Whether `by` may record `what` as the next event within `limits`: the sizes, and
    /// the counts this case has reached. Lives here, not in `limits`, because it reads
    /// the case.
    pub(crate) fn check_limits(&self, limits: &Limits, by: &Actor, what: &EventKind) -> Result<(), Refusal> {
        self.check_limits_nth(limits, 1, by, what)
    }

    /// [`Case::check_limits`] for the `nth` event after the last one (a command may
    /// record an override before its own event).
    pub(crate) fn check_limits_nth(
        &self,
        limits: &Limits,
        nth: u64,
        by: &Actor,
        what: &EventKind,
    ) -> Result<(), Refusal> {
        limits.check_sizes(self.version().saturating_add(nth), by, what)?;
        match what {
            EventKind::FactRecorded { name, .. } if !self.facts().contains_key(name) => {
                cap("facts on a case", limits.max_facts, self.facts().len())
            }
            EventKind::WorkOpened { .. } => cap("work items on a case", limits.max_work_items, self.work_items().len()),
            EventKind::IncidentLinked { .. } => {
                cap("incidents on a case", limits.max_incidents, self.incidents().len())
            }
            EventKind::Transferred { to, .. } | EventKind::Escalated { to, .. } if !self.has_owned(to) => {
                cap("distinct owners of a case", limits.max_owners, self.distinct_owners())
            }
            _ => Ok(()),
        }
    }

    fn check_envelope(&self, event: &Event) -> Result<(), LogError> {
        if event.case != self.id {
            return Err(LogError::ForeignCase { seq: event.seq, expected: self.id, found: event.case });
        }
        let expected = self.version.saturating_add(1);
        if event.seq != expected {
            return Err(LogError::SequenceGap { expected, found: event.seq });
        }
        if event.schema != SCHEMA_VERSION {
            return Err(LogError::UnsupportedSchema { seq: event.seq, schema: event.schema });
        }
        if is_before(event.at, self.clock.last_event_at) {
            return Err(LogError::TimeWentBackwards {
                seq: event.seq,
                at: event.at,
                previous: self.clock.last_event_at,
            });
        }
        if let Some(given) = event.given_at {
            // An adjustment moves an earlier time forward to the previous event's, only.
            if !is_before(given, event.at) || event.at != self.clock.last_event_at {
                return Err(LogError::ClockAdjustment { seq: event.seq, given, at: event.at });
            }
        }
        if let Some(key) = &event.key {
            // A key names one command: its events are consecutive, and a key the case
            // still remembers cannot name another command later.
            if let Some(run) = self.keys.get(key).filter(|run| run.last.saturating_add(1) != event.seq) {
                let refusal = Refusal::KeyReused { key: key.clone(), first: run.first, last: run.last };
                return Err(LogError::Broken { seq: event.seq, refusal });
            }
        }
        Ok(())
    }

    /// The core rules: may `by` record `what` on this case now?
    pub(crate) fn check(&self, by: &Actor, what: &EventKind) -> Result<(), Refusal> {
        if self.status.is_closed() {
            return match what {
                EventKind::Reopened { reason } => non_empty(reason, "reason for reopening"),
                _ => Err(Refusal::CaseClosed { status: self.status.clone() }),
            };
        }
        match what {
            EventKind::Opened { .. } => Err(Refusal::AlreadyOpened),
            EventKind::Reopened { .. } => Err(Refusal::NotClosed),
            EventKind::Transferred { to, note } => {
                self.owner_or_system(by, "transfer the case")?;
                self.receiver(to)?;
                non_empty(note, "handoff note")
            }
            EventKind::Escalated { to, reason, level } => {
                self.owner_or_system(by, "escalate the case")?;
                self.receiver(to)?;
                non_empty(reason, "reason for escalating")?;
                let expected = self.escalation_level.saturating_add(1);
                if *level == expected {
                    Ok(())
                } else {
                    Err(Refusal::EscalationLevel { expected, found: *level })
                }
            }
            EventKind::WorkOpened { item, department, title } => {
                let staff = staff_only(by, "open work")?;
                if &staff.department != department && staff != &self.owner {
                    return Err(Refusal::NotYourDepartment {
                        item: item.clone(),
                        department: department.clone(),
                        by: by.clone(),
                    });
                }
                if self.work.contains_key(item) {
                    return Err(Refusal::DuplicateWorkItem { item: item.clone() });
                }
                non_empty(title, "work item title")
            }
            EventKind::WorkCompleted { item, note: text } | EventKind::WorkDropped { item, reason: text } => {
                let staff = staff_only(by, "finish or drop work")?;
                let work = self.work.get(item).ok_or_else(|| Refusal::UnknownWorkItem { item: item.clone() })?;
                if !work.is_open() {
                    return Err(Refusal::WorkItemClosed { item: item.clone() });
                }
                if staff.department != work.department && staff != &self.owner {
                    return Err(Refusal::NotYourDepartment {
                        item: item.clone(),
                        department: work.department.clone(),
                        by: by.clone(),
                    });
                }
                let field = if matches!(what, EventKind::WorkCompleted { .. }) {
                    "note on completed work"
                } else {
                    "reason for dropping work"
                };
                non_empty(text, field)
            }
            EventKind::FactRecorded { name, visibility, .. } => {
                if matches!(by, Actor::Customer) && *visibility == Visibility::Internal {
                    return Err(Refusal::StaffOnly { action: "record an internal fact", by: by.clone() });
                }
                non_empty(name, "fact name")
            }
            EventKind::ReachabilityRecorded { reachable, note, .. } => {
                if *reachable {
                    Ok(())
                } else {
                    non_empty(note, "note on why the channel cannot be used")
                }
            }
            EventKind::NoteAdded { text, visibility } => {
                if matches!(by, Actor::Customer) && *visibility == Visibility::Internal {
                    return Err(Refusal::StaffOnly { action: "write an internal note", by: by.clone() });
                }
                non_empty(text, "note")
            }
            EventKind::CustomerContacted { channel, message } => {
                if matches!(by, Actor::Customer) {
                    return Err(Refusal::StaffOnly { action: "contact the customer", by: by.clone() });
                }
                if let Some(r) = self.channels.get(channel).filter(|r| !r.reachable) {
                    return Err(Refusal::ChannelUnreachable { channel: *channel, note: r.note.clone() });
                }
                non_empty(message, "message to the customer")
            }
            EventKind::CustomerReplied { message, .. } => {
                if matches!(by, Actor::System) {
                    return Err(Refusal::ConfirmationNotFromCustomer { by: by.clone() });
                }
                non_empty(message, "customer's message")
            }
            EventKind::OutcomeConfirmed { statement, voice } | EventKind::OutcomeDisputed { statement, voice } => {
                self.check_voice(by, *voice)?;
                non_empty(statement, "customer's statement")
            }
            EventKind::ConversationHeld { channel, summary } => {
                staff_only(by, "record a conversation with the customer")?;
                if !channel.is_live() {
                    return Err(Refusal::NotALiveChannel { channel: *channel });
                }
                if let Some(r) = self.channels.get(channel).filter(|r| !r.reachable) {
                    return Err(Refusal::ChannelUnreachable { channel: *channel, note: r.note.clone() });
                }
                non_empty(summary, "summary of the conversation")
            }
            EventKind::Resolved { summary } => {
                self.owner_only(by, "resolve the case")?;
                if self.outcome_state != OutcomeState::Confirmed {
                    return Err(Refusal::OutcomeUnmet { outcome: self.outcome.clone() });
                }
                self.no_open_work()?;
                non_empty(summary, "resolution summary")
            }
            EventKind::ClosedUnresolved { ending, evidence } => {
                let customer_withdraws = matches!(by, Actor::Customer) && *ending == Ending::Withdrawn;
                if !customer_withdraws {
                    self.owner_only(by, "close the case")?;
                }
                self.no_open_work()?;
                match ending {
                    Ending::Unreachable if self.counters.unanswered_contacts == 0 => {
                        return Err(Refusal::NoContactAttempts)
                    }
                    Ending::Duplicate { of } if *of == self.id => return Err(Refusal::DuplicateOfItself),
                    _ => {}
                }
                non_empty(evidence, "evidence for the ending")
            }
            EventKind::IncidentLinked { incident } => {
                if matches!(by, Actor::Customer) {
                    return Err(Refusal::StaffOnly { action: "link an incident", by: by.clone() });
                }
                if self.incidents.contains(incident) {
                    return Err(Refusal::AlreadyLinked { incident: incident.clone() });
                }
                Ok(())
            }
            EventKind::ConfirmationRequested { reason } => {
                if matches!(by, Actor::Customer) {
                    return Err(Refusal::StaffOnly { action: "request confirmation", by: by.clone() });
                }
                non_empty(reason, "reason for asking confirmation")
            }
            EventKind::PolicyOverridden { policy, reason, .. } => {
                staff_only(by, "override a policy")?;
                crate::overrides::check(policy, reason)
            }
        }
    }

    /// A confirmation or dispute is the customer's (I2): their own, or staff reporting
    /// words the log shows the customer saying on that channel since the last contact.
    fn check_voice(&self, by: &Actor, voice: Voice) -> Result<(), Refusal> {
        match (by, voice) {
            (Actor::System, _) => Err(Refusal::ConfirmationNotFromCustomer { by: by.clone() }),
            (Actor::Customer, Voice::Own) => Ok(()),
            (Actor::Customer, _) => Err(Refusal::StaffOnly { action: "report what the customer said", by: by.clone() }),
            (_, Voice::Own) => Err(Refusal::NotTheCustomer { by: by.clone() }),
            // Written before schema 2: accepted as it was, claiming nothing (see `Voice`).
            (_, Voice::Unverified) => Ok(()),
            (_, Voice::Reported { channel }) => {
                if self.heard_on & channel.bit() != 0 {
                    Ok(())
                } else {
                    let since = self.clock.last_contact_at.unwrap_or(self.clock.opened_at);
                    Err(Refusal::CustomerNotHeard { channel, since })
                }
            }
        }
    }

    fn owner_only(&self, by: &Actor, action: &'static str) -> Result<(), Refusal> {
        match by {
            Actor::Staff(s) if s == &self.owner => Ok(()),
            _ => Err(Refusal::NotOwner { action, owner: self.owner.clone(), by: by.clone() }),
        }
    }

    /// Routing engines and supervisor tools act as the system; they may move a case
    /// but never end it.
    fn owner_or_system(&self, by: &Actor, action: &'static str) -> Result<(), Refusal> {
        if matches!(by, Actor::System) {
            Ok(())
        } else {
            self.owner_only(by, action)
        }
    }

    fn receiver(&self, to: &Staff) -> Result<(), Refusal> {
        if to == &self.owner {
            Err(Refusal::ReceiverIsOwner { owner: self.owner.clone() })
        } else {
            Ok(())
        }
    }

    fn no_open_work(&self) -> Result<(), Refusal> {
        if self.open_work == 0 {
            Ok(())
        } else {
            Err(Refusal::WorkStillOpen { items: self.open_work().map(|w| w.id.clone()).collect() })
        }
    }

    /// Moves the state forward; only called after `check_envelope` and `check` passed.
    // Inlined into the fold so the hot path is one function: measured ~5% more events/s
    // (benches/fold.rs) than with `evolve` and `validate` as separate calls.
    #[inline(always)]
    fn evolve(&mut self, event: &Event) {
        let at = event.at;
        match &event.what {
            EventKind::Opened { .. } => {}
            EventKind::Transferred { to, note } => self.hand_to(to, note, at, event.seq, Acquisition::Transferred),
            EventKind::Escalated { to, reason, level } => {
                self.escalation_level = *level;
                self.hand_to(to, reason, at, event.seq, Acquisition::Escalated);
                self.counters.handoffs_since_escalation = 0;
                self.counters.customer_asks_since_escalation = 0;
                self.clock.escalated_at = Some(at);
            }
            EventKind::WorkOpened { item, department, title } => {
                self.work.insert(
                    item.clone(),
                    WorkItem {
                        id: item.clone(),
                        department: department.clone(),
                        title: title.clone(),
                        state: WorkState::Open,
                        opened_at: at,
                    },
                );
                self.open_work += 1;
            }
            EventKind::WorkCompleted { item, note } => {
                self.close_work(item, WorkState::Completed { note: note.clone() })
            }
            EventKind::WorkDropped { item, reason } => {
                self.close_work(item, WorkState::Dropped { reason: reason.clone() });
            }
            EventKind::FactRecorded { name, value, visibility } => match self.facts.get_mut(name) {
                // Updating a known fact is the common case: reuse its buffer.
                Some(fact) => {
                    fact.value.clone_from(value);
                    fact.visibility = *visibility;
                }
                None => {
                    self.facts.insert(name.clone(), Fact { value: value.clone(), visibility: *visibility });
                }
            },
            EventKind::ReachabilityRecorded { channel, reachable, note } => {
                self.channels.insert(*channel, Reachability { reachable: *reachable, note: note.clone() });
            }
            EventKind::NoteAdded { visibility, .. } => {
                if *visibility == Visibility::Customer && matches!(event.by, Actor::Staff(_)) {
                    self.clock.last_update_at = Some(at);
                }
            }
            EventKind::CustomerContacted { .. } => {
                self.heard_on = 0;
                self.clock.last_contact_at = Some(at);
                self.counters.contacts = self.counters.contacts.saturating_add(1);
                self.counters.unanswered_contacts = self.counters.unanswered_contacts.saturating_add(1);
                self.counters.customer_messages_unanswered = 0;
                self.counters.customer_asks_since_escalation = 0;
                self.clock.first_response_at.get_or_insert(at);
                self.clock.last_update_at = Some(at);
                self.clock.first_unanswered_contact_at.get_or_insert(at);
                if self.unanswered_contact_times.len() >= Self::UNANSWERED_CONTACTS_KEPT {
                    self.unanswered_contact_times.pop_front();
                }
                self.unanswered_contact_times.push_back(at);
            }
            EventKind::CustomerReplied { channel, .. } => {
                self.heard_on |= channel.bit();
                self.counters.customer_messages = self.counters.customer_messages.saturating_add(1);
                self.counters.customer_messages_unanswered =
                    self.counters.customer_messages_unanswered.saturating_add(1);
                self.counters.customer_asks_since_escalation =
                    self.counters.customer_asks_since_escalation.saturating_add(1);
                self.heard_from_customer(at);
            }
            EventKind::OutcomeConfirmed { voice, .. } => {
                self.outcome_state = OutcomeState::Confirmed;
                self.outcome_voice = Some((*voice, event.by.clone()));
                self.confirmation_requested = None;
                self.heard_from_customer(at);
            }
            EventKind::OutcomeDisputed { voice, .. } => {
                self.outcome_state = OutcomeState::Disputed;
                self.outcome_voice = Some((*voice, event.by.clone()));
                self.confirmation_requested = None;
                self.heard_from_customer(at);
            }
            EventKind::ConversationHeld { channel, .. } => {
                // A contact the customer answered in the same breath.
                self.counters.contacts = self.counters.contacts.saturating_add(1);
                self.counters.customer_messages_unanswered = 0;
                self.counters.customer_asks_since_escalation = 0;
                self.clock.first_response_at.get_or_insert(at);
                self.clock.last_update_at = Some(at);
                self.clock.last_contact_at = Some(at);
                self.heard_from_customer(at);
                self.heard_on = channel.bit();
            }
            EventKind::Resolved { .. } => self.close(Status::Resolved, at),
            EventKind::ClosedUnresolved { ending, .. } => {
                self.close(Status::ClosedUnresolved { ending: ending.clone() }, at);
            }
            EventKind::Reopened { .. } => {
                self.status = Status::Open;
                self.outcome_state = OutcomeState::Unmet;
                self.counters.reopenings = self.counters.reopenings.saturating_add(1);
                self.clock.closed_at = None;
                self.clock.reopened_at = Some(at);
                self.outcome_voice = None;
            }
            EventKind::IncidentLinked { incident } => self.incidents.push(incident.clone()),
            EventKind::ConfirmationRequested { reason } => set_text(&mut self.confirmation_requested, reason),
            EventKind::PolicyOverridden { .. } => self.counters.overrides = self.counters.overrides.saturating_add(1),
        }
        self.version = event.seq;
        self.clock.last_event_at = at;
        if event.key.is_some() {
            self.remember_key(event);
        }
    }

    /// Records `event`'s key: a new run, or the next event of the run it continues
    /// (`check_envelope` has refused anything else). O(log keys), keys being bounded.
    fn remember_key(&mut self, event: &Event) {
        let Some(key) = &event.key else { return };
        if let Some(run) = self.keys.get_mut(key) {
            run.last = event.seq;
            return;
        }
        if self.key_order.len() >= Self::IDEMPOTENCY_KEYS_KEPT {
            if let Some(oldest) = self.key_order.pop_front() {
                self.keys.remove(&oldest);
            }
        }
        let run = KeyedRun { first: event.seq, last: event.seq, fingerprint: fingerprint(&event.by, &event.what) };
        self.keys.insert(key.clone(), run);
        self.key_order.push_back(key.clone());
    }

    /// How many idempotency keys a case remembers: the latest 1,000 keyed commands. A
    /// retry comes seconds or minutes after the first attempt, not a thousand keyed
    /// commands later; an older key is forgotten (by every replica alike, since this
    /// depends on the log only), and a command sent with it is decided as new.
    pub const IDEMPOTENCY_KEYS_KEPT: usize = 1_000;

    /// The events the command sent with `key` produced, if the case remembers the key.
    #[must_use]
    pub fn keyed_events(&self, key: &IdempotencyKey) -> Option<RangeInclusive<u64>> {
        self.keys.get(key).map(|run| run.first..=run.last)
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
    /// else.
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
    ///     Opening::new("cust-7", "my laptop works", Staff::new("ana", "software")), &Actor::Customer, t)?;
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
        let Some(run) = self.keys.get(key) else { return Ok(None) };
        if command_fingerprint(by, command) == run.fingerprint {
            Ok(Some(run.first..=run.last))
        } else {
            Err(Refusal::KeyReused { key: key.clone(), first: run.first, last: run.last })
        }
    }

    fn hand_to(&mut self, to: &Staff, note: &str, at: OffsetDateTime, seq: u64, how: Acquisition) {
        let bounce = self.would_bounce(to);
        let owner = match self.owner_index.get(to) {
            Some(index) => *index,
            None => {
                // Distinct owners are capped far below u32 by the limits; saturate anyway.
                let index = u32::try_from(self.owners.len()).unwrap_or(u32::MAX);
                self.owners.push(to.clone());
                self.owner_index.insert(to.clone(), index);
                index
            }
        };
        self.owner_changes.push(OwnerChange { seq, owner, how });
        if to.department != self.owner.department && !self.seen_departments_left.contains(&self.owner.department) {
            self.seen_departments_left.insert(self.owner.department.clone());
            self.departments_left.push(self.owner.department.clone());
        }
        // The case changes hands between a few people many times: once the previous
        // owner is on record, overwrite the owner in place instead of allocating anew.
        if self.seen_owners.contains(&self.owner) {
            self.owner.clone_from(to);
        } else {
            self.seen_owners.insert(self.owner.clone());
            self.seen_owner_ids.insert(self.owner.id.clone());
            let previous = std::mem::replace(&mut self.owner, to.clone());
            self.previous_owners.push(previous);
        }
        set_text(&mut self.last_handoff_note, note);
        self.counters.handoffs = self.counters.handoffs.saturating_add(1);
        self.counters.handoffs_since_escalation = self.counters.handoffs_since_escalation.saturating_add(1);
        if bounce {
            self.counters.bounces = self.counters.bounces.saturating_add(1);
        }
        self.clock.owner_since = at;
    }

    fn close_work(&mut self, item: &WorkItemId, state: WorkState) {
        if let Some(work) = self.work.get_mut(item) {
            work.state = state;
            self.open_work = self.open_work.saturating_sub(1);
        }
    }

    fn heard_from_customer(&mut self, at: OffsetDateTime) {
        self.counters.unanswered_contacts = 0;
        self.clock.first_unanswered_contact_at = None;
        self.unanswered_contact_times.clear();
        self.clock.last_customer_message_at = Some(at);
    }

    fn close(&mut self, status: Status, at: OffsetDateTime) {
        self.status = status;
        self.clock.closed_at = Some(at);
    }

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
        &self.owner
    }

    /// Everyone who owned the case before the current owner, in the order they first
    /// handed it on, each once.
    #[must_use]
    pub fn previous_owners(&self) -> &[Staff] {
        &self.previous_owners
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
    ///     Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::Customer, t)?;
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
        self.owner_changes.last().map_or(Acquisition::Opened, |change| change.how)
    }

    /// Who owned the case just before the current owner (who handed it to them), or
    /// `None` while the opening owner still has it.
    #[must_use]
    pub fn previous_owner(&self) -> Option<&Staff> {
        let before = self.owner_changes.len().checked_sub(2)?;
        self.owner_changes.get(before).and_then(|change| self.staff(change.owner))
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
        let after = self.owner_changes.partition_point(|change| change.seq <= seq);
        let change = self.owner_changes.get(after.checked_sub(1)?)?;
        self.staff(change.owner)
    }

    fn staff(&self, index: u32) -> Option<&Staff> {
        self.owners.get(usize::try_from(index).ok()?)
    }

    /// Departments the case has been handed away from, in order, each once.
    #[must_use]
    pub fn departments_left(&self) -> &[Department] {
        &self.departments_left
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
        staff == &self.owner || self.seen_owners.contains(staff)
    }

    /// How many distinct owners the case has had, the current one included.
    pub(crate) fn distinct_owners(&self) -> usize {
        self.seen_owners.len() + usize::from(!self.seen_owners.contains(&self.owner))
    }

    /// Whether handing the case to `to` now would be a bounce: back to someone who had
    /// it, or to a department it already left (S4).
    #[must_use]
    pub fn would_bounce(&self, to: &Staff) -> bool {
        self.seen_owner_ids.contains(&to.id)
            || (to.department != self.owner.department && self.seen_departments_left.contains(&to.department))
    }
}

/// Checks that no two events share an id (I5); `ids[i]` is the id of event `i + 1`.
pub(crate) fn unique_ids(ids: &[u128]) -> Result<(), LogError> {
    // Ids decided by this crate are time-ordered (v7) and logs are in time order, so a
    // log's ids nearly always increase strictly: unique in one pass, with no sort and no
    // seeded hash set (I7). Anything else is sorted once.
    if ids.windows(2).all(|pair| matches!(pair, [a, b] if a < b)) {
        return Ok(());
    }
    let mut sorted: Vec<(u128, u64)> = ids.iter().copied().zip(1..).collect();
    sorted.sort_unstable();
    let repeat = sorted
        .windows(2)
        .filter_map(|pair| match *pair {
            [(a, first), (b, seq)] if a == b => {
                Some(LogError::DuplicateEventId { seq, id: EventId::from_uuid(uuid::Uuid::from_u128(a)), first })
            }
            _ => None,
        })
        .min_by_key(LogError::seq);
    repeat.map_or(Ok(()), Err)
}

/// Stores `text`, reusing the buffer already there.
fn set_text(slot: &mut Option<String>, text: &str) {
    match slot {
        Some(old) => text.clone_into(old),
        None => *slot = Some(text.to_owned()),
    }
}

fn staff_only<'a>(by: &'a Actor, action: &'static str) -> Result<&'a Staff, Refusal> {
    by.as_staff().ok_or_else(|| Refusal::StaffOnly { action, by: by.clone() })
}

/// The opening's own rule: the customer's outcome is stated (used by decide and fold).
pub(crate) fn check_outcome(outcome: &str) -> Result<(), Refusal> {
    non_empty(outcome, "customer's outcome")
}

fn non_empty(text: &str, field: &'static str) -> Result<(), Refusal> {
    // Runs for nearly every event folded: a visible ASCII first byte settles it without
    // decoding characters; otherwise only leading whitespace needs walking.
    if text.as_bytes().first().is_some_and(u8::is_ascii_graphic) {
        return Ok(());
    }
    if text.trim_start().is_empty() {
        Err(Refusal::EmptyText { field })
    } else {
        Ok(())
    }
}

/// `a < b`, cheaply in the common case. `OffsetDateTime`'s own ordering converts both
/// sides to UTC first, a noticeable share of the fold; when the offsets agree (always, for
/// events this crate writes: they are UTC) comparing the local date and time is exact.
fn is_before(a: OffsetDateTime, b: OffsetDateTime) -> bool {
    if a.offset() == b.offset() {
        (a.date(), a.time()) < (b.date(), b.time())
    } else {
        a < b
    }
}

//! Rules: the configuration that decides commands, and the pure `decide` step itself.
//!
//! [`Rules::decide`] takes a case, a command, who asks and when, and returns the events
//! to append or a [`Refusal`] naming the broken rule. It checks, in order: the time, the
//! host's membership directory, the [`Limits`], the core invariants (the same check
//! [`Case::apply`](crate::Case::apply) makes) and the configured [`Policy`]s. It reads
//! no clock, file or random source.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset};

use crate::actor::{Actor, Staff};
use crate::case::Case;
use crate::command::{Command, Opening};
use crate::error::Refusal;
use crate::event::{Event, EventKind};
use crate::id::{CaseId, Department, EventId, StaffId};
use crate::policy::{Policy, Proposal};

/// Caps that keep a hostile or buggy client from making a host allocate without bound.
///
/// Checked when deciding; the defaults are generous for real cases (see each field).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Limits {
    /// Longest text in bytes (notes, messages, facts). Default 64 KiB: a long pasted
    /// e-mail fits, a pasted log file does not.
    pub max_text_bytes: usize,
    /// Most distinct facts on a case. Default 1,000.
    pub max_facts: usize,
    /// Most work items on a case, open or closed. Default 1,000.
    pub max_work_items: usize,
    /// Most events in a case's log. Default 1,000,000.
    pub max_events: u64,
    /// Most incidents one case links to. Default 100.
    pub max_incidents: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_text_bytes: 64 * 1024,
            max_facts: 1_000,
            max_work_items: 1_000,
            max_events: 1_000_000,
            max_incidents: 100,
        }
    }
}

impl Limits {
    fn check(&self, case: &Case, what: &EventKind) -> Result<(), Refusal> {
        let events = case.version().saturating_add(1);
        if events > self.max_events {
            return Err(exceeded("events on a case", self.max_events, events));
        }
        let longest = texts(what).iter().map(|t| t.len()).max().unwrap_or(0);
        if longest > self.max_text_bytes {
            return Err(Refusal::LimitExceeded {
                what: "text length in bytes",
                max: self.max_text_bytes,
                actual: longest,
            });
        }
        match what {
            EventKind::FactRecorded { name, .. } if !case.facts().contains_key(name) => {
                cap("facts on a case", self.max_facts, case.facts().len())
            }
            EventKind::WorkOpened { .. } => cap("work items on a case", self.max_work_items, case.work_items().len()),
            EventKind::IncidentLinked { .. } => cap("incidents on a case", self.max_incidents, case.incidents().len()),
            _ => Ok(()),
        }
    }
}

fn cap(what: &'static str, max: usize, current: usize) -> Result<(), Refusal> {
    let actual = current.saturating_add(1);
    if actual > max {
        Err(Refusal::LimitExceeded { what, max, actual })
    } else {
        Ok(())
    }
}

fn exceeded(what: &'static str, max: u64, actual: u64) -> Refusal {
    let clamp = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    Refusal::LimitExceeded { what, max: clamp(max), actual: clamp(actual) }
}

/// Every free text an event carries, for the length limit.
fn texts(what: &EventKind) -> Vec<&str> {
    match what {
        EventKind::Opened { customer, outcome, owner } => {
            vec![customer.as_str(), outcome, owner.id.as_str(), owner.department.as_str()]
        }
        EventKind::Transferred { to, note: text } | EventKind::Escalated { to, reason: text, .. } => {
            vec![to.id.as_str(), to.department.as_str(), text]
        }
        EventKind::WorkOpened { item, department, title } => vec![item.as_str(), department.as_str(), title],
        EventKind::WorkCompleted { item, note: text } | EventKind::WorkDropped { item, reason: text } => {
            vec![item.as_str(), text]
        }
        EventKind::FactRecorded { name, value, .. } => vec![name, value],
        EventKind::IncidentLinked { incident } => vec![incident.as_str()],
        EventKind::ReachabilityRecorded { note: text, .. }
        | EventKind::NoteAdded { text, .. }
        | EventKind::CustomerContacted { message: text, .. }
        | EventKind::CustomerReplied { message: text, .. }
        | EventKind::OutcomeConfirmed { statement: text }
        | EventKind::OutcomeDisputed { statement: text }
        | EventKind::Resolved { summary: text }
        | EventKind::ClosedUnresolved { evidence: text, .. }
        | EventKind::Reopened { reason: text }
        | EventKind::ConfirmationRequested { reason: text } => vec![text],
    }
}

/// The host's answer to "does this person work in this department?".
///
/// With a directory configured, staff acting for a department they do not belong to are
/// refused, and so are transfers to such a pairing.
pub trait Directory: fmt::Debug + Send + Sync {
    /// Whether `staff` may act for `department`.
    fn is_member(&self, staff: &StaffId, department: &Department) -> bool;
}

/// What decides commands: core invariants, limits, an optional membership directory and
/// the host's policies, evaluated in that order.
///
/// `Rules::default()` enforces the invariants and the default [`Limits`] with no
/// policies.
#[derive(Debug, Default)]
pub struct Rules {
    limits: Limits,
    directory: Option<Box<dyn Directory>>,
    policies: Vec<Box<dyn Policy>>,
}

impl Rules {
    /// Rules with the given limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Rules that check staff membership against the host's directory.
    #[must_use]
    pub fn with_directory(mut self, directory: impl Directory + 'static) -> Self {
        self.directory = Some(Box::new(directory));
        self
    }

    /// Adds a policy, evaluated after those already added.
    #[must_use]
    pub fn with_policy(mut self, policy: impl Policy + 'static) -> Self {
        self.policies.push(Box::new(policy));
        self
    }

    /// Adds an already boxed policy (for policy sets built at run time).
    pub fn push_policy(&mut self, policy: Box<dyn Policy>) {
        self.policies.push(policy);
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The policies, in evaluation order.
    pub fn policies(&self) -> impl Iterator<Item = &dyn Policy> {
        self.policies.iter().map(|p| &**p)
    }

    /// Decides the opening of a case: returns its first event.
    ///
    /// Anyone may open a case (the customer on a web form, staff on the phone, the system
    /// from an e-mail), but it always starts with a named owner.
    ///
    /// # Errors
    ///
    /// [`Refusal::EmptyText`] for an empty outcome, [`Refusal::LimitExceeded`] for
    /// oversized text, [`Refusal::NotAMember`] when a directory says the owner or the
    /// actor does not belong to their department.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{Actor, CaseId, EventKind, Opening, Refusal, Rules, Staff};
    /// use time::macros::datetime;
    ///
    /// let t = datetime!(2026-11-23 09:00 UTC);
    /// let rules = Rules::default();
    /// let opening = Opening::new("cust-7", "   ", Staff::new("ana", "software"));
    /// let err = rules.open(CaseId::new_v7(t, [0; 10]), opening, &Actor::Customer, t).unwrap_err();
    /// assert_eq!(err, Refusal::EmptyText { field: "customer's outcome" });
    /// ```
    pub fn open(&self, case: CaseId, opening: Opening, by: &Actor, at: OffsetDateTime) -> Result<Event, Refusal> {
        self.check_member(by)?;
        self.check_staff(&opening.owner)?;
        let what = EventKind::Opened { customer: opening.customer, outcome: opening.outcome, owner: opening.owner };
        let longest = texts(&what).iter().map(|t| t.len()).max().unwrap_or(0);
        if longest > self.limits.max_text_bytes {
            return Err(Refusal::LimitExceeded {
                what: "text length in bytes",
                max: self.limits.max_text_bytes,
                actual: longest,
            });
        }
        if let EventKind::Opened { outcome, .. } = &what {
            if outcome.trim().is_empty() {
                return Err(Refusal::EmptyText { field: "customer's outcome" });
            }
        }
        Ok(stamp(case, 1, at, by.clone(), what))
    }

    /// Decides a command: the events to append, or why not.
    ///
    /// Pure: the same case, command, actor and time give the same events, ids included.
    /// Nothing changes until the caller folds the events with
    /// [`Case::apply`](crate::Case::apply) (or lets a [`Ledger`](crate::Ledger) do it).
    ///
    /// # Errors
    ///
    /// A [`Refusal`] naming the broken rule. Among them: [`Refusal::NotOwner`],
    /// [`Refusal::CaseClosed`], [`Refusal::OutcomeUnmet`], [`Refusal::WorkStillOpen`],
    /// [`Refusal::EmptyText`], [`Refusal::ReceiverIsOwner`], [`Refusal::UnknownWorkItem`],
    /// [`Refusal::TimeBeforeLastEvent`], and [`Refusal::Policy`] from a policy.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{Actor, Command, Ledger, Opening, Refusal, Rules, Staff};
    /// use time::macros::datetime;
    ///
    /// let t = datetime!(2026-11-23 09:00 UTC);
    /// let rules = Rules::default();
    /// let ana = Staff::new("ana", "software");
    /// let ledger = Ledger::open(&rules, caseledger::CaseId::new_v7(t, [3; 10]),
    ///     Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::Customer, t)?;
    ///
    /// let transfer = Command::Transfer { to: Staff::new("bo", "hardware"), note: "".into() };
    /// let err = rules.decide(ledger.case(), transfer, &Actor::Staff(ana), t).unwrap_err();
    /// assert_eq!(err.to_string(), "the handoff note must not be empty");
    /// # Ok::<(), caseledger::Error>(())
    /// ```
    pub fn decide(&self, case: &Case, command: Command, by: &Actor, at: OffsetDateTime) -> Result<Vec<Event>, Refusal> {
        let at = at.to_offset(UtcOffset::UTC);
        let last = case.clock().last_event_at;
        if at < last {
            return Err(Refusal::TimeBeforeLastEvent { at, last });
        }
        self.check_member(by)?;
        let what = command.into_kind(case.escalation_level().saturating_add(1));
        if let EventKind::Transferred { to, .. } | EventKind::Escalated { to, .. } = &what {
            self.check_staff(to)?;
        }
        self.limits.check(case, &what)?;
        case.check(by, &what)?;
        let proposal = Proposal { by, at, what: &what };
        for policy in &self.policies {
            policy
                .check(case, &proposal)
                .map_err(|reason| Refusal::Policy { policy: policy.name().to_owned(), reason })?;
        }
        let seq = case.version().saturating_add(1);
        Ok(vec![stamp(case.id(), seq, at, by.clone(), what)])
    }

    fn check_member(&self, by: &Actor) -> Result<(), Refusal> {
        match by {
            Actor::Staff(staff) => self.check_staff(staff),
            _ => Ok(()),
        }
    }

    fn check_staff(&self, staff: &Staff) -> Result<(), Refusal> {
        match &self.directory {
            Some(dir) if !dir.is_member(&staff.id, &staff.department) => {
                Err(Refusal::NotAMember { staff: staff.id.clone(), department: staff.department.clone() })
            }
            _ => Ok(()),
        }
    }
}

/// Builds the event, with an id derived from everything it says (see [`EventId`]).
fn stamp(case: CaseId, seq: u64, at: OffsetDateTime, by: Actor, what: EventKind) -> Event {
    let at = at.to_offset(UtcOffset::UTC);
    let mut low = Fnv64::new(0xcbf2_9ce4_8422_2325);
    let mut high = Fnv64::new(0x6c62_272e_07bb_0142);
    for h in [&mut low, &mut high] {
        (case, seq, at, &by, &what).hash(h);
    }
    let entropy = (u128::from(high.finish()) << 64) | u128::from(low.finish());
    Event::new(case, seq, EventId::derived(at, entropy), at, by, what)
}

/// FNV-1a: a fixed, seedless hash, so ids do not depend on a random source (I7).
struct Fnv64(u64);

impl Fnv64 {
    fn new(offset: u64) -> Self {
        Self(offset)
    }
}

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

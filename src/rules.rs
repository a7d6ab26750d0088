//! Rules: the configuration that decides commands, and the pure `decide` step itself.
//!
//! [`Rules::decide`] takes a case, a command, who asks and when, and returns the events
//! to append or a [`Refusal`] naming the broken rule. It checks, in order: the time, the
//! host's membership directory, the [`Limits`], the core invariants (the same check
//! [`Case::apply`](crate::Case::apply) makes) and the configured [`Policy`]s. It reads
//! no clock, file or random source.

use std::fmt;
use std::hash::{Hash, Hasher};

use time::OffsetDateTime;

use crate::actor::{Actor, Staff};
use crate::case::Case;
use crate::command::{Command, Opening};
use crate::error::Refusal;
use crate::event::{writable_utc, Event, EventKind};
use crate::id::{CaseId, Department, EventId, StaffId};
use crate::limits::Limits;
use crate::policy::{Policy, Proposal};

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
    /// oversized text, [`Refusal::ControlCharacter`] for text a database cannot store, [`Refusal::TimeNotWritable`] for a time outside the years 0000 to
    /// 9999, [`Refusal::NotAMember`] when a directory says the owner or the
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
        let at = writable(at)?;
        self.check_member(by)?;
        self.check_staff(&opening.owner)?;
        let what = EventKind::Opened { customer: opening.customer, outcome: opening.outcome, owner: opening.owner };
        self.limits.check_sizes(1, by, &what)?;
        if let EventKind::Opened { outcome, .. } = &what {
            crate::case::check_outcome(outcome)?;
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
    /// [`Refusal::EmptyText`], [`Refusal::ControlCharacter`], [`Refusal::ReceiverIsOwner`],
    /// [`Refusal::UnknownWorkItem`],
    /// [`Refusal::TimeBeforeLastEvent`], [`Refusal::TimeNotWritable`], and
    /// [`Refusal::Policy`] from a policy.
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
        let at = writable(at)?;
        let last = case.clock().last_event_at;
        if at < last {
            return Err(Refusal::TimeBeforeLastEvent { at, last });
        }
        self.check_member(by)?;
        let what = command.into_kind(case.escalation_level().saturating_add(1));
        if let EventKind::Transferred { to, .. } | EventKind::Escalated { to, .. } = &what {
            self.check_staff(to)?;
        }
        case.check_limits(&self.limits, by, &what)?;
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

fn writable(at: OffsetDateTime) -> Result<OffsetDateTime, Refusal> {
    writable_utc(at).ok_or(Refusal::TimeNotWritable { at })
}

/// Builds the event, with an id derived from everything it says (see [`EventId`]).
///
/// `at` is already UTC: both callers pass it through [`writable`] first.
fn stamp(case: CaseId, seq: u64, at: OffsetDateTime, by: Actor, what: EventKind) -> Event {
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

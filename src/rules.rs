//! Rules: the configuration that decides commands, and the pure `decide` step itself.
//!
//! [`Rules::decide`] takes a case, a command, who asks and when, and returns the events
//! to append or a [`Refusal`] naming the broken rule. It checks, in order: the time, the
//! host's membership directory, the [`Limits`], the core invariants (the same check
//! [`Case::apply`](crate::Case::apply) makes, in `src/case/invariants.rs`; see
//! [`Case`'s invariants](crate::Case#invariants)) and the configured [`Policy`]s. It
//! reads no clock, file or random source.
//!
//! # Limits
//!
//! The [`Limits`] are the caps on sizes and counts that keep a hostile or buggy client
//! from making a host allocate without bound. Both the fold ([`Case`]) and `decide` read
//! them, and the [`codec`](crate::codec) checks the size of a line with them; none of
//! those owns them. The checks that need a case's counts live with the case.
//!
//! # Membership
//!
//! A host that knows who works where gives `decide` a [`Directory`]
//! ([`Rules::with_directory`]): staff acting for a department they do not belong to are
//! refused, and so are transfers to such a pairing. The directory also says who may
//! override a configurable policy (S8); without one, nobody may.

use std::borrow::Cow;
use std::fmt;
use std::ops::RangeInclusive;

use time::{Duration, OffsetDateTime};

use crate::actor::{Actor, Staff};
use crate::case::Case;
use crate::command::{Command, Opening, Request};
use crate::error::Refusal;
use crate::event::{writable_utc, Event, EventKind};
use crate::fnv::hash128;
use crate::id::{CaseId, Department, EventId, IdempotencyKey, StaffId};
use crate::policy::{Policy, Proposal};

pub use crate::limits::Limits;

/// What [`Rules::decide_request`] made of a request.
///
/// Exhaustive by design: a caller handles both outcomes, and a third would be a breaking
/// change, since a caller that did not know it would drop or duplicate a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// New events, to fold and append.
    Append(Vec<Event>),
    /// The request's key was already used for this same command, which produced these
    /// events (by sequence number). Append nothing; answer with those events.
    AlreadyDone(RangeInclusive<u64>),
}

/// The host's answer to "does this person work in this department?".
///
/// With a directory configured, staff acting for a department they do not belong to are
/// refused, and so are transfers to such a pairing.
///
/// It also says who may override a configurable policy (S8): by default nobody, so a
/// host empowers staff explicitly, and rules without a directory allow no overrides.
pub trait Directory: fmt::Debug + Send + Sync {
    /// Whether `staff` may act for `department`.
    fn is_member(&self, staff: &StaffId, department: &Department) -> bool;

    /// Whether `staff`, acting for `department`, may override the policy named `policy`
    /// for one command ([`Command::Override`]). Default `false`.
    fn may_override(&self, staff: &StaffId, department: &Department, policy: &str) -> bool {
        let _ = (staff, department, policy);
        false
    }
}

/// What decides commands: core invariants, limits, an optional membership directory and
/// the host's policies, evaluated in that order.
///
/// `Rules::default()` enforces the invariants and the default [`Limits`] with no
/// policies.
#[derive(Debug)]
pub struct Rules {
    limits: Limits,
    directory: Option<Box<dyn Directory>>,
    policies: Vec<Box<dyn Policy>>,
    clock_skew: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Self { limits: Limits::default(), directory: None, policies: Vec::new(), clock_skew: Self::DEFAULT_CLOCK_SKEW }
    }
}

impl Rules {
    /// How far a command's time may lie before the case's last event and still be
    /// recorded, by default: 5 seconds, more than the clocks of two well-run app nodes
    /// differ, far less than anything a person would notice in a timeline.
    pub const DEFAULT_CLOCK_SKEW: Duration = Duration::seconds(5);

    /// Rules that tolerate `tolerance` of clock skew between the host's nodes: a command
    /// whose time is earlier than the case's last event by at most `tolerance` is
    /// recorded at the last event's time, and the event keeps the time the host gave in
    /// [`Event::given_at`]; an earlier one is refused as
    /// [`Refusal::TimeBeforeLastEvent`]. Nothing is ever reordered. A negative tolerance
    /// counts as zero.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::Rules;
    /// use time::Duration;
    ///
    /// assert_eq!(Rules::default().clock_skew(), Duration::seconds(5));
    /// assert_eq!(Rules::default().with_clock_skew(Duration::ZERO).clock_skew(), Duration::ZERO);
    /// ```
    #[must_use]
    pub fn with_clock_skew(mut self, tolerance: Duration) -> Self {
        self.clock_skew = tolerance.max(Duration::ZERO);
        self
    }

    /// The clock skew tolerated (see [`Rules::with_clock_skew`]).
    #[must_use]
    pub fn clock_skew(&self) -> Duration {
        self.clock_skew
    }

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
    /// let err = rules.open(CaseId::new_v7(t, [0; 10]), opening, &Actor::customer("cust-7"), t).unwrap_err();
    /// assert_eq!(err, Refusal::EmptyText { field: "customer's outcome" });
    /// ```
    pub fn open(&self, case: CaseId, opening: Opening, by: &Actor, at: OffsetDateTime) -> Result<Event, Refusal> {
        let at = writable(at)?;
        self.check_member(by)?;
        if let Actor::Customer(customer) = by {
            if *customer != opening.customer {
                return Err(Refusal::OtherCustomer { customer: customer.clone() });
            }
        }
        self.check_staff(&opening.owner)?;
        let what = EventKind::Opened { customer: opening.customer, outcome: opening.outcome, owner: opening.owner };
        self.limits.check_sizes(1, by, &what)?;
        if let EventKind::Opened { outcome, .. } = &what {
            crate::case::check_outcome(outcome)?;
        }
        Ok(stamp(case, 1, at, by.clone(), what, None, None))
    }

    /// Decides a command: the events to append, or why not.
    ///
    /// Pure: the same case, command, actor and time give the same events, ids included.
    /// Nothing changes until the caller folds the events with
    /// [`Case::apply`](crate::Case::apply) (or lets a [`Ledger`](crate::Ledger) do it).
    ///
    /// The rule that refuses a command is usually not here: after the time, the
    /// directory and the limits, `decide` runs the case's own checks, the same ones the
    /// fold runs, each tagged with the invariant it keeps (I1–I8, see
    /// [`Case`'s invariants](crate::Case#invariants); in the source,
    /// `src/case/invariants.rs`), and only then the configured [`Policy`]s.
    ///
    /// # Errors
    ///
    /// A [`Refusal`] naming the broken rule. Among them: [`Refusal::NotOwner`],
    /// [`Refusal::CaseClosed`], [`Refusal::OutcomeUnmet`], [`Refusal::WorkStillOpen`],
    /// [`Refusal::EmptyText`], [`Refusal::ControlCharacter`], [`Refusal::ReceiverIsOwner`],
    /// [`Refusal::UnknownWorkItem`],
    /// [`Refusal::TimeBeforeLastEvent`] (earlier than the last event by more than the
    /// [clock skew](Rules::with_clock_skew) tolerated), [`Refusal::TimeNotWritable`], and
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
    ///     Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), t)?;
    ///
    /// let transfer = Command::Transfer { to: Staff::new("bo", "hardware"), note: "".into() };
    /// let err = rules.decide(ledger.case(), transfer, &Actor::Staff(ana), t).unwrap_err();
    /// assert_eq!(err.to_string(), "the handoff note must not be empty");
    /// # Ok::<(), caseledger::Error>(())
    /// ```
    pub fn decide(&self, case: &Case, command: Command, by: &Actor, at: OffsetDateTime) -> Result<Vec<Event>, Refusal> {
        self.decide_keyed(case, command, None, Cow::Borrowed(by), at)
    }

    /// Decides a [`Request`]: a command, with the host's idempotency key if it gave one.
    ///
    /// With a key the case remembers (see [`Case::idempotent`]), nothing is decided: the
    /// same command by the same person is [`Decision::AlreadyDone`] with the events it
    /// produced, whatever the case and the time are now; another command is refused as
    /// [`Refusal::KeyReused`]. Otherwise the command is decided as by [`Rules::decide`],
    /// and its events carry the key, so the log remembers it across restarts.
    ///
    /// A retry is recognised by its key, not by its event: event ids hash `at`, which
    /// differs on a retry, so without a key a retried note would be a second note.
    ///
    /// # Errors
    ///
    /// As [`Rules::decide`], and [`Refusal::KeyReused`].
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{
    ///     command::Request, event::Visibility, rules::Decision, Actor, CaseId, Command,
    ///     IdempotencyKey, Ledger, Opening, Rules, Staff,
    /// };
    /// use time::macros::datetime;
    ///
    /// let t = datetime!(2026-11-23 09:00 UTC);
    /// let rules = Rules::default();
    /// let ana = Actor::staff("ana", "software");
    /// let mut ledger = Ledger::open(&rules, CaseId::new_v7(t, [3; 10]),
    ///     Opening::new("cust-7", "my laptop works", Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?;
    /// let note = Command::AddNote { text: "BIOS 1.9 tried".into(), visibility: Visibility::Internal };
    /// let request = Request::new(note).key(IdempotencyKey::new("req-1")?);
    ///
    /// let Decision::Append(events) = rules.decide_request(ledger.case(), request.clone(), &ana, t)? else {
    ///     unreachable!("a new key")
    /// };
    /// ledger.append(events)?;
    /// // The response was lost; the client sends the request again a minute later.
    /// let retry = rules.decide_request(ledger.case(), request, &ana, datetime!(2026-11-23 09:01 UTC))?;
    /// assert_eq!(retry, Decision::AlreadyDone(2..=2));
    /// # Ok::<(), caseledger::Error>(())
    /// ```
    pub fn decide_request(
        &self,
        case: &Case,
        request: impl Into<Request>,
        by: &Actor,
        at: OffsetDateTime,
    ) -> Result<Decision, Refusal> {
        self.decide_request_as(case, request.into(), Cow::Borrowed(by), at)
    }

    /// [`Rules::decide_request`] for a caller that owns `by` and needs it no more: the
    /// command's own event takes it instead of a copy (the repository's hot path).
    pub(crate) fn decide_request_as(
        &self,
        case: &Case,
        request: Request,
        by: Cow<'_, Actor>,
        at: OffsetDateTime,
    ) -> Result<Decision, Refusal> {
        let Request { command, key } = request;
        if let Some(key) = &key {
            if let Some(done) = case.idempotent(key, &command, &by)? {
                return Ok(Decision::AlreadyDone(done));
            }
        }
        self.decide_keyed(case, command, key, by, at).map(Decision::Append)
    }

    fn decide_keyed(
        &self,
        case: &Case,
        command: Command,
        key: Option<IdempotencyKey>,
        by_value: Cow<'_, Actor>,
        at: OffsetDateTime,
    ) -> Result<Vec<Event>, Refusal> {
        let by: &Actor = &by_value;
        let given = writable(at)?;
        let last = case.clock().last_event_at;
        // Another node's clock a little behind: record at the last event's time, and say
        // so on the event. Beyond the tolerance it is refused; nothing is reordered.
        // Usually both are UTC and the given time is the later: settled without the
        // subtraction.
        let in_order = given.offset() == last.offset() && (given.date(), given.time()) >= (last.date(), last.time());
        let (at, given_at) = if in_order {
            (given, None)
        } else {
            match last - given {
                behind if behind <= Duration::ZERO => (given, None),
                behind if behind <= self.clock_skew => (last, Some(given)),
                _ => return Err(Refusal::TimeBeforeLastEvent { at: given, last }),
            }
        };
        self.check_member(by)?;
        case.check_customer(by)?;
        let (overrides, command) = take_overrides(command);
        for (policy, reason) in &overrides {
            self.check_override(by, policy, reason)?;
        }
        let what = command.into_kind(case.escalation_level().saturating_add(1));
        if let EventKind::Transferred { to, .. } | EventKind::Escalated { to, .. } = &what {
            self.check_staff(to)?;
        }
        let first = case.version().saturating_add(1);
        let nth = u64::try_from(overrides.len()).unwrap_or(u64::MAX).saturating_add(1);
        case.check_limits_nth(&self.limits, nth, by, &what)?;
        case.check(by, &what)?;
        let proposal = Proposal { by, at, what: &what };
        // What each overridden policy said, in the order the overrides were asked for.
        let mut refusals: Vec<Option<String>> =
            if overrides.is_empty() { Vec::new() } else { vec![None; overrides.len()] };
        for policy in &self.policies {
            let Err(reason) = policy.check(case, &proposal) else { continue };
            let name = policy.name();
            let lifted = overrides.iter().position(|(p, _)| p == name).and_then(|i| refusals.get_mut(i));
            match lifted {
                Some(slot @ None) => *slot = Some(reason),
                _ => return Err(Refusal::Policy { policy: name.to_owned(), reason }),
            }
        }
        let mut events = Vec::with_capacity(overrides.len() + 1);
        for (((policy, reason), refusal), seq) in overrides.into_iter().zip(refusals).zip(first..) {
            let Some(refusal) = refusal else {
                return Err(Refusal::NothingToOverride { policy });
            };
            let refusal = clip(refusal, self.limits.max_text_bytes);
            let overridden = EventKind::PolicyOverridden { policy, reason, refusal };
            case.check_limits_nth(&self.limits, seq - case.version(), by, &overridden)?;
            case.check(by, &overridden)?;
            events.push(stamp(case.id(), seq, at, by.clone(), overridden, key.clone(), given_at));
        }
        let seq = case.version().saturating_add(nth);
        events.push(stamp(case.id(), seq, at, by_value.into_owned(), what, key, given_at));
        Ok(events)
    }

    /// Whether `by` may override the policy named `policy` with `reason` (S8): a
    /// configured, overridable policy, never an invariant, by staff the directory empowers.
    fn check_override(&self, by: &Actor, policy: &str, reason: &str) -> Result<(), Refusal> {
        let configured = self.policies.iter().find(|p| p.name() == policy);
        let Some(configured) = configured else {
            if let Some(invariant) = crate::overrides::invariant(policy) {
                return Err(Refusal::InvariantNotOverridable { rule: policy.to_owned(), invariant });
            }
            return Err(Refusal::UnknownPolicy { policy: policy.to_owned() });
        };
        if !configured.overridable() {
            return Err(Refusal::NotOverridable { policy: policy.to_owned() });
        }
        let empowered = match (by, &self.directory) {
            (Actor::Staff(staff), Some(directory)) => directory.may_override(&staff.id, &staff.department, policy),
            _ => false,
        };
        if !empowered {
            return Err(Refusal::NotEmpoweredToOverride { by: by.clone(), policy: policy.to_owned() });
        }
        crate::overrides::check(policy, reason)
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

/// `text` with control characters made spaces, cut to at most `max` bytes on a
/// character boundary, ending in "…" when cut. A
/// policy's refusal is the host's own words, quoted on the override; quoting them must
/// not make the override exceed the text limit the client's reason is held to.
fn clip(text: String, max: usize) -> String {
    // A host's policy may say anything; what is recorded must be storable text.
    let mut text = if text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        text.chars().map(|c| if c.is_control() && !matches!(c, '\t' | '\n' | '\r') { ' ' } else { c }).collect()
    } else {
        text
    };
    if text.len() <= max {
        return text;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    if text.len() + '…'.len_utf8() <= max {
        text.push('…');
    }
    text
}

/// The overrides wrapped around a command, outermost first, and the command itself.
fn take_overrides(mut command: Command) -> (Vec<(String, String)>, Command) {
    let mut overrides = Vec::new();
    while let Command::Override { policy, reason, command: inner } = command {
        overrides.push((policy, reason));
        command = *inner;
    }
    (overrides, command)
}

fn writable(at: OffsetDateTime) -> Result<OffsetDateTime, Refusal> {
    writable_utc(at).ok_or(Refusal::TimeNotWritable { at })
}

/// Builds the event, with an id derived from everything it says (see [`EventId`]),
/// the idempotency key and the host's own time included: two requests with different
/// keys never share an id.
///
/// `at` (and `given_at`) are already UTC: both callers pass them through [`writable`].
fn stamp(
    case: CaseId,
    seq: u64,
    at: OffsetDateTime,
    by: Actor,
    what: EventKind,
    key: Option<IdempotencyKey>,
    given_at: Option<OffsetDateTime>,
) -> Event {
    // Events with neither hash exactly what they hashed before schema 2.
    let entropy = match (&key, given_at) {
        (None, None) => hash128(&(case, seq, at, &by, &what)),
        (key, given_at) => hash128(&(case, seq, at, &by, &what, key, given_at)),
    };
    let mut event = Event::new(case, seq, EventId::derived(at, entropy), at, by, what);
    event.key = key;
    event.given_at = given_at;
    event
}

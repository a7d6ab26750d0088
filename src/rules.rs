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
use time::OffsetDateTime;

use crate::actor::{Actor, Staff};
use crate::case::Case;
use crate::command::{Command, Opening};
use crate::error::Refusal;
use crate::event::{writable_utc, Event, EventKind};
use crate::id::{CaseId, Department, EventId, StaffId};
use crate::policy::{Policy, Proposal};

/// Caps that keep a hostile or buggy client from making a host allocate without bound.
///
/// [`Rules::decide`] checks them for every command. For logs the host did not write
/// itself, [`decode_log_with_limits`](crate::decode_log_with_limits) checks the size and
/// number of lines before parsing, and [`Case::replay_with_limits`] /
/// [`Case::apply_with_limits`] check every event while folding.
///
/// The defaults sit far above any honest case, so they stop runaway integrations and
/// hostile input, never a real customer's history. Under them one case holds at most
/// about 200 MiB of text (1,000 work items with a title and a note at the text cap, and
/// 1,000 facts); a host that keeps many cases in memory lowers them.
///
/// # Example
///
/// ```
/// use caseledger::{Limits, Rules};
///
/// let mut limits = Limits::default();
/// limits.max_work_items = 50;
/// let rules = Rules::default().with_limits(limits);
/// assert_eq!(rules.limits().max_work_items, 50);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Limits {
    /// Longest free text in bytes: a note, a message, a reason, a title, a fact's value,
    /// the customer's outcome. Default 64 KiB: a long e-mail pasted into a note fits; a
    /// pasted log file or attachment does not (it belongs in the host's file store,
    /// referenced by a fact).
    pub max_text_bytes: usize,
    /// Longest identifier or name in bytes: staff ids, departments, customer references,
    /// work item and incident ids, fact names. Default 256: an e-mail address (at most
    /// 254 bytes) used as a login fits. Ids are map keys and travel on every event, so
    /// they are kept short.
    pub max_id_bytes: usize,
    /// Most distinct facts on a case. Default 1,000: a case records a few dozen (customer
    /// numbers, addresses, serial numbers); a thousand is a client writing in a loop.
    pub max_facts: usize,
    /// Most work items on a case, open or closed. Default 1,000: S1's laptop involves four
    /// departments; a thousand pieces of work is a runaway integration.
    pub max_work_items: usize,
    /// Most distinct owners (a staff member with a department) a case has over its life.
    /// Default 1,000: a case through a thousand different hands is a runaway router. The
    /// cap bounds the owner history each handoff searches for bounces, so a hostile log
    /// cannot make replay quadratic. Ping-pong among a few people is not counted here;
    /// refusing that is a policy's business (S4).
    pub max_owners: usize,
    /// Most events in a case's log. Default 1,000,000, about a thousand times the busiest
    /// real case. A case's memory does not grow with its events; this cap bounds the time
    /// to replay a log and the memory of replay's duplicate-id check (24 bytes an event).
    pub max_events: u64,
    /// Most incidents one case links to. Default 100: nobody is hit by a hundred distinct
    /// outages at once, and checking a new link is linear in this number.
    pub max_incidents: usize,
    /// Longest line of a JSON Lines log in bytes, checked before the line is parsed.
    /// Default 1 MiB: an event carries at most one free text and five ids, so under the
    /// default limits every event fits in about 400 KB even with every byte escaped as
    /// `\u00XX`; nothing this crate writes under the defaults is refused on reading.
    pub max_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_text_bytes: 64 * 1024,
            max_id_bytes: 256,
            max_facts: 1_000,
            max_work_items: 1_000,
            max_owners: 1_000,
            max_events: 1_000_000,
            max_incidents: 100,
            max_line_bytes: 1024 * 1024,
        }
    }
}

impl Limits {
    /// Whether `by` may record `what` as the next event of `case` within the limits.
    pub(crate) fn check(&self, case: &Case, by: &Actor, what: &EventKind) -> Result<(), Refusal> {
        self.check_nth(case, 1, by, what)
    }

    /// Whether `by` may record `what` as the `nth` event after `case`'s last one (a
    /// command may record an override before its own event).
    pub(crate) fn check_nth(&self, case: &Case, nth: u64, by: &Actor, what: &EventKind) -> Result<(), Refusal> {
        self.check_sizes(case.version().saturating_add(nth), by, what)?;
        match what {
            EventKind::FactRecorded { name, .. } if !case.facts().contains_key(name) => {
                cap("facts on a case", self.max_facts, case.facts().len())
            }
            EventKind::WorkOpened { .. } => cap("work items on a case", self.max_work_items, case.work_items().len()),
            EventKind::IncidentLinked { .. } => cap("incidents on a case", self.max_incidents, case.incidents().len()),
            EventKind::Transferred { to, .. } | EventKind::Escalated { to, .. } if !case.has_owned(to) => {
                cap("distinct owners of a case", self.max_owners, case.distinct_owners())
            }
            _ => Ok(()),
        }
    }

    /// The checks that need no case: the event count it would make, and text sizes.
    pub(crate) fn check_sizes(&self, events: u64, by: &Actor, what: &EventKind) -> Result<(), Refusal> {
        if events > self.max_events {
            let clamp = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
            return Err(Refusal::LimitExceeded {
                what: "events on a case",
                max: clamp(self.max_events),
                actual: clamp(events),
            });
        }
        for (what, id) in by.as_staff().map(staff_ids).into_iter().flatten().chain(ids(what)) {
            if id.len() > self.max_id_bytes {
                return Err(Refusal::LimitExceeded { what, max: self.max_id_bytes, actual: id.len() });
            }
        }
        if let EventKind::PolicyOverridden { refusal, .. } = what {
            if refusal.len() > self.max_text_bytes {
                let what = "bytes in the overridden policy's refusal";
                return Err(Refusal::LimitExceeded { what, max: self.max_text_bytes, actual: refusal.len() });
            }
        }
        match free_text(what) {
            Some((what, text)) if text.len() > self.max_text_bytes => {
                Err(Refusal::LimitExceeded { what, max: self.max_text_bytes, actual: text.len() })
            }
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

fn staff_ids(staff: &Staff) -> [(&'static str, &str); 2] {
    [("bytes in the staff id", staff.id.as_str()), ("bytes in the department", staff.department.as_str())]
}

/// The identifiers and names an event carries, with what each is, for the id limit.
fn ids(what: &EventKind) -> Vec<(&'static str, &str)> {
    match what {
        EventKind::Opened { customer, owner, .. } => {
            let [id, department] = staff_ids(owner);
            vec![("bytes in the customer reference", customer.as_str()), id, department]
        }
        EventKind::Transferred { to, .. } | EventKind::Escalated { to, .. } => staff_ids(to).to_vec(),
        EventKind::WorkOpened { item, department, .. } => {
            vec![("bytes in the work item id", item.as_str()), ("bytes in the department", department.as_str())]
        }
        EventKind::WorkCompleted { item, .. } | EventKind::WorkDropped { item, .. } => {
            vec![("bytes in the work item id", item.as_str())]
        }
        EventKind::FactRecorded { name, .. } => vec![("bytes in the fact name", name.as_str())],
        EventKind::IncidentLinked { incident } => vec![("bytes in the incident id", incident.as_str())],
        EventKind::PolicyOverridden { policy, .. } => vec![("bytes in the policy name", policy.as_str())],
        _ => Vec::new(),
    }
}

/// The one free text an event carries, if any, with what it is (every kind has at most one).
fn free_text(what: &EventKind) -> Option<(&'static str, &str)> {
    let named = match what {
        EventKind::Opened { outcome, .. } => ("bytes in the customer's outcome", outcome),
        EventKind::Transferred { note, .. } => ("bytes in the handoff note", note),
        EventKind::Escalated { reason, .. } => ("bytes in the reason for escalating", reason),
        EventKind::WorkOpened { title, .. } => ("bytes in the work item title", title),
        EventKind::WorkCompleted { note, .. } => ("bytes in the note on completed work", note),
        EventKind::WorkDropped { reason, .. } => ("bytes in the reason for dropping work", reason),
        EventKind::FactRecorded { value, .. } => ("bytes in the fact value", value),
        EventKind::ReachabilityRecorded { note, .. } => ("bytes in the note on reachability", note),
        EventKind::NoteAdded { text, .. } => ("bytes in the note", text),
        EventKind::CustomerContacted { message, .. } => ("bytes in the message to the customer", message),
        EventKind::CustomerReplied { message, .. } => ("bytes in the customer's message", message),
        EventKind::OutcomeConfirmed { statement } | EventKind::OutcomeDisputed { statement } => {
            ("bytes in the customer's statement", statement)
        }
        EventKind::Resolved { summary } => ("bytes in the resolution summary", summary),
        EventKind::ClosedUnresolved { evidence, .. } => ("bytes in the evidence for the ending", evidence),
        EventKind::Reopened { reason } => ("bytes in the reason for reopening", reason),
        EventKind::ConfirmationRequested { reason } => ("bytes in the reason for asking confirmation", reason),
        EventKind::PolicyOverridden { reason, .. } => ("bytes in the reason for overriding", reason),
        EventKind::IncidentLinked { .. } => return None,
    };
    Some((named.0, named.1.as_str()))
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
    /// oversized text, [`Refusal::TimeNotWritable`] for a time outside the years 0000 to
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
    /// [`Refusal::EmptyText`], [`Refusal::ReceiverIsOwner`], [`Refusal::UnknownWorkItem`],
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
        self.limits.check_nth(case, nth, by, &what)?;
        case.check(by, &what)?;
        let proposal = Proposal { by, at, what: &what };
        // What each overridden policy said, in the order the overrides were asked for.
        let mut refusals: Vec<Option<String>> = vec![None; overrides.len()];
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
            self.limits.check_nth(case, seq - case.version(), by, &overridden)?;
            case.check(by, &overridden)?;
            events.push(stamp(case.id(), seq, at, by.clone(), overridden));
        }
        let seq = case.version().saturating_add(nth);
        events.push(stamp(case.id(), seq, at, by.clone(), what));
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

/// `text` cut to at most `max` bytes on a character boundary, ending in "…" when cut. A
/// policy's refusal is the host's own words, quoted on the override; quoting them must
/// not make the override exceed the text limit the client's reason is held to.
fn clip(mut text: String, max: usize) -> String {
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

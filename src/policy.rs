//! Service policies: a host's own rules ([`Policy`]), the built-in ones it switches on and
//! tunes as data ([`PolicySet`]), and what service is measured by: deadlines, escalation
//! triggers, incidents and overrides.
//!
//! A policy is consulted by [`Rules::decide`](crate::Rules::decide) after the core
//! invariants pass; deadlines and triggers are computed from a case and a `now` the
//! caller passes. Nothing here reads a clock.
//!
//! # A host's own policy
//!
//! A policy sees the case and the proposed event and either lets it through or refuses
//! it with a reason that names its numbers. The refusal reaches the caller as
//! [`Refusal::Policy`](crate::Refusal::Policy) carrying the policy's name.
//!
//! ```
//! use caseledger::{
//!     policy::Proposal, Actor, Case, Command, EventKind, Opening, Policy, Refusal, Rules, Staff,
//! };
//! use time::macros::datetime;
//!
//! /// Billing may not close cases: they must hand them back.
//! #[derive(Debug)]
//! struct BillingNeverCloses;
//!
//! impl Policy for BillingNeverCloses {
//!     fn name(&self) -> &str {
//!         "billing_never_closes"
//!     }
//!
//!     fn check(&self, _case: &Case, proposal: &Proposal<'_>) -> Result<(), String> {
//!         let closing = matches!(proposal.what, EventKind::ClosedUnresolved { .. });
//!         if closing && proposal.by.department().is_some_and(|d| d.as_str() == "billing") {
//!             return Err("billing hands cases back instead of closing them".into());
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let rules = Rules::default().with_policy(BillingNeverCloses);
//! let bea = Staff::new("bea", "billing");
//! let t0 = datetime!(2026-11-23 09:00 UTC);
//! let id = caseledger::CaseId::new_v7(t0, [1; 10]);
//! let mut ledger = caseledger::Ledger::open(&rules, id, Opening::new("c-1", "refund my double charge", bea.clone()), &Actor::customer("c-1"), t0)?;
//! let close = Command::CloseUnresolved {
//!     ending: caseledger::event::Ending::Withdrawn,
//!     evidence: "customer said so on the phone".into(),
//! };
//! let err = ledger.execute(&rules, close, &bea.into(), t0).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "refused by policy billing_never_closes: billing hands cases back instead of closing them",
//! );
//! # Ok::<(), caseledger::Error>(())
//! ```
//!
//! # Built-in policies
//!
//! The built-ins are the rules a host switches on and tunes as data, and the
//! [`PolicySet`] it stores beside its own settings and turns into [`Rules`](crate::Rules).
//!
//! Customer-service rules differ by company, so the built-ins are configuration, not
//! code: a [`PolicySet`] is plain serde data (JSON below) holding the [`Limits`](crate::rules::Limits), the
//! refusing policies in evaluation order, the [`Deadlines`] and the
//! [`EscalationTriggers`]. [`PolicySet::to_rules`] checks the numbers and builds the
//! [`Rules`](crate::Rules) that [`Rules::decide`](crate::Rules::decide) consults; a host's own
//! [`Policy`] implementations go after the built-ins with [`Rules::with_policy`](crate::Rules::with_policy).
//!
//! | `type`             | Story  | Refuses                                                    |
//! |--------------------|--------|------------------------------------------------------------|
//! | `bounce_limit`     | S4     | a transfer that bounces the case once too often            |
//! | `one_voice`        | S1     | staff other than the owner (or a working department) contacting the customer |
//! | `follow_up_limit`  | S1, S2 | one more unanswered contact in a window                    |
//! | `honest_silence`   | S2     | closing as unreachable without enough attempts over enough time |
//! | `only_customer_confirms` | S2, I2 | a confirmation staff report, for hosts where customers confirm on a portal (not overridable) |
//!
//! With `escalation.refuse_transfers` set, the `escalation_required` policy refuses
//! transfers other than escalations while a trigger has fired (S5); it runs after the
//! listed policies.
//!
//! Two rules are not configurable because they are facts, not preferences, and
//! [`Case::apply`](crate::Case::apply) keeps them for every log: contacting the customer
//! on a channel recorded as unusable is always refused
//! ([`Refusal::ChannelUnreachable`](crate::Refusal::ChannelUnreachable), S6), and silence
//! never resolves a case: only the customer's confirmation does (I2, S2).
//!
//! Every policy reads only the [`Case`] (its counters, clock and the bounded list of
//! recent contact times) and the proposal, so each decision costs O(1) or O(open work),
//! never O(history).
//!
//! ## Example
//!
//! ```
//! use caseledger::{Actor, CaseId, Command, Ledger, Opening, PolicySet, Staff};
//! use time::macros::datetime;
//!
//! let set = PolicySet::from_json(r#"{
//!     "policies": [
//!         {"type": "bounce_limit", "max_bounces": 1},
//!         {"type": "one_voice"},
//!         {"type": "follow_up_limit", "max_unanswered": 10, "window": "14d"},
//!         {"type": "honest_silence", "min_attempts": 3, "min_span": "7d"}
//!     ],
//!     "deadlines": {"first_response": "4h", "next_update": "2d", "warn_before": "1h"},
//!     "escalation": {"after_handoffs": 4, "after_customer_asks": 2, "refuse_transfers": true}
//! }"#)?;
//! let rules = set.to_rules()?;
//!
//! let t = datetime!(2026-11-23 09:00 UTC);
//! let ana = Staff::new("ana", "software");
//! let ledger = Ledger::open(&rules, CaseId::new_v7(t, [1; 10]),
//!     Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), t)?;
//!
//! // Hardware has no business writing to the customer about the owner's case.
//! let ask = Command::ContactCustomer { channel: caseledger::event::Channel::Email, message: "can I close it?".into() };
//! let err = rules.decide(ledger.case(), ask, &Actor::staff("bo", "hardware"), t).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "refused by policy one_voice: only the owner, ana (software), contacts the customer; \
//!      bo (hardware) should ask the owner",
//! );
//! # Ok::<(), caseledger::Error>(())
//! ```
//!
//! # Deadlines
//!
//! [`Deadlines`]: when the customer must first hear from staff and when next, computed
//! from the case and a `now` the caller passes.
//!
//! [`Deadlines::check`] answers "what is breached or due soon, and by how long" for a
//! dashboard or a scheduler.
//!
//! ## Breaches on the timeline
//!
//! A breach becomes part of the case's history when the host records it as an internal
//! note by [`Actor::System`]: [`Deadline::breach_note`] gives the
//! command, and [`Deadlines::breached_between`] gives each breach exactly once to a
//! scheduler that passes the time of its previous run. The note is then in the log, on
//! every department's timeline and in replays, with no new event kind and no schema
//! change; it is internal because the customer already knows they are waiting. A
//! deadline moves only when the customer is updated, so a recorded breach note does not
//! hide the breach from [`Deadlines::check`].
//!
//! ## Example
//!
//! ```
//! use caseledger::{
//!     policy::{DeadlineKind, DeadlineState, Deadlines, Span}, Actor, CaseId, Ledger, Opening,
//!     Rules, Staff,
//! };
//! use time::macros::datetime;
//! use time::Duration;
//!
//! let t = datetime!(2026-11-23 09:00 UTC);
//! let rules = Rules::default();
//! let mut ledger = Ledger::open(&rules, CaseId::new_v7(t, [2; 10]),
//!     Opening::new("cust-7", "my laptop works", Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?;
//! let deadlines = Deadlines::default().first_response(Span::hours(4));
//!
//! let now = datetime!(2026-11-23 15:30 UTC);
//! let late = deadlines.check(ledger.case(), now);
//! assert_eq!(late.len(), 1);
//! assert_eq!(late[0].deadline.kind, DeadlineKind::FirstResponse);
//! assert_eq!(late[0].state, DeadlineState::Breached { overdue: Duration::minutes(150) });
//! assert_eq!(late[0].to_string(), "first response overdue by 2 hours 30 minutes (due 2026-11-23 13:00)");
//!
//! // The scheduler records the breach once, on the timeline.
//! for breach in deadlines.breached_between(ledger.case(), t, now) {
//!     ledger.execute(&rules, breach.breach_note(), &Actor::System, now)?;
//! }
//! assert!(ledger.timeline().to_string().contains("first response deadline breached"));
//! # Ok::<(), caseledger::Error>(())
//! ```
//!
//! # Escalation (S5)
//!
//! [`EscalationTriggers`]: escalate before the customer has to threaten to leave.
//!
//! [`EscalationTriggers::fired`] says which triggers require escalation at a time the
//! caller passes. Each trigger measures from the last escalation (or the opening), so
//! escalating satisfies it until it fires again at the new level. With
//! [`EscalationTriggers::refuse_transfers`] set, the `escalation_required` policy
//! refuses sideways transfers while a trigger has fired: the case goes up, not around.
//!
//! ## Example
//!
//! ```
//! use caseledger::{
//!     event::Channel, policy::{EscalationTrigger, EscalationTriggers}, Actor, CaseId, Command,
//!     Ledger, Opening, Rules, Staff,
//! };
//! use time::macros::datetime;
//!
//! let t = datetime!(2026-11-23 09:00 UTC);
//! let rules = Rules::default();
//! let mut ledger = Ledger::open(&rules, CaseId::new_v7(t, [4; 10]),
//!     Opening::new("cust-7", "my laptop works", Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?;
//! let triggers = EscalationTriggers::default().after_customer_asks(2);
//!
//! for ask in ["any news?", "hello??"] {
//!     ledger.execute(&rules, Command::RecordReply { channel: Channel::Email, message: ask.into() }, &Actor::customer("cust-7"), t)?;
//! }
//! let fired = triggers.fired(ledger.case(), t);
//! assert_eq!(fired, [EscalationTrigger::CustomerAsks { asks: 2, after: 2 }]);
//! assert_eq!(fired[0].to_string(), "the customer asked 2 times without an answer (escalate after 2)");
//! # Ok::<(), caseledger::Error>(())
//! ```
//!
//! # Incidents (S6)
//!
//! When a known incident ends, every open case linked to it is flagged to ask its
//! customer for confirmation: [`confirmation_requests`] gives the commands to record.
//! Nothing is resolved wholesale: each customer's own outcome still needs their own
//! confirmation (I2).
//!
//! # Overrides (S8)
//!
//! Configurable policies are preferences written for the average case; staff the host
//! empowers may set one aside for one command with a reason that goes on the timeline
//! ([`Command::Override`](crate::Command::Override)). The invariants I1–I8 and the
//! outcome gate are facts about what a case is, not preferences: no override names them.
//! A reason has at least [`MIN_OVERRIDE_REASON_CHARS`] characters. The deciding is in
//! [`Rules::decide`](crate::Rules::decide), and the fold holds recorded overrides to the
//! same rules.
//!
//! # Spans
//!
//! A [`Span`] is a length of time as a host writes it in its policy configuration
//! ("90m", "4h", "14d"); refusals and reports put durations, times and counts in the
//! same plain words.

use std::fmt;

use time::OffsetDateTime;

use crate::actor::Actor;
use crate::case::Case;
use crate::event::EventKind;

pub use crate::deadline::{Deadline, DeadlineKind, DeadlineState, DeadlineStatus, Deadlines};
pub use crate::escalation::{EscalationTrigger, EscalationTriggers};
pub use crate::incident::confirmation_requests;
pub use crate::overrides::MIN_OVERRIDE_REASON_CHARS;
pub use crate::policies::{MayContact, PolicyConfig, PolicySet};
pub use crate::span::{ParseSpanError, Span};

/// What a policy is asked about: `by` proposes to record `what` at `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Proposal<'a> {
    /// Who asks.
    pub by: &'a Actor,
    /// When, in UTC.
    pub at: OffsetDateTime,
    /// The event that would be recorded.
    pub what: &'a EventKind,
}

impl<'a> Proposal<'a> {
    /// A proposal by `by` to record `what` at `at`, for calling a policy directly in tests.
    #[must_use]
    pub fn new(by: &'a Actor, at: OffsetDateTime, what: &'a EventKind) -> Self {
        Self { by, at, what }
    }
}

/// A service rule a host adds to [`Rules`](crate::Rules).
///
/// Policies run only when deciding commands, never when folding a log: a log recorded
/// under one policy set stays readable after the host changes its policies.
///
/// A policy must be pure (no clock, no I/O) and should cost O(1) or O(open work), never
/// O(history): everything it needs is on the [`Case`].
pub trait Policy: fmt::Debug + Send + Sync {
    /// A short, stable, snake_case name that refusals carry.
    fn name(&self) -> &str;

    /// Lets the proposal through, or refuses it with a reason that states the rule and
    /// its numbers ("3 bounces already; the limit is 2").
    ///
    /// # Errors
    ///
    /// The reason for refusing, in words for the person who asked.
    fn check(&self, case: &Case, proposal: &Proposal<'_>) -> Result<(), String>;

    /// Whether staff the host empowers may override this policy for one command, with a
    /// reason recorded on the timeline (S8, [`Command::Override`](crate::Command::Override)).
    ///
    /// Default `false`: a host's policy is binding unless it says otherwise. The built-in
    /// `bounce_limit`, `one_voice`, `follow_up_limit`, `honest_silence` and
    /// `escalation_required` are overridable.
    fn overridable(&self) -> bool {
        false
    }
}

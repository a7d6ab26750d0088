//! Policies: a host's own service rules, consulted by [`Rules::decide`](crate::Rules::decide)
//! after the core invariants pass.
//!
//! A policy sees the case and the proposed event and either lets it through or refuses
//! it with a reason that names its numbers. The refusal reaches the caller as
//! [`Refusal::Policy`](crate::Refusal::Policy) carrying the policy's name.
//!
//! # Example: a host's own policy
//!
//! ```
//! use caseledger::{policy::Proposal, Actor, Case, Command, EventKind, Opening, Policy, Refusal, Rules, Staff};
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
//! let mut ledger = caseledger::Ledger::open(&rules, id, Opening::new("c-1", "refund my double charge", bea.clone()), &Actor::Customer, t0)?;
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

//! Escalation triggers (S5); their guide is the [`policy`](crate::policy) module's.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::case::Case;
use crate::error::ConfigError;
use crate::event::EventKind;
use crate::policy::{Policy, Proposal};
use crate::span::{count, words, Span};

/// When escalation is required. Every trigger is optional; with none set escalation is
/// never required.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct EscalationTriggers {
    /// After this many handoffs since the last escalation.
    pub after_handoffs: Option<u32>,
    /// After the case has been open this long since it was opened or last escalated.
    pub after_age: Option<Span>,
    /// After the customer wrote this many times with no contact or escalation since.
    pub after_customer_asks: Option<u32>,
    /// Refuse transfers other than escalations while a trigger has fired.
    pub refuse_transfers: bool,
}

/// A trigger that fired, with its numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EscalationTrigger {
    /// Too many handoffs since the last escalation.
    Handoffs {
        /// Handoffs since the last escalation (or opening).
        handoffs: u32,
        /// The configured threshold.
        after: u32,
    },
    /// Too long without escalation.
    Age {
        /// How long since the case was opened or last escalated.
        age: Duration,
        /// Whether `age` counts from the last escalation rather than the opening.
        since_escalation: bool,
        /// The configured threshold.
        after: Span,
    },
    /// The customer asked again, unanswered.
    CustomerAsks {
        /// Customer messages with no contact or escalation since.
        asks: u32,
        /// The configured threshold.
        after: u32,
    },
}

impl fmt::Display for EscalationTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Handoffs { handoffs, after } => {
                write!(f, "{} since the last escalation (escalate after {after})", count(handoffs, "handoff"))
            }
            Self::Age { age, since_escalation, after } => {
                let since = if since_escalation { "last escalated" } else { "opened" };
                write!(f, "{} since the case was {since} (escalate after {after})", words(age))
            }
            Self::CustomerAsks { asks, after } => {
                write!(f, "the customer asked {} without an answer (escalate after {after})", count(asks, "time"))
            }
        }
    }
}

impl EscalationTriggers {
    /// Requires escalation after `n` handoffs since the last escalation.
    #[must_use]
    pub fn after_handoffs(mut self, n: u32) -> Self {
        self.after_handoffs = Some(n);
        self
    }

    /// Requires escalation once the case is `span` old since it was opened or last
    /// escalated.
    #[must_use]
    pub fn after_age(mut self, span: Span) -> Self {
        self.after_age = Some(span);
        self
    }

    /// Requires escalation after the customer wrote `n` times without a contact or an
    /// escalation since.
    #[must_use]
    pub fn after_customer_asks(mut self, n: u32) -> Self {
        self.after_customer_asks = Some(n);
        self
    }

    /// Whether to refuse transfers other than escalations while a trigger has fired.
    #[must_use]
    pub fn refuse_transfers(mut self, refuse: bool) -> Self {
        self.refuse_transfers = refuse;
        self
    }

    /// The triggers that require escalation at `now`, in the order handoffs, age,
    /// customer asks. Empty when escalation is not required or the case is closed. O(1).
    #[must_use]
    pub fn fired(&self, case: &Case, now: OffsetDateTime) -> Vec<EscalationTrigger> {
        if case.is_closed() {
            return Vec::new();
        }
        let counters = case.counters();
        let clock = case.clock();
        let mut fired = Vec::new();
        if let Some(after) = self.after_handoffs.filter(|n| counters.handoffs_since_escalation >= *n) {
            fired.push(EscalationTrigger::Handoffs { handoffs: counters.handoffs_since_escalation, after });
        }
        if let Some(after) = self.after_age {
            let age = now - clock.escalated_at.unwrap_or(clock.opened_at);
            if age >= after.to_duration() && age > Duration::ZERO {
                fired.push(EscalationTrigger::Age { age, since_escalation: clock.escalated_at.is_some(), after });
            }
        }
        if let Some(after) = self.after_customer_asks.filter(|n| counters.customer_asks_since_escalation >= *n) {
            fired.push(EscalationTrigger::CustomerAsks { asks: counters.customer_asks_since_escalation, after });
        }
        fired
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, problem: &str| {
            Err(ConfigError::Invalid { policy: "escalation", field, problem: problem.to_owned() })
        };
        if self.after_handoffs == Some(0) {
            return invalid("after_handoffs", "is 0; it would require escalating a case nobody handed on");
        }
        if self.after_age.is_some_and(Span::is_zero) {
            return invalid("after_age", "must be longer than zero");
        }
        if self.after_customer_asks == Some(0) {
            return invalid("after_customer_asks", "is 0; it would require escalating before the customer asks");
        }
        Ok(())
    }
}

/// While a trigger has fired, a transfer that is not an escalation is refused.
impl Policy for EscalationTriggers {
    fn name(&self) -> &str {
        "escalation_required"
    }

    fn check(&self, case: &Case, proposal: &Proposal<'_>) -> Result<(), String> {
        if !self.refuse_transfers || !matches!(proposal.what, EventKind::Transferred { .. }) {
            return Ok(());
        }
        let fired = self.fired(case, proposal.at);
        if fired.is_empty() {
            return Ok(());
        }
        let why: Vec<String> = fired.iter().map(ToString::to_string).collect();
        Err(format!("escalation is required: {}; escalate instead of transferring", why.join("; ")))
    }

    /// Sometimes the sideways transfer is what serves the customer (S8).
    fn overridable(&self) -> bool {
        true
    }
}

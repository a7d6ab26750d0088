//! The built-in policies and the [`PolicySet`] that configures them; their guide is
//! the [`policy`](crate::policy) module's.

mod bounce;
mod contact;
mod silence;

use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::deadline::Deadlines;
use crate::error::ConfigError;
use crate::escalation::EscalationTriggers;
use crate::event::EventKind;
use crate::limits::Limits;
use crate::policy::{Policy, Proposal};
use crate::rules::Rules;
use crate::span::Span;

/// Everything a host configures about how cases are decided, as one serde document.
///
/// All fields are optional in JSON; an empty document `{}` is the core rules alone.
/// Unknown fields are refused, so a misspelt setting is an error rather than silently
/// ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct PolicySet {
    /// Caps on sizes (see [`Limits`]).
    pub limits: Limits,
    /// The refusing built-ins, evaluated in this order.
    pub policies: Vec<PolicyConfig>,
    /// First-response and next-update deadlines, for [`Deadlines::check`].
    pub deadlines: Deadlines,
    /// When escalation is required, for [`EscalationTriggers::fired`].
    pub escalation: EscalationTriggers,
}

impl PolicySet {
    /// Reads a policy set from JSON and checks its numbers.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Json`] when the text is not a policy set (with line and column),
    /// [`ConfigError::Invalid`] when a number is out of range.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let set: Self = serde_json::from_str(text).map_err(|err| ConfigError::Json {
            line: err.line(),
            column: err.column(),
            message: err.to_string(),
        })?;
        set.validate()?;
        Ok(set)
    }

    /// Adds a built-in policy after those already listed.
    #[must_use]
    pub fn with(mut self, policy: PolicyConfig) -> Self {
        self.policies.push(policy);
        self
    }

    /// Sets the deadlines.
    #[must_use]
    pub fn with_deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// Sets the escalation triggers.
    #[must_use]
    pub fn with_escalation(mut self, escalation: EscalationTriggers) -> Self {
        self.escalation = escalation;
        self
    }

    /// Checks every number: limits that could never be met or a window the case cannot
    /// count are configuration mistakes, better found when the host starts than when a
    /// customer waits.
    ///
    /// # Errors
    ///
    /// The first [`ConfigError::Invalid`], naming the policy and the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for policy in &self.policies {
            policy.validate()?;
        }
        self.deadlines.validate()?;
        self.escalation.validate()
    }

    /// The [`Rules`] that enforce this set: its limits, then the listed policies in
    /// order, then `escalation_required` when `escalation.refuse_transfers` is set.
    ///
    /// Add the host's own policies after them with [`Rules::with_policy`].
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when a number is out of range (see
    /// [`PolicySet::validate`]).
    pub fn to_rules(&self) -> Result<Rules, ConfigError> {
        self.validate()?;
        let mut rules = Rules::default().with_limits(self.limits.clone());
        for policy in &self.policies {
            rules.push_policy(Box::new(policy.clone()));
        }
        if self.escalation.refuse_transfers {
            rules.push_policy(Box::new(self.escalation.clone()));
        }
        Ok(rules)
    }
}

/// One built-in policy and its numbers, tagged by `type` in JSON.
///
/// Each variant is a [`Policy`] in its own right, named by its `type`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum PolicyConfig {
    /// Ping-pong (S4): once the case has bounced `max_bounces` times, a transfer that
    /// would bounce it again is refused; an escalation is not.
    BounceLimit {
        /// Bounces allowed before the next one is refused.
        max_bounces: u32,
    },
    /// One voice to the customer (S1): which staff may contact the customer. Messages
    /// the host sends as [`Actor::System`](crate::Actor::System) (acknowledgements,
    /// status mails) pass; `follow_up_limit` still counts them.
    OneVoice {
        /// Who besides the owner may; by default nobody.
        #[serde(default)]
        may_contact: MayContact,
    },
    /// Follow-up throttling (S1, S2): at most `max_unanswered` contacts the customer has
    /// not answered within any `window`, counted over the whole case, whoever sent them.
    /// The refusal says when the next contact would fit.
    FollowUpLimit {
        /// Unanswered contacts allowed in a window, 1 to
        /// [`Case::UNANSWERED_CONTACTS_KEPT`] (the case keeps no more contact times than
        /// that; [`PolicySet::to_rules`] refuses a larger number).
        max_unanswered: u32,
        /// The window.
        window: Span,
    },
    /// Honest silence (S2): closing as unreachable needs at least `min_attempts` contact
    /// attempts since the customer last replied, from first to last at least `min_span`
    /// apart.
    HonestSilence {
        /// Contact attempts needed, at least 1.
        min_attempts: u32,
        /// How far apart the first and the last attempt must be.
        min_span: Span,
    },
    /// For hosts with a customer portal (S2, I2): only the customer confirms their
    /// outcome, themselves; a confirmation reported by staff is refused, however good
    /// its evidence. Disputes staff report still pass: hearing "it is still broken" must
    /// never be refused. It guards the outcome gate, so it is not overridable.
    OnlyCustomerConfirms,
}

/// Who may contact the customer under [`PolicyConfig::OneVoice`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MayContact {
    /// The owner only.
    #[default]
    Owner,
    /// The owner, and staff of a department with open work on the case.
    WorkingDepartments,
}

impl PolicyConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, problem: String| Err(ConfigError::Invalid { policy: self.name_static(), field, problem });
        match self {
            Self::FollowUpLimit { max_unanswered, window } => {
                let kept = Case::UNANSWERED_CONTACTS_KEPT;
                if *max_unanswered == 0 || usize::try_from(*max_unanswered).map_or(true, |n| n > kept) {
                    return invalid("max_unanswered", format!("is {max_unanswered}; it must be 1 to {kept}"));
                }
                if window.is_zero() {
                    return invalid("window", "must be longer than zero".to_owned());
                }
                Ok(())
            }
            Self::HonestSilence { min_attempts: 0, .. } => {
                invalid("min_attempts", "is 0; closing as unreachable always needs at least 1 attempt".to_owned())
            }
            Self::BounceLimit { .. }
            | Self::OneVoice { .. }
            | Self::HonestSilence { .. }
            | Self::OnlyCustomerConfirms => Ok(()),
        }
    }

    fn name_static(&self) -> &'static str {
        match self {
            Self::BounceLimit { .. } => "bounce_limit",
            Self::OneVoice { .. } => "one_voice",
            Self::FollowUpLimit { .. } => "follow_up_limit",
            Self::HonestSilence { .. } => "honest_silence",
            Self::OnlyCustomerConfirms => "only_customer_confirms",
        }
    }
}

impl Policy for PolicyConfig {
    fn name(&self) -> &str {
        self.name_static()
    }

    fn check(&self, case: &Case, proposal: &Proposal<'_>) -> Result<(), String> {
        match self {
            Self::BounceLimit { max_bounces } => bounce::check(*max_bounces, case, proposal),
            Self::OneVoice { may_contact } => contact::one_voice(*may_contact, case, proposal),
            Self::FollowUpLimit { max_unanswered, window } => {
                contact::follow_up_limit(*max_unanswered, *window, case, proposal)
            }
            Self::HonestSilence { min_attempts, min_span } => silence::check(*min_attempts, *min_span, case, proposal),
            Self::OnlyCustomerConfirms => match proposal.what {
                EventKind::OutcomeConfirmed { voice, .. } if voice.is_reported() => Err(format!(
                    "only the customer confirms their outcome, on the portal; {} cannot confirm it for them",
                    proposal.by
                )),
                _ => Ok(()),
            },
        }
    }

    /// Every built-in that refuses for service reasons is overridable (S8).
    fn overridable(&self) -> bool {
        match self {
            Self::BounceLimit { .. }
            | Self::OneVoice { .. }
            | Self::FollowUpLimit { .. }
            | Self::HonestSilence { .. } => true,
            // It guards the outcome gate (I2), which no override lifts.
            Self::OnlyCustomerConfirms => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_set_round_trips_through_json() {
        let set = PolicySet::default()
            .with(PolicyConfig::BounceLimit { max_bounces: 2 })
            .with(PolicyConfig::OneVoice { may_contact: MayContact::WorkingDepartments })
            .with(PolicyConfig::FollowUpLimit { max_unanswered: 10, window: Span::days(14) })
            .with(PolicyConfig::HonestSilence { min_attempts: 3, min_span: Span::days(7) });
        let json = serde_json::to_string(&set).unwrap();
        assert!(json.contains(r#"{"type":"one_voice","may_contact":"working_departments"}"#), "{json}");
        assert!(json.contains(r#"{"type":"follow_up_limit","max_unanswered":10,"window":"14d"}"#), "{json}");
        assert_eq!(PolicySet::from_json(&json), Ok(set));
    }

    #[test]
    fn misspelt_or_unknown_settings_are_errors_not_silence() {
        let err = PolicySet::from_json(r#"{"policies":[{"type":"bounce_limit","max_bounce":2}]}"#).unwrap_err();
        assert!(matches!(&err, ConfigError::Json { line: 1, message, .. } if message.contains("max_bounce")), "{err}");
        let err = PolicySet::from_json(r#"{"policies":[{"type":"be_nice"}]}"#).unwrap_err();
        assert!(err.to_string().contains("unknown variant `be_nice`"), "{err}");
        let err = PolicySet::from_json(r#"{"deadline":{}}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `deadline`"), "{err}");
    }

    #[test]
    fn numbers_out_of_range_name_the_policy_and_field() {
        let err = PolicySet::default()
            .with(PolicyConfig::FollowUpLimit { max_unanswered: 33, window: Span::days(1) })
            .to_rules()
            .unwrap_err();
        assert_eq!(err.to_string(), "policy follow_up_limit: max_unanswered is 33; it must be 1 to 32");
        let err = PolicySet::from_json(r#"{"policies":[{"type":"follow_up_limit","max_unanswered":3,"window":"0d"}]}"#)
            .unwrap_err();
        assert_eq!(err.to_string(), "policy follow_up_limit: window must be longer than zero");
        let err = PolicySet::from_json(r#"{"policies":[{"type":"honest_silence","min_attempts":0,"min_span":"1d"}]}"#)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "policy honest_silence: min_attempts is 0; closing as unreachable always needs at least 1 attempt"
        );
    }

    #[test]
    fn rules_hold_the_listed_policies_in_order_then_the_escalation_guard() {
        let mut set = PolicySet::default()
            .with(PolicyConfig::HonestSilence { min_attempts: 1, min_span: Span::default() })
            .with(PolicyConfig::BounceLimit { max_bounces: 0 });
        set.escalation.after_handoffs = Some(3);
        assert_eq!(names(&set), ["honest_silence", "bounce_limit"]);
        set.escalation.refuse_transfers = true;
        assert_eq!(names(&set), ["honest_silence", "bounce_limit", "escalation_required"]);
    }

    #[test]
    fn policy_data_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<PolicySet>();
        shareable::<ConfigError>();
        shareable::<crate::policy::DeadlineStatus>();
        shareable::<crate::policy::EscalationTrigger>();
    }

    fn names(set: &PolicySet) -> Vec<String> {
        set.to_rules().unwrap().policies().map(|p| p.name().to_owned()).collect()
    }
}

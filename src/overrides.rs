//! Overrides (S8): the names of the rules no override may lift, and the length a reason
//! must have; the guide is the [`policy`](crate::policy) module's. The deciding is in
//! [`Rules::decide`](crate::Rules::decide), and the fold holds recorded overrides to the
//! same rules.

use crate::error::refusal_codes as code;
use crate::error::Refusal;

/// The fewest characters (after trimming) an override's reason may have: enough for a
/// sentence a manager can act on ("third transfer is to the only person who can fix the
/// firmware"), more than "ok" or "customer asked".
pub const MIN_OVERRIDE_REASON_CHARS: usize = 20;

/// Names an override request might use for a rule that is never overridable, with the
/// invariant each stands for. The short names of DESIGN.md, their numbers, and the
/// refusals that enforce them.
const INVARIANTS: &[(&str, &str)] = &[
    ("i1", "I1 (one owner)"),
    ("one_owner", "I1 (one owner)"),
    (code::NotOwner, "I1 (one owner)"),
    ("i2", "I2 (outcome before resolution)"),
    ("outcome_gate", "I2 (outcome before resolution)"),
    ("outcome_before_resolution", "I2 (outcome before resolution)"),
    (code::OutcomeUnmet, "I2 (outcome before resolution)"),
    (code::WorkStillOpen, "I2 (outcome before resolution)"),
    (code::CustomerNotHeard, "I2 (outcome before resolution)"),
    ("i3", "I3 (honest endings)"),
    ("honest_endings", "I3 (honest endings)"),
    ("i4", "I4 (one timeline)"),
    ("one_timeline", "I4 (one timeline)"),
    ("i5", "I5 (log integrity)"),
    ("log_integrity", "I5 (log integrity)"),
    ("i6", "I6 (closed means closed)"),
    ("closed_means_closed", "I6 (closed means closed)"),
    (code::CaseClosed, "I6 (closed means closed)"),
    ("i7", "I7 (determinism)"),
    ("determinism", "I7 (determinism)"),
    ("i8", "I8 (no panics)"),
    ("no_panics", "I8 (no panics)"),
];

/// The invariant `name` stands for, if it names one (case and surrounding space ignored).
pub(crate) fn invariant(name: &str) -> Option<&'static str> {
    let name = name.trim();
    INVARIANTS.iter().find(|(alias, _)| alias.eq_ignore_ascii_case(name)).map(|(_, invariant)| *invariant)
}

/// The rules every recorded override keeps, when decided and when folded: it names a
/// policy that is not an invariant, and its reason has real length.
pub(crate) fn check(policy: &str, reason: &str) -> Result<(), Refusal> {
    if policy.trim().is_empty() {
        return Err(Refusal::EmptyText { field: "name of the policy to override" });
    }
    if let Some(invariant) = invariant(policy) {
        return Err(Refusal::InvariantNotOverridable { rule: policy.to_owned(), invariant });
    }
    let actual = reason.trim().chars().count();
    if actual < MIN_OVERRIDE_REASON_CHARS {
        return Err(Refusal::OverrideReasonTooShort { min: MIN_OVERRIDE_REASON_CHARS, actual });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invariants_are_known_by_number_name_and_refusal() {
        assert_eq!(invariant("I2"), Some("I2 (outcome before resolution)"));
        assert_eq!(invariant(" Outcome_Gate "), Some("I2 (outcome before resolution)"));
        assert_eq!(invariant(code::CaseClosed), Some("I6 (closed means closed)"));
        assert_eq!(invariant("bounce_limit"), None);
    }

    #[test]
    fn a_reason_is_counted_in_characters_without_surrounding_space() {
        assert_eq!(check("bounce_limit", "   ok   "), Err(Refusal::OverrideReasonTooShort { min: 20, actual: 2 }));
        assert_eq!(check("bounce_limit", "ü".repeat(20).as_str()), Ok(()));
        assert!(matches!(check("i1", "a reason long enough to pass"), Err(Refusal::InvariantNotOverridable { .. })));
    }
}

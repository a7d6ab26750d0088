//! Honest silence (S2): "unreachable" is an ending earned by recorded attempts over time.

use crate::case::Case;
use crate::event::{Ending, EventKind};
use crate::policy::Proposal;
use crate::span::{count, words, Span};

/// Refuses closing as unreachable until the customer has been tried `min_attempts` times
/// since they last replied, with the first and the last attempt `min_span` apart.
pub(super) fn check(min_attempts: u32, min_span: Span, case: &Case, proposal: &Proposal<'_>) -> Result<(), String> {
    if !matches!(proposal.what, EventKind::ClosedUnresolved { ending: Ending::Unreachable, .. }) {
        return Ok(());
    }
    let attempts = case.counters().unanswered_contacts;
    let first = case.clock().first_unanswered_contact_at;
    let last = case.unanswered_contact_times().next_back();
    let spread = first.zip(last).map(|(first, last)| last - first).unwrap_or_default();
    if attempts >= min_attempts && spread >= min_span.to_duration() {
        return Ok(());
    }
    Err(format!(
        "closing as unreachable needs at least {} over at least {min_span} since the customer last replied; \
         so far {} over {}",
        count(min_attempts, "contact attempt"),
        count(attempts, "attempt"),
        words(spread),
    ))
}

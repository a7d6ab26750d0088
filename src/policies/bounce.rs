//! The bounce limit (S4): stop the ping-pong, demand escalation instead.

use crate::case::Case;
use crate::event::EventKind;
use crate::policy::Proposal;
use crate::span::count;

/// Refuses a transfer that would bounce the case when it has already bounced
/// `max_bounces` times. Escalations pass: they are the way out of the ping-pong.
pub(super) fn check(max_bounces: u32, case: &Case, proposal: &Proposal<'_>) -> Result<(), String> {
    let EventKind::Transferred { to, .. } = proposal.what else {
        return Ok(());
    };
    let bounces = case.counters().bounces;
    if bounces >= max_bounces && case.would_bounce(to) {
        return Err(format!(
            "the case has bounced {} and the limit is {max_bounces}; handing it to {to} would bounce it again, \
             so escalate it instead",
            count(bounces, "time"),
        ));
    }
    Ok(())
}

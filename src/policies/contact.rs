//! Contacting the customer (S1, S2): one voice, and no flood of unanswered follow-ups.

use crate::actor::Actor;
use crate::case::Case;
use crate::event::EventKind;
use crate::policy::Proposal;
use crate::span::{count, short_time, Span};

use super::MayContact;

/// Only the owner (or, if configured, staff of a department with open work) contacts the
/// customer. The system's own messages (acknowledgements, status mails) are the host's
/// voice and pass; the follow-up limit still counts them.
pub(super) fn one_voice(may_contact: MayContact, case: &Case, proposal: &Proposal<'_>) -> Result<(), String> {
    let (EventKind::CustomerContacted { .. }, Actor::Staff(staff)) = (proposal.what, proposal.by) else {
        return Ok(());
    };
    let owner = case.owner();
    if staff == owner {
        return Ok(());
    }
    match may_contact {
        MayContact::Owner => {
            Err(format!("only the owner, {owner}, contacts the customer; {staff} should ask the owner"))
        }
        MayContact::WorkingDepartments => {
            if case.open_work().any(|w| w.department == staff.department) {
                Ok(())
            } else {
                Err(format!(
                    "only the owner, {owner}, or a department with open work on the case contacts the customer; \
                     {} has none",
                    staff.department
                ))
            }
        }
    }
}

/// At most `max` contacts the customer has not answered within `window` before the
/// proposal's time. Reads the case's bounded list of recent unanswered contact times,
/// which holds at least `max` entries because configuration caps `max`.
pub(super) fn follow_up_limit(max: u32, window: Span, case: &Case, proposal: &Proposal<'_>) -> Result<(), String> {
    if !matches!(proposal.what, EventKind::CustomerContacted { .. }) {
        return Ok(());
    }
    let Some(start) = proposal.at.checked_sub(window.to_duration()) else {
        return Ok(());
    };
    // Oldest first, so the ones inside the window are a suffix.
    let in_window: Vec<_> = case.unanswered_contact_times().filter(|t| *t > start).collect();
    let unanswered = u32::try_from(in_window.len()).unwrap_or(u32::MAX);
    if unanswered < max {
        return Ok(());
    }
    // The next contact fits once enough of the oldest ones leave the window.
    let leaving = usize::try_from(unanswered - max).unwrap_or(usize::MAX);
    let until = in_window.get(leaving).and_then(|t| t.checked_add(window.to_duration()));
    let when = until.map_or_else(String::new, |t| format!(" or until {}", short_time(t)));
    Err(format!(
        "{} in the last {window} are unanswered and the limit is {max} per {window}; \
         wait for the customer's reply{when}",
        count(unanswered, "contact"),
    ))
}

//! Incidents (S6): the confirmation requests an ended incident asks for; the guide is
//! the [`policy`](crate::policy) module's.

use time::OffsetDateTime;

use crate::case::Case;
use crate::command::Command;
use crate::id::{CaseId, IncidentId};
use crate::span::short_time;

/// The commands to record when `incident` ended at `ended_at`: one
/// [`Command::RequestConfirmation`] per open case among `cases` that is linked to it,
/// in the order given, to be decided as [`Actor::System`](crate::Actor::System).
///
/// Closed cases, cases not linked to the incident, and cases already waiting for
/// the customer's confirmation are skipped. Pure; O(cases × incidents per case).
///
/// # Example
///
/// ```
/// use caseledger::{
///     id::IncidentId, policy::confirmation_requests, Actor, CaseId, Command, Ledger, Opening,
///     Rules, Staff,
/// };
/// use time::macros::datetime;
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let rules = Rules::default();
/// let fire = IncidentId::new("fire-0042");
/// let mut ledger = Ledger::open(&rules, CaseId::new_v7(t, [6; 10]),
///     Opening::new("cust-7", "my internet works", Staff::new("ana", "network")), &Actor::customer("cust-7"), t)?;
/// ledger.execute(&rules, Command::LinkIncident { incident: fire.clone() }, &Actor::System, t)?;
///
/// let ended = datetime!(2026-11-25 18:00 UTC);
/// for (case, command) in confirmation_requests(&fire, ended, [ledger.case()]) {
///     assert_eq!(case, ledger.case().id());
///     ledger.execute(&rules, command, &Actor::System, ended)?;
/// }
/// assert!(!ledger.case().is_closed(), "the customer has not said their internet works");
/// assert_eq!(
///     ledger.case().confirmation_requested(),
///     Some("incident fire-0042 ended at 2026-11-25 18:00; ask the customer whether \"my internet works\" is true now"),
/// );
/// # Ok::<(), caseledger::Error>(())
/// ```
pub fn confirmation_requests<'a>(
    incident: &IncidentId,
    ended_at: OffsetDateTime,
    cases: impl IntoIterator<Item = &'a Case>,
) -> Vec<(CaseId, Command)> {
    cases
        .into_iter()
        .filter(|case| {
            !case.is_closed() && case.confirmation_requested().is_none() && case.incidents().contains(incident)
        })
        .map(|case| {
            let reason = format!(
                "incident {incident} ended at {}; ask the customer whether \"{}\" is true now",
                short_time(ended_at),
                case.outcome()
            );
            (case.id(), Command::RequestConfirmation { reason })
        })
        .collect()
}

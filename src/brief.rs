//! The handoff brief: what the next owner reads instead of asking the customer to tell
//! the story again (S3); shown through [`timeline`](crate::timeline).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Staff};
use crate::case::{Case, Fact, WorkItem};
use crate::event::{Channel, Voice};
use crate::id::{CustomerRef, IncidentId};
use crate::status::{OutcomeState, Status, WorkState};

/// A summary of a case for whoever receives it, built from the folded case alone.
///
/// # Example
///
/// ```
/// use caseledger::{event::Visibility, Actor, Command, Ledger, Opening, Rules, Staff};
/// use time::macros::datetime;
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let rules = Rules::default();
/// let ana = Staff::new("ana", "software");
/// let mut ledger = Ledger::open(&rules, caseledger::CaseId::new_v7(t, [9; 10]),
///     Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), t)?;
/// let serial = Command::RecordFact {
///     name: "serial number".into(), value: "SN-123".into(), visibility: Visibility::Customer,
/// };
/// ledger.execute(&rules, serial, &ana.into(), t)?;
///
/// let brief = ledger.case().brief();
/// assert_eq!(brief.outcome, "my laptop works");
/// assert!(brief.to_string().contains("serial number: SN-123"));
/// # Ok::<(), caseledger::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HandoffBrief {
    /// The customer.
    pub customer: CustomerRef,
    /// What the customer wants, in their words.
    pub outcome: String,
    /// Whether they confirmed it.
    pub outcome_state: OutcomeState,
    /// Whose voice the confirmation or dispute in force is in: the customer's own, or a
    /// staff member's report (I2). `None` while the outcome is unmet.
    pub outcome_voice: Option<Voice>,
    /// Who recorded that confirmation or dispute: the customer, or the reporting staff.
    pub outcome_recorded_by: Option<Actor>,
    /// Where the case stands.
    pub status: Status,
    /// Who owns it now.
    pub owner: Staff,
    /// Who had it before, in order.
    pub previous_owners: Vec<Staff>,
    /// The last handoff note or escalation reason.
    pub last_handoff_note: Option<String>,
    /// Every fact, by name, with its visibility.
    pub facts: Vec<(String, Fact)>,
    /// Closed work: what was tried and what came of it.
    pub tried: Vec<WorkItem>,
    /// Work still open.
    pub open_work: Vec<WorkItem>,
    /// Channels the customer cannot use, with why.
    pub unreachable: Vec<(Channel, String)>,
    /// Linked incidents.
    pub incidents: Vec<IncidentId>,
    /// Escalation level.
    pub escalation_level: u32,
    /// Handoffs so far.
    pub handoffs: u32,
    /// Bounces so far.
    pub bounces: u32,
}

impl Case {
    /// The handoff brief for whoever receives this case next.
    #[must_use]
    pub fn brief(&self) -> HandoffBrief {
        let (open_work, tried) = self.work_items().cloned().partition(WorkItem::is_open);
        HandoffBrief {
            customer: self.customer().clone(),
            outcome: self.outcome().to_owned(),
            outcome_state: self.outcome_state(),
            outcome_voice: self.outcome_voice().map(|(voice, _)| voice),
            outcome_recorded_by: self.outcome_voice().map(|(_, by)| by.clone()),
            status: self.status().clone(),
            owner: self.owner().clone(),
            previous_owners: self.previous_owners().to_vec(),
            last_handoff_note: self.last_handoff_note().map(str::to_owned),
            facts: self.facts().iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            tried,
            open_work,
            unreachable: self
                .channels()
                .iter()
                .filter(|(_, r)| !r.reachable)
                .map(|(c, r)| (*c, r.note.clone()))
                .collect(),
            incidents: self.incidents().to_vec(),
            escalation_level: self.escalation_level(),
            handoffs: self.counters().handoffs,
            bounces: self.counters().bounces,
        }
    }
}

impl fmt::Display for HandoffBrief {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.outcome_state {
            OutcomeState::Confirmed => "confirmed",
            OutcomeState::Disputed => "disputed",
            _ => "",
        };
        let by = self.outcome_recorded_by.as_ref().map_or_else(|| "staff".to_owned(), ToString::to_string);
        let state = match (self.outcome_state, self.outcome_voice) {
            (OutcomeState::Unmet, _) | (_, None) => "not yet confirmed".to_owned(),
            (_, Some(Voice::Own)) => format!("{verb} by the customer"),
            (_, Some(Voice::Reported { channel })) => format!("{verb} by the customer by {channel}, as {by} reported"),
            (_, Some(_)) => format!("{verb} as {by} reported, without saying how the customer said it"),
        };
        writeln!(f, "Customer {} wants: \"{}\" ({state})", self.customer, self.outcome)?;
        writeln!(f, "Status: {}; owner: {}", self.status, self.owner)?;
        if !self.previous_owners.is_empty() {
            let names: Vec<String> = self.previous_owners.iter().map(ToString::to_string).collect();
            writeln!(f, "Previously with: {}", names.join(", "))?;
        }
        writeln!(
            f,
            "Handoffs: {}, bounces: {}, escalation level: {}",
            self.handoffs, self.bounces, self.escalation_level
        )?;
        if let Some(note) = &self.last_handoff_note {
            writeln!(f, "Last handoff note: \"{note}\"")?;
        }
        for (name, fact) in &self.facts {
            writeln!(f, "{name}: {}", fact.value)?;
        }
        for (channel, note) in &self.unreachable {
            writeln!(f, "Cannot reach the customer by {channel}: {note}")?;
        }
        for incident in &self.incidents {
            writeln!(f, "Linked to incident {incident}")?;
        }
        for w in &self.tried {
            let result = match &w.state {
                WorkState::Completed { note } => format!("completed: {note}"),
                WorkState::Dropped { reason } => format!("dropped: {reason}"),
                WorkState::Open => "open".to_owned(),
            };
            writeln!(f, "Tried ({}) {} \"{}\": {result}", w.department, w.id, w.title)?;
        }
        for w in &self.open_work {
            writeln!(f, "Open work ({}) {} \"{}\"", w.department, w.id, w.title)?;
        }
        Ok(())
    }
}

//! Decoding of the internally tagged JSON objects ([`EventKind`], [`Actor`]) without
//! buffering.
//!
//! serde's derived `Deserialize` for an internally tagged enum (`{"type": "…", …}`)
//! cannot know the variant before it has seen `"type"`, so it first copies the whole
//! object into an intermediate tree, allocating every string twice. Replaying a log is
//! mostly decoding, so each tagged type is read here into one flat struct holding every
//! field any variant has, in a single pass and in any key order, and then checked for
//! the fields its variant needs. The JSON shape is unchanged; serialisation stays
//! derived.

use serde::Deserialize;

use crate::actor::{Actor, Staff};
use crate::event::{Channel, Ending, EventKind, Visibility};
use crate::id::{CustomerRef, Department, IncidentId, StaffId, WorkItemId};

/// The tags of [`EventKind`], as written in JSON.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindTag {
    Opened,
    Transferred,
    Escalated,
    WorkOpened,
    WorkCompleted,
    WorkDropped,
    FactRecorded,
    ReachabilityRecorded,
    NoteAdded,
    CustomerContacted,
    CustomerReplied,
    OutcomeConfirmed,
    OutcomeDisputed,
    Resolved,
    ClosedUnresolved,
    Reopened,
    IncidentLinked,
    ConfirmationRequested,
}

/// Every field of every [`EventKind`] variant; unknown keys are ignored, as before.
#[derive(Deserialize)]
pub(crate) struct KindFields {
    #[serde(rename = "type")]
    tag: KindTag,
    customer: Option<CustomerRef>,
    outcome: Option<String>,
    owner: Option<Staff>,
    to: Option<Staff>,
    note: Option<String>,
    reason: Option<String>,
    level: Option<u32>,
    item: Option<WorkItemId>,
    department: Option<Department>,
    title: Option<String>,
    name: Option<String>,
    value: Option<String>,
    visibility: Option<Visibility>,
    channel: Option<Channel>,
    reachable: Option<bool>,
    message: Option<String>,
    text: Option<String>,
    statement: Option<String>,
    summary: Option<String>,
    ending: Option<Ending>,
    evidence: Option<String>,
    incident: Option<IncidentId>,
}

/// The message serde gives for a missing field, so errors read as they did.
fn field<T>(value: Option<T>, name: &'static str) -> Result<T, String> {
    value.ok_or_else(|| format!("missing field `{name}`"))
}

impl TryFrom<KindFields> for EventKind {
    type Error = String;

    fn try_from(f: KindFields) -> Result<Self, String> {
        Ok(match f.tag {
            KindTag::Opened => Self::Opened {
                customer: field(f.customer, "customer")?,
                outcome: field(f.outcome, "outcome")?,
                owner: field(f.owner, "owner")?,
            },
            KindTag::Transferred => Self::Transferred { to: field(f.to, "to")?, note: field(f.note, "note")? },
            KindTag::Escalated => Self::Escalated {
                to: field(f.to, "to")?,
                reason: field(f.reason, "reason")?,
                level: field(f.level, "level")?,
            },
            KindTag::WorkOpened => Self::WorkOpened {
                item: field(f.item, "item")?,
                department: field(f.department, "department")?,
                title: field(f.title, "title")?,
            },
            KindTag::WorkCompleted => {
                Self::WorkCompleted { item: field(f.item, "item")?, note: field(f.note, "note")? }
            }
            KindTag::WorkDropped => {
                Self::WorkDropped { item: field(f.item, "item")?, reason: field(f.reason, "reason")? }
            }
            KindTag::FactRecorded => Self::FactRecorded {
                name: field(f.name, "name")?,
                value: field(f.value, "value")?,
                visibility: field(f.visibility, "visibility")?,
            },
            KindTag::ReachabilityRecorded => Self::ReachabilityRecorded {
                channel: field(f.channel, "channel")?,
                reachable: field(f.reachable, "reachable")?,
                note: field(f.note, "note")?,
            },
            KindTag::NoteAdded => {
                Self::NoteAdded { text: field(f.text, "text")?, visibility: field(f.visibility, "visibility")? }
            }
            KindTag::CustomerContacted => {
                Self::CustomerContacted { channel: field(f.channel, "channel")?, message: field(f.message, "message")? }
            }
            KindTag::CustomerReplied => {
                Self::CustomerReplied { channel: field(f.channel, "channel")?, message: field(f.message, "message")? }
            }
            KindTag::OutcomeConfirmed => Self::OutcomeConfirmed { statement: field(f.statement, "statement")? },
            KindTag::OutcomeDisputed => Self::OutcomeDisputed { statement: field(f.statement, "statement")? },
            KindTag::Resolved => Self::Resolved { summary: field(f.summary, "summary")? },
            KindTag::ClosedUnresolved => {
                Self::ClosedUnresolved { ending: field(f.ending, "ending")?, evidence: field(f.evidence, "evidence")? }
            }
            KindTag::Reopened => Self::Reopened { reason: field(f.reason, "reason")? },
            KindTag::IncidentLinked => Self::IncidentLinked { incident: field(f.incident, "incident")? },
            KindTag::ConfirmationRequested => Self::ConfirmationRequested { reason: field(f.reason, "reason")? },
        })
    }
}

/// The tags of [`Actor`], as written in JSON.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ActorTag {
    Customer,
    Staff,
    System,
}

/// Every field of every [`Actor`] variant.
#[derive(Deserialize)]
pub(crate) struct ActorFields {
    #[serde(rename = "type")]
    tag: ActorTag,
    id: Option<StaffId>,
    department: Option<Department>,
}

impl TryFrom<ActorFields> for Actor {
    type Error = String;

    fn try_from(f: ActorFields) -> Result<Self, String> {
        Ok(match f.tag {
            ActorTag::Customer => Self::Customer,
            ActorTag::Staff => {
                Self::Staff(Staff { id: field(f.id, "id")?, department: field(f.department, "department")? })
            }
            ActorTag::System => Self::System,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_reads_the_same_whatever_the_key_order() {
        let tag_first: EventKind =
            serde_json::from_str(r#"{"type":"note_added","text":"suspect the BIOS","visibility":"internal"}"#).unwrap();
        let tag_last: EventKind =
            serde_json::from_str(r#"{"visibility":"internal","text":"suspect the BIOS","type":"note_added"}"#).unwrap();
        assert_eq!(
            tag_first,
            EventKind::NoteAdded { text: "suspect the BIOS".into(), visibility: Visibility::Internal }
        );
        assert_eq!(tag_first, tag_last);
    }

    #[test]
    fn a_missing_field_is_named_as_serde_names_it() {
        let err = serde_json::from_str::<EventKind>(r#"{"type":"transferred","note":"over to you"}"#).unwrap_err();
        assert!(err.to_string().starts_with("missing field `to`"), "{err}");
        let err = serde_json::from_str::<Actor>(r#"{"type":"staff","id":"ana"}"#).unwrap_err();
        assert!(err.to_string().starts_with("missing field `department`"), "{err}");
    }

    #[test]
    fn an_unknown_kind_is_refused_with_its_name() {
        let err = serde_json::from_str::<EventKind>(r#"{"type":"teleported","to":"mars"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown variant `teleported`"), "{err}");
    }

    #[test]
    fn every_kind_and_actor_survives_a_round_trip() {
        let ana = Staff::new("ana", "software");
        let kinds = [
            EventKind::Opened { customer: "c-1".into(), outcome: "works".into(), owner: ana.clone() },
            EventKind::Transferred { to: ana.clone(), note: "n".into() },
            EventKind::Escalated { to: ana.clone(), reason: "r".into(), level: 2 },
            EventKind::WorkOpened { item: "W-1".into(), department: "hw".into(), title: "t".into() },
            EventKind::WorkCompleted { item: "W-1".into(), note: "n".into() },
            EventKind::WorkDropped { item: "W-1".into(), reason: "r".into() },
            EventKind::FactRecorded { name: "n".into(), value: "v".into(), visibility: Visibility::Customer },
            EventKind::ReachabilityRecorded { channel: Channel::InPerson, reachable: false, note: "n".into() },
            EventKind::NoteAdded { text: "t".into(), visibility: Visibility::Internal },
            EventKind::CustomerContacted { channel: Channel::Sms, message: "m".into() },
            EventKind::CustomerReplied { channel: Channel::Letter, message: "m".into() },
            EventKind::OutcomeConfirmed { statement: "s".into() },
            EventKind::OutcomeDisputed { statement: "s".into() },
            EventKind::Resolved { summary: "s".into() },
            EventKind::ClosedUnresolved { ending: Ending::Withdrawn, evidence: "e".into() },
            EventKind::Reopened { reason: "r".into() },
            EventKind::IncidentLinked { incident: "fire-7".into() },
            EventKind::ConfirmationRequested { reason: "r".into() },
        ];
        for kind in kinds {
            // No wildcard: a new kind breaks this match until it is read by `KindFields`
            // and listed above.
            match &kind {
                EventKind::Opened { .. }
                | EventKind::Transferred { .. }
                | EventKind::Escalated { .. }
                | EventKind::WorkOpened { .. }
                | EventKind::WorkCompleted { .. }
                | EventKind::WorkDropped { .. }
                | EventKind::FactRecorded { .. }
                | EventKind::ReachabilityRecorded { .. }
                | EventKind::NoteAdded { .. }
                | EventKind::CustomerContacted { .. }
                | EventKind::CustomerReplied { .. }
                | EventKind::OutcomeConfirmed { .. }
                | EventKind::OutcomeDisputed { .. }
                | EventKind::Resolved { .. }
                | EventKind::ClosedUnresolved { .. }
                | EventKind::Reopened { .. }
                | EventKind::IncidentLinked { .. }
                | EventKind::ConfirmationRequested { .. } => {}
            }
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(serde_json::from_str::<EventKind>(&json).unwrap(), kind, "{json}");
        }
        for actor in [Actor::Customer, Actor::Staff(ana), Actor::System] {
            let json = serde_json::to_string(&actor).unwrap();
            assert_eq!(serde_json::from_str::<Actor>(&json).unwrap(), actor, "{json}");
        }
    }
}

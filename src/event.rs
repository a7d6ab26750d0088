//! Events: the recorded facts of a case's history, and their stable JSON shape.
//!
//! An [`Event`] is an envelope (case, sequence number, id, time, actor) around an
//! [`EventKind`] saying what happened. The JSON shape is versioned by
//! [`SCHEMA_VERSION`] and looks like this:
//!
//! ```json
//! {"schema":2,"case":"…","seq":2,"id":"…","at":"2026-11-23T09:00:00Z",
//!  "by":{"type":"staff","id":"ana","department":"software"},
//!  "what":{"type":"transferred","to":{"id":"bo","department":"hardware"},"note":"…"},
//!  "key":"req-7f3a"}
//! ```
//!
//! Schema 2 added optional envelope fields, written only when they apply: `key`, the
//! host's idempotency key of the request that produced the event, and `given_at`, the
//! time the host gave when it was a little behind the case's last event and the event
//! was recorded at that event's time instead. Older schemas are upcast when read.
//!
//! Tags are internal (`"type"`) and snake_case so a host in any language can read them.
//! How older schemas are read is the [`codec`](crate::codec)'s guide.
//!
//! Every event names who did it: an [`Actor`] is the customer, a [`Staff`] member of a
//! department, or the system.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::id::{CaseId, CustomerRef, Department, EventId, IdempotencyKey, IncidentId, WorkItemId};

pub use crate::actor::{Actor, Staff};

/// The version of the event JSON shape this crate writes.
pub const SCHEMA_VERSION: u32 = 2;

/// One recorded fact of a case's history.
///
/// Events are created by [`Rules::decide`](crate::Rules::decide) and folded into a
/// [`Case`](crate::Case) by [`Case::apply`](crate::Case::apply). Fields are public so a
/// host can store and index them; the fold re-checks everything, so an event edited or
/// forged by hand is caught there (I5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// Version of the JSON shape this event was written with.
    pub schema: u32,
    /// The case this event belongs to.
    pub case: CaseId,
    /// Position in the case's log, starting at 1 with no gaps.
    pub seq: u64,
    /// Unique, time-ordered (v7) event id.
    pub id: EventId,
    /// When it happened, in UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who did it.
    pub by: Actor,
    /// What happened.
    pub what: EventKind,
    /// The idempotency key of the request that produced this event, if the host gave one
    /// (schema 2). Written only when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<IdempotencyKey>,
    /// The time the host gave, when it was earlier than the case's last event (another
    /// node's clock a little behind) and the event was recorded at the last event's time
    /// instead (schema 2; see [`Rules::with_clock_skew`](crate::Rules::with_clock_skew)).
    /// Written only when the time was adjusted.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub given_at: Option<OffsetDateTime>,
}

impl Event {
    /// Builds an event from its parts, normalising `at` to UTC. (A time no log can hold,
    /// outside the years 0000 to 9999, is kept as given rather than panic; `Rules`
    /// refuses such times.)
    ///
    /// Hosts rarely need this: [`Rules::decide`](crate::Rules::decide) builds events.
    /// It is public for importing history from another system and for tests.
    #[must_use]
    pub fn new(case: CaseId, seq: u64, id: EventId, at: OffsetDateTime, by: Actor, what: EventKind) -> Self {
        Self {
            schema: SCHEMA_VERSION,
            case,
            seq,
            id,
            at: writable_utc(at).unwrap_or(at),
            by,
            what,
            key: None,
            given_at: None,
        }
    }
}

/// The first and last moments a log can hold: RFC 3339 writes the years 0000 to 9999, and
/// events are kept in UTC.
const FIRST_WRITABLE: OffsetDateTime = time::macros::datetime!(0000-01-01 0:00 UTC);
const LAST_WRITABLE: OffsetDateTime = time::macros::datetime!(9999-12-31 23:59:59.999_999_999 UTC);

/// `at` in UTC, if a log can hold it. Converting a time near the ends of the calendar to
/// UTC can leave the range `time` supports, so the range is checked first.
pub(crate) fn writable_utc(at: OffsetDateTime) -> Option<OffsetDateTime> {
    if at.offset().is_utc() {
        // What hosts pass: in UTC already, so the range is the years and no conversion.
        return (0..=9999).contains(&at.year()).then_some(at);
    }
    (FIRST_WRITABLE..=LAST_WRITABLE).contains(&at).then(|| at.to_offset(time::UtcOffset::UTC))
}

/// Who may read a note or a fact. There is no department-private level (S3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Every staff member in every department, but not the customer.
    Internal,
    /// Staff and the customer.
    Customer,
}

/// A way of reaching the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Channel {
    /// E-mail.
    Email,
    /// A voice call.
    Phone,
    /// Text message.
    Sms,
    /// Live chat or messaging.
    Chat,
    /// A web page or portal the customer must open.
    Web,
    /// Paper mail.
    Letter,
    /// Face to face, in a shop or at home.
    InPerson,
}

impl Channel {
    /// The channel's snake_case name, as in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Sms => "sms",
            Self::Chat => "chat",
            Self::Web => "web",
            Self::Letter => "letter",
            Self::InPerson => "in_person",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose voice a confirmation or dispute is in (I2): the customer's own, or a staff
/// member's report of the customer's words. Always distinct in the log, the timeline,
/// the handoff brief and the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Voice {
    /// The customer recorded it themselves (for instance on a portal); the event's actor
    /// is the customer.
    Own,
    /// A staff member (the event's actor) reports the customer's words, heard on
    /// `channel`; the log shows the customer speaking on that channel since the last
    /// unanswered contact (a reply, or a conversation held).
    Reported {
        /// How the customer said it.
        channel: Channel,
    },
    /// Reported by staff in a log written before schema 2, when no channel was named and
    /// nothing checked that the customer had spoken. Only upcasting writes it; it is
    /// never decided anew, is counted as staff-reported, and claims no evidence.
    Unverified,
}

impl Voice {
    /// Whether staff reported it (with or without evidence), rather than the customer.
    #[must_use]
    pub fn is_reported(self) -> bool {
        !matches!(self, Self::Own)
    }
}

impl Channel {
    /// Whether staff and the customer speak live on this channel: phone, in person, chat.
    #[must_use]
    pub fn is_live(self) -> bool {
        matches!(self, Self::Phone | Self::InPerson | Self::Chat)
    }

    /// A small index for per-channel sets.
    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Why a case ended without the customer confirming their outcome (I3).
///
/// None of these is "resolved", and none is ever counted as one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Ending {
    /// The customer stopped answering after recorded contact attempts.
    Unreachable,
    /// The customer withdrew the request.
    Withdrawn,
    /// The problem is already handled by another case.
    Duplicate {
        /// The case that carries on.
        of: CaseId,
    },
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable => f.write_str("unreachable"),
            Self::Withdrawn => f.write_str("withdrawn"),
            Self::Duplicate { of } => write!(f, "duplicate of case {of}"),
        }
    }
}

/// What happened, one variant per kind of fact.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// The case was opened with the customer's own words for what "solved" means.
    Opened {
        /// The customer, as the host knows them.
        customer: CustomerRef,
        /// The customer's desired outcome, in their own words ("my laptop works").
        outcome: String,
        /// The first accountable owner.
        owner: Staff,
    },
    /// Ownership passed to a named receiver with a handoff note (I1, S4).
    Transferred {
        /// The new owner.
        to: Staff,
        /// What the receiver needs to know.
        note: String,
    },
    /// Ownership passed upward with a reason; the escalation level rises by one (S5).
    Escalated {
        /// The new owner.
        to: Staff,
        /// Why the case is escalated.
        reason: String,
        /// The escalation level after this event (1 for the first escalation).
        level: u32,
    },
    /// A department opened its piece of work on the case.
    WorkOpened {
        /// The host's id for the piece of work.
        item: WorkItemId,
        /// The department doing it.
        department: Department,
        /// What the piece of work is.
        title: String,
    },
    /// A department finished its piece of work. This never resolves the case (I2).
    WorkCompleted {
        /// Which piece.
        item: WorkItemId,
        /// What was done and what came of it.
        note: String,
    },
    /// A piece of work was abandoned.
    WorkDropped {
        /// Which piece.
        item: WorkItemId,
        /// Why.
        reason: String,
    },
    /// A fact recorded once on the case (S3): a customer number, an e-mail address, a
    /// problem id. A later fact with the same name replaces the earlier value.
    FactRecorded {
        /// What the fact is ("serial number").
        name: String,
        /// Its value.
        value: String,
        /// Who may read it.
        visibility: Visibility,
    },
    /// Whether the customer can be reached on a channel (S6): "no internet since the fire".
    ReachabilityRecorded {
        /// The channel.
        channel: Channel,
        /// Whether the customer can use it now.
        reachable: bool,
        /// Why, in words.
        note: String,
    },
    /// A note every department reads (S3).
    NoteAdded {
        /// The note.
        text: String,
        /// Who may read it.
        visibility: Visibility,
    },
    /// Staff contacted the customer.
    CustomerContacted {
        /// How.
        channel: Channel,
        /// What was said or asked.
        message: String,
    },
    /// The customer answered or got in touch.
    CustomerReplied {
        /// How.
        channel: Channel,
        /// What they said.
        message: String,
    },
    /// The customer confirmed that their outcome is met: themselves, or reported by staff
    /// from the customer's own words on a channel the log shows them using (I2).
    OutcomeConfirmed {
        /// The customer's words, or what staff heard them say, quoted.
        statement: String,
        /// Whose voice: the customer's own, or staff reporting it (and how it was heard).
        voice: Voice,
    },
    /// The customer said their outcome is not met (after all).
    OutcomeDisputed {
        /// The customer's words, or what staff heard them say, quoted.
        statement: String,
        /// Whose voice: the customer's own, or staff reporting it (and how it was heard).
        voice: Voice,
    },
    /// The case is resolved: the customer's outcome is met and no work is open (I2).
    Resolved {
        /// What solved it.
        summary: String,
    },
    /// The case ended without the customer's confirmation (I3).
    ClosedUnresolved {
        /// Why it ended.
        ending: Ending,
        /// The evidence for the ending ("three calls and two e-mails over ten days").
        evidence: String,
    },
    /// A closed case was opened again (I6).
    Reopened {
        /// Why.
        reason: String,
    },
    /// The case is linked to a known incident (S6).
    IncidentLinked {
        /// The incident.
        incident: IncidentId,
    },
    /// The customer is to be asked whether their outcome is met, for instance because
    /// the incident behind the case ended (S6). Nothing is resolved by this.
    ConfirmationRequested {
        /// Why confirmation is asked for now.
        reason: String,
    },
    /// Staff and the customer spoke live (S2, I2): on the phone, in person or in a chat.
    /// It is a contact that was answered: the customer's words in it are evidence for a
    /// confirmation staff report afterwards.
    ConversationHeld {
        /// How: [`Channel::Phone`], [`Channel::InPerson`] or [`Channel::Chat`].
        channel: Channel,
        /// What was said, in a sentence or two.
        summary: String,
    },
    /// A staff member the host empowers overrode a configurable policy for the one
    /// command whose event follows (S8). Recorded before that event, so the timeline
    /// and the metrics show which policies get in the way. Invariants (I1–I8) and the
    /// outcome gate are never overridden.
    PolicyOverridden {
        /// The policy's name, as it names itself in refusals.
        policy: String,
        /// Why, in the staff member's words (at least
        /// [`MIN_OVERRIDE_REASON_CHARS`](crate::policy::MIN_OVERRIDE_REASON_CHARS) characters).
        reason: String,
        /// What the policy said when it refused the command (cut to the text limit,
        /// ending in "…", if longer).
        refusal: String,
    },
}

impl EventKind {
    /// Every tag [`EventKind::tag`] returns, in declaration order: for a host's database
    /// enum or a test that wants every kind covered.
    pub const TAGS: &'static [&'static str] = &[
        "opened",
        "transferred",
        "escalated",
        "work_opened",
        "work_completed",
        "work_dropped",
        "fact_recorded",
        "reachability_recorded",
        "note_added",
        "customer_contacted",
        "customer_replied",
        "outcome_confirmed",
        "outcome_disputed",
        "resolved",
        "closed_unresolved",
        "reopened",
        "incident_linked",
        "confirmation_requested",
        "policy_overridden",
        "conversation_held",
    ];

    /// The snake_case tag of this kind, as written in JSON.
    #[must_use]
    pub fn tag(&self) -> &'static str {
        match self {
            Self::Opened { .. } => "opened",
            Self::Transferred { .. } => "transferred",
            Self::Escalated { .. } => "escalated",
            Self::WorkOpened { .. } => "work_opened",
            Self::WorkCompleted { .. } => "work_completed",
            Self::WorkDropped { .. } => "work_dropped",
            Self::FactRecorded { .. } => "fact_recorded",
            Self::ReachabilityRecorded { .. } => "reachability_recorded",
            Self::NoteAdded { .. } => "note_added",
            Self::CustomerContacted { .. } => "customer_contacted",
            Self::CustomerReplied { .. } => "customer_replied",
            Self::OutcomeConfirmed { .. } => "outcome_confirmed",
            Self::OutcomeDisputed { .. } => "outcome_disputed",
            Self::Resolved { .. } => "resolved",
            Self::ClosedUnresolved { .. } => "closed_unresolved",
            Self::Reopened { .. } => "reopened",
            Self::IncidentLinked { .. } => "incident_linked",
            Self::ConfirmationRequested { .. } => "confirmation_requested",
            Self::PolicyOverridden { .. } => "policy_overridden",
            Self::ConversationHeld { .. } => "conversation_held",
        }
    }

    /// Who may read this event.
    ///
    /// Internal notes and facts, and the staff's own coordination (work items, requests
    /// for confirmation) are [`Visibility::Internal`]. Handoffs and escalations are shown
    /// to the customer ("your case is now with hardware") but the customer's sentence
    /// never carries the handoff note or the escalation reason.
    #[must_use]
    pub fn visibility(&self) -> Visibility {
        match self {
            Self::NoteAdded { visibility, .. } | Self::FactRecorded { visibility, .. } => *visibility,
            Self::WorkOpened { .. }
            | Self::WorkCompleted { .. }
            | Self::WorkDropped { .. }
            | Self::ConfirmationRequested { .. }
            | Self::PolicyOverridden { .. } => Visibility::Internal,
            Self::Opened { .. }
            | Self::Transferred { .. }
            | Self::Escalated { .. }
            | Self::ReachabilityRecorded { .. }
            | Self::CustomerContacted { .. }
            | Self::CustomerReplied { .. }
            | Self::OutcomeConfirmed { .. }
            | Self::OutcomeDisputed { .. }
            | Self::ConversationHeld { .. }
            | Self::Resolved { .. }
            | Self::ClosedUnresolved { .. }
            | Self::Reopened { .. }
            | Self::IncidentLinked { .. } => Visibility::Customer,
        }
    }
}

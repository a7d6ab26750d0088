//! The parts of a case a host reads as plain values: its work items, facts, channels,
//! counters and clock. They serialise for a read model; a [`Case`](super::Case) hands
//! them out by reference and the fold alone changes them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::event::Visibility;
use crate::id::{Department, WorkItemId};
use crate::status::WorkState;

/// One department's piece of work on the case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkItem {
    /// The host's id for it.
    pub id: WorkItemId,
    /// The department doing it.
    pub department: Department,
    /// What it is.
    pub title: String,
    /// Where it stands.
    pub state: WorkState,
    /// When it was opened.
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
}

impl WorkItem {
    /// Whether the work is still open.
    #[must_use]
    pub fn is_open(&self) -> bool {
        matches!(self.state, WorkState::Open)
    }
}

/// A fact recorded on the case (S3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Fact {
    /// The value.
    pub value: String,
    /// Who may read it.
    pub visibility: Visibility,
}

/// Whether the customer can be reached on a channel, as last recorded (S6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Reachability {
    /// Whether the customer can use the channel.
    pub reachable: bool,
    /// Why, as recorded.
    pub note: String,
}

/// Counters a policy or a dashboard reads without scanning history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Counters {
    /// Ownership changes, transfers and escalations alike.
    pub handoffs: u32,
    /// Handoffs that returned the case to an owner or department it had already left (S4).
    pub bounces: u32,
    /// Times staff contacted the customer.
    pub contacts: u32,
    /// Contacts since the customer last replied (or since opening).
    pub unanswered_contacts: u32,
    /// Messages from the customer after opening.
    pub customer_messages: u32,
    /// Messages from the customer since staff last contacted them: "asking again" (S5).
    pub customer_messages_unanswered: u32,
    /// Times the case was reopened.
    pub reopenings: u32,
    /// Handoffs since the last escalation (or since opening); an escalation resets it (S5).
    #[serde(default)]
    pub handoffs_since_escalation: u32,
    /// Messages from the customer since staff last contacted them *and* since the last
    /// escalation: the customer asking again, not yet answered by a contact or an
    /// escalation (S5).
    #[serde(default)]
    pub customer_asks_since_escalation: u32,
    /// Policies overridden for one command, with a reason (S8).
    #[serde(default)]
    pub overrides: u32,
}

/// The moments a deadline or a policy measures from ([`Case::clock`](super::Case::clock)):
/// when the case was opened, last heard from, escalated, closed, and so on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Moments {
    /// When the case was opened.
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    /// When the last event happened.
    #[serde(with = "time::serde::rfc3339")]
    pub last_event_at: OffsetDateTime,
    /// When staff first contacted the customer.
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_response_at: Option<OffsetDateTime>,
    /// When the customer last heard from staff (a contact or a customer-visible note).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_update_at: Option<OffsetDateTime>,
    /// When the customer last replied.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_customer_message_at: Option<OffsetDateTime>,
    /// The first contact attempt of the current unanswered run, if any.
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_unanswered_contact_at: Option<OffsetDateTime>,
    /// When ownership last changed (or the case was opened).
    #[serde(with = "time::serde::rfc3339")]
    pub owner_since: OffsetDateTime,
    /// When the case was last escalated, if ever.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub escalated_at: Option<OffsetDateTime>,
    /// When the case was last closed, if it is closed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    /// When staff last contacted the customer (a contact or a conversation), if ever.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_contact_at: Option<OffsetDateTime>,
    /// When the case was last reopened, if ever: the next-update deadline counts from
    /// here when no update came after it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub reopened_at: Option<OffsetDateTime>,
}

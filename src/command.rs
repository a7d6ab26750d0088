//! Commands: what someone asks to do to a case, before the rules decide.
//!
//! A command is an intent; [`Rules::decide`](crate::Rules::decide) turns it into
//! [`Event`]s or refuses it. Commands are serde-serializable so a host can
//! queue them. A [`Request`] is a command with what the host adds to it from the
//! transport: an idempotency key.

use serde::{Deserialize, Serialize};

use crate::actor::Staff;
use crate::event::{Channel, Ending, Event, EventKind, Visibility, Voice};
use crate::id::{CustomerRef, Department, IdempotencyKey, IncidentId, WorkItemId};

/// What opening a case needs: who the customer is, what "solved" means to them in their
/// own words, and who is accountable from the first moment (I1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Opening {
    /// The customer, as the host knows them.
    pub customer: CustomerRef,
    /// The customer's desired outcome, in their own words.
    pub outcome: String,
    /// The first owner.
    pub owner: Staff,
}

impl Opening {
    /// An opening for `customer`, who wants `outcome`, owned by `owner`.
    #[must_use]
    pub fn new(customer: impl Into<CustomerRef>, outcome: impl Into<String>, owner: Staff) -> Self {
        Self { customer: customer.into(), outcome: outcome.into(), owner }
    }
}

/// Something someone asks to do to an open (or, for [`Command::Reopen`], closed) case.
///
/// Each variant becomes the [`EventKind`] of the same meaning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Command {
    /// Hand the case to a named receiver with a note (owner only).
    Transfer {
        /// The receiver.
        to: Staff,
        /// What the receiver needs to know.
        note: String,
    },
    /// Hand the case up one escalation level (owner only).
    Escalate {
        /// The receiver.
        to: Staff,
        /// Why.
        reason: String,
    },
    /// Open a department's piece of work.
    OpenWork {
        /// The host's id for it.
        item: WorkItemId,
        /// The department doing it.
        department: Department,
        /// What it is.
        title: String,
    },
    /// Finish a piece of work. This never resolves the case.
    CompleteWork {
        /// Which piece.
        item: WorkItemId,
        /// What was done and what came of it.
        note: String,
    },
    /// Abandon a piece of work.
    DropWork {
        /// Which piece.
        item: WorkItemId,
        /// Why.
        reason: String,
    },
    /// Record a fact once, for everyone after (S3).
    RecordFact {
        /// What the fact is.
        name: String,
        /// Its value.
        value: String,
        /// Who may read it.
        visibility: Visibility,
    },
    /// Record whether the customer can use a channel (S6).
    RecordReachability {
        /// The channel.
        channel: Channel,
        /// Whether the customer can use it.
        reachable: bool,
        /// Why.
        note: String,
    },
    /// Add a note every department reads.
    AddNote {
        /// The note.
        text: String,
        /// Who may read it.
        visibility: Visibility,
    },
    /// Contact the customer.
    ContactCustomer {
        /// How.
        channel: Channel,
        /// What is said or asked.
        message: String,
    },
    /// Record what the customer said.
    RecordReply {
        /// How they got in touch.
        channel: Channel,
        /// What they said.
        message: String,
    },
    /// The customer confirms, themselves, that their outcome is met (for instance on a
    /// portal). Only the customer may; staff report what the customer said with
    /// [`Command::ReportConfirmation`].
    ConfirmOutcome {
        /// Their words.
        statement: String,
    },
    /// The customer says, themselves, that their outcome is not met. Staff use
    /// [`Command::ReportDispute`].
    DisputeOutcome {
        /// Their words.
        statement: String,
    },
    /// Staff report that the customer confirmed their outcome, on `channel`, in the
    /// customer's words (I2). Refused unless the log shows the customer speaking on that
    /// channel since the last unanswered contact: a reply recorded on the case, or a
    /// conversation held ([`Command::RecordConversation`]).
    ReportConfirmation {
        /// How the customer said it.
        channel: Channel,
        /// The customer's words, quoted.
        statement: String,
    },
    /// Staff report that the customer said their outcome is not met, on `channel`, in
    /// their words; the same evidence is needed as for [`Command::ReportConfirmation`].
    ReportDispute {
        /// How the customer said it.
        channel: Channel,
        /// The customer's words, quoted.
        statement: String,
    },
    /// Record a live conversation with the customer (phone, in person, chat): a contact
    /// the customer answered, and the evidence a reported confirmation rests on.
    RecordConversation {
        /// Phone, in person or chat.
        channel: Channel,
        /// What was said, in a sentence or two.
        summary: String,
    },
    /// Resolve the case (owner only; needs the customer's confirmation and no open work).
    Resolve {
        /// What solved it.
        summary: String,
    },
    /// End the case without the customer's confirmation, honestly (I3).
    CloseUnresolved {
        /// Why.
        ending: Ending,
        /// The evidence.
        evidence: String,
    },
    /// Reopen a closed case.
    Reopen {
        /// Why.
        reason: String,
    },
    /// Link the case to a known incident.
    LinkIncident {
        /// The incident.
        incident: IncidentId,
    },
    /// Flag that the customer is to be asked whether their outcome is met.
    RequestConfirmation {
        /// Why now.
        reason: String,
    },
    /// Do `command` although the configurable policy `policy` refuses it (S8).
    ///
    /// Only staff the host's [`Directory`](crate::rules::Directory) empowers may override, only
    /// policies that declare themselves overridable
    /// ([`Policy::overridable`](crate::Policy::overridable)), and only with a reason of
    /// at least [`MIN_OVERRIDE_REASON_CHARS`](crate::policy::MIN_OVERRIDE_REASON_CHARS)
    /// characters. The override is recorded as a
    /// [`EventKind::PolicyOverridden`] event before the command's own event. To
    /// override two policies for one command, nest one override in the other. The
    /// invariants and the outcome gate are never overridden: naming one is refused.
    Override {
        /// The policy to override, by its name.
        policy: String,
        /// Why this customer is better served without it, this once.
        reason: String,
        /// The command the policy refuses.
        command: Box<Command>,
    },
}

impl Command {
    /// The snake_case tag of this command, as written in JSON (its `"type"`): what a
    /// host logs or counts commands by. An override is tagged `override`.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{event::Visibility, Command};
    ///
    /// let note = Command::AddNote { text: "BIOS 1.9 tried".into(), visibility: Visibility::Internal };
    /// assert_eq!(note.tag(), "add_note");
    /// assert_eq!(serde_json::to_value(&note)?["type"], note.tag());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use]
    pub fn tag(&self) -> &'static str {
        match self {
            Self::Transfer { .. } => "transfer",
            Self::Escalate { .. } => "escalate",
            Self::OpenWork { .. } => "open_work",
            Self::CompleteWork { .. } => "complete_work",
            Self::DropWork { .. } => "drop_work",
            Self::RecordFact { .. } => "record_fact",
            Self::RecordReachability { .. } => "record_reachability",
            Self::AddNote { .. } => "add_note",
            Self::ContactCustomer { .. } => "contact_customer",
            Self::RecordReply { .. } => "record_reply",
            Self::ConfirmOutcome { .. } => "confirm_outcome",
            Self::DisputeOutcome { .. } => "dispute_outcome",
            Self::ReportConfirmation { .. } => "report_confirmation",
            Self::ReportDispute { .. } => "report_dispute",
            Self::RecordConversation { .. } => "record_conversation",
            Self::Resolve { .. } => "resolve",
            Self::CloseUnresolved { .. } => "close_unresolved",
            Self::Reopen { .. } => "reopen",
            Self::LinkIncident { .. } => "link_incident",
            Self::RequestConfirmation { .. } => "request_confirmation",
            Self::Override { .. } => "override",
        }
    }

    /// The event this command proposes; `next_level` is the escalation level an
    /// escalation would reach.
    pub(crate) fn into_kind(self, next_level: u32) -> EventKind {
        match self {
            Self::Transfer { to, note } => EventKind::Transferred { to, note },
            Self::Escalate { to, reason } => EventKind::Escalated { to, reason, level: next_level },
            Self::OpenWork { item, department, title } => EventKind::WorkOpened { item, department, title },
            Self::CompleteWork { item, note } => EventKind::WorkCompleted { item, note },
            Self::DropWork { item, reason } => EventKind::WorkDropped { item, reason },
            Self::RecordFact { name, value, visibility } => EventKind::FactRecorded { name, value, visibility },
            Self::RecordReachability { channel, reachable, note } => {
                EventKind::ReachabilityRecorded { channel, reachable, note }
            }
            Self::AddNote { text, visibility } => EventKind::NoteAdded { text, visibility },
            Self::ContactCustomer { channel, message } => EventKind::CustomerContacted { channel, message },
            Self::RecordReply { channel, message } => EventKind::CustomerReplied { channel, message },
            Self::ConfirmOutcome { statement } => EventKind::OutcomeConfirmed { statement, voice: Voice::Own },
            Self::DisputeOutcome { statement } => EventKind::OutcomeDisputed { statement, voice: Voice::Own },
            Self::ReportConfirmation { channel, statement } => {
                EventKind::OutcomeConfirmed { statement, voice: Voice::Reported { channel } }
            }
            Self::ReportDispute { channel, statement } => {
                EventKind::OutcomeDisputed { statement, voice: Voice::Reported { channel } }
            }
            Self::RecordConversation { channel, summary } => EventKind::ConversationHeld { channel, summary },
            Self::Resolve { summary } => EventKind::Resolved { summary },
            Self::CloseUnresolved { ending, evidence } => EventKind::ClosedUnresolved { ending, evidence },
            Self::Reopen { reason } => EventKind::Reopened { reason },
            Self::LinkIncident { incident } => EventKind::IncidentLinked { incident },
            Self::RequestConfirmation { reason } => EventKind::ConfirmationRequested { reason },
            // `Rules::decide` takes overrides apart before asking for the kind.
            Self::Override { command, .. } => command.into_kind(next_level),
        }
    }

    /// The command whose event `kind` is: the inverse of [`Command::into_kind`] (which
    /// moves every field of the command into the event, adding only the escalation
    /// level). `None` for kinds no command decides (an opening, an override's own
    /// event, a voice only upcasting writes).
    fn from_kind(kind: EventKind) -> Option<Self> {
        Some(match kind {
            EventKind::Transferred { to, note } => Self::Transfer { to, note },
            EventKind::Escalated { to, reason, .. } => Self::Escalate { to, reason },
            EventKind::WorkOpened { item, department, title } => Self::OpenWork { item, department, title },
            EventKind::WorkCompleted { item, note } => Self::CompleteWork { item, note },
            EventKind::WorkDropped { item, reason } => Self::DropWork { item, reason },
            EventKind::FactRecorded { name, value, visibility } => Self::RecordFact { name, value, visibility },
            EventKind::ReachabilityRecorded { channel, reachable, note } => {
                Self::RecordReachability { channel, reachable, note }
            }
            EventKind::NoteAdded { text, visibility } => Self::AddNote { text, visibility },
            EventKind::CustomerContacted { channel, message } => Self::ContactCustomer { channel, message },
            EventKind::CustomerReplied { channel, message } => Self::RecordReply { channel, message },
            EventKind::OutcomeConfirmed { statement, voice: Voice::Own } => Self::ConfirmOutcome { statement },
            EventKind::OutcomeDisputed { statement, voice: Voice::Own } => Self::DisputeOutcome { statement },
            EventKind::OutcomeConfirmed { statement, voice: Voice::Reported { channel } } => {
                Self::ReportConfirmation { channel, statement }
            }
            EventKind::OutcomeDisputed { statement, voice: Voice::Reported { channel } } => {
                Self::ReportDispute { channel, statement }
            }
            EventKind::ConversationHeld { channel, summary } => Self::RecordConversation { channel, summary },
            EventKind::Resolved { summary } => Self::Resolve { summary },
            EventKind::ClosedUnresolved { ending, evidence } => Self::CloseUnresolved { ending, evidence },
            EventKind::Reopened { reason } => Self::Reopen { reason },
            EventKind::IncidentLinked { incident } => Self::LinkIncident { incident },
            EventKind::ConfirmationRequested { reason } => Self::RequestConfirmation { reason },
            EventKind::Opened { .. }
            | EventKind::PolicyOverridden { .. }
            | EventKind::OutcomeConfirmed { voice: Voice::Unverified, .. }
            | EventKind::OutcomeDisputed { voice: Voice::Unverified, .. } => return None,
        })
    }
}

impl Request {
    /// The request whose decision gave `events` (what `Rules::decide_request` returns
    /// for it: its overrides' events, outermost first, then the command's own, each
    /// carrying the key), taken apart again. The repository moves a request into its
    /// decision instead of copying it, and takes it back from the unwritten events when
    /// the append conflicts and it must decide again. `None` if `events` are not such a
    /// decision.
    pub(crate) fn from_decided(events: Vec<Event>) -> Option<Self> {
        let mut events = events.into_iter().rev();
        let last = events.next()?;
        let key = last.key;
        let mut command = Command::from_kind(last.what)?;
        for event in events {
            let EventKind::PolicyOverridden { policy, reason, .. } = event.what else { return None };
            command = Command::Override { policy, reason, command: Box::new(command) };
        }
        Some(Self { command, key })
    }
}

/// A command as a host receives it: the command, and what the transport adds to it.
///
/// [`Rules::decide_request`](crate::Rules::decide_request) and
/// [`Ledger::execute_request`](crate::Ledger::execute_request) take one; a plain
/// [`Command`] converts into a request with nothing added.
///
/// # Example
///
/// ```
/// use caseledger::{command::Request, event::Visibility, Command, IdempotencyKey};
///
/// let note = Command::AddNote { text: "BIOS 1.9 tried".into(), visibility: Visibility::Internal };
/// let request = Request::new(note).key(IdempotencyKey::new("req-7f3a")?);
/// assert_eq!(request.key.as_ref().map(IdempotencyKey::as_str), Some("req-7f3a"));
/// # Ok::<(), caseledger::error::KeyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Request {
    /// What is asked.
    pub command: Command,
    /// The host's idempotency key: sending the same request again with it does nothing
    /// twice (see [`IdempotencyKey`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<IdempotencyKey>,
}

impl Request {
    /// A request for `command`, with no key.
    #[must_use]
    pub fn new(command: Command) -> Self {
        Self { command, key: None }
    }

    /// The same request carrying the idempotency key `key`.
    #[must_use]
    pub fn key(mut self, key: IdempotencyKey) -> Self {
        self.key = Some(key);
        self
    }
}

impl From<Command> for Request {
    fn from(command: Command) -> Self {
        Self::new(command)
    }
}

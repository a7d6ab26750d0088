//! Errors: refusals of commands, broken logs, undecodable input, unusable policy
//! configurations, and store failures. This module holds errors only.
//!
//! Each error names the rule it enforces and carries the data a support engineer needs
//! (sequence number, line, field). None of them is ever raised by a panic (I8).

use serde::{Serialize, Serializer};
use time::OffsetDateTime;

use crate::actor::{Actor, Staff};
use crate::event::{Channel, SCHEMA_VERSION};
use crate::id::{CaseId, Department, EventId, IdempotencyKey, IncidentId, KeyError, StaffId, WorkItemId};
use crate::status::Status;

/// Why a command was refused. A refused command changes nothing.
///
/// The same rules are checked again when an event is folded, so a log that breaks one
/// is reported as [`LogError::Broken`] carrying the refusal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// Only the current owner may do this (I1, S7).
    #[error("only the owner, {owner}, may {action}; {by} asked")]
    NotOwner {
        /// What was attempted.
        action: &'static str,
        /// The current owner.
        owner: Staff,
        /// Who asked.
        by: Actor,
    },
    /// Only a staff member may do this; the customer or the system may not act as staff.
    #[error("only staff may {action}; {by} asked")]
    StaffOnly {
        /// What was attempted.
        action: &'static str,
        /// Who asked.
        by: Actor,
    },
    /// A department may only finish or drop its own piece of work, unless it owns the case.
    #[error("work item {item} belongs to {department}; {by} is neither in {department} nor the case's owner")]
    NotYourDepartment {
        /// The work item.
        item: WorkItemId,
        /// The department it belongs to.
        department: Department,
        /// Who asked.
        by: Actor,
    },
    /// A staff member acted for a department the host says they do not belong to.
    #[error("the host's directory does not list {staff} as a member of {department}")]
    NotAMember {
        /// The staff member.
        staff: StaffId,
        /// The department they claimed to act for.
        department: Department,
    },
    /// Only the customer, or staff reporting what the customer said, can speak for the
    /// customer: reply, confirm or dispute the outcome. The system cannot (S2).
    #[error(
        "only the customer, or staff reporting the customer's own words, can speak for the customer \
         (reply, confirm or dispute the outcome); {by} tried"
    )]
    ConfirmationNotFromCustomer {
        /// Who tried.
        by: Actor,
    },
    /// The case is closed; only a reopen with a reason is accepted (I6).
    #[error("the case is closed ({status}); only a reopen with a reason is accepted")]
    CaseClosed {
        /// How it was closed.
        status: Status,
    },
    /// Only a closed case can be reopened.
    #[error("the case is open; only a closed case can be reopened")]
    NotClosed,
    /// "Resolved" needs the customer's confirmation of their own outcome (I2, S1).
    #[error("cannot resolve: the customer has not confirmed their outcome \"{outcome}\"")]
    OutcomeUnmet {
        /// The customer's desired outcome.
        outcome: String,
    },
    /// The case cannot end while departments still have open work on it (I2).
    #[error("cannot end the case: work still open: {}", join(items))]
    WorkStillOpen {
        /// The open work items.
        items: Vec<WorkItemId>,
    },
    /// A text that carries the story (handoff note, reason, outcome) was empty (I1, S3).
    #[error("the {field} must not be empty")]
    EmptyText {
        /// Which text.
        field: &'static str,
    },
    /// A text (a note, a reason, an id, a name) holds a control character: only tab,
    /// line feed and carriage return are allowed. Databases refuse some of them (PostgreSQL
    /// refuses U+0000 in text) and readers cannot see them.
    #[error(
        "the {field} holds the control character {} at byte {offset}; \
         only tab, line feed and carriage return are allowed",
        code_point(*character)
    )]
    ControlCharacter {
        /// Which text.
        field: &'static str,
        /// The first control character found.
        character: char,
        /// Its byte offset in the text.
        offset: usize,
    },
    /// A transfer or escalation must name someone other than the current owner.
    #[error("{owner} already owns the case; name a different receiver")]
    ReceiverIsOwner {
        /// The current owner.
        owner: Staff,
    },
    /// No work item has this id on the case.
    #[error("no work item {item} on this case")]
    UnknownWorkItem {
        /// The id asked for.
        item: WorkItemId,
    },
    /// The work item was already completed or dropped.
    #[error("work item {item} is already closed")]
    WorkItemClosed {
        /// The work item.
        item: WorkItemId,
    },
    /// A work item with this id already exists on the case.
    #[error("work item {item} already exists on this case")]
    DuplicateWorkItem {
        /// The work item.
        item: WorkItemId,
    },
    /// The command is dated before the case's last event; history does not go backwards.
    #[error(
        "the time {} is before the case's last event at {}; history does not go backwards",
        rfc3339(at),
        rfc3339(last)
    )]
    TimeBeforeLastEvent {
        /// The command's time.
        #[serde(serialize_with = "time_as_text")]
        at: OffsetDateTime,
        /// The last event's time.
        #[serde(serialize_with = "time_as_text")]
        last: OffsetDateTime,
    },
    /// The time cannot be written to a log: RFC 3339 holds the years 0000 to 9999 (UTC).
    #[error("the time {} cannot be recorded: a log holds times from the year 0000 to 9999 (UTC)", rfc3339(at))]
    TimeNotWritable {
        /// The time asked for.
        #[serde(serialize_with = "time_as_text")]
        at: OffsetDateTime,
    },
    /// The customer cannot use this channel (S6).
    #[error("the customer cannot be reached by {channel}: {note}")]
    ChannelUnreachable {
        /// The channel.
        channel: Channel,
        /// Why, as recorded.
        note: String,
    },
    /// Closing as unreachable needs contact attempts since the customer last answered (S2).
    #[error("cannot close as unreachable: no contact attempt recorded since the customer last replied")]
    NoContactAttempts,
    /// A case cannot be a duplicate of itself.
    #[error("a case cannot be closed as a duplicate of itself")]
    DuplicateOfItself,
    /// The case is already linked to this incident.
    #[error("the case is already linked to incident {incident}")]
    AlreadyLinked {
        /// The incident.
        incident: IncidentId,
    },
    /// An escalation event's level must be one above the case's current level.
    #[error("escalation to level {found} where level {expected} was next")]
    EscalationLevel {
        /// The level that should have come next.
        expected: u32,
        /// The level the event claims.
        found: u32,
    },
    /// A case is opened once; a second `opened` event is refused.
    #[error("the case is already open; it is opened only once")]
    AlreadyOpened,
    /// A host-configured limit would be exceeded (see [`Limits`](crate::rules::Limits)).
    #[error("limit exceeded: {what} would be {actual}, the cap is {max}")]
    LimitExceeded {
        /// What is limited, with its unit: `"work items on a case"`, `"bytes in the handoff note"`.
        what: &'static str,
        /// The configured cap.
        max: usize,
        /// What the command would lead to.
        actual: usize,
    },
    /// The idempotency key was already used for another command (or by someone else):
    /// a new command needs a new key. Nothing was recorded.
    #[error(
        "the idempotency key {key} was already used for another command (events {first} to {last}); \
         a new command needs a new key"
    )]
    KeyReused {
        /// The key.
        key: IdempotencyKey,
        /// The first event the key's command produced.
        first: u64,
        /// The last event the key's command produced.
        last: u64,
    },
    /// A configured policy refused the command.
    #[error("refused by policy {policy}: {reason}")]
    Policy {
        /// The policy's name.
        policy: String,
        /// The policy's explanation, with its numbers.
        reason: String,
    },
    /// Only the customer confirms or disputes their outcome as themselves; staff report
    /// what the customer said, naming the channel and quoting them (I2).
    #[error(
        "{by} is not the customer: staff report what the customer said with the channel they used \
         and their words (report_confirmation, report_dispute)"
    )]
    NotTheCustomer {
        /// Who tried.
        by: Actor,
    },
    /// Nothing in the log shows the customer speaking on this channel since staff last
    /// contacted them, so a confirmation or dispute staff report would be silence with
    /// a nicer label (S2, I2).
    #[error(
        "the customer has not answered by {channel} since {}; record their reply or the conversation \
         before reporting what they said",
        rfc3339(since)
    )]
    CustomerNotHeard {
        /// The channel the report names.
        channel: Channel,
        /// The last contact (or the opening), since when the customer is silent there.
        since: OffsetDateTime,
    },
    /// A conversation is live: on the phone, in person or in a chat.
    #[error("a conversation is held by phone, in person or in a chat, not by {channel}")]
    NotALiveChannel {
        /// The channel given.
        channel: Channel,
    },
    /// An override named a policy the rules do not hold (S8).
    #[error("cannot override {policy}: no policy of that name is configured")]
    UnknownPolicy {
        /// The name given.
        policy: String,
    },
    /// An override named a policy that does not declare itself overridable (S8).
    #[error("cannot override policy {policy}: it is not overridable")]
    NotOverridable {
        /// The policy.
        policy: String,
    },
    /// An override named an invariant or the outcome gate, which are never overridden (S8).
    #[error(
        "cannot override {rule}: it is invariant {invariant}; invariants and the outcome gate are never overridden"
    )]
    InvariantNotOverridable {
        /// The name given.
        rule: String,
        /// The invariant it stands for ("I2 (outcome before resolution)").
        invariant: &'static str,
    },
    /// The host does not empower this person to override this policy (S8).
    #[error("{by} may not override policy {policy}: the host's directory does not empower them to")]
    NotEmpoweredToOverride {
        /// Who asked.
        by: Actor,
        /// The policy.
        policy: String,
    },
    /// An override's reason is too short to tell a manager anything (S8).
    #[error("an override needs a reason of at least {min} characters; {actual} given")]
    OverrideReasonTooShort {
        /// The fewest characters allowed.
        min: usize,
        /// The characters given, surrounding space not counted.
        actual: usize,
    },
    /// The policy an override names does not refuse the command: there is nothing to
    /// override, and recording one would mislead the metrics (S8).
    #[error("policy {policy} does not refuse this command; there is nothing to override")]
    NothingToOverride {
        /// The policy.
        policy: String,
    },
}

impl Refusal {
    /// A stable, machine-readable name for the broken rule, in snake_case
    /// (`"outcome_unmet"`). Codes never change once released; messages may be reworded.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotOwner { .. } => "not_owner",
            Self::StaffOnly { .. } => "staff_only",
            Self::NotYourDepartment { .. } => "not_your_department",
            Self::NotAMember { .. } => "not_a_member",
            Self::ConfirmationNotFromCustomer { .. } => "confirmation_not_from_customer",
            Self::CaseClosed { .. } => "case_closed",
            Self::NotClosed => "not_closed",
            Self::OutcomeUnmet { .. } => "outcome_unmet",
            Self::WorkStillOpen { .. } => "work_still_open",
            Self::EmptyText { .. } => "empty_text",
            Self::ControlCharacter { .. } => "control_character",
            Self::ReceiverIsOwner { .. } => "receiver_is_owner",
            Self::UnknownWorkItem { .. } => "unknown_work_item",
            Self::WorkItemClosed { .. } => "work_item_closed",
            Self::DuplicateWorkItem { .. } => "duplicate_work_item",
            Self::TimeBeforeLastEvent { .. } => "time_before_last_event",
            Self::TimeNotWritable { .. } => "time_not_writable",
            Self::ChannelUnreachable { .. } => "channel_unreachable",
            Self::NoContactAttempts => "no_contact_attempts",
            Self::DuplicateOfItself => "duplicate_of_itself",
            Self::AlreadyLinked { .. } => "already_linked",
            Self::EscalationLevel { .. } => "escalation_level",
            Self::AlreadyOpened => "already_opened",
            Self::LimitExceeded { .. } => "limit_exceeded",
            Self::KeyReused { .. } => "key_reused",
            Self::Policy { .. } => "policy",
            Self::NotTheCustomer { .. } => "not_the_customer",
            Self::CustomerNotHeard { .. } => "customer_not_heard",
            Self::NotALiveChannel { .. } => "not_a_live_channel",
            Self::UnknownPolicy { .. } => "unknown_policy",
            Self::NotOverridable { .. } => "not_overridable",
            Self::InvariantNotOverridable { .. } => "invariant_not_overridable",
            Self::NotEmpoweredToOverride { .. } => "not_empowered_to_override",
            Self::OverrideReasonTooShort { .. } => "override_reason_too_short",
            Self::NothingToOverride { .. } => "nothing_to_override",
        }
    }

    /// What kind of failure this is, for a host choosing a transport status (see
    /// [`ErrorCategory`]): who asks may not ([`NotAllowed`](ErrorCategory::NotAllowed)),
    /// the case's state does not admit it now ([`Conflict`](ErrorCategory::Conflict)),
    /// the command itself is unsound ([`Invalid`](ErrorCategory::Invalid)), or it names a
    /// work item the case does not have ([`NotFound`](ErrorCategory::NotFound)).
    #[must_use]
    pub fn category(&self) -> ErrorCategory {
        use ErrorCategory::{Conflict, Invalid, NotAllowed, NotFound};
        match self {
            Self::NotOwner { .. }
            | Self::StaffOnly { .. }
            | Self::NotYourDepartment { .. }
            | Self::NotAMember { .. }
            | Self::ConfirmationNotFromCustomer { .. }
            | Self::Policy { .. }
            | Self::NotTheCustomer { .. }
            | Self::NotOverridable { .. }
            | Self::InvariantNotOverridable { .. }
            | Self::NotEmpoweredToOverride { .. } => NotAllowed,
            Self::CaseClosed { .. }
            | Self::NotClosed
            | Self::OutcomeUnmet { .. }
            | Self::WorkStillOpen { .. }
            | Self::WorkItemClosed { .. }
            | Self::DuplicateWorkItem { .. }
            | Self::TimeBeforeLastEvent { .. }
            | Self::ChannelUnreachable { .. }
            | Self::NoContactAttempts
            | Self::AlreadyLinked { .. }
            | Self::AlreadyOpened
            | Self::NothingToOverride { .. }
            | Self::CustomerNotHeard { .. } => Conflict,
            Self::EmptyText { .. }
            | Self::ControlCharacter { .. }
            | Self::ReceiverIsOwner { .. }
            | Self::TimeNotWritable { .. }
            | Self::DuplicateOfItself
            | Self::EscalationLevel { .. }
            | Self::LimitExceeded { .. }
            | Self::KeyReused { .. }
            | Self::UnknownPolicy { .. }
            | Self::OverrideReasonTooShort { .. }
            | Self::NotALiveChannel { .. } => Invalid,
            Self::UnknownWorkItem { .. } => NotFound,
        }
    }

    /// The refusal as `{code, category, message, details}`, for a host's response body
    /// or log (see [`ErrorReport`]).
    #[must_use]
    pub fn report(&self) -> ErrorReport {
        ErrorReport::of(self.code(), self.category(), self)
    }
}

/// Times in messages are written as in the log (RFC 3339), so they can be searched for.
fn rfc3339(at: &OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// `U+0000`, as Unicode writes a code point.
fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

fn join(items: &[WorkItemId]) -> String {
    items.iter().map(WorkItemId::as_str).collect::<Vec<_>>().join(", ")
}

/// Times in details are written as in messages, and a time RFC 3339 cannot hold (the
/// reason for [`Refusal::TimeNotWritable`]) still serializes.
fn time_as_text<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339(at))
}

/// A path that is not UTF-8 would make serde fail; a report must not.
fn path_as_text<S: Serializer>(path: &std::path::Path, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&path.display())
}

/// An error from outside the crate (the operating system's, a database's) has no
/// serialized shape of its own; its message stands for it.
fn as_text<T: std::fmt::Display, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// Why a log cannot be folded into a case (I5, I6, I2). `seq` is the offending event's
/// sequence number as written in the event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LogError {
    /// There are no events; a case starts with an `opened` event.
    #[error("the log is empty; a case starts with an `opened` event")]
    #[serde(rename = "empty_log")]
    Empty,
    /// The first event is not `opened`.
    #[error("event {seq}: a log must start with `opened`, found `{kind}`")]
    NotOpenedFirst {
        /// The first event's sequence number.
        seq: u64,
        /// Its kind tag.
        kind: &'static str,
    },
    /// Sequence numbers must run 1, 2, 3, … with no gap or repeat.
    #[error("event {found}: sequence number {expected} was expected next")]
    SequenceGap {
        /// The number the log needed.
        expected: u64,
        /// The number the event carries.
        found: u64,
    },
    /// An event of another case is in this case's log.
    #[error("event {seq}: belongs to case {found}, not to case {expected}")]
    ForeignCase {
        /// The event's sequence number.
        seq: u64,
        /// This log's case.
        expected: CaseId,
        /// The case the event names.
        found: CaseId,
    },
    /// Time went backwards between two events.
    #[error("event {seq}: time {} is before the previous event's {}", rfc3339(at), rfc3339(previous))]
    TimeWentBackwards {
        /// The event's sequence number.
        seq: u64,
        /// Its time.
        #[serde(serialize_with = "time_as_text")]
        at: OffsetDateTime,
        /// The previous event's time.
        #[serde(serialize_with = "time_as_text")]
        previous: OffsetDateTime,
    },
    /// An event says the host's time was moved forward (`given_at`), but it was not moved
    /// to the previous event's time from an earlier one: the record of the adjustment is
    /// wrong.
    #[error(
        "event {seq}: says the host's time {} was moved forward to {}, but a time is only ever moved \
         forward to the previous event's time",
        rfc3339(given),
        rfc3339(at)
    )]
    ClockAdjustment {
        /// The event's sequence number.
        seq: u64,
        /// The time the host gave, as recorded.
        #[serde(serialize_with = "time_as_text")]
        given: OffsetDateTime,
        /// The time the event was recorded at.
        #[serde(serialize_with = "time_as_text")]
        at: OffsetDateTime,
    },
    /// Two events share an id.
    #[error("event {seq}: id {id} was already used by event {first}")]
    DuplicateEventId {
        /// The later event's sequence number.
        seq: u64,
        /// The shared id.
        id: EventId,
        /// The earlier event's sequence number.
        first: u64,
    },
    /// The event was written with a schema version this fold does not read. Events built
    /// by [`decode_log`](crate::codec::decode_log) never carry one; this catches events built
    /// or edited in memory.
    #[error(
        "event {seq}: schema version {schema} cannot be folded; this version of caseledger folds schema {}",
        SCHEMA_VERSION
    )]
    #[serde(rename = "schema_not_folded")]
    UnsupportedSchema {
        /// The event's sequence number.
        seq: u64,
        /// The schema version it carries.
        schema: u32,
    },
    /// The event breaks one of the case's rules (for instance `resolved` without the
    /// customer's confirmation, or anything but `reopened` after closure).
    #[error("event {seq} breaks a rule: {refusal}")]
    #[serde(rename = "broken_rule")]
    Broken {
        /// The event's sequence number.
        seq: u64,
        /// The rule it breaks.
        refusal: Refusal,
    },
}

impl LogError {
    /// The sequence number of the offending event, when there is one.
    #[must_use]
    pub fn seq(&self) -> Option<u64> {
        match self {
            Self::Empty => None,
            Self::SequenceGap { found, .. } => Some(*found),
            Self::NotOpenedFirst { seq, .. }
            | Self::ForeignCase { seq, .. }
            | Self::TimeWentBackwards { seq, .. }
            | Self::ClockAdjustment { seq, .. }
            | Self::DuplicateEventId { seq, .. }
            | Self::UnsupportedSchema { seq, .. }
            | Self::Broken { seq, .. } => Some(*seq),
        }
    }
}

impl LogError {
    /// A stable, machine-readable name for what is wrong with the log, in snake_case
    /// (`"sequence_gap"`). For [`LogError::Broken`] it is `"broken_rule"`; the rule's own
    /// code is the refusal's ([`Refusal::code`]), also in the report's details.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty_log",
            Self::NotOpenedFirst { .. } => "not_opened_first",
            Self::SequenceGap { .. } => "sequence_gap",
            Self::ForeignCase { .. } => "foreign_case",
            Self::TimeWentBackwards { .. } => "time_went_backwards",
            Self::ClockAdjustment { .. } => "clock_adjustment",
            Self::DuplicateEventId { .. } => "duplicate_event_id",
            Self::UnsupportedSchema { .. } => "schema_not_folded",
            Self::Broken { .. } => "broken_rule",
        }
    }

    /// Always [`ErrorCategory::Corrupt`]: a host meets a broken log when it folds what
    /// it stored, and no retry or change of request repairs stored history. (A host that
    /// folds a log a client sent for import answers that client as it sees fit.)
    #[must_use]
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Empty
            | Self::NotOpenedFirst { .. }
            | Self::SequenceGap { .. }
            | Self::ForeignCase { .. }
            | Self::TimeWentBackwards { .. }
            | Self::ClockAdjustment { .. }
            | Self::DuplicateEventId { .. }
            | Self::UnsupportedSchema { .. }
            | Self::Broken { .. } => ErrorCategory::Corrupt,
        }
    }

    /// The error as `{code, category, message, details}` (see [`ErrorReport`]).
    #[must_use]
    pub fn report(&self) -> ErrorReport {
        ErrorReport::of(self.code(), self.category(), self)
    }
}

/// Why text could not be read as events. `line` counts from 1 (a single event is line 1).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DecodeError {
    /// The JSON stops in the middle (a torn or truncated write).
    #[error("line {line}: the JSON ends early (truncated?)")]
    Truncated {
        /// The line.
        line: usize,
    },
    /// The text is not JSON.
    #[error("line {line}, column {column}: not valid JSON: {message}")]
    #[serde(rename = "json_syntax")]
    Syntax {
        /// The line.
        line: usize,
        /// The column within that line.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// Valid JSON, but not an event (missing field, unknown event kind, wrong type).
    #[error("line {line}: not an event: {message}")]
    NotAnEvent {
        /// The line.
        line: usize,
        /// What is wrong, as the parser said.
        message: String,
    },
    /// An event written with a schema version this crate cannot read.
    #[error("line {line}: schema version {found} is not supported (this crate reads up to {supported})")]
    UnsupportedSchema {
        /// The line.
        line: usize,
        /// The version found.
        found: u32,
        /// The newest version this crate reads.
        supported: u32,
    },
    /// A line is longer than [`Limits::max_line_bytes`](crate::rules::Limits::max_line_bytes);
    /// it was not parsed.
    #[error("line {line}: {bytes} bytes is over the limit of {max} bytes for one event; the line was not read")]
    LineTooLong {
        /// The line.
        line: usize,
        /// Its length in bytes.
        bytes: usize,
        /// The configured limit.
        max: usize,
    },
    /// The log holds more events than [`Limits::max_events`](crate::rules::Limits::max_events).
    #[error("line {line}: the log holds more than {max} events, the limit for one case")]
    TooManyEvents {
        /// The line of the first event over the limit.
        line: usize,
        /// The configured limit.
        max: u64,
    },
}

impl DecodeError {
    /// The line (from 1) the error is on.
    #[must_use]
    pub fn line(&self) -> usize {
        match self {
            Self::Truncated { line }
            | Self::Syntax { line, .. }
            | Self::NotAnEvent { line, .. }
            | Self::UnsupportedSchema { line, .. }
            | Self::LineTooLong { line, .. }
            | Self::TooManyEvents { line, .. } => *line,
        }
    }
}

impl DecodeError {
    /// A stable, machine-readable name for why the text is not an event, in snake_case
    /// (`"truncated"`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Truncated { .. } => "truncated",
            Self::Syntax { .. } => "json_syntax",
            Self::NotAnEvent { .. } => "not_an_event",
            Self::UnsupportedSchema { .. } => "unsupported_schema",
            Self::LineTooLong { .. } => "line_too_long",
            Self::TooManyEvents { .. } => "too_many_events",
        }
    }

    /// Always [`ErrorCategory::Invalid`]: the text given is not a readable log. (Text
    /// read back from a store that does not decode is reported by the store as
    /// [`StoreError::Corrupt`], which is [`ErrorCategory::Corrupt`].)
    #[must_use]
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Truncated { .. }
            | Self::Syntax { .. }
            | Self::NotAnEvent { .. }
            | Self::UnsupportedSchema { .. }
            | Self::LineTooLong { .. }
            | Self::TooManyEvents { .. } => ErrorCategory::Invalid,
        }
    }

    /// The error as `{code, category, message, details}` (see [`ErrorReport`]).
    #[must_use]
    pub fn report(&self) -> ErrorReport {
        ErrorReport::of(self.code(), self.category(), self)
    }
}

/// Why a policy configuration cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConfigError {
    /// The text is not a policy set: bad JSON, an unknown policy `type`, a misspelt or
    /// missing field, a malformed span.
    #[error("policy set, line {line}, column {column}: {message}")]
    #[serde(rename = "config_unreadable")]
    Json {
        /// The line, from 1.
        line: usize,
        /// The column, from 1.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A number is out of range.
    #[error("policy {policy}: {field} {problem}")]
    #[serde(rename = "config_value_invalid")]
    Invalid {
        /// The policy (or section: `deadlines`, `escalation`).
        policy: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong, with the number.
        problem: String,
    },
}

impl ConfigError {
    /// A stable, machine-readable name for what is wrong with the configuration, in
    /// snake_case (`"config_unreadable"`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Json { .. } => "config_unreadable",
            Self::Invalid { .. } => "config_value_invalid",
        }
    }

    /// Always [`ErrorCategory::Invalid`]: the configuration given cannot be used.
    #[must_use]
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Json { .. } | Self::Invalid { .. } => ErrorCategory::Invalid,
        }
    }

    /// The error as `{code, category, message, details}` (see [`ErrorReport`]).
    #[must_use]
    pub fn report(&self) -> ErrorReport {
        ErrorReport::of(self.code(), self.category(), self)
    }
}

impl KeyError {
    /// A stable, machine-readable name for what is wrong with the key, in snake_case
    /// (`"key_too_long"`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "key_empty",
            Self::TooLong { .. } => "key_too_long",
            Self::ControlCharacter { .. } => "key_control_character",
        }
    }

    /// Always [`ErrorCategory::Invalid`]: the text given cannot be a key.
    #[must_use]
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Empty | Self::TooLong { .. } | Self::ControlCharacter { .. } => ErrorCategory::Invalid,
        }
    }

    /// The error as `{code, category, message, details}` (see [`ErrorReport`]).
    #[must_use]
    pub fn report(&self) -> ErrorReport {
        ErrorReport::of(self.code(), self.category(), self)
    }
}

/// Any error this crate returns, for hosts that want a single type behind `?`.
#[derive(Debug, thiserror::Error, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Error {
    /// A command was refused.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A log is broken.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Input could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A policy configuration cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A store could not append or read events.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A text is not an idempotency key.
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl Error {
    /// The wrapped error's code ([`Refusal::code`], [`LogError::code`], …). Codes are
    /// unique across all of the crate's errors, so the code alone says which it is.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{error::ErrorCategory, Error, Refusal};
    ///
    /// let err = Error::from(Refusal::OutcomeUnmet { outcome: "my laptop works".into() });
    /// assert_eq!(err.code(), "outcome_unmet");
    /// assert_eq!(err.category(), ErrorCategory::Conflict);
    /// assert_eq!(err.category().http_status(), 409);
    /// ```
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused(e) => e.code(),
            Self::Log(e) => e.code(),
            Self::Decode(e) => e.code(),
            Self::Config(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::Key(e) => e.code(),
        }
    }

    /// The wrapped error's category (see [`ErrorCategory`] for the transport statuses).
    #[must_use]
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Refused(e) => e.category(),
            Self::Log(e) => e.category(),
            Self::Decode(e) => e.category(),
            Self::Config(e) => e.category(),
            Self::Store(e) => e.category(),
            Self::Key(e) => e.category(),
        }
    }

    /// The wrapped error as `{code, category, message, details}`, ready to serialize as
    /// a response body (see [`ErrorReport`]).
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{Error, Refusal};
    ///
    /// let err = Error::from(Refusal::WorkItemClosed { item: "SW-1".into() });
    /// let body = serde_json::to_value(err.report())?;
    /// assert_eq!(
    ///     body,
    ///     serde_json::json!({
    ///         "code": "work_item_closed",
    ///         "category": "conflict",
    ///         "message": "work item SW-1 is already closed",
    ///         "details": { "item": "SW-1" },
    ///     })
    /// );
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use]
    pub fn report(&self) -> ErrorReport {
        match self {
            Self::Refused(e) => e.report(),
            Self::Log(e) => e.report(),
            Self::Decode(e) => e.report(),
            Self::Config(e) => e.report(),
            Self::Store(e) => e.report(),
            Self::Key(e) => e.report(),
        }
    }
}

/// Why a [`Store`](crate::Store) could not append or read events.
///
/// An append that fails changes nothing the store has acknowledged; see each variant
/// for whether anything of the failed batch may have been written.
#[derive(Debug, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StoreError {
    /// Optimistic concurrency: another writer appended first. Nothing was written; reload
    /// the events after your version, decide again, and retry.
    #[error("case {case}: expected version {expected}, but the store is at version {actual} (another writer appended first)")]
    Conflict {
        /// The case.
        case: CaseId,
        /// The version the writer assumed.
        expected: u64,
        /// The version the store holds.
        actual: u64,
    },
    /// An event id is already stored at this position with different content: a retried
    /// append must resend exactly the same event. Nothing was written.
    #[error("case {case}: event {id} is already stored as event {seq} with different content")]
    ChangedRetry {
        /// The case.
        case: CaseId,
        /// The position both claim.
        seq: u64,
        /// The shared id.
        id: EventId,
    },
    /// The batch does not continue the case's log: an event of another case, a sequence
    /// gap, or an event id already used elsewhere in the log (I5). Nothing was written.
    #[error("case {case}: the batch does not continue the log: {source}")]
    #[serde(rename = "batch_rejected")]
    Rejected {
        /// The case.
        case: CaseId,
        /// The broken rule, with the offending event's sequence number (boxed to keep
        /// [`Error`] small).
        source: Box<LogError>,
    },
    /// The case has no events in the store.
    #[error("case {case} is not in the store")]
    UnknownCase {
        /// The case.
        case: CaseId,
    },
    /// The file system refused an operation.
    #[error("{}: {op} failed: {source}", path.display())]
    Io {
        /// The file or directory.
        #[serde(serialize_with = "path_as_text")]
        path: std::path::PathBuf,
        /// What was being done ("append", "sync", "read").
        op: &'static str,
        /// The operating system's error.
        #[serde(serialize_with = "as_text")]
        source: std::io::Error,
    },
    /// The store's backend (a database, a network, a driver) failed; `source` is its own
    /// error. Whether anything was written depends on the backend: a store that appends
    /// in one transaction writes nothing when it reports this.
    #[error("the store's backend failed: {source}")]
    Backend {
        /// The backend's error, for logs and for downcasting to the driver's type.
        #[serde(serialize_with = "as_text")]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A line that is not the torn tail of an interrupted write cannot be decoded: the
    /// file was damaged or edited. It is reported, never skipped.
    #[error("{}: {source}", path.display())]
    #[serde(rename = "corrupt_line")]
    Corrupt {
        /// The file.
        #[serde(serialize_with = "path_as_text")]
        path: std::path::PathBuf,
        /// The line (from 1).
        line: usize,
        /// Why it does not decode.
        source: DecodeError,
    },
    /// A line decodes but does not continue the file's log (another case's event, a
    /// sequence gap, a repeated event id).
    #[error("{}, line {line}: {source}", path.display())]
    #[serde(rename = "inconsistent_line")]
    Inconsistent {
        /// The file.
        #[serde(serialize_with = "path_as_text")]
        path: std::path::PathBuf,
        /// The line (from 1).
        line: usize,
        /// The broken rule (boxed to keep [`Error`] small).
        source: Box<LogError>,
    },
    /// A line's checksum does not match its bytes, or the line carries no checksum and
    /// is not a line written before checksums existed: it was changed after it was
    /// written (see [`FileStore`](crate::FileStore) for the line format).
    #[error("{}, line {line}: {}", path.display(), checksum_problem(*stored, *computed))]
    #[serde(rename = "checksum_mismatch")]
    Checksum {
        /// The file.
        #[serde(serialize_with = "path_as_text")]
        path: std::path::PathBuf,
        /// The line (from 1).
        line: usize,
        /// The checksum the line carries; `None` when it carries none that can be read.
        stored: Option<u32>,
        /// The checksum of the line's bytes.
        computed: u32,
    },
    /// Another [`FileStore`](crate::FileStore), in this process or another, has the
    /// directory open. Nothing was read or written.
    #[error(
        "{}: the directory is in use by another FileStore (in this or another process); \
         open one store per directory and share it",
        dir.display()
    )]
    #[serde(rename = "store_locked")]
    Locked {
        /// The store's directory.
        #[serde(serialize_with = "path_as_text")]
        dir: std::path::PathBuf,
    },
    /// The case's log is damaged, so the store serves nothing of it and refuses appends
    /// to it until an operator repairs the file and reopens the store. The damage is
    /// listed by [`FileStore::quarantined`](crate::FileStore::quarantined).
    #[error(
        "case {case} is quarantined: {}, line {line} is damaged; repair the file and reopen the store",
        path.display()
    )]
    #[serde(rename = "case_quarantined")]
    Quarantined {
        /// The case.
        case: CaseId,
        /// Its log file.
        #[serde(serialize_with = "path_as_text")]
        path: std::path::PathBuf,
        /// The first damaged line (from 1).
        line: usize,
    },
    /// An event's line would be longer than the store reads back
    /// ([`Limits::max_line_bytes`](crate::rules::Limits::max_line_bytes)). Nothing was written.
    #[error(
        "case {case}: event {seq} is {bytes} bytes as a line, over the store's limit of {max}; nothing was written"
    )]
    #[serde(rename = "line_too_large")]
    TooLarge {
        /// The case.
        case: CaseId,
        /// The event's sequence number.
        seq: u64,
        /// The length of its line in bytes (without the line break).
        bytes: usize,
        /// The store's limit.
        max: usize,
    },
}

fn checksum_problem(stored: Option<u32>, computed: u32) -> String {
    match stored {
        Some(stored) => format!(
            "checksum mismatch: the line says crc32c {stored:08x}, its bytes give {computed:08x} \
             (the line was changed after it was written)"
        ),
        None => "the line carries no checksum and is not a line written before checksums \
                 (it was changed after it was written)"
            .to_owned(),
    }
}

impl StoreError {
    /// A [`StoreError::Backend`] carrying `source`, the backend's own error (anything
    /// that converts into a boxed error, including a `String`).
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::error::StoreError;
    ///
    /// let err = StoreError::backend(std::io::Error::other("connection reset"));
    /// assert_eq!(err.to_string(), "the store's backend failed: connection reset");
    /// assert!(std::error::Error::source(&err).is_some());
    /// ```
    #[must_use]
    pub fn backend(source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self::Backend { source: source.into() }
    }

    /// Whether this is a [`StoreError::Conflict`], the one error a writer should answer
    /// by deciding again and retrying.
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }

    /// A stable, machine-readable name for the failure, in snake_case (`"conflict"`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Conflict { .. } => "conflict",
            Self::ChangedRetry { .. } => "changed_retry",
            Self::Rejected { .. } => "batch_rejected",
            Self::UnknownCase { .. } => "unknown_case",
            Self::Io { .. } => "io",
            Self::Backend { .. } => "backend",
            Self::Corrupt { .. } => "corrupt_line",
            Self::Inconsistent { .. } => "inconsistent_line",
            Self::Checksum { .. } => "checksum_mismatch",
            Self::Locked { .. } => "store_locked",
            Self::Quarantined { .. } => "case_quarantined",
            Self::TooLarge { .. } => "line_too_large",
        }
    }

    /// What kind of failure this is (see [`ErrorCategory`]): another writer came first
    /// ([`Conflict`](ErrorCategory::Conflict): decide again and retry); the batch or
    /// retry was unsound ([`Invalid`](ErrorCategory::Invalid)); no such case
    /// ([`NotFound`](ErrorCategory::NotFound)); the storage failed
    /// ([`Unavailable`](ErrorCategory::Unavailable): retry later); or what is stored is
    /// damaged ([`Corrupt`](ErrorCategory::Corrupt)).
    #[must_use]
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Conflict { .. } => ErrorCategory::Conflict,
            Self::ChangedRetry { .. } | Self::Rejected { .. } | Self::TooLarge { .. } => ErrorCategory::Invalid,
            Self::UnknownCase { .. } => ErrorCategory::NotFound,
            // Another store holds the directory: once it is dropped, opening succeeds.
            Self::Io { .. } | Self::Backend { .. } | Self::Locked { .. } => ErrorCategory::Unavailable,
            Self::Corrupt { .. } | Self::Inconsistent { .. } | Self::Checksum { .. } | Self::Quarantined { .. } => {
                ErrorCategory::Corrupt
            }
        }
    }

    /// The error as `{code, category, message, details}` (see [`ErrorReport`]). Sources
    /// from outside the crate (an I/O error, a database's error) appear in `details` as
    /// their message.
    #[must_use]
    pub fn report(&self) -> ErrorReport {
        ErrorReport::of(self.code(), self.category(), self)
    }
}

/// What kind of failure an error is, so a host maps it to a transport status without
/// reading messages. Every error's `category()` returns one; [`http_status`](Self::http_status)
/// gives the conventional HTTP status.
///
/// | category      | HTTP | meaning                                                                 |
/// |---------------|------|-------------------------------------------------------------------------|
/// | `not_allowed` | 403  | who asks may not do this (not the owner, not staff, a host policy)      |
/// | `conflict`    | 409  | sound, but the case's state does not admit it now, or another writer came first |
/// | `invalid`     | 422  | the command or input is unsound whatever the state (empty text, a limit, bad JSON) |
/// | `not_found`   | 404  | the case or work item named does not exist                               |
/// | `unavailable` | 503  | the storage failed (I/O, a database backend); retrying later may succeed |
/// | `corrupt`     | 500  | stored history is damaged or breaks the invariants; a person must look  |
///
/// Serializes as the snake_case name in the first column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCategory {
    /// Who asks may not do this: only the owner, only staff, only the customer, the
    /// work item's department, or a host policy refuses it.
    NotAllowed,
    /// The request is sound but the case's current state does not admit it (closed,
    /// work still open, outcome unmet, already exists), or another writer appended
    /// first. It may succeed after the case changes.
    Conflict,
    /// The request or input is unsound whatever the case's state: an empty or oversized
    /// text, a time no log can hold, undecodable JSON, a retry that changed its content.
    Invalid,
    /// The case or work item the request names does not exist.
    NotFound,
    /// The storage could not do its part (I/O, a database); nothing says the request
    /// was wrong, and retrying later may succeed.
    Unavailable,
    /// What is stored is damaged or breaks the invariants; neither retrying nor changing
    /// the request helps.
    Corrupt,
}

impl ErrorCategory {
    /// The category's snake_case name, as serialized (`"not_allowed"`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAllowed => "not_allowed",
            Self::Conflict => "conflict",
            Self::Invalid => "invalid",
            Self::NotFound => "not_found",
            Self::Unavailable => "unavailable",
            Self::Corrupt => "corrupt",
        }
    }

    /// The HTTP status conventionally answered for this category: 403, 409, 422, 404,
    /// 503 or 500 (see the table on [`ErrorCategory`]).
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{error::StoreError, CaseId, Error};
    ///
    /// let err = Error::from(StoreError::UnknownCase { case: CaseId::from_uuid(uuid::Uuid::nil()) });
    /// assert_eq!(err.category().http_status(), 404);
    /// ```
    #[must_use]
    pub fn http_status(self) -> u16 {
        match self {
            Self::NotAllowed => 403,
            Self::Conflict => 409,
            Self::Invalid => 422,
            Self::NotFound => 404,
            Self::Unavailable => 503,
            Self::Corrupt => 500,
        }
    }
}

impl std::fmt::Display for ErrorCategory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as a host sends or logs it: `{code, category, message, details}`.
///
/// `code` and `category` are stable (see each error's `code()` and [`ErrorCategory`]);
/// `message` is the error's `Display` text, for people; `details` holds the variant's
/// fields by name (`seq`, `line`, `policy`, `expected`, `actual`, …) as JSON, with a
/// wrapped error of this crate as its own `{code, …fields}` object and any other source
/// (an I/O error) as its message. Building a report never fails and never panics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ErrorReport {
    /// The stable code (`"outcome_unmet"`).
    pub code: String,
    /// The category, for the transport status.
    pub category: ErrorCategory,
    /// The human-readable message (the error's `Display`).
    pub message: String,
    /// The variant's fields as a JSON object; empty for a variant without fields.
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl ErrorReport {
    fn of<E: Serialize + std::fmt::Display>(code: &'static str, category: ErrorCategory, error: &E) -> Self {
        let details = match serde_json::to_value(error) {
            Ok(serde_json::Value::Object(mut fields)) => {
                // The serialized form carries the code as its tag; the report has it
                // once, at the top.
                fields.remove("code");
                fields
            }
            // The error types hold plain data, with text standing in for foreign
            // sources, times and paths, so this does not happen; were it to, the report
            // still goes out, with its code and message.
            Ok(_) | Err(_) => serde_json::Map::new(),
        };
        Self { code: code.to_owned(), category, message: error.to_string(), details }
    }

    /// The HTTP status for this report's category ([`ErrorCategory::http_status`]).
    #[must_use]
    pub fn http_status(&self) -> u16 {
        self.category.http_status()
    }
}

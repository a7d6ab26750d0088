//! Errors: refusals of commands, broken logs, undecodable input, unusable policy
//! configurations, and store failures. This module holds errors only.
//!
//! Each error names the rule it enforces and carries the data a support engineer needs
//! (sequence number, line, field). None of them is ever raised by a panic (I8).

use time::OffsetDateTime;

use crate::actor::{Actor, Staff};
use crate::event::{Channel, SCHEMA_VERSION};
use crate::id::{CaseId, Department, EventId, IdempotencyKey, IncidentId, KeyError, StaffId, WorkItemId};
use crate::status::Status;

/// Why a command was refused. A refused command changes nothing.
///
/// The same rules are checked again when an event is folded, so a log that breaks one
/// is reported as [`LogError::Broken`] carrying the refusal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
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
        at: OffsetDateTime,
        /// The last event's time.
        last: OffsetDateTime,
    },
    /// The time cannot be written to a log: RFC 3339 holds the years 0000 to 9999 (UTC).
    #[error("the time {} cannot be recorded: a log holds times from the year 0000 to 9999 (UTC)", rfc3339(at))]
    TimeNotWritable {
        /// The time asked for.
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
    /// A host-configured limit would be exceeded (see [`Limits`](crate::Limits)).
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

/// Why a log cannot be folded into a case (I5, I6, I2). `seq` is the offending event's
/// sequence number as written in the event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// There are no events; a case starts with an `opened` event.
    #[error("the log is empty; a case starts with an `opened` event")]
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
        at: OffsetDateTime,
        /// The previous event's time.
        previous: OffsetDateTime,
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
    /// by [`decode_log`](crate::decode_log) never carry one; this catches events built
    /// or edited in memory.
    #[error(
        "event {seq}: schema version {schema} cannot be folded; this version of caseledger folds schema {}",
        SCHEMA_VERSION
    )]
    UnsupportedSchema {
        /// The event's sequence number.
        seq: u64,
        /// The schema version it carries.
        schema: u32,
    },
    /// The event breaks one of the case's rules (for instance `resolved` without the
    /// customer's confirmation, or anything but `reopened` after closure).
    #[error("event {seq} breaks a rule: {refusal}")]
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
            | Self::DuplicateEventId { seq, .. }
            | Self::UnsupportedSchema { seq, .. }
            | Self::Broken { seq, .. } => Some(*seq),
        }
    }
}

/// Why text could not be read as events. `line` counts from 1 (a single event is line 1).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
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
    /// A line is longer than [`Limits::max_line_bytes`](crate::Limits::max_line_bytes);
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
    /// The log holds more events than [`Limits::max_events`](crate::Limits::max_events).
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

/// Why a policy configuration cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The text is not a policy set: bad JSON, an unknown policy `type`, a misspelt or
    /// missing field, a malformed span.
    #[error("policy set, line {line}, column {column}: {message}")]
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
    Invalid {
        /// The policy (or section: `deadlines`, `escalation`).
        policy: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong, with the number.
        problem: String,
    },
}

/// Any error this crate returns, for hosts that want a single type behind `?`.
#[derive(Debug, thiserror::Error)]
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

/// Why a [`Store`](crate::Store) could not append or read events.
///
/// An append that fails changes nothing the store has acknowledged; see each variant
/// for whether anything of the failed batch may have been written.
#[derive(Debug, thiserror::Error)]
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
        path: std::path::PathBuf,
        /// What was being done ("append", "sync", "read").
        op: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The store's backend (a database, a network, a driver) failed; `source` is its own
    /// error. Whether anything was written depends on the backend: a store that appends
    /// in one transaction writes nothing when it reports this.
    #[error("the store's backend failed: {source}")]
    Backend {
        /// The backend's error, for logs and for downcasting to the driver's type.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A line that is not the torn tail of an interrupted write cannot be decoded: the
    /// file was damaged or edited. It is reported, never skipped.
    #[error("{}: {source}", path.display())]
    Corrupt {
        /// The file.
        path: std::path::PathBuf,
        /// The line (from 1).
        line: usize,
        /// Why it does not decode.
        source: DecodeError,
    },
    /// A line decodes but does not continue the file's log (another case's event, a
    /// sequence gap, a repeated event id).
    #[error("{}, line {line}: {source}", path.display())]
    Inconsistent {
        /// The file.
        path: std::path::PathBuf,
        /// The line (from 1).
        line: usize,
        /// The broken rule (boxed to keep [`Error`] small).
        source: Box<LogError>,
    },
}

impl StoreError {
    /// A [`StoreError::Backend`] carrying `source`, the backend's own error (anything
    /// that converts into a boxed error, including a `String`).
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::StoreError;
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
}

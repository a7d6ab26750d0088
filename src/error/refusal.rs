//! [`Refusal`]: why a command was refused, one variant per rule, each with its stable code
//! and category.

use serde::Serialize;
use time::OffsetDateTime;

use super::table::error_table;
use super::text::{code_point, rfc3339, time_as_text};
use crate::actor::{Actor, Staff};
use crate::event::Channel;
use crate::id::{CustomerRef, Department, IdempotencyKey, IncidentId, StaffId, WorkItemId};
use crate::status::Status;

error_table! {
    /// Why a command was refused. A refused command changes nothing.
    ///
    /// The same rules are checked again when an event is folded, so a log that breaks one
    /// is reported as [`LogError::Broken`](crate::error::LogError::Broken) carrying the refusal.
    #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
    #[non_exhaustive]
    pub enum Refusal {
        /// Only the current owner may do this (I1, S7).
        #[error("only the owner, {owner}, may {action}; {by} asked")]
        NotOwner = ("not_owner", NotAllowed) {
            /// What was attempted.
            action: &'static str,
            /// The current owner.
            owner: Staff,
            /// Who asked.
            by: Actor,
        },
        /// Only a staff member may do this; the customer or the system may not act as staff.
        #[error("only staff may {action}; {by} asked")]
        StaffOnly = ("staff_only", NotAllowed) {
            /// What was attempted.
            action: &'static str,
            /// Who asked.
            by: Actor,
        },
        /// A department may only finish or drop its own piece of work, unless it owns the case.
        #[error("work item {item} belongs to {department}; {by} is neither in {department} nor the case's owner")]
        NotYourDepartment = ("not_your_department", NotAllowed) {
            /// The work item.
            item: WorkItemId,
            /// The department it belongs to.
            department: Department,
            /// Who asked.
            by: Actor,
        },
        /// A staff member acted for a department the host says they do not belong to.
        #[error("the host's directory does not list {staff} as a member of {department}")]
        NotAMember = ("not_a_member", NotAllowed) {
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
        ConfirmationNotFromCustomer = ("confirmation_not_from_customer", NotAllowed) {
            /// Who tried.
            by: Actor,
        },
        /// The case is closed; only a reopen with a reason is accepted (I6).
        #[error("the case is closed ({status}); only a reopen with a reason is accepted")]
        CaseClosed = ("case_closed", Conflict) {
            /// How it was closed.
            status: Status,
        },
        /// Only a closed case can be reopened.
        #[error("the case is open; only a closed case can be reopened")]
        NotClosed = ("not_closed", Conflict),
        /// "Resolved" needs the customer's confirmation of their own outcome (I2, S1).
        #[error("cannot resolve: the customer has not confirmed their outcome \"{outcome}\"")]
        OutcomeUnmet = ("outcome_unmet", Conflict) {
            /// The customer's desired outcome.
            outcome: String,
        },
        /// The case cannot end while departments still have open work on it (I2).
        #[error("cannot end the case: work still open: {}", join(items))]
        WorkStillOpen = ("work_still_open", Conflict) {
            /// The open work items.
            items: Vec<WorkItemId>,
        },
        /// A text that carries the story (handoff note, reason, outcome) was empty (I1, S3).
        #[error("the {field} must not be empty")]
        EmptyText = ("empty_text", Invalid) {
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
        ControlCharacter = ("control_character", Invalid) {
            /// Which text.
            field: &'static str,
            /// The first control character found.
            character: char,
            /// Its byte offset in the text.
            offset: usize,
        },
        /// A transfer or escalation must name someone other than the current owner.
        #[error("{owner} already owns the case; name a different receiver")]
        ReceiverIsOwner = ("receiver_is_owner", Invalid) {
            /// The current owner.
            owner: Staff,
        },
        /// No work item has this id on the case.
        #[error("no work item {item} on this case")]
        UnknownWorkItem = ("unknown_work_item", NotFound) {
            /// The id asked for.
            item: WorkItemId,
        },
        /// The work item was already completed or dropped.
        #[error("work item {item} is already closed")]
        WorkItemClosed = ("work_item_closed", Conflict) {
            /// The work item.
            item: WorkItemId,
        },
        /// A work item with this id already exists on the case.
        #[error("work item {item} already exists on this case")]
        DuplicateWorkItem = ("duplicate_work_item", Conflict) {
            /// The work item.
            item: WorkItemId,
        },
        /// The command is dated before the case's last event; history does not go backwards.
        #[error(
            "the time {} is before the case's last event at {}; history does not go backwards",
            rfc3339(at),
            rfc3339(last)
        )]
        TimeBeforeLastEvent = ("time_before_last_event", Conflict) {
            /// The command's time.
            #[serde(serialize_with = "time_as_text")]
            at: OffsetDateTime,
            /// The last event's time.
            #[serde(serialize_with = "time_as_text")]
            last: OffsetDateTime,
        },
        /// The time cannot be written to a log: RFC 3339 holds the years 0000 to 9999 (UTC).
        #[error("the time {} cannot be recorded: a log holds times from the year 0000 to 9999 (UTC)", rfc3339(at))]
        TimeNotWritable = ("time_not_writable", Invalid) {
            /// The time asked for.
            #[serde(serialize_with = "time_as_text")]
            at: OffsetDateTime,
        },
        /// The customer cannot use this channel (S6).
        #[error("the customer cannot be reached by {channel}: {note}")]
        ChannelUnreachable = ("channel_unreachable", Conflict) {
            /// The channel.
            channel: Channel,
            /// Why, as recorded.
            note: String,
        },
        /// Closing as unreachable needs contact attempts since the customer last answered (S2).
        #[error("cannot close as unreachable: no contact attempt recorded since the customer last replied")]
        NoContactAttempts = ("no_contact_attempts", Conflict),
        /// A case cannot be a duplicate of itself.
        #[error("a case cannot be closed as a duplicate of itself")]
        DuplicateOfItself = ("duplicate_of_itself", Invalid),
        /// The case is already linked to this incident.
        #[error("the case is already linked to incident {incident}")]
        AlreadyLinked = ("already_linked", Conflict) {
            /// The incident.
            incident: IncidentId,
        },
        /// An escalation event's level must be one above the case's current level.
        #[error("escalation to level {found} where level {expected} was next")]
        EscalationLevel = ("escalation_level", Invalid) {
            /// The level that should have come next.
            expected: u32,
            /// The level the event claims.
            found: u32,
        },
        /// A case is opened once; a second `opened` event is refused.
        #[error("the case is already open; it is opened only once")]
        AlreadyOpened = ("already_opened", Conflict),
        /// A host-configured limit would be exceeded (see [`Limits`](crate::rules::Limits)).
        #[error("limit exceeded: {what} would be {actual}, the cap is {max}")]
        LimitExceeded = ("limit_exceeded", Invalid) {
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
        KeyReused = ("key_reused", Invalid) {
            /// The key.
            key: IdempotencyKey,
            /// The first event the key's command produced.
            first: u64,
            /// The last event the key's command produced.
            last: u64,
        },
        /// A configured policy refused the command.
        #[error("refused by policy {policy}: {reason}")]
        Policy = ("policy", NotAllowed) {
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
        NotTheCustomer = ("not_the_customer", NotAllowed) {
            /// Who tried.
            by: Actor,
        },
        /// A customer asks for a command on (or opens) a case that is not theirs: only the
        /// case's own customer speaks as the customer on it.
        #[error("customer {customer} is not this case's customer")]
        OtherCustomer = ("other_customer", NotAllowed) {
            /// The customer who asked.
            customer: CustomerRef,
        },
        /// Nothing in the log shows the customer speaking on this channel since staff last
        /// contacted them, so a confirmation or dispute staff report would be silence with
        /// a nicer label (S2, I2).
        #[error(
            "the customer has not answered by {channel} since {}; record their reply or the conversation \
             before reporting what they said",
            rfc3339(since)
        )]
        CustomerNotHeard = ("customer_not_heard", Conflict) {
            /// The channel the report names.
            channel: Channel,
            /// The last contact (or the opening), since when the customer is silent there.
            since: OffsetDateTime,
        },
        /// A conversation is live: on the phone, in person or in a chat.
        #[error("a conversation is held by phone, in person or in a chat, not by {channel}")]
        NotALiveChannel = ("not_a_live_channel", Invalid) {
            /// The channel given.
            channel: Channel,
        },
        /// An override named a policy the rules do not hold (S8).
        #[error("cannot override {policy}: no policy of that name is configured")]
        UnknownPolicy = ("unknown_policy", Invalid) {
            /// The name given.
            policy: String,
        },
        /// An override named a policy that does not declare itself overridable (S8).
        #[error("cannot override policy {policy}: it is not overridable")]
        NotOverridable = ("not_overridable", NotAllowed) {
            /// The policy.
            policy: String,
        },
        /// An override named an invariant or the outcome gate, which are never overridden (S8).
        #[error(
            "cannot override {rule}: it is invariant {invariant}; invariants and the outcome gate are never overridden"
        )]
        InvariantNotOverridable = ("invariant_not_overridable", NotAllowed) {
            /// The name given.
            rule: String,
            /// The invariant it stands for ("I2 (outcome before resolution)").
            invariant: &'static str,
        },
        /// The host does not empower this person to override this policy (S8).
        #[error("{by} may not override policy {policy}: the host's directory does not empower them to")]
        NotEmpoweredToOverride = ("not_empowered_to_override", NotAllowed) {
            /// Who asked.
            by: Actor,
            /// The policy.
            policy: String,
        },
        /// An override's reason is too short to tell a manager anything (S8).
        #[error("an override needs a reason of at least {min} characters; {actual} given")]
        OverrideReasonTooShort = ("override_reason_too_short", Invalid) {
            /// The fewest characters allowed.
            min: usize,
            /// The characters given, surrounding space not counted.
            actual: usize,
        },
        /// The policy an override names does not refuse the command: there is nothing to
        /// override, and recording one would mislead the metrics (S8).
        #[error("policy {policy} does not refuse this command; there is nothing to override")]
        NothingToOverride = ("nothing_to_override", Conflict) {
            /// The policy.
            policy: String,
        },
    }
    /// What kind of failure this is, for a host choosing a transport status (see
    /// [`ErrorCategory`](crate::error::ErrorCategory)): who asks may not
    /// ([`NotAllowed`](crate::error::ErrorCategory::NotAllowed)), the case's state does not admit
    /// it now ([`Conflict`](crate::error::ErrorCategory::Conflict)), the command itself is
    /// unsound ([`Invalid`](crate::error::ErrorCategory::Invalid)), or it names a work item the
    /// case does not have ([`NotFound`](crate::error::ErrorCategory::NotFound)).
    fn category;
}

fn join(items: &[WorkItemId]) -> String {
    items.iter().map(WorkItemId::as_str).collect::<Vec<_>>().join(", ")
}

//! Error messages are part of the contract: a support engineer reads them in a host's
//! log, and hosts may match on them. Every variant's `Display` is pinned here word for
//! word; changing one is a visible, deliberate change. A check against each type's
//! generated `CODES` list makes sure a new variant cannot arrive without its line here.
//!
//! Codes and categories are part of the contract too: hosts map them to transport statuses
//! and clients branch on them. Every variant's code and category is pinned here, in the
//! same declaration-order check, and so is the JSON shape of a report.
//!
//! Also: every public type is `Send + Sync`, so hosts can share rules, cases and errors
//! across threads.

use crate::support::ana;
use caseledger::error::ErrorCategory::{
    self, Conflict, Corrupt, Invalid, NotAllowed, NotFound, PreconditionFailed, Unavailable,
};
use caseledger::{
    codec::decode_log,
    error::{
        ConfigError, DecodeError, ErrorCode, ErrorReport, HeaderError, KeyError, Location, LogError, RequestError,
        StoreError,
    },
    event::{Channel, Ending},
    id::EventId,
    Actor, CaseId, Error, IdempotencyKey, Refusal, Status,
};
use serde_json::json;
use time::macros::datetime;

fn case_id(n: u64) -> CaseId {
    CaseId::from_uuid(uuid::Uuid::from_u64_pair(0x0190_f5a3_7c1e_7a00, 0x8000_0000_0000_0000 | n))
}

fn refusals() -> Vec<(Refusal, &'static str)> {
    vec![
        (
            Refusal::NotOwner { action: "resolve the case", owner: ana(), by: Actor::staff("bo", "hardware") },
            "only the owner, ana (software), may resolve the case; bo (hardware) asked",
        ),
        (
            Refusal::StaffOnly { action: "contact the customer", by: crate::support::customer() },
            "only staff may contact the customer; the customer asked",
        ),
        (
            Refusal::NotYourDepartment { item: "HW-2".into(), department: "hardware".into(), by: Actor::Staff(ana()) },
            "work item HW-2 belongs to hardware; ana (software) is neither in hardware nor the case's owner",
        ),
        (
            Refusal::NotAMember { staff: "ana".into(), department: "billing".into() },
            "the host's directory does not list ana as a member of billing",
        ),
        (
            Refusal::ConfirmationNotFromCustomer { by: Actor::System },
            "only the customer, or staff reporting the customer's own words, can speak for the customer \
             (reply, confirm or dispute the outcome); the system tried",
        ),
        (
            Refusal::CaseClosed { status: Status::ClosedUnresolved { ending: Ending::Withdrawn } },
            "the case is closed (closed unresolved: withdrawn); only a reopen with a reason is accepted",
        ),
        (Refusal::NotClosed, "the case is open; only a closed case can be reopened"),
        (
            Refusal::OutcomeUnmet { outcome: "my laptop works".into() },
            "cannot resolve: the customer has not confirmed their outcome \"my laptop works\"",
        ),
        (
            Refusal::WorkStillOpen { items: vec!["HW-2".into(), "PARTS-3".into()] },
            "cannot end the case: work still open: HW-2, PARTS-3",
        ),
        (Refusal::EmptyText { field: "handoff note" }, "the handoff note must not be empty"),
        (
            Refusal::ControlCharacter { field: "handoff note", character: '\u{0}', offset: 12 },
            "the handoff note holds the control character U+0000 at byte 12; \
             only tab, line feed and carriage return are allowed",
        ),
        (
            Refusal::ControlCharacter { field: "staff id", character: '\u{85}', offset: 0 },
            "the staff id holds the control character U+0085 at byte 0; \
             only tab, line feed and carriage return are allowed",
        ),
        (Refusal::ReceiverIsOwner { owner: ana() }, "ana (software) already owns the case; name a different receiver"),
        (Refusal::UnknownWorkItem { item: "SW-9".into() }, "no work item SW-9 on this case"),
        (Refusal::WorkItemClosed { item: "SW-1".into() }, "work item SW-1 is already closed"),
        (Refusal::DuplicateWorkItem { item: "SW-1".into() }, "work item SW-1 already exists on this case"),
        (
            Refusal::TimeBeforeLastEvent {
                at: datetime!(2026-11-23 08:59:30 UTC),
                last: datetime!(2026-11-23 09:00:00.25 UTC),
            },
            "the time 2026-11-23T08:59:30Z is before the case's last event at 2026-11-23T09:00:00.25Z; \
             history does not go backwards",
        ),
        (
            Refusal::TimeNotWritable { at: datetime!(-0001-06-01 00:00 UTC) },
            "the time -0001-06-01 0:00:00.0 +00:00:00 cannot be recorded: \
             a log holds times from the year 0000 to 9999 (UTC)",
        ),
        (
            Refusal::ChannelUnreachable { channel: Channel::Web, note: "no internet since the fire".into() },
            "the customer cannot be reached by web: no internet since the fire",
        ),
        (
            Refusal::NoContactAttempts,
            "cannot close as unreachable: no contact attempt recorded since the customer last replied",
        ),
        (Refusal::DuplicateOfItself, "a case cannot be closed as a duplicate of itself"),
        (Refusal::AlreadyLinked { incident: "fire-0612".into() }, "the case is already linked to incident fire-0612"),
        (Refusal::EscalationLevel { expected: 2, found: 3 }, "escalation to level 3 where level 2 was next"),
        (Refusal::AlreadyOpened, "the case is already open; it is opened only once"),
        (
            Refusal::LimitExceeded { what: "bytes in the handoff note", max: 65_536, actual: 70_000 },
            "limit exceeded: bytes in the handoff note would be 70000, the cap is 65536",
        ),
        (
            Refusal::LimitExceeded { what: "work items on a case", max: 1_000, actual: 1_001 },
            "limit exceeded: work items on a case would be 1001, the cap is 1000",
        ),
        (
            Refusal::KeyReused { key: caseledger::IdempotencyKey::new("req-7f3a").unwrap(), first: 4, last: 4 },
            "the idempotency key req-7f3a was already used for another command (events 4 to 4); \
             a new command needs a new key",
        ),
        (
            Refusal::Policy { policy: "bounce_limit".into(), reason: "3 bounces already; the limit is 2".into() },
            "refused by policy bounce_limit: 3 bounces already; the limit is 2",
        ),
        (
            Refusal::NotTheCustomer { by: Actor::staff("ana", "software") },
            "ana (software) is not the customer: staff report what the customer said with the channel they used \
             and their words (report_confirmation, report_dispute)",
        ),
        (Refusal::OtherCustomer { customer: "cust-8".into() }, "customer cust-8 is not this case's customer"),
        (
            Refusal::CustomerNotHeard { channel: Channel::Email, since: datetime!(2026-11-23 09:00 UTC) },
            "the customer has not answered by email since 2026-11-23T09:00:00Z; record their reply or the \
             conversation before reporting what they said",
        ),
        (
            Refusal::NotALiveChannel { channel: Channel::Letter },
            "a conversation is held by phone, in person or in a chat, not by letter",
        ),
        (
            Refusal::UnknownPolicy { policy: "be_nice".into() },
            "cannot override be_nice: no policy of that name is configured",
        ),
        (
            Refusal::NotOverridable { policy: "billing_never_closes".into() },
            "cannot override policy billing_never_closes: it is not overridable",
        ),
        (
            Refusal::InvariantNotOverridable {
                rule: "outcome_gate".into(),
                invariant: "I2 (outcome before resolution)",
            },
            "cannot override outcome_gate: it is invariant I2 (outcome before resolution); \
             invariants and the outcome gate are never overridden",
        ),
        (
            Refusal::NotEmpoweredToOverride { by: Actor::staff("bo", "hardware"), policy: "bounce_limit".into() },
            "bo (hardware) may not override policy bounce_limit: the host's directory does not empower them to",
        ),
        (
            Refusal::OverrideReasonTooShort { min: 20, actual: 2 },
            "an override needs a reason of at least 20 characters; 2 given",
        ),
        (
            Refusal::NothingToOverride { policy: "one_voice".into() },
            "policy one_voice does not refuse this command; there is nothing to override",
        ),
    ]
}

fn log_errors() -> Vec<(LogError, &'static str)> {
    let id = EventId::from_uuid(uuid::Uuid::from_u64_pair(0x0190_f5a3_7c1e_7a00, 0x8000_0000_0000_00ff));
    vec![
        (LogError::Empty, "the log is empty; a case starts with an `opened` event"),
        (
            LogError::NotOpenedFirst { seq: 1, kind: "note_added" },
            "event 1: a log must start with `opened`, found `note_added`",
        ),
        (LogError::SequenceGap { expected: 4, found: 6 }, "event 6: sequence number 4 was expected next"),
        (
            LogError::ForeignCase { seq: 5, expected: case_id(1), found: case_id(2) },
            "event 5: belongs to case 0190f5a3-7c1e-7a00-8000-000000000002, \
             not to case 0190f5a3-7c1e-7a00-8000-000000000001",
        ),
        (
            LogError::TimeWentBackwards {
                seq: 7,
                at: datetime!(2026-11-23 08:00 UTC),
                previous: datetime!(2026-11-23 09:00 UTC),
            },
            "event 7: time 2026-11-23T08:00:00Z is before the previous event's 2026-11-23T09:00:00Z",
        ),
        (
            LogError::ClockAdjustment {
                seq: 4,
                given: datetime!(2026-11-23 09:00:02 UTC),
                at: datetime!(2026-11-23 09:00:01.5 UTC),
            },
            "event 4: says the host's time 2026-11-23T09:00:02Z was moved forward to 2026-11-23T09:00:01.5Z, \
             but a time is only ever moved forward to the previous event's time",
        ),
        (
            LogError::DuplicateEventId { seq: 9, id, first: 3 },
            "event 9: id 0190f5a3-7c1e-7a00-8000-0000000000ff was already used by event 3",
        ),
        (
            LogError::UnsupportedSchema { seq: 2, schema: 3 },
            "event 2: schema version 3 cannot be folded; this version of caseledger folds schema 2",
        ),
        (
            LogError::Broken { seq: 8, refusal: Refusal::OutcomeUnmet { outcome: "my laptop works".into() } },
            "event 8 breaks a rule: cannot resolve: the customer has not confirmed their outcome \"my laptop works\"",
        ),
    ]
}

fn decode_errors() -> Vec<(DecodeError, &'static str)> {
    vec![
        (DecodeError::Truncated { line: 12 }, "line 12: the JSON ends early (truncated?)"),
        (
            DecodeError::Syntax { line: 3, column: 2, message: "key must be a string".into() },
            "line 3, column 2: not valid JSON: key must be a string",
        ),
        (
            DecodeError::NotAnEvent { line: 4, message: "missing field `seq`".into() },
            "line 4: not an event: missing field `seq`",
        ),
        (
            DecodeError::UnsupportedSchema { line: 5, found: 3, supported: 2 },
            "line 5: schema version 3 is not supported (this crate reads up to 2)",
        ),
        (
            DecodeError::LineTooLong { line: 6, bytes: 2_000_000, max: 1_048_576 },
            "line 6: 2000000 bytes is over the limit of 1048576 bytes for one event; the line was not read",
        ),
        (
            DecodeError::TooManyEvents { line: 1_000_001, max: 1_000_000 },
            "line 1000001: the log holds more than 1000000 events, the limit for one case",
        ),
    ]
}

fn store_errors() -> Vec<(StoreError, &'static str)> {
    let id = EventId::from_uuid(uuid::Uuid::from_u64_pair(0x0190_f5a3_7c1e_7a00, 0x8000_0000_0000_00ff));
    vec![
        (
            StoreError::Conflict { case: case_id(1), expected: 3, actual: 5 },
            "case 0190f5a3-7c1e-7a00-8000-000000000001: expected version 3, but the store is at version 5 \
             (another writer appended first)",
        ),
        (
            StoreError::ChangedRetry { case: case_id(1), seq: 4, id },
            "case 0190f5a3-7c1e-7a00-8000-000000000001: event 0190f5a3-7c1e-7a00-8000-0000000000ff \
             is already stored as event 4 with different content",
        ),
        (
            StoreError::Rejected {
                case: case_id(1),
                source: Box::new(LogError::SequenceGap { expected: 4, found: 6 }),
            },
            "case 0190f5a3-7c1e-7a00-8000-000000000001: the batch does not continue the log: \
             event 6: sequence number 4 was expected next",
        ),
        (StoreError::UnknownCase { case: case_id(2) }, "case 0190f5a3-7c1e-7a00-8000-000000000002 is not in the store"),
        (
            StoreError::Io {
                path: "cases/0190.jsonl".into(),
                op: "append",
                source: std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left on device"),
            },
            "cases/0190.jsonl: append failed: no space left on device",
        ),
        (StoreError::backend("connection reset by peer"), "the store's backend failed: connection reset by peer"),
        (
            StoreError::Corrupt {
                location: Location::file_line("cases/0190.jsonl", 2),
                source: DecodeError::Truncated { line: 2 },
            },
            "cases/0190.jsonl: line 2: the JSON ends early (truncated?)",
        ),
        (
            StoreError::Corrupt {
                location: Location::file_line("cases/0190.jsonl", 2).with_bytes(97..140),
                source: DecodeError::Truncated { line: 2 },
            },
            "cases/0190.jsonl (bytes 97..140): line 2: the JSON ends early (truncated?)",
        ),
        (
            StoreError::Corrupt {
                location: Location::row("caseledger_events", case_id(1), 3),
                source: DecodeError::Truncated { line: 1 },
            },
            "caseledger_events row (case 0190f5a3-7c1e-7a00-8000-000000000001, event 3): \
             line 1: the JSON ends early (truncated?)",
        ),
        (
            StoreError::Inconsistent {
                location: Location::file_line("cases/0190.jsonl", 3),
                source: Box::new(LogError::SequenceGap { expected: 3, found: 4 }),
            },
            "cases/0190.jsonl, line 3: event 4: sequence number 3 was expected next",
        ),
        (
            StoreError::Inconsistent {
                location: Location::row("caseledger_events", case_id(1), 3),
                source: Box::new(LogError::SequenceGap { expected: 3, found: 4 }),
            },
            "caseledger_events row (case 0190f5a3-7c1e-7a00-8000-000000000001, event 3): \
             event 4: sequence number 3 was expected next",
        ),
        (
            StoreError::Checksum {
                location: Location::file_line("cases/0190.jsonl", 2),
                stored: Some(0x1c2e_9a07),
                computed: 0xe306_9283,
            },
            "cases/0190.jsonl, line 2: checksum mismatch: the line says crc32c 1c2e9a07, its bytes give e3069283 \
             (the line was changed after it was written)",
        ),
        (
            StoreError::Checksum {
                location: Location::file_line("cases/0190.jsonl", 2),
                stored: None,
                computed: 0xe306_9283,
            },
            "cases/0190.jsonl, line 2: the line carries no checksum and is not a line written before checksums \
             (it was changed after it was written)",
        ),
        (
            StoreError::Locked { dir: "cases".into() },
            "cases: the directory is in use by another FileStore (in this or another process); \
             open one store per directory and share it",
        ),
        (
            StoreError::Quarantined {
                case: case_id(1),
                location: Location::file_line("cases/0190.jsonl", 2).with_bytes(310..642),
            },
            "case 0190f5a3-7c1e-7a00-8000-000000000001 is quarantined: cases/0190.jsonl, line 2 (bytes 310..642) \
             is damaged; repair the file and reopen the store",
        ),
        (
            StoreError::Unterminated { location: Location::file_line("cases/0190.jsonl", 3) },
            "cases/0190.jsonl, line 3: a whole event line is followed by other bytes instead of its newline \
             (the line was changed after it was written)",
        ),
        (
            StoreError::TooLarge { case: case_id(1), seq: 4, bytes: 2_000_000, max: 1_048_576 },
            "case 0190f5a3-7c1e-7a00-8000-000000000001: event 4 is 2000000 bytes as a line, over the store's \
             limit of 1048576; nothing was written",
        ),
    ]
}

fn key_errors() -> Vec<(KeyError, &'static str)> {
    vec![
        (KeyError::Empty, "an idempotency key must not be empty"),
        (KeyError::TooLong { bytes: 300, max: 255 }, "an idempotency key holds at most 255 bytes; this one holds 300"),
        (
            KeyError::ControlCharacter { character: '\n', offset: 3 },
            "an idempotency key may not hold control characters; found U+000A at byte 3",
        ),
    ]
}

fn request_errors() -> Vec<(RequestError, &'static str)> {
    vec![(
        RequestError::PreconditionFailed { case: case_id(1), expected: 3, actual: 5 },
        "case 0190f5a3-7c1e-7a00-8000-000000000001: the request was made at version 3, but the case is at version 5 \
         (look at the case again before asking)",
    )]
}

fn header_errors() -> Vec<(HeaderError, &'static str)> {
    vec![
        (
            HeaderError::IfMatch { value: r#""3", "4""#.into() },
            r#"If-Match must name one case version, as the ETag gave it ("3"); got "3", "4""#,
        ),
        (
            HeaderError::NotText { header: "Idempotency-Key".into() },
            "the Idempotency-Key header must be visible ASCII text",
        ),
    ]
}

fn config_errors() -> Vec<(ConfigError, &'static str)> {
    vec![
        (
            ConfigError::Json { line: 2, column: 14, message: "unknown field `max_bounce`".into() },
            "policy set, line 2, column 14: unknown field `max_bounce`",
        ),
        (
            ConfigError::Invalid { policy: "bounce_limit", field: "max_bounces", problem: "must be at least 1".into() },
            "policy bounce_limit: max_bounces must be at least 1",
        ),
    ]
}

// --- Codes and categories --------------------------------------------------------------

/// Every variant's code and category, in declaration order. A code never changes once
/// released; add a line here for every new variant.
const REFUSAL_CODES: &[(&str, &str, ErrorCategory)] = &[
    ("NotOwner", "not_owner", NotAllowed),
    ("StaffOnly", "staff_only", NotAllowed),
    ("NotYourDepartment", "not_your_department", NotAllowed),
    ("NotAMember", "not_a_member", NotAllowed),
    ("ConfirmationNotFromCustomer", "confirmation_not_from_customer", NotAllowed),
    ("CaseClosed", "case_closed", Conflict),
    ("NotClosed", "not_closed", Conflict),
    ("OutcomeUnmet", "outcome_unmet", Conflict),
    ("WorkStillOpen", "work_still_open", Conflict),
    ("EmptyText", "empty_text", Invalid),
    ("ControlCharacter", "control_character", Invalid),
    ("ReceiverIsOwner", "receiver_is_owner", Invalid),
    ("UnknownWorkItem", "unknown_work_item", NotFound),
    ("WorkItemClosed", "work_item_closed", Conflict),
    ("DuplicateWorkItem", "duplicate_work_item", Conflict),
    ("TimeBeforeLastEvent", "time_before_last_event", Conflict),
    ("TimeNotWritable", "time_not_writable", Invalid),
    ("ChannelUnreachable", "channel_unreachable", Conflict),
    ("NoContactAttempts", "no_contact_attempts", Conflict),
    ("DuplicateOfItself", "duplicate_of_itself", Invalid),
    ("AlreadyLinked", "already_linked", Conflict),
    ("EscalationLevel", "escalation_level", Invalid),
    ("AlreadyOpened", "already_opened", Conflict),
    ("LimitExceeded", "limit_exceeded", Invalid),
    ("KeyReused", "key_reused", Invalid),
    ("Policy", "policy", NotAllowed),
    ("NotTheCustomer", "not_the_customer", NotAllowed),
    ("OtherCustomer", "other_customer", NotAllowed),
    ("CustomerNotHeard", "customer_not_heard", Conflict),
    ("NotALiveChannel", "not_a_live_channel", Invalid),
    ("UnknownPolicy", "unknown_policy", Invalid),
    ("NotOverridable", "not_overridable", NotAllowed),
    ("InvariantNotOverridable", "invariant_not_overridable", NotAllowed),
    ("NotEmpoweredToOverride", "not_empowered_to_override", NotAllowed),
    ("OverrideReasonTooShort", "override_reason_too_short", Invalid),
    ("NothingToOverride", "nothing_to_override", Conflict),
];

const LOG_ERROR_CODES: &[(&str, &str, ErrorCategory)] = &[
    ("Empty", "empty_log", Corrupt),
    ("NotOpenedFirst", "not_opened_first", Corrupt),
    ("SequenceGap", "sequence_gap", Corrupt),
    ("ForeignCase", "foreign_case", Corrupt),
    ("TimeWentBackwards", "time_went_backwards", Corrupt),
    ("ClockAdjustment", "clock_adjustment", Corrupt),
    ("DuplicateEventId", "duplicate_event_id", Corrupt),
    ("UnsupportedSchema", "schema_not_folded", Corrupt),
    ("Broken", "broken_rule", Corrupt),
];

const DECODE_ERROR_CODES: &[(&str, &str, ErrorCategory)] = &[
    ("Truncated", "truncated", Invalid),
    ("Syntax", "json_syntax", Invalid),
    ("NotAnEvent", "not_an_event", Invalid),
    ("UnsupportedSchema", "unsupported_schema", Invalid),
    ("LineTooLong", "line_too_long", Invalid),
    ("TooManyEvents", "too_many_events", Invalid),
];

const STORE_ERROR_CODES: &[(&str, &str, ErrorCategory)] = &[
    ("Conflict", "conflict", Conflict),
    ("ChangedRetry", "changed_retry", Invalid),
    ("Rejected", "batch_rejected", Invalid),
    ("UnknownCase", "unknown_case", NotFound),
    ("Io", "io", Unavailable),
    ("Backend", "backend", Unavailable),
    ("Corrupt", "corrupt_line", Corrupt),
    ("Inconsistent", "inconsistent_line", Corrupt),
    ("Checksum", "checksum_mismatch", Corrupt),
    ("Locked", "store_locked", Unavailable),
    ("Quarantined", "case_quarantined", Corrupt),
    ("Unterminated", "unterminated_line", Corrupt),
    ("TooLarge", "line_too_large", Invalid),
];

const KEY_ERROR_CODES: &[(&str, &str, ErrorCategory)] = &[
    ("Empty", "key_empty", Invalid),
    ("TooLong", "key_too_long", Invalid),
    ("ControlCharacter", "key_control_character", Invalid),
];

const REQUEST_ERROR_CODES: &[(&str, &str, ErrorCategory)] =
    &[("PreconditionFailed", "precondition_failed", PreconditionFailed)];
const HEADER_ERROR_CODES: &[(&str, &str, ErrorCategory)] =
    &[("IfMatch", "invalid_if_match", Invalid), ("NotText", "header_not_text", Invalid)];

const CONFIG_ERROR_CODES: &[(&str, &str, ErrorCategory)] =
    &[("Json", "config_unreadable", Invalid), ("Invalid", "config_value_invalid", Invalid)];

/// What every error type offers, so one check covers them all.
trait Coded: std::fmt::Display + std::fmt::Debug + serde::Serialize {
    const CODES: &'static [ErrorCode];
    fn code(&self) -> &'static str;
    fn category(&self) -> ErrorCategory;
    fn report(&self) -> ErrorReport;
    fn wrapped(self) -> Error;
}

macro_rules! coded {
    ($($t:ty),*) => {$(
        impl Coded for $t {
            const CODES: &'static [ErrorCode] = <$t>::CODES;
            fn code(&self) -> &'static str { <$t>::code(self) }
            fn category(&self) -> ErrorCategory { <$t>::category(self) }
            fn report(&self) -> ErrorReport { <$t>::report(self) }
            fn wrapped(self) -> Error { Error::from(self) }
        }
    )*};
}
coded!(Refusal, LogError, DecodeError, StoreError, ConfigError, KeyError, RequestError, HeaderError);

fn check_codes<E: Coded>(name: &str, table: &[(&str, &str, ErrorCategory)], cases: Vec<(E, &str)>) {
    let generated: Vec<(&str, &str, ErrorCategory)> =
        E::CODES.iter().map(|row| (row.variant, row.code, row.category)).collect();
    assert_eq!(generated, table, "every {name} variant has its code pinned here, in declaration order");
    assert!(E::CODES.iter().all(|row| row.error == name), "{name}'s rows name their type");
    for (error, _) in cases {
        let name = variant(format!("{error:?}"));
        let (_, code, category) = table.iter().find(|(v, ..)| *v == name).unwrap();
        assert_eq!((error.code(), error.category()), (*code, *category), "{error:?}");
        assert_eq!(error.report().code, *code, "{error:?}");
        // The serialized form is tagged with the same code, so the two cannot drift.
        assert_eq!(serde_json::to_value(&error).unwrap()["code"], *code, "{error:?}");
        let wrapped = error.wrapped();
        assert_eq!((wrapped.code(), wrapped.category()), (*code, *category), "the umbrella delegates: {wrapped:?}");
    }
}

#[test]
fn every_error_variant_has_its_code_and_category_pinned() {
    check_codes("Refusal", REFUSAL_CODES, refusals());
    check_codes("LogError", LOG_ERROR_CODES, log_errors());
    check_codes("DecodeError", DECODE_ERROR_CODES, decode_errors());
    check_codes("StoreError", STORE_ERROR_CODES, store_errors());
    check_codes("ConfigError", CONFIG_ERROR_CODES, config_errors());
    check_codes("KeyError", KEY_ERROR_CODES, key_errors());
    check_codes("RequestError", REQUEST_ERROR_CODES, request_errors());
    check_codes("HeaderError", HEADER_ERROR_CODES, header_errors());
}

/// `Error::code` names the error alone, so codes are unique across every error type,
/// not only within one, and all are snake_case.
#[test]
fn codes_are_unique_snake_case() {
    let tables = [
        REFUSAL_CODES,
        LOG_ERROR_CODES,
        DECODE_ERROR_CODES,
        CONFIG_ERROR_CODES,
        STORE_ERROR_CODES,
        KEY_ERROR_CODES,
        REQUEST_ERROR_CODES,
        HEADER_ERROR_CODES,
    ];
    // The umbrella's list is every table's, nothing more.
    let all: Vec<(&str, ErrorCategory)> = Error::codes().map(|row| (row.code, row.category)).collect();
    let pinned: Vec<(&str, ErrorCategory)> = tables.iter().flat_map(|t| t.iter()).map(|(_, c, k)| (*c, *k)).collect();
    assert_eq!(all, pinned);
    let mut seen = std::collections::BTreeMap::new();
    for (variant, code, _) in tables.iter().flat_map(|t| t.iter()) {
        let snake = code.split('_').all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
            && code.starts_with(|c: char| c.is_ascii_lowercase());
        assert!(snake, "{variant}: code {code:?} is not snake_case");
        if let Some(first) = seen.insert(*code, *variant) {
            panic!("code {code:?} is used by both {first} and {variant}");
        }
    }
}

#[test]
fn categories_map_to_the_documented_http_statuses() {
    let table = [
        (NotAllowed, "not_allowed", 403),
        (Conflict, "conflict", 409),
        (PreconditionFailed, "precondition_failed", 412),
        (Invalid, "invalid", 422),
        (NotFound, "not_found", 404),
        (Unavailable, "unavailable", 503),
        (Corrupt, "corrupt", 500),
    ];
    for (category, name, status) in table {
        assert_eq!((category.as_str(), category.to_string(), category.http_status()), (name, name.to_owned(), status));
        assert_eq!(serde_json::to_value(category).unwrap(), json!(name));
        assert_eq!(serde_json::from_value::<ErrorCategory>(json!(name)).unwrap(), category);
    }
}

// --- Reports ---------------------------------------------------------------------------

fn check_reports<E: Coded>(cases: Vec<(E, &str)>) {
    for (error, message) in cases {
        let body = serde_json::to_value(error.report()).unwrap();
        let object = body.as_object().unwrap();
        let keys: std::collections::BTreeSet<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(keys, ["category", "code", "details", "message"].into(), "{error:?}");
        assert_eq!(body["code"], error.code());
        assert_eq!(body["category"], error.category().as_str());
        assert_eq!(body["message"], message);
        assert!(body["details"].is_object() && body["details"].get("code").is_none(), "{body}");
        let back: ErrorReport = serde_json::from_value(body).unwrap();
        assert_eq!(back, error.report(), "a report reads back as it was written");
        assert_eq!(error.wrapped().report(), back);
    }
}

#[test]
fn every_error_reports_code_category_message_and_details() {
    check_reports(refusals());
    check_reports(log_errors());
    check_reports(decode_errors());
    check_reports(store_errors());
    check_reports(config_errors());
    check_reports(key_errors());
    check_reports(request_errors());
    check_reports(header_errors());
}

#[test]
fn a_report_carries_the_variants_fields_by_name() {
    let report = |e: Error| serde_json::to_value(e.report()).unwrap();
    assert_eq!(
        report(
            Refusal::Policy { policy: "bounce_limit".into(), reason: "3 bounces already; the limit is 2".into() }
                .into()
        ),
        json!({
            "code": "policy",
            "category": "not_allowed",
            "message": "refused by policy bounce_limit: 3 bounces already; the limit is 2",
            "details": { "policy": "bounce_limit", "reason": "3 bounces already; the limit is 2" },
        })
    );
    assert_eq!(
        report(StoreError::Conflict { case: case_id(1), expected: 3, actual: 5 }.into())["details"],
        json!({ "case": "0190f5a3-7c1e-7a00-8000-000000000001", "expected": 3, "actual": 5 })
    );
    assert_eq!(report(Refusal::NotClosed.into())["details"], json!({}));
    assert_eq!(
        report(Refusal::ControlCharacter { field: "handoff note", character: '\u{0}', offset: 12 }.into())["details"],
        json!({ "field": "handoff note", "character": "\u{0}", "offset": 12 })
    );
    // A wrapped error of this crate keeps its own code, so a host can tell which rule a
    // broken log breaks.
    assert_eq!(
        report(
            LogError::Broken { seq: 8, refusal: Refusal::OutcomeUnmet { outcome: "my laptop works".into() } }.into()
        )["details"],
        json!({ "seq": 8, "refusal": { "code": "outcome_unmet", "outcome": "my laptop works" } })
    );
    assert_eq!(
        report(
            StoreError::Corrupt {
                location: Location::file_line("c.jsonl", 2),
                source: DecodeError::Truncated { line: 2 }
            }
            .into()
        )["details"],
        json!({ "path": "c.jsonl", "line": 2, "source": { "code": "truncated", "line": 2 } })
    );
    // A store's location sits beside the error's own fields: a file's line as ever, its
    // bytes when the store knows them, a database's row by case and sequence number.
    assert_eq!(
        report(
            StoreError::Checksum {
                location: Location::file_line("c.jsonl", 2).with_bytes(97..140),
                stored: None,
                computed: 7
            }
            .into()
        )["details"],
        json!({ "path": "c.jsonl", "line": 2, "bytes": { "start": 97, "end": 140 }, "stored": null, "computed": 7 })
    );
    assert_eq!(
        report(
            StoreError::Inconsistent {
                location: Location::row("caseledger_events", case_id(1), 3),
                source: Box::new(LogError::SequenceGap { expected: 3, found: 4 }),
            }
            .into()
        )["details"],
        json!({
            "table": "caseledger_events",
            "case": "0190f5a3-7c1e-7a00-8000-000000000001",
            "seq": 3,
            "source": { "code": "sequence_gap", "expected": 3, "found": 4 },
        })
    );
    assert_eq!(
        report(StoreError::Quarantined { case: case_id(1), location: Location::file_line("c.jsonl", 2) }.into())
            ["details"],
        json!({ "case": "0190f5a3-7c1e-7a00-8000-000000000001", "path": "c.jsonl", "line": 2 })
    );
    assert_eq!(
        report(Refusal::NotOwner { action: "resolve the case", owner: ana(), by: crate::support::customer() }.into())
            ["details"],
        json!({
            "action": "resolve the case",
            "owner": { "id": "ana", "department": "software" },
            "by": { "type": "customer", "id": "cust-1042" },
        })
    );
}

/// Times as in messages, even one RFC 3339 cannot hold; foreign sources and paths that
/// are not UTF-8 as text. None of them makes a report fail.
#[test]
fn awkward_fields_become_text_rather_than_fail() {
    let details = |e: Error| e.report().details;
    let times = details(Refusal::TimeNotWritable { at: datetime!(-0001-06-01 00:00 UTC) }.into());
    assert_eq!(times["at"], "-0001-06-01 0:00:00.0 +00:00:00");
    let times = details(
        LogError::TimeWentBackwards {
            seq: 7,
            at: datetime!(2026-11-23 08:00 UTC),
            previous: datetime!(2026-11-23 09:00 UTC),
        }
        .into(),
    );
    assert_eq!((&times["at"], &times["previous"]), (&json!("2026-11-23T08:00:00Z"), &json!("2026-11-23T09:00:00Z")));
    let io = StoreError::Io {
        path: "cases/x.jsonl".into(),
        op: "sync",
        source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied"),
    };
    assert_eq!(
        details(io.into()),
        json!({ "path": "cases/x.jsonl", "op": "sync", "source": "permission denied" }).as_object().unwrap().clone()
    );
    let backend = StoreError::backend(std::io::Error::other("connection reset by peer"));
    assert_eq!(details(backend.into())["source"], "connection reset by peer");
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let path = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(b"cases/\xff.jsonl"));
        let io = StoreError::Io { path, op: "read", source: std::io::Error::other("gone") };
        assert_eq!(details(io.into())["path"], "cases/\u{fffd}.jsonl");
    }
}

/// The variant's name, as `Debug` writes it.
fn variant(debug: String) -> String {
    debug.split([' ', '{', '(']).next().unwrap().to_owned()
}

fn check<E: Coded>(name: &str, cases: Vec<(E, &str)>) {
    for (error, expected) in &cases {
        assert_eq!(error.to_string(), *expected, "{error:?}");
    }
    let mut tested: Vec<String> = cases.iter().map(|(e, _)| variant(format!("{e:?}"))).collect();
    tested.dedup();
    let declared: Vec<&str> = E::CODES.iter().map(|row| row.variant).collect();
    assert_eq!(tested, declared, "every {name} variant has its message pinned here, in declaration order");
}

#[test]
fn every_refusal_says_which_rule_was_broken() {
    check("Refusal", refusals());
}

#[test]
fn every_log_error_names_the_event() {
    check("LogError", log_errors());
}

#[test]
fn every_decode_error_names_the_line() {
    check("DecodeError", decode_errors());
}

#[test]
fn every_store_error_names_the_case_or_file() {
    check("StoreError", store_errors());
}

#[test]
fn every_config_error_names_the_place() {
    check("ConfigError", config_errors());
}

#[test]
fn the_umbrella_error_says_exactly_what_it_wraps() {
    for (refusal, text) in refusals() {
        assert_eq!(Error::from(refusal).to_string(), text);
    }
    for (error, text) in log_errors() {
        assert_eq!(Error::from(error).to_string(), text);
    }
    for (error, text) in decode_errors() {
        assert_eq!(Error::from(error).to_string(), text);
    }
    for (error, text) in store_errors() {
        assert_eq!(Error::from(error).to_string(), text);
    }
    for (error, text) in config_errors() {
        assert_eq!(Error::from(error).to_string(), text);
    }
}

/// The data in the messages is the data of the input, not a guess: line and column of
/// real decoding failures.
#[test]
fn decoding_reports_the_line_and_column_it_failed_at() {
    assert_eq!(decode_log("\n\n{x").unwrap_err().to_string(), "line 3, column 2: not valid JSON: key must be a string");
    assert_eq!(decode_log("{\"schema\":1,").unwrap_err().to_string(), "line 1: the JSON ends early (truncated?)");
    assert_eq!(decode_log("\n{\"schema\":1}").unwrap_err().to_string(), "line 2: not an event: missing field `case`");
    assert_eq!(
        decode_log("{\"schema\":7,\"what\":{\"type\":\"hologram\"}}").unwrap_err().to_string(),
        "line 1: schema version 7 is not supported (this crate reads up to 2)"
    );
}

/// `KeyError` is raised where keys are made (the id module), below the other errors; its
/// messages are pinned here all the same.
#[test]
fn every_key_error_says_what_is_wrong_with_the_key() {
    check("KeyError", key_errors());
    for (error, text) in key_errors() {
        assert_eq!(Error::from(error).to_string(), text);
    }
    assert_eq!(IdempotencyKey::new("req\n"), Err(KeyError::ControlCharacter { character: '\n', offset: 3 }));
}

#[test]
fn a_duplicate_ending_names_the_other_case() {
    let status = Status::ClosedUnresolved { ending: Ending::Duplicate { of: case_id(3) } };
    assert_eq!(
        Refusal::CaseClosed { status }.to_string(),
        "the case is closed (closed unresolved: duplicate of case 0190f5a3-7c1e-7a00-8000-000000000003); \
         only a reopen with a reason is accepted"
    );
}

// --- Send + Sync ---------------------------------------------------------------------

const fn send_sync<T: Send + Sync + ?Sized>() {}

/// Fails to compile if a public type stops being `Send + Sync`.
const _: () = {
    use caseledger::{
        case::{Acquisition, Counters, Fact, Moments, OutcomeState, Reachability, WorkItem, WorkState},
        command::Request,
        error::{ConfigError, DecodeError, ErrorCategory, ErrorReport, KeyError, LogError, StoreError},
        event::{Channel, Ending, Visibility, Voice},
        id::{CustomerRef, Department, EventId, IncidentId, StaffId, WorkItemId},
        metrics::{Durations, Endings, MetricsReport, PerCase, Reopens},
        policy::{
            Deadline, DeadlineKind, DeadlineState, DeadlineStatus, Deadlines, EscalationTrigger, EscalationTriggers,
            MayContact, ParseSpanError, PolicyConfig, Proposal, Span,
        },
        repository::{Execution, Lookup, PendingAppend, PendingRead, RepositoryCore, Step},
        rules::{Decision, Directory, Limits},
        store::{AppendCheck, AppendPlan, Appended, Batch, DamageReport, Quarantined, SetAside},
        timeline::{DepartmentView, Entry, View},
        *,
    };
    send_sync::<Actor>();
    send_sync::<Staff>();
    send_sync::<HandoffBrief>();
    send_sync::<html::Html>();
    send_sync::<Case>();
    send_sync::<Acquisition>();
    send_sync::<Moments>();
    send_sync::<Counters>();
    send_sync::<Fact>();
    send_sync::<OutcomeState>();
    send_sync::<Reachability>();
    send_sync::<Status>();
    send_sync::<WorkItem>();
    send_sync::<WorkState>();
    send_sync::<Command>();
    send_sync::<Request>();
    send_sync::<Decision>();
    send_sync::<IdempotencyKey>();
    send_sync::<KeyError>();
    send_sync::<Opening>();
    send_sync::<DecodeError>();
    send_sync::<Error>();
    send_sync::<ErrorCategory>();
    send_sync::<ErrorCode>();
    send_sync::<ErrorReport>();
    send_sync::<LogError>();
    send_sync::<Refusal>();
    send_sync::<Channel>();
    send_sync::<Ending>();
    send_sync::<Event>();
    send_sync::<EventKind>();
    send_sync::<Visibility>();
    send_sync::<Voice>();
    send_sync::<CaseId>();
    send_sync::<CustomerRef>();
    send_sync::<Department>();
    send_sync::<EventId>();
    send_sync::<IncidentId>();
    send_sync::<StaffId>();
    send_sync::<WorkItemId>();
    send_sync::<Ledger>();
    send_sync::<Metrics>();
    send_sync::<MetricsReport>();
    send_sync::<Endings>();
    send_sync::<Durations>();
    send_sync::<PerCase>();
    send_sync::<Reopens>();
    send_sync::<dyn Policy>();
    send_sync::<Proposal<'static>>();
    send_sync::<dyn Directory>();
    send_sync::<Limits>();
    send_sync::<Rules>();
    send_sync::<Entry>();
    send_sync::<DepartmentView<'static>>();
    send_sync::<Timeline>();
    send_sync::<View>();
    send_sync::<Deadline>();
    send_sync::<DeadlineKind>();
    send_sync::<DeadlineState>();
    send_sync::<DeadlineStatus>();
    send_sync::<Deadlines>();
    send_sync::<StoreError>();
    send_sync::<Location>();
    send_sync::<EscalationTrigger>();
    send_sync::<EscalationTriggers>();
    send_sync::<ConfigError>();
    send_sync::<MayContact>();
    send_sync::<PolicyConfig>();
    send_sync::<PolicySet>();
    send_sync::<Repository<MemoryStore>>();
    #[cfg(feature = "async")]
    send_sync::<AsyncRepository<MemoryStore>>();
    send_sync::<RepositoryCore>();
    send_sync::<CaseRequest>();
    send_sync::<Execution>();
    send_sync::<Lookup>();
    send_sync::<Step<Execution>>();
    send_sync::<PendingRead<Execution>>();
    send_sync::<PendingAppend<Lookup>>();
    send_sync::<Repository<FileStore>>();
    send_sync::<ParseSpanError>();
    send_sync::<Span>();
    send_sync::<Appended>();
    send_sync::<AppendCheck<'static>>();
    send_sync::<Batch<'static>>();
    send_sync::<AppendPlan<'static>>();
    send_sync::<FileStore>();
    send_sync::<MemoryStore>();
    send_sync::<SetAside>();
    send_sync::<Quarantined>();
    send_sync::<DamageReport<'static>>();
    send_sync::<dyn Store>();
};

/// The PostgreSQL store and its feed types: nodes share them across tasks.
#[cfg(feature = "postgres")]
const _: fn() = || {
    use caseledger::{
        store::{FeedEvent, FeedLag, FeedPage, FeedPosition, ParseFeedPositionError},
        PgStore,
    };
    fn send_sync<T: Send + Sync>() {}
    send_sync::<FeedEvent>();
    send_sync::<FeedLag>();
    send_sync::<FeedPage>();
    send_sync::<FeedPosition>();
    send_sync::<ParseFeedPositionError>();
    send_sync::<PgStore>();
};

/// `AsyncStore` is not dyn-compatible (its methods return `impl Future`): its supertraits
/// make every implementation `Send + Sync`, which this generic check pins.
#[allow(dead_code)]
fn machines_are_send_sync<S: caseledger::repository::Machine>() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<S>();
}

#[cfg(feature = "async")]
#[allow(dead_code)]
fn async_stores_are_send_sync<S: caseledger::AsyncStore>() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<S>();
}

/// The list above covers every type the crate root exports: a new public type must be
/// added there (and be `Send + Sync`).
#[test]
fn every_exported_type_is_checked_for_send_and_sync() {
    let lib = include_str!("../../src/lib.rs");
    let checked = include_str!("errors.rs");
    // Statements, not lines: rustfmt wraps long `pub use` lists.
    let exports = lib.split(';').filter_map(|s| s.split("pub use ").nth(1)).flat_map(|s| {
        let names = s.split_once('{').map_or(s.rsplit("::").next().unwrap(), |(_, n)| n);
        names.trim_end_matches('}').split(',').map(|n| n.trim().to_owned()).collect::<Vec<_>>()
    });
    let missing: Vec<String> = exports
        .filter(|n| n.starts_with(|c: char| c.is_ascii_uppercase()) && n.chars().any(|c| c.is_ascii_lowercase()))
        .filter(|n| {
            !checked.contains(&format!("send_sync::<{n}>()")) && !checked.contains(&format!("send_sync::<dyn {n}>()"))
        })
        // Generic types are checked at a concrete parameter: `Proposal<'static>`, `Repository<MemoryStore>`.
        .filter(|n| !checked.contains(&format!("send_sync::<{n}<")))
        // Traits that are not dyn-compatible are checked through a generic bound.
        .filter(|n| !checked.contains(&format!("<S: caseledger::{n}>() {{")))
        .collect();
    assert!(missing.is_empty(), "not checked for Send + Sync: {missing:?}");
}

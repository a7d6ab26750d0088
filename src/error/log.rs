//! [`LogError`]: why a log cannot be folded into a case.

use serde::Serialize;
use time::OffsetDateTime;

use super::refusal::Refusal;
use super::table::error_table;
use super::text::{rfc3339, time_as_text};
use crate::event::SCHEMA_VERSION;
use crate::id::{CaseId, EventId};

error_table! {
    /// Why a log cannot be folded into a case (I5, I6, I2). `seq` is the offending event's
    /// sequence number as written in the event.
    #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
    #[non_exhaustive]
    pub enum LogError {
        /// There are no events; a case starts with an `opened` event.
        #[error("the log is empty; a case starts with an `opened` event")]
        Empty = ("empty_log", Corrupt),
        /// The first event is not `opened`.
        #[error("event {seq}: a log must start with `opened`, found `{kind}`")]
        NotOpenedFirst = ("not_opened_first", Corrupt) {
            /// The first event's sequence number.
            seq: u64,
            /// Its kind tag.
            kind: &'static str,
        },
        /// Sequence numbers must run 1, 2, 3, … with no gap or repeat.
        #[error("event {found}: sequence number {expected} was expected next")]
        SequenceGap = ("sequence_gap", Corrupt) {
            /// The number the log needed.
            expected: u64,
            /// The number the event carries.
            found: u64,
        },
        /// An event of another case is in this case's log.
        #[error("event {seq}: belongs to case {found}, not to case {expected}")]
        ForeignCase = ("foreign_case", Corrupt) {
            /// The event's sequence number.
            seq: u64,
            /// This log's case.
            expected: CaseId,
            /// The case the event names.
            found: CaseId,
        },
        /// Time went backwards between two events.
        #[error("event {seq}: time {} is before the previous event's {}", rfc3339(at), rfc3339(previous))]
        TimeWentBackwards = ("time_went_backwards", Corrupt) {
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
        ClockAdjustment = ("clock_adjustment", Corrupt) {
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
        DuplicateEventId = ("duplicate_event_id", Corrupt) {
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
        UnsupportedSchema = ("schema_not_folded", Corrupt) {
            /// The event's sequence number.
            seq: u64,
            /// The schema version it carries.
            schema: u32,
        },
        /// The event breaks one of the case's rules (for instance `resolved` without the
        /// customer's confirmation, or anything but `reopened` after closure). Its code
        /// says only that a rule is broken; which rule is the refusal's own code, also in
        /// the report's details.
        #[error("event {seq} breaks a rule: {refusal}")]
        Broken = ("broken_rule", Corrupt) {
            /// The event's sequence number.
            seq: u64,
            /// The rule it breaks.
            refusal: Refusal,
        },
    }
    /// Always [`ErrorCategory::Corrupt`](crate::error::ErrorCategory::Corrupt): a host meets a
    /// broken log when it folds what it stored, and no retry or change of request repairs
    /// stored history. (A host that folds a log a client sent for import answers that
    /// client as it sees fit.)
    fn category;
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

//! [`DecodeError`]: why text could not be read as events.

use serde::Serialize;

use super::table::error_table;

error_table! {
    /// Why text could not be read as events. `line` counts from 1 (a single event is line 1).
    #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
    #[non_exhaustive]
    pub enum DecodeError {
        /// The JSON stops in the middle (a torn or truncated write).
        #[error("line {line}: the JSON ends early (truncated?)")]
        Truncated = ("truncated", Invalid) {
            /// The line.
            line: usize,
        },
        /// The text is not JSON.
        #[error("line {line}, column {column}: not valid JSON: {message}")]
        Syntax = ("json_syntax", Invalid) {
            /// The line.
            line: usize,
            /// The column within that line.
            column: usize,
            /// What the parser said.
            message: String,
        },
        /// Valid JSON, but not an event (missing field, unknown event kind, wrong type).
        #[error("line {line}: not an event: {message}")]
        NotAnEvent = ("not_an_event", Invalid) {
            /// The line.
            line: usize,
            /// What is wrong, as the parser said.
            message: String,
        },
        /// An event written with a schema version this crate cannot read.
        #[error("line {line}: schema version {found} is not supported (this crate reads up to {supported})")]
        UnsupportedSchema = ("unsupported_schema", Invalid) {
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
        LineTooLong = ("line_too_long", Invalid) {
            /// The line.
            line: usize,
            /// Its length in bytes.
            bytes: usize,
            /// The configured limit.
            max: usize,
        },
        /// The log holds more events than [`Limits::max_events`](crate::rules::Limits::max_events).
        #[error("line {line}: the log holds more than {max} events, the limit for one case")]
        TooManyEvents = ("too_many_events", Invalid) {
            /// The line of the first event over the limit.
            line: usize,
            /// The configured limit.
            max: u64,
        },
    }
    /// Always [`ErrorCategory::Invalid`](crate::error::ErrorCategory::Invalid): the text given is
    /// not a readable log. (Text read back from a store that does not decode is reported
    /// by the store as [`StoreError::Corrupt`](crate::error::StoreError::Corrupt), which is
    /// [`ErrorCategory::Corrupt`](crate::error::ErrorCategory::Corrupt).)
    fn category;
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

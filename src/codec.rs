//! The JSON Lines codec: events to and from text, one event per line.
//!
//! Decoding sits above the model: it reads [`Event`]s, upcasts older schemas and
//! reports undecodable input as a [`DecodeError`] with its line. Nothing here checks a
//! log's integrity; fold the result with [`Case::replay`](crate::Case::replay).
//!
//! # Older schemas
//!
//! Stored events are never rewritten on disk; they are upcast as they are read, one
//! event at a time, by a chain of steps (schema 0 → 1 → … →
//! [`SCHEMA_VERSION`]). Every reader goes through
//! [`decode_log`] or [`Event::from_json`], so every reader benefits.
//!
//! ## Schema 0 (pre-release)
//!
//! Schema 0 is the shape the prototype wrote before the first release. It differs from
//! schema 1 in exactly two ways; everything else (envelope fields, event kinds and their
//! fields, tags) is the same:
//!
//! | field       | schema 0                                   | schema 1                        |
//! |-------------|--------------------------------------------|---------------------------------|
//! | time        | `"at"`: integer unix milliseconds, UTC     | `"at"`: RFC 3339 string, UTC    |
//! | who         | `"actor"`: the [`Actor`](crate::Actor)      | `"by"`: the same [`Actor`](crate::Actor) |
//!
//! ## Schema 1 → 2
//!
//! Schema 2 only adds optional envelope fields, written when they apply: `key` (the
//! host's idempotency key of the request that made the event) and `given_at` (the time
//! the host gave, when the event was recorded at the previous event's time instead). A schema 1 event is read
//! as it is and relabelled; one that carries a schema 2 field is not a schema 1 event
//! and is reported.
//!
//! Upcasting keeps the event id and sequence number, so an upcast log folds exactly as
//! it did when it was written, and ids stay stable for idempotent appends.

use crate::error::DecodeError;
use crate::event::{Event, SCHEMA_VERSION};
use crate::limits::Limits;

impl Event {
    /// Parses one event from JSON.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the text is not valid JSON, is not an
    /// event, or was written with a schema version this crate does not read.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{error::DecodeError, Event};
    ///
    /// let err = Event::from_json(r#"{"schema":1,"case":"#).unwrap_err();
    /// assert_eq!(err, DecodeError::Truncated { line: 1 });
    /// ```
    pub fn from_json(text: &str) -> Result<Self, crate::error::DecodeError> {
        decode_event(text, 0)
    }

    /// The event as one line of JSON.
    ///
    /// # Errors
    ///
    /// Serialisation of these plain data types cannot fail in practice; the `Result`
    /// passes on `serde_json`'s error type rather than hide it behind a panic.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// Reads one event from `text`, which is line `line` of its source.
pub(crate) fn decode_event(text: &str, line: usize) -> Result<Event, DecodeError> {
    #[derive(serde::Deserialize)]
    struct SchemaOnly {
        schema: u32,
    }
    let line = line.max(1);
    match serde_json::from_str::<Event>(text) {
        Ok(event) if event.schema == SCHEMA_VERSION => Ok(event),
        Ok(event) if event.schema < SCHEMA_VERSION => {
            let from = event.schema;
            crate::upcast::upcast(text, Some(event), from, line)
        }
        Ok(event) => Err(DecodeError::UnsupportedSchema { line, found: event.schema, supported: SCHEMA_VERSION }),
        Err(err) => {
            // A newer writer may have added kinds or fields; say so rather than report
            // a confusing "unknown variant". An older writer's shape is upcast.
            if let Ok(SchemaOnly { schema }) = serde_json::from_str::<SchemaOnly>(text) {
                if schema < SCHEMA_VERSION {
                    return crate::upcast::upcast(text, None, schema, line);
                }
                if schema != SCHEMA_VERSION {
                    return Err(DecodeError::UnsupportedSchema { line, found: schema, supported: SCHEMA_VERSION });
                }
            }
            Err(classify(&err, line))
        }
    }
}

fn classify(err: &serde_json::Error, line: usize) -> DecodeError {
    use serde_json::error::Category;
    match err.classify() {
        Category::Eof => DecodeError::Truncated { line },
        Category::Syntax | Category::Io => {
            DecodeError::Syntax { line, column: err.column(), message: strip_position(err) }
        }
        Category::Data => DecodeError::NotAnEvent { line, message: strip_position(err) },
    }
}

/// serde_json appends " at line 1 column 7"; our own line numbering replaces it.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text.get(..i).unwrap_or(&text).to_owned(),
        None => text,
    }
}

/// Reads a JSON Lines log: one event per line, blank lines ignored.
///
/// # Older schemas
///
/// Events written with an older schema version are upcast to the current one
/// ([`SCHEMA_VERSION`]) on the way in, here and in [`Event::from_json`], so every reader
/// sees only current events; stored lines are never rewritten. Schema 0, the
/// pre-release shape, differs from schema 1 in exactly two fields: `at` is integer unix
/// milliseconds (UTC) instead of an RFC 3339 string, and the actor is under `actor`
/// instead of `by`. Schema 2 only added optional envelope fields (`key`), so a schema 1
/// line reads as it is. Event ids and sequence numbers are kept, so an upcast log folds
/// as it did when written.
///
/// This only decodes; fold the result with [`Case::replay`](crate::Case::replay) to check
/// the log's integrity.
///
/// # Errors
///
/// The first line that is not an event, with its line number.
///
/// # Example
///
/// ```
/// use caseledger::{codec::decode_log, error::DecodeError};
///
/// let err = decode_log("\n{\"schema\":1,").unwrap_err();
/// assert_eq!(err, DecodeError::Truncated { line: 2 });
/// ```
pub fn decode_log(text: &str) -> Result<Vec<Event>, DecodeError> {
    decode_lines(text, None)
}

/// Reads a JSON Lines log like [`decode_log`], refusing any line longer than
/// [`Limits::max_line_bytes`] and any log of more than [`Limits::max_events`] events
/// before it decodes a single event, so a hostile log cannot make the host allocate or
/// parse without bound. Fold the result with [`Case::replay_with_limits`](crate::Case::replay_with_limits)
/// to hold each event to the other limits.
///
/// # Errors
///
/// [`DecodeError::LineTooLong`] or [`DecodeError::TooManyEvents`] for the first line
/// over a limit, else the first line that is not an event, with its line number.
///
/// # Example
///
/// ```
/// use caseledger::{codec::decode_log_with_limits, error::DecodeError, rules::Limits};
///
/// let mut limits = Limits::default();
/// limits.max_line_bytes = 10;
/// let err = decode_log_with_limits("\n\n{\"schema\":1,\"case\":\"…\"}", &limits).unwrap_err();
/// assert_eq!(err, DecodeError::LineTooLong { line: 3, bytes: 25, max: 10 });
/// ```
pub fn decode_log_with_limits(text: &str, limits: &Limits) -> Result<Vec<Event>, DecodeError> {
    decode_lines(text, Some(limits))
}

fn decode_lines(text: &str, limits: Option<&Limits>) -> Result<Vec<Event>, DecodeError> {
    if let Some(limits) = limits {
        check_lines(text, limits)?;
    }
    let mut events = Vec::new();
    for (i, text) in text.lines().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        events.push(decode_event(text, i + 1)?);
    }
    crate::upcast::name_customers(&mut events);
    Ok(events)
}

/// Checks every line's length and the number of events before any is decoded: a log
/// over the limits costs one scan of its bytes, not the parse of a million events.
fn check_lines(text: &str, limits: &Limits) -> Result<(), DecodeError> {
    let mut count: u64 = 0;
    for (i, text) in text.lines().enumerate() {
        let line = i + 1;
        if text.len() > limits.max_line_bytes {
            return Err(DecodeError::LineTooLong { line, bytes: text.len(), max: limits.max_line_bytes });
        }
        if text.trim().is_empty() {
            continue;
        }
        if count >= limits.max_events {
            return Err(DecodeError::TooManyEvents { line, max: limits.max_events });
        }
        count = count.saturating_add(1);
    }
    Ok(())
}

/// Writes events as JSON Lines: one event per line, each line ending in `\n`.
///
/// # Errors
///
/// Passes on `serde_json`'s error; these plain data types do not fail in practice.
pub fn encode_log<'a>(events: impl IntoIterator<Item = &'a Event>) -> Result<String, serde_json::Error> {
    let mut out = String::new();
    for event in events {
        out.push_str(&serde_json::to_string(event)?);
        out.push('\n');
    }
    Ok(out)
}

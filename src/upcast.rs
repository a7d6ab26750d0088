//! Schema evolution: rewriting events stored with an older JSON shape into the current one.
//!
//! Stored events are never rewritten on disk; they are upcast as they are read, one
//! event at a time, by a chain of steps (schema 0 → 1 → … → [`SCHEMA_VERSION`]). Every
//! reader goes through [`decode_log`](crate::decode_log) or
//! [`Event::from_json`](crate::Event::from_json), so every reader benefits.
//!
//! # Schema 0 (pre-release)
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
//! Upcasting keeps the event id and sequence number, so an upcast log folds exactly as
//! it did when it was written, and ids stay stable for idempotent appends.

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::DecodeError;
use crate::event::{Event, SCHEMA_VERSION};

/// Decodes `text`, written with schema `from` (older than the current one), as a current
/// event. `line` is its line in the source, for errors.
pub(crate) fn upcast(text: &str, from: u32, line: usize) -> Result<Event, DecodeError> {
    let not_event = |message: String| DecodeError::NotAnEvent { line, message };
    let Value::Object(mut fields) = serde_json::from_str::<Value>(text).map_err(|e| not_event(e.to_string()))? else {
        return Err(not_event("an event must be a JSON object".to_owned()));
    };
    let mut schema = from;
    while schema < SCHEMA_VERSION {
        match schema {
            0 => zero_to_one(&mut fields).map_err(|m| not_event(format!("schema 0 event: {m}")))?,
            // Only schema 0 predates the current one; a gap here is a missing step.
            _ => return Err(DecodeError::UnsupportedSchema { line, found: from, supported: SCHEMA_VERSION }),
        }
        schema = schema.saturating_add(1);
        fields.insert("schema".to_owned(), Value::from(schema));
    }
    serde_json::from_value(Value::Object(fields)).map_err(|e| not_event(e.to_string()))
}

/// Schema 0 → 1: `at` from unix milliseconds to RFC 3339, `actor` renamed to `by`.
fn zero_to_one(fields: &mut Map<String, Value>) -> Result<(), String> {
    let millis = fields.get("at").and_then(Value::as_i64).ok_or("`at` must be integer unix milliseconds")?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .map_err(|e| format!("`at` {millis} is out of range: {e}"))?;
    let at = at.format(&Rfc3339).map_err(|e| format!("`at` {millis} cannot be written as RFC 3339: {e}"))?;
    fields.insert("at".to_owned(), Value::from(at));
    let actor = fields.remove("actor").ok_or("missing field `actor`")?;
    fields.insert("by".to_owned(), actor);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;

    const OPENED_V0: &str = r#"{"schema":0,"case":"0190f5a3-7c1e-7a00-8000-000000000001","seq":1,"id":"0190f5a3-7c1e-7a00-8000-0000000000aa","at":1795424400000,"actor":{"type":"customer"},"what":{"type":"opened","customer":"cust-1","outcome":"my laptop works","owner":{"id":"ana","department":"software"}}}"#;

    #[test]
    fn schema_zero_upcasts_time_and_actor() {
        let event = Event::from_json(OPENED_V0).unwrap();
        assert_eq!(event.schema, SCHEMA_VERSION);
        assert_eq!(event.at, time::macros::datetime!(2026-11-23 09:00 UTC));
        assert_eq!(event.by, crate::Actor::Customer);
        assert!(matches!(event.what, EventKind::Opened { .. }));
    }

    #[test]
    fn schema_zero_with_a_string_time_is_reported_not_guessed() {
        let text = OPENED_V0.replace("1795424400000", "\"2026-11-23T09:00:00Z\"");
        let err = crate::decode_log(&format!("\n{text}")).unwrap_err();
        assert!(matches!(&err, DecodeError::NotAnEvent { line: 2, message } if message.contains("unix milliseconds")));
    }

    #[test]
    fn schema_zero_without_actor_is_reported() {
        let text = OPENED_V0.replace(r#""actor":{"type":"customer"},"#, "");
        let err = Event::from_json(&text).unwrap_err();
        assert!(matches!(&err, DecodeError::NotAnEvent { message, .. } if message.contains("actor")));
    }
}

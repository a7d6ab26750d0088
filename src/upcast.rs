//! Schema evolution: rewriting events stored with an older JSON shape into the current
//! one, a step per schema. What each schema changed is the [`codec`](crate::codec)'s
//! guide; this is how the chain is built.
//!
//! # Adding a step
//!
//! A new schema adds one [`Step`] to [`STEPS`]: a [`Rewrite::Json`] when the shape of
//! older events changes (renamed or retyped fields), a [`Rewrite::Event`] when it only
//! adds fields with a default (then older lines parse directly and are never read as
//! generic JSON). JSON steps come before event steps in the chain.

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::DecodeError;
use crate::event::{Event, SCHEMA_VERSION};

/// How one step brings an event of schema `from` to schema `from + 1`.
enum Rewrite {
    /// Rewrites the event's JSON object (the shape changed).
    Json(fn(&mut Map<String, Value>) -> Result<(), String>),
    /// Checks or completes the parsed event (the newer schema only added fields).
    // No step needs it since schema 2 rewrote confirmations; kept for the next schema that
    // only adds fields.
    #[allow(dead_code)]
    Event(fn(&mut Event) -> Result<(), String>),
}

/// One step of the chain.
struct Step {
    from: u32,
    rewrite: Rewrite,
}

/// Every step, oldest first; the last one reaches [`SCHEMA_VERSION`].
const STEPS: &[Step] =
    &[Step { from: 0, rewrite: Rewrite::Json(zero_to_one) }, Step { from: 1, rewrite: Rewrite::Json(one_to_two) }];

/// Decodes `text`, written with schema `from` (older than the current one), as a current
/// event. `parsed` is `text` already parsed as an event, when it parses as one. `line`
/// is its line in the source, for errors.
pub(crate) fn upcast(text: &str, parsed: Option<Event>, from: u32, line: usize) -> Result<Event, DecodeError> {
    let not_event = |message: String| DecodeError::NotAnEvent { line, message };
    let Some(first) = STEPS.iter().position(|step| step.from == from) else {
        return Err(DecodeError::UnsupportedSchema { line, found: from, supported: SCHEMA_VERSION });
    };
    let steps = STEPS.get(first..).unwrap_or_default();
    let json_steps = steps.iter().take_while(|step| matches!(step.rewrite, Rewrite::Json(_))).count();
    let mut event = match parsed {
        Some(event) if json_steps == 0 => event,
        _ => {
            let Value::Object(mut fields) =
                serde_json::from_str::<Value>(text).map_err(|e| not_event(e.to_string()))?
            else {
                return Err(not_event("an event must be a JSON object".to_owned()));
            };
            let mut schema = from;
            for step in steps.iter().take(json_steps) {
                if let Rewrite::Json(rewrite) = step.rewrite {
                    rewrite(&mut fields).map_err(|m| not_event(format!("schema {} event: {m}", step.from)))?;
                }
                schema = step.from.saturating_add(1);
            }
            fields.insert("schema".to_owned(), Value::from(schema));
            serde_json::from_value(Value::Object(fields)).map_err(|e| not_event(e.to_string()))?
        }
    };
    for step in steps.iter().skip(json_steps) {
        match step.rewrite {
            Rewrite::Event(rewrite) => {
                rewrite(&mut event).map_err(|m| not_event(format!("schema {} event: {m}", step.from)))?;
            }
            // The chain is ordered so this does not happen; report rather than guess.
            Rewrite::Json(_) => {
                return Err(DecodeError::UnsupportedSchema { line, found: from, supported: SCHEMA_VERSION })
            }
        }
        event.schema = step.from.saturating_add(1);
    }
    Ok(event)
}

/// Names the customer actors of a log written before customer actors carried who they
/// are (`{"type":"customer"}`, read as an empty reference) after the case's customer,
/// from its opening, when `events` holds it. Costs one look at each event's actor; only
/// old customer events are changed.
pub(crate) fn name_customers(events: &mut [Event]) {
    if !events.iter().any(|event| event.by.is_unnamed_customer()) {
        return;
    }
    let customer = events.iter().find_map(|event| match &event.what {
        crate::event::EventKind::Opened { customer, .. } => Some(customer.clone()),
        _ => None,
    });
    if let Some(customer) = customer {
        name_customers_as(events, &customer);
    }
}

/// Names the unnamed customer actors of `events` (see [`name_customers`]) `customer`:
/// for a tail of a case whose customer is known from its fold.
pub(crate) fn name_customers_as(events: &mut [Event], customer: &crate::id::CustomerRef) {
    for event in events.iter_mut().filter(|event| event.by.is_unnamed_customer()) {
        event.by = crate::actor::Actor::Customer(customer.clone());
    }
}

/// Schema 1 → 2: a schema 1 event cannot carry the fields schema 2 added (`key`,
/// `given_at`), and confirmations and disputes gain their `voice`.
///
/// Schema 1 did not say whose voice a confirmation was in; the actor did. The customer's
/// own stays [`Voice::Own`](crate::event::Voice::Own). One recorded by staff becomes
/// [`Voice::Unverified`](crate::event::Voice::Unverified): it named no channel and nothing
/// checked that the customer had spoken, so it cannot claim the evidence a schema 2
/// report carries; the fold accepts it as it was accepted then, and the timeline, the
/// brief and the metrics show it as staff-reported, unverified.
fn one_to_two(fields: &mut Map<String, Value>) -> Result<(), String> {
    for added in ["key", "given_at"] {
        if fields.get(added).is_some_and(|v| !v.is_null()) {
            return Err(format!("`{added}` is a field of schema 2"));
        }
    }
    let own = fields.get("by").and_then(|by| by.get("type")).and_then(Value::as_str) == Some("customer");
    if let Some(Value::Object(what)) = fields.get_mut("what") {
        let kind = what.get("type").and_then(Value::as_str);
        if matches!(kind, Some("outcome_confirmed" | "outcome_disputed")) {
            if what.contains_key("voice") {
                return Err("`voice` is a field of schema 2".to_owned());
            }
            let voice = if own { "own" } else { "unverified" };
            what.insert("voice".to_owned(), serde_json::json!({ "type": voice }));
        }
    }
    Ok(())
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
    fn the_chain_reaches_the_current_schema_one_step_at_a_time() {
        for (i, step) in STEPS.iter().enumerate() {
            assert_eq!(step.from, u32::try_from(i).unwrap());
        }
        assert_eq!(STEPS.len(), usize::try_from(SCHEMA_VERSION).unwrap());
    }

    #[test]
    fn schema_one_reads_as_it_is_and_cannot_carry_a_key() {
        let v1 = OPENED_V0
            .replace("1795424400000", "\"2026-11-23T09:00:00Z\"")
            .replace("\"actor\"", "\"by\"")
            .replace("\"schema\":0", "\"schema\":1");
        let event = Event::from_json(&v1).unwrap();
        assert_eq!(event.schema, SCHEMA_VERSION);
        assert_eq!(event, Event::from_json(OPENED_V0).unwrap());
        let keyed = v1.replace("\"seq\":1,", "\"seq\":1,\"key\":\"req-1\",");
        let err = Event::from_json(&keyed).unwrap_err();
        assert!(
            matches!(&err, DecodeError::NotAnEvent { message, .. } if message.contains("`key` is a field of schema 2")),
            "{err}"
        );
    }

    #[test]
    fn schema_zero_upcasts_time_and_actor() {
        let event = Event::from_json(OPENED_V0).unwrap();
        assert_eq!(event.schema, SCHEMA_VERSION);
        assert_eq!(event.at, time::macros::datetime!(2026-11-23 09:00 UTC));
        assert_eq!(event.by, crate::Actor::customer(""), "alone, the opening's actor is not named");
        let log = crate::codec::decode_log(OPENED_V0).unwrap();
        assert_eq!(log[0].by, crate::Actor::customer("cust-1"), "in its log, it is the case's customer");
        assert!(matches!(event.what, EventKind::Opened { .. }));
    }

    #[test]
    fn schema_zero_with_a_string_time_is_reported_not_guessed() {
        let text = OPENED_V0.replace("1795424400000", "\"2026-11-23T09:00:00Z\"");
        let err = crate::codec::decode_log(&format!("\n{text}")).unwrap_err();
        assert!(matches!(&err, DecodeError::NotAnEvent { line: 2, message } if message.contains("unix milliseconds")));
    }

    #[test]
    fn schema_zero_without_actor_is_reported() {
        let text = OPENED_V0.replace(r#""actor":{"type":"customer"},"#, "");
        let err = Event::from_json(&text).unwrap_err();
        assert!(matches!(&err, DecodeError::NotAnEvent { message, .. } if message.contains("actor")));
    }
}

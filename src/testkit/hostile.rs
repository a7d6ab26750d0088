//! Hostile logs: valid logs damaged the way storage, sync jobs and people damage them,
//! for testing a host's ingestion path.

use proptest::prelude::any;
use proptest::strategy::Strategy;
use time::Duration;

use super::history::histories;
use super::Config;
use crate::event::{Event, EventKind, Voice};
use crate::id::CaseId;

/// How a valid log was damaged. Lines and sequence numbers count from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Damage {
    /// The event with sequence number `seq` was removed (never the last one, so a gap
    /// is left behind).
    Gap {
        /// The removed event.
        seq: u64,
    },
    /// The events on lines `first` and `second` swapped places.
    Reordered {
        /// The earlier line.
        first: usize,
        /// The later line.
        second: usize,
    },
    /// The event `seq` was written a second time, on line `line`.
    Duplicated {
        /// The repeated event.
        seq: u64,
        /// Where the copy is.
        line: usize,
    },
    /// An event of another case was inserted on line `line`.
    Foreign {
        /// Where it is.
        line: usize,
    },
    /// The event `seq` is dated `by` earlier than the event before it.
    TimeBackwards {
        /// The event moved back in time.
        seq: u64,
        /// How far before its predecessor it now is.
        by: Duration,
    },
    /// The event on line `line` had its kind tag replaced by `to` (which may be unknown,
    /// or a real kind whose fields do or do not fit).
    KindTampered {
        /// The tampered line.
        line: usize,
        /// The tag written instead.
        to: String,
    },
    /// Line `line` was cut after `kept` bytes, like a torn write.
    Truncated {
        /// The cut line.
        line: usize,
        /// The bytes left on it.
        kept: usize,
    },
    /// The confirmation or dispute on line `line`, reported by staff, was rewritten to
    /// claim the customer's own voice (I2): a staff report passed off as the customer's.
    VoiceForged {
        /// The forged line.
        line: usize,
    },
    /// The customer's words that the staff report `report` rests on (their replies and
    /// conversations on its channel since the last contact) were removed, `removed`
    /// events in all, and the later events renumbered so no gap gives it away (I2).
    EvidenceRemoved {
        /// The report's sequence number in the original log.
        report: u64,
        /// How many events were removed.
        removed: usize,
    },
}

impl Damage {
    /// Whether every correct reader must reject the log (decoding or replay fails).
    ///
    /// Only a tampered kind can leave a log that still decodes and folds, for instance a
    /// customer-visible note turned into an internal one.
    #[must_use]
    pub fn always_rejected(&self) -> bool {
        !matches!(self, Self::KindTampered { .. })
    }
}

/// A damaged log, as JSON Lines text, with the valid log it was made from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostileLog {
    /// The valid log before the damage.
    pub original: Vec<Event>,
    /// What was done to it.
    pub damage: Damage,
    /// The damaged log, one JSON event per line.
    pub text: String,
}

/// Hostile logs made from the valid logs of [`histories`](super::histories): each has one
/// [`Damage`].
pub fn hostile_logs(config: &Config) -> impl Strategy<Value = HostileLog> {
    (histories(config), 0..9u8, any::<usize>(), any::<usize>(), 1..=600i64).prop_map(
        |(history, kind, a, b, minutes)| {
            let original = history.events().to_vec();
            let (events, damage, edit) = damage(&original, kind, a, b, minutes);
            let mut lines: Vec<String> = events.iter().map(|e| e.to_json().unwrap_or_default()).collect();
            if let Some(edit) = edit {
                if let Some(line) = lines.get_mut(edit.line) {
                    *line = (edit.apply)(line);
                }
            }
            let mut text = lines.join("\n");
            text.push('\n');
            HostileLog { original, damage, text }
        },
    )
}

/// A change to one line of text, for damage below the level of events.
struct Edit {
    line: usize,
    apply: Box<dyn Fn(&str) -> String>,
}

/// Tags a tampered line may get besides every real kind: an unknown one and a real one
/// in the wrong case.
const FOREIGN_TAGS: [&str; 2] = ["teleported", "Resolved"];

fn damage(original: &[Event], kind: u8, a: usize, b: usize, minutes: i64) -> (Vec<Event>, Damage, Option<Edit>) {
    let reports: Vec<usize> = original
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            matches!(
                &e.what,
                EventKind::OutcomeConfirmed { voice: Voice::Reported { .. }, .. }
                    | EventKind::OutcomeDisputed { voice: Voice::Reported { .. }, .. }
            )
        })
        .map(|(i, _)| i)
        .collect();
    match (kind, reports.get(a % reports.len().max(1))) {
        (7, Some(&i)) => {
            let edit = Edit { line: i, apply: Box::new(forge_voice) };
            return (original.to_vec(), Damage::VoiceForged { line: i + 1 }, Some(edit));
        }
        (8, Some(&i)) => return remove_evidence(original, i),
        // No staff report in this log: damage it another way.
        (7 | 8, None) => return damage(original, 0, a, b, minutes),
        _ => {}
    }
    let mut events = original.to_vec();
    let n = events.len().max(1);
    let seq_of = |i: usize| u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
    match kind {
        0 if n >= 2 => {
            let i = a % (n - 1);
            events.remove(i);
            (events, Damage::Gap { seq: seq_of(i) }, None)
        }
        1 if n >= 2 => {
            let i = a % n;
            let j = if b % n == i { (i + 1) % n } else { b % n };
            events.swap(i, j);
            (events, Damage::Reordered { first: i.min(j) + 1, second: i.max(j) + 1 }, None)
        }
        2 => {
            let at = 1 + a % n;
            let mut foreign = events.get(b % n).cloned();
            if let Some(e) = &mut foreign {
                let other = CaseId::new_v7(e.at, [0xf0; 10]);
                e.case = if other == e.case { CaseId::new_v7(e.at, [0x0f; 10]) } else { other };
            }
            events.splice(at..at, foreign);
            (events, Damage::Foreign { line: at + 1 }, None)
        }
        3 if n >= 2 => {
            let i = 1 + a % (n - 1);
            let by = Duration::minutes(minutes);
            let previous = events.get(i - 1).map(|e| e.at);
            if let (Some(e), Some(previous)) = (events.get_mut(i), previous) {
                e.at = previous.checked_sub(by).unwrap_or(previous);
            }
            (events, Damage::TimeBackwards { seq: seq_of(i), by }, None)
        }
        4 => {
            let line = a % n;
            let current = events.get(line).map(|e| e.what.tag()).unwrap_or_default();
            let mut tags = EventKind::TAGS.iter().chain(&FOREIGN_TAGS);
            let mut to = tags.nth(b % (EventKind::TAGS.len() + FOREIGN_TAGS.len())).copied().unwrap_or("teleported");
            if to == current {
                to = "teleported";
            }
            let tag = to.to_owned();
            let edit = Edit { line, apply: Box::new(move |text| retag(text, &tag)) };
            (events, Damage::KindTampered { line: line + 1, to: to.to_owned() }, Some(edit))
        }
        5 => {
            let line = a % n;
            let json = events.get(line).and_then(|e| e.to_json().ok()).unwrap_or_default();
            let mut kept = 1 + b % json.len().saturating_sub(1).max(1);
            while kept > 1 && !json.is_char_boundary(kept) {
                kept -= 1;
            }
            let edit = Edit { line, apply: Box::new(move |text| text.get(..kept).unwrap_or_default().to_owned()) };
            (events, Damage::Truncated { line: line + 1, kept }, Some(edit))
        }
        _ => {
            let i = a % n;
            let at = b % (n + 1);
            let copy = events.get(i).cloned();
            events.splice(at..at, copy);
            (events, Damage::Duplicated { seq: seq_of(i), line: at + 1 }, None)
        }
    }
}

/// Rewrites the voice of the confirmation or dispute on `line` to the customer's own.
fn forge_voice(line: &str) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(line) else {
        return line.to_owned();
    };
    if let Some(what) = value.get_mut("what").and_then(serde_json::Value::as_object_mut) {
        what.insert("voice".to_owned(), serde_json::json!({ "type": "own" }));
    }
    serde_json::to_string(&value).unwrap_or_else(|_| line.to_owned())
}

/// Removes every reply and conversation on the report's channel since the last contact
/// before the report at index `i`, and renumbers what follows.
fn remove_evidence(original: &[Event], i: usize) -> (Vec<Event>, Damage, Option<Edit>) {
    let channel = match original.get(i).map(|e| &e.what) {
        Some(
            EventKind::OutcomeConfirmed { voice: Voice::Reported { channel }, .. }
            | EventKind::OutcomeDisputed { voice: Voice::Reported { channel }, .. },
        ) => *channel,
        _ => return (original.to_vec(), Damage::Gap { seq: 1 }, None),
    };
    let before = original.get(..i).unwrap_or_default();
    let since = before.iter().rposition(|e| matches!(e.what, EventKind::CustomerContacted { .. })).map_or(0, |j| j + 1);
    let evidence = |j: usize, e: &Event| {
        j >= since
            && j < i
            && matches!(&e.what,
                EventKind::CustomerReplied { channel: c, .. } | EventKind::ConversationHeld { channel: c, .. } if *c == channel)
    };
    let mut events: Vec<Event> =
        original.iter().enumerate().filter(|(j, e)| !evidence(*j, e)).map(|(_, e)| e.clone()).collect();
    let removed = original.len() - events.len();
    for (seq, e) in (1..).zip(events.iter_mut()) {
        e.seq = seq;
    }
    let report = u64::try_from(i).unwrap_or(u64::MAX).saturating_add(1);
    (events, Damage::EvidenceRemoved { report, removed }, None)
}

fn retag(line: &str, tag: &str) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(line) else {
        return line.to_owned();
    };
    if let Some(what) = value.get_mut("what").and_then(serde_json::Value::as_object_mut) {
        what.insert("type".to_owned(), serde_json::Value::String(tag.to_owned()));
    }
    serde_json::to_string(&value).unwrap_or_else(|_| line.to_owned())
}

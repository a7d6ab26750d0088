//! Limits: the caps on sizes and counts, shown (and explained) through
//! [`rules`](crate::rules). The checks that need a case's counts live with the case.

use serde::{Deserialize, Serialize};

use crate::actor::{Actor, Staff};
use crate::error::Refusal;
use crate::event::EventKind;

/// Caps that keep a hostile or buggy client from making a host allocate without bound.
///
/// [`Rules::decide`](crate::Rules::decide) checks them for every command. For logs the host did not write
/// itself, [`decode_log_with_limits`](crate::codec::decode_log_with_limits) checks the size and
/// number of lines before parsing, and [`Case::replay_with_limits`](crate::Case::replay_with_limits) /
/// [`Case::apply_with_limits`](crate::Case::apply_with_limits) check every event while folding.
///
/// Checking limits also checks that every text is one a database can store: no control
/// character but tab, line feed and carriage return
/// ([`Refusal::ControlCharacter`], naming the field). `decide` and `open` always check
/// it. Of the fold, only [`Case::replay_with_limits`](crate::Case::replay_with_limits) /
/// [`Case::apply_with_limits`](crate::Case::apply_with_limits) (the path for logs from
/// elsewhere, on their way into the host's storage) check it:
/// [`Case::replay`](crate::Case::replay) and [`Case::apply`](crate::Case::apply) still
/// fold a log that holds such characters, so a log stored before this rule (or by
/// another system) stays readable.
///
/// The defaults sit far above any honest case, so they stop runaway integrations and
/// hostile input, never a real customer's history. Under them one case holds at most
/// about 200 MiB of text (1,000 work items with a title and a note at the text cap, and
/// 1,000 facts); a host that keeps many cases in memory lowers them.
///
/// # Example
///
/// ```
/// use caseledger::{rules::Limits, Rules};
///
/// let mut limits = Limits::default();
/// limits.max_work_items = 50;
/// let rules = Rules::default().with_limits(limits);
/// assert_eq!(rules.limits().max_work_items, 50);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Limits {
    /// Longest free text in bytes: a note, a message, a reason, a title, a fact's value,
    /// the customer's outcome. Default 64 KiB: a long e-mail pasted into a note fits; a
    /// pasted log file or attachment does not (it belongs in the host's file store,
    /// referenced by a fact).
    pub max_text_bytes: usize,
    /// Longest identifier or name in bytes: staff ids, departments, customer references,
    /// work item and incident ids, fact names. Default 256: an e-mail address (at most
    /// 254 bytes) used as a login fits. Ids are map keys and travel on every event, so
    /// they are kept short.
    pub max_id_bytes: usize,
    /// Most distinct facts on a case. Default 1,000: a case records a few dozen (customer
    /// numbers, addresses, serial numbers); a thousand is a client writing in a loop.
    pub max_facts: usize,
    /// Most work items on a case, open or closed. Default 1,000: S1's laptop involves four
    /// departments; a thousand pieces of work is a runaway integration.
    pub max_work_items: usize,
    /// Most distinct owners (a staff member with a department) a case has over its life.
    /// Default 1,000: a case through a thousand different hands is a runaway router. The
    /// cap bounds the owner history each handoff searches for bounces, so a hostile log
    /// cannot make replay quadratic. Ping-pong among a few people is not counted here;
    /// refusing that is a policy's business (S4).
    pub max_owners: usize,
    /// Most events in a case's log. Default 1,000,000, about a thousand times the busiest
    /// real case. A case's memory does not grow with its events; this cap bounds the time
    /// to replay a log and the memory of replay's duplicate-id check (24 bytes an event).
    pub max_events: u64,
    /// Most incidents one case links to. Default 100: nobody is hit by a hundred distinct
    /// outages at once, and checking a new link is linear in this number.
    pub max_incidents: usize,
    /// Longest line of a JSON Lines log in bytes, checked before the line is parsed.
    /// Default 1 MiB: an event carries at most one free text and five ids, so under the
    /// default limits every event fits in about 400 KB even with every byte escaped as
    /// `\u00XX`; nothing this crate writes under the defaults is refused on reading.
    pub max_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_text_bytes: 64 * 1024,
            max_id_bytes: 256,
            max_facts: 1_000,
            max_work_items: 1_000,
            max_owners: 1_000,
            max_events: 1_000_000,
            max_incidents: 100,
            max_line_bytes: 1024 * 1024,
        }
    }
}

impl Limits {
    /// The checks that need no case: the event count it would make, and text sizes.
    pub(crate) fn check_sizes(&self, events: u64, by: &Actor, what: &EventKind) -> Result<(), Refusal> {
        if events > self.max_events {
            let clamp = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
            return Err(Refusal::LimitExceeded {
                what: "events on a case",
                max: clamp(self.max_events),
                actual: clamp(events),
            });
        }
        let mut gathered = [("", ""); MAX_NAMES];
        let names = names(by, what, &mut gathered);
        for &(what, id) in names {
            if id.len() > self.max_id_bytes {
                return Err(Refusal::LimitExceeded { what, max: self.max_id_bytes, actual: id.len() });
            }
        }
        if let EventKind::PolicyOverridden { refusal, .. } = what {
            if refusal.len() > self.max_text_bytes {
                let what = "bytes in the overridden policy's refusal";
                return Err(Refusal::LimitExceeded { what, max: self.max_text_bytes, actual: refusal.len() });
            }
        }
        let text = free_text(what);
        if let Some((what, text)) = text {
            if text.len() > self.max_text_bytes {
                return Err(Refusal::LimitExceeded { what, max: self.max_text_bytes, actual: text.len() });
            }
        }
        storable_texts(names, text, what)
    }
}

/// Whether every text an actor and an event carry (ids, names, free text, gathered by
/// [`names`] and [`free_text`]) can be stored: no control character but tab, line feed
/// and carriage return (see [`storable`]).
fn storable_texts(
    names: &[(&'static str, &str)],
    text: Option<(&'static str, &str)>,
    what: &EventKind,
) -> Result<(), Refusal> {
    for (label, text) in names.iter().copied().chain(text) {
        // The label is shortened only for a text that may hold a control character.
        if may_hold_control(text.as_bytes()) {
            storable(label.strip_prefix("bytes in the ").unwrap_or(label), text)?;
        }
    }
    if let EventKind::PolicyOverridden { refusal, .. } = what {
        storable("overridden policy's refusal", refusal)?;
    }
    Ok(())
}

/// Refuses a text holding a character of Unicode's control category (`Cc`: U+0000 to
/// U+001F and U+007F to U+009F) other than tab, line feed and carriage return.
///
/// PostgreSQL refuses U+0000 in `text`; the other control characters are invisible to
/// the people reading a timeline and can disguise one entry as another. The library
/// refuses them when deciding, so a host's database never fails on text the library
/// approved.
pub(crate) fn storable(field: &'static str, text: &str) -> Result<(), Refusal> {
    // Every control character is a byte below 0x20, 0x7F, or (U+0080 to U+009F) a pair
    // starting 0xC2; most texts hold none of these bytes, and are settled in one pass.
    if !may_hold_control(text.as_bytes()) {
        return Ok(());
    }
    match text.char_indices().find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        Some((offset, character)) => Err(Refusal::ControlCharacter { field, character, offset }),
        None => Ok(()),
    }
}

/// Whether `text` holds a byte below 0x20, 0x7F or 0xC2: every control character
/// starts with one (U+0080 to U+009F are 0xC2 0x80 to 0xC2 0x9F), so a text without any
/// holds none. Eight bytes at a time; never false for a text that holds one.
fn may_hold_control(text: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether a byte of `word` is zero: exact (a borrow only starts at a zero byte).
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGH != 0;
    // Whether a byte of `word` is below 0x20: exact for a bound of at most 0x80.
    let has_below_space = |word: u64| word.wrapping_sub(ONES * 0x20) & !word & HIGH != 0;
    let mut words = text.chunks_exact(8);
    for chunk in &mut words {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(chunk);
        let word = u64::from_ne_bytes(bytes);
        if has_below_space(word) || has_zero(word ^ (ONES * 0x7f)) || has_zero(word ^ (ONES * 0xc2)) {
            return true;
        }
    }
    words.remainder().iter().any(|&b| b < 0x20 || b == 0x7f || b == 0xc2)
}

pub(crate) fn cap(what: &'static str, max: usize, current: usize) -> Result<(), Refusal> {
    let actual = current.saturating_add(1);
    if actual > max {
        Err(Refusal::LimitExceeded { what, max, actual })
    } else {
        Ok(())
    }
}

fn staff_ids(staff: &Staff) -> [(&'static str, &str); 2] {
    [("bytes in the staff id", staff.id.as_str()), ("bytes in the department", staff.department.as_str())]
}

/// At most how many identifiers and names an actor and an event carry together.
const MAX_NAMES: usize = 5;

/// The identifiers and names `by` and `what` carry, with what each is, for the id limit:
/// the actor's first, then the event's, gathered in the caller's array, so that
/// checking a command allocates nothing.
fn names<'n, 'a>(
    by: &'a Actor,
    what: &'a EventKind,
    names: &'n mut [(&'static str, &'a str); MAX_NAMES],
) -> &'n [(&'static str, &'a str)] {
    let mut count = 0;
    let mut push = |name| {
        if let Some(slot) = names.get_mut(count) {
            *slot = name;
            count += 1;
        }
    };
    if let Some(staff) = by.as_staff() {
        staff_ids(staff).into_iter().for_each(&mut push);
    }
    match what {
        EventKind::Opened { customer, owner, .. } => {
            push(("bytes in the customer reference", customer.as_str()));
            staff_ids(owner).into_iter().for_each(&mut push);
        }
        EventKind::Transferred { to, .. } | EventKind::Escalated { to, .. } => {
            staff_ids(to).into_iter().for_each(&mut push);
        }
        EventKind::WorkOpened { item, department, .. } => {
            push(("bytes in the work item id", item.as_str()));
            push(("bytes in the department", department.as_str()));
        }
        EventKind::WorkCompleted { item, .. } | EventKind::WorkDropped { item, .. } => {
            push(("bytes in the work item id", item.as_str()));
        }
        EventKind::FactRecorded { name, .. } => push(("bytes in the fact name", name.as_str())),
        EventKind::IncidentLinked { incident } => push(("bytes in the incident id", incident.as_str())),
        EventKind::PolicyOverridden { policy, .. } => push(("bytes in the policy name", policy.as_str())),
        _ => {}
    }
    names.get(..count).unwrap_or_default()
}

/// The one free text an event carries, if any, with what it is (every kind has at most one).
fn free_text(what: &EventKind) -> Option<(&'static str, &str)> {
    let named = match what {
        EventKind::Opened { outcome, .. } => ("bytes in the customer's outcome", outcome),
        EventKind::Transferred { note, .. } => ("bytes in the handoff note", note),
        EventKind::Escalated { reason, .. } => ("bytes in the reason for escalating", reason),
        EventKind::WorkOpened { title, .. } => ("bytes in the work item title", title),
        EventKind::WorkCompleted { note, .. } => ("bytes in the note on completed work", note),
        EventKind::WorkDropped { reason, .. } => ("bytes in the reason for dropping work", reason),
        EventKind::FactRecorded { value, .. } => ("bytes in the fact value", value),
        EventKind::ReachabilityRecorded { note, .. } => ("bytes in the note on reachability", note),
        EventKind::NoteAdded { text, .. } => ("bytes in the note", text),
        EventKind::CustomerContacted { message, .. } => ("bytes in the message to the customer", message),
        EventKind::CustomerReplied { message, .. } => ("bytes in the customer's message", message),
        EventKind::ConversationHeld { summary, .. } => ("bytes in the summary of the conversation", summary),
        EventKind::OutcomeConfirmed { statement, .. } | EventKind::OutcomeDisputed { statement, .. } => {
            ("bytes in the customer's statement", statement)
        }
        EventKind::Resolved { summary } => ("bytes in the resolution summary", summary),
        EventKind::ClosedUnresolved { evidence, .. } => ("bytes in the evidence for the ending", evidence),
        EventKind::Reopened { reason } => ("bytes in the reason for reopening", reason),
        EventKind::ConfirmationRequested { reason } => ("bytes in the reason for asking confirmation", reason),
        EventKind::PolicyOverridden { reason, .. } => ("bytes in the reason for overriding", reason),
        EventKind::IncidentLinked { .. } => return None,
    };
    Some((named.0, named.1.as_str()))
}

#[cfg(test)]
mod tests {
    use super::may_hold_control;

    /// The word-at-a-time test agrees with the byte-by-byte one for every byte value at
    /// every position of a text of a few words.
    #[test]
    fn the_control_byte_scan_misses_nothing_and_flags_only_its_bytes() {
        for len in [1, 7, 8, 9, 16, 17, 23] {
            for at in 0..len {
                for byte in 0..=u8::MAX {
                    let mut text = vec![b'a'; len];
                    text[at] = byte;
                    let expected = byte < 0x20 || byte == 0x7f || byte == 0xc2;
                    assert_eq!(may_hold_control(&text), expected, "byte {byte:#x} at {at} of {len}");
                }
            }
        }
        assert!(!may_hold_control(b""));
        assert!(!may_hold_control("caf\u{e9} na\u{ef}ve \u{2014} ok".as_bytes()));
    }
}

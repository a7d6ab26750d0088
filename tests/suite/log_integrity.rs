//! A broken log is reported with where and why, never folded into a silently wrong case
//! and never a panic (I5, I6, I8). Each test breaks a valid log in one way.

use crate::support::{cmd, staff, Desk, T0};
use caseledger::{
    codec::{decode_log, encode_log},
    error::{DecodeError, LogError},
    id::EventId,
    Actor, Case, CaseId, Event, EventKind, Refusal, Staff, Status,
};
use time::Duration;

/// A valid six-event log: opened, fact, work opened, work completed, reply, contact.
fn valid_log() -> Vec<Event> {
    let ana = staff("ana", "support");
    let mut desk = Desk::open("my laptop works", &ana);
    desk.ok(ana.clone(), cmd::fact("serial number", "SN-1"));
    desk.ok(ana.clone(), cmd::open_work("A", "support", "reinstall"));
    desk.ok(ana.clone(), cmd::complete("A", "reinstalled"));
    desk.ok(crate::support::customer(), cmd::reply(caseledger::event::Channel::Email, "still broken"));
    desk.ok(ana, cmd::contact(caseledger::event::Channel::Email, "trying something else"));
    desk.ledger.into_events()
}

fn forged(after: &Event, by: Actor, what: EventKind) -> Event {
    Event::new(
        after.case,
        after.seq + 1,
        EventId::from_uuid(uuid::Uuid::from_u128(after.seq as u128 + 1000)),
        after.at,
        by,
        what,
    )
}

#[test]
fn the_valid_log_replays() {
    let log = valid_log();
    let case = Case::replay(&log).unwrap();
    assert_eq!(case.version(), 6);
}

#[test]
fn an_empty_log_is_not_a_case() {
    assert_eq!(Case::replay(&[]), Err(LogError::Empty));
}

#[test]
fn a_log_must_start_with_the_opening() {
    let log = valid_log();
    assert_eq!(Case::replay(&log[1..]), Err(LogError::NotOpenedFirst { seq: 2, kind: "fact_recorded" }));
}

#[test]
fn a_missing_event_is_a_gap() {
    let mut log = valid_log();
    log.remove(2);
    assert_eq!(Case::replay(&log), Err(LogError::SequenceGap { expected: 3, found: 4 }));
}

#[test]
fn reordered_events_are_a_gap() {
    let mut log = valid_log();
    log.swap(3, 4);
    assert_eq!(Case::replay(&log), Err(LogError::SequenceGap { expected: 4, found: 5 }));
}

#[test]
fn another_cases_event_is_foreign() {
    let mut log = valid_log();
    let other = CaseId::new_v7(T0, [0xee; 10]);
    log[3].case = other;
    assert_eq!(Case::replay(&log), Err(LogError::ForeignCase { seq: 4, expected: log[0].case, found: other }));
}

#[test]
fn time_going_backwards_is_refused() {
    let mut log = valid_log();
    let previous = log[2].at;
    log[3].at = previous - Duration::seconds(1);
    assert_eq!(
        Case::replay(&log),
        Err(LogError::TimeWentBackwards { seq: 4, at: previous - Duration::seconds(1), previous })
    );
}

#[test]
fn two_events_with_one_id_are_refused() {
    let mut log = valid_log();
    log[4].id = log[1].id;
    assert_eq!(Case::replay(&log), Err(LogError::DuplicateEventId { seq: 5, id: log[1].id, first: 2 }));
}

#[test]
fn an_unknown_schema_version_is_refused() {
    let mut log = valid_log();
    log[2].schema = 7;
    assert_eq!(Case::replay(&log), Err(LogError::UnsupportedSchema { seq: 3, schema: 7 }));
}

#[test]
fn resolution_before_the_customers_confirmation_is_a_broken_log() {
    let mut log = valid_log();
    let ana = Actor::Staff(Staff::new("ana", "support"));
    log.push(forged(log.last().unwrap(), ana, EventKind::Resolved { summary: "closing, no answer".into() }));
    let err = Case::replay(&log).unwrap_err();
    assert_eq!(err, LogError::Broken { seq: 7, refusal: Refusal::OutcomeUnmet { outcome: "my laptop works".into() } });
    assert_eq!(err.seq(), Some(7));
}

#[test]
fn an_event_after_closure_is_a_broken_log() {
    let mut log = valid_log();
    log.push(forged(
        log.last().unwrap(),
        crate::support::customer(),
        EventKind::ClosedUnresolved {
            ending: caseledger::event::Ending::Withdrawn,
            evidence: "bought a new one".into(),
        },
    ));
    log.push(forged(
        log.last().unwrap(),
        crate::support::customer(),
        EventKind::OutcomeConfirmed { statement: "works".into(), voice: caseledger::event::Voice::Own },
    ));
    let status = Status::ClosedUnresolved { ending: caseledger::event::Ending::Withdrawn };
    assert_eq!(Case::replay(&log), Err(LogError::Broken { seq: 8, refusal: Refusal::CaseClosed { status } }));
}

#[test]
fn a_second_opening_and_a_skipped_escalation_level_are_broken() {
    let log = valid_log();
    let ana = Staff::new("ana", "support");
    let again = EventKind::Opened { customer: "x".into(), outcome: "y".into(), owner: ana.clone() };
    let mut twice = log.clone();
    twice.push(forged(log.last().unwrap(), Actor::System, again));
    assert_eq!(Case::replay(&twice), Err(LogError::Broken { seq: 7, refusal: Refusal::AlreadyOpened }));

    let jump = EventKind::Escalated { to: Staff::new("lee", "tier-3"), reason: "skip tier 2".into(), level: 2 };
    let mut skipped = log.clone();
    skipped.push(forged(log.last().unwrap(), Actor::Staff(ana), jump));
    assert_eq!(
        Case::replay(&skipped),
        Err(LogError::Broken { seq: 7, refusal: Refusal::EscalationLevel { expected: 1, found: 2 } })
    );
}

#[test]
fn a_refused_event_leaves_the_case_unchanged() {
    let log = valid_log();
    let mut case = Case::replay(&log).unwrap();
    let before = case.clone();
    let mut bad = log[5].clone();
    bad.seq = 7;
    bad.what = EventKind::WorkCompleted { item: "A".into(), note: "again".into() };
    assert!(case.apply(&bad).is_err());
    assert_eq!(case, before);
}

#[test]
fn json_lines_round_trip_exactly() {
    let log = valid_log();
    let text = encode_log(&log).unwrap();
    assert_eq!(text.lines().count(), 6);
    assert_eq!(decode_log(&text).unwrap(), log);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["schema"], 2);
    assert_eq!(first["what"]["type"], "opened");
    assert_eq!(first["by"]["type"], "customer");
}

#[test]
fn garbage_is_a_typed_error_with_its_line() {
    let log = valid_log();
    let text = encode_log(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();

    let truncated = format!("{}\n{}", lines[0], &lines[1][..lines[1].len() / 2]);
    assert_eq!(decode_log(&truncated), Err(DecodeError::Truncated { line: 2 }));

    let unknown = lines[2].replace("\"work_opened\"", "\"work_teleported\"");
    let err = decode_log(&format!("{}\n\n{unknown}", lines[0])).unwrap_err();
    assert!(
        matches!(&err, DecodeError::NotAnEvent { line: 3, message } if message.contains("work_teleported")),
        "{err}"
    );

    let newer = lines[1].replace("\"schema\":2", "\"schema\":9");
    assert_eq!(decode_log(&newer), Err(DecodeError::UnsupportedSchema { line: 1, found: 9, supported: 2 }));

    assert!(matches!(decode_log("not json at all"), Err(DecodeError::Syntax { line: 1, column: 2, .. })));
    assert!(matches!(Event::from_json("[1, 2, 3]"), Err(DecodeError::NotAnEvent { line: 1, .. })));
}

#[test]
fn decoded_garbage_with_a_wrong_case_or_gap_is_caught_by_the_fold() {
    let log = valid_log();
    let text = encode_log(&log).unwrap();
    let other = CaseId::new_v7(T0, [0xab; 10]);
    let foreign = text.replacen(&log[0].case.to_string(), &other.to_string(), 2);
    let err = Case::replay(&decode_log(&foreign).unwrap()).unwrap_err();
    assert!(matches!(err, LogError::ForeignCase { seq: 3, .. }), "{err}");

    let gap: String = text.lines().enumerate().filter(|(i, _)| *i != 1).map(|(_, l)| format!("{l}\n")).collect();
    assert_eq!(Case::replay(&decode_log(&gap).unwrap()), Err(LogError::SequenceGap { expected: 2, found: 3 }));
}

/// Logs stored before texts were checked for control characters (or written by another
/// system) may hold them. The decision (see `Limits`): `Case::replay` and `Case::apply`
/// still fold such a log, so no stored history becomes unreadable; the ingestion path
/// for logs from elsewhere, `Case::replay_with_limits`, refuses it, naming the event and
/// the field, because that path guards what a host is about to store.
#[test]
fn a_stored_log_with_control_characters_replays_but_is_refused_on_ingestion() {
    let mut log = valid_log();
    log[4].what =
        EventKind::CustomerReplied { channel: caseledger::event::Channel::Email, message: "still\u{0}broken".into() };
    let text = encode_log(&log).unwrap();
    assert!(text.contains("still\\u0000broken"), "JSON escapes it, so the line itself is plain text");
    let decoded = decode_log(&text).unwrap();
    assert_eq!(decoded, log);
    let case = Case::replay(&decoded).unwrap();
    assert_eq!(case.version(), 6);
    let err = Case::replay_with_limits(&decoded, &caseledger::rules::Limits::default()).unwrap_err();
    assert_eq!(
        err,
        LogError::Broken {
            seq: 5,
            refusal: Refusal::ControlCharacter { field: "customer's message", character: '\u{0}', offset: 5 }
        }
    );
}

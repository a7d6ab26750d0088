//! Idempotent commands (issue 10, item 5): a retried request with the same key does not
//! do it twice, survives restarts because the key is in the log, and a key reused for
//! another command is a typed refusal that changes nothing.

use crate::support::{cmd, staff, Desk, T0};
use caseledger::{
    codec::{decode_log, encode_log},
    command::Request,
    error::LogError,
    rules::Decision,
    Actor, Case, Command, Error, Event, IdempotencyKey, Ledger, Refusal, Rules,
};
use time::Duration;

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::new(k).unwrap()
}

fn keyed(command: Command, k: &str) -> Request {
    Request::new(command).key(key(k))
}

fn desk() -> (Desk, Actor) {
    let ana = staff("ana", "support");
    (Desk::open("my laptop works", &ana), Actor::Staff(ana))
}

/// Runs `request` on the desk's ledger `minutes` after the last step.
fn send(desk: &mut Desk, request: Request, by: &Actor, minutes: i64) -> Result<Vec<Event>, Error> {
    desk.now += Duration::minutes(minutes);
    desk.ledger.execute_request(&desk.rules, request, by, desk.now).map(<[Event]>::to_vec)
}

#[test]
fn a_retried_request_returns_the_events_already_stored_and_appends_nothing() {
    let (mut desk, ana) = desk();
    let note = cmd::customer_note("a technician comes on Monday");
    let first = send(&mut desk, keyed(note.clone(), "req-1"), &ana, 5).unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].key, Some(key("req-1")), "the key is recorded on the event");
    let before = desk.ledger.clone();

    // The response was lost; the client sends the same request again, later.
    let retry = send(&mut desk, keyed(note, "req-1"), &ana, 3).unwrap();
    assert_eq!(retry, first, "the same events, ids included");
    assert_eq!(desk.ledger, before, "nothing appended: no second note");
    assert_eq!(desk.case().keyed_events(&key("req-1")), Some(2..=2));
}

#[test]
fn without_a_key_a_retry_is_a_second_note_because_ids_hash_the_time() {
    let (mut desk, ana) = desk();
    let note = cmd::customer_note("a technician comes on Monday");
    let first = send(&mut desk, Request::new(note.clone()), &ana, 5).unwrap();
    let again = send(&mut desk, note.into(), &ana, 1).unwrap();
    assert_ne!(first[0].id, again[0].id);
    assert_eq!(desk.ledger.events().len(), 3, "the reason keys exist");
}

#[test]
fn the_same_key_with_another_command_or_another_person_is_refused_and_changes_nothing() {
    let (mut desk, ana) = desk();
    send(&mut desk, keyed(cmd::internal_note("first"), "req-1"), &ana, 5).unwrap();
    let before = desk.ledger.clone();
    let reused = Refusal::KeyReused { key: key("req-1"), first: 2, last: 2 };

    let other = send(&mut desk, keyed(cmd::internal_note("second"), "req-1"), &ana, 5);
    assert!(matches!(other, Err(Error::Refused(ref r)) if *r == reused), "{other:?}");
    let bo = Actor::staff("bo", "support");
    let someone_else = send(&mut desk, keyed(cmd::internal_note("first"), "req-1"), &bo, 5);
    assert!(matches!(someone_else, Err(Error::Refused(ref r)) if *r == reused), "{someone_else:?}");
    assert_eq!(desk.ledger, before);
}

#[test]
fn different_keys_are_different_requests_even_for_the_same_command_at_the_same_time() {
    let (mut desk, ana) = desk();
    let note = cmd::internal_note("same words");
    let a = send(&mut desk, keyed(note.clone(), "a"), &ana, 5).unwrap();
    let b = send(&mut desk, keyed(note, "b"), &ana, 0).unwrap();
    assert_eq!(desk.ledger.events().len(), 3);
    assert_ne!(a[0].id, b[0].id);
}

/// The key is in the log, so a process that restarted (or another node that only read
/// the log) recognises the retry.
#[test]
fn the_key_survives_a_restart_because_it_is_in_the_log() {
    let (mut desk, ana) = desk();
    let transfer = cmd::transfer(&staff("bo", "hardware"), "fan noise");
    let first = send(&mut desk, keyed(transfer.clone(), "req-9"), &ana, 5).unwrap();
    let text = encode_log(desk.ledger.events()).unwrap();
    assert!(text.lines().nth(1).unwrap().ends_with(",\"key\":\"req-9\"}"), "{text}");

    let mut restarted = Ledger::from_events(decode_log(&text).unwrap()).unwrap();
    let retry = restarted.execute_request(&desk.rules, keyed(transfer, "req-9"), &ana, desk.now + Duration::hours(1));
    assert_eq!(retry.unwrap(), &first[..]);
    assert_eq!(restarted.events().len(), 2);
}

/// A retry is answered from the key before anything else is checked: the first attempt
/// changed the case (it is closed now, or escalated one level up), and the retry's clock
/// may even be behind the last event.
#[test]
fn a_retry_is_recognised_whatever_the_case_became_since() {
    let (mut desk, ana) = desk();
    let lee = staff("lee", "tier-2");
    let escalate = cmd::escalate(&lee, "third call this week");
    let first = send(&mut desk, keyed(escalate.clone(), "esc-1"), &ana, 5).unwrap();
    assert_eq!(desk.case().escalation_level(), 1);
    let retry = desk.rules.decide_request(desk.case(), keyed(escalate, "esc-1"), &ana, desk.now - Duration::hours(3));
    assert_eq!(retry, Ok(Decision::AlreadyDone(first[0].seq..=first[0].seq)));

    let lee = Actor::Staff(lee);
    send(&mut desk, cmd::confirm("works").into(), &crate::support::customer(), 5).unwrap();
    let resolve = cmd::resolve("fan replaced");
    send(&mut desk, keyed(resolve.clone(), "res-1"), &lee, 5).unwrap();
    assert!(desk.case().is_closed());
    let retry = desk.rules.decide_request(desk.case(), keyed(resolve, "res-1"), &lee, desk.now);
    assert_eq!(retry, Ok(Decision::AlreadyDone(4..=4)), "not CaseClosed");
}

#[test]
fn a_forged_log_that_reuses_a_key_for_another_command_is_broken() {
    let (mut desk, ana) = desk();
    send(&mut desk, keyed(cmd::internal_note("one"), "req-1"), &ana, 5).unwrap();
    send(&mut desk, cmd::internal_note("two").into(), &ana, 5).unwrap();
    send(&mut desk, cmd::internal_note("three").into(), &ana, 5).unwrap();
    let log = desk.ledger.into_events();
    // Consecutive events under one key are one command's events (a command may produce
    // several); a key coming back after another event names a second command.
    let mut continued = log.clone();
    continued[2].key = Some(key("req-1"));
    assert_eq!(Case::replay(&continued).unwrap().keyed_events(&key("req-1")), Some(2..=3));
    let mut reused = log;
    reused[3].key = Some(key("req-1"));
    assert_eq!(
        Case::replay(&reused),
        Err(LogError::Broken { seq: 4, refusal: Refusal::KeyReused { key: key("req-1"), first: 2, last: 2 } })
    );
}

/// The case remembers the latest keys only, so its memory does not grow with history;
/// the oldest is forgotten the same way on every replay.
#[test]
fn only_the_latest_keys_are_remembered() {
    let (mut desk, ana) = desk();
    let kept = Case::IDEMPOTENCY_KEYS_KEPT;
    for i in 0..=kept {
        send(&mut desk, keyed(cmd::internal_note("n"), &format!("k{i}")), &ana, 0).unwrap();
    }
    assert_eq!(desk.case().keyed_events(&key("k0")), None, "the oldest is forgotten");
    assert_eq!(desk.case().keyed_events(&key("k1")), Some(3..=3));
    let last = u64::try_from(kept).unwrap() + 2;
    assert_eq!(desk.case().keyed_events(&key(&format!("k{kept}"))), Some(last..=last));
    assert_eq!(Case::replay(desk.ledger.events()).as_ref(), Ok(desk.case()));
    // A forgotten key is a new request.
    let again = send(&mut desk, keyed(cmd::internal_note("n"), "k0"), &ana, 0).unwrap();
    assert_eq!(again[0].seq, last + 1);
}

#[test]
fn keys_are_checked_when_made_and_when_read() {
    assert!(IdempotencyKey::new("x".repeat(IdempotencyKey::MAX_BYTES)).is_ok());
    assert!(IdempotencyKey::new("x".repeat(IdempotencyKey::MAX_BYTES + 1)).is_err());
    assert!(IdempotencyKey::new("req 7").is_ok(), "spaces are fine");
    assert!(IdempotencyKey::new("req\t7").is_err(), "no control character at all, not even a tab");
    let (mut desk, ana) = desk();
    send(&mut desk, keyed(cmd::internal_note("one"), "req-1"), &ana, 5).unwrap();
    let text = encode_log(desk.ledger.events()).unwrap().replace("\"key\":\"req-1\"", "\"key\":\"\"");
    let err = decode_log(&text).unwrap_err();
    assert!(err.to_string().contains("idempotency key must not be empty"), "{err}");
}

#[test]
fn a_plain_command_is_a_request_without_a_key() {
    let rules = Rules::default();
    let (desk, ana) = desk();
    let decided = rules.decide_request(desk.case(), cmd::internal_note("x"), &ana, T0).unwrap();
    let Decision::Append(events) = decided else { panic!("{decided:?}") };
    assert_eq!(events, rules.decide(desk.case(), cmd::internal_note("x"), &ana, T0).unwrap());
    assert_eq!(events[0].key, None);
}

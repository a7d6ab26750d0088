//! Clock skew between app nodes (issue 10, item 6): a command dated a little before the
//! case's last event is recorded at that event's time and the log says so; beyond the
//! tolerance the host configures it is refused. Nothing is reordered.

use crate::support::{cmd, staff, Desk, T0};
use caseledger::{
    codec::{decode_log, encode_log},
    command::Request,
    error::LogError,
    Actor, Case, CaseId, Error, EventKind, IdempotencyKey, Ledger, Opening, Refusal, Rules, Timeline,
};
use time::macros::datetime;
use time::Duration;

fn desk_under(rules: Rules) -> (Desk, Actor) {
    let ana = staff("ana", "support");
    let mut desk = Desk::open_under(rules, "my laptop works", &ana);
    desk.ok(ana.clone(), cmd::internal_note("first"));
    (desk, Actor::Staff(ana))
}

/// `by` sends a note dated `behind` before the case's last event.
fn behind(desk: &mut Desk, by: &Actor, behind: Duration) -> Result<caseledger::Event, Error> {
    let at = desk.case().clock().last_event_at - behind;
    desk.ledger
        .execute(&desk.rules, cmd::internal_note("from a node whose clock is behind"), by, at)
        .map(|e| e[0].clone())
}

#[test]
fn a_command_a_little_behind_is_recorded_at_the_last_events_time_and_the_log_says_so() {
    let (mut desk, ana) = desk_under(Rules::default());
    let last = desk.case().clock().last_event_at;
    let event = behind(&mut desk, &ana, Duration::milliseconds(1200)).unwrap();
    assert_eq!(event.at, last, "recorded at the last event's time");
    assert_eq!(event.given_at, Some(last - Duration::milliseconds(1200)), "with the time the host gave");
    assert_eq!(desk.case().clock().last_event_at, last);

    let log = desk.ledger.events();
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at), "nothing reordered");
    let text = encode_log(log).unwrap();
    assert!(text.lines().nth(2).unwrap().contains("\"given_at\":\"2026-11-23T09:04:58.8Z\""), "{text}");
    assert!(!text.lines().nth(1).unwrap().contains("given_at"), "written only when adjusted");
    assert_eq!(Case::replay(&decode_log(&text).unwrap()).as_ref(), Ok(desk.case()));

    let staff_view = Timeline::staff(log);
    assert_eq!(staff_view.entries()[2].clock_adjustment(), Some(Duration::milliseconds(1200)));
    assert!(staff_view.to_string().lines().nth(2).unwrap().ends_with("(clock adjusted by 1.2 s)"), "{staff_view}");
    assert!(Timeline::customer(log).entries().iter().all(|e| e.given_at.is_none()), "the customer is not told");
}

#[test]
fn the_tolerance_is_inclusive_and_beyond_it_the_command_is_refused_unchanged() {
    let (mut desk, ana) = desk_under(Rules::default());
    assert_eq!(desk.rules.clock_skew(), Duration::seconds(5));
    let last = desk.case().clock().last_event_at;
    let before = desk.ledger.clone();
    let err = behind(&mut desk, &ana, Duration::seconds(5) + Duration::nanoseconds(1)).unwrap_err();
    assert!(matches!(
        err,
        Error::Refused(Refusal::TimeBeforeLastEvent { at, last: l }) if l == last && at == last - Duration::seconds(5) - Duration::nanoseconds(1)
    ));
    assert_eq!(desk.ledger, before);
    assert_eq!(behind(&mut desk, &ana, Duration::seconds(5)).unwrap().at, last);
}

#[test]
fn the_host_configures_the_tolerance() {
    let (mut strict, ana) = desk_under(Rules::default().with_clock_skew(Duration::ZERO));
    let err = behind(&mut strict, &ana, Duration::nanoseconds(1)).unwrap_err();
    assert!(matches!(err, Error::Refused(Refusal::TimeBeforeLastEvent { .. })));

    let (mut lenient, ana) = desk_under(Rules::default().with_clock_skew(Duration::seconds(30)));
    let event = behind(&mut lenient, &ana, Duration::seconds(20)).unwrap();
    assert_eq!(event.given_at.map(|g| event.at - g), Some(Duration::seconds(20)));
    assert_eq!(Rules::default().with_clock_skew(Duration::seconds(-3)).clock_skew(), Duration::ZERO);
}

#[test]
fn a_forged_adjustment_is_a_broken_log() {
    let (mut desk, ana) = desk_under(Rules::default());
    behind(&mut desk, &ana, Duration::seconds(2)).unwrap();
    desk.ok(ana, cmd::internal_note("later"));
    let log = desk.ledger.into_events();

    let mut forward = log.clone();
    forward[2].given_at = Some(forward[2].at + Duration::seconds(1));
    assert_eq!(
        Case::replay(&forward),
        Err(LogError::ClockAdjustment { seq: 3, given: forward[2].at + Duration::seconds(1), at: forward[2].at })
    );
    // Adjusted, but not to the previous event's time.
    let mut elsewhere = log.clone();
    elsewhere[3].given_at = Some(elsewhere[3].at - Duration::seconds(1));
    assert!(matches!(Case::replay(&elsewhere), Err(LogError::ClockAdjustment { seq: 4, .. })));
    let report = Case::replay(&forward).unwrap_err().report();
    assert_eq!(
        (report.code.as_str(), report.details["given"].as_str()),
        ("clock_adjustment", Some("2026-11-23T09:05:01Z"))
    );
    let mut opening = log;
    opening[0].given_at = Some(T0 - Duration::seconds(1));
    assert!(matches!(Case::replay(&opening), Err(LogError::ClockAdjustment { seq: 1, .. })));
}

const RETRIED: &str = include_str!("../data/schema2_retried.jsonl");

/// The schema 2 fields as written: a keyed request from a node whose clock is behind,
/// and its retry, which appends nothing. The checked-in file pins the JSON shape.
#[test]
fn the_schema_two_fields_are_written_as_the_fixture_shows() {
    let rules = Rules::default();
    let t = datetime!(2026-11-23 09:00 UTC);
    let ana = Actor::staff("ana", "software");
    let opening = Opening::new("cust-0815", "my laptop boots again", staff("ana", "software"));
    let mut ledger =
        Ledger::open(&rules, CaseId::new_v7(t, [0xc0; 10]), opening, &Actor::customer("cust-0815"), t).unwrap();
    ledger.execute(&rules, cmd::fact("serial number", "5CG1234XYZ"), &ana, t + Duration::minutes(5)).unwrap();
    let key = IdempotencyKey::new("0b5e-post-notes-7").unwrap();
    let request = Request::new(cmd::customer_note("a technician comes on Monday")).key(key);
    let late = t + Duration::minutes(5) - Duration::milliseconds(1500);
    ledger.execute_request(&rules, request.clone(), &ana, late).unwrap();
    ledger.execute_request(&rules, request, &ana, t + Duration::minutes(6)).unwrap();
    let text = encode_log(ledger.events()).unwrap();
    // The fixture is from before customer actors were named; this version names them.
    let named = RETRIED.replace(r#""by":{"type":"customer"}"#, r#""by":{"type":"customer","id":"cust-0815"}"#);
    assert_eq!(text, named, "the fixture is what this version writes, the customer named:\n{text}");
    let read = decode_log(RETRIED).unwrap();
    assert_eq!(read.len(), 3);
    assert!(matches!(read[2].what, EventKind::NoteAdded { .. }));
    assert_eq!(Case::replay(&read).as_ref(), Ok(ledger.case()));
}

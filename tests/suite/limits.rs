//! Limits: each cap refuses the command that would pass it with a typed
//! `Refusal::LimitExceeded` naming what and by how much, and a log that passes it is
//! refused on replay with limits (`LogError::Broken` at the offending event), while plain
//! replay still reads it. Decoding caps the length of a line and the number of events.

use crate::support::{ana, note, T0 as T};
use caseledger::{
    codec::{decode_log, decode_log_with_limits, encode_log},
    error::{DecodeError, LogError},
    event::{Channel, Visibility},
    rules::Limits,
    Actor, Case, CaseId, Command, Error, Event, Ledger, Opening, Refusal, Rules, Staff,
};
use time::macros::datetime;

fn open(rules: &Rules) -> Ledger {
    Ledger::open(
        rules,
        CaseId::new_v7(T, [7; 10]),
        Opening::new("cust-1042", "my laptop works", ana()),
        &Actor::customer("cust-1042"),
        T,
    )
    .unwrap()
}

fn limits(change: impl FnOnce(&mut Limits)) -> Limits {
    let mut limits = Limits::default();
    change(&mut limits);
    limits
}

fn refused(result: Result<&[Event], Error>) -> Refusal {
    match result {
        Err(Error::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Runs `commands` by the owner under `generous` rules, then checks the log replays
/// without limits and is refused under `strict` at `seq` with `refusal`.
fn replay_refuses(generous: &Rules, commands: Vec<Command>, strict: &Limits, seq: u64, refusal: Refusal) {
    let mut ledger = open(generous);
    for command in commands {
        ledger.execute(generous, command, &Actor::Staff(ledger.case().owner().clone()), T).unwrap();
    }
    assert_eq!(Case::replay(ledger.events()).as_ref(), Ok(ledger.case()), "plain replay reads it");
    assert_eq!(Case::replay_with_limits(ledger.events(), strict), Err(LogError::Broken { seq, refusal }));
}

fn work(item: &str) -> Command {
    Command::OpenWork { item: item.into(), department: "software".into(), title: "update the BIOS".into() }
}

fn fact(name: &str, value: &str) -> Command {
    Command::RecordFact { name: name.into(), value: value.into(), visibility: Visibility::Customer }
}

fn transfer(to: &Staff) -> Command {
    Command::Transfer { to: to.clone(), note: "over to you".into() }
}

fn incident(id: &str) -> Command {
    Command::LinkIncident { incident: id.into() }
}

#[test]
fn defaults_are_documented_values() {
    let d = Limits::default();
    assert_eq!(d.max_text_bytes, 65_536);
    assert_eq!(d.max_id_bytes, 256);
    assert_eq!(d.max_facts, 1_000);
    assert_eq!(d.max_work_items, 1_000);
    assert_eq!(d.max_owners, 1_000);
    assert_eq!(d.max_events, 1_000_000);
    assert_eq!(d.max_incidents, 100);
    assert_eq!(d.max_line_bytes, 1_048_576);
}

#[test]
fn a_host_configures_only_the_limits_it_changes() {
    let limits: Limits = serde_json::from_str(r#"{"max_facts": 5}"#).unwrap();
    assert_eq!(limits, self::limits(|l| l.max_facts = 5));
}

#[test]
fn text_longer_than_the_cap_is_refused_and_the_cap_itself_is_not() {
    let rules = Rules::default();
    let mut ledger = open(&rules);
    ledger.execute(&rules, note("n".repeat(65_536)), &ana().into(), T).unwrap();
    let refusal = refused(ledger.execute(&rules, note("n".repeat(65_537)), &ana().into(), T));
    assert_eq!(refusal, Refusal::LimitExceeded { what: "bytes in the note", max: 65_536, actual: 65_537 });
    assert_eq!(ledger.events().len(), 2);

    // "my laptop works", the outcome, is 15 bytes.
    let strict = limits(|l| l.max_text_bytes = 15);
    let generous = Rules::default();
    let refusal = Refusal::LimitExceeded { what: "bytes in the note", max: 15, actual: 16 };
    replay_refuses(&generous, vec![note("0123456789abcde"), note("0123456789abcdef")], &strict, 3, refusal);
}

#[test]
fn the_customers_outcome_is_held_to_the_text_cap_when_opening_and_replaying() {
    let rules = Rules::default().with_limits(limits(|l| l.max_text_bytes = 10));
    let opening = Opening::new("cust-1042", "my laptop works again", ana());
    let err = rules.open(CaseId::new_v7(T, [1; 10]), opening, &Actor::customer("cust-1042"), T).unwrap_err();
    assert_eq!(err, Refusal::LimitExceeded { what: "bytes in the customer's outcome", max: 10, actual: 21 });

    let ledger = open(&Rules::default());
    let strict = limits(|l| l.max_text_bytes = 10);
    let refusal = Refusal::LimitExceeded { what: "bytes in the customer's outcome", max: 10, actual: 15 };
    assert_eq!(Case::replay_with_limits(ledger.events(), &strict), Err(LogError::Broken { seq: 1, refusal }));
}

#[test]
fn ids_longer_than_the_cap_are_refused_wherever_they_appear() {
    let rules = Rules::default();
    let mut ledger = open(&rules);
    let long = "x".repeat(257);

    let to = Staff::new(long.as_str(), "hardware");
    let refusal = refused(ledger.execute(&rules, transfer(&to), &ana().into(), T));
    assert_eq!(refusal, Refusal::LimitExceeded { what: "bytes in the staff id", max: 256, actual: 257 });

    // The person asking is held to it too: their ids are written on every event.
    let by = Actor::staff("ana", long.as_str());
    let refusal = refused(ledger.execute(&rules, note("hello"), &by, T));
    assert_eq!(refusal, Refusal::LimitExceeded { what: "bytes in the department", max: 256, actual: 257 });

    let refusal = refused(ledger.execute(&rules, work(&long), &ana().into(), T));
    assert_eq!(refusal, Refusal::LimitExceeded { what: "bytes in the work item id", max: 256, actual: 257 });
    let refusal = refused(ledger.execute(&rules, fact(&long, "v"), &ana().into(), T));
    assert_eq!(refusal, Refusal::LimitExceeded { what: "bytes in the fact name", max: 256, actual: 257 });
    let refusal = refused(ledger.execute(&rules, incident(&long), &ana().into(), T));
    assert_eq!(refusal, Refusal::LimitExceeded { what: "bytes in the incident id", max: 256, actual: 257 });

    let opening = Opening::new(long.as_str(), "my laptop works", ana());
    let err = rules.open(CaseId::new_v7(T, [1; 10]), opening, &Actor::customer(long.as_str()), T).unwrap_err();
    assert_eq!(err, Refusal::LimitExceeded { what: "bytes in the customer reference", max: 256, actual: 257 });
    assert_eq!(ledger.events().len(), 1, "nothing was recorded");

    // "cust-1042", the longest id of the opening, is 9 bytes.
    let strict = limits(|l| l.max_id_bytes = 9);
    let refusal = Refusal::LimitExceeded { what: "bytes in the work item id", max: 9, actual: 10 };
    replay_refuses(&Rules::default(), vec![work("SW-123456"), work("SW-1234567")], &strict, 3, refusal);
}

#[test]
fn facts_beyond_the_cap_are_refused_but_a_known_fact_can_still_change() {
    let rules = Rules::default().with_limits(limits(|l| l.max_facts = 2));
    let mut ledger = open(&rules);
    ledger.execute(&rules, fact("serial", "SN-1"), &ana().into(), T).unwrap();
    ledger.execute(&rules, fact("email", "a@b.example"), &ana().into(), T).unwrap();
    ledger.execute(&rules, fact("serial", "SN-2"), &ana().into(), T).unwrap();
    let refusal = refused(ledger.execute(&rules, fact("phone", "555"), &ana().into(), T));
    assert_eq!(refusal, Refusal::LimitExceeded { what: "facts on a case", max: 2, actual: 3 });

    let strict = limits(|l| l.max_facts = 1);
    let refusal = Refusal::LimitExceeded { what: "facts on a case", max: 1, actual: 2 };
    replay_refuses(&Rules::default(), vec![fact("a", "1"), fact("a", "2"), fact("b", "3")], &strict, 4, refusal);
}

#[test]
fn work_items_beyond_the_cap_are_refused_even_when_earlier_ones_are_closed() {
    let rules = Rules::default().with_limits(limits(|l| l.max_work_items = 1));
    let mut ledger = open(&rules);
    ledger.execute(&rules, work("SW-1"), &ana().into(), T).unwrap();
    let done = Command::CompleteWork { item: "SW-1".into(), note: "done".into() };
    ledger.execute(&rules, done, &ana().into(), T).unwrap();
    let refusal = refused(ledger.execute(&rules, work("SW-2"), &ana().into(), T));
    assert_eq!(refusal, Refusal::LimitExceeded { what: "work items on a case", max: 1, actual: 2 });

    let refusal = Refusal::LimitExceeded { what: "work items on a case", max: 1, actual: 2 };
    replay_refuses(&Rules::default(), vec![work("SW-1"), work("SW-2")], &limits(|l| l.max_work_items = 1), 3, refusal);
}

#[test]
fn owners_beyond_the_cap_are_refused_but_handing_back_is_not() {
    let rules = Rules::default().with_limits(limits(|l| l.max_owners = 2));
    let bo = Staff::new("bo", "hardware");
    let cy = Staff::new("cy", "tier-2");
    let mut ledger = open(&rules);
    ledger.execute(&rules, transfer(&bo), &ana().into(), T).unwrap();
    let refusal = refused(ledger.execute(&rules, transfer(&cy), &bo.clone().into(), T));
    assert_eq!(refusal, Refusal::LimitExceeded { what: "distinct owners of a case", max: 2, actual: 3 });
    let escalate = |to: &Staff| Command::Escalate { to: to.clone(), reason: "customer waited a week".into() };
    let refusal = refused(ledger.execute(&rules, escalate(&cy), &bo.clone().into(), T));
    assert_eq!(refusal, Refusal::LimitExceeded { what: "distinct owners of a case", max: 2, actual: 3 });
    // Ping-pong between the same two is not capped here (a bounce policy may refuse it).
    for _ in 0..5 {
        ledger.execute(&rules, transfer(&ana()), &bo.clone().into(), T).unwrap();
        ledger.execute(&rules, transfer(&bo), &ana().into(), T).unwrap();
    }
    assert_eq!(ledger.case().counters().handoffs, 11);

    let refusal = Refusal::LimitExceeded { what: "distinct owners of a case", max: 1, actual: 2 };
    replay_refuses(&Rules::default(), vec![transfer(&bo)], &limits(|l| l.max_owners = 1), 2, refusal);
}

#[test]
fn events_beyond_the_cap_are_refused() {
    let rules = Rules::default().with_limits(limits(|l| l.max_events = 3));
    let mut ledger = open(&rules);
    ledger.execute(&rules, note("one"), &ana().into(), T).unwrap();
    ledger.execute(&rules, note("two"), &ana().into(), T).unwrap();
    let refusal = refused(ledger.execute(&rules, note("three"), &ana().into(), T));
    assert_eq!(refusal, Refusal::LimitExceeded { what: "events on a case", max: 3, actual: 4 });

    let none = Rules::default().with_limits(limits(|l| l.max_events = 0));
    let opening = Opening::new("cust-1042", "my laptop works", ana());
    let err = none.open(CaseId::new_v7(T, [1; 10]), opening, &Actor::customer("cust-1042"), T).unwrap_err();
    assert_eq!(err, Refusal::LimitExceeded { what: "events on a case", max: 0, actual: 1 });

    let refusal = Refusal::LimitExceeded { what: "events on a case", max: 2, actual: 3 };
    replay_refuses(&Rules::default(), vec![note("one"), note("two")], &limits(|l| l.max_events = 2), 3, refusal);
}

#[test]
fn incidents_beyond_the_cap_are_refused() {
    let rules = Rules::default().with_limits(limits(|l| l.max_incidents = 1));
    let mut ledger = open(&rules);
    ledger.execute(&rules, incident("fire-0612"), &ana().into(), T).unwrap();
    let refusal = refused(ledger.execute(&rules, incident("outage-17"), &ana().into(), T));
    assert_eq!(refusal, Refusal::LimitExceeded { what: "incidents on a case", max: 1, actual: 2 });

    let refusal = Refusal::LimitExceeded { what: "incidents on a case", max: 1, actual: 2 };
    let commands = vec![incident("fire-0612"), incident("outage-17")];
    replay_refuses(&Rules::default(), commands, &limits(|l| l.max_incidents = 1), 3, refusal);
}

#[test]
fn apply_with_limits_leaves_the_case_unchanged_when_refusing() {
    let rules = Rules::default();
    let mut ledger = open(&rules);
    let events = rules.decide(ledger.case(), note("a long note"), &ana().into(), T).unwrap();
    let mut case = ledger.case().clone();
    let strict = limits(|l| l.max_text_bytes = 4);
    let err = case.apply_with_limits(&events[0], &strict).unwrap_err();
    assert_eq!(err.seq(), Some(2));
    assert_eq!(&case, ledger.case());
    case.apply_with_limits(&events[0], &Limits::default()).unwrap();
    ledger.append(events).unwrap();
    assert_eq!(&case, ledger.case());
}

#[test]
fn a_line_longer_than_the_cap_is_refused_before_it_is_parsed() {
    let ledger = open(&Rules::default());
    let line = encode_log(ledger.events()).unwrap();
    let len = line.trim_end().len();
    let exact = limits(|l| l.max_line_bytes = len);
    assert_eq!(decode_log_with_limits(&line, &exact).unwrap(), ledger.events());

    let short = limits(|l| l.max_line_bytes = len - 1);
    let log = format!("\n{line}");
    assert_eq!(
        decode_log_with_limits(&log, &short),
        Err(DecodeError::LineTooLong { line: 2, bytes: len, max: len - 1 })
    );
    // Not even garbage is parsed once it is too long: the length is all that is read.
    let garbage = "{".repeat(100);
    assert_eq!(
        decode_log_with_limits(&garbage, &limits(|l| l.max_line_bytes = 99)),
        Err(DecodeError::LineTooLong { line: 1, bytes: 100, max: 99 })
    );
}

#[test]
fn a_log_with_more_events_than_the_cap_is_refused_at_the_first_one_over() {
    let rules = Rules::default();
    let mut ledger = open(&rules);
    ledger.execute(&rules, note("one"), &ana().into(), T).unwrap();
    ledger.execute(&rules, note("two"), &ana().into(), T).unwrap();
    let log = encode_log(ledger.events()).unwrap().replace('\n', "\n\n");
    let two = limits(|l| l.max_events = 2);
    assert_eq!(decode_log_with_limits(&log, &two), Err(DecodeError::TooManyEvents { line: 5, max: 2 }));
    let three = limits(|l| l.max_events = 3);
    assert_eq!(decode_log_with_limits(&log, &three).unwrap(), ledger.events());
    // The lines are counted before any is decoded: a log over the cap is refused for
    // its length even when its first line would not decode.
    let garbage_first = format!("{{not an event\n{log}");
    assert_eq!(decode_log_with_limits(&garbage_first, &two), Err(DecodeError::TooManyEvents { line: 4, max: 2 }));
    assert!(matches!(
        decode_log_with_limits(&garbage_first, &limits(|l| l.max_events = 4)),
        Err(DecodeError::Syntax { line: 1, .. })
    ));
}

/// The default line cap is meant to let every event decided under the default limits be
/// read back: try the widest events, with every id and text at its cap and made of the
/// characters JSON escapes (quotes and backslashes, two bytes to the byte; the control
/// characters JSON writes six bytes to the byte are refused when deciding).
#[test]
fn every_event_decided_within_the_default_limits_fits_the_default_line_cap() {
    let rules = Rules::default();
    let d = rules.limits().clone();
    let id = |c: char| c.to_string().repeat(d.max_id_bytes);
    let text = "\"".repeat(d.max_text_bytes);
    let widest = Staff::new(id('\\'), id('"'));
    let at = datetime!(9999-12-31 23:59:59.999_999_999 UTC);
    let opening = Opening::new(id('\\'), text.as_str(), widest.clone());
    let opened = rules.open(CaseId::new_v7(at, [0xff; 10]), opening, &Actor::Staff(widest.clone()), at).unwrap();
    let mut ledger = Ledger::from_events(vec![opened]).unwrap();
    let other = Staff::new(id('"'), id('\\'));
    let commands = [
        Command::Transfer { to: other.clone(), note: text.clone() },
        Command::OpenWork { item: id('"').into(), department: id('\\').into(), title: text.clone() },
        Command::RecordFact { name: id('"'), value: text.clone(), visibility: Visibility::Internal },
        Command::RecordReachability { channel: Channel::InPerson, reachable: false, note: text.clone() },
    ];
    for command in commands {
        ledger.execute(&rules, command, &Actor::Staff(ledger.case().owner().clone()), at).unwrap();
    }
    let log = encode_log(ledger.events()).unwrap();
    let widest_line = log.lines().map(str::len).max().unwrap();
    assert!(widest_line > 2 * d.max_text_bytes, "the texts were escaped: {widest_line}");
    assert!(widest_line <= d.max_line_bytes / 2, "{widest_line} bytes leaves the default cap a wide margin");
    assert_eq!(decode_log_with_limits(&log, &d).unwrap(), ledger.events());
    assert_eq!(Case::replay_with_limits(ledger.events(), &d).as_ref(), Ok(ledger.case()));
}

#[test]
fn limits_only_refuse_they_never_change_what_is_read() {
    let rules = Rules::default();
    let mut ledger = open(&rules);
    ledger.execute(&rules, note("one"), &ana().into(), T).unwrap();
    let log = encode_log(ledger.events()).unwrap();
    assert_eq!(decode_log_with_limits(&log, &Limits::default()), decode_log(&log));
    assert_eq!(Case::replay_with_limits(ledger.events(), &Limits::default()), Case::replay(ledger.events()));
}

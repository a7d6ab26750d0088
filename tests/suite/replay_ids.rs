//! I5 at replay: no two events of a log share an id, whether the ids come in time order
//! (as this crate mints them) or in any order a host's own ids come in.

use caseledger::{
    error::LogError, event::Visibility, id::EventId, Actor, Case, CaseId, Command, Event, Ledger, Opening, Rules, Staff,
};
use time::macros::datetime;
use uuid::Uuid;

fn log_of_notes(n: usize) -> Vec<Event> {
    let rules = Rules::default();
    let ana = Staff::new("ana", "software");
    let t = datetime!(2026-11-23 09:00 UTC);
    let opening = Opening::new("cust-7", "my laptop works", ana.clone());
    let mut ledger = Ledger::open(&rules, CaseId::new_v7(t, [9; 10]), opening, &Actor::customer("cust-7"), t).unwrap();
    for i in 1..n {
        let note = Command::AddNote { text: format!("note {i}"), visibility: Visibility::Internal };
        ledger.execute(&rules, note, &ana.clone().into(), t + time::Duration::minutes(i as i64)).unwrap();
    }
    ledger.into_events()
}

#[test]
fn ids_minted_by_decide_increase_and_replay_accepts_them() {
    let events = log_of_notes(50);
    assert!(events.windows(2).all(|w| w[0].id < w[1].id), "v7 ids follow the log's time order");
    assert_eq!(Case::replay(&events).unwrap().version(), 50);
}

#[test]
fn a_host_s_own_ids_in_any_order_are_accepted_when_unique() {
    let mut events = log_of_notes(20);
    for (i, event) in events.iter_mut().enumerate() {
        // Descending, not time-ordered: the host's own numbering scheme.
        event.id = EventId::from_uuid(Uuid::from_u128(1_000 - i as u128));
    }
    assert_eq!(Case::replay(&events).unwrap().version(), 20);
}

#[test]
fn a_repeated_id_names_the_repeat_and_the_event_that_had_it_first() {
    let mut events = log_of_notes(30);
    events[24].id = events[6].id;
    events[17].id = events[3].id;
    // Both repeats are found; the earliest repeat in the log is reported.
    assert_eq!(Case::replay(&events), Err(LogError::DuplicateEventId { seq: 18, id: events[3].id, first: 4 }));
}

#[test]
fn a_repeated_id_is_found_among_unordered_ids_too() {
    let mut events = log_of_notes(10);
    for (i, event) in events.iter_mut().enumerate() {
        event.id = EventId::from_uuid(Uuid::from_u128(((i as u128) * 7) % 10));
    }
    events[9].id = events[2].id;
    let err = Case::replay(&events).unwrap_err();
    assert_eq!(err, LogError::DuplicateEventId { seq: 10, id: events[2].id, first: 3 });
}

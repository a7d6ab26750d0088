//! Timeline pages (issue 10, item 8): a page (after a sequence number, at most N
//! entries) reads exactly like those entries of the whole timeline, built from the
//! events of the page and the case alone.

use crate::support::{cmd, staff, Desk, T0};
use caseledger::testkit::{valid_logs, Config};
use caseledger::{error::LogError, event::Channel, timeline::View, Case, CaseId, Timeline};
use proptest::prelude::*;

/// What a tail of the log alone gets wrong: the department of work opened before the
/// tail, and the owner's department when the customer writes.
#[test]
fn a_tail_alone_loses_what_a_page_keeps() {
    let ana = staff("ana", "software");
    let bo = staff("bo", "hardware");
    let mut desk = Desk::open("my laptop works", &ana);
    desk.ok(ana.clone(), cmd::open_work("P-1", "parts", "order a fan"));
    desk.ok(ana.clone(), cmd::transfer(&bo, "fan"));
    desk.ok(crate::support::customer(), cmd::reply(Channel::Email, "still loud"));
    desk.ok(bo.clone(), cmd::complete("P-1", "fan shipped"));
    let events = desk.ledger.events();
    let whole = Timeline::staff(events);

    let tail = Timeline::staff(&events[3..]);
    assert_eq!(tail.entries()[0].concerns, None, "the tail does not know who owned the case");
    assert_eq!(tail.entries()[1].concerns, None, "nor whose work P-1 is");

    let page = Timeline::page(View::Staff, desk.case(), 3, 10, &events[3..]).unwrap();
    assert_eq!(page.entries(), &whole.entries()[3..]);
    assert_eq!(page.entries()[0].concerns, Some("hardware".into()));
    assert_eq!(page.entries()[1].concerns, Some("parts".into()));
    assert_eq!(desk.ledger.timeline_page(View::Staff, 3, 1).unwrap().entries(), &whole.entries()[3..4]);
}

#[test]
fn a_page_needs_a_case_that_reached_its_start_and_events_without_gaps() {
    let ana = staff("ana", "software");
    let mut desk = Desk::open("my laptop works", &ana);
    desk.ok(ana.clone(), cmd::internal_note("one"));
    desk.ok(ana.clone(), cmd::internal_note("two"));
    let events = desk.ledger.events().to_vec();
    let early = Case::replay(&events[..1]).unwrap();
    assert_eq!(
        Timeline::page(View::Staff, &early, 2, 5, &events[2..]),
        Err(LogError::SequenceGap { expected: 2, found: 3 })
    );
    assert_eq!(
        Timeline::page(View::Staff, desk.case(), 0, 5, [&events[0], &events[2]]),
        Err(LogError::SequenceGap { expected: 2, found: 3 })
    );
    let other = Desk::open_case(caseledger::Rules::default(), CaseId::new_v7(T0, [9; 10]), "x", &ana);
    assert!(matches!(
        Timeline::page(View::Staff, other.case(), 0, 5, &events),
        Err(LogError::ForeignCase { seq: 1, .. })
    ));
    assert_eq!(desk.ledger.timeline_page(View::Staff, 9, 5), Err(LogError::SequenceGap { expected: 4, found: 10 }));
}

proptest! {
    /// For any valid log, any start and any size, in both views, and with the case at
    /// the page's start or at the end of the log: the page is the slice of the whole.
    #[test]
    fn every_page_equals_its_slice_of_the_whole_timeline(
        log in valid_logs(&Config::default()),
        start in any::<prop::sample::Index>(),
        limit in 0usize..12,
        customer in any::<bool>(),
        stale in any::<bool>(),
    ) {
        let view = if customer { View::Customer } else { View::Staff };
        let whole = Timeline::build(view, &log);
        let n = start.index(log.len() + 1);
        let after = u64::try_from(n).unwrap();
        let expected: Vec<_> = whole.entries().iter().filter(|e| e.seq > after).take(limit).cloned().collect();
        let current = Case::replay(&log).unwrap();
        // A case that has folded exactly up to the page's start (or the opening).
        let at_start = Case::replay(&log[..n.max(1)]).unwrap();
        let case = if stale && after >= 1 { &at_start } else { &current };
        let tail = &log[n..];
        let page = Timeline::page(view, case, after, limit, tail).unwrap();
        prop_assert_eq!(page.entries(), &expected[..]);
        prop_assert_eq!(page.view(), view);
        // The whole log as input gives the same page: earlier events are skipped.
        prop_assert_eq!(Timeline::page(view, &current, after, limit, &log).unwrap(), page);
    }

    /// The case knows who owned it after every event.
    #[test]
    fn the_owner_at_every_event_is_the_owner_of_that_prefix(log in valid_logs(&Config::default())) {
        let case = Case::replay(&log).unwrap();
        for n in 1..=log.len() {
            let prefix = Case::replay(&log[..n]).unwrap();
            prop_assert_eq!(case.owner_at(n as u64), Some(prefix.owner()));
            prop_assert_eq!(prefix.owner_acquired(), case_owner_acquired_at(&log[..n]));
        }
        prop_assert_eq!(case.owner_at(0), None);
        prop_assert_eq!(case.owner_at(log.len() as u64 + 1), None);
    }
}

/// How the owner got the case, read off the log by hand: the last handoff's kind.
fn case_owner_acquired_at(log: &[caseledger::Event]) -> caseledger::case::Acquisition {
    use caseledger::{case::Acquisition, EventKind};
    log.iter()
        .rev()
        .find_map(|e| match e.what {
            EventKind::Transferred { .. } => Some(Acquisition::Transferred),
            EventKind::Escalated { .. } => Some(Acquisition::Escalated),
            _ => None,
        })
        .unwrap_or(Acquisition::Opened)
}

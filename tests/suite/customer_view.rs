//! Customer view safety: whatever happened on a case, the customer's timeline never shows
//! an internal note, an internal fact, a handoff note, an escalation reason or the staff's
//! own coordination (work items, requests for confirmation), in any rendering, while it
//! still shows every customer-visible event, once, in order.
//!
//! Histories come from a small generator here: steps chosen at random, given by whoever
//! may give them, with every text that must stay inside marked `SECRET-n` and every other
//! text marked `said-n`, so a leak is a plain substring.

use caseledger::{
    event::{Channel, Ending, Visibility},
    timeline::View,
    Actor, CaseId, Command, Event, EventKind, Ledger, Opening, Rules, Staff, Timeline,
};
use proptest::prelude::*;
use time::macros::datetime;

/// One thing that happens on a case. Indices pick a person or an earlier work item.
#[derive(Clone, Debug)]
enum Step {
    Note(Visibility),
    Fact(Visibility),
    Transfer(usize),
    Escalate(usize),
    OpenWork,
    CompleteWork(usize),
    DropWork(usize),
    Contact,
    Reply,
    Confirm,
    Dispute,
    RequestConfirmation,
    Reachability(bool),
    LinkIncident,
    Resolve,
    Withdraw,
    Reopen,
}

fn visibility() -> impl Strategy<Value = Visibility> {
    prop_oneof![Just(Visibility::Internal), Just(Visibility::Customer)]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => visibility().prop_map(Step::Note),
        3 => visibility().prop_map(Step::Fact),
        2 => any::<usize>().prop_map(Step::Transfer),
        1 => any::<usize>().prop_map(Step::Escalate),
        2 => Just(Step::OpenWork),
        2 => any::<usize>().prop_map(Step::CompleteWork),
        1 => any::<usize>().prop_map(Step::DropWork),
        1 => Just(Step::Contact),
        1 => Just(Step::Reply),
        1 => Just(Step::Confirm),
        1 => Just(Step::Dispute),
        1 => Just(Step::RequestConfirmation),
        1 => any::<bool>().prop_map(Step::Reachability),
        1 => Just(Step::LinkIncident),
        1 => Just(Step::Resolve),
        1 => Just(Step::Withdraw),
        1 => Just(Step::Reopen),
    ]
}

const STAFF: [(&str, &str); 4] = [("ana", "software"), ("bo", "hardware"), ("cy", "parts"), ("dee", "tier-2")];

/// Plays `steps` on a new case; steps the rules refuse are skipped, as a real desk would.
fn history(steps: &[Step]) -> Vec<Event> {
    let rules = Rules::default();
    let t0 = datetime!(2026-11-23 09:00 UTC);
    let ana = Staff::new("ana", "software");
    let opening = Opening::new("cust-1042", "said-0 my laptop works", ana);
    let mut ledger =
        Ledger::open(&rules, CaseId::new_v7(t0, [1; 10]), opening, &Actor::customer("cust-1042"), t0).unwrap();
    for (n, step) in (1..).zip(steps) {
        let secret = format!("SECRET-{n}");
        let said = format!("said-{n}");
        let text = |v: &Visibility| if *v == Visibility::Internal { secret.clone() } else { said.clone() };
        let person = |i: usize| Staff::new(STAFF[i % STAFF.len()].0, STAFF[i % STAFF.len()].1);
        let work: Vec<_> = ledger.case().open_work().map(|w| w.id.clone()).collect();
        let pick = |i: usize| work.get(i % work.len().max(1)).cloned().unwrap_or_else(|| "none".into());
        let (command, by) = match step {
            Step::Note(v) => (Command::AddNote { text: text(v), visibility: *v }, None),
            Step::Fact(v) => {
                (Command::RecordFact { name: format!("{} name", text(v)), value: text(v), visibility: *v }, None)
            }
            Step::Transfer(i) => (Command::Transfer { to: person(*i), note: secret }, None),
            Step::Escalate(i) => (Command::Escalate { to: person(*i), reason: secret }, None),
            Step::OpenWork => {
                let department = ledger.case().owner().department.clone();
                (Command::OpenWork { item: format!("W-{n}").into(), department, title: secret }, None)
            }
            Step::CompleteWork(i) => (Command::CompleteWork { item: pick(*i), note: secret }, None),
            Step::DropWork(i) => (Command::DropWork { item: pick(*i), reason: secret }, None),
            Step::Contact => (Command::ContactCustomer { channel: Channel::Email, message: said }, None),
            Step::Reply => {
                (Command::RecordReply { channel: Channel::Phone, message: said }, Some(crate::support::customer()))
            }
            Step::Confirm => (Command::ConfirmOutcome { statement: said }, Some(crate::support::customer())),
            Step::Dispute => (Command::DisputeOutcome { statement: said }, Some(crate::support::customer())),
            Step::RequestConfirmation => (Command::RequestConfirmation { reason: secret }, None),
            Step::Reachability(r) => {
                (Command::RecordReachability { channel: Channel::Sms, reachable: *r, note: said }, None)
            }
            Step::LinkIncident => (Command::LinkIncident { incident: format!("fire-{n}").into() }, None),
            Step::Resolve => (Command::Resolve { summary: said }, None),
            Step::Withdraw => (
                Command::CloseUnresolved { ending: Ending::Withdrawn, evidence: said },
                Some(crate::support::customer()),
            ),
            Step::Reopen => (Command::Reopen { reason: said }, Some(crate::support::customer())),
        };
        let by = by.unwrap_or_else(|| Actor::Staff(ledger.case().owner().clone()));
        let at = t0 + time::Duration::minutes(n);
        let _refused_steps_are_skipped = ledger.execute(&rules, command, &by, at);
    }
    ledger.into_events()
}

/// Every rendering of a timeline a customer could be shown.
fn renderings(timeline: &Timeline) -> [String; 3] {
    [timeline.to_string(), timeline.to_json().unwrap(), timeline.to_mermaid()]
}

/// The markers a log carries in its JSON.
fn markers(events: &[Event], prefix: &str) -> Vec<String> {
    let json: String = events.iter().map(|e| e.to_json().unwrap()).collect();
    json.match_indices(prefix)
        .map(|(i, _)| json[i..].chars().take_while(|c| *c == '-' || c.is_alphanumeric()).collect())
        .collect()
}

fn is_internal_kind(what: &EventKind) -> bool {
    matches!(
        what,
        EventKind::WorkOpened { .. }
            | EventKind::WorkCompleted { .. }
            | EventKind::WorkDropped { .. }
            | EventKind::ConfirmationRequested { .. }
            | EventKind::NoteAdded { visibility: Visibility::Internal, .. }
            | EventKind::FactRecorded { visibility: Visibility::Internal, .. }
    )
}

fn assert_customer_view_is_safe(events: &[Event]) {
    let customer = Timeline::customer(events);
    assert_eq!(customer.view(), View::Customer);
    for rendering in renderings(&customer) {
        assert!(!rendering.contains("SECRET"), "a secret reached the customer:\n{rendering}");
    }
    let shown: Vec<u64> = customer.entries().iter().map(|e| e.seq).collect();
    let visible: Vec<u64> = events.iter().filter(|e| !is_internal_kind(&e.what)).map(|e| e.seq).collect();
    assert_eq!(shown, visible, "every customer-visible event once, in order, and nothing else");
    assert!(customer.entries().iter().all(|e| e.visibility == Visibility::Customer));
}

proptest! {
    #[test]
    fn nothing_internal_ever_reaches_the_customer_view(steps in proptest::collection::vec(step(), 0..40)) {
        let events = history(&steps);
        assert_customer_view_is_safe(&events);

        // The secrets were really written down, and staff read every one of them.
        let staff = Timeline::staff(&events).to_string();
        for secret in markers(&events, "SECRET-") {
            prop_assert!(staff.contains(&secret), "staff cannot read {secret}");
        }
        // What the customer said or was told is all there for them.
        let customer = Timeline::customer(&events).to_string();
        for said in markers(&events, "said-") {
            let in_reachability_or_evidence = events.iter().any(|e| match &e.what {
                EventKind::ReachabilityRecorded { note, .. } => note.contains(&said),
                EventKind::ClosedUnresolved { evidence, .. } => evidence.contains(&said),
                _ => false,
            });
            prop_assert!(in_reachability_or_evidence || customer.contains(&said), "{said} missing:\n{customer}");
        }
    }

    /// The projection does not rely on the fold: even a forged, unreplayable log with
    /// internal events in any order shows the customer nothing internal.
    #[test]
    fn a_forged_log_shows_the_customer_nothing_internal(kinds in proptest::collection::vec((0..10u8, visibility()), 0..30)) {
        let t = datetime!(2026-11-23 09:00 UTC);
        let case = CaseId::new_v7(t, [2; 10]);
        let bo = Staff::new("bo", "hardware");
        let events: Vec<Event> = kinds.iter().zip(1..).map(|((k, v), seq)| {
            let secret = format!("SECRET-{seq}");
            let text = if *v == Visibility::Internal { secret.clone() } else { format!("said-{seq}") };
            let what = match k {
                0 => EventKind::NoteAdded { text: secret, visibility: Visibility::Internal },
                1 => EventKind::FactRecorded { name: secret.clone(), value: secret, visibility: Visibility::Internal },
                2 => EventKind::Transferred { to: bo.clone(), note: secret },
                3 => EventKind::Escalated { to: bo.clone(), reason: secret, level: 7 },
                4 => EventKind::WorkOpened { item: "W-1".into(), department: "hardware".into(), title: secret },
                5 => EventKind::WorkCompleted { item: "W-1".into(), note: secret },
                6 => EventKind::WorkDropped { item: "W-9".into(), reason: secret },
                7 => EventKind::ConfirmationRequested { reason: secret },
                8 => EventKind::NoteAdded { text, visibility: *v },
                _ => EventKind::FactRecorded { name: text.clone(), value: text, visibility: *v },
            };
            Event::new(case, seq, caseledger::id::EventId::from_uuid(uuid_for(seq)), t, Actor::Staff(bo.clone()), what)
        }).collect();
        assert_customer_view_is_safe(&events);
    }
}

fn uuid_for(seq: u64) -> uuid::Uuid {
    uuid::Uuid::from_u64_pair(0x0190_f5a3_7c1e_7a00, seq)
}

#[test]
fn handoff_notes_and_escalation_reasons_stay_with_staff() {
    let events = history(&[Step::Transfer(1), Step::Escalate(2), Step::Note(Visibility::Customer)]);
    assert_eq!(events.len(), 4, "all three steps were accepted");
    let customer = Timeline::customer(&events);
    let sentences: Vec<&str> = customer.entries().iter().map(|e| e.sentence.as_str()).collect();
    assert_eq!(
        sentences,
        [
            "Your case was opened: \"said-0 my laptop works\"",
            "Your case is now with the hardware team",
            "Your case was escalated to the parts team",
            "Note: \"said-3\"",
        ]
    );
    let staff = Timeline::staff(&events).to_string();
    assert!(staff.contains("SECRET-1") && staff.contains("SECRET-2"));
}

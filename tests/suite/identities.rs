//! Identities: who may speak for which case, which department and which side of the
//! counter. An event of another case, a staff member acting for a department the host's
//! directory says they are not in, and a customer acting as staff are all refused.

use std::collections::BTreeSet;

use crate::support::{ana, bo, T0 as T};
use caseledger::{
    error::LogError,
    event::{Channel, Ending, Visibility},
    id::{Department, StaffId},
    rules::Directory,
    Actor, Case, CaseId, Command, Error, Event, EventKind, Ledger, Opening, Refusal, Rules, Staff,
};

fn open(rules: &Rules, seed: u8) -> Ledger {
    let opening = Opening::new("cust-1042", "my laptop works", ana());
    Ledger::open(rules, CaseId::new_v7(T, [seed; 10]), opening, &Actor::customer("cust-1042"), T).unwrap()
}

/// The host's membership table.
#[derive(Debug, Clone)]
struct Members(BTreeSet<(&'static str, &'static str)>);

impl Members {
    fn of(pairs: &[(&'static str, &'static str)]) -> Self {
        Self(pairs.iter().copied().collect())
    }
}

impl Directory for Members {
    fn is_member(&self, staff: &StaffId, department: &Department) -> bool {
        self.0.iter().any(|(s, d)| staff.as_str() == *s && department.as_str() == *d)
    }
}

fn directory() -> Members {
    Members::of(&[("ana", "software"), ("bo", "hardware")])
}

fn refusal(result: Result<&[Event], Error>) -> Refusal {
    match result {
        Err(Error::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn not_a_member(staff: &str, department: &str) -> Refusal {
    Refusal::NotAMember { staff: staff.into(), department: department.into() }
}

// --- An event naming another case -------------------------------------------------

#[test]
fn an_event_of_another_case_is_refused_by_the_fold() {
    let rules = Rules::default();
    let mut mine = open(&rules, 1);
    let theirs = open(&rules, 2);
    let note = Command::AddNote { text: "for the other case".into(), visibility: Visibility::Internal };
    let foreign = rules.decide(theirs.case(), note, &ana().into(), T).unwrap();
    assert_eq!(foreign[0].seq, 2, "it would even fit the sequence");

    let before = mine.clone();
    let err = mine.append(foreign.clone()).unwrap_err();
    let expected = LogError::ForeignCase { seq: 2, expected: mine.case().id(), found: theirs.case().id() };
    assert_eq!(err, expected);
    assert_eq!(mine, before, "the ledger is unchanged");

    let mut case = mine.case().clone();
    assert_eq!(case.apply(&foreign[0]), Err(expected.clone()));
    let mut log = mine.events().to_vec();
    log.extend(foreign);
    assert_eq!(Case::replay(&log), Err(expected));
}

#[test]
fn decide_only_ever_writes_events_of_the_case_it_was_given() {
    let rules = Rules::default();
    let mut ledger = open(&rules, 1);
    let id = ledger.case().id();
    ledger.execute(&rules, Command::Transfer { to: bo(), note: "board next".into() }, &ana().into(), T).unwrap();
    let other = CaseId::new_v7(T, [9; 10]);
    let duplicate =
        Command::CloseUnresolved { ending: Ending::Duplicate { of: other }, evidence: "same laptop".into() };
    ledger.execute(&rules, duplicate, &bo().into(), T).unwrap();
    assert!(ledger.events().iter().all(|e| e.case == id));

    // Naming its own case as the one it duplicates is refused.
    let mut ledger = open(&rules, 3);
    let own = Command::CloseUnresolved {
        ending: Ending::Duplicate { of: ledger.case().id() },
        evidence: "same laptop".into(),
    };
    assert_eq!(refusal(ledger.execute(&rules, own, &ana().into(), T)), Refusal::DuplicateOfItself);
}

// --- Staff acting for a department they do not belong to --------------------------

#[test]
fn a_staff_member_acting_for_a_department_they_are_not_in_is_refused() {
    let rules = Rules::default().with_directory(directory());
    let mut ledger = open(&rules, 1);
    let ana_as_hardware = Actor::staff("ana", "hardware");
    let note = Command::AddNote { text: "hardware says hi".into(), visibility: Visibility::Internal };
    assert_eq!(refusal(ledger.execute(&rules, note.clone(), &ana_as_hardware, T)), not_a_member("ana", "hardware"));
    ledger.execute(&rules, note, &ana().into(), T).unwrap();

    let work = Command::OpenWork { item: "HW-1".into(), department: "hardware".into(), title: "swap board".into() };
    assert_eq!(refusal(ledger.execute(&rules, work, &ana_as_hardware, T)), not_a_member("ana", "hardware"));
    assert_eq!(ledger.events().len(), 2, "only the honest note was recorded");
}

#[test]
fn a_case_cannot_be_handed_to_someone_outside_the_department_named() {
    let rules = Rules::default().with_directory(directory());
    let mut ledger = open(&rules, 1);
    let bo_as_billing = Staff::new("bo", "billing");
    let transfer = Command::Transfer { to: bo_as_billing.clone(), note: "billing question".into() };
    assert_eq!(refusal(ledger.execute(&rules, transfer, &ana().into(), T)), not_a_member("bo", "billing"));
    let escalate = Command::Escalate { to: bo_as_billing, reason: "waited a week".into() };
    assert_eq!(refusal(ledger.execute(&rules, escalate, &ana().into(), T)), not_a_member("bo", "billing"));
    ledger.execute(&rules, Command::Transfer { to: bo(), note: "board next".into() }, &ana().into(), T).unwrap();
    assert_eq!(ledger.case().owner(), &bo());
}

#[test]
fn a_case_cannot_be_opened_for_or_by_someone_outside_their_department() {
    let rules = Rules::default().with_directory(directory());
    let id = CaseId::new_v7(T, [1; 10]);
    let owner_elsewhere = Opening::new("cust-1042", "my laptop works", Staff::new("ana", "warranty"));
    assert_eq!(rules.open(id, owner_elsewhere, &Actor::customer("cust-1042"), T), Err(not_a_member("ana", "warranty")));
    let opening = Opening::new("cust-1042", "my laptop works", ana());
    assert_eq!(rules.open(id, opening, &Actor::staff("bo", "software"), T), Err(not_a_member("bo", "software")));
}

/// Membership is the host's knowledge *now*; the fold has no directory, so a log stays
/// readable after people change departments, while new commands meet today's directory.
#[test]
fn a_log_recorded_under_yesterdays_directory_still_replays_after_someone_moves() {
    let yesterday = Rules::default().with_directory(Members::of(&[("ana", "software"), ("bo", "hardware")]));
    let mut ledger = open(&yesterday, 1);
    ledger.execute(&yesterday, Command::Transfer { to: bo(), note: "board next".into() }, &ana().into(), T).unwrap();
    let note = Command::AddNote { text: "ordered a board".into(), visibility: Visibility::Internal };
    ledger.execute(&yesterday, note.clone(), &bo().into(), T).unwrap();

    let today = Rules::default().with_directory(Members::of(&[("ana", "software"), ("bo", "warranty")]));
    assert_eq!(Case::replay(ledger.events()).as_ref(), Ok(ledger.case()));
    assert_eq!(refusal(ledger.execute(&today, note, &bo().into(), T)), not_a_member("bo", "hardware"));
}

// --- A customer acting as staff ----------------------------------------------------

/// Every command only staff may give, with the refusal the customer gets.
fn staff_only_commands(case: &Case) -> Vec<(Command, Refusal)> {
    let owner = case.owner().clone();
    let not_owner = |action| Refusal::NotOwner { action, owner: owner.clone(), by: crate::support::customer() };
    let staff_only = |action| Refusal::StaffOnly { action, by: crate::support::customer() };
    vec![
        (Command::Transfer { to: bo(), note: "take it".into() }, not_owner("transfer the case")),
        (Command::Escalate { to: bo(), reason: "I want a manager".into() }, not_owner("escalate the case")),
        (
            Command::OpenWork { item: "X-1".into(), department: "software".into(), title: "fix it".into() },
            staff_only("open work"),
        ),
        (Command::CompleteWork { item: "SW-1".into(), note: "done".into() }, staff_only("finish or drop work")),
        (Command::DropWork { item: "SW-1".into(), reason: "never mind".into() }, staff_only("finish or drop work")),
        (
            Command::RecordFact { name: "vip".into(), value: "yes".into(), visibility: Visibility::Internal },
            staff_only("record an internal fact"),
        ),
        (
            Command::AddNote { text: "staff: refund him".into(), visibility: Visibility::Internal },
            staff_only("write an internal note"),
        ),
        (
            Command::ContactCustomer { channel: Channel::Email, message: "all fixed".into() },
            staff_only("contact the customer"),
        ),
        (Command::Resolve { summary: "fixed".into() }, not_owner("resolve the case")),
        (
            Command::CloseUnresolved { ending: Ending::Unreachable, evidence: "no answer".into() },
            not_owner("close the case"),
        ),
        (Command::LinkIncident { incident: "fire-0612".into() }, staff_only("link an incident")),
        (Command::RequestConfirmation { reason: "outage over".into() }, staff_only("request confirmation")),
    ]
}

/// A case with software's work open and the outcome confirmed, so that every staff
/// command, resolving aside, is one the owner could give.
fn case_in_progress(rules: &Rules) -> Ledger {
    let mut ledger = open(rules, 1);
    let work = Command::OpenWork { item: "SW-1".into(), department: "software".into(), title: "BIOS".into() };
    ledger.execute(rules, work, &ana().into(), T).unwrap();
    let confirm = Command::ConfirmOutcome { statement: "it boots".into() };
    ledger.execute(rules, confirm, &crate::support::customer(), T).unwrap();
    ledger
}

#[test]
fn a_customer_cannot_give_a_staff_command() {
    let rules = Rules::default();
    let mut ledger = case_in_progress(&rules);
    let before = ledger.clone();
    for (command, expected) in staff_only_commands(ledger.case()) {
        let got = refusal(ledger.execute(&rules, command.clone(), &crate::support::customer(), T));
        assert_eq!(got, expected, "{command:?}");
    }
    assert_eq!(ledger, before, "nothing the customer tried was recorded");
}

#[test]
fn a_forged_log_where_the_customer_acts_as_staff_is_refused_at_that_event() {
    let rules = Rules::default();
    let ledger = case_in_progress(&rules);
    let mut forged = 0;
    for (command, expected) in staff_only_commands(ledger.case()) {
        // Decide it as the owner, then forge the actor, as a hand-edited log would.
        let owner = Actor::Staff(ledger.case().owner().clone());
        let Ok(mut events) = rules.decide(ledger.case(), command.clone(), &owner, T) else {
            continue; // Not even the owner may (for instance resolving with open work).
        };
        events[0].by = crate::support::customer();
        let mut log = ledger.events().to_vec();
        log.extend(events);
        let seq = log.len() as u64;
        assert_eq!(Case::replay(&log), Err(LogError::Broken { seq, refusal: expected }), "{command:?}");
        forged += 1;
    }
    assert_eq!(forged, 10, "all but resolving and closing (work is open) could be forged");
}

#[test]
fn the_customer_can_still_do_what_is_theirs_to_do() {
    let rules = Rules::default();
    let mut ledger = open(&rules, 1);
    let customer = crate::support::customer();
    let theirs = [
        Command::AddNote { text: "photo of the screen attached".into(), visibility: Visibility::Customer },
        Command::RecordReply { channel: Channel::Email, message: "still dead".into() },
        Command::RecordFact { name: "best time".into(), value: "mornings".into(), visibility: Visibility::Customer },
        Command::DisputeOutcome { statement: "it is not fixed".into() },
        Command::CloseUnresolved { ending: Ending::Withdrawn, evidence: "bought a new one".into() },
    ];
    for command in theirs {
        ledger.execute(&rules, command, &customer, T).unwrap();
    }
    assert!(ledger.case().is_closed());
}

#[test]
fn a_customer_posing_as_staff_is_caught_by_the_directory() {
    let rules = Rules::default().with_directory(directory());
    let mut ledger = open(&rules, 1);
    let posing = Actor::staff("cust-1042", "software");
    let note = Command::AddNote { text: "approve my refund".into(), visibility: Visibility::Internal };
    assert_eq!(refusal(ledger.execute(&rules, note, &posing, T)), not_a_member("cust-1042", "software"));
}

#[test]
fn the_system_cannot_speak_for_the_customer() {
    let rules = Rules::default();
    let mut ledger = open(&rules, 1);
    for command in [
        Command::ConfirmOutcome { statement: "auto-confirmed after 7 days".into() },
        Command::DisputeOutcome { statement: "auto".into() },
        Command::RecordReply { channel: Channel::Email, message: "auto-reply".into() },
    ] {
        let got = refusal(ledger.execute(&rules, command, &Actor::System, T));
        assert_eq!(got, Refusal::ConfirmationNotFromCustomer { by: Actor::System });
    }
    // A forged confirmation by the system is refused by the fold too (S2).
    let confirm = Command::ConfirmOutcome { statement: "it boots".into() };
    let mut events = Rules::default().decide(ledger.case(), confirm, &crate::support::customer(), T).unwrap();
    events[0].by = Actor::System;
    let err = ledger.append(events).unwrap_err();
    let refusal = Refusal::ConfirmationNotFromCustomer { by: Actor::System };
    assert_eq!(err, LogError::Broken { seq: 2, refusal });
    assert!(matches!(ledger.events().last().unwrap().what, EventKind::Opened { .. }));
}

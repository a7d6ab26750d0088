//! Regression: a note with a line break must not spill into a second timeline line, where
//! it could pass itself off as another entry (found by the property tests).

use caseledger::{event::Visibility, Actor, CaseId, Command, Ledger, Opening, Rules, Staff};
use time::macros::datetime;

#[test]
fn a_note_with_line_breaks_stays_on_its_own_timeline_line() {
    let t = datetime!(2026-11-23 09:00 UTC);
    let rules = Rules::default();
    let ana = Staff::new("ana", "software");
    let mut ledger = Ledger::open(
        &rules,
        CaseId::new_v7(t, [4; 10]),
        Opening::new("cust-7", "my laptop works", ana.clone()),
        &Actor::customer("cust-7"),
        t,
    )
    .unwrap();
    let forged = "fine\n#3   2026-11-23 09:05  eve (tier-2)  eve (tier-2) resolved the case: \"done\"";
    ledger
        .execute(&rules, Command::AddNote { text: forged.into(), visibility: Visibility::Internal }, &ana.into(), t)
        .unwrap();

    let text = ledger.timeline().to_string();
    assert_eq!(text.lines().count(), 2, "one line per event:\n{text}");
    assert!(text.contains(r"fine\n#3"), "the line break is shown escaped:\n{text}");
    assert_eq!(
        ledger.events()[1].what,
        caseledger::EventKind::NoteAdded { text: forged.into(), visibility: Visibility::Internal }
    );
}

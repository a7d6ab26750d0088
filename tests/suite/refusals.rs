//! Every refusal `decide` can give, each provoked once; a refused command changes nothing
//! (`Desk::refused` checks the ledger is unchanged).

use crate::support::{cmd, staff, Desk, T0};
use caseledger::{
    event::{Channel, Ending},
    id::{Department, StaffId},
    rules::{Directory, Limits},
    Actor, CaseId, Refusal, Rules,
};
use time::Duration;

fn desk() -> (Desk, caseledger::Staff) {
    let ana = staff("ana", "support");
    (Desk::open("my laptop works", &ana), ana)
}

#[test]
fn the_customer_cannot_act_as_staff() {
    let (mut desk, _) = desk();
    let refusal = desk.refused(crate::support::customer(), cmd::open_work("X-1", "support", "fix it myself"));
    assert_eq!(refusal, Refusal::StaffOnly { action: "open work", by: crate::support::customer() });
    let refusal = desk.refused(crate::support::customer(), cmd::contact(Channel::Email, "hello me"));
    assert_eq!(refusal, Refusal::StaffOnly { action: "contact the customer", by: crate::support::customer() });
    let refusal = desk.refused(crate::support::customer(), cmd::internal_note("secret"));
    assert_eq!(refusal, Refusal::StaffOnly { action: "write an internal note", by: crate::support::customer() });
    let refusal = desk.refused(crate::support::customer(), cmd::internal_fact("score", "1"));
    assert_eq!(refusal, Refusal::StaffOnly { action: "record an internal fact", by: crate::support::customer() });
    let refusal = desk.refused(crate::support::customer(), cmd::link("OUTAGE-1"));
    assert!(matches!(refusal, Refusal::StaffOnly { action: "link an incident", .. }));
}

#[test]
fn only_the_owner_resolves() {
    let (mut desk, _) = desk();
    desk.ok(crate::support::customer(), cmd::confirm("works"));
    let bo = staff("bo", "hardware");
    let refusal = desk.refused(bo.clone(), cmd::resolve("done"));
    assert_eq!(
        refusal,
        Refusal::NotOwner { action: "resolve the case", owner: staff("ana", "support"), by: bo.into() }
    );
    let same_person_other_department = staff("ana", "billing");
    assert!(matches!(desk.refused(same_person_other_department, cmd::resolve("done")), Refusal::NotOwner { .. }));
}

#[test]
fn work_still_open_blocks_resolution_even_after_confirmation() {
    let (mut desk, ana) = desk();
    desk.ok(ana.clone(), cmd::open_work("A", "support", "one"));
    desk.ok(ana.clone(), cmd::open_work("B", "support", "two"));
    desk.ok(crate::support::customer(), cmd::confirm("works"));
    let refusal = desk.refused(ana.clone(), cmd::resolve("done"));
    assert_eq!(refusal, Refusal::WorkStillOpen { items: vec!["A".into(), "B".into()] });
    let refusal = desk.refused(ana.clone(), cmd::close(Ending::Withdrawn, "customer left"));
    assert!(matches!(refusal, Refusal::WorkStillOpen { .. }), "no ending while work is open");
}

#[test]
fn work_items_must_exist_be_open_and_be_unique() {
    let (mut desk, ana) = desk();
    assert_eq!(
        desk.refused(ana.clone(), cmd::complete("NOPE", "done")),
        Refusal::UnknownWorkItem { item: "NOPE".into() }
    );
    desk.ok(ana.clone(), cmd::open_work("A", "support", "one"));
    assert_eq!(
        desk.refused(ana.clone(), cmd::open_work("A", "support", "again")),
        Refusal::DuplicateWorkItem { item: "A".into() }
    );
    desk.ok(ana.clone(), cmd::drop_work("A", "not needed"));
    assert_eq!(desk.refused(ana.clone(), cmd::complete("A", "done")), Refusal::WorkItemClosed { item: "A".into() });
}

#[test]
fn a_department_opens_work_only_for_itself_unless_it_owns_the_case() {
    let (mut desk, ana) = desk();
    let bo = staff("bo", "hardware");
    let refusal = desk.refused(bo.clone(), cmd::open_work("P-1", "parts", "order a fan"));
    assert!(matches!(refusal, Refusal::NotYourDepartment { .. }));
    desk.ok(ana, cmd::open_work("P-1", "parts", "order a fan"));
}

#[test]
fn reopening_an_open_case_is_refused() {
    let (mut desk, ana) = desk();
    assert_eq!(desk.refused(ana, cmd::reopen("why not")), Refusal::NotClosed);
}

#[test]
fn time_does_not_go_backwards() {
    let (mut desk, ana) = desk();
    desk.ok(ana.clone(), cmd::internal_note("first"));
    let before = desk.ledger.clone();
    let late = desk.now;
    // Beyond the clock skew tolerated (5 s by default; see tests/clock_skew.rs).
    let err = desk.ledger.execute(&desk.rules, cmd::internal_note("second"), &ana.into(), late - Duration::seconds(6));
    assert!(matches!(
        err,
        Err(caseledger::Error::Refused(Refusal::TimeBeforeLastEvent { at, last })) if last == late && at < last
    ));
    assert_eq!(desk.ledger, before);
}

#[test]
fn a_case_is_not_a_duplicate_of_itself_and_links_an_incident_once() {
    let (mut desk, ana) = desk();
    let me = desk.case().id();
    assert_eq!(desk.refused(ana.clone(), cmd::close(Ending::Duplicate { of: me }, "same")), Refusal::DuplicateOfItself);
    desk.ok(ana.clone(), cmd::link("OUTAGE-1"));
    assert_eq!(
        desk.refused(ana.clone(), cmd::link("OUTAGE-1")),
        Refusal::AlreadyLinked { incident: "OUTAGE-1".into() }
    );
    let other = CaseId::new_v7(T0, [9; 10]);
    desk.ok(ana, cmd::close(Ending::Duplicate { of: other }, "same customer, same outage"));
}

#[test]
fn texts_that_carry_the_story_must_not_be_empty() {
    let (mut desk, ana) = desk();
    let cases = [
        (cmd::open_work("A", "support", ""), "work item title"),
        (cmd::internal_note(" \n"), "note"),
        (cmd::contact(Channel::Email, ""), "message to the customer"),
        (cmd::reply(Channel::Email, ""), "customer's message"),
        (cmd::unreachable(Channel::Phone, ""), "note on why the channel cannot be used"),
        (cmd::ask_confirmation(""), "reason for asking confirmation"),
        (cmd::fact("", "x"), "fact name"),
    ];
    for (command, field) in cases {
        assert_eq!(desk.refused(ana.clone(), command), Refusal::EmptyText { field });
    }
    assert_eq!(
        desk.refused(crate::support::customer(), cmd::confirm("")),
        Refusal::EmptyText { field: "customer's statement" }
    );
}

#[test]
fn limits_cap_what_a_client_can_make_the_host_keep() {
    let ana = staff("ana", "support");
    let mut limits = Limits::default();
    limits.max_text_bytes = 10;
    limits.max_facts = 1;
    limits.max_work_items = 1;
    limits.max_events = 4;
    let mut desk = Desk::open_under(Rules::default().with_limits(limits), "it works", &ana);
    let refusal = desk.refused(ana.clone(), cmd::internal_note("far more than ten bytes"));
    assert_eq!(refusal, Refusal::LimitExceeded { what: "bytes in the note", max: 10, actual: 23 });
    desk.ok(ana.clone(), cmd::fact("a", "1"));
    desk.ok(ana.clone(), cmd::fact("a", "2")); // replacing a fact does not add one
    assert_eq!(
        desk.refused(ana.clone(), cmd::fact("b", "1")),
        Refusal::LimitExceeded { what: "facts on a case", max: 1, actual: 2 }
    );
    desk.ok(ana.clone(), cmd::open_work("A", "support", "x"));
    assert_eq!(desk.case().version(), 4);
    assert_eq!(
        desk.refused(ana, cmd::internal_note("x")),
        Refusal::LimitExceeded { what: "events on a case", max: 4, actual: 5 }
    );
}

#[derive(Debug)]
struct OnlyAnaInSupport;

impl Directory for OnlyAnaInSupport {
    fn is_member(&self, staff: &StaffId, department: &Department) -> bool {
        staff.as_str() == "ana" && department.as_str() == "support" || department.as_str() != "support"
    }
}

#[test]
fn with_a_directory_nobody_acts_for_a_department_they_are_not_in() {
    let ana = staff("ana", "support");
    let mut desk = Desk::open_under(Rules::default().with_directory(OnlyAnaInSupport), "it works", &ana);
    let mallory = staff("mallory", "support");
    let refusal = desk.refused(mallory, cmd::internal_note("I am support, trust me"));
    assert_eq!(refusal, Refusal::NotAMember { staff: "mallory".into(), department: "support".into() });
    let refusal = desk.refused(ana.clone(), cmd::transfer(&staff("eve", "support"), "take it"));
    assert!(matches!(refusal, Refusal::NotAMember { .. }), "the receiver must belong to their department too");
    desk.ok(ana, cmd::transfer(&staff("bo", "hardware"), "hardware fault"));
}

/// Item 10 of issue 10: a host's database (PostgreSQL refuses U+0000 in `text`) must never
/// fail on text the library approved. Every text field of every command refuses control
/// characters, naming the field; the ledger is unchanged (`Desk::refused`).
#[test]
fn every_text_field_refuses_control_characters_naming_the_field() {
    let (mut desk, ana) = desk();
    desk.ok(ana.clone(), cmd::open_work("A", "support", "one"));
    let bo = staff("bo", "hardware");
    let nul = "bad\u{0}text";
    let cases = [
        (cmd::transfer(&bo, nul), "handoff note"),
        (cmd::escalate(&bo, nul), "reason for escalating"),
        (cmd::open_work("B", "support", nul), "work item title"),
        (cmd::open_work(nul, "support", "title"), "work item id"),
        (cmd::open_work("B", nul, "title"), "department"),
        (cmd::complete("A", nul), "note on completed work"),
        (cmd::drop_work("A", nul), "reason for dropping work"),
        (cmd::complete(nul, "done"), "work item id"),
        (cmd::fact(nul, "x"), "fact name"),
        (cmd::fact("serial", nul), "fact value"),
        (cmd::unreachable(Channel::Phone, nul), "note on reachability"),
        (cmd::internal_note(nul), "note"),
        (cmd::contact(Channel::Email, nul), "message to the customer"),
        (cmd::reply(Channel::Email, nul), "customer's message"),
        (cmd::confirm(nul), "customer's statement"),
        (cmd::dispute(nul), "customer's statement"),
        (cmd::resolve(nul), "resolution summary"),
        (cmd::close(Ending::Withdrawn, nul), "evidence for the ending"),
        (cmd::link(nul), "incident id"),
        (cmd::ask_confirmation(nul), "reason for asking confirmation"),
        (cmd::transfer(&staff(nul, "hardware"), "over to you"), "staff id"),
        (cmd::transfer(&staff("bo", nul), "over to you"), "department"),
    ];
    for (command, field) in cases {
        let refusal = desk.refused(ana.clone(), command.clone());
        assert_eq!(refusal, Refusal::ControlCharacter { field, character: '\u{0}', offset: 3 }, "{command:?}");
    }
    // Who asks is text the log stores too.
    let refusal = desk.refused(staff("ana\u{1b}", "support"), cmd::internal_note("hello"));
    assert_eq!(refusal, Refusal::ControlCharacter { field: "staff id", character: '\u{1b}', offset: 3 });
    // Texts are checked before the case's own rules: a reopen names the text, too.
    desk.ok(ana.clone(), cmd::drop_work("A", "not needed"));
    desk.ok(ana.clone(), cmd::close(Ending::Withdrawn, "customer left"));
    assert_eq!(
        desk.refused(ana, cmd::reopen("again\u{7f}")),
        Refusal::ControlCharacter { field: "reason for reopening", character: '\u{7f}', offset: 5 }
    );
}

/// Which characters are control characters: Unicode's `Cc` category (C0, DEL and C1),
/// except tab, line feed and carriage return. Other invisible characters are not refused.
#[test]
fn only_tab_line_feed_and_carriage_return_pass_among_control_characters() {
    let (mut desk, ana) = desk();
    for ok in ["tab\there", "two\nlines", "windows\r\nline", "bidi \u{202e} and zero width \u{200b}", "ünïcödé ✓ 📞"]
    {
        desk.ok(ana.clone(), cmd::internal_note(ok));
    }
    for bad in ['\u{0}', '\u{1}', '\u{b}', '\u{c}', '\u{1f}', '\u{7f}', '\u{80}', '\u{85}', '\u{9f}'] {
        let text = format!("é{bad}");
        let refusal = desk.refused(ana.clone(), cmd::internal_note(&text));
        assert_eq!(refusal, Refusal::ControlCharacter { field: "note", character: bad, offset: 2 });
    }
    assert!(desk.refused(ana, cmd::internal_note("\u{0}")).to_string().contains("U+0000 at byte 0"));
}

#[test]
fn an_opening_refuses_control_characters_in_every_text() {
    use caseledger::Opening;
    let rules = Rules::default();
    let ana = staff("ana", "support");
    let id = CaseId::new_v7(T0, [4; 10]);
    let open = |opening: Opening, by: &Actor| rules.open(id, opening, by, T0).unwrap_err();
    let bad = "x\u{0}";
    let refusal = |field| Refusal::ControlCharacter { field, character: '\u{0}', offset: 1 };
    let customer = &Actor::customer("cust-7");
    assert_eq!(open(Opening::new("cust-7", bad, ana.clone()), customer), refusal("customer's outcome"));
    assert_eq!(open(Opening::new(bad, "it works", ana.clone()), &Actor::customer(bad)), refusal("customer reference"));
    assert_eq!(open(Opening::new("cust-7", "it works", staff(bad, "support")), customer), refusal("staff id"));
    assert_eq!(open(Opening::new("cust-7", "it works", staff("ana", bad)), customer), refusal("department"));
    assert_eq!(
        open(Opening::new("cust-7", "it works", ana.clone()), &Actor::staff(bad, "support")),
        refusal("staff id")
    );
}

// Overrides (S8) -------------------------------------------------------------------------

/// Hardware's lead may override; nobody else.
#[derive(Debug)]
struct LeadsOverride;

impl Directory for LeadsOverride {
    fn is_member(&self, _staff: &StaffId, _department: &Department) -> bool {
        true
    }

    fn may_override(&self, staff: &StaffId, _department: &Department, policy: &str) -> bool {
        staff.as_str() == "ana" && policy != "never_on_sunday"
    }
}

/// A host policy that does not declare itself overridable.
#[derive(Debug)]
struct NoNotesOnSunday;

impl caseledger::Policy for NoNotesOnSunday {
    fn name(&self) -> &str {
        "never_on_sunday"
    }

    fn check(&self, _case: &caseledger::Case, proposal: &caseledger::policy::Proposal<'_>) -> Result<(), String> {
        match proposal.what {
            caseledger::EventKind::NoteAdded { .. } => Err("no notes on Sunday".into()),
            _ => Ok(()),
        }
    }
}

fn override_desk() -> (Desk, caseledger::Staff) {
    let ana = staff("ana", "support");
    let rules = caseledger::PolicySet::default()
        .with(caseledger::policy::PolicyConfig::BounceLimit { max_bounces: 1 })
        .to_rules()
        .unwrap()
        .with_directory(LeadsOverride)
        .with_policy(NoNotesOnSunday);
    (Desk::open_under(rules, "my laptop works", &ana), ana)
}

fn overriding(policy: &str, reason: &str, command: caseledger::Command) -> caseledger::Command {
    caseledger::Command::Override { policy: policy.into(), reason: reason.into(), command: Box::new(command) }
}

const REASON: &str = "the customer asked for ana by name after two failed visits";

#[test]
fn overrides_name_a_configured_overridable_policy_never_an_invariant() {
    let (mut desk, ana) = override_desk();
    let refusal = desk.refused(ana.clone(), overriding("be_nice", REASON, cmd::internal_note("x")));
    assert_eq!(refusal, Refusal::UnknownPolicy { policy: "be_nice".into() });
    let refusal = desk.refused(ana.clone(), overriding("never_on_sunday", REASON, cmd::internal_note("x")));
    assert_eq!(refusal, Refusal::NotOverridable { policy: "never_on_sunday".into() });
    for (rule, invariant) in [
        ("outcome_gate", "I2 (outcome before resolution)"),
        ("I1", "I1 (one owner)"),
        ("case_closed", "I6 (closed means closed)"),
    ] {
        let refusal = desk.refused(ana.clone(), overriding(rule, REASON, cmd::resolve("works, surely")));
        assert_eq!(refusal, Refusal::InvariantNotOverridable { rule: rule.into(), invariant });
    }
}

#[test]
fn only_staff_the_directory_empowers_override_and_only_with_a_real_reason() {
    let (mut desk, ana) = override_desk();
    let bo = staff("bo", "hardware");
    desk.ok(ana.clone(), cmd::transfer(&bo, "fan"));
    desk.ok(bo.clone(), cmd::transfer(&ana, "not hardware after all"));
    assert_eq!(desk.case().counters().bounces, 1, "the limit is reached");
    let again = cmd::transfer(&bo, "hardware after all");
    let refusal = desk.refused(bo.clone(), overriding("bounce_limit", REASON, again.clone()));
    assert_eq!(refusal, Refusal::NotEmpoweredToOverride { by: bo.clone().into(), policy: "bounce_limit".into() });
    let refusal = desk.refused(crate::support::customer(), overriding("bounce_limit", REASON, again.clone()));
    assert!(matches!(refusal, Refusal::NotEmpoweredToOverride { by: Actor::Customer(_), .. }));
    // Ana is empowered, but not with a shrug for a reason.
    let refusal = desk.refused(ana.clone(), overriding("bounce_limit", "   because   ", again.clone()));
    assert_eq!(
        refusal,
        Refusal::OverrideReasonTooShort { min: caseledger::policy::MIN_OVERRIDE_REASON_CHARS, actual: 7 }
    );
    // With one, the override is recorded first, then the transfer it allowed.
    let events = desk.act(ana.clone(), overriding("bounce_limit", REASON, again)).unwrap();
    assert_eq!(events.iter().map(|e| e.what.tag()).collect::<Vec<_>>(), ["policy_overridden", "transferred"]);
    assert_eq!(desk.case().owner(), &bo);
    assert_eq!(desk.case().counters().overrides, 1);
}

#[test]
fn an_override_must_lift_a_refusal_and_lifts_only_the_policy_it_names() {
    let (mut desk, ana) = override_desk();
    let hello = cmd::contact(Channel::Email, "hello");
    let refusal = desk.refused(ana.clone(), overriding("bounce_limit", REASON, hello));
    assert_eq!(refusal, Refusal::NothingToOverride { policy: "bounce_limit".into() });
    let bo = staff("bo", "hardware");
    desk.ok(ana.clone(), cmd::transfer(&bo, "fan"));
    desk.ok(bo.clone(), cmd::transfer(&ana, "back, fan is fine"));
    // The note is refused by another, non-overridable policy: naming bounce_limit does not lift it.
    let refusal = desk.refused(ana.clone(), overriding("bounce_limit", REASON, cmd::internal_note("hello")));
    assert!(matches!(refusal, Refusal::Policy { ref policy, .. } if policy == "never_on_sunday"), "{refusal:?}");
    // Naming the same policy twice lifts it once; the second has nothing left to override.
    let twice = overriding("bounce_limit", REASON, overriding("bounce_limit", REASON, cmd::transfer(&bo, "again")));
    assert_eq!(desk.refused(ana.clone(), twice), Refusal::NothingToOverride { policy: "bounce_limit".into() });
    // An override never lifts a core rule, whatever policy it names.
    let refusal = desk.refused(ana, overriding("bounce_limit", REASON, cmd::transfer(&bo, "")));
    assert_eq!(refusal, Refusal::EmptyText { field: "handoff note" });
}

// Confirmations carry evidence (I2) ------------------------------------------------------

#[test]
fn staff_report_the_customers_words_only_after_hearing_them_on_that_channel() {
    let (mut desk, ana) = desk();
    assert_eq!(desk.refused(ana.clone(), cmd::confirm("works")), Refusal::NotTheCustomer { by: ana.clone().into() });
    assert_eq!(desk.refused(ana.clone(), cmd::dispute("broken")), Refusal::NotTheCustomer { by: ana.clone().into() });
    let opened = desk.now;
    let refusal = desk.refused(ana.clone(), cmd::confirm_reported(Channel::Phone, "works"));
    assert_eq!(refusal, Refusal::CustomerNotHeard { channel: Channel::Phone, since: T0 }, "{opened}");
    let refusal = desk.refused(crate::support::customer(), cmd::confirm_reported(Channel::Phone, "works"));
    assert_eq!(refusal, Refusal::StaffOnly { action: "report what the customer said", by: crate::support::customer() });
    let refusal = desk.refused(Actor::System, cmd::dispute_reported(Channel::Phone, "broken"));
    assert!(matches!(refusal, Refusal::ConfirmationNotFromCustomer { .. }));

    // A reply by e-mail is evidence for e-mail, not for the phone.
    desk.ok(crate::support::customer(), cmd::reply(Channel::Email, "it works since yesterday"));
    assert!(matches!(
        desk.refused(ana.clone(), cmd::confirm_reported(Channel::Phone, "x")),
        Refusal::CustomerNotHeard { .. }
    ));
    desk.ok(ana.clone(), cmd::confirm_reported(Channel::Email, "it works since yesterday"));
    // A new contact makes the earlier words stale: the customer has not answered it.
    desk.ok(ana.clone(), cmd::contact(Channel::Email, "still fine?"));
    let asked = desk.now;
    let refusal = desk.refused(ana.clone(), cmd::dispute_reported(Channel::Email, "broken again"));
    assert_eq!(refusal, Refusal::CustomerNotHeard { channel: Channel::Email, since: asked });
}

#[test]
fn a_conversation_is_live_by_staff_on_a_usable_channel_with_a_summary() {
    let (mut desk, ana) = desk();
    assert_eq!(
        desk.refused(ana.clone(), cmd::conversation(Channel::Letter, "wrote")),
        Refusal::NotALiveChannel { channel: Channel::Letter }
    );
    let refusal = desk.refused(crate::support::customer(), cmd::conversation(Channel::Phone, "I called"));
    assert!(matches!(refusal, Refusal::StaffOnly { action: "record a conversation with the customer", .. }));
    assert_eq!(
        desk.refused(ana.clone(), cmd::conversation(Channel::Phone, "  ")),
        Refusal::EmptyText { field: "summary of the conversation" }
    );
    desk.ok(ana.clone(), cmd::unreachable(Channel::Phone, "line is dead since the fire"));
    assert!(matches!(
        desk.refused(ana.clone(), cmd::conversation(Channel::Phone, "called")),
        Refusal::ChannelUnreachable { .. }
    ));
    desk.ok(ana.clone(), cmd::conversation(Channel::InPerson, "came to the shop: it works"));
    assert_eq!(desk.case().counters().contacts, 1, "a conversation is a contact, answered");
    assert_eq!(desk.case().counters().unanswered_contacts, 0);
    desk.ok(ana, cmd::confirm_reported(Channel::InPerson, "it works"));
}

//! The stories the library exists for (DESIGN.md S1–S7), told as tests in the
//! customer's terms. Invariants are cited as I1–I8.

use crate::support::{cmd, staff, Desk, T0};
use caseledger::{
    case::OutcomeState,
    event::{Channel, Ending, Visibility},
    policy::Proposal,
    Actor, Case, CaseId, EventKind, Policy, Refusal, Rules, Status, Timeline,
};
use time::Duration;

/// S1 — Nobody owns my problem. Four departments each close their own piece of work;
/// the laptop still does not work, so the case cannot be resolved.
#[test]
fn s1_every_department_done_but_the_laptop_still_fails_so_the_case_stays_open() {
    let ana = staff("ana", "software");
    let bo = staff("bo", "hardware");
    let pia = staff("pia", "parts");
    let wes = staff("wes", "warranty");
    let mut desk = Desk::open("my laptop works", &ana);

    desk.ok(ana.clone(), cmd::open_work("SW-1", "software", "update the BIOS"));
    desk.ok(ana.clone(), cmd::complete("SW-1", "BIOS updated to 1.9; still shuts down"));
    desk.ok(ana.clone(), cmd::transfer(&bo, "BIOS is current; shutdowns look like heat"));
    desk.ok(bo.clone(), cmd::open_work("HW-1", "hardware", "diagnose the shutdowns"));
    desk.ok(pia.clone(), cmd::open_work("PT-1", "parts", "ship a replacement fan"));
    desk.ok(wes.clone(), cmd::open_work("WA-1", "warranty", "check warranty for the fan"));
    desk.ok(wes.clone(), cmd::complete("WA-1", "covered until 2027"));
    desk.ok(pia.clone(), cmd::complete("PT-1", "fan delivered"));
    desk.ok(bo.clone(), cmd::complete("HW-1", "fan replaced"));
    desk.ok(pia.clone(), cmd::contact(Channel::Email, "Did the new fan arrive? Can I close my ticket?"));

    assert_eq!(desk.case().open_work_count(), 0, "every department's piece is done");
    let refusal = desk.refused(bo.clone(), cmd::resolve("all work items completed"));
    assert_eq!(refusal, Refusal::OutcomeUnmet { outcome: "my laptop works".into() });
    assert_eq!(desk.case().status(), &Status::Open, "the case stays open (I2)");

    desk.ok(
        crate::support::customer(),
        cmd::reply(Channel::Email, "The fan is in, but it still shuts down after an hour"),
    );
    desk.ok(bo.clone(), cmd::open_work("HW-2", "hardware", "replace the mainboard"));
    desk.ok(bo.clone(), cmd::complete("HW-2", "mainboard replaced"));
    desk.ok(crate::support::customer(), cmd::confirm("Ran all day without a shutdown. It works!"));
    desk.ok(bo.clone(), cmd::resolve("mainboard replaced; customer confirmed"));

    assert_eq!(desk.case().status(), &Status::Resolved);
    assert_eq!(desk.case().owner(), &bo, "one owner answered for it the whole way (I1)");
}

/// S1 — closing work never resolves: even the owner's last piece of work leaves the case open.
#[test]
fn s1_completing_the_last_work_item_does_not_resolve_the_case() {
    let ana = staff("ana", "software");
    let mut desk = Desk::open("my laptop works", &ana);
    desk.ok(ana.clone(), cmd::open_work("SW-1", "software", "reinstall drivers"));
    let events = desk.act(ana.clone(), cmd::complete("SW-1", "drivers reinstalled")).unwrap();

    assert_eq!(events.len(), 1);
    assert!(matches!(events[0].what, EventKind::WorkCompleted { .. }));
    assert_eq!(desk.case().status(), &Status::Open);
    assert_eq!(desk.case().outcome_state(), OutcomeState::Unmet);
}

/// S2 — Silence is not satisfaction. Ten unanswered "can I close it?" mails do not make
/// the case resolved; the honest ending is "unreachable", with its evidence.
#[test]
fn s2_ten_unanswered_mails_end_as_unreachable_never_as_resolved() {
    let ana = staff("ana", "software");
    let mut desk = Desk::open("my laptop works", &ana);

    for day in 1..=10 {
        desk.pass(Duration::days(1));
        desk.ok(ana.clone(), cmd::contact(Channel::Email, &format!("Day {day}: can I close your case?")));
    }
    assert_eq!(desk.case().counters().unanswered_contacts, 10);

    let refusal = desk.refused(ana.clone(), cmd::resolve("customer did not object"));
    assert!(matches!(refusal, Refusal::OutcomeUnmet { .. }));
    let refusal = desk.refused(Actor::System, cmd::confirm("no answer in 10 days, assume fixed"));
    assert!(matches!(refusal, Refusal::ConfirmationNotFromCustomer { .. }), "the system cannot speak for the customer");

    desk.ok(ana.clone(), cmd::close(Ending::Unreachable, "10 e-mails over 10 days, no answer"));
    assert_eq!(desk.case().status(), &Status::ClosedUnresolved { ending: Ending::Unreachable });
    assert_ne!(desk.case().status(), &Status::Resolved, "I3: never reported as resolved");
    assert_eq!(desk.case().outcome_state(), OutcomeState::Unmet);
}

/// S2 — "Unreachable" needs recorded attempts; the customer may withdraw on their own.
#[test]
fn s2_unreachable_needs_attempts_and_the_customer_may_withdraw() {
    let ana = staff("ana", "software");
    let mut desk = Desk::open("my laptop works", &ana);
    let refusal = desk.refused(ana.clone(), cmd::close(Ending::Unreachable, "never heard back"));
    assert_eq!(refusal, Refusal::NoContactAttempts);

    desk.ok(crate::support::customer(), cmd::close(Ending::Withdrawn, "I bought a new laptop"));
    assert_eq!(desk.case().status(), &Status::ClosedUnresolved { ending: Ending::Withdrawn });
}

/// S3 — Tell the story once. Facts and what was tried travel with the case; the next
/// department reads them from the brief instead of asking the customer again.
#[test]
fn s3_the_receiver_reads_the_story_from_the_case_not_from_the_customer() {
    let ana = staff("ana", "software");
    let bo = staff("bo", "hardware");
    let mut desk = Desk::open("my laptop works", &ana);
    desk.ok(ana.clone(), cmd::fact("customer number", "C-1042"));
    desk.ok(ana.clone(), cmd::fact("e-mail", "kim@example.org"));
    desk.ok(ana.clone(), cmd::fact("serial number", "SN-77-31"));
    desk.ok(ana.clone(), cmd::open_work("SW-1", "software", "update the BIOS"));
    desk.ok(ana.clone(), cmd::complete("SW-1", "BIOS 1.9 installed, no change"));
    desk.ok(ana.clone(), cmd::internal_note("Customer already rebooted and reset the BIOS twice"));
    desk.ok(ana.clone(), cmd::transfer(&bo, "Not software: shutdowns under load, check the fan"));

    let brief = desk.case().brief();
    assert_eq!(brief.owner, bo);
    assert_eq!(brief.previous_owners, vec![ana.clone()]);
    assert_eq!(brief.outcome, "my laptop works");
    let facts: Vec<(&str, &str)> = brief.facts.iter().map(|(k, f)| (k.as_str(), f.value.as_str())).collect();
    assert_eq!(facts, [("customer number", "C-1042"), ("e-mail", "kim@example.org"), ("serial number", "SN-77-31")]);
    assert_eq!(brief.tried.len(), 1);
    assert_eq!(brief.last_handoff_note.as_deref(), Some("Not software: shutdowns under load, check the fan"));
    let text = brief.to_string();
    assert!(text.contains("SN-77-31") && text.contains("BIOS 1.9 installed, no change"), "{text}");

    // Hardware reads software's internal note on the one shared timeline (no private history).
    let timeline = desk.ledger.timeline();
    let hardware_reads = timeline.entries().iter().any(|e| e.sentence.contains("reset the BIOS twice"));
    assert!(hardware_reads, "every department reads every note");
}

/// S3 — Notes are internal (all staff) or customer-visible; nothing is department-private.
#[test]
fn s3_notes_are_for_all_staff_or_also_the_customer_never_one_department() {
    let ana = staff("ana", "software");
    let mut desk = Desk::open("my laptop works", &ana);
    desk.ok(ana.clone(), cmd::internal_note("warranty expired last week"));
    desk.ok(ana.clone(), cmd::customer_note("We are ordering a part for you"));

    let staff_view = Timeline::staff(desk.ledger.events());
    let customer_view = Timeline::customer(desk.ledger.events());
    assert!(staff_view.to_string().contains("warranty expired last week"));
    assert!(!customer_view.to_string().contains("warranty expired"));
    assert!(customer_view.to_string().contains("We are ordering a part for you"));

    let private = r#"{"type":"note_added","text":"ours only","visibility":"department"}"#;
    assert!(serde_json::from_str::<EventKind>(private).is_err(), "there is no department-private visibility");
}

/// S4 — Ping-pong. Software → hardware → parts → software: the return is a bounce.
#[test]
fn s4_a_case_that_returns_to_where_it_was_is_a_bounce() {
    let ana = staff("ana", "software");
    let bo = staff("bo", "hardware");
    let pia = staff("pia", "parts");
    let sam = staff("sam", "software");
    let mut desk = Desk::open("my internet works", &ana);

    desk.ok(ana.clone(), cmd::transfer(&bo, "looks like the router"));
    desk.ok(bo.clone(), cmd::transfer(&pia, "router is fine, maybe the cable"));
    assert_eq!(desk.case().counters().bounces, 0);
    desk.ok(pia.clone(), cmd::transfer(&sam, "cable is fine, back to software"));

    assert_eq!(desk.case().counters().handoffs, 3);
    assert_eq!(desk.case().counters().bounces, 1, "software had already let go of the case");
    assert!(desk.case().would_bounce(&ana));
}

/// S4 — A transfer names a receiver and says why; a policy can refuse the next bounce and
/// demand an escalation instead.
#[test]
fn s4_a_policy_refuses_the_next_bounce_and_demands_escalation() {
    #[derive(Debug)]
    struct NoSecondBounce;
    impl Policy for NoSecondBounce {
        fn name(&self) -> &str {
            "no_second_bounce"
        }
        fn check(&self, case: &Case, proposal: &Proposal<'_>) -> Result<(), String> {
            match proposal.what {
                EventKind::Transferred { to, .. } if case.counters().bounces >= 1 && case.would_bounce(to) => {
                    Err(format!("{} bounce already; escalate instead", case.counters().bounces))
                }
                _ => Ok(()),
            }
        }
    }

    let ana = staff("ana", "software");
    let bo = staff("bo", "hardware");
    let lee = staff("lee", "tier-2");
    let mut desk = Desk::open_under(Rules::default().with_policy(NoSecondBounce), "my internet works", &ana);

    assert_eq!(desk.refused(ana.clone(), cmd::transfer(&bo, " ")), Refusal::EmptyText { field: "handoff note" });
    assert!(matches!(desk.refused(ana.clone(), cmd::transfer(&ana, "to me")), Refusal::ReceiverIsOwner { .. }));
    desk.ok(ana.clone(), cmd::transfer(&bo, "router?"));
    desk.ok(bo.clone(), cmd::transfer(&ana, "not the router"));
    let refusal = desk.refused(ana.clone(), cmd::transfer(&bo, "then it must be the router"));
    assert_eq!(refusal.to_string(), "refused by policy no_second_bounce: 1 bounce already; escalate instead");

    desk.ok(ana.clone(), cmd::escalate(&lee, "bounced between software and hardware"));
    assert_eq!(desk.case().owner(), &lee);
    assert_eq!(desk.case().escalation_level(), 1);
}

/// S5 — Escalation is an explicit event with a reason and a receiver, raising the level,
/// and the customer asking again is counted so a policy can require it earlier.
#[test]
fn s5_escalation_is_explicit_with_reason_receiver_and_level() {
    let ana = staff("ana", "support");
    let lee = staff("lee", "tier-2");
    let max = staff("max", "engineering");
    let mut desk = Desk::open("my invoice is correct", &ana);

    desk.ok(crate::support::customer(), cmd::reply(Channel::Phone, "Any news?"));
    desk.ok(crate::support::customer(), cmd::reply(Channel::Phone, "I am asking for the third time"));
    assert_eq!(desk.case().counters().customer_messages_unanswered, 2, "asking again is visible");

    assert_eq!(
        desk.refused(ana.clone(), cmd::escalate(&lee, "")),
        Refusal::EmptyText { field: "reason for escalating" }
    );
    desk.ok(ana.clone(), cmd::escalate(&lee, "customer asked three times"));
    desk.ok(lee.clone(), cmd::escalate(&max, "billing engine bug"));

    assert_eq!(desk.case().escalation_level(), 2);
    assert_eq!(desk.case().owner(), &max);
    let escalations: Vec<(u32, String)> = desk
        .ledger
        .events()
        .iter()
        .filter_map(|e| match &e.what {
            EventKind::Escalated { level, reason, .. } => Some((*level, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(escalations, [(1, "customer asked three times".to_owned()), (2, "billing engine bug".to_owned())]);
}

/// S6 — The giant fire. Cases link to one incident; channels the customer cannot use are
/// facts, and contacting them there is refused; when the incident ends, linked cases are
/// flagged for confirmation, not resolved.
#[test]
fn s6_the_fire_links_cases_refuses_dead_channels_and_asks_for_confirmation() {
    let ana = staff("ana", "support");
    let homes: Vec<Desk> = (0..3u8)
        .map(|i| {
            let id = CaseId::new_v7(T0, [i; 10]);
            let mut desk = Desk::open_case(Rules::default(), id, "my internet and phone work", &ana);
            desk.ok(ana.clone(), cmd::link("FIRE-2026-11"));
            desk.ok(ana.clone(), cmd::unreachable(Channel::Web, "no internet since the fire"));
            desk.ok(ana.clone(), cmd::unreachable(Channel::Email, "no internet since the fire"));
            desk.ok(ana.clone(), cmd::unreachable(Channel::Phone, "landline burnt"));
            desk
        })
        .collect();

    let mut desk = homes.into_iter().next().unwrap();
    let refusal = desk.refused(ana.clone(), cmd::contact(Channel::Web, "Please check our status page"));
    assert_eq!(
        refusal,
        Refusal::ChannelUnreachable { channel: Channel::Web, note: "no internet since the fire".into() }
    );
    desk.ok(ana.clone(), cmd::contact(Channel::Sms, "We know about the fire; no technician visit is needed"));

    desk.ok(Actor::System, cmd::ask_confirmation("incident FIRE-2026-11 ended"));
    assert_eq!(desk.case().status(), &Status::Open, "the end of the incident resolves nothing");
    assert_eq!(desk.case().confirmation_requested(), Some("incident FIRE-2026-11 ended"));
    assert!(matches!(desk.refused(ana.clone(), cmd::resolve("fire is out")), Refusal::OutcomeUnmet { .. }));

    desk.ok(crate::support::customer(), cmd::confirm("Internet and phone are back"));
    desk.ok(ana.clone(), cmd::resolve("service restored after the fire"));
    assert_eq!(desk.case().status(), &Status::Resolved);
    assert_eq!(desk.case().incidents(), ["FIRE-2026-11".into()]);
}

/// S7 — "Not my job". A department can hand the case to a named receiver (if it owns it)
/// or finish its own piece of work; it cannot drop the case, close it, or another's work.
#[test]
fn s7_a_department_cannot_drop_the_case_on_the_floor() {
    let ana = staff("ana", "support");
    let bo = staff("bo", "hardware");
    let mut desk = Desk::open("my laptop works", &ana);
    desk.ok(bo.clone(), cmd::open_work("HW-1", "hardware", "test the battery"));
    desk.ok(ana.clone(), cmd::open_work("SUP-1", "support", "call the customer back"));

    let refusal = desk.refused(bo.clone(), cmd::transfer(&ana, "not my job"));
    assert!(matches!(refusal, Refusal::NotOwner { action: "transfer the case", .. }), "bo does not own it to pass it");
    let refusal = desk.refused(bo.clone(), cmd::transfer(&staff("pia", "parts"), "not my job"));
    assert!(matches!(refusal, Refusal::NotOwner { action: "transfer the case", .. }));
    let refusal = desk.refused(bo.clone(), cmd::close(Ending::Withdrawn, "not my job"));
    assert!(matches!(refusal, Refusal::NotOwner { action: "close the case", .. }));
    let refusal = desk.refused(bo.clone(), cmd::drop_work("SUP-1", "not my job"));
    assert!(matches!(refusal, Refusal::NotYourDepartment { .. }));

    desk.ok(bo.clone(), cmd::complete("HW-1", "battery is fine"));
    assert_eq!(desk.case().owner(), &ana, "the case still has its owner");

    // Replaying the log, every prefix has one owner, and it is still ana: nobody dropped
    // the case or took it without a handoff (I1).
    let events = desk.ledger.events();
    for n in 1..=events.len() {
        let case = Case::replay(&events[..n]).unwrap();
        assert_eq!(case.owner(), &ana, "after event {n}");
    }
}

/// I6 — Closed means closed: a closed case accepts only a reopen with a reason, and the
/// reopened case needs the customer's confirmation again.
#[test]
fn i6_a_closed_case_accepts_only_a_reopen_with_a_reason() {
    let ana = staff("ana", "support");
    let mut desk = Desk::open("my refund arrives", &ana);
    desk.ok(crate::support::customer(), cmd::confirm("refund received"));
    desk.ok(ana.clone(), cmd::resolve("refund paid"));

    let refusal = desk.refused(ana.clone(), cmd::internal_note("one more thing"));
    assert_eq!(refusal, Refusal::CaseClosed { status: Status::Resolved });
    assert_eq!(
        desk.refused(crate::support::customer(), cmd::reopen("  ")),
        Refusal::EmptyText { field: "reason for reopening" }
    );

    desk.ok(crate::support::customer(), cmd::reopen("the refund was reversed"));
    assert_eq!(desk.case().status(), &Status::Open);
    assert_eq!(desk.case().outcome_state(), OutcomeState::Unmet);
    assert!(matches!(desk.refused(ana.clone(), cmd::resolve("paid again")), Refusal::OutcomeUnmet { .. }));
    assert_eq!(desk.case().counters().reopenings, 1);
}

/// I4 — One timeline: every event exactly once, in log order, for every department.
#[test]
fn i4_the_timeline_holds_every_event_once_in_order() {
    let ana = staff("ana", "software");
    let bo = staff("bo", "hardware");
    let mut desk = Desk::open("my laptop works", &ana);
    desk.ok(ana.clone(), cmd::internal_note("checked the logs"));
    desk.ok(ana.clone(), cmd::transfer(&bo, "hardware fault"));
    desk.ok(bo.clone(), cmd::open_work("HW-1", "hardware", "swap the disk"));
    desk.ok(crate::support::customer(), cmd::dispute("it is still broken"));

    let timeline = desk.ledger.timeline();
    let seqs: Vec<u64> = timeline.entries().iter().map(|e| e.seq).collect();
    let log: Vec<u64> = desk.ledger.events().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, log);

    let hardware = "hardware".into();
    let involving: Vec<u64> = timeline.involving(&hardware).map(|e| e.seq).collect();
    assert_eq!(involving, [3, 4, 5], "the handoff to hardware, its own work, and the customer's words to its owner");
    let view = timeline.department_view(&hardware);
    let read: Vec<(u64, bool)> = view.entries().map(|(e, marked)| (e.seq, marked)).collect();
    assert_eq!(
        read,
        [(1, false), (2, false), (3, true), (4, true), (5, true)],
        "hardware's view is the whole timeline, software's note included, its own entries marked"
    );
    assert!(view.to_string().contains("  #2   ") && view.to_string().contains("* #3   "), "{view}");

    let json: serde_json::Value = serde_json::from_str(&timeline.to_json().unwrap()).unwrap();
    assert_eq!(json["entries"].as_array().unwrap().len(), 5);
    let mermaid = timeline.to_mermaid();
    assert!(mermaid.starts_with("sequenceDiagram"));
    assert!(mermaid.contains("participant L1 as software") && mermaid.contains("participant L2 as hardware"));
    assert!(mermaid.contains("L1->>L2"), "the handoff is an arrow between lanes:\n{mermaid}");
}

/// I7 — Determinism: deciding the same thing twice gives the same events (ids included),
/// and replaying the same log gives the same case.
#[test]
fn i7_same_log_same_case_same_decision_same_ids() {
    let ana = staff("ana", "software");
    let mut desk = Desk::open("my laptop works", &ana);
    desk.ok(ana.clone(), cmd::fact("serial number", "SN-1"));
    let command = cmd::customer_note("We are on it");
    let once = desk.rules.decide(desk.case(), command.clone(), &ana.clone().into(), desk.now).unwrap();
    let twice = desk.rules.decide(desk.case(), command, &ana.clone().into(), desk.now).unwrap();
    assert_eq!(once, twice);
    let other = desk.rules.decide(desk.case(), cmd::customer_note("Other"), &ana.into(), desk.now).unwrap();
    assert_ne!(once[0].id, other[0].id, "different decisions never share an id");

    assert_eq!(Case::replay(desk.ledger.events()).unwrap(), Case::replay(desk.ledger.events()).unwrap());
    assert_eq!(&Case::replay(desk.ledger.events()).unwrap(), desk.case());
}

/// Customer-visible facts and notes are shown to the customer; internal ones never are.
#[test]
fn the_customer_view_hides_internal_facts_and_handoff_notes() {
    let ana = staff("ana", "software");
    let bo = staff("bo", "hardware");
    let mut desk = Desk::open("my laptop works", &ana);
    desk.ok(ana.clone(), cmd::internal_fact("fraud score", "0.93"));
    desk.ok(ana.clone(), cmd::transfer(&bo, "customer is difficult"));
    let view = Timeline::customer(desk.ledger.events()).to_string();
    assert!(!view.contains("0.93") && !view.contains("difficult"), "{view}");
    assert!(view.contains("Your case is now with the hardware team"), "{view}");
    assert!(desk.ledger.events().iter().any(|e| e.what.visibility() == Visibility::Internal));
}

/// S8 — Rigid systems. The bounce limit stops a transfer back to the one person who can
/// fix the firmware; a lead the host empowers overrides it for that one transfer, with a
/// reason that lands on every department's timeline (not the customer's) and in the
/// metrics. The outcome gate cannot be overridden by anyone.
#[test]
fn s8_an_empowered_lead_overrides_a_policy_once_with_a_reason_but_never_the_outcome_gate() {
    #[derive(Debug)]
    struct Leads;
    impl caseledger::rules::Directory for Leads {
        fn is_member(&self, _: &caseledger::id::StaffId, _: &caseledger::id::Department) -> bool {
            true
        }
        fn may_override(&self, staff: &caseledger::id::StaffId, _: &caseledger::id::Department, _: &str) -> bool {
            staff.as_str() == "lea"
        }
    }
    let rules = caseledger::PolicySet::default()
        .with(caseledger::policy::PolicyConfig::BounceLimit { max_bounces: 2 })
        .to_rules()
        .unwrap()
        .with_directory(Leads);
    let ana = staff("ana", "software");
    let lea = staff("lea", "hardware");
    let mut desk = Desk::open_under(rules, "my laptop works", &ana);
    desk.ok(ana.clone(), cmd::transfer(&lea, "shutdowns under load"));
    desk.ok(lea.clone(), cmd::transfer(&ana, "not the fan: firmware"));
    desk.ok(ana.clone(), cmd::transfer(&lea, "firmware is fine; heat after all"));
    let back = cmd::transfer(&ana, "it is the firmware's fan curve: only ana can change it");
    let refusal = desk.refused(lea.clone(), back.clone());
    assert!(matches!(&refusal, Refusal::Policy { policy, .. } if policy == "bounce_limit"), "{refusal}");

    let reason = "ana wrote the fan curve; sending the customer elsewhere wastes another week";
    let overriding = |command| caseledger::Command::Override {
        policy: "bounce_limit".into(),
        reason: reason.into(),
        command: Box::new(command),
    };
    desk.ok(lea.clone(), overriding(back));
    assert_eq!(desk.case().owner(), &ana);

    let staff_view = desk.ledger.timeline().to_string();
    assert!(
        staff_view.contains("lea (hardware) overrode policy bounce_limit (which said: \"the case has bounced")
            && staff_view.contains(reason),
        "{staff_view}"
    );
    let customer_view = desk.ledger.customer_timeline().to_string();
    assert!(!customer_view.contains("overrode") && !customer_view.contains(reason), "{customer_view}");

    let mut metrics = caseledger::Metrics::new(desk.now);
    metrics.add_log(desk.ledger.events()).unwrap();
    assert_eq!(metrics.report().overrides.get("bounce_limit"), Some(&1));

    // The outcome gate is not a policy: no one overrides it, however good the reason.
    let resolve = caseledger::Command::Override {
        policy: "outcome_gate".into(),
        reason: "the customer surely is happy by now".into(),
        command: Box::new(cmd::resolve("fan curve changed")),
    };
    let refusal = desk.refused(lea, resolve);
    assert!(matches!(refusal, Refusal::InvariantNotOverridable { invariant: "I2 (outcome before resolution)", .. }));
}

/// S2 — Silence is not satisfaction, told with a staff member who wants to close. After
/// ten unanswered mails, a confirmation staff "report" is refused: the customer has not
/// said a word. A phone call is recorded, the customer's words quoted, and the report is
/// accepted: shown as staff-reported on both timelines, in the brief and in the metrics,
/// never as the customer's own (I2).
#[test]
fn s2_a_staff_confirmation_needs_the_customers_own_words_and_stays_staff_reported() {
    let ana = staff("ana", "software");
    let mut desk = Desk::open("my laptop works", &ana);
    for day in 1..=10 {
        desk.pass(Duration::days(1));
        desk.ok(ana.clone(), cmd::contact(Channel::Email, &format!("Day {day}: can I close your case?")));
    }
    let last_mail = desk.now;
    let refusal = desk.refused(ana.clone(), cmd::confirm_reported(Channel::Email, "no answer - assume it works"));
    assert_eq!(refusal, Refusal::CustomerNotHeard { channel: Channel::Email, since: last_mail });
    assert!(refusal.to_string().starts_with("the customer has not answered by email since"), "{refusal}");
    let refusal = desk.refused(ana.clone(), cmd::confirm("no answer - assume it works"));
    assert_eq!(refusal, Refusal::NotTheCustomer { by: ana.clone().into() }, "staff cannot confirm as the customer");
    // Not by phone either: nothing shows a call.
    let refusal = desk.refused(ana.clone(), cmd::confirm_reported(Channel::Phone, "it works"));
    assert!(matches!(refusal, Refusal::CustomerNotHeard { channel: Channel::Phone, .. }));

    desk.pass(Duration::hours(2));
    desk.ok(ana.clone(), cmd::conversation(Channel::Phone, "called Kim: laptop ran all week without a shutdown"));
    desk.ok(ana.clone(), cmd::confirm_reported(Channel::Phone, "Yes, it works now, thank you"));
    desk.ok(ana.clone(), cmd::resolve("mainboard replaced; customer confirmed on the phone"));
    assert_eq!(desk.case().status(), &Status::Resolved);
    assert_eq!(
        desk.case().outcome_voice(),
        Some((caseledger::event::Voice::Reported { channel: Channel::Phone }, &ana.clone().into()))
    );

    let staff_view = desk.ledger.timeline().to_string();
    assert!(
        staff_view.contains("ana (software) reported that the customer confirmed by phone the outcome is met: \"Yes, it works now, thank you\""),
        "{staff_view}"
    );
    assert!(staff_view.contains("ana (software) spoke with the customer by phone"), "{staff_view}");
    let customer_view = desk.ledger.customer_timeline().to_string();
    assert!(
        customer_view.contains(
            "ana (software) reported that you confirmed by phone it is solved: \"Yes, it works now, thank you\""
        ),
        "{customer_view}"
    );
    assert!(!customer_view.contains("You confirmed"), "{customer_view}");

    let brief = desk.case().brief();
    assert_eq!(brief.outcome_voice, Some(caseledger::event::Voice::Reported { channel: Channel::Phone }));
    assert!(brief.to_string().contains("confirmed by the customer by phone, as ana (software) reported"), "{brief}");

    let mut metrics = caseledger::Metrics::new(desk.now);
    metrics.add_log(desk.ledger.events()).unwrap();
    let endings = metrics.report().endings;
    assert_eq!((endings.resolved_reported_by_staff, endings.resolved_confirmed_by_customer), (1, 0));
}

/// S2 — A host whose customers confirm on a portal lets only the customer confirm; a
/// dispute staff hear is still recorded, and the policy cannot be overridden.
#[test]
fn s2_with_a_portal_only_the_customer_confirms() {
    let rules = caseledger::PolicySet::from_json(r#"{"policies": [{"type": "only_customer_confirms"}]}"#)
        .unwrap()
        .to_rules()
        .unwrap();
    let ana = staff("ana", "software");
    let mut desk = Desk::open_under(rules, "my laptop works", &ana);
    desk.ok(crate::support::customer(), cmd::reply(Channel::Chat, "seems fine now"));
    let refusal = desk.refused(ana.clone(), cmd::confirm_reported(Channel::Chat, "seems fine now"));
    assert!(matches!(&refusal, Refusal::Policy { policy, .. } if policy == "only_customer_confirms"), "{refusal}");
    desk.ok(ana.clone(), cmd::dispute_reported(Channel::Chat, "seems fine now"));
    let lifted = caseledger::Command::Override {
        policy: "only_customer_confirms".into(),
        reason: "the customer has no internet to reach the portal".into(),
        command: Box::new(cmd::confirm_reported(Channel::Chat, "seems fine now")),
    };
    assert_eq!(desk.refused(ana, lifted), Refusal::NotOverridable { policy: "only_customer_confirms".into() });
    desk.ok(crate::support::customer(), cmd::confirm("works, confirmed on the portal"));
    assert_eq!(desk.case().outcome_voice().map(|(v, _)| v), Some(caseledger::event::Voice::Own));
}

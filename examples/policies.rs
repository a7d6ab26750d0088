//! A service desk configures its policies from JSON and meets each refusal.
//!
//! Run with `cargo run --example policies`.

use caseledger::{
    event::{Channel, Ending},
    id::IncidentId,
    policy::confirmation_requests,
    Actor, CaseId, Command, Error, Ledger, Opening, PolicySet, Staff,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// What the host stores beside its own settings.
const POLICIES: &str = r#"{
    "policies": [
        {"type": "bounce_limit", "max_bounces": 1},
        {"type": "one_voice", "may_contact": "owner"},
        {"type": "follow_up_limit", "max_unanswered": 3, "window": "7d"},
        {"type": "honest_silence", "min_attempts": 3, "min_span": "5d"}
    ],
    "deadlines": {"first_response": "4h", "next_update": "2d", "warn_before": "1h"},
    "escalation": {"after_handoffs": 3, "after_age": "5d", "after_customer_asks": 2, "refuse_transfers": true}
}"#;

fn main() -> Result<(), Error> {
    let set = PolicySet::from_json(POLICIES)?;
    let rules = set.to_rules()?;
    let monday = datetime!(2026-11-23 09:00 UTC);
    let at = |hours: i64| monday + Duration::hours(hours);

    let ana = Staff::new("ana", "network");
    let bo = Staff::new("bo", "billing");
    let cy = Staff::new("cy", "contracts");
    let mut case = Ledger::open(
        &rules,
        CaseId::new_v7(monday, [7; 10]),
        Opening::new("cust-5", "my phone line and internet work again", ana.clone()),
        &Actor::customer("cust-5"),
        monday,
    )?;

    println!("Deadlines at 12:30, before anyone answered:");
    for status in set.deadlines.check(case.case(), at(3) + Duration::minutes(30)) {
        println!("  {status}");
    }

    println!("\nRefusals:");
    let show = |case: &mut Ledger, by: &Staff, command: Command, at: OffsetDateTime| match case.execute(
        &rules,
        command,
        &Actor::Staff(by.clone()),
        at,
    ) {
        Ok(_) => {}
        Err(err) => println!("  - {err}"),
    };

    // S6: the fire took the lines; reachability is a fact, always enforced.
    let no_lines = "no power or lines since the fire on Elm Street";
    for channel in [Channel::Web, Channel::Phone] {
        show(&mut case, &ana, Command::RecordReachability { channel, reachable: false, note: no_lines.into() }, at(1));
    }
    show(&mut case, &ana, contact(Channel::Web, "please check status.example.com"), at(1));

    // S1: only the owner speaks to the customer.
    show(&mut case, &bo, contact(Channel::Email, "about your bill: can I close this?"), at(2));

    // S2: three unanswered letters in a week are enough.
    for day in 0..4 {
        show(&mut case, &ana, contact(Channel::Letter, "is your line working again?"), at(3 + 24 * day));
    }

    // S2: silence is not satisfaction, and "unreachable" needs attempts over time.
    let unreachable = Command::CloseUnresolved { ending: Ending::Unreachable, evidence: "three letters".into() };
    show(&mut case, &ana, unreachable, at(60));
    show(&mut case, &ana, Command::Resolve { summary: "nobody complained".into() }, at(60));

    // S4: network → billing → network, and billing again would be a second bounce.
    show(&mut case, &ana, transfer(&bo, "is the line rental refundable?"), at(61));
    show(&mut case, &bo, transfer(&ana, "refund needs a network report"), at(62));
    show(&mut case, &ana, transfer(&bo, "report attached"), at(63));

    // S5: a third handoff makes escalation due; a sideways transfer is refused.
    show(&mut case, &ana, transfer(&cy, "contract allows compensation?"), at(63));
    show(&mut case, &cy, transfer(&Staff::new("dee", "field"), "send a technician"), at(64));
    println!("\nEscalation required because:");
    for trigger in set.escalation.fired(case.case(), at(64)) {
        println!("  {trigger}");
    }
    let lead = Staff::new("lee", "escalations");
    show(&mut case, &cy, Command::Escalate { to: lead.clone(), reason: "three handoffs, no line".into() }, at(64));

    // S6: the incident ends; the customer is asked, nothing is resolved.
    let fire = IncidentId::new("fire-0042");
    show(&mut case, &lead, Command::LinkIncident { incident: fire.clone() }, at(65));
    let ended = at(72);
    for (_, request) in confirmation_requests(&fire, ended, [case.case()]) {
        case.execute(&rules, request, &Actor::System, ended)?;
    }
    println!("\nAfter the incident ended: status {}; asking the customer: {}", case.case().status(), {
        case.case().confirmation_requested().unwrap_or("nothing")
    });

    // Nobody updates the customer; on Friday afternoon the scheduler finds the breach and
    // records it on the timeline, once.
    let (last_run, friday) = (ended, at(101));
    println!("\nDeadlines on Friday at 14:00:");
    for status in set.deadlines.check(case.case(), friday) {
        println!("  {status}");
    }
    for breach in set.deadlines.breached_between(case.case(), last_run, friday) {
        case.execute(&rules, breach.breach_note(), &Actor::System, friday)?;
    }

    println!("\nTimeline:\n{}", case.timeline());
    Ok(())
}

fn contact(channel: Channel, message: &str) -> Command {
    Command::ContactCustomer { channel, message: message.into() }
}

fn transfer(to: &Staff, note: &str) -> Command {
    Command::Transfer { to: to.clone(), note: note.into() }
}

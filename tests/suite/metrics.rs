//! Service metrics (S9) over a handful of cases whose figures are known by hand: endings
//! by kind, never folding "unreachable" into "resolved"; time to the customer's
//! confirmation beside time to closing; unanswered contacts, asking again, reopenings,
//! deadline breaches and overrides per policy.

use crate::support::{cmd, staff, Desk, T0};
use caseledger::{
    event::{Channel, Ending},
    id::{Department, StaffId},
    policy::{Deadlines, PolicyConfig, Span},
    rules::Directory,
    CaseId, Command, Metrics, PolicySet, Rules,
};
use time::Duration;

#[derive(Debug)]
struct AnyoneOverrides;

impl Directory for AnyoneOverrides {
    fn is_member(&self, _: &StaffId, _: &Department) -> bool {
        true
    }
    fn may_override(&self, _: &StaffId, _: &Department, _: &str) -> bool {
        true
    }
}

fn desk(n: u8) -> Desk {
    Desk::open_case(Rules::default(), CaseId::new_v7(T0, [n; 10]), "my laptop works", &staff("ana", "software"))
}

fn cases() -> Vec<Desk> {
    let ana = staff("ana", "software");
    // A: answered within the hour, confirmed by the customer two days later.
    let mut a = desk(1);
    a.pass(Duration::minutes(55));
    a.ok(ana.clone(), cmd::contact(Channel::Email, "does the new driver help?"));
    a.pass(Duration::days(2));
    a.ok(crate::support::customer(), cmd::confirm("yes, all good"));
    a.ok(ana.clone(), cmd::resolve("driver"));

    // B: three mails a day apart, no answer: unreachable, never resolved.
    let mut b = desk(2);
    for _ in 0..3 {
        b.pass(Duration::days(1));
        b.ok(ana.clone(), cmd::contact(Channel::Email, "can I close it?"));
    }
    b.ok(ana.clone(), cmd::close(Ending::Unreachable, "three mails over three days"));

    // C: the customer writes twice before anyone answers; staff report a confirmation;
    // resolved; reopened five days later and still open.
    let mut c = desk(3);
    c.ok(crate::support::customer(), cmd::reply(Channel::Email, "any news?"));
    c.ok(crate::support::customer(), cmd::reply(Channel::Email, "hello??"));
    c.ok(ana.clone(), cmd::reply(Channel::Phone, "called in: it works now, thank you"));
    c.ok(ana.clone(), cmd::confirm_reported(Channel::Phone, "it works now, thank you"));
    c.ok(ana.clone(), cmd::resolve("works"));
    c.pass(Duration::days(5));
    c.ok(crate::support::customer(), cmd::reopen("it broke again"));

    // D: withdrawn at once.
    let mut d = desk(4);
    d.ok(crate::support::customer(), cmd::close(Ending::Withdrawn, "found the switch"));

    // E: a bounce limit overridden once.
    let rules = PolicySet::default()
        .with(PolicyConfig::BounceLimit { max_bounces: 0 })
        .to_rules()
        .unwrap()
        .with_directory(AnyoneOverrides);
    let mut e = Desk::open_case(rules, CaseId::new_v7(T0, [5; 10]), "my laptop works", &ana);
    let bo = staff("bo", "hardware");
    e.ok(ana.clone(), cmd::contact(Channel::Email, "on it"));
    e.ok(ana.clone(), cmd::transfer(&bo, "fan"));
    let back = cmd::transfer(&ana, "software after all");
    e.ok(
        bo,
        Command::Override {
            policy: "bounce_limit".into(),
            reason: "ana wrote the driver that fails; nobody else can fix it".into(),
            command: Box::new(back),
        },
    );
    vec![a, b, c, d, e]
}

#[test]
fn s9_figures_are_measured_against_the_customer_not_against_clicks() {
    let deadlines = Deadlines::default().first_response(Span::hours(4));
    let mut metrics = Metrics::new(T0 + Duration::days(30)).with_deadlines(deadlines);
    for desk in cases() {
        metrics.add_log(desk.ledger.events()).unwrap();
    }
    let r = metrics.report();
    assert_eq!(r.cases, 5);
    let e = &r.endings;
    assert_eq!(
        (
            e.resolved_confirmed_by_customer,
            e.resolved_reported_by_staff,
            e.unreachable,
            e.withdrawn,
            e.duplicate,
            e.open
        ),
        (1, 0, 1, 1, 0, 2),
        "C is open again; unreachable is never resolved"
    );
    // Only A is resolved now: two days and an hour to the customer's own confirmation.
    assert_eq!(r.time_to_confirmed_outcome.cases, 1);
    let confirmed = 2 * 86_400 + 3_600;
    let median = r.time_to_confirmed_outcome.median_seconds.unwrap();
    assert!(median.abs_diff(confirmed) <= confirmed / 64, "{median}");
    // A, B, C and D were closed at least once; C's first closing counts although reopened.
    assert_eq!(r.time_to_first_close.cases, 4);
    assert_eq!((r.reopens.closed_cases, r.reopens.reopened_cases, r.reopens.reopenings), (4, 1, 1));
    assert_eq!(r.reopens.rate, Some(0.25));
    // First responses: A after an hour, B after a day, E at once; nobody wrote to C.
    assert_eq!(r.time_to_first_response.cases, 3);
    assert_eq!((r.unanswered_contacts.total, r.unanswered_contacts.cases), (4, 2), "B's three mails, E's one");
    assert_eq!((r.asked_again.total, r.asked_again.cases), (3, 1), "C wrote twice and called before any answer");
    assert_eq!((r.handoffs.total, r.bounces.total), (2, 1));
    assert_eq!(r.overrides.get("bounce_limit"), Some(&1));
    // First-response deadline (4h): B's first mail came after a day; C never had one and
    // was reopened, so it still waits at the end.
    assert_eq!((r.first_response_breaches.total, r.first_response_breaches.cases), (2, 2));
    let text = r.to_string();
    assert!(text.contains("1  closed: customer unreachable"), "{text}");
    assert!(text.contains("1  bounce_limit"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
    assert_eq!(json["endings"]["resolved_confirmed_by_customer"], 1);
    assert_eq!(json["overrides"]["bounce_limit"], 1);
}

#[test]
fn a_log_that_does_not_fold_is_refused_and_counted_apart() {
    let mut metrics = Metrics::new(T0);
    let desk = desk(1);
    let mut events = desk.ledger.events().to_vec();
    events.push(events[0].clone());
    assert!(metrics.add_log(&events).is_err());
    assert!(metrics.add_log(&[]).is_err());
    let r = metrics.report();
    assert_eq!((r.cases, r.rejected_logs), (0, 2));
    assert_eq!(r.time_to_first_response.median_seconds, None);
}

//! Policy evaluation costs the same on a fresh case and on one with a long history.
//!
//! Run with `cargo bench --bench policies`.

use std::hint::black_box;

use caseledger::{event::Channel, Actor, CaseId, Command, Ledger, Opening, PolicySet, Rules, Staff};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use time::macros::datetime;
use time::Duration;

const POLICIES: &str = r#"{
    "policies": [
        {"type": "bounce_limit", "max_bounces": 1000000},
        {"type": "one_voice", "may_contact": "working_departments"},
        {"type": "follow_up_limit", "max_unanswered": 32, "window": "1d"},
        {"type": "honest_silence", "min_attempts": 3, "min_span": "7d"}
    ],
    "escalation": {"after_handoffs": 1000000, "after_age": "3650d", "after_customer_asks": 1000000, "refuse_transfers": true}
}"#;

/// A case with `rounds` rounds of history: a contact, a reply and a handoff each, except
/// that the last 31 contacts go unanswered, so the follow-up limit has the most to count.
fn case_with_history(rules: &Rules, rounds: u32) -> Ledger {
    let t0 = datetime!(2026-01-01 00:00 UTC);
    let (ana, bo) = (Staff::new("ana", "software"), Staff::new("bo", "hardware"));
    let mut ledger = Ledger::open(
        rules,
        CaseId::new_v7(t0, [1; 10]),
        Opening::new("c", "it works", ana.clone()),
        &Actor::customer("c"),
        t0,
    )
    .unwrap();
    for i in 0..rounds {
        let at = t0 + Duration::minutes(i64::from(i));
        let (owner, next) = if i % 2 == 0 { (&ana, &bo) } else { (&bo, &ana) };
        let by = Actor::Staff(owner.clone());
        let contact = Command::ContactCustomer { channel: Channel::Email, message: "news".into() };
        ledger.execute(rules, contact, &by, at).unwrap();
        if i + 31 < rounds {
            let reply = Command::RecordReply { channel: Channel::Email, message: "ok".into() };
            ledger.execute(rules, reply, &Actor::customer("c"), at).unwrap();
        }
        let transfer = Command::Transfer { to: next.clone(), note: "your turn".into() };
        ledger.execute(rules, transfer, &by, at).unwrap();
    }
    ledger
}

fn decide_under_policies(c: &mut Criterion) {
    let rules = PolicySet::from_json(POLICIES).unwrap().to_rules().unwrap();
    let mut group = c.benchmark_group("decide_with_all_builtin_policies");
    for rounds in [40u32, 10_000] {
        let ledger = case_with_history(&rules, rounds);
        let case = ledger.case();
        let owner = Actor::Staff(case.owner().clone());
        let at = case.clock().last_event_at + Duration::hours(1);
        let events = ledger.events().len();
        group.bench_with_input(BenchmarkId::new("contact_and_transfer", events), &events, |b, _| {
            b.iter(|| {
                let contact = Command::ContactCustomer { channel: Channel::Email, message: "any news?".into() };
                let transfer = Command::Transfer { to: Staff::new("cy", "parts"), note: "parts needed".into() };
                black_box(rules.decide(case, contact, &owner, at).unwrap());
                black_box(rules.decide(case, transfer, &owner, at).unwrap());
            });
        });
    }
    group.finish();
}

criterion_group!(benches, decide_under_policies);
criterion_main!(benches);

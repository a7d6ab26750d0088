//! Plausible case logs from a seeded, plain generator (no proptest): a few hundred stories
//! of contacts, silence, replies, handoffs that bounce, escalations, overrides, customer
//! and staff-reported confirmations, honest endings and reopenings, each decided by the
//! crate's own rules. Shared by `examples/metrics.rs` and `benches/metrics.rs`.
#![allow(dead_code)]
#![allow(clippy::cast_possible_truncation)] // Small numbers from the dice.

use caseledger::{
    Actor, CaseId, Channel, Command, Department, Directory, Ending, Event, Ledger, Opening, PolicyConfig, PolicySet,
    Rules, Staff, StaffId,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// When the first generated case opens.
pub const START: OffsetDateTime = datetime!(2026-01-05 09:00 UTC);

/// Everyone but parts may override the service policies.
#[derive(Debug)]
struct Leads;

impl Directory for Leads {
    fn is_member(&self, _staff: &StaffId, _department: &Department) -> bool {
        true
    }

    fn may_override(&self, _staff: &StaffId, department: &Department, _policy: &str) -> bool {
        department.as_str() != "parts"
    }
}

/// The rules the generated desk works under: a bounce limit and honest silence, with
/// everyone but parts empowered to override them.
pub fn rules() -> Rules {
    PolicySet::default()
        .with(PolicyConfig::BounceLimit { max_bounces: 1 })
        .with(PolicyConfig::HonestSilence { min_attempts: 3, min_span: caseledger::Span::days(5) })
        .to_rules()
        .expect("a valid policy set")
        .with_directory(Leads)
}

/// A small xorshift generator: the same seed gives the same cases.
pub struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// 0..n
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const STAFF: [(&str, &str); 6] = [
    ("ana", "software"),
    ("sam", "software"),
    ("bo", "hardware"),
    ("pia", "parts"),
    ("wes", "warranty"),
    ("eve", "tier-2"),
];

fn member(i: u64) -> Staff {
    let (id, dept) = STAFF[(i as usize) % STAFF.len()];
    Staff::new(id, dept)
}

/// `n` case logs, the `i`-th opened `i` hours after [`START`].
pub fn logs(n: usize, seed: u64) -> Vec<Vec<Event>> {
    let rules = rules();
    let mut dice = Dice::new(seed);
    (0..n).map(|i| one_log(&rules, &mut dice, i)).collect()
}

fn one_log(rules: &Rules, dice: &mut Dice, i: usize) -> Vec<Event> {
    let opened = START + Duration::hours(i as i64);
    let mut bytes = [0u8; 10];
    bytes[..8].copy_from_slice(&(i as u64).to_be_bytes());
    let owner = member(dice.below(5));
    let opening = Opening::new(format!("cust-{}", i % 997), "my laptop works", owner);
    let mut ledger =
        Ledger::open(rules, CaseId::new_v7(opened, bytes), opening, &Actor::Customer, opened).expect("a valid opening");
    let mut now = opened;
    let steps = 4 + dice.below(16);
    // After a phone call, staff usually report what the customer said in it.
    let mut after_call = false;
    for _ in 0..steps {
        let pause = if dice.chance(15) { 3 * 1440 } else { 180 };
        now += Duration::minutes(10 + dice.below(pause) as i64);
        let case = ledger.case();
        let owner = Actor::Staff(case.owner().clone());
        let (by, command) = if case.is_closed() {
            if !dice.chance(15) {
                break;
            }
            (Actor::Customer, Command::Reopen { reason: "it broke again".into() })
        } else if after_call && dice.chance(70) {
            let words = if dice.chance(80) { "works since the new fan" } else { "still shuts down" };
            let report = if words.starts_with("works") {
                Command::ReportConfirmation { channel: Channel::Phone, statement: words.into() }
            } else {
                Command::ReportDispute { channel: Channel::Phone, statement: words.into() }
            };
            (owner, report)
        } else if case.counters().unanswered_contacts >= 3 && dice.chance(40) {
            let evidence = "three e-mails over a week, no answer";
            let close = Command::CloseUnresolved { ending: Ending::Unreachable, evidence: evidence.into() };
            if dice.chance(30) {
                let reason = "the customer told us on day one they travel for a month";
                (
                    owner,
                    Command::Override {
                        policy: "honest_silence".into(),
                        reason: reason.into(),
                        command: Box::new(close),
                    },
                )
            } else {
                (owner, close)
            }
        } else if case.clock().first_response_at.is_none() && dice.chance(70) {
            (owner, Command::ContactCustomer { channel: Channel::Email, message: "we are on it".into() })
        } else {
            match dice.below(100) {
                0..=24 => (owner, Command::ContactCustomer { channel: Channel::Email, message: "any better?".into() }),
                25..=39 => {
                    (Actor::Customer, Command::RecordReply { channel: Channel::Email, message: "still broken".into() })
                }
                40..=51 => {
                    // Often back to someone who had it: the ping-pong of S4.
                    let back = case.previous_owners().get(dice.below(4) as usize).filter(|_| dice.chance(60));
                    let to = back.cloned().unwrap_or_else(|| member(dice.below(5)));
                    let transfer = Command::Transfer { to, note: "over to you: see the timeline".into() };
                    if case.counters().bounces >= 1 && dice.chance(50) {
                        // The owner overrides the bounce limit, with a reason.
                        (
                            owner,
                            Command::Override {
                                policy: "bounce_limit".into(),
                                reason: "the only person who knows this firmware is back there".into(),
                                command: Box::new(transfer),
                            },
                        )
                    } else {
                        (owner, transfer)
                    }
                }
                52..=55 => (owner, Command::Escalate { to: member(5), reason: "third week without progress".into() }),
                56..=69 => (Actor::Customer, Command::ConfirmOutcome { statement: "it works now, thanks".into() }),
                70..=72 => (
                    owner,
                    Command::RecordConversation { channel: Channel::Phone, summary: "called: the fan is quiet".into() },
                ),
                73..=74 => (
                    owner,
                    Command::ReportConfirmation {
                        channel: Channel::Phone,
                        statement: "works since the new fan".into(),
                    },
                ),
                75..=87 => (owner, Command::Resolve { summary: "fixed; the customer confirmed".into() }),
                88..=90 => (
                    Actor::Customer,
                    Command::CloseUnresolved { ending: Ending::Withdrawn, evidence: "bought a new one".into() },
                ),
                91 => {
                    let of = CaseId::new_v7(opened, [7; 10]);
                    (
                        owner,
                        Command::CloseUnresolved {
                            ending: Ending::Duplicate { of },
                            evidence: "same as the other".into(),
                        },
                    )
                }
                _ => (
                    owner,
                    Command::ContactCustomer { channel: Channel::Email, message: "a part is on its way".into() },
                ),
            }
        };
        after_call = matches!(command, Command::RecordConversation { .. });
        // Refused commands are part of the story (a premature resolve, a bounce refused);
        // they leave the log untouched.
        let _ = ledger.execute(rules, command, &by, now);
    }
    ledger.into_events()
}

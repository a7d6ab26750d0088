//! Realistic case logs, decided by the crate's own rules, for benchmarks, capacity tests
//! and demonstrations (feature `testkit`, no proptest, no randomness but a seed):
//!
//! - [`typical_log`]: one busy case of a chosen length, the case a store, a fold or a
//!   timeline page is measured on;
//! - [`service_logs`]: many plausible cases from a seeded, plain generator — contacts,
//!   silence, replies, handoffs that bounce, escalations, overrides, customer and
//!   staff-reported confirmations, honest endings and reopenings — under
//!   [`service_rules`], the figures [`Metrics`](crate::Metrics) is shown on.
//!
//! A typical log is a fixed mix, repeated in cycles of 20 events: 5 notes, 4 contacts, 4 replies,
//! 4 fact updates (eight fact names, so later values replace earlier ones), one handoff
//! with a note, and, once every 50 cycles, a work item opened and completed (else two
//! more notes). That is one work item per 1,000 events, so even a log of a million events
//! stays within the default cap of 1,000 work items a case may carry
//! ([`Limits::max_work_items`](crate::rules::Limits::max_work_items)) and the mix is the same at
//! every size. Every event is one [`Rules::decide`] would record under the default rules,
//! one second after the one before.
//!
//! ```
//! use caseledger::testkit::sample::typical_log;
//! use caseledger::Case;
//!
//! let log = typical_log(1_000)?;
//! assert_eq!(Case::replay(&log)?.version(), 1_000);
//! # Ok::<(), caseledger::Error>(())
//! ```

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::actor::{Actor, Staff};
use crate::command::{Command, Opening};
use crate::error::{ConfigError, Error};
use crate::event::{Channel, Ending, Event, Visibility};
use crate::id::{CaseId, Department, StaffId};
use crate::ledger::Ledger;
use crate::policies::{PolicyConfig, PolicySet};
use crate::rules::{Directory, Rules};
use crate::span::Span;

/// Distinct fact names; later facts replace earlier values, as in a real case where the
/// "current firmware" or "last known address" is updated.
const FACT_NAMES: [&str; 8] =
    ["serial number", "firmware", "model", "e-mail", "phone", "contract", "warranty until", "store"];

/// Events in one cycle of the mix.
const CYCLE: usize = 20;

/// A work item is opened (and completed) once every this many cycles.
const WORK_EVERY: usize = 50;

/// The four people who pass the case around, in the order it moves.
fn staff() -> [Staff; 4] {
    [
        Staff::new("ana", "software"),
        Staff::new("bo", "hardware"),
        Staff::new("cy", "parts"),
        Staff::new("di", "warranty"),
    ]
}

/// A typical log of exactly `n` events (the `opened` event included; `n = 0` gives the
/// opening alone), decided under the default rules.
///
/// # Errors
///
/// None in practice: every command is one the default rules accept. An error would mean
/// the rules changed under the mix, and is returned rather than hidden.
pub fn typical_log(n: usize) -> Result<Vec<Event>, Error> {
    typical_log_capped(n, usize::MAX)
}

/// A typical log that opens at most `max_work_items` work items, their later slots in the
/// mix becoming notes: case memory can then be compared at different history lengths
/// with the same state (same work items, facts, owners).
///
/// # Errors
///
/// As [`typical_log`].
pub fn typical_log_capped(n: usize, max_work_items: usize) -> Result<Vec<Event>, Error> {
    let staff = staff();
    let rules = Rules::default();
    let t0 = datetime!(2026-11-23 09:00 UTC);
    let [first, ..] = &staff;
    let opening = Opening::new("cust-1042", "my laptop boots and the fan is quiet", first.clone());
    let mut ledger = Ledger::open(&rules, CaseId::new_v7(t0, [42; 10]), opening, &Actor::customer("cust-1042"), t0)?;
    let mut owner = 0usize;
    let mut items_opened = 0usize;
    for i in 1..n {
        let at = t0 + Duration::seconds(i64::try_from(i).unwrap_or(i64::MAX));
        let cycle = i / CYCLE;
        let may_open_work = cycle.is_multiple_of(WORK_EVERY) && items_opened < max_work_items;
        let (command, by) = typical_step(i % CYCLE, cycle, &staff, owner, may_open_work, &ledger);
        if let Command::OpenWork { .. } = command {
            items_opened += 1;
        }
        let transfer = matches!(command, Command::Transfer { .. });
        ledger.execute(&rules, command, &by, at)?;
        if transfer {
            owner = (owner + 1) % staff.len();
        }
    }
    Ok(ledger.into_events())
}

/// The `step`-th command of cycle `cycle`, and who gives it.
fn typical_step(
    step: usize,
    cycle: usize,
    staff: &[Staff; 4],
    owner: usize,
    may_open_work: bool,
    ledger: &Ledger,
) -> (Command, Actor) {
    // `get` of an index taken modulo the length: always `Some`, without an indexing panic path.
    let member = |k: usize| staff.get(k % staff.len()).cloned().unwrap_or_else(|| Staff::new("ana", "software"));
    let me = Actor::Staff(member(owner));
    let fact = |k: usize| Command::RecordFact {
        name: FACT_NAMES.get((cycle * 4 + k) % FACT_NAMES.len()).copied().unwrap_or("firmware").to_owned(),
        value: format!("value {}", (cycle * 4 + k) % 97),
        visibility: if k.is_multiple_of(2) { Visibility::Internal } else { Visibility::Customer },
    };
    let note = |text: &str, visibility| (Command::AddNote { text: text.to_owned(), visibility }, me.clone());
    let contact = |channel| {
        let message = "Could you try the new BIOS and tell us whether the laptop boots?".to_owned();
        (Command::ContactCustomer { channel, message }, me.clone())
    };
    let reply = |channel| {
        let message = "Tried it this morning, it still shuts down after two minutes.".to_owned();
        (Command::RecordReply { channel, message }, Actor::Customer(ledger.case().customer().clone()))
    };
    let item = format!("W-{cycle}");
    let work_open = ledger.case().work_item(&item.as_str().into()).is_some_and(|w| w.is_open());
    match step {
        0 => note("Customer calls again; summary of the call in the facts.", Visibility::Internal),
        1 => contact(Channel::Email),
        2 => reply(Channel::Email),
        3 => (fact(0), me),
        4 if may_open_work => (
            Command::OpenWork {
                item: item.as_str().into(),
                department: member(owner).department,
                title: "Check the fan controller and the thermal paste".to_owned(),
            },
            me,
        ),
        5 => note("We are checking the fan controller today.", Visibility::Customer),
        6 => contact(Channel::Phone),
        7 => reply(Channel::Phone),
        8 => (fact(1), me),
        9 if work_open => (
            Command::CompleteWork { item: item.as_str().into(), note: "Thermal paste replaced, fan ok".to_owned() },
            me,
        ),
        10 => note("Fan controller firmware is current; suspect the power supply.", Visibility::Internal),
        11 => contact(Channel::Email),
        12 => reply(Channel::Email),
        13 => (fact(2), me),
        14 => note("Power supply replacement ordered from parts.", Visibility::Customer),
        15 => contact(Channel::Chat),
        16 => reply(Channel::Chat),
        17 => (fact(3), me),
        18 => {
            let to = member(owner + 1);
            let text = format!("Over to {} for the next step; everything tried is in the notes.", to.department);
            (Command::Transfer { to, note: text }, me)
        }
        _ => note("Waiting for the customer to try the new part.", Visibility::Internal),
    }
}

/// When the first generated case opens.
pub const SERVICE_START: OffsetDateTime = datetime!(2026-01-05 09:00 UTC);

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
///
/// # Errors
///
/// None in practice: the policy set is valid; an error would be returned, not hidden.
pub fn service_rules() -> Result<Rules, ConfigError> {
    Ok(PolicySet::default()
        .with(PolicyConfig::BounceLimit { max_bounces: 1 })
        .with(PolicyConfig::HonestSilence { min_attempts: 3, min_span: Span::days(5) })
        .to_rules()?
        .with_directory(Leads))
}

/// A small xorshift generator: the same seed gives the same cases.
#[derive(Debug)]
struct Dice(u64);

impl Dice {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// 0..n
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
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

#[allow(clippy::cast_possible_truncation)] // Small numbers from the dice.
fn member(i: u64) -> Staff {
    let (id, dept) = STAFF.get((i as usize) % STAFF.len()).copied().unwrap_or(("ana", "software"));
    Staff::new(id, dept)
}

/// `n` case logs from `seed` (the same seed gives the same logs), the `i`-th opened `i`
/// hours after [`SERVICE_START`], decided under [`service_rules`].
///
/// # Errors
///
/// None in practice: refused commands are part of the stories and leave their log
/// untouched; an error opening a case would be returned, not hidden.
pub fn service_logs(n: usize, seed: u64) -> Result<Vec<Vec<Event>>, Error> {
    let rules = service_rules()?;
    let mut dice = Dice::new(seed);
    (0..n).map(|i| one_log(&rules, &mut dice, i)).collect()
}

#[allow(clippy::cast_possible_truncation)] // Small numbers from the dice.
fn one_log(rules: &Rules, dice: &mut Dice, i: usize) -> Result<Vec<Event>, Error> {
    let opened = SERVICE_START + Duration::hours(i as i64);
    let [b0, b1, b2, b3, b4, b5, b6, b7] = (i as u64).to_be_bytes();
    let bytes = [b0, b1, b2, b3, b4, b5, b6, b7, 0, 0];
    let owner = member(dice.below(5));
    let customer = Actor::customer(format!("cust-{}", i % 997));
    let opening = Opening::new(format!("cust-{}", i % 997), "my laptop works", owner);
    let mut ledger = Ledger::open(rules, CaseId::new_v7(opened, bytes), opening, &customer, opened)?;
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
            (customer.clone(), Command::Reopen { reason: "it broke again".into() })
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
                    (customer.clone(), Command::RecordReply { channel: Channel::Email, message: "still broken".into() })
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
                56..=69 => (customer.clone(), Command::ConfirmOutcome { statement: "it works now, thanks".into() }),
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
                    customer.clone(),
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
    Ok(ledger.into_events())
}

//! The built-in worklist in process: its answers equal a brute-force scan of every
//! replayed case over generated histories, on the memory and the file store and after
//! a restart; whom a case waits on, told from the log; the deadline sweep under a host
//! clock the test moves.

pub mod scan;

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use caseledger::projection::Projected;
use caseledger::worklist::{Query, WaitingOn, Worklist};
use caseledger::{policy::Span, Actor, Case, CaseId, Command, FileStore, MemoryStore, Opening, Rules, Staff, Store};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use time::macros::datetime;
use time::Duration;

fn check_store<S: Store>(store: &Projected<S, Worklist>) -> Result<(), String> {
    let status = store.status();
    if !status.is_current() {
        return Err(format!(
            "the worklist is stalled: {:?}",
            status.stalled.iter().map(|s| s.to_string()).collect::<Vec<_>>()
        ));
    }
    let cases = scan::replayed(store.cases().unwrap().into_iter().map(|c| store.read(c).unwrap()));
    store.view(|worklist| {
        scan::check(&cases, &scan::deadlines(), |q| worklist.page(q), |a, b| worklist.breached_between(a, b))
    })
}

proptest! {
    #[test]
    fn on_the_memory_store_the_worklist_answers_as_a_scan_of_every_case(histories in scan::many_histories(24)) {
        let store = Projected::new(MemoryStore::new(), Worklist::new(scan::deadlines())).unwrap();
        for event in scan::interleaved(&histories) {
            store.append(event.case, event.seq - 1, std::slice::from_ref(&event)).unwrap();
        }
        check_store(&store).map_err(TestCaseError::fail)?;
        // A rebuild from the stored cases gives the same answers.
        store.rebuild().unwrap();
        check_store(&store).map_err(TestCaseError::fail)?;
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self(std::env::temp_dir().join(format!("caseledger-worklist-{}-{n}", std::process::id())))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A quarter of the memory store's cases: each one writes files and syncs them.
fn file_cases() -> ProptestConfig {
    let base = ProptestConfig::default();
    ProptestConfig { cases: (base.cases / 4).max(8), ..base }
}

proptest! {
    #![proptest_config(file_cases())]
    #[test]
    fn on_the_file_store_the_worklist_answers_as_a_scan_before_and_after_a_restart(histories in scan::many_histories(16)) {
        let dir = TempDir::new();
        {
            let store = Projected::new(FileStore::open(&dir.0).unwrap(), Worklist::new(scan::deadlines())).unwrap();
            // Each case in two appends, the cases interleaved.
            for half in 0..2 {
                for h in &histories {
                    let events = h.events();
                    let mid = events.len() / 2;
                    let (from, part) = if half == 0 { (0, &events[..mid]) } else { (mid, &events[mid..]) };
                    if !part.is_empty() {
                        store.append(h.case().id(), from as u64, part).unwrap();
                    }
                }
            }
            check_store(&store).map_err(TestCaseError::fail)?;
        }
        // A new process: the directory reopened, the worklist rebuilt from it.
        let store = Projected::new(FileStore::open(&dir.0).unwrap(), Worklist::new(scan::deadlines())).unwrap();
        prop_assert_eq!(store.view(Worklist::len), histories.iter().filter(|h| !h.case().is_closed()).count());
        check_store(&store).map_err(TestCaseError::fail)?;
    }
}

// ---------------------------------------------------------------- waiting on whom

const T0: time::OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

struct Desk {
    rules: Rules,
    store: Projected<MemoryStore, Worklist>,
    case: CaseId,
    now: time::OffsetDateTime,
}

impl Desk {
    fn new() -> Self {
        let deadlines =
            caseledger::policy::Deadlines::default().first_response(Span::hours(4)).next_update(Span::days(1));
        let store = Projected::new(MemoryStore::new(), Worklist::new(deadlines)).unwrap();
        let rules = Rules::default();
        let case = CaseId::new_v7(T0, [9; 10]);
        let opened = rules
            .open(
                case,
                Opening::new("cust-7", "my laptop works", Staff::new("ana", "software")),
                &Actor::customer("cust-7"),
                T0,
            )
            .unwrap();
        store.append(case, 0, &[opened]).unwrap();
        Self { rules, store, case, now: T0 }
    }

    fn act(&mut self, by: Actor, command: Command) {
        self.now += Duration::minutes(30);
        let case = Case::replay(&self.store.read(self.case).unwrap()).unwrap();
        let events = self.rules.decide(&case, command, &by, self.now).unwrap();
        self.store.append(self.case, case.version(), &events).unwrap();
    }

    fn waiting_on(&self) -> Option<WaitingOn> {
        self.store.row(self.case).map(|r| r.waiting_on)
    }
}

fn ana() -> Actor {
    Actor::staff("ana", "software")
}

#[test]
fn whom_a_case_waits_on_follows_the_log() {
    let mut desk = Desk::new();
    assert_eq!(desk.waiting_on(), Some(WaitingOn::Staff), "a new case waits on staff");
    desk.act(
        ana(),
        Command::ContactCustomer { channel: caseledger::event::Channel::Email, message: "did it help?".into() },
    );
    assert_eq!(desk.waiting_on(), Some(WaitingOn::Customer), "staff asked; the customer owes the answer");
    desk.act(
        Actor::customer("cust-7"),
        Command::RecordReply { channel: caseledger::event::Channel::Email, message: "no".into() },
    );
    desk.act(
        Actor::customer("cust-7"),
        Command::RecordReply { channel: caseledger::event::Channel::Email, message: "hello?".into() },
    );
    assert_eq!(desk.waiting_on(), Some(WaitingOn::Staff), "the customer wrote last");
    assert_eq!(desk.store.row(desk.case).unwrap().asked_again, 2, "the customer asked twice unanswered");
    desk.act(ana(), Command::RequestConfirmation { reason: "the fix shipped".into() });
    assert_eq!(desk.waiting_on(), Some(WaitingOn::Staff), "a request nobody sent yet waits on staff");
    desk.act(
        ana(),
        Command::ContactCustomer { channel: caseledger::event::Channel::Email, message: "is it fixed?".into() },
    );
    assert_eq!(desk.waiting_on(), Some(WaitingOn::Confirmation));
    assert_eq!(desk.store.row(desk.case).unwrap().asked_again, 0, "answered by the contact");
    desk.act(Actor::customer("cust-7"), Command::ConfirmOutcome { statement: "it works".into() });
    assert_eq!(desk.waiting_on(), Some(WaitingOn::Staff), "confirmed: staff resolve");
    desk.act(ana(), Command::Resolve { summary: "fixed".into() });
    assert_eq!(desk.waiting_on(), None, "a closed case leaves the worklist");
    assert!(desk.store.page(&Query::owner("ana")).rows.is_empty());
    desk.act(Actor::customer("cust-7"), Command::Reopen { reason: "it broke again".into() });
    assert_eq!(desk.waiting_on(), Some(WaitingOn::Staff), "a reopened case is back with staff");
    let row = desk.store.row(desk.case).unwrap();
    assert_eq!(row.owner, Staff::new("ana", "software"));
    assert_eq!(
        row.next_deadline.map(|d| (d.kind, d.due_at)),
        Some((caseledger::policy::DeadlineKind::NextUpdate, desk.now + Duration::days(1))),
        "the next update counts from the reopening"
    );
}

#[test]
fn handoffs_bounces_and_escalations_move_the_row_between_queues() {
    let mut desk = Desk::new();
    desk.act(ana(), Command::Transfer { to: Staff::new("bo", "hardware"), note: "BIOS looks fine".into() });
    assert!(desk.store.page(&Query::owner("ana")).rows.is_empty());
    assert_eq!(desk.store.page(&Query::department("hardware")).rows.len(), 1);
    desk.act(
        Actor::staff("bo", "hardware"),
        Command::Transfer { to: Staff::new("ana", "software"), note: "software after all".into() },
    );
    desk.act(ana(), Command::Escalate { to: Staff::new("eve", "tier-2"), reason: "third try".into() });
    let row = desk.store.row(desk.case).unwrap();
    assert_eq!((row.handoffs, row.bounces, row.escalation_level), (3, 1, 1));
    assert_eq!(desk.store.page(&Query::owner("eve")).rows, vec![row]);
    assert_eq!(desk.store.page(&Query::customer("cust-7")).rows.len(), 1);
}

// ---------------------------------------------------------------- the sweep

#[test]
fn a_timer_sweeping_with_a_moving_clock_records_each_breach_once_on_the_timeline() {
    let deadlines = caseledger::policy::Deadlines::default().first_response(Span::hours(2)).next_update(Span::hours(8));
    let store = Projected::new(MemoryStore::new(), Worklist::new(deadlines)).unwrap();
    let rules = Rules::default();
    let cases: Vec<CaseId> = (0..5u8)
        .map(|n| {
            let at = T0 + Duration::minutes(20 * i64::from(n));
            let case = CaseId::new_v7(at, [n; 10]);
            let opening = Opening::new(format!("cust-{n}"), "my laptop works", Staff::new("ana", "software"));
            let by = caseledger::Actor::customer(format!("cust-{n}"));
            store.append(case, 0, &[rules.open(case, opening, &by, at).unwrap()]).unwrap();
            case
        })
        .collect();
    // Case 0 gets its first answer in time: no first-response breach, a next-update one later.
    let case0 = Case::replay(&store.read(cases[0]).unwrap()).unwrap();
    let contact = Command::ContactCustomer { channel: caseledger::event::Channel::Email, message: "on it".into() };
    let events = rules.decide(&case0, contact, &ana(), T0 + Duration::hours(1)).unwrap();
    store.append(cases[0], 1, &events).unwrap();

    // The host's timer: every 15 minutes of its clock, the breaches since its last run.
    let (mut last, mut now) = (T0, T0);
    let mut recorded = Vec::new();
    while now < T0 + Duration::hours(12) {
        now += Duration::minutes(15);
        let breaches = store.breached_between(last, now);
        for breach in breaches {
            assert!(breach.deadline.due_at > last && breach.deadline.due_at <= now);
            let case = Case::replay(&store.read(breach.case).unwrap()).unwrap();
            let note = rules.decide(&case, breach.deadline.breach_note(), &Actor::System, now).unwrap();
            store.append(breach.case, case.version(), &note).unwrap();
            recorded.push((breach.case, breach.deadline.kind));
        }
        last = now;
    }
    use caseledger::policy::DeadlineKind::{FirstResponse, NextUpdate};
    let mut want: Vec<_> = cases[1..].iter().map(|c| (*c, FirstResponse)).collect();
    want.insert(0, (cases[0], NextUpdate));
    recorded.sort_by_key(|(c, k)| (*c, *k == NextUpdate));
    want.sort_by_key(|(c, k)| (*c, *k == NextUpdate));
    assert_eq!(recorded, want, "each breach once: four first responses and case 0's next update");
    for (case, kind) in &want {
        let timeline = caseledger::Timeline::staff(&store.read(*case).unwrap()).to_string();
        assert_eq!(timeline.matches("deadline breached").count(), 1, "{case}: {timeline}");
        assert!(timeline.contains(&format!("{kind} deadline breached")), "{timeline}");
    }
    // Recording the breach did not hide it from the "breached now" queue.
    assert_eq!(store.page(&Query::breached(now)).rows.len(), 5);
}

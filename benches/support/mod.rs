//! Realistic case logs for the benchmarks (and the memory test), built once, outside any
//! timed loop, by deciding commands with `Rules::decide` so every event is one the crate
//! itself would record.
#![allow(dead_code)] // Each bench uses a different part of this module.

use caseledger::{Actor, CaseId, Channel, Command, Event, Ledger, Opening, Rules, Staff, Visibility};
use time::macros::datetime;
use time::Duration;

/// The sizes the issue asks for.
pub const SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];

/// [`SIZES`], up to `BENCH_MAX_EVENTS` when that is set (for quick runs and profiling:
/// building the 1e6 log takes seconds even when a filter skips its benchmarks).
pub fn sizes() -> Vec<usize> {
    let max = std::env::var("BENCH_MAX_EVENTS").ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::INFINITY);
    SIZES.into_iter().filter(|&n| n as f64 <= max).collect()
}

/// Distinct fact names; later facts replace earlier values, as in a real case where the
/// "current firmware" or "last known address" is updated.
const FACT_NAMES: [&str; 8] =
    ["serial number", "firmware", "model", "e-mail", "phone", "contract", "warranty until", "store"];

/// One cycle of the typical mix: 20 events of who-does-what on a busy case.
/// Notes 5, contacts 4, replies 4, fact updates 4, one transfer (a handoff with a note)
/// and, every [`WORK_EVERY`] cycles, a work item opened and completed (else two notes).
const CYCLE: usize = 20;

/// A work item is opened (and completed) once every this many cycles: one per 1,000
/// events, so even the 1e6 log stays within the default cap of 1,000 work items a case
/// may carry (`Limits::max_work_items`) and the mix is the same at every size.
const WORK_EVERY: usize = 50;

/// A typical log of exactly `n` events (the `opened` event included), decided under the
/// default rules.
pub fn typical_log(n: usize) -> Vec<Event> {
    typical_log_capped(n, usize::MAX)
}

/// A typical log that opens at most `max_work_items` work items, their later slots in the
/// mix becoming notes. Used to compare case memory at different history lengths with the
/// same state (same work items, facts, owners).
pub fn typical_log_capped(n: usize, max_work_items: usize) -> Vec<Event> {
    let staff = [
        Staff::new("ana", "software"),
        Staff::new("bo", "hardware"),
        Staff::new("cy", "parts"),
        Staff::new("di", "warranty"),
    ];
    let rules = Rules::default();
    let t0 = datetime!(2026-11-23 09:00 UTC);
    let opening = Opening::new("cust-1042", "my laptop boots and the fan is quiet", staff[0].clone());
    let mut ledger =
        Ledger::open(&rules, CaseId::new_v7(t0, [42; 10]), opening, &Actor::Customer, t0).expect("opening a case");
    let mut owner = 0usize;
    let mut items_opened = 0usize;
    for i in 1..n {
        let at = t0 + Duration::seconds(i64::try_from(i).expect("small"));
        let cycle = i / CYCLE;
        let may_open_work = cycle.is_multiple_of(WORK_EVERY) && items_opened < max_work_items;
        let (command, by) = typical_step(i % CYCLE, cycle, &staff, owner, may_open_work, &ledger);
        if let Command::OpenWork { .. } = command {
            items_opened += 1;
        }
        let transfer = matches!(command, Command::Transfer { .. });
        ledger.execute(&rules, command, &by, at).unwrap_or_else(|e| panic!("event {i}: {e}"));
        if transfer {
            owner = (owner + 1) % staff.len();
        }
    }
    let events = ledger.into_events();
    assert_eq!(events.len(), n);
    events
}

fn typical_step(
    step: usize,
    cycle: usize,
    staff: &[Staff; 4],
    owner: usize,
    may_open_work: bool,
    ledger: &Ledger,
) -> (Command, Actor) {
    let me = Actor::Staff(staff[owner].clone());
    let fact = |k: usize| Command::RecordFact {
        name: FACT_NAMES[(cycle * 4 + k) % FACT_NAMES.len()].to_owned(),
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
        (Command::RecordReply { channel, message }, Actor::Customer)
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
                department: staff[owner].department.clone(),
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
            let to = staff[(owner + 1) % staff.len()].clone();
            let text = format!("Over to {} for the next step; everything tried is in the notes.", to.department);
            (Command::Transfer { to, note: text }, me)
        }
        _ => note("Waiting for the customer to try the new part.", Visibility::Internal),
    }
}

/// The log as JSON Lines, and its size in bytes.
pub fn json_lines(events: &[Event]) -> String {
    caseledger::encode_log(events).expect("encoding events")
}

/// A label for a size: `1e3`, `1e5`, `1e6`.
pub fn label(n: usize) -> String {
    let mut exp = 0;
    let mut rest = n;
    while rest >= 10 && rest.is_multiple_of(10) {
        rest /= 10;
        exp += 1;
    }
    if rest == 1 {
        format!("1e{exp}")
    } else {
        n.to_string()
    }
}

/// Fewer samples for the big logs, so each bench finishes in minutes on two shared cores.
pub fn sample_size(n: usize) -> usize {
    if n >= 1_000_000 {
        10
    } else {
        20
    }
}

/// Criterion measurement of the bench thread's time on a CPU, from the scheduler's
/// accounting in `/proc/thread-self/schedstat` (Linux).
///
/// The benches run on a 2-core machine shared with compilers and test suites; wall time
/// there mostly measures how long the thread waited for a core. On-CPU time does not
/// (cache pollution from neighbours still shows), and on an idle machine the two agree.
/// Set `BENCH_WALL_TIME=1` to measure wall time instead.
pub struct OnCpu {
    wall: Option<std::time::Instant>,
    formatter: criterion::measurement::WallTime,
}

impl OnCpu {
    /// Nanoseconds on a CPU (or, with `BENCH_WALL_TIME`, since the bench started).
    fn now(&self) -> u64 {
        match self.wall {
            Some(start) => u64::try_from(start.elapsed().as_nanos()).expect("bench shorter than 584 years"),
            None => std::fs::read_to_string("/proc/thread-self/schedstat")
                .ok()
                .and_then(|s| s.split_whitespace().next().and_then(|ns| ns.parse().ok()))
                .expect("/proc/thread-self/schedstat (Linux with schedstats); set BENCH_WALL_TIME=1 elsewhere"),
        }
    }
}

impl criterion::measurement::Measurement for OnCpu {
    type Intermediate = u64;
    type Value = std::time::Duration;

    fn start(&self) -> u64 {
        self.now()
    }

    fn end(&self, start: u64) -> std::time::Duration {
        std::time::Duration::from_nanos(self.now().saturating_sub(start))
    }

    fn add(&self, a: &std::time::Duration, b: &std::time::Duration) -> std::time::Duration {
        *a + *b
    }

    fn zero(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    fn to_f64(&self, value: &std::time::Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn criterion::measurement::ValueFormatter {
        self.formatter.formatter()
    }
}

/// The configuration every bench here uses: on-CPU time unless `BENCH_WALL_TIME` is set.
pub fn on_cpu() -> criterion::Criterion<OnCpu> {
    let wall = std::env::var_os("BENCH_WALL_TIME").map(|_| std::time::Instant::now());
    criterion::Criterion::default().with_measurement(OnCpu { wall, formatter: criterion::measurement::WallTime })
}

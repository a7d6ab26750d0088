//! Instructions per in-memory command (issue 21, goal 5): a callgrind harness, not a
//! timing bench.
//!
//! For each history length (10, 1e3, 1e5 events) it builds one case in a `MemoryStore`,
//! loads it into a `Repository` and runs one command outside the counted part, then runs
//! `CASELEDGER_COMMANDS` notes (default 5,000) through `Repository::execute` inside
//! `counted`, the only function callgrind collects. The commands are built before it, so
//! the count is what `execute` costs a host: the request, the cache lookup, the decision,
//! every check, the store's append and the fold, and dropping the returned events.
//!
//! ```sh
//! cargo bench --bench command_cost --no-run
//! valgrind --tool=callgrind --toggle-collect='*command_cost::counted*' \
//!     target/release/deps/command_cost-* 1e5
//! ```
//!
//! Callgrind's total `Ir` divided by `CASELEDGER_COMMANDS` is the figure; the harness
//! prints the division's inputs. Without valgrind it just runs (and `cargo bench` runs it
//! at all three sizes as a smoke test).

mod support;

use std::hint::black_box;

use caseledger::{event::Visibility, rules::Limits, Actor, CaseId, Command, MemoryStore, Repository, Rules, Store};
use support::{label, typical_log};
use time::OffsetDateTime;

/// Runs every command of `commands` on `id`; callgrind counts only this function.
#[inline(never)]
fn counted(repo: &Repository<MemoryStore>, id: CaseId, by: &Actor, at: OffsetDateTime, commands: Vec<Command>) {
    for command in commands {
        black_box(repo.execute(id, command, by, at).expect("accepted"));
    }
}

/// `10`, `1e3`, `1e5`: a size as the benches label it.
fn parse_size(arg: &str) -> usize {
    let parsed = match arg.split_once('e') {
        Some((mantissa, exp)) => {
            mantissa.parse::<usize>().ok().zip(exp.parse::<u32>().ok()).map(|(m, e)| m * 10usize.pow(e))
        }
        None => arg.parse().ok(),
    };
    parsed.expect("a size such as 10, 1e3 or 1e5")
}

fn main() {
    // `CASELEDGER_SIZES=1`: the sizes of what a command moves between steps.
    if std::env::var_os("CASELEDGER_SIZES").is_some() {
        use caseledger::{error::StoreError, repository::Execution, Actor, Command, Event};
        eprintln!(
            "Execution {} Command {} Actor {} StoreError {} Event {}",
            std::mem::size_of::<Execution>(),
            std::mem::size_of::<Command>(),
            std::mem::size_of::<Actor>(),
            std::mem::size_of::<StoreError>(),
            std::mem::size_of::<Event>()
        );
    }
    let commands: usize = std::env::var("CASELEDGER_COMMANDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000);
    // `cargo bench` passes `--bench`; a size argument (`10`, `1e3`, `1e5`) picks one.
    let sizes: Vec<usize> = match std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        Some(size) => vec![parse_size(&size)],
        None => vec![10, 1_000, 100_000],
    };
    for n in sizes {
        let log = typical_log(n);
        let id = log[0].case;
        let at = log.last().map(|e| e.at).expect("a log has events");
        let store = MemoryStore::new();
        store.append(id, 0, &log).expect("stores");
        let mut limits = Limits::default();
        limits.max_events = u64::MAX;
        let repo = Repository::new(store, Rules::default().with_limits(limits));
        let by = Actor::Staff(repo.case(id).expect("loads").owner().clone());
        // One command outside the count: the first append grows the store's vector.
        let first = Command::AddNote { text: "first call".into(), visibility: Visibility::Internal };
        repo.execute(id, first, &by, at).expect("accepted");
        let batch: Vec<Command> = (0..commands)
            .map(|i| Command::AddNote {
                text: if i % 2 == 0 { "customer called again" } else { "left a voicemail" }.into(),
                visibility: Visibility::Internal,
            })
            .collect();
        counted(&repo, id, &by, at, batch);
        println!("history {}: {commands} commands counted", label(n));
    }
}

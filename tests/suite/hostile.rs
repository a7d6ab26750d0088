//! Hostile input in CI: the proptest twins of the cargo-fuzz targets in `fuzz/`, run on
//! arbitrary bytes and on valid logs damaged at random, plus the hand-made inputs that
//! break naive parsers. Every input ends in a value or a typed error, never a panic (I8).
//! The checks themselves live in `support/hostile.rs`, shared with the fuzzers.

use crate::support::hostile as harness;

use caseledger::{
    codec::{decode_log, encode_log},
    error::DecodeError,
    event::Visibility,
    Actor, CaseId, Command, Event, Ledger, Opening, Rules, Staff,
};
use proptest::prelude::*;
use time::macros::datetime;

/// A valid log of the laptop story (S1), to damage.
fn story_log() -> String {
    let t = datetime!(2026-11-23 09:00 UTC);
    let rules = Rules::default();
    let ana = Staff::new("ana", "software");
    let bo = Staff::new("bo", "hardware");
    let mut ledger = Ledger::open(
        &rules,
        CaseId::new_v7(t, [42; 10]),
        Opening::new("cust-1042", "my laptop works", ana.clone()),
        &Actor::customer("cust-1042"),
        t,
    )
    .unwrap();
    let steps = [
        (
            Command::OpenWork { item: "SW-1".into(), department: "software".into(), title: "update the BIOS".into() },
            &ana,
        ),
        (Command::CompleteWork { item: "SW-1".into(), note: "BIOS 1.9, still dead".into() }, &ana),
        (Command::AddNote { text: "suspect the board".into(), visibility: Visibility::Internal }, &ana),
        (Command::Transfer { to: bo.clone(), note: "BIOS done, board next".into() }, &ana),
        (Command::RecordFact { name: "serial".into(), value: "SN-123".into(), visibility: Visibility::Customer }, &bo),
    ];
    for (minutes, (command, who)) in (1..).zip(steps) {
        ledger.execute(&rules, command, &Actor::Staff(who.clone()), t + time::Duration::minutes(minutes)).unwrap();
    }
    let later = t + time::Duration::hours(2);
    ledger
        .execute(&rules, Command::ConfirmOutcome { statement: "it boots".into() }, &crate::support::customer(), later)
        .unwrap();
    ledger.execute(&rules, Command::Resolve { summary: "new board".into() }, &Actor::Staff(bo), later).unwrap();
    encode_log(ledger.events()).unwrap()
}

/// Ways a log gets damaged: torn writes, bad merges, hand edits, bit rot.
#[derive(Clone, Debug)]
enum Damage {
    DropLine(usize),
    RepeatLine(usize),
    SwapLines(usize, usize),
    SetByte(usize, u8),
    Cut(usize),
    Insert(usize, &'static str),
}

const SPLINTERS: [&str; 12] = [
    "\"",
    "{",
    "}]",
    "\n",
    "\"seq\":0,",
    "null",
    "\"type\":\"resolved\",",
    "\\u0000",
    "\\ud800",
    "18446744073709551616",
    "\"at\":\"9999-12-31T23:59:60Z\",",
    "\u{feff}",
];

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<usize>().prop_map(Damage::DropLine),
        any::<usize>().prop_map(Damage::RepeatLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Damage::SwapLines(a, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Damage::SetByte(at, b)),
        any::<usize>().prop_map(Damage::Cut),
        (any::<usize>(), proptest::sample::select(SPLINTERS.to_vec())).prop_map(|(at, s)| Damage::Insert(at, s)),
    ]
}

fn apply(log: &str, damages: &[Damage]) -> Vec<u8> {
    let mut bytes = log.as_bytes().to_vec();
    for d in damages {
        let mut lines: Vec<Vec<u8>> = bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
        let n = lines.len();
        match *d {
            Damage::DropLine(i) => drop(lines.remove(i % n)),
            Damage::RepeatLine(i) => lines.insert(i % n, lines[i % n].clone()),
            Damage::SwapLines(a, b) => lines.swap(a % n, b % n),
            Damage::SetByte(at, b) if !bytes.is_empty() => {
                let at = at % bytes.len();
                bytes[at] = b;
                continue;
            }
            Damage::Cut(at) => {
                bytes.truncate(at % (bytes.len() + 1));
                continue;
            }
            Damage::Insert(at, s) => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, s.bytes());
                continue;
            }
            Damage::SetByte(..) => continue,
        }
        bytes = lines.join(&b'\n');
    }
    bytes
}

proptest! {
    #[test]
    fn any_bytes_decode_as_an_event_or_a_typed_error(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        harness::decode_event(&bytes);
    }

    #[test]
    fn any_damaged_event_decodes_or_is_refused(damages in proptest::collection::vec(damage(), 1..4)) {
        let log = story_log();
        let first = log.lines().nth(3).unwrap();
        harness::decode_event(&apply(first, &damages));
    }

    #[test]
    fn any_bytes_replay_as_a_case_or_a_typed_error(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        harness::replay_log(&bytes);
    }

    #[test]
    fn any_damaged_log_replays_or_is_refused(damages in proptest::collection::vec(damage(), 1..6)) {
        harness::replay_log(&apply(&story_log(), &damages));
    }

    #[test]
    fn any_bytes_decode_as_a_command_body_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        harness::command_json(&bytes);
    }

    #[test]
    fn any_damaged_command_body_decodes_and_is_decided_or_is_refused(
        seed in proptest::sample::select(command_seeds()),
        damages in proptest::collection::vec(damage(), 1..4),
    ) {
        harness::command_json(&apply(&seed, &damages));
    }

    #[test]
    fn any_command_sequence_is_decided_and_folded_alike(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        harness::decide_commands(&bytes);
    }
}

/// The command bodies the fuzzer starts from (`fuzz/corpus/command_json`).
fn command_seeds() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/command_json");
    let mut seeds: Vec<(std::path::PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect();
    seeds.sort();
    seeds.into_iter().map(|(_, text)| text).collect()
}

/// The body harness is only worth its runs if the seeds reach the rules: every valid
/// seed is accepted somewhere, and the broken ones decode to nothing. (Whether a member
/// the command does not have, or one given twice, is ignored or refused is the server's
/// rule to set: read through a JSON value, as the reference server reads a body, the
/// last of repeated members wins. So the `extra-member-` seeds may go either way.)
#[test]
fn the_command_body_seeds_reach_the_rules_and_the_broken_ones_do_not_decode() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/command_json");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let accepted = harness::command_json(&std::fs::read(&path).unwrap());
        if name.starts_with("broken-") {
            assert_eq!(accepted, 0, "{name} decodes");
        } else if !name.starts_with("extra-member-") {
            assert!(accepted > 0, "{name} is accepted by no actor on no small case");
        }
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} seeds in {}", dir.display());
}

/// The command harness is only worth its runs if its choices reach every kind of event
/// (resolving needs a confirmation and no open work; reopening needs a closed case).
#[test]
fn the_command_harness_reaches_every_kind_of_event() {
    let mut seen = std::collections::BTreeSet::new();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..2_000 {
        let bytes: Vec<u8> = (0..200)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        seen.extend(harness::decide_commands(&bytes).iter().map(|e| e.what.tag()));
    }
    let all = caseledger::EventKind::TAGS;
    let missing: Vec<_> = all.iter().filter(|k| !seen.contains(*k)).collect();
    assert!(missing.is_empty(), "never decided: {missing:?}");
}

#[test]
fn the_story_log_itself_replays() {
    let log = story_log();
    let events = decode_log(&log).unwrap();
    assert_eq!(events.len(), 8);
    assert!(caseledger::Case::replay(&events).unwrap().is_closed());
    harness::replay_log(log.as_bytes());
}

#[test]
fn deeply_nested_json_is_a_typed_error_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = Event::from_json(&deep).unwrap_err();
    assert_eq!(err, DecodeError::NotAnEvent { line: 1, message: "invalid type: sequence, expected u32".into() });

    // Nested inside an event, where serde buffers the internally tagged `what`.
    let line = story_log().lines().nth(2).unwrap().to_owned();
    let nested =
        line.replacen("\"what\":{", &format!("\"what\":{{\"x\":{}1{},", "[".repeat(5_000), "]".repeat(5_000)), 1);
    let err = decode_log(&format!("\n{nested}")).unwrap_err();
    assert_eq!(err.line(), 2, "{err}");
    assert!(err.to_string().contains("recursion limit"), "{err}");
}

#[test]
fn numbers_out_of_range_are_not_events() {
    let line = story_log().lines().next().unwrap().to_owned();
    for seq in ["-1", "18446744073709551616", "1e400", "1.5", "null"] {
        let bad = line.replacen("\"seq\":1,", &format!("\"seq\":{seq},"), 1);
        let err = Event::from_json(&bad).unwrap_err();
        assert!(
            matches!(err, DecodeError::NotAnEvent { line: 1, .. } | DecodeError::Syntax { line: 1, .. }),
            "seq {seq}: {err}"
        );
    }
}

#[test]
fn lone_surrogates_and_raw_control_characters_are_syntax_errors() {
    let line = story_log().lines().next().unwrap().to_owned();
    let surrogate = line.replacen("my laptop works", "my \\ud800 laptop", 1);
    assert!(matches!(Event::from_json(&surrogate), Err(DecodeError::Syntax { .. })));
    let control = line.replacen("my laptop works", "my \u{1} laptop", 1);
    assert!(matches!(Event::from_json(&control), Err(DecodeError::Syntax { .. })));
}

#[test]
fn a_repeated_field_is_not_an_event() {
    let line = story_log().lines().next().unwrap().to_owned();
    let twice = line.replacen("\"seq\":1,", "\"seq\":1,\"seq\":2,", 1);
    let err = Event::from_json(&twice).unwrap_err();
    assert_eq!(err, DecodeError::NotAnEvent { line: 1, message: "duplicate field `seq`".into() });
}

/// Regression (found while reviewing for I8): `Rules::open` and `Rules::decide` converted
/// `at` to UTC with `to_offset`, which panics when the UTC time leaves the calendar the
/// `time` crate supports (the last hour of 9999 at a negative offset). And a time before
/// the year 0000 was accepted, giving an event that `encode_log` then could not write:
/// the host lost it. Both are now `Refusal::TimeNotWritable`.
#[test]
fn a_time_no_log_can_hold_is_refused_not_panicked_on_or_lost() {
    let rules = Rules::default();
    let ana = Staff::new("ana", "software");
    let opening = || Opening::new("cust-1042", "my laptop works", ana.clone());
    for at in [datetime!(9999-12-31 23:00 -5), datetime!(0000-01-01 00:30 +1), datetime!(-0001-06-01 00:00 UTC)] {
        let err = rules.open(CaseId::new_v7(at, [1; 10]), opening(), &Actor::customer("cust-1042"), at).unwrap_err();
        assert_eq!(err, caseledger::Refusal::TimeNotWritable { at });
    }

    let t = datetime!(9999-12-31 22:00 UTC);
    let ledger = Ledger::open(&rules, CaseId::new_v7(t, [1; 10]), opening(), &crate::support::customer(), t).unwrap();
    let note = Command::AddNote { text: "last hour of the calendar".into(), visibility: Visibility::Internal };
    let late = datetime!(9999-12-31 23:30 -5);
    let err = rules.decide(ledger.case(), note.clone(), &Actor::Staff(ana.clone()), late).unwrap_err();
    assert_eq!(err, caseledger::Refusal::TimeNotWritable { at: late });
    // The last writable moment itself is fine, and is written.
    let last = datetime!(9999-12-31 23:59:59.999_999_999 UTC);
    let events = rules.decide(ledger.case(), note, &Actor::Staff(ana), last).unwrap();
    assert!(encode_log(&events).unwrap().contains("\"at\":\"9999-12-31T23:59:59.999999999Z\""));

    // Building an event by hand with such a time does not panic either.
    let event = Event::new(ledger.case().id(), 2, events[0].id, late, Actor::System, events[0].what.clone());
    assert_eq!(event.at, late);
}

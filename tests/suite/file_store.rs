//! The file store as an operator meets it: a second process on the same directory, a
//! changed byte, a damaged case beside healthy ones, a full disk after a crash, an
//! oversized line, and the line format a host can verify on its own. Real files in
//! temporary directories.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{ana, log_path, note, TempDir, T0};
use caseledger::{
    error::{DecodeError, Location, StoreError},
    rules::Limits,
    Actor, Case, CaseId, Error, Event, FileStore, Opening, Repository, Rules, Store,
};
use time::Duration;

fn case_id(n: u8) -> CaseId {
    CaseId::new_v7(T0 + Duration::minutes(i64::from(n)), [n; 10])
}

/// A case opened by the customer, then `notes` internal notes by ana.
fn decided(case: CaseId, notes: usize) -> Vec<Event> {
    let rules = Rules::default();
    let opened = rules.open(case, Opening::new("cust-1", "my laptop works", ana()), &Actor::Customer, T0).unwrap();
    let mut current = Case::from_opened(&opened).unwrap();
    let mut events = vec![opened];
    for i in 0..notes {
        let new = rules.decide(&current, note(format!("note {i}")), &Actor::Staff(ana()), T0).unwrap();
        for e in &new {
            current.apply(e).unwrap();
        }
        events.extend(new);
    }
    events
}

fn torn_path(dir: &Path, case: CaseId) -> PathBuf {
    dir.join(format!("{case}.jsonl.torn"))
}

// ---------------------------------------------------------------- one store per directory

#[test]
fn a_second_store_on_a_directory_in_use_is_refused_until_the_first_is_dropped() {
    let dir = TempDir::new("fs", "lock");
    let case = case_id(1);
    let events = decided(case, 1);
    let first = FileStore::open(dir.path()).unwrap();
    first.append(case, 0, &events[..1]).unwrap();
    let before = fs::read(log_path(dir.path(), case)).unwrap();

    let err = FileStore::open(dir.path()).unwrap_err();
    assert!(matches!(&err, StoreError::Locked { dir: d } if d == dir.path()), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: the directory is in use by another FileStore (in this or another process); open one store per \
             directory and share it",
            dir.path().display()
        )
    );
    // The refused store touched no case file, and the first one still works.
    assert_eq!(fs::read(log_path(dir.path(), case)).unwrap(), before);
    assert_eq!(first.append(case, 1, &events[1..]).unwrap().version, 2);

    drop(first);
    let second = FileStore::open(dir.path()).unwrap();
    assert_eq!(second.read(case).unwrap(), events);
}

#[test]
fn opening_creates_missing_directories() {
    let dir = TempDir::new("fs", "nested");
    let nested = dir.path().join("a").join("b");
    let case = case_id(2);
    FileStore::open(&nested).unwrap().append(case, 0, &decided(case, 0)).unwrap();
    assert!(log_path(&nested, case).is_file());
    assert_eq!(FileStore::open(&nested).unwrap().version(case).unwrap(), 1);
}

// ---------------------------------------------------------------- the line format

/// CRC-32C computed bit by bit, independently of the crate's table: the documented rule.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn every_line_is_an_event_with_a_checksum_a_host_can_verify() {
    assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    let dir = TempDir::new("fs", "format");
    let case = case_id(3);
    let events = decided(case, 2);
    FileStore::open(dir.path()).unwrap().append(case, 0, &events).unwrap();
    let text = fs::read_to_string(log_path(dir.path(), case)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    for (line, event) in lines.iter().zip(&events) {
        // The documented rule: the last 21 bytes are `,"crc32c":"` + 8 hex digits + `"}`,
        // and the digits are the CRC-32C of everything before them.
        let (body, suffix) = line.split_at(line.len() - 21);
        assert!(suffix.starts_with(",\"crc32c\":\"") && suffix.ends_with("\"}"), "{suffix}");
        assert_eq!(u32::from_str_radix(&suffix[11..19], 16).unwrap(), crc32c(body.as_bytes()));
        // Each line is still one JSON object: the event plus its checksum member.
        let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
        value.as_object_mut().unwrap().remove("crc32c").unwrap();
        assert_eq!(value, serde_json::to_value(event).unwrap());
        assert_eq!(&Event::from_json(line).unwrap(), event);
    }
    // And the file is still a log `decode_log` reads.
    assert_eq!(caseledger::codec::decode_log(&text).unwrap(), events);
}

// ---------------------------------------------------------------- every changed byte

/// The byte values tried at every offset: every single-bit flip of the original byte,
/// and every byte that means something to JSON Lines or to the line format. (Every one
/// of the 255 other values at every offset is tried on the line check itself, without
/// files, by the unit tests of `src/store/line.rs`.)
fn changes(original: u8) -> impl Iterator<Item = u8> {
    let flips = (0..8).map(move |bit| original ^ (1 << bit));
    let meaningful = *b"\n\r \0\"{}[],:\\0129afxz";
    flips.chain(meaningful).filter(move |&v| v != original)
}

/// A scratch directory where syncs are cheap (tmpfs when the machine has one): this
/// test opens a store thousands of times and is about detection, not durability.
fn scratch(name: &str) -> TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && fs::metadata(shm).is_ok_and(|m| !m.permissions().readonly()) {
        let dir = shm.join(format!("caseledger-fs-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        TempDir(dir)
    } else {
        TempDir::new("fs", name)
    }
}

/// Writes a three-event log, then for every offset of its middle and of its last line
/// changes the byte there (see [`changes`]) and opens the store over the changed file.
/// Each change must be reported with the file and the changed line (the case is
/// quarantined), or set aside as a torn tail; what the store serves is never anything
/// but untouched events from before the change.
#[test]
fn every_single_byte_change_of_a_middle_or_last_line_is_caught() {
    let dir = scratch("flips");
    let case = case_id(4);
    let events = decided(case, 2);
    FileStore::open(dir.path()).unwrap().append(case, 0, &events).unwrap();
    let path = log_path(dir.path(), case);
    let original = fs::read(&path).unwrap();
    let starts: Vec<usize> = std::iter::once(0)
        .chain(original.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1))
        .collect();
    assert_eq!(starts.len(), 4, "three lines");

    let (mut quarantined, mut torn) = (0, 0);
    for (line, range) in [(2, starts[1]..starts[2]), (3, starts[2]..starts[3])] {
        for offset in range {
            for value in changes(original[offset]) {
                let mut changed = original.clone();
                changed[offset] = value;
                fs::write(&path, &changed).unwrap();
                let _ = fs::remove_file(torn_path(dir.path(), case));
                let store = FileStore::open(dir.path()).unwrap();
                let what = format!("line {line}, offset {offset}, byte {value:#04x}");
                if let [q] = store.quarantined() {
                    assert_eq!((q.case, &q.log), (case, &path), "{what}");
                    // A newline written into line n splits it, so the damage may be
                    // reported on the line after it.
                    assert!(q.line == line || (value == b'\n' && q.line == line + 1), "{what}: {}", q.reason);
                    assert!(q.reason.to_string().contains(&format!("line {}", q.line)), "{what}: {}", q.reason);
                    assert!(store.set_aside().is_empty(), "{what}");
                    assert!(store.read(case).is_err(), "{what}");
                    quarantined += 1;
                } else {
                    assert!(store.quarantined().is_empty(), "{what}");
                    let [aside] = store.set_aside() else { panic!("{what}: neither reported nor set aside") };
                    assert!(!aside.pending, "{what}: {aside:?}");
                    let served = store.read(case).unwrap();
                    assert!(served.len() < line, "{what}: the changed event was served");
                    assert_eq!(served, events[..served.len()], "{what}");
                    torn += 1;
                }
            }
        }
    }
    // Both outcomes occur: a changed middle line is reported, a changed last line is
    // mostly set aside.
    assert!(quarantined > 0 && torn > 0, "{quarantined} reported, {torn} set aside");
}

// ---------------------------------------------------------------- quarantine

#[test]
fn a_damaged_case_is_quarantined_and_the_healthy_one_serves_commands() {
    let dir = TempDir::new("fs", "quarantine");
    let rules = Rules::default();
    let (damaged, healthy) = (case_id(5), case_id(6));
    {
        let repo = Repository::new(FileStore::open(dir.path()).unwrap(), Rules::default());
        for case in [damaged, healthy] {
            repo.open(case, Opening::new("cust-5", "my laptop works", ana()), &Actor::Customer, T0).unwrap();
            repo.execute(case, note("tried safe mode"), &Actor::Staff(ana()), T0).unwrap();
            repo.execute(case, note("customer called"), &Actor::Staff(ana()), T0).unwrap();
        }
    }
    // A disk error changes one character in the middle of the damaged case's log.
    let path = log_path(dir.path(), damaged);
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text.replacen("tried safe mode", "tried safe mods", 1)).unwrap();

    let store = FileStore::open(dir.path()).unwrap();
    let [q] = store.quarantined() else { panic!("{:?}", store.quarantined()) };
    assert_eq!((q.case, &q.log, q.line), (damaged, &path, 2));
    assert!(
        matches!(q.reason, StoreError::Checksum { location: Location::Line { line: 2, .. }, stored: Some(_), .. }),
        "{}",
        q.reason
    );
    assert_eq!(store.cases().unwrap(), vec![healthy]);
    assert_eq!(store.customer_cases(&"cust-5".into()).unwrap(), vec![healthy]);

    let repo = Repository::new(store, rules);
    repo.execute(healthy, note("new battery ordered"), &Actor::Staff(ana()), T0).unwrap();
    assert_eq!(repo.case(healthy).unwrap().version(), 4);

    let err = repo.execute(damaged, note("still there?"), &Actor::Staff(ana()), T0).unwrap_err();
    assert!(
        matches!(&err, Error::Store(StoreError::Quarantined { case, location: Location::Line { line: 2, .. } }) if *case == damaged),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "case {damaged} is quarantined: {}, line 2 is damaged; repair the file and reopen the store",
            path.display()
        )
    );
    let events = decided(damaged, 0);
    assert!(matches!(repo.store().append(damaged, 3, &events), Err(StoreError::Quarantined { .. })));
    assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 3, "nothing was appended to the damaged log");

    // The operator repairs the line (here: restores it from a backup) and restarts.
    drop(repo);
    fs::write(&path, &text).unwrap();
    let repo = Repository::new(FileStore::open(dir.path()).unwrap(), Rules::default());
    assert!(repo.store().quarantined().is_empty());
    repo.execute(damaged, note("still there?"), &Actor::Staff(ana()), T0).unwrap();
    assert_eq!(repo.store().cases().unwrap(), vec![damaged, healthy]);
}

#[test]
fn a_line_over_the_limit_is_not_read_and_its_case_is_quarantined() {
    let dir = TempDir::new("fs", "long");
    let case = case_id(7);
    let events = decided(case, 2);
    FileStore::open(dir.path()).unwrap().append(case, 0, &events).unwrap();
    let longest = fs::read_to_string(log_path(dir.path(), case)).unwrap().lines().map(str::len).max().unwrap();

    let mut limits = Limits::default();
    limits.max_line_bytes = longest - 1;
    let store = FileStore::open_with_limits(dir.path(), &limits).unwrap();
    let [q] = store.quarantined() else { panic!("{:?}", store.quarantined()) };
    assert!(
        matches!(q.reason, StoreError::Corrupt { source: DecodeError::LineTooLong { max, .. }, .. } if max == longest - 1),
        "{}",
        q.reason
    );
    drop(store);

    // The store never writes a line it would not read back.
    limits.max_line_bytes = longest;
    let other = case_id(8);
    let store = FileStore::open_with_limits(dir.path(), &limits).unwrap();
    let big = {
        let rules = Rules::default();
        let opened = decided(other, 0);
        let case = Case::from_opened(&opened[0]).unwrap();
        let mut big = opened;
        big.extend(rules.decide(&case, note("x".repeat(longest)), &Actor::Staff(ana()), T0).unwrap());
        big
    };
    let err = store.append(other, 0, &big).unwrap_err();
    assert!(matches!(err, StoreError::TooLarge { seq: 2, max, .. } if max == longest), "{err}");
    assert_eq!(store.version(other).unwrap(), 0, "nothing was written");
    store.append(other, 0, &big[..1]).unwrap();
}

// ---------------------------------------------------------------- a full disk after a crash

#[test]
fn a_torn_tail_that_cannot_be_set_aside_does_not_stop_the_store_from_opening() {
    let dir = TempDir::new("fs", "nospace");
    let case = case_id(9);
    let events = decided(case, 2);
    FileStore::open(dir.path()).unwrap().append(case, 0, &events[..2]).unwrap();
    let log = log_path(dir.path(), case);
    let line = events[2].to_json().unwrap();
    let tail = &line.as_bytes()[..40];
    let mut bytes = fs::read(&log).unwrap();
    bytes.extend_from_slice(tail);
    fs::write(&log, &bytes).unwrap();
    // The side file cannot be written (as on a full disk): a directory stands in its way.
    fs::create_dir(torn_path(dir.path(), case)).unwrap();

    let store = FileStore::open(dir.path()).unwrap();
    let [aside] = store.set_aside() else { panic!("{:?}", store.set_aside()) };
    assert!(aside.pending && aside.line == 3 && aside.bytes == 40, "{aside:?}");
    assert_eq!(store.read(case).unwrap(), events[..2], "every acknowledged event is served");
    assert_eq!(fs::read(&log).unwrap(), bytes, "the torn bytes are still in the log, past its end");

    // Appends fail with the typed error until there is room again; nothing is lost.
    let err = store.append(case, 2, &events[2..]).unwrap_err();
    assert!(matches!(err, StoreError::Io { op: "open", .. }), "{err}");
    assert_eq!(fs::read(&log).unwrap(), bytes);
    fs::remove_dir(torn_path(dir.path(), case)).unwrap();
    assert_eq!(store.append(case, 2, &events[2..]).unwrap().version, 3);
    assert_eq!(fs::read(torn_path(dir.path(), case)).unwrap(), [tail, b"\n"].concat(), "the torn bytes are kept");

    drop(store);
    let reopened = FileStore::open(dir.path()).unwrap();
    assert!(reopened.set_aside().is_empty());
    assert_eq!(reopened.read(case).unwrap(), events);
}

//! The file store as an operator meets it: a second process on the same directory, a
//! changed byte, a damaged case beside healthy ones, a full disk after a crash, an
//! oversized line, and the line format a host can verify on its own. Real files in
//! temporary directories.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{ana, append_raw, log_path, note, TempDir, T0};
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
    let opened =
        rules.open(case, Opening::new("cust-1", "my laptop works", ana()), &Actor::customer("cust-1"), T0).unwrap();
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

/// What the damage sweeps saw, printed so that CI output shows the counts.
#[derive(Debug, Default)]
struct Counts {
    changes: usize,
    quarantined: usize,
    set_aside: usize,
    /// Opens that served the case without an acknowledged event.
    lost: usize,
    /// Appends the store accepted into the sequence number of an acknowledged event it
    /// no longer served.
    reused: usize,
}

/// Prints a sweep's counts to the process's stderr: the test harness captures
/// `println!` and `eprintln!` of passing tests, and CI output should show the counts.
fn counts_line(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A different event for each position of [`decided`]'s log, for appends that must not
/// be accepted where an acknowledged event stands.
fn others(case: CaseId) -> Vec<Event> {
    let rules = Rules::default();
    let opened =
        rules.open(case, Opening::new("cust-2", "my printer prints", ana()), &Actor::customer("cust-2"), T0).unwrap();
    let mut current = Case::from_opened(&opened).unwrap();
    let mut events = vec![opened];
    for i in 0..2 {
        let new = rules.decide(&current, note(format!("other {i}")), &Actor::Staff(ana()), T0).unwrap();
        current.apply(&new[0]).unwrap();
        events.extend(new);
    }
    events
}

/// Writes a three-event log, then for every offset of its middle line and of its last
/// complete line changes the byte there (see [`changes`]) and opens the store over the
/// changed file. Every change must quarantine the case with the file, the changed line
/// and its bytes, and nothing may be served without an acknowledged event or appended in
/// its place: the acknowledged last line is no torn write.
#[test]
fn every_single_byte_change_of_a_middle_or_the_last_complete_line_quarantines_the_case() {
    let started = std::time::Instant::now();
    let dir = scratch("flips");
    let case = case_id(4);
    let events = decided(case, 2);
    let others = others(case);
    FileStore::open(dir.path()).unwrap().append(case, 0, &events).unwrap();
    let path = log_path(dir.path(), case);
    let original = fs::read(&path).unwrap();
    let starts: Vec<usize> = std::iter::once(0)
        .chain(original.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1))
        .collect();
    assert_eq!(starts.len(), 4, "three lines");

    let mut counts = Counts::default();
    for (line, range) in [(2, starts[1]..starts[2]), (3, starts[2]..starts[3])] {
        for offset in range {
            for value in changes(original[offset]) {
                let mut changed = original.clone();
                changed[offset] = value;
                fs::write(&path, &changed).unwrap();
                let _ = fs::remove_file(torn_path(dir.path(), case));
                let store = FileStore::open(dir.path()).unwrap();
                let what = format!("line {line}, offset {offset}, byte {value:#04x}");
                counts.changes += 1;
                let served = match store.read(case) {
                    Ok(served) => served,
                    Err(err) => {
                        let [q] = store.quarantined() else { panic!("{what}: {err}, yet not quarantined") };
                        assert_eq!((q.case, &q.log), (case, &path), "{what}");
                        // A newline written into line n splits it, so the damage may be
                        // reported on the line after it.
                        assert!(q.line == line || (value == b'\n' && q.line == line + 1), "{what}: {}", q.reason);
                        assert!(q.bytes.start <= offset as u64 + 1 && (offset as u64) < q.bytes.end, "{what}: {q}");
                        assert!(q.reason.to_string().contains(&format!("line {}", q.line)), "{what}: {}", q.reason);
                        assert!(store.set_aside().is_empty(), "{what}");
                        assert!(
                            matches!(&err, StoreError::Quarantined { location: Location::Line { path: p, line: l, bytes: Some(bytes), .. }, .. }
                                if *p == path && *l == q.line && *bytes == q.bytes),
                            "{what}: {err}"
                        );
                        counts.quarantined += 1;
                        Vec::new()
                    }
                };
                if !store.set_aside().is_empty() {
                    counts.set_aside += 1;
                }
                if !served.is_empty() && served != events {
                    counts.lost += 1;
                    eprintln!("{what}: served {} of 3 events", served.len());
                }
                // Try to put another event where the first event the store no longer
                // serves stood (the changed line when it serves nothing).
                let at = if served.is_empty() { line - 1 } else { served.len() };
                if at < events.len() && store.append(case, at as u64, &others[at..at + 1]).is_ok() {
                    counts.reused += 1;
                    eprintln!("{what}: an append took sequence number {}", at + 1);
                }
            }
        }
    }
    counts_line(&format!("last-line damage sweep: {counts:?} in {:.1?}", started.elapsed()));
    assert_eq!((counts.lost, counts.reused), (0, 0), "{counts:?}");
    assert_eq!((counts.quarantined, counts.set_aside), (counts.changes, 0), "every change is damage: {counts:?}");
    assert!(counts.changes > 5000, "{counts:?}");
}

/// An append interrupted by a crash leaves a prefix of its batch: every cut of a real
/// two-event batch, at every byte, serves the acknowledged events (and the batch's
/// complete lines), sets aside only an incomplete last line, and takes the retry.
#[test]
fn a_torn_batch_cut_at_every_byte_sets_its_incomplete_line_aside_and_serves_every_acknowledged_event() {
    let started = std::time::Instant::now();
    let dir = scratch("torn-sweep");
    let case = case_id(10);
    let events = decided(case, 4);
    // The batch's bytes exactly as the store writes them, from a store of its own.
    let written = TempDir::new("fs", "torn-sweep-source");
    FileStore::open(written.path()).unwrap().append(case, 0, &events).unwrap();
    let full = fs::read(log_path(written.path(), case)).unwrap();
    let acknowledged = full.split_inclusive(|&b| b == b'\n').take(3).map(<[u8]>::len).sum::<usize>();
    let (base, batch) = full.split_at(acknowledged);
    let first_line = batch.iter().position(|&b| b == b'\n').unwrap() + 1;

    let path = log_path(dir.path(), case);
    let (mut cuts, mut set_aside, mut lost) = (0, 0, 0);
    for cut in 1..batch.len() {
        fs::create_dir_all(dir.path()).unwrap();
        fs::write(&path, [base, &batch[..cut]].concat()).unwrap();
        let _ = fs::remove_file(torn_path(dir.path(), case));
        let what = format!("batch cut after {cut} bytes");
        let store = FileStore::open(dir.path()).unwrap();
        assert!(store.quarantined().is_empty(), "{what}: {}", store.damage());
        let complete = 3 + usize::from(cut >= first_line);
        let served = store.read(case).unwrap();
        if served != events[..complete] {
            lost += 1;
        }
        if cut == first_line {
            assert!(store.set_aside().is_empty(), "{what}: {}", store.damage());
        } else {
            let [aside] = store.set_aside() else { panic!("{what}: {}", store.damage()) };
            let line_start = if cut > first_line { first_line } else { 0 };
            assert_eq!(
                (aside.line, aside.bytes, aside.pending),
                (complete + 1, (cut - line_start) as u64, false),
                "{what}"
            );
            assert_eq!(fs::read(&aside.torn).unwrap(), [&batch[line_start..cut], b"\n"].concat(), "{what}");
            set_aside += 1;
        }
        // The writer was never acknowledged; its retry completes the log.
        assert_eq!(store.append(case, 3, &events[3..]).unwrap().version, 5, "{what}");
        drop(store);
        assert_eq!(fs::read(&path).unwrap(), full, "{what}");
        cuts += 1;
    }
    counts_line(&format!(
        "torn-tail sweep: {cuts} cuts of a {}-byte batch, {set_aside} set aside, {lost} served without an \
         acknowledged event, in {:.1?}",
        batch.len(),
        started.elapsed()
    ));
    assert_eq!(lost, 0);
    assert_eq!(set_aside, cuts - 1);
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
            repo.open(case, Opening::new("cust-5", "my laptop works", ana()), &Actor::customer("cust-5"), T0).unwrap();
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
    let line_2 = {
        let start = text.find('\n').unwrap() as u64 + 1;
        start..start + text.lines().nth(1).unwrap().len() as u64 + 1
    };
    assert_eq!(repo.store().quarantined()[0].bytes, line_2);
    assert_eq!(
        err.to_string(),
        format!(
            "case {damaged} is quarantined: {}, line 2 (bytes {}..{}) is damaged; repair the file and reopen the store",
            path.display(),
            line_2.start,
            line_2.end
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

// ---------------------------------------------------------------- after the last line

/// Lines no append can have written (no `{` first, no `}` last, neither member) after
/// the log are set aside, the case serves and its log continues.
#[test]
fn lines_no_append_writes_after_the_log_are_set_aside() {
    for garbage in [&b"hello from a shell script\n"[..], b"\0\0\0\0\n\0\0\0", b"junk\n\r\n  \n\x7f"] {
        let dir = TempDir::new("fs", "foreign");
        let case = case_id(11);
        let events = decided(case, 2);
        FileStore::open(dir.path()).unwrap().append(case, 0, &events[..2]).unwrap();
        let log = log_path(dir.path(), case);
        append_raw(&log, garbage);
        let store = FileStore::open(dir.path()).unwrap();
        assert!(store.quarantined().is_empty(), "{garbage:?}: {}", store.damage());
        let [aside] = store.set_aside() else { panic!("{garbage:?}: {}", store.damage()) };
        assert_eq!((aside.line, aside.bytes), (3, garbage.len() as u64), "{garbage:?}");
        assert_eq!(store.read(case).unwrap(), events[..2], "{garbage:?}");
        assert_eq!(store.append(case, 2, &events[2..]).unwrap().version, 3, "{garbage:?}");
        let kept = fs::read(torn_path(dir.path(), case)).unwrap();
        assert!(kept.starts_with(garbage), "{garbage:?}: the bytes are kept");
    }
}

/// Bytes that may be an event the store wrote are never set aside: a line the store
/// may have written after foreign bytes, a JSON object someone appended, a whole last
/// line whose newline was changed.
#[test]
fn bytes_after_the_log_that_may_be_the_store_s_quarantine_the_case() {
    let case = case_id(12);
    let events = decided(case, 2);
    let third = {
        let dir = TempDir::new("fs", "third");
        FileStore::open(dir.path()).unwrap().append(case, 0, &events).unwrap();
        fs::read_to_string(log_path(dir.path(), case)).unwrap().lines().nth(2).unwrap().to_owned()
    };
    let cases: [(String, usize, &str); 4] = [
        (format!("junk\n{third}\n"), 3, "the line carries no checksum"),
        ("{\"note\":\"by hand\"}\n".to_owned(), 3, "the line carries no checksum"),
        (format!("{third} "), 3, "a whole event line is followed by other bytes instead of its newline"),
        (format!("{third}\r"), 3, "a whole event line is followed by other bytes instead of its newline"),
    ];
    for (tail, line, why) in cases {
        let dir = TempDir::new("fs", "maybe-stored");
        FileStore::open(dir.path()).unwrap().append(case, 0, &events[..2]).unwrap();
        let log = log_path(dir.path(), case);
        let before = fs::metadata(&log).unwrap().len();
        append_raw(&log, tail.as_bytes());
        let store = FileStore::open(dir.path()).unwrap();
        assert!(store.set_aside().is_empty(), "{tail:?}: {}", store.damage());
        let [q] = store.quarantined() else { panic!("{tail:?}: {}", store.damage()) };
        assert_eq!(q.line, line, "{tail:?}");
        assert!(q.reason.to_string().contains(why), "{tail:?}: {}", q.reason);
        let first_line_len = tail.find('\n').map_or(tail.len(), |i| i + 1) as u64;
        assert_eq!(q.bytes, before..before + first_line_len, "{tail:?}");
        assert!(matches!(store.append(case, 2, &events[2..]), Err(StoreError::Quarantined { .. })));
        assert_eq!(fs::metadata(&log).unwrap().len(), before + tail.len() as u64, "{tail:?}: the file is untouched");
    }
}

// ---------------------------------------------------------------- damage an operator sees and repairs

/// The store reports what it found at open, one line each, and for one case; the
/// damaged line's bytes can be read back for an operator.
#[test]
fn open_reports_its_damage_and_shows_the_bytes() {
    let dir = TempDir::new("fs", "report");
    let (damaged, torn, healthy) = (case_id(13), case_id(14), case_id(15));
    {
        let store = FileStore::open(dir.path()).unwrap();
        for case in [damaged, torn, healthy] {
            store.append(case, 0, &decided(case, 1)).unwrap();
        }
        assert!(store.damage().is_empty());
        assert_eq!(store.damage().to_string(), "no damage");
    }
    let log = log_path(dir.path(), damaged);
    let text = fs::read_to_string(&log).unwrap();
    fs::write(&log, text.replacen("note 0", "note 1", 1)).unwrap();
    append_raw(&log_path(dir.path(), torn), b"{\"schema\":2,\"ca");

    let store = FileStore::open(dir.path()).unwrap();
    let report = store.damage();
    assert_eq!((report.quarantined.len(), report.set_aside.len()), (1, 1));
    let q = &report.quarantined[0];
    let start = text.find('\n').unwrap() + 1;
    assert_eq!((q.case, q.line, q.bytes.clone()), (damaged, 2, start as u64..text.len() as u64));
    assert_eq!(q.read_line().unwrap(), text.replacen("note 0", "note 1", 1).as_bytes()[start..]);
    let lines: Vec<String> = report.to_string().lines().map(str::to_owned).collect();
    assert_eq!(
        lines,
        [
            format!(
                "case {damaged} is quarantined from line 2 (bytes {}..{}): {}",
                q.bytes.start, q.bytes.end, q.reason
            ),
            format!(
                "case {torn}: 15 unacknowledged bytes from line 3 of {} set aside to {}",
                log_path(dir.path(), torn).display(),
                torn_path(dir.path(), torn).display()
            ),
        ]
    );
    assert_eq!(store.damage_of(damaged).quarantined.len(), 1);
    assert!(store.damage_of(damaged).set_aside.is_empty());
    assert_eq!(store.damage_of(torn).set_aside[0].case, torn);
    assert!(store.damage_of(healthy).is_empty());
    // Every read of the damaged case says where the damage is.
    let err = store.read(damaged).unwrap_err();
    assert!(
        matches!(&err, StoreError::Quarantined { location: Location::Line { line: 2, bytes: Some(bytes), .. }, .. } if *bytes == q.bytes),
        "{err}"
    );
}

/// The operator's repairs: cut a quarantined case before its damaged line (the bytes
/// kept in the side file), mend the bytes there, and restore them; restoring bytes
/// that do not continue the log writes nothing.
#[test]
fn an_operator_cuts_a_damaged_tail_mends_it_and_restores_it() {
    let dir = TempDir::new("fs", "repair");
    let case = case_id(16);
    let events = decided(case, 2);
    FileStore::open(dir.path()).unwrap().append(case, 0, &events).unwrap();
    let log = log_path(dir.path(), case);
    let original = fs::read_to_string(&log).unwrap();
    let damaged = original.replacen("note 1", "note 7", 1);
    fs::write(&log, &damaged).unwrap();
    let third = original.lines().nth(2).unwrap();

    let mut store = FileStore::open(dir.path()).unwrap();
    assert_eq!(store.quarantined()[0].line, 3);
    // Nothing to restore while the case is quarantined, nothing to cut in a healthy one.
    assert!(matches!(store.restore(case), Err(StoreError::Quarantined { .. })));
    assert!(store.cut(case_id(99)).unwrap().is_none());

    let aside = store.cut(case).unwrap().unwrap();
    assert_eq!((aside.case, aside.line, aside.bytes), (case, 3, third.len() as u64 + 1));
    assert!(store.quarantined().is_empty());
    assert_eq!(store.set_aside(), std::slice::from_ref(&aside));
    assert_eq!(store.read(case).unwrap(), events[..2], "the intact lines serve again");
    assert_eq!(store.cases().unwrap(), vec![case]);
    let side = torn_path(dir.path(), case);
    assert_eq!(fs::read_to_string(&side).unwrap(), damaged.lines().nth(2).unwrap().to_owned() + "\n");

    // Restoring the damaged bytes as they are is refused, naming the side file's line.
    let err = store.restore(case).unwrap_err();
    assert!(
        matches!(&err, StoreError::Checksum { location: Location::Line { path, line: 1, .. }, .. } if *path == side),
        "{err}"
    );
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        original.lines().take(2).map(|l| format!("{l}\n")).collect::<String>()
    );

    // The operator mends the line in the side file (from a backup) and restores it.
    fs::write(&side, format!("{third}\n")).unwrap();
    let restored = store.restore(case).unwrap().unwrap();
    assert_eq!((restored.version, restored.written), (3, 1));
    assert!(!side.exists() && store.set_aside().is_empty());
    assert_eq!(store.read(case).unwrap(), events);
    assert!(store.restore(case).unwrap().is_none(), "nothing left to restore");
    drop(store);
    assert_eq!(fs::read_to_string(&log).unwrap(), original);
    let reopened = FileStore::open(dir.path()).unwrap();
    assert!(reopened.damage().is_empty());
    assert_eq!(reopened.read(case).unwrap(), events);
}

/// Bytes set aside that were a whole event after all (here: a line that lost its
/// newline) go back with `restore`; once the log has moved on, they no longer fit.
#[test]
fn set_aside_bytes_are_restored_only_where_they_continue_the_log() {
    let dir = TempDir::new("fs", "restore");
    let case = case_id(17);
    let events = decided(case, 2);
    FileStore::open(dir.path()).unwrap().append(case, 0, &events).unwrap();
    let log = log_path(dir.path(), case);
    let original = fs::read(&log).unwrap();
    fs::write(&log, &original[..original.len() - 1]).unwrap();

    let mut store = FileStore::open(dir.path()).unwrap();
    assert_eq!(store.set_aside().len(), 1);
    assert_eq!(store.read(case).unwrap(), events[..2]);
    let restored = store.restore(case).unwrap().unwrap();
    assert_eq!((restored.version, restored.written), (3, 1));
    assert_eq!(fs::read(&log).unwrap(), original);
    drop(store);

    // Set aside again, but the case moves on before the operator looks.
    fs::write(&log, &original[..original.len() - 1]).unwrap();
    let mut store = FileStore::open(dir.path()).unwrap();
    let others = others(case);
    store.append(case, 2, &others[2..]).unwrap();
    let err = store.restore(case).unwrap_err();
    assert!(matches!(&err, StoreError::Inconsistent { location: Location::Line { line: 1, .. }, .. }), "{err}");
    assert_eq!(store.read(case).unwrap(), [&events[..2], &others[2..]].concat());
    assert!(torn_path(dir.path(), case).exists(), "the side file is kept");
}

//! Stores and the repository: optimistic concurrency, idempotent appends, crash recovery
//! of the file store, schema evolution, and questions across cases.

use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::support::{ana, append_raw, bo, log_path, note, TempDir, T0};
use caseledger::{
    codec::decode_log,
    error::{DecodeError, Location, LogError, StoreError},
    event::{Channel, Visibility},
    id::{CustomerRef, IncidentId},
    store::{AppendCheck, Appended},
    Actor, Case, CaseId, CaseRequest, Command, Error, Event, FileStore, MemoryStore, Opening, Repository, Rules,
    Status, Store,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

// ---------------------------------------------------------------- helpers

fn at(minutes: i64) -> OffsetDateTime {
    T0 + Duration::minutes(minutes)
}

fn case_id(n: u8) -> CaseId {
    CaseId::new_v7(at(i64::from(n)), [n; 10])
}

fn laptop(customer: &str) -> Opening {
    Opening::new(customer, "my laptop works", ana())
}

/// Events for a case opened by the customer, then `notes` internal notes by ana.
fn decided(case: CaseId, notes: usize) -> Vec<Event> {
    let rules = Rules::default();
    let opened = rules.open(case, laptop("cust-1"), &Actor::customer("cust-1"), T0).unwrap();
    let mut current = Case::from_opened(&opened).unwrap();
    let mut events = vec![opened];
    for i in 0..notes {
        let new = rules.decide(&current, note(format!("note {i}")), &Actor::Staff(ana()), at(1)).unwrap();
        for e in &new {
            current.apply(e).unwrap();
        }
        events.extend(new);
    }
    events
}

/// Opens the store in `dir`, which must succeed with `case` quarantined at `line` and
/// nothing of it served or appended; `why` checks the reason.
fn quarantine_of(dir: &Path, case: CaseId, line: usize, why: impl FnOnce(&StoreError)) {
    let store = FileStore::open(dir).unwrap();
    assert!(store.set_aside().is_empty(), "nothing set aside: {:?}", store.set_aside());
    let mut quarantined = store.quarantined().iter();
    let q = quarantined.next().expect("a quarantined case");
    assert!(quarantined.next().is_none());
    assert_eq!((q.case, q.log.as_path(), q.line), (case, log_path(dir, case).as_path(), line));
    assert!(!store.cases().unwrap().contains(&case));
    let refused = |err: StoreError| matches!(err, StoreError::Quarantined { case: c, location: Location::Line { line: l, .. } } if c == case && l == line);
    assert!(refused(store.read(case).unwrap_err()));
    assert!(refused(store.version(case).unwrap_err()));
    assert!(refused(store.append(case, 0, &decided(case, 0)).unwrap_err()));
    why(&store.quarantined()[0].reason);
}

/// A store that implements only the required methods (so the trait's default
/// cross-case scans are used) and records every `read_after` it serves.
#[derive(Default)]
struct Recording {
    inner: MemoryStore,
    reads: Mutex<Vec<(CaseId, u64)>>,
}

impl Store for Recording {
    fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError> {
        self.inner.append(case, expected, events)
    }
    fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError> {
        self.reads.lock().unwrap().push((case, after));
        self.inner.read_after(case, after)
    }
    fn version(&self, case: CaseId) -> Result<u64, StoreError> {
        self.inner.version(case)
    }
    fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
        self.inner.cases()
    }
}

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn stores_and_repositories_can_be_shared_across_threads() {
    assert_send_sync::<MemoryStore>();
    assert_send_sync::<FileStore>();
    assert_send_sync::<Repository<Arc<FileStore>>>();
    assert_send_sync::<StoreError>();
}

// ---------------------------------------------------------------- conflict

#[test]
fn a_stale_writer_gets_a_conflict_and_nothing_is_written() {
    let case = case_id(1);
    let events = decided(case, 2);
    let store = MemoryStore::new();
    store.append(case, 0, &events[..2]).unwrap();

    // A second writer decided on version 1 too, differently.
    let rules = Rules::default();
    let mut stale = Case::from_opened(&events[0]).unwrap();
    let other = rules.decide(&stale, note("other writer"), &Actor::Staff(ana()), at(2)).unwrap();
    let err = store.append(case, 1, &other).unwrap_err();
    assert!(matches!(err, StoreError::Conflict { case: c, expected: 1, actual: 2 } if c == case), "{err}");
    assert_eq!(
        err.to_string(),
        format!("case {case}: expected version 1, but the store is at version 2 (another writer appended first)")
    );
    assert_eq!(store.read(case).unwrap(), events[..2].to_vec(), "nothing of the stale batch is stored");

    // A writer ahead of the store conflicts too.
    stale.apply(&events[1]).unwrap();
    let ahead = store.append(case, 5, &events[2..]).unwrap_err();
    assert!(matches!(ahead, StoreError::Conflict { expected: 5, actual: 2, .. }));
}

/// Two repositories over one store (two desks, two request handlers), both having
/// loaded `case` at version 1.
fn two_desks<S: Store>(store: &Arc<S>, case: CaseId) -> (Repository<Arc<S>>, Repository<Arc<S>>) {
    let rules = Arc::new(Rules::default());
    let first = Repository::new(Arc::clone(store), Arc::clone(&rules));
    let second = Repository::new(Arc::clone(store), rules);
    first.open(case, laptop("cust-2"), &Actor::customer("cust-2"), T0).unwrap();
    second.case(case).unwrap();
    (first, second)
}

#[test]
fn the_repository_catches_up_only_the_missing_tail_and_the_retry_succeeds() {
    let store = Arc::new(Recording::default());
    let case = case_id(2);
    let (desk, phone) = two_desks(&store, case);

    desk.execute(case, note("tried safe mode"), &Actor::Staff(ana()), at(1)).unwrap();
    store.reads.lock().unwrap().clear();

    let once = CaseRequest::new(case, note("customer called again"), ana(), at(2)).attempts(1);
    let err = phone.run(once.clone()).unwrap_err();
    assert!(matches!(err, Error::Store(StoreError::Conflict { expected: 1, actual: 2, .. })), "{err}");
    assert_eq!(*store.reads.lock().unwrap(), vec![(case, 1)], "only the events after version 1 are read");
    assert_eq!(phone.case(case).unwrap().version(), 2, "the cached case caught up");

    let events = phone.run(once).unwrap().events;
    assert_eq!(events[0].seq, 3);
    assert_eq!(store.version(case).unwrap(), 3);
    assert_eq!(Case::replay(&store.read(case).unwrap()).unwrap().version(), 3);
}

#[test]
fn a_retry_decides_again_and_may_now_be_refused() {
    let store = Arc::new(MemoryStore::new());
    let case = case_id(3);
    let (first, second) = two_desks(&store, case);

    // Ana hands the case to Bo; a second screen, still showing Ana as owner, tries to
    // hand it to Bo as well.
    let transfer = Command::Transfer { to: bo(), note: "beeps three times at boot".into() };
    first.execute(case, transfer.clone(), &Actor::Staff(ana()), at(1)).unwrap();
    let mut clock = [at(2), at(3)].into_iter();
    let err = second.execute_with_retry(case, transfer, &Actor::Staff(ana()), || clock.next().unwrap(), 3).unwrap_err();
    assert!(matches!(err, Error::Refused(caseledger::Refusal::NotOwner { .. })), "{err}");
    assert_eq!(store.version(case).unwrap(), 2);
}

#[test]
fn concurrent_writers_on_one_case_all_land_exactly_once() {
    let store = Arc::new(MemoryStore::new());
    let rules = Arc::new(Rules::default());
    let case = case_id(4);
    Repository::new(Arc::clone(&store), Arc::clone(&rules))
        .open(case, laptop("cust-4"), &Actor::customer("cust-4"), T0)
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|writer| {
            let store = Arc::clone(&store);
            let rules = Arc::clone(&rules);
            std::thread::spawn(move || {
                let repo = Repository::new(store, rules);
                for i in 0..10 {
                    let text = format!("writer {writer} note {i}");
                    repo.execute_with_retry(case, note(&text), &Actor::Staff(ana()), || at(1), 1000).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let log = store.read(case).unwrap();
    assert_eq!(log.len(), 41);
    let case = Case::replay(&log).unwrap();
    assert_eq!(case.version(), 41);
}

// ---------------------------------------------------------------- idempotency

#[test]
fn resending_stored_events_is_a_no_op() {
    let case = case_id(5);
    let events = decided(case, 2);
    let store = MemoryStore::new();
    let first = store.append(case, 0, &events).unwrap();
    assert_eq!((first.version, first.written), (3, 3));
    // The acknowledgement was lost; the writer sends the same batch again.
    let again = store.append(case, 0, &events).unwrap();
    assert_eq!((again.version, again.written), (3, 0));
    assert_eq!(store.read(case).unwrap().len(), 3, "no duplicates");
}

#[test]
fn a_retry_that_reaches_past_the_stored_log_writes_only_the_rest() {
    let dir = TempDir::new("store", "partial-retry");
    let case = case_id(6);
    let events = decided(case, 3);
    let store = FileStore::open(dir.path()).unwrap();
    store.append(case, 0, &events[..2]).unwrap();
    let appended = store.append(case, 0, &events).unwrap();
    assert_eq!((appended.version, appended.written), (4, 2));
    drop(store);
    assert_eq!(FileStore::open(dir.path()).unwrap().read(case).unwrap(), events);
}

#[test]
fn the_same_event_id_with_different_content_is_refused() {
    let case = case_id(7);
    let events = decided(case, 1);
    let store = MemoryStore::new();
    store.append(case, 0, &events).unwrap();
    let mut forged = events[1].clone();
    forged.what = caseledger::EventKind::NoteAdded { text: "edited".into(), visibility: Visibility::Internal };
    let err = store.append(case, 1, &[forged]).unwrap_err();
    assert!(matches!(err, StoreError::ChangedRetry { seq: 2, id, .. } if id == events[1].id), "{err}");
    assert_eq!(store.read(case).unwrap(), events);
}

#[test]
fn a_stored_event_id_cannot_be_appended_again_at_another_position() {
    let case = case_id(8);
    let events = decided(case, 1);
    let store = MemoryStore::new();
    store.append(case, 0, &events).unwrap();
    let mut copy = events[1].clone();
    copy.seq = 3;
    let err = store.append(case, 2, &[copy]).unwrap_err();
    assert!(
        matches!(&err, StoreError::Rejected { source, .. }
        if **source == LogError::DuplicateEventId { seq: 3, id: events[1].id, first: 2 }),
        "{err}"
    );
}

#[test]
fn a_batch_that_does_not_continue_the_log_is_rejected() {
    let case = case_id(9);
    let events = decided(case, 2);
    let store = MemoryStore::new();
    let gap = store.append(case, 0, &[events[0].clone(), events[2].clone()]).unwrap_err();
    assert!(
        matches!(&gap, StoreError::Rejected { source, .. } if **source == LogError::SequenceGap { expected: 2, found: 3 })
    );
    let foreign = store.append(case_id(10), 0, &events[..1]).unwrap_err();
    assert!(
        matches!(&foreign, StoreError::Rejected { source, .. } if matches!(**source, LogError::ForeignCase { .. }))
    );
    assert!(store.cases().unwrap().is_empty(), "nothing written, no empty case listed");
}

// ---------------------------------------------------------------- crash recovery

#[test]
fn a_torn_last_line_is_set_aside_and_no_acknowledged_event_is_lost() {
    let dir = TempDir::new("store", "torn");
    let case = case_id(11);
    let events = decided(case, 3);
    let store = FileStore::open(dir.path()).unwrap();
    store.append(case, 0, &events[..3]).unwrap();
    drop(store);

    // The process died while writing event 4: half a line, no newline.
    let line = events[3].to_json().unwrap();
    let torn = &line.as_bytes()[..line.len() / 2];
    append_raw(&log_path(dir.path(), case), torn);

    let store = FileStore::open(dir.path()).unwrap();
    assert_eq!(store.read(case).unwrap(), events[..3].to_vec(), "every acknowledged event is there");
    let [aside] = store.set_aside() else { panic!("expected one torn tail, got {:?}", store.set_aside()) };
    assert_eq!((aside.case, aside.line, aside.bytes), (case, 4, torn.len() as u64));
    assert_eq!(fs::read(&aside.torn).unwrap(), [torn, b"\n"].concat(), "the torn bytes are kept");
    assert!(fs::read(log_path(dir.path(), case)).unwrap().ends_with(b"}\n"));

    // The writer never got an acknowledgement, so it retries; the log continues cleanly.
    assert_eq!(store.append(case, 3, &events[3..]).unwrap().written, 1);
    drop(store);
    let reopened = FileStore::open(dir.path()).unwrap();
    assert!(reopened.set_aside().is_empty());
    assert_eq!(reopened.read(case).unwrap(), events);
}

#[test]
fn a_terminated_garbage_last_line_is_set_aside_too() {
    let dir = TempDir::new("store", "zeros");
    let case = case_id(12);
    let events = decided(case, 1);
    FileStore::open(dir.path()).unwrap().append(case, 0, &events).unwrap();
    // Some file systems leave zeros where a write's data never reached the disk.
    append_raw(&log_path(dir.path(), case), b"\0\0\0\0\0\0\n");
    let store = FileStore::open(dir.path()).unwrap();
    assert_eq!(store.read(case).unwrap(), events);
    assert_eq!(store.set_aside().len(), 1);
    assert_eq!(store.set_aside()[0].line, 3);
}

#[test]
fn complete_lines_of_an_unacknowledged_batch_stay_and_the_retry_is_a_no_op() {
    let dir = TempDir::new("store", "unacked");
    let case = case_id(13);
    let events = decided(case, 2);
    FileStore::open(dir.path()).unwrap().append(case, 0, &events[..1]).unwrap();
    // The batch [2, 3] reached the disk as line 2 complete and line 3 torn; then the crash.
    let mut bytes = events[1].to_json().unwrap().into_bytes();
    bytes.push(b'\n');
    bytes.extend_from_slice(&events[2].to_json().unwrap().as_bytes()[..10]);
    append_raw(&log_path(dir.path(), case), &bytes);

    let store = FileStore::open(dir.path()).unwrap();
    assert_eq!(store.version(case).unwrap(), 2);
    let retried = store.append(case, 1, &events[1..]).unwrap();
    assert_eq!((retried.version, retried.written), (3, 1));
    drop(store);
    assert_eq!(FileStore::open(dir.path()).unwrap().read(case).unwrap(), events);
}

#[test]
fn bytes_left_by_a_failed_append_are_cut_before_the_next_one() {
    let dir = TempDir::new("store", "leftover");
    let case = case_id(18);
    let events = decided(case, 2);
    let store = FileStore::open(dir.path()).unwrap();
    store.append(case, 0, &events[..2]).unwrap();
    // An append failed half-way (disk full, say): its bytes are on the file, unacknowledged.
    // (Longer than the next append, so overwriting alone would not hide them.)
    let leftover = format!("{{\"schema\":1,\"case\":\"{}", "x".repeat(2000));
    append_raw(&log_path(dir.path(), case), leftover.as_bytes());
    store.append(case, 2, &events[2..]).unwrap();
    drop(store);

    let reopened = FileStore::open(dir.path()).unwrap();
    assert!(reopened.set_aside().is_empty(), "no torn bytes remain");
    assert_eq!(reopened.read(case).unwrap(), events);
}

#[test]
fn a_crash_during_a_case_s_first_write_leaves_no_case_and_it_can_be_opened_again() {
    let dir = TempDir::new("store", "first-write");
    let case = case_id(17);
    let events = decided(case, 0);
    fs::create_dir_all(dir.path()).unwrap();
    let line = events[0].to_json().unwrap();
    fs::write(log_path(dir.path(), case), &line.as_bytes()[..line.len() - 1]).unwrap();

    let repo = Repository::new(FileStore::open(dir.path()).unwrap(), Rules::default());
    assert_eq!(repo.store().set_aside().len(), 1);
    assert!(repo.store().cases().unwrap().is_empty(), "an unacknowledged opening is no case");
    repo.open(case, laptop("cust-1"), &Actor::customer("cust-1"), T0).unwrap();
    drop(repo);
    assert_eq!(FileStore::open(dir.path()).unwrap().read(case).unwrap(), events);
}

#[test]
fn corruption_in_the_middle_is_reported_with_file_and_line() {
    let dir = TempDir::new("store", "corrupt");
    let case = case_id(14);
    let events = decided(case, 2);
    FileStore::open(dir.path()).unwrap().append(case, 0, &events).unwrap();
    let path = log_path(dir.path(), case);
    let text = fs::read_to_string(&path).unwrap();
    let damaged: Vec<String> =
        text.lines().enumerate().map(|(i, l)| if i == 1 { l.replacen('"', "", 3) } else { l.to_owned() }).collect();
    fs::write(&path, damaged.join("\n") + "\n").unwrap();

    quarantine_of(dir.path(), case, 2, |err| {
        assert!(
            matches!(err, StoreError::Checksum { location: Location::Line { path: p, line: 2, .. }, stored: Some(_), .. } if *p == path),
            "{err}"
        );
        let message = err.to_string();
        assert!(message.contains(&format!("{case}.jsonl")) && message.contains("line 2"), "{message}");
    });
    assert!(!dir.path().join(format!("{case}.jsonl.torn")).exists(), "nothing was set aside");
}

#[test]
fn a_newer_schema_on_the_last_line_is_reported_not_set_aside() {
    let dir = TempDir::new("store", "newer");
    let case = case_id(15);
    let events = decided(case, 1);
    FileStore::open(dir.path()).unwrap().append(case, 0, &events[..1]).unwrap();
    let newer = events[1].to_json().unwrap().replace("\"schema\":2", "\"schema\":9");
    append_raw(&log_path(dir.path(), case), format!("{newer}\n").as_bytes());
    quarantine_of(dir.path(), case, 2, |err| {
        assert!(
            matches!(
                err,
                StoreError::Corrupt {
                    location: Location::Line { line: 2, .. },
                    source: DecodeError::UnsupportedSchema { found: 9, .. }
                }
            ),
            "{err}"
        );
    });
}

#[test]
fn a_line_that_breaks_the_sequence_is_reported_with_its_line() {
    let dir = TempDir::new("store", "gap");
    let case = case_id(16);
    let events = decided(case, 2);
    let path = log_path(dir.path(), case);
    fs::create_dir_all(dir.path()).unwrap();
    let mut text = caseledger::codec::encode_log([&events[0], &events[2]]).unwrap();
    text.insert(0, '\n');
    fs::write(&path, text).unwrap();
    quarantine_of(dir.path(), case, 3, |err| {
        assert!(
            matches!(err, StoreError::Inconsistent { location: Location::Line { line: 3, .. }, source }
            if **source == LogError::SequenceGap { expected: 2, found: 3 }),
            "{err}"
        );
    });
}

// ---------------------------------------------------------------- schema evolution

const SCHEMA0: &str = include_str!("../data/schema0_laptop.jsonl");
const SCHEMA1: &str = include_str!("../data/schema1_laptop.jsonl");
const SCHEMA2: &str = include_str!("../data/schema2_laptop.jsonl");

/// Schema 2 (idempotency keys, clock adjustments) only added optional fields: a schema 1
/// log reads as the same events, replays to the same case, and is written back as the
/// schema 2 fixture, line for line.
#[test]
fn a_log_written_with_schema_one_replays_to_the_same_case() {
    assert!(SCHEMA1.lines().all(|l| l.starts_with("{\"schema\":1,")), "the fixture is schema 1, as written then");
    assert!(SCHEMA2.lines().all(|l| l.starts_with("{\"schema\":2,")));
    let old = decode_log(SCHEMA1).unwrap();
    let new = decode_log(SCHEMA2).unwrap();
    assert_eq!(old, new);
    assert!(old.iter().all(|e| e.schema == 2 && e.key.is_none()));
    // Written back, the customer actors carry the customer's name (read from the
    // opening); nothing else changes, ids included.
    let customer = r#""by":{"type":"customer","id":"cust-0815"}"#;
    assert_eq!(caseledger::codec::encode_log(&old).unwrap(), SCHEMA2.replace(r#""by":{"type":"customer"}"#, customer));
    let case = Case::replay(&old).unwrap();
    assert_eq!(Case::replay(&new).as_ref(), Ok(&case));
    assert_eq!(case.status(), &Status::Resolved);
    assert_eq!(case.version(), 8);
}

#[test]
fn a_log_written_with_schema_zero_still_loads_as_the_same_case() {
    let upcast = decode_log(SCHEMA0).unwrap();
    assert_eq!(upcast, decode_log(SCHEMA1).unwrap(), "upcasting gives exactly the schema 1 events");
    assert_eq!(upcast, decode_log(SCHEMA2).unwrap(), "and the schema 2 events");
    assert!(upcast.iter().all(|e| e.schema == caseledger::event::SCHEMA_VERSION));
    let laptop = Case::replay(&upcast).unwrap();
    assert_eq!(laptop.status(), &Status::Resolved);
    assert_eq!(laptop.customer(), &CustomerRef::new("cust-0815"));
    assert_eq!(laptop.clock().closed_at, Some(datetime!(2025-06-04 14:12 UTC)));
}

#[test]
fn the_file_store_reads_old_events_and_appends_new_ones_after_them() {
    for (i, written) in [SCHEMA0, SCHEMA1].into_iter().enumerate() {
        appends_after_old_lines(&format!("schema{i}"), written);
    }
}

fn appends_after_old_lines(name: &str, written: &str) {
    let dir = TempDir::new("store", name);
    let old = decode_log(written).unwrap();
    let case = old[0].case;
    fs::create_dir_all(dir.path()).unwrap();
    fs::write(log_path(dir.path(), case), written).unwrap();

    let repo = Repository::new(FileStore::open(dir.path()).unwrap(), Rules::default());
    assert_eq!(repo.case(case).unwrap().status(), &Status::Resolved);
    let reopen = Command::Reopen { reason: "it stopped booting again".into() };
    let customer = Actor::Customer(repo.case(case).unwrap().customer().clone());
    repo.execute(case, reopen, &customer, datetime!(2025-07-01 10:00 UTC)).unwrap();
    drop(repo);

    let text = fs::read_to_string(log_path(dir.path(), case)).unwrap();
    assert!(text.starts_with(written), "old lines are never rewritten");
    assert!(text.lines().last().unwrap().starts_with("{\"schema\":2,"), "new ones are current");
    let reread = FileStore::open(dir.path()).unwrap().read(case).unwrap();
    assert_eq!(reread.len(), 9);
    assert_eq!(Case::replay(&reread).unwrap().status(), &Status::Open);
}

// ---------------------------------------------------------------- restart

#[test]
fn after_a_restart_the_cases_replay_from_disk_as_they_were() {
    let dir = TempDir::new("store", "restart");
    let rules = Arc::new(Rules::default());
    let laptop_case = case_id(20);
    let router_case = case_id(21);
    let before = {
        let repo = Repository::new(FileStore::open(dir.path()).unwrap(), Arc::clone(&rules));
        repo.open(laptop_case, laptop("cust-20"), &Actor::customer("cust-20"), T0).unwrap();
        repo.open(router_case, Opening::new("cust-21", "my internet works", bo()), &Actor::customer("cust-21"), at(1))
            .unwrap();
        let fact =
            Command::RecordFact { name: "serial".into(), value: "5CG1".into(), visibility: Visibility::Customer };
        repo.execute(laptop_case, fact, &Actor::Staff(ana()), at(2)).unwrap();
        let transfer = Command::Transfer { to: bo(), note: "needs a new fan".into() };
        repo.execute(laptop_case, transfer, &Actor::Staff(ana()), at(3)).unwrap();
        let contact = Command::ContactCustomer { channel: Channel::Sms, message: "technician Tuesday?".into() };
        repo.execute(router_case, contact, &Actor::Staff(bo()), at(4)).unwrap();
        [(*repo.case(laptop_case).unwrap()).clone(), (*repo.case(router_case).unwrap()).clone()]
    };

    let store = FileStore::open(dir.path()).unwrap();
    assert!(store.set_aside().is_empty());
    assert_eq!(store.cases().unwrap(), vec![laptop_case, router_case]);
    let repo = Repository::new(store, rules);
    assert_eq!(*repo.case(laptop_case).unwrap(), before[0]);
    assert_eq!(*repo.case(router_case).unwrap(), before[1]);
    assert_eq!(repo.case(laptop_case).unwrap().owner(), &bo());
    assert_eq!(repo.case(laptop_case).unwrap().facts()["serial"].value, "5CG1");
}

#[test]
fn an_unknown_case_is_reported_as_such() {
    let repo = Repository::new(MemoryStore::new(), Rules::default());
    let missing = case_id(30);
    let err = repo.execute(missing, note("hello?"), &Actor::Staff(ana()), T0).unwrap_err();
    assert!(matches!(err, Error::Store(StoreError::UnknownCase { case }) if case == missing), "{err}");
}

#[test]
fn opening_a_case_twice_is_a_retry_but_a_different_opening_conflicts() {
    let repo = Repository::new(MemoryStore::new(), Rules::default());
    let case = case_id(31);
    repo.open(case, laptop("cust-31"), &Actor::customer("cust-31"), T0).unwrap();
    repo.open(case, laptop("cust-31"), &Actor::customer("cust-31"), T0).unwrap();
    assert_eq!(repo.store().version(case).unwrap(), 1);
    let err = repo.open(case, laptop("cust-99"), &Actor::customer("cust-99"), T0).unwrap_err();
    assert!(matches!(err, Error::Store(StoreError::Conflict { expected: 0, actual: 1, .. })), "{err}");

    // A handler retrying the opening after others have written sees the whole case.
    repo.execute(case, note("first note"), &Actor::Staff(ana()), at(1)).unwrap();
    let retrying = Repository::new(repo.store(), Rules::default());
    retrying.open(case, laptop("cust-31"), &Actor::customer("cust-31"), T0).unwrap();
    assert_eq!(retrying.case(case).unwrap().version(), 2);
}

// ---------------------------------------------------------------- across cases

/// Three problems of one customer and one of a neighbour; two linked to the fire.
fn neighbourhood<S: Store>(repo: &Repository<S>) -> [CaseId; 4] {
    let ids = [case_id(40), case_id(41), case_id(42), case_id(43)];
    let openings = [
        ("cust-40", "my laptop works"),
        ("cust-40", "my internet works"),
        ("cust-41", "my internet works"),
        ("cust-40", "my bill is correct"),
    ];
    for (i, (id, (customer, outcome))) in ids.iter().zip(openings).enumerate() {
        let opened_at = at(i64::try_from(i).unwrap());
        repo.open(*id, Opening::new(customer, outcome, bo()), &Actor::customer(customer), opened_at).unwrap();
    }
    for id in [ids[1], ids[2]] {
        let link = Command::LinkIncident { incident: "fire-2026-11".into() };
        repo.execute(id, link, &Actor::Staff(bo()), at(10)).unwrap();
    }
    ids
}

#[test]
fn a_rep_sees_every_case_of_the_customer_on_the_line() {
    let dir = TempDir::new("store", "history");
    let repo = Repository::new(FileStore::open(dir.path()).unwrap(), Rules::default());
    let [laptop, internet, _neighbour, bill] = neighbourhood(&repo);

    let history = repo.customer_cases(&"cust-40".into()).unwrap();
    let outcomes: Vec<(CaseId, &str)> = history.iter().map(|c| (c.id(), c.outcome())).collect();
    assert_eq!(
        outcomes,
        vec![(laptop, "my laptop works"), (internet, "my internet works"), (bill, "my bill is correct")]
    );
    assert!(repo.customer_cases(&"cust-nobody".into()).unwrap().is_empty());

    // The index is rebuilt from disk after a restart.
    drop(repo);
    let store = FileStore::open(dir.path()).unwrap();
    assert_eq!(store.customer_cases(&"cust-40".into()).unwrap(), vec![laptop, internet, bill]);
}

#[test]
fn when_the_fire_is_out_every_linked_case_is_asked_for_confirmation_not_resolved() {
    let repo = Repository::new(MemoryStore::new(), Rules::default());
    let [_, internet, neighbour, _] = neighbourhood(&repo);
    let fire = IncidentId::new("fire-2026-11");

    let linked: Vec<CaseId> = repo.incident_cases(&fire).unwrap().iter().map(|c| c.id()).collect();
    assert_eq!(linked, vec![internet, neighbour]);
    for id in &linked {
        let ask = Command::RequestConfirmation { reason: "power and lines restored".into() };
        repo.execute(*id, ask, &Actor::System, at(60)).unwrap();
    }
    for case in repo.incident_cases(&fire).unwrap() {
        assert_eq!(case.confirmation_requested(), Some("power and lines restored"));
        assert_eq!(case.status(), &Status::Open, "nobody's internet is declared working for them");
    }
}

#[test]
fn a_host_store_without_indexes_gets_the_same_answers_by_scanning() {
    let indexed = Repository::new(MemoryStore::new(), Rules::default());
    let scanning = Repository::new(Recording::default(), Rules::default());
    neighbourhood(&indexed);
    neighbourhood(&scanning);
    let customer = CustomerRef::new("cust-40");
    let fire = IncidentId::new("fire-2026-11");
    assert_eq!(scanning.store().customer_cases(&customer).unwrap(), indexed.store().customer_cases(&customer).unwrap());
    assert_eq!(scanning.store().incident_cases(&fire).unwrap(), indexed.store().incident_cases(&fire).unwrap());
    assert_eq!(scanning.store().incident_cases(&fire).unwrap().len(), 2);
}

/// A store that counts its read calls: one-case reads and batched reads.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    reads: Mutex<usize>,
    batched: Mutex<Vec<usize>>,
}

impl Store for Counting {
    fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError> {
        self.inner.append(case, expected, events)
    }
    fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError> {
        *self.reads.lock().unwrap() += 1;
        self.inner.read_after(case, after)
    }
    fn read_after_many(&self, reads: &[(CaseId, u64)]) -> Result<Vec<Vec<Event>>, StoreError> {
        self.batched.lock().unwrap().push(reads.len());
        self.inner.read_after_many(reads)
    }
    fn version(&self, case: CaseId) -> Result<u64, StoreError> {
        self.inner.version(case)
    }
    fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
        self.inner.cases()
    }
    fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<CaseId>, StoreError> {
        self.inner.customer_cases(customer)
    }
    fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<CaseId>, StoreError> {
        self.inner.incident_cases(incident)
    }
}

#[test]
fn a_customer_s_cases_come_up_to_date_in_one_batched_read_whatever_their_number() {
    let store = Arc::new(Counting::default());
    let desk = Repository::new(Arc::clone(&store), Rules::default());
    let [laptop, internet, _neighbour, bill] = neighbourhood(&desk);
    // Another node writes to two of the customer's cases behind this desk's cache.
    let other = Repository::new(Arc::clone(&store), Rules::default());
    other.execute(laptop, note("called from the other desk"), &Actor::Staff(bo()), at(20)).unwrap();
    other.execute(bill, note("refund sent"), &Actor::Staff(bo()), at(21)).unwrap();
    *store.reads.lock().unwrap() = 0;
    store.batched.lock().unwrap().clear();

    let cases = desk.customer_cases(&"cust-40".into()).unwrap();
    let versions: Vec<(CaseId, u64)> = cases.iter().map(|c| (c.id(), c.version())).collect();
    assert_eq!(versions, vec![(laptop, 2), (internet, 2), (bill, 2)], "each case as the store holds it");
    assert_eq!(*store.batched.lock().unwrap(), vec![3], "one batched read for the three cases");
    assert_eq!(*store.reads.lock().unwrap(), 0, "no read per case");
    assert_eq!(desk.case(laptop).unwrap().version(), 2, "the cache holds the refreshed case");

    // Cold: a desk that has never seen them loads all three in the same one call.
    let cold = Repository::new(Arc::clone(&store), Rules::default());
    store.batched.lock().unwrap().clear();
    assert_eq!(cold.customer_cases(&"cust-40".into()).unwrap().len(), 3);
    assert_eq!(*store.batched.lock().unwrap(), vec![3]);

    // With snapshots on, cold cases are loaded from their logs in the same one call.
    let snapshotting = Repository::new(Arc::clone(&store), Rules::default())
        .with_snapshots(caseledger::repository::SnapshotPolicy::every(1));
    store.batched.lock().unwrap().clear();
    let versions: Vec<u64> =
        snapshotting.customer_cases(&"cust-40".into()).unwrap().iter().map(|c| c.version()).collect();
    assert_eq!(versions, vec![2, 2, 2]);
    assert_eq!(*store.batched.lock().unwrap(), vec![3]);
    assert_eq!(*store.reads.lock().unwrap(), 0, "no read per case");
}

#[test]
fn a_host_store_without_read_after_many_answers_it_one_case_at_a_time() {
    let scanning = Repository::new(Recording::default(), Rules::default());
    let [laptop, internet, _, bill] = neighbourhood(&scanning);
    scanning.store().reads.lock().unwrap().clear();
    let fresh = Repository::new(scanning.store(), Rules::default());
    assert_eq!(fresh.customer_cases(&"cust-40".into()).unwrap().len(), 3);
    let reads = scanning.store().reads.lock().unwrap().clone();
    for case in [laptop, internet, bill] {
        assert!(reads.contains(&(case, 0)), "the default reads each case: {reads:?}");
    }
}

// ---------------------------------------------------------------- the append rules as a pure piece

#[test]
fn the_append_check_asks_only_for_the_stored_events_the_batch_overlaps() {
    let case = case_id(50);
    let events = decided(case, 3);
    // The usual append starts at the end of the log: nothing to read.
    assert_eq!(AppendCheck::new(case, 0, &events).overlap(0).unwrap(), None);
    assert_eq!(AppendCheck::new(case, 2, &events[2..]).overlap(2).unwrap(), None);
    // A batch from version 1 against a log at version 3 overlaps seqs 2 and 3.
    assert_eq!(AppendCheck::new(case, 1, &events[1..]).overlap(3).unwrap(), Some(2..=3));
    // ... and one that ends inside the log overlaps only its own positions.
    assert_eq!(AppendCheck::new(case, 1, &events[1..2]).overlap(3).unwrap(), Some(2..=2));
    // An empty batch needs nothing; a writer ahead of the store conflicts at once.
    assert_eq!(AppendCheck::new(case, 1, &[]).overlap(3).unwrap(), None);
    let ahead = AppendCheck::new(case, 4, &[]).overlap(3).unwrap_err();
    assert!(matches!(ahead, StoreError::Conflict { expected: 4, actual: 3, .. }), "{ahead}");
}

#[test]
fn the_append_check_plans_the_rest_of_a_partial_retry() {
    let case = case_id(51);
    let events = decided(case, 3);
    let check = AppendCheck::new(case, 0, &events);
    let plan = check.decide(2, &events[..2]).unwrap();
    assert_eq!(plan.events(), &events[2..]);
    assert_eq!(plan.appended(), Appended::new(4, 2));
    // Stored events after the overlap may be passed too; they are ignored.
    let tail = AppendCheck::new(case, 1, &events[1..2]).decide(4, &events[1..]).unwrap();
    assert_eq!((tail.events().len(), tail.appended()), (0, Appended::new(4, 0)));
    // A new event whose id is stored elsewhere in the log is refused, with both positions.
    let mut copy = events[0].clone();
    copy.seq = 5;
    copy.what = events[1].what.clone();
    let batch = [copy];
    let plan = AppendCheck::new(case, 4, &batch).decide(4, &[]).unwrap();
    let err = plan.check_unique_ids([(events[0].id, 1), (events[3].id, 4)]).unwrap_err();
    assert!(
        matches!(&err, StoreError::Rejected { source, .. }
            if **source == LogError::DuplicateEventId { seq: 5, id: events[0].id, first: 1 }),
        "{err}"
    );
    assert!(plan.check_unique_ids([(events[3].id, 4)]).is_ok(), "other ids are ignored");
}

#[test]
fn a_store_that_reads_the_wrong_rows_gets_a_backend_error_not_a_verdict() {
    let case = case_id(52);
    let events = decided(case, 2);
    let check = AppendCheck::new(case, 0, &events);
    // Asked for seqs 1..=2, the store passed nothing.
    let missing = check.decide(3, &[]).unwrap_err();
    assert!(matches!(missing, StoreError::Backend { .. }), "{missing}");
    assert!(missing.to_string().contains("event 1 was not given"), "{missing}");
    // It passed the events of another position.
    let shifted = check.decide(3, &events[1..]).unwrap_err();
    let StoreError::Backend { source } = &shifted else { panic!("{shifted}") };
    assert_eq!(source.downcast_ref::<LogError>(), Some(&LogError::SequenceGap { expected: 1, found: 2 }));
}

#[test]
fn a_backend_error_carries_the_backend_s_own_error() {
    let err = StoreError::backend(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "server closed"));
    assert_eq!(err.to_string(), "the store's backend failed: server closed");
    let source = std::error::Error::source(&err).expect("the backend's error is the source");
    assert_eq!(
        source.downcast_ref::<std::io::Error>().map(std::io::Error::kind),
        Some(std::io::ErrorKind::ConnectionReset)
    );
    let wrapped = Error::from(StoreError::backend("pool timed out"));
    assert_eq!(wrapped.to_string(), "the store's backend failed: pool timed out");
}

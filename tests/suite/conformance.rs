//! The store conformance suite: the built-in stores pass it, a store written here with
//! only the public API (as a host would write one over its database) passes it, and
//! stores with one deliberate flaw fail it, each naming the promise it breaks.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use caseledger::testkit::conformance::{check_store, Promise, Violations};
use caseledger::{
    error::StoreError,
    store::{AppendCheck, Appended},
    CaseId, Event, FileStore, MemoryStore, Store,
};

#[test]
fn the_memory_store_keeps_every_promise() {
    check_store(MemoryStore::new).unwrap();
}

/// A directory under the system temp dir, removed when dropped.
struct TempRoot(PathBuf);

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_file_store_keeps_every_promise() {
    let root = TempRoot(std::env::temp_dir().join(format!("caseledger-conformance-{}", std::process::id())));
    let next = AtomicUsize::new(0);
    let fresh = || {
        let dir = root.0.join(next.fetch_add(1, Ordering::Relaxed).to_string());
        FileStore::open(dir).expect("a fresh directory opens")
    };
    check_store(fresh).unwrap();
    assert!(next.load(Ordering::Relaxed) >= Promise::ALL.len() - 1, "every check gets a fresh store");
}

// ---------------------------------------------------------------- a host's store

/// A deliberate mistake for the suite to find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flaw {
    /// Trusts the writer's expected version instead of reading the stored one.
    SkipsVersionCheck,
    /// Never asks whether a new event's id is already stored elsewhere.
    SkipsIdCheck,
}

/// A store as a host writes one, over a plain map behind a mutex (standing for its
/// tables and transactions), using only the public API. Cross-case questions use the
/// trait's default scans.
#[derive(Default)]
struct HostStore {
    cases: Mutex<HashMap<CaseId, Vec<Event>>>,
    flaw: Option<Flaw>,
}

impl HostStore {
    fn with(flaw: Flaw) -> Self {
        Self { flaw: Some(flaw), ..Self::default() }
    }
}

fn poisoned<T>(err: std::sync::PoisonError<T>) -> StoreError {
    StoreError::backend(err.to_string())
}

impl Store for HostStore {
    fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError> {
        let mut cases = self.cases.lock().map_err(poisoned)?;
        let log = cases.get(&case).map(Vec::as_slice).unwrap_or_default();
        let version = match self.flaw {
            Some(Flaw::SkipsVersionCheck) => expected,
            _ => log.len() as u64,
        };
        let check = AppendCheck::new(case, expected, events);
        let stored = match check.overlap(version)? {
            Some(seqs) => log.iter().filter(|e| seqs.contains(&e.seq)).cloned().collect(),
            None => Vec::new(),
        };
        let plan = check.decide(version, &stored)?;
        if self.flaw != Some(Flaw::SkipsIdCheck) {
            plan.check_unique_ids(log.iter().map(|e| (e.id, e.seq)))?;
        }
        if !plan.events().is_empty() {
            cases.entry(case).or_default().extend_from_slice(plan.events());
        }
        Ok(plan.appended())
    }

    fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError> {
        let cases = self.cases.lock().map_err(poisoned)?;
        Ok(cases.get(&case).map(|log| log.iter().filter(|e| e.seq > after).cloned().collect()).unwrap_or_default())
    }

    fn version(&self, case: CaseId) -> Result<u64, StoreError> {
        Ok(self.cases.lock().map_err(poisoned)?.get(&case).map_or(0, |log| log.len() as u64))
    }

    fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
        let mut ids: Vec<CaseId> = self.cases.lock().map_err(poisoned)?.keys().copied().collect();
        ids.sort();
        Ok(ids)
    }
}

#[test]
fn a_host_store_built_on_the_public_append_check_keeps_every_promise() {
    check_store(HostStore::default).unwrap();
}

fn violations(flaw: Flaw) -> Violations {
    check_store(|| HostStore::with(flaw)).expect_err("the suite catches the flaw")
}

#[test]
fn a_store_that_skips_the_version_check_is_caught_and_the_promise_named() {
    let found = violations(Flaw::SkipsVersionCheck);
    assert!(found.broke(Promise::ExpectedVersion), "{found}");
    assert!(found.broke(Promise::ConcurrentOneCase), "{found}");
    // Writers to different cases never race, and retries or envelopes do not depend on
    // the stored version: the report blames only what is broken.
    for kept in [Promise::ConcurrentCases, Promise::ForeignCase, Promise::CustomerIndex, Promise::IncidentIndex] {
        assert!(!found.broke(kept), "{kept:?} wrongly reported: {found}");
    }
    let report = found.to_string();
    assert!(report.contains("- expected_version (a stale writer gets Conflict and nothing is written): "), "{report}");
    assert!(report.contains("append at version 1 of 1 events (seq 2) returned Ok("), "{report}");
    assert_eq!(format!("{found:?}"), report, "a failing test prints the report");
}

#[test]
fn a_store_that_skips_the_id_check_is_caught_as_exactly_that() {
    let found = violations(Flaw::SkipsIdCheck);
    assert_eq!(found.promises().collect::<Vec<_>>(), vec![Promise::DuplicateIdInLog], "{found}");
    let report = found.to_string();
    assert!(
        report.starts_with("the store broke 1 of 16 promises of the Store contract:\n- duplicate_id_in_log"),
        "{report}"
    );
    assert!(report.contains("the contract wants Err(Rejected(DuplicateEventId { seq: 3, first: 2 }))"), "{report}");
}

/// A store that panics is reported, not a crash of the suite.
struct Panicking;

impl Store for Panicking {
    fn append(&self, _: CaseId, _: u64, _: &[Event]) -> Result<Appended, StoreError> {
        panic!("the connection pool is gone")
    }
    fn read_after(&self, _: CaseId, _: u64) -> Result<Vec<Event>, StoreError> {
        Ok(Vec::new())
    }
    fn version(&self, _: CaseId) -> Result<u64, StoreError> {
        Ok(0)
    }
    fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
        Ok(Vec::new())
    }
}

#[test]
fn a_store_that_panics_breaks_the_promises_it_was_asked_to_keep() {
    let found = check_store(|| Panicking).expect_err("a panicking store is caught");
    assert!(found.broke(Promise::ExpectedVersion));
    assert!(found.broken.iter().any(|v| v.detail.contains("panicked: the connection pool is gone")), "{found}");
}

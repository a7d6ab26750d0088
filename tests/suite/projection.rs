//! Projections in process: the conformance promises on the memory and the file store
//! (a restart of the process = the directory reopened and the projection rebuilt), and
//! a projection that refuses an event stalls visibly without failing the append.

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use caseledger::projection::{Projected, Projection, StallCause};
use caseledger::testkit::projection::{check_projection, Applied, ProjectionPromise, ProjectionRig, Recorder};
use caseledger::{
    event::Visibility, Actor, CaseId, Command, Event, FileStore, MemoryStore, Opening, Rules, Staff, Store,
};
use time::macros::datetime;

/// Runs the suite on a `Projected` store; `reopen` makes the store a new process would.
struct InProcess<S: Store, F: Fn(Option<S>) -> S> {
    running: Option<Projected<S, Recorder>>,
    reopen: F,
}

impl<S: Store, F: Fn(Option<S>) -> S> InProcess<S, F> {
    fn new(reopen: F) -> Self {
        let store = reopen(None);
        Self { running: Some(Projected::new(store, Recorder::default()).unwrap()), reopen }
    }
}

impl<S: Store, F: Fn(Option<S>) -> S> ProjectionRig for InProcess<S, F> {
    fn store(&self) -> &dyn Store {
        self.running.as_ref().expect("running")
    }
    fn catch_up(&mut self) -> Result<(), String> {
        Ok(())
    }
    fn restart(&mut self) -> Result<(), String> {
        let (store, _) = self.running.take().ok_or("not running")?.into_parts();
        let store = (self.reopen)(Some(store));
        self.running = Some(Projected::new(store, Recorder::default()).map_err(|e| e.to_string())?);
        Ok(())
    }
    fn rebuild(&mut self) -> Result<(), String> {
        self.running.as_ref().ok_or("not running")?.rebuild().map_err(|e| e.to_string())
    }
    fn applied(&self) -> Vec<Applied> {
        self.running.as_ref().map(|p| p.view(|r| r.applied().to_vec())).unwrap_or_default()
    }
}

#[test]
fn on_the_memory_store_a_projection_gets_every_event_once_in_case_order() {
    // A restart keeps the memory store (the same process) and rebuilds the projection.
    check_projection(InProcess::new(|old: Option<MemoryStore>| old.unwrap_or_default())).unwrap();
}

#[test]
fn on_the_file_store_a_restarted_process_rebuilds_the_projection_from_the_directory() {
    let dir = std::env::temp_dir().join(format!("caseledger-projection-{}", std::process::id()));
    let reopen = |old: Option<FileStore>| {
        drop(old); // the process exits: nothing of it survives but the files
        FileStore::open(&dir).unwrap()
    };
    let result = check_projection(InProcess::new(reopen));
    let _ = fs::remove_dir_all(&dir);
    result.unwrap();
}

/// A rig whose runner forgets events: the suite must catch it and name the promise.
struct Forgetful(InProcess<MemoryStore, fn(Option<MemoryStore>) -> MemoryStore>);

impl ProjectionRig for Forgetful {
    fn store(&self) -> &dyn Store {
        self.0.store()
    }
    fn catch_up(&mut self) -> Result<(), String> {
        Ok(())
    }
    fn restart(&mut self) -> Result<(), String> {
        self.0.restart()
    }
    fn rebuild(&mut self) -> Result<(), String> {
        self.0.rebuild()
    }
    fn applied(&self) -> Vec<Applied> {
        let mut seen = self.0.applied();
        seen.retain(|a| a.seq != 3);
        seen
    }
}

#[test]
fn a_runner_that_loses_events_is_caught_and_the_promise_named() {
    let reopen: fn(Option<MemoryStore>) -> MemoryStore = |old| old.unwrap_or_default();
    let found = check_projection(Forgetful(InProcess::new(reopen))).unwrap_err();
    assert!(found.broke(ProjectionPromise::ExactlyOnce), "{found}");
    assert!(found.broke(ProjectionPromise::Rebuild), "{found}");
    assert!(found.to_string().contains("events stored"), "{found}");
}

// ---------------------------------------------------------------- stalls

#[derive(Debug, thiserror::Error)]
#[error("the read model's disk is full")]
struct Full;

/// Counts notes; refuses while `full` is set.
struct Notes {
    full: Arc<AtomicBool>,
    notes: Vec<(CaseId, u64)>,
}

impl Projection for Notes {
    type Error = Full;
    fn apply(&mut self, event: &Event) -> Result<(), Full> {
        if self.full.load(Ordering::SeqCst) {
            return Err(Full);
        }
        self.notes.push((event.case, event.seq));
        Ok(())
    }
    fn reset(&mut self) {
        self.notes.clear();
    }
}

const T0: time::OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

fn note(rules: &Rules, log: &[Event], text: &str) -> Vec<Event> {
    let case = caseledger::Case::replay(log).unwrap();
    let command = Command::AddNote { text: text.into(), visibility: Visibility::Internal };
    rules.decide(&case, command, &Actor::staff("ana", "software"), T0).unwrap()
}

#[test]
fn a_projection_that_refuses_stalls_visibly_the_append_stands_and_a_retry_catches_up() {
    let full = Arc::new(AtomicBool::new(false));
    let store = Projected::new(MemoryStore::new(), Notes { full: full.clone(), notes: Vec::new() }).unwrap();
    let rules = Rules::default();
    let (a, b) = (CaseId::new_v7(T0, [1; 10]), CaseId::new_v7(T0, [2; 10]));
    let mut logs = Vec::new();
    for case in [a, b] {
        let opened = rules
            .open(
                case,
                Opening::new("cust-1", "my laptop works", Staff::new("ana", "software")),
                &Actor::customer("cust-1"),
                T0,
            )
            .unwrap();
        store.append(case, 0, std::slice::from_ref(&opened)).unwrap();
        logs.push(vec![opened]);
    }
    full.store(true, Ordering::SeqCst);
    let next = note(&rules, &logs[0], "while full");
    let appended = store.append(a, 1, &next).expect("a stored append is not failed by its projection");
    assert_eq!(appended.version, 2);
    logs[0].extend(next);
    let status = store.status();
    assert!(!status.is_current());
    assert_eq!(status.stalled.len(), 1);
    assert_eq!((status.stalled[0].case, status.stalled[0].seq), (a, 2));
    assert!(matches!(status.stalled[0].cause, StallCause::Projection(_)));
    assert_eq!(
        status.stalled[0].to_string(),
        format!("case {a} is stalled at event 2: the projection refused it: the read model's disk is full")
    );

    // The disk is freed; the case's next append brings the waiting event first.
    full.store(false, Ordering::SeqCst);
    let more = note(&rules, &logs[0], "after");
    store.append(a, 2, &more).unwrap();
    assert!(store.status().is_current());
    assert_eq!(store.view(|p| p.notes.clone()), vec![(a, 1), (b, 1), (a, 2), (a, 3)]);

    // Or the host retries: a stalled case without new appends catches up too.
    full.store(true, Ordering::SeqCst);
    store.append(b, 1, &note(&rules, &logs[1], "b while full")).unwrap();
    full.store(false, Ordering::SeqCst);
    assert!(store.retry().is_current());
    assert_eq!(store.view(|p| p.notes.last().copied()), Some((b, 2)));
    assert_eq!(store.status().applied, 5);
}

// ---------------------------------------------------------------- reading while appending

/// Runs `f` on a thread of its own and fails the test if it has not finished after a
/// few seconds (a deadlock), instead of hanging the suite.
fn within_seconds<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(10)).expect("finished: no deadlock")
}

#[test]
fn appending_inside_a_view_of_the_projection_is_stored_at_once_and_projected_when_the_view_ends() {
    let outcome = within_seconds(|| {
        let full = Arc::new(AtomicBool::new(false));
        let store = Arc::new(Projected::new(MemoryStore::new(), Notes { full, notes: Vec::new() }).unwrap());
        let rules = Rules::default();
        let a = CaseId::new_v7(T0, [1; 10]);
        let opened = rules
            .open(
                a,
                Opening::new("cust-1", "my laptop works", Staff::new("ana", "software")),
                &Actor::customer("cust-1"),
                T0,
            )
            .unwrap();
        store.append(a, 0, std::slice::from_ref(&opened)).unwrap();

        // A sweep that appends for what it reads, on the thread that holds the view.
        let seen_inside = store.view(|notes| {
            let log = store.read(a).unwrap();
            store.append(a, 1, &note(&rules, &log, "breach recorded")).unwrap();
            assert_eq!(store.read(a).unwrap().len(), 2, "stored at once");
            notes.notes.clone()
        });
        assert_eq!(seen_inside, vec![(a, 1)], "the view is the projection as the closure began");
        assert_eq!(store.view(|notes| notes.notes.clone()), vec![(a, 1), (a, 2)], "projected once the view ended");
        assert!(store.status().is_current());

        // Another thread appending while this one views waits, then lands in order.
        let other = Arc::clone(&store);
        let log = store.read(a).unwrap();
        let more = note(&rules, &log, "from another thread");
        store
            .view(|_| {
                let writer = std::thread::spawn(move || other.append(a, 2, &more).unwrap());
                std::thread::sleep(std::time::Duration::from_millis(20));
                writer
            })
            .join()
            .unwrap();
        assert_eq!(store.view(|notes| notes.notes.len()), 3);

        // What needs the projection itself is refused inside a view, loudly, not hung.
        let status = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| store.view(|_| store.status())));
        let message = status.err().and_then(|p| p.downcast_ref::<String>().cloned()).unwrap_or_default();
        assert!(message.contains("Projected::status called inside Projected::view"), "{message}");
        let nested = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| store.view(|_| store.view(|_| ()))));
        assert!(nested.is_err());
        // The store is still usable afterwards.
        assert_eq!(store.status().applied, 3);
        store.view(|notes| notes.notes.len())
    });
    assert_eq!(outcome, 3);
}

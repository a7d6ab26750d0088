//! One repository shared by many threads: no outer lock, commands on one case race and
//! retry, commands on distinct cases run side by side, the cache stays bounded, and
//! idempotency keys hold across restarts.

use std::sync::Arc;

use crate::support::{ana, case_id, note, T0};
use caseledger::{
    error::RequestError, Actor, Case, CaseId, CaseRequest, Error, EventKind, FileStore, IdempotencyKey, MemoryStore,
    Opening, Refusal, Repository, Rules, Store,
};
use time::Duration;

fn notes(store: &impl Store, case: CaseId) -> Vec<String> {
    store
        .read(case)
        .unwrap()
        .iter()
        .filter_map(|e| match &e.what {
            EventKind::NoteAdded { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn threads_share_one_repository_without_a_lock_and_every_event_lands_once_in_order() {
    let repo = Arc::new(Repository::new(MemoryStore::new(), Rules::default()).with_capacity(4));
    let shared = case_id(1);
    let own: Vec<CaseId> = (10..18).map(case_id).collect();
    for id in std::iter::once(shared).chain(own.iter().copied()) {
        repo.open(id, Opening::new("cust-1", "my laptop works", ana()), &Actor::customer("cust-1"), T0).unwrap();
    }
    std::thread::scope(|s| {
        for (thread, mine) in own.iter().copied().enumerate() {
            let repo = Arc::clone(&repo);
            s.spawn(move || {
                let by = Actor::Staff(ana());
                let at = T0 + Duration::seconds(1);
                for i in 0..10 {
                    let on_shared = note(format!("thread {thread} note {i}"));
                    repo.execute_with_retry(shared, on_shared, &by, || at, 1_000).unwrap();
                    repo.execute(mine, note(format!("own {i}")), &by, at).unwrap();
                }
            });
        }
    });
    let log = repo.store().read(shared).unwrap();
    assert_eq!(log.len(), 81);
    assert_eq!(Case::replay(&log).unwrap().version(), 81);
    let mut shared_notes = notes(repo.store(), shared);
    shared_notes.sort();
    shared_notes.dedup();
    assert_eq!(shared_notes.len(), 80, "no note lost or written twice");
    for id in &own {
        let expected: Vec<String> = (0..10).map(|i| format!("own {i}")).collect();
        assert_eq!(notes(repo.store(), *id), expected);
    }
    assert!(repo.core().cached() <= 4, "bounded: {} cached", repo.core().cached());
    assert_eq!(repo.core().capacity(), 4);
    for id in std::iter::once(shared).chain(own.iter().copied()) {
        assert_eq!(repo.case(id).unwrap().version(), repo.store().version(id).unwrap(), "cache agrees with store");
    }
}

#[test]
fn a_case_snapshot_is_unchanged_by_later_commands_and_by_eviction() {
    let repo = Repository::new(MemoryStore::new(), Rules::default()).with_capacity(1);
    let (a, b) = (case_id(2), case_id(3));
    repo.open(a, Opening::new("cust-2", "my laptop works", ana()), &Actor::customer("cust-2"), T0).unwrap();
    let snapshot = repo.case(a).unwrap();
    repo.execute(a, note("later"), &Actor::Staff(ana()), T0).unwrap();
    repo.open(b, Opening::new("cust-3", "my phone works", ana()), &Actor::customer("cust-3"), T0).unwrap();
    assert_eq!(snapshot.version(), 1);
    assert_eq!(repo.core().cached(), 1, "opening b pushed a out");
    assert!(repo.core().peek(a).is_none());
    assert_eq!(repo.case(a).unwrap().version(), 2, "read again from the store");
}

#[test]
fn an_if_match_writer_is_told_the_case_moved_on_and_nothing_is_written() {
    let repo = Repository::new(MemoryStore::new(), Rules::default());
    let case = case_id(4);
    repo.open(case, Opening::new("cust-4", "my laptop works", ana()), &Actor::customer("cust-4"), T0).unwrap();
    repo.execute(case, note("someone else"), &Actor::Staff(ana()), T0).unwrap();
    let err = repo.run(CaseRequest::new(case, note("mine"), ana(), T0).expect_version(1)).unwrap_err();
    assert!(matches!(err, Error::Request(RequestError::PreconditionFailed { expected: 1, actual: 2, .. })), "{err}");
    assert_eq!(err.category().http_status(), 412);
    assert_eq!(repo.store().version(case).unwrap(), 2);
    let events = repo.run(CaseRequest::new(case, note("mine"), ana(), T0).expect_version(2)).unwrap().events;
    assert_eq!(events[0].seq, 3);
}

#[test]
fn an_idempotency_key_survives_a_restart_and_another_repository() {
    let dir = std::env::temp_dir().join(format!("caseledger-repository-keys-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let case = case_id(5);
    let key = IdempotencyKey::new("req-5").unwrap();
    let request = CaseRequest::new(case, note("called back"), ana(), T0).key(key.clone());
    let first = {
        let repo = Repository::new(FileStore::open(&dir).unwrap(), Rules::default());
        repo.open(case, Opening::new("cust-5", "my laptop works", ana()), &Actor::customer("cust-5"), T0).unwrap();
        repo.run(request.clone()).unwrap()
    };
    // After a restart, a minute later, the client resends the same request.
    let repo = Repository::new(FileStore::open(&dir).unwrap(), Rules::default());
    let later = CaseRequest::new(case, note("called back"), ana(), T0 + Duration::minutes(1)).key(key.clone());
    let retry = repo.run(later).unwrap();
    assert_eq!(retry.events, first.events);
    assert!(retry.already_done && !first.already_done, "the restarted repository knows it from the log");
    assert_eq!(repo.store().version(case).unwrap(), 2, "nothing appended");
    let other = repo.run(CaseRequest::new(case, note("something else"), ana(), T0).key(key)).unwrap_err();
    assert!(matches!(other, Error::Refused(Refusal::KeyReused { first: 2, last: 2, .. })), "{other}");
    drop(repo);
    let _ = std::fs::remove_dir_all(&dir);
}

//! The asynchronous repository (feature `async`) on tokio: the same core as the blocking
//! one, awaited. Many tasks share one repository; a store that yields at every call makes
//! commands interleave at each await.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::support::{ana, case_id, note, T0};
use caseledger::{
    error::{RequestError, StoreError},
    store::Appended,
    Actor, AsyncRepository, AsyncStore, Case, CaseId, CaseRequest, Error, Event, IdempotencyKey, MemoryStore, Opening,
    Refusal, Rules, Store,
};
use time::Duration;

/// A memory store whose every call yields to the runtime first, as a database's would,
/// and counts the appends it was asked for.
#[derive(Default)]
struct Yielding {
    inner: MemoryStore,
    appends: AtomicUsize,
}

impl AsyncStore for Yielding {
    async fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError> {
        tokio::task::yield_now().await;
        self.appends.fetch_add(1, Ordering::Relaxed);
        Store::append(&self.inner, case, expected, events)
    }

    async fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError> {
        tokio::task::yield_now().await;
        Store::read_after(&self.inner, case, after)
    }

    async fn version(&self, case: CaseId) -> Result<u64, StoreError> {
        tokio::task::yield_now().await;
        Store::version(&self.inner, case)
    }

    async fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
        tokio::task::yield_now().await;
        Store::cases(&self.inner)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_share_one_repository_and_no_event_is_lost_duplicated_or_reordered() {
    let repo = Arc::new(AsyncRepository::new(Yielding::default(), Rules::default()).with_capacity(8));
    let shared = case_id(1);
    let own: Vec<CaseId> = (10..26).map(case_id).collect();
    for id in std::iter::once(shared).chain(own.iter().copied()) {
        repo.open(id, Opening::new("cust-1", "my laptop works", ana()), &Actor::customer("cust-1"), T0).await.unwrap();
    }

    let mut tasks = Vec::new();
    for (task, mine) in own.iter().copied().enumerate() {
        let repo = Arc::clone(&repo);
        // Spawning needs the futures to be `Send`.
        tasks.push(tokio::spawn(async move {
            for i in 0..5 {
                let by = Actor::Staff(ana());
                let at = T0 + Duration::seconds(1);
                repo.execute_with_retry(shared, note(format!("task {task} note {i}")), &by, || at, 100).await?;
                repo.execute(mine, note(format!("own note {i}")), &by, at).await?;
            }
            Ok::<(), Error>(())
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }

    let log = Store::read(&repo.store().inner, shared).unwrap();
    assert_eq!(log.len(), 1 + 16 * 5, "every note on the shared case landed once");
    assert_eq!(Case::replay(&log).unwrap().version(), 81);
    for id in &own {
        let log = Store::read(&repo.store().inner, *id).unwrap();
        let texts: Vec<String> = log[1..]
            .iter()
            .map(|e| match &e.what {
                caseledger::EventKind::NoteAdded { text, .. } => text.clone(),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        let expected: Vec<String> = (0..5).map(|i| format!("own note {i}")).collect();
        assert_eq!(texts, expected, "a task's own case holds its notes in order");
    }
    assert!(repo.core().cached() <= 8, "the cache stays within its capacity");
    assert_eq!(repo.case(shared).await.unwrap().version(), 81, "an evicted or stale case is read again");
}

#[tokio::test]
async fn an_expected_version_and_an_idempotency_key_work_as_in_the_blocking_repository() {
    let repo = AsyncRepository::new(Yielding::default(), Rules::default());
    let case = case_id(2);
    repo.open(case, Opening::new("cust-2", "my laptop works", ana()), &Actor::customer("cust-2"), T0).await.unwrap();

    let stale = repo.run(CaseRequest::new(case, note("first"), ana(), T0).expect_version(0)).await.unwrap_err();
    assert!(
        matches!(stale, Error::Request(RequestError::PreconditionFailed { expected: 0, actual: 1, .. })),
        "{stale}"
    );

    let key = IdempotencyKey::new("req-9").unwrap();
    let request = CaseRequest::new(case, note("called back"), ana(), T0).key(key.clone()).expect_version(1);
    let first = repo.run(request.clone()).await.unwrap();
    let appends = repo.store().appends.load(Ordering::Relaxed);
    let again = repo.run(request).await.unwrap();
    assert_eq!(again.events, first.events, "the stored events");
    assert!(again.already_done);
    assert_eq!(repo.store().appends.load(Ordering::Relaxed), appends, "nothing appended");

    let other = repo.run(CaseRequest::new(case, note("something else"), ana(), T0).key(key)).await.unwrap_err();
    assert!(matches!(other, Error::Refused(Refusal::KeyReused { .. })), "{other}");
    assert_eq!(repo.refresh(case).await.unwrap().version(), 2);
}

#[tokio::test]
async fn a_dropped_command_future_leaves_the_cache_consistent_with_the_store() {
    let repo = AsyncRepository::new(Yielding::default(), Rules::default());
    let case = case_id(3);
    repo.open(case, Opening::new("cust-3", "my laptop works", ana()), &Actor::customer("cust-3"), T0).await.unwrap();
    {
        // A host gives up at the first await (a timeout, a client gone): polled once, dropped.
        let by = Actor::Staff(ana());
        let mut command = std::pin::pin!(repo.execute(case, note("slow"), &by, T0));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(command.as_mut().poll(&mut cx).is_pending(), "waiting for the store");
    }
    let events = repo.execute(case, note("next"), &Actor::Staff(ana()), T0).await.unwrap().events;
    assert_eq!(events[0].seq, Store::version(&repo.store().inner, case).unwrap());
    assert_eq!(repo.case(case).await.unwrap().version(), Store::version(&repo.store().inner, case).unwrap());
}

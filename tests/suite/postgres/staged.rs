//! Commands inside the host's transaction, through the repository (`Staged`): two app
//! nodes on one database, each on a pool of ONE connection, so a command that took a
//! second connection would hang. After a rollback, a dropped transaction, an aborted one
//! or a savepoint, the caches, the store, the host's outbox and the feed all show only
//! what was committed; after a commit, the committing node's cache knows it at once and
//! the other node catches up.

use std::time::{Duration, Instant};

use caseledger::{
    error::{RequestError, StoreError},
    store::FeedPosition,
    Actor, AsyncRepository, CaseId, CaseRequest, Error, Event, Opening, PgStore, Rules,
};
use sqlx::Connection;

use crate::support::postgres::{case_id, TestDb};
use crate::support::{ana, note, T0};

type Repo = AsyncRepository<PgStore>;

/// Two nodes on pools of one connection each, a host outbox table, and case 1 opened at
/// version 1 and cached by both.
async fn two_nodes() -> (TestDb, Repo, Repo, CaseId) {
    let db = TestDb::new().await;
    let a = AsyncRepository::new(PgStore::new(db.pool(1).await), Rules::default());
    let b = AsyncRepository::new(PgStore::new(db.pool(1).await), Rules::default());
    sqlx::query("CREATE TABLE outbox (case_id uuid NOT NULL, seq bigint NOT NULL)")
        .execute(a.store().pool())
        .await
        .unwrap();
    let case = case_id(1);
    a.open(case, Opening::new("cust-7", "my laptop works", ana()), &Actor::customer("cust-7"), T0).await.unwrap();
    b.case(case).await.unwrap();
    (db, a, b, case)
}

fn at(minutes: i64) -> time::OffsetDateTime {
    T0 + time::Duration::minutes(minutes)
}

fn staff() -> Actor {
    Actor::Staff(ana())
}

async fn outbox(repo: &Repo, case: CaseId) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE case_id = $1")
        .bind(case.as_uuid())
        .fetch_one(repo.store().pool())
        .await
        .unwrap()
}

/// Stages a note on `case` with its outbox row; returns the transaction, still open.
async fn stage_note<'r>(
    repo: &'r Repo,
    case: CaseId,
    text: &str,
    minute: i64,
) -> (caseledger::repository::Staged<'r, 'static>, Vec<Event>) {
    let mut tx = repo.begin().await.unwrap();
    let events = tx.execute(case, note(text), &staff(), at(minute)).await.unwrap().events;
    sqlx::query("INSERT INTO outbox (case_id, seq) VALUES ($1, $2)")
        .bind(case.as_uuid())
        .bind(i64::try_from(events[0].seq).unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(tx.case(case).await.unwrap().version(), events[0].seq, "the transaction sees its own events");
    assert_eq!(repo.core().peek(case).unwrap().version(), events[0].seq - 1, "the cache waits for the commit");
    (tx, events)
}

/// What every node, the store, the outbox and the feed show for `case`: all must agree
/// with `version` committed events and `mails` outbox rows, and `never` must not be in
/// the feed.
async fn agree(a: &Repo, b: &Repo, case: CaseId, version: u64, mails: i64, never: &[Event]) {
    assert_eq!(a.store().version(case).await.unwrap(), version, "store");
    assert_eq!(outbox(a, case).await, mails, "outbox");
    for node in [a, b] {
        let cached = node.core().peek(case).map_or(0, |c| c.version());
        assert!(cached <= version, "a cache never runs ahead of the database: {cached} > {version}");
        assert_eq!(node.refresh(case).await.unwrap().version(), version, "a node catches up to what is stored");
    }
    // Other transactions on the server hold the feed back a while: read until the case's
    // committed events have all come (or a minute passed), then nothing more may come.
    let (deadline, mut at, mut feed) = (Instant::now() + Duration::from_secs(60), FeedPosition::START, Vec::new());
    while (feed.iter().filter(|e: &&Event| e.case == case).count() as u64) < version && Instant::now() < deadline {
        let page = a.store().read_feed(at, 100).await.unwrap();
        if page.events.len() < 100 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        at = page.next;
        feed.extend(page.events.into_iter().map(|e| e.event));
    }
    let page = a.store().read_feed(at, 100).await.unwrap();
    feed.extend(page.events.into_iter().map(|e| e.event));
    assert_eq!(feed.iter().filter(|e| e.case == case).count() as u64, version, "feed");
    assert!(never.iter().all(|gone| feed.iter().all(|e| e.id != gone.id)), "a rolled-back event is never in the feed");
}

#[tokio::test]
async fn a_rollback_leaves_cache_store_outbox_and_feed_as_they_were_on_both_nodes() {
    let (db, a, b, case) = two_nodes().await;
    let (tx, gone) = stage_note(&a, case, "never happened", 1).await;
    tx.rollback().await.unwrap();
    assert_eq!(a.core().peek(case).unwrap().version(), 1);
    agree(&a, &b, case, 1, 0, &gone).await;

    // The other node writes at the version the rolled-back event had taken.
    let theirs = b.execute(case, note("from b"), &staff(), at(2)).await.unwrap();
    assert_eq!(theirs.events[0].seq, 2);
    agree(&a, &b, case, 2, 0, &gone).await;
    db.drop().await;
}

#[tokio::test]
async fn a_dropped_transaction_is_a_rollback_and_the_one_connection_comes_back() {
    let (db, a, b, case) = two_nodes().await;
    let (tx, gone) = stage_note(&a, case, "the handler returned early", 1).await;
    drop(tx);
    assert_eq!(a.core().peek(case).unwrap().version(), 1);
    // The pool's only connection is usable again: a command outside any transaction.
    let mine = tokio::time::timeout(Duration::from_secs(30), a.execute(case, note("after"), &staff(), at(2)))
        .await
        .expect("the dropped transaction gave its connection back")
        .unwrap();
    assert_eq!(mine.events[0].seq, 2);
    agree(&a, &b, case, 2, 0, &gone).await;
    db.drop().await;
}

#[tokio::test]
async fn a_commit_lands_events_and_outbox_row_together_and_only_then_the_cache_learns() {
    let (db, a, b, case) = two_nodes().await;
    let (tx, events) = stage_note(&a, case, "mail the customer", 1).await;
    tx.commit().await.unwrap();
    assert_eq!(a.core().peek(case).unwrap().version(), 2, "learned on commit, without a read");
    assert_eq!(b.core().peek(case).unwrap().version(), 1, "the other node has not read yet");
    agree(&a, &b, case, 2, 1, &[]).await;
    assert_eq!(a.store().read_after(case, 1).await.unwrap(), events);

    // Two commands on one case in one transaction: the second decides on the first.
    let mut tx = a.begin().await.unwrap();
    let first = tx.execute(case, note("one"), &staff(), at(3)).await.unwrap();
    let second = tx.execute(case, note("two"), &staff(), at(4)).await.unwrap();
    assert_eq!((first.events[0].seq, second.events[0].seq, second.version), (3, 4, 4));
    tx.commit().await.unwrap();
    assert_eq!(a.core().peek(case).unwrap().version(), 4);
    agree(&a, &b, case, 4, 1, &[]).await;
    db.drop().await;
}

#[tokio::test]
async fn a_stale_node_catches_up_inside_its_transaction_on_its_one_connection() {
    let (db, a, b, case) = two_nodes().await;
    b.execute(case, note("b first"), &staff(), at(1)).await.unwrap();
    // a's cache is at 1: its append conflicts, and the catch-up read must go through the
    // transaction (the pool has no second connection to give).
    let mut tx = a.begin().await.unwrap();
    let by = staff();
    let run = tx.execute(case, note("a second"), &by, at(2));
    let mine = tokio::time::timeout(Duration::from_secs(30), run).await.expect("no second connection needed").unwrap();
    assert_eq!((mine.events[0].seq, mine.attempts), (3, 2), "decided again on the caught-up case");
    // An If-Match the case has left is answered without writing, inside the transaction.
    let stale = tx.run(CaseRequest::new(case, note("stale"), ana(), at(3)).expect_version(2)).await;
    assert!(matches!(stale, Err(Error::Request(RequestError::PreconditionFailed { .. }))), "{stale:?}");
    tx.rollback().await.unwrap();
    assert_eq!(a.core().peek(case).unwrap().version(), 1, "not even the committed catch-up is kept");
    agree(&a, &b, case, 2, 0, &mine.events).await;
    db.drop().await;
}

#[tokio::test]
async fn an_aborted_transaction_or_a_savepoint_never_settles_the_cache() {
    let (db, a, b, case) = two_nodes().await;

    // A host statement fails after the command: PostgreSQL would turn COMMIT into a
    // rollback without an error; the commit says so instead, and the cache stays.
    let (mut tx, gone) = stage_note(&a, case, "then the host failed", 1).await;
    assert!(sqlx::query("SELECT 1 / 0").execute(&mut *tx).await.is_err());
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::Store(StoreError::Backend { .. })), "{err}");
    assert_eq!(a.core().peek(case).unwrap().version(), 1);
    agree(&a, &b, case, 1, 0, &gone).await;

    // A savepoint in the host's transaction: releasing it makes nothing durable, so the
    // cache waits; the outer transaction rolls back and nothing happened.
    let mut conn = a.store().pool().acquire().await.unwrap();
    let mut outer = conn.begin().await.unwrap();
    let mut inner = a.within(Connection::begin(&mut *outer).await.unwrap());
    let nested = inner.execute(case, note("in a savepoint"), &staff(), at(2)).await.unwrap().events;
    inner.commit().await.unwrap();
    assert_eq!(a.core().peek(case).unwrap().version(), 1, "a released savepoint is not a commit");
    outer.rollback().await.unwrap();
    drop(conn);
    agree(&a, &b, case, 1, 0, &nested).await;
    db.drop().await;
}

#[tokio::test]
async fn an_opening_in_a_transaction_exists_only_once_committed() {
    let (db, a, b, _) = two_nodes().await;
    let case = case_id(2);
    let opening = || Opening::new("cust-8", "my printer prints", ana());

    let mut tx = a.begin().await.unwrap();
    tx.open(case, opening(), &Actor::customer("cust-8"), T0).await.unwrap();
    drop(tx);
    assert!(a.core().peek(case).is_none());
    let unknown = a.case(case).await.unwrap_err();
    assert!(matches!(unknown, Error::Store(StoreError::UnknownCase { .. })), "{unknown}");

    // A transaction on a connection the host holds, rather than one from the pool.
    let mut conn = a.store().pool().acquire().await.unwrap();
    let mut tx = a.within(conn.begin().await.unwrap());
    tx.open(case, opening(), &Actor::customer("cust-8"), T0).await.unwrap();
    tx.commit().await.unwrap();
    drop(conn);
    assert_eq!(a.core().peek(case).unwrap().version(), 1);
    agree(&a, &b, case, 1, 0, &[]).await;
    db.drop().await;
}

#[tokio::test]
async fn with_snapshots_a_cold_case_loads_and_saves_inside_the_transaction_on_its_one_connection() {
    let db = TestDb::new().await;
    let repo = AsyncRepository::new(PgStore::new(db.pool(1).await), Rules::default())
        .with_snapshots(caseledger::repository::SnapshotPolicy::every(2));
    let case = case_id(3);
    repo.open(case, Opening::new("cust-9", "my phone rings", ana()), &Actor::customer("cust-9"), T0).await.unwrap();
    repo.execute(case, note("one"), &staff(), at(1)).await.unwrap();
    let kept = || async { repo.store().read_snapshot(case).await.unwrap().map(|s| s.version()) };
    assert_eq!(kept().await, Some(2), "a snapshot every two events");

    for commit in [false, true] {
        // Cold: the load (snapshot and tail) and the next snapshot's write both go through
        // the transaction's one connection.
        repo.forget(case);
        let mut tx = repo.begin().await.unwrap();
        let by = staff();
        let run = tx.execute(case, note("two"), &by, at(2));
        let done = tokio::time::timeout(Duration::from_secs(30), run).await.expect("one connection is enough").unwrap();
        assert_eq!(done.version, 3);
        assert_eq!(tx.execute(case, note("three"), &staff(), at(3)).await.unwrap().version, 4);
        if commit {
            tx.commit().await.unwrap();
        } else {
            tx.rollback().await.unwrap();
            assert_eq!(kept().await, Some(2), "the snapshot written in the transaction rolled back with it");
            assert!(repo.core().peek(case).is_none(), "and the cache never saw version 4");
        }
    }
    assert_eq!(kept().await, Some(4));
    assert_eq!(repo.core().peek(case).unwrap().version(), 4);
    assert_eq!(repo.store().version(case).await.unwrap(), 4);
    db.drop().await;
}

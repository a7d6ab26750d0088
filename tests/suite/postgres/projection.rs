//! Projections from the PostgreSQL feed: the conformance promises for an in-memory
//! projection ([`FeedFollower`]); a table read model through [`PgRunner`] that survives a
//! consumer killed between applying and committing, resumes, rebuilds, reports lag and
//! tells a stalled runner from a quiet store; the worklist table and the in-memory
//! worklist on the feed, both equal to a brute-force scan of every replayed case.

use std::future::Future;
use std::time::{Duration as StdDuration, Instant};

use caseledger::projection::{FeedFollower, PgProjection, PgRunner};
use caseledger::testkit::conformance::{BlockOn, Blocking};
use caseledger::testkit::projection::{check_projection, Applied, ProjectionRig, Recorder};
use caseledger::worklist::{PgWorklist, Worklist};
use caseledger::{Event, PgStore, Store};
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use sqlx::postgres::PgConnection;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::support::note;
use crate::support::postgres::{case_id, decide, feed_settled, log_of, TestDb};
use crate::worklist::scan;

#[derive(Clone)]
struct Tokio(tokio::runtime::Handle);

impl BlockOn for Tokio {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.0.block_on(future)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

const NOW: OffsetDateTime = datetime!(2026-12-01 12:00 UTC);

// ---------------------------------------------------------------- in memory, from the feed

/// The suite's rig: a recorder following the feed, its position kept with it.
struct Follower {
    store: Blocking<PgStore, Tokio>,
    handle: tokio::runtime::Handle,
    follower: Option<FeedFollower<Recorder>>,
}

impl ProjectionRig for Follower {
    fn store(&self) -> &dyn Store {
        &self.store
    }
    fn catch_up(&mut self) -> Result<(), String> {
        let pg = self.store.store().clone();
        let follower = self.follower.as_mut().ok_or("not running")?;
        self.handle.block_on(async {
            let deadline = Instant::now() + StdDuration::from_secs(60);
            loop {
                follower.catch_up(&pg, 7, NOW).await.map_err(|e| e.to_string())?;
                let lag = pg.feed_lag(follower.position()).await.map_err(|e| e.to_string())?;
                if lag.unread == 0 && lag.held == 0 {
                    return Ok(());
                }
                if Instant::now() > deadline {
                    return Err(format!("still behind after 60 s: {lag:?}"));
                }
                tokio::time::sleep(StdDuration::from_millis(20)).await;
            }
        })
    }
    fn restart(&mut self) -> Result<(), String> {
        // The process saves its model with its position and exits; the next resumes.
        let (recorder, at) = self.follower.take().ok_or("not running")?.into_parts();
        let saved = at.to_string();
        self.follower = Some(FeedFollower::resume(recorder, saved.parse().map_err(|e| format!("{e}"))?));
        Ok(())
    }
    fn rebuild(&mut self) -> Result<(), String> {
        self.follower.as_mut().ok_or("not running")?.rebuild();
        Ok(())
    }
    fn applied(&self) -> Vec<Applied> {
        self.follower.as_ref().map(|f| f.projection().applied().to_vec()).unwrap_or_default()
    }
}

#[test]
fn an_in_memory_projection_on_the_feed_keeps_the_projection_promises() {
    let runtime = runtime();
    let db = runtime.block_on(TestDb::new());
    let store = runtime.block_on(db.store());
    let rig = Follower {
        store: Blocking::new(store, Tokio(runtime.handle().clone())),
        handle: runtime.handle().clone(),
        follower: Some(FeedFollower::new(Recorder::default())),
    };
    let result = check_projection(rig);
    runtime.block_on(db.drop());
    result.unwrap();
}

// ---------------------------------------------------------------- a table read model

/// Writes each event it is given as a row, with no unique key: an event applied twice
/// shows as two rows.
struct Table;

impl PgProjection for Table {
    type Error = sqlx::Error;

    fn name(&self) -> &str {
        "test_table"
    }

    async fn apply(&mut self, conn: &mut PgConnection, event: &Event) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO applied (case_id, seq) VALUES ($1, $2)")
            .bind(event.case.as_uuid())
            .bind(event.seq as i64)
            .execute(&mut *conn)
            .await
            .map(drop)
    }

    async fn reset(&mut self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM applied").execute(&mut *conn).await.map(drop)
    }
}

/// A fresh database with the table [`Table`] writes.
async fn with_table() -> (TestDb, PgStore) {
    let db = TestDb::new().await;
    let store = db.store().await;
    sqlx::query("CREATE TABLE applied (n serial PRIMARY KEY, case_id uuid NOT NULL, seq bigint NOT NULL)")
        .execute(store.pool())
        .await
        .unwrap();
    (db, store)
}

/// (case, seq) rows the table holds, in insertion order; duplicates kept.
async fn applied(store: &PgStore) -> Vec<(uuid::Uuid, i64)> {
    sqlx::query_as("SELECT case_id, seq FROM applied ORDER BY n").fetch_all(store.pool()).await.unwrap()
}

/// Checks the table holds every stored event exactly once, each case in order.
async fn exactly_once(store: &PgStore, logs: &[Vec<Event>]) {
    let rows = applied(store).await;
    let stored: usize = logs.iter().map(Vec::len).sum();
    assert_eq!(rows.len(), stored, "every stored event once: {rows:?}");
    for log in logs {
        let case = *log[0].case.as_uuid();
        let seqs: Vec<i64> = rows.iter().filter(|(c, _)| *c == case).map(|(_, s)| *s).collect();
        assert_eq!(seqs, (1..=log.len() as i64).collect::<Vec<_>>(), "case {case} in order");
    }
}

async fn runner_catch_up<P: PgProjection>(runner: &mut PgRunner<P>, store: &PgStore, now: OffsetDateTime) {
    let deadline = Instant::now() + StdDuration::from_secs(60);
    loop {
        runner.catch_up(store, 5, now).await.map_err(|e| e.to_string()).unwrap();
        let lag = runner.status(store).await.unwrap().lag;
        if lag.unread == 0 && lag.held == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "still behind after 60 s: {lag:?}");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_consumer_killed_between_applying_and_committing_applies_nothing_twice_and_loses_nothing() {
    let (db, store) = with_table().await;
    let mut logs: Vec<Vec<Event>> = (0..4).map(|n| log_of(case_id(n), 5)).collect();
    for log in &logs {
        store.append(log[0].case, 0, log).await.unwrap();
    }
    // Every page below must find its 7 events already served by the feed.
    feed_settled(&store).await;

    // 1. The consumer applies a page in its transaction and dies before committing: the
    //    transaction is dropped, as a crashed process's is.
    let mut runner = PgRunner::new(Table);
    {
        let mut tx = store.pool().begin().await.unwrap();
        let progress = runner.apply_page(&mut tx, &store, 7).await.unwrap();
        assert_eq!(progress.applied, 7);
        let inside: i64 = sqlx::query_scalar("SELECT count(*) FROM applied").fetch_one(&mut *tx).await.unwrap();
        assert_eq!(inside, 7, "applied inside the transaction");
        drop(tx);
    }
    assert!(applied(&store).await.is_empty(), "nothing of the page survived");
    assert_eq!(runner.checkpoint(&store).await.unwrap(), caseledger::store::FeedPosition::START);

    // 2. Its connection is killed by the server after applying, before the commit.
    {
        let mut tx = store.pool().begin().await.unwrap();
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut *tx).await.unwrap();
        runner.apply_page(&mut tx, &store, 7).await.unwrap();
        let killed: bool =
            sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(pid).fetch_one(db.admin()).await.unwrap();
        assert!(killed);
        assert!(tx.commit().await.is_err(), "the commit cannot reach a killed backend");
    }
    assert!(applied(&store).await.is_empty(), "nothing of the killed page survived");

    // 3. A new process resumes from the stored checkpoint: everything once, in order.
    let mut runner = PgRunner::new(Table);
    let t = datetime!(2026-12-01 12:00 UTC);
    runner_catch_up(&mut runner, &store, t).await;
    exactly_once(&store, &logs).await;

    // 4. More appends; a restarted runner resumes where the last one committed.
    for log in logs.iter_mut() {
        let next = decide(log, note("later"));
        store.append(log[0].case, log.len() as u64, &next).await.unwrap();
        log.extend(next);
    }
    let mut runner = PgRunner::new(Table);
    runner_catch_up(&mut runner, &store, t).await;
    exactly_once(&store, &logs).await;

    // 5. Rebuild from the start: the table is emptied and filled again, once.
    runner.rebuild(&store, 4, t).await.unwrap();
    runner_catch_up(&mut runner, &store, t).await;
    exactly_once(&store, &logs).await;
    db.drop().await;
}

#[tokio::test]
async fn two_nodes_running_the_same_projection_take_turns_and_apply_each_event_once() {
    let (db, store) = with_table().await;
    let logs: Vec<Vec<Event>> = (0..6).map(|n| log_of(case_id(n), 6)).collect();
    for log in &logs {
        store.append(log[0].case, 0, log).await.unwrap();
    }
    let (a, b) = (db.store().await, db.store().await);
    let t = datetime!(2026-12-01 12:00 UTC);
    let node = |store: PgStore| async move {
        let mut runner = PgRunner::new(Table);
        runner_catch_up(&mut runner, &store, t).await;
    };
    tokio::join!(node(a), node(b));
    exactly_once(&store, &logs).await;
    db.drop().await;
}

#[tokio::test]
async fn a_stalled_runner_is_told_apart_from_a_quiet_store() {
    let (db, store) = with_table().await;
    let log = log_of(case_id(1), 3);
    store.append(log[0].case, 0, &log).await.unwrap();
    let mut runner = PgRunner::new(Table);
    let t0 = datetime!(2026-12-01 12:00 UTC);
    let patience = Duration::minutes(5);
    let status = runner.status(&store).await.unwrap();
    assert!(status.lag.unread + status.lag.held >= 3);
    assert_eq!(status.last_success, None);

    runner_catch_up(&mut runner, &store, t0).await;
    let quiet = runner.status(&store).await.unwrap();
    assert_eq!((quiet.lag.unread, quiet.lag.held), (0, 0));
    assert_eq!(quiet.last_success, Some(t0));
    assert!(!quiet.is_stalled(t0 + Duration::hours(6), patience), "a quiet store is not a stalled runner");

    // New events arrive and the runner stops polling.
    let next = decide(&log, note("unseen"));
    store.append(log[0].case, 3, &next).await.unwrap();
    let deadline = Instant::now() + StdDuration::from_secs(60);
    let behind = loop {
        let s = runner.status(&store).await.unwrap();
        if s.lag.unread > 0 || Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    };
    assert_eq!(behind.lag.unread, 1);
    assert!(!behind.is_stalled(t0 + Duration::minutes(1), patience), "behind, but polled a minute ago");
    assert!(behind.is_stalled(t0 + Duration::minutes(6), patience), "unread events and no poll for six minutes");

    // A projection that fails: the poll's error is kept, nothing is committed.
    sqlx::query("DROP TABLE applied").execute(store.pool()).await.unwrap();
    let err = runner.poll(&store, 10, t0 + Duration::minutes(7)).await.unwrap_err();
    assert!(err.to_string().contains("refused event 4"), "{err}");
    let failing = runner.status(&store).await.unwrap();
    assert_eq!(failing.last_success, Some(t0), "a failed poll is no success");
    assert!(failing.last_error.is_some());
    assert!(failing.is_stalled(t0 + Duration::minutes(7), patience));
    assert_eq!(failing.position, quiet.position, "the checkpoint did not move");
    db.drop().await;
}

// ---------------------------------------------------------------- the worklist

/// Empties every table between generated cases (one database for the whole run).
async fn truncate(store: &PgStore) {
    sqlx::raw_sql(
        "TRUNCATE caseledger_events, caseledger_cases, caseledger_incident_cases, caseledger_checkpoints,
                  caseledger_worklist, caseledger_worklist_deadlines",
    )
    .execute(store.pool())
    .await
    .unwrap();
}

fn check_worklists(
    runtime: &tokio::runtime::Runtime,
    store: &PgStore,
    follower: &FeedFollower<Worklist>,
) -> Result<(), String> {
    let logs: Vec<Vec<Event>> = runtime.block_on(async {
        let mut logs = Vec::new();
        for case in store.cases().await.unwrap() {
            logs.push(store.read(case).await.unwrap());
        }
        logs
    });
    let cases = scan::replayed(logs);
    let deadlines = scan::deadlines();
    scan::check(
        &cases,
        &deadlines,
        |q| runtime.block_on(PgWorklist::page(store, q)).unwrap(),
        |a, b| runtime.block_on(PgWorklist::breached_between(store, a, b)).unwrap(),
    )
    .map_err(|e| format!("the worklist table: {e}"))?;
    let worklist = follower.projection();
    scan::check(&cases, &deadlines, |q| worklist.page(q), |a, b| worklist.breached_between(a, b))
        .map_err(|e| format!("the in-memory worklist on the feed: {e}"))
}

#[test]
fn the_worklist_table_and_the_worklist_on_the_feed_answer_as_a_scan_before_and_after_a_restart() {
    let runtime = runtime();
    let db = runtime.block_on(TestDb::new());
    let store = runtime.block_on(db.store());
    runtime.block_on(PgWorklist::migrate(&store)).unwrap();
    runtime.block_on(PgWorklist::migrate(&store)).expect("idempotent");
    let base = ProptestConfig::default();
    let mut proptest = TestRunner::new(ProptestConfig { cases: (base.cases / 8).max(6), ..base });
    let result = proptest.run(&scan::many_histories(12), |histories| {
        runtime.block_on(truncate(&store));
        let mut follower = FeedFollower::new(Worklist::new(scan::deadlines()));
        let mut runner = PgRunner::new(PgWorklist::new(scan::deadlines()));
        let catch_up = |runner: &mut PgRunner<PgWorklist>, follower: &mut FeedFollower<Worklist>| {
            runtime.block_on(async {
                runner_catch_up(runner, &store, NOW).await;
                let deadline = Instant::now() + StdDuration::from_secs(60);
                loop {
                    follower.catch_up(&store, 50, NOW).await.unwrap();
                    let lag = store.feed_lag(follower.position()).await.unwrap();
                    if lag.unread == 0 && lag.held == 0 {
                        break;
                    }
                    assert!(Instant::now() < deadline, "the follower is behind: {lag:?}");
                    tokio::time::sleep(StdDuration::from_millis(20)).await;
                }
            })
        };
        // The first half of every case, interleaved, then a catch-up.
        let halves: Vec<usize> = histories.iter().map(|h| h.events().len().div_ceil(2)).collect();
        runtime.block_on(async {
            for (h, half) in histories.iter().zip(&halves) {
                store.append(h.case().id(), 0, &h.events()[..*half]).await.unwrap();
            }
        });
        catch_up(&mut runner, &mut follower);
        check_worklists(&runtime, &store, &follower).map_err(TestCaseError::fail)?;
        // A restart: new processes, the worklist's cache empty, the follower resumed
        // from the position saved with its model; then the rest of every case.
        let (model, at) = follower.into_parts();
        let mut follower = FeedFollower::resume(model, at);
        let mut runner = PgRunner::new(PgWorklist::new(scan::deadlines()));
        runtime.block_on(async {
            for (h, half) in histories.iter().zip(&halves) {
                let rest = &h.events()[*half..];
                if !rest.is_empty() {
                    store.append(h.case().id(), *half as u64, rest).await.unwrap();
                }
            }
        });
        catch_up(&mut runner, &mut follower);
        check_worklists(&runtime, &store, &follower).map_err(TestCaseError::fail)?;
        // A rebuild of the table from the start gives the same answers.
        runtime.block_on(runner.rebuild(&store, 100, NOW)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_worklists(&runtime, &store, &follower).map_err(TestCaseError::fail)?;
        Ok(())
    });
    runtime.block_on(db.drop());
    result.unwrap();
}

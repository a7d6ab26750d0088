//! The PostgreSQL store against a real server (`bash .ci/test` starts one and sets
//! `DATABASE_URL`; without it these tests fail). Each test has a database of its own.

#[cfg(feature = "testkit")]
mod conformance;
mod crash;
mod feed;
mod nodes;
#[cfg(feature = "proptest")]
mod projection;
mod staged;

use crate::support::note;
use crate::support::postgres::{case_id, decide, log_of, opened, TestDb};
use caseledger::{
    error::{DecodeError, Location, LogError, StoreError},
    id::IncidentId,
    Command, Event, PgStore,
};

#[tokio::test]
async fn migrate_is_idempotent_and_safe_when_nodes_start_together() {
    let db = TestDb::new().await;
    let (a, b) = (db.store().await, db.store().await);
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.expect("node a migrates");
    rb.expect("node b migrates");
    a.migrate().await.expect("again");
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'caseledger%'")
        .fetch_one(a.pool())
        .await
        .unwrap();
    assert_eq!(tables, 6, "events, cases, incident cases, checkpoints, snapshots, schema");
    db.drop().await;
}

#[tokio::test]
async fn appends_read_back_in_order_and_answer_cross_case_questions_from_indexes() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let mut logs = Vec::new();
    for n in 0..7 {
        let case = case_id(n);
        let customer = if n % 2 == 0 { "cust-even" } else { "cust-odd" };
        let mut log = vec![opened(case, customer, "my laptop works")];
        assert_eq!(store.append(case, 0, &log).await.unwrap().version, 1);
        for text in ["first", "second"] {
            let next = decide(&log, note(text));
            let appended = store.append(case, log.len() as u64, &next).await.unwrap();
            assert_eq!((appended.version, appended.written), (log.len() as u64 + 1, 1));
            log.extend(next);
        }
        if n < 3 {
            let next = decide(&log, Command::LinkIncident { incident: IncidentId::new("inc-1") });
            store.append(case, log.len() as u64, &next).await.unwrap();
            log.extend(next);
        }
        logs.push((case, log));
    }
    for (case, log) in &logs {
        assert_eq!(&store.read(*case).await.unwrap(), log);
        assert_eq!(store.version(*case).await.unwrap(), log.len() as u64);
        assert_eq!(store.read_after(*case, 2).await.unwrap(), log[2..]);
    }
    let unknown = case_id(99);
    assert_eq!(store.version(unknown).await.unwrap(), 0);
    assert!(store.read(unknown).await.unwrap().is_empty());

    let all: Vec<_> = logs.iter().map(|(c, _)| *c).collect();
    assert_eq!(store.cases().await.unwrap(), all);
    let first = store.cases_page(None, 3).await.unwrap();
    let second = store.cases_page(first.last().copied(), 3).await.unwrap();
    let third = store.cases_page(second.last().copied(), 3).await.unwrap();
    assert_eq!([first, second, third].concat(), all);
    let even: Vec<_> = all.iter().copied().step_by(2).collect();
    assert_eq!(store.customer_cases(&"cust-even".into()).await.unwrap(), even);
    assert!(store.customer_cases(&"nobody".into()).await.unwrap().is_empty());
    assert_eq!(store.incident_cases(&IncidentId::new("inc-1")).await.unwrap(), all[..3]);
    db.drop().await;
}

#[tokio::test]
async fn expected_version_and_retries_follow_the_store_contract() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let case = case_id(1);
    let log = log_of(case, 4);
    store.append(case, 0, &log[..2]).await.unwrap();

    // A stale writer: nothing written.
    let other = decide(&log[..1], note("stale"));
    let err = store.append(case, 1, &other).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { expected: 1, actual: 2, .. }), "{err}");
    // A writer ahead of the store.
    let err = store.append(case, 3, &log[3..]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { expected: 3, actual: 2, .. }), "{err}");
    // An exact resend is a no-op; one reaching past the log writes only the rest.
    assert_eq!(store.append(case, 0, &log[..2]).await.unwrap().written, 0);
    let appended = store.append(case, 1, &log[1..4]).await.unwrap();
    assert_eq!((appended.version, appended.written), (4, 2));
    assert_eq!(store.read(case).await.unwrap(), log);
    // Same id, other content.
    let mut changed = log[3].clone();
    changed.at += time::Duration::seconds(1);
    let err = store.append(case, 3, &[changed]).await.unwrap_err();
    assert!(matches!(err, StoreError::ChangedRetry { seq: 4, .. }), "{err}");
    // An id used earlier in the log, at a new position.
    let mut reused = decide(&log, note("reused id"));
    reused[0].id = log[1].id;
    let err = store.append(case, 4, &reused).await.unwrap_err();
    assert!(matches!(err, StoreError::Rejected { .. }), "{err}");
    // A gap.
    let mut gap = decide(&log, note("gap"));
    gap[0].seq = 6;
    let err = store.append(case, 4, &gap).await.unwrap_err();
    assert!(matches!(err, StoreError::Rejected { .. }), "{err}");
    assert_eq!(store.read(case).await.unwrap(), log, "no refusal wrote anything");
    db.drop().await;
}

#[tokio::test]
async fn host_transaction_commits_or_rolls_back_its_rows_and_the_events_together() {
    let db = TestDb::new().await;
    let store = db.store().await;
    sqlx::query("CREATE TABLE outbox (id serial PRIMARY KEY, topic text NOT NULL)")
        .execute(store.pool())
        .await
        .unwrap();
    let case = case_id(1);
    let log = log_of(case, 2);
    let outbox =
        || async { sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox").fetch_one(store.pool()).await.unwrap() };

    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query("INSERT INTO outbox (topic) VALUES ('opened')").execute(&mut *tx).await.unwrap();
    store.append_in(&mut tx, case, 0, &log[..1]).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(store.version(case).await.unwrap(), 0, "rolled back: no events");
    assert_eq!(outbox().await, 0, "rolled back: no outbox row");
    assert!(store.cases().await.unwrap().is_empty(), "rolled back: no index row");
    assert!(store.customer_cases(&"cust-7".into()).await.unwrap().is_empty());

    let mut tx = store.pool().begin().await.unwrap();
    sqlx::query("INSERT INTO outbox (topic) VALUES ('opened')").execute(&mut *tx).await.unwrap();
    store.append_in(&mut tx, case, 0, &log[..1]).await.unwrap();
    // A refusal inside the host's transaction does not abort it.
    let err = store.append_in(&mut tx, case, 0, &[opened(case, "cust-8", "other")]).await.unwrap_err();
    assert!(err.is_conflict(), "{err}");
    store.append_in(&mut tx, case, 1, &log[1..]).await.unwrap();
    sqlx::query("INSERT INTO outbox (topic) VALUES ('noted')").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.read(case).await.unwrap(), log);
    assert_eq!(outbox().await, 2);
    assert_eq!(store.customer_cases(&"cust-7".into()).await.unwrap(), vec![case]);
    db.drop().await;
}

/// A damaged row is named as a row, by case and sequence number, not as an invented file.
#[tokio::test]
async fn a_damaged_row_is_reported_at_its_case_and_sequence_number() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let case = case_id(1);
    let log = log_of(case, 3);
    store.append(case, 0, &log).await.unwrap();
    let set_body = |seq: i64, body: String| {
        let pool = store.pool().clone();
        async move {
            sqlx::query("UPDATE caseledger_events SET body = $3 WHERE case_id = $1 AND seq = $2")
                .bind(case.as_uuid())
                .bind(seq)
                .bind(body)
                .execute(&pool)
                .await
                .unwrap()
        }
    };
    let row = Location::row("caseledger_events", case, 2);

    set_body(2, "{\"schema\":".into()).await;
    let err = store.read(case).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { location, source: DecodeError::Truncated { .. } } if *location == row),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("caseledger_events row (case {case}, event 2): line 1: the JSON ends early (truncated?)")
    );
    let details = err.report().details;
    assert_eq!((&details["table"], &details["seq"]), (&"caseledger_events".into(), &2.into()));
    assert_eq!(details["case"], case.to_string());

    // The row holds a sound event, but not the one its columns say.
    set_body(2, log[2].to_json().unwrap()).await;
    let err = store.read(case).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Inconsistent { location, source }
            if *location == row && **source == LogError::SequenceGap { expected: 2, found: 3 }),
        "{err}"
    );
    db.drop().await;
}

/// Texts a CRM meets: control characters, quotes, SQL, long and non-Latin text.
fn hostile_texts() -> Vec<String> {
    vec![
        "tab\there, line\nbreak, carriage\rreturn, both\r\n".into(),
        "quotes ' \" `back` and \\ backslash \\' \\\"".into(),
        "'); DROP TABLE caseledger_events; -- $1 $$ $tag$ %s %% ?".into(),
        "unicode: café, Straße, 日本語, עברית, emoji 🧯👩🏽‍🔧, zero\u{200b}width, bidi \u{202e}evil".into(),
        "x".repeat(64 * 1024),
        "é😀".repeat(10 * 1024),
        "{\"json\": [1, 2, {\"nested\": null}]}".into(),
    ]
}

#[tokio::test]
async fn hostile_text_round_trips_byte_for_byte() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let case = case_id(1);
    let mut log = vec![opened(case, "cust-'; DROP TABLE x; --", "outcome with\ttab and 'quotes'")];
    for text in hostile_texts() {
        let next = decide(&log, note(&text));
        log.extend(next);
    }
    store.append(case, 0, &log[..1]).await.unwrap();
    store.append(case, 1, &log[1..]).await.unwrap();
    let back = store.read(case).await.unwrap();
    assert_eq!(back, log);
    let stored: Vec<String> = sqlx::query_scalar("SELECT body FROM caseledger_events WHERE case_id = $1 ORDER BY seq")
        .bind(case.as_uuid())
        .fetch_all(store.pool())
        .await
        .unwrap();
    let encoded: Vec<String> = log.iter().map(|e| e.to_json().unwrap()).collect();
    assert_eq!(stored, encoded, "the stored text is the encoded event, byte for byte");
    let again: Vec<String> = back.iter().map(|e| e.to_json().unwrap()).collect();
    assert_eq!(again, encoded);
    assert_eq!(store.customer_cases(&"cust-'; DROP TABLE x; --".into()).await.unwrap(), vec![case]);
    db.drop().await;
}

#[tokio::test]
async fn racing_nodes_one_wins_the_other_gets_a_typed_conflict_and_nothing_breaks() {
    let db = TestDb::new().await;
    let (a, b) = (db.store().await, db.store().await);
    let case = case_id(1);
    let first = opened(case, "cust-7", "my laptop works");
    a.append(case, 0, std::slice::from_ref(&first)).await.unwrap();
    let mut log = vec![first];
    for round in 0..30 {
        let mine = decide(&log, note(format!("a {round}")));
        let theirs = decide(&log, note(format!("b {round}")));
        let v = log.len() as u64;
        let (ra, rb) = tokio::join!(a.append(case, v, &mine), b.append(case, v, &theirs));
        match (ra, rb) {
            (Ok(_), Err(e)) => {
                assert!(matches!(e, StoreError::Conflict { .. }), "round {round}: {e}");
                log.extend(mine);
            }
            (Err(e), Ok(_)) => {
                assert!(matches!(e, StoreError::Conflict { .. }), "round {round}: {e}");
                log.extend(theirs);
            }
            other => panic!("round {round}: exactly one append must win, got {other:?}"),
        }
    }
    assert_eq!(a.read(case).await.unwrap(), log);
    db.drop().await;
}

/// Holds an uncommitted append at `case`'s next position, so another append there waits.
async fn hold_next(
    store: &PgStore,
    case: caseledger::CaseId,
    log: &[Event],
) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = store.pool().begin().await.unwrap();
    let next = decide(log, note("held"));
    store.append_in(&mut tx, case, log.len() as u64, &next).await.unwrap();
    tx
}

#[tokio::test]
async fn a_racing_node_that_commits_while_we_wait_gives_a_conflict_not_a_database_error() {
    let db = TestDb::new().await;
    let (a, b) = (db.store().await, db.store().await);
    let case = case_id(1);
    let log = log_of(case, 3);
    a.append(case, 0, &log).await.unwrap();
    // Node b's append is in flight at seq 4; node a's append of seq 4 and 5 waits on it.
    let held = hold_next(&b, case, &log).await;
    let mine = {
        let mut l = log.clone();
        let n1 = decide(&l, note("mine 1"));
        l.extend(n1);
        let n2 = decide(&l, note("mine 2"));
        l.extend(n2);
        l[3..].to_vec()
    };
    let waiting = tokio::spawn({
        let a = a.clone();
        async move { a.append(case, 3, &mine).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    held.commit().await.unwrap();
    let err = waiting.await.unwrap().unwrap_err();
    assert!(matches!(err, StoreError::Conflict { expected: 3, actual: 4, .. }), "{err}");
    assert_eq!(a.version(case).await.unwrap(), 4, "node a wrote nothing, not even seq 5");
    db.drop().await;
}

#[tokio::test]
async fn a_connection_killed_during_an_append_is_a_typed_error_and_a_retry_succeeds() {
    let db = TestDb::new().await;
    let (a, b) = (db.store().await, db.store().await);
    let case = case_id(1);
    let log = log_of(case, 3);
    a.append(case, 0, &log).await.unwrap();
    let held = hold_next(&b, case, &log).await;
    let mine = decide(&log, note("mine"));
    let waiting = tokio::spawn({
        let (a, mine) = (a.clone(), mine.clone());
        async move { a.append(case, 3, &mine).await }
    });
    // Kill node a's backend while its insert waits for node b's.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let killed = loop {
        assert!(std::time::Instant::now() < deadline, "node a's append never waited on node b's");
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO caseledger_events%'",
        )
        .bind(&db.name)
        .fetch_all(db.admin())
        .await
        .unwrap();
        if !killed.is_empty() {
            break killed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(killed, vec![true]);
    let err = waiting.await.unwrap().unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "a lost connection is the store's own failure: {err}");
    held.rollback().await.unwrap();
    assert_eq!(a.version(case).await.unwrap(), 3, "nothing was written");
    let appended = a.append(case, 3, &mine).await.expect("the retry succeeds on a fresh connection");
    assert_eq!(appended.version, 4);
    assert_eq!(a.read(case).await.unwrap(), [log, mine].concat());
    db.drop().await;
}

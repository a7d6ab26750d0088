//! The change feed: no event skipped or repeated, whatever order transactions commit in.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use caseledger::{id::EventId, store::FeedPosition, CaseId, Event, PgStore};

use crate::support::note;
use crate::support::postgres::{case_id, decide, feed_covers, log_of, opened, TestDb};

/// Reads the feed from `from` until `want` events arrived (other tests' and checkouts'
/// writing transactions on the same server hold the feed back for a while) or 60 s
/// passed.
async fn read_until(store: &PgStore, from: FeedPosition, want: usize) -> (Vec<Event>, FeedPosition) {
    read_pages_until(store, from, 100, want).await
}

/// As [`read_until`], in pages of `page_size`.
async fn read_pages_until(
    store: &PgStore,
    from: FeedPosition,
    page_size: usize,
    want: usize,
) -> (Vec<Event>, FeedPosition) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut got, mut at) = (Vec::new(), from);
    while got.len() < want && Instant::now() < deadline {
        let page = store.read_feed(at, page_size).await.unwrap();
        assert!(page.events.len() <= page_size);
        if page.events.len() < page_size {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        at = page.next;
        got.extend(page.events.into_iter().map(|e| e.event));
    }
    (got, at)
}

fn ids(events: &[Event]) -> Vec<EventId> {
    events.iter().map(|e| e.id).collect()
}

#[tokio::test]
async fn an_append_that_commits_late_with_a_lower_position_is_still_delivered_exactly_once() {
    let db = TestDb::new().await;
    let (writer, reader) = (db.store().await, db.store().await);
    let (slow, fast1, fast2) = (case_id(1), case_id(2), case_id(3));
    let slow_event = opened(slow, "cust-1", "slow");

    // The slow append takes the lower position and holds its transaction open.
    let mut held = writer.pool().begin().await.unwrap();
    writer.append_in(&mut held, slow, 0, std::slice::from_ref(&slow_event)).await.unwrap();
    let fast = [opened(fast1, "cust-2", "fast"), opened(fast2, "cust-3", "fast")];
    writer.append(fast1, 0, &fast[..1]).await.unwrap();
    writer.append(fast2, 0, &fast[1..]).await.unwrap();
    let positions: Vec<i64> = sqlx::query_scalar("SELECT position FROM caseledger_events ORDER BY case_id")
        .fetch_all(reader.pool())
        .await
        .unwrap();
    assert_eq!(positions.len(), 2, "the slow append is not visible yet");

    // A naive "position > last" reader would now read both fast events and move past
    // the slow one's position. The feed holds them back instead.
    let page = reader.read_feed(FeedPosition::START, 100).await.unwrap();
    assert!(
        page.events.is_empty(),
        "nothing after an open writer: {:?}",
        ids(&page.events.into_iter().map(|e| e.event).collect::<Vec<_>>())
    );
    let lag = reader.feed_lag(FeedPosition::START).await.unwrap();
    assert_eq!((lag.unread, lag.held), (0, 2));

    held.commit().await.unwrap();
    let (got, at) = read_until(&reader, page.next, 3).await;
    assert_eq!(
        ids(&got),
        ids(&[slow_event, fast[0].clone(), fast[1].clone()]),
        "all three, the late one first, once each"
    );
    assert!(reader.read_feed(at, 100).await.unwrap().events.is_empty(), "nothing twice");
    assert_eq!(reader.feed_lag(at).await.unwrap(), caseledger::store::FeedLag::default());
    db.drop().await;
}

#[tokio::test]
async fn a_barrier_is_covered_only_once_every_write_acknowledged_before_it_is_in_the_feed() {
    let db = TestDb::new().await;
    let (writer, reader) = (db.store().await, db.store().await);
    let (early, mine) = (case_id(1), case_id(2));
    // An older transaction that has written and stays open holds back what follows it.
    let mut older = writer.pool().begin().await.unwrap();
    writer.append_in(&mut older, early, 0, &[opened(early, "cust-1", "older")]).await.unwrap();
    let my_event = opened(mine, "cust-2", "mine");
    writer.append(mine, 0, std::slice::from_ref(&my_event)).await.unwrap();

    // My write is acknowledged, yet the feed cannot serve it while the older one is open.
    let barrier = reader.feed_barrier().await.unwrap();
    assert!(!reader.feed_covers(barrier).await.unwrap(), "covered with a writer older than my write still open");
    let page = reader.read_feed(FeedPosition::START, 100).await.unwrap();
    assert!(page.events.is_empty(), "the feed serves nothing past the open writer");

    older.commit().await.unwrap();
    // The barrier is covered once the older writer ended.
    feed_covers(&reader, barrier).await;
    // Covered means one read to the end holds my write, with no waiting.
    let page = reader.read_feed(FeedPosition::START, 100).await.unwrap();
    let got = ids(&page.events.into_iter().map(|e| e.event).collect::<Vec<_>>());
    assert!(got.contains(&my_event.id), "my acknowledged write is in the first read after the barrier: {got:?}");
    // A barrier is never covered before it is taken: a later one is at or after it.
    assert!(reader.feed_barrier().await.unwrap() >= barrier);
    db.drop().await;
}

#[tokio::test]
async fn a_rolled_back_append_does_not_stall_the_feed() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let (gone, kept) = (case_id(1), case_id(2));
    let mut tx = store.pool().begin().await.unwrap();
    store.append_in(&mut tx, gone, 0, &[opened(gone, "cust-1", "never")]).await.unwrap();
    let kept_event = opened(kept, "cust-2", "kept");
    store.append(kept, 0, std::slice::from_ref(&kept_event)).await.unwrap();
    tx.rollback().await.unwrap();
    let (got, at) = read_until(&store, FeedPosition::START, 1).await;
    assert_eq!(ids(&got), vec![kept_event.id]);
    assert!(store.read_feed(at, 100).await.unwrap().events.is_empty());
    db.drop().await;
}

#[tokio::test]
async fn a_consumer_restarting_from_its_stored_position_misses_and_repeats_nothing() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let mut all = Vec::new();
    for n in 0..5 {
        let case = case_id(n);
        let log = log_of(case, 4);
        store.append(case, 0, &log[..1]).await.unwrap();
        store.append(case, 1, &log[1..]).await.unwrap();
        all.extend(log);
    }
    // The consumer processes pages of 3 and stores its position as text; it "crashes"
    // after every page and a new process (a new pool) resumes from the stored text.
    let mut saved = FeedPosition::START.to_string();
    let mut got = Vec::new();
    for _ in 0..100 {
        let consumer = PgStore::new(db.pool(1).await);
        let page = consumer.read_feed(saved.parse().unwrap(), 3).await.unwrap();
        consumer.pool().close().await;
        if page.events.is_empty() {
            break;
        }
        got.extend(page.events.into_iter().map(|e| e.event));
        saved = page.next.to_string();
    }
    let mut expected = ids(&all);
    let mut seen = ids(&got);
    assert_eq!(seen.len(), expected.len(), "no event missed or repeated");
    expected.sort();
    seen.sort();
    assert_eq!(seen, expected);
    // Per case, the feed is in sequence order.
    let mut by_case: BTreeMap<CaseId, Vec<u64>> = BTreeMap::new();
    for e in &got {
        by_case.entry(e.case).or_default().push(e.seq);
    }
    assert!(by_case.values().all(|seqs| seqs == &[1, 2, 3, 4]), "{by_case:?}");
    db.drop().await;
}

#[tokio::test]
async fn a_consumer_reading_while_writers_race_gets_every_event_once() {
    let db = TestDb::new().await;
    let writers = 4;
    let per_writer = 15;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = db.store().await;
        tasks.push(tokio::spawn(async move {
            let case = case_id(w);
            let mut log = vec![opened(case, "cust-1", "racing")];
            store.append(case, 0, &log).await.unwrap();
            // Half the appends in a host transaction that sleeps before committing, so
            // commits land out of position order.
            for i in 1..per_writer {
                let next = decide(&log, note(format!("{w}/{i}")));
                if i % 2 == 0 {
                    let mut tx = store.pool().begin().await.unwrap();
                    store.append_in(&mut tx, case, log.len() as u64, &next).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(3 * u64::from(w))).await;
                    tx.commit().await.unwrap();
                } else {
                    store.append(case, log.len() as u64, &next).await.unwrap();
                }
                log.extend(next);
            }
            log
        }));
    }
    let reader = db.store().await;
    let total = (writers * per_writer) as usize;
    let mut seen = Vec::new();
    let mut at = FeedPosition::START;
    let deadline = Instant::now() + Duration::from_secs(90);
    while seen.len() < total && Instant::now() < deadline {
        let page = reader.read_feed(at, 7).await.unwrap();
        at = page.next;
        seen.extend(page.events.into_iter().map(|e| e.event));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut written = Vec::new();
    for task in tasks {
        written.extend(task.await.unwrap());
    }
    let unique: BTreeSet<EventId> = seen.iter().map(|e| e.id).collect();
    assert_eq!(unique.len(), seen.len(), "an event was delivered twice");
    assert_eq!(unique, written.iter().map(|e| e.id).collect::<BTreeSet<_>>(), "an event was skipped");
    // Each case comes in seq order, host transactions included.
    let mut last: BTreeMap<CaseId, u64> = BTreeMap::new();
    for e in &seen {
        let before = last.insert(e.case, e.seq).unwrap_or(0);
        assert_eq!(e.seq, before + 1, "case {} out of order", e.case);
    }
    db.drop().await;
}

/// Burns transaction ids (each loop turn takes one and commits) until the next is at
/// least `upto`. Simple query protocol: a procedure may commit only outside a transaction
/// block.
const BURN: &str = "CREATE PROCEDURE caseledger_test_burn(upto xid8) LANGUAGE plpgsql AS $$
    BEGIN
        WHILE pg_current_xact_id() < upto LOOP
            COMMIT;
        END LOOP;
    END $$";

async fn burn_to(pool: &sqlx::PgPool, upto: u64) {
    sqlx::raw_sql(&format!("CALL caseledger_test_burn('{upto}'::xid8)")).execute(pool).await.unwrap();
}

/// Four writers append concurrently, each to a case of its own (an opening, then notes
/// one append at a time), starting a dozen transaction ids below `boundary`, so that the
/// stored events sit on both sides of it.
async fn write_across(store: &PgStore, boundary: u64, first_case: u32) -> Vec<Event> {
    burn_to(store.pool(), boundary - 12).await;
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let case = case_id(first_case + w);
            let log = log_of(case, 6);
            for (at, event) in log.iter().enumerate() {
                store.append(case, at as u64, std::slice::from_ref(event)).await.unwrap();
            }
            log
        }));
    }
    let mut written = Vec::new();
    for task in tasks {
        written.extend(task.await.unwrap());
    }
    written
}

/// The feed's regression test for the lost events of 0.1.0: a page sorted by the text of
/// its transaction ids ("10000" before "9999") skipped events for good, and repeated
/// others, as soon as a page held ids of two widths. Here the ids cross 10^4, 10^5 and
/// 2^32 (the 32-bit epoch, set with `pg_resetwal` on a cluster of the test's own), and
/// every page size reads every event exactly once, each case in sequence order, while
/// `feed_lag` counts exactly what is left to read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_skips_nothing_where_transaction_ids_cross_powers_of_ten_and_the_32_bit_epoch() {
    use crate::support::cluster::Cluster;

    let cluster = Cluster::create("feed-xids");
    cluster.start();
    let connect = || async {
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(6).connect(&cluster.url()).await.unwrap();
        PgStore::new(pool)
    };
    let store = connect().await;
    store.migrate().await.unwrap();
    sqlx::raw_sql(BURN).execute(store.pool()).await.unwrap();
    let epoch = 1u64 << 32;
    let mut written = write_across(&store, 10_000, 0).await;
    written.extend(write_across(&store, 100_000, 10).await);
    // Freeze every row first, as anti-wraparound vacuuming has long done on a cluster
    // whose ids reach 2^32: a row whose id is not frozen would look written in the future.
    sqlx::raw_sql("VACUUM FREEZE").execute(store.pool()).await.unwrap();
    store.pool().close().await;
    cluster.stop();
    cluster.set_next_xid(epoch - 2_000);
    cluster.start();
    let store = connect().await;
    written.extend(write_across(&store, epoch, 20).await);

    // The stored events really straddle each boundary.
    let txs: Vec<String> =
        sqlx::query_scalar("SELECT tx::text FROM caseledger_events").fetch_all(store.pool()).await.unwrap();
    let txs: Vec<u64> = txs.iter().map(|t| t.parse().unwrap()).collect();
    assert_eq!(txs.len(), written.len());
    for boundary in [10_000, 100_000, epoch] {
        let (below, above) =
            (txs.iter().filter(|&&t| t < boundary).count(), txs.iter().filter(|&&t| t >= boundary).count());
        let near = txs.iter().filter(|&&t| t.abs_diff(boundary) < 1_000).count();
        assert!(below > 0 && above > 0 && near >= 12, "events around {boundary}: {txs:?}");
    }

    let total = written.len() as u64;
    let lag = store.feed_lag(FeedPosition::START).await.unwrap();
    assert_eq!((lag.unread, lag.held), (total, 0), "feed_lag before reading");
    let expected: BTreeSet<EventId> = written.iter().map(|e| e.id).collect();
    for page_size in [1, 2, 3, 5, 7, 11, 24, 50, 71, 72, 73, 1000] {
        let (mut got, mut at) = (Vec::new(), FeedPosition::START);
        loop {
            let page = store.read_feed(at, page_size).await.unwrap();
            assert!(page.events.len() <= page_size);
            let n = page.events.len();
            got.extend(page.events.into_iter().map(|e| e.event));
            at = page.next;
            let lag = store.feed_lag(at).await.unwrap();
            assert_eq!(
                lag.unread,
                total.saturating_sub(got.len() as u64),
                "feed_lag after {} events (pages of {page_size})",
                got.len()
            );
            if n < page_size {
                break;
            }
        }
        let unique: BTreeSet<EventId> = got.iter().map(|e| e.id).collect();
        assert_eq!(got.len(), unique.len(), "pages of {page_size}: an event came twice");
        assert_eq!(unique, expected, "pages of {page_size}: an event was skipped");
        let mut last: BTreeMap<CaseId, u64> = BTreeMap::new();
        for e in &got {
            let before = last.insert(e.case, e.seq).unwrap_or(0);
            assert_eq!(e.seq, before + 1, "pages of {page_size}: case {} out of order", e.case);
        }
    }
    store.pool().close().await;
}

/// The seq and writing transaction of each stored event of `case`.
async fn writers(store: &PgStore, case: CaseId) -> Vec<(i64, u64)> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT seq, tx::text FROM caseledger_events WHERE case_id = $1 ORDER BY seq")
            .bind(case.as_uuid())
            .fetch_all(store.pool())
            .await
            .unwrap();
    rows.into_iter().map(|(seq, tx)| (seq, tx.parse().unwrap())).collect()
}

#[tokio::test]
async fn a_host_transaction_that_took_its_id_early_reaches_the_feed_after_the_cases_earlier_events() {
    let db = TestDb::new().await;
    let (host, other) = (db.store().await, db.store().await);
    let case = case_id(1);
    let log = log_of(case, 3);
    other.append(case, 0, &log[..1]).await.unwrap();
    // The host's transaction takes its id first (as writing its own rows would)...
    let mut tx = host.pool().begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()").execute(&mut *tx).await.unwrap();
    // ...another node appends seq 2 meanwhile, in a transaction with a higher id...
    other.append(case, 1, &log[1..2]).await.unwrap();
    // ...and the host appends seq 3 and commits.
    host.append_in(&mut tx, case, 2, &log[2..]).await.unwrap();
    tx.commit().await.unwrap();
    let stored = writers(&other, case).await;
    assert!(stored[2].1 < stored[1].1, "seq 3 was written by the older transaction: {stored:?}");

    for page_size in [1, 2, 100] {
        let (got, at) = read_pages_until(&other, FeedPosition::START, page_size, log.len()).await;
        assert_eq!(ids(&got), ids(&log), "pages of {page_size}: the case's events in sequence order, once each");
        assert!(other.read_feed(at, 100).await.unwrap().events.is_empty(), "nothing twice");
    }
    db.drop().await;
}

#[tokio::test]
async fn migrating_a_schema_1_table_keeps_every_event_and_puts_each_case_in_order() {
    let db = TestDb::empty().await;
    let store = db.store().await;
    sqlx::raw_sql(include_str!("../../data/postgres_schema1.sql")).execute(store.pool()).await.unwrap();
    // As 0.1.0 stored them: case 1's seq 2 written by an older transaction than its seq 1
    // (a late host transaction), case 2 in order.
    let (late, plain) = (log_of(case_id(1), 2), log_of(case_id(2), 2));
    let rows = [(&late[0], 200), (&late[1], 150), (&plain[0], 160), (&plain[1], 170)];
    for (event, tx) in rows {
        sqlx::query(
            "INSERT INTO caseledger_events (tx, case_id, seq, event_id, kind, body)
             VALUES ($1::text::xid8, $2, $3, $4, $5, $6)",
        )
        .bind(tx.to_string())
        .bind(event.case.as_uuid())
        .bind(event.seq as i64)
        .bind(event.id.as_uuid())
        .bind(event.what.tag())
        .bind(event.to_json().unwrap())
        .execute(store.pool())
        .await
        .unwrap();
    }
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let (got, at) = read_until(&store, FeedPosition::START, rows.len()).await;
    let expected = [plain[0].id, plain[1].id, late[0].id, late[1].id];
    assert_eq!(ids(&got), expected, "every event once; case 1's seq 2 after its seq 1");
    let versions: Vec<i32> = sqlx::query_scalar("SELECT version FROM caseledger_schema ORDER BY version")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    // New appends continue the case's order.
    let next = decide(&late, note("after the upgrade"));
    store.append(case_id(1), 2, &next).await.unwrap();
    let (after, _) = read_until(&store, at, 1).await;
    assert_eq!(ids(&after), ids(&next));
    db.drop().await;
}

/// The columns of `caseledger_events`' primary key, in order, and how many indexes the
/// table has.
async fn events_keys(store: &PgStore) -> (Vec<String>, i64) {
    let key: Vec<String> = sqlx::query_scalar(
        "SELECT a.attname::text FROM pg_index i
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = 'caseledger_events'::regclass AND i.indisprimary ORDER BY k.n",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let indexes: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_index WHERE indrelid = 'caseledger_events'::regclass")
            .fetch_one(store.pool())
            .await
            .unwrap();
    (key, indexes)
}

#[tokio::test]
async fn migrating_a_schema_4_table_makes_the_feed_order_the_key_and_keeps_every_event_at_its_position() {
    let db = TestDb::empty().await;
    let store = db.store().await;
    sqlx::raw_sql(include_str!("../../data/postgres_schema4.sql")).execute(store.pool()).await.unwrap();
    assert_eq!(events_keys(&store).await, (vec!["position".to_owned()], 4), "schema 4 as it was");
    // Events written on schema 4 (the store's statements run on it unchanged).
    let (a, b) = (log_of(case_id(1), 3), log_of(case_id(2), 2));
    store.append(case_id(1), 0, &a[..2]).await.unwrap();
    store.append(case_id(2), 0, &b).await.unwrap();
    store.append(case_id(1), 2, &a[2..]).await.unwrap();
    let page = |store: PgStore| async move {
        let page = store.read_feed(FeedPosition::START, 100).await.unwrap();
        page.events.into_iter().map(|e| (e.position, e.event.id)).collect::<Vec<_>>()
    };
    let before = page(store.clone()).await;
    assert_eq!(before.len(), 5);

    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let key = vec!["feed_tx".to_owned(), "position".to_owned()];
    assert_eq!(events_keys(&store).await, (key, 3), "the feed's order is the key; its separate index is gone");
    assert_eq!(page(store.clone()).await, before, "every event, at the feed position it had");
    let versions: Vec<i32> = sqlx::query_scalar("SELECT version FROM caseledger_schema ORDER BY version")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    // Appends go on after the upgrade: the common command, and a lost race still refused.
    let next = decide(&a, note("after the upgrade"));
    store.append(case_id(1), 3, &next).await.unwrap();
    assert!(store.append(case_id(1), 3, &decide(&a, note("late"))).await.is_err(), "a taken position is refused");
    let at = before.last().unwrap().0;
    let (after, _) = read_until(&store, at, 1).await;
    assert_eq!(ids(&after), ids(&next));
    db.drop().await;
}

#[tokio::test]
async fn a_fresh_schema_keys_the_events_by_the_feed_order_with_three_indexes() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let key = vec!["feed_tx".to_owned(), "position".to_owned()];
    assert_eq!(events_keys(&store).await, (key, 3), "the key, (case_id, seq) and (case_id, event_id)");
    db.drop().await;
}

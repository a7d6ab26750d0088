//! The change feed: no event skipped or repeated, whatever order transactions commit in.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use caseledger::{CaseId, Event, EventId, FeedPosition, PgStore};

use crate::support::note;
use crate::support::postgres::{case_id, decide, log_of, opened, TestDb};

/// Reads the feed from `from` until `want` events arrived (other checkouts' long
/// transactions on the same server may hold the feed back for a while) or 60 s passed.
async fn read_until(store: &PgStore, from: FeedPosition, want: usize) -> (Vec<Event>, FeedPosition) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut got, mut at) = (Vec::new(), from);
    while got.len() < want && Instant::now() < deadline {
        let page = store.read_feed(at, 100).await.unwrap();
        if page.events.is_empty() {
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
    assert_eq!(reader.feed_lag(at).await.unwrap(), caseledger::FeedLag::default());
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
    // Every transaction wrote the case's events first, so each case comes in seq order.
    let mut last: BTreeMap<CaseId, u64> = BTreeMap::new();
    for e in &seen {
        let before = last.insert(e.case, e.seq).unwrap_or(0);
        assert_eq!(e.seq, before + 1, "case {} out of order", e.case);
    }
    db.drop().await;
}

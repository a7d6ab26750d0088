//! Two app nodes (two `AsyncRepository`s on two pools) with concurrent tasks each, on
//! shared and distinct cases: nothing lost, duplicated or reordered; refusals are
//! typed conflicts.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use caseledger::{id::EventId, Actor, AsyncRepository, Case, Error, Opening, PgStore, Rules};

use crate::support::postgres::{case_id, TestDb};
use crate::support::{ana, note, T0};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_with_concurrent_tasks_lose_duplicate_and_reorder_nothing() {
    let db = TestDb::new().await;
    let nodes = [
        Arc::new(AsyncRepository::new(db.store().await, Rules::default())),
        Arc::new(AsyncRepository::new(db.store().await, Rules::default())),
    ];
    // One clock for every task, a millisecond a tick: well inside the rules' skew tolerance.
    let clock = Arc::new(AtomicI64::new(0));
    let now = {
        let c = clock.clone();
        move || T0 + time::Duration::milliseconds(c.fetch_add(1, Ordering::Relaxed))
    };
    let shared: Vec<_> = (0..2).map(case_id).collect();
    for &case in &shared {
        nodes[0]
            .open(case, Opening::new("cust-shared", "works", ana()), &Actor::customer("cust-shared"), now())
            .await
            .unwrap();
    }
    let k = 4;
    let mut tasks = Vec::new();
    for (n, node) in (0_u32..).zip(nodes.iter()) {
        for t in 0..k {
            let (node, shared, now) = (node.clone(), shared.clone(), now.clone());
            tasks.push(tokio::spawn(async move {
                let own = case_id(100 + n * 10 + t);
                node.open(own, Opening::new("cust-own", "works", ana()), &Actor::customer("cust-own"), now())
                    .await
                    .unwrap();
                let (mut accepted, mut conflicts) = (Vec::new(), 0);
                for i in 0..6 {
                    let case = if i % 2 == 0 { shared[(t as usize + i) % shared.len()] } else { own };
                    let text = format!("node {n} task {t} step {i}");
                    match node.execute(case, note(&text), &Actor::Staff(ana()), now()).await {
                        Ok(done) => accepted.extend(done.events),
                        Err(Error::Store(e)) if e.is_conflict() => conflicts += 1,
                        Err(other) => panic!("only conflicts may refuse: {other}"),
                    }
                }
                (own, accepted, conflicts)
            }));
        }
    }
    let mut accepted = Vec::new();
    let mut cases: BTreeSet<_> = shared.iter().copied().collect();
    for task in tasks {
        let (own, events, _conflicts) = task.await.unwrap();
        cases.insert(own);
        accepted.extend(events);
    }
    let store: &PgStore = nodes[1].store();
    let mut stored_ids = BTreeSet::new();
    for &case in &cases {
        let log = store.read(case).await.unwrap();
        Case::replay(&log).expect("every case replays: contiguous, in order, valid");
        assert!(log.iter().enumerate().all(|(i, e)| e.seq == i as u64 + 1));
        for e in &log[1..] {
            assert!(stored_ids.insert(e.id), "event {} stored twice", e.id);
        }
    }
    let accepted_ids: BTreeSet<EventId> = accepted.iter().map(|e| e.id).collect();
    assert_eq!(accepted_ids.len(), accepted.len(), "an event was acknowledged twice");
    assert_eq!(stored_ids, accepted_ids, "stored notes are exactly the acknowledged ones");
    db.drop().await;
}

//! Cold start: the first command on a long case through a fresh repository (nothing
//! cached), with and without snapshots, on the file store (opened once; the open is
//! measured on its own) and on PostgreSQL (feature `postgres`, the server
//! `DATABASE_URL` names).
//!
//! - `cold_start_file/{log,snapshot}/1e5`: a fresh `Repository<&FileStore>`, one note on
//!   a 1e5-event case: the whole log read and folded, or the snapshot restored and the
//!   events after it folded. `cold_start_file/floor_read_sidecar/1e5` reads the snapshot
//!   file's bytes (the floor of the snapshot path); `file_open/1e5` opens the store.
//! - `cold_start_pg/{log,snapshot}/1e5`: the same through `AsyncRepository<PgStore>`;
//!   `cold_start_pg/floor_select_snapshot/1e5` selects the snapshot row (one round trip,
//!   nothing decoded).
//!
//! The peer, postgres-es 0.5 with a snapshot every 100 events and an aggregate that keeps
//! the same owner history as a `Case`, runs from a harness outside this repository (a
//! peer's code is not ours to commit); README quotes it from the same sitting.
//!
//! ```sh
//! CASELEDGER_PG_DURABLE=1 source .ci/setup/10-postgres.sh
//! cargo bench --features postgres --bench cold_start -- --warm-up-time 1 --measurement-time 5
//! ```

mod support;

use std::hint::black_box;

use caseledger::repository::SnapshotPolicy;
use caseledger::{event::Visibility, Actor, Case, CaseId, Command, Event, FileStore, Repository, Rules, Store};
use criterion::{criterion_group, criterion_main, Criterion};
use time::Duration;

use support::typical_log;

/// The case's length.
const EVENTS: usize = 100_000;

/// The snapshot interval the benches run with: the peer's (postgres-es with a snapshot
/// every 100 events). Each timed command adds an event, so over a run the cold loads fold
/// 0 to 99 events after the snapshot, as the peer's do.
const EVERY: u64 = 100;

fn note(i: u64) -> Command {
    Command::AddNote { text: format!("customer called again ({i})"), visibility: Visibility::Internal }
}

/// The owner of the case `log` folds to, and a moment after its last event.
fn actor_and_time(log: &[Event]) -> (Actor, time::OffsetDateTime) {
    let case = Case::replay(log).expect("the sample replays");
    (Actor::Staff(case.owner().clone()), log.last().expect("not empty").at)
}

fn file(c: &mut Criterion) {
    let log = typical_log(EVENTS);
    let id: CaseId = log[0].case;
    let dir = std::env::temp_dir().join(format!("caseledger-bench-cold-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let store = FileStore::open(&dir).expect("opens");
        for chunk in log.chunks(1_000) {
            store.append(id, chunk[0].seq - 1, chunk).expect("appends");
        }
    }
    let store = FileStore::open(&dir).expect("reopens");
    let (by, mut at) = actor_and_time(&log);
    let mut i = 0;
    // The first cold command with snapshots on writes the case's first snapshot.
    let repo = Repository::new(&store, Rules::default()).with_snapshots(SnapshotPolicy::every(EVERY));
    repo.execute(id, note(i), &by, at).expect("accepted");
    assert_eq!(repo.snapshot_stats().written, 1, "a snapshot was written");

    let mut group = c.benchmark_group("cold_start_file");
    group.sample_size(10);
    for (name, policy) in [("log", SnapshotPolicy::Off), ("snapshot", SnapshotPolicy::every(EVERY))] {
        group.bench_function(format!("{name}/1e5"), |b| {
            b.iter(|| {
                i += 1;
                at += Duration::seconds(1);
                let repo = Repository::new(&store, Rules::default()).with_snapshots(policy);
                black_box(repo.execute(id, note(i), &by, at).expect("accepted"));
                if policy != SnapshotPolicy::Off {
                    assert_eq!(repo.snapshot_stats().restored, 1, "restored from the snapshot");
                }
            });
        });
    }
    let sidecar = dir.join(format!("{id}.snapshot"));
    group.bench_function("floor_read_sidecar/1e5", |b| b.iter(|| black_box(std::fs::read(&sidecar).expect("reads"))));
    group.finish();
    drop(store);

    let mut group = c.benchmark_group("file_open");
    group.sample_size(10);
    group.bench_function("1e5", |b| b.iter(|| black_box(FileStore::open(&dir).expect("opens"))));
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "postgres")]
fn postgres(c: &mut Criterion) {
    use std::str::FromStr;

    use caseledger::{AsyncRepository, PgStore};
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("cold_start_pg: DATABASE_URL is not set (source .ci/setup/10-postgres.sh); skipped");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let name = format!("caseledger_bench_cold_{}", std::process::id());
    let admin_options = PgConnectOptions::from_str(&url).expect("a PostgreSQL URL");
    let (admin, store) = runtime.block_on(async {
        let admin = PgPoolOptions::new().max_connections(1).connect_with(admin_options.clone()).await.expect("admin");
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await.expect("drop");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("create");
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(admin_options.clone().database(&name))
            .await
            .expect("pool");
        let store = PgStore::new(pool);
        store.migrate().await.expect("migrates");
        (admin, store)
    });
    let log = typical_log(EVENTS);
    let id = log[0].case;
    runtime.block_on(async {
        for chunk in log.chunks(1_000) {
            store.append(id, chunk[0].seq - 1, chunk).await.expect("appends");
        }
    });
    let (by, mut at) = actor_and_time(&log);
    let mut i = 0;
    runtime.block_on(async {
        let repo = AsyncRepository::new(store.clone(), Rules::default()).with_snapshots(SnapshotPolicy::every(EVERY));
        repo.execute(id, note(i), &by, at).await.expect("accepted");
        assert_eq!(repo.snapshot_stats().written, 1, "a snapshot was written");
    });

    let mut group = c.benchmark_group("cold_start_pg");
    group.sample_size(10);
    for (name, policy) in [("log", SnapshotPolicy::Off), ("snapshot", SnapshotPolicy::every(EVERY))] {
        group.bench_function(format!("{name}/1e5"), |b| {
            b.iter(|| {
                i += 1;
                at += Duration::seconds(1);
                runtime.block_on(async {
                    let repo = AsyncRepository::new(store.clone(), Rules::default()).with_snapshots(policy);
                    black_box(repo.execute(id, note(i), &by, at).await.expect("accepted"));
                    if policy != SnapshotPolicy::Off {
                        assert_eq!(repo.snapshot_stats().restored, 1, "restored from the snapshot");
                    }
                });
            });
        });
    }
    group.bench_function("floor_select_snapshot/1e5", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let body: Vec<u8> = sqlx::query_scalar("SELECT body FROM caseledger_snapshots WHERE case_id = $1")
                    .bind(id.as_uuid())
                    .fetch_one(store.pool())
                    .await
                    .expect("the snapshot row");
                black_box(body)
            })
        });
    });
    group.finish();
    runtime.block_on(async {
        store.pool().close().await;
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await;
    });
}

#[cfg(not(feature = "postgres"))]
fn postgres(_: &mut Criterion) {}

criterion_group!(benches, file, postgres);
criterion_main!(benches);

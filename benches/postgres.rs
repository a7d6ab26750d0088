//! The PostgreSQL store against the server `DATABASE_URL` names (`bash .ci/test` starts
//! a local one), in a database of its own that is dropped at the end.
//!
//! - `pg_command/{store,bare_insert}/{10,1e3,1e5}`: one command (decide on the cached
//!   case, append, fold) against a bare single-row autocommit `INSERT` of an event-sized
//!   row, same database, same pool, same run.
//! - `pg_throughput/{1,4,16}`: commands per second with that many tasks on distinct
//!   cases; `pg_throughput_bare_insert/…` bare autocommit inserts from as many tasks (the
//!   floor); `pg_throughput_serialised/…` commands whose append holds one global lock
//!   until commit (the "serialise position assignment" alternative to the feed's
//!   transaction horizon).
//! - `pg_feed/read_window/{1e5,1e6}`: events per second one consumer reads in pages of
//!   1,000 from the middle of a table of 1e5 and then 1e6 events (flat in the table's size
//!   when the pages come from the index).
//!
//! ```sh
//! # a cluster with fsync, synchronous_commit and full_page_writes on, on 127.0.0.1:54330
//! CASELEDGER_PG_DURABLE=1 source .ci/setup/10-postgres.sh
//! cargo bench --features postgres --bench postgres -- --warm-up-time 1 --measurement-time 3
//! ```

use std::str::FromStr;
use std::time::{Duration, Instant};

use caseledger::{
    event::Visibility, store::FeedPosition, Actor, Case, CaseId, Command, Event, Opening, PgStore, Rules, Staff,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use time::macros::datetime;
use time::OffsetDateTime;
use tokio::runtime::Runtime;

const T0: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

struct Db {
    admin: PgPool,
    name: String,
    options: PgConnectOptions,
}

impl Db {
    async fn new() -> Self {
        let url = std::env::var("DATABASE_URL").expect("set DATABASE_URL (bash -c 'source .ci/setup/10-postgres.sh')");
        let admin_options = PgConnectOptions::from_str(&url).expect("a PostgreSQL URL");
        let admin = PgPoolOptions::new().max_connections(1).connect_with(admin_options.clone()).await.unwrap();
        let name = format!("caseledger_bench_{}", std::process::id());
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
        let options = admin_options.database(&name);
        Self { admin, name, options }
    }

    async fn pool(&self, max: u32) -> PgPool {
        // No ping before each acquire (sqlx's default): the store and the bare insert
        // are measured on the same round trips a latency-minded host configures.
        PgPoolOptions::new()
            .max_connections(max)
            .test_before_acquire(false)
            .connect_with(self.options.clone())
            .await
            .unwrap()
    }

    async fn drop(self) {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&self.admin).await.unwrap();
    }
}

/// A case being worked on by one writer: its folded state and the next time to use.
struct Writer {
    id: CaseId,
    case: Case,
    rules: Rules,
    at: OffsetDateTime,
    n: u64,
}

impl Writer {
    fn new(n: u32) -> (Self, Event) {
        let mut random = [0; 10];
        random[..4].copy_from_slice(&n.to_be_bytes());
        let id = CaseId::new_v7(T0, random);
        let rules = Rules::default();
        let opening = Opening::new(format!("cust-{n}"), "my laptop works", Staff::new("ana", "software"));
        let opened = rules.open(id, opening, &Actor::customer(format!("cust-{n}")), T0).unwrap();
        let case = Case::from_opened(&opened).unwrap();
        (Self { id, case, rules, at: T0, n: 0 }, opened)
    }

    /// The next command's events, decided on the cached case.
    fn decide(&mut self) -> Vec<Event> {
        self.at += time::Duration::seconds(1);
        self.n += 1;
        let note = Command::AddNote {
            text: format!("called the customer back, attempt {}: BIOS 1.9 tried, fan still loud", self.n),
            visibility: Visibility::Internal,
        };
        self.rules.decide(&self.case, note, &Actor::Staff(Staff::new("ana", "software")), self.at).unwrap()
    }

    /// One command as the repository runs it: decide, append at the cached version, fold.
    async fn command(&mut self, store: &PgStore) {
        let events = self.decide();
        store.append(self.id, self.case.version(), &events).await.unwrap();
        for event in &events {
            self.case.apply(event).unwrap();
        }
    }

    /// `n` events of history, appended in batches.
    async fn grow(&mut self, store: &PgStore, n: u64) {
        while self.case.version() < n {
            let base = self.case.version();
            let mut batch = Vec::new();
            let mut next = self.case.clone();
            while batch.len() < 1000 && next.version() < n {
                self.case = next.clone();
                let events = self.decide();
                for event in &events {
                    next.apply(event).unwrap();
                }
                batch.extend(events);
            }
            store.append(self.id, base, &batch).await.unwrap();
            self.case = next;
        }
    }
}

/// What each task of the throughput groups does per iteration.
#[derive(Clone, Copy)]
enum Mode {
    /// A command through the store.
    Store,
    /// The floor: a bare autocommit insert of an event-sized row.
    BareInsert,
    /// A command whose append holds one global lock until commit (the "serialise
    /// position assignment" alternative to the feed's transaction horizon).
    Serialised,
}

impl Mode {
    fn group(self) -> &'static str {
        match self {
            Self::Store => "pg_throughput",
            Self::BareInsert => "pg_throughput_bare_insert",
            Self::Serialised => "pg_throughput_serialised",
        }
    }

    async fn command(self, w: &mut Writer, store: &PgStore, body: &str) {
        match self {
            Self::Store => w.command(store).await,
            Self::BareInsert => {
                sqlx::query("INSERT INTO bare (k, body) VALUES ($1, $2)")
                    .bind(w.id.as_uuid())
                    .bind(body)
                    .execute(store.pool())
                    .await
                    .unwrap();
            }
            Self::Serialised => {
                let events = w.decide();
                let mut tx = store.pool().begin().await.unwrap();
                sqlx::query("SELECT pg_advisory_xact_lock(42)").execute(&mut *tx).await.unwrap();
                store.append_in(&mut tx, w.id, w.case.version(), &events).await.unwrap();
                tx.commit().await.unwrap();
                for e in &events {
                    w.case.apply(e).unwrap();
                }
            }
        }
    }
}

async fn opened_writer(store: &PgStore, n: u32) -> Writer {
    let (writer, opened) = Writer::new(n);
    store.append(writer.id, 0, &[opened]).await.unwrap();
    writer
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let db = rt.block_on(Db::new());
    let store = rt.block_on(async {
        let store = PgStore::new(db.pool(16).await);
        store.migrate().await.unwrap();
        sqlx::query("CREATE TABLE bare (id bigserial PRIMARY KEY, k uuid NOT NULL, body text NOT NULL)")
            .execute(store.pool())
            .await
            .unwrap();
        store
    });

    let mut group = c.benchmark_group("pg_command");
    let sample_body = {
        let (mut w, _) = Writer::new(0);
        w.decide()[0].to_json().unwrap()
    };
    for (label, history) in [("10", 10_u64), ("1e3", 1_000), ("1e5", 100_000)] {
        let mut writer = rt.block_on(async {
            let mut w = opened_writer(&store, u32::try_from(history).unwrap()).await;
            w.grow(&store, history).await;
            w
        });
        group.bench_function(BenchmarkId::new("store", label), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        writer.command(&store).await;
                    }
                    start.elapsed()
                })
            });
        });
        group.bench_function(BenchmarkId::new("bare_insert", label), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        sqlx::query("INSERT INTO bare (k, body) VALUES ($1, $2)")
                            .bind(writer.id.as_uuid())
                            .bind(&sample_body)
                            .execute(store.pool())
                            .await
                            .unwrap();
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();

    for mode in [Mode::Store, Mode::BareInsert, Mode::Serialised] {
        let mut group = c.benchmark_group(mode.group());
        for tasks in [1_u32, 4, 16] {
            let writers: Vec<Writer> = rt.block_on(async {
                let mut ws = Vec::new();
                for t in 0..tasks {
                    ws.push(opened_writer(&store, 1_000_000 + t + mode as u32 * 1000 + tasks * 100).await);
                }
                ws
            });
            let mut writers: Vec<Option<Writer>> = writers.into_iter().map(Some).collect();
            group.throughput(Throughput::Elements(u64::from(tasks)));
            group.bench_function(BenchmarkId::from_parameter(tasks), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        let handles: Vec<_> = writers
                            .iter_mut()
                            .map(|slot| {
                                let mut w = slot.take().unwrap();
                                let store = store.clone();
                                let body = sample_body.clone();
                                tokio::spawn(async move {
                                    for _ in 0..iters {
                                        mode.command(&mut w, &store, &body).await;
                                    }
                                    w
                                })
                            })
                            .collect();
                        for (slot, handle) in writers.iter_mut().zip(handles) {
                            *slot = Some(handle.await.unwrap());
                        }
                        start.elapsed()
                    })
                });
            });
        }
        group.finish();
    }

    // The feed at two table sizes: the same window of pages read from the middle of the
    // table should cost the same (an index range, not a scan and sort of the table).
    let mut group = c.benchmark_group("pg_feed");
    const WINDOW: u64 = 20_000;
    let mut next_writer = 2_000_000;
    for (label, size) in [("1e5", 100_000_i64), ("1e6", 1_000_000)] {
        let middle: FeedPosition = rt.block_on(async {
            loop {
                let stored: i64 =
                    sqlx::query_scalar("SELECT count(*) FROM caseledger_events").fetch_one(store.pool()).await.unwrap();
                if stored >= size {
                    break;
                }
                let mut w = opened_writer(&store, next_writer).await;
                next_writer += 1;
                w.grow(&store, 1_000).await;
            }
            let middle: String = sqlx::query_scalar(
                "SELECT feed_tx::text || '.' || position FROM caseledger_events
                 ORDER BY feed_tx, position OFFSET $1 LIMIT 1",
            )
            .bind(size / 2)
            .fetch_one(store.pool())
            .await
            .unwrap();
            sqlx::query("VACUUM ANALYZE caseledger_events").execute(store.pool()).await.unwrap();
            middle.parse().unwrap()
        });
        group.throughput(Throughput::Elements(WINDOW));
        group.bench_function(BenchmarkId::new("read_window", label), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let (mut at, mut n) = (middle, 0);
                        while n < WINDOW {
                            let page = store.read_feed(at, 1000).await.unwrap();
                            assert_eq!(page.events.len(), 1000, "the window lies inside the table");
                            n += 1000;
                            at = page.next;
                        }
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();

    rt.block_on(async {
        store.pool().close().await;
        db.drop().await;
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(20);
    targets = bench
}
criterion_main!(benches);

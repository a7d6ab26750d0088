//! The PostgreSQL store against the server `DATABASE_URL` names (`bash .ci/test` starts
//! a local one), in a database of its own that is dropped at the end.
//!
//! - **Paired, printed first** (`paired:` lines on stdout): a command and a bare insert
//!   taken in alternation, one of each per round, so load that drifts during the run
//!   touches both sides alike; medians, p90 and the ratio at 10, 1e4 and 1e5 events of
//!   history, and 16-task throughput in alternating 2-second rounds with the ratio of
//!   their medians. These are the figures to quote against the goals. Between them,
//!   CPU per call on one connection (client process and, when the server is local, its
//!   backend, from Linux's schedstat): what a busy machine does not inflate.
//! - `pg_command/{store,bare_insert}/{10,1e4,1e5}`: one command (decide on the cached
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
//! - `pg_customer_cases/{batched,per_case}/{warm,cold}`: `AsyncRepository::customer_cases`
//!   for a customer with 400 cases of 5 events, with the batched read and with one query
//!   per case (the trait's default, as before), cache warm and cold.
//! - `pg_projection/follower_worklist/1e5`: events per second the worklist projection
//!   applies from the feed (`FeedFollower<Worklist>`, pages of 1,000, from the start of a
//!   table of 1e5 events to its end).
//!
//! ```sh
//! # a cluster with fsync, synchronous_commit and full_page_writes on, on 127.0.0.1:54330
//! CASELEDGER_PG_DURABLE=1 source .ci/setup/10-postgres.sh
//! cargo bench --features postgres --bench postgres -- --warm-up-time 1 --measurement-time 3
//! cargo bench --features postgres --bench postgres -- pg_customer_cases   # one section only
//! ```
//!
//! A filter runs only the sections it can select (their setup too).

use std::future::Future;
use std::str::FromStr;
use std::time::{Duration, Instant};

use caseledger::{
    error::StoreError,
    event::Visibility,
    id::CustomerRef,
    policy::{Deadlines, Span},
    projection::FeedFollower,
    store::{Appended, FeedPosition},
    worklist::Worklist,
    Actor, AsyncRepository, AsyncStore, Case, CaseId, Command, Event, Opening, PgStore, Rules, Staff,
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
    /// The same row inserted into a table indexed as the events table is: the schema's
    /// cost without the library's statement.
    BareIndexed,
}

impl Mode {
    fn group(self) -> &'static str {
        match self {
            Self::Store => "pg_throughput",
            Self::BareInsert => "pg_throughput_bare_insert",
            Self::Serialised => "pg_throughput_serialised",
            Self::BareIndexed => "pg_throughput_bare_indexed",
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
            Self::BareIndexed => {
                w.n += 1;
                sqlx::query(
                    "INSERT INTO bare_indexed (feed_tx, case_id, seq, event_id, kind, body)
                     VALUES (pg_current_xact_id(), $1, $2, $3, 'noted', $4)",
                )
                .bind(w.id.as_uuid())
                .bind(i64::try_from(w.n).unwrap())
                .bind(uuid::Uuid::from_u128(u128::from(w.n)))
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

/// The median and the 90th percentile of `samples`, in microseconds.
fn quantiles(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| {
        // `q` is in [0, 1]: the index lies inside the samples.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = ((samples.len().saturating_sub(1) as f64) * q).round() as usize;
        samples.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
    };
    (at(0.5), at(0.9))
}

/// A command, a bare insert and an insert of the same row into a table indexed as the
/// events table is, in rotation, `rounds` of each; prints the three and the ratios. The
/// order rotates each round, so drifting load touches all three alike. The indexed
/// insert tells the schema's cost (three indexes, the feed column) from the library's.
async fn paired_latency(store: &PgStore, writer: &mut Writer, body: &str, label: &str, rounds: usize) {
    let mut taken: [Vec<Duration>; 3] = Default::default();
    let mut seq = 0_i64;
    for round in 0..rounds {
        for k in 0..3 {
            let side = (round + k) % 3;
            let start = Instant::now();
            paired_call(side, store, writer, body, &mut seq).await;
            taken[side].push(start.elapsed());
        }
    }
    let [ours, bare, indexed] = taken.map(|mut t| quantiles(&mut t));
    println!(
        "paired: latency history {label:>3}: command median {:7.1} us (p90 {:7.1}) | bare INSERT {:7.1} us (p90 {:7.1}) | \
         ratio {:.2}x (goal <= 1.25x) | same row, events' indexes {:7.1} us: command / it {:.2}x",
        ours.0,
        ours.1,
        bare.0,
        bare.1,
        ours.0 / bare.0,
        indexed.0,
        ours.0 / indexed.0
    );
}

/// `tasks` tasks running `mode` for `window`; commands (or inserts) per second.
async fn throughput_round(
    store: &PgStore,
    writers: &mut [Option<Writer>],
    mode: Mode,
    body: &str,
    window: Duration,
) -> f64 {
    let start = Instant::now();
    let handles: Vec<_> = writers
        .iter_mut()
        .map(|slot| {
            let mut w = slot.take().unwrap();
            let store = store.clone();
            let body = body.to_owned();
            tokio::spawn(async move {
                let mut n = 0_u64;
                while start.elapsed() < window {
                    mode.command(&mut w, &store, &body).await;
                    n += 1;
                }
                (w, n)
            })
        })
        .collect();
    let mut total = 0;
    for (slot, handle) in writers.iter_mut().zip(handles) {
        let (w, n) = handle.await.unwrap();
        *slot = Some(w);
        total += n;
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// Nanoseconds on CPU of every thread of this process, from Linux's schedstat; `None`
/// elsewhere.
fn client_cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        total += schedstat_ns(&task.ok()?.path().join("schedstat"))?;
    }
    Some(total)
}

/// The first field of a schedstat file: time spent on CPU, in nanoseconds.
fn schedstat_ns(path: &std::path::Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.split_whitespace().next()?.parse().ok()
}

/// CPU per call, which load on the machine does not inflate the way it does wall time:
/// the client's (this process, every thread) and the server backend's (its schedstat,
/// when the server runs on this machine), for a command, a bare insert and the indexed
/// insert, taken in rotating blocks on one connection (the same pool for all three).
async fn paired_cpu(db: &Db, body: &str, calls: u32) {
    const BLOCK: u32 = 100;
    let pool = db.pool(1).await;
    let store = PgStore::new(pool.clone());
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&pool).await.unwrap();
    let backend_stat = std::path::PathBuf::from(format!("/proc/{backend}/schedstat"));
    let server_cpu_ns = || schedstat_ns(&backend_stat);
    let mut writer = opened_writer(&store, 4_000_000).await;
    let mut seq = 1_000_000_000_i64;
    // Warm the connection's statement cache on all three before measuring.
    for side in 0..3 {
        paired_call(side, &store, &mut writer, body, &mut seq).await;
    }
    let mut client = [0_u64; 3];
    let mut server: [Option<u64>; 3] = [Some(0); 3];
    for round in 0..calls / BLOCK {
        for k in 0..3 {
            let side = (round as usize + k) % 3;
            let (c0, s0) = (client_cpu_ns().unwrap_or(0), server_cpu_ns());
            for _ in 0..BLOCK {
                paired_call(side, &store, &mut writer, body, &mut seq).await;
            }
            let (c1, s1) = (client_cpu_ns().unwrap_or(0), server_cpu_ns());
            client[side] += c1.saturating_sub(c0);
            server[side] = server[side].zip(s0.zip(s1)).map(|(t, (a, b))| t + b.saturating_sub(a));
        }
    }
    let n = f64::from(calls / BLOCK * BLOCK);
    let us = |ns: u64| ns as f64 / n / 1e3;
    let server_us = |side: usize| server[side].map_or(f64::NAN, us);
    let total = |side: usize| us(client[side]) + server_us(side);
    println!(
        "paired: cpu per call, 1 connection: command client {:6.1} us server {:6.1} us | bare INSERT client {:6.1} us \
         server {:6.1} us | ratio of client+server {:.2}x | same row, events' indexes client {:6.1} us server {:6.1} us",
        us(client[0]),
        server_us(0),
        us(client[1]),
        server_us(1),
        total(0) / total(1),
        us(client[2]),
        server_us(2)
    );
    pool.close().await;
}

/// One call of a paired figure's side `side`: 0 a command, 1 a bare insert, 2 the same
/// row into the table indexed as the events table.
async fn paired_call(side: usize, store: &PgStore, writer: &mut Writer, body: &str, seq: &mut i64) {
    match side {
        0 => writer.command(store).await,
        1 => Mode::BareInsert.command(writer, store, body).await,
        _ => {
            *seq += 1;
            sqlx::query(
                "INSERT INTO bare_indexed (feed_tx, case_id, seq, event_id, kind, body)
                 VALUES (pg_current_xact_id(), $1, $2, $3, 'noted', $4)",
            )
            .bind(writer.id.as_uuid())
            .bind(*seq)
            .bind(uuid::Uuid::from_u128(u128::from(seq.unsigned_abs())))
            .bind(body)
            .execute(store.pool())
            .await
            .unwrap();
        }
    }
}

/// 16 tasks: commands, bare inserts and indexed inserts in rotating rounds; prints the
/// medians and the ratios.
async fn paired_throughput(store: &PgStore, body: &str, rounds: usize) {
    let mut writers = Vec::new();
    for t in 0..16 {
        writers.push(Some(opened_writer(store, 3_000_000 + t).await));
    }
    let window = Duration::from_secs(2);
    let modes = [Mode::Store, Mode::BareInsert, Mode::BareIndexed];
    let mut rates: [Vec<f64>; 3] = Default::default();
    for round in 0..rounds {
        for k in 0..3 {
            let side = (round + k) % 3;
            rates[side].push(throughput_round(store, &mut writers, modes[side], body, window).await);
        }
    }
    let [ours, bare, indexed] = rates.map(|mut v| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    });
    println!(
        "paired: throughput 16 tasks: commands {ours:7.0}/s | bare INSERTs {bare:7.0}/s | ratio {:.2}x (goal >= 0.8x) | \
         same row, events' indexes {indexed:7.0}/s: command / it {:.2}x",
        ours / bare,
        ours / indexed
    );
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
        // The events table's shape and indexes, without the library's statement.
        sqlx::raw_sql(
            "CREATE TABLE bare_indexed (position bigint GENERATED ALWAYS AS IDENTITY,
                 tx xid8 NOT NULL DEFAULT pg_current_xact_id(), feed_tx xid8 NOT NULL, case_id uuid NOT NULL,
                 seq bigint NOT NULL, event_id uuid NOT NULL, kind text NOT NULL, body text NOT NULL,
                 PRIMARY KEY (feed_tx, position), UNIQUE (case_id, seq), UNIQUE (case_id, event_id));",
        )
        .execute(store.pool())
        .await
        .unwrap();
        store
    });

    if wants("pg_customer_cases") {
        customer_cases(c, &rt, &store);
    }
    if wants("pg_command") || wants("paired") || wants("pg_throughput") {
        commands(c, &rt, &db, &store);
    }
    if wants("pg_feed") || wants("pg_projection") {
        feed(c, &rt, &store);
    }

    rt.block_on(async {
        store.pool().close().await;
        db.drop().await;
    });
}

/// Whether criterion's filter (the first argument after `--` that is not an option) may
/// select something of `group`: each section's setup (growing tables to 1e6 events)
/// runs only when it will be measured.
fn wants(group: &str) -> bool {
    // Criterion's options that take a value: their value is not a filter.
    const VALUED: [&str; 12] = [
        "--warm-up-time",
        "--measurement-time",
        "--sample-size",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--save-baseline",
        "--baseline",
        "--profile-time",
        "--output-format",
        "--color",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filter = args.iter().enumerate().find(|(i, a)| {
        !a.starts_with('-') && !i.checked_sub(1).and_then(|p| args.get(p)).is_some_and(|p| VALUED.contains(&p.as_str()))
    });
    match filter {
        None => true,
        Some((_, filter)) => {
            let head = filter.split('/').next().unwrap_or_default();
            group.contains(head) || head.contains(group)
        }
    }
}

/// The sections of the one-command latency and throughput groups, and the paired figures.
fn commands(c: &mut Criterion, rt: &Runtime, db: &Db, store: &PgStore) {
    let mut group = c.benchmark_group("pg_command");
    let sample_body = {
        let (mut w, _) = Writer::new(0);
        w.decide()[0].to_json().unwrap()
    };
    let rounds: usize = std::env::var("CASELEDGER_BENCH_PAIRS").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000);
    for (label, history) in [("10", 10_u64), ("1e4", 10_000), ("1e5", 100_000)] {
        let mut writer = rt.block_on(async {
            let mut w = opened_writer(store, u32::try_from(history).unwrap()).await;
            w.grow(store, history).await;
            paired_latency(store, &mut w, &sample_body, label, rounds).await;
            w
        });
        group.bench_function(BenchmarkId::new("store", label), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        writer.command(store).await;
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
    rt.block_on(paired_cpu(db, &sample_body, 3_000));
    rt.block_on(paired_throughput(store, &sample_body, 5));

    for mode in [Mode::Store, Mode::BareInsert, Mode::Serialised] {
        let mut group = c.benchmark_group(mode.group());
        for tasks in [1_u32, 4, 16] {
            let writers: Vec<Writer> = rt.block_on(async {
                let mut ws = Vec::new();
                for t in 0..tasks {
                    ws.push(opened_writer(store, 1_000_000 + t + mode as u32 * 1000 + tasks * 100).await);
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
}

/// The feed at two table sizes, and the worklist projection from it at 1e5.
fn feed(c: &mut Criterion, rt: &Runtime, store: &PgStore) {
    // The feed at two table sizes: the same window of pages read from the middle of the
    // table should cost the same (an index range, not a scan and sort of the table).
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
                let mut w = opened_writer(store, next_writer).await;
                next_writer += 1;
                w.grow(store, 1_000).await;
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
        if label == "1e5" {
            projection_from_the_feed(c, rt, store, label);
        }
        let mut group = c.benchmark_group("pg_feed");
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
        group.finish();
    }
}

/// `PgStore` without its `read_after_many`: the trait's default, one query per case (what
/// `customer_cases` cost before the batched read).
#[derive(Clone)]
struct PerCase(PgStore);

impl AsyncStore for PerCase {
    fn append(
        &self,
        case: CaseId,
        expected: u64,
        events: &[Event],
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send {
        self.0.append(case, expected, events)
    }
    fn read_after(&self, case: CaseId, after: u64) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send {
        self.0.read_after(case, after)
    }
    fn version(&self, case: CaseId) -> impl Future<Output = Result<u64, StoreError>> + Send {
        self.0.version(case)
    }
    fn cases(&self) -> impl Future<Output = Result<Vec<CaseId>, StoreError>> + Send {
        self.0.cases()
    }
    fn customer_cases(&self, customer: &CustomerRef) -> impl Future<Output = Result<Vec<CaseId>, StoreError>> + Send {
        self.0.customer_cases(customer)
    }
}

/// How many cases the customer of `pg_customer_cases` has (the issue's 402).
const CUSTOMER_CASES: u32 = 400;

/// `AsyncRepository::customer_cases` for a customer with 400 cases of 5 events, among
/// other customers' cases: with the batched read (`PgStore`) and with one query per
/// case (`PerCase`), on a warm cache (each case read after its cached version) and cold
/// (a new repository each time: every case loaded).
fn customer_cases(c: &mut Criterion, rt: &Runtime, store: &PgStore) {
    let customer = CustomerRef::new("cust-many");
    rt.block_on(async {
        for n in 0..CUSTOMER_CASES * 2 {
            let (mut w, mut opened) = Writer::new(5_000_000 + n);
            if n % 2 == 0 {
                let opening = Opening::new(customer.clone(), "my laptop works", Staff::new("ana", "software"));
                opened = w.rules.open(w.id, opening, &Actor::customer(customer.clone()), T0).unwrap();
                w.case = Case::from_opened(&opened).unwrap();
            }
            store.append(w.id, 0, &[opened]).await.unwrap();
            w.grow(store, 5).await;
        }
    });
    let mut group = c.benchmark_group("pg_customer_cases");
    group.throughput(Throughput::Elements(u64::from(CUSTOMER_CASES)));
    let batched = AsyncRepository::new(store.clone(), Rules::default());
    let per_case = AsyncRepository::new(PerCase(store.clone()), Rules::default());
    rt.block_on(async {
        assert_eq!(batched.customer_cases(&customer).await.unwrap().len(), CUSTOMER_CASES as usize);
        assert_eq!(per_case.customer_cases(&customer).await.unwrap().len(), CUSTOMER_CASES as usize);
    });
    group.bench_function(BenchmarkId::new("batched", "warm"), |b| {
        b.iter(|| rt.block_on(batched.customer_cases(&customer)).unwrap());
    });
    group.bench_function(BenchmarkId::new("per_case", "warm"), |b| {
        b.iter(|| rt.block_on(per_case.customer_cases(&customer)).unwrap());
    });
    group.bench_function(BenchmarkId::new("batched", "cold"), |b| {
        b.iter(|| {
            rt.block_on(AsyncRepository::new(store.clone(), Rules::default()).customer_cases(&customer)).unwrap()
        });
    });
    group.bench_function(BenchmarkId::new("per_case", "cold"), |b| {
        b.iter(|| {
            rt.block_on(AsyncRepository::new(PerCase(store.clone()), Rules::default()).customer_cases(&customer))
                .unwrap()
        });
    });
    group.finish();
}

/// The worklist projection fed from the feed: every stored event, from the start to the
/// end, in pages of 1,000, into a fresh `Worklist` (what a node does at start).
fn projection_from_the_feed(c: &mut Criterion, rt: &Runtime, store: &PgStore, label: &str) {
    let stored: i64 =
        rt.block_on(sqlx::query_scalar("SELECT count(*) FROM caseledger_events").fetch_one(store.pool())).unwrap();
    let deadlines = Deadlines::default().first_response(Span::hours(4)).next_update(Span::hours(24));
    let mut group = c.benchmark_group("pg_projection");
    group.sample_size(10);
    group.throughput(Throughput::Elements(u64::try_from(stored).unwrap()));
    group.bench_function(BenchmarkId::new("follower_worklist", label), |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut took = Duration::ZERO;
                for _ in 0..iters {
                    let mut follower = FeedFollower::new(Worklist::new(deadlines.clone()));
                    let start = Instant::now();
                    let applied = follower.catch_up(store, 1000, T0).await.unwrap();
                    took += start.elapsed();
                    assert_eq!(applied as i64, stored, "every stored event applied once");
                    drop(follower);
                }
                took
            })
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(20);
    targets = bench
}
criterion_main!(benches);

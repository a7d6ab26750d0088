//! A fresh database per test on the server `DATABASE_URL` names (`bash .ci/test` starts
//! one), so parallel tests and other checkouts' runs never share tables. A test without
//! `DATABASE_URL` fails: these tests never pass by skipping.

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{ana, note, T0};
use caseledger::{Actor, Case, CaseId, Command, Event, Opening, PgStore, Rules};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use tokio::sync::OnceCell;

const PREFIX: &str = "caseledger_t_";
/// Databases left behind by a crashed run are dropped once they are this old.
const STALE: Duration = Duration::from_secs(2 * 3600);

pub fn admin_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!("DATABASE_URL is not set: run the tests with `bash .ci/test`, which starts PostgreSQL, or point DATABASE_URL at a server")
    })
}

fn admin_options() -> PgConnectOptions {
    PgConnectOptions::from_str(&admin_url()).expect("DATABASE_URL is a PostgreSQL URL")
}

pub struct TestDb {
    admin: PgPool,
    pub name: String,
    pub options: PgConnectOptions,
}

impl TestDb {
    /// Creates an empty database with the store's schema.
    pub async fn new() -> Self {
        let db = Self::empty().await;
        db.store().await.migrate().await.expect("migrate");
        db
    }

    /// Creates an empty database without the store's schema.
    pub async fn empty() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        static CLEANED: OnceCell<()> = OnceCell::const_new();
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(admin_options())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to DATABASE_URL={}: {e}", admin_url()));
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
        CLEANED.get_or_init(|| drop_stale(&admin, now)).await;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{}_{}_{n}_{}", now.as_secs(), std::process::id(), now.subsec_nanos());
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("create a test database");
        let options = admin_options().database(&name);
        Self { admin, name, options }
    }

    pub async fn pool(&self, max: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(self.options.clone())
            .await
            .expect("connect to the test database")
    }

    /// A store on a pool of its own: one "app node".
    pub async fn store(&self) -> PgStore {
        PgStore::new(self.pool(4).await)
    }

    pub fn admin(&self) -> &PgPool {
        &self.admin
    }

    /// Drops the database (tests call it at the end; a panicking test leaves it to the
    /// next run's clean-up).
    pub async fn drop(self) {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&self.admin).await;
        self.admin.close().await;
    }
}

async fn drop_stale(admin: &PgPool, now: Duration) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'caseledger\\_t\\_%'")
            .fetch_all(admin)
            .await
            .expect("list databases");
    for name in names {
        let created =
            name.strip_prefix(PREFIX).and_then(|rest| rest.split('_').next()).and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|secs| now.as_secs().saturating_sub(secs) > STALE.as_secs()) {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(admin).await;
        }
    }
}

/// A case id unique within a test, readable in failures.
pub fn case_id(n: u32) -> CaseId {
    CaseId::from_uuid(uuid::Uuid::from_u128((1 << 64) | u128::from(n)))
}

pub fn opened(case: CaseId, customer: &str, outcome: &str) -> Event {
    Rules::default()
        .open(case, Opening::new(customer, outcome, ana()), &Actor::customer(customer), T0)
        .expect("a valid opening")
}

/// The events of `command` on the case whose log is `log`, one minute after its last one.
pub fn decide(log: &[Event], command: Command) -> Vec<Event> {
    let case = Case::replay(log).expect("the log replays");
    let at = log.last().map_or(T0, |e| e.at) + time::Duration::minutes(1);
    Rules::default().decide(&case, command, &Actor::Staff(ana()), at).expect("the command is accepted")
}

/// A log of `n` events: the opening and notes.
pub fn log_of(case: CaseId, n: usize) -> Vec<Event> {
    let mut log = vec![opened(case, "cust-7", "my laptop works")];
    while log.len() < n {
        let next = decide(&log, note(format!("note {}", log.len())));
        log.extend(next);
    }
    log
}

/// Waits until `store`'s feed serves every write acknowledged before the call: other
/// tests' open transactions on the shared server hold the feed back for moments. Fails
/// after 60 s.
pub async fn feed_settled(store: &caseledger::PgStore) {
    feed_covers(store, store.feed_barrier().await.unwrap()).await;
}

/// Waits until `store`'s feed covers `barrier` (every transaction running when it was
/// taken has ended). Fails after 60 s.
pub async fn feed_covers(store: &caseledger::PgStore, barrier: caseledger::store::FeedBarrier) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !store.feed_covers(barrier).await.unwrap() {
        assert!(std::time::Instant::now() < deadline, "the feed still holds back writes after 60 s");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

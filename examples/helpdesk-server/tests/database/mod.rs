//! A fresh PostgreSQL database per test on the server `DATABASE_URL` names (`bash .ci/test`
//! starts one), so parallel tests never share tables. A test without `DATABASE_URL` fails:
//! these tests never pass by skipping.
//!
//! The names share the library's test prefix (`caseledger_t_<seconds>_…`), so a database a
//! crashed run leaves behind is dropped by the library's PostgreSQL tests once it is old.

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use caseledger::PgStore;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

pub struct TestDb {
    admin: PgPool,
    name: String,
    options: PgConnectOptions,
}

impl TestDb {
    /// Creates an empty database (the server migrates it when it starts).
    pub async fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
            panic!("DATABASE_URL is not set: run the tests with `bash .ci/test`, which starts PostgreSQL, or point DATABASE_URL at a server")
        });
        let options = PgConnectOptions::from_str(&url).expect("DATABASE_URL is a PostgreSQL URL");
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to DATABASE_URL={url}: {e}"));
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("caseledger_t_{}_{}_h{n}_{}", now.as_secs(), std::process::id(), now.subsec_nanos());
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("create a test database");
        Self { admin, options: options.database(&name), name }
    }

    /// A store on a pool of its own, as the server opens at start.
    pub async fn store(&self) -> PgStore {
        let pool = PgPoolOptions::new().max_connections(4).connect_with(self.options.clone()).await;
        PgStore::new(pool.expect("connect to the test database"))
    }

    /// Drops the database (a panicking test leaves it to the library tests' clean-up).
    pub async fn drop(self) {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&self.admin).await;
        self.admin.close().await;
    }
}

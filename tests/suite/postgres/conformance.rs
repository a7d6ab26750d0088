//! The store contract's conformance suite on PgStore, each check on a fresh schema.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use caseledger::testkit::conformance::{check_store, BlockOn, Blocking};
use caseledger::PgStore;
use sqlx::postgres::PgPoolOptions;

use crate::support::postgres::TestDb;

/// The suite calls the store from plain threads; each call runs on the test's runtime.
#[derive(Clone)]
struct Tokio(tokio::runtime::Handle);

impl BlockOn for Tokio {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.0.block_on(future)
    }
}

#[test]
fn pg_store_keeps_every_promise_of_the_store_contract() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let db = runtime.block_on(TestDb::new());
    let next = AtomicUsize::new(0);
    let fresh = || {
        let schema = format!("conformance_{}", next.fetch_add(1, Ordering::Relaxed));
        let store = runtime.block_on(async {
            let admin = db.pool(1).await;
            sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
            admin.close().await;
            let options = db.options.clone().options([("search_path", schema.as_str())]);
            let pool = PgPoolOptions::new().max_connections(8).connect_with(options).await.unwrap();
            let store = PgStore::new(pool);
            store.migrate().await.unwrap();
            store
        });
        Blocking::new(store, Tokio(runtime.handle().clone()))
    };
    let result = check_store(fresh);
    runtime.block_on(db.drop());
    result.unwrap();
}

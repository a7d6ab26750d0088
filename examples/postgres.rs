//! Two app nodes over one PostgreSQL, each an `AsyncRepository`: a case opened on one
//! node and worked on the other, a lost race answered by catching up and deciding again,
//! an outbox row that commits (or rolls back) with the case's events in one transaction
//! through the repository (`AsyncRepository::begin`), and a change-feed consumer that
//! resumes where it stopped.
//!
//! ```sh
//! bash -c 'source .ci/setup/10-postgres.sh'     # a local cluster on 127.0.0.1:54329
//! DATABASE_URL=postgres://postgres:caseledger@127.0.0.1:54329/postgres \
//!     cargo run --example postgres --features postgres
//! ```
//!
//! Run it twice: the second run's consumer reads only what the second run wrote.

use std::error::Error;
use std::time::{SystemTime, UNIX_EPOCH};

use caseledger::{
    event::Visibility, store::FeedPosition, Actor, AsyncRepository, CaseId, Command, Opening, PgStore, Rules, Staff,
};
use sqlx::postgres::PgPoolOptions;
use time::OffsetDateTime;

/// One app node: its own pool, its own repository (and cache of folded cases).
async fn node(url: &str) -> Result<AsyncRepository<PgStore>, Box<dyn Error>> {
    let pool = PgPoolOptions::new().max_connections(4).connect(url).await?;
    Ok(AsyncRepository::new(PgStore::new(pool), Rules::default()))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| {
        "set DATABASE_URL, e.g. postgres://postgres:caseledger@127.0.0.1:54329/postgres \
         (bash -c 'source .ci/setup/10-postgres.sh' starts that local cluster)"
    })?;
    let (a, b) = (node(&url).await?, node(&url).await?);
    a.store().migrate().await?;
    b.store().migrate().await?; // every node calls it at start-up; the second is a no-op

    // The consumer's position survives restarts in a table of the host's.
    let pool = a.store().pool();
    sqlx::query("CREATE TABLE IF NOT EXISTS example_consumer (name text PRIMARY KEY, position text NOT NULL)")
        .execute(pool)
        .await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS example_outbox (id bigserial PRIMARY KEY, case_id uuid, mail text)")
        .execute(pool)
        .await?;
    let mut feed_at = load_position(a.store()).await?;
    // Skip what earlier runs of other programs wrote: start this run from the end.
    drain(a.store(), &mut feed_at, false).await?;

    let now = OffsetDateTime::now_utc;
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.subsec_nanos().to_be_bytes();
    let id = CaseId::new_v7(now(), [nanos[0], nanos[1], nanos[2], nanos[3], 7, 7, 7, 7, 7, 7]);
    let ana = Staff::new("ana", "software");
    let by = Actor::Staff(ana.clone());
    let customer = format!("cust-{}", u32::from_be_bytes(nanos));

    println!("node a opens case {id} for {customer}");
    a.open(
        id,
        Opening::new(customer.as_str(), "my laptop works", ana.clone()),
        &Actor::customer(customer.as_str()),
        now(),
    )
    .await?;

    println!("node b adds a note (node a does not know yet)");
    let note = |text: &str| Command::AddNote { text: text.into(), visibility: Visibility::Internal };
    b.execute(id, note("BIOS 1.9 tried"), &by, now()).await?;
    println!("node a adds a note on its stale copy: the store refuses, a catches up and decides again");
    let done = a.execute(id, note("fan noise when charging"), &by, now()).await?;
    println!("  stored as event {} after {} attempts", done.events[0].seq, done.attempts);

    println!("node a transfers to hardware, with a mail in the outbox, in one transaction");
    let transfer =
        || Command::Transfer { to: Staff::new("bo", "hardware"), note: "fan noise after the BIOS update".into() };
    let mail = "INSERT INTO example_outbox (case_id, mail) VALUES ($1, 'your case is with hardware now')";
    for commit in [false, true] {
        let mut tx = a.begin().await?;
        tx.execute(id, transfer(), &by, now()).await?;
        sqlx::query(mail).bind(id.as_uuid()).execute(&mut *tx).await?;
        if commit {
            tx.commit().await?; // the events and the mail, then a's cache learns them
        } else {
            tx.rollback().await?; // neither; a's cache never saw them
            let cached = a.core().peek(id).map_or(0, |case| case.version());
            println!("  rolled back once: stored version {}, cached {cached}", a.store().version(id).await?);
        }
    }
    let mails: i64 = sqlx::query_scalar("SELECT count(*) FROM example_outbox WHERE case_id = $1")
        .bind(id.as_uuid())
        .fetch_one(pool)
        .await?;
    println!(
        "  committed: version {}, owner {}, {mails} mail queued",
        a.store().version(id).await?,
        a.case(id).await?.owner()
    );

    println!("all cases of {customer}: {:?}", a.store().customer_cases(&customer.as_str().into()).await?);
    println!("the change feed, from where this consumer stopped:");
    drain(b.store(), &mut feed_at, true).await?;
    let lag = b.store().feed_lag(feed_at).await?;
    println!("feed lag now: {} unread, {} held back by open transactions", lag.unread, lag.held);
    Ok(())
}

async fn load_position(store: &PgStore) -> Result<FeedPosition, Box<dyn Error>> {
    let saved: Option<String> = sqlx::query_scalar("SELECT position FROM example_consumer WHERE name = 'example'")
        .fetch_optional(store.pool())
        .await?;
    Ok(saved.map(|text| text.parse()).transpose()?.unwrap_or(FeedPosition::START))
}

/// Reads the feed to its end, storing the position after every page.
async fn drain(store: &PgStore, at: &mut FeedPosition, print: bool) -> Result<(), Box<dyn Error>> {
    loop {
        let page = store.read_feed(*at, 100).await?;
        if print {
            for item in &page.events {
                let e = &item.event;
                println!("  {}  case {} #{} {}", item.position, e.case, e.seq, e.what.tag());
            }
        }
        *at = page.next;
        sqlx::query(
            "INSERT INTO example_consumer (name, position) VALUES ('example', $1)
             ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        )
        .bind(at.to_string())
        .execute(store.pool())
        .await?;
        if page.events.len() < 100 {
            return Ok(());
        }
    }
}

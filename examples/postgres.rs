//! Two app nodes over one PostgreSQL: a case opened on one node and worked on the
//! other, a lost race answered by catching up and deciding again, an outbox row that
//! commits (or rolls back) with the case's events, and a change-feed consumer that
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
    error::StoreError, event::Visibility, store::FeedPosition, Actor, Case, CaseId, Command, Event, Opening, PgStore,
    Rules, Staff,
};
use sqlx::postgres::PgPoolOptions;
use time::OffsetDateTime;

/// One app node: its own pool, its own cache of folded cases.
struct Node {
    name: &'static str,
    store: PgStore,
    rules: Rules,
    cache: std::collections::HashMap<CaseId, Case>,
}

impl Node {
    async fn connect(name: &'static str, url: &str) -> Result<Self, Box<dyn Error>> {
        let pool = PgPoolOptions::new().max_connections(4).connect(url).await?;
        Ok(Self { name, store: PgStore::new(pool), rules: Rules::default(), cache: Default::default() })
    }

    /// Decide on the cached case, append at its version, fold. On a conflict, read only
    /// the events after the cached version, fold them, and decide again.
    async fn run(&mut self, id: CaseId, command: Command, by: &Actor) -> Result<Vec<Event>, Box<dyn Error>> {
        for attempt in 1..=3 {
            let case = match self.cache.get_mut(&id) {
                Some(case) => case,
                None => {
                    let log = self.store.read(id).await?;
                    self.cache.entry(id).or_insert(Case::replay(&log)?)
                }
            };
            let events = self.rules.decide(case, command.clone(), by, OffsetDateTime::now_utc())?;
            match self.store.append(id, case.version(), &events).await {
                Ok(_) => {
                    for event in &events {
                        case.apply(event)?;
                    }
                    return Ok(events);
                }
                Err(err @ StoreError::Conflict { .. }) if attempt < 3 => {
                    println!("  {}: {err}; catching up and deciding again", self.name);
                    for event in self.store.read_after(id, case.version()).await? {
                        case.apply(&event)?;
                    }
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err("three conflicts in a row".into())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| {
        "set DATABASE_URL, e.g. postgres://postgres:caseledger@127.0.0.1:54329/postgres \
         (bash -c 'source .ci/setup/10-postgres.sh' starts that local cluster)"
    })?;
    let mut a = Node::connect("node a", &url).await?;
    let mut b = Node::connect("node b", &url).await?;
    a.store.migrate().await?;
    b.store.migrate().await?; // every node calls it at start-up; the second is a no-op

    // The consumer's position survives restarts in a table of the host's.
    sqlx::query("CREATE TABLE IF NOT EXISTS example_consumer (name text PRIMARY KEY, position text NOT NULL)")
        .execute(a.store.pool())
        .await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS example_outbox (id bigserial PRIMARY KEY, case_id uuid, mail text)")
        .execute(a.store.pool())
        .await?;
    let mut feed_at = load_position(&a.store).await?;
    // Skip what earlier runs of other programs wrote: start this run from the end.
    drain(&a.store, &mut feed_at, false).await?;

    let now = OffsetDateTime::now_utc();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.subsec_nanos().to_be_bytes();
    let id = CaseId::new_v7(now, [nanos[0], nanos[1], nanos[2], nanos[3], 7, 7, 7, 7, 7, 7]);
    let ana = Staff::new("ana", "software");
    let customer = format!("cust-{}", u32::from_be_bytes(nanos));

    println!("node a opens case {id} for {customer}");
    let opened = a.rules.open(
        id,
        Opening::new(customer.as_str(), "my laptop works", ana.clone()),
        &Actor::customer(customer.as_str()),
        now,
    )?;
    a.store.append(id, 0, std::slice::from_ref(&opened)).await?;
    a.cache.insert(id, Case::from_opened(&opened)?);

    println!("node b adds a note (node a does not know yet)");
    let note = |text: &str| Command::AddNote { text: text.into(), visibility: Visibility::Internal };
    b.run(id, note("BIOS 1.9 tried"), &Actor::Staff(ana.clone())).await?;
    println!("node a adds a note on its stale copy");
    a.run(id, note("fan noise when charging"), &Actor::Staff(ana.clone())).await?;

    println!("node a transfers to hardware, with a mail in the outbox, in one transaction");
    let bo = Staff::new("bo", "hardware");
    let case = a.cache.get(&id).ok_or("cached")?;
    let transfer = Command::Transfer { to: bo.clone(), note: "fan noise after the BIOS update".into() };
    let events = a.rules.decide(case, transfer, &Actor::Staff(ana.clone()), OffsetDateTime::now_utc())?;
    for commit in [false, true] {
        let mut tx = a.store.pool().begin().await?;
        sqlx::query("INSERT INTO example_outbox (case_id, mail) VALUES ($1, 'your case is with hardware now')")
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await?;
        a.store.append_in(&mut tx, id, case.version(), &events).await?;
        if commit {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
            println!("  rolled back once: version {} (events and mail gone together)", a.store.version(id).await?);
        }
    }
    let mails: i64 = sqlx::query_scalar("SELECT count(*) FROM example_outbox WHERE case_id = $1")
        .bind(id.as_uuid())
        .fetch_one(a.store.pool())
        .await?;
    println!("  committed: version {}, {mails} mail queued", a.store.version(id).await?);

    println!("all cases of {customer}: {:?}", a.store.customer_cases(&customer.as_str().into()).await?);
    println!("the change feed, from where this consumer stopped:");
    drain(&b.store, &mut feed_at, true).await?;
    let lag = b.store.feed_lag(feed_at).await?;
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

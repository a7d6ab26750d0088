//! The PostgreSQL store: every case's log in one table on the host's `PgPool`, the
//! cross-case indexes in two more, appends in the store's own transaction or in the
//! host's, and a change feed across all cases that never skips an event.
//!
//! Owns the schema ([`PgStore::SCHEMA`]), the append statement and its conflict path,
//! and the mapping of database failures to [`StoreError`]. The append rules themselves
//! (expected version, idempotent and changed retries, envelope checks) are the ones every
//! store shares; this module only reads what they need.

mod feed;

use std::future::Future;

use sqlx::postgres::{PgConnection, PgPool};
use uuid::Uuid;

use super::{AppendCheck, Appended, AsyncStore, CrossIndex, Loaded};
use crate::case::Snapshot;
use crate::error::{Location, LogError, StoreError};
use crate::event::{Event, EventKind};
use crate::id::{CaseId, CustomerRef, EventId, IncidentId};

pub use feed::{FeedBarrier, FeedEvent, FeedLag, FeedPage, FeedPosition, ParseFeedPositionError};

/// A store in PostgreSQL (feature `postgres`), for hosts whose app nodes share one
/// database.
///
/// The host passes its own `PgPool`; the store keeps nothing else, so it is cheap to
/// clone and every node can have its own. Call [`PgStore::migrate`] once at start-up.
///
/// # One command, one transaction
///
/// [`PgStore::append`] runs one transaction holding one statement: it inserts the events
/// only if the case is at the expected version (`ON CONFLICT DO NOTHING` on the unique
/// `(case_id, seq)` and `(case_id, event_id)`), and writes the case and incident index
/// rows in the same statement. A lost race raises no database error: when fewer rows
/// went in than were sent, the store removes what it wrote, reads what is stored at
/// those positions, and answers as every store does ([`StoreError::Conflict`],
/// [`StoreError::ChangedRetry`], or an idempotent retry that writes only what is
/// missing). That is why [`PgStore::append_in`] can run inside a host's transaction
/// without ever aborting it.
///
/// # The change feed
///
/// Every event has a position across all cases; [`PgStore::read_feed`] hands them out in
/// pages and never skips one. See [`FeedPosition`] for the technique and its costs.
///
/// # Example
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use caseledger::{Actor, CaseId, Opening, Rules, Staff};
/// use caseledger::{store::FeedPosition, PgStore};
/// use time::macros::datetime;
///
/// let pool = sqlx::PgPool::connect(&std::env::var("DATABASE_URL")?).await?;
/// let store = PgStore::new(pool);
/// store.migrate().await?;
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let case = CaseId::new_v7(t, [1; 10]);
/// let opened = Rules::default().open(case, Opening::new("cust-7", "my laptop works",
///     Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?;
/// store.append(case, 0, &[opened]).await?;
///
/// assert_eq!(store.customer_cases(&"cust-7".into()).await?, vec![case]);
/// let page = store.read_feed(FeedPosition::START, 100).await?;
/// assert!(page.events.iter().any(|e| e.event.case == case));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

/// Advisory lock key taken while the schema is created ("caseledger" in ASCII, folded).
const MIGRATE_LOCK: i64 = 0x6361_7365_6c65_6467;

/// How many case ids [`PgStore::cases`] fetches per query.
const CASES_PAGE: usize = 1000;

/// Inserts a batch at the expected version, with the index rows, in one statement.
///
/// `prev` is the event at the expected version: its absence makes a writer whose expected
/// version is ahead of the store insert nothing, and its `feed_tx` is the floor of the
/// batch's (see [`FeedPosition`] for why that keeps each case in order in the feed).
/// The index rows go in only when the whole batch did. `RETURNING seq` tells which rows
/// went in. `$conflict` is what a taken position does (see [`INSERT`] and [`INSERT_ALONE`]).
macro_rules! insert_statement {
    ($conflict:literal) => {
        concat!(
            "
WITH new AS (
    SELECT * FROM unnest($3::bigint[], $4::uuid[], $5::text[], $6::text[]) AS n(seq, event_id, kind, body)
), prev AS (
    SELECT feed_tx FROM caseledger_events WHERE case_id = $1 AND seq = $2::bigint
), ins AS (
    INSERT INTO caseledger_events (case_id, seq, event_id, kind, body, feed_tx)
    SELECT $1, seq, event_id, kind, body, greatest(pg_current_xact_id(), (SELECT feed_tx FROM prev)) FROM new
    WHERE $2::bigint = 0 OR EXISTS (SELECT 1 FROM prev)
    ORDER BY seq
    ",
            $conflict,
            "
    RETURNING seq
), opened AS (
    INSERT INTO caseledger_cases (case_id, customer)
    SELECT $1, $7::text WHERE $2::bigint = 0 AND (SELECT count(*) FROM ins) = $8::bigint
    ON CONFLICT DO NOTHING
), linked AS (
    INSERT INTO caseledger_incident_cases (incident, case_id)
    SELECT DISTINCT i, $1 FROM unnest($9::text[]) AS i WHERE (SELECT count(*) FROM ins) = $8::bigint
    ON CONFLICT DO NOTHING
)
SELECT seq FROM ins"
        )
    };
}

/// The insert inside a transaction, which must never raise: `ON CONFLICT DO NOTHING`
/// makes a writer that is behind, or that resends, insert nothing at the positions
/// already taken, so a host's transaction survives a lost race.
const INSERT: &str = insert_statement!("ON CONFLICT DO NOTHING");

/// The insert as a statement of its own, outside any transaction block: PostgreSQL runs
/// it as one transaction, so one round trip appends and commits. A taken position raises
/// a unique violation, which undoes the whole statement; the store then takes the slow
/// path in a transaction (see [`PgStore::append`]).
const INSERT_ALONE: &str = insert_statement!("");

/// The common command as a statement of its own: one event that indexes nothing (not an
/// opening, not an incident link) after an existing event. The previous event is joined
/// for the expected version and the feed order, as in [`INSERT_ALONE`], without the
/// arrays and the index CTEs, which cost server CPU on every command. No row when the
/// case is not at `$2` (a writer ahead); a unique violation when the position or the id
/// is taken: both go to the slow path, as for [`INSERT_ALONE`]. No `RETURNING`: the
/// command tag's row count (0 or 1) says whether the event went in, so neither side
/// encodes or decodes a row per command.
const INSERT_ONE: &str = "
INSERT INTO caseledger_events (case_id, seq, event_id, kind, body, feed_tx)
SELECT $1, $3, $4, $5, $6, greatest(pg_current_xact_id(), p.feed_tx)
FROM caseledger_events AS p WHERE p.case_id = $1 AND p.seq = $2";

/// The unique constraints whose violation by [`INSERT_ALONE`] means "someone is already
/// there": a lost race or a retry, judged on the slow path.
const TAKEN: [&str; 2] = ["caseledger_events_case_seq", "caseledger_events_case_event"];

impl PgStore {
    /// The schema [`PgStore::migrate`] creates, as SQL. Every statement is idempotent.
    ///
    #[doc = concat!("```sql\n", include_str!("schema.sql"), "```")]
    pub const SCHEMA: &'static str = include_str!("schema.sql");

    /// A store over the host's pool. Nothing is sent to the database until it is used.
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool the store uses.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates the tables and indexes of [`PgStore::SCHEMA`] if they are missing. Call it
    /// at start-up; it is idempotent, and safe when several nodes start at once: it runs
    /// in one transaction under a transaction-scoped advisory lock.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database refuses (for instance the role may not
    /// create tables) or is older than PostgreSQL 13, which the feed needs.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::backend)?;
        let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::backend)?;
        if version < 130_000 {
            return Err(unsupported(format!(
                "PostgreSQL {version} is too old: the store needs 13 or later (xid8 for the feed)"
            )));
        }
        run_schema(&mut tx, MIGRATE_LOCK, Self::SCHEMA).await?;
        tx.commit().await.map_err(StoreError::backend)
    }

    /// Appends `events` to `case` at expected version `expected`, in a transaction of its
    /// own: the contract of [`Store::append`](crate::Store::append), awaited.
    ///
    /// One round trip in the common case: the batch and its index rows go in as one
    /// statement outside any transaction block, which PostgreSQL commits on its own. A
    /// position already taken (a lost race, a retry) undoes that statement whole, and the
    /// store then judges the batch in a transaction of its own, exactly as
    /// [`PgStore::append_in`] does. (A pool built with sqlx's default
    /// `test_before_acquire(true)` adds a ping per command; hosts that watch latency turn
    /// it off.)
    ///
    /// # Errors
    ///
    /// As [`Store::append`](crate::Store::append); database failures (a lost connection,
    /// a statement timeout) are [`StoreError::Backend`], and nothing of the batch is written.
    pub async fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError> {
        let check = AppendCheck::new(case, expected, events);
        check.overlap(expected)?;
        let mut conn = self.pool.acquire().await.map_err(StoreError::backend)?;
        let first = match plain_one(expected, events) {
            // The common command: one event, encoded straight into the statement's
            // parameters (no column vectors), its row count read from the command tag.
            Some(event) => {
                let body = encode_body(case, event)?;
                sqlx::query(INSERT_ONE)
                    .bind(case.as_uuid())
                    .bind(to_i64(expected)?)
                    .bind(to_i64(event.seq)?)
                    .bind(event.id.as_uuid())
                    .bind(event.what.tag())
                    .bind(body)
                    .execute(&mut *conn)
                    .await
                    .map(|done| done.rows_affected() == 1)
            }
            None => {
                let batch = Batch::encode(case, events)?;
                batch
                    .run(INSERT_ALONE, &mut conn, case, to_i64(expected)?, 0)
                    .await
                    .map(|inserted| inserted.len() == events.len())
            }
        };
        match first {
            Ok(true) => return Ok(Appended::new(expected.saturating_add(events.len() as u64), events.len())),
            // Nothing went in: the case is not at `expected` (a writer ahead of it).
            Ok(false) => {}
            Err(e) if is_taken(&e) => {}
            Err(e) => return Err(StoreError::backend(e)),
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(StoreError::backend)?;
        let appended = self.append_in(&mut tx, case, expected, events).await?;
        tx.commit().await.map_err(StoreError::backend)?;
        Ok(appended)
    }

    /// Appends inside the caller's transaction (a transactional outbox): pass `&mut *tx`
    /// of a `sqlx::Transaction` on which the host also writes its own rows. The events
    /// are stored if and only if that transaction commits.
    ///
    /// A refusal ([`StoreError::Conflict`] and the others) leaves the transaction usable:
    /// the store raises no database error on its conflict path and removes any row of the
    /// batch it wrote. The host decides whether to commit its own rows anyway.
    ///
    /// Cost, on top of the host's transaction: the change feed does not read past the
    /// transaction until it ends, so keep it short (see [`FeedPosition`]). The feed
    /// still hands out the case's events in sequence order, however early the host's
    /// transaction took its id.
    ///
    /// # Errors
    ///
    /// As [`PgStore::append`]. After a database error the transaction is aborted, as any
    /// failed statement aborts a PostgreSQL transaction.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn demo(store: caseledger::PgStore, case: caseledger::CaseId,
    /// #     events: Vec<caseledger::Event>) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut tx = store.pool().begin().await?;
    /// sqlx::query("INSERT INTO outbox (topic) VALUES ('case-updated')").execute(&mut *tx).await?;
    /// store.append_in(&mut tx, case, 3, &events).await?;
    /// tx.commit().await?; // both, or neither
    /// # Ok(())
    /// # }
    /// ```
    pub async fn append_in(
        &self,
        conn: &mut PgConnection,
        case: CaseId,
        expected: u64,
        events: &[Event],
    ) -> Result<Appended, StoreError> {
        let check = AppendCheck::new(case, expected, events);
        // The envelope checks need nothing stored: run them before any round trip.
        check.overlap(expected)?;
        let batch = Batch::encode(case, events)?;
        let mut already = 0;
        // Each pass either finishes or learns that more of the batch is already stored,
        // so it ends within `events.len() + 1` passes; the bound is only a backstop.
        for _ in 0..=events.len() {
            let base = expected.saturating_add(already as u64);
            let inserted = batch.insert(conn, case, base, already).await?;
            let sent = events.len() - already;
            if inserted.len() == sent {
                return Ok(Appended::new(base.saturating_add(sent as u64), sent));
            }
            if !inserted.is_empty() {
                // Part of the batch went in past a position someone else took: take it back.
                sqlx::query("DELETE FROM caseledger_events WHERE case_id = $1 AND seq = ANY($2)")
                    .bind(case.as_uuid())
                    .bind(&inserted)
                    .execute(&mut *conn)
                    .await
                    .map_err(StoreError::backend)?;
            }
            let stored = read_stored(conn, case, expected, events).await?;
            let plan = check.decide(stored.version, &stored.overlap)?;
            plan.check_unique_ids(stored.ids.iter().copied())?;
            if plan.events().is_empty() {
                return Ok(plan.appended());
            }
            already = events.len() - plan.events().len();
        }
        Err(unsupported(format!("case {case}: the append did not settle")))
    }

    /// The events of `case` after version `after`, in order: [`Store::read_after`](crate::Store::read_after).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails, [`StoreError::Corrupt`] or
    /// [`StoreError::Inconsistent`] when a stored row no longer decodes as the event at
    /// its place.
    pub async fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError> {
        read_after_on(&self.pool, case, after).await
    }

    /// [`PgStore::read_after`] on the caller's connection or transaction: pass `&mut *tx`
    /// to see what the transaction sees (its own uncommitted appends included) without
    /// taking a second connection from the pool.
    ///
    /// # Errors
    ///
    /// As [`PgStore::read_after`].
    pub async fn read_after_in(
        &self,
        conn: &mut PgConnection,
        case: CaseId,
        after: u64,
    ) -> Result<Vec<Event>, StoreError> {
        read_after_on(conn, case, after).await
    }

    /// Several cases' events in one query: for each `(case, after)` of `reads`, the
    /// events of `case` after version `after`, in order, one entry per read in the order
    /// of `reads` ([`Store::read_after_many`](crate::Store::read_after_many)). The reads
    /// go as two arrays, unnested and joined to the events on their `(case_id, seq)`
    /// index: one round trip however many cases, each an index range.
    ///
    /// # Errors
    ///
    /// As [`PgStore::read_after`].
    pub async fn read_after_many(&self, reads: &[(CaseId, u64)]) -> Result<Vec<Vec<Event>>, StoreError> {
        if reads.is_empty() {
            return Ok(Vec::new());
        }
        let cases: Vec<Uuid> = reads.iter().map(|(case, _)| *case.as_uuid()).collect();
        let afters = reads.iter().map(|&(_, after)| to_i64(after)).collect::<Result<Vec<i64>, _>>()?;
        let rows: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT r.i, e.seq, e.body
             FROM unnest($1::uuid[], $2::bigint[]) WITH ORDINALITY AS r(case_id, after_seq, i)
             JOIN caseledger_events AS e ON e.case_id = r.case_id AND e.seq > r.after_seq
             ORDER BY r.i, e.seq",
        )
        .bind(&cases)
        .bind(&afters)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::backend)?;
        let mut answers: Vec<Vec<Event>> = reads.iter().map(|_| Vec::new()).collect();
        for (i, seq, body) in rows {
            // `WITH ORDINALITY` counts from 1.
            let index = usize::try_from(i).ok().and_then(|i| i.checked_sub(1));
            let (Some(&(case, _)), Some(answer)) =
                (index.and_then(|i| reads.get(i)), index.and_then(|i| answers.get_mut(i)))
            else {
                return Err(unsupported(format!("read_after_many: a row for read {i} of {}", reads.len())));
            };
            answer.push(decode_row(case, seq, &body)?);
        }
        Ok(answers)
    }

    /// All events of `case`, in order.
    ///
    /// # Errors
    ///
    /// As [`PgStore::read_after`].
    pub async fn read(&self, case: CaseId) -> Result<Vec<Event>, StoreError> {
        self.read_after(case, 0).await
    }

    /// The stored version of `case`: its number of events, 0 if unknown.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails.
    pub async fn version(&self, case: CaseId) -> Result<u64, StoreError> {
        version_on(&self.pool, case).await
    }

    /// Up to `limit` case ids after `after` (from the first when `None`), in id order: page
    /// through every case without holding them all.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails.
    pub async fn cases_page(&self, after: Option<CaseId>, limit: usize) -> Result<Vec<CaseId>, StoreError> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT case_id FROM caseledger_cases WHERE $1::uuid IS NULL OR case_id > $1 ORDER BY case_id LIMIT $2",
        )
        .bind(after.map(|c| *c.as_uuid()))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::backend)?;
        Ok(ids.into_iter().map(CaseId::from_uuid).collect())
    }

    /// Every case, in id order, fetched in pages.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails.
    pub async fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
        let mut all = Vec::new();
        loop {
            let page = self.cases_page(all.last().copied(), CASES_PAGE).await?;
            let done = page.len() < CASES_PAGE;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// Keeps `snapshot` as its case's latest in `caseledger_snapshots`, one upsert that
    /// leaves a later snapshot in place: [`Store::write_snapshot`](crate::Store::write_snapshot).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails.
    pub async fn write_snapshot(&self, snapshot: &Snapshot) -> Result<bool, StoreError> {
        write_snapshot_on(&self.pool, snapshot).await
    }

    /// [`PgStore::write_snapshot`] on the caller's connection or transaction: the
    /// snapshot commits (or rolls back) with it.
    ///
    /// # Errors
    ///
    /// As [`PgStore::write_snapshot`].
    pub async fn write_snapshot_in(&self, conn: &mut PgConnection, snapshot: &Snapshot) -> Result<bool, StoreError> {
        write_snapshot_on(conn, snapshot).await
    }

    /// The latest snapshot kept for `case`, unchecked.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails.
    pub async fn read_snapshot(&self, case: CaseId) -> Result<Option<Snapshot>, StoreError> {
        let body: Option<Vec<u8>> = sqlx::query_scalar("SELECT body FROM caseledger_snapshots WHERE case_id = $1")
            .bind(case.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::backend)?;
        Ok(body.map(Snapshot::from_bytes))
    }

    /// A cold load in one round trip: the case's snapshot and the events from its
    /// version on (or the whole log without one), read by one statement, so both come
    /// from the same database snapshot. See [`Store::load`](crate::Store::load).
    ///
    /// # Errors
    ///
    /// As [`PgStore::read_after`].
    pub async fn load(&self, case: CaseId) -> Result<Loaded, StoreError> {
        load_on(&self.pool, case).await
    }

    /// [`PgStore::load`] on the caller's connection or transaction, seeing what it sees.
    ///
    /// # Errors
    ///
    /// As [`PgStore::load`].
    pub async fn load_in(&self, conn: &mut PgConnection, case: CaseId) -> Result<Loaded, StoreError> {
        load_on(conn, case).await
    }

    /// Every case opened for `customer`, in id order: one indexed query.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails.
    pub async fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<CaseId>, StoreError> {
        let ids: Vec<Uuid> =
            sqlx::query_scalar("SELECT case_id FROM caseledger_cases WHERE customer = $1 ORDER BY case_id")
                .bind(customer.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::backend)?;
        Ok(ids.into_iter().map(CaseId::from_uuid).collect())
    }

    /// Every case linked to `incident`, in id order: one indexed query.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails.
    pub async fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<CaseId>, StoreError> {
        let ids: Vec<Uuid> =
            sqlx::query_scalar("SELECT case_id FROM caseledger_incident_cases WHERE incident = $1 ORDER BY case_id")
                .bind(incident.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::backend)?;
        Ok(ids.into_iter().map(CaseId::from_uuid).collect())
    }
}

/// A row of [`PgStore::load`]: an event (`seq`, `body`) or the snapshot.
type LoadRow = (Option<i64>, Option<String>, Option<Vec<u8>>);

/// A batch encoded for the insert statement, column by column.
struct Batch {
    seqs: Vec<i64>,
    ids: Vec<Uuid>,
    kinds: Vec<&'static str>,
    bodies: Vec<String>,
    customer: Option<String>,
    incidents: Vec<String>,
}

impl Batch {
    fn encode(case: CaseId, events: &[Event]) -> Result<Self, StoreError> {
        let mut batch = Self {
            seqs: Vec::with_capacity(events.len()),
            ids: Vec::with_capacity(events.len()),
            kinds: Vec::with_capacity(events.len()),
            bodies: Vec::with_capacity(events.len()),
            customer: None,
            incidents: Vec::new(),
        };
        for event in events {
            batch.seqs.push(to_i64(event.seq)?);
            batch.ids.push(*event.id.as_uuid());
            batch.kinds.push(event.what.tag());
            batch.bodies.push(encode_body(case, event)?);
            match &event.what {
                EventKind::Opened { customer, .. } if event.seq == 1 => {
                    batch.customer = Some(index_key(case, "customer reference", customer.as_str())?);
                }
                EventKind::IncidentLinked { incident } => {
                    batch.incidents.push(index_key(case, "incident id", incident.as_str())?);
                }
                _ => {}
            }
        }
        Ok(batch)
    }

    /// Runs [`INSERT`] for the events from index `from` on, at expected version `base`;
    /// returns the sequence numbers that went in.
    async fn insert(
        &self,
        conn: &mut PgConnection,
        case: CaseId,
        base: u64,
        from: usize,
    ) -> Result<Vec<i64>, StoreError> {
        self.run(INSERT, conn, case, to_i64(base)?, from).await.map_err(StoreError::backend)
    }

    /// Runs `statement` ([`INSERT`] or [`INSERT_ALONE`]) for the events from index `from`
    /// on, at expected version `base`.
    async fn run(
        &self,
        statement: &'static str,
        conn: &mut PgConnection,
        case: CaseId,
        base: i64,
        from: usize,
    ) -> Result<Vec<i64>, sqlx::Error> {
        let sent = self.seqs.len().saturating_sub(from);
        let first = from == 0 && base == 0;
        sqlx::query_scalar(statement)
            .bind(case.as_uuid())
            .bind(base)
            .bind(self.seqs.get(from..).unwrap_or_default())
            .bind(self.ids.get(from..).unwrap_or_default())
            .bind(self.kinds.get(from..).unwrap_or_default())
            .bind(self.bodies.get(from..).unwrap_or_default())
            .bind(if first { self.customer.as_deref() } else { None })
            .bind(i64::try_from(sent).unwrap_or(i64::MAX))
            .bind(&self.incidents)
            .fetch_all(&mut *conn)
            .await
    }
}

/// The event of a one-event batch after an existing event that adds no index row (not an
/// opening, not an incident link): what [`INSERT_ONE`] can append.
fn plain_one(expected: u64, events: &[Event]) -> Option<&Event> {
    match events {
        [event] if expected > 0 && !CrossIndex::indexes(event) => Some(event),
        _ => None,
    }
}

/// The event's JSON, as stored in `body`.
fn encode_body(case: CaseId, event: &Event) -> Result<String, StoreError> {
    event.to_json().map_err(|e| unsupported(format!("case {case}: event {}: {e}", event.seq)))
}

/// Whether `INSERT_ALONE` failed because a position or an event id of the case is taken.
fn is_taken(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation() && e.constraint().is_some_and(|c| TAKEN.contains(&c)))
}

/// What the append rules need to judge a batch that did not go in whole, read in the
/// append's transaction.
struct Stored {
    /// The case's version.
    version: u64,
    /// The stored events at the batch's positions, in order.
    overlap: Vec<Event>,
    /// Where the batch's event ids sit in the case's log.
    ids: Vec<(EventId, u64)>,
}

async fn read_stored(
    conn: &mut PgConnection,
    case: CaseId,
    expected: u64,
    events: &[Event],
) -> Result<Stored, StoreError> {
    let version = version_on(&mut *conn, case).await?;
    let ids: Vec<Uuid> = events.iter().map(|e| *e.id.as_uuid()).collect();
    let last = expected.saturating_add(events.len() as u64);
    let rows: Vec<(i64, Uuid, String)> = sqlx::query_as(
        "SELECT seq, event_id, body FROM caseledger_events
         WHERE case_id = $1 AND ((seq > $2 AND seq <= $3) OR event_id = ANY($4)) ORDER BY seq",
    )
    .bind(case.as_uuid())
    .bind(to_i64(expected)?)
    .bind(to_i64(last)?)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(StoreError::backend)?;
    let mut stored = Stored { version, overlap: Vec::new(), ids: Vec::new() };
    for (seq, id, body) in rows {
        let position = u64::try_from(seq).unwrap_or(0);
        stored.ids.push((EventId::from_uuid(id), position));
        if position > expected && position <= last {
            stored.overlap.push(decode_row(case, seq, &body)?);
        }
    }
    Ok(stored)
}

/// A snapshot kept through `executor` (the pool or a transaction).
async fn write_snapshot_on<'c, E>(executor: E, snapshot: &Snapshot) -> Result<bool, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    let Some(case) = snapshot.case() else { return Ok(false) };
    sqlx::query(
        "INSERT INTO caseledger_snapshots (case_id, version, body) VALUES ($1, $2, $3)
         ON CONFLICT (case_id) DO UPDATE SET version = EXCLUDED.version, body = EXCLUDED.body
         WHERE caseledger_snapshots.version < EXCLUDED.version",
    )
    .bind(case.as_uuid())
    .bind(to_i64(snapshot.version())?)
    .bind(snapshot.as_bytes())
    .execute(executor)
    .await
    .map_err(StoreError::backend)?;
    Ok(true)
}

/// A cold load through `executor` (the pool or a transaction).
async fn load_on<'c, E>(executor: E, case: CaseId) -> Result<Loaded, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    // The events' range is a lateral subquery ordered by `seq`: the planner cannot know the
    // snapshot's version when it plans, guesses that a third of the case's rows follow it,
    // and, where `case_id` is not selective (a table of a few long cases), chose a scan of
    // the whole table and a sort (14 ms against 0.1 ms at 1e5 rows). The order matches the
    // `(case_id, seq)` index, so the index serves the range whatever the guess.
    let rows: Vec<LoadRow> = sqlx::query_as(
        "SELECT NULL::bigint AS seq, NULL::text AS body, s.body AS snapshot
         FROM caseledger_snapshots s WHERE s.case_id = $1
         UNION ALL
         SELECT e.seq, e.body, NULL
         FROM (SELECT coalesce((SELECT version FROM caseledger_snapshots WHERE case_id = $1), 1) AS version) AS b
         CROSS JOIN LATERAL (
             SELECT seq, body FROM caseledger_events WHERE case_id = $1 AND seq >= b.version ORDER BY seq
         ) AS e
         ORDER BY seq NULLS FIRST",
    )
    .bind(case.as_uuid())
    .fetch_all(executor)
    .await
    .map_err(StoreError::backend)?;
    let mut loaded = Loaded::default();
    loaded.events.reserve(rows.len());
    for row in rows {
        match row {
            (Some(seq), Some(body), _) => loaded.events.push(decode_row(case, seq, &body)?),
            (_, _, snapshot) => loaded.snapshot = snapshot.map(Snapshot::from_bytes),
        }
    }
    Ok(loaded)
}

/// The events of `case` after `after`, through `executor` (the pool or a transaction).
async fn read_after_on<'c, E>(executor: E, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT seq, body FROM caseledger_events WHERE case_id = $1 AND seq > $2 ORDER BY seq")
            .bind(case.as_uuid())
            .bind(to_i64(after)?)
            .fetch_all(executor)
            .await
            .map_err(StoreError::backend)?;
    rows.into_iter().map(|(seq, body)| decode_row(case, seq, &body)).collect()
}

async fn version_on<'c, E>(executor: E, case: CaseId) -> Result<u64, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    let version: i64 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM caseledger_events WHERE case_id = $1")
        .bind(case.as_uuid())
        .fetch_one(executor)
        .await
        .map_err(StoreError::backend)?;
    Ok(u64::try_from(version).unwrap_or(0))
}

/// Decodes a stored row, checking that it is the event its columns say it is.
/// Runs the idempotent `schema` in the transaction `tx` under the transaction-scoped
/// advisory lock `key`, so nodes starting together do not race to create the same tables.
pub(crate) async fn run_schema(tx: &mut PgConnection, key: i64, schema: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key).execute(&mut *tx).await.map_err(StoreError::backend)?;
    sqlx::raw_sql(schema).execute(&mut *tx).await.map_err(StoreError::backend)?;
    Ok(())
}

pub(crate) fn decode_row(case: CaseId, seq: i64, body: &str) -> Result<Event, StoreError> {
    let location = || Location::row("caseledger_events", case, u64::try_from(seq).unwrap_or(0));
    let event = Event::from_json(body).map_err(|source| StoreError::Corrupt { location: location(), source })?;
    if event.case != case {
        let source = LogError::ForeignCase { seq: event.seq, expected: case, found: event.case };
        return Err(StoreError::Inconsistent { location: location(), source: Box::new(source) });
    }
    if i64::try_from(event.seq).ok() != Some(seq) {
        let expected = u64::try_from(seq).unwrap_or(0);
        let source = LogError::SequenceGap { expected, found: event.seq };
        return Err(StoreError::Inconsistent { location: location(), source: Box::new(source) });
    }
    Ok(event)
}

/// PostgreSQL `text` cannot hold U+0000; an index key with one is refused before any
/// statement runs, so a host's transaction is not aborted by it.
fn index_key(case: CaseId, what: &str, key: &str) -> Result<String, StoreError> {
    if key.contains('\0') {
        return Err(unsupported(format!("case {case}: a {what} with U+0000 cannot be indexed in PostgreSQL")));
    }
    Ok(key.to_owned())
}

fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| unsupported(format!("{n} is beyond PostgreSQL's bigint")))
}

/// Something the schema cannot hold.
fn unsupported(message: String) -> StoreError {
    StoreError::backend(message)
}

/// The store contract, awaited: each method is the inherent one of the same name.
impl AsyncStore for PgStore {
    fn append(
        &self,
        case: CaseId,
        expected: u64,
        events: &[Event],
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send {
        PgStore::append(self, case, expected, events)
    }

    fn read_after(&self, case: CaseId, after: u64) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send {
        PgStore::read_after(self, case, after)
    }

    fn version(&self, case: CaseId) -> impl Future<Output = Result<u64, StoreError>> + Send {
        PgStore::version(self, case)
    }

    fn read_after_many(
        &self,
        reads: &[(CaseId, u64)],
    ) -> impl Future<Output = Result<Vec<Vec<Event>>, StoreError>> + Send {
        PgStore::read_after_many(self, reads)
    }

    fn cases(&self) -> impl Future<Output = Result<Vec<CaseId>, StoreError>> + Send {
        PgStore::cases(self)
    }

    fn customer_cases(&self, customer: &CustomerRef) -> impl Future<Output = Result<Vec<CaseId>, StoreError>> + Send {
        PgStore::customer_cases(self, customer)
    }

    fn incident_cases(&self, incident: &IncidentId) -> impl Future<Output = Result<Vec<CaseId>, StoreError>> + Send {
        PgStore::incident_cases(self, incident)
    }

    fn write_snapshot(&self, snapshot: &Snapshot) -> impl Future<Output = Result<bool, StoreError>> + Send {
        PgStore::write_snapshot(self, snapshot)
    }

    fn read_snapshot(&self, case: CaseId) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send {
        PgStore::read_snapshot(self, case)
    }

    fn load(&self, case: CaseId) -> impl Future<Output = Result<Loaded, StoreError>> + Send {
        PgStore::load(self, case)
    }
}

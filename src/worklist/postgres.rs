//! The worklist in PostgreSQL (feature `postgres`): its tables, the projection that
//! writes them through [`PgRunner`](crate::projection::PgRunner), and the queries.

use std::collections::HashMap;

use sqlx::postgres::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::query::Filter;
use super::{Breach, Cursor, Page, Query, Row};
use crate::case::Case;
use crate::deadline::{Deadline, DeadlineKind, Deadlines};
use crate::error::{Location, LogError, StoreError};
use crate::event::Event;
use crate::id::CaseId;
use crate::projection::PgProjection;
use crate::store::{decode_row, run_schema, PgStore};

/// The worklist kept in PostgreSQL tables: a [`PgProjection`] for
/// [`PgRunner`](crate::projection::PgRunner), and the same [`Query`]s and sweep as the
/// in-process [`Worklist`](super::Worklist), each answered by one indexed query.
///
/// Each event re-derives its case's [`Row`] with [`Row::of`] from the case folded up to
/// it. The folded cases are cached in memory between events (the latest
/// [`PgWorklist::CACHED_CASES`] open cases at most); a case not cached, or cached at
/// another version (after a restart or a rolled-back page), is replayed from the
/// store's events in the runner's transaction. The tables' content is a function of
/// the log alone, so it equals a scan of every replayed case.
#[derive(Debug)]
pub struct PgWorklist {
    deadlines: Deadlines,
    cache: HashMap<CaseId, Case>,
}

/// Advisory lock key taken while the worklist's tables are created.
const MIGRATE_LOCK: i64 = 0x6361_7365_776f_726b;

/// Due-time columns for "no deadline": after every real time.
const NEVER: (i64, i32) = (i64::MAX, 0);

impl PgWorklist {
    /// The tables and indexes [`PgWorklist::migrate`] creates, as SQL.
    ///
    #[doc = concat!("```sql\n", include_str!("schema.sql"), "```")]
    pub const SCHEMA: &'static str = include_str!("schema.sql");

    /// The checkpoint name of the worklist's runner.
    pub const NAME: &'static str = "caseledger_worklist";

    /// How many folded cases the projection keeps between events; beyond, it forgets
    /// them all and replays each from the store when its next event comes.
    pub const CACHED_CASES: usize = 100_000;

    /// A worklist projection whose rows carry deadlines under `deadlines`. After a change
    /// of `deadlines`, rebuild ([`PgRunner::rebuild`](crate::projection::PgRunner::rebuild)).
    #[must_use]
    pub fn new(deadlines: Deadlines) -> Self {
        Self { deadlines, cache: HashMap::new() }
    }

    /// Creates the worklist's tables if they are missing (after [`PgStore::migrate`]).
    /// Idempotent, and safe when several nodes start at once.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database refuses.
    pub async fn migrate(store: &PgStore) -> Result<(), StoreError> {
        let mut tx = store.pool().begin().await.map_err(StoreError::backend)?;
        run_schema(&mut tx, MIGRATE_LOCK, Self::SCHEMA).await?;
        tx.commit().await.map_err(StoreError::backend)
    }

    /// One page of the rows `query` selects, in the worklist order: one query on the
    /// index that serves it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails or a stored row does not decode.
    pub async fn page(store: &PgStore, query: &Query) -> Result<Page, StoreError> {
        let Some((lower, upper)) = query.range() else {
            return Ok(Page::from_rows(Vec::new(), query.limit));
        };
        let (column, value) = match &query.filter {
            Filter::Owner(id) => ("owner_id", Some(id.as_str())),
            Filter::Department(d) => ("department", Some(d.as_str())),
            Filter::Customer(c) => ("customer", Some(c.as_str())),
            Filter::All | Filter::Breached(_) | Filter::DueWithin(..) => ("", None),
        };
        let filter = if value.is_some() { format!("{column} = $7 AND") } else { String::new() };
        // The bounds are always bound: the first place before every row and the last
        // after every row stand for "unbounded".
        let sql = format!(
            "SELECT row_json FROM caseledger_worklist
             WHERE {filter} (due_s, due_ns, case_id) > ($1, $2, $3) AND (due_s, due_ns, case_id) <= ($4, $5, $6)
             ORDER BY due_s, due_ns, case_id
             LIMIT $8"
        );
        let (ls, lns, lcase) = lower.map_or((i64::MIN, 0, Uuid::nil()), |c| place(&c));
        let (us, uns, ucase) = upper.map_or((i64::MAX, i32::MAX, Uuid::max()), |c| place(&c));
        let limit = i64::try_from(query.limit.saturating_add(1)).unwrap_or(i64::MAX);
        let bodies: Vec<String> = sqlx::query_scalar(&sql)
            .bind(ls)
            .bind(lns)
            .bind(lcase)
            .bind(us)
            .bind(uns)
            .bind(ucase)
            .bind(value.unwrap_or_default())
            .bind(limit)
            .fetch_all(store.pool())
            .await
            .map_err(StoreError::backend)?;
        let rows = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                serde_json::from_str(body)
                    .map_err(|e| StoreError::backend(format!("row {i} of caseledger_worklist does not decode: {e}")))
            })
            .collect::<Result<Vec<Row>, _>>()?;
        Ok(Page::from_rows(rows, query.limit))
    }

    /// The sweep (S5), as [`Worklist::breached_between`](super::Worklist::breached_between):
    /// every deadline of an open case due after `after` and at or before `until`, by due
    /// time, then case. One range query on the deadline index.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails.
    pub async fn breached_between(
        store: &PgStore,
        after: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<Breach>, StoreError> {
        if until <= after {
            return Ok(Vec::new());
        }
        let (a, b) = (split(after), split(until));
        let rows: Vec<(Uuid, String, i64, i32)> = sqlx::query_as(
            "SELECT case_id, kind, due_s, due_ns FROM caseledger_worklist_deadlines
             WHERE (due_s, due_ns) > ($1, $2) AND (due_s, due_ns) <= ($3, $4)
             ORDER BY due_s, due_ns, case_id, kind",
        )
        .bind(a.0)
        .bind(a.1)
        .bind(b.0)
        .bind(b.1)
        .fetch_all(store.pool())
        .await
        .map_err(StoreError::backend)?;
        rows.into_iter()
            .map(|(case, kind, s, ns)| {
                let kind = match kind.as_str() {
                    "first_response" => DeadlineKind::FirstResponse,
                    "next_update" => DeadlineKind::NextUpdate,
                    other => {
                        return Err(StoreError::backend(format!("unknown deadline kind {other:?} in the worklist")))
                    }
                };
                let due_at = join(s, ns)?;
                Ok(Breach { case: CaseId::from_uuid(case), deadline: Deadline { kind, due_at } })
            })
            .collect()
    }

    /// The case `event` applies to, folded up to the event before it.
    async fn case_before(&mut self, conn: &mut PgConnection, event: &Event) -> Result<Option<Case>, StoreError> {
        if let Some(case) = self.cache.remove(&event.case).filter(|c| c.version().saturating_add(1) == event.seq) {
            return Ok(Some(case));
        }
        if event.seq <= 1 {
            return Ok(None);
        }
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT seq, body FROM caseledger_events WHERE case_id = $1 AND seq < $2 ORDER BY seq")
                .bind(event.case.as_uuid())
                .bind(i64::try_from(event.seq).unwrap_or(i64::MAX))
                .fetch_all(&mut *conn)
                .await
                .map_err(StoreError::backend)?;
        let events =
            rows.iter().map(|(seq, body)| decode_row(event.case, *seq, body)).collect::<Result<Vec<_>, _>>()?;
        Case::replay(&events).map(Some).map_err(|e| inconsistent(event, e))
    }
}

impl PgProjection for PgWorklist {
    type Error = StoreError;

    fn name(&self) -> &str {
        Self::NAME
    }

    async fn apply(&mut self, conn: &mut PgConnection, event: &Event) -> Result<(), StoreError> {
        let case = match self.case_before(conn, event).await? {
            Some(mut case) => {
                case.apply(event).map_err(|e| inconsistent(event, e))?;
                case
            }
            None => Case::from_opened(event).map_err(|e| inconsistent(event, e))?,
        };
        let id = event.case.as_uuid();
        sqlx::query("DELETE FROM caseledger_worklist_deadlines WHERE case_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::backend)?;
        match Row::of(&case, &self.deadlines) {
            None => {
                sqlx::query("DELETE FROM caseledger_worklist WHERE case_id = $1")
                    .bind(id)
                    .execute(&mut *conn)
                    .await
                    .map_err(StoreError::backend)?;
            }
            Some(row) => {
                let (s, ns) = row.next_deadline.map_or(NEVER, |d| split(d.due_at));
                let body = serde_json::to_string(&row).map_err(StoreError::backend)?;
                sqlx::query(
                    "INSERT INTO caseledger_worklist (case_id, customer, owner_id, department, waiting_on, due_s, due_ns, row_json)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (case_id) DO UPDATE SET customer = $2, owner_id = $3, department = $4,
                         waiting_on = $5, due_s = $6, due_ns = $7, row_json = $8",
                )
                .bind(id)
                .bind(row.customer.as_str())
                .bind(row.owner.id.as_str())
                .bind(row.owner.department.as_str())
                .bind(row.waiting_on.as_str())
                .bind(s)
                .bind(ns)
                .bind(body)
                .execute(&mut *conn)
                .await
                .map_err(StoreError::backend)?;
                let due = self.deadlines.due(&case);
                if !due.is_empty() {
                    let kinds: Vec<&str> = due.iter().map(|d| kind_name(d.kind)).collect();
                    let (secs, nanos): (Vec<i64>, Vec<i32>) = due.iter().map(|d| split(d.due_at)).unzip();
                    sqlx::query(
                        "INSERT INTO caseledger_worklist_deadlines (case_id, kind, due_s, due_ns)
                         SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::integer[])",
                    )
                    .bind(id)
                    .bind(kinds)
                    .bind(secs)
                    .bind(nanos)
                    .execute(&mut *conn)
                    .await
                    .map_err(StoreError::backend)?;
                }
            }
        }
        if !case.is_closed() {
            if self.cache.len() >= Self::CACHED_CASES {
                self.cache.clear();
            }
            self.cache.insert(event.case, case);
        }
        Ok(())
    }

    async fn reset(&mut self, conn: &mut PgConnection) -> Result<(), StoreError> {
        self.cache.clear();
        for table in ["caseledger_worklist", "caseledger_worklist_deadlines"] {
            sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *conn).await.map_err(StoreError::backend)?;
        }
        Ok(())
    }

    fn rolled_back(&mut self) {
        // Cached cases may be ahead of what committed; a version check would catch most
        // of it, but forgetting is simpler and always right.
        self.cache.clear();
    }
}

fn inconsistent(event: &Event, source: LogError) -> StoreError {
    StoreError::Inconsistent {
        location: Location::row("caseledger_events", event.case, event.seq),
        source: Box::new(source),
    }
}

fn kind_name(kind: DeadlineKind) -> &'static str {
    match kind {
        DeadlineKind::FirstResponse => "first_response",
        _ => "next_update",
    }
}

/// A time as (seconds, nanoseconds) since 1970: ordered as the time is.
fn split(at: OffsetDateTime) -> (i64, i32) {
    (at.unix_timestamp(), i32::try_from(at.nanosecond()).unwrap_or(0))
}

fn join(s: i64, ns: i32) -> Result<OffsetDateTime, StoreError> {
    let nanos = i128::from(s) * 1_000_000_000 + i128::from(ns);
    OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(StoreError::backend)
}

/// A cursor's place in the table's order.
fn place(cursor: &Cursor) -> (i64, i32, Uuid) {
    let (s, ns) = cursor.due().map_or(NEVER, split);
    (s, ns, *cursor.case().as_uuid())
}

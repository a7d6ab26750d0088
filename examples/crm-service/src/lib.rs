//! A CRM's case service on PostgreSQL, the whole host boundary in one file: each command runs
//! in the service's transaction through the repository, with its outbox rows (and the customer's
//! row) in that transaction; a read model (the board) kept by the projection runner from the feed;
//! `Idempotency-Key`/`If-Match` in, `ETag` out, the library's error reports and command log lines.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use caseledger::error::StoreError;
use caseledger::http::{CommandHeaders, ETag};
use caseledger::projection::{PgProjection, PgRunner};
use caseledger::{
    Actor, AsyncRepository, CaseId, CaseRequest, Command, Error, Event, EventKind, Opening, PgStore, Staff,
};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgConnection;
use time::OffsetDateTime;
use tokio::sync::Mutex;

/// The service's own tables: its customers, the outbox a mailer drains, the board.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS crm_customers (id text PRIMARY KEY, cases int NOT NULL);
CREATE TABLE IF NOT EXISTS crm_outbox (case_id uuid, seq bigint, topic text NOT NULL, PRIMARY KEY (case_id, seq));
CREATE TABLE IF NOT EXISTS crm_board (case_id uuid PRIMARY KEY, customer text, owner text, status text, version bigint);";

/// One event into its case's board row: what the event names, the rest as it was.
const BOARD_UPSERT: &str = "INSERT INTO crm_board VALUES ($1, $2, $3, $4, $5) ON CONFLICT (case_id) DO UPDATE SET
    owner = coalesce($3, crm_board.owner), status = coalesce($4, crm_board.status), version = $5";

/// What the handlers share: the repository and the board's projection runner.
#[derive(Debug)]
pub struct Crm {
    repo: AsyncRepository<PgStore>,
    board: Mutex<PgRunner<Board>>,
}

impl Crm {
    /// The service over `store`, creating the library's tables and its own.
    pub async fn start(store: PgStore) -> Result<Arc<Self>, Error> {
        store.migrate().await?;
        sqlx::raw_sql(SCHEMA).execute(store.pool()).await.map_err(StoreError::backend)?;
        let repo = AsyncRepository::new(store, caseledger::Rules::default());
        Ok(Arc::new(Self { repo, board: Mutex::new(PgRunner::new(Board)) }))
    }
}

/// The HTTP API.
pub fn router(crm: Arc<Crm>) -> Router {
    Router::new()
        .route("/cases", post(open))
        .route("/cases/{id}", get(case))
        .route("/cases/{id}/commands", post(command))
        .route("/board/{owner}", get(board))
        .with_state(crm)
}

/// A failed request: the library's error report, or the service's own answer.
struct Fail(Box<Response>);

impl<E: Into<Error>> From<E> for Fail {
    fn from(err: E) -> Self {
        Self(Box::new(err.into().into_response()))
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        *self.0
    }
}

fn db(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Fail {
    StoreError::backend(err).into()
}

/// Who acts: `X-Staff: ana/software` stands in for the CRM's sign-in.
fn staff(headers: &HeaderMap) -> Result<Staff, Fail> {
    let text = headers.get("x-staff").and_then(|v| v.to_str().ok()).unwrap_or_default();
    match text.split_once('/') {
        Some((id, department)) if !id.is_empty() && !department.is_empty() => Ok(Staff::new(id, department)),
        _ => Err(Fail(Box::new(StatusCode::UNAUTHORIZED.into_response()))),
    }
}

#[derive(Deserialize)]
struct NewCase {
    customer: String,
    outcome: String,
}

async fn open(State(crm): State<Arc<Crm>>, headers: HeaderMap, Json(new): Json<NewCase>) -> Result<Response, Fail> {
    let (by, id) = (staff(&headers)?, CaseId::from_uuid(uuid::Uuid::now_v7()));
    let mut tx = crm.repo.begin().await?;
    let opening = Opening::new(new.customer.as_str(), new.outcome, by.clone());
    let opened = tx.open(id, opening, &Actor::Staff(by), OffsetDateTime::now_utc()).await?.events;
    let customer =
        "INSERT INTO crm_customers VALUES ($1, 1) ON CONFLICT (id) DO UPDATE SET cases = crm_customers.cases + 1";
    sqlx::query(customer).bind(&new.customer).execute(&mut *tx).await.map_err(db)?;
    outbox(&mut tx, &opened).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, ETag(1), Json(json!({ "id": id }))).into_response())
}

async fn command(
    State(crm): State<Arc<Crm>>,
    Path(id): Path<CaseId>,
    headers: HeaderMap,
    Json(command): Json<Command>,
) -> Result<Response, Fail> {
    let request = CaseRequest::new(id, command, staff(&headers)?, OffsetDateTime::now_utc());
    let request = CommandHeaders::from_headers(&headers)?.apply(request);
    let mut tx = crm.repo.begin().await?;
    let done = tx.run(request).await?;
    if !done.already_done {
        outbox(&mut tx, &done.events).await?;
    }
    tx.commit().await?;
    Ok((ETag(done.version), Json(json!({ "events": done.events, "version": done.version }))).into_response())
}

/// One outbox row per event, in the command's transaction (a replayed request adds none).
async fn outbox(conn: &mut PgConnection, events: &[Event]) -> Result<(), Fail> {
    let seqs: Vec<i64> = events.iter().map(|e| i64::try_from(e.seq)).collect::<Result<_, _>>().map_err(db)?;
    let topics: Vec<&str> = events.iter().map(|e| e.what.tag()).collect();
    let sql = "INSERT INTO crm_outbox SELECT $1, * FROM unnest($2::bigint[], $3::text[]) ON CONFLICT DO NOTHING";
    let case = events.first().map(|e| *e.case.as_uuid());
    sqlx::query(sql).bind(case).bind(seqs).bind(topics).execute(conn).await.map_err(db).map(drop)
}

async fn case(State(crm): State<Arc<Crm>>, Path(id): Path<CaseId>) -> Result<Response, Fail> {
    let case = crm.repo.refresh(id).await?;
    let body = json!({ "id": id, "customer": case.customer(), "owner": case.owner(), "status": case.status() });
    Ok((ETag::of(&case), Json(body)).into_response())
}

async fn board(State(crm): State<Arc<Crm>>, Path(owner): Path<String>) -> Result<Json<Value>, Fail> {
    let store = crm.repo.store();
    crm.board.lock().await.catch_up(store, 500, OffsetDateTime::now_utc()).await.map_err(db)?;
    let rows: Vec<(uuid::Uuid, String, String, i64)> =
        sqlx::query_as("SELECT case_id, customer, status, version FROM crm_board WHERE owner = $1 ORDER BY case_id")
            .bind(owner)
            .fetch_all(store.pool())
            .await
            .map_err(db)?;
    let rows = rows.into_iter().map(|(id, customer, status, v)| json!([id, customer, status, v])).collect();
    Ok(Json(Value::Array(rows)))
}

/// The board: one row per case with its owner, status and version, from the feed.
#[derive(Debug)]
pub struct Board;

impl PgProjection for Board {
    type Error = sqlx::Error;

    fn name(&self) -> &str {
        "crm_board"
    }

    async fn apply(&mut self, conn: &mut PgConnection, event: &Event) -> Result<(), sqlx::Error> {
        let (customer, owner, status) = match &event.what {
            EventKind::Opened { customer, owner, .. } => (Some(customer.as_str()), Some(owner), Some("open")),
            EventKind::Transferred { to, .. } | EventKind::Escalated { to, .. } => (None, Some(to), None),
            EventKind::Resolved { .. } => (None, None, Some("resolved")),
            EventKind::ClosedUnresolved { .. } => (None, None, Some("closed")),
            EventKind::Reopened { .. } => (None, None, Some("open")),
            _ => (None, None, None),
        };
        sqlx::query(BOARD_UPSERT)
            .bind(event.case.as_uuid())
            .bind(customer)
            .bind(owner.map(|o| o.id.as_str()))
            .bind(status)
            .bind(i64::try_from(event.seq).unwrap_or(i64::MAX))
            .execute(conn)
            .await
            .map(drop)
    }

    async fn reset(&mut self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM crm_board").execute(conn).await.map(drop)
    }
}

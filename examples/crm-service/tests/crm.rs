//! The CRM service against the real PostgreSQL `DATABASE_URL` names (`bash .ci/test`
//! starts one; without it this test fails rather than skips), in a database of its own.

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use caseledger::PgStore;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    etag: Option<String>,
    json: Value,
}

async fn call(app: &axum::Router, uri: &str, headers: &[(&str, &str)], body: Option<Value>) -> Answer {
    let mut request = Request::builder().uri(uri).method(if body.is_some() { "POST" } else { "GET" });
    for (name, value) in [("x-staff", "ana/software"), ("content-type", "application/json")].iter().chain(headers) {
        request = request.header(*name, *value);
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let response = app.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let etag = response.headers().get("etag").map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    Answer { status, etag, json: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
}

#[tokio::test]
async fn outbox_read_model_idempotency_key_and_if_match_against_postgres() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL: run `bash .ci/test`, which starts PostgreSQL");
    let admin = PgPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let name = format!("caseledger_t_{}_crm_{}", nanos / 1_000_000_000, nanos % 1_000_000_000);
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
    let options = PgConnectOptions::from_str(&url).unwrap().database(&name);
    // Two connections: a command needs one (its catch-up reads go through its transaction);
    // the projection runner holds its page's transaction while it reads the feed.
    let pool = PgPoolOptions::new().max_connections(2).connect_with(options).await.unwrap();
    let app = caseledger_crm::router(caseledger_crm::Crm::start(PgStore::new(pool.clone())).await.unwrap());
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };

    let opened = call(&app, "/cases", &[], Some(json!({"customer": "cust-7", "outcome": "my laptop works"}))).await;
    assert_eq!((opened.status, opened.etag.as_deref()), (StatusCode::CREATED, Some("\"1\"")), "{}", opened.json);
    let uri = format!("/cases/{}/commands", opened.json["id"].as_str().unwrap());
    assert_eq!(count("SELECT count(*) FROM crm_customers WHERE id = 'cust-7' AND cases = 1").await, 1);

    // A keyed note, sent twice (the response was lost): one event, one outbox row.
    let note = json!({"type": "add_note", "text": "called the customer", "visibility": "internal"});
    let key = [("idempotency-key", "note-1"), ("if-match", "\"1\"")];
    let first = call(&app, &uri, &key, Some(note.clone())).await;
    assert_eq!((first.status, first.etag.as_deref()), (StatusCode::OK, Some("\"2\"")), "{}", first.json);
    let retry = call(&app, &uri, &key, Some(note.clone())).await;
    assert_eq!(retry.json["events"], first.json["events"], "the replay answers with the stored events");
    assert_eq!(count("SELECT count(*) FROM crm_outbox").await, 2, "opened and the one note");

    // A stale If-Match writes nothing, in the store or the outbox.
    let stale = call(&app, &uri, &[("if-match", "\"1\"")], Some(note)).await;
    assert_eq!(
        (stale.status, stale.json["code"].as_str()),
        (StatusCode::PRECONDITION_FAILED, Some("precondition_failed"))
    );
    // A refused command rolls its transaction back: no outbox row.
    let resolve = call(&app, &uri, &[], Some(json!({"type": "resolve", "summary": "done"}))).await;
    assert_eq!((resolve.status, resolve.json["code"].as_str()), (StatusCode::CONFLICT, Some("outcome_unmet")));
    let bad = call(&app, &uri, &[("if-match", "soon")], Some(json!({"type": "reopen", "reason": "x"}))).await;
    assert_eq!((bad.status, bad.json["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_if_match")));
    assert_eq!(count("SELECT count(*) FROM crm_outbox").await, 2);

    let transfer = json!({"type": "transfer", "to": {"id": "bo", "department": "hardware"}, "note": "fan noise"});
    let moved = call(&app, &uri, &[("if-match", "\"2\"")], Some(transfer)).await;
    assert_eq!(moved.etag.as_deref(), Some("\"3\""), "{}", moved.json);
    let case = call(&app, &uri.replace("/commands", ""), &[], None).await;
    assert_eq!((case.etag.as_deref(), &case.json["owner"]["id"]), (Some("\"3\""), &json!("bo")));

    // The board follows the feed (other transactions on the server may hold it back a while).
    let mut rows = Value::Null;
    for _ in 0..600 {
        let board = call(&app, "/board/bo", &[], None).await;
        assert_eq!(board.status, StatusCode::OK, "{}", board.json);
        rows = board.json;
        if rows.as_array().is_some_and(|r| !r.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rows, json!([[opened.json["id"], "cust-7", "open", 3]]));
    pool.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&admin).await.unwrap();
}

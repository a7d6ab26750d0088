//! The reference helpdesk (this package) over HTTP: every endpoint, the
//! error shape and statuses, `If-Match`, `Idempotency-Key`, and every authorization
//! rule tried and refused. Requests go through the real router with `oneshot`.
//! The API tests run twice: on the embedded file store, and (feature `postgres`) on
//! PostgreSQL, in a fresh database per test on the server `DATABASE_URL` names
//! (`bash .ci/test` starts one; without it those tests fail, never skip).

use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

use caseledger_helpdesk as app;

#[cfg(feature = "postgres")]
mod database;

const ANA: &str = "ana-token-000000000000001";
const BO: &str = "bo-token-0000000000000002";

struct Env {
    /// The server behind the router (for its sweeper); `None` while it is stopped.
    app: Option<app::Shared>,
    router: Router,
    clock: Arc<Mutex<OffsetDateTime>>,
    dir: std::path::PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn env() -> Env {
    let (config, now, clock, dir) = parts("file");
    let shared = app::App::with_file_store(&config, &dir, now).unwrap();
    assert_eq!(shared.store_kind(), "file");
    logs();
    Env { app: Some(Arc::clone(&shared)), router: app::router(shared), clock, dir }
}

/// The same server with its cases in a fresh PostgreSQL database of its own (the
/// customer links stay in a directory). Fails without `DATABASE_URL`.
#[cfg(feature = "postgres")]
async fn pg_env() -> (Env, database::TestDb) {
    let db = database::TestDb::new().await;
    let (config, now, clock, dir) = parts("pg");
    let shared = app::App::with_postgres(&config, db.store().await, &dir, now).await.unwrap();
    assert_eq!(shared.store_kind(), "postgres");
    logs();
    (Env { app: Some(Arc::clone(&shared)), router: app::router(shared), clock, dir }, db)
}

/// The configuration, a clock the test moves, and an empty data directory.
fn parts(kind: &str) -> (app::Config, app::Clock, Arc<Mutex<OffsetDateTime>>, std::path::PathBuf) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("caseledger-helpdesk-http-{kind}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config: app::Config = serde_json::from_value(json!({
        "staff": [
            {"token": ANA, "id": "ana", "department": "software"},
            {"token": BO, "id": "bo", "department": "hardware"}
        ],
        // Only the sweep test starts the sweeper; it should not wait long for a tick.
        "sweep_period_ms": 20
    }))
    .unwrap();
    let clock = Arc::new(Mutex::new(datetime!(2026-11-23 09:00 UTC)));
    let tick = Arc::clone(&clock);
    // Every reading of the clock moves it on a whole second, more than a real one moves
    // between requests: requests in flight together read times further apart than the
    // repository's clock-skew tolerance (5 s) once a few have gone by. A retry after a
    // lost race decides again at a fresh reading (the repository has the server's
    // clock), never at the request's own, older time.
    let now: app::Clock = Arc::new(move || {
        let mut t = tick.lock().unwrap();
        *t += Duration::seconds(1);
        *t
    });
    (config, now, clock, dir)
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
    text: String,
}

impl Env {
    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = match body {
            Some(body) => request.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        self.send(request).await
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await.unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, json, text }
    }

    async fn get(&self, uri: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, uri, token, &[], None).await
    }

    async fn post(&self, uri: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, uri, token, &[], Some(body)).await
    }

    /// Opens a case for `customer` as ana; returns its id and the customer's secret.
    async fn open(&self, customer: &str) -> (String, String) {
        let reply =
            self.post("/api/cases", Some(ANA), json!({"customer": customer, "outcome": "my laptop works"})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let id = reply.json["case"]["id"].as_str().unwrap().to_owned();
        let link = reply.json["customer_link"].as_str().unwrap();
        (id, link.strip_prefix("/c/").unwrap().to_owned())
    }

    async fn command(&self, case: &str, token: &str, command: Value) -> Reply {
        self.post(&format!("/api/cases/{case}/commands"), Some(token), command).await
    }

    async fn version(&self, case: &str) -> u64 {
        self.get(&format!("/api/cases/{case}"), Some(ANA)).await.json["version"].as_u64().unwrap()
    }

    async fn staff_timeline(&self, case: &str) -> Vec<Value> {
        let reply = self.get(&format!("/api/cases/{case}/timeline?limit=500"), Some(ANA)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json["entries"].as_array().unwrap().clone()
    }

    fn advance(&self, by: Duration) {
        *self.clock.lock().unwrap() += by;
    }
}

fn note(text: &str) -> Value {
    json!({"type": "add_note", "text": text, "visibility": "internal"})
}

/// Asserts the `{code, category, message, details}` shape and returns the code.
fn error_code(reply: &Reply, status: StatusCode) -> String {
    assert_eq!(reply.status, status, "{}", reply.text);
    let body = reply.json.as_object().unwrap_or_else(|| panic!("not a JSON error: {}", reply.text));
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["category", "code", "details", "message"], "{}", reply.text);
    assert!(!body["message"].as_str().unwrap().is_empty());
    body["code"].as_str().unwrap().to_owned()
}

// --- logs --------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary (commands run on tokio's blocking threads, so the
/// subscriber is global).
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).init();
        captured
    })
}

fn log_text() -> String {
    String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned()
}

// --- endpoints ----------------------------------------------------------------------------

#[tokio::test]
async fn health_answers() {
    health_answers_on(env()).await;
}

async fn health_answers_on(env: Env) {
    let reply = env.get("/health", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json, json!({"status": "ok"}));
}

#[tokio::test]
async fn opening_a_case_gives_its_version_and_the_customers_link() {
    opening_a_case_gives_its_version_and_the_customers_link_on(env()).await;
}

async fn opening_a_case_gives_its_version_and_the_customers_link_on(env: Env) {
    let reply = env.post("/api/cases", Some(ANA), json!({"customer": "cust-1", "outcome": "my laptop works"})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.headers[header::ETAG], "\"1\"");
    assert_eq!(reply.json["case"]["owner"], json!({"id": "ana", "department": "software"}));
    assert_eq!(reply.json["case"]["status"], json!({"type": "open"}));
    let link = reply.json["customer_link"].as_str().unwrap();
    assert!(link.starts_with("/c/") && link.len() == 3 + 32, "{link}");
    // The same customer keeps one link across cases.
    let again = env.post("/api/cases", Some(ANA), json!({"customer": "cust-1", "outcome": "my printer prints"})).await;
    assert_eq!(again.json["customer_link"], link);
    // Another owner can be named; the one who opens is still the signed-in one.
    let for_bo = env
        .post(
            "/api/cases",
            Some(ANA),
            json!({"customer": "cust-2", "outcome": "x", "owner": {"id": "bo", "department": "hardware"}}),
        )
        .await;
    assert_eq!(for_bo.json["case"]["owner"]["id"], "bo");
    let id = for_bo.json["case"]["id"].as_str().unwrap();
    let timeline = env.staff_timeline(id).await;
    assert_eq!(timeline[0]["by"], json!({"type": "staff", "id": "ana", "department": "software"}));
}

#[tokio::test]
async fn a_bad_body_is_an_error_in_the_api_shape() {
    let env = env();
    let (case, _) = env.open("cust-1").await;
    let reply = env.call(Method::POST, &format!("/api/cases/{case}/commands"), Some(ANA), &[], None).await;
    assert_eq!(error_code(&reply, StatusCode::UNPROCESSABLE_ENTITY), "invalid_json");
    let reply = env.command(&case, ANA, json!({"type": "fly_to_the_moon"})).await;
    assert_eq!(error_code(&reply, StatusCode::UNPROCESSABLE_ENTITY), "invalid_request");
    let reply = env.get("/api/cases/not-a-case", Some(ANA)).await;
    assert_eq!(error_code(&reply, StatusCode::NOT_FOUND), "unknown_case");
    let reply = env.get("/api/cases/0190f5a3-7c1e-7a00-8000-000000000001", Some(ANA)).await;
    assert_eq!(error_code(&reply, StatusCode::NOT_FOUND), "unknown_case");
}

/// The `details.member` of an `unknown_member` refusal.
fn unknown_member(reply: &Reply) -> String {
    assert_eq!(error_code(reply, StatusCode::UNPROCESSABLE_ENTITY), "unknown_member");
    reply.json["details"]["member"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_body_refuses_a_member_it_does_not_have_and_names_it() {
    let env = env();
    let open = |body: Value| env.post("/api/cases", Some(ANA), body);
    let reply = open(json!({"customer": "cust-1", "outcome": "works", "colour": "red"})).await;
    assert_eq!(unknown_member(&reply), "colour");
    let owner = json!({"id": "ana", "department": "software", "email": "ana@example.com"});
    let reply = open(json!({"customer": "cust-1", "outcome": "works", "owner": owner})).await;
    assert_eq!(unknown_member(&reply), "owner.email");

    let (case, _) = env.open("cust-1").await;
    let mut misspelt = note("a note");
    misspelt["visibilty"] = json!("customer");
    assert_eq!(unknown_member(&env.command(&case, ANA, misspelt).await), "visibilty");
    let transfer = json!({"type": "transfer", "to": {"id": "bo", "department": "hardware", "team": "a"}, "note": "n"});
    assert_eq!(unknown_member(&env.command(&case, ANA, transfer).await), "to.team");
    let mut inner = note("inside an override");
    inner["pinned"] = json!(true);
    let overriding = json!({"type": "override", "policy": "p", "reason": "a reason long enough", "command": inner});
    assert_eq!(unknown_member(&env.command(&case, ANA, overriding).await), "command.pinned");
    assert_eq!(env.version(&case).await, 1, "nothing refused was recorded");
    // The same commands without the extra members go through.
    assert_eq!(env.command(&case, ANA, note("a note")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_case_goes_only_to_staff_in_the_configuration() {
    let env = env();
    let refused = |reply: &Reply, id: &str| {
        assert_eq!(error_code(reply, StatusCode::UNPROCESSABLE_ENTITY), "unknown_staff");
        assert_eq!(reply.json["details"]["staff"], id);
    };
    let owner = |id: &str, department: &str| json!({"customer": "cust-1", "outcome": "works", "owner": {"id": id, "department": department}});
    refused(&env.post("/api/cases", Some(ANA), owner("zed", "software")).await, "zed");
    // A configured id in another department than configured is someone else.
    refused(&env.post("/api/cases", Some(ANA), owner("bo", "software")).await, "bo");
    let (case, _) = env.open("cust-1").await;
    let to = json!({"id": "zed", "department": "hardware"});
    let transfer = json!({"type": "transfer", "to": to, "note": "take it"});
    refused(&env.command(&case, ANA, transfer).await, "zed");
    let escalate = json!({"type": "escalate", "to": to, "reason": "tier 2"});
    refused(&env.command(&case, ANA, escalate).await, "zed");
    assert_eq!(env.version(&case).await, 1, "nothing refused was recorded");
    let reply = env.post("/api/cases", Some(ANA), owner("bo", "hardware")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let transfer = json!({"type": "transfer", "to": {"id": "bo", "department": "hardware"}, "note": "take it"});
    assert_eq!(env.command(&case, ANA, transfer).await.status, StatusCode::OK);
}

#[tokio::test]
async fn health_reports_a_quarantined_case_as_degraded() {
    let mut env = env();
    let (damaged, _) = env.open("cust-1").await;
    for text in ["first note", "second note", "third note"] {
        assert_eq!(env.command(&damaged, ANA, note(text)).await.status, StatusCode::OK);
    }
    let (intact, _) = env.open("cust-2").await;
    // The server stops (its store lets go of the directory), a byte of a middle line
    // changes on disk, and the server starts again on the same directory.
    drop(std::mem::replace(&mut env.router, Router::new()));
    env.app = None;
    let log = env.dir.join("cases").join(format!("{damaged}.jsonl"));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 4);
    std::fs::write(&log, text.replacen("second note", "secand note", 1)).unwrap();
    let (config, now, _, _) = parts("unused");
    let shared = app::App::with_file_store(&config, &env.dir, now).unwrap();
    env.app = Some(Arc::clone(&shared));
    env.router = app::router(shared);

    let reply = env.get("/health", None).await;
    assert_eq!(reply.status, StatusCode::OK, "the server still answers: {}", reply.text);
    assert_eq!(reply.json["status"], "degraded", "{}", reply.text);
    let listed = reply.json["damaged"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{}", reply.text);
    assert_eq!(listed[0]["case"], damaged.as_str());
    assert_eq!(listed[0]["state"], "quarantined");
    assert_eq!(listed[0]["line"], 3, "the note's line: opened, first note, second note");
    assert!(listed[0]["file"].as_str().unwrap().ends_with(&format!("{damaged}.jsonl")));
    assert!(!listed[0]["detail"].as_str().unwrap().is_empty());
    // The damaged case is refused, the other one serves.
    assert_ne!(env.get(&format!("/api/cases/{damaged}"), Some(ANA)).await.status, StatusCode::OK);
    assert_eq!(env.get(&format!("/api/cases/{intact}"), Some(ANA)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_command_returns_its_events_and_the_new_version() {
    a_command_returns_its_events_and_the_new_version_on(env()).await;
}

async fn a_command_returns_its_events_and_the_new_version_on(env: Env) {
    let (case, _) = env.open("cust-1").await;
    let reply = env.command(&case, ANA, note("BIOS 1.9 tried")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.headers[header::ETAG], "\"2\"");
    assert_eq!(reply.json["version"], 2);
    let events = reply.json["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["what"]["text"], "BIOS 1.9 tried");
    assert_eq!(events[0]["by"]["id"], "ana");
    let case_reply = env.get(&format!("/api/cases/{case}"), Some(ANA)).await;
    assert_eq!(case_reply.json["version"], 2);
    assert_eq!(case_reply.json["brief"]["outcome"], "my laptop works");
}

#[tokio::test]
async fn resolving_before_the_customer_confirms_is_refused_and_changes_nothing() {
    resolving_before_the_customer_confirms_is_refused_and_changes_nothing_on(env()).await;
}

async fn resolving_before_the_customer_confirms_is_refused_and_changes_nothing_on(env: Env) {
    let (case, secret) = env.open("cust-1").await;
    let reply = env.command(&case, ANA, json!({"type": "resolve", "summary": "BIOS updated"})).await;
    let code = error_code(&reply, StatusCode::CONFLICT);
    assert_eq!(code, "outcome_unmet");
    assert_eq!(reply.json["category"], "conflict");
    assert_eq!(env.version(&case).await, 1, "a refused command leaves the log untouched");
    // Once the customer confirms through their own link, the owner may resolve.
    let confirmed = env.command(&case, &secret, json!({"type": "confirm_outcome", "statement": "it boots"})).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    assert_eq!(confirmed.json["events"][0]["by"], json!({"type": "customer", "id": "cust-1"}), "the customer, by name");
    let resolved = env.command(&case, ANA, json!({"type": "resolve", "summary": "fan replaced"})).await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.text);
    let case_reply = env.get(&format!("/api/cases/{case}"), Some(ANA)).await;
    assert_eq!(case_reply.json["status"], json!({"type": "resolved"}));
}

#[tokio::test]
async fn if_match_with_an_old_version_fails_its_precondition() {
    if_match_with_an_old_version_fails_its_precondition_on(env()).await;
}

async fn if_match_with_an_old_version_fails_its_precondition_on(env: Env) {
    let (case, _) = env.open("cust-1").await;
    let uri = format!("/api/cases/{case}/commands");
    let first = env.call(Method::POST, &uri, Some(ANA), &[("if-match", "\"1\"")], Some(note("first"))).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    // A second screen still showing version 1.
    let stale = env.call(Method::POST, &uri, Some(BO), &[("if-match", "\"1\"")], Some(note("second"))).await;
    assert_eq!(error_code(&stale, StatusCode::PRECONDITION_FAILED), "precondition_failed");
    assert_eq!(stale.json["category"], "precondition_failed");
    assert_eq!(stale.json["details"]["expected"], 1);
    assert_eq!(stale.json["details"]["actual"], 2);
    assert_eq!(env.version(&case).await, 2, "nothing was written");
    let fresh = env.call(Method::POST, &uri, Some(BO), &[("if-match", "W/\"2\"")], Some(note("second"))).await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    let bad = env.call(Method::POST, &uri, Some(BO), &[("if-match", "yesterday")], Some(note("third"))).await;
    assert_eq!(error_code(&bad, StatusCode::UNPROCESSABLE_ENTITY), "invalid_if_match");
    assert_eq!(env.version(&case).await, 3);
}

#[tokio::test]
async fn a_retried_post_with_the_same_idempotency_key_records_one_event() {
    a_retried_post_with_the_same_idempotency_key_records_one_event_on(env()).await;
}

async fn a_retried_post_with_the_same_idempotency_key_records_one_event_on(env: Env) {
    let (case, _) = env.open("cust-1").await;
    let uri = format!("/api/cases/{case}/commands");
    let key = [("idempotency-key", "note-7f3a")];
    let first = env.call(Method::POST, &uri, Some(ANA), &key, Some(note("called the customer"))).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    // The response was lost; the client sends the same request again, a little later.
    env.advance(Duration::seconds(30));
    let retry = env.call(Method::POST, &uri, Some(ANA), &key, Some(note("called the customer"))).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.text);
    assert_eq!(retry.json["events"], first.json["events"], "the retry answers with the events already stored");
    let notes: Vec<Value> = env.staff_timeline(&case).await.into_iter().filter(|e| e["kind"] == "note_added").collect();
    assert_eq!(notes.len(), 1, "one event");
    // The same key for another command is refused.
    let changed = env.call(Method::POST, &uri, Some(ANA), &key, Some(note("something else"))).await;
    assert_eq!(error_code(&changed, StatusCode::UNPROCESSABLE_ENTITY), "key_reused");
    let bad = env.call(Method::POST, &uri, Some(ANA), &[("idempotency-key", "")], Some(note("x"))).await;
    assert_eq!(error_code(&bad, StatusCode::UNPROCESSABLE_ENTITY), "key_empty");
    assert_eq!(env.version(&case).await, 2);
    // Opening a case is idempotent too.
    let open = [("idempotency-key", "open-1")];
    let body = json!({"customer": "cust-9", "outcome": "a working phone line"});
    let a = env.call(Method::POST, "/api/cases", Some(ANA), &open, Some(body.clone())).await;
    let b = env.call(Method::POST, "/api/cases", Some(ANA), &open, Some(body)).await;
    assert_eq!((a.status, b.status), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(a.json["case"]["id"], b.json["case"]["id"]);
    let other = env
        .call(Method::POST, "/api/cases", Some(ANA), &open, Some(json!({"customer": "cust-9", "outcome": "other"})))
        .await;
    assert_eq!(error_code(&other, StatusCode::UNPROCESSABLE_ENTITY), "idempotency_key_reused");
}

#[tokio::test]
async fn the_staff_timeline_comes_in_pages_that_match_the_whole() {
    the_staff_timeline_comes_in_pages_that_match_the_whole_on(env()).await;
}

async fn the_staff_timeline_comes_in_pages_that_match_the_whole_on(env: Env) {
    let (case, _) = env.open("cust-1").await;
    for i in 0..6 {
        assert_eq!(env.command(&case, ANA, note(&format!("note {i}"))).await.status, StatusCode::OK);
    }
    let whole = env.staff_timeline(&case).await;
    assert_eq!(whole.len(), 7);
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let reply = env.get(&format!("/api/cases/{case}/timeline?after={after}&limit=3"), Some(ANA)).await;
        assert_eq!(reply.status, StatusCode::OK);
        let entries = reply.json["entries"].as_array().unwrap();
        assert!(entries.len() <= 3);
        paged.extend(entries.iter().cloned());
        match reply.json["next_after"].as_u64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(paged, whole);
    let beyond = env.get(&format!("/api/cases/{case}/timeline?after=99"), Some(ANA)).await;
    assert_eq!(beyond.status, StatusCode::OK);
    assert_eq!(beyond.json["entries"], json!([]));
    assert_eq!(beyond.json["next_after"], Value::Null);
}

#[tokio::test]
async fn the_customer_view_holds_no_internal_note() {
    the_customer_view_holds_no_internal_note_on(env()).await;
}

async fn the_customer_view_holds_no_internal_note_on(env: Env) {
    let (case, secret) = env.open("cust-1").await;
    env.command(&case, ANA, note("SECRET: customer sounds angry")).await;
    env.command(&case, ANA, json!({"type": "add_note", "text": "We ordered a new fan.", "visibility": "customer"}))
        .await;
    for token in [secret.as_str(), ANA] {
        let reply = env.get(&format!("/api/cases/{case}/customer-view"), Some(token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert!(!reply.text.contains("SECRET"), "{}", reply.text);
        assert!(reply.text.contains("We ordered a new fan."));
        assert_eq!(reply.json["timeline"]["view"], "customer");
        assert_eq!(reply.json["timeline"]["entries"].as_array().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn a_customers_cases_are_listed_for_staff_and_for_that_customer_only() {
    a_customers_cases_are_listed_for_staff_and_for_that_customer_only_on(env()).await;
}

async fn a_customers_cases_are_listed_for_staff_and_for_that_customer_only_on(env: Env) {
    let (a, secret_1) = env.open("cust-1").await;
    let (b, _) = env.open("cust-1").await;
    let (_, secret_2) = env.open("cust-2").await;
    let listed = env.get("/api/customers/cust-1/cases", Some(BO)).await;
    assert_eq!(listed.status, StatusCode::OK);
    let ids: Vec<&str> =
        listed.json["cases"].as_array().unwrap().iter().map(|c| c["case"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&a.as_str()) && ids.contains(&b.as_str()));
    let own = env.get("/api/customers/cust-1/cases", Some(&secret_1)).await;
    assert_eq!(own.json["cases"].as_array().unwrap().len(), 2);
    assert!(own.json["cases"][0].get("owner").is_none(), "customers do not get staff fields");
    let other = env.get("/api/customers/cust-1/cases", Some(&secret_2)).await;
    assert_eq!(error_code(&other, StatusCode::FORBIDDEN), "other_customer");
}

#[tokio::test]
async fn the_queue_holds_my_open_cases_with_deadlines_breached_first() {
    the_queue_holds_my_open_cases_with_deadlines_breached_first_on(env()).await;
}

async fn the_queue_holds_my_open_cases_with_deadlines_breached_first_on(env: Env) {
    let (first, _) = env.open("cust-1").await;
    env.advance(Duration::hours(3));
    let (second, _) = env.open("cust-2").await;
    let for_bo = env
        .post(
            "/api/cases",
            Some(ANA),
            json!({"customer": "cust-3", "outcome": "x", "owner": {"id": "bo", "department": "hardware"}}),
        )
        .await;
    let bo_case = for_bo.json["case"]["id"].as_str().unwrap().to_owned();
    // First response is due 4 hours after opening (the default deadlines), warned 1 hour before.
    env.advance(Duration::minutes(90));
    let queue = env.get("/api/queue", Some(ANA)).await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.text);
    let cases = queue.json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2, "{}", queue.text);
    assert_eq!(cases[0]["case"]["id"], first.as_str());
    assert_eq!(cases[0]["deadlines"][0]["state"], "breached");
    assert_eq!(cases[0]["deadlines"][0]["kind"], "first_response");
    assert_eq!(cases[1]["case"]["id"], second.as_str());
    assert_eq!(cases[1]["deadlines"].as_array().unwrap().len(), 0);
    let bos = env.get("/api/queue", Some(BO)).await;
    let ids: Vec<&str> =
        bos.json["cases"].as_array().unwrap().iter().map(|c| c["case"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [bo_case.as_str()]);
    // A resolved case leaves the queue.
    env.command(
        &first,
        ANA,
        json!({"type": "close_unresolved", "ending": {"type": "withdrawn"}, "evidence": "customer withdrew by phone"}),
    )
    .await;
    let queue = env.get("/api/queue", Some(ANA)).await;
    assert_eq!(queue.json["cases"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn incident_cases_are_listed_for_staff() {
    incident_cases_are_listed_for_staff_on(env()).await;
}

async fn incident_cases_are_listed_for_staff_on(env: Env) {
    let (a, secret) = env.open("cust-1").await;
    env.open("cust-2").await;
    let linked = env.command(&a, ANA, json!({"type": "link_incident", "incident": "FIRE-7"})).await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text);
    let reply = env.get("/api/incidents/FIRE-7/cases", Some(BO)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let cases = reply.json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0]["id"], a.as_str());
    let customer = env.get("/api/incidents/FIRE-7/cases", Some(&secret)).await;
    assert_eq!(error_code(&customer, StatusCode::FORBIDDEN), "staff_only");
}

// --- who may do what -------------------------------------------------------------------------

#[tokio::test]
async fn no_token_or_an_unknown_token_is_unauthenticated() {
    let env = env();
    let (case, _) = env.open("cust-1").await;
    for token in [None, Some("not-a-token-of-this-helpdesk")] {
        for uri in ["/api/queue".to_owned(), format!("/api/cases/{case}"), format!("/api/cases/{case}/customer-view")] {
            let reply = env.get(&uri, token).await;
            assert_eq!(error_code(&reply, StatusCode::UNAUTHORIZED), "unauthenticated", "{uri}");
        }
        let reply = env.command(&case, token.unwrap_or(""), note("x")).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(env.version(&case).await, 1);
}

#[tokio::test]
async fn a_customer_never_sees_the_staff_view() {
    let env = env();
    let (case, secret) = env.open("cust-1").await;
    for uri in [format!("/api/cases/{case}"), format!("/api/cases/{case}/timeline"), "/api/queue".to_owned()] {
        let reply = env.get(&uri, Some(&secret)).await;
        assert_eq!(error_code(&reply, StatusCode::FORBIDDEN), "staff_only", "{uri}");
    }
    let open = env.post("/api/cases", Some(&secret), json!({"customer": "cust-1", "outcome": "x"})).await;
    assert_eq!(error_code(&open, StatusCode::FORBIDDEN), "staff_only");
}

#[tokio::test]
async fn a_customer_never_reaches_another_customers_case() {
    let env = env();
    let (case, _) = env.open("cust-1").await;
    let (_, intruder) = env.open("cust-2").await;
    let view = env.get(&format!("/api/cases/{case}/customer-view"), Some(&intruder)).await;
    assert_eq!(error_code(&view, StatusCode::NOT_FOUND), "unknown_case", "as if it did not exist");
    let confirm = env.command(&case, &intruder, json!({"type": "confirm_outcome", "statement": "all good"})).await;
    assert_eq!(error_code(&confirm, StatusCode::NOT_FOUND), "unknown_case");
    assert_eq!(env.version(&case).await, 1);
    // Nor through the pages.
    let page = env.get(&format!("/c/{intruder}/cases/{case}"), None).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.text.contains("my laptop works"));
    let wrong_link = env.get("/c/0123456789abcdef0123456789abcdef", None).await;
    assert_eq!(wrong_link.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_customer_cannot_do_what_only_staff_do() {
    let env = env();
    let (case, secret) = env.open("cust-1").await;
    let transfer = env
        .command(
            &case,
            &secret,
            json!({"type": "transfer", "to": {"id": "bo", "department": "hardware"}, "note": "take it"}),
        )
        .await;
    assert_eq!(error_code(&transfer, StatusCode::FORBIDDEN), "not_owner");
    let resolve = env.command(&case, &secret, json!({"type": "resolve", "summary": "done"})).await;
    assert_eq!(error_code(&resolve, StatusCode::FORBIDDEN), "not_owner");
    assert_eq!(env.version(&case).await, 1);
}

#[tokio::test]
async fn staff_cannot_act_as_someone_else() {
    let env = env();
    let (case, _) = env.open("cust-1").await;
    // Naming another actor in the body is refused, not obeyed and not silently ignored.
    let mut forged = note("written by bo, honest");
    forged["by"] = json!({"type": "staff", "id": "bo", "department": "hardware"});
    let reply = env.command(&case, ANA, forged).await;
    assert_eq!(error_code(&reply, StatusCode::UNPROCESSABLE_ENTITY), "actor_in_body");
    let mut as_customer = json!({"type": "confirm_outcome", "statement": "solved"});
    as_customer["actor"] = json!({"type": "customer"});
    let reply = env.command(&case, ANA, as_customer).await;
    assert_eq!(error_code(&reply, StatusCode::UNPROCESSABLE_ENTITY), "actor_in_body");
    let reply = env
        .post(
            "/api/cases",
            Some(ANA),
            json!({"customer": "c", "outcome": "x", "by": {"type": "staff", "id": "bo", "department": "hardware"}}),
        )
        .await;
    assert_eq!(error_code(&reply, StatusCode::UNPROCESSABLE_ENTITY), "actor_in_body");
    assert_eq!(env.version(&case).await, 1);
    // Bo is who his token says, and the owner's rights stay ana's.
    let by_bo = env.command(&case, BO, note("hardware looked")).await;
    assert_eq!(by_bo.json["events"][0]["by"]["id"], "bo");
    let transfer = env
        .command(
            &case,
            BO,
            json!({"type": "transfer", "to": {"id": "bo", "department": "hardware"}, "note": "mine now"}),
        )
        .await;
    assert_eq!(error_code(&transfer, StatusCode::FORBIDDEN), "not_owner");
    assert_eq!(env.version(&case).await, 2);
}

// --- pages over HTTP ---------------------------------------------------------------------------

fn cookie(token: &str) -> String {
    format!("caseledger_staff={token}")
}

async fn form(env: &Env, uri: &str, cookie: Option<&str>, origin: Option<&str>, fields: &[(&str, &str)]) -> Reply {
    let body: String = fields.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::HOST, "helpdesk.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    env.send(request.body(Body::from(body)).unwrap()).await
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn page(env: &Env, uri: &str, cookie: Option<&str>) -> Reply {
    let mut request = Request::builder().uri(uri).header(header::HOST, "helpdesk.test");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    env.send(request.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn signing_in_sets_a_strict_cookie_and_pages_need_it() {
    let env = env();
    let refused = form(&env, "/login", None, None, &[("token", "guess")]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let ok = form(&env, "/login", None, None, &[("token", ANA)]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let set = ok.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    let queue = page(&env, "/queue", Some(&cookie(ANA))).await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(queue.text.contains("Signed in as <strong>ana</strong>"));
    let csp = queue.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{csp}");
    for uri in ["/queue", "/cases/0190f5a3-7c1e-7a00-8000-000000000001"] {
        let anonymous = page(&env, uri, None).await;
        assert_eq!(anonymous.status, StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(anonymous.headers[header::LOCATION], "/");
        let customer_cookie = page(&env, uri, Some("caseledger_staff=0123456789abcdef0123456789abcdef")).await;
        assert_eq!(customer_cookie.status, StatusCode::SEE_OTHER, "{uri}");
    }
}

#[tokio::test]
async fn the_case_page_forms_record_commands_as_the_signed_in_agent() {
    let env = env();
    let (case, secret) = env.open("cust-1").await;
    let ana = cookie(ANA);
    let shown = page(&env, &format!("/cases/{case}"), Some(&ana)).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.text.contains("Handoff brief") && shown.text.contains("cl-timeline"));
    for action in ["note", "transfer", "work_open", "contact", "reply", "confirm", "resolve", "close"] {
        assert!(shown.text.contains(&format!("action=\"/cases/{case}/{action}\"")), "a form for {action}");
    }
    assert!(shown.text.contains(&format!("/c/{secret}")), "the customer's link is shown to staff");
    let key = "form-key-1";
    let fields = [("version", "1"), ("key", key), ("text", "<b>fan</b> loud"), ("visibility", "internal")];
    let posted = form(&env, &format!("/cases/{case}/note"), Some(&ana), Some("http://helpdesk.test"), &fields).await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.text);
    // Submitting the same form twice (a reload) records it once.
    let again = form(&env, &format!("/cases/{case}/note"), Some(&ana), None, &fields).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.text);
    let shown = page(&env, &format!("/cases/{case}"), Some(&ana)).await;
    assert_eq!(shown.text.matches("&lt;b&gt;fan&lt;/b&gt; loud").count(), 1, "escaped, once");
    // A form drawn at an older version is refused (412) with the reason on the page.
    let stale = [("version", "1"), ("key", "form-key-2"), ("text", "late"), ("visibility", "internal")];
    let refused = form(&env, &format!("/cases/{case}/note"), Some(&ana), None, &stale).await;
    assert_eq!(refused.status, StatusCode::PRECONDITION_FAILED);
    assert!(refused.text.contains("The case changed since this page was drawn"));
    // Resolving first is refused on the page, in words.
    let resolve = [("version", "2"), ("key", "form-key-3"), ("text", "fixed")];
    let refused = form(&env, &format!("/cases/{case}/resolve"), Some(&ana), None, &resolve).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.text.contains("outcome_unmet"));
    // A form posted from another site is refused.
    let cross = [("version", "2"), ("key", "form-key-4"), ("text", "csrf"), ("visibility", "internal")];
    let cross = form(&env, &format!("/cases/{case}/note"), Some(&ana), Some("http://evil.test"), &cross).await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert_eq!(env.version(&case).await, 2);
    let timeline = env.staff_timeline(&case).await;
    assert_eq!(timeline[1]["by"]["id"], "ana");
}

#[tokio::test]
async fn the_customer_page_shows_their_view_and_takes_their_answers() {
    let env = env();
    let (case, secret) = env.open("cust-1").await;
    env.command(&case, ANA, note("INTERNAL: suspect the fan")).await;
    let uri = format!("/c/{secret}/cases/{case}");
    let shown = page(&env, &uri, None).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.text.contains("Your case: “my laptop works”"));
    assert!(!shown.text.contains("INTERNAL"), "no internal note on the customer's page");
    assert!(shown.text.contains("Still not working") && shown.text.contains("Yes, it is solved"));
    let home = page(&env, &format!("/c/{secret}"), None).await;
    assert!(home.text.contains(&format!("/c/{secret}/cases/{case}")));
    let reply =
        form(&env, &format!("{uri}/reply"), None, None, &[("version", "2"), ("key", "k1"), ("text", "it beeps")]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
    let dispute =
        form(&env, &format!("{uri}/dispute"), None, None, &[("version", "3"), ("key", "k2"), ("text", "")]).await;
    assert_eq!(dispute.status, StatusCode::SEE_OTHER, "{}", dispute.text);
    let confirm =
        form(&env, &format!("{uri}/confirm"), None, None, &[("version", "4"), ("key", "k3"), ("text", "")]).await;
    assert_eq!(confirm.status, StatusCode::SEE_OTHER, "{}", confirm.text);
    let kinds: Vec<String> = env
        .staff_timeline(&case)
        .await
        .iter()
        .map(|e| format!("{} by {}", e["kind"].as_str().unwrap(), e["by"]["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds[2..],
        ["customer_replied by customer", "outcome_disputed by customer", "outcome_confirmed by customer"]
    );
    // A customer cannot reach the staff actions, even with their link.
    let sneaky =
        form(&env, &format!("{uri}/resolve"), None, None, &[("version", "5"), ("key", "k4"), ("text", "x")]).await;
    assert_eq!(sneaky.status, StatusCode::NOT_FOUND);
    assert_eq!(env.version(&case).await, 5);
}

#[tokio::test]
async fn each_command_is_logged_by_the_library_with_case_code_attempts_and_store_time() {
    let env = env();
    let (case, _) = env.open("cust-1").await;
    env.command(&case, ANA, note("logged")).await;
    env.command(&case, ANA, json!({"type": "resolve", "summary": "too early"})).await;
    let logs = log_text();
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains(&format!("case={case}"))).collect();
    assert!(
        lines.iter().any(|l| l.contains("command=\"add_note\"")
            && l.contains("code=\"ok\"")
            && l.contains("attempts=1")
            && l.contains("store_wait_us=")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("command=\"resolve\"") && l.contains("code=\"outcome_unmet\"")),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l.contains("command=\"open\"")), "{lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_on_one_case_are_all_recorded_once() {
    let env = Arc::new(env());
    let (case, _) = env.open("cust-1").await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let env = Arc::clone(&env);
        let case = case.clone();
        tasks.push(tokio::spawn(async move {
            let uri = format!("/api/cases/{case}/commands");
            // Half with a key, half without: both paths retry when another writer wins.
            let key = format!("parallel-{i}");
            let headers: Vec<(&str, &str)> = if i % 2 == 0 { vec![("idempotency-key", key.as_str())] } else { vec![] };
            env.call(Method::POST, &uri, Some(ANA), &headers, Some(note(&format!("parallel {i}")))).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    let timeline = env.staff_timeline(&case).await;
    assert_eq!(timeline.len(), 9, "the opening and eight notes, none lost or doubled");
    let seqs: Vec<u64> = timeline.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=9).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_deadline_sweep_records_a_breach_on_the_timeline_once() {
    the_deadline_sweep_records_a_breach_on_the_timeline_once_on(env()).await;
}

/// How many of the case's timeline entries are first-response breach notes.
async fn breach_notes(env: &Env, case: &str) -> usize {
    let entries = env.staff_timeline(case).await;
    entries.iter().filter(|e| e.to_string().contains("first response deadline breached")).count()
}

/// Waits (real time, a few sweeper ticks at most) until `case` holds `want` breach notes.
async fn wait_for_breach_notes(env: &Env, case: &str, want: usize) -> usize {
    let mut seen = breach_notes(env, case).await;
    for _ in 0..250 {
        if seen >= want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        seen = breach_notes(env, case).await;
    }
    seen
}

async fn the_deadline_sweep_records_a_breach_on_the_timeline_once_on(env: Env) {
    let sweeper = app::spawn_sweeper(env.app.as_ref().unwrap());
    let (late, _) = env.open("cust-1").await;
    // First response is due 4 hours after opening (the default deadlines).
    env.advance(Duration::hours(2));
    let (answered, _) = env.open("cust-2").await;
    let contact = json!({"type": "contact_customer", "channel": "email", "message": "on it"});
    let reply = env.command(&answered, ANA, contact).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // Several ticks before any deadline: nothing breached, nothing recorded.
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert_eq!(breach_notes(&env, &late).await, 0);
    env.advance(Duration::minutes(150));
    assert_eq!(wait_for_breach_notes(&env, &late, 1).await, 1, "the breach is recorded by a sweep");
    let note = env.staff_timeline(&late).await.into_iter().last().unwrap();
    assert!(note.to_string().contains("first response deadline breached"), "{note}");
    // Later sweeps (windows after the breach, the clock moved on) record it no more,
    // and the case whose customer heard from staff never breached.
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    env.advance(Duration::hours(3));
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert_eq!(breach_notes(&env, &late).await, 1, "recorded exactly once");
    assert_eq!(breach_notes(&env, &answered).await, 0);
    // The queue still shows the breach: recording it does not move the deadline.
    let queue = env.get("/api/queue", Some(ANA)).await;
    assert_eq!(queue.json["cases"][0]["case"]["id"], late.as_str(), "{}", queue.text);
    assert_eq!(queue.json["cases"][0]["deadlines"][0]["state"], "breached", "{}", queue.text);
    sweeper.abort();
}

// --- the same API on PostgreSQL -------------------------------------------------------

/// Runs each named test body against a server whose cases are in PostgreSQL.
macro_rules! on_postgres {
    ($($test:ident => $body:ident),* $(,)?) => {$(
        #[cfg(feature = "postgres")]
        #[tokio::test]
        async fn $test() {
            let (env, db) = pg_env().await;
            $body(env).await;
            db.drop().await;
        }
    )*};
}

on_postgres! {
    pg_health_answers => health_answers_on,
    pg_opening_a_case_gives_its_version_and_the_customers_link => opening_a_case_gives_its_version_and_the_customers_link_on,
    pg_a_command_returns_its_events_and_the_new_version => a_command_returns_its_events_and_the_new_version_on,
    pg_resolving_before_the_customer_confirms_is_refused_and_changes_nothing => resolving_before_the_customer_confirms_is_refused_and_changes_nothing_on,
    pg_if_match_with_an_old_version_fails_its_precondition => if_match_with_an_old_version_fails_its_precondition_on,
    pg_a_retried_post_with_the_same_idempotency_key_records_one_event => a_retried_post_with_the_same_idempotency_key_records_one_event_on,
    pg_the_staff_timeline_comes_in_pages_that_match_the_whole => the_staff_timeline_comes_in_pages_that_match_the_whole_on,
    pg_the_customer_view_holds_no_internal_note => the_customer_view_holds_no_internal_note_on,
    pg_a_customers_cases_are_listed_for_staff_and_for_that_customer_only => a_customers_cases_are_listed_for_staff_and_for_that_customer_only_on,
    pg_the_queue_holds_my_open_cases_with_deadlines_breached_first => the_queue_holds_my_open_cases_with_deadlines_breached_first_on,
    pg_incident_cases_are_listed_for_staff => incident_cases_are_listed_for_staff_on,
    pg_the_deadline_sweep_records_a_breach_on_the_timeline_once => the_deadline_sweep_records_a_breach_on_the_timeline_once_on,
}

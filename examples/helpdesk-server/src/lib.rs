//! The helpdesk application: configuration, sign-in, the JSON API and the pages.
//!
//! The binary (`src/main.rs`) serves [`router`]; the HTTP and browser tests in `tests/`
//! serve the same router from this library, so what they check is what a person runs.
//!
//! Who acts is never read from a request body: staff are who their token says
//! (`Authorization: Bearer <token>` for the API, a `SameSite=Strict` cookie set by the
//! sign-in form for pages), and a customer is whoever holds their secret link
//! (`/c/<secret>/…` pages, or the secret as the bearer token for the API). A customer
//! reaches only their own cases, and only the customer's view of them.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use caseledger::http::{CommandHeaders, ETag, Idempotency};
use caseledger::{
    id::{CustomerRef, IncidentId},
    policy::{Deadlines, Span},
    timeline::View,
    Actor, Case, CaseId, Command, Error, Event, FileStore, IdempotencyKey, Opening, PolicySet, Rules, Staff, Timeline,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

mod backend;
mod members;
mod pages;
mod serve;

pub use backend::{Backend, Damage, Options};
pub use serve::{serve, Limits};

/// The host's clock; tests pass a fixed one.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// A staff member who may sign in, and the token they sign in with.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StaffLogin {
    /// The secret the staff member signs in with.
    pub token: String,
    /// Their id.
    pub id: String,
    /// The department they act for.
    pub department: String,
}

/// The server's configuration file (JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Who may sign in as staff.
    pub staff: Vec<StaffLogin>,
    /// A `PolicySet` document (policies, limits, deadlines); the defaults when absent.
    pub policies: Option<Value>,
    /// How many folded cases the repository keeps in memory (least recently used leave).
    pub cache_capacity: usize,
    /// How often the deadline sweep runs ([`spawn_sweeper`]), in milliseconds.
    pub sweep_period_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self { staff: Vec::new(), policies: None, cache_capacity: 10_000, sweep_period_ms: 60_000 }
    }
}

impl Config {
    /// A configuration with three staff members whose tokens are fresh random secrets.
    pub fn demo() -> Self {
        let staff = [("ana", "software"), ("bo", "hardware"), ("cy", "billing")]
            .into_iter()
            .map(|(id, department)| StaffLogin { token: secret(), id: id.into(), department: department.into() })
            .collect();
        Self { staff, ..Self::default() }
    }
}

/// Everything the handlers share.
#[allow(missing_debug_implementations)] // The clock is a closure; nothing here is logged whole.
pub struct App {
    backend: Backend,
    staff: HashMap<String, Staff>,
    links: Links,
    deadlines: Deadlines,
    clock: Clock,
    /// The end of the previous sweep's window; the lock also keeps two sweeps apart.
    last_sweep: tokio::sync::Mutex<OffsetDateTime>,
    sweep_period: std::time::Duration,
}

/// The shared application state.
pub type Shared = Arc<App>;

impl App {
    /// The helpdesk over the embedded file store in `data` (cases in `data/cases`,
    /// customer links in `data/customer-links.json`).
    pub fn with_file_store(config: &Config, data: &FsPath, clock: Clock) -> Result<Shared, Box<dyn std::error::Error>> {
        let (rules, deadlines) = rules(config)?;
        let store = FileStore::open(data.join("cases"))?;
        Self::with_backend(
            config,
            Backend::file(store, rules, deadlines.clone(), config.cache_capacity, Arc::clone(&clock))?,
            deadlines,
            data,
            clock,
        )
    }

    /// The helpdesk over PostgreSQL: cases in the database behind `store` (its schema is
    /// migrated here), customer links in `data/customer-links.json`.
    #[cfg(feature = "postgres")]
    pub async fn with_postgres(
        config: &Config,
        store: caseledger::PgStore,
        data: &FsPath,
        clock: Clock,
    ) -> Result<Shared, Box<dyn std::error::Error>> {
        let (rules, deadlines) = rules(config)?;
        store.migrate().await?;
        let backend = Backend::postgres(store, rules, deadlines.clone(), config.cache_capacity, Arc::clone(&clock));
        // The worklist follows the whole feed once here, before the server answers.
        backend.catch_up(clock()).await?;
        Self::with_backend(config, backend, deadlines, data, clock)
    }

    fn with_backend(
        config: &Config,
        backend: Backend,
        deadlines: Deadlines,
        data: &FsPath,
        clock: Clock,
    ) -> Result<Shared, Box<dyn std::error::Error>> {
        let links = Links::load(data.join("customer-links.json"))?;
        // The first sweep looks back to the start of this process: a breach while the
        // server was down is still on the queue (`Deadlines::check`), not swept.
        let last_sweep = tokio::sync::Mutex::new(clock());
        let sweep_period = std::time::Duration::from_millis(config.sweep_period_ms.max(1));
        Ok(Arc::new(Self { backend, staff: staff_table(config)?, links, deadlines, clock, last_sweep, sweep_period }))
    }

    /// Where the cases are kept ("file" or "postgres"), for the log.
    pub fn store_kind(&self) -> &'static str {
        self.backend.kind()
    }

    /// The customer's secret link, made the first time it is asked for.
    pub fn customer_link(&self, customer: &CustomerRef) -> Result<String, ApiError> {
        Ok(format!("/c/{}", self.links.secret_for(customer)?))
    }

    /// Opens a case for `customer` owned by `by`, as `by` (for seeding a demo).
    pub async fn open_as(&self, by: &Staff, customer: CustomerRef, outcome: &str) -> Result<Arc<Case>, ApiError> {
        open_case(self, by, customer, outcome.to_owned(), by.clone(), None).await.map(|(case, _)| case)
    }

    /// Runs `command` as `who`, as a request would (for seeding a demo).
    pub async fn run_as(&self, who: &Identity, id: CaseId, command: Command) -> Result<Vec<Event>, ApiError> {
        run_command(self, who, id, command, &Options::default()).await.map(|(events, _)| events)
    }

    fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    /// The deadline sweep (S5): every deadline of an open case that breached since the
    /// previous sweep, from the worklist (no case is read to find them), recorded on the
    /// case's timeline with [`Deadline::breach_note`](caseledger::policy::Deadline::breach_note)
    /// as [`Actor::System`]. Returns how many notes it recorded.
    ///
    /// Each note goes in under an idempotency key naming the case, the deadline and its
    /// due time, so a sweep that failed half way and retries the same window records no
    /// breach twice; the window moves on only when every breach in it is recorded.
    ///
    /// # Errors
    ///
    /// The worklist's or the repository's failure; the window stays for the next sweep.
    pub async fn sweep(&self) -> Result<usize, ApiError> {
        let mut last = self.last_sweep.lock().await;
        let now = self.now();
        let breaches = self.backend.breached_between(*last, now).await?;
        for breach in &breaches {
            let deadline = breach.deadline;
            let key =
                format!("deadline-breach {} {:?} {}", breach.case, deadline.kind, deadline.due_at.unix_timestamp());
            let key = IdempotencyKey::new(key).map_err(|err| ApiError::from(Error::from(err)))?;
            let options = Options { expected: None, key: Some(key) };
            self.backend.run(breach.case, deadline.breach_note(), &Actor::System, move || now, &options).await?;
            tracing::info!(case = %breach.case, kind = %deadline.kind, "deadline breach recorded");
        }
        *last = now;
        Ok(breaches.len())
    }
}

/// Runs [`App::sweep`] every `sweep_period_ms` (from the configuration) until the task
/// is aborted. A failed sweep is logged and its window retried at the next tick.
pub fn spawn_sweeper(app: &Shared) -> tokio::task::JoinHandle<()> {
    let app = Arc::clone(app);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(app.sweep_period);
        // A slow sweep delays the next one rather than bunching them up.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(err) = app.sweep().await {
                tracing::warn!(error = %err.message, "deadline sweep failed; retried at the next tick");
            }
        }
    })
}

fn rules(config: &Config) -> Result<(Rules, Deadlines), Box<dyn std::error::Error>> {
    match &config.policies {
        Some(doc) => {
            let set = PolicySet::from_json(&doc.to_string())?;
            Ok((set.to_rules()?, set.deadlines.clone()))
        }
        None => {
            let deadlines = Deadlines::default()
                .first_response("4h".parse::<Span>()?)
                .next_update("2d".parse::<Span>()?)
                .warn_before("1h".parse::<Span>()?);
            Ok((Rules::default(), deadlines))
        }
    }
}

fn staff_table(config: &Config) -> Result<HashMap<String, Staff>, Box<dyn std::error::Error>> {
    let mut table = HashMap::new();
    for login in &config.staff {
        if login.token.len() < 16 {
            return Err(format!("the token of staff member {} is shorter than 16 characters", login.id).into());
        }
        if table.insert(login.token.clone(), Staff::new(login.id.as_str(), login.department.as_str())).is_some() {
            return Err(format!("two staff members share the token of {}", login.id).into());
        }
    }
    Ok(table)
}

// --- customer links -----------------------------------------------------------------

/// Per-customer secrets, kept in a JSON file so links survive a restart.
struct Links {
    path: PathBuf,
    by_secret: RwLock<HashMap<String, CustomerRef>>,
}

impl Links {
    fn load(path: PathBuf) -> Result<Self, Box<dyn std::error::Error>> {
        let by_secret = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(err) => return Err(err.into()),
        };
        Ok(Self { path, by_secret: RwLock::new(by_secret) })
    }

    fn customer(&self, secret: &str) -> Option<CustomerRef> {
        self.by_secret.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(secret).cloned()
    }

    fn secret_for(&self, customer: &CustomerRef) -> Result<String, ApiError> {
        let mut table = self.by_secret.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((secret, _)) = table.iter().find(|(_, c)| *c == customer) {
            return Ok(secret.clone());
        }
        let secret = secret();
        table.insert(secret.clone(), customer.clone());
        let text = serde_json::to_string_pretty(&*table).map_err(ApiError::internal)?;
        // Written aside and renamed, so a crash leaves the old table or the new one.
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &self.path)).map_err(ApiError::internal)?;
        Ok(secret)
    }
}

/// 128 bits from the operating system, as hex: tokens, links, form keys.
pub fn secret() -> String {
    let mut bytes = [0u8; 16];
    let from_os = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if from_os.is_err() {
        // Elsewhere, the standard library's per-process random hash keys.
        for chunk in bytes.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()),
            );
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// --- errors ---------------------------------------------------------------------------

/// An error as the API sends it: `{code, category, message, details}` with the status
/// its category maps to.
#[derive(Debug, Serialize)]
pub struct ApiError {
    /// The HTTP status the category maps to.
    #[serde(skip)]
    pub status: StatusCode,
    /// The stable error code (the library's, or the server's own such as `unauthenticated`).
    pub code: String,
    /// The error category.
    pub category: String,
    /// What went wrong, for a person.
    pub message: String,
    /// The error's fields.
    pub details: Map<String, Value>,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, category: &str, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), category: category.into(), message: message.into(), details: Map::new() }
    }

    fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "unauthenticated",
            "sign in: send a staff token or a customer's secret as `Authorization: Bearer …`",
        )
    }

    fn staff_only() -> Self {
        Self::new(StatusCode::FORBIDDEN, "staff_only", "not_allowed", "only staff may do this")
    }

    fn invalid(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, "invalid", message)
    }

    /// A customer asking for a case that is not theirs hears the same as for a case that
    /// does not exist, so links cannot be used to probe for cases.
    fn no_such_case(case: &str) -> Self {
        let mut err = Self::new(StatusCode::NOT_FOUND, "unknown_case", "not_found", format!("no case {case}"));
        err.details.insert("case".into(), Value::String(case.into()));
        err
    }

    fn internal(err: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "unavailable", err.to_string())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for ApiError {}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let status = caseledger::http::status(&err);
        let report = err.report();
        Self {
            status,
            code: report.code,
            category: report.category.as_str().to_owned(),
            message: report.message,
            details: report.details,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(&self)).into_response()
    }
}

// --- identity -------------------------------------------------------------------------

/// Who is asking, from their credentials alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// A signed-in staff member.
    Staff(Staff),
    /// A customer holding their secret link.
    Customer(CustomerRef),
}

impl Identity {
    fn actor(&self) -> Actor {
        match self {
            Self::Staff(s) => Actor::Staff(s.clone()),
            Self::Customer(c) => Actor::Customer(c.clone()),
        }
    }

    fn staff(&self) -> Result<&Staff, ApiError> {
        match self {
            Self::Staff(s) => Ok(s),
            Self::Customer(_) => Err(ApiError::staff_only()),
        }
    }

    /// Whether this identity may read `case` at all: the library's rule (staff read every
    /// case, a customer only their own), from the customer actor's identity.
    fn may_read(&self, case: &Case) -> bool {
        View::for_reader(case, &self.actor()).is_ok()
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn identity(app: &App, headers: &HeaderMap) -> Result<Identity, ApiError> {
    let token = bearer(headers).ok_or_else(ApiError::unauthenticated)?;
    if let Some(staff) = app.staff.get(token) {
        return Ok(Identity::Staff(staff.clone()));
    }
    app.links.customer(token).map(Identity::Customer).ok_or_else(ApiError::unauthenticated)
}

const STAFF_COOKIE: &str = "caseledger_staff";

fn cookie_staff(app: &App, headers: &HeaderMap) -> Option<Staff> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == STAFF_COOKIE)
        .and_then(|(_, token)| app.staff.get(token).cloned())
}

/// A form posted from another site is refused: the cookie is `SameSite=Strict`, and the
/// `Origin`, when the browser sends one, must be this server.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

// --- running commands -----------------------------------------------------------------

/// Runs the steps of one request against the app, with `?` answering in the API's
/// error shape. The backend awaits the store itself (the file store on tokio's
/// blocking pool), so nothing here blocks a worker thread.
async fn with_app<'a, T, F>(app: &'a App, work: impl FnOnce(&'a App) -> F) -> Result<T, ApiError>
where
    F: std::future::Future<Output = Result<T, ApiError>>,
{
    work(app).await
}

fn parse_case(text: &str) -> Result<CaseId, ApiError> {
    text.parse().map_err(|_| ApiError::no_such_case(text))
}

/// The case, if `who` may read it; otherwise as if it did not exist.
async fn readable_case(app: &App, who: &Identity, id: CaseId) -> Result<Arc<Case>, ApiError> {
    match app.backend.case(id).await {
        Ok(case) if who.may_read(&case) => Ok(case),
        Ok(_) => Err(ApiError::no_such_case(&id.to_string())),
        Err(err) => Err(err.into()),
    }
}

/// Runs `command` on `case` as `who`. The repository logs the command (case, command,
/// code, attempts, time in the store) inside this request's span, which names who acted;
/// a refusal before the repository is logged here with its code.
async fn run_command(
    app: &App,
    who: &Identity,
    id: CaseId,
    command: Command,
    options: &Options,
) -> Result<(Vec<Event>, u64), ApiError> {
    let span = tracing::info_span!("request", by = %who_for_log(who));
    let checked: Result<(), ApiError> = async {
        readable_case(app, who, id).await?;
        for to in members::receivers(&command) {
            configured(app, to)?;
        }
        Ok(())
    }
    .await;
    if let Err(err) = checked {
        span.in_scope(|| tracing::info!(case = %id, command = command.tag(), code = %err.code, "command refused"));
        return Err(err);
    }
    let result = async {
        let clock = Arc::clone(&app.clock);
        let done = app.backend.run(id, command, &who.actor(), move || clock(), options).await?;
        Ok((done.events, done.version))
    };
    tracing::Instrument::instrument(result, span).await
}

fn who_for_log(who: &Identity) -> String {
    match who {
        Identity::Staff(s) => s.to_string(),
        Identity::Customer(c) => format!("customer {c}"),
    }
}

/// Opens a case for `customer` owned by `owner`, as the signed-in staff member.
/// With an idempotency key the case id is derived from it, so a retried opening finds
/// the case it already made.
async fn open_case(
    app: &App,
    by: &Staff,
    customer: CustomerRef,
    outcome: String,
    owner: Staff,
    key: Option<&str>,
) -> Result<(Arc<Case>, bool), ApiError> {
    let now = app.now();
    let id = match key {
        Some(key) => keyed_case_id(by, key),
        None => {
            let mut random = [0u8; 10];
            let hex = secret();
            for (i, b) in random.iter_mut().enumerate() {
                *b = u8::from_str_radix(hex.get(i * 2..i * 2 + 2).unwrap_or("00"), 16).unwrap_or(0);
            }
            CaseId::new_v7(now, random)
        }
    };
    configured(app, &owner)?;
    let opening = Opening::new(customer.clone(), outcome.clone(), owner.clone());
    let result = match app.backend.open(id, opening, &Actor::Staff(by.clone()), now).await {
        Ok(_) => app.backend.case(id).await.map(|c| (c, true)).map_err(ApiError::from),
        Err(Error::Store(err)) if err.is_conflict() && key.is_some() => {
            // The key was used before: the same opening is a retry, another one is not.
            let case = app.backend.case(id).await?;
            if case.customer() == &customer && case.outcome() == outcome {
                Ok((case, false))
            } else {
                Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "invalid",
                    "this Idempotency-Key already opened a different case",
                ))
            }
        }
        Err(err) => Err(err.into()),
    };
    if let Ok((_, false)) = &result {
        tracing::info!(case = %id, by = %by, "open retried with the same Idempotency-Key: the case it made");
    }
    result
}

fn keyed_case_id(by: &Staff, key: &str) -> CaseId {
    let mut bytes = [0u8; 16];
    for (seed, chunk) in bytes.chunks_mut(8).enumerate() {
        // A fixed-key hash: the same staff member and key give the same id after a restart.
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new_with_keys(0x6361_7365, seed as u64);
        h.write(by.id.as_str().as_bytes());
        h.write_u8(0xff);
        h.write(key.as_bytes());
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    CaseId::from_uuid(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

// --- request headers ------------------------------------------------------------------

/// The library's idempotency key, or why `text` (a form field) is not one.
fn parse_key(text: &str) -> Result<IdempotencyKey, ApiError> {
    IdempotencyKey::new(text.trim()).map_err(|err| Error::from(err).into())
}

/// Reads a JSON body with errors in the API's own shape.
fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        let mut e = ApiError::invalid("invalid_json", format!("the body is not JSON: {err}"));
        e.details.insert("line".into(), err.line().into());
        e.details.insert("column".into(), err.column().into());
        e
    })?;
    Ok(value)
}

/// Parses a request body already read as JSON; a member the request does not have is
/// refused as `unknown_member` whether the type denies it itself or not.
fn fit<T: serde::de::DeserializeOwned + Serialize>(sent: Value) -> Result<T, ApiError> {
    let parsed: T = serde_json::from_value(sent.clone()).map_err(|err| {
        let message = err.to_string();
        match members::member_in_serde_error(&message) {
            Some(member) => members::refuse_member(member),
            None => ApiError::invalid("invalid_request", format!("the body does not fit: {message}")),
        }
    })?;
    let understood = serde_json::to_value(&parsed).map_err(ApiError::internal)?;
    match members::unknown_member(&sent, &understood) {
        Some(member) => Err(members::refuse_member(&member)),
        None => Ok(parsed),
    }
}

/// Refuses handing a case to anyone the staff configuration does not hold.
fn configured(app: &App, staff: &Staff) -> Result<(), ApiError> {
    if app.staff.values().any(|known| known == staff) {
        Ok(())
    } else {
        Err(members::refuse_staff(staff))
    }
}

// --- the router -----------------------------------------------------------------------

/// Every route of the helpdesk.
pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/api/cases", post(api_open))
        .route("/api/cases/{id}", get(api_case))
        .route("/api/cases/{id}/commands", post(api_command))
        .route("/api/cases/{id}/timeline", get(api_timeline))
        .route("/api/cases/{id}/customer-view", get(api_customer_view))
        .route("/api/customers/{customer}/cases", get(api_customer_cases))
        .route("/api/queue", get(api_queue))
        .route("/api/incidents/{incident}/cases", get(api_incident_cases))
        .merge(pages::routes())
        .with_state(app)
}

async fn health(State(app): State<Shared>) -> Response {
    match app.backend.health().await.map_err(ApiError::from) {
        // Still answering (so a balancer keeps the node), but an operator's monitor sees
        // which cases need repair.
        Ok(()) => match app.backend.damage() {
            damaged if damaged.is_empty() => Json(json!({"status": "ok"})).into_response(),
            damaged => Json(json!({"status": "degraded", "damaged": damaged})).into_response(),
        },
        Err(err) => {
            let body = json!({"status": "unavailable", "error": err});
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct OpenRequest {
    customer: CustomerRef,
    outcome: String,
    /// The first owner; the signed-in staff member when absent.
    #[serde(default)]
    owner: Option<Staff>,
}

/// A body naming who acts is refused rather than ignored: the actor is the signed-in one.
fn refuse_actor_in_body(value: &Value) -> Result<(), ApiError> {
    for field in ["by", "actor"] {
        if value.get(field).is_some() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "actor_in_body",
                "invalid",
                format!("the request names `{field}`: who acts comes from the sign-in, never from the body"),
            ));
        }
    }
    Ok(())
}

async fn api_open(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let who = identity(&app, &headers)?;
    let staff = who.staff()?.clone();
    let Idempotency(key) = Idempotency::from_headers(&headers)?;
    let raw = json_body(&body)?;
    refuse_actor_in_body(&raw)?;
    let request: OpenRequest = fit(raw)?;
    let (case, created, link) = with_app(&app, move |app| async move {
        let owner = request.owner.unwrap_or_else(|| staff.clone());
        let (case, created) =
            open_case(app, &staff, request.customer, request.outcome, owner, key.as_ref().map(IdempotencyKey::as_str))
                .await?;
        let link = app.customer_link(case.customer())?;
        Ok((case, created, link))
    })
    .await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let body = json!({"case": case_json(&case), "customer_link": link});
    Ok((status, ETag::of(&case), Json(body)).into_response())
}

/// The case as the staff API shows it: its summary, its owner and its handoff brief.
fn case_json(case: &Case) -> Value {
    let mut value = summary_json(case);
    if let Value::Object(fields) = &mut value {
        fields.insert("owner".into(), json!(case.owner()));
        fields.insert("brief".into(), json!(case.brief()));
    }
    value
}

async fn api_case(State(app): State<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ApiError> {
    let who = identity(&app, &headers)?;
    who.staff()?;
    let id = parse_case(&id)?;
    let case = readable_case(&app, &who, id).await?;
    Ok((ETag::of(&case), Json(case_json(&case))).into_response())
}

async fn api_command(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let who = identity(&app, &headers)?;
    let id = parse_case(&id)?;
    let headers = CommandHeaders::from_headers(&headers)?;
    let options = Options { expected: headers.if_match, key: headers.key };
    let raw = json_body(&body)?;
    refuse_actor_in_body(&raw)?;
    let command: Command = fit(raw)?;
    let (events, version) = run_command(&app, &who, id, command, &options).await?;
    Ok((ETag(version), Json(json!({"events": events, "version": version}))).into_response())
}

#[derive(Deserialize)]
struct PageQuery {
    #[serde(default)]
    after: u64,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    50
}

async fn api_timeline(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let who = identity(&app, &headers)?;
    who.staff()?;
    let id = parse_case(&id)?;
    let limit = page.limit.clamp(1, 500);
    let (entries, version, more) = with_app(&app, move |app| async move {
        // The page is built from the events after `after` alone (no replay of the
        // whole log), reading exactly as those entries of the whole timeline.
        let case = app.backend.case(id).await?;
        let after = page.after.min(case.version());
        let tail = app.backend.events_after(id, after).await?;
        let version = tail.last().map_or(case.version(), |e| e.seq).max(case.version());
        let timeline =
            Timeline::page(View::Staff, &case, after, limit, &tail).map_err(|e| ApiError::from(Error::from(e)))?;
        let entries = timeline.entries().to_vec();
        let more = entries.last().is_some_and(|e| e.seq < version);
        Ok((entries, version, more))
    })
    .await?;
    let next_after = if more { entries.last().map(|e| e.seq) } else { None };
    let body = json!({"view": View::Staff, "entries": entries, "next_after": next_after, "version": version});
    Ok((ETag(version), Json(body)).into_response())
}

async fn api_customer_view(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = identity(&app, &headers)?;
    let id = parse_case(&id)?;
    let (case, timeline) = with_app(&app, move |app| async move {
        let case = readable_case(app, &who, id).await?;
        let events = app.backend.events(id).await?;
        Ok((case, Timeline::customer(&events)))
    })
    .await?;
    let body = json!({
        "case": case.id(),
        "outcome": case.outcome(),
        "outcome_state": case.outcome_state(),
        "status": case.status(),
        "timeline": timeline,
    });
    Ok((ETag::of(&case), Json(body)).into_response())
}

fn summary_json(case: &Case) -> Value {
    json!({
        "id": case.id(),
        "version": case.version(),
        "customer": case.customer(),
        "outcome": case.outcome(),
        "outcome_state": case.outcome_state(),
        "status": case.status(),
    })
}

async fn api_customer_cases(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(customer): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let who = identity(&app, &headers)?;
    let customer = CustomerRef::new(customer);
    if let Identity::Customer(me) = &who {
        if *me != customer {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "other_customer",
                "not_allowed",
                "a customer sees only their own cases",
            ));
        }
    }
    let staff_view = matches!(who, Identity::Staff(_));
    let cases = app.backend.customer_cases(&customer).await.map_err(ApiError::from)?;
    let cases: Vec<Value> = cases
        .iter()
        .map(|c| {
            if staff_view {
                json!({"case": summary_json(c), "owner": c.owner()})
            } else {
                json!({"case": summary_json(c)})
            }
        })
        .collect();
    Ok(Json(json!({ "cases": cases })))
}

/// One case in an agent's queue.
#[derive(Debug)]
pub struct QueueItem {
    /// The case, folded.
    pub case: Arc<Case>,
    /// Its deadlines as of now.
    pub deadlines: Vec<caseledger::policy::DeadlineStatus>,
}

async fn queue(app: &App, staff: &Staff) -> Result<Vec<QueueItem>, ApiError> {
    let now = app.now();
    let mut items: Vec<QueueItem> = app
        .backend
        .queue(staff, now)
        .await?
        .into_iter()
        .map(|case| QueueItem { deadlines: app.deadlines.check(&case, now), case })
        .collect();
    // Breached first, then due soon, then the rest; oldest first within each.
    items.sort_by_key(|i| {
        let rank = i
            .deadlines
            .iter()
            .map(|d| if matches!(d.state, caseledger::policy::DeadlineState::Breached { .. }) { 0 } else { 1 })
            .min();
        (rank.unwrap_or(2), i.case.clock().opened_at)
    });
    Ok(items)
}

fn deadline_json(d: &caseledger::policy::DeadlineStatus) -> Value {
    let state = match d.state {
        caseledger::policy::DeadlineState::Breached { .. } => "breached",
        _ => "due_soon",
    };
    json!({"kind": d.deadline.kind, "due_at": d.deadline.due_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(), "state": state, "text": d.to_string()})
}

async fn api_queue(State(app): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let who = identity(&app, &headers)?;
    let staff = who.staff()?.clone();
    let items = queue(&app, &staff).await?;
    let items: Vec<Value> = items
        .iter()
        .map(|i| json!({"case": summary_json(&i.case), "deadlines": i.deadlines.iter().map(deadline_json).collect::<Vec<_>>()}))
        .collect();
    Ok(Json(json!({ "cases": items })))
}

async fn api_incident_cases(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(incident): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let who = identity(&app, &headers)?;
    who.staff()?;
    let incident = IncidentId::new(incident);
    let cases = app.backend.incident_cases(&incident).await.map_err(ApiError::from)?;
    Ok(Json(json!({ "cases": cases.iter().map(|c| summary_json(c)).collect::<Vec<_>>() })))
}

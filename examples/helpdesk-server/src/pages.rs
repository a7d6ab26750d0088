//! The pages people use: sign-in, the agent's queue, the case page with its forms, and
//! the customer's page behind their secret link.
//!
//! The library renders the brief and the timelines (`caseledger::html`); this module adds
//! the forms around them. Every value written into a page goes through `html::escape`.
//! Each form carries the case version it was drawn from (sent on as the expected
//! version, so a form older than the case is refused, not applied to a case its author
//! never saw) and a fresh idempotency key (so submitting it twice records it once).

use std::fmt::Write as _;

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use caseledger::html::{self, escape, Html};
use caseledger::{
    event::{Channel, Ending, Visibility},
    id::CustomerRef,
    policy::DeadlineState,
    Case, CaseId, Command, Staff, Status, Timeline,
};
use serde::Deserialize;

use super::{
    cookie_staff, open_case, queue, readable_case, run_command, same_origin, secret, with_app, ApiError, App, Identity,
    Options, Shared, STAFF_COOKIE,
};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(sign_in_page))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/queue", get(queue_page))
        .route("/cases", post(open_from_form))
        .route("/cases/{id}", get(case_page))
        .route("/cases/{id}/{action}", post(staff_action))
        .route("/c/{secret}", get(customer_home))
        .route("/c/{secret}/cases/{id}", get(customer_page))
        .route("/c/{secret}/cases/{id}/{action}", post(customer_action))
}

/// The app's own styles, beside the library's (which are scoped under `.caseledger`).
const APP_STYLE: &str = "<style>
.hd-bar{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;border-bottom:1px solid #c9ced6;padding-bottom:.5rem;margin-bottom:.8rem}
.hd-bar form{margin:0}
.hd-title{font-size:1.45rem;margin:.2rem 0}
.hd-meta{color:#3b4350;margin:.2rem 0 .8rem}
.hd-flash{border:2px solid #2f7d4f;background:#eef8f1;padding:.5rem .8rem;border-radius:4px}
.hd-error{border:2px solid #a3262a;background:#fdf0f0;padding:.5rem .8rem;border-radius:4px}
.hd-error code,.hd-meta code{font-size:.9em}
.hd-actions{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:.7rem;margin:.5rem 0 1rem}
.hd-form{border:1px solid #c9ced6;border-radius:4px;padding:.5rem .7rem;background:#fff;display:flex;flex-direction:column;gap:.35rem}
.hd-form h3{margin:0;font-size:.95rem}
.hd-form label{display:flex;flex-direction:column;font-size:.85rem;gap:.1rem}
.hd-form label.hd-inline{flex-direction:row;gap:.35rem;align-items:center}
.hd-form textarea{min-height:3.2rem;font:inherit}
.hd-form input,.hd-form select,.hd-form textarea{font:inherit;padding:.2rem .3rem}
.hd-form button,.hd-button{font:inherit;font-weight:600;padding:.3rem .8rem;cursor:pointer}
.hd-queue td,.hd-queue th{font-size:.92rem}
.hd-breached{font-weight:700}
.hd-big{font-size:1.05rem;padding:.5rem 1rem}
main.caseledger{max-width:84rem}
.hd-case{display:grid;grid-template-columns:minmax(0,1fr) 22rem;gap:1.2rem;align-items:start}
.hd-case .hd-actions{grid-template-columns:1fr;margin-top:0}
.hd-case>aside>h2{margin-top:1.2rem}
@media (max-width:62rem){.hd-case{grid-template-columns:minmax(0,1fr)}}
</style>
";

/// A page with security headers: no script may run, nothing may frame it, no referrer
/// carries a customer's link to another site, nothing is cached.
fn respond(status: StatusCode, title: &str, parts: &[Html]) -> Response {
    let mut all = vec![Html::trusted(APP_STYLE)];
    all.extend_from_slice(parts);
    let page = html::page(title, &all);
    let mut response = (status, page.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error_box(err: &ApiError) -> Html {
    let mut out = String::from("<div class=\"hd-error\" role=\"alert\"><strong>Not done: ");
    out.push_str(&escape(&err.message));
    out.push_str("</strong><br><small>code <code>");
    out.push_str(&escape(&err.code));
    out.push_str("</code>, ");
    out.push_str(&escape(&err.category));
    out.push_str("</small>");
    if err.code == "precondition_failed" || err.code == "conflict" {
        out.push_str("<br>The case changed since this page was drawn. Read the timeline again, then retry.");
    }
    out.push_str("</div>\n");
    Html::trusted(out)
}

fn error_page(err: &ApiError) -> Response {
    respond(err.status, "Not found or not allowed", &[error_box(err)])
}

fn status_words(case: &Case) -> String {
    match case.status() {
        Status::Open => "Open".to_owned(),
        Status::Resolved => "Resolved".to_owned(),
        other => format!("Closed unresolved ({})", other.to_string().trim_start_matches("closed unresolved: ")),
    }
}

// --- sign-in --------------------------------------------------------------------------

async fn sign_in_page(State(app): State<Shared>, headers: HeaderMap) -> Response {
    if cookie_staff(&app, &headers).is_some() {
        return Redirect::to("/queue").into_response();
    }
    sign_in(StatusCode::OK, None)
}

fn sign_in(status: StatusCode, problem: Option<&str>) -> Response {
    let mut out = String::from("<h1 class=\"hd-title\">Helpdesk: staff sign-in</h1>\n");
    if let Some(problem) = problem {
        let _ = writeln!(out, "<div class=\"hd-error\" role=\"alert\">{}</div>", escape(problem));
    }
    out.push_str(
        "<form class=\"hd-form\" method=\"post\" action=\"/login\" style=\"max-width:24rem\">\n\
         <label>Your staff token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" required></label>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n\
         <p class=\"hd-meta\">Customers open the personal link they were sent instead.</p>\n",
    );
    respond(status, "Sign in", &[Html::trusted(out)])
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(app): State<Shared>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    if !same_origin(&headers) {
        return error_page(&ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "not_allowed",
            "a form from another site",
        ));
    }
    if !app.staff.contains_key(form.token.trim()) {
        tracing::info!(code = "unauthenticated", "staff sign-in refused");
        return sign_in(StatusCode::UNAUTHORIZED, Some("That token is not a staff token of this helpdesk."));
    }
    let cookie = format!("{STAFF_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", form.token.trim());
    let mut response = Redirect::to("/queue").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn logout() -> Response {
    let mut response = Redirect::to("/").into_response();
    let clear = format!("{STAFF_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn staff_bar(me: &Staff) -> String {
    format!(
        "<nav class=\"hd-bar\"><a href=\"/queue\">My queue</a><span>Signed in as <strong>{}</strong> ({})</span>\
         <form method=\"post\" action=\"/logout\"><button type=\"submit\">Sign out</button></form></nav>\n",
        escape(me.id.as_str()),
        escape(me.department.as_str())
    )
}

// --- the agent's queue -----------------------------------------------------------------

async fn queue_page(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let Some(me) = cookie_staff(&app, &headers) else {
        return Redirect::to("/").into_response();
    };
    let who = me.clone();
    let items = match queue(&app, &who).await {
        Ok(items) => items,
        Err(err) => return error_page(&err),
    };
    let mut out = staff_bar(&me);
    out.push_str("<h1 class=\"hd-title\">My queue</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"hd-meta\">Open cases owned by you: {}. Deadlines breached come first.</p>",
        items.len()
    );
    if items.is_empty() {
        out.push_str("<p class=\"cl-empty\">No open case is yours.</p>\n");
    } else {
        out.push_str(
            "<table class=\"hd-queue\"><thead><tr><th>Case</th><th>Customer</th><th>Wants</th><th>Status</th><th>Deadlines</th></tr></thead><tbody>\n",
        );
        for item in &items {
            let case = &item.case;
            let _ = write!(
                out,
                "<tr><td><a href=\"/cases/{id}\">{short}</a></td><td>{customer}</td><td>{outcome}</td><td>{status}</td><td>",
                id = case.id(),
                short = escape(&case.id().to_string()[..8]),
                customer = escape(case.customer().as_str()),
                outcome = escape(case.outcome()),
                status = escape(&status_words(case)),
            );
            if item.deadlines.is_empty() {
                out.push_str("none due");
            }
            for d in &item.deadlines {
                match d.state {
                    DeadlineState::Breached { .. } => {
                        let _ = write!(out, "<div class=\"hd-breached\">BREACHED: {}</div>", escape(&d.to_string()));
                    }
                    _ => {
                        let _ = write!(out, "<div>Due soon: {}</div>", escape(&d.to_string()));
                    }
                }
            }
            out.push_str("</td></tr>\n");
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("<h2>Open a case</h2>\n");
    let _ = write!(
        out,
        "<form class=\"hd-form\" method=\"post\" action=\"/cases\" style=\"max-width:32rem\">\n\
         <input type=\"hidden\" name=\"key\" value=\"{key}\">\n\
         <label>Customer number <input name=\"customer\" required></label>\n\
         <label>What the customer wants, in their words <textarea name=\"outcome\" required></textarea></label>\n\
         <label>Owner <select name=\"owner\">{owners}</select></label>\n\
         <button type=\"submit\">Open case</button>\n</form>\n",
        key = secret(),
        owners = staff_options(&app, Some(&me), None),
    );
    respond(StatusCode::OK, "My queue", &[Html::trusted(out)])
}

/// `<option>`s for every configured staff member, by position in the directory.
fn staff_options(app: &App, selected: Option<&Staff>, except: Option<&Staff>) -> String {
    let mut out = String::new();
    for (i, s) in directory(app).iter().enumerate() {
        if Some(s) == except {
            continue;
        }
        let chosen = if Some(s) == selected { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{i}\"{chosen}>{}</option>", escape(&s.to_string()));
    }
    out
}

/// Every configured staff member, in a stable order.
fn directory(app: &App) -> Vec<Staff> {
    let mut all: Vec<Staff> = app.staff.values().cloned().collect();
    all.sort();
    all.dedup();
    all
}

fn staff_at(app: &App, index: &str) -> Result<Staff, ApiError> {
    index
        .parse::<usize>()
        .ok()
        .and_then(|i| directory(app).into_iter().nth(i))
        .ok_or_else(|| ApiError::invalid("unknown_staff", "choose a staff member from the list"))
}

#[derive(Deserialize)]
struct OpenForm {
    customer: String,
    outcome: String,
    owner: String,
    key: String,
}

async fn open_from_form(State(app): State<Shared>, headers: HeaderMap, Form(form): Form<OpenForm>) -> Response {
    let Some(me) = cookie_staff(&app, &headers) else {
        return Redirect::to("/").into_response();
    };
    if !same_origin(&headers) {
        return error_page(&ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "not_allowed",
            "a form from another site",
        ));
    }
    let opened = with_app(&app, move |app| async move {
        let owner = staff_at(app, &form.owner)?;
        open_case(app, &me, CustomerRef::new(form.customer.trim()), form.outcome, owner, Some(&form.key)).await
    })
    .await;
    match opened {
        Ok((case, _)) => Redirect::to(&format!("/cases/{}?done=open", case.id())).into_response(),
        Err(err) => error_page(&err),
    }
}

// --- the case page ----------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
struct Done {
    done: String,
}

fn done_message(action: &str) -> Option<&'static str> {
    Some(match action {
        "open" => "Case opened. Send the customer their link (below).",
        "note" => "Note added.",
        "fact" => "Fact recorded.",
        "transfer" => "Case handed over.",
        "escalate" => "Case escalated.",
        "work_open" => "Work opened.",
        "work_complete" => "Work completed.",
        "work_drop" => "Work dropped.",
        "contact" => "Contact recorded.",
        "reply" => "Reply recorded.",
        "reachability" => "Reachability recorded.",
        "conversation" => "Conversation recorded.",
        "confirm" => "Confirmation recorded.",
        "dispute" => "Recorded that it is not solved.",
        "resolve" => "Case resolved.",
        "close" => "Case closed unresolved.",
        "reopen" => "Case reopened.",
        "incident" => "Incident linked.",
        _ => return None,
    })
}

async fn case_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let Some(me) = cookie_staff(&app, &headers) else {
        return Redirect::to("/").into_response();
    };
    let flash = done_message(&done.done)
        .map(|m| Html::trusted(format!("<div class=\"hd-flash\" role=\"status\">{}</div>\n", escape(m))));
    render_case(&app, &headers, me, &id, StatusCode::OK, flash).await
}

async fn render_case(
    app: &Shared,
    headers: &HeaderMap,
    me: Staff,
    id: &str,
    status: StatusCode,
    notice: Option<Html>,
) -> Response {
    let id = match super::parse_case(id) {
        Ok(id) => id,
        Err(err) => return error_page(&err),
    };
    let who = Identity::Staff(me.clone());
    let loaded = with_app(app, move |app| async move {
        let case = readable_case(app, &who, id).await?;
        let events = app.backend.events(id).await?;
        let link = app.customer_link(case.customer())?;
        Ok((case, events, link))
    })
    .await;
    let (case, events, link) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => return error_page(&err),
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let mut head = staff_bar(&me);
    let _ = write!(
        head,
        "<h1 class=\"hd-title\">Case for {customer}: “{outcome}”</h1>\n\
         <p class=\"hd-meta\">Status: <strong>{status}</strong> · owner {owner} · version {version} · case <code>{id}</code><br>\
         The customer's own link: <code>http://{host}{link}</code></p>\n",
        customer = escape(case.customer().as_str()),
        outcome = escape(case.outcome()),
        status = escape(&status_words(&case)),
        owner = escape(&case.owner().to_string()),
        version = case.version(),
        id = case.id(),
        host = escape(host),
        link = escape(&link),
    );
    let mut parts = vec![Html::trusted(head)];
    parts.extend(notice);
    // Reading on the left, acting on the right (below, on a narrow screen).
    parts.push(Html::trusted("<div class=\"hd-case\"><div>\n"));
    parts.push(case.brief().to_html());
    parts.push(Timeline::staff(&events).to_html());
    parts.push(Html::trusted("</div><aside>\n"));
    parts.push(staff_forms(app, &me, &case));
    parts.push(Html::trusted("</aside></div>\n"));
    respond(status, &format!("Case {} · {}", case.customer(), case.outcome()), &parts)
}

/// The start of a form that posts `action` on `case`, with the version it was drawn
/// from and a fresh idempotency key.
fn form_start(out: &mut String, case: &Case, action: &str, heading: &str) {
    let _ = write!(
        out,
        "<form class=\"hd-form\" id=\"form-{action}\" method=\"post\" action=\"/cases/{id}/{action}\">\n<h3>{heading}</h3>\n\
         <input type=\"hidden\" name=\"version\" value=\"{version}\"><input type=\"hidden\" name=\"key\" value=\"{key}\">\n",
        id = case.id(),
        version = case.version(),
        key = secret(),
    );
}

const VISIBILITY: &str = "<label class=\"hd-inline\"><input type=\"radio\" name=\"visibility\" value=\"internal\" checked> Internal: staff only</label>\
<label class=\"hd-inline\"><input type=\"radio\" name=\"visibility\" value=\"customer\"> The customer sees it</label>\n";

const CHANNELS: &str = "<label>Channel <select name=\"channel\"><option value=\"email\">e-mail</option><option value=\"phone\">phone</option>\
<option value=\"sms\">text message</option><option value=\"chat\">chat</option><option value=\"web\">web</option>\
<option value=\"letter\">letter</option><option value=\"in_person\">in person</option></select></label>\n";

fn staff_forms(app: &App, me: &Staff, case: &Case) -> Html {
    let mut out = String::from("<h2>Act on this case</h2>\n<div class=\"hd-actions\">\n");
    let mut form = |action: &str, heading: &str, fields: &str, button: &str| {
        form_start(&mut out, case, action, heading);
        out.push_str(fields);
        let _ = write!(out, "<button type=\"submit\">{button}</button>\n</form>\n");
    };
    form(
        "note",
        "Add a note",
        &format!("<label>Note <textarea name=\"text\" required></textarea></label>\n{VISIBILITY}"),
        "Add note",
    );
    let others = staff_options(app, None, Some(case.owner()));
    form(
        "transfer",
        "Hand over",
        &format!("<label>To <select name=\"to\">{others}</select></label>\n<label>Handoff note <textarea name=\"text\" required></textarea></label>\n"),
        "Transfer",
    );
    form(
        "escalate",
        "Escalate",
        &format!("<label>To <select name=\"to\">{others}</select></label>\n<label>Why <textarea name=\"text\" required></textarea></label>\n"),
        "Escalate",
    );
    form(
        "contact",
        "Contact the customer",
        &format!("{CHANNELS}<label>Message <textarea name=\"text\" required></textarea></label>\n"),
        "Record contact",
    );
    form(
        "reply",
        "Record the customer's reply",
        &format!("{CHANNELS}<label>What they said <textarea name=\"text\" required></textarea></label>\n"),
        "Record reply",
    );
    let dept = escape(me.department.as_str());
    form(
        "work_open",
        "Open work",
        &format!(
            "<label>Work item id <input name=\"item\" required></label>\n<label>Department <input name=\"department\" value=\"{dept}\" required></label>\n\
             <label>What <input name=\"title\" required></label>\n"
        ),
        "Open work",
    );
    let open_items: String = case
        .open_work()
        .map(|w| {
            format!(
                "<option value=\"{id}\">{id}: {title}</option>",
                id = escape(w.id.as_str()),
                title = escape(&w.title)
            )
        })
        .collect();
    if !open_items.is_empty() {
        form(
            "work_complete",
            "Complete work",
            &format!("<label>Item <select name=\"item\">{open_items}</select></label>\n<label>What was done <textarea name=\"text\" required></textarea></label>\n"),
            "Complete work",
        );
        form(
            "work_drop",
            "Drop work",
            &format!("<label>Item <select name=\"item\">{open_items}</select></label>\n<label>Why <textarea name=\"text\" required></textarea></label>\n"),
            "Drop work",
        );
    }
    form(
        "fact",
        "Record a fact",
        &format!("<label>Name <input name=\"name\" required></label>\n<label>Value <input name=\"value\" required></label>\n{VISIBILITY}"),
        "Record fact",
    );
    form(
        "reachability",
        "Can the customer be reached?",
        &format!(
            "{CHANNELS}<label class=\"hd-inline\"><input type=\"radio\" name=\"reachable\" value=\"no\" checked> cannot be reached</label>\
             <label class=\"hd-inline\"><input type=\"radio\" name=\"reachable\" value=\"yes\"> can be reached</label>\n\
             <label>Why <input name=\"text\" required></label>\n"
        ),
        "Record",
    );
    form(
        "conversation",
        "Record a conversation with the customer",
        &format!("{CHANNELS}<label>What was said <textarea name=\"text\" required></textarea></label>\n"),
        "Record conversation",
    );
    form(
        "confirm",
        "The customer told us it is solved",
        &format!("{CHANNELS}<label>Their words <textarea name=\"text\" required></textarea></label>\n"),
        "Record confirmation",
    );
    form(
        "dispute",
        "The customer told us it is not solved",
        &format!("{CHANNELS}<label>Their words <textarea name=\"text\" required></textarea></label>\n"),
        "Record dispute",
    );
    form(
        "resolve",
        "Resolve",
        "<label>What solved it <textarea name=\"text\" required></textarea></label>\n",
        "Resolve",
    );
    form(
        "close",
        "Close without the customer's confirmation",
        "<label>Why <select name=\"ending\"><option value=\"unreachable\">unreachable</option><option value=\"withdrawn\">withdrawn</option>\
         <option value=\"duplicate\">duplicate</option></select></label>\n<label>Duplicate of case (for duplicates) <input name=\"of\"></label>\n\
         <label>Evidence <textarea name=\"text\" required></textarea></label>\n",
        "Close unresolved",
    );
    form("incident", "Link an incident", "<label>Incident id <input name=\"incident\" required></label>\n", "Link");
    if case.is_closed() {
        form("reopen", "Reopen", "<label>Why <textarea name=\"text\" required></textarea></label>\n", "Reopen");
    }
    out.push_str("</div>\n");
    Html::trusted(out)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ActionForm {
    version: Option<u64>,
    key: Option<String>,
    text: String,
    visibility: String,
    to: String,
    item: String,
    department: String,
    title: String,
    channel: String,
    reachable: String,
    ending: String,
    of: String,
    name: String,
    value: String,
    incident: String,
}

fn parse_channel(text: &str) -> Result<Channel, ApiError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| ApiError::invalid("unknown_channel", format!("no channel {text}")))
}

fn visibility(text: &str) -> Visibility {
    if text == "customer" {
        Visibility::Customer
    } else {
        Visibility::Internal
    }
}

/// The command a staff form asks for. Who acts is not in the form.
fn staff_command(app: &App, action: &str, f: ActionForm) -> Result<Command, ApiError> {
    Ok(match action {
        "note" => Command::AddNote { text: f.text, visibility: visibility(&f.visibility) },
        "fact" => Command::RecordFact { name: f.name, value: f.value, visibility: visibility(&f.visibility) },
        "transfer" => Command::Transfer { to: staff_at(app, &f.to)?, note: f.text },
        "escalate" => Command::Escalate { to: staff_at(app, &f.to)?, reason: f.text },
        "work_open" => Command::OpenWork { item: f.item.into(), department: f.department.into(), title: f.title },
        "work_complete" => Command::CompleteWork { item: f.item.into(), note: f.text },
        "work_drop" => Command::DropWork { item: f.item.into(), reason: f.text },
        "contact" => Command::ContactCustomer { channel: parse_channel(&f.channel)?, message: f.text },
        "reply" => Command::RecordReply { channel: parse_channel(&f.channel)?, message: f.text },
        "reachability" => Command::RecordReachability {
            channel: parse_channel(&f.channel)?,
            reachable: f.reachable == "yes",
            note: f.text,
        },
        "conversation" => Command::RecordConversation { channel: parse_channel(&f.channel)?, summary: f.text },
        "confirm" => Command::ReportConfirmation { channel: parse_channel(&f.channel)?, statement: f.text },
        "dispute" => Command::ReportDispute { channel: parse_channel(&f.channel)?, statement: f.text },
        "resolve" => Command::Resolve { summary: f.text },
        "close" => {
            let ending = match f.ending.as_str() {
                "withdrawn" => Ending::Withdrawn,
                "duplicate" => Ending::Duplicate {
                    of: f
                        .of
                        .trim()
                        .parse::<CaseId>()
                        .map_err(|_| ApiError::invalid("invalid_case_id", "name the case it duplicates"))?,
                },
                _ => Ending::Unreachable,
            };
            Command::CloseUnresolved { ending, evidence: f.text }
        }
        "reopen" => Command::Reopen { reason: f.text },
        "incident" => Command::LinkIncident { incident: f.incident.trim().into() },
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_action",
                "not_found",
                format!("no action {other}"),
            ))
        }
    })
}

async fn staff_action(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let Some(me) = cookie_staff(&app, &headers) else {
        return Redirect::to("/").into_response();
    };
    if !same_origin(&headers) {
        return error_page(&ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "not_allowed",
            "a form from another site",
        ));
    }
    let case = match super::parse_case(&id) {
        Ok(case) => case,
        Err(err) => return error_page(&err),
    };
    let who = Identity::Staff(me.clone());
    let done = action.clone();
    let result = with_app(&app, move |app| async move {
        let key = form.key.as_deref().map(super::parse_key).transpose()?;
        let options = Options { expected: form.version, key };
        let command = staff_command(app, &action, form)?;
        run_command(app, &who, case, command, &options).await
    })
    .await;
    match result {
        Ok(_) => Redirect::to(&format!("/cases/{case}?done={done}")).into_response(),
        Err(err) => render_case(&app, &headers, me, &id, err.status, Some(error_box(&err))).await,
    }
}

// --- the customer's pages ---------------------------------------------------------------

fn customer_of(app: &App, secret: &str) -> Result<CustomerRef, ApiError> {
    // An unknown link looks like any other missing page.
    app.links
        .customer(secret)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown_link", "not_found", "this link is not valid"))
}

async fn customer_home(State(app): State<Shared>, Path(secret): Path<String>) -> Response {
    let customer = match customer_of(&app, &secret) {
        Ok(c) => c,
        Err(err) => return error_page(&err),
    };
    let who = customer.clone();
    let cases = match app.backend.customer_cases(&who).await.map_err(ApiError::from) {
        Ok(cases) => cases,
        Err(err) => return error_page(&err),
    };
    let mut out = String::from("<h1 class=\"hd-title\">Your cases</h1>\n");
    if cases.is_empty() {
        out.push_str("<p class=\"cl-empty\">You have no case with us.</p>\n");
    }
    out.push_str("<ul>\n");
    for case in &cases {
        let _ = writeln!(
            out,
            "<li><a href=\"/c/{secret}/cases/{id}\">“{outcome}”</a>: {status}</li>",
            secret = escape(&secret),
            id = case.id(),
            outcome = escape(case.outcome()),
            status = escape(&status_words(case)),
        );
    }
    out.push_str("</ul>\n");
    respond(StatusCode::OK, "Your cases", &[Html::trusted(out)])
}

async fn customer_page(
    State(app): State<Shared>,
    Path((secret, id)): Path<(String, String)>,
    Query(done): Query<Done>,
) -> Response {
    let notice = match done.done.as_str() {
        "reply" => Some("Thank you, we have your message."),
        "confirm" => Some("Thank you for confirming."),
        "dispute" => Some("Thank you. We are on it."),
        _ => None,
    }
    .map(|m| Html::trusted(format!("<div class=\"hd-flash\" role=\"status\">{}</div>\n", escape(m))));
    render_customer(&app, &secret, &id, StatusCode::OK, notice).await
}

async fn render_customer(app: &Shared, secret: &str, id: &str, status: StatusCode, notice: Option<Html>) -> Response {
    let customer = match customer_of(app, secret) {
        Ok(c) => c,
        Err(err) => return error_page(&err),
    };
    let id = match super::parse_case(id) {
        Ok(id) => id,
        Err(err) => return error_page(&err),
    };
    let who = Identity::Customer(customer);
    let loaded = with_app(app, move |app| async move {
        let case = readable_case(app, &who, id).await?;
        let events = app.backend.events(id).await?;
        // The customer's own view, built from who they are.
        let timeline = Timeline::for_reader(&case, &who.actor(), &events).map_err(caseledger::Error::from)?;
        Ok((case, timeline))
    })
    .await;
    let (case, timeline) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => return error_page(&err),
    };
    let base = format!("/c/{}/cases/{}", escape(secret), case.id());
    let mut head = format!(
        "<nav class=\"hd-bar\"><a href=\"/c/{secret}\">All your cases</a></nav>\n\
         <h1 class=\"hd-title\">Your case: “{outcome}”</h1>\n<p class=\"hd-meta\">Status: <strong>{status}</strong>. {state}</p>\n",
        secret = escape(secret),
        outcome = escape(case.outcome()),
        status = escape(&status_words(&case)),
        state = match case.outcome_state() {
            caseledger::case::OutcomeState::Confirmed => "You confirmed it is solved.",
            caseledger::case::OutcomeState::Disputed => "You told us it is not solved yet.",
            _ => "It is solved only when you say so.",
        },
    );
    if let Some(notice) = notice {
        head.push_str(notice.as_str());
    }
    let mut forms = String::new();
    if !case.is_closed() {
        let hidden = format!(
            "<input type=\"hidden\" name=\"version\" value=\"{}\"><input type=\"hidden\" name=\"key\" value=\"{}\">\n",
            case.version(),
            super::secret()
        );
        let _ = write!(
            forms,
            "<h2>Is it solved?</h2>\n<div class=\"hd-actions\">\n\
             <form class=\"hd-form\" id=\"form-confirm\" method=\"post\" action=\"{base}/confirm\">{hidden}\
             <label>In your words (optional) <textarea name=\"text\"></textarea></label>\n\
             <button class=\"hd-big\" type=\"submit\">Yes, it is solved</button></form>\n\
             <form class=\"hd-form\" id=\"form-dispute\" method=\"post\" action=\"{base}/dispute\">{hidden}\
             <label>What still happens (optional) <textarea name=\"text\"></textarea></label>\n\
             <button class=\"hd-big\" type=\"submit\">Still not working</button></form>\n</div>\n\
             <h2>Write to us</h2>\n\
             <form class=\"hd-form\" id=\"form-reply\" method=\"post\" action=\"{base}/reply\">{hidden}\
             <label>Your message <textarea name=\"text\" required></textarea></label>\n\
             <button type=\"submit\">Send</button></form>\n"
        );
    }
    let parts = [Html::trusted(head), Html::trusted(forms), timeline.to_html()];
    respond(status, "Your case", &parts)
}

async fn customer_action(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((secret, id, action)): Path<(String, String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    if !same_origin(&headers) {
        return error_page(&ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "not_allowed",
            "a form from another site",
        ));
    }
    let customer = match customer_of(&app, &secret) {
        Ok(c) => c,
        Err(err) => return error_page(&err),
    };
    let case = match super::parse_case(&id) {
        Ok(case) => case,
        Err(err) => return error_page(&err),
    };
    let text = form.text.trim().to_owned();
    let command = match action.as_str() {
        "reply" => Command::RecordReply { channel: Channel::Web, message: form.text },
        "confirm" => {
            Command::ConfirmOutcome { statement: if text.is_empty() { "Yes, it is solved.".into() } else { text } }
        }
        "dispute" => {
            Command::DisputeOutcome { statement: if text.is_empty() { "Still not working.".into() } else { text } }
        }
        _ => return error_page(&ApiError::new(StatusCode::NOT_FOUND, "unknown_action", "not_found", "no such action")),
    };
    let who = Identity::Customer(customer);
    let key = match form.key.as_deref().map(super::parse_key).transpose() {
        Ok(key) => key,
        Err(err) => return error_page(&err),
    };
    let options = Options { expected: form.version, key };
    match run_command(&app, &who, case, command, &options).await {
        Ok(_) => Redirect::to(&format!("/c/{secret}/cases/{case}?done={action}")).into_response(),
        Err(err) => render_customer(&app, &secret, &id, err.status, Some(error_box(&err))).await,
    }
}

//! The reference helpdesk in a real browser: headless Chromium driven through
//! chromedriver (WebDriver), against the same router the server binary serves.
//!
//! Needs `chromium` and `chromedriver` (Debian's `chromium` and `chromium-driver`);
//! `.ci/setup/20-chromium.sh`, sourced by the README's test command, installs them and
//! exports `CHROMEDRIVER`. Without them these tests fail; they never skip.
//!
//! One chromedriver serves the whole test binary (a shell watchdog ends it when the
//! binary exits); each test has its own browser session with a fresh profile, and the
//! tests take turns so two browsers never compete for the machine's two cores.
//! Screenshots go to the workspace's `target/browser-artifacts/`.

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command as Process, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use caseledger::{event::Channel, id::CustomerRef, Command};
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use time::OffsetDateTime;

use caseledger_helpdesk as app;

const ANA: &str = "ana-token-000000000000001";
const BO: &str = "bo-token-0000000000000002";

/// Chromium hangs on connections the closed network never answers without these.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1400",
];

/// The one chromedriver of this test binary: its port.
fn chromedriver() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let found = Process::new(&driver).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
        assert!(
            found.is_ok_and(|s| s.success()),
            "chromedriver not found ({driver}): run the tests through `bash .ci/test`, which installs Debian's chromium and chromium-driver"
        );
        let port = StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // The watchdog ends chromedriver once this test binary has exited, however it exits.
        let watchdog = r#"driver="$1"; port="$2"; parent="$3"
"$driver" --port="$port" --allowed-ips=127.0.0.1 >/dev/null 2>&1 &
child=$!
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done
kill "$child" 2>/dev/null"#;
        // Not waited for: the watchdog outlives every test and ends with the binary.
        #[allow(clippy::zombie_processes)]
        Process::new("sh")
            .args(["-c", watchdog, "watchdog", &driver, &port.to_string(), &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not listen on port {port} within 20 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        port
    })
}

/// Tests take turns with the browser.
fn turn() -> &'static tokio::sync::Mutex<()> {
    static TURN: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    TURN.get_or_init(|| tokio::sync::Mutex::new(()))
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Server {
    base: String,
    app: app::Shared,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The helpdesk on a loopback port, over a fresh file store.
async fn server(name: &str) -> Server {
    let dir = std::env::temp_dir().join(format!("caseledger-helpdesk-browser-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config: app::Config = serde_json::from_value(json!({
        "staff": [
            {"token": ANA, "id": "ana", "department": "software"},
            {"token": BO, "id": "bo", "department": "hardware"}
        ]
    }))
    .unwrap();
    let shared = app::App::with_file_store(&config, &dir, Arc::new(OffsetDateTime::now_utc)).unwrap();
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app::router(Arc::clone(&shared));
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server { base, app: shared, dir }
}

async fn browser() -> Client {
    let port = chromedriver();
    let profile = std::env::temp_dir().join(format!(
        "caseledger-chromium-{}-{}",
        std::process::id(),
        OffsetDateTime::now_utc().unix_timestamp_nanos()
    ));
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| (*s).to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let mut options = json!({ "args": args });
    if let Ok(binary) = std::env::var("CHROMIUM") {
        options["binary"] = Value::String(binary);
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = tokio::time::timeout(
        Duration::from_secs(60),
        ClientBuilder::new(connector).capabilities(caps).connect(&format!("http://127.0.0.1:{port}")),
    )
    .await
    .expect("a browser session within 60 s")
    .expect("a browser session");
    let timeouts =
        TimeoutConfiguration::new(Some(Duration::from_secs(10)), Some(Duration::from_secs(20)), Some(Duration::ZERO));
    client.update_timeouts(timeouts).await.unwrap();
    client
}

/// Runs `scenario` in a fresh browser and always ends the session, so a failing test
/// leaves no browser behind.
async fn with_browser<F, Fut>(name: &str, scenario: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let _turn = turn().lock().await;
    let client = browser().await;
    let result = tokio::time::timeout(Duration::from_secs(120), scenario(client.clone())).await;
    if !matches!(result, Ok(Ok(()))) {
        // What the browser showed when it failed, for whoever reads the failure.
        if let Ok(png) = client.screenshot().await {
            let _ = std::fs::write(artifacts().join(format!("failure-{name}.png")), png);
        }
        if let Ok(html) = client.source().await {
            let _ = std::fs::write(artifacts().join(format!("failure-{name}.html")), html);
        }
    }
    let _ = client.close().await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(failure)) => panic!("{failure}"),
        Err(_) => panic!("the scenario took longer than 120 s"),
    }
}

/// A WebDriver error as a test failure naming the step.
trait Step<T> {
    fn step(self, what: &str) -> Result<T, String>;
}

impl<T, E: std::fmt::Debug> Step<T> for Result<T, E> {
    fn step(self, what: &str) -> Result<T, String> {
        self.map_err(|err| format!("{what}: {err:?}"))
    }
}

fn check(condition: bool, what: impl Into<String>) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(what.into())
    }
}

async fn css_text(client: &Client, css: &str) -> Result<String, String> {
    client.find(Locator::Css(css)).await.step(css)?.text().await.step(css)
}

async fn fill(client: &Client, css: &str, text: &str) -> Result<(), String> {
    let field = client.find(Locator::Css(css)).await.step(css)?;
    field.clear().await.step(css)?;
    field.send_keys(text).await.step(css)
}

/// Submits `form` and waits (bounded) until the browser has left the page it was on.
async fn submit(client: &Client, form: &str) -> Result<(), String> {
    let css = format!("{form} button[type=submit]");
    let old_page = client.find(Locator::Css("html")).await.step("the page")?;
    client.find(Locator::Css(&css)).await.step(&css)?.click().await.step(&css)?;
    let started = Instant::now();
    // An element of a page that is gone answers with an error.
    while old_page.tag_name().await.is_ok() {
        check(started.elapsed() < Duration::from_secs(10), format!("{form} did not lead to a new page within 10 s"))?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Waits (bounded) until an element matching `css` is on the page.
async fn wait_for(client: &Client, css: &str) -> Result<(), String> {
    client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.step(css).map(|_| ())
}

async fn screenshot(client: &Client, name: &str) -> Result<PathBuf, String> {
    let png = client.screenshot().await.step("screenshot")?;
    check(png.starts_with(b"\x89PNG"), "a PNG screenshot")?;
    let path = artifacts().join(name);
    std::fs::write(&path, png).map_err(|e| e.to_string())?;
    Ok(path)
}

async fn sign_in(client: &Client, base: &str, token: &str) -> Result<(), String> {
    client.delete_all_cookies().await.step("clear cookies")?;
    client.goto(&format!("{base}/")).await.step("sign-in page")?;
    fill(client, "input[name=token]", token).await?;
    submit(client, "form[action='/login']").await?;
    wait_for(client, ".hd-bar").await?;
    check(client.title().await.step("title")? == "My queue", "signed in, on the queue")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_and_a_customer_work_a_case_through_the_pages() {
    let server = server("flow").await;
    let base = server.base.clone();
    with_browser("flow", |client| async move {
        // The agent opens a case from the queue page.
        sign_in(&client, &base, ANA).await?;
        fill(&client, "input[name=customer]", "cust-1042").await?;
        fill(&client, "textarea[name=outcome]", "my laptop starts and stays on").await?;
        submit(&client, "form[action='/cases']").await?;
        wait_for(&client, ".hd-flash").await?;
        let case_url = client.current_url().await.step("url")?;
        check(case_url.path().starts_with("/cases/"), format!("on the case page, not {case_url}"))?;

        // A note through the form.
        fill(&client, "#form-note textarea[name=text]", "Fan loud before each shutdown: thermal? (internal)").await?;
        submit(&client, "#form-note").await?;
        wait_for(&client, ".hd-flash").await?;
        check(css_text(&client, ".hd-flash").await? == "Note added.", "the note was added")?;

        // A transfer to bo in hardware.
        let to = client.find(Locator::Css("#form-transfer select[name=to]")).await.step("transfer select")?;
        to.select_by_label("bo (hardware)").await.step("choose bo")?;
        fill(&client, "#form-transfer textarea[name=text]", "BIOS is current; please check the cooling.").await?;
        submit(&client, "#form-transfer").await?;
        wait_for(&client, ".hd-flash").await?;

        // Both are on the timeline, the handoff marked as one.
        let timeline = css_text(&client, ".cl-timeline").await?;
        check(timeline.contains("Fan loud before each shutdown"), format!("the note on the timeline: {timeline}"))?;
        let handoff = css_text(&client, ".cl-entry.cl-handoff").await?;
        check(handoff.contains("HANDOFF") && handoff.contains("bo (hardware)"), format!("the handoff: {handoff}"))?;
        check(handoff.contains("please check the cooling"), "the handoff note, for staff")?;
        let brief = css_text(&client, ".cl-brief").await?;
        check(
            brief.contains("Owner\nbo (hardware)") || brief.contains("Owner bo (hardware)"),
            format!("the brief names the new owner: {brief}"),
        )?;
        screenshot(&client, "case-page.png").await?;

        // The customer opens their own link: their view, without the internal note.
        let meta = css_text(&client, ".hd-meta").await?;
        let link = meta
            .split_whitespace()
            .find(|w| w.contains("/c/"))
            .ok_or_else(|| format!("the customer's link on the case page: {meta}"))?
            .to_owned();
        client.delete_all_cookies().await.step("sign out")?;
        client.goto(&link).await.step("customer link")?;
        check(client.title().await.step("title")? == "Your cases", "the link shows the customer's cases")?;
        client.find(Locator::Css("main a[href*='/cases/']")).await.step("their case")?.click().await.step("open it")?;
        wait_for(&client, ".cl-timeline[data-view=customer]").await?;
        let body = css_text(&client, "body").await?;
        check(!body.contains("Fan loud"), "no internal note on the customer's page")?;
        check(!body.contains("check the cooling"), "no handoff note on the customer's page")?;
        check(
            body.contains("Your case is now with the hardware team"),
            format!("the handoff in customer words: {body}"),
        )?;
        check(!body.contains("Act on this case"), "no staff forms")?;
        screenshot(&client, "customer-page.png").await?;

        // ... and confirms.
        fill(&client, "#form-confirm textarea[name=text]", "It has stayed on all afternoon.").await?;
        submit(&client, "#form-confirm").await?;
        wait_for(&client, ".hd-flash").await?;
        check(css_text(&client, ".hd-flash").await? == "Thank you for confirming.", "the confirmation was taken")?;
        check(css_text(&client, ".cl-timeline").await?.contains("You confirmed it is solved"), "on their timeline")?;

        // The owner, bo, resolves.
        sign_in(&client, &base, BO).await?;
        client.goto(case_url.as_str()).await.step("case page")?;
        fill(&client, "#form-resolve textarea[name=text]", "Fan replaced; customer confirmed.").await?;
        submit(&client, "#form-resolve").await?;
        wait_for(&client, ".hd-flash").await?;
        check(
            css_text(&client, ".cl-status").await?.contains("Status: Resolved"),
            "the brief says resolved, in words",
        )?;
        screenshot(&client, "case-page-resolved.png").await?;
        Ok(())
    })
    .await;
}

const PAYLOAD: &str = concat!(
    "<script>document.title='pwned-script'</script>\n",
    "<img src=x onerror=\"document.title='pwned-img'\">\n",
    "<a href=\"javascript:document.title='pwned-link'\">click me</a>\n",
    "\"><svg onload=\"document.title='pwned-svg'\"></svg>\n",
    "</textarea></li></ol></section><b>bold?</b>",
);

/// A 64 KiB paste: one long line without a space to break at, hostile fragments inside.
fn paste() -> String {
    let mut text = String::with_capacity(64 * 1024);
    while text.len() < 64 * 1024 - 200 {
        text.push_str("ERROR_0x7f3a_stack_frame_at_0xdeadbeef;");
        if text.len().is_multiple_of(7) {
            text.push_str("<img/src/onerror=document.title='pwned-paste'>");
        }
    }
    text.truncate(64 * 1024 - 4);
    text.push_str("/END");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_renders_as_text_and_runs_nothing() {
    let server = server("hostile").await;
    let base = server.base.clone();
    // The agent side: a case, opened through the app.
    let ana = caseledger::Staff::new("ana", "software");
    let case = server.app.open_as(&ana, CustomerRef::new("cust-666"), "my <b>router</b> works").await.unwrap();
    let id = case.id();
    let link = server.app.customer_link(case.customer()).unwrap();
    // A staff-recorded reply with the payload too, so both sides' texts are tried.
    server
        .app
        .run_as(
            &app::Identity::Staff(ana),
            id,
            Command::RecordReply { channel: Channel::Phone, message: PAYLOAD.into() },
        )
        .await
        .unwrap();
    with_browser("hostile", |client| async move {
        // The customer types the payload and pastes 64 KiB into the reply box.
        client.goto(&format!("{base}{link}/cases/{id}")).await.step("customer page")?;
        fill(&client, "#form-reply textarea[name=text]", PAYLOAD).await?;
        submit(&client, "#form-reply").await?;
        wait_for(&client, ".hd-flash").await?;
        let big = paste();
        let textarea = client.find(Locator::Css("#form-reply textarea[name=text]")).await.step("reply box")?;
        // Typing 64 KiB key by key would take minutes; set it as a paste would.
        client
            .execute(
                "arguments[0].value = arguments[1];",
                vec![serde_json::to_value(&textarea).step("element")?, Value::String(big.clone())],
            )
            .await
            .step("paste")?;
        submit(&client, "#form-reply").await?;
        wait_for(&client, ".hd-flash").await?;

        for (who, url) in [("customer", format!("{base}{link}/cases/{id}")), ("agent", format!("{base}/cases/{id}"))] {
            if who == "agent" {
                sign_in(&client, &base, ANA).await?;
            }
            client.goto(&url).await.step(who)?;
            wait_for(&client, ".cl-timeline").await?;
            // Give an image error or an onload handler time to fire, were there one.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let title = client.title().await.step("title")?;
            check(!title.contains("pwned"), format!("{who}: a script ran and set the title to {title:?}"))?;
            for tag in ["img", "svg", "a[href^='javascript']", "script", "b"] {
                let found = client.find_all(Locator::Css(&format!(".cl-timeline {tag}"))).await.step(tag)?;
                check(found.is_empty(), format!("{who}: the text made a <{tag}> element"))?;
            }
            let timeline = css_text(&client, ".cl-timeline").await?;
            for shown in [
                "<script>document.title='pwned-script'</script>",
                "<img src=x onerror=",
                "javascript:document.title",
                "<b>bold?</b>",
            ] {
                check(timeline.contains(shown), format!("{who}: {shown:?} shown as text"))?;
            }
            check(timeline.contains("/END"), format!("{who}: the whole 64 KiB paste is there"))?;
            // The page stays usable: no sideways scrolling, and the forms still work.
            let wide = client
                .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
                .await
                .step("width")?;
            check(wide.as_i64().unwrap_or(i64::MAX) <= 1, format!("{who}: the page scrolls sideways by {wide}px"))?;
            screenshot(&client, &format!("hostile-{who}.png")).await?;
        }
        // Still usable: the agent adds a note below all that.
        fill(&client, "#form-note textarea[name=text]", "Read the paste; router firmware crash.").await?;
        submit(&client, "#form-note").await?;
        wait_for(&client, ".hd-flash").await?;
        check(css_text(&client, ".cl-timeline").await?.contains("router firmware crash"), "the note after the paste")?;
        Ok(())
    })
    .await;
}

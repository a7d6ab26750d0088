//! A reference helpdesk on caseledger: a JSON API and web pages for agents and customers.
//!
//! ```sh
//! cargo run -p caseledger-helpdesk                      # embedded file store in ./helpdesk-data
//! cargo run -p caseledger-helpdesk -- --demo            # ... with a sample case to look at
//! cargo run -p caseledger-helpdesk -- --config staff.json --data /var/lib/helpdesk --listen 127.0.0.1:8080
//! cargo run -p caseledger-helpdesk --features postgres -- --database-url postgres://user@localhost/helpdesk
//! ```
//!
//! Without `--config`, three staff members (ana of software, bo of hardware, cy of
//! billing) get fresh random tokens, printed at start. Open the printed address, sign
//! in with a token, and open a case; its page shows the link to send the customer.
//! With a database URL (`--database-url URL`, or `DATABASE_URL` in the environment) the
//! cases live in PostgreSQL (the schema is migrated at start; the build needs the
//! `postgres` feature); `--data` then holds only the customer links.
//! Limits on connections (see `caseledger_helpdesk::Limits`): `--header-read-timeout
//! SECS` (10), `--idle-timeout SECS` (60), `--max-connections N` (512); seconds may have
//! a fraction (`0.5`).
//! `RUST_LOG=caseledger_helpdesk=debug` (or any `tracing` filter) sets the log level.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use caseledger::{
    event::{Channel, Visibility},
    id::CustomerRef,
    Command,
};
use time::OffsetDateTime;

use caseledger_helpdesk as app;

struct Args {
    data: PathBuf,
    config: Option<PathBuf>,
    listen: SocketAddr,
    demo: bool,
    /// PostgreSQL to keep the cases in, from `--database-url` or `DATABASE_URL`.
    database_url: Option<String>,
    limits: app::Limits,
}

fn seconds(name: &str, text: &str) -> Result<std::time::Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{name}: {text} is not a positive number of seconds"))
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        data: PathBuf::from("helpdesk-data"),
        config: None,
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        demo: false,
        database_url: std::env::var("DATABASE_URL").ok().filter(|url| !url.is_empty()),
        limits: app::Limits::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--data" => args.data = value("--data")?.into(),
            "--config" => args.config = Some(value("--config")?.into()),
            "--listen" => args.listen = value("--listen")?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--demo" => args.demo = true,
            "--database-url" => args.database_url = Some(value("--database-url")?),
            "--header-read-timeout" => {
                args.limits.header_read = seconds("--header-read-timeout", &value("--header-read-timeout")?)?;
            }
            "--idle-timeout" => args.limits.idle = seconds("--idle-timeout", &value("--idle-timeout")?)?,
            "--max-connections" => {
                args.limits.max_connections = value("--max-connections")?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("--max-connections needs a positive whole number")?;
            }
            "--help" | "-h" => {
                return Err(
                    "usage: caseledger-helpdesk [--data DIR] [--database-url URL] [--config FILE] [--listen ADDR] [--demo] \
                     [--header-read-timeout SECS] [--idle-timeout SECS] [--max-connections N]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = args()?;
    let config = match &args.config {
        Some(path) => serde_json::from_str(&std::fs::read_to_string(path)?)?,
        None => {
            let config = app::Config::demo();
            println!("No --config given: staff tokens for this run (sign in with one):");
            for login in &config.staff {
                println!("  {:<4} ({:<8}) {}", login.id, login.department, login.token);
            }
            config
        }
    };
    std::fs::create_dir_all(&args.data)?;
    let clock: app::Clock = Arc::new(OffsetDateTime::now_utc);
    let shared = match &args.database_url {
        None => {
            let shared = app::App::with_file_store(&config, &args.data, clock)?;
            tracing::info!(store = "file", data = %args.data.display(), "cases kept in the embedded file store");
            shared
        }
        Some(url) => postgres(&config, url, &args.data, clock).await?,
    };
    if args.demo {
        demo(&shared, &config).await?;
    }
    let sweeper = app::spawn_sweeper(&shared);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!(
        "Helpdesk at http://{}/ (health: /health; cases in the {} store)",
        listener.local_addr()?,
        shared.store_kind()
    );
    tracing::info!(
        header_read_timeout_ms = u64::try_from(args.limits.header_read.as_millis()).unwrap_or(u64::MAX),
        idle_timeout_ms = u64::try_from(args.limits.idle.as_millis()).unwrap_or(u64::MAX),
        max_connections = args.limits.max_connections,
        "connection limits"
    );
    app::serve(listener, app::router(shared), args.limits, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    sweeper.abort();
    Ok(())
}

#[cfg(feature = "postgres")]
async fn postgres(
    config: &app::Config,
    url: &str,
    data: &std::path::Path,
    clock: app::Clock,
) -> Result<app::Shared, Box<dyn std::error::Error>> {
    let pool = sqlx::PgPool::connect(url).await?;
    let shared = app::App::with_postgres(config, caseledger::PgStore::new(pool), data, clock).await?;
    // The URL may hold a password: the log names the store, not the address.
    tracing::info!(store = "postgres", links = %data.display(), "cases kept in PostgreSQL");
    Ok(shared)
}

#[cfg(not(feature = "postgres"))]
async fn postgres(
    _: &app::Config,
    _: &str,
    _: &std::path::Path,
    _: app::Clock,
) -> Result<app::Shared, Box<dyn std::error::Error>> {
    // Said plainly rather than quietly keeping the cases somewhere else.
    Err("a database URL was given (--database-url or DATABASE_URL), but this build has no PostgreSQL \
         store: run it with `--features postgres`, or unset DATABASE_URL for the embedded file store"
        .into())
}

/// A sample case with a little history, so a first look has something to show.
async fn demo(app: &app::Shared, config: &app::Config) -> Result<(), Box<dyn std::error::Error>> {
    let staff = |i: usize| {
        config
            .staff
            .get(i)
            .map(|s| caseledger::Staff::new(s.id.as_str(), s.department.as_str()))
            .ok_or("the demo needs two staff members")
    };
    let (ana, bo) = (staff(0)?, staff(1)?);
    let case = app.open_as(&ana, CustomerRef::new("cust-1042"), "my laptop starts and stays on").await?;
    let id = case.id();
    let steps = [
        (
            app::Identity::Staff(ana.clone()),
            Command::RecordFact {
                name: "serial number".into(),
                value: "SN-4471-B".into(),
                visibility: Visibility::Customer,
            },
        ),
        (
            app::Identity::Staff(ana.clone()),
            Command::OpenWork {
                item: "SW-88".into(),
                department: "software".into(),
                title: "update the BIOS to 1.9".into(),
            },
        ),
        (
            app::Identity::Staff(ana.clone()),
            Command::CompleteWork {
                item: "SW-88".into(),
                note: "BIOS 1.9 installed; still shuts down after ~10 minutes".into(),
            },
        ),
        (
            app::Identity::Staff(ana.clone()),
            Command::AddNote {
                text: "Fan is loud before each shutdown: likely thermal.".into(),
                visibility: Visibility::Internal,
            },
        ),
        (
            app::Identity::Staff(ana.clone()),
            Command::ContactCustomer {
                channel: Channel::Email,
                message: "We updated the BIOS. Does the laptop stay on now?".into(),
            },
        ),
        (
            app::Identity::Customer(case.customer().clone()),
            Command::RecordReply {
                channel: Channel::Web,
                message: "No, it still switches off after a few minutes.".into(),
            },
        ),
        (
            app::Identity::Staff(ana.clone()),
            Command::Transfer {
                to: bo,
                note: "BIOS current, shutdowns continue, fan loud: please check cooling.".into(),
            },
        ),
    ];
    for (by, command) in steps {
        app.run_as(&by, id, command).await?;
    }
    println!("Demo case: /cases/{id}; the customer's link: {}", app.customer_link(case.customer())?);
    Ok(())
}

//! Service metrics over a few hundred generated cases (S9): endings by kind, time to the
//! customer's confirmed outcome beside time to closing, unanswered contacts, bounces,
//! deadline breaches and overrides per policy, as text and JSON.
//!
//! Run with `cargo run --example metrics`.

use caseledger::testkit::sample::{service_logs, SERVICE_START};
use caseledger::{
    policy::{Deadlines, Span},
    Metrics,
};
use time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let logs = service_logs(400, 2026).expect("generated cases");
    let as_of = SERVICE_START + Duration::days(60);
    let deadlines = Deadlines::default().first_response(Span::hours(4)).next_update(Span::days(2));
    let mut metrics = Metrics::new(as_of).with_deadlines(deadlines);
    for log in &logs {
        metrics.add_log(log)?;
    }
    let report = metrics.report();
    println!("{report}");
    println!("{}", report.to_json()?);
    Ok(())
}

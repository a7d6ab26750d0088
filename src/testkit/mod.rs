//! Test kit: the store conformance suite (feature `testkit`), and the property-testing
//! kit (feature `proptest`, which includes `testkit`): generated case histories for
//! testing service policies and hostile logs for testing a host's ingestion path.
//!
//! This module owns the generators and the harness; it adds no rules of its own. Every
//! history is made by the crate's own [`Rules::decide`](crate::Rules::decide) and [`Case::apply`](crate::Case::apply), so what a
//! property sees is exactly what a host would have recorded.
//!
//! - [`histories`]: realistic command sequences run against a [`Config`]'s rules — a
//!   customer, several departments and their staff, transfers, bounces, escalations,
//!   work items, facts, notes, reachability, contacts and silence, replies, confirmations,
//!   disputes, resolutions, honest closings, reopenings, incident links and policy
//!   overrides (allowed, or refused for naming an invariant, an unknown policy or a
//!   reason too short) — with the
//!   valid log they produce. Commands the rules refuse are kept in the history as
//!   refused [`Attempt`]s. Generation leans towards actions that are likely allowed (the
//!   owner acts most of the time, time mostly moves forward, sometimes a few seconds
//!   back as from a node whose clock is behind) so that resolutions,
//!   bounces and reopenings are actually reached.
//! - [`hostile_logs`]: a valid log damaged in one way (a gap, reordering, a duplicate, a
//!   foreign event, time going backwards, a tampered event kind, a truncated JSON line),
//!   as JSON Lines text.
//! - [`check_histories`]: runs a property over generated histories under your rules
//!   (with your [`Policy`](crate::Policy) added, or a plain closure via [`policy_fn`])
//!   and, when it breaks, shrinks to a minimal failing history and prints it as the
//!   staff timeline.
//!
//! - [`conformance::check_store`] (feature `testkit`, no proptest): the conformance suite
//!   for a [`Store`](crate::Store): every promise of the store contract checked on fresh
//!   stores, each broken one named.
//! - [`sample::typical_log`] (feature `testkit`): a realistic busy case's log of any
//!   length, for benchmarks and capacity tests.
//! - [`snapshots`] (feature `testkit`): take a case's snapshot, and doctor one (state
//!   rewritten, checksum recomputed) to test verification.
//! - [`projection::check_projection`] (feature `testkit`): the projection promises
//!   (exactly once, each case in order, resume after a restart, rebuild) checked on a
//!   runner over a store.
//!
//! Case counts come from [`Config::proptest`], which defaults to
//! `ProptestConfig::default()` and so follows the `PROPTEST_CASES` environment variable.
//!
//! # Example: "no case is ever resolved outside its home department"
//!
//! ```
//! use caseledger::testkit::{check_histories, policy_fn, Config};
//! use caseledger::{EventKind, Rules};
//!
//! // The host's rule: the department a case was opened in resolves it; whoever else
//! // holds it when the customer confirms hands it back first.
//! let home_resolves = policy_fn("home_department_resolves", |case, proposal| {
//!     let home = &case.previous_owners().first().unwrap_or(case.owner()).department;
//!     match (proposal.what, proposal.by.department()) {
//!         (EventKind::Resolved { .. }, Some(dept)) if dept != home => {
//!             Err(format!("{dept} cannot resolve a case of {home}; hand it back"))
//!         }
//!         _ => Ok(()),
//!     }
//! });
//! let config = Config::new(Rules::default().with_policy(home_resolves));
//!
//! check_histories(&config, |history| {
//!     let home = history.first_owner().department.clone();
//!     for event in history.events() {
//!         if matches!(event.what, EventKind::Resolved { .. }) && event.by.department() != Some(&home) {
//!             return Err(format!("event {} resolved the case outside {home}", event.seq));
//!         }
//!     }
//!     Ok(())
//! })?;
//! # Ok::<(), caseledger::testkit::Failure>(())
//! ```
//!
//! Inside your own `proptest!` blocks, use the strategies directly (mark the function
//! `#[test]` in a test file):
//!
//! ```
//! use caseledger::testkit::{histories, Config};
//! use proptest::prelude::*;
//!
//! proptest! {
//!     fn resolved_cases_were_confirmed(history in histories(&Config::default())) {
//!         if history.case().status() == &caseledger::Status::Resolved {
//!             prop_assert_eq!(history.case().outcome_state(), caseledger::case::OutcomeState::Confirmed);
//!         }
//!     }
//! }
//! # resolved_cases_were_confirmed();
//! ```

pub mod conformance;
pub mod projection;
pub mod sample;
pub mod snapshots;
// The generators and the property harness need proptest; the conformance suite does not.
#[cfg(feature = "proptest")]
mod harness;
#[cfg(feature = "proptest")]
mod history;
#[cfg(feature = "proptest")]
mod hostile;

#[cfg(feature = "proptest")]
pub use harness::{check_histories, policy_fn, Cast, Config, Failure, FnPolicy};
#[cfg(feature = "proptest")]
pub use history::{histories, valid_logs, Attempt, History, Outcome};
#[cfg(feature = "proptest")]
pub use hostile::{hostile_logs, Damage, HostileLog};

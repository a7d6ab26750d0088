//! One customer's problem as an append-only event log, with the rules customer service
//! keeps breaking made impossible or visible.
//!
//! A *case* is the fold of its log of departmental actions. The fold keeps:
//!
//! - **one accountable owner** at every moment; transfers name a receiver and carry a
//!   handoff note (I1);
//! - **no "resolved" while the customer's own outcome is unmet**, however many
//!   departmental work items are done (I2); other endings are honest and distinct (I3);
//! - **one timeline** every department reads (I4).
//!
//! All eight invariants (I1–I8) are listed under [`Case`'s invariants](Case#invariants);
//! every check that keeps them sits in one file, `src/case/invariants.rs`, tagged with its
//! number, and runs both when [`Rules::decide`] proposes an event and when the fold
//! applies one.
//!
//! ```
//! use caseledger::{Actor, CaseId, Command, Error, Ledger, Opening, Refusal, Rules, Staff};
//! use time::macros::datetime;
//!
//! let rules = Rules::default();
//! let ana = Staff::new("ana", "software");
//! let t = datetime!(2026-11-23 09:00 UTC);
//! let mut ledger = Ledger::open(
//!     &rules,
//!     CaseId::new_v7(t, [42; 10]),
//!     Opening::new("cust-1042", "my laptop works", ana.clone()),
//!     &Actor::Customer,
//!     t,
//! )?;
//!
//! // Software finishes its piece of work...
//! let owner = Actor::Staff(ana.clone());
//! ledger.execute(&rules, Command::OpenWork {
//!     item: "SW-1".into(), department: "software".into(), title: "update the BIOS".into(),
//! }, &owner, t)?;
//! ledger.execute(&rules, Command::CompleteWork {
//!     item: "SW-1".into(), note: "BIOS updated to 1.9".into(),
//! }, &owner, t)?;
//!
//! // ...but that does not solve the customer's problem.
//! let resolve = Command::Resolve { summary: "BIOS updated".into() };
//! let refused = ledger.execute(&rules, resolve.clone(), &owner, t);
//! assert!(matches!(refused, Err(Error::Refused(Refusal::OutcomeUnmet { .. }))));
//!
//! // Only the customer's confirmation does.
//! ledger.execute(&rules, Command::ConfirmOutcome { statement: "it boots again".into() }, &Actor::Customer, t)?;
//! ledger.execute(&rules, resolve, &owner, t)?;
//! assert!(ledger.case().is_closed());
//! println!("{}", ledger.timeline());
//! # Ok::<(), Error>(())
//! ```
//!
//! # The pieces
//!
//! - [`Event`] / [`EventKind`]: what happened, with a stable, versioned JSON shape.
//! - [`Rules::decide`]: command → events, or a [`Refusal`] naming the broken rule.
//! - [`Case::apply`] / [`Case::replay`]: the pure fold, which re-checks every rule and
//!   reports a broken log as a [`LogError`].
//! - [`Timeline`]: the unified history as text, JSON or a Mermaid diagram.
//! - [`HandoffBrief`]: what a receiver reads instead of asking the customer again.
//! - [`Metrics`]: service figures over many cases, measured against the customer's
//!   outcome rather than staff clicks (S9).
//! - [`html`]: the timeline and the brief as HTML for agents and customers, every text
//!   escaped and no script.
//! - [`Ledger`]: a case and its log in memory, for the whole cycle in one call.
//! - [`Policy`]: a host's own service rules, consulted by `decide`.
//! - [`PolicySet`]: the built-in policies a host switches on and tunes as data, with
//!   [`Deadlines`], [`EscalationTriggers`] and [`confirmation_requests`] for incidents.
//! - [`Store`], [`Repository`]: events kept between commands, with optimistic
//!   concurrency; [`MemoryStore`] and the crash-safe JSON Lines [`FileStore`].
//! - [`projection`]: read models across cases, one [`projection::Projection`] for every
//!   store ([`projection::Projected`] in process; from the PostgreSQL feed with feature
//!   `postgres`).
//! - [`worklist`]: who owes the customer what, by when: open cases by owner,
//!   department, customer and due time, paged, and the deadline sweep.
//!
//! # Features
//!
//! None is on by default; the default build depends on serde, serde_json, thiserror,
//! time and uuid only. docs.rs documents every feature.
//!
//! - `async`: the asynchronous store trait and repository ([`AsyncStore`],
//!   [`AsyncRepository`]). No runtime dependency: hosts bring their own executor.
//! - `postgres`: the PostgreSQL store ([`PgStore`]) and its feed ([`FeedPosition`]), on
//!   sqlx over the host's `PgPool`; enables `async`.
//! - `testkit`: the store conformance suite ([`testkit::conformance::check_store`]), for
//!   hosts that write their own [`Store`], and realistic sample logs for benchmarks
//!   ([`testkit::sample`]); no dependency.
//! - `proptest`: the property-testing kit in [`testkit`] (generated case histories,
//!   hostile logs, `check_histories` for a host's own policies), on proptest; enables
//!   `testkit`.
//!
//! # Time, randomness and purity
//!
//! Nothing here reads a clock or a random source: times are arguments, and event ids
//! are derived from the event itself (see [`EventId`]). Replaying a log always yields
//! the same case (I7).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod actor;
mod brief;
mod case;
mod codec;
mod command;
mod deadline;
mod error;
mod escalation;
mod event;
mod fnv;
pub mod html;
mod id;
mod incident;
mod ledger;
mod limits;
mod metrics;
mod overrides;
mod policies;
mod policy;
pub mod projection;
mod repository;
mod rules;
mod span;
mod status;
mod store;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;
mod timeline;
mod upcast;
pub mod worklist;

pub use actor::{Actor, Staff};
pub use brief::HandoffBrief;
pub use case::{Acquisition, Case, Clock, Counters, Fact, Reachability, WorkItem};
pub use codec::{decode_log, decode_log_with_limits, encode_log};
pub use command::{Command, Opening, Request};
pub use deadline::{Deadline, DeadlineKind, DeadlineState, DeadlineStatus, Deadlines};
pub use error::{
    ConfigError, DecodeError, Error, ErrorCategory, ErrorCode, ErrorReport, KeyError, Location, LogError, Refusal,
    StoreError,
};
pub use escalation::{EscalationTrigger, EscalationTriggers};
pub use event::{Channel, Ending, Event, EventKind, Visibility, Voice, SCHEMA_VERSION};
pub use id::{CaseId, CustomerRef, Department, EventId, IdempotencyKey, IncidentId, StaffId, WorkItemId};
pub use incident::confirmation_requests;
pub use ledger::Ledger;
pub use limits::Limits;
pub use metrics::{Durations, Endings, Metrics, MetricsReport, PerCase, Reopens};
pub use overrides::MIN_OVERRIDE_REASON_CHARS;
pub use policies::{MayContact, PolicyConfig, PolicySet};
pub use policy::{Policy, Proposal};
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use repository::AsyncRepository;
pub use repository::{
    CaseRequest, Execution, Lookup, Machine, PendingAppend, PendingRead, Repository, RepositoryCore, Step,
    DEFAULT_ATTEMPTS, DEFAULT_CAPACITY,
};
pub use rules::{Decision, Directory, Rules};
pub use span::{ParseSpanError, Span};
pub use status::{OutcomeState, Status, WorkState};
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use store::AsyncStore;
pub use store::{
    AppendCheck, AppendPlan, Appended, Batch, DamageReport, FileStore, MemoryStore, Quarantined, SetAside, Store,
};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use store::{FeedEvent, FeedLag, FeedPage, FeedPosition, ParseFeedPositionError, PgStore};
pub use timeline::{DepartmentView, Entry, Timeline, View};

/// The README's examples are compiled and run as doc tests, so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

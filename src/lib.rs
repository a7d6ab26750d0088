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
//!     &Actor::customer("cust-1042"),
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
//! ledger.execute(&rules, Command::ConfirmOutcome { statement: "it boots again".into() }, &Actor::customer("cust-1042"), t)?;
//! ledger.execute(&rules, resolve, &owner, t)?;
//! assert!(ledger.case().is_closed());
//! println!("{}", ledger.timeline());
//! # Ok::<(), Error>(())
//! ```
//!
//! # The map
//!
//! The root holds the names the example above and a host's main job need; everything
//! else lives in the module that explains it, and each module's page is its guide.
//!
//! - [`id`]: the identifiers ([`CaseId`], [`IdempotencyKey`], and the host's own ids).
//! - [`event`]: what happened ([`Event`] / [`EventKind`]), who did it ([`Actor`],
//!   [`Staff`]), and the stable, versioned JSON shape.
//! - [`command`]: what someone asks to do ([`Command`], [`Opening`], and
//!   [`command::Request`], a command with its idempotency key).
//! - [`rules`]: [`Rules::decide`], command → events or a [`Refusal`] naming the broken
//!   rule, with the [`rules::Limits`] and the host's [`rules::Directory`].
//! - [`case`]: the pure fold ([`Case::apply`] / [`Case::replay`]), which re-checks every
//!   rule and reports a broken log as an [`error::LogError`], and the parts of a case.
//! - [`policy`]: a host's own service rules ([`Policy`]) and the built-in ones it
//!   switches on and tunes as data ([`PolicySet`]), with deadlines, escalation triggers,
//!   incidents and overrides.
//! - [`timeline`]: the unified history as text, JSON or a Mermaid diagram ([`Timeline`]),
//!   and the [`HandoffBrief`] a receiver reads instead of asking the customer again.
//! - [`html`]: the timeline and the brief as HTML for agents and customers, every text
//!   escaped and no script.
//! - [`metrics`]: service figures over many cases, measured against the customer's
//!   outcome rather than staff clicks (S9) ([`Metrics`]).
//! - [`codec`]: the JSON Lines codec, and how older schemas are read.
//! - [`store`]: events kept between commands, with optimistic concurrency: the
//!   [`Store`] contract, [`MemoryStore`], the crash-safe JSON Lines [`FileStore`], and
//!   (with features) [`AsyncStore`] and `PgStore`.
//! - [`repository`]: what a host calls per command over a store ([`Repository`],
//!   [`CaseRequest`]), and the sans-IO protocol both repositories drive.
//! - `http` (feature `axum`): errors, versions and idempotency keys as HTTP headers and
//!   responses.
//! - [`error`]: every error, each naming the rule it enforces ([`Error`] holds them all).
//! - [`Ledger`]: a case and its log in memory, for the whole cycle in one call.
//! - [`projection`]: read models across cases, one [`projection::Projection`] for every
//!   store ([`projection::Projected`] in process; from the PostgreSQL feed with feature
//!   `postgres`).
//! - [`worklist`]: who owes the customer what, by when: open cases by owner,
//!   department, customer and due time, paged, and the deadline sweep.
//! - `testkit` (features `testkit`, `proptest`): the store conformance suite, sample logs
//!   and property-testing kit.
//!
//! # Features
//!
//! None is on by default; the default build depends on serde, serde_json, thiserror,
//! time and uuid only. docs.rs documents every feature.
//!
//! - `async`: the asynchronous store trait and repository ([`store::AsyncStore`],
//!   [`repository::AsyncRepository`]). No runtime dependency: hosts bring their own executor.
//! - `postgres`: the PostgreSQL store ([`store::PgStore`]) and its feed ([`store::FeedPosition`]), on
//!   sqlx over the host's `PgPool`; enables `async`. Commands inside the host's own
//!   transaction go through [`repository::Staged`].
//! - `tracing`: a span and an event per command from every repository (case, command,
//!   result code, attempts, time waiting for the store), on `tracing`.
//! - `axum`: HTTP conventions for axum hosts in `http`: errors as responses with their
//!   category's status, `ETag`/`If-Match` as case versions, `Idempotency-Key` into
//!   requests; on axum and http.
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
//! are derived from the event itself (see [`id::EventId`]). Replaying a log always yields
//! the same case (I7).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

// The public map: one module per layer, each with its guide as its module doc.
pub mod case;
pub mod codec;
pub mod command;
pub mod error;
pub mod event;
pub mod html;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod http;
pub mod id;
pub mod metrics;
pub mod policy;
pub mod projection;
pub mod repository;
pub mod rules;
pub mod store;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;
pub mod timeline;
pub mod worklist;

// Parts of a layer, kept in files of their own and re-exported through the public
// module that documents them (named in each `pub use` below).
mod actor; // event
mod brief; // timeline
mod deadline; // policy
mod escalation; // policy
mod fnv;
mod incident; // policy
mod ledger; // the root
mod limits; // rules
mod overrides; // policy
mod policies; // policy
mod span; // policy
mod status; // case
mod upcast; // codec

// The headline names: what the crate example and a host's main job need. At most 30;
// everything else is reached through its module.
pub use case::{Case, Status};
pub use command::{Command, Opening};
pub use error::{Error, Refusal};
pub use event::{Actor, Event, EventKind, Staff};
pub use id::{CaseId, IdempotencyKey};
pub use ledger::Ledger;
pub use metrics::Metrics;
pub use policy::{Policy, PolicySet};
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use repository::AsyncRepository;
pub use repository::{CaseRequest, Repository};
pub use rules::Rules;
#[cfg(feature = "async")]
#[cfg_attr(docsrs, doc(cfg(feature = "async")))]
pub use store::AsyncStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use store::PgStore;
pub use store::{FileStore, MemoryStore, Store};
pub use timeline::{HandoffBrief, Timeline};

/// The README's examples are compiled and run as doc tests, so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

//! The library's integration tests, in one binary (as cargo's `tests/testsuite` and
//! ripgrep's `tests/tests.rs` are): a module per area, and one [`support`] module with
//! what they share. One binary links once and runs its tests in one pool, where 27
//! binaries each linked the library and its dependencies on their own.
//!
//! `cargo test --all-features --test suite stories::` runs one area. The crash test
//! (`tests/crash.rs`) stays a binary of its own: it re-executes itself as the writer
//! process it kills.
//!
//! Areas behind a feature are compiled with it (`bash .ci/test` turns every feature on).

mod support;

#[cfg(feature = "async")]
mod async_repository;
mod clock_skew;
#[cfg(feature = "testkit")]
mod conformance;
mod customer_view;
mod customers;
mod errors;
mod executed;
mod file_store;
mod hostile;
#[cfg(feature = "axum")]
mod http;
mod idempotency;
mod identities;
mod limits;
mod log_integrity;
mod memory;
mod metrics;
#[cfg(feature = "proptest")]
mod model;
mod policies;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "testkit")]
mod projection;
#[cfg(feature = "proptest")]
mod properties;
mod refusals;
mod replay_ids;
mod repository;
mod snapshots;
mod store;
mod stories;
#[cfg(feature = "proptest")]
mod testkit;
mod timeline_one_line;
#[cfg(feature = "proptest")]
mod timeline_pages;
#[cfg(feature = "tracing")]
mod tracing;
#[cfg(feature = "proptest")]
mod worklist;

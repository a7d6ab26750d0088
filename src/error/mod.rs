//! Errors: refusals of commands, broken logs, undecodable input, unusable policy
//! configurations, bad idempotency keys, store failures and requests whose own
//! condition fails. This module holds errors only.
//!
//! Each error names the rule it enforces and carries the data a support engineer needs
//! (sequence number, line, field). None of them is ever raised by a panic (I8).
//!
//! One file per error type ([`Refusal`], [`LogError`], [`DecodeError`], [`ConfigError`],
//! [`StoreError`] with the [`Location`] of a stored record, [`KeyError`], [`RequestError`], [`HeaderError`]), each declared as a table: a variant is written once with
//! its stable code and its [`ErrorCategory`], and the `code()`, `category()`, `report()`
//! and `CODES` of the type come from that row (see `table.rs`). What a host sends for an
//! error, [`ErrorCategory`], [`ErrorCode`] and [`ErrorReport`], sits in `transport.rs`,
//! which imports nothing from the crate; the umbrella [`Error`] is here.

mod config;
mod decode;
mod header;
pub(crate) mod key;
mod location;
mod log;
mod refusal;
mod request;
mod store;
mod table;
mod text;
mod transport;

use serde::Serialize;

pub use config::ConfigError;
pub use decode::DecodeError;
pub use header::HeaderError;
pub use key::KeyError;
pub use location::Location;
pub use log::LogError;
pub(crate) use refusal::codes as refusal_codes;
pub use refusal::Refusal;
pub use request::RequestError;
pub use store::StoreError;
use table::Coded;
pub use transport::{ErrorCategory, ErrorCode, ErrorReport};

/// Any error this crate returns, for hosts that want a single type behind `?`.
#[derive(Debug, thiserror::Error, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Error {
    /// A command was refused.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A log is broken.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Input could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A policy configuration cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A store could not append or read events.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A text is not an idempotency key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A condition the request states does not hold (an expected version the case has
    /// left: HTTP 412).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A request header cannot be read (the HTTP helpers, feature `axum`).
    #[error(transparent)]
    Header(#[from] HeaderError),
}

impl Error {
    /// The wrapped error's code ([`Refusal::code`], [`LogError::code`], …). Codes are
    /// unique across all of the crate's errors, so the code alone says which it is.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{error::ErrorCategory, Error, Refusal};
    ///
    /// let refusal = Refusal::OutcomeUnmet { outcome: "my laptop works".into() };
    /// let code = refusal.code();
    /// let err = Error::from(refusal);
    /// assert_eq!(err.code(), code);
    /// assert_eq!(err.category(), ErrorCategory::Conflict);
    /// assert_eq!(err.category().http_status(), 409);
    /// ```
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.wrapped().code()
    }

    /// The wrapped error's category (see [`ErrorCategory`] for the transport statuses).
    #[must_use]
    pub fn category(&self) -> ErrorCategory {
        self.wrapped().category()
    }

    /// The wrapped error as `{code, category, message, details}`, ready to serialize as
    /// a response body (see [`ErrorReport`]).
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{Error, Refusal};
    ///
    /// let err = Error::from(Refusal::WorkItemClosed { item: "SW-1".into() });
    /// let body = serde_json::to_value(err.report())?;
    /// assert_eq!(
    ///     body,
    ///     serde_json::json!({
    ///         "code": "work_item_closed",
    ///         "category": "conflict",
    ///         "message": "work item SW-1 is already closed",
    ///         "details": { "item": "SW-1" },
    ///     })
    /// );
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    #[must_use]
    pub fn report(&self) -> ErrorReport {
        self.wrapped().report()
    }

    /// Every code of every error this crate returns, with its category and the variant
    /// that carries it: the rows of [`Refusal::CODES`], [`LogError::CODES`],
    /// [`DecodeError::CODES`], [`ConfigError::CODES`], [`StoreError::CODES`],
    /// [`KeyError::CODES`], [`RequestError::CODES`] and [`HeaderError::CODES`], in that order. No code appears twice (checked when the crate
    /// is compiled).
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{error::ErrorCategory, Error, Refusal};
    ///
    /// // A host's table of which codes answer 409.
    /// let conflicts: Vec<&str> =
    ///     Error::codes().filter(|row| row.category.http_status() == 409).map(|row| row.code).collect();
    /// let refusal = Refusal::NotClosed;
    /// assert_eq!(refusal.category(), ErrorCategory::Conflict);
    /// assert!(conflicts.contains(&refusal.code()));
    /// ```
    pub fn codes() -> impl Iterator<Item = &'static ErrorCode> {
        TABLES.iter().flat_map(|table| table.iter())
    }

    /// The wrapped error, for the one match the umbrella needs.
    fn wrapped(&self) -> &dyn Coded {
        match self {
            Self::Refused(e) => e,
            Self::Log(e) => e,
            Self::Decode(e) => e,
            Self::Config(e) => e,
            Self::Store(e) => e,
            Self::Key(e) => e,
            Self::Request(e) => e,
            Self::Header(e) => e,
        }
    }
}

/// The tables of the errors [`Error`] wraps, in the order of its variants.
const TABLES: [&[ErrorCode]; 8] = [
    Refusal::CODES,
    LogError::CODES,
    DecodeError::CODES,
    ConfigError::CODES,
    StoreError::CODES,
    KeyError::CODES,
    RequestError::CODES,
    HeaderError::CODES,
];

// `Error::code` names the error alone, so a code may not repeat across tables either.
const _: () = assert!(transport::codes_are_distinct(&TABLES), "two error variants share a code");

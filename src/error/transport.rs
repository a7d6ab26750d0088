//! What a host sends or logs for an error: its [`ErrorCategory`] (the transport status),
//! the [`ErrorCode`] rows every error type lists, and the [`ErrorReport`] body.
//!
//! This file imports nothing from the rest of the crate, so every error type, including
//! the one raised by the ids at the bottom of the crate, can stand on it.

use serde::Serialize;

/// What kind of failure an error is, so a host maps it to a transport status without
/// reading messages. Every error's `category()` returns one; [`http_status`](Self::http_status)
/// gives the conventional HTTP status.
///
/// | category      | HTTP | meaning                                                                 |
/// |---------------|------|-------------------------------------------------------------------------|
/// | `not_allowed` | 403  | who asks may not do this (not the owner, not staff, a host policy)      |
/// | `conflict`    | 409  | sound, but the case's state does not admit it now, or another writer came first |
/// | `precondition_failed` | 412 | the request was made for a version of the case the case has left (`If-Match`) |
/// | `invalid`     | 422  | the command or input is unsound whatever the state (empty text, a limit, bad JSON) |
/// | `not_found`   | 404  | the case or work item named does not exist                               |
/// | `unavailable` | 503  | the storage failed (I/O, a database backend); retrying later may succeed |
/// | `corrupt`     | 500  | stored history is damaged or breaks the invariants; a person must look  |
///
/// Serializes as the snake_case name in the first column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCategory {
    /// Who asks may not do this: only the owner, only staff, only the customer, the
    /// work item's department, or a host policy refuses it.
    NotAllowed,
    /// The request is sound but the case's current state does not admit it (closed,
    /// work still open, outcome unmet, already exists), or another writer appended
    /// first. It may succeed after the case changes.
    Conflict,
    /// The request names the version of the case its author saw (HTTP `If-Match`), and
    /// the case is no longer at that version: the author must look again before asking.
    /// Distinct from [`Conflict`](Self::Conflict), a race the repository could not
    /// resolve by deciding again.
    PreconditionFailed,
    /// The request or input is unsound whatever the case's state: an empty or oversized
    /// text, a time no log can hold, undecodable JSON, a retry that changed its content.
    Invalid,
    /// The case or work item the request names does not exist.
    NotFound,
    /// The storage could not do its part (I/O, a database); nothing says the request
    /// was wrong, and retrying later may succeed.
    Unavailable,
    /// What is stored is damaged or breaks the invariants; neither retrying nor changing
    /// the request helps.
    Corrupt,
}

impl ErrorCategory {
    /// The category's snake_case name, as serialized (`"not_allowed"`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAllowed => "not_allowed",
            Self::Conflict => "conflict",
            Self::PreconditionFailed => "precondition_failed",
            Self::Invalid => "invalid",
            Self::NotFound => "not_found",
            Self::Unavailable => "unavailable",
            Self::Corrupt => "corrupt",
        }
    }

    /// The HTTP status conventionally answered for this category: 403, 409, 412, 422,
    /// 404, 503 or 500 (see the table on [`ErrorCategory`]).
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{error::StoreError, CaseId, Error};
    ///
    /// let err = Error::from(StoreError::UnknownCase { case: CaseId::from_uuid(uuid::Uuid::nil()) });
    /// assert_eq!(err.category().http_status(), 404);
    /// ```
    #[must_use]
    pub fn http_status(self) -> u16 {
        match self {
            Self::NotAllowed => 403,
            Self::Conflict => 409,
            Self::PreconditionFailed => 412,
            Self::Invalid => 422,
            Self::NotFound => 404,
            Self::Unavailable => 503,
            Self::Corrupt => 500,
        }
    }
}

impl std::fmt::Display for ErrorCategory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as a host sends or logs it: `{code, category, message, details}`.
///
/// `code` and `category` are stable (see each error's `code()` and [`ErrorCategory`]);
/// `message` is the error's `Display` text, for people; `details` holds the variant's
/// fields by name (`seq`, `line`, `policy`, `expected`, `actual`, …) as JSON, with a
/// wrapped error of this crate as its own `{code, …fields}` object and any other source
/// (an I/O error) as its message. Building a report never fails and never panics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ErrorReport {
    /// The stable code (see [`ErrorCode`]).
    pub code: String,
    /// The category, for the transport status.
    pub category: ErrorCategory,
    /// The human-readable message (the error's `Display`).
    pub message: String,
    /// The variant's fields as a JSON object; empty for a variant without fields.
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl ErrorReport {
    pub(super) fn of<E: Serialize + std::fmt::Display>(code: &'static str, category: ErrorCategory, error: &E) -> Self {
        let details = match serde_json::to_value(error) {
            Ok(serde_json::Value::Object(mut fields)) => {
                // The serialized form carries the code as its tag; the report has it
                // once, at the top.
                fields.remove("code");
                fields
            }
            // The error types hold plain data, with text standing in for foreign
            // sources, times and paths, so this does not happen; were it to, the report
            // still goes out, with its code and message.
            Ok(_) | Err(_) => serde_json::Map::new(),
        };
        Self { code: code.to_owned(), category, message: error.to_string(), details }
    }

    /// The HTTP status for this report's category ([`ErrorCategory::http_status`]).
    #[must_use]
    pub fn http_status(&self) -> u16 {
        self.category.http_status()
    }
}

/// One row of an error type's table: a variant, the stable code it carries and its
/// category. Each error type lists its rows as `CODES` ([`Refusal::CODES`](crate::Refusal::CODES),
/// [`StoreError::CODES`](crate::error::StoreError::CODES), …) in declaration order, and
/// [`Error::codes`](crate::Error::codes) runs through all of them, so a host can build its
/// own mapping (an API description, a translation table) without hard-coding the list.
///
/// # Example
///
/// ```
/// use caseledger::{error::ErrorCategory, Refusal};
///
/// let refusal = Refusal::OutcomeUnmet { outcome: "my laptop works".into() };
/// let row = Refusal::CODES.iter().find(|row| row.variant == "OutcomeUnmet").unwrap();
/// assert_eq!((refusal.code(), refusal.category()), (row.code, row.category));
/// assert_eq!(row.category, ErrorCategory::Conflict);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct ErrorCode {
    /// The error type (`"Refusal"`).
    pub error: &'static str,
    /// The variant, as Rust names it (`"OutcomeUnmet"`). Not part of any wire format.
    pub variant: &'static str,
    /// The stable code: what `code()` returns, the serialized tag and the report's `code`.
    pub code: &'static str,
    /// The variant's category.
    pub category: ErrorCategory,
}

impl ErrorCode {
    /// A row; only the table macro builds them.
    pub(super) const fn new(
        error: &'static str,
        variant: &'static str,
        code: &'static str,
        category: ErrorCategory,
    ) -> Self {
        Self { error, variant, code, category }
    }
}

/// Whether no code appears twice in `tables`, for the compile-time check that
/// [`Error::code`](crate::Error::code) names one variant of one error type.
pub(super) const fn codes_are_distinct(mut tables: &[&[ErrorCode]]) -> bool {
    // `const fn` has neither iterators nor `str` equality: plain loops over slices.
    while let Some((table, later_tables)) = tables.split_first() {
        let mut rows = *table;
        while let Some((row, later_rows)) = rows.split_first() {
            if appears_in(row.code, later_rows) || appears_in_any(row.code, later_tables) {
                return false;
            }
            rows = later_rows;
        }
        tables = later_tables;
    }
    true
}

const fn appears_in_any(code: &str, mut tables: &[&[ErrorCode]]) -> bool {
    while let Some((table, rest)) = tables.split_first() {
        if appears_in(code, table) {
            return true;
        }
        tables = rest;
    }
    false
}

const fn appears_in(code: &str, mut rows: &[ErrorCode]) -> bool {
    while let Some((row, rest)) = rows.split_first() {
        if same(code, row.code) {
            return true;
        }
        rows = rest;
    }
    false
}

const fn same(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.split_first(), b.split_first()) {
            (None, None) => return true,
            (Some((x, a_rest)), Some((y, b_rest))) if *x == *y => {
                a = a_rest;
                b = b_rest;
            }
            _ => return false,
        }
    }
}

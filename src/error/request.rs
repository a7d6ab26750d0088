//! [`RequestError`]: why a request's own condition does not hold on the case.

use serde::Serialize;

use super::table::error_table;
use crate::id::CaseId;

error_table! {
    /// Why a [`CaseRequest`](crate::CaseRequest) was not decided: a condition the request
    /// itself states (not a rule of the case) does not hold. Nothing was written.
    #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
    #[non_exhaustive]
    pub enum RequestError {
        /// The request was made for the case at `expected`
        /// ([`CaseRequest::expect_version`](crate::CaseRequest::expect_version), an HTTP
        /// `If-Match`), and the case is at `actual`: its author decided on a state that
        /// is gone and must look again. Never retried; HTTP 412. A race the repository
        /// lost without an expected version is a
        /// [`StoreError::Conflict`](crate::error::StoreError::Conflict) instead (409).
        #[error(
            "case {case}: the request was made at version {expected}, but the case is at version {actual} \
             (look at the case again before asking)"
        )]
        PreconditionFailed = ("precondition_failed", PreconditionFailed) {
            /// The case.
            case: CaseId,
            /// The version the request's author saw.
            expected: u64,
            /// The version the case is at.
            actual: u64,
        },
    }
    /// Always [`ErrorCategory::PreconditionFailed`](crate::error::ErrorCategory::PreconditionFailed)
    /// (HTTP 412) for now.
    fn category;
}

impl RequestError {
    /// Whether this is a [`RequestError::PreconditionFailed`].
    #[must_use]
    pub fn is_precondition_failed(&self) -> bool {
        matches!(self, Self::PreconditionFailed { .. })
    }
}

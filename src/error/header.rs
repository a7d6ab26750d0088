//! [`HeaderError`]: why a request header a host passes on cannot be read.
//!
//! The HTTP helpers (feature `axum`) raise it; the type is always compiled so that
//! [`Error::codes`](crate::Error::codes) lists the same codes whatever the features.

use serde::Serialize;

use super::table::error_table;

error_table! {
    /// Why a request header cannot be read as what the library takes from it.
    #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
    #[non_exhaustive]
    pub enum HeaderError {
        /// `If-Match` does not name one case version the way the case's `ETag` gave it
        /// (`"3"`, or `W/"3"`); RFC 9110's entity-tag list is not taken, since a command
        /// is decided on one version.
        #[error("If-Match must name one case version, as the ETag gave it (\"3\"); got {value}")]
        IfMatch = ("invalid_if_match", Invalid) {
            /// The header's value, as far as it is text.
            value: String,
        },
        /// The header's value is not visible ASCII text (RFC 9110 field values).
        #[error("the {header} header must be visible ASCII text")]
        NotText = ("header_not_text", Invalid) {
            /// The header's name.
            header: String,
        },
    }
    /// Always [`ErrorCategory::Invalid`](crate::error::ErrorCategory::Invalid): the request
    /// is unsound whatever the case's state.
    fn category;
}

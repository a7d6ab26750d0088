//! [`ConfigError`]: why a policy configuration cannot be used.

use serde::Serialize;

use super::table::error_table;

error_table! {
    /// Why a policy configuration cannot be used.
    #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
    #[non_exhaustive]
    pub enum ConfigError {
        /// The text is not a policy set: bad JSON, an unknown policy `type`, a misspelt or
        /// missing field, a malformed span.
        #[error("policy set, line {line}, column {column}: {message}")]
        Json = ("config_unreadable", Invalid) {
            /// The line, from 1.
            line: usize,
            /// The column, from 1.
            column: usize,
            /// What the parser said.
            message: String,
        },
        /// A number is out of range.
        #[error("policy {policy}: {field} {problem}")]
        Invalid = ("config_value_invalid", Invalid) {
            /// The policy (or section: `deadlines`, `escalation`).
            policy: &'static str,
            /// The field.
            field: &'static str,
            /// What is wrong, with the number.
            problem: String,
        },
    }
    /// Always [`ErrorCategory::Invalid`](crate::error::ErrorCategory::Invalid): the configuration
    /// given cannot be used.
    fn category;
}

//! [`KeyError`]: why a text is not an idempotency key.
//!
//! Keys are made in the id module, below every other error; this file stands only on the
//! table and the transport types, so the ids can import it without a loop.

use serde::Serialize;

use super::table::error_table;
use super::text::code_point;

error_table! {
    /// Why a text is not an [`IdempotencyKey`](crate::IdempotencyKey), raised by
    /// [`IdempotencyKey::new`](crate::IdempotencyKey::new).
    #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
    #[non_exhaustive]
    pub enum KeyError {
        /// The key is empty.
        #[error("an idempotency key must not be empty")]
        Empty = ("key_empty", Invalid),
        /// The key is longer than [`IdempotencyKey::MAX_BYTES`](crate::IdempotencyKey::MAX_BYTES).
        #[error("an idempotency key holds at most {max} bytes; this one holds {bytes}")]
        TooLong = ("key_too_long", Invalid) {
            /// The key's length in bytes.
            bytes: usize,
            /// The most allowed.
            max: usize,
        },
        /// The key holds a control character.
        #[error(
            "an idempotency key may not hold control characters; found {} at byte {offset}",
            code_point(*character)
        )]
        ControlCharacter = ("key_control_character", Invalid) {
            /// The first control character.
            character: char,
            /// Its byte offset.
            offset: usize,
        },
    }
    /// Always [`ErrorCategory::Invalid`](crate::error::ErrorCategory::Invalid): the text given
    /// cannot be a key.
    fn category;
}

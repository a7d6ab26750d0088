//! How error fields are written in messages and in reports' details: times as in the log,
//! code points as Unicode writes them, and anything serde cannot be trusted with as text.

use serde::Serializer;
use time::OffsetDateTime;

/// Times in messages are written as in the log (RFC 3339), so they can be searched for.
pub(super) fn rfc3339(at: &OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// `U+0000`, as Unicode writes a code point.
pub(super) fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// Times in details are written as in messages, and a time RFC 3339 cannot hold (the
/// reason for [`Refusal::TimeNotWritable`](crate::Refusal::TimeNotWritable)) still serializes.
pub(super) fn time_as_text<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339(at))
}

/// A path that is not UTF-8 would make serde fail; a report must not.
pub(super) fn path_as_text<S: Serializer>(path: &std::path::Path, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&path.display())
}

/// An error from outside the crate (the operating system's, a database's) has no
/// serialized shape of its own; its message stands for it.
pub(super) fn as_text<T: std::fmt::Display, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

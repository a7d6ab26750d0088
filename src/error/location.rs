//! [`Location`]: where in a store a damaged or inconsistent record sits, a line of a file
//! or a row of a table, so store errors name the place in the store's own terms.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::id::CaseId;

/// Where a stored record sits: a line of a file (a [`FileStore`](crate::FileStore)'s case
/// log) or a row of a database table (the events of the PostgreSQL store). Carried by
/// [`StoreError::Corrupt`](crate::error::StoreError::Corrupt), `Inconsistent`, `Checksum` and
/// `Quarantined`.
///
/// It displays as a support engineer looks the record up (`cases/0190.jsonl, line 2`;
/// `caseledger_events row (case …, event 3)`), and in a report's details its fields sit
/// beside the error's own: `path` and `line` (and `bytes` as `{start, end}` when known)
/// for a line, `table`, `case` and `seq` for a row.
///
/// # Example
///
/// ```
/// use caseledger::{error::Location, CaseId};
///
/// let line = Location::file_line("cases/0190.jsonl", 2).with_bytes(120..245);
/// assert_eq!(line.to_string(), "cases/0190.jsonl, line 2 (bytes 120..245)");
/// assert_eq!(line.line(), Some(2));
///
/// let row = Location::row("caseledger_events", CaseId::from_uuid(uuid::Uuid::nil()), 3);
/// assert_eq!(row.to_string(), "caseledger_events row (case 00000000-0000-0000-0000-000000000000, event 3)");
/// assert_eq!(row.path(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Location {
    /// A line of a file.
    #[non_exhaustive]
    Line {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// The bytes of the file the line spans, from its first byte to the byte after its
        /// newline (or the end of the file), when the store knows them.
        bytes: Option<Range<u64>>,
    },
    /// A row of a database table, named by the event it should hold.
    #[non_exhaustive]
    Row {
        /// The table.
        table: String,
        /// The case the row is stored under.
        case: CaseId,
        /// The sequence number the row is stored under.
        seq: u64,
    },
}

impl Location {
    /// Line `line` (from 1) of the file at `path`.
    #[must_use]
    pub fn file_line(path: impl Into<PathBuf>, line: usize) -> Self {
        Self::Line { path: path.into(), line, bytes: None }
    }

    /// The row of `table` that holds event `seq` of `case`.
    #[must_use]
    pub fn row(table: impl Into<String>, case: CaseId, seq: u64) -> Self {
        Self::Row { table: table.into(), case, seq }
    }

    /// The same line, with the bytes of the file it spans. A row has no bytes to give and
    /// is returned as it is.
    #[must_use]
    pub fn with_bytes(self, span: Range<u64>) -> Self {
        match self {
            Self::Line { path, line, .. } => Self::Line { path, line, bytes: Some(span) },
            row @ Self::Row { .. } => row,
        }
    }

    /// The file, for a line.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Line { path, .. } => Some(path),
            Self::Row { .. } => None,
        }
    }

    /// The line number (from 1), for a line.
    #[must_use]
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Line { line, .. } => Some(*line),
            Self::Row { .. } => None,
        }
    }

    /// What holds the record, without the line: a decode error already names its line,
    /// so a corrupt line's message gives only the file (`cases/0190.jsonl: line 2: …`).
    pub(super) fn holder(&self) -> Holder<'_> {
        Holder(self)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line { path, line, bytes } => {
                write!(f, "{}, line {line}", path.display())?;
                match bytes {
                    Some(span) => write!(f, " (bytes {}..{})", span.start, span.end),
                    None => Ok(()),
                }
            }
            Self::Row { table, case, seq } => write!(f, "{table} row (case {case}, event {seq})"),
        }
    }
}

/// [`Location::holder`]'s display.
pub(super) struct Holder<'a>(&'a Location);

impl fmt::Display for Holder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Location::Line { path, bytes: None, .. } => write!(f, "{}", path.display()),
            Location::Line { path, bytes: Some(span), .. } => {
                write!(f, "{} (bytes {}..{})", path.display(), span.start, span.end)
            }
            row @ Location::Row { .. } => row.fmt(f),
        }
    }
}

/// Its fields, to be flattened into the error's: `{path, line}` as the store errors
/// wrote them before there were rows.
impl Serialize for Location {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            Self::Line { path, line, bytes } => {
                // A path that is not UTF-8 would make serde fail; a report must not.
                map.serialize_entry("path", &path.display().to_string())?;
                map.serialize_entry("line", line)?;
                if let Some(span) = bytes {
                    map.serialize_entry("bytes", &Bytes { start: span.start, end: span.end })?;
                }
            }
            Self::Row { table, case, seq } => {
                map.serialize_entry("table", table)?;
                map.serialize_entry("case", case)?;
                map.serialize_entry("seq", seq)?;
            }
        }
        map.end()
    }
}

#[derive(Serialize)]
struct Bytes {
    start: u64,
    end: u64,
}

//! [`StoreError`]: why a store could not append or read events.

use serde::Serialize;

use super::decode::DecodeError;
use super::location::Location;
use super::log::LogError;
use super::table::error_table;
use super::text::{as_text, path_as_text};
use crate::id::{CaseId, EventId};

error_table! {
    /// Why a [`Store`](crate::Store) could not append or read events.
    ///
    /// An append that fails changes nothing the store has acknowledged; see each variant
    /// for whether anything of the failed batch may have been written.
    #[derive(Debug, thiserror::Error, Serialize)]
    #[non_exhaustive]
    pub enum StoreError {
        /// Optimistic concurrency: another writer appended first. Nothing was written; reload
        /// the events after your version, decide again, and retry.
        #[error(
            "case {case}: expected version {expected}, but the store is at version {actual} \
             (another writer appended first)"
        )]
        Conflict = ("conflict", Conflict) {
            /// The case.
            case: CaseId,
            /// The version the writer assumed.
            expected: u64,
            /// The version the store holds.
            actual: u64,
        },
        /// An event id is already stored at this position with different content: a retried
        /// append must resend exactly the same event. Nothing was written.
        #[error("case {case}: event {id} is already stored as event {seq} with different content")]
        ChangedRetry = ("changed_retry", Invalid) {
            /// The case.
            case: CaseId,
            /// The position both claim.
            seq: u64,
            /// The shared id.
            id: EventId,
        },
        /// The batch does not continue the case's log: an event of another case, a sequence
        /// gap, or an event id already used elsewhere in the log (I5). Nothing was written.
        #[error("case {case}: the batch does not continue the log: {source}")]
        Rejected = ("batch_rejected", Invalid) {
            /// The case.
            case: CaseId,
            /// The broken rule, with the offending event's sequence number (boxed to keep
            /// [`Error`](crate::Error) small).
            source: Box<LogError>,
        },
        /// The case has no events in the store.
        #[error("case {case} is not in the store")]
        UnknownCase = ("unknown_case", NotFound) {
            /// The case.
            case: CaseId,
        },
        /// The file system refused an operation.
        #[error("{}: {op} failed: {source}", path.display())]
        Io = ("io", Unavailable) {
            /// The file or directory.
            #[serde(serialize_with = "path_as_text")]
            path: std::path::PathBuf,
            /// What was being done ("append", "sync", "read").
            op: &'static str,
            /// The operating system's error.
            #[serde(serialize_with = "as_text")]
            source: std::io::Error,
        },
        /// The store's backend (a database, a network, a driver) failed; `source` is its own
        /// error. Whether anything was written depends on the backend: a store that appends
        /// in one transaction writes nothing when it reports this.
        #[error("the store's backend failed: {source}")]
        Backend = ("backend", Unavailable) {
            /// The backend's error, for logs and for downcasting to the driver's type.
            #[serde(serialize_with = "as_text")]
            source: Box<dyn std::error::Error + Send + Sync + 'static>,
        },
        /// A stored record (a line that is not the torn tail of an interrupted write, a
        /// row) cannot be decoded: it was damaged or edited. It is reported, never skipped.
        #[error("{}: {source}", location.holder())]
        Corrupt = ("corrupt_line", Corrupt) {
            /// Where the record is; the decode error names its line.
            #[serde(flatten)]
            location: Location,
            /// Why it does not decode.
            source: DecodeError,
        },
        /// A stored record decodes but does not continue the case's log (another case's
        /// event, a sequence gap, a repeated event id, a row holding another event).
        #[error("{location}: {source}")]
        Inconsistent = ("inconsistent_line", Corrupt) {
            /// Where the record is.
            #[serde(flatten)]
            location: Location,
            /// The broken rule (boxed to keep [`Error`](crate::Error) small).
            source: Box<LogError>,
        },
        /// A line's checksum does not match its bytes, or the line carries no checksum and
        /// is not a line written before checksums existed: it was changed after it was
        /// written (see [`FileStore`](crate::FileStore) for the line format).
        #[error("{location}: {}", checksum_problem(*stored, *computed))]
        Checksum = ("checksum_mismatch", Corrupt) {
            /// The line.
            #[serde(flatten)]
            location: Location,
            /// The checksum the line carries; `None` when it carries none that can be read.
            stored: Option<u32>,
            /// The checksum of the line's bytes.
            computed: u32,
        },
        /// Another [`FileStore`](crate::FileStore), in this process or another, has the
        /// directory open. Nothing was read or written.
        #[error(
            "{}: the directory is in use by another FileStore (in this or another process); \
             open one store per directory and share it",
            dir.display()
        )]
        // Unavailable, not Corrupt: once the other store is dropped, opening succeeds.
        Locked = ("store_locked", Unavailable) {
            /// The store's directory.
            #[serde(serialize_with = "path_as_text")]
            dir: std::path::PathBuf,
        },
        /// The case's log is damaged, so the store serves nothing of it and refuses appends
        /// to it until an operator repairs the file and reopens the store. The damage is
        /// listed by [`FileStore::quarantined`](crate::FileStore::quarantined).
        #[error("case {case} is quarantined: {location} is damaged; repair the file and reopen the store")]
        Quarantined = ("case_quarantined", Corrupt) {
            /// The case.
            case: CaseId,
            /// The first damaged line of its log file.
            #[serde(flatten)]
            location: Location,
        },
        /// The file ends in a whole event line followed by other bytes and no newline: the
        /// line's newline was changed after it was written. An interrupted append leaves
        /// at most a line without its newline, never more, so this is damage to a line that
        /// may have been acknowledged, not a torn write.
        #[error(
            "{location}: a whole event line is followed by other bytes instead of its newline \
             (the line was changed after it was written)"
        )]
        Unterminated = ("unterminated_line", Corrupt) {
            /// The line.
            #[serde(flatten)]
            location: Location,
        },
        /// An event's line would be longer than the store reads back
        /// ([`Limits::max_line_bytes`](crate::rules::Limits::max_line_bytes)). Nothing was written.
        #[error(
            "case {case}: event {seq} is {bytes} bytes as a line, over the store's limit of {max}; nothing was written"
        )]
        TooLarge = ("line_too_large", Invalid) {
            /// The case.
            case: CaseId,
            /// The event's sequence number.
            seq: u64,
            /// The length of its line in bytes (without the line break).
            bytes: usize,
            /// The store's limit.
            max: usize,
        },
    }
    /// What kind of failure this is (see [`ErrorCategory`](crate::error::ErrorCategory)): another
    /// writer came first ([`Conflict`](crate::error::ErrorCategory::Conflict): decide again and
    /// retry); the batch or retry was unsound ([`Invalid`](crate::error::ErrorCategory::Invalid));
    /// no such case ([`NotFound`](crate::error::ErrorCategory::NotFound)); the storage failed
    /// ([`Unavailable`](crate::error::ErrorCategory::Unavailable): retry later); or what is
    /// stored is damaged ([`Corrupt`](crate::error::ErrorCategory::Corrupt)).
    fn category;
}

fn checksum_problem(stored: Option<u32>, computed: u32) -> String {
    match stored {
        Some(stored) => format!(
            "checksum mismatch: the line says crc32c {stored:08x}, its bytes give {computed:08x} \
             (the line was changed after it was written)"
        ),
        None => "the line carries no checksum and is not a line written before checksums \
                 (it was changed after it was written)"
            .to_owned(),
    }
}

impl StoreError {
    /// A [`StoreError::Backend`] carrying `source`, the backend's own error (anything
    /// that converts into a boxed error, including a `String`).
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::error::StoreError;
    ///
    /// let err = StoreError::backend(std::io::Error::other("connection reset"));
    /// assert_eq!(err.to_string(), "the store's backend failed: connection reset");
    /// assert!(std::error::Error::source(&err).is_some());
    /// ```
    #[must_use]
    pub fn backend(source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self::Backend { source: source.into() }
    }

    /// Whether this is a [`StoreError::Conflict`], the one error a writer should answer
    /// by deciding again and retrying.
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }
}

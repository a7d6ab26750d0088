//! Worklist questions and answers: the query, its order and cursor, a page, a breach.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Row;
use crate::deadline::Deadline;
use crate::id::{CaseId, CustomerRef, Department, StaffId};
use crate::span::Span;

/// A place in the worklist order: a due time (or none: after every due time), then a
/// case id. A page's [`Page::next`] is one; pass it to [`Query::after`] for the next page.
///
/// Opaque: store and send it as text ([`fmt::Display`], [`FromStr`], serde) and compare
/// it, but build it only from a page or a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    due: Option<OffsetDateTime>,
    case: CaseId,
}

impl Cursor {
    pub(crate) const fn new(due: Option<OffsetDateTime>, case: CaseId) -> Self {
        Self { due, case }
    }

    /// The last place at `due`: every case due then is at or before it.
    pub(crate) const fn end_of(due: OffsetDateTime) -> Self {
        Self { due: Some(due), case: CaseId::from_uuid(Uuid::max()) }
    }

    #[cfg(feature = "postgres")]
    pub(crate) fn due(&self) -> Option<OffsetDateTime> {
        self.due
    }

    pub(crate) fn case(&self) -> CaseId {
        self.case
    }
}

impl Ord for Cursor {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due.is_none(), self.due, self.case).cmp(&(other.due.is_none(), other.due, other.case))
    }
}

impl PartialOrd for Cursor {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.due {
            Some(due) => write!(f, "{}.{}", due.unix_timestamp_nanos(), self.case.as_uuid()),
            None => write!(f, "none.{}", self.case.as_uuid()),
        }
    }
}

/// Text that is not a [`Cursor`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a worklist cursor (expected the text Cursor's Display writes)")]
pub struct ParseCursorError {
    /// The text given.
    pub text: String,
}

impl FromStr for Cursor {
    type Err = ParseCursorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseCursorError { text: s.to_owned() };
        let (due, case) = s.split_once('.').ok_or_else(err)?;
        let case = CaseId::from_uuid(Uuid::parse_str(case).map_err(|_| err())?);
        let due = match due {
            "none" => None,
            nanos => {
                let nanos: i128 = nanos.parse().map_err(|_| err())?;
                Some(OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| err())?)
            }
        };
        Ok(Self { due, case })
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Which rows a query selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Filter {
    All,
    Owner(StaffId),
    Department(Department),
    Customer(CustomerRef),
    /// Next deadline at or before the time.
    Breached(OffsetDateTime),
    /// Next deadline after the first time and at or before the second.
    DueWithin(OffsetDateTime, OffsetDateTime),
}

/// A worklist question: which open cases, from where, how many. Rows come ordered by
/// the due time of their next deadline (cases with none last), then by case id.
///
/// ```
/// use caseledger::worklist::Query;
/// use caseledger::policy::Span;
/// use time::macros::datetime;
///
/// let now = datetime!(2026-11-23 09:00 UTC);
/// let mine = Query::owner("ana").limit(20);
/// let soon = Query::due_within(now, Span::hours(1));
/// assert_eq!(mine.page_size(), 20);
/// assert_eq!(soon.page_size(), Query::DEFAULT_LIMIT);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub(crate) filter: Filter,
    pub(crate) after: Option<Cursor>,
    pub(crate) limit: usize,
}

impl Query {
    /// Rows per page unless [`Query::limit`] says otherwise.
    pub const DEFAULT_LIMIT: usize = 50;

    fn of(filter: Filter) -> Self {
        Self { filter, after: None, limit: Self::DEFAULT_LIMIT }
    }

    /// Every open case.
    #[must_use]
    pub fn all() -> Self {
        Self::of(Filter::All)
    }

    /// The open cases `owner` is accountable for.
    #[must_use]
    pub fn owner(owner: impl Into<StaffId>) -> Self {
        Self::of(Filter::Owner(owner.into()))
    }

    /// The open cases whose owner acts for `department`.
    #[must_use]
    pub fn department(department: impl Into<Department>) -> Self {
        Self::of(Filter::Department(department.into()))
    }

    /// The open cases of `customer`.
    #[must_use]
    pub fn customer(customer: impl Into<CustomerRef>) -> Self {
        Self::of(Filter::Customer(customer.into()))
    }

    /// The open cases whose next deadline is breached at `now` (due at or before it).
    #[must_use]
    pub fn breached(now: OffsetDateTime) -> Self {
        Self::of(Filter::Breached(now))
    }

    /// The open cases whose next deadline falls after `now` and within `span` of it.
    #[must_use]
    pub fn due_within(now: OffsetDateTime, span: Span) -> Self {
        let until = now.checked_add(span.to_duration()).unwrap_or(now);
        Self::of(Filter::DueWithin(now, until))
    }

    /// Starts after `cursor` (a previous page's [`Page::next`]); `None` starts at the top.
    #[must_use]
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.after = cursor;
        self
    }

    /// At most `limit` rows per page (at least one).
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit.max(1);
        self
    }

    /// Rows per page.
    #[must_use]
    pub fn page_size(&self) -> usize {
        self.limit
    }

    /// Whether `row` is one this query selects after its cursor: what a scan of every
    /// case would filter by, for checking an index against it.
    #[must_use]
    pub fn matches(&self, row: &Row) -> bool {
        if self.after.is_some_and(|after| row.cursor() <= after) {
            return false;
        }
        let due = row.next_deadline.map(|d| d.due_at);
        match &self.filter {
            Filter::All => true,
            Filter::Owner(id) => &row.owner.id == id,
            Filter::Department(d) => &row.owner.department == d,
            Filter::Customer(c) => &row.customer == c,
            Filter::Breached(now) => due.is_some_and(|due| due <= *now),
            Filter::DueWithin(now, until) => due.is_some_and(|due| due > *now && due <= *until),
        }
    }

    /// The query's range in the order: after the exclusive lower place, up to the
    /// inclusive upper one, with the cursor taken into account. `None` when empty.
    pub(crate) fn range(&self) -> Option<(Option<Cursor>, Option<Cursor>)> {
        let (lower, upper) = match &self.filter {
            Filter::Breached(now) => (None, Some(Cursor::end_of(*now))),
            Filter::DueWithin(now, until) => (Some(Cursor::end_of(*now)), Some(Cursor::end_of(*until))),
            _ => (None, None),
        };
        let lower = match (lower, self.after) {
            (Some(l), Some(a)) => Some(l.max(a)),
            (l, a) => l.or(a),
        };
        match (lower, upper) {
            (Some(l), Some(u)) if l >= u => None,
            bounds => Some(bounds),
        }
    }
}

/// A page of worklist rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page {
    /// The rows, in order.
    pub rows: Vec<Row>,
    /// Where the next page starts, when there are more rows; `None` on the last page.
    pub next: Option<Cursor>,
}

impl Page {
    /// A page from up to `limit + 1` rows in order: the extra row only says there is more.
    pub(crate) fn from_rows(mut rows: Vec<Row>, limit: usize) -> Self {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().map(Row::cursor) } else { None };
        Self { rows, next }
    }
}

/// A deadline that breached in a sweep's window ([`Worklist::breached_between`](super::Worklist::breached_between)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Breach {
    /// The case.
    pub case: CaseId,
    /// The deadline; [`Deadline::breach_note`] records it on the case's timeline.
    pub deadline: Deadline,
}

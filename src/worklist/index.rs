//! The in-process worklist: a folded case per case, a row per open case, and ordered
//! indexes per owner, department, customer and due time.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use time::OffsetDateTime;

use super::query::Filter;
use super::{Breach, Cursor, Page, Query, Row};
use crate::case::Case;
use crate::deadline::{Deadline, DeadlineKind, Deadlines};
use crate::error::LogError;
use crate::event::Event;
use crate::id::{CaseId, CustomerRef, Department, StaffId};
use crate::projection::Projection;

/// The worklist in memory: a [`Projection`] with ordered indexes (see the
/// [module](super)).
///
/// It folds a [`Case`] per case with [`Case::apply`], so a log that breaks the case's
/// rules stalls it on that case ([`LogError`]) instead of producing a wrong row, and
/// derives each open case's [`Row`] after every event. Closed cases keep their folded
/// case (a reopening needs it) but leave every index. Memory: the folded case plus the
/// row and five index entries per case; README gives the figure measured by
/// `benches/worklist.rs`.
#[derive(Clone, Debug, Default)]
pub struct Worklist {
    deadlines: Deadlines,
    cases: HashMap<CaseId, Entry>,
    all: BTreeSet<Cursor>,
    by_owner: HashMap<StaffId, BTreeSet<Cursor>>,
    by_department: HashMap<Department, BTreeSet<Cursor>>,
    by_customer: HashMap<CustomerRef, BTreeSet<Cursor>>,
    /// Every pending deadline of every open case, not only the next: the sweep's index.
    by_due: BTreeSet<(OffsetDateTime, CaseId, Kind)>,
}

#[derive(Clone, Debug)]
struct Entry {
    case: Case,
    row: Option<Row>,
    /// The case's pending deadlines as indexed in `by_due`.
    due: Vec<Deadline>,
}

/// [`DeadlineKind`] with an order, for the sweep's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Kind(u8);

impl Kind {
    fn of(kind: DeadlineKind) -> Self {
        Self(match kind {
            DeadlineKind::FirstResponse => 0,
            _ => 1,
        })
    }

    fn kind(self) -> DeadlineKind {
        if self.0 == 0 {
            DeadlineKind::FirstResponse
        } else {
            DeadlineKind::NextUpdate
        }
    }
}

impl Worklist {
    /// An empty worklist whose rows carry deadlines under `deadlines`.
    #[must_use]
    pub fn new(deadlines: Deadlines) -> Self {
        Self { deadlines, ..Self::default() }
    }

    /// The deadlines the rows are computed under.
    #[must_use]
    pub fn deadlines(&self) -> &Deadlines {
        &self.deadlines
    }

    /// How many open cases are on the list.
    #[must_use]
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// Whether no case is open.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// The row of `case`, if it is open.
    #[must_use]
    pub fn row(&self, case: CaseId) -> Option<&Row> {
        self.cases.get(&case).and_then(|e| e.row.as_ref())
    }

    /// The folded case, open or closed, as of the last event applied.
    #[must_use]
    pub fn case(&self, case: CaseId) -> Option<&Case> {
        self.cases.get(&case).map(|e| &e.case)
    }

    /// One page of the rows `query` selects, in order. O(page + log cases).
    #[must_use]
    pub fn page(&self, query: &Query) -> Page {
        let empty = BTreeSet::new();
        let set = match &query.filter {
            Filter::All | Filter::Breached(_) | Filter::DueWithin(..) => &self.all,
            Filter::Owner(id) => self.by_owner.get(id).unwrap_or(&empty),
            Filter::Department(d) => self.by_department.get(d).unwrap_or(&empty),
            Filter::Customer(c) => self.by_customer.get(c).unwrap_or(&empty),
        };
        let Some((lower, upper)) = query.range() else {
            return Page::from_rows(Vec::new(), query.limit);
        };
        let lower = lower.map_or(Bound::Unbounded, Bound::Excluded);
        let upper = upper.map_or(Bound::Unbounded, Bound::Included);
        let rows = set
            .range((lower, upper))
            .take(query.limit.saturating_add(1))
            .filter_map(|cursor| self.row(cursor.case()).cloned())
            .collect();
        Page::from_rows(rows, query.limit)
    }

    /// The sweep (S5): every deadline of an open case that became breached after
    /// `after` and at or before `until`, ordered by due time, then case. A timer that
    /// passes the time of its previous run gets each breach once, and records it with
    /// [`Deadline::breach_note`] or escalates. Equals
    /// [`Deadlines::breached_between`] on every open case. O(breaches + log cases).
    #[must_use]
    pub fn breached_between(&self, after: OffsetDateTime, until: OffsetDateTime) -> Vec<Breach> {
        if until <= after {
            return Vec::new();
        }
        let lower = Bound::Excluded((after, CaseId::from_uuid(uuid::Uuid::max()), Kind(u8::MAX)));
        let upper = Bound::Included((until, CaseId::from_uuid(uuid::Uuid::max()), Kind(u8::MAX)));
        self.by_due
            .range((lower, upper))
            .map(|(due_at, case, kind)| Breach { case: *case, deadline: deadline(kind.kind(), *due_at) })
            .collect()
    }

    /// Re-derives `case`'s row and deadlines after an event and moves its index entries,
    /// if anything the indexes order by changed (most events, notes for instance, change
    /// nothing there).
    fn reindex(&mut self, case: CaseId) {
        let Some(entry) = self.cases.get_mut(&case) else { return };
        let row = Row::of(&entry.case, &self.deadlines);
        let due = self.deadlines.due(&entry.case);
        if row == entry.row && due == entry.due {
            return;
        }
        let (old_row, old_due) = (std::mem::replace(&mut entry.row, row), std::mem::replace(&mut entry.due, due));
        for d in old_due {
            self.by_due.remove(&(d.due_at, case, Kind::of(d.kind)));
        }
        if let Some(row) = old_row {
            let key = row.cursor();
            self.all.remove(&key);
            remove(&mut self.by_owner, &row.owner.id, &key);
            remove(&mut self.by_department, &row.owner.department, &key);
            remove(&mut self.by_customer, &row.customer, &key);
        }
        for d in &entry.due {
            self.by_due.insert((d.due_at, case, Kind::of(d.kind)));
        }
        if let Some(row) = &entry.row {
            let key = row.cursor();
            self.all.insert(key);
            insert(&mut self.by_owner, &row.owner.id, key);
            insert(&mut self.by_department, &row.owner.department, key);
            insert(&mut self.by_customer, &row.customer, key);
        }
    }
}

/// Adds `cursor` to `key`'s set, cloning the key only for a new set.
fn insert<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, BTreeSet<Cursor>>, key: &K, cursor: Cursor) {
    match map.get_mut(key) {
        Some(set) => {
            set.insert(cursor);
        }
        None => {
            map.insert(key.clone(), BTreeSet::from([cursor]));
        }
    }
}

fn deadline(kind: DeadlineKind, due_at: OffsetDateTime) -> Deadline {
    // `Deadline` is non-exhaustive for hosts; inside the crate it is built directly.
    Deadline { kind, due_at }
}

fn remove<K: std::hash::Hash + Eq>(map: &mut HashMap<K, BTreeSet<Cursor>>, key: &K, cursor: &Cursor) {
    if let Some(set) = map.get_mut(key) {
        set.remove(cursor);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

impl Projection for Worklist {
    type Error = LogError;

    /// Folds the event into its case and re-derives the case's row and deadlines.
    fn apply(&mut self, event: &Event) -> Result<(), LogError> {
        match self.cases.get_mut(&event.case) {
            Some(entry) => entry.case.apply(event)?,
            None => {
                let case = Case::from_opened(event)?;
                self.cases.insert(event.case, Entry { case, row: None, due: Vec::new() });
            }
        }
        self.reindex(event.case);
        Ok(())
    }

    fn reset(&mut self) {
        *self = Self::new(std::mem::take(&mut self.deadlines));
    }
}

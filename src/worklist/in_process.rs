//! The worklist's queries on a [`Projected`] store, as owned values: the projection is
//! read inside the call and let go before it returns, so a host can append with the
//! answer in hand (the sweep loop) without holding the projection's lock.

use time::OffsetDateTime;

use super::{Breach, Page, Query, Row, Worklist};
use crate::id::CaseId;
use crate::projection::Projected;
use crate::store::Store;

impl<S: Store> Projected<S, Worklist> {
    /// One page of the rows `query` selects ([`Worklist::page`]).
    ///
    /// # Panics
    ///
    /// Inside a [`Projected::view`] closure of the same store on the same thread (use
    /// the worklist the closure holds).
    #[must_use]
    pub fn page(&self, query: &Query) -> Page {
        self.view(|worklist| worklist.page(query))
    }

    /// The deadlines breached after `after` and at or before `until`
    /// ([`Worklist::breached_between`]): what a host's timer records, appending to the
    /// store as it goes.
    ///
    /// # Panics
    ///
    /// As [`Projected::page`].
    #[must_use]
    pub fn breached_between(&self, after: OffsetDateTime, until: OffsetDateTime) -> Vec<Breach> {
        self.view(|worklist| worklist.breached_between(after, until))
    }

    /// The row of `case`, if it is open ([`Worklist::row`]).
    ///
    /// # Panics
    ///
    /// As [`Projected::page`].
    #[must_use]
    pub fn row(&self, case: CaseId) -> Option<Row> {
        self.view(|worklist| worklist.row(case).cloned())
    }
}

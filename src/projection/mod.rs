//! Projections: read models built from the events of every case, one shape for every store.
//!
//! A host writes its read model once, as a [`Projection`]: what to do with one event.
//! The crate feeds it:
//!
//! - **In process** (any [`Store`](crate::Store), so [`MemoryStore`](crate::MemoryStore) and
//!   [`FileStore`](crate::FileStore)): [`Projected`] wraps the store, rebuilds the
//!   projection from the stored cases when it is made, and feeds it each acknowledged
//!   append.
//! - **From the PostgreSQL feed** (feature `postgres`): [`FeedFollower`] pages the
//!   change feed into the same projection value and keeps its position with it; a read
//!   model that lives in PostgreSQL tables implements [`PgProjection`] instead and
//!   [`PgRunner`] writes its rows and its checkpoint in one transaction.
//!
//! # The guarantees
//!
//! - **Each case's events in sequence order, every stored event exactly once**: a
//!   projection sees event *n* of a case only after event *n − 1* of that case, and
//!   sees every stored event once. Across cases there is no order: two cases' events
//!   interleave as appends, pages or rebuilds happen to bring them.
//! - **An append that was stored is never reported as failed because of a projection.**
//!   A projection that refuses an event ([`Projection::apply`] returns an error) is
//!   *stalled* on that case: the error is kept and shown by [`Projected::status`], the
//!   case's later events wait, other cases go on, and the event is offered again on the
//!   case's next append and on [`Projected::retry`].
//! - **A rebuild starts from nothing**: [`Projection::reset`], then every stored case's
//!   log in order. [`Projected::new`] rebuilds, so a process that restarts over a
//!   [`FileStore`](crate::FileStore) directory gets the same model as before the restart.
//! - On PostgreSQL with [`PgRunner`]: **a crash never applies an event twice or skips
//!   one**, because the rows and the checkpoint commit together or not at all; lag is
//!   [`PgStore::feed_lag`](crate::PgStore::feed_lag) from the checkpoint, and a runner that
//!   stopped making progress is told apart from a quiet store by [`RunnerStatus`].
//!
//! A projection reads no clock and does no I/O of its own, so the same value runs
//! unchanged on all three stores. The crate ships one: the
//! [`Worklist`](crate::worklist::Worklist).
//!
//! # Example
//!
//! ```
//! use std::collections::BTreeMap;
//! use caseledger::projection::{Projected, Projection};
//! use caseledger::{Actor, CaseId, Event, EventKind, MemoryStore, Opening, Rules, Staff, Store};
//! use time::macros::datetime;
//!
//! /// Open cases per department of the current owner.
//! #[derive(Default)]
//! struct PerDepartment {
//!     owner: BTreeMap<CaseId, String>,
//! }
//!
//! impl Projection for PerDepartment {
//!     type Error = std::convert::Infallible;
//!
//!     fn apply(&mut self, event: &Event) -> Result<(), Self::Error> {
//!         match &event.what {
//!             EventKind::Opened { owner, .. } | EventKind::Transferred { to: owner, .. } => {
//!                 self.owner.insert(event.case, owner.department.to_string());
//!             }
//!             EventKind::Resolved { .. } | EventKind::ClosedUnresolved { .. } => {
//!                 self.owner.remove(&event.case);
//!             }
//!             _ => {}
//!         }
//!         Ok(())
//!     }
//!
//!     fn reset(&mut self) {
//!         self.owner.clear();
//!     }
//! }
//!
//! let store = Projected::new(MemoryStore::new(), PerDepartment::default())?;
//! let t = datetime!(2026-11-23 09:00 UTC);
//! let case = CaseId::new_v7(t, [1; 10]);
//! let opened = Rules::default().open(case, Opening::new("cust-7", "my laptop works",
//!     Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?;
//! store.append(case, 0, &[opened])?;
//!
//! // The append is acknowledged and already in the read model.
//! assert_eq!(store.view(|p| p.owner.get(&case).cloned()).as_deref(), Some("software"));
//! assert!(store.status().is_current());
//! # Ok::<(), caseledger::Error>(())
//! ```

#[cfg(feature = "postgres")]
mod postgres;
mod projected;

use crate::event::Event;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{FeedFollower, PgProjection, PgRunner, Progress, RunError, RunnerStatus};
pub use projected::{Projected, ProjectionStatus, Stall, StallCause};

/// A read model folded from events: what to do with one event, and how to start over.
///
/// The runners call [`Projection::apply`] with each case's events in sequence order,
/// each stored event once (see the [module](self) for the guarantees). An
/// implementation keeps its state in memory and does no I/O, so it runs unchanged in
/// process ([`Projected`]) and from the PostgreSQL feed ([`FeedFollower`], feature
/// `postgres`).
pub trait Projection: Send {
    /// Why an event cannot be applied (for instance a log that breaks the case's rules).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Folds one event into the read model.
    ///
    /// # Errors
    ///
    /// The projection's own refusal. It must leave the model as it was before the call:
    /// the runner offers the same event again later.
    fn apply(&mut self, event: &Event) -> Result<(), Self::Error>;

    /// Forgets everything, before a rebuild from the first event.
    fn reset(&mut self);
}

impl<P: Projection + ?Sized> Projection for Box<P> {
    type Error = P::Error;

    fn apply(&mut self, event: &Event) -> Result<(), Self::Error> {
        (**self).apply(event)
    }

    fn reset(&mut self) {
        (**self).reset();
    }
}

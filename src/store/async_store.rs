//! The asynchronous store contract (feature `async`): the [`Store`](super::Store)
//! promises, awaited instead of blocked on, for hosts that run on an async runtime.

use std::future::Future;
use std::sync::Arc;

use super::{Appended, Loaded, Store};
use crate::case::Snapshot;
use crate::error::StoreError;
use crate::event::{Event, EventKind};
use crate::id::{CaseId, CustomerRef, IncidentId};

/// Where a case's events are kept, for hosts on an async runtime (tokio with sqlx, for
/// instance): the same contract as [`Store`], each method returning a future.
///
/// # The contract
///
/// Every promise of [`Store`] holds, method for method, with the same arguments,
/// results and errors:
///
/// - **Expected version.** [`AsyncStore::append`] writes nothing and returns
///   [`StoreError::Conflict`] (with the version it holds as `actual`) unless the case's
///   stored version is `expected`, except for a retry (next point). Checking and writing
///   must be one atomic step against every other writer of the case, in this process or
///   any other (in SQL: one transaction and a unique index on `(case, seq)`).
/// - **Idempotent appends.** Events already stored at the same positions with identical
///   content are a no-op ([`Appended::written`] counts only the new ones, and
///   [`Appended::version`] is the stored version afterwards, which may be past the
///   batch); the same id with other content is [`StoreError::ChangedRetry`]; a resent
///   batch reaching past the stored log writes only the rest.
/// - **Envelope checks.** Each event names the case, continues the sequence and carries
///   an id not used elsewhere in the log (I5), else [`StoreError::Rejected`].
/// - **Reads** return a case's events in sequence order; an unknown case reads as empty
///   and has version 0. [`AsyncStore::cases`] and the index queries answer in id order.
///
/// A store does not fold events or check the case's rules: the repository
/// ([`AsyncRepository`](crate::AsyncRepository)) checks every new event against the
/// folded case before asking the store to append it.
///
/// # Futures
///
/// - Each method returns `impl Future<Output = …> + Send`: the future may borrow `self`
///   and the arguments (`events`, `customer`, `incident`) and is polled to completion on
///   whatever executor the host runs; `Send` lets a host `tokio::spawn` a command. An
///   implementation may write the methods as `async fn` (the `Send` bound is then checked
///   on its body).
/// - A future must not block its executor thread: do blocking I/O through the runtime's
///   facilities (`spawn_blocking`), or use an async driver (sqlx).
/// - **Cancellation.** A host may drop a future before it completes (a timeout, a client
///   that went away). A dropped [`AsyncStore::append`] must leave the case as a crash
///   would: the whole batch written or none of it (roll back the transaction). The
///   repository then treats the outcome as unknown: its cached case stays where it was,
///   and the next command meets [`StoreError::Conflict`] if the batch landed, catches up
///   and decides again.
/// - The repository awaits at most one store future per command at a time, and holds no
///   lock while it waits.
///
/// # Errors
///
/// As for [`Store`]: the contract's own errors above, and the store's own failures
/// ([`StoreError::Io`] and whatever variant the store layer provides for a backend's
/// errors, carrying the source error). Never panic on a database error: return it.
///
/// # Not object safe
///
/// Methods returning `impl Future` make the trait unusable as `dyn AsyncStore`; use a
/// generic parameter (`AsyncRepository<S: AsyncStore>`). `&S`, `Arc<S>` and `Box<S>`
/// are stores when `S` is.
///
/// # Example
///
/// [`MemoryStore`](crate::MemoryStore) implements both traits; with both in scope, name
/// the trait to pick the asynchronous method:
///
/// ```
/// use caseledger::{Actor, AsyncStore, CaseId, MemoryStore, Opening, Rules, Staff};
/// use time::macros::datetime;
///
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     // Any executor will do; MemoryStore's futures are ready at once.
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let case = CaseId::new_v7(t, [1; 10]);
/// let opened = Rules::default().open(case, Opening::new("cust-7", "my laptop works",
///     Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?;
///
/// let store = MemoryStore::new();
/// block_on(async {
///     assert_eq!(AsyncStore::append(&store, case, 0, &[opened.clone()]).await?.written, 1);
///     assert_eq!(AsyncStore::append(&store, case, 0, &[opened]).await?.written, 0, "a retry");
///     assert_eq!(AsyncStore::read(&store, case).await?.len(), 1);
///     Ok::<(), caseledger::error::StoreError>(())
/// })?;
/// # Ok::<(), caseledger::Error>(())
/// ```
pub trait AsyncStore: Send + Sync {
    /// Appends `events` to `case`, whose stored version the writer expects to be
    /// `expected`. The events must be `case`'s, numbered `expected + 1`, `expected + 2`, ….
    /// See [`Store::append`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the store holds a different version (nothing is
    /// written), [`StoreError::ChangedRetry`] when an event id is stored at the same
    /// position with other content, [`StoreError::Rejected`] when the batch does not
    /// continue the log, and the store's own failures.
    fn append(
        &self,
        case: CaseId,
        expected: u64,
        events: &[Event],
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send;

    /// The events of `case` after version `after` (sequence numbers `after + 1` …), in
    /// order. Empty for a case the store does not hold. See [`Store::read_after`].
    ///
    /// # Errors
    ///
    /// The store's own failures, or [`StoreError::Corrupt`] when stored data no longer
    /// decodes.
    fn read_after(&self, case: CaseId, after: u64) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;

    /// The stored version of `case`: its number of events, 0 if unknown.
    ///
    /// # Errors
    ///
    /// The store's own failures.
    fn version(&self, case: CaseId) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Every case the store holds, in id order (for v7 ids: opening order).
    ///
    /// # Errors
    ///
    /// The store's own failures.
    fn cases(&self) -> impl Future<Output = Result<Vec<CaseId>, StoreError>> + Send;

    /// All events of `case`, in order. Empty for a case the store does not hold.
    ///
    /// # Errors
    ///
    /// As [`AsyncStore::read_after`].
    fn read(&self, case: CaseId) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send {
        self.read_after(case, 0)
    }

    /// Several cases' events in one call, as [`Store::read_after_many`]: for each
    /// `(case, after)` of `reads`, the events after `after`, one entry per read in the
    /// order of `reads`.
    ///
    /// The default awaits [`AsyncStore::read_after`] once per read; a database store
    /// should answer in one query (`PgStore` does).
    ///
    /// # Errors
    ///
    /// As [`AsyncStore::read_after`], for any of the reads.
    fn read_after_many(
        &self,
        reads: &[(CaseId, u64)],
    ) -> impl Future<Output = Result<Vec<Vec<Event>>, StoreError>> + Send {
        async move {
            let mut answers = Vec::with_capacity(reads.len());
            for &(case, after) in reads {
                answers.push(self.read_after(case, after).await?);
            }
            Ok(answers)
        }
    }

    /// Keeps `snapshot` as its case's latest unless a later one is kept; `Ok(false)` when
    /// the store keeps none (the default). See [`Store::write_snapshot`].
    ///
    /// # Errors
    ///
    /// The store's own failures; the repository reports them and the command succeeds.
    fn write_snapshot(&self, snapshot: &Snapshot) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let _ = snapshot;
        std::future::ready(Ok(false))
    }

    /// The latest snapshot kept for `case`, unchecked; the default keeps none. See
    /// [`Store::read_snapshot`].
    ///
    /// # Errors
    ///
    /// The store's own failures.
    fn read_snapshot(&self, case: CaseId) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send {
        let _ = case;
        std::future::ready(Ok(None))
    }

    /// A cold load: the snapshot and the events from its version on ([`Loaded`]). The
    /// default awaits [`AsyncStore::read_snapshot`] then [`AsyncStore::read_after`]; a
    /// database store should do both in one round trip. See [`Store::load`].
    ///
    /// # Errors
    ///
    /// As [`AsyncStore::read_after`].
    fn load(&self, case: CaseId) -> impl Future<Output = Result<Loaded, StoreError>> + Send {
        async move {
            let snapshot = self.read_snapshot(case).await?;
            let events = self.read_after(case, Loaded::read_after(snapshot.as_ref())).await?;
            Ok(Loaded::new(snapshot, events))
        }
    }

    /// Every case opened for `customer`, in id order (S3).
    ///
    /// The default reads the first event of every case: O(number of cases) reads. A
    /// database store should answer from an index (one query).
    ///
    /// # Errors
    ///
    /// The store's own failures.
    fn customer_cases(&self, customer: &CustomerRef) -> impl Future<Output = Result<Vec<CaseId>, StoreError>> + Send {
        async move {
            let mut found = Vec::new();
            for case in self.cases().await? {
                let events = self.read(case).await?;
                if let Some(EventKind::Opened { customer: c, .. }) = events.first().map(|e| &e.what) {
                    if c == customer {
                        found.push(case);
                    }
                }
            }
            Ok(found)
        }
    }

    /// Every case linked to `incident`, in id order (S6).
    ///
    /// The default reads every event of every case: O(all stored events). A database
    /// store should answer from an index (one query).
    ///
    /// # Errors
    ///
    /// The store's own failures.
    fn incident_cases(&self, incident: &IncidentId) -> impl Future<Output = Result<Vec<CaseId>, StoreError>> + Send {
        async move {
            let mut found = Vec::new();
            for case in self.cases().await? {
                let linked = self
                    .read(case)
                    .await?
                    .iter()
                    .any(|e| matches!(&e.what, EventKind::IncidentLinked { incident: i } if i == incident));
                if linked {
                    found.push(case);
                }
            }
            Ok(found)
        }
    }
}

macro_rules! forward_async_store {
    ($($ty:ty),*) => {$(
        impl<T: AsyncStore + ?Sized> AsyncStore for $ty {
            fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> impl Future<Output = Result<Appended, StoreError>> + Send {
                (**self).append(case, expected, events)
            }
            fn read_after(&self, case: CaseId, after: u64) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send {
                (**self).read_after(case, after)
            }
            fn version(&self, case: CaseId) -> impl Future<Output = Result<u64, StoreError>> + Send {
                (**self).version(case)
            }
            fn cases(&self) -> impl Future<Output = Result<Vec<CaseId>, StoreError>> + Send {
                (**self).cases()
            }
            fn read(&self, case: CaseId) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send {
                (**self).read(case)
            }
            fn read_after_many(&self, reads: &[(CaseId, u64)]) -> impl Future<Output = Result<Vec<Vec<Event>>, StoreError>> + Send {
                (**self).read_after_many(reads)
            }
            fn customer_cases(&self, customer: &CustomerRef) -> impl Future<Output = Result<Vec<CaseId>, StoreError>> + Send {
                (**self).customer_cases(customer)
            }
            fn incident_cases(&self, incident: &IncidentId) -> impl Future<Output = Result<Vec<CaseId>, StoreError>> + Send {
                (**self).incident_cases(incident)
            }
            fn write_snapshot(&self, snapshot: &Snapshot) -> impl Future<Output = Result<bool, StoreError>> + Send {
                (**self).write_snapshot(snapshot)
            }
            fn read_snapshot(&self, case: CaseId) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send {
                (**self).read_snapshot(case)
            }
            fn load(&self, case: CaseId) -> impl Future<Output = Result<Loaded, StoreError>> + Send {
                (**self).load(case)
            }
        }
    )*};
}

forward_async_store!(&T, Arc<T>, Box<T>);

/// The in-memory store answers at once: each future is ready on its first poll.
impl AsyncStore for super::MemoryStore {
    fn append(
        &self,
        case: CaseId,
        expected: u64,
        events: &[Event],
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send {
        std::future::ready(Store::append(self, case, expected, events))
    }

    fn read_after(&self, case: CaseId, after: u64) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send {
        std::future::ready(Store::read_after(self, case, after))
    }

    fn version(&self, case: CaseId) -> impl Future<Output = Result<u64, StoreError>> + Send {
        std::future::ready(Store::version(self, case))
    }

    fn cases(&self) -> impl Future<Output = Result<Vec<CaseId>, StoreError>> + Send {
        std::future::ready(Store::cases(self))
    }

    fn read_after_many(
        &self,
        reads: &[(CaseId, u64)],
    ) -> impl Future<Output = Result<Vec<Vec<Event>>, StoreError>> + Send {
        std::future::ready(Store::read_after_many(self, reads))
    }

    fn customer_cases(&self, customer: &CustomerRef) -> impl Future<Output = Result<Vec<CaseId>, StoreError>> + Send {
        std::future::ready(Store::customer_cases(self, customer))
    }

    fn incident_cases(&self, incident: &IncidentId) -> impl Future<Output = Result<Vec<CaseId>, StoreError>> + Send {
        std::future::ready(Store::incident_cases(self, incident))
    }

    fn write_snapshot(&self, snapshot: &Snapshot) -> impl Future<Output = Result<bool, StoreError>> + Send {
        std::future::ready(Store::write_snapshot(self, snapshot))
    }

    fn read_snapshot(&self, case: CaseId) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send {
        std::future::ready(Store::read_snapshot(self, case))
    }

    fn load(&self, case: CaseId) -> impl Future<Output = Result<Loaded, StoreError>> + Send {
        std::future::ready(Store::load(self, case))
    }
}

//! Projections from the PostgreSQL change feed (feature `postgres`): an in-memory
//! projection that follows the feed, and a runner that writes a read model in tables
//! together with its checkpoint.

use std::fmt;
use std::future::Future;

use sqlx::postgres::PgConnection;
use time::{Duration, OffsetDateTime};

use super::Projection;
use crate::error::StoreError;
use crate::event::Event;
use crate::id::CaseId;
use crate::store::{FeedLag, FeedPosition, PgStore};

/// How far one poll got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Events applied by this poll.
    pub applied: usize,
    /// The position after them: where the next poll starts.
    pub position: FeedPosition,
    /// Whether the page was shorter than asked for: nothing more was readable.
    pub caught_up: bool,
}

/// Why a poll stopped; nothing of its page was recorded as applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError<E: std::error::Error + 'static> {
    /// The database failed (reading the feed, the checkpoint, or committing).
    #[error("the projection's store failed: {0}")]
    Store(#[from] StoreError),
    /// The projection refused an event; it is offered again on the next poll.
    #[error("the projection refused event {seq} of case {case}: {error}")]
    Projection {
        /// The event's case.
        case: CaseId,
        /// The event's sequence number.
        seq: u64,
        /// The projection's error.
        #[source]
        error: E,
    },
    /// The projection could not empty its read model for a rebuild; nothing changed.
    #[error("the projection could not reset for a rebuild: {error}")]
    Reset {
        /// The projection's error.
        #[source]
        error: E,
    },
}

/// Whether a feed projection keeps up: its position, its lag, and when it last polled
/// successfully, from [`FeedFollower::status`] or [`PgRunner::status`].
///
/// A quiet store and a stalled projection both show no new rows; they differ here. A
/// projection is **stalled** when events are readable (`lag.unread > 0`) and it has not
/// polled successfully for longer than the host's patience ([`RunnerStatus::is_stalled`]).
/// Events **held** back by a long transaction elsewhere (`lag.held`) are not the
/// projection's fault: they show a transaction to look for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunnerStatus {
    /// The checkpoint: the position after the last event applied and recorded.
    pub position: FeedPosition,
    /// Events after the checkpoint, readable now and held back.
    pub lag: FeedLag,
    /// The host's time of the last poll that succeeded (with or without events), if any.
    pub last_success: Option<OffsetDateTime>,
    /// The last poll's error, as text, if the last poll failed.
    pub last_error: Option<String>,
}

impl RunnerStatus {
    /// Whether readable events wait and no poll has succeeded for longer than
    /// `patience` before `now` (or ever).
    #[must_use]
    pub fn is_stalled(&self, now: OffsetDateTime, patience: Duration) -> bool {
        self.lag.unread > 0 && self.last_success.is_none_or(|at| now - at > patience)
    }
}

/// Poll bookkeeping shared by both runners.
#[derive(Clone, Debug, Default)]
struct Health {
    last_success: Option<OffsetDateTime>,
    last_error: Option<String>,
}

impl Health {
    fn record<T, E: fmt::Display>(&mut self, result: &Result<T, E>, now: OffsetDateTime) {
        match result {
            Ok(_) => {
                self.last_success = Some(now);
                self.last_error = None;
            }
            Err(e) => self.last_error = Some(e.to_string()),
        }
    }

    fn status(&self, position: FeedPosition, lag: FeedLag) -> RunnerStatus {
        RunnerStatus { position, lag, last_success: self.last_success, last_error: self.last_error.clone() }
    }
}

/// A runner that applies the feed a page at a time; catching up is the same loop for all.
trait PollPage {
    type Error: std::error::Error + Send + 'static;

    fn poll_page(
        &mut self,
        store: &PgStore,
        limit: usize,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Progress, RunError<Self::Error>>> + Send;
}

/// Polls pages of `limit` until one comes back short; the events applied.
async fn until_caught_up<R: PollPage>(
    runner: &mut R,
    store: &PgStore,
    limit: usize,
    now: OffsetDateTime,
) -> Result<usize, RunError<R::Error>> {
    let mut total = 0;
    loop {
        let progress = runner.poll_page(store, limit.max(1), now).await?;
        total += progress.applied;
        if progress.caught_up {
            return Ok(total);
        }
    }
}

impl<P: Projection> PollPage for FeedFollower<P> {
    type Error = P::Error;

    fn poll_page(
        &mut self,
        store: &PgStore,
        limit: usize,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Progress, RunError<P::Error>>> + Send {
        self.poll(store, limit, now)
    }
}

impl<P: PgProjection> PollPage for PgRunner<P> {
    type Error = P::Error;

    fn poll_page(
        &mut self,
        store: &PgStore,
        limit: usize,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Progress, RunError<P::Error>>> + Send {
        self.poll(store, limit, now)
    }
}

/// An in-memory [`Projection`] fed from the PostgreSQL feed, its position kept with it.
///
/// The same projection value that runs in a [`Projected`](super::Projected) store runs
/// here unchanged. The position lives with the model: a process that restarts either
/// rebuilds from [`FeedPosition::START`] ([`FeedFollower::new`]) or resumes from a
/// position it saved together with its model ([`FeedFollower::resume`]). Each poll
/// applies one page in feed order (each case's events in sequence order, every event
/// once) and moves the position only past events applied.
#[derive(Debug)]
pub struct FeedFollower<P> {
    projection: P,
    at: FeedPosition,
    health: Health,
}

impl<P: Projection> FeedFollower<P> {
    /// Follows the feed from its start; `projection` is reset first.
    pub fn new(mut projection: P) -> Self {
        projection.reset();
        Self { projection, at: FeedPosition::START, health: Health::default() }
    }

    /// Follows the feed from `at`, the position saved with `projection`'s state.
    pub fn resume(projection: P, at: FeedPosition) -> Self {
        Self { projection, at, health: Health::default() }
    }

    /// The position after the last event applied.
    pub fn position(&self) -> FeedPosition {
        self.at
    }

    /// The projection.
    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// The projection and its position, to save together.
    pub fn into_parts(self) -> (P, FeedPosition) {
        (self.projection, self.at)
    }

    /// Starts over from the first event: [`Projection::reset`] and position
    /// [`FeedPosition::START`]; the next polls rebuild the model.
    pub fn rebuild(&mut self) {
        self.projection.reset();
        self.at = FeedPosition::START;
    }

    /// Reads one page of up to `limit` events and applies them. `now` is the host's
    /// time, kept for [`FeedFollower::status`].
    ///
    /// # Errors
    ///
    /// [`RunError::Store`] when the feed cannot be read; [`RunError::Projection`] when
    /// the projection refuses an event: the events before it stay applied and the
    /// position stops before it.
    pub async fn poll(
        &mut self,
        store: &PgStore,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Progress, RunError<P::Error>> {
        let result = self.read_and_apply(store, limit).await;
        self.health.record(&result, now);
        result
    }

    async fn read_and_apply(&mut self, store: &PgStore, limit: usize) -> Result<Progress, RunError<P::Error>> {
        let page = store.read_feed(self.at, limit).await?;
        let mut applied = 0;
        for item in &page.events {
            let event = &item.event;
            self.projection.apply(event).map_err(|error| RunError::Projection {
                case: event.case,
                seq: event.seq,
                error,
            })?;
            self.at = item.position;
            applied += 1;
        }
        Ok(Progress { applied, position: self.at, caught_up: page.events.len() < limit })
    }

    /// Polls pages of `limit` until a page comes back short: everything readable now is
    /// applied. Returns the events applied.
    ///
    /// # Errors
    ///
    /// As [`FeedFollower::poll`].
    pub async fn catch_up(
        &mut self,
        store: &PgStore,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<usize, RunError<P::Error>> {
        until_caught_up(self, store, limit, now).await
    }

    /// The position, the lag behind the feed, and the last successful poll.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the lag cannot be counted.
    pub async fn status(&self, store: &PgStore) -> Result<RunnerStatus, StoreError> {
        let lag = store.feed_lag(self.at).await?;
        Ok(self.health.status(self.at, lag))
    }
}

/// A read model that lives in PostgreSQL tables: what one event writes, in the runner's
/// transaction.
///
/// [`PgRunner`] calls [`PgProjection::apply`] with each case's events in sequence
/// order, on a connection inside the transaction that also moves the projection's
/// checkpoint, and commits once per page. A crash, a lost connection or an error
/// anywhere before the commit rolls the whole page back, rows and checkpoint alike, so
/// no event is ever applied twice or skipped.
///
/// Implement the methods as `async fn`. Write only through `conn`; anything kept in
/// memory (a cache) must be dropped in [`PgProjection::rolled_back`].
pub trait PgProjection: Send {
    /// Why an event cannot be applied.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The checkpoint's name, unique per projection in the database.
    fn name(&self) -> &str;

    /// Writes what `event` changes in the read model, through `conn`.
    ///
    /// # Errors
    ///
    /// The projection's own; the runner rolls the page back.
    fn apply(&mut self, conn: &mut PgConnection, event: &Event)
        -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Empties the read model, before a rebuild from the first event.
    ///
    /// # Errors
    ///
    /// The projection's own; the runner rolls the rebuild back.
    fn reset(&mut self, conn: &mut PgConnection) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The runner's transaction was rolled back: forget anything kept in memory since
    /// the last commit. The default keeps nothing.
    fn rolled_back(&mut self) {}
}

/// Runs a [`PgProjection`] from the feed: each page's rows and the checkpoint in one
/// transaction.
///
/// The checkpoint is the row `name` of `caseledger_checkpoints`, locked for the page's
/// transaction, so two nodes running the same projection take turns instead of applying
/// a page twice. Restart resumes from it; [`PgRunner::rebuild`] starts from the first
/// event.
#[derive(Debug)]
pub struct PgRunner<P> {
    projection: P,
    health: Health,
}

impl<P: PgProjection> PgRunner<P> {
    /// A runner for `projection`. Nothing is read until it polls.
    pub fn new(projection: P) -> Self {
        Self { projection, health: Health::default() }
    }

    /// The projection.
    pub fn projection(&self) -> &P {
        &self.projection
    }

    /// The projection's stored checkpoint; [`FeedPosition::START`] when it has none.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails, or the stored text is not a position.
    pub async fn checkpoint(&self, store: &PgStore) -> Result<FeedPosition, StoreError> {
        let mut conn = store.pool().acquire().await.map_err(StoreError::backend)?;
        read_checkpoint(&mut conn, self.projection.name(), false).await
    }

    /// Applies one page of up to `limit` events in the caller's transaction `conn` and
    /// moves the checkpoint past them; the caller commits (or drops the transaction,
    /// and nothing happened). [`PgRunner::poll`] is this with its own transaction.
    ///
    /// # Errors
    ///
    /// As [`PgRunner::poll`]; the caller must then roll back.
    pub async fn apply_page(
        &mut self,
        conn: &mut PgConnection,
        store: &PgStore,
        limit: usize,
    ) -> Result<Progress, RunError<P::Error>> {
        let at = read_checkpoint(conn, self.projection.name(), true).await?;
        let page = store.read_feed(at, limit).await?;
        for item in &page.events {
            let event = &item.event;
            self.projection.apply(conn, event).await.map_err(|error| RunError::Projection {
                case: event.case,
                seq: event.seq,
                error,
            })?;
        }
        if page.next != at {
            sqlx::query("UPDATE caseledger_checkpoints SET position = $2 WHERE name = $1")
                .bind(self.projection.name())
                .bind(page.next.to_string())
                .execute(&mut *conn)
                .await
                .map_err(StoreError::backend)?;
        }
        Ok(Progress { applied: page.events.len(), position: page.next, caught_up: page.events.len() < limit })
    }

    /// One page in a transaction of its own: apply, move the checkpoint, commit. `now`
    /// is the host's time, kept for [`PgRunner::status`].
    ///
    /// # Errors
    ///
    /// [`RunError::Store`] when the database fails; [`RunError::Projection`] when the
    /// projection refuses an event. Either way the page is rolled back whole.
    pub async fn poll(
        &mut self,
        store: &PgStore,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<Progress, RunError<P::Error>> {
        let result = self.poll_in_transaction(store, limit).await;
        self.health.record(&result, now);
        result
    }

    async fn poll_in_transaction(&mut self, store: &PgStore, limit: usize) -> Result<Progress, RunError<P::Error>> {
        let mut tx = store.pool().begin().await.map_err(StoreError::backend)?;
        let progress = match self.apply_page(&mut tx, store, limit).await {
            Ok(progress) => progress,
            Err(err) => {
                // Dropping the transaction rolls it back too; an explicit rollback
                // returns the connection clean sooner.
                let _ = tx.rollback().await;
                self.projection.rolled_back();
                return Err(err);
            }
        };
        if let Err(err) = tx.commit().await {
            self.projection.rolled_back();
            return Err(StoreError::backend(err).into());
        }
        Ok(progress)
    }

    /// Polls pages of `limit` until one comes back short. Returns the events applied.
    ///
    /// # Errors
    ///
    /// As [`PgRunner::poll`]; pages committed before the error stay committed.
    pub async fn catch_up(
        &mut self,
        store: &PgStore,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<usize, RunError<P::Error>> {
        until_caught_up(self, store, limit, now).await
    }

    /// Starts over from the first event: in one transaction, [`PgProjection::reset`] and
    /// the checkpoint back to the start; then catches up. Returns the events applied.
    ///
    /// # Errors
    ///
    /// As [`PgRunner::poll`]; a failed reset changes nothing.
    pub async fn rebuild(
        &mut self,
        store: &PgStore,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<usize, RunError<P::Error>> {
        let mut tx = store.pool().begin().await.map_err(StoreError::backend)?;
        read_checkpoint(&mut tx, self.projection.name(), true).await?;
        let reset = self.projection.reset(&mut tx).await;
        let reset = match reset {
            Ok(()) => sqlx::query("UPDATE caseledger_checkpoints SET position = $2 WHERE name = $1")
                .bind(self.projection.name())
                .bind(FeedPosition::START.to_string())
                .execute(&mut *tx)
                .await
                .map(drop)
                .map_err(|e| RunError::Store(StoreError::backend(e))),
            Err(error) => Err(RunError::Reset { error }),
        };
        if let Err(err) = reset {
            let _ = tx.rollback().await;
            self.projection.rolled_back();
            return Err(err);
        }
        if let Err(err) = tx.commit().await {
            self.projection.rolled_back();
            return Err(StoreError::backend(err).into());
        }
        self.catch_up(store, limit, now).await
    }

    /// The checkpoint, the lag behind the feed, and the last successful poll.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails.
    pub async fn status(&self, store: &PgStore) -> Result<RunnerStatus, StoreError> {
        let at = self.checkpoint(store).await?;
        let lag = store.feed_lag(at).await?;
        Ok(self.health.status(at, lag))
    }
}

/// The checkpoint named `name`; with `lock`, creates the row if missing and locks it
/// for the transaction `conn` is in.
async fn read_checkpoint(conn: &mut PgConnection, name: &str, lock: bool) -> Result<FeedPosition, StoreError> {
    if lock {
        sqlx::query("INSERT INTO caseledger_checkpoints (name, position) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(FeedPosition::START.to_string())
            .execute(&mut *conn)
            .await
            .map_err(StoreError::backend)?;
    }
    let sql = if lock {
        "SELECT position FROM caseledger_checkpoints WHERE name = $1 FOR UPDATE"
    } else {
        "SELECT position FROM caseledger_checkpoints WHERE name = $1"
    };
    let text: Option<String> =
        sqlx::query_scalar(sql).bind(name).fetch_optional(&mut *conn).await.map_err(StoreError::backend)?;
    match text {
        None => Ok(FeedPosition::START),
        Some(text) => text.parse().map_err(StoreError::backend),
    }
}

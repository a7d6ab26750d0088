//! The change feed: every stored event, across all cases, read in pages after a
//! consumer's last position, never skipping one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::{decode_row, PgStore};
use crate::error::StoreError;
use crate::event::Event;
use crate::id::CaseId;

/// Where a consumer of the change feed stands: the feed hands out the events after it.
///
/// Store it with the consumer's own state (in the same transaction as the read model it
/// built, for exactly-once processing) and pass it back to [`PgStore::read_feed`].
/// It is opaque: compare, store and send it as text ([`fmt::Display`], [`FromStr`],
/// serde), but do no arithmetic on it.
///
/// # The guarantee
///
/// **A consumer that resumes from the last position it stored receives every stored
/// event exactly once, and each case's events in sequence order.**
///
/// # How, and what it costs
///
/// A position number is taken when a row is inserted but becomes visible only when its
/// transaction commits, and transactions commit out of order: a reader that remembered
/// "last position 102" would never see 101 if 101 committed after 102. So every event
/// row also records a transaction id, its *feed transaction*: the id of the transaction
/// that wrote it (`pg_current_xact_id()`), or the previous event of the same case's feed
/// transaction when that one is greater. A read returns only rows whose feed transaction
/// is older than the oldest transaction still running
/// (`pg_snapshot_xmin(pg_current_snapshot())`, in the same statement): every such row
/// has been committed, and any row that becomes visible later has a feed transaction at
/// or above that horizon, so nothing can appear below the cursor later. Rows come out in
/// (feed transaction, position) order, and this pair is the cursor.
///
/// - **Nothing is skipped, nothing twice**, with no timers and no serialisation of
///   writers; a rolled-back append leaves nothing behind and does not stall the feed.
///   Transaction ids of any width compare as numbers (`xid8`), across the 32-bit epoch.
/// - **Each case in sequence order**, whoever appended: an event's feed transaction is
///   never below its predecessor's, and on a tie its position is higher (the predecessor
///   had committed before it was inserted). A host transaction that took its id long
///   before it appended to the case ([`PgStore::append_in`] after writing its own rows)
///   is delivered after the case's earlier events, not ahead of them.
/// - **A long transaction holds the feed back.** Any transaction that has written to
///   the server and is still open, in any database of the installation and the host's
///   own included, keeps later events out of the feed until it ends.
///   [`PgStore::feed_lag`] shows the events held back; PostgreSQL's
///   `idle_in_transaction_session_timeout` bounds the damage of a forgotten one.
/// - **Not across a dump and restore**: transaction ids restart lower on a restored
///   installation; consumers then start again from [`FeedPosition::START`].
/// - **Positions stored before schema 2** (0.1.0 ordered by the writing transaction
///   alone) stay valid: resuming from one may repeat events, never skips one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedPosition {
    tx: u64,
    position: i64,
}

impl FeedPosition {
    /// Before the first event: a new consumer starts here.
    pub const START: Self = Self { tx: 0, position: 0 };
}

impl fmt::Display for FeedPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.tx, self.position)
    }
}

/// Text that is not a [`FeedPosition`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a feed position (expected two numbers as written by FeedPosition's Display)")]
pub struct ParseFeedPositionError {
    /// The text given.
    pub text: String,
}

impl FromStr for FeedPosition {
    type Err = ParseFeedPositionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseFeedPositionError { text: s.to_owned() };
        let (tx, position) = s.split_once('.').ok_or_else(err)?;
        let tx = tx.parse().map_err(|_| err())?;
        let position = position.parse().map_err(|_| err())?;
        if position < 0 {
            return Err(err());
        }
        Ok(Self { tx, position })
    }
}

impl Serialize for FeedPosition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FeedPosition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One event of the feed, with the position to store once it is processed.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedEvent {
    /// The position just after this event: resume from here.
    pub position: FeedPosition,
    /// The event.
    pub event: Event,
}

/// A page of the feed.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedPage {
    /// The events, in feed order; fewer than asked for when the consumer has caught up.
    pub events: Vec<FeedEvent>,
    /// Where the next read starts: the last event's position, or the position asked
    /// for when the page is empty.
    pub next: FeedPosition,
}

/// How far a consumer is behind, from [`PgStore::feed_lag`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FeedLag {
    /// Events after the consumer's position that it can read now.
    pub unread: u64,
    /// Events after the consumer's position that are stored but held back by an older
    /// transaction still running. If this stays above zero, look for a long or idle
    /// transaction.
    pub held: u64,
}

/// A mark taken now in the feed's future ([`PgStore::feed_barrier`]): once the feed
/// [covers](PgStore::feed_covers) it, every event committed before the mark was taken
/// is readable from the feed.
///
/// The feed serves an event only when every transaction older than it has ended (see
/// [`FeedPosition`]), so an event a request just appended may be held back for as long
/// as some other transaction that was already running stays open. A read model that must
/// show a caller's own writes (the queue after opening a case) takes a barrier, waits
/// until the feed covers it, then catches up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedBarrier {
    /// The first transaction id not yet assigned when the mark was taken.
    xmax: u64,
}

impl PgStore {
    /// Up to `limit` events after `after`, across all cases, in feed order. Never skips an
    /// event, never repeats one for a consumer that resumes from the last position it
    /// stored, and hands out each case's events in sequence order (see [`FeedPosition`]
    /// for how, and what that costs).
    ///
    /// One statement: its snapshot decides both what is visible and how far it may read.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails; [`StoreError::Corrupt`] when a stored
    /// row no longer decodes.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn demo(store: caseledger::PgStore) -> Result<(), caseledger::error::StoreError> {
    /// use caseledger::store::FeedPosition;
    ///
    /// let mut at = FeedPosition::START; // or the position the consumer stored last
    /// loop {
    ///     let page = store.read_feed(at, 500).await?;
    ///     for item in &page.events {
    ///         println!("{} {}", item.event.case, item.event.what.tag());
    ///     }
    ///     at = page.next;
    ///     if page.events.len() < 500 {
    ///         break; // caught up; poll again later
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn read_feed(&self, after: FeedPosition, limit: usize) -> Result<FeedPage, StoreError> {
        let rows: Vec<(String, i64, Uuid, i64, String)> = sqlx::query_as(
            // The text of the transaction id is selected under its own name: an output
            // column named like the table's would make `ORDER BY` sort the page as text,
            // while the cursor compares as xid8, and every page that crossed a power of
            // ten (9999 -> 10000) would skip events for good. Qualified names keep the
            // order on the column the cursor and the index use.
            "SELECT e.feed_tx::text AS feed_tx_text, e.position, e.case_id, e.seq, e.body
             FROM caseledger_events AS e
             WHERE (e.feed_tx, e.position) > ($1::text::xid8, $2)
               AND e.feed_tx < pg_snapshot_xmin(pg_current_snapshot())
             ORDER BY e.feed_tx, e.position
             LIMIT $3",
        )
        .bind(after.tx.to_string())
        .bind(after.position)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await
        .map_err(StoreError::backend)?;
        let mut events = Vec::with_capacity(rows.len());
        for (tx, position, case, seq, body) in rows {
            let tx = tx
                .parse()
                .map_err(|_| StoreError::backend(format!("the feed read transaction id {tx:?}, not a number")))?;
            let event = decode_row(CaseId::from_uuid(case), seq, &body)?;
            events.push(FeedEvent { position: FeedPosition { tx, position }, event });
        }
        let next = events.last().map_or(after, |e| e.position);
        Ok(FeedPage { events, next })
    }

    /// How many events after `after` a consumer can read now, and how many more are
    /// stored but held back by an older transaction still running. Counts rows from
    /// `after` on, so it is cheap for a consumer that keeps up.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails.
    pub async fn feed_lag(&self, after: FeedPosition) -> Result<FeedLag, StoreError> {
        let (unread, held): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE e.feed_tx < horizon.h), count(*) FILTER (WHERE e.feed_tx >= horizon.h)
             FROM caseledger_events AS e, (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS h) AS horizon
             WHERE (e.feed_tx, e.position) > ($1::text::xid8, $2)",
        )
        .bind(after.tx.to_string())
        .bind(after.position)
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::backend)?;
        Ok(FeedLag { unread: u64::try_from(unread).unwrap_or(0), held: u64::try_from(held).unwrap_or(0) })
    }

    /// A mark covering every transaction committed so far (see [`FeedBarrier`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails.
    pub async fn feed_barrier(&self) -> Result<FeedBarrier, StoreError> {
        let xmax: String = sqlx::query_scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")
            .fetch_one(self.pool())
            .await
            .map_err(StoreError::backend)?;
        let xmax = xmax
            .parse()
            .map_err(|_| StoreError::backend(format!("the feed read transaction id {xmax:?}, not a number")))?;
        Ok(FeedBarrier { xmax })
    }

    /// Whether the feed now serves every event committed before `barrier` was taken:
    /// every transaction that was running then has ended. When it does, a consumer that
    /// reads the feed to its end has seen them all; when it does not, an older
    /// transaction is still open (retry shortly; [`PgStore::feed_lag`] counts what it
    /// holds back).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database fails.
    ///
    /// # Example
    ///
    /// ```no_run
    /// # async fn demo(store: caseledger::PgStore) -> Result<(), caseledger::error::StoreError> {
    /// let barrier = store.feed_barrier().await?;
    /// while !store.feed_covers(barrier).await? {
    ///     tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    /// }
    /// // Now read the feed to its end: it holds every write acknowledged before the barrier.
    /// # Ok(())
    /// # }
    /// ```
    pub async fn feed_covers(&self, barrier: FeedBarrier) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot()) >= $1::text::xid8")
            .bind(barrier.xmax.to_string())
            .fetch_one(self.pool())
            .await
            .map_err(StoreError::backend)
    }
}

//! Commands inside the host's PostgreSQL transaction (feature `postgres`): the third
//! driver of the sans-IO core, over one connection the host owns.
//!
//! [`Staged`] owns the host's transaction. Its commands read and append through that
//! transaction only (a pool of one connection is enough) and fold into a private cache
//! of its own; the repository's shared cache learns their state only in
//! [`Staged::commit`], after PostgreSQL has confirmed the commit. Dropping a `Staged`
//! rolls the transaction back and leaves the shared cache as it was: since nothing else
//! can commit the transaction, no code path lets the cache run ahead of the database.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use sqlx::postgres::{PgConnection, Postgres};
use sqlx::{Database, Transaction, TransactionManager};
use time::OffsetDateTime;

use super::core::{Execution, Lookup, Machine, RepositoryCore, Step};
use super::executed::Executed;
use super::request::CaseRequest;
use super::watch::{Report, Watch};
use super::AsyncRepository;
use crate::actor::Actor;
use crate::case::Case;
use crate::command::{Opening, Request};
use crate::error::{Error, StoreError};
use crate::id::CaseId;
use crate::store::{Batch, PgStore};

/// How many cases one transaction's private cache holds. A transaction touching more
/// still works; the cases that left the private cache are simply not handed to the
/// shared one on commit (its next command on them catches up from the store).
const STAGED_CAPACITY: usize = 64;

impl AsyncRepository<PgStore> {
    /// Begins a transaction on the store's pool and runs commands in it: see [`Staged`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when no connection can be had or `BEGIN` fails.
    pub async fn begin(&self) -> Result<Staged<'_, 'static>, Error> {
        let tx = self.store().pool().begin().await.map_err(StoreError::backend)?;
        Ok(self.within(tx))
    }

    /// Runs commands inside `tx`, a transaction the host began on its own pool or on a
    /// connection it holds (`conn.begin()`), and writes its own rows in: see [`Staged`].
    pub fn within<'c>(&self, tx: Transaction<'c, Postgres>) -> Staged<'_, 'c> {
        Staged { repo: self, tx, staging: self.core().staging(STAGED_CAPACITY), touched: Vec::new(), appended: false }
    }
}

/// Commands inside the host's own PostgreSQL transaction, through the repository: the
/// transactional outbox without driving the core by hand.
///
/// Get one from [`AsyncRepository::within`] (a transaction the host began) or
/// [`AsyncRepository::begin`]. It owns the transaction and derefs to its
/// `PgConnection`, so the host writes its own rows with `.execute(&mut *staged)`. Its
/// commands ([`open`](Self::open), [`execute`](Self::execute), [`run`](Self::run)) are
/// the repository's, decided by the same core with the same checks, retries and keys;
/// only the driver differs:
///
/// - every read and append goes through the transaction's connection: no second
///   connection is taken from the pool, and a command sees what the transaction has
///   written (a second command on the same case in the same transaction decides on the
///   first one's events);
/// - the new state is folded into a cache private to this transaction. The
///   repository's cache learns it in [`commit`](Self::commit), once PostgreSQL has
///   committed. A [`rollback`](Self::rollback), a drop (an early `?`, a cancelled
///   request), or a commit that fails leaves the repository's cache, the store and the
///   feed as they were, on this node and on every other.
///
/// There is no way to commit the transaction except through `commit`, and `commit`
/// settles the cache only for a transaction that really committed: it checks first that
/// the transaction was not aborted by a failed statement (PostgreSQL turns `COMMIT` of
/// an aborted transaction into a silent rollback), and a savepoint (a transaction
/// nested in another, whose release makes nothing durable) settles nothing.
///
/// Run the transaction at PostgreSQL's default `READ COMMITTED` isolation: under
/// `REPEATABLE READ` or `SERIALIZABLE` a lost race is a serialization failure
/// ([`StoreError::Backend`]) that aborts the transaction instead of a conflict the
/// command catches up on. Keep the transaction short: the change feed does not read past
/// it until it ends (see [`PgStore::append_in`]).
///
/// # Example
///
/// ```no_run
/// # async fn demo(repo: caseledger::AsyncRepository<caseledger::PgStore>, case: caseledger::CaseId,
/// #     ana: caseledger::Staff) -> Result<(), Box<dyn std::error::Error>> {
/// use caseledger::{Command, Staff};
/// use time::OffsetDateTime;
///
/// let mut tx = repo.within(repo.store().pool().begin().await?);
/// let transfer = Command::Transfer { to: Staff::new("bo", "hardware"), note: "fan noise".into() };
/// let done = tx.execute(case, transfer, &ana.into(), OffsetDateTime::now_utc()).await?;
/// if !done.already_done {
///     sqlx::query("INSERT INTO outbox (case_id, seq) VALUES ($1, $2)")
///         .bind(case.as_uuid())
///         .bind(done.version as i64)
///         .execute(&mut *tx)
///         .await?;
/// }
/// tx.commit().await?; // events and outbox row, or neither; then the cache learns
/// # Ok(())
/// # }
/// ```
#[must_use = "dropping a Staged rolls its transaction back; call commit to keep it"]
pub struct Staged<'r, 'c> {
    repo: &'r AsyncRepository<PgStore>,
    tx: Transaction<'c, Postgres>,
    /// The cases as this transaction sees them.
    staging: RepositoryCore,
    touched: Vec<CaseId>,
    /// Whether a command appended: only then can the private cache hold uncommitted state.
    appended: bool,
}

impl fmt::Debug for Staged<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Staged").field("touched", &self.touched).field("appended", &self.appended).finish()
    }
}

impl Staged<'_, '_> {
    /// Opens a new case in the transaction; as [`AsyncRepository::open`].
    ///
    /// # Errors
    ///
    /// As [`AsyncRepository::open`].
    pub async fn open(
        &mut self,
        id: CaseId,
        opening: Opening,
        by: &Actor,
        at: OffsetDateTime,
    ) -> Result<Executed, Error> {
        self.drive(id, Execution::open(id, opening, by.clone(), at), at).await
    }

    /// Decides `command` on the case and appends its events in the transaction; as
    /// [`AsyncRepository::execute`].
    ///
    /// # Errors
    ///
    /// As [`AsyncRepository::execute`]. A [`StoreError::Backend`] has aborted the
    /// transaction (as any failed statement does in PostgreSQL): drop it.
    pub async fn execute(
        &mut self,
        id: CaseId,
        command: impl Into<Request>,
        by: &Actor,
        at: OffsetDateTime,
    ) -> Result<Executed, Error> {
        self.run(CaseRequest::new(id, command, by.clone(), at)).await
    }

    /// Runs `request` in the transaction, keeping its options; as
    /// [`AsyncRepository::run`].
    ///
    /// # Errors
    ///
    /// As [`AsyncRepository::run`]: a stale expected version is
    /// [`RequestError::PreconditionFailed`](crate::error::RequestError::PreconditionFailed).
    pub async fn run(&mut self, request: CaseRequest) -> Result<Executed, Error> {
        let (id, at) = (request.case, request.at());
        self.drive(id, Execution::new(request), at).await
    }

    /// The case as this transaction sees it: brought up to date through the
    /// transaction, its own uncommitted events included.
    ///
    /// # Errors
    ///
    /// As [`AsyncRepository::refresh`].
    pub async fn case(&mut self, id: CaseId) -> Result<Arc<Case>, Error> {
        self.lend(id);
        let Self { repo, tx, staging, .. } = self;
        drive_in(repo.store(), tx, Lookup::refresh(id), |lookup| lookup.poll(staging)).await
    }

    /// The transaction's connection, for the host's own statements (the same as
    /// `&mut *staged`).
    pub fn connection(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Commits the transaction, then hands the state of every case it touched to the
    /// repository's cache (unless the cache already holds a later version).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the transaction was aborted by a failed statement
    /// (it is rolled back) or the commit fails; the repository's cache is then left as
    /// it was. A commit whose answer was lost may still have committed: the next command
    /// catches up either way.
    pub async fn commit(self) -> Result<(), Error> {
        let Self { repo, mut tx, staging, touched, appended } = self;
        // A savepoint's release makes nothing durable: the outer transaction decides.
        let durable = <Postgres as Database>::TransactionManager::get_transaction_depth(&tx) == 1;
        if appended {
            // COMMIT of a transaction a failed statement aborted is a silent rollback:
            // a statement on it fails instead, and then nothing is settled.
            sqlx::query("SELECT 1").execute(&mut *tx).await.map_err(StoreError::backend)?;
        }
        tx.commit().await.map_err(StoreError::backend)?;
        if durable {
            for id in touched {
                repo.core().settle(&staging, id);
            }
        }
        Ok(())
    }

    /// Rolls the transaction back; the repository's cache is left as it was. Dropping a
    /// `Staged` does the same, without waiting for the database's answer.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the rollback fails (the transaction ends anyway
    /// when its connection does).
    pub async fn rollback(self) -> Result<(), Error> {
        self.tx.rollback().await.map_err(StoreError::backend).map_err(Error::from)
    }

    /// Starts this transaction's copy of `id` from the repository's cache.
    fn lend(&mut self, id: CaseId) {
        self.repo.core().lend(&self.staging, id);
        if !self.touched.contains(&id) {
            self.touched.push(id);
        }
    }

    async fn drive(&mut self, id: CaseId, run: Execution, at: OffsetDateTime) -> Result<Executed, Error> {
        self.lend(id);
        let Self { repo, tx, staging, appended, .. } = self;
        *appended = true;
        // A retry inside the transaction decides at the repository's clock too.
        drive_in(repo.store(), tx, run, |run| run.poll(staging, &mut || repo.again_at(at))).await
    }
}

impl Deref for Staged<'_, '_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for Staged<'_, '_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

/// The transaction's driver: the awaiting repository's loop, on one connection.
async fn drive_in<M: Machine>(
    store: &PgStore,
    conn: &mut PgConnection,
    mut run: M,
    mut poll: impl FnMut(M) -> Step<M> + Send,
) -> Result<M::Output, Error>
where
    M::Output: Report,
{
    let mut watch = Watch::new(&run);
    loop {
        run = match poll(run) {
            Step::Read(read) => {
                let result = watch.waiting(false, store.read_after_in(conn, read.case(), read.after())).await;
                read.answer(result)
            }
            Step::Append(append) => {
                let Batch { case, expected, events } = append.batch();
                let result = watch.waiting(true, store.append_in(conn, case, expected, events)).await;
                append.answer(result)
            }
            Step::Load(case, load) => load.answer(watch.waiting(false, store.load_in(conn, case)).await),
            Step::Save(snapshot, save) => {
                // Inside the transaction: the snapshot commits or rolls back with the events.
                save.answer(watch.waiting(false, store.write_snapshot_in(conn, &snapshot)).await)
            }
            Step::Done(result) => {
                watch.finish(&result);
                return result;
            }
        };
    }
}

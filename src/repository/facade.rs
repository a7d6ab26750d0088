//! The facade both repositories share, written once.
//!
//! A repository is a store, a [`RepositoryCore`](super::RepositoryCore) and a driver:
//! the loop that does what each [`Step`](super::Step) asks. Everything else (building
//! the run for each method, the clock each run may read, shaping its result, the
//! cross-case queries) is the same for [`Repository`](crate::Repository) and
//! `AsyncRepository`, and is generated here for both. The bodies differ only in
//! `async`/`.await`, which Rust cannot abstract over without a runtime, so the macro
//! takes those tokens: empty for the blocking repository, `async` and `.await` for the
//! other. Each repository's own file holds its type, its docs and its `drive` loop.

/// Implements the shared methods on `$repository<S>` for `S: $store`, driving each run
/// with the `drive` function in scope at the call site. `[$($async)*]` prefixes each
/// method that waits for the store, `[$($await)*]` follows each wait, and
/// `[$($send)*]` bounds the clock of `execute_with_retry` (`+ Send` for futures a
/// runtime may move between threads).
macro_rules! facade {
    ($repository:ident, $store:ident, [$($async:tt)*], [$($await:tt)*], [$($send:tt)*]) => {
        impl<S: $store> $repository<S> {
            /// A repository over `store`, deciding with `rules` (a [`Rules`] or an
            /// `Arc<Rules>` shared with other repositories), caching up to
            /// [`DEFAULT_CAPACITY`] cases.
            #[must_use]
            pub fn new(store: S, rules: impl Into<Arc<Rules>>) -> Self {
                Self { store, core: RepositoryCore::new(rules, DEFAULT_CAPACITY), clock: HostClock::default() }
            }

            /// The same repository caching at most `capacity` folded cases (0: none; every
            /// command then reads and replays its case). Memory stays bounded however many
            /// cases the host touches.
            #[must_use]
            pub fn with_capacity(self, capacity: usize) -> Self {
                let policy = self.core.snapshot_policy();
                Self { core: RepositoryCore::new(self.core.rules_arc(), capacity).with_snapshots(policy), ..self }
            }

            /// The same repository writing case snapshots under `policy` and starting
            /// cold cases from them (see [`SnapshotPolicy`]; off by default).
            #[must_use]
            pub fn with_snapshots(self, policy: SnapshotPolicy) -> Self {
                Self { core: self.core.with_snapshots(policy), ..self }
            }

            /// What the repository did with snapshots so far (restored, ignored and why,
            /// written, failed writes).
            #[must_use]
            pub fn snapshot_stats(&self) -> SnapshotStats {
                self.core.snapshot_stats()
            }

            /// Checks `id`'s stored snapshot against its log: loads it as a cold load
            /// does, folds the log up to the snapshot's version and compares. Catches a
            /// snapshot whose state was doctored (checksum recomputed), which a cold load
            /// would use. Touches no cache; works whatever the policy.
            ///
            /// # Errors
            ///
            /// [`Error::Log`] when the log itself is broken, and the store's own failures.
            pub $($async)* fn verify_snapshot(&self, id: CaseId) -> Result<SnapshotCheck, Error> {
                drive(&self.store, Verify::new(id), |verify| verify.poll()) $($await)*
            }

            /// The same repository deciding again at `clock()` (the host's clock) when a
            /// command lost a race to another writer: `execute`, `run` and every other
            /// method that decides a command again read it once before each later
            /// decision, never otherwise (the first decision is at the time the call
            /// names). Without a clock a command is decided again at its own time, which
            /// suits a test with fixed times; but a command that keeps losing races for
            /// longer than the case's clock-skew tolerance is then refused as
            /// [`Refusal::TimeBeforeLastEvent`](crate::Refusal::TimeBeforeLastEvent),
            /// since the winners wrote later times. The library reads no clock of its
            /// own: pass `OffsetDateTime::now_utc` or a test clock.
            ///
            /// # Example
            ///
            /// ```
            /// use caseledger::{Actor, CaseId, Command, MemoryStore, Opening, Repository, Rules, Staff};
            /// # use caseledger::event::Visibility;
            /// use time::OffsetDateTime;
            ///
            /// let repo = Repository::new(MemoryStore::new(), Rules::default()).with_clock(OffsetDateTime::now_utc);
            /// let (now, ana) = (OffsetDateTime::now_utc(), Staff::new("ana", "software"));
            /// let case = CaseId::new_v7(now, [1; 10]);
            /// repo.open(case, Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), now)?;
            /// # let note = Command::AddNote { text: "BIOS 1.9 tried".into(), visibility: Visibility::Internal };
            /// repo.execute(case, note, &Actor::Staff(ana), OffsetDateTime::now_utc())?;
            /// # Ok::<(), caseledger::Error>(())
            /// ```
            #[must_use]
            pub fn with_clock(self, clock: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> Self {
                Self { clock: HostClock::new(clock), ..self }
            }

            /// Opens a new case and stores its first event; the [`Executed`] holds that
            /// one `opened` event. Opening the same case again with the same opening at
            /// the same time is a no-op (a retry): nothing is written and
            /// [`Executed::already_done`] says so.
            ///
            /// # Errors
            ///
            /// [`Error::Refused`] when [`Rules::open`] refuses, [`StoreError::Conflict`](crate::error::StoreError::Conflict)
            /// (as [`Error::Store`]) when the case already exists, and the store's own
            /// failures.
            pub $($async)* fn open(
                &self,
                id: CaseId,
                opening: Opening,
                by: &Actor,
                at: OffsetDateTime,
            ) -> Result<Executed, Error> {
                let run = Execution::open(id, opening, by.clone(), at);
                drive(&self.store, run, |run| run.poll(&self.core, &mut || at)) $($await)*
            }

            /// Decides `command` (a [`Command`](crate::Command), or a [`Request`] carrying
            /// an idempotency key) on the case at `at`, stores the new events and says
            /// what it did ([`Executed`]: the events, the version after them, whether an
            /// earlier run with the same key had done it, the attempts used). When
            /// another writer appended first, decides again on the fresh state at the
            /// repository's clock (`with_clock`; without one, at `at` again), up to
            /// [`DEFAULT_ATTEMPTS`](crate::repository::DEFAULT_ATTEMPTS) times in all.
            /// `run` takes a [`CaseRequest`] with more options (expected version,
            /// attempts).
            ///
            /// # Errors
            ///
            /// [`Error::Refused`] with the broken rule (nothing is written);
            /// [`StoreError::Conflict`](crate::error::StoreError::Conflict) when other writers appended first at every attempt
            /// (nothing is written, the cached case has caught up);
            /// [`StoreError::UnknownCase`](crate::error::StoreError::UnknownCase); [`Error::Log`] when the stored log is broken;
            /// and the store's own failures.
            pub $($async)* fn execute(
                &self,
                id: CaseId,
                command: impl Into<Request>,
                by: &Actor,
                at: OffsetDateTime,
            ) -> Result<Executed, Error> {
                self.run(CaseRequest::new(id, command, by.clone(), at)) $($await)*
            }

            /// Runs `request`: decides its command on the case and stores the new events,
            /// keeping its options (see [`CaseRequest`]). The first decision is at the
            /// request's time, each later one (after a lost race) at the repository's
            /// clock (`with_clock`).
            ///
            /// # Errors
            ///
            /// As `execute`; with [`CaseRequest::expect_version`],
            /// [`RequestError::PreconditionFailed`](crate::error::RequestError::PreconditionFailed)
            /// (HTTP 412) as soon as the case is not at that version, never
            /// [`StoreError::Conflict`](crate::error::StoreError::Conflict).
            pub $($async)* fn run(&self, request: CaseRequest) -> Result<Executed, Error> {
                let at = request.at();
                drive(&self.store, Execution::new(request), |run| run.poll(&self.core, &mut || self.again_at(at))) $($await)*
            }

            /// When to decide again, after a lost race, a command first decided at `at`:
            /// the host's clock (`with_clock`), or without one `at` itself. Every driver
            /// of this repository's commands passes it to `Execution::poll`.
            pub(crate) fn again_at(&self, at: OffsetDateTime) -> OffsetDateTime {
                self.clock.again(at)
            }

            /// `execute`, deciding up to `attempts` times in all when other writers append
            /// first, each decision at a fresh `now()` (the host's clock for this call,
            /// instead of the repository's; the library reads none itself).
            ///
            /// # Errors
            ///
            /// As `execute`; [`StoreError::Conflict`](crate::error::StoreError::Conflict) only when every attempt conflicted.
            pub $($async)* fn execute_with_retry(
                &self,
                id: CaseId,
                command: impl Into<Request>,
                by: &Actor,
                mut now: impl FnMut() -> OffsetDateTime $($send)*,
                attempts: u32,
            ) -> Result<Executed, Error> {
                let request = CaseRequest::new(id, command, by.clone(), now()).attempts(attempts);
                drive(&self.store, Execution::new(request), |run| run.poll(&self.core, &mut now)) $($await)*
            }

            /// The case: a snapshot from the cache or, when the cache does not hold it,
            /// read from the store and replayed. It may be behind the store if other
            /// repositories append; see `refresh`.
            ///
            /// # Errors
            ///
            /// [`StoreError::UnknownCase`](crate::error::StoreError::UnknownCase), [`Error::Log`] when the stored log is broken,
            /// and the store's own failures.
            pub $($async)* fn case(&self, id: CaseId) -> Result<Arc<Case>, Error> {
                drive(&self.store, Lookup::case(id), |lookup| lookup.poll(&self.core)) $($await)*
            }

            /// Brings the cached case up to date with the store, reading only the events
            /// after its cached version, and returns a snapshot.
            ///
            /// # Errors
            ///
            /// As `case`; on error the case is dropped from the cache.
            pub $($async)* fn refresh(&self, id: CaseId) -> Result<Arc<Case>, Error> {
                drive(&self.store, Lookup::refresh(id), |lookup| lookup.poll(&self.core)) $($await)*
            }

            /// Every case of `customer`, oldest first (S3: "treat me like you know me"),
            /// each brought up to date with the store: two store calls however many
            /// cases (the store's index of the customer's cases, then one batched read
            /// of what each case lacks, [`Store::read_after_many`](crate::Store::read_after_many)).
            ///
            /// # Errors
            ///
            /// As `case`, for any of the cases.
            pub $($async)* fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<Arc<Case>>, Error> {
                let ids = self.store.customer_cases(customer) $($await)* ?;
                self.refresh_all(ids) $($await)*
            }

            /// Every case linked to `incident`, oldest first (S6), each brought up to date
            /// with the store, in two store calls as `customer_cases`.
            ///
            /// # Errors
            ///
            /// As `case`, for any of the cases.
            pub $($async)* fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<Arc<Case>>, Error> {
                let ids = self.store.incident_cases(incident) $($await)* ?;
                self.refresh_all(ids) $($await)*
            }

            /// Each case of `ids` brought up to date, in order, with one batched store
            /// read ([`Lookups`]); the first error ends it.
            $($async)* fn refresh_all(&self, ids: Vec<CaseId>) -> Result<Vec<Arc<Case>>, Error> {
                let mut run = Lookups::refresh(ids);
                loop {
                    run = match run.poll(&self.core) {
                        LookupsStep::Read(reads) => {
                            let result = self.store.read_after_many(reads.reads()) $($await)*;
                            reads.answer(result)
                        }
                        LookupsStep::Done(result) => return result,
                    };
                }
            }

            /// Drops a case from the cache; the next command reads it again.
            pub fn forget(&self, id: CaseId) {
                self.core.forget(id);
            }

            /// The store.
            #[must_use]
            pub fn store(&self) -> &S {
                &self.store
            }

            /// The rules commands are decided under.
            #[must_use]
            pub fn rules(&self) -> &Rules {
                self.core.rules()
            }

            /// The shared core: cache size and capacity, and a way to drive commands
            /// yourself (see its [driving order](RepositoryCore#driving-order)).
            #[must_use]
            pub fn core(&self) -> &RepositoryCore {
                &self.core
            }
        }
    };
}

pub(super) use facade;

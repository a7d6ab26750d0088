//! One command with its per-request options, executed by either repository.

use time::OffsetDateTime;

use crate::actor::Actor;
use crate::command::{Command, Request};
use crate::id::{CaseId, IdempotencyKey};

/// How many times a command is decided in all when other writers keep appending first,
/// unless the request says otherwise ([`CaseRequest::attempts`]).
pub const DEFAULT_ATTEMPTS: u32 = 3;

/// A command on a case, with what the host knows about the request: its idempotency key
/// (HTTP `Idempotency-Key`), the version its author saw (HTTP `If-Match`) and how often to
/// decide again after a conflict.
///
/// Built with [`CaseRequest::new`] and refined with the builder methods; run it with
/// [`Repository::run`](crate::Repository::run) (or `AsyncRepository::run` with the
/// `async` feature). [`Repository::execute`](crate::Repository::execute) is the same as
/// running `CaseRequest::new(case, command, by, at)`.
///
/// # Example
///
/// ```
/// use caseledger::{
///     error::RequestError, event::Visibility, Actor, CaseId, CaseRequest, Command, Error,
///     IdempotencyKey, MemoryStore, Opening, Repository, Rules, Staff,
/// };
/// use time::macros::datetime;
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let ana = Staff::new("ana", "software");
/// let repo = Repository::new(MemoryStore::new(), Rules::default());
/// let case = CaseId::new_v7(t, [1; 10]);
/// repo.open(case, Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), t)?;
///
/// // The agent's screen shows version 1 (its ETag); the command is decided only if the
/// // case is still there.
/// let note = Command::AddNote { text: "BIOS 1.9 tried".into(), visibility: Visibility::Internal };
/// repo.run(CaseRequest::new(case, note.clone(), ana.clone(), t).expect_version(1))?;
///
/// // A second screen, still at version 1, is told the case moved on (HTTP 412).
/// let stale = repo.run(CaseRequest::new(case, note, ana.clone(), t).expect_version(1));
/// assert!(matches!(stale, Err(Error::Request(RequestError::PreconditionFailed { expected: 1, actual: 2, .. }))));
///
/// // A POST retried after a lost response: the key makes it the same request.
/// let call = Command::AddNote { text: "called back".into(), visibility: Visibility::Internal };
/// let request = CaseRequest::new(case, call, ana, t).key(IdempotencyKey::new("req-42")?);
/// let first = repo.run(request.clone())?;
/// let retry = repo.run(request)?;
/// assert_eq!(retry.events, first.events, "the events already stored; nothing appended");
/// assert!(retry.already_done && !first.already_done);
/// assert_eq!(repo.case(case)?.version(), 3);
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct CaseRequest {
    pub(crate) case: CaseId,
    pub(crate) request: Request,
    pub(crate) by: Actor,
    pub(crate) at: OffsetDateTime,
    pub(crate) expected: Option<u64>,
    pub(crate) attempts: u32,
}

impl CaseRequest {
    /// `by` asks for `request` (a [`Command`], or a [`Request`] carrying an idempotency
    /// key) on `case` at `at` (the host's clock). Decided up to [`DEFAULT_ATTEMPTS`] times
    /// when other writers append first, each later time at the repository's clock
    /// ([`Repository::with_clock`](crate::Repository::with_clock)); no expected version.
    pub fn new(case: CaseId, request: impl Into<Request>, by: impl Into<Actor>, at: OffsetDateTime) -> Self {
        Self { case, request: request.into(), by: by.into(), at, expected: None, attempts: DEFAULT_ATTEMPTS }
    }

    /// The same request carrying the host's idempotency key (see [`IdempotencyKey`]).
    /// The same key with the same command by the same person returns the events the
    /// first run stored, read from the store, and appends nothing, whatever the case's
    /// version and the time are now (an expected version is not checked then: the first
    /// run already passed it). The same key with another command is refused as
    /// [`Refusal::KeyReused`](crate::Refusal::KeyReused). The key is in the log, so this
    /// holds across restarts and across repositories sharing a store.
    pub fn key(mut self, key: IdempotencyKey) -> Self {
        self.request = self.request.key(key);
        self
    }

    /// Decide only on the case at exactly `version`, the version the request's author saw
    /// (an HTTP `If-Match` ETag). If the case has moved on (before the decision, or
    /// while it was being appended), the request ends with
    /// [`RequestError::PreconditionFailed`](crate::error::RequestError::PreconditionFailed)
    /// (`expected` = `version`, `actual` = the version found; HTTP 412) without deciding
    /// on the newer state, and is never retried: the author must look again.
    pub fn expect_version(mut self, version: u64) -> Self {
        self.expected = Some(version);
        self
    }

    /// Decide at most `attempts` times in all (at least once) when other writers append
    /// first: each conflict catches the cached case up and decides again on the fresh
    /// state, so a retry may end in a refusal. `1` returns the first conflict.
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// The case.
    #[must_use]
    pub fn case(&self) -> CaseId {
        self.case
    }

    /// The command.
    #[must_use]
    pub fn command(&self) -> &Command {
        &self.request.command
    }

    /// The idempotency key, if given.
    #[must_use]
    pub fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        self.request.key.as_ref()
    }

    /// Who asks.
    #[must_use]
    pub fn by(&self) -> &Actor {
        &self.by
    }

    /// When the command is first decided (later decisions read the repository's clock).
    #[must_use]
    pub fn at(&self) -> OffsetDateTime {
        self.at
    }

    /// The version the author saw, if given.
    #[must_use]
    pub fn expected_version(&self) -> Option<u64> {
        self.expected
    }

    /// How many times the command may be decided in all.
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        self.attempts
    }
}

//! [`Executed`]: what a command run through a repository did.

use serde::{Deserialize, Serialize};

use crate::event::Event;

/// What a command (or an opening) did: its events, the case's version after it, whether
/// it was already done by an earlier run, and how many attempts it used. Every
/// repository method that runs a command returns one, and so does
/// [`Step::Done`](crate::repository::Step::Done) for a host driving the core itself.
///
/// Most callers want the events: `repo.execute(…)?.events`. A host with side effects
/// of its own (an e-mail, a webhook, a row in its own table) checks
/// [`already_done`](Self::already_done) first: a keyed retry of a request that already
/// ran is answered with the events the first run stored, and nothing is written again,
/// so its side effects must not run again either. [`version`](Self::version) is the
/// case's version to hand back (an HTTP `ETag`) without reading the case again.
///
/// # Example
///
/// ```
/// use caseledger::{
///     event::Visibility, Actor, CaseId, CaseRequest, Command, IdempotencyKey, MemoryStore, Opening,
///     Repository, Rules, Staff,
/// };
/// use time::macros::datetime;
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let ana = Staff::new("ana", "software");
/// let repo = Repository::new(MemoryStore::new(), Rules::default());
/// let case = CaseId::new_v7(t, [1; 10]);
/// repo.open(case, Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), t)?;
///
/// let call = Command::AddNote { text: "called back".into(), visibility: Visibility::Internal };
/// let request = CaseRequest::new(case, call, ana, t).key(IdempotencyKey::new("req-42")?);
/// let first = repo.run(request.clone())?;
/// assert_eq!((first.version, first.already_done, first.attempts), (2, false, 1));
/// // The client retries after a lost response: the same events, nothing written again.
/// let retry = repo.run(request)?;
/// assert!(retry.already_done, "skip the e-mail this time");
/// assert_eq!((retry.events, retry.version), (first.events, 2));
/// # Ok::<(), caseledger::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Executed {
    /// The command's events, in order: those this run stored or, when
    /// [`already_done`](Self::already_done), those the earlier run stored. For an
    /// opening, its one `opened` event.
    pub events: Vec<Event>,
    /// The case's version when the run ended, as the repository knows it: the last of
    /// [`events`](Self::events), or later when other writers had appended after them
    /// (an earlier run's events found again). The version to send as an `ETag`.
    pub version: u64,
    /// Whether the request had already been done by an earlier run (the same
    /// idempotency key with the same command by the same person, or the same opening at
    /// the same time): the events are the stored ones and this run wrote nothing.
    pub already_done: bool,
    /// How many times the command was tried: 1, plus one for each conflict with another
    /// writer after which it was decided again on the fresh state.
    pub attempts: u32,
}

impl Executed {
    /// The events, for callers that want only them.
    #[must_use]
    pub fn into_events(self) -> Vec<Event> {
        self.events
    }
}

//! The ledger: one case's log and its folded state, kept together in memory.
//!
//! For hosts that keep a case in memory (tests, small tools, a request handler that has
//! just loaded the log), [`Ledger::execute`] is the whole cycle: decide, fold, append.

use serde::Serialize;
use time::OffsetDateTime;

use crate::actor::Actor;
use crate::case::Case;
use crate::command::{Command, Opening, Request};
use crate::error::{Error, LogError};
use crate::event::Event;
use crate::id::CaseId;
use crate::rules::{Decision, Rules};
use crate::timeline::{Timeline, View};

/// A case together with the log it was folded from.
///
/// The log only grows, and only through [`Ledger::execute`] or [`Ledger::append`], which
/// fold each event first: the case is always the fold of the log.
///
/// # Example
///
/// ```
/// use caseledger::{Actor, Command, Ledger, Opening, Refusal, Rules, Staff, Error};
/// use time::macros::datetime;
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let rules = Rules::default();
/// let ana = Staff::new("ana", "software");
/// let mut ledger = Ledger::open(&rules, caseledger::CaseId::new_v7(t, [1; 10]),
///     Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), t)?;
///
/// let err = ledger.execute(&rules, Command::Resolve { summary: "done".into() }, &ana.into(), t);
/// assert!(matches!(err, Err(Error::Refused(Refusal::OutcomeUnmet { .. }))));
/// assert_eq!(ledger.events().len(), 1, "a refused command changes nothing");
/// # Ok::<(), caseledger::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ledger {
    case: Case,
    events: Vec<Event>,
}

impl Ledger {
    /// Opens a new case.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] when [`Rules::open`] refuses the opening.
    pub fn open(rules: &Rules, id: CaseId, opening: Opening, by: &Actor, at: OffsetDateTime) -> Result<Self, Error> {
        let opened = rules.open(id, opening, by, at)?;
        let case = Case::from_opened(&opened)?;
        Ok(Self { case, events: vec![opened] })
    }

    /// Rebuilds a ledger from a stored log, checking it (see [`Case::replay`]).
    ///
    /// # Errors
    ///
    /// The first [`LogError`] in the log.
    pub fn from_events(events: Vec<Event>) -> Result<Self, LogError> {
        let case = Case::replay(&events)?;
        Ok(Self { case, events })
    }

    /// Decides `command` under `rules`, folds the resulting events and appends them.
    /// Returns the new events, for the host to store.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] with the broken rule; the ledger is then unchanged.
    pub fn execute(
        &mut self,
        rules: &Rules,
        command: Command,
        by: &Actor,
        at: OffsetDateTime,
    ) -> Result<&[Event], Error> {
        let events = rules.decide(&self.case, command, by, at)?;
        let start = self.events.len();
        self.append(events)?;
        Ok(self.events.get(start..).unwrap_or_default())
    }

    /// Decides a [`Request`] (a command with the host's idempotency key, if any) under
    /// `rules`, folds and appends the new events, and returns them. A retry of a request
    /// already done (same key, same command, same person) appends nothing and returns the
    /// events the first attempt recorded (see [`Rules::decide_request`]).
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] with the broken rule, [`Refusal::KeyReused`](crate::Refusal::KeyReused)
    /// among them; the ledger is then unchanged.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{
    ///     command::Request, event::Visibility, Actor, CaseId, Command, IdempotencyKey, Ledger,
    ///     Opening, Rules, Staff,
    /// };
    /// use time::macros::datetime;
    ///
    /// let t = datetime!(2026-11-23 09:00 UTC);
    /// let rules = Rules::default();
    /// let ana = Actor::staff("ana", "software");
    /// let mut ledger = Ledger::open(&rules, CaseId::new_v7(t, [4; 10]),
    ///     Opening::new("cust-7", "my laptop works", Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?;
    /// let note = Command::AddNote { text: "BIOS 1.9 tried".into(), visibility: Visibility::Internal };
    /// let request = Request::new(note).key(IdempotencyKey::new("req-1")?);
    ///
    /// let first = ledger.execute_request(&rules, request.clone(), &ana, t)?.to_vec();
    /// let retry = ledger.execute_request(&rules, request, &ana, datetime!(2026-11-23 09:05 UTC))?;
    /// assert_eq!(retry, &first[..], "the same events, not a second note");
    /// assert_eq!(ledger.events().len(), 2);
    /// # Ok::<(), caseledger::Error>(())
    /// ```
    pub fn execute_request(
        &mut self,
        rules: &Rules,
        request: impl Into<Request>,
        by: &Actor,
        at: OffsetDateTime,
    ) -> Result<&[Event], Error> {
        match rules.decide_request(&self.case, request, by, at)? {
            Decision::Append(events) => {
                let start = self.events.len();
                self.append(events)?;
                Ok(self.events.get(start..).unwrap_or_default())
            }
            Decision::AlreadyDone(seqs) => {
                // Event `n` sits at index `n - 1`: the fold checked the numbering.
                let index = |seq: u64| usize::try_from(seq.saturating_sub(1)).unwrap_or(usize::MAX);
                Ok(self.events.get(index(*seqs.start())..=index(*seqs.end())).unwrap_or_default())
            }
        }
    }

    /// Folds and appends events decided elsewhere (another process, a store).
    ///
    /// # Errors
    ///
    /// The first [`LogError`]; events before it stay applied and appended, the
    /// offending one and those after it do not.
    pub fn append(&mut self, events: impl IntoIterator<Item = Event>) -> Result<(), LogError> {
        for event in events {
            self.case.apply(&event)?;
            self.events.push(event);
        }
        Ok(())
    }

    /// The folded case.
    #[must_use]
    pub fn case(&self) -> &Case {
        &self.case
    }

    /// The log, in order.
    #[must_use]
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The staff timeline of the whole log.
    #[must_use]
    pub fn timeline(&self) -> Timeline {
        Timeline::staff(&self.events)
    }

    /// The customer's timeline of the whole log.
    #[must_use]
    pub fn customer_timeline(&self) -> Timeline {
        Timeline::customer(&self.events)
    }

    /// A page of the timeline for `view`: the entries after event `after`, at most
    /// `limit`, exactly as in the whole timeline, built from those events only (see
    /// [`Timeline::page`]).
    ///
    /// # Errors
    ///
    /// [`LogError::SequenceGap`] when `after` is beyond the log.
    pub fn timeline_page(&self, view: View, after: u64, limit: usize) -> Result<Timeline, LogError> {
        let start = usize::try_from(after).unwrap_or(usize::MAX).min(self.events.len());
        Timeline::page(view, &self.case, after, limit, self.events.get(start..).unwrap_or_default())
    }

    /// Gives up the log (for instance to store it).
    #[must_use]
    pub fn into_events(self) -> Vec<Event> {
        self.events
    }
}

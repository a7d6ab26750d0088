//! Worklists: who owes the customer what, by when, across every open case, without
//! reading every case.
//!
//! The [`Worklist`] is a [`Projection`](crate::projection::Projection) the crate ships.
//! For every open case it keeps a [`Row`]: the owner and their department, whom the case
//! [waits on](WaitingOn) (derived from the log), how often the customer had to ask
//! again, the escalation level, handoffs and bounces, the next deadline under the host's
//! [`Deadlines`], the customer and the incidents. It answers [`Query`]s by owner,
//! department or customer, the cases breached at a time or due within a span, each
//! ordered by due time (cases with no deadline last, then by case id) and paged with an
//! opaque [`Cursor`]; and the deadline sweep ([`Worklist::breached_between`], S5).
//!
//! - In process: [`Worklist`] holds ordered indexes; a page of `n` rows costs
//!   O(n + log cases), a sweep O(breaches + log cases). Run it in a
//!   [`Projected`](crate::projection::Projected) store, or from the PostgreSQL feed in a
//!   [`FeedFollower`](crate::projection::FeedFollower).
//! - On PostgreSQL (feature `postgres`): [`PgWorklist`] keeps the same rows in the
//!   `caseledger_worklist` table through [`PgRunner`](crate::projection::PgRunner), with
//!   an index per query.
//!
//! Both derive each row from the case folded by [`Case::apply`] with [`Row::of`], so
//! their answers equal a scan of every replayed case filtered by [`Query::matches`] and
//! sorted by [`Row::cursor`] (the tests check exactly that).
//!
//! # Example
//!
//! ```
//! use caseledger::projection::Projected;
//! use caseledger::worklist::{Query, WaitingOn, Worklist};
//! use caseledger::{
//!     policy::{Deadlines, Span}, Actor, CaseId, Command, MemoryStore, Opening, Rules, Staff,
//!     Store,
//! };
//! use time::macros::datetime;
//!
//! let deadlines = Deadlines::default().first_response(Span::hours(4));
//! let store = Projected::new(MemoryStore::new(), Worklist::new(deadlines))?;
//! let rules = Rules::default();
//! let t = datetime!(2026-11-23 09:00 UTC);
//! let case = CaseId::new_v7(t, [1; 10]);
//! let opened = rules.open(case, Opening::new("cust-7", "my laptop works",
//!     Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?;
//! store.append(case, 0, &[opened])?;
//!
//! let page = store.page(&Query::owner("ana"));
//! assert_eq!(page.rows.len(), 1);
//! assert_eq!(page.rows[0].waiting_on, WaitingOn::Staff);
//! assert_eq!(page.rows[0].next_deadline.map(|d| d.due_at), Some(datetime!(2026-11-23 13:00 UTC)));
//!
//! // The host's timer: what breached since its last run, recorded on each case.
//! let (last_sweep, now) = (t, datetime!(2026-11-23 13:30 UTC));
//! let breaches = store.breached_between(last_sweep, now);
//! assert_eq!(breaches.len(), 1);
//! for breach in breaches {
//!     let log = store.read(breach.case)?;
//!     let case = caseledger::Case::replay(&log)?;
//!     let note = rules.decide(&case, breach.deadline.breach_note(), &Actor::System, now)?;
//!     store.append(breach.case, case.version(), &note)?;
//! }
//! assert!(store.breached_between(now, now).is_empty());
//! # Ok::<(), caseledger::Error>(())
//! ```

mod in_process;
mod index;
#[cfg(feature = "postgres")]
mod postgres;
mod query;

use serde::{Deserialize, Serialize};

use crate::actor::Staff;
use crate::case::Case;
use crate::deadline::{Deadline, Deadlines};
use crate::id::{CaseId, CustomerRef, IncidentId};
use crate::status::OutcomeState;

pub use index::Worklist;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PgWorklist;
pub use query::{Breach, Cursor, Page, ParseCursorError, Query};

/// Whom an open case waits on, derived from its log (never from a status someone set).
///
/// The rule, in order:
///
/// 1. The customer confirmed their outcome (and nothing reopened it since): **staff**,
///    who must finish the work and resolve.
/// 2. Staff contacted the customer and the customer has not answered since (no reply,
///    confirmation, dispute or live conversation after the last contact;
///    [`Counters::unanswered_contacts`](crate::case::Counters::unanswered_contacts) is above
///    zero), and the case was not reopened later than that contact: the **customer**
///    — or the **customer's confirmation** when a request for confirmation
///    ([`Case::confirmation_requested`]) is pending.
/// 3. Otherwise: **staff** (a new case, a customer who wrote last, a reopened case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WaitingOn {
    /// Staff owe the next step.
    Staff,
    /// Staff contacted the customer and wait for an answer.
    Customer,
    /// Staff asked the customer to confirm their outcome and wait for it.
    Confirmation,
}

impl WaitingOn {
    /// Whom `case` waits on (see the rule above). Meaningful for open cases.
    #[must_use]
    pub fn of(case: &Case) -> Self {
        if case.outcome_state() == OutcomeState::Confirmed {
            return Self::Staff;
        }
        let clock = case.clock();
        let reopened_since = matches!((clock.reopened_at, clock.last_contact_at), (Some(r), Some(c)) if r > c);
        if case.counters().unanswered_contacts == 0 || reopened_since {
            Self::Staff
        } else if case.confirmation_requested().is_some() {
            Self::Confirmation
        } else {
            Self::Customer
        }
    }

    /// The snake_case name, as in JSON and in the PostgreSQL table.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Customer => "customer",
            Self::Confirmation => "confirmation",
        }
    }
}

/// One open case on the worklist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Row {
    /// The case.
    pub case: CaseId,
    /// Its customer.
    pub customer: CustomerRef,
    /// The accountable owner, with the department they act for (the case's department).
    pub owner: Staff,
    /// Whom the case waits on.
    pub waiting_on: WaitingOn,
    /// How often the customer had to ask again: their messages since staff last
    /// contacted them ([`Counters::customer_messages_unanswered`](crate::case::Counters::customer_messages_unanswered)).
    pub asked_again: u32,
    /// The escalation level (0 if never escalated).
    pub escalation_level: u32,
    /// Changes of owner so far.
    pub handoffs: u32,
    /// Handoffs back to an owner or department the case had left (S4).
    pub bounces: u32,
    /// The earliest pending deadline under the worklist's [`Deadlines`], if any.
    pub next_deadline: Option<Deadline>,
    /// The incidents the case is linked to, in linking order.
    pub incidents: Vec<IncidentId>,
    /// The case's version the row was derived at.
    pub version: u64,
}

impl Row {
    /// The row of `case` under `deadlines`, or `None` when the case is closed.
    #[must_use]
    pub fn of(case: &Case, deadlines: &Deadlines) -> Option<Self> {
        if case.is_closed() {
            return None;
        }
        let counters = case.counters();
        Some(Self {
            case: case.id(),
            customer: case.customer().clone(),
            owner: case.owner().clone(),
            waiting_on: WaitingOn::of(case),
            asked_again: counters.customer_messages_unanswered,
            escalation_level: case.escalation_level(),
            handoffs: counters.handoffs,
            bounces: counters.bounces,
            next_deadline: deadlines.due(case).first().copied(),
            incidents: case.incidents().to_vec(),
            version: case.version(),
        })
    }

    /// The row's place in every worklist order: by due time (no deadline last), then case.
    #[must_use]
    pub fn cursor(&self) -> Cursor {
        Cursor::new(self.next_deadline.map(|d| d.due_at), self.case)
    }
}

//! Deadlines: when the customer must first hear from staff and when next. Their guide
//! (and how a breach goes on the timeline) is the [`policy`](crate::policy) module's.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::case::Case;
use crate::command::Command;
use crate::error::ConfigError;
use crate::event::Visibility;
use crate::span::{short_time, words, Span};

/// How soon the customer must hear from staff. Both deadlines are optional; with
/// neither set nothing is ever due.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Deadlines {
    /// From opening to the first contact with the customer.
    pub first_response: Option<Span>,
    /// From the last update to the customer (a contact or a customer-visible note) to
    /// the next one; after a reopen, from the reopening if that is later.
    pub next_update: Option<Span>,
    /// How long before a deadline it counts as due soon. Default zero: only breaches.
    pub warn_before: Span,
}

/// Which deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeadlineKind {
    /// The customer's first answer from staff.
    FirstResponse,
    /// The customer's next update.
    NextUpdate,
}

impl fmt::Display for DeadlineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::FirstResponse => "first response",
            Self::NextUpdate => "next update",
        })
    }
}

/// One pending deadline of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Deadline {
    /// Which one.
    pub kind: DeadlineKind,
    /// When it is due.
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
}

impl Deadline {
    /// The command that records this deadline's breach on the case's timeline: an
    /// internal note, to be decided as [`Actor::System`](crate::Actor::System).
    #[must_use]
    pub fn breach_note(&self) -> Command {
        Command::AddNote {
            text: format!("{} deadline breached: it was due {}", self.kind, short_time(self.due_at)),
            visibility: Visibility::Internal,
        }
    }
}

/// Whether a deadline is breached or due soon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeadlineState {
    /// Past due, by this long.
    Breached {
        /// How long past due.
        overdue: Duration,
    },
    /// Due within the warning window, in this long.
    DueSoon {
        /// Time left.
        left: Duration,
    },
}

/// A deadline that needs attention at the time asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeadlineStatus {
    /// The deadline.
    pub deadline: Deadline,
    /// Breached or due soon, and by how long.
    pub state: DeadlineState,
}

impl fmt::Display for DeadlineStatus {
    /// "first response overdue by 2 hours (due 2026-11-23 13:00)",
    /// "next update due in 45 minutes (at 2026-11-25 09:00)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Deadline { kind, due_at } = self.deadline;
        match self.state {
            DeadlineState::Breached { overdue } => {
                write!(f, "{kind} overdue by {} (due {})", words(overdue), short_time(due_at))
            }
            DeadlineState::DueSoon { left } => write!(f, "{kind} due in {} (at {})", words(left), short_time(due_at)),
        }
    }
}

impl Deadlines {
    /// Sets the first-response deadline.
    #[must_use]
    pub fn first_response(mut self, span: Span) -> Self {
        self.first_response = Some(span);
        self
    }

    /// Sets the next-update deadline.
    #[must_use]
    pub fn next_update(mut self, span: Span) -> Self {
        self.next_update = Some(span);
        self
    }

    /// Sets how long before a deadline it counts as due soon.
    #[must_use]
    pub fn warn_before(mut self, span: Span) -> Self {
        self.warn_before = span;
        self
    }

    /// The pending deadlines of an open case, earliest first: the first response until
    /// staff first contact the customer, the next update once the customer has had one
    /// (counted from the later of the last update and the last reopening). A closed case
    /// has none. O(1).
    #[must_use]
    pub fn due(&self, case: &Case) -> Vec<Deadline> {
        let mut due: Vec<Deadline> = self
            .pending(case)
            .into_iter()
            .filter_map(|(kind, due_at)| due_at.map(|due_at| Deadline { kind, due_at }))
            .collect();
        due.sort_by_key(|d| d.due_at);
        due
    }

    /// When each deadline is due, without allocating (for metrics over many cases).
    pub(crate) fn pending(&self, case: &Case) -> [(DeadlineKind, Option<OffsetDateTime>); 2] {
        if case.is_closed() {
            return [(DeadlineKind::FirstResponse, None), (DeadlineKind::NextUpdate, None)];
        }
        let clock = case.clock();
        let after = |from: OffsetDateTime, span: Option<Span>| span.and_then(|s| from.checked_add(s.to_duration()));
        let first = match clock.first_response_at {
            None => after(clock.opened_at, self.first_response),
            Some(_) => None,
        };
        // After a reopen the customer waits afresh: the next update counts from the
        // reopening unless staff have updated them since.
        let next_from = match (clock.last_update_at, clock.reopened_at) {
            (Some(update), Some(reopened)) => Some(update.max(reopened)),
            (update, _) => update,
        };
        let next = next_from.and_then(|at| after(at, self.next_update));
        [(DeadlineKind::FirstResponse, first), (DeadlineKind::NextUpdate, next)]
    }

    /// The deadlines that are breached or due within [`Deadlines::warn_before`] at
    /// `now`, with how long, earliest first.
    #[must_use]
    pub fn check(&self, case: &Case, now: OffsetDateTime) -> Vec<DeadlineStatus> {
        let warn = self.warn_before.to_duration();
        self.due(case)
            .into_iter()
            .filter_map(|deadline| {
                let left = deadline.due_at - now;
                let state = if left <= Duration::ZERO {
                    DeadlineState::Breached { overdue: -left }
                } else if left <= warn {
                    DeadlineState::DueSoon { left }
                } else {
                    return None;
                };
                Some(DeadlineStatus { deadline, state })
            })
            .collect()
    }

    /// The deadlines that became breached after `after` and at or before `until`: a
    /// scheduler passing the time of its previous run gets each breach once.
    #[must_use]
    pub fn breached_between(&self, case: &Case, after: OffsetDateTime, until: OffsetDateTime) -> Vec<Deadline> {
        self.due(case).into_iter().filter(|d| d.due_at > after && d.due_at <= until).collect()
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (field, span) in [("first_response", self.first_response), ("next_update", self.next_update)] {
            if span.is_some_and(Span::is_zero) {
                return Err(ConfigError::Invalid {
                    policy: "deadlines",
                    field,
                    problem: "must be longer than zero".to_owned(),
                });
            }
        }
        Ok(())
    }
}

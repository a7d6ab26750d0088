//! Statuses: where a case, its customer's outcome and each piece of work stand; shown
//! through [`case`](crate::case), kept apart from the fold so a refusal can name a status
//! without importing the case.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::event::Ending;

/// Where a case stands.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// Being worked on.
    Open,
    /// Closed with the customer's outcome confirmed.
    Resolved,
    /// Closed without the customer's confirmation, for an honest reason (I3).
    ClosedUnresolved {
        /// Why.
        ending: Ending,
    },
}

impl Status {
    /// Whether the case is closed, either way.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        !matches!(self, Self::Open)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open => f.write_str("open"),
            Self::Resolved => f.write_str("resolved"),
            Self::ClosedUnresolved { ending } => write!(f, "closed unresolved: {ending}"),
        }
    }
}

/// Whether the customer's own outcome is met, in the customer's judgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OutcomeState {
    /// Not confirmed yet.
    Unmet,
    /// The customer confirmed it.
    Confirmed,
    /// The customer said it is not met after all.
    Disputed,
}

/// Where one department's piece of work stands.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum WorkState {
    /// Still being worked on.
    Open,
    /// Finished, with what was done.
    Completed {
        /// What was done and what came of it.
        note: String,
    },
    /// Abandoned, with why.
    Dropped {
        /// Why.
        reason: String,
    },
}

//! Who did something: the customer, a staff member of a department, or the system;
//! shown through [`event`](crate::event).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::{Department, StaffId};

/// A staff member together with the department they act for.
///
/// Owners, transfer receivers and escalation receivers are always named people: a case
/// is never owned by a queue nobody answers for (I1).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Staff {
    /// Who.
    pub id: StaffId,
    /// Which department they act for.
    pub department: Department,
}

// By hand so that `clone_from` reuses both buffers (see `Case`'s handoffs).
impl Clone for Staff {
    fn clone(&self) -> Self {
        Self { id: self.id.clone(), department: self.department.clone() }
    }

    fn clone_from(&mut self, source: &Self) {
        self.id.clone_from(&source.id);
        self.department.clone_from(&source.department);
    }
}

impl Staff {
    /// A staff member acting for `department`.
    #[must_use]
    pub fn new(id: impl Into<StaffId>, department: impl Into<Department>) -> Self {
        Self { id: id.into(), department: department.into() }
    }
}

impl fmt::Display for Staff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id, self.department)
    }
}

/// Who recorded an event or asks for a command.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Actor {
    /// The customer whose case it is.
    Customer,
    /// A staff member acting for a department.
    Staff(Staff),
    /// The host system itself (an incident feed, a scheduler).
    System,
}

impl Actor {
    /// A staff actor.
    #[must_use]
    pub fn staff(id: impl Into<StaffId>, department: impl Into<Department>) -> Self {
        Self::Staff(Staff::new(id, department))
    }

    /// The staff member, if this actor is one.
    #[must_use]
    pub fn as_staff(&self) -> Option<&Staff> {
        match self {
            Self::Staff(s) => Some(s),
            _ => None,
        }
    }

    /// The department the actor speaks for, if any.
    #[must_use]
    pub fn department(&self) -> Option<&crate::id::Department> {
        self.as_staff().map(|s| &s.department)
    }
}

impl From<Staff> for Actor {
    fn from(s: Staff) -> Self {
        Self::Staff(s)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Customer => f.write_str("the customer"),
            Self::Staff(s) => fmt::Display::fmt(s, f),
            Self::System => f.write_str("the system"),
        }
    }
}

//! Who did something: the customer (named by the host's [`CustomerRef`]), a staff member
//! of a department, or the system; shown through [`event`](crate::event).

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::id::{CustomerRef, Department, StaffId};

/// A staff member together with the department they act for.
///
/// Owners, transfer receivers and escalation receivers are always named people: a case
/// is never owned by a queue nobody answers for (I1).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Staff {
    /// Who.
    pub id: StaffId,
    /// Which department they act for.
    pub department: Department,
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
///
/// Serialized with a `type` tag: `{"type":"customer","id":"cust-7"}`,
/// `{"type":"staff","id":"ana","department":"software"}`, `{"type":"system"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Actor {
    /// A customer, as the host knows them. A command by a customer who is not the case's
    /// customer is refused ([`Refusal::OtherCustomer`](crate::Refusal::OtherCustomer)).
    ///
    /// Logs written before customer actors carried who they are (`{"type":"customer"}`)
    /// still read: [`codec::decode_log`](crate::codec::decode_log) and the repositories
    /// name each such actor after the case's customer (see `upcast.rs`); an event decoded
    /// on its own, without its case's opening, keeps an empty reference until then.
    Customer(CustomerRef),
    /// A staff member acting for a department.
    Staff(Staff),
    /// The host system itself (an incident feed, a scheduler).
    System,
}

impl Actor {
    /// A customer actor: `customer` asks (or did it).
    #[must_use]
    pub fn customer(customer: impl Into<CustomerRef>) -> Self {
        Self::Customer(customer.into())
    }

    /// The customer, if this actor is one.
    #[must_use]
    pub fn as_customer(&self) -> Option<&CustomerRef> {
        match self {
            Self::Customer(c) => Some(c),
            _ => None,
        }
    }

    /// Whether this actor is a customer (any customer).
    #[must_use]
    pub fn is_customer(&self) -> bool {
        matches!(self, Self::Customer(_))
    }

    /// A customer actor read from a log written before customers were named.
    pub(crate) fn is_unnamed_customer(&self) -> bool {
        matches!(self, Self::Customer(c) if c.as_str().is_empty())
    }

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
            Self::Customer(_) => f.write_str("the customer"),
            Self::Staff(s) => fmt::Display::fmt(s, f),
            Self::System => f.write_str("the system"),
        }
    }
}

// By hand rather than derived (an internally tagged enum cannot hold the customer's
// plain string): the same JSON as the derived form wrote for staff and the system,
// with no copy of the actor on the write path.
impl Serialize for Actor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Customer(customer) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("type", "customer")?;
                map.serialize_entry("id", customer)?;
                map.end()
            }
            Self::Staff(staff) => {
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry("type", "staff")?;
                map.serialize_entry("id", &staff.id)?;
                map.serialize_entry("department", &staff.department)?;
                map.end()
            }
            Self::System => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("type", "system")?;
                map.end()
            }
        }
    }
}

/// The serialized shapes an actor is read from, older ones included.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Stored {
    /// Without `id`: written before customers were named.
    Customer {
        #[serde(default)]
        id: Option<CustomerRef>,
    },
    Staff(Staff),
    System,
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Stored::deserialize(deserializer)? {
            Stored::Customer { id } => Self::Customer(id.unwrap_or_else(|| CustomerRef::new(String::new()))),
            Stored::Staff(staff) => Self::Staff(staff),
            Stored::System => Self::System,
        })
    }
}

// By hand: the customer's name is left out, so a customer's event hashes (its id, an
// idempotency fingerprint) exactly as it did before customer actors were named, and a
// log from then matches the named customer's retry. A case has one customer, and any
// other is refused before a key is looked up. Otherwise as derived.
impl Hash for Actor {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Self::Customer(_) => 0isize.hash(state),
            Self::Staff(staff) => {
                1isize.hash(state);
                staff.hash(state);
            }
            Self::System => 2isize.hash(state),
        }
    }
}

//! Identifiers: the newtypes that name cases, events, people, departments and things the
//! host CRM already knows about.
//!
//! Ids that the library creates ([`CaseId`], [`EventId`]) are UUIDs. Ids that belong to
//! the host ([`CustomerRef`], [`StaffId`], [`Department`], [`WorkItemId`],
//! [`IncidentId`]) are opaque strings the host chooses; the library only compares them.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

// Straight from its file, which stands on nothing above the ids (see `error/key.rs`).
use crate::error::key::KeyError;

/// Identity of one case: one customer's problem.
///
/// A `CaseId` is chosen when the case is opened; every event in the case's log carries it.
///
/// # Example
///
/// ```
/// use caseledger::CaseId;
///
/// let id: CaseId = "0190f5a3-7c1e-7a00-8000-000000000001".parse()?;
/// assert_eq!(id.to_string(), "0190f5a3-7c1e-7a00-8000-000000000001");
/// # Ok::<(), uuid::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[repr(transparent)]
pub struct CaseId(Uuid);

impl CaseId {
    /// Wraps a UUID the host already has (for instance its own ticket's UUID).
    #[must_use]
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// A new time-ordered (v7) case id for a case opened at `at`, with the 74 random
    /// bits taken from `random`.
    ///
    /// The library never reads a clock or a random source itself; the host supplies
    /// both, which keeps tests and replays deterministic.
    #[must_use]
    pub fn new_v7(at: OffsetDateTime, random: [u8; 10]) -> Self {
        Self(v7_from_parts(at, random))
    }

    /// The UUID inside.
    #[must_use]
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::str::FromStr for CaseId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// Identity of one recorded event: a time-ordered UUID (v7).
///
/// Events created by [`Rules::decide`](crate::Rules::decide) get ids derived from the
/// event's time, case, sequence number and content, so deciding the same thing twice
/// yields the same id (a retried append is then an idempotent no-op in a store), while
/// two different decisions never share one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[repr(transparent)]
pub struct EventId(Uuid);

impl EventId {
    /// Wraps an existing UUID (for instance one read back from a host's database).
    #[must_use]
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID inside.
    #[must_use]
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// A v7 id whose timestamp is `at` and whose other bits come from `entropy`.
    pub(crate) fn derived(at: OffsetDateTime, entropy: u128) -> Self {
        Self(v7_from_parts(at, entropy.to_be_bytes()[..10].try_into().unwrap_or([0; 10])))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

fn v7_from_parts(at: OffsetDateTime, random: [u8; 10]) -> Uuid {
    // Times before 1970 cannot be expressed in a v7 id; clamp rather than fail: the id
    // only needs to be unique and roughly time-ordered.
    // Whole seconds and the millisecond: the same as the nanoseconds divided by 10^6
    // for every time from 1970 on, without a 128-bit division.
    let millis = at.unix_timestamp().saturating_mul(1_000).saturating_add(i64::from(at.millisecond()));
    let millis = u64::try_from(millis).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        #[repr(transparent)]
        pub struct $name(String);

        // By hand so that `clone_from` reuses the buffer: the fold overwrites owners and
        // departments in place on every handoff.
        impl Clone for $name {
            fn clone(&self) -> Self {
                Self(self.0.clone())
            }

            fn clone_from(&mut self, source: &Self) {
                self.0.clone_from(&source.0);
            }
        }

        impl $name {
            /// Wraps the host's own identifier.
            #[must_use]
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The identifier as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// The customer, as the host CRM refers to them (a customer number, an account id).
    CustomerRef
);
string_id!(
    /// A staff member, as the host knows them (login, employee number).
    StaffId
);
string_id!(
    /// A department or group: `"software"`, `"billing"`, `"tier-2"`.
    Department
);
string_id!(
    /// One department's piece of work on a case, named by the host (often its own
    /// ticket number in that department's tool).
    WorkItemId
);
string_id!(
    /// A known incident (an outage, a fire) that many cases can be linked to.
    IncidentId
);

/// A key the host attaches to a request so that sending it again does not do it twice
/// (a retried POST whose response was lost).
///
/// The key is recorded on the events the request produced, so it survives restarts: the
/// case remembers which events a key produced and a fingerprint of the command (see
/// [`Case::idempotent`](crate::Case::idempotent)). The same key with the same command
/// is answered with the events already stored; with another command it is refused as
/// [`Refusal::KeyReused`](crate::Refusal::KeyReused).
///
/// A key is 1 to [`IdempotencyKey::MAX_BYTES`] bytes with no control character (what
/// an HTTP header can carry); a UUID or a client's request id fits.
///
/// # Example
///
/// ```
/// use caseledger::{error::KeyError, IdempotencyKey};
///
/// let key = IdempotencyKey::new("req-7f3a")?;
/// assert_eq!(key.as_str(), "req-7f3a");
/// assert_eq!(IdempotencyKey::new(""), Err(KeyError::Empty));
/// assert!(matches!(IdempotencyKey::new("x".repeat(300)), Err(KeyError::TooLong { bytes: 300, .. })));
/// # Ok::<(), KeyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The longest key in bytes: 255, as common HTTP APIs allow for such keys.
    pub const MAX_BYTES: usize = 255;

    /// Checks and wraps the host's key.
    ///
    /// # Errors
    ///
    /// [`KeyError`] when the key is empty, longer than [`IdempotencyKey::MAX_BYTES`], or
    /// holds a control character (tab, line feed and carriage return included).
    pub fn new(key: impl Into<String>) -> Result<Self, KeyError> {
        let key = key.into();
        if key.is_empty() {
            return Err(KeyError::Empty);
        }
        if key.len() > Self::MAX_BYTES {
            return Err(KeyError::TooLong { bytes: key.len(), max: Self::MAX_BYTES });
        }
        if let Some((offset, character)) = key.char_indices().find(|(_, c)| c.is_control()) {
            return Err(KeyError::ControlCharacter { character, offset });
        }
        Ok(Self(key))
    }

    /// The key as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = KeyError;

    fn try_from(key: String) -> Result<Self, KeyError> {
        Self::new(key)
    }
}

impl TryFrom<&str> for IdempotencyKey {
    type Error = KeyError;

    fn try_from(key: &str) -> Result<Self, KeyError> {
        Self::new(key)
    }
}

impl std::str::FromStr for IdempotencyKey {
    type Err = KeyError;

    fn from_str(key: &str) -> Result<Self, KeyError> {
        Self::new(key)
    }
}

impl From<IdempotencyKey> for String {
    fn from(key: IdempotencyKey) -> Self {
        key.0
    }
}

impl AsRef<str> for IdempotencyKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

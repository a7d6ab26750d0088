//! Identifiers: the newtypes that name cases, events, people, departments and things the
//! host CRM already knows about.
//!
//! Ids that the library creates ([`CaseId`], [`EventId`]) are UUIDs. Ids that belong to
//! the host ([`CustomerRef`], [`StaffId`], [`Department`], [`WorkItemId`],
//! [`IncidentId`]) are opaque strings the host chooses; the library only compares them.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
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
    /// Which of `count` buckets (shards of the repository's cache, of `MemoryStore`'s
    /// maps) the case falls in, below `count` (0 when `count` is 0).
    #[inline]
    pub(crate) fn bucket(self, count: usize) -> usize {
        let bits = self.0.as_u128();
        // v7 ids start with a timestamp: mix both halves so neighbours spread out.
        #[allow(clippy::cast_possible_truncation)] // Keeping the low half is the point.
        let mixed = ((bits >> 64) as u64 ^ bits as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // The product's top bits depend on every input bit: scale them to the count.
        usize::try_from(((mixed >> 32) * count as u64) >> 32).unwrap_or(0)
    }

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
        // An `Arc<str>` rather than a `String`: every command copies the actor into its
        // request and every stored event into the store's log, and a copy is then a
        // count increment instead of an allocation, a copy of the text and a free
        // (issue 21: about a fifth of a command's instructions). The text never changes
        // once wrapped. Equality, order, `Debug` and `Hash` are those of the text, as they
        // were for the `String` (event ids and key fingerprints hash the same); the JSON
        // is the plain string, written and read as before.
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps the host's own identifier.
            #[must_use]
            pub fn new(id: impl Into<String>) -> Self {
                Self(Arc::from(id.into()))
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
                Self(Arc::from(s))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(Arc::from(s))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_string(TextVisitor).map(Self)
            }
        }
    };
}

/// Reads a string id as `String` does (the same inputs accepted, the same errors) into
/// one shared allocation: text borrowed from the input is not copied into a `String`
/// first.
struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = Arc<str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // What `String`'s visitor says, so a decode error reads as before.
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Arc<str>, E> {
        Ok(Arc::from(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Arc<str>, E> {
        Ok(Arc::from(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Arc<str>, E> {
        match std::str::from_utf8(v) {
            Ok(s) => Ok(Arc::from(s)),
            Err(_) => Err(E::invalid_value(Unexpected::Bytes(v), &self)),
        }
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Arc<str>, E> {
        match String::from_utf8(v) {
            Ok(s) => Ok(Arc::from(s)),
            Err(e) => Err(E::invalid_value(Unexpected::Bytes(&e.into_bytes()), &self)),
        }
    }
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

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

    use serde::de::value::{BytesDeserializer, Error, StrDeserializer, StringDeserializer, U64Deserializer};
    use serde::de::{IntoDeserializer, Visitor};
    use serde::Deserialize;

    use super::{CustomerRef, Department, StaffId, TextVisitor};

    const TEXTS: [&str; 4] = ["ana", "", "tier-2 \"quoted\" \\ \u{e9}\u{1F600}", "line\nfeed\u{0}"];

    /// The ids were `String`s: their JSON, both ways, must not have changed.
    #[test]
    fn an_id_is_written_and_read_as_the_string_it_was() {
        for text in TEXTS {
            let as_string = serde_json::to_string(text).unwrap();
            assert_eq!(serde_json::to_string(&StaffId::new(text)).unwrap(), as_string);
            assert_eq!(serde_json::from_str::<Department>(&as_string).unwrap().as_str(), text);
            assert_eq!(serde_json::from_reader::<_, CustomerRef>(as_string.as_bytes()).unwrap().as_str(), text);
        }
        for wrong in ["5", "null", "[\"ana\"]", "{\"id\":\"ana\"}", "\"unterminated"] {
            assert_eq!(
                serde_json::from_str::<StaffId>(wrong).unwrap_err().to_string(),
                serde_json::from_str::<String>(wrong).unwrap_err().to_string(),
                "{wrong}"
            );
        }
    }

    /// Every way a deserializer can hand over text gives what `String` got from it, and
    /// every refusal reads the same.
    #[test]
    fn every_kind_of_text_a_deserializer_offers_reads_as_for_a_string() {
        for text in TEXTS {
            let id = StaffId::deserialize(StrDeserializer::<Error>::new(text)).unwrap();
            assert_eq!(id.as_str(), text);
            let id = StaffId::deserialize(StringDeserializer::<Error>::new(text.to_owned())).unwrap();
            assert_eq!(id.as_str(), text);
            let id = StaffId::deserialize(BytesDeserializer::<Error>::new(text.as_bytes())).unwrap();
            assert_eq!(id.as_str(), text);
            assert_eq!(&*TextVisitor.visit_byte_buf::<Error>(text.as_bytes().to_vec()).unwrap(), text);
        }
        let invalid: &[u8] = &[b'a', 0xff, b'b'];
        let string_err = String::deserialize(BytesDeserializer::<Error>::new(invalid)).unwrap_err().to_string();
        assert_eq!(StaffId::deserialize(BytesDeserializer::<Error>::new(invalid)).unwrap_err().to_string(), string_err);
        assert_eq!(TextVisitor.visit_byte_buf::<Error>(invalid.to_vec()).unwrap_err().to_string(), string_err);
        let number: U64Deserializer<Error> = 7u64.into_deserializer();
        let number_again: U64Deserializer<Error> = 7u64.into_deserializer();
        assert_eq!(
            Department::deserialize(number).unwrap_err().to_string(),
            String::deserialize(number_again).unwrap_err().to_string()
        );
    }

    /// Event ids and idempotency fingerprints hash the actor's names: an id must hash,
    /// compare and print exactly as its text did as a `String`.
    #[test]
    fn an_id_hashes_compares_and_prints_as_its_text() {
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        for text in TEXTS {
            let id = StaffId::new(text);
            assert_eq!(hasher.hash_one(&id), hasher.hash_one(text.to_owned()));
            assert_eq!(format!("{id:?}"), format!("StaffId({:?})", text.to_owned()));
            assert_eq!(id.to_string(), text);
            assert_eq!(id, StaffId::from(text.to_owned()));
        }
        let mut sorted: Vec<StaffId> = ["b", "ab", "", "a"].into_iter().map(StaffId::from).collect();
        sorted.sort();
        let names: Vec<&str> = sorted.iter().map(StaffId::as_str).collect();
        assert_eq!(names, ["", "a", "ab", "b"]);
        // A copy shares the text rather than allocating it again.
        let id = Department::new("software");
        assert!(std::ptr::eq(id.clone().as_str(), id.as_str()));
    }
}

//! A case's folded state as a store keeps it between processes: the [`Snapshot`], an
//! opaque, checked value that only this crate builds and restores.
//!
//! # Why a snapshot is not a way to deserialise a `Case`
//!
//! A [`Case`] still cannot be deserialised from outside: the only public ways to get one
//! are folding a log. A snapshot is the fold's own memo, bytes that a store keeps and
//! hands back; the crate restores it only on a cold load, only after checking it, and
//! only when the log agrees with it (the event it says it ends on is in the log at that
//! place). Whatever fails a check is ignored in favour of the log, with a typed
//! [`SnapshotRejection`]; a snapshot that passes every check but whose state was forged
//! is caught by the verification path, which folds the log again and compares
//! (`Repository::verify_snapshot`).
//!
//! # Format
//!
//! One header line, then the state as JSON:
//!
//! ```text
//! caseledger-snapshot 1 <case id> <version> <last event id> <fold fingerprint> <checksum>\n
//! {"id":"…","customer":"…",…}
//! ```
//!
//! The fingerprint and the checksum are 16 lowercase hex digits. The checksum is FNV-1a
//! (64 bits) over every byte of the snapshot except the checksum's own 16 digits: it
//! catches torn, truncated and garbled bytes, not a forger (the verification path does).
//! The fold fingerprint ([`Snapshot::fold_fingerprint`]) names the state's layout and the
//! crate version that wrote it: a snapshot written by another version of the fold is
//! never restored, whatever it says.

use std::fmt;
use std::hash::Hasher;

use serde::{Deserialize, Serialize};

use super::keys::KeyMemory;
use super::owner::OwnerHistoryImage;
use super::Case;
use crate::fnv::Fnv64;
use crate::id::{CaseId, EventId};

/// The snapshot format this crate writes and reads.
const FORMAT: u32 = 1;

/// The magic word a snapshot starts with.
const MAGIC: &str = "caseledger-snapshot";

/// The layout of the state a snapshot holds. Bump it with any change to [`Case`]'s
/// fields, to what the fold keeps in them, or to the key fingerprints (`keys.rs`): a
/// snapshot of another layout is then refused ([`SnapshotRejection::Fingerprint`]).
/// The test `the_image_names_every_field` fails when a field is added without a bump.
/// Layout 2: customer actors carry who they are (`{"type":"customer","id":…}`).
/// Layout 3: the changes of owner packed as integers (`owner::packed_changes`).
const FOLD_LAYOUT: u32 = 3;

/// A case's folded state at a version, as a store keeps it: opaque bytes that carry the
/// version they cover, the event they end on, the fold's fingerprint and a checksum.
///
/// The repository writes one from time to time (see
/// [`SnapshotPolicy`](crate::repository::SnapshotPolicy)) and, on a cold load, restores
/// the case from it and folds only the events after it, after checking it against the
/// case, the fold and the log. A store only keeps the bytes ([`Snapshot::as_bytes`]) and
/// gives them back ([`Snapshot::from_bytes`]); it may index them by
/// [`Snapshot::case`] and [`Snapshot::version`].
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot {
    bytes: Vec<u8>,
    header: Option<Header>,
}

/// What the header line says; parsed once, when the bytes come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Header {
    format: u32,
    case: CaseId,
    version: u64,
    last: EventId,
    fold: u64,
    checksum: u64,
    /// Where the state's JSON starts.
    body: usize,
}

/// Why a stored snapshot was not used: the log was folded instead. Hosts count these
/// ([`SnapshotStats`](crate::repository::SnapshotStats)); none of them is an error, and
/// none loses anything, since the log is the truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SnapshotRejection {
    /// The bytes are not a snapshot: no header, or a header that does not parse (a torn
    /// or garbled write).
    #[error("the snapshot's header does not parse")]
    Garbled,
    /// The snapshot is in a format this crate does not read.
    #[error("snapshot format {found} is not the format this crate reads ({FORMAT})")]
    Format {
        /// The format it says it is in.
        found: u32,
    },
    /// The bytes do not match their checksum.
    #[error("the snapshot's bytes do not match their checksum")]
    Checksum,
    /// The snapshot is another case's.
    #[error("the snapshot is case {found}'s")]
    OtherCase {
        /// The case it says it is of.
        found: CaseId,
    },
    /// Another fold wrote it (another state layout or another version of the crate).
    #[error("the snapshot was written by another fold (fingerprint {found:016x})")]
    Fingerprint {
        /// Its fold fingerprint.
        found: u64,
    },
    /// The state does not decode, or disagrees with the header.
    #[error("the snapshot's state does not decode as the case it says it is")]
    Undecodable,
    /// The snapshot covers more events than the log holds (the log was restored from an
    /// older backup, or the snapshot is from elsewhere).
    #[error("the snapshot covers version {version}, past the log's end")]
    BeyondLog {
        /// The version it covers.
        version: u64,
    },
    /// The log holds another event at the snapshot's version: they diverged.
    #[error("the log's event {version} is not the one the snapshot ends on")]
    Diverged {
        /// The version it covers.
        version: u64,
    },
}

impl SnapshotRejection {
    /// Every reason, in declaration order (for a host's counters).
    pub const ALL: [Self; 8] = [
        Self::Garbled,
        Self::Format { found: 0 },
        Self::Checksum,
        Self::OtherCase { found: CaseId::from_uuid(uuid::Uuid::nil()) },
        Self::Fingerprint { found: 0 },
        Self::Undecodable,
        Self::BeyondLog { version: 0 },
        Self::Diverged { version: 0 },
    ];

    /// A stable, snake_case name for the reason (a metric's label).
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Garbled => "snapshot_garbled",
            Self::Format { .. } => "snapshot_format",
            Self::Checksum => "snapshot_checksum",
            Self::OtherCase { .. } => "snapshot_other_case",
            Self::Fingerprint { .. } => "snapshot_fingerprint",
            Self::Undecodable => "snapshot_undecodable",
            Self::BeyondLog { .. } => "snapshot_beyond_log",
            Self::Diverged { .. } => "snapshot_diverged",
        }
    }

    /// The reason's place in [`SnapshotRejection::ALL`].
    #[must_use]
    pub const fn index(&self) -> usize {
        match self {
            Self::Garbled => 0,
            Self::Format { .. } => 1,
            Self::Checksum => 2,
            Self::OtherCase { .. } => 3,
            Self::Fingerprint { .. } => 4,
            Self::Undecodable => 5,
            Self::BeyondLog { .. } => 6,
            Self::Diverged { .. } => 7,
        }
    }
}

/// The whole state, private fields and indexes included, as the snapshot's body holds
/// it. Only this module names it; `Case`'s public form stays serialise-only.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Case")]
struct CaseImage {
    id: CaseId,
    customer: crate::id::CustomerRef,
    outcome: String,
    outcome_state: super::OutcomeState,
    outcome_voice: Option<(crate::event::Voice, crate::actor::Actor)>,
    heard_on: u8,
    #[serde(with = "OwnerHistoryImage")]
    owners: super::owner::OwnerHistory,
    last_handoff_note: Option<String>,
    work: std::collections::BTreeMap<crate::id::WorkItemId, super::WorkItem>,
    open_work: usize,
    facts: std::collections::BTreeMap<String, super::Fact>,
    channels: std::collections::BTreeMap<crate::event::Channel, super::Reachability>,
    incidents: Vec<crate::id::IncidentId>,
    confirmation_requested: Option<String>,
    escalation_level: u32,
    status: super::Status,
    counters: super::Counters,
    clock: super::Moments,
    unanswered_contact_times: std::collections::VecDeque<time::OffsetDateTime>,
    version: u64,
    keys: KeyMemory,
}

#[derive(Serialize)]
struct Out<'a>(#[serde(with = "CaseImage")] &'a Case);

#[derive(Deserialize)]
struct In(#[serde(with = "CaseImage")] Case);

impl Snapshot {
    /// A snapshot of `case`, whose last folded event is `last` (the event at
    /// `case.version()`).
    pub(crate) fn take(case: &Case, last: EventId) -> Self {
        // A case always serialises (its public form does too); an empty body would be
        // refused on restore, never trusted.
        let body = serde_json::to_vec(&Out(case)).unwrap_or_default();
        let fold = Self::fold_fingerprint();
        let head = format!("{MAGIC} {FORMAT} {} {} {} {fold:016x} ", case.id(), case.version(), last);
        let checksum = checksum(head.as_bytes(), &body);
        let mut bytes = Vec::with_capacity(head.len() + 17 + body.len());
        bytes.extend_from_slice(head.as_bytes());
        bytes.extend_from_slice(format!("{checksum:016x}\n").as_bytes());
        let start = bytes.len();
        bytes.extend_from_slice(&body);
        let header =
            Header { format: FORMAT, case: case.id(), version: case.version(), last, fold, checksum, body: start };
        Self { bytes, header: Some(header) }
    }

    /// A snapshot as a store read it back. Nothing is checked here: the repository
    /// checks it when it restores a case from it, and ignores it if any check fails.
    #[must_use]
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        let bytes = bytes.into();
        let header = parse(&bytes);
        Self { bytes, header }
    }

    /// The bytes to keep.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes to keep, without a copy.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The case it says it is of (`None` when its header does not parse).
    #[must_use]
    pub fn case(&self) -> Option<CaseId> {
        self.header.map(|h| h.case)
    }

    /// The version it says it covers: the number of events folded into it (0 when its
    /// header does not parse). A store loading a case reads the log's events from this
    /// version on (the event at it included, which the repository checks).
    #[must_use]
    pub fn version(&self) -> u64 {
        self.header.map_or(0, |h| h.version)
    }

    /// The fingerprint of this crate's fold: the state's layout and the crate version.
    /// A snapshot written under another fingerprint is never restored.
    #[must_use]
    pub fn fold_fingerprint() -> u64 {
        let mut hash = Fnv64::new();
        hash.write(b"caseledger case fold");
        hash.write(&FOLD_LAYOUT.to_le_bytes());
        hash.write(env!("CARGO_PKG_VERSION").as_bytes());
        hash.finish()
    }

    /// Restores the state, checking the snapshot is `case`'s, in this format, intact and
    /// of this fold. Returns the case and the id of the event it ends on, which the
    /// caller checks against the log.
    pub(crate) fn restore(&self, case: CaseId) -> Result<(Case, EventId), SnapshotRejection> {
        let Some(header) = self.header else { return Err(SnapshotRejection::Garbled) };
        if header.format != FORMAT {
            return Err(SnapshotRejection::Format { found: header.format });
        }
        let digits = header.body.checked_sub(17).ok_or(SnapshotRejection::Garbled)?;
        let (head, body) = (self.bytes.get(..digits), self.bytes.get(header.body..));
        let (Some(head), Some(body)) = (head, body) else { return Err(SnapshotRejection::Garbled) };
        if checksum(head, body) != header.checksum {
            return Err(SnapshotRejection::Checksum);
        }
        if header.case != case {
            return Err(SnapshotRejection::OtherCase { found: header.case });
        }
        if header.fold != Self::fold_fingerprint() {
            return Err(SnapshotRejection::Fingerprint { found: header.fold });
        }
        let In(restored) = serde_json::from_slice(body).map_err(|_| SnapshotRejection::Undecodable)?;
        if restored.id != case || restored.version != header.version || restored.version == 0 {
            return Err(SnapshotRejection::Undecodable);
        }
        let restored = Case { owners: restored.owners.reindexed(), ..restored };
        Ok((restored, header.last))
    }

    /// The same snapshot with its state rewritten by `edit` and its checksum computed
    /// again: a doctored snapshot that passes every check but the verification.
    #[cfg(feature = "testkit")]
    pub(crate) fn doctored(&self, edit: impl FnOnce(&mut serde_json::Value)) -> Option<Self> {
        let header = self.header?;
        let mut state: serde_json::Value = serde_json::from_slice(self.bytes.get(header.body..)?).ok()?;
        edit(&mut state);
        let body = serde_json::to_vec(&state).ok()?;
        let head = format!(
            "{MAGIC} {} {} {} {} {:016x} ",
            header.format, header.case, header.version, header.last, header.fold
        );
        let sum = checksum(head.as_bytes(), &body);
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(format!("{sum:016x}\n").as_bytes());
        bytes.extend_from_slice(&body);
        Some(Self::from_bytes(bytes))
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The bytes hold a customer's words; a debug line names the snapshot only.
        f.debug_struct("Snapshot")
            .field("case", &self.case())
            .field("version", &self.version())
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

fn checksum(head: &[u8], body: &[u8]) -> u64 {
    let mut hash = Fnv64::new();
    hash.write(head);
    hash.write(body);
    hash.finish()
}

fn parse(bytes: &[u8]) -> Option<Header> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(bytes.get(..end)?).ok()?;
    let mut words = line.split(' ');
    if words.next()? != MAGIC {
        return None;
    }
    let format = words.next()?.parse().ok()?;
    let case = words.next()?.parse().ok()?;
    let version = words.next()?.parse().ok()?;
    let last = EventId::from_uuid(words.next()?.parse().ok()?);
    let fold = u64::from_str_radix(words.next()?, 16).ok()?;
    let sum = words.next()?;
    if sum.len() != 16 || words.next().is_some() {
        return None;
    }
    let checksum = u64::from_str_radix(sum, 16).ok()?;
    Some(Header { format, case, version, last, fold, checksum, body: end + 1 })
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::command::{Command, Opening};
    use crate::event::Visibility;
    use crate::rules::Rules;
    use crate::{Actor, Staff};

    fn sample() -> (Case, EventId) {
        let t = datetime!(2026-11-23 09:00 UTC);
        let rules = Rules::default();
        let ana = Staff::new("ana", "software");
        let id = CaseId::new_v7(t, [3; 10]);
        let opened = rules
            .open(id, Opening::new("cust-1", "my laptop works", ana.clone()), &Actor::customer("cust-1"), t)
            .unwrap();
        let mut case = Case::from_opened(&opened).unwrap();
        let mut last = opened.id;
        let key = crate::id::IdempotencyKey::new("k-1").unwrap();
        let commands = [
            crate::command::Request::new(Command::AddNote { text: "hi".into(), visibility: Visibility::Internal })
                .key(key),
            Command::Transfer { to: Staff::new("bo", "hardware"), note: "fan".into() }.into(),
        ];
        for request in commands {
            let crate::rules::Decision::Append(events) =
                rules.decide_request(&case, request, &Actor::Staff(case.owner().clone()), t).unwrap()
            else {
                panic!("new")
            };
            for event in &events {
                case.apply(event).unwrap();
                last = event.id;
            }
        }
        (case, last)
    }

    #[test]
    fn a_snapshot_restores_the_same_case() {
        let (case, last) = sample();
        let snapshot = Snapshot::take(&case, last);
        let again = Snapshot::from_bytes(snapshot.as_bytes().to_vec());
        assert_eq!(again.version(), case.version());
        assert_eq!(again.case(), Some(case.id()));
        let (restored, at) = again.restore(case.id()).unwrap();
        assert_eq!(restored, case);
        assert_eq!(at, last);
    }

    #[test]
    fn every_damage_is_a_typed_rejection() {
        let (case, last) = sample();
        let good = Snapshot::take(&case, last).into_bytes();
        let garbled = Snapshot::from_bytes(good[..good.len() / 3].to_vec());
        assert!(matches!(garbled.restore(case.id()), Err(SnapshotRejection::Checksum | SnapshotRejection::Garbled)));
        assert_eq!(Snapshot::from_bytes(b"{}".to_vec()).restore(case.id()).unwrap_err(), SnapshotRejection::Garbled);
        let mut flipped = good.clone();
        let n = flipped.len() - 3;
        flipped[n] ^= 1;
        assert_eq!(Snapshot::from_bytes(flipped).restore(case.id()).unwrap_err(), SnapshotRejection::Checksum);
        let other = CaseId::new_v7(datetime!(2026-11-23 09:00 UTC), [4; 10]);
        assert!(matches!(
            Snapshot::from_bytes(good).restore(other),
            Err(SnapshotRejection::OtherCase { found }) if found == case.id()
        ));
    }

    #[test]
    fn packed_owner_changes_that_do_not_decode_are_refused() {
        let (case, last) = sample();
        let good = Snapshot::take(&case, last);
        let header = good.header.unwrap();
        let body = std::str::from_utf8(&good.as_bytes()[header.body..]).unwrap();
        // Opened after event 1, transferred to owner 1 two events later. (The body is
        // edited as text: its key fingerprints are u128, which `serde_json::Value` cannot
        // hold.)
        let packed = "\"changes\":[1,0,0,2,1,1]";
        assert!(body.contains(packed), "{body}");
        let resealed = |changes: &str| {
            let body = body.replace(packed, &format!("\"changes\":{changes}"));
            let head =
                format!("{MAGIC} {FORMAT} {} {} {} {:016x} ", header.case, header.version, header.last, header.fold);
            let mut bytes = head.clone().into_bytes();
            bytes.extend_from_slice(format!("{:016x}\n", checksum(head.as_bytes(), body.as_bytes())).as_bytes());
            bytes.extend_from_slice(body.as_bytes());
            Snapshot::from_bytes(bytes).restore(case.id()).map(|(restored, _)| restored)
        };
        assert_eq!(resealed("[1,0,0,2,1,1]").unwrap(), case, "resealing alone changes nothing");
        for broken in ["[1,0,0,2,1]", "[1,0,0,2,1,7]", "[1,0,0,2,4294967296,1]", "[1,0,0,18446744073709551615,1,1]"] {
            assert_eq!(resealed(broken).unwrap_err(), SnapshotRejection::Undecodable, "{broken}");
        }
    }

    #[test]
    fn the_image_names_every_field() {
        // Adding a field to `Case` (or to the owner history) changes this list: bump
        // FOLD_LAYOUT with it, so snapshots of the old layout are refused.
        let (case, last) = sample();
        let snapshot = Snapshot::take(&case, last);
        let body = &snapshot.as_bytes()[snapshot.header.unwrap().body..];
        let value: serde_json::Value = serde_json::from_slice(body).unwrap();
        let mut fields: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        fields.extend(value["owners"].as_object().unwrap().keys().map(|k| format!("owners.{k}")));
        fields.sort();
        let expected = "channels clock confirmation_requested counters customer escalation_level facts heard_on id \
                        incidents keys last_handoff_note open_work outcome outcome_state outcome_voice owners \
                        owners.changes owners.departments_left owners.everyone owners.owner owners.previous_owners \
                        owners.seen_departments_left owners.seen_owner_ids owners.seen_owners status \
                        unanswered_contact_times version work";
        assert_eq!(fields.join(" "), expected, "bump FOLD_LAYOUT (layout {FOLD_LAYOUT})");
    }
}

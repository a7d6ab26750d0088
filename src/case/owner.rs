//! Owner history: the one accountable owner (I1), who had the case before, and which
//! departments it was handed away from (S4).
//!
//! Every handoff costs O(log owners): the lists a host reads are indexed by sets, so a
//! forged log with many distinct owners cannot make replay quadratic. Besides the
//! current owner and the lists, the history keeps every change of owner (16 bytes each)
//! so [`Case::owner_at`](super::Case::owner_at) can say who owned the case after any
//! event without the log.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::actor::Staff;
use crate::id::{Department, StaffId};

/// How the current owner got the case: the event that made them the owner.
///
/// With [`Case::previous_owner`](super::Case::previous_owner) a policy can tell a
/// transfer from an escalation, for instance "no transfer to the same department twice
/// in a row".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Acquisition {
    /// The case was opened with them as its owner.
    Opened,
    /// It was transferred to them.
    Transferred,
    /// It was escalated to them.
    Escalated,
}

/// One change of owner: after event `seq`, owner number `owner` (an index into
/// [`OwnerHistory::everyone`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct OwnerChange {
    seq: u64,
    owner: u32,
    how: Acquisition,
}

/// Who owns the case and who owned it, as the fold keeps it.
///
/// It serialises as the case's `owner`, `previous_owners` and `departments_left` fields
/// (flattened into the case); the indexes are rebuilt by the fold, never stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(super) struct OwnerHistory {
    /// The one accountable owner (I1).
    owner: Staff,
    /// Everyone who owned the case before `owner`, in the order they first handed it
    /// on, each once.
    previous_owners: Vec<Staff>,
    /// Departments the case was handed away from, in order, each once.
    departments_left: Vec<Department>,
    /// Indexes of the two lists above, so a handoff costs O(log owners) rather than a
    /// scan.
    #[serde(skip)]
    seen_owners: BTreeSet<Staff>,
    #[serde(skip)]
    seen_owner_ids: BTreeSet<StaffId>,
    #[serde(skip)]
    seen_departments_left: BTreeSet<Department>,
    /// Every owner the case has had, each once, in order of first ownership, and their
    /// index there: `changes` names owners by index.
    #[serde(skip)]
    everyone: Vec<Staff>,
    #[serde(skip)]
    index: BTreeMap<Staff, u32>,
    /// Each change of owner, the opening first, in log order.
    #[serde(skip)]
    changes: Vec<OwnerChange>,
}

/// The whole history as a stored snapshot keeps it (`case::saved`), indexes included
/// but the owner index, which is `everyone` numbered and rebuilt on restore.
#[derive(Serialize, Deserialize)]
#[serde(remote = "OwnerHistory")]
pub(super) struct OwnerHistoryImage {
    owner: Staff,
    previous_owners: Vec<Staff>,
    departments_left: Vec<Department>,
    seen_owners: BTreeSet<Staff>,
    seen_owner_ids: BTreeSet<StaffId>,
    seen_departments_left: BTreeSet<Department>,
    everyone: Vec<Staff>,
    #[serde(skip)]
    index: BTreeMap<Staff, u32>,
    #[serde(with = "packed_changes")]
    changes: Vec<OwnerChange>,
}

/// The changes of owner as a snapshot holds them: one flat list of integers, three per
/// change (the events since the previous change, the owner's number, how they got it:
/// 0 opened, 1 transferred, 2 escalated). A long case changes hands thousands of times,
/// and as objects (`{"seq":…,"owner":…,"how":"…"}`) the list was almost all of a
/// snapshot's bytes (200 KB at 1e5 events of the typical mix, 1.5 ms of a cold load to
/// decode); packed it is a sixth of that.
mod packed_changes {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{Acquisition, OwnerChange};

    pub(super) fn serialize<S: Serializer>(changes: &[OwnerChange], out: S) -> Result<S::Ok, S::Error> {
        let mut flat = Vec::with_capacity(changes.len() * 3);
        let mut previous = 0;
        for change in changes {
            let how = match change.how {
                Acquisition::Opened => 0,
                Acquisition::Transferred => 1,
                Acquisition::Escalated => 2,
            };
            // The fold records changes in log order, so `seq` never goes back.
            flat.extend([change.seq.saturating_sub(previous), u64::from(change.owner), how]);
            previous = change.seq;
        }
        flat.serialize(out)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Vec<OwnerChange>, D::Error> {
        let flat = Vec::<u64>::deserialize(input)?;
        let mut seq = 0u64;
        // `chunks`, not `chunks_exact`: a short last chunk must be refused, not dropped.
        flat.chunks(3)
            .map(|change| {
                let &[since, owner, how] = change else { return Err(D::Error::custom("owner changes come in threes")) };
                seq = seq.checked_add(since).ok_or_else(|| D::Error::custom("owner change beyond u64"))?;
                let owner = u32::try_from(owner).map_err(|_| D::Error::custom("owner number beyond u32"))?;
                let how = match how {
                    0 => Acquisition::Opened,
                    1 => Acquisition::Transferred,
                    2 => Acquisition::Escalated,
                    other => return Err(D::Error::custom(format_args!("no way to get a case numbered {other}"))),
                };
                Ok(OwnerChange { seq, owner, how })
            })
            .collect()
    }
}

impl OwnerHistory {
    /// The history with its owner index rebuilt from `everyone` (after a restore).
    pub(super) fn reindexed(mut self) -> Self {
        self.index = self.everyone.iter().cloned().zip(0u32..).collect();
        self
    }

    /// The history of a case just opened with `owner` (event 1).
    pub(super) fn opened(owner: &Staff) -> Self {
        Self {
            owner: owner.clone(),
            previous_owners: Vec::new(),
            departments_left: Vec::new(),
            seen_owners: BTreeSet::new(),
            seen_owner_ids: BTreeSet::new(),
            seen_departments_left: BTreeSet::new(),
            everyone: vec![owner.clone()],
            index: BTreeMap::from([(owner.clone(), 0)]),
            changes: vec![OwnerChange { seq: 1, owner: 0, how: Acquisition::Opened }],
        }
    }

    #[inline]
    pub(super) fn current(&self) -> &Staff {
        &self.owner
    }

    pub(super) fn previous_owners(&self) -> &[Staff] {
        &self.previous_owners
    }

    pub(super) fn departments_left(&self) -> &[Department] {
        &self.departments_left
    }

    pub(super) fn acquired(&self) -> Acquisition {
        self.changes.last().map_or(Acquisition::Opened, |change| change.how)
    }

    /// Who handed the case to the current owner.
    pub(super) fn previous(&self) -> Option<&Staff> {
        let before = self.changes.len().checked_sub(2)?;
        self.changes.get(before).and_then(|change| self.staff(change.owner))
    }

    /// Who owned the case right after event `seq`, which the caller has checked the case
    /// reached. O(log ownership changes).
    pub(super) fn at(&self, seq: u64) -> Option<&Staff> {
        let after = self.changes.partition_point(|change| change.seq <= seq);
        let change = self.changes.get(after.checked_sub(1)?)?;
        self.staff(change.owner)
    }

    fn staff(&self, index: u32) -> Option<&Staff> {
        self.everyone.get(usize::try_from(index).ok()?)
    }

    /// Whether `staff` owns or has owned the case.
    pub(super) fn has_owned(&self, staff: &Staff) -> bool {
        staff == &self.owner || self.seen_owners.contains(staff)
    }

    /// How many distinct owners the case has had, the current one included.
    pub(super) fn distinct(&self) -> usize {
        self.seen_owners.len() + usize::from(!self.seen_owners.contains(&self.owner))
    }

    /// Whether handing the case to `to` now would be a bounce: back to someone who had
    /// it, or to a department it already left (S4).
    #[inline]
    pub(super) fn would_bounce(&self, to: &Staff) -> bool {
        self.seen_owner_ids.contains(&to.id)
            || (to.department != self.owner.department && self.seen_departments_left.contains(&to.department))
    }

    /// Makes `to` the owner after event `seq`; returns whether that was a bounce.
    #[inline]
    pub(super) fn hand_to(&mut self, to: &Staff, seq: u64, how: Acquisition) -> bool {
        let bounce = self.would_bounce(to);
        let owner = match self.index.get(to) {
            Some(index) => *index,
            None => {
                // Distinct owners are capped far below u32 by the limits; saturate anyway.
                let index = u32::try_from(self.everyone.len()).unwrap_or(u32::MAX);
                self.everyone.push(to.clone());
                self.index.insert(to.clone(), index);
                index
            }
        };
        self.changes.push(OwnerChange { seq, owner, how });
        if to.department != self.owner.department && !self.seen_departments_left.contains(&self.owner.department) {
            self.seen_departments_left.insert(self.owner.department.clone());
            self.departments_left.push(self.owner.department.clone());
        }
        // The case changes hands between a few people many times: once the previous
        // owner is on record, the owner is just overwritten (the names are shared, not
        // copied) instead of kept in the list of previous owners.
        if self.seen_owners.contains(&self.owner) {
            self.owner.clone_from(to);
        } else {
            self.seen_owners.insert(self.owner.clone());
            self.seen_owner_ids.insert(self.owner.id.clone());
            let previous = std::mem::replace(&mut self.owner, to.clone());
            self.previous_owners.push(previous);
        }
        bounce
    }
}

//! Idempotency-key memory: the latest [`Case::IDEMPOTENCY_KEYS_KEPT`] keys of keyed
//! commands, each with the events it produced and a fingerprint of who asked what.
//!
//! The memory is folded from the log (the key is on each event), so every replica of a
//! case remembers the same keys and forgets the same ones, and a retry is recognised
//! across restarts. A lookup or a new key costs O(log keys), keys being bounded.

use std::collections::{BTreeMap, VecDeque};
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use super::Case;
use crate::actor::Actor;
use crate::command::Command;
use crate::error::Refusal;
use crate::event::{Event, EventKind};
use crate::id::IdempotencyKey;

/// What one keyed command produced: events `first..=last`, and a fingerprint of who asked
/// what, to tell a retry from another command under the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct KeyedRun {
    pub(super) first: u64,
    pub(super) last: u64,
    fingerprint: u128,
}

/// The keys a case remembers, with what each produced; `order` holds them oldest first,
/// to forget the oldest.
///
/// It serialises only into a stored snapshot (`case::saved`), never into a case's public
/// form; the fingerprints in it are the fold's, which is why a snapshot names the fold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct KeyMemory {
    runs: BTreeMap<IdempotencyKey, KeyedRun>,
    order: VecDeque<IdempotencyKey>,
}

impl KeyMemory {
    /// The run of commands sent with `key`, if remembered.
    #[inline]
    pub(super) fn run(&self, key: &IdempotencyKey) -> Option<&KeyedRun> {
        self.runs.get(key)
    }

    /// Records `event`'s key: a new run, or the next event of the run it continues (the
    /// envelope check has refused anything else, see `invariants`).
    pub(super) fn remember(&mut self, event: &Event) {
        let Some(key) = &event.key else { return };
        if let Some(run) = self.runs.get_mut(key) {
            run.last = event.seq;
            return;
        }
        if self.order.len() >= Case::IDEMPOTENCY_KEYS_KEPT {
            if let Some(oldest) = self.order.pop_front() {
                self.runs.remove(&oldest);
            }
        }
        let run = KeyedRun { first: event.seq, last: event.seq, fingerprint: fingerprint(&event.by, &event.what) };
        self.runs.insert(key.clone(), run);
        self.order.push_back(key.clone());
    }

    /// See [`Case::idempotent`].
    pub(super) fn idempotent(
        &self,
        key: &IdempotencyKey,
        command: &Command,
        by: &Actor,
    ) -> Result<Option<RangeInclusive<u64>>, Refusal> {
        let Some(run) = self.runs.get(key) else { return Ok(None) };
        if command_fingerprint(by, command) == run.fingerprint {
            Ok(Some(run.first..=run.last))
        } else {
            Err(Refusal::KeyReused { key: key.clone(), first: run.first, last: run.last })
        }
    }
}

fn override_fingerprint(by: &Actor, policy: &str, reason: &str) -> u128 {
    crate::fnv::hash128(&(by, "policy_overridden", policy, reason))
}

/// Who asked `command`: for an override, the override itself (its first event).
fn command_fingerprint(by: &Actor, command: &Command) -> u128 {
    match command {
        Command::Override { policy, reason, .. } => override_fingerprint(by, policy, reason),
        // The level is left out of the fingerprint; any will do.
        other => fingerprint(by, &other.clone().into_kind(0)),
    }
}

/// Who asked what, hashed with a fixed hash (I7). The escalation level is left out: it is
/// the rules' doing, not the asker's, and a retry meets a case one level up. Computed by
/// the fold from the log, never stored, so it may change between versions of the crate.
fn fingerprint(by: &Actor, what: &EventKind) -> u128 {
    match what {
        EventKind::Escalated { to, reason, .. } => crate::fnv::hash128(&(by, "escalated", to, reason)),
        // An override's first event quotes the policy, which the command does not carry.
        EventKind::PolicyOverridden { policy, reason, .. } => override_fingerprint(by, policy, reason),
        other => crate::fnv::hash128(&(by, other)),
    }
}

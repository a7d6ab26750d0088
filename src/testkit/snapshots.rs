//! Snapshot helpers for tests (feature `testkit`): take a snapshot of a folded case, and
//! doctor one (rewrite its state and recompute its checksum) to check that a host's
//! verification catches what a cold load cannot.

use crate::case::{Case, Snapshot};
use crate::event::Event;

/// A snapshot of `case`, whose last folded event is `last`, as the repository writes it.
#[must_use]
pub fn take(case: &Case, last: &Event) -> Snapshot {
    Snapshot::take(case, last.id)
}

/// `snapshot` with its state (the JSON body) rewritten by `edit` and its checksum
/// computed again, so it passes every check a cold load makes but no longer folds from
/// the log. `None` when `snapshot`'s header or state does not parse.
///
/// # Example
///
/// ```
/// use caseledger::testkit::{sample, snapshots};
/// use caseledger::{repository::SnapshotCheck, Case, MemoryStore, Repository, Rules, Store};
///
/// let log = sample::typical_log(50)?;
/// let case = log[0].case;
/// let store = MemoryStore::new();
/// store.append(case, 0, &log)?;
/// let good = snapshots::take(&Case::replay(&log)?, &log[49]);
/// let forged = snapshots::doctored(&good, |state| state["escalation_level"] = 7.into()).unwrap();
/// store.put_snapshot(case, Some(forged));
///
/// let repo = Repository::new(store, Rules::default());
/// assert_eq!(repo.verify_snapshot(case)?, SnapshotCheck::Differs { version: 50 });
/// # Ok::<(), caseledger::Error>(())
/// ```
#[must_use]
pub fn doctored(snapshot: &Snapshot, edit: impl FnOnce(&mut serde_json::Value)) -> Option<Snapshot> {
    snapshot.doctored(edit)
}

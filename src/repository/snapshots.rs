//! Snapshots in the repository: the policy a host sets ([`SnapshotPolicy`]), what a cold
//! load makes of a stored snapshot (restore, check against the log, fold the rest, or
//! ignore it with a reason), the counters a host reads ([`SnapshotStats`]), and the
//! verification run ([`Verify`]) that folds the log again and compares.
//!
//! A snapshot is a cache of the fold, never a source of truth: every path here falls
//! back to the log, and a snapshot write that fails is counted, never an error of the
//! command that caused it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::core::{sealed, Machine, PendingLoad, PendingRead, RepositoryCore, Step};
use crate::case::{Case, Snapshot, SnapshotRejection};
use crate::error::{Error, StoreError};
use crate::event::Event;
use crate::id::CaseId;
use crate::store::Loaded;

use sealed::Answer;

/// When the repository writes a case's snapshot ([`RepositoryCore::with_snapshots`]).
///
/// Off by default: a snapshot is a second copy of a case's state (the customer's words
/// included) that the host's backups and erasure must cover, and only stores that keep
/// snapshots (all three of the crate's) gain from it. With
/// [`SnapshotPolicy::every`]`(n)`, the repository
///
/// - writes a snapshot after a command whose append takes the case's version across a
///   multiple of `n`, and after a cold load that had to fold `n` events or more from the
///   log (no usable snapshot, or an old one); the write is one more store call in that
///   command, after its append, and its failure fails nothing;
/// - on a cold load (a cache miss), asks the store for the snapshot and the events from
///   its version on ([`Store::load`](crate::Store::load)), checks the snapshot and folds
///   only those events.
///
/// `n` trades write cost for cold-start cost: a cold load folds at most about `n` events.
/// 1,000 suits most hosts (a snapshot of a long case is tens of kilobytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SnapshotPolicy {
    /// No snapshots are written or read: every cold load folds the whole log.
    #[default]
    Off,
    /// A snapshot every this many events.
    Every(u64),
}

impl SnapshotPolicy {
    /// A snapshot every `events` events (0: [`SnapshotPolicy::Off`]).
    #[must_use]
    pub const fn every(events: u64) -> Self {
        if events == 0 {
            Self::Off
        } else {
            Self::Every(events)
        }
    }

    /// The interval, when on.
    #[must_use]
    pub const fn interval(&self) -> Option<u64> {
        match self {
            Self::Off => None,
            Self::Every(n) => Some(*n),
        }
    }
}

/// What the repository did with snapshots since it started: a host's metrics and health
/// page read it ([`RepositoryCore::snapshot_stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotStats {
    /// Cold loads that restored the case from a snapshot and folded only the rest.
    pub restored: u64,
    /// Cold loads that folded the whole log (no snapshot, or one ignored).
    pub replayed: u64,
    /// Snapshots ignored in favour of the log, by reason, indexed as
    /// [`SnapshotRejection::ALL`] (see [`SnapshotStats::rejected_for`]).
    pub rejected: [u64; SnapshotRejection::ALL.len()],
    /// The last snapshot ignored: its case and why.
    pub last_rejection: Option<(CaseId, SnapshotRejection)>,
    /// Snapshots written.
    pub written: u64,
    /// Snapshots the store did not keep (it keeps none).
    pub not_kept: u64,
    /// Snapshot writes that failed (the commands succeeded).
    pub write_failures: u64,
    /// The last failed write's error, as text.
    pub last_write_error: Option<String>,
}

impl SnapshotStats {
    /// How many snapshots were ignored for `reason` (whatever the reason's fields).
    #[must_use]
    pub fn rejected_for(&self, reason: SnapshotRejection) -> u64 {
        self.rejected.get(reason.index()).copied().unwrap_or(0)
    }

    /// How many snapshots were ignored, for any reason.
    #[must_use]
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }
}

/// The counters behind [`SnapshotStats`], shared by every run of a core.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    restored: AtomicU64,
    replayed: AtomicU64,
    rejected: [AtomicU64; SnapshotRejection::ALL.len()],
    written: AtomicU64,
    not_kept: AtomicU64,
    write_failures: AtomicU64,
    last: Mutex<Last>,
}

/// The last rejection and the last write error.
#[derive(Debug, Default)]
struct Last {
    rejection: Option<(CaseId, SnapshotRejection)>,
    write_error: Option<String>,
}

impl Counters {
    fn reject(&self, case: CaseId, reason: SnapshotRejection) {
        if let Some(counter) = self.rejected.get(reason.index()) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.last.lock().unwrap_or_else(PoisonError::into_inner).rejection = Some((case, reason));
    }

    /// Records a snapshot write's result.
    pub(crate) fn saved(&self, result: &Result<bool, StoreError>) {
        match result {
            Ok(true) => self.written.fetch_add(1, Ordering::Relaxed),
            Ok(false) => self.not_kept.fetch_add(1, Ordering::Relaxed),
            Err(err) => {
                self.last.lock().unwrap_or_else(PoisonError::into_inner).write_error = Some(err.to_string());
                self.write_failures.fetch_add(1, Ordering::Relaxed)
            }
        };
    }

    pub(crate) fn stats(&self) -> SnapshotStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let (rejection, write_error) = (last.rejection, last.write_error.clone());
        drop(last);
        SnapshotStats {
            restored: load(&self.restored),
            replayed: load(&self.replayed),
            rejected: std::array::from_fn(|i| self.rejected.get(i).map_or(0, load)),
            last_rejection: rejection,
            written: load(&self.written),
            not_kept: load(&self.not_kept),
            write_failures: load(&self.write_failures),
            last_write_error: write_error,
        }
    }
}

/// What a cold load's answer gives.
pub(crate) enum Restored {
    /// The case, and a snapshot to write when the load folded at least the policy's
    /// interval of events from the log.
    Case(Box<Case>, Option<Snapshot>),
    /// The snapshot was ignored and the answer does not hold the whole log: read it.
    ReadAll,
}

/// Makes a case of a cold load: the snapshot restored and checked against the log, then
/// the events after it folded; or, when there is no usable snapshot, the log replayed.
pub(crate) fn restore(core: &RepositoryCore, case: CaseId, loaded: Loaded) -> Result<Restored, Error> {
    let Loaded { snapshot, events, .. } = loaded;
    let counters = core.snapshot_counters();
    if let Some(snapshot) = snapshot {
        match checked(&snapshot, case, &events) {
            Ok(mut restored) => {
                let tail = events.get(1..).unwrap_or_default();
                if tail.iter().try_for_each(|e| restored.apply(e)).is_ok() {
                    counters.restored.fetch_add(1, Ordering::Relaxed);
                    let due = due(core, &restored, tail);
                    return Ok(Restored::Case(Box::new(restored), due));
                }
                // The log goes on from the snapshot's event but does not fold onto its
                // state: trust the log, which replays (or names its own break).
                counters.reject(case, SnapshotRejection::Diverged { version: snapshot.version() });
            }
            Err(reason) => counters.reject(case, reason),
        }
        if events.first().is_none_or(|e| e.seq != 1) {
            return Ok(Restored::ReadAll);
        }
    }
    let (replayed, due) = replayed(core, case, &events)?;
    Ok(Restored::Case(Box::new(replayed), due))
}

/// A whole log replayed on a cold load, counted when snapshots are on, with the snapshot
/// to write if the policy asks for one.
pub(crate) fn replayed(
    core: &RepositoryCore,
    case: CaseId,
    events: &[Event],
) -> Result<(Case, Option<Snapshot>), Error> {
    let replayed = replay(case, events)?;
    if core.snapshot_policy() == SnapshotPolicy::Off {
        return Ok((replayed, None));
    }
    core.snapshot_counters().replayed.fetch_add(1, Ordering::Relaxed);
    let due = due(core, &replayed, events);
    Ok((replayed, due))
}

/// The snapshot's state, if it is `case`'s, intact, of this fold, and the log holds the
/// event it ends on at its place (`events` start there).
fn checked(snapshot: &Snapshot, case: CaseId, events: &[Event]) -> Result<Case, SnapshotRejection> {
    let (restored, last) = snapshot.restore(case)?;
    let version = restored.version();
    match events.first() {
        None => Err(SnapshotRejection::BeyondLog { version }),
        Some(first) if first.seq != version || first.id != last => Err(SnapshotRejection::Diverged { version }),
        Some(_) => Ok(restored),
    }
}

/// The snapshot to write after a load that folded `folded` from the log, if the policy
/// asks for one.
fn due(core: &RepositoryCore, case: &Case, folded: &[Event]) -> Option<Snapshot> {
    let every = core.snapshot_policy().interval()?;
    let last = folded.last()?;
    (folded.len() as u64 >= every && last.seq == case.version()).then(|| Snapshot::take(case, last.id))
}

/// The snapshot to write after an append of `written` that left the case at its
/// version, if the append crossed a multiple of the policy's interval or the load
/// before it asked for one (`due`).
pub(crate) fn after_append(core: &RepositoryCore, case: &Case, written: &[Event], due: bool) -> Option<Snapshot> {
    let every = core.snapshot_policy().interval()?;
    let last = written.last()?;
    let version = case.version();
    let before = version.saturating_sub(written.len() as u64);
    (last.seq == version && (due || version / every > before / every)).then(|| Snapshot::take(case, last.id))
}

/// A whole stored log, replayed.
pub(crate) fn replay(case: CaseId, events: &[Event]) -> Result<Case, Error> {
    if events.is_empty() {
        return Err(StoreError::UnknownCase { case }.into());
    }
    Ok(Case::replay(events)?)
}

/// What [`Verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SnapshotCheck {
    /// The store keeps no snapshot of the case.
    None,
    /// The snapshot is the case folded from its log up to `version`.
    Matches {
        /// The version it covers.
        version: u64,
    },
    /// A cold load would ignore it, for this reason.
    Rejected(SnapshotRejection),
    /// It passes every check a cold load makes, but its state is not what the log folds
    /// to at its version: doctored, or written by a fold that changed without changing
    /// its fingerprint. A cold load would use it; remove it (write a fresh one).
    Differs {
        /// The version it covers.
        version: u64,
    },
}

/// A verification of a case's stored snapshot: load it as a cold load does, read the
/// whole log, fold it up to the snapshot's version and compare. Touches no cache.
/// Driven like any run (see the [driving order](RepositoryCore#driving-order)).
#[derive(Debug)]
pub struct Verify {
    case: CaseId,
    restored: Option<Case>,
    answer: Option<Answer>,
}

impl Verify {
    /// A verification of `case`'s snapshot.
    #[must_use]
    pub fn new(case: CaseId) -> Self {
        Self { case, restored: None, answer: None }
    }

    /// Advances until the verification needs the store or is done.
    pub fn poll(mut self) -> Step<Self> {
        let case = self.case;
        match (self.answer.take(), self.restored.take()) {
            (Some(Answer::Loaded(Ok(loaded))), _) => {
                let Some(snapshot) = loaded.snapshot else { return Step::Done(Ok(SnapshotCheck::None)) };
                match checked(&snapshot, case, &loaded.events) {
                    Ok(restored) => {
                        self.restored = Some(restored);
                        Step::Read(PendingRead::new(self, case, 0))
                    }
                    Err(reason) => Step::Done(Ok(SnapshotCheck::Rejected(reason))),
                }
            }
            (Some(Answer::Read(Ok(events))), Some(restored)) => {
                let version = restored.version();
                let upto = usize::try_from(version).unwrap_or(usize::MAX);
                let Some(covered) = events.get(..upto) else {
                    return Step::Done(Ok(SnapshotCheck::Rejected(SnapshotRejection::BeyondLog { version })));
                };
                Step::Done(replay(case, covered).map(|folded| {
                    if folded == restored {
                        SnapshotCheck::Matches { version }
                    } else {
                        SnapshotCheck::Differs { version }
                    }
                }))
            }
            (Some(Answer::Loaded(Err(err)) | Answer::Read(Err(err))), _) => Step::Done(Err((*err).into())),
            _ => Step::Load(case, PendingLoad::new(self)),
        }
    }
}

impl Machine for Verify {
    type Output = SnapshotCheck;
}

impl sealed::Sealed for Verify {
    fn give(&mut self, answer: Answer) {
        self.answer = Some(answer);
    }

    fn pending(&self) -> &[Event] {
        &[]
    }

    fn label(&self) -> Option<(CaseId, &'static str)> {
        // A check of a stored snapshot, not a command: nothing to report.
        None
    }
}

/// The snapshot steps driven by scripted store answers.
#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::actor::{Actor, Staff};
    use crate::command::{Command, Opening};
    use crate::event::Visibility;
    use crate::repository::{CaseRequest, Execution, Lookup};
    use crate::rules::Rules;
    use crate::store::Appended;

    fn note(text: &str) -> Command {
        Command::AddNote { text: text.into(), visibility: Visibility::Internal }
    }

    fn log(case: CaseId, len: usize) -> Vec<Event> {
        let t = datetime!(2026-11-23 09:00 UTC);
        let rules = Rules::default();
        let ana = Staff::new("ana", "software");
        let opened = rules
            .open(case, Opening::new("cust-1", "my laptop works", ana.clone()), &Actor::customer("cust-1"), t)
            .unwrap();
        let mut current = Case::from_opened(&opened).unwrap();
        let mut events = vec![opened];
        while events.len() < len {
            for event in
                rules.decide(&current, note(&format!("n{}", events.len())), &Actor::Staff(ana.clone()), t).unwrap()
            {
                current.apply(&event).unwrap();
                events.push(event);
            }
        }
        events
    }

    #[test]
    fn a_cold_command_loads_folds_the_tail_and_saves_after_a_crossing_append() {
        let case = CaseId::new_v7(datetime!(2026-11-23 09:00 UTC), [9; 10]);
        let events = log(case, 19);
        let core = RepositoryCore::new(Rules::default(), 10).with_snapshots(SnapshotPolicy::every(10));
        let snapshot = Snapshot::take(&Case::replay(&events[..10]).unwrap(), events[9].id);
        let at = datetime!(2026-11-23 10:00 UTC);
        let request = CaseRequest::new(case, note("mine"), Actor::Staff(Staff::new("ana", "software")), at);
        let Step::Load(asked, load) = Execution::new(request).poll(&core, &mut || at) else { panic!("a load") };
        assert_eq!(asked, case);
        let answer = Loaded::new(Some(snapshot), events[9..].to_vec());
        let Step::Append(append) = load.answer(Ok(answer)).poll(&core, &mut || at) else { panic!("an append") };
        assert_eq!(append.batch().expected, 19);
        let Step::Save(written, save) = append.answer(Ok(Appended::new(20, 1))).poll(&core, &mut || at) else {
            panic!("a save: the append crossed 20")
        };
        assert_eq!(written.version(), 20);
        let Step::Done(done) = save.answer(Err(StoreError::backend("down"))).poll(&core, &mut || at) else {
            panic!("done")
        };
        assert_eq!(done.unwrap().events[0].seq, 20, "a failed save fails nothing");
        let stats = core.snapshot_stats();
        assert_eq!((stats.restored, stats.write_failures), (1, 1));

        // A lookup whose snapshot is another case's reads the whole log instead.
        core.forget(case);
        let other = CaseId::new_v7(datetime!(2026-11-23 09:00 UTC), [8; 10]);
        let foreign = Snapshot::take(&Case::replay(&log(other, 5)).unwrap(), log(other, 5)[4].id);
        let Step::Load(_, load) = Lookup::case(case).poll(&core) else { panic!("a load") };
        let Step::Read(read) = load.answer(Ok(Loaded::new(Some(foreign), events[4..].to_vec()))).poll(&core) else {
            panic!("a read of the whole log")
        };
        assert_eq!(read.after(), 0);
        // Having folded 19 events, more than the interval, it replaces the foreign one.
        let Step::Save(fresh, save) = read.answer(Ok(events.clone())).poll(&core) else { panic!("a save") };
        assert_eq!((fresh.case(), fresh.version()), (Some(case), 19));
        let Step::Done(Ok(found)) = save.answer(Ok(true)).poll(&core) else { panic!("done") };
        assert_eq!(found.version(), 19);
        assert_eq!(core.snapshot_stats().rejected_for(SnapshotRejection::OtherCase { found: other }), 1);
    }
}

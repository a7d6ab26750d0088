//! The projection conformance suite: the promises every projection runner keeps
//! (exactly once, each case in order, resume after a restart, rebuild), checked on a
//! runner the caller sets up over its store.
//!
//! The caller wraps its store and runner in a [`ProjectionRig`] around a [`Recorder`],
//! a projection that writes down every event it is given. The suite appends through
//! [`ProjectionRig::store`] from several threads at once (writers racing on shared
//! cases, each retrying its conflicts), asks the rig to catch up, restart and rebuild,
//! and compares what the recorder saw with what the store holds.
//!
//! ```
//! use caseledger::projection::Projected;
//! use caseledger::testkit::projection::{check_projection, Applied, ProjectionRig, Recorder};
//! use caseledger::{MemoryStore, Store};
//!
//! struct InProcess(Option<Projected<MemoryStore, Recorder>>);
//!
//! impl ProjectionRig for InProcess {
//!     fn store(&self) -> &dyn Store {
//!         self.0.as_ref().expect("running")
//!     }
//!     fn catch_up(&mut self) -> Result<(), String> {
//!         Ok(()) // fed on every append
//!     }
//!     fn restart(&mut self) -> Result<(), String> {
//!         let (store, _) = self.0.take().ok_or("not running")?.into_parts();
//!         self.0 = Some(Projected::new(store, Recorder::default()).map_err(|e| e.to_string())?);
//!         Ok(())
//!     }
//!     fn rebuild(&mut self) -> Result<(), String> {
//!         self.0.as_ref().ok_or("not running")?.rebuild().map_err(|e| e.to_string())
//!     }
//!     fn applied(&self) -> Vec<Applied> {
//!         self.0.as_ref().map(|p| p.view(|r| r.applied().to_vec())).unwrap_or_default()
//!     }
//! }
//!
//! let rig = InProcess(Some(Projected::new(MemoryStore::new(), Recorder::default())?));
//! check_projection(rig).map_err(|e| e.to_string()).expect("the in-process runner keeps its promises");
//! # Ok::<(), caseledger::error::StoreError>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::thread;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::actor::{Actor, Staff};
use crate::case::Case;
use crate::command::{Command, Opening};
use crate::error::StoreError;
use crate::event::{Event, Visibility};
use crate::id::{CaseId, EventId};
use crate::projection::Projection;
use crate::rules::Rules;
use crate::store::Store;

/// One event as a [`Recorder`] saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Applied {
    /// The case.
    pub case: CaseId,
    /// The event's sequence number.
    pub seq: u64,
    /// The event's id.
    pub id: EventId,
}

/// A projection that records every event it is applied, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorder {
    applied: Vec<Applied>,
}

impl Recorder {
    /// What it was given since its last reset, in order.
    #[must_use]
    pub fn applied(&self) -> &[Applied] {
        &self.applied
    }
}

impl Projection for Recorder {
    type Error = std::convert::Infallible;

    fn apply(&mut self, event: &Event) -> Result<(), Self::Error> {
        self.applied.push(Applied { case: event.case, seq: event.seq, id: event.id });
        Ok(())
    }

    fn reset(&mut self) {
        self.applied.clear();
    }
}

/// A store with a projection runner feeding a [`Recorder`], as the suite drives it.
pub trait ProjectionRig {
    /// The store to append to (shared by the suite's writer threads).
    fn store(&self) -> &dyn Store;
    /// Brings the recorder up to everything stored (a runner that polls: poll until
    /// caught up; one fed on each append: nothing to do).
    ///
    /// # Errors
    ///
    /// What went wrong, in words.
    fn catch_up(&mut self) -> Result<(), String>;
    /// Stops the runner as a process exit would and starts it again as a new process
    /// would (reopen the store and rebuild, or resume from the position saved with the
    /// recorder).
    ///
    /// # Errors
    ///
    /// What went wrong, in words.
    fn restart(&mut self) -> Result<(), String>;
    /// Rebuilds the recorder from the first event.
    ///
    /// # Errors
    ///
    /// What went wrong, in words.
    fn rebuild(&mut self) -> Result<(), String>;
    /// What the recorder holds now.
    fn applied(&self) -> Vec<Applied>;
}

/// A promise of projection runners.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ProjectionPromise {
    /// Every stored event is applied once, and nothing that was not stored.
    ExactlyOnce,
    /// Each case's events are applied in sequence order, from 1 without gaps.
    CaseOrder,
    /// After a restart and more appends, the projection holds every stored event once,
    /// each case in order.
    Resume,
    /// After a rebuild, the projection holds every stored event once, each case in order.
    Rebuild,
}

impl fmt::Display for ProjectionPromise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ExactlyOnce => "exactly_once (every stored event applied once)",
            Self::CaseOrder => "case_order (each case's events in sequence order)",
            Self::Resume => "resume (after a restart, every stored event once, in case order)",
            Self::Rebuild => "rebuild (after a rebuild, every stored event once, in case order)",
        })
    }
}

/// The promises a runner broke, with what it did instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct ProjectionViolations {
    /// Each broken promise and what was seen.
    pub broken: Vec<(ProjectionPromise, String)>,
}

impl ProjectionViolations {
    /// Whether `promise` is among the broken ones.
    #[must_use]
    pub fn broke(&self, promise: ProjectionPromise) -> bool {
        self.broken.iter().any(|(p, _)| *p == promise)
    }
}

impl fmt::Display for ProjectionViolations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the runner broke {} projection promise(s):", self.broken.len())?;
        for (promise, detail) in &self.broken {
            writeln!(f, "- {promise}: {detail}")?;
        }
        Ok(())
    }
}

/// Writer threads, cases and notes per writer of one round.
const WRITERS: usize = 4;
const CASES: u8 = 6;
const NOTES: usize = 6;
const T0: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

/// Runs the suite on `rig`: concurrent appends, catch-up, restart, more appends,
/// rebuild; each step's record is compared with the store.
///
/// # Errors
///
/// [`ProjectionViolations`] naming each broken promise.
pub fn check_projection<R: ProjectionRig>(mut rig: R) -> Result<(), ProjectionViolations> {
    let mut broken = Vec::new();
    broken.extend(step(
        &mut rig,
        0,
        &[ProjectionPromise::ExactlyOnce, ProjectionPromise::CaseOrder],
        "after concurrent appends",
    ));
    match rig.restart() {
        Ok(()) => broken.extend(step(&mut rig, 1, &[ProjectionPromise::Resume], "after a restart and more appends")),
        Err(e) => broken.push((ProjectionPromise::Resume, format!("the restart failed: {e}"))),
    }
    if let Err(e) = rig.rebuild().and_then(|()| rig.catch_up()).and_then(|()| compare(&rig)) {
        broken.push((ProjectionPromise::Rebuild, e));
    }
    broken.dedup_by_key(|(p, _)| *p);
    if broken.is_empty() {
        Ok(())
    } else {
        Err(ProjectionViolations { broken })
    }
}

/// One round of appends, a catch-up and a comparison; the broken promise, if any.
fn step<R: ProjectionRig>(
    rig: &mut R,
    round: u8,
    promises: &[ProjectionPromise],
    what: &str,
) -> Option<(ProjectionPromise, String)> {
    let outcome = write_round(rig.store(), round).and_then(|()| rig.catch_up()).and_then(|()| compare(rig));
    outcome.err().map(|e| {
        let (promise, detail) = classify(e, promises);
        (promise, format!("{what}: {detail}"))
    })
}

/// Which promise a failed comparison breaks: order problems are `CaseOrder` in the
/// first round, everything else the round's own promise.
fn classify(detail: String, promises: &[ProjectionPromise]) -> (ProjectionPromise, String) {
    let promise = if detail.starts_with("order:") && promises.contains(&ProjectionPromise::CaseOrder) {
        ProjectionPromise::CaseOrder
    } else {
        promises.first().copied().unwrap_or(ProjectionPromise::ExactlyOnce)
    };
    (promise, detail)
}

/// The recorder against the store: each case's events in order, each once, and nothing else.
fn compare<R: ProjectionRig>(rig: &R) -> Result<(), String> {
    let store = rig.store();
    let applied = rig.applied();
    let mut per_case: BTreeMap<CaseId, Vec<&Applied>> = BTreeMap::new();
    for a in &applied {
        per_case.entry(a.case).or_default().push(a);
    }
    let cases = store.cases().map_err(|e| format!("the store cannot list its cases: {e}"))?;
    let stored_cases: BTreeSet<CaseId> = cases.iter().copied().collect();
    if let Some(extra) = per_case.keys().find(|c| !stored_cases.contains(c)) {
        return Err(format!("applied events of case {extra}, which the store does not hold"));
    }
    for case in cases {
        let stored = store.read(case).map_err(|e| format!("the store cannot read case {case}: {e}"))?;
        let seen = per_case.get(&case).map(Vec::as_slice).unwrap_or_default();
        let seqs: Vec<u64> = seen.iter().map(|a| a.seq).collect();
        let ids: BTreeSet<EventId> = seen.iter().map(|a| a.id).collect();
        if ids.len() != seen.len() {
            return Err(format!("case {case}: some event applied twice: seqs {seqs:?}"));
        }
        if seen.len() != stored.len() {
            return Err(format!("case {case}: {} events stored, {} applied ({seqs:?})", stored.len(), seen.len()));
        }
        let in_order = seen.iter().zip(&stored).all(|(a, e)| a.seq == e.seq && a.id == e.id);
        if !in_order {
            return Err(format!("order: case {case}: applied seqs {seqs:?}, stored 1..={}", stored.len()));
        }
    }
    Ok(())
}

fn case_id(round: u8, n: u8) -> CaseId {
    CaseId::new_v7(T0 + Duration::minutes(i64::from(round) * 60 + i64::from(n)), [round.wrapping_mul(31) ^ n; 10])
}

/// Opens `CASES` cases (round 0 only) and has `WRITERS` threads append notes to all of
/// them at once, each retrying conflicts, so appends to one case race.
fn write_round(store: &dyn Store, round: u8) -> Result<(), String> {
    let rules = Rules::default();
    let cases: Vec<CaseId> = (0..CASES).map(|n| case_id(0, n)).collect();
    if round == 0 {
        for &case in &cases {
            let opening = Opening::new(format!("cust-{case}"), "my laptop works", Staff::new("ana", "software"));
            let opened =
                rules.open(case, opening, &Actor::customer(format!("cust-{case}")), T0).map_err(|e| e.to_string())?;
            store.append(case, 0, &[opened]).map_err(|e| format!("opening {case}: {e}"))?;
        }
    } else {
        // A case opened after the restart, too.
        let case = case_id(round, 0);
        let opening = Opening::new("cust-new", "my phone works", Staff::new("bo", "hardware"));
        let opened = rules.open(case, opening, &Actor::customer("cust-new"), T0).map_err(|e| e.to_string())?;
        store.append(case, 0, &[opened]).map_err(|e| format!("opening {case}: {e}"))?;
    }
    thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (rules, cases) = (&rules, &cases);
                scope.spawn(move || -> Result<(), String> {
                    for i in 0..NOTES {
                        for (n, &case) in cases.iter().enumerate() {
                            if (n + w) % 2 == 0 || i % 2 == 0 {
                                add_note(store, rules, case, &format!("round {round} writer {w} note {i}"))?;
                            }
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        writers.into_iter().try_for_each(|h| h.join().map_err(|_| "a writer thread panicked".to_owned())?)
    })
}

/// Appends one note to `case`, reading and deciding again after each conflict.
fn add_note(store: &dyn Store, rules: &Rules, case: CaseId, text: &str) -> Result<(), String> {
    for _ in 0..1000 {
        let log = store.read(case).map_err(|e| e.to_string())?;
        let folded = Case::replay(&log).map_err(|e| format!("case {case} does not replay: {e}"))?;
        let at = folded.clock().last_event_at + Duration::seconds(1);
        let by = Actor::Staff(folded.owner().clone());
        let command = Command::AddNote { text: text.to_owned(), visibility: Visibility::Internal };
        let events = rules.decide(&folded, command, &by, at).map_err(|e| e.to_string())?;
        match store.append(case, folded.version(), &events) {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(format!("append to {case}: {e}")),
        }
    }
    Err(format!("case {case}: a note lost a thousand races in a row"))
}

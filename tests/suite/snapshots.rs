//! Snapshots: a cold case starts from its stored snapshot and folds only the events after
//! it, and a snapshot is never trusted blindly. A stale one (the log diverged, or it
//! covers more than the log holds) or a foreign one (another case, another fold, a bad
//! checksum, garbled bytes) is ignored in favour of the log, with the reason counted;
//! a doctored one (state rewritten, checksum recomputed) is what a cold load cannot see,
//! and the verification run catches it. On MemoryStore, FileStore (across a reopen) and
//! PgStore, plus a property over generated histories.

use std::hash::Hasher;

use caseledger::case::{Snapshot, SnapshotRejection};
use caseledger::error::StoreError;
use caseledger::repository::{SnapshotCheck, SnapshotPolicy};
use caseledger::store::Loaded;
use caseledger::testkit::snapshots;
use caseledger::{Actor, Case, CaseId, Event, FileStore, MemoryStore, Opening, Repository, Rules, Store};
use time::Duration;

use crate::support::{ana, case_id, note, TempDir, T0};

/// A log of `n` events for `case`: the opening, then notes whose text carries `tag`, so
/// two tags give two different logs of one case.
fn log(case: CaseId, n: usize, tag: &str) -> Vec<Event> {
    let rules = Rules::default();
    let opened =
        rules.open(case, Opening::new("cust-9", "my laptop works", ana()), &Actor::customer("cust-9"), T0).unwrap();
    let mut folded = Case::from_opened(&opened).unwrap();
    let mut events = vec![opened];
    while events.len() < n {
        let at = T0 + Duration::minutes(events.len() as i64);
        for event in rules.decide(&folded, note(format!("{tag} {}", events.len())), &Actor::Staff(ana()), at).unwrap() {
            folded.apply(&event).unwrap();
            events.push(event);
        }
    }
    events
}

/// `events` and `extra` more notes, each a minute after the last event.
fn longer(events: &[Event], extra: usize) -> Vec<Event> {
    let rules = Rules::default();
    let mut folded = Case::replay(events).unwrap();
    let mut all = events.to_vec();
    for i in 0..extra {
        let at = all.last().unwrap().at + Duration::minutes(1);
        for event in rules.decide(&folded, note(format!("later {i}")), &Actor::Staff(ana()), at).unwrap() {
            folded.apply(&event).unwrap();
            all.push(event);
        }
    }
    all
}

/// The snapshot of `events` folded.
fn snapshot_of(events: &[Event]) -> Snapshot {
    snapshots::take(&Case::replay(events).unwrap(), events.last().unwrap())
}

/// FNV-1a over 64 bits, written from the format's documentation (`case::Snapshot`).
fn fnv(bytes: &[u8]) -> u64 {
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 ^= u64::from(*b);
                self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    h.write(bytes);
    h.finish()
}

/// `snapshot` with its fold fingerprint replaced and its checksum recomputed: a valid
/// snapshot from another fold.
fn other_fold(snapshot: &Snapshot) -> Snapshot {
    let bytes = snapshot.as_bytes();
    let newline = bytes.iter().position(|&b| b == b'\n').unwrap();
    let header = std::str::from_utf8(&bytes[..newline]).unwrap();
    let mut words: Vec<String> = header.split(' ').map(str::to_owned).collect();
    words[5] = format!("{:016x}", Snapshot::fold_fingerprint() ^ 1);
    words.pop();
    let head = format!("{} ", words.join(" "));
    let body = &bytes[newline + 1..];
    let mut summed = head.clone().into_bytes();
    summed.extend_from_slice(body);
    let mut out = format!("{head}{:016x}\n", fnv(&summed)).into_bytes();
    out.extend_from_slice(body);
    let forged = Snapshot::from_bytes(out);
    assert_eq!(forged.version(), snapshot.version(), "the forged header still parses");
    forged
}

/// `snapshot` with one byte of its state flipped: its checksum no longer matches.
fn flipped(snapshot: &Snapshot) -> Snapshot {
    let mut bytes = snapshot.as_bytes().to_vec();
    let n = bytes.len() - 5;
    bytes[n] ^= 0x01;
    Snapshot::from_bytes(bytes)
}

fn every(n: u64) -> SnapshotPolicy {
    SnapshotPolicy::every(n)
}

/// A cold command on `case` through a fresh repository over `store`: the case it ends
/// with is the log folded, whatever the snapshot said. Returns what the repository did
/// with snapshots.
fn cold_command<S: Store>(store: &S, case: CaseId) -> caseledger::repository::SnapshotStats {
    let repo = Repository::new(store, Rules::default()).with_snapshots(every(100));
    let at = T0 + Duration::days(30);
    repo.execute(case, note("after the restart"), &Actor::Staff(ana()), at).unwrap();
    let folded = repo.case(case).unwrap();
    let stored = Case::replay(&store.read(case).unwrap()).unwrap();
    assert_eq!(*folded, stored, "the cold case is the log folded");
    repo.snapshot_stats()
}

/// The promises on one sync store: `plant` puts a snapshot in place behind the
/// repository's back; `reopen` stands for a restart.
fn promises<S: Store>(mut store: S, plant: impl Fn(&S, CaseId, &Snapshot), reopen: impl Fn(S) -> S) {
    let case = case_id(1);
    let events = log(case, 250, "stored");
    store.append(case, 0, &events).unwrap();

    // No snapshot yet: the first cold command folds all 250 events and, having folded
    // more than the interval, writes one after its append.
    let stats = cold_command(&store, case);
    assert_eq!((stats.replayed, stats.restored, stats.written), (1, 0, 1), "{stats:?}");
    assert_eq!(store.read_snapshot(case).unwrap().unwrap().version(), 251);
    store = reopen(store);

    // After the restart the case starts from the snapshot and folds only what follows.
    let stats = cold_command(&store, case);
    assert_eq!((stats.replayed, stats.restored, stats.rejected_total()), (0, 1, 0), "{stats:?}");
    let repo = Repository::new(&store, Rules::default());
    assert_eq!(repo.verify_snapshot(case).unwrap(), SnapshotCheck::Matches { version: 251 });
    drop(repo);

    let version = store.version(case).unwrap();
    let current = store.read(case).unwrap();
    // Stale: the log diverged (another history of the same case), or the snapshot covers
    // more than the log holds.
    let diverged = snapshot_of(&log(case, 200, "elsewhere"));
    let beyond = snapshot_of(&longer(&current, 5));
    // Foreign: another case's, another fold's, a changed byte, garbled bytes.
    let other = snapshot_of(&log(case_id(2), 120, "stored"));
    let fresh = snapshot_of(&current);
    let cases: [(Snapshot, SnapshotRejection); 6] = [
        (diverged, SnapshotRejection::Diverged { version: 200 }),
        (beyond, SnapshotRejection::BeyondLog { version: version + 5 }),
        (other, SnapshotRejection::OtherCase { found: case_id(2) }),
        (other_fold(&fresh), SnapshotRejection::Fingerprint { found: Snapshot::fold_fingerprint() ^ 1 }),
        (flipped(&fresh), SnapshotRejection::Checksum),
        (Snapshot::from_bytes(b"caseledger-snapshot 1 torn".to_vec()), SnapshotRejection::Garbled),
    ];
    for (planted, reason) in cases {
        plant(&store, case, &planted);
        let repo = Repository::new(&store, Rules::default());
        assert_eq!(repo.verify_snapshot(case).unwrap(), SnapshotCheck::Rejected(reason), "{reason}");
        drop(repo);
        store = reopen(store);
        let stats = cold_command(&store, case);
        assert_eq!(stats.rejected_for(reason), 1, "{reason}: {stats:?}");
        assert_eq!((stats.restored, stats.replayed), (0, 1), "{reason}: the log was folded instead");
        assert_eq!(stats.last_rejection, Some((case, reason)));
    }

    // Doctored: the state rewritten and the checksum recomputed. Every check a cold load
    // makes passes, so it would be used; the verification folds the log and sees it.
    let current = store.read(case).unwrap();
    let good = snapshot_of(&current);
    let forged = snapshots::doctored(&good, |state| state["escalation_level"] = 7.into()).unwrap();
    plant(&store, case, &forged);
    store = reopen(store);
    let repo = Repository::new(&store, Rules::default()).with_snapshots(every(100));
    let version = current.len() as u64;
    assert_eq!(repo.verify_snapshot(case).unwrap(), SnapshotCheck::Differs { version });
    assert_eq!(repo.case(case).unwrap().escalation_level(), 7, "a cold load cannot tell; that is what verify is for");
    drop(repo);
    plant(&store, case, &good);
    let repo = Repository::new(&store, Rules::default());
    assert_eq!(repo.verify_snapshot(case).unwrap(), SnapshotCheck::Matches { version });
    assert_eq!(repo.verify_snapshot(case_id(3)).unwrap(), SnapshotCheck::None);
}

#[test]
fn memory_store_snapshots_are_used_checked_and_verified() {
    promises(MemoryStore::new(), |store, case, snapshot| store.put_snapshot(case, Some(snapshot.clone())), |s| s);
}

#[test]
fn file_store_snapshots_survive_a_reopen_and_a_bad_sidecar_never_breaks_the_log() {
    let dir = TempDir::new("snapshots", "file");
    let path = dir.path().to_owned();
    let sidecar = move |case: CaseId| path.join(format!("{case}.snapshot"));
    let plant = {
        let sidecar = sidecar.clone();
        move |_: &FileStore, case: CaseId, snapshot: &Snapshot| {
            std::fs::write(sidecar(case), snapshot.as_bytes()).unwrap()
        }
    };
    let reopen = {
        let dir = dir.path().to_owned();
        move |store: FileStore| {
            drop(store);
            let store = FileStore::open(&dir).unwrap();
            assert!(store.damage().is_empty(), "a snapshot sidecar is not damage: {:?}", store.damage());
            store
        }
    };
    promises(FileStore::open(dir.path()).unwrap(), plant, reopen);

    // A torn sidecar (half its bytes) is ignored; the log serves.
    let case = case_id(1);
    let store = FileStore::open(dir.path()).unwrap();
    let bytes = std::fs::read(sidecar(case)).unwrap();
    std::fs::write(sidecar(case), &bytes[..bytes.len() / 2]).unwrap();
    let stats = cold_command(&store, case);
    assert_eq!(stats.rejected_for(SnapshotRejection::Checksum), 1, "{stats:?}");
    let replaced = store.read_snapshot(case).unwrap().unwrap();
    assert_eq!(replaced.version(), store.version(case).unwrap(), "a fresh snapshot replaced the torn one");
}

/// A store whose snapshot writes fail: the commands succeed, the failure is counted.
struct FailingSnapshots(MemoryStore);

impl Store for FailingSnapshots {
    fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<caseledger::store::Appended, StoreError> {
        self.0.append(case, expected, events)
    }
    fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError> {
        self.0.read_after(case, after)
    }
    fn version(&self, case: CaseId) -> Result<u64, StoreError> {
        Store::version(&self.0, case)
    }
    fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
        Store::cases(&self.0)
    }
    fn write_snapshot(&self, _: &Snapshot) -> Result<bool, StoreError> {
        Err(StoreError::backend("disk full"))
    }
}

#[test]
fn a_failed_snapshot_write_is_reported_and_the_command_still_succeeds() {
    let case = case_id(4);
    let store = FailingSnapshots(MemoryStore::new());
    store.append(case, 0, &log(case, 9, "stored")).unwrap();
    let repo = Repository::new(store, Rules::default()).with_snapshots(every(10));
    let events = repo.execute(case, note("the tenth"), &Actor::Staff(ana()), T0 + Duration::days(1)).unwrap();
    assert_eq!(events.events[0].seq, 10, "the append crossed the interval, and the command succeeded");
    let stats = repo.snapshot_stats();
    assert_eq!((stats.write_failures, stats.written), (1, 0), "{stats:?}");
    assert!(stats.last_write_error.unwrap().contains("disk full"));
    assert_eq!(repo.store().read(case).unwrap().len(), 10, "the log has the command's event");

    // A store that keeps no snapshots (the trait's default) is counted too, and loads the
    // whole log.
    let plain = MemoryStore::new();
    plain.append(case, 0, &log(case, 9, "stored")).unwrap();
    let defaults = NoSnapshots(plain);
    assert!(defaults.load(case).unwrap().snapshot.is_none());
    let repo = Repository::new(defaults, Rules::default()).with_snapshots(every(10));
    repo.execute(case, note("the tenth"), &Actor::Staff(ana()), T0 + Duration::days(1)).unwrap();
    assert_eq!(repo.snapshot_stats().not_kept, 1);
}

/// A host's store written before snapshots existed: the trait's defaults.
struct NoSnapshots(MemoryStore);

impl Store for NoSnapshots {
    fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<caseledger::store::Appended, StoreError> {
        self.0.append(case, expected, events)
    }
    fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError> {
        self.0.read_after(case, after)
    }
    fn version(&self, case: CaseId) -> Result<u64, StoreError> {
        Store::version(&self.0, case)
    }
    fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
        Store::cases(&self.0)
    }
}

#[test]
fn snapshots_are_off_by_default_and_the_load_step_only_comes_with_a_policy() {
    let case = case_id(5);
    let store = MemoryStore::new();
    store.append(case, 0, &log(case, 120, "stored")).unwrap();
    let repo = Repository::new(&store, Rules::default());
    repo.execute(case, note("no policy"), &Actor::Staff(ana()), T0 + Duration::days(1)).unwrap();
    assert!(store.read_snapshot(case).unwrap().is_none(), "off by default: nothing written");
    assert_eq!(repo.snapshot_stats(), Default::default());

    // A read (not only a command) that folded past the interval writes one too.
    let repo = Repository::new(&store, Rules::default()).with_snapshots(every(50)).with_capacity(10);
    assert_eq!(repo.core().snapshot_policy(), every(50), "with_capacity keeps the policy");
    assert_eq!(repo.case(case).unwrap().version(), 121);
    assert_eq!(store.read_snapshot(case).unwrap().map(|s| s.version()), Some(121));
    let Loaded { snapshot, events, .. } = store.load(case).unwrap();
    assert_eq!((snapshot.map(|s| s.version()), events.len()), (Some(121), 1), "the snapshot's own event");
}

#[cfg(feature = "proptest")]
mod properties {
    use caseledger::testkit::{histories, Config};
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// A cold start from a snapshot taken anywhere in a generated history is the
        /// history's log folded from its first event.
        #[test]
        fn a_cold_start_from_a_snapshot_is_the_log_folded(history in histories(&Config::default()), cut in 0usize..1_000) {
            let events = history.events();
            let case = events[0].case;
            let at = (events.len() * cut / 1_000).clamp(1, events.len());
            let store = MemoryStore::new();
            store.append(case, 0, events).unwrap();
            store.put_snapshot(case, Some(snapshot_of(&events[..at])));
            let repo = Repository::new(&store, Rules::default()).with_snapshots(every(1_000));
            let cold = repo.case(case).unwrap();
            prop_assert_eq!(&*cold, &Case::replay(events).unwrap());
            prop_assert_eq!(repo.snapshot_stats().restored, 1);
            prop_assert_eq!(repo.verify_snapshot(case).unwrap(), SnapshotCheck::Matches { version: at as u64 });
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use caseledger::{AsyncRepository, AsyncStore, PgStore};

    use super::*;
    use crate::support::postgres::TestDb;

    async fn plant(store: &PgStore, case: CaseId, snapshot: &Snapshot) {
        sqlx::query(
            "INSERT INTO caseledger_snapshots (case_id, version, body) VALUES ($1, $2, $3)
             ON CONFLICT (case_id) DO UPDATE SET version = EXCLUDED.version, body = EXCLUDED.body",
        )
        .bind(case.as_uuid())
        .bind(snapshot.version().max(1) as i64)
        .bind(snapshot.as_bytes())
        .execute(store.pool())
        .await
        .unwrap();
    }

    async fn cold(store: &PgStore, case: CaseId) -> caseledger::repository::SnapshotStats {
        let repo = AsyncRepository::new(store.clone(), Rules::default()).with_snapshots(every(100));
        repo.execute(case, note("after the restart"), &Actor::Staff(ana()), T0 + Duration::days(30)).await.unwrap();
        let folded = repo.case(case).await.unwrap();
        assert_eq!(*folded, Case::replay(&AsyncStore::read(store, case).await.unwrap()).unwrap());
        repo.snapshot_stats()
    }

    #[tokio::test]
    async fn pg_store_snapshots_are_used_checked_and_verified() {
        let db = TestDb::new().await;
        let store = db.store().await;
        let case = case_id(1);
        store.append(case, 0, &log(case, 250, "stored")).await.unwrap();

        let stats = cold(&store, case).await;
        assert_eq!((stats.replayed, stats.written), (1, 1), "{stats:?}");
        let stats = cold(&store, case).await;
        assert_eq!((stats.restored, stats.rejected_total()), (1, 0), "{stats:?}");
        let loaded = store.load(case).await.unwrap();
        assert_eq!((loaded.snapshot.unwrap().version(), loaded.events.len()), (251, 2), "one round trip");

        let current = store.read(case).await.unwrap();
        let other = snapshot_of(&log(case_id(2), 120, "stored"));
        let fresh = snapshot_of(&current);
        let beyond = longer(&current, 3);
        let cases = [
            (snapshot_of(&log(case, 200, "elsewhere")), SnapshotRejection::Diverged { version: 200 }),
            (snapshot_of(&beyond), SnapshotRejection::BeyondLog { version: current.len() as u64 + 3 }),
            (other, SnapshotRejection::OtherCase { found: case_id(2) }),
            (other_fold(&fresh), SnapshotRejection::Fingerprint { found: Snapshot::fold_fingerprint() ^ 1 }),
            (flipped(&fresh), SnapshotRejection::Checksum),
        ];
        for (planted, reason) in cases {
            plant(&store, case, &planted).await;
            let repo = AsyncRepository::new(store.clone(), Rules::default());
            assert_eq!(repo.verify_snapshot(case).await.unwrap(), SnapshotCheck::Rejected(reason), "{reason}");
            let stats = cold(&store, case).await;
            assert_eq!((stats.rejected_for(reason), stats.replayed), (1, 1), "{reason}: {stats:?}");
        }

        let current = store.read(case).await.unwrap();
        let good = snapshot_of(&current);
        let forged = snapshots::doctored(&good, |state| state["open_work"] = 3.into()).unwrap();
        plant(&store, case, &forged).await;
        let repo = AsyncRepository::new(store.clone(), Rules::default());
        let version = current.len() as u64;
        assert_eq!(repo.verify_snapshot(case).await.unwrap(), SnapshotCheck::Differs { version });
        plant(&store, case, &good).await;
        assert_eq!(repo.verify_snapshot(case).await.unwrap(), SnapshotCheck::Matches { version });

        // The upsert keeps the later snapshot.
        assert!(store.write_snapshot(&snapshot_of(&current[..10])).await.unwrap());
        assert_eq!(store.read_snapshot(case).await.unwrap().unwrap().version(), version);
        db.drop().await;
    }
}

/// A projected store keeps the snapshots of the store it wraps (it forwards them, rather
/// than falling back to the trait's "keeps none").
#[test]
fn a_projected_store_keeps_its_inner_store_s_snapshots() {
    use caseledger::projection::Projected;
    use caseledger::testkit::projection::Recorder;

    let case = case_id(6);
    let store = Projected::new(MemoryStore::new(), Recorder::default()).unwrap();
    store.append(case, 0, &log(case, 30, "stored")).unwrap();
    let repo = Repository::new(&store, Rules::default()).with_snapshots(every(10));
    assert_eq!(repo.case(case).unwrap().version(), 30);
    assert_eq!(repo.snapshot_stats().written, 1, "{:?}", repo.snapshot_stats());
    assert_eq!(store.read_snapshot(case).unwrap().map(|s| s.version()), Some(30));
    assert_eq!(store.load(case).unwrap().events.len(), 1);
}

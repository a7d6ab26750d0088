//! The embedded file store: one JSON Lines file per case in a directory, written so that
//! a crash never loses an acknowledged event, a changed byte is never served, and one
//! damaged case does not take the others down. The layout, the guarantees and the costs
//! are documented on [`FileStore`].

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

mod repair;
mod snapshots;

pub use repair::DamageReport;

use super::line::{self as line_format, Damage};
use super::{Appended, Batch, CrossIndex, LogIndex, Store};
use crate::case::Snapshot;
use crate::error::{DecodeError, Location, LogError, StoreError};
use crate::event::Event;
use crate::id::{CaseId, CustomerRef, IncidentId};
use crate::rules::Limits;

const LOG_EXT: &str = "jsonl";
const TORN_EXT: &str = "jsonl.torn";
/// The file whose advisory lock marks the directory as in use.
const LOCK_FILE: &str = "caseledger.lock";
/// At most this many case files keep their handle open between appends, so that an
/// append is one `write` and one `fdatasync`, without an `open`, `fstat`, `lseek` and
/// `close` around them; other cases open their file for each append. Bounded so that a
/// store of many cases stays far from the process's limit on open files.
const MAX_KEPT_HANDLES: usize = 256;
/// At most this many bytes of log lines are kept decoded from [`FileStore::open`] until
/// each case's first read (see [`CaseFile::decoded`]); a case whose lines would exceed
/// what is left is decoded again when first read.
const MAX_KEPT_DECODED_BYTES: u64 = 64 << 20;

/// An embedded, crash-safe [`Store`]: one JSON Lines file per case in a directory.
///
/// One `FileStore` owns a directory at a time: [`FileStore::open`] takes an exclusive
/// advisory lock on `<dir>/caseledger.lock` and a second store on the same directory, in
/// this process or another, gets [`StoreError::Locked`] before it reads or writes any
/// case file. The lock is released when the store is dropped (or its process dies).
/// Within a process, share one `FileStore` (for instance in an `Arc`) between threads.
///
/// # Layout
///
/// `<dir>/<case id>.jsonl` holds one case's log, one event per line, in sequence order.
/// Each line is the event's JSON object as [`Event::to_json`] writes it, with one more
/// member at the end, its checksum:
///
/// ```text
/// {"schema":1,"case":"…","seq":1,…,"what":{…},"crc32c":"1c2e9a07"}
/// ```
///
/// The file stays JSON Lines: `jq`, `less` and [`decode_log`](crate::codec::decode_log) read it
/// (event readers ignore the extra member). The checksum rule, for verifying a line
/// in another language: the last 21 bytes of the line are `,"crc32c":"` + 8 lowercase
/// hex digits + `"}`, and those digits are the CRC-32C (Castagnoli, as in iSCSI and
/// ext4; `crc32c("123456789") = e3069283`) of every byte before them. In Python with
/// the `crc32c` package: `crc32c.crc32c(line[:-21]) == int(line[-10:-2], 16)`.
///
/// Lines written before checksums existed (an event's JSON exactly as serialised, which
/// always ends in `}}`) are read as they are and never rewritten; they are not
/// protected by a checksum. New lines are appended with one.
///
/// One file per case keeps reading a case to reading one file, confines a torn write or
/// a damaged line to one case, and lets writers to different cases proceed in parallel.
/// Other files in the directory are ignored. A case's stored snapshot, if any, is in
/// `<case id>.snapshot` beside its log (written whole and renamed into place; see
/// [`Store::write_snapshot`]); removing it loses nothing.
///
/// # Durability guarantee
///
/// [`Store::append`] acknowledges (returns `Ok`) only after the new lines are written
/// and `sync_data` (fdatasync) returned for the case's file, which makes the bytes and
/// the file's new length durable, and after the file's directory entry is durable: the
/// directory is synced when an append creates a case's file, before the first append to
/// a file [`FileStore::open`] found (a process that died between writing a file and
/// syncing its directory leaves an entry that may not be on disk), and when `open`
/// creates the directory (its parent is synced). On Unix; other platforms cannot sync a directory
/// through `std`. Hence, if the operating system and the device honour flushes:
///
/// - every acknowledged event is read back after a crash or power loss;
/// - an append interrupted by a crash leaves nothing, a prefix of its batch, or a prefix
///   plus a *torn* last line: bytes without a newline. A line counts only once its
///   newline is on disk and its checksum matches. On [`FileStore::open`], such a tail is
///   moved to `<case id>.jsonl.torn` (appended, then synced) and cut from the log, and
///   reported by [`FileStore::set_aside`]. Complete lines of the interrupted batch stay:
///   they were never acknowledged, so the writer retries the same events, which is then
///   a no-op (see [`Store`]), or reloads. Opening needs no free space: when the side file
///   cannot be written (a full disk), the tail stays in the file, past the log's end,
///   and is moved before the next append to that case, which fails with
///   [`StoreError::Io`] until there is space;
/// - an append that returns an error may likewise have written some of its events;
///   the next append to that case first cuts the file back to its last acknowledged
///   length.
///
/// # Damage
///
/// Any changed byte in a line with a checksum is detected, and a complete line never
/// vanishes silently. Every append is one `write` of whole lines, each ending in its
/// newline, acknowledged after the sync; so an interrupted append leaves at most one
/// line *without* its newline after the complete ones. Only such a tail, and bytes no
/// append can have written, are set aside; anything that may be an acknowledged line
/// puts its case in *quarantine*. What [`FileStore::open`] finds in a case's file:
///
/// | what the store finds | what it does | what was acknowledged |
/// |---|---|---|
/// | complete lines, each passing its checksum and continuing the log | serves them | every acknowledged line is among them (the complete lines of an interrupted batch are intact too, and a retry of them is a no-op) |
/// | after the last complete line, bytes without a newline that are no more than one line (a torn append) | sets them aside: appended to `<case id>.jsonl.torn`, cut from the log, listed by [`FileStore::set_aside`]; the next append takes their sequence number | none of them: an append is acknowledged only once its newline is synced |
/// | a complete line (ending in `\n`) that fails its checksum, does not decode, has a newer schema, is longer than [`Limits::max_line_bytes`] or does not continue the log, last line or not | quarantines the case: [`FileStore::quarantined`] names the file, the line, its bytes and the reason; every read and append gets [`StoreError::Quarantined`]; no sequence number is taken again | possibly that line and every line before it |
/// | after the last complete line, a whole line followed by other bytes instead of its newline (the newline was changed) | quarantines the case ([`StoreError::Unterminated`]) | possibly that line: an append leaves less, never more |
/// | after the last good line, complete lines none of which can be the store's: no `{` first, no `}` last, no `"schema":` and no `"crc32c":"` in them (zeros a file system left where a write's data never arrived, text another program appended), then possibly bytes without a newline | sets them aside, as a torn tail | none: every line the store writes carries all four marks, and a few changed bytes cannot remove them all (a byte changed into a newline splits a line into a part starting with `{` and one ending in `}`) |
/// | such lines followed by a line the store may have written | quarantines the case from the first of them | possibly the later line |
///
/// Blank lines are skipped wherever they are. A quarantined case: `open` still succeeds
/// and serves every other case; nothing of the quarantined one is served, nothing of
/// it is skipped, and it is not in [`Store::cases`] or the cross-case indexes.
/// [`FileStore::damage`] lists everything set aside or quarantined, one line each, for
/// the host's log at start and its health page; [`Quarantined::read_line`] shows the
/// damaged bytes. To repair, stop the process and either put the original line back
/// from a backup (the same bytes pass the checksum again) or, with a store opened by a
/// repair tool, [`FileStore::cut`] the log before the damaged line (its bytes are kept
/// in the side file) and, once mended there, [`FileStore::restore`] them;
/// `examples/repair.rs` is such a tool, and the README's "Robustness" section shows
/// the steps. Then open the store again.
///
/// The line a damage check names is the file's line (from 1, blank lines counted); a
/// case's events can be damaged on disk after `open` too, and a read from the file then
/// returns the line's [`StoreError::Checksum`] or [`StoreError::Corrupt`] instead of
/// serving it (a case's first read after `open` serves the events `open` read and
/// checked, if it kept them; see Costs).
///
/// It does not protect against devices that acknowledge flushes they have not done, or
/// against a process that ignores the lock (another program writing the files).
///
/// # Costs
///
/// Opening reads every file once, line by line, to check each log and build the indexes
/// (versions, line offsets, event ids, customers, incidents): O(stored bytes) time, one
/// line (at most [`Limits::max_line_bytes`]) read at a time, and roughly 45 bytes of
/// memory per stored event. Opening decodes every event to check it; it keeps the
/// decoded events of each case, up to 64 MiB of log lines for the whole store, until the
/// case's first read, which takes them instead of reading and decoding the file again
/// (a case is decoded once between open and its first command; an append before that
/// read drops them). So right after open the store may hold up to about that much more
/// memory, released as cases are first read; cases beyond it are read from their file.
/// After that, an append writes and syncs only the new lines (the first one also syncs
/// the directory) through the case file's handle, kept open between appends for up to
/// 256 cases (the first appended to); reading a case after a version reads only the
/// lines after it, and cross-case questions are answered from the indexes. Every line
/// written or read has its CRC-32C computed (eight bytes at a time).
///
/// # Example
///
/// ```
/// use caseledger::{error::StoreError, Actor, CaseId, FileStore, Opening, Rules, Staff, Store};
/// use time::macros::datetime;
///
/// let dir = std::env::temp_dir().join(format!("caseledger-doc-{}", std::process::id()));
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let case = CaseId::new_v7(t, [1; 10]);
/// let opened = Rules::default().open(case, Opening::new("cust-7", "my laptop works",
///     Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?;
///
/// let store = FileStore::open(&dir)?;
/// store.append(case, 0, &[opened.clone()])?;
/// // One store per directory: a second one is refused while the first is open.
/// assert!(matches!(FileStore::open(&dir), Err(StoreError::Locked { .. })));
/// drop(store);
///
/// // After a restart the event is read back from disk.
/// let reopened = FileStore::open(&dir)?;
/// assert_eq!(reopened.read(case)?, vec![opened]);
/// assert!(reopened.quarantined().is_empty());
/// # drop(reopened);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), caseledger::Error>(())
/// ```
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    max_line_bytes: usize,
    /// Whether the directory was synced since the store opened, making the entries of
    /// the case files found at open durable.
    entries_synced: AtomicBool,
    /// How many case files keep their handle open between appends ([`MAX_KEPT_HANDLES`]).
    kept_handles: AtomicUsize,
    state: Mutex<State>,
    set_aside: Vec<SetAside>,
    /// Sorted by case.
    quarantined: Vec<Quarantined>,
    /// Holds the directory's advisory lock for as long as the store lives.
    _lock: File,
}

/// A tail that [`FileStore::open`] found after a log's last complete line and moved into
/// a side file, so that no byte is thrown away: what an interrupted write left (a line
/// without its newline), or lines no append writes (see the table on [`FileStore`]).
/// [`FileStore::cut`] reports the bytes it moves the same way.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetAside {
    /// The case whose log ended in the torn write.
    pub case: CaseId,
    /// The case's log file.
    pub log: PathBuf,
    /// The side file the torn bytes were appended to (`<case id>.jsonl.torn`).
    pub torn: PathBuf,
    /// The line of the log the tail started on (from 1).
    pub line: usize,
    /// How many bytes were set aside.
    pub bytes: u64,
    /// The side file could not be written when the store opened (for instance, the disk
    /// was full): the bytes are still at the end of the log file, past the log's end,
    /// and are moved before the next append to this case.
    pub pending: bool,
}

/// A case that [`FileStore::open`] found damaged and put in quarantine: the store serves
/// nothing of it and refuses appends to it ([`StoreError::Quarantined`], naming the
/// file, line and bytes) until an operator repairs the file and reopens the store (or
/// cuts it, [`FileStore::cut`]). Its `Display` is one line for a log.
#[derive(Debug)]
#[non_exhaustive]
pub struct Quarantined {
    /// The case.
    pub case: CaseId,
    /// Its log file.
    pub log: PathBuf,
    /// The first damaged line (from 1). The lines before it are intact.
    pub line: usize,
    /// Where that line lies in the file: its first byte, and the byte after its newline
    /// (or the file's end). [`Quarantined::read_line`] reads them.
    pub bytes: Range<u64>,
    /// What is wrong with that line: [`StoreError::Checksum`], [`StoreError::Corrupt`]
    /// (not an event, a newer schema, too long), [`StoreError::Inconsistent`] (does not
    /// continue the log) or [`StoreError::Unterminated`] (a whole line whose newline
    /// was changed).
    pub reason: StoreError,
}

// Lock order: a case's lock may be held while taking the state lock, never the reverse.
#[derive(Debug, Default)]
struct State {
    files: HashMap<CaseId, Arc<Mutex<CaseFile>>>,
    cases: BTreeSet<CaseId>,
    cross: CrossIndex,
}

#[derive(Debug)]
struct CaseFile {
    path: PathBuf,
    /// Whether the file exists and its directory entry has been synced.
    created: bool,
    index: LogIndex,
    /// Where each event's line starts, by sequence number - 1.
    lines: Vec<Line>,
    /// The acknowledged length of the file: it always ends after a complete line.
    len: u64,
    /// The number the next line will have.
    next_line: usize,
    /// A torn tail still in the file after `len`, to move to the side file before the
    /// next append.
    pending_torn: Option<Line>,
    /// The file, open for appending, kept between appends (see [`MAX_KEPT_HANDLES`]);
    /// its position is `len` whenever it is kept.
    handle: Option<File>,
    /// Every event of the log as [`FileStore::open`] decoded and checked it, kept for
    /// the case's first read, which takes it: so a case is decoded once between open
    /// and its first command, not at open and again on the first read. Dropped by the
    /// first append (the next read goes to the file). Within [`MAX_KEPT_DECODED_BYTES`]
    /// for the whole store.
    decoded: Option<Vec<Event>>,
    /// Whether this case holds one of the store's places for a kept handle.
    kept: bool,
}

#[derive(Clone, Copy, Debug)]
struct Line {
    offset: u64,
    number: usize,
}

/// What an append shares with the rest of the store.
#[derive(Clone, Copy)]
struct Syncing<'a> {
    entries_synced: &'a AtomicBool,
    kept_handles: &'a AtomicUsize,
}

/// What [`admit`] made of a case file.
enum Admitted {
    /// The case serves, possibly after a tail was set aside.
    Healthy(Option<SetAside>),
    /// The case is damaged.
    Quarantined(Quarantined),
}

/// Reads one case file as [`FileStore::open`] does and, when it is healthy, sets its
/// tail aside and enters it in `state`.
fn admit(
    dir: &Path,
    state: &mut State,
    case: CaseId,
    path: PathBuf,
    max_line_bytes: usize,
    decode_budget: &mut u64,
) -> Result<Admitted, StoreError> {
    let (mut file, noted, torn) = match load(case, path, max_line_bytes, decode_budget)? {
        Loaded::Damaged(q) => return Ok(Admitted::Quarantined(q)),
        Loaded::Healthy { file, noted, torn } => (file, noted, torn),
    };
    let aside = match torn {
        Some(at) => {
            let bytes = file_len(&file.path)?.saturating_sub(at.offset);
            let pending = file.set_aside(dir, at).is_err();
            let (log, torn) = (file.path.clone(), file.path.with_extension(TORN_EXT));
            Some(SetAside { case, log, torn, line: at.number, bytes, pending })
        }
        None => None,
    };
    if file.index.version > 0 {
        state.cases.insert(case);
    }
    for event in &noted {
        state.cross.note(event);
    }
    state.files.insert(case, Arc::new(Mutex::new(file)));
    Ok(Admitted::Healthy(aside))
}

/// What reading a case file found.
enum Loaded {
    Healthy { file: CaseFile, noted: Vec<Event>, torn: Option<Line> },
    Damaged(Quarantined),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Indexes are updated only after the file operation they describe succeeded, so the
    // data behind a lock poisoned by a panicking host thread is still consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn io_error<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io { path: path.to_owned(), op, source }
}

fn damaged(path: &Path, line: usize, damage: Damage) -> StoreError {
    match damage {
        Damage::Checksum { stored, computed } => {
            StoreError::Checksum { location: Location::file_line(path, line), stored, computed }
        }
        Damage::Decode(source) => StoreError::Corrupt { location: Location::file_line(path, line), source },
    }
}

impl FileStore {
    /// Opens the store in `dir` with the default [`Limits`]; see
    /// [`FileStore::open_with_limits`].
    ///
    /// # Errors
    ///
    /// As [`FileStore::open_with_limits`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with_limits(dir, &Limits::default())
    }

    /// Opens the store in `dir`, creating the directory if needed: takes the directory's
    /// lock, checks every case log (reading no line longer than
    /// [`Limits::max_line_bytes`]), sets aside torn tails left by interrupted writes and
    /// quarantines damaged cases (the rule is the table on [`FileStore`]). A host should
    /// log [`FileStore::damage`] after opening: it is empty for a healthy store.
    ///
    /// # Errors
    ///
    /// [`StoreError::Locked`] when another `FileStore` has the directory open (nothing was
    /// read), [`StoreError::Io`] when the directory cannot be created, locked, listed or
    /// synced, or a case file cannot be read. Damage inside a case file is not an error:
    /// see [`FileStore::damage`].
    pub fn open_with_limits(dir: impl AsRef<Path>, limits: &Limits) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_owned();
        create_dir(&dir)?;
        let lock_path = dir.join(LOCK_FILE);
        let lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_error(&lock_path, "open lock file"))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(StoreError::Locked { dir }),
            Err(TryLockError::Error(e)) => return Err(io_error(&lock_path, "lock")(e)),
        }
        let mut paths = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_error(&dir, "list directory"))? {
            let path = entry.map_err(io_error(&dir, "list directory"))?.path();
            if let Some(case) = case_of(&path) {
                paths.push((case, path));
            }
        }
        paths.sort();
        // A writer that died after creating a case file but before syncing the directory
        // leaves an entry that may not be durable (and acknowledged nothing in it). The
        // first append syncs the directory before it is acknowledged; until then this
        // store serves such a file as it serves any unacknowledged line.
        let entries_synced = AtomicBool::new(paths.is_empty());
        let max_line_bytes = limits.max_line_bytes;
        let mut state = State::default();
        let mut set_aside = Vec::new();
        let mut quarantined = Vec::new();
        let mut decode_budget = MAX_KEPT_DECODED_BYTES;
        for (case, path) in paths {
            match admit(&dir, &mut state, case, path, max_line_bytes, &mut decode_budget)? {
                Admitted::Healthy(None) => {}
                Admitted::Healthy(Some(aside)) => set_aside.push(aside),
                Admitted::Quarantined(q) => quarantined.push(q),
            }
        }
        Ok(Self {
            dir,
            max_line_bytes,
            entries_synced,
            kept_handles: AtomicUsize::new(0),
            state: Mutex::new(state),
            set_aside,
            quarantined,
            _lock: lock_file,
        })
    }

    /// The directory this store keeps its files in.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Tails that [`FileStore::open`] (or [`FileStore::cut`]) moved out of case logs, in
    /// case order: what interrupted appends left, and bytes no append writes (see the
    /// table on [`FileStore`]); empty after a clean shutdown. None of it was
    /// acknowledged; the bytes are kept in the `.torn` side files. A host should log
    /// these ([`FileStore::damage`] has them all as text).
    #[must_use]
    pub fn set_aside(&self) -> &[SetAside] {
        &self.set_aside
    }

    /// Damaged cases that [`FileStore::open`] put in quarantine, in case order, each with
    /// its file, first damaged line, that line's bytes and the reason; empty for a
    /// healthy store. A host should alert an operator for each (see [`Quarantined`] and
    /// [`FileStore::damage`]).
    #[must_use]
    pub fn quarantined(&self) -> &[Quarantined] {
        &self.quarantined
    }

    fn check_quarantine(&self, case: CaseId) -> Result<(), StoreError> {
        let found = self.quarantined.binary_search_by_key(&case, |q| q.case).ok();
        match found.and_then(|i| self.quarantined.get(i)) {
            Some(q) => Err(StoreError::Quarantined {
                case,
                location: Location::file_line(&q.log, q.line).with_bytes(q.bytes.clone()),
            }),
            None => Ok(()),
        }
    }

    fn file(&self, case: CaseId) -> Result<Option<Arc<Mutex<CaseFile>>>, StoreError> {
        self.check_quarantine(case)?;
        Ok(lock(&self.state).files.get(&case).cloned())
    }

    fn file_or_new(&self, case: CaseId) -> Result<Arc<Mutex<CaseFile>>, StoreError> {
        self.check_quarantine(case)?;
        let mut state = lock(&self.state);
        let file = state.files.entry(case).or_insert_with(|| {
            let path = self.dir.join(format!("{case}.{LOG_EXT}"));
            Arc::new(Mutex::new(CaseFile::new(path)))
        });
        Ok(Arc::clone(file))
    }

    /// What an append shares with the rest of the store.
    fn syncing(&self) -> Syncing<'_> {
        Syncing { entries_synced: &self.entries_synced, kept_handles: &self.kept_handles }
    }
}

impl Store for FileStore {
    fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError> {
        let file = self.file_or_new(case)?;
        let mut file = lock(&file);
        let plan = file.index.plan(Batch { case, expected, events }, |v| file.read_after(v, self.max_line_bytes))?;
        let new = plan.events();
        if new.is_empty() {
            return Ok(plan.appended());
        }
        let first = file.index.version == 0;
        file.write(&self.dir, case, new, self.max_line_bytes, self.syncing())?;
        drop(file);
        // The store-wide indexes change only with a case's first events and with the
        // events they index, so a usual append does not take the store's lock again.
        if first || new.iter().any(CrossIndex::indexes) {
            let mut state = lock(&self.state);
            state.cases.insert(case);
            for event in new.iter().filter(|e| CrossIndex::indexes(e)) {
                state.cross.note(event);
            }
        }
        Ok(plan.appended())
    }

    fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError> {
        let Some(file) = self.file(case)? else { return Ok(Vec::new()) };
        let mut file = lock(&file);
        if let Some(mut events) = file.decoded.take() {
            // The first read since open: what open decoded, checked and kept.
            let skip = usize::try_from(after).unwrap_or(usize::MAX).min(events.len());
            events.drain(..skip);
            return Ok(events);
        }
        file.read_after(after, self.max_line_bytes)
    }

    fn read_after_many(&self, reads: &[(CaseId, u64)]) -> Result<Vec<Vec<Event>>, StoreError> {
        for (case, _) in reads {
            self.check_quarantine(*case)?;
        }
        // One lookup of the state for every case; the files are read after it is let go.
        let files: Vec<Option<Arc<Mutex<CaseFile>>>> = {
            let state = lock(&self.state);
            reads.iter().map(|(case, _)| state.files.get(case).cloned()).collect()
        };
        reads
            .iter()
            .zip(files)
            .map(|(&(_, after), file)| match file {
                Some(file) => lock(&file).read_after(after, self.max_line_bytes),
                None => Ok(Vec::new()),
            })
            .collect()
    }

    fn version(&self, case: CaseId) -> Result<u64, StoreError> {
        Ok(self.file(case)?.map_or(0, |file| lock(&file).index.version))
    }

    fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
        Ok(lock(&self.state).cases.iter().copied().collect())
    }

    fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<CaseId>, StoreError> {
        Ok(lock(&self.state).cross.customer_cases(customer))
    }

    /// Written to `<case id>.snapshot` beside the log: a temporary file, synced, renamed
    /// over the old one, the directory synced. The log is not touched.
    fn write_snapshot(&self, snapshot: &Snapshot) -> Result<bool, StoreError> {
        let Some(case) = snapshot.case() else { return Ok(false) };
        self.check_quarantine(case)?;
        snapshots::write(&self.dir, case, snapshot)?;
        Ok(true)
    }

    fn read_snapshot(&self, case: CaseId) -> Result<Option<Snapshot>, StoreError> {
        self.check_quarantine(case)?;
        snapshots::read(&self.dir, case)
    }

    fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<CaseId>, StoreError> {
        Ok(lock(&self.state).cross.incident_cases(incident))
    }
}

impl CaseFile {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            created: false,
            index: LogIndex::default(),
            lines: Vec::new(),
            len: 0,
            next_line: 1,
            pending_torn: None,
            handle: None,
            decoded: None,
            kept: false,
        }
    }

    /// Writes and syncs `events`, which continue the log; the index changes only once
    /// they are durable.
    fn write(
        &mut self,
        dir: &Path,
        case: CaseId,
        events: &[Event],
        max_line_bytes: usize,
        syncing: Syncing<'_>,
    ) -> Result<(), StoreError> {
        let mut text = String::new();
        let mut lines = Vec::with_capacity(events.len());
        for (event, number) in events.iter().zip(self.next_line..) {
            let start = text.len();
            let offset = self.len.saturating_add(start as u64);
            lines.push(Line { offset, number });
            line_format::encode(event, &mut text).map_err(|e| StoreError::Io {
                path: self.path.clone(),
                op: "encode",
                source: io::Error::other(e),
            })?;
            // Never acknowledge a line the store would refuse to read back.
            let bytes = text.len().saturating_sub(start);
            if bytes > max_line_bytes {
                return Err(StoreError::TooLarge { case, seq: event.seq, bytes, max: max_line_bytes });
            }
            text.push('\n');
        }
        self.write_raw(dir, text.as_bytes(), syncing)?;
        self.next_line = self.next_line.saturating_add(events.len());
        self.lines.extend(lines);
        self.index.extend(events);
        Ok(())
    }

    /// Writes `bytes`, whole lines, after the last acknowledged one and syncs them (and
    /// the directory entry when needed); `len` grows once they are durable.
    fn write_raw(&mut self, dir: &Path, bytes: &[u8], syncing: Syncing<'_>) -> Result<(), StoreError> {
        if let Some(torn) = self.pending_torn {
            self.set_aside(dir, torn)?;
        }
        // The log changes: what open decoded no longer is the whole log.
        self.decoded = None;
        let path = &self.path;
        // A kept handle is positioned at `len`, where its last append ended.
        let (mut file, mut positioned) = match self.handle.take() {
            Some(file) => (file, true),
            None => {
                let file = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(path)
                    .map_err(io_error(path, "open"))?;
                (file, false)
            }
        };
        // A failed earlier append may have left unacknowledged bytes; cut them off so the
        // new lines follow the last acknowledged one.
        if file.metadata().map_err(io_error(path, "stat"))?.len() != self.len {
            file.set_len(self.len).map_err(io_error(path, "truncate"))?;
            positioned = false;
        }
        if !positioned {
            file.seek(SeekFrom::Start(self.len)).map_err(io_error(path, "seek"))?;
        }
        let written = file.write_all(bytes).map_err(io_error(path, "append")).and_then(|()| {
            // `sync_data` is fdatasync: the bytes and the file's new length.
            file.sync_data().map_err(io_error(path, "sync"))
        });
        if let Err(err) = written {
            // Dropping the handle makes the next append open the file again, check its
            // length against `len` and cut what this one may have left.
            drop(file);
            return Err(err);
        }
        // The file's name must be durable before its lines are acknowledged: a file this
        // store created, or one found at open before the directory was synced since.
        if !self.created || !syncing.entries_synced.load(Ordering::Acquire) {
            sync_dir(dir)?;
            self.created = true;
            syncing.entries_synced.store(true, Ordering::Release);
        }
        self.len = self.len.saturating_add(bytes.len() as u64);
        self.keep(file, syncing.kept_handles);
        Ok(())
    }

    /// Keeps `file` (positioned at `len`) for the next append if this case holds one of
    /// the store's [`MAX_KEPT_HANDLES`] places (the first cases appended to get them and
    /// keep them), else closes it.
    fn keep(&mut self, file: File, kept_handles: &AtomicUsize) {
        if !self.kept {
            if kept_handles.fetch_add(1, Ordering::Relaxed) >= MAX_KEPT_HANDLES {
                kept_handles.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            self.kept = true;
        }
        self.handle = Some(file);
    }

    /// Moves the torn tail starting at `at` into the side file, then cuts it from the
    /// log. The side file is synced first (and its directory entry), so a crash during
    /// recovery loses no byte: the next open finds the same tail and sets it aside again.
    fn set_aside(&mut self, dir: &Path, at: Line) -> Result<(), StoreError> {
        self.pending_torn = Some(at);
        // The log is cut through another handle: the next append opens it afresh.
        self.handle = None;
        let log = &self.path;
        let mut file = OpenOptions::new().read(true).write(true).open(log).map_err(io_error(log, "open"))?;
        let torn = log.with_extension(TORN_EXT);
        let mut side = OpenOptions::new().create(true).append(true).open(&torn).map_err(io_error(&torn, "open"))?;
        let side_len = side.metadata().map_err(io_error(&torn, "stat"))?.len();
        let copied = copy_tail(&mut file, at.offset, &mut side).and_then(|()| side.sync_data());
        if let Err(e) = copied {
            // Leave the side file as it was, so that the retry does not repeat bytes.
            let _ = side.set_len(side_len);
            return Err(io_error(&torn, "append")(e));
        }
        sync_dir(dir)?;
        file.set_len(at.offset).map_err(io_error(log, "truncate"))?;
        file.sync_all().map_err(io_error(log, "sync"))?;
        self.pending_torn = None;
        Ok(())
    }

    /// Reads the events after version `after` from disk.
    fn read_after(&self, after: u64, max_line_bytes: usize) -> Result<Vec<Event>, StoreError> {
        let Some(start) = usize::try_from(after).ok().and_then(|i| self.lines.get(i)).copied() else {
            return Ok(Vec::new());
        };
        let path = &self.path;
        let file = File::open(path).map_err(io_error(path, "open"))?;
        let mut reader = BufReader::new(file);
        reader.seek(SeekFrom::Start(start.offset)).map_err(io_error(path, "seek"))?;
        let mut reader = reader.take(self.len.saturating_sub(start.offset));
        let mut expected = after;
        let mut events = Vec::new();
        let mut buf = Vec::new();
        let mut number = start.number;
        loop {
            let read = next_line(&mut reader, &mut buf, max_line_bytes).map_err(io_error(path, "read"))?;
            let checked = match read {
                Next::End => break,
                // Acknowledged lines end in a newline; a missing one means the file was
                // cut short under the store.
                Next::Line { terminated: false, .. } => Err(Damage::Decode(DecodeError::Truncated { line: number })),
                Next::TooLong { bytes, .. } => {
                    Err(Damage::Decode(DecodeError::LineTooLong { line: number, bytes, max: max_line_bytes }))
                }
                Next::Line { terminated: true, .. } => line_format::check(&buf, number),
            };
            let event = match checked {
                Ok(Some(event)) => event,
                Ok(None) => {
                    number = number.saturating_add(1);
                    continue;
                }
                Err(damage) => return Err(damaged(path, number, damage)),
            };
            expected = expected.saturating_add(1);
            if event.seq != expected {
                let source = LogError::SequenceGap { expected, found: event.seq };
                return Err(StoreError::Inconsistent {
                    location: Location::file_line(path, number),
                    source: Box::new(source),
                });
            }
            events.push(event);
            number = number.saturating_add(1);
        }
        Ok(events)
    }
}

/// What [`next_line`] read.
enum Next {
    /// No bytes were left.
    End,
    /// A line of at most the limit, now in the buffer without its `\n`.
    Line { bytes: u64, terminated: bool },
    /// A line over the limit; it was skipped, not kept.
    TooLong { bytes: usize, terminated: bool, len: u64 },
}

impl Next {
    /// The bytes the line took in the file, `\n` included.
    fn len(&self) -> u64 {
        match *self {
            Self::End => 0,
            Self::Line { bytes, terminated } => bytes.saturating_add(u64::from(terminated)),
            Self::TooLong { len, .. } => len,
        }
    }
}

/// Reads the next line of `reader` into `buf` (replacing its contents), keeping at most
/// `max` bytes of it in memory: a longer line is read past, not kept.
fn next_line(reader: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Next> {
    buf.clear();
    let mut len: u64 = 0;
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            if len == 0 {
                return Ok(Next::End);
            }
            return Ok(finish(buf, len, too_long, false));
        }
        let newline = available.iter().position(|&b| b == b'\n');
        let content = newline.map_or(available, |i| available.get(..i).unwrap_or_default());
        if !too_long {
            if buf.len().saturating_add(content.len()) > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(content);
            }
        }
        let consumed = newline.map_or(available.len(), |i| i.saturating_add(1));
        len = len.saturating_add(consumed as u64);
        reader.consume(consumed);
        if newline.is_some() {
            return Ok(finish(buf, len, too_long, true));
        }
    }
}

fn finish(buf: &[u8], len: u64, too_long: bool, terminated: bool) -> Next {
    let bytes = len.saturating_sub(u64::from(terminated));
    if too_long {
        Next::TooLong { bytes: usize::try_from(bytes).unwrap_or(usize::MAX), terminated, len }
    } else {
        Next::Line { bytes: buf.len() as u64, terminated }
    }
}

/// The case a file in the store's directory holds, if it is a case log. Only the
/// canonical name (`<hyphenated lowercase uuid>.jsonl`) counts, so that the file an
/// append writes is always the file open read.
fn case_of(path: &Path) -> Option<CaseId> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(LOG_EXT)?.strip_suffix('.')?;
    let case: CaseId = stem.parse().ok()?;
    (case.to_string() == stem && path.is_file()).then_some(case)
}

/// Reads and checks one case log, line by line, finding what an interrupted append left
/// (set aside) and damage (quarantine); the rule is the table on [`FileStore`].
///
/// Keeps the decoded events in [`CaseFile::decoded`] if the case's lines fit in
/// `decode_budget` (bytes), which shrinks by what they take.
fn load(case: CaseId, path: PathBuf, max_line_bytes: usize, decode_budget: &mut u64) -> Result<Loaded, StoreError> {
    let mut decoded = Some(Vec::new());
    let mut decoded_bytes: u64 = 0;
    let reader = File::open(&path).map_err(io_error(&path, "open"))?;
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut file = CaseFile::new(path);
    file.created = true;
    let mut noted = Vec::new();
    let mut buf = Vec::new();
    let mut offset: u64 = 0;
    let mut number: usize = 1;
    // The first complete line after the log that an append cannot have written, with its
    // end and why it does not check: set aside with everything after it, unless a line
    // the store may have written follows, which makes it damage inside the log.
    let mut foreign: Option<(Line, u64, StoreError)> = None;
    // Where the bytes to set aside start, if any.
    let mut torn = None;
    // One byte over the limit is still read, so that a line of exactly the limit whose
    // newline was changed is recognised as a whole line.
    let read_limit = max_line_bytes.saturating_add(1);
    loop {
        let read = next_line(&mut reader, &mut buf, read_limit).map_err(io_error(&file.path, "read"))?;
        let line = Line { offset, number };
        let end = offset.saturating_add(read.len());
        offset = end;
        number = number.saturating_add(1);
        let too_long =
            |bytes| Damage::Decode(DecodeError::LineTooLong { line: line.number, bytes, max: max_line_bytes });
        let checked = match read {
            Next::End => break,
            Next::Line { terminated: false, .. } if line_format::holds_a_whole_line(&buf, line.number) => {
                let reason = StoreError::Unterminated { location: Location::file_line(&file.path, line.number) };
                return Ok(quarantined(case, &file, foreign.unwrap_or((line, end, reason))));
            }
            Next::Line { terminated: false, .. } | Next::TooLong { terminated: false, .. } => {
                // The bytes after the last newline: what an interrupted append leaves, a
                // line that never got its newline, so never acknowledged.
                torn = Some(foreign.as_ref().map_or(line, |f| f.0));
                break;
            }
            // The store writes no line over the limit; it may have been lowered since.
            Next::TooLong { bytes, terminated: true, .. } => Err(too_long(bytes)),
            Next::Line { terminated: true, .. } if buf.len() > max_line_bytes => Err(too_long(buf.len())),
            Next::Line { terminated: true, .. } => line_format::check(&buf, line.number),
        };
        let event = match (checked, foreign.take()) {
            (Ok(None), first) => {
                // A blank line: part of what is set aside if it follows a foreign one.
                if first.is_none() {
                    file.len = offset;
                    file.next_line = number;
                }
                foreign = first;
                continue;
            }
            (Ok(Some(event)), None) => event,
            // A line the store wrote follows the foreign one, which is then damage
            // inside the log, not bytes after it.
            (Ok(Some(_)), Some(first)) => return Ok(quarantined(case, &file, first)),
            (Err(damage), first) => {
                // A line over the limit is not kept, so nothing shows it is not the store's.
                let appended = matches!(damage, Damage::Decode(DecodeError::LineTooLong { .. }))
                    || line_format::may_be_stored(&buf);
                let here = (line, end, damaged(&file.path, line.number, damage));
                if appended {
                    return Ok(quarantined(case, &file, first.unwrap_or(here)));
                }
                foreign = Some(first.unwrap_or(here));
                continue;
            }
        };
        if let Err(source) = file.index.push(case, &event) {
            let reason = StoreError::Inconsistent {
                location: Location::file_line(&file.path, line.number),
                source: Box::new(source),
            };
            return Ok(quarantined(case, &file, (line, end, reason)));
        }
        if CrossIndex::indexes(&event) {
            noted.push(event.clone());
        }
        decoded_bytes = decoded_bytes.saturating_add(end.saturating_sub(line.offset));
        match &mut decoded {
            Some(events) if decoded_bytes <= *decode_budget => events.push(event),
            // Too big for what is left to keep: its first read decodes it again.
            _ => decoded = None,
        }
        file.lines.push(line);
        file.len = offset;
        file.next_line = number;
    }
    let torn = torn.or(foreign.map(|f| f.0));
    if let Some(events) = decoded.filter(|events| !events.is_empty()) {
        *decode_budget = decode_budget.saturating_sub(decoded_bytes);
        file.decoded = Some(events);
    }
    Ok(Loaded::Healthy { file, noted, torn })
}

/// The quarantine of `case` for its first damaged line, `first`: the line, the byte
/// after it, and why.
fn quarantined(case: CaseId, file: &CaseFile, first: (Line, u64, StoreError)) -> Loaded {
    let (line, end, reason) = first;
    Loaded::Damaged(Quarantined { case, log: file.path.clone(), line: line.number, bytes: line.offset..end, reason })
}

/// Copies everything in `from` after `offset` to the end of `to`, ending it with a
/// newline so the next set-aside tail starts on a line of its own.
fn copy_tail(from: &mut File, offset: u64, to: &mut File) -> io::Result<()> {
    from.seek(SeekFrom::Start(offset))?;
    let mut chunk = vec![0; 64 * 1024];
    let mut last = b'\n';
    loop {
        let n = match from.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let bytes = chunk.get(..n).unwrap_or_default();
        to.write_all(bytes)?;
        last = bytes.last().copied().unwrap_or(last);
    }
    if last != b'\n' {
        to.write_all(b"\n")?;
    }
    Ok(())
}

fn file_len(path: &Path) -> Result<u64, StoreError> {
    Ok(fs::metadata(path).map_err(io_error(path, "stat"))?.len())
}

/// Creates `dir` if it does not exist, and makes each new directory's entry durable.
fn create_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    let missing: Vec<&Path> = dir.ancestors().take_while(|a| !a.as_os_str().is_empty() && !a.is_dir()).collect();
    fs::create_dir_all(dir).map_err(io_error(dir, "create directory"))?;
    // Outermost first, so each new entry is durable before the one inside it.
    for new in missing.iter().rev() {
        if let Some(parent) = new.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        } else {
            sync_dir(Path::new("."))?;
        }
    }
    Ok(())
}

/// Makes a directory's entries (a created file's name) durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_error(dir, "sync directory"))
    }
    #[cfg(not(unix))]
    {
        // `std` cannot open a directory for syncing on this platform; NTFS journals
        // directory entries itself.
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_case_file_names_are_logs() {
        let dir = std::env::temp_dir().join(format!("caseledger-names-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let canonical = dir.join("0190f5a3-7c1e-7a00-8000-000000000001.jsonl");
        let upper = dir.join("0190F5A3-7C1E-7A00-8000-000000000001.jsonl");
        let torn = dir.join("0190f5a3-7c1e-7a00-8000-000000000001.jsonl.torn");
        for p in [&canonical, &upper, &torn] {
            fs::write(p, b"").unwrap();
        }
        assert!(case_of(&canonical).is_some());
        assert_eq!(case_of(&upper), None);
        assert_eq!(case_of(&torn), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lines_are_read_one_at_a_time_and_long_ones_are_not_kept() {
        let mut reader: &[u8] = b"ab\n\nabcdef\nxyz";
        let mut buf = Vec::new();
        let mut next = || {
            let read = next_line(&mut reader, &mut buf, 4).unwrap();
            let len = read.len();
            let what = match read {
                Next::End => "end".to_owned(),
                Next::Line { terminated, .. } => {
                    format!("{}{}", String::from_utf8_lossy(&buf), if terminated { "" } else { "…" })
                }
                Next::TooLong { bytes, terminated, .. } => format!("too long: {bytes} {terminated} {}", buf.len()),
            };
            (what, len)
        };
        assert_eq!(next(), ("ab".to_owned(), 3));
        assert_eq!(next(), (String::new(), 1));
        assert_eq!(next(), ("too long: 6 true 0".to_owned(), 7));
        assert_eq!(next(), ("xyz…".to_owned(), 3));
        assert_eq!(next(), ("end".to_owned(), 0));
    }
}

//! The embedded file store: one JSON Lines file per case in a directory, written so that
//! a crash never loses an acknowledged event. The layout, the durability guarantee and
//! the costs are documented on [`FileStore`].

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Appended, CrossIndex, LogIndex, Store};
use crate::codec::decode_event;
use crate::error::{DecodeError, LogError, StoreError};
use crate::event::Event;
use crate::id::{CaseId, CustomerRef, IncidentId};

const LOG_EXT: &str = "jsonl";
const TORN_EXT: &str = "jsonl.torn";

/// An embedded, crash-safe [`Store`]: one JSON Lines file per case in a directory.
///
/// One process should own a directory at a time; within the process, share one
/// `FileStore` (for instance in an `Arc`) between threads.
///
/// # Layout
///
/// `<dir>/<case id>.jsonl` holds one case's log, one event per line, in sequence order,
/// exactly as [`encode_log`](crate::encode_log) writes it: a person can read it with
/// `less`, and any JSON Lines tool can process it. One file per case keeps reading a
/// case to reading one file, confines a torn write to the case being written, and lets
/// writers to different cases proceed in parallel. Other files in the directory are
/// ignored.
///
/// # Durability guarantee
///
/// [`Store::append`] acknowledges (returns `Ok`) only after the new lines are written
/// and `sync_data` (fdatasync) returned for the case's file, which makes the bytes and
/// the file's new length durable. When the append creates the case's file, the
/// directory is also synced, so the file's name survives a crash too (on Unix; other
/// platforms cannot sync a directory through `std`). Hence, if the operating system and
/// the device honour flushes:
///
/// - every acknowledged event is read back after a crash or power loss;
/// - an append interrupted by a crash leaves nothing, a prefix of its batch, or a prefix
///   plus a *torn* last line. A line counts only once its newline is on disk. On
///   [`FileStore::open`], an unterminated tail, or a last line that is not valid JSON,
///   is moved to `<case id>.jsonl.torn` (appended, then synced) and cut from the log,
///   and reported by [`FileStore::set_aside`]. Complete lines of the interrupted batch
///   stay: they were never acknowledged, so the writer retries the same events, which
///   is then a no-op (see [`Store`]), or reloads;
/// - an append that returns an error may likewise have written some of its events;
///   the next append to that case first cuts the file back to its last acknowledged
///   length.
///
/// It does not protect against devices that acknowledge flushes they have not done,
/// against a second process writing the same directory (open one `FileStore` per
/// directory), or against damage to lines already acknowledged: a line in the middle of
/// a log that does not decode, or does not continue the log, is reported with its file
/// and line number ([`StoreError::Corrupt`], [`StoreError::Inconsistent`]) and the store
/// refuses to open rather than skip it.
///
/// # Costs
///
/// Opening reads every file once, to check each log and build the indexes (versions,
/// line offsets, event ids, customers, incidents): O(stored bytes) time, and roughly 45
/// bytes of memory per stored event. After that, an append writes and syncs only the
/// new lines, reading a case after a version reads only the lines after it, and
/// cross-case questions are answered from the indexes.
///
/// # Example
///
/// ```
/// use caseledger::{Actor, CaseId, FileStore, Opening, Rules, Staff, Store};
/// use time::macros::datetime;
///
/// let dir = std::env::temp_dir().join(format!("caseledger-doc-{}", std::process::id()));
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let case = CaseId::new_v7(t, [1; 10]);
/// let opened = Rules::default().open(case, Opening::new("cust-7", "my laptop works",
///     Staff::new("ana", "software")), &Actor::Customer, t)?;
///
/// FileStore::open(&dir)?.append(case, 0, &[opened.clone()])?;
/// // After a restart the event is read back from disk.
/// let reopened = FileStore::open(&dir)?;
/// assert_eq!(reopened.read(case)?, vec![opened]);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), caseledger::Error>(())
/// ```
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    state: Mutex<State>,
    set_aside: Vec<SetAside>,
}

/// A torn tail that [`FileStore::open`] found after an interrupted write, moved out of
/// the log into a side file so that no byte is thrown away.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetAside {
    /// The case whose log ended in the torn write.
    pub case: CaseId,
    /// The case's log file.
    pub log: PathBuf,
    /// The side file the torn bytes were appended to (`<case id>.jsonl.torn`).
    pub torn: PathBuf,
    /// The line of the log the torn tail started on (from 1).
    pub line: usize,
    /// How many bytes were set aside.
    pub bytes: u64,
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
    /// Whether the file exists (its directory entry has been synced).
    created: bool,
    index: LogIndex,
    /// Where each event's line starts, by sequence number - 1.
    lines: Vec<Line>,
    /// The acknowledged length of the file: it always ends after a complete line.
    len: u64,
    /// The number the next line will have.
    next_line: usize,
}

#[derive(Clone, Copy, Debug)]
struct Line {
    offset: u64,
    number: usize,
}

/// Decoded lines of a file region, and where a torn tail starts, if any.
#[derive(Debug)]
struct Parsed {
    events: Vec<(Event, Line)>,
    torn: Option<Line>,
    next_line: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Indexes are updated only after the file operation they describe succeeded, so the
    // data behind a lock poisoned by a panicking host thread is still consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn io_error<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io { path: path.to_owned(), op, source }
}

impl FileStore {
    /// Opens the store in `dir`, creating the directory if needed, checking every case
    /// log and setting aside torn tails left by interrupted writes.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the directory or a file cannot be read or repaired,
    /// [`StoreError::Corrupt`] for a line in the middle of a log that does not decode
    /// (including events of a newer schema), [`StoreError::Inconsistent`] for a line
    /// that does not continue its log.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_owned();
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(io_error(&dir, "create directory"))?;
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
        let mut state = State::default();
        let mut set_aside = Vec::new();
        let mut paths = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_error(&dir, "list directory"))? {
            let path = entry.map_err(io_error(&dir, "list directory"))?.path();
            if let Some(case) = case_of(&path) {
                paths.push((case, path));
            }
        }
        paths.sort();
        for (case, path) in paths {
            let (file, torn) = load(case, path, &mut state.cross)?;
            if file.index.version > 0 {
                state.cases.insert(case);
            }
            set_aside.extend(torn);
            state.files.insert(case, Arc::new(Mutex::new(file)));
        }
        if !set_aside.is_empty() {
            sync_dir(&dir)?;
        }
        Ok(Self { dir, state: Mutex::new(state), set_aside })
    }

    /// The directory this store keeps its files in.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Torn tails that [`FileStore::open`] moved out of case logs; empty after a clean
    /// shutdown. A host may log these; the bytes are kept in the `.torn` side files.
    #[must_use]
    pub fn set_aside(&self) -> &[SetAside] {
        &self.set_aside
    }

    fn file(&self, case: CaseId) -> Option<Arc<Mutex<CaseFile>>> {
        lock(&self.state).files.get(&case).cloned()
    }

    fn file_or_new(&self, case: CaseId) -> Arc<Mutex<CaseFile>> {
        let mut state = lock(&self.state);
        let path = self.dir.join(format!("{case}.{LOG_EXT}"));
        Arc::clone(state.files.entry(case).or_insert_with(|| Arc::new(Mutex::new(CaseFile::new(path)))))
    }
}

impl Store for FileStore {
    fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError> {
        let file = self.file_or_new(case);
        let mut file = lock(&file);
        let plan = file.index.plan(case, expected, events, |v| file.read_after(v))?;
        let new = plan.events();
        if new.is_empty() {
            return Ok(plan.appended());
        }
        file.write(&self.dir, new)?;
        drop(file);
        let mut state = lock(&self.state);
        state.cases.insert(case);
        for event in new {
            state.cross.note(event);
        }
        Ok(plan.appended())
    }

    fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError> {
        match self.file(case) {
            Some(file) => lock(&file).read_after(after),
            None => Ok(Vec::new()),
        }
    }

    fn version(&self, case: CaseId) -> Result<u64, StoreError> {
        Ok(self.file(case).map_or(0, |file| lock(&file).index.version))
    }

    fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
        Ok(lock(&self.state).cases.iter().copied().collect())
    }

    fn customer_cases(&self, customer: &CustomerRef) -> Result<Vec<CaseId>, StoreError> {
        Ok(lock(&self.state).cross.customer_cases(customer))
    }

    fn incident_cases(&self, incident: &IncidentId) -> Result<Vec<CaseId>, StoreError> {
        Ok(lock(&self.state).cross.incident_cases(incident))
    }
}

impl CaseFile {
    fn new(path: PathBuf) -> Self {
        Self { path, created: false, index: LogIndex::default(), lines: Vec::new(), len: 0, next_line: 1 }
    }

    /// Writes and syncs `events`, which continue the log; the index changes only once
    /// they are durable.
    fn write(&mut self, dir: &Path, events: &[Event]) -> Result<(), StoreError> {
        let mut text = String::new();
        let mut lines = Vec::with_capacity(events.len());
        for (event, number) in events.iter().zip(self.next_line..) {
            let offset = self.len.saturating_add(text.len() as u64);
            lines.push(Line { offset, number });
            let json = event.to_json().map_err(|e| StoreError::Io {
                path: self.path.clone(),
                op: "encode",
                source: io::Error::other(e),
            })?;
            text.push_str(&json);
            text.push('\n');
        }
        let path = &self.path;
        let mut file =
            OpenOptions::new().write(true).create(true).truncate(false).open(path).map_err(io_error(path, "open"))?;
        // A failed earlier append may have left unacknowledged bytes; cut them off so the
        // new lines follow the last acknowledged one.
        if file.metadata().map_err(io_error(path, "stat"))?.len() != self.len {
            file.set_len(self.len).map_err(io_error(path, "truncate"))?;
        }
        file.seek(SeekFrom::Start(self.len)).map_err(io_error(path, "seek"))?;
        file.write_all(text.as_bytes()).map_err(io_error(path, "append"))?;
        file.sync_data().map_err(io_error(path, "sync"))?;
        if !self.created {
            sync_dir(dir)?;
            self.created = true;
        }
        self.len = self.len.saturating_add(text.len() as u64);
        self.next_line = self.next_line.saturating_add(events.len());
        self.lines.extend(lines);
        self.index.extend(events);
        Ok(())
    }

    /// Reads the events after version `after` from disk.
    fn read_after(&self, after: u64) -> Result<Vec<Event>, StoreError> {
        let Some(start) = usize::try_from(after).ok().and_then(|i| self.lines.get(i)).copied() else {
            return Ok(Vec::new());
        };
        let path = &self.path;
        let mut file = File::open(path).map_err(io_error(path, "open"))?;
        file.seek(SeekFrom::Start(start.offset)).map_err(io_error(path, "seek"))?;
        let mut bytes = Vec::new();
        file.take(self.len.saturating_sub(start.offset)).read_to_end(&mut bytes).map_err(io_error(path, "read"))?;
        let parsed = parse(path, &bytes, start, false)?;
        let mut expected = after;
        let mut events = Vec::with_capacity(parsed.events.len());
        for (event, line) in parsed.events {
            expected = expected.saturating_add(1);
            if event.seq != expected {
                let source = LogError::SequenceGap { expected, found: event.seq };
                return Err(StoreError::Inconsistent {
                    path: path.clone(),
                    line: line.number,
                    source: Box::new(source),
                });
            }
            events.push(event);
        }
        Ok(events)
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

/// Reads and checks one case log, setting aside a torn tail.
fn load(case: CaseId, path: PathBuf, cross: &mut CrossIndex) -> Result<(CaseFile, Option<SetAside>), StoreError> {
    let bytes = fs::read(&path).map_err(io_error(&path, "read"))?;
    let parsed = parse(&path, &bytes, Line { offset: 0, number: 1 }, true)?;
    let mut file = CaseFile::new(path);
    file.created = true;
    for (event, line) in &parsed.events {
        file.index.push(case, event).map_err(|source| StoreError::Inconsistent {
            path: file.path.clone(),
            line: line.number,
            source: Box::new(source),
        })?;
        cross.note(event);
        file.lines.push(*line);
    }
    file.next_line = parsed.next_line;
    file.len = bytes.len() as u64;
    let set_aside = match parsed.torn {
        Some(torn) => {
            let tail = usize::try_from(torn.offset).ok().and_then(|i| bytes.get(i..)).unwrap_or_default();
            let side = set_aside(case, &file.path, tail, torn)?;
            file.len = torn.offset;
            file.next_line = torn.number;
            Some(side)
        }
        None => None,
    };
    Ok((file, set_aside))
}

/// Moves a torn tail into the side file, then cuts it from the log: the side file is
/// synced first, so a crash during recovery loses no byte (the next open finds the same
/// tail and sets it aside again).
fn set_aside(case: CaseId, log: &Path, tail: &[u8], at: Line) -> Result<SetAside, StoreError> {
    let torn = log.with_extension(TORN_EXT);
    let mut side = OpenOptions::new().create(true).append(true).open(&torn).map_err(io_error(&torn, "open"))?;
    side.write_all(tail).map_err(io_error(&torn, "append"))?;
    if !tail.ends_with(b"\n") {
        side.write_all(b"\n").map_err(io_error(&torn, "append"))?;
    }
    side.sync_data().map_err(io_error(&torn, "sync"))?;
    let file = OpenOptions::new().write(true).open(log).map_err(io_error(log, "open"))?;
    file.set_len(at.offset).map_err(io_error(log, "truncate"))?;
    file.sync_all().map_err(io_error(log, "sync"))?;
    Ok(SetAside { case, log: log.to_owned(), torn, line: at.number, bytes: tail.len() as u64 })
}

/// Decodes the lines in `bytes`, which start at `start` in `path`.
///
/// With `allow_torn`, the tail left by an interrupted write (bytes after the last
/// newline, or a last line that is not valid JSON) is returned in `torn` instead of
/// failing; any other undecodable line is [`StoreError::Corrupt`].
fn parse(path: &Path, bytes: &[u8], start: Line, allow_torn: bool) -> Result<Parsed, StoreError> {
    let corrupt = |line: usize, source: DecodeError| StoreError::Corrupt { path: path.to_owned(), line, source };
    let body_end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i.saturating_add(1));
    let (body, rest) = bytes.split_at(body_end.min(bytes.len()));
    let mut events = Vec::new();
    let mut offset = start.offset;
    let mut number = start.number;
    let mut bad: Option<(Line, DecodeError)> = None;
    for raw in body.split_inclusive(|&b| b == b'\n') {
        if let Some((line, err)) = bad.take() {
            // An undecodable line followed by more lines is damage, not a torn write.
            return Err(corrupt(line.number, err));
        }
        let line = Line { offset, number };
        offset = offset.saturating_add(raw.len() as u64);
        number = number.saturating_add(1);
        let text = raw.strip_suffix(b"\n").unwrap_or(raw);
        let decoded = match std::str::from_utf8(text) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => decode_event(text, line.number),
            Err(e) => Err(DecodeError::Syntax {
                line: line.number,
                column: e.valid_up_to().saturating_add(1),
                message: "invalid UTF-8".to_owned(),
            }),
        };
        match decoded {
            Ok(event) => events.push((event, line)),
            Err(err @ (DecodeError::Truncated { .. } | DecodeError::Syntax { .. })) if allow_torn => {
                bad = Some((line, err));
            }
            Err(err) => return Err(corrupt(line.number, err)),
        }
    }
    let tail = Line { offset, number };
    let torn = match bad {
        Some((line, _)) => Some(line),
        None if !rest.is_empty() && allow_torn => Some(tail),
        None if !rest.is_empty() => return Err(corrupt(number, DecodeError::Truncated { line: number })),
        None => None,
    };
    Ok(Parsed { events, torn, next_line: number })
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
    fn a_bad_last_line_is_torn_but_a_bad_middle_line_is_corrupt() {
        let path = Path::new("x.jsonl");
        let start = Line { offset: 0, number: 1 };
        let parsed = parse(path, b"\n{\"schema\":1,\"ca\n", start, true).unwrap();
        assert_eq!(parsed.torn.map(|l| (l.offset, l.number)), Some((1, 2)));
        let err = parse(path, b"{\"schema\":1,\"ca\n\n", start, true).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { line: 1, .. }));
    }
}

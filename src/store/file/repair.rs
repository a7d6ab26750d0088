//! Damage a [`FileStore`] found, as a host logs it and an operator reads it, and the two
//! repairs an operator may choose: cut a quarantined case before its damaged line, or
//! put bytes that were set aside back into a log. Neither runs by itself; both keep
//! every byte they move (in the side file, or back in the log).

use std::fmt;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};

use super::{
    admit, damaged, file_len, io_error, line_format, lock, sync_dir, Admitted, CaseFile, FileStore, Line, Quarantined,
    SetAside, TORN_EXT,
};
use crate::error::{DecodeError, Location, StoreError};
use crate::id::CaseId;
use crate::store::{Appended, CrossIndex};

/// What [`FileStore::open`] found that is not a healthy log, for a host to log at start
/// and to show on a health page: the tails it set aside and the cases it quarantined.
/// Its `Display` is one line per finding (or `no damage`).
///
/// # Example
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("caseledger-doc-report-{}", std::process::id()));
/// let store = caseledger::FileStore::open(&dir)?;
/// let damage = store.damage();
/// if !damage.is_empty() {
///     eprintln!("case store damage:\n{damage}");
/// }
/// assert_eq!(damage.to_string(), "no damage");
/// # drop(store);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), caseledger::error::StoreError>(())
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct DamageReport<'a> {
    /// Tails moved out of logs: bytes no append acknowledged ([`FileStore::set_aside`]).
    pub set_aside: &'a [SetAside],
    /// Cases the store does not serve until they are repaired ([`FileStore::quarantined`]).
    pub quarantined: &'a [Quarantined],
}

impl DamageReport<'_> {
    /// Whether there is nothing to report.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.set_aside.is_empty() && self.quarantined.is_empty()
    }
}

impl fmt::Display for DamageReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no damage");
        }
        let mut first = true;
        let lines = self.quarantined.iter().map(|q| q as &dyn fmt::Display);
        for finding in lines.chain(self.set_aside.iter().map(|a| a as &dyn fmt::Display)) {
            if !first {
                f.write_str("\n")?;
            }
            first = false;
            write!(f, "{finding}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Quarantined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "case {} is quarantined from line {} (bytes {}..{}): {}",
            self.case, self.line, self.bytes.start, self.bytes.end, self.reason
        )
    }
}

impl fmt::Display for SetAside {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "case {}: {} unacknowledged bytes from line {} of {} set aside to {}",
            self.case,
            self.bytes,
            self.line,
            self.log.display(),
            self.torn.display()
        )?;
        if self.pending {
            f.write_str(" (not moved yet: the side file could not be written; the next append moves them)")?;
        }
        Ok(())
    }
}

impl Quarantined {
    /// The damaged line's bytes as the file holds them now ([`Quarantined::bytes`] of
    /// [`Quarantined::log`]), for an operator to look at.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the file cannot be read.
    pub fn read_line(&self) -> Result<Vec<u8>, StoreError> {
        let path = &self.log;
        let mut file = fs::File::open(path).map_err(io_error(path, "open"))?;
        file.seek(SeekFrom::Start(self.bytes.start)).map_err(io_error(path, "seek"))?;
        let mut line = Vec::new();
        let len = self.bytes.end.saturating_sub(self.bytes.start);
        file.take(len).read_to_end(&mut line).map_err(io_error(path, "read"))?;
        Ok(line)
    }
}

impl FileStore {
    /// Everything [`FileStore::open`] set aside or quarantined (see [`DamageReport`]);
    /// empty for a healthy store.
    #[must_use]
    pub fn damage(&self) -> DamageReport<'_> {
        DamageReport { set_aside: &self.set_aside, quarantined: &self.quarantined }
    }

    /// What [`FileStore::damage`] reports for one case.
    #[must_use]
    pub fn damage_of(&self, case: CaseId) -> DamageReport<'_> {
        let of = |found: Result<usize, usize>, len: usize| found.map_or(0..0, |i| i..i.saturating_add(1).min(len));
        let aside = of(self.set_aside.binary_search_by_key(&case, |a| a.case), self.set_aside.len());
        let quarantined = of(self.quarantined.binary_search_by_key(&case, |q| q.case), self.quarantined.len());
        DamageReport {
            set_aside: self.set_aside.get(aside).unwrap_or_default(),
            quarantined: self.quarantined.get(quarantined).unwrap_or_default(),
        }
    }

    /// Repairs a quarantined case by cutting its log before the damaged line: that line
    /// and everything after it are appended to the side file `<case id>.jsonl.torn`
    /// (synced before the log is cut, so no byte is lost), and the case serves again
    /// from the intact lines before it. `None` when the case is not quarantined
    /// (nothing changes).
    ///
    /// This is an operator's choice, never the store's: the events from the damaged
    /// line on may have been acknowledged, and they are no longer served; the next
    /// append to the case takes the first of their sequence numbers. Prefer putting the
    /// original line back from a backup when there is one. The cut bytes can be
    /// mended in the side file and put back with [`FileStore::restore`] as long as
    /// nothing was appended to the case since. It takes `&mut self`: run it from a
    /// repair tool that has the store to itself (`examples/repair.rs`).
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the side file or the log cannot be written; the case
    /// stays quarantined and the log keeps its bytes.
    pub fn cut(&mut self, case: CaseId) -> Result<Option<SetAside>, StoreError> {
        let Ok(i) = self.quarantined.binary_search_by_key(&case, |q| q.case) else { return Ok(None) };
        let Some(q) = self.quarantined.get(i) else { return Ok(None) };
        let (log, at) = (q.log.clone(), Line { offset: q.bytes.start, number: q.line });
        let bytes = file_len(&log)?.saturating_sub(at.offset);
        CaseFile::new(log.clone()).set_aside(&self.dir, at)?;
        self.quarantined.remove(i);
        // The lines before the damaged one were intact; read the case again as open does.
        let state = self.state.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        // A repair reads the case once; nothing to keep decoded for a first command.
        match admit(&self.dir, state, case, log.clone(), self.max_line_bytes, &mut 0)? {
            Admitted::Quarantined(q) => self.quarantine(q),
            // A cut log ends after a complete line: nothing more to set aside.
            Admitted::Healthy(_) => {}
        }
        let aside = SetAside { case, torn: log.with_extension(TORN_EXT), log, line: at.number, bytes, pending: false };
        self.set_aside.retain(|a| a.case != case);
        self.set_aside.push(aside.clone());
        self.set_aside.sort_by_key(|a| a.case);
        Ok(Some(aside))
    }

    /// Puts the bytes set aside for a case (its side file, `<case id>.jsonl.torn`, as it
    /// is now) back at the end of its log, then removes the side file. `None` when the
    /// case has no side file.
    ///
    /// An operator's choice for bytes the store could not prove to be an acknowledged
    /// event, or that were cut by [`FileStore::cut`] and mended by hand. The bytes must
    /// continue the log exactly as an append would: whole lines, each passing its
    /// checksum (or a line written before checksums), in sequence after the case's
    /// last event. Otherwise nothing is written and the error names the side file's line
    /// that does not fit. It takes `&mut self`, like [`FileStore::cut`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Quarantined`] for a quarantined case (cut or repair it first);
    /// [`StoreError::Checksum`], [`StoreError::Corrupt`] or [`StoreError::Inconsistent`]
    /// naming the side file and its line when the bytes do not continue the log (a
    /// line without its newline is [`DecodeError::Truncated`]); [`StoreError::Io`] when a
    /// file cannot be read or written.
    pub fn restore(&mut self, case: CaseId) -> Result<Option<Appended>, StoreError> {
        self.check_quarantine(case)?;
        let file = self.file_or_new(case)?;
        let mut file = lock(&file);
        if let Some(torn) = file.pending_torn {
            file.set_aside(&self.dir, torn)?;
        }
        let side = file.path.with_extension(TORN_EXT);
        let bytes = match fs::read(&side) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&side, "read")(e)),
        };
        // Check everything before writing anything, against a copy of the index.
        let mut index = file.index.clone();
        let (mut events, mut lines) = (Vec::new(), Vec::new());
        let (mut offset, mut number) = (file.len, file.next_line);
        for (raw, side_line) in bytes.split_inclusive(|&b| b == b'\n').zip(1..) {
            let Some(content) = raw.strip_suffix(b"\n") else {
                let source = DecodeError::Truncated { line: side_line };
                return Err(StoreError::Corrupt { location: Location::file_line(side, side_line), source });
            };
            if content.len() > self.max_line_bytes {
                let source =
                    DecodeError::LineTooLong { line: side_line, bytes: content.len(), max: self.max_line_bytes };
                return Err(StoreError::Corrupt { location: Location::file_line(side, side_line), source });
            }
            match line_format::check(content, side_line) {
                Ok(None) => {}
                Ok(Some(event)) => {
                    index.push(case, &event).map_err(|source| StoreError::Inconsistent {
                        location: Location::file_line(&side, side_line),
                        source: Box::new(source),
                    })?;
                    lines.push(Line { offset, number });
                    events.push(event);
                }
                Err(damage) => return Err(damaged(&side, side_line, damage)),
            }
            offset = offset.saturating_add(raw.len() as u64);
            number = number.saturating_add(1);
        }
        file.write_raw(&self.dir, &bytes, self.syncing())?;
        file.lines.extend(lines);
        file.next_line = number;
        file.index = index;
        let version = file.index.version;
        drop(file);
        {
            let mut state = lock(&self.state);
            if version > 0 {
                state.cases.insert(case);
            }
            for event in events.iter().filter(|e| CrossIndex::indexes(e)) {
                state.cross.note(event);
            }
        }
        // The bytes are durable in the log; only now may the side file go.
        fs::remove_file(&side).map_err(io_error(&side, "remove"))?;
        sync_dir(&self.dir)?;
        self.set_aside.retain(|a| a.case != case);
        Ok(Some(Appended::new(version, events.len())))
    }

    fn quarantine(&mut self, q: Quarantined) {
        let at = self.quarantined.partition_point(|other| other.case < q.case);
        self.quarantined.insert(at, q);
    }
}

//! The file store's snapshots: one sidecar file per case, `<case id>.snapshot`, beside
//! its log and never mixed with it.
//!
//! A snapshot is written whole to a temporary file, synced, renamed over the sidecar and
//! the directory synced: a reader sees the old snapshot or the new one, never a mix. A
//! torn or garbled sidecar (a crash before the rename leaves only a temporary file, which
//! is ignored; a changed byte fails the snapshot's checksum) is handed to the repository
//! as it is, which refuses it and folds the log. Nothing here reads or writes a log.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{io_error, sync_dir};
use crate::case::Snapshot;
use crate::error::StoreError;
use crate::id::CaseId;

/// The sidecar's extension.
const SNAPSHOT_EXT: &str = "snapshot";

/// Tells apart the temporary files of writers in this process (a store owns its
/// directory, so no other process writes there).
static TEMP: AtomicU64 = AtomicU64::new(0);

fn path(dir: &Path, case: CaseId) -> PathBuf {
    dir.join(format!("{case}.{SNAPSHOT_EXT}"))
}

/// The kept snapshot of `case`, as stored; `None` when there is none.
pub(super) fn read(dir: &Path, case: CaseId) -> Result<Option<Snapshot>, StoreError> {
    let path = path(dir, case);
    match fs::read(&path) {
        Ok(bytes) => Ok(Some(Snapshot::from_bytes(bytes))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(&path, "read snapshot")(e)),
    }
}

/// The version the kept snapshot says it covers, reading only its header line (0 when
/// there is none or it does not parse; a header is short, so 4 KiB without a newline is
/// garbled).
fn kept_version(path: &Path) -> u64 {
    let Ok(file) = File::open(path) else { return 0 };
    let mut line = Vec::new();
    if BufReader::new(file).take(4096).read_until(b'\n', &mut line).is_err() {
        return 0;
    }
    Snapshot::from_bytes(line).version()
}

/// Keeps `snapshot` as `case`'s, atomically, unless the kept one covers as much.
pub(super) fn write(dir: &Path, case: CaseId, snapshot: &Snapshot) -> Result<(), StoreError> {
    let target = path(dir, case);
    if kept_version(&target) >= snapshot.version() {
        return Ok(());
    }
    let n = TEMP.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!("{case}.{SNAPSHOT_EXT}.{n}.tmp"));
    let written = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&temp)?;
        file.write_all(snapshot.as_bytes())?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(io_error(&temp, "write snapshot")(e));
    }
    if let Err(e) = fs::rename(&temp, &target) {
        let _ = fs::remove_file(&temp);
        return Err(io_error(&target, "rename snapshot")(e));
    }
    sync_dir(dir)
}

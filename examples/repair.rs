//! An operator's repair tool for a `FileStore` directory: lists what the store finds
//! damaged, shows the bytes, and repairs one case only when told to.
//!
//! ```text
//! cargo run --example repair -- DIR                  list the damage and show its bytes
//! cargo run --example repair -- DIR cut CASE         cut CASE's log before its damaged line
//! cargo run --example repair -- DIR restore CASE     put CASE's set-aside bytes back in its log
//! ```
//!
//! Stop the process that serves `DIR` first: the tool opens the store as that process
//! would (so it also sets aside torn tails, as any open does) and is refused with
//! `StoreError::Locked` while another store has the directory. `cut` moves the damaged
//! line and everything after it into `<case>.jsonl.torn` (no byte is lost, but those
//! events are no longer served and the next append takes their sequence numbers);
//! `restore` puts the side file's bytes back only if they continue the log exactly as
//! an append would, so mend them there first (from a backup). Then start the process
//! again. `cargo test --example repair` runs the tool's own tests.

use std::error::Error;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use caseledger::{CaseId, FileStore};

const USAGE: &str = "usage: repair DIR [cut CASE | restore CASE]";

/// How many bytes of a line or side file the listing shows.
const SHOWN: usize = 400;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args, &mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("repair: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String], out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let (dir, action) = match args {
        [dir] => (dir, None),
        [dir, verb, case] => (dir, Some((verb.as_str(), case.parse::<CaseId>()?))),
        _ => return Err(USAGE.into()),
    };
    let mut store = FileStore::open(dir)?;
    match action {
        None => list(&store, dir, out)?,
        Some(("cut", case)) => match store.cut(case)? {
            Some(aside) => writeln!(out, "cut: {aside}")?,
            None => writeln!(out, "case {case} is not quarantined: nothing cut")?,
        },
        Some(("restore", case)) => match store.restore(case)? {
            Some(restored) => {
                writeln!(out, "restored {} event(s): case {case} is at version {}", restored.written, restored.version)?
            }
            None => writeln!(out, "case {case} has no bytes set aside: nothing restored")?,
        },
        Some((verb, _)) => return Err(format!("unknown action {verb:?}; {USAGE}").into()),
    }
    Ok(())
}

/// Prints the store's report, then each finding's bytes and the command that repairs it.
fn list(store: &FileStore, dir: &str, out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let damage = store.damage();
    writeln!(out, "{damage}")?;
    for q in damage.quarantined {
        writeln!(out, "\nline {} of {}: {}", q.line, q.log.display(), shown(&q.read_line()?))?;
        let after = fs::metadata(&q.log)?.len().saturating_sub(q.bytes.end);
        writeln!(
            out,
            "  to cut the log before it (this line and the {after} bytes after it go to the side file, and \
             are no longer served): repair {dir} cut {}",
            q.case
        )?;
    }
    // Side files stay until an operator restores or removes them, so those that
    // earlier opens wrote are shown too.
    let mut sides: Vec<(CaseId, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if let Some(case) = name.strip_suffix(".jsonl.torn").and_then(|c| c.parse().ok()) {
            sides.push((case, path));
        }
    }
    sides.sort();
    for (case, side) in sides {
        let earlier =
            if damage.set_aside.iter().any(|a| a.torn == side) { "" } else { " (set aside by an earlier open)" };
        writeln!(out, "\n{}{earlier}: {}", side.display(), shown(&fs::read(&side)?))?;
        writeln!(out, "  to put these bytes back (only if they continue the log): repair {dir} restore {case}")?;
    }
    Ok(())
}

/// Bytes as printable ASCII (`\n`, `\x00` for the rest), the first [`SHOWN`] of them.
fn shown(bytes: &[u8]) -> String {
    let head = bytes.get(..SHOWN).unwrap_or(bytes);
    let mut text = head.escape_ascii().to_string();
    if head.len() < bytes.len() {
        text.push_str(&format!("… ({} bytes in all)", bytes.len()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use caseledger::{event::Visibility, Actor, Case, Command, Event, Opening, Rules, Staff, Store};
    use time::macros::datetime;

    fn events(case: CaseId) -> Vec<Event> {
        let t = datetime!(2026-11-23 09:00 UTC);
        let rules = Rules::default();
        let ana = Staff::new("ana", "software");
        let opened =
            rules.open(case, Opening::new("cust-1", "my laptop works", ana.clone()), &Actor::customer("cust-1"), t);
        let opened = opened.unwrap();
        let note = Command::AddNote { text: "called back".into(), visibility: Visibility::Internal };
        let noted = rules.decide(&Case::from_opened(&opened).unwrap(), note, &Actor::Staff(ana), t).unwrap();
        [vec![opened], noted].concat()
    }

    fn repair(args: &[&str]) -> Result<String, String> {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let mut out = Vec::new();
        run(&args, &mut out).map_err(|e| e.to_string())?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn lists_the_damage_cuts_only_when_told_and_restores_mended_bytes() {
        let dir = std::env::temp_dir().join(format!("caseledger-repair-example-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let case = CaseId::new_v7(datetime!(2026-11-23 09:00 UTC), [3; 10]);
        let events = events(case);
        FileStore::open(&dir).unwrap().append(case, 0, &events).unwrap();
        let log = dir.join(format!("{case}.jsonl"));
        let original = fs::read_to_string(&log).unwrap();
        fs::write(&log, original.replace("called back", "called bac!")).unwrap();
        let d = dir.to_str().unwrap();

        let listed = repair(&[d]).unwrap();
        assert!(listed.starts_with(&format!("case {case} is quarantined from line 2")), "{listed}");
        assert!(listed.contains("called bac!"), "the damaged bytes are shown: {listed}");
        assert!(listed.contains(&format!("repair {d} cut {case}")), "{listed}");
        assert_eq!(repair(&[d]).unwrap(), listed, "listing changes nothing");

        assert_eq!(repair(&[d, "cut"]), Err(USAGE.to_owned()));
        assert!(repair(&[d, "mend", &case.to_string()]).unwrap_err().starts_with("unknown action \"mend\""));
        let cut = repair(&[d, "cut", &case.to_string()]).unwrap();
        assert!(cut.starts_with(&format!("cut: case {case}: ")), "{cut}");
        let listed = repair(&[d]).unwrap();
        assert!(listed.contains(&format!("repair {d} restore {case}")) && listed.contains("called bac!"), "{listed}");
        // Restoring the damaged bytes unchanged is refused.
        assert!(repair(&[d, "restore", &case.to_string()]).unwrap_err().contains("checksum mismatch"));

        // The operator mends the line in the side file, then restores it.
        let side = dir.join(format!("{case}.jsonl.torn"));
        fs::write(&side, format!("{}\n", original.lines().nth(1).unwrap())).unwrap();
        let restored = repair(&[d, "restore", &case.to_string()]).unwrap();
        assert_eq!(restored, format!("restored 1 event(s): case {case} is at version 2\n"));
        assert_eq!(repair(&[d]).unwrap(), "no damage\n");
        assert_eq!(FileStore::open(&dir).unwrap().read(case).unwrap(), events);
        fs::remove_dir_all(&dir).unwrap();
    }
}

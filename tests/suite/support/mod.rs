//! What the test modules share, defined once: the people and the moment most tests start
//! at, a desk where a story happens (rules, one case's ledger and a clock that moves
//! forward a few minutes with every step, so stories read as a sequence of things people
//! do), command shorthands, the hostile-input checks the fuzzers share, the PostgreSQL
//! test databases, a PostgreSQL cluster of a test's own, and the fault tests' seeded
//! random moments.

#[cfg(feature = "postgres")]
pub mod cluster;
pub mod hostile;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod seeded;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use caseledger::{event::Visibility, Actor, CaseId, Command, Error, Event, Ledger, Opening, Rules, Staff};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// When the tests' cases open.
pub const T0: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

/// ana of software, the owner of most test cases.
pub fn ana() -> Staff {
    Staff::new("ana", "software")
}

/// bo of hardware, who cases are handed to.
pub fn bo() -> Staff {
    Staff::new("bo", "hardware")
}

/// An internal note.
pub fn note(text: impl Into<String>) -> Command {
    Command::AddNote { text: text.into(), visibility: Visibility::Internal }
}

/// A case id numbered `n`, opened at [`T0`].
pub fn case_id(n: u32) -> CaseId {
    let mut random = [0u8; 10];
    random[..4].copy_from_slice(&n.to_be_bytes());
    CaseId::new_v7(T0, random)
}

/// A fresh directory under the system temp dir, named for the test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// An empty directory (not yet created) for the test `name` of `area`.
    pub fn new(area: &str, name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("caseledger-{area}-{}-{name}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        Self(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Where the file store keeps the log of `case` in `dir`.
pub fn log_path(dir: &Path, case: CaseId) -> PathBuf {
    dir.join(format!("{case}.jsonl"))
}

/// Appends `bytes` to the file at `path` behind the store's back, as a crash, a disk or
/// another program would leave them.
pub fn append_raw(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    std::fs::OpenOptions::new().append(true).open(path).unwrap().write_all(bytes).unwrap();
}

pub struct Desk {
    pub rules: Rules,
    pub ledger: Ledger,
    pub now: OffsetDateTime,
}

/// The customer of every [`Desk`] case: `cust-1042`.
pub fn customer() -> Actor {
    Actor::customer("cust-1042")
}

impl Desk {
    /// The customer opens a case asking for `outcome`, owned by `owner`.
    pub fn open(outcome: &str, owner: &Staff) -> Self {
        Self::open_under(Rules::default(), outcome, owner)
    }

    pub fn open_under(rules: Rules, outcome: &str, owner: &Staff) -> Self {
        Self::open_case(rules, CaseId::new_v7(T0, [1; 10]), outcome, owner)
    }

    pub fn open_case(rules: Rules, id: CaseId, outcome: &str, owner: &Staff) -> Self {
        let opening = Opening::new("cust-1042", outcome, owner.clone());
        let ledger =
            Ledger::open(&rules, id, opening, &Actor::customer("cust-1042"), T0).expect("the opening is valid");
        Self { rules, ledger, now: T0 }
    }

    /// `by` does `command` five minutes after the last step.
    pub fn act(&mut self, by: impl Into<Actor>, command: Command) -> Result<Vec<Event>, Error> {
        self.now += Duration::minutes(5);
        let by = by.into();
        self.ledger.execute(&self.rules, command, &by, self.now).map(<[Event]>::to_vec)
    }

    /// Like `act`, for steps the story expects to be accepted.
    pub fn ok(&mut self, by: impl Into<Actor>, command: Command) {
        let by = by.into();
        if let Err(err) = self.act(by.clone(), command.clone()) {
            panic!("{by} could not {command:?}: {err}");
        }
    }

    /// Like `act`, for steps the story expects to be refused; returns the refusal and
    /// checks that nothing changed.
    pub fn refused(&mut self, by: impl Into<Actor>, command: Command) -> caseledger::Refusal {
        let before = self.ledger.clone();
        match self.act(by, command) {
            Err(Error::Refused(refusal)) => {
                assert_eq!(self.ledger, before, "a refused command changes nothing");
                refusal
            }
            Err(other) => panic!("expected a refusal, got {other}"),
            Ok(events) => panic!("expected a refusal, got {events:?}"),
        }
    }

    pub fn pass(&mut self, duration: Duration) {
        self.now += duration;
    }

    pub fn case(&self) -> &caseledger::Case {
        self.ledger.case()
    }
}

pub fn staff(id: &str, department: &str) -> Staff {
    Staff::new(id, department)
}

/// Commands in a word.
pub mod cmd {
    use caseledger::{
        event::{Channel, Ending, Visibility},
        Command, Staff,
    };

    pub fn transfer(to: &Staff, note: &str) -> Command {
        Command::Transfer { to: to.clone(), note: note.into() }
    }
    pub fn escalate(to: &Staff, reason: &str) -> Command {
        Command::Escalate { to: to.clone(), reason: reason.into() }
    }
    pub fn open_work(item: &str, department: &str, title: &str) -> Command {
        Command::OpenWork { item: item.into(), department: department.into(), title: title.into() }
    }
    pub fn complete(item: &str, note: &str) -> Command {
        Command::CompleteWork { item: item.into(), note: note.into() }
    }
    pub fn drop_work(item: &str, reason: &str) -> Command {
        Command::DropWork { item: item.into(), reason: reason.into() }
    }
    pub fn fact(name: &str, value: &str) -> Command {
        Command::RecordFact { name: name.into(), value: value.into(), visibility: Visibility::Customer }
    }
    pub fn internal_fact(name: &str, value: &str) -> Command {
        Command::RecordFact { name: name.into(), value: value.into(), visibility: Visibility::Internal }
    }
    pub use super::note as internal_note;
    pub fn customer_note(text: &str) -> Command {
        Command::AddNote { text: text.into(), visibility: Visibility::Customer }
    }
    pub fn contact(channel: Channel, message: &str) -> Command {
        Command::ContactCustomer { channel, message: message.into() }
    }
    pub fn reply(channel: Channel, message: &str) -> Command {
        Command::RecordReply { channel, message: message.into() }
    }
    pub fn unreachable(channel: Channel, note: &str) -> Command {
        Command::RecordReachability { channel, reachable: false, note: note.into() }
    }
    pub fn confirm(statement: &str) -> Command {
        Command::ConfirmOutcome { statement: statement.into() }
    }
    /// Staff reporting a confirmation they heard from the customer on `channel`.
    pub fn confirm_reported(channel: Channel, statement: &str) -> Command {
        Command::ReportConfirmation { channel, statement: statement.into() }
    }
    /// Staff reporting a dispute they heard from the customer on `channel`.
    pub fn dispute_reported(channel: Channel, statement: &str) -> Command {
        Command::ReportDispute { channel, statement: statement.into() }
    }
    /// Staff recording a live conversation with the customer.
    pub fn conversation(channel: Channel, summary: &str) -> Command {
        Command::RecordConversation { channel, summary: summary.into() }
    }
    pub fn dispute(statement: &str) -> Command {
        Command::DisputeOutcome { statement: statement.into() }
    }
    pub fn resolve(summary: &str) -> Command {
        Command::Resolve { summary: summary.into() }
    }
    pub fn close(ending: Ending, evidence: &str) -> Command {
        Command::CloseUnresolved { ending, evidence: evidence.into() }
    }
    pub fn reopen(reason: &str) -> Command {
        Command::Reopen { reason: reason.into() }
    }
    pub fn link(incident: &str) -> Command {
        Command::LinkIncident { incident: incident.into() }
    }
    pub fn ask_confirmation(reason: &str) -> Command {
        Command::RequestConfirmation { reason: reason.into() }
    }
}

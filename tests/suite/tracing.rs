//! One span and one event per command from the repositories (feature `tracing`), with
//! the case, the command, the result code, the attempts and the time spent in the store;
//! reads of a case report nothing.

use std::io::Write;
use std::sync::{Arc, Mutex};

use caseledger::{Actor, AsyncRepository, CaseRequest, Command, MemoryStore, Opening, Repository, Rules};
use tracing_subscriber::fmt::MakeWriter;

use crate::support::{ana, case_id, note, T0};

/// Everything the fmt subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap().lines().map(str::to_owned).collect()
    }
}

fn subscriber(out: &Captured) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt().with_writer(out.clone()).with_ansi(false).without_time().finish()
}

#[test]
fn each_command_logs_one_line_with_case_command_code_attempts_and_store_time() {
    let out = Captured::default();
    let repo = Repository::new(MemoryStore::new(), Rules::default());
    let case = case_id(1);
    tracing::subscriber::with_default(subscriber(&out), || {
        repo.open(case, Opening::new("cust-7", "my laptop works", ana()), &Actor::customer("cust-7"), T0).unwrap();
        repo.execute(case, note("BIOS 1.9 tried"), &Actor::Staff(ana()), T0).unwrap();
        let resolve = Command::Resolve { summary: "fixed".into() };
        repo.execute(case, resolve, &Actor::Staff(ana()), T0).unwrap_err();
        repo.run(CaseRequest::new(case, note("stale"), ana(), T0).expect_version(1)).unwrap_err();
        repo.case(case).unwrap();
        repo.refresh(case).unwrap();
    });
    let lines = out.lines();
    assert_eq!(lines.len(), 4, "one line per command, none for reads: {lines:#?}");
    let expect = [
        ("open", "ok", 1),
        ("add_note", "ok", 1),
        ("resolve", "outcome_unmet", 0),
        ("add_note", "precondition_failed", 0),
    ];
    for (line, (command, code, attempts)) in lines.iter().zip(expect) {
        assert!(line.contains(&format!("case={case}")), "{line}");
        assert!(
            line.contains(&format!("command=\"{command}\"")) || line.contains(&format!("command={command}")),
            "{line}"
        );
        assert!(line.contains(&format!("code=\"{code}\"")) || line.contains(&format!("code={code}")), "{line}");
        assert!(line.contains(&format!("attempts={attempts}")), "{line}");
        assert!(line.contains("store_wait_us=") && line.contains("elapsed_us="), "{line}");
        assert!(line.contains("already_done=false"), "{line}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_async_repository_reports_the_same_and_counts_attempts_after_a_conflict() {
    let out = Captured::default();
    let _guard = tracing::subscriber::set_default(subscriber(&out));
    let repo = AsyncRepository::new(MemoryStore::new(), Rules::default());
    let case = case_id(2);
    repo.open(case, Opening::new("cust-7", "my laptop works", ana()), &Actor::customer("cust-7"), T0).await.unwrap();
    // Another writer appends behind the repository's back: its first append conflicts,
    // it catches up and appends again.
    let cached = repo.case(case).await.unwrap();
    let theirs = Rules::default().decide(&cached, note("first"), &Actor::Staff(ana()), T0).unwrap();
    caseledger::Store::append(repo.store(), case, 1, &theirs).unwrap();
    repo.execute(case, note("second"), &Actor::Staff(ana()), T0).await.unwrap();
    // A keyed request sent twice: the second is answered from the first, and says so.
    let key = caseledger::IdempotencyKey::new("req-1").unwrap();
    let keyed = CaseRequest::new(case, caseledger::command::Request::new(note("keyed")).key(key), ana(), T0);
    repo.run(keyed.clone()).await.unwrap();
    repo.run(keyed).await.unwrap();
    let lines = out.lines();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(lines[3].contains("already_done=true") && lines[3].contains("attempts=1"), "{}", lines[3]);
    assert!(lines[1].contains("attempts=2"), "{}", lines[1]);
    assert!(lines[1].contains("code=\"ok\"") || lines[1].contains("code=ok"), "{}", lines[1]);
}

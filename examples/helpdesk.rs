//! Story S1, "nobody owns my problem", played through caseledger's public API.
//!
//! A laptop shuts down. Software, hardware, parts and warranty each do their piece of
//! work; when every piece is closed the laptop still fails, and "resolved" is refused.
//! Only the customer's confirmation lets the owner resolve the case. Prints the handoff
//! brief, the unified timeline, the customer's view and a Mermaid diagram.
//!
//! The case lives in the embedded default store, a [`FileStore`] directory (JSON Lines,
//! one file per case, fsynced before each command is acknowledged), behind one shared
//! [`Repository`]; the timeline is read back from what is stored.
//!
//! Run with `cargo run --example helpdesk` (the store goes to a fresh directory under
//! the system's temporary directory, whose path is printed).

use caseledger::{
    event::{Channel, Visibility},
    Actor, CaseId, Command, Error, FileStore, Opening, Repository, Rules, Staff, Store, Timeline,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// A desk that moves the clock forward with every step and narrates refusals.
struct Desk {
    repo: Repository<FileStore>,
    case: CaseId,
    now: OffsetDateTime,
}

impl Desk {
    fn step(&mut self, minutes: i64, by: &Staff, command: Command) -> Result<(), Error> {
        self.as_actor(minutes, &Actor::Staff(by.clone()), command)
    }

    fn as_actor(&mut self, minutes: i64, by: &Actor, command: Command) -> Result<(), Error> {
        self.now += Duration::minutes(minutes);
        self.repo.execute(self.case, command, by, self.now)?;
        Ok(())
    }
}

fn main() -> Result<(), Error> {
    let ana = Staff::new("ana", "software");
    let bo = Staff::new("bo", "hardware");
    let pia = Staff::new("pia", "parts");
    let wes = Staff::new("wes", "warranty");

    let opened_at = datetime!(2026-11-23 09:00 UTC);
    let rules = Rules::default();
    // The host supplies time and randomness; a fixed seed keeps this demo reproducible.
    let id = CaseId::new_v7(opened_at, *b"helpdesk!!");
    let opening = Opening::new("cust-1042", "my laptop works without shutting down", ana.clone());
    // The host owns the directory; a fresh one per run keeps the demo repeatable.
    let dir = std::env::temp_dir().join(format!("caseledger-helpdesk-{}", std::process::id()));
    let repo = Repository::new(FileStore::open(&dir)?, rules);
    repo.open(id, opening, &Actor::customer("cust-1042"), opened_at)?;
    let mut desk = Desk { repo, case: id, now: opened_at };
    println!("(store: {})", dir.display());

    println!("== Case {id} opened for customer cust-1042, owner {ana}\n");

    let internal = Visibility::Internal;
    desk.step(
        5,
        &ana,
        Command::RecordFact {
            name: "serial number".into(),
            value: "SN-77-31".into(),
            visibility: Visibility::Customer,
        },
    )?;
    desk.step(
        1,
        &ana,
        Command::OpenWork { item: "SW-1".into(), department: "software".into(), title: "update the BIOS".into() },
    )?;
    desk.step(
        30,
        &ana,
        Command::CompleteWork { item: "SW-1".into(), note: "BIOS 1.9 installed; still shuts down under load".into() },
    )?;
    desk.step(
        2,
        &ana,
        Command::AddNote {
            text: "Customer already reset the BIOS twice, do not ask again".into(),
            visibility: internal,
        },
    )?;
    desk.step(
        3,
        &ana,
        Command::Transfer { to: bo.clone(), note: "Not software: shutdowns under load, suspect the fan".into() },
    )?;
    desk.step(
        20,
        &bo,
        Command::OpenWork {
            item: "HW-1".into(),
            department: "hardware".into(),
            title: "diagnose the shutdowns".into(),
        },
    )?;
    desk.step(
        10,
        &pia,
        Command::OpenWork { item: "PT-1".into(), department: "parts".into(), title: "ship a replacement fan".into() },
    )?;
    desk.step(
        10,
        &wes,
        Command::OpenWork { item: "WA-1".into(), department: "warranty".into(), title: "check warranty cover".into() },
    )?;
    desk.step(60, &wes, Command::CompleteWork { item: "WA-1".into(), note: "covered until 2027-06".into() })?;
    desk.step(600, &pia, Command::CompleteWork { item: "PT-1".into(), note: "fan delivered".into() })?;
    desk.step(120, &bo, Command::CompleteWork { item: "HW-1".into(), note: "fan replaced".into() })?;
    desk.step(
        5,
        &pia,
        Command::ContactCustomer {
            channel: Channel::Email,
            message: "Did the new fan arrive? Can I close your ticket?".into(),
        },
    )?;

    println!("Every department's work item is closed ({} open).", desk.repo.case(id)?.open_work_count());
    println!("hardware tries to resolve the case...");
    match desk.step(5, &bo, Command::Resolve { summary: "all work items completed".into() }) {
        Err(Error::Refused(refusal)) => println!("  refused: {refusal}\n"),
        other => println!("  unexpected: {other:?}\n"),
    }

    let customer = Actor::customer("cust-1042");
    desk.as_actor(
        90,
        &customer,
        Command::RecordReply {
            channel: Channel::Email,
            message: "The fan is in, but it still shuts down after an hour".into(),
        },
    )?;
    desk.step(
        30,
        &bo,
        Command::OpenWork { item: "HW-2".into(), department: "hardware".into(), title: "replace the mainboard".into() },
    )?;
    desk.step(1440, &bo, Command::CompleteWork { item: "HW-2".into(), note: "mainboard replaced".into() })?;
    desk.step(
        600,
        &bo,
        Command::ContactCustomer {
            channel: Channel::Phone,
            message: "How is the laptop doing since the new mainboard?".into(),
        },
    )?;
    desk.as_actor(
        2,
        &customer,
        Command::ConfirmOutcome { statement: "Ran all day without a shutdown. It works!".into() },
    )?;
    desk.step(3, &bo, Command::Resolve { summary: "mainboard replaced; the customer confirmed".into() })?;
    println!("After the customer's confirmation the owner resolves it: status {}.\n", desk.repo.case(id)?.status());

    println!("== Handoff brief (what the next person reads instead of asking again)\n");
    println!("{}", desk.repo.case(id)?.brief());
    // Every view is read back from the stored log, as another department's process would.
    let stored = desk.repo.store().read(id)?;
    println!("== Unified timeline (every department reads this; {} events stored)\n", stored.len());
    println!("{}", Timeline::staff(&stored));
    println!("== The customer's view (no internal notes)\n");
    println!("{}", Timeline::customer(&stored));
    println!("== Mermaid sequence diagram (paste into any Mermaid viewer)\n");
    println!("{}", Timeline::staff(&stored).to_mermaid());
    drop(desk);
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

//! A small CRM backend embedding caseledger over the file store.
//!
//! The host keeps its own customer table (name, e-mail, phone) and its own clock; the
//! library keeps each customer's problems as logs in a directory. The example opens
//! several cases, lets two service desks write to the same case at the same moment (one
//! gets the conflict and retries), simulates a power cut in the middle of a write, and
//! restarts, replaying everything from disk.
//!
//! Run with `cargo run --example crm_embed`.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::thread;

use caseledger::{
    Actor, CaseId, Channel, Command, Error, FileStore, Opening, Repository, Rules, Staff, Store, StoreError, Timeline,
    Visibility,
};
use time::OffsetDateTime;

/// The host's own customer record; the library only ever sees the customer number.
struct Customer {
    name: &'static str,
    email: &'static str,
    phone: &'static str,
}

/// The host's clock. The library never reads one; it is handed times.
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// The host derives case ids from its ticket numbers (any unique 10 bytes will do).
fn case_id(ticket: u32) -> CaseId {
    let mut random = [0u8; 10];
    random[..4].copy_from_slice(&ticket.to_be_bytes());
    random[4..8].copy_from_slice(&std::process::id().to_be_bytes());
    CaseId::new_v7(now(), random)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("caseledger-crm-embed-{}", std::process::id()));
    let result = run(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let customers = BTreeMap::from([
        ("C-1001", Customer { name: "Dana Reyes", email: "dana@example.com", phone: "+1 555 0101" }),
        ("C-1002", Customer { name: "Sam Okafor", email: "sam@example.com", phone: "+1 555 0102" }),
    ]);
    let rules = Arc::new(Rules::default());
    let ana = Staff::new("ana", "software");
    let bo = Staff::new("bo", "hardware");
    let cy = Staff::new("cy", "billing");

    println!("== day 1: store in {}", dir.display());
    let store = Arc::new(FileStore::open(dir)?);
    let mut desk = Repository::new(Arc::clone(&store), Arc::clone(&rules));

    let laptop = case_id(1);
    let router = case_id(2);
    let bill = case_id(3);
    desk.open(laptop, Opening::new("C-1001", "my laptop boots again", ana.clone()), &Actor::Customer, now())?;
    desk.open(router, Opening::new("C-1002", "my internet works", bo.clone()), &Actor::Customer, now())?;
    desk.open(bill, Opening::new("C-1001", "I am charged only once", cy.clone()), &Actor::Customer, now())?;

    // Facts the host already knows are recorded once on the case (S3).
    let dana = &customers["C-1001"];
    let email =
        Command::RecordFact { name: "e-mail".into(), value: dana.email.into(), visibility: Visibility::Customer };
    desk.execute(laptop, email, &Actor::Staff(ana.clone()), now())?;
    let work =
        Command::OpenWork { item: "SW-1".into(), department: "software".into(), title: "reflash the BIOS".into() };
    desk.execute(laptop, work, &Actor::Staff(ana.clone()), now())?;

    // Two desks write to the laptop case at the same moment, each with its own repository
    // (as two request handlers would), sharing the store.
    println!("== two desks write to the laptop case at once");
    let both_loaded = Arc::new(Barrier::new(2));
    let writers: Vec<_> = [("phone desk", "Dana called: it beeps three times"), ("chat desk", "Dana sent a photo")]
        .into_iter()
        .map(|(desk_name, text)| {
            let mut repo = Repository::new(Arc::clone(&store), Arc::clone(&rules));
            let both_loaded = Arc::clone(&both_loaded);
            let by = Actor::Staff(ana.clone());
            thread::spawn(move || -> Result<u64, Error> {
                repo.case(laptop)?;
                both_loaded.wait();
                let command = Command::AddNote { text: text.into(), visibility: Visibility::Internal };
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    match repo.execute(laptop, command.clone(), &by, now()) {
                        Err(Error::Store(conflict @ StoreError::Conflict { .. })) if attempts < 5 => {
                            println!("  {desk_name}: {conflict}; deciding again");
                        }
                        Err(err) => return Err(err),
                        Ok(events) => {
                            println!("  {desk_name}: stored as event {} (attempt {attempts})", events[0].seq);
                            return Ok(events[0].seq);
                        }
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().map_err(|_| "a writer thread panicked")??;
    }

    let sam = &customers["C-1002"];
    let contact = Command::ContactCustomer { channel: Channel::Phone, message: format!("calling {}", sam.phone) };
    desk.execute(router, contact, &Actor::Staff(bo.clone()), now())?;

    // The power fails while the night batch is writing: half a line reaches the disk.
    let log = dir.join(format!("{router}.jsonl"));
    let mut bytes = std::fs::read(&log)?;
    bytes.extend_from_slice(br#"{"schema":1,"case":"#);
    std::fs::write(&log, bytes)?;
    drop(desk);
    drop(store);

    println!("== day 2: restart, replaying from disk");
    let store = FileStore::open(dir)?;
    for aside in store.set_aside() {
        println!("  set aside a torn write: {} bytes at line {} of case {}", aside.bytes, aside.line, aside.case);
    }
    let mut desk = Repository::new(store, rules);
    for case in desk.store().cases()? {
        let case = desk.case(case)?;
        println!(
            "  case {} v{}: \"{}\", owner {}, {}",
            case.id(),
            case.version(),
            case.outcome(),
            case.owner(),
            case.status()
        );
    }

    // Dana calls again: the rep sees all her cases before saying a word (S3).
    let customer = "C-1001";
    println!("== {} ({customer}) is on the line; her cases:", customers[customer].name);
    for case in desk.customer_cases(&customer.into())? {
        println!("  - \"{}\": {}, {} open work item(s)", case.outcome(), case.status(), case.open_work_count());
    }
    println!("== laptop timeline, as every department reads it:");
    print!("{}", Timeline::staff(&desk.store().read(laptop)?));
    Ok(())
}

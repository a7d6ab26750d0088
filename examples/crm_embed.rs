//! A small CRM backend embedding caseledger over the file store.
//!
//! The host keeps its own customer table (name, e-mail, phone) and its own clock; the
//! library keeps each customer's problems as logs in a directory. The example opens
//! several cases, serves eight request handlers (threads) through one shared repository
//! with no mutex around it (writers on one case race and retry inside the repository; an
//! If-Match writer is told when the case moved on), simulates a power cut in the middle
//! of a write, and restarts, replaying everything from disk.
//!
//! Run with `cargo run --example crm_embed`.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::thread;

use caseledger::{
    error::RequestError,
    event::{Channel, Visibility},
    Actor, CaseId, CaseRequest, Command, Error, FileStore, Opening, Repository, Rules, Staff, Store, Timeline,
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
    // One repository for the whole process, shared by every request handler: no mutex
    // around it. It caches up to 1,000 folded cases; the least recently used leave.
    let store = Arc::new(FileStore::open(dir)?);
    let desk = Arc::new(Repository::new(Arc::clone(&store), Arc::clone(&rules)).with_capacity(1_000));

    let laptop = case_id(1);
    let router = case_id(2);
    let bill = case_id(3);
    desk.open(laptop, Opening::new("C-1001", "my laptop boots again", ana.clone()), &Actor::customer("C-1001"), now())?;
    desk.open(router, Opening::new("C-1002", "my internet works", bo.clone()), &Actor::customer("C-1002"), now())?;
    desk.open(bill, Opening::new("C-1001", "I am charged only once", cy.clone()), &Actor::customer("C-1001"), now())?;

    // Facts the host already knows are recorded once on the case (S3).
    let dana = &customers["C-1001"];
    let email =
        Command::RecordFact { name: "e-mail".into(), value: dana.email.into(), visibility: Visibility::Customer };
    desk.execute(laptop, email, &Actor::Staff(ana.clone()), now())?;
    let work =
        Command::OpenWork { item: "SW-1".into(), department: "software".into(), title: "reflash the BIOS".into() };
    desk.execute(laptop, work, &Actor::Staff(ana.clone()), now())?;

    // Eight request handlers (threads) share the one repository. Six write notes to the
    // three cases at the same moment: those on one case race, the store lets one append
    // first, and the others catch up and decide again inside `execute`. The two on the
    // router case pass the version their screen showed (HTTP If-Match): the one that
    // loses the race is told the case moved on, instead of writing over news it never saw.
    println!("== eight handlers, one repository");
    let start = Arc::new(Barrier::new(8));
    let seen = desk.case(router)?.version();
    let jobs: Vec<(&str, CaseId, &str, Option<u64>)> = vec![
        ("phone desk", laptop, "Dana called: it beeps three times", None),
        ("chat desk", laptop, "Dana sent a photo of the screen", None),
        ("mail desk", laptop, "Dana forwarded the shop's receipt", None),
        ("billing", bill, "refund of the double charge requested", None),
        ("billing night", bill, "bank confirmed one charge is pending only", None),
        ("field team", router, "line test: noise on the copper pair", Some(seen)),
        ("field lead", router, "booked an engineer for Thursday", Some(seen)),
        ("reporting", router, "", None),
    ];
    let handlers: Vec<_> = jobs
        .into_iter()
        .map(|(handler, case, text, if_match)| {
            let desk = Arc::clone(&desk);
            let start = Arc::clone(&start);
            let by = Actor::Staff(if case == router { bo.clone() } else { ana.clone() });
            thread::spawn(move || -> Result<String, Error> {
                start.wait();
                if text.is_empty() {
                    // A reader: a snapshot, never blocking the writers.
                    let case = desk.case(case)?;
                    return Ok(format!("{handler}: read case at version {}", case.version()));
                }
                let command = Command::AddNote { text: text.into(), visibility: Visibility::Internal };
                let mut request = CaseRequest::new(case, command, by, now());
                if let Some(version) = if_match {
                    request = request.expect_version(version);
                }
                match desk.run(request) {
                    Ok(done) => Ok(format!("{handler}: stored as event {}", done.version)),
                    Err(Error::Request(stale @ RequestError::PreconditionFailed { .. })) => {
                        Ok(format!("{handler}: 412, {stale}"))
                    }
                    Err(err) => Err(err),
                }
            })
        })
        .collect();
    for handler in handlers {
        println!("  {}", handler.join().map_err(|_| "a handler thread panicked")??);
    }
    println!("  laptop at version {}, {} cases cached", desk.case(laptop)?.version(), desk.core().cached());

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
    let desk = Repository::new(store, rules);
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

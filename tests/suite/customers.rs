//! A customer actor is someone (issue 18, item 5): the case's own customer acts and
//! reads as the customer; any other customer is refused with its own code and sees
//! nothing; a log written before customer actors were named reads with each of them
//! named after the case's customer.

use caseledger::{
    codec::{decode_log, encode_log},
    command::Request,
    error::ErrorCategory,
    event::Visibility,
    timeline::View,
    Actor, CaseId, CaseRequest, Command, Error, Event, IdempotencyKey, Ledger, MemoryStore, Opening, Refusal,
    Repository, Rules, Timeline,
};

use crate::support::{ana, case_id, note, T0};

fn laptop() -> Opening {
    Opening::new("cust-7", "my laptop works", ana())
}

#[test]
fn a_customer_who_is_not_the_cases_customer_is_refused_with_its_own_code() {
    let rules = Rules::default();
    let mine = Actor::customer("cust-7");
    let stranger = Actor::customer("cust-8");
    let mut ledger = Ledger::open(&rules, CaseId::new_v7(T0, [7; 10]), laptop(), &mine, T0).unwrap();

    let reply = Command::RecordReply { channel: caseledger::event::Channel::Email, message: "still broken".into() };
    let refused = ledger.execute(&rules, reply.clone(), &stranger, T0).unwrap_err();
    let Error::Refused(refusal) = refused else { panic!("not a refusal: {refused}") };
    assert_eq!(refusal, Refusal::OtherCustomer { customer: "cust-8".into() });
    assert_eq!(refusal.code(), "other_customer");
    assert_eq!(refusal.category(), ErrorCategory::NotAllowed);
    assert_eq!(refusal.category().http_status(), 403);
    assert_eq!(ledger.case().version(), 1, "nothing recorded");

    // The case's own customer, and staff, go on as before.
    ledger.execute(&rules, reply, &mine, T0).unwrap();
    ledger.execute(&rules, note("called back"), &Actor::Staff(ana()), T0).unwrap();
    assert_eq!(ledger.case().version(), 3);
    assert_eq!(ledger.events()[1].by, mine, "the event names who it was");

    // Nor may a customer open a case for someone else.
    let err = rules.open(CaseId::new_v7(T0, [8; 10]), laptop(), &stranger, T0).unwrap_err();
    assert_eq!(err, Refusal::OtherCustomer { customer: "cust-8".into() });
}

#[test]
fn a_stranger_reusing_the_customers_idempotency_key_is_refused_not_answered() {
    let repo = Repository::new(MemoryStore::new(), Rules::default());
    let case = case_id(1);
    repo.open(case, laptop(), &Actor::customer("cust-7"), T0).unwrap();
    let key = IdempotencyKey::new("reply-1").unwrap();
    let confirm = Command::ConfirmOutcome { statement: "it works".into() };
    let first =
        repo.run(CaseRequest::new(case, confirm.clone(), Actor::customer("cust-7"), T0).key(key.clone())).unwrap();
    let again =
        repo.run(CaseRequest::new(case, confirm.clone(), Actor::customer("cust-7"), T0).key(key.clone())).unwrap();
    assert!(again.already_done && again.events == first.events);

    let err = repo.run(CaseRequest::new(case, confirm, Actor::customer("cust-8"), T0).key(key)).unwrap_err();
    assert!(matches!(err, Error::Refused(Refusal::OtherCustomer { .. })), "{err}");
}

#[test]
fn views_for_a_customer_are_built_from_who_they_are() {
    let rules = Rules::default();
    let mine = Actor::customer("cust-7");
    let mut ledger = Ledger::open(&rules, CaseId::new_v7(T0, [7; 10]), laptop(), &mine, T0).unwrap();
    let internal = Command::AddNote { text: "suspect the BIOS".into(), visibility: Visibility::Internal };
    ledger.execute(&rules, internal, &Actor::Staff(ana()), T0).unwrap();
    let case = ledger.case();

    assert_eq!(View::for_reader(case, &mine), Ok(View::Customer));
    assert_eq!(View::for_reader(case, &Actor::Staff(ana())), Ok(View::Staff));
    assert_eq!(View::for_reader(case, &Actor::System), Ok(View::Staff));
    let theirs = Timeline::for_reader(case, &mine, ledger.events()).unwrap();
    assert_eq!(theirs, Timeline::customer(ledger.events()));
    assert!(!theirs.to_string().contains("BIOS"), "no internal note for the customer");
    let stranger = Timeline::for_reader(case, &Actor::customer("cust-8"), ledger.events());
    assert_eq!(stranger, Err(Refusal::OtherCustomer { customer: "cust-8".into() }));
}

/// The laptop case as schema 2 wrote it, when customer actors carried no identity.
const OLD_LOG: &str = include_str!("../data/schema2_laptop.jsonl");
#[test]
fn an_old_logs_customer_actors_are_named_after_the_cases_customer() {
    assert!(OLD_LOG.contains(r#""by":{"type":"customer"}"#), "the fixture is of the old shape");
    let events = decode_log(OLD_LOG).unwrap();
    let caseledger::EventKind::Opened { customer, .. } = &events[0].what else { panic!("an opening first") };
    let customers: Vec<&Actor> = events.iter().filter(|e| e.by.is_customer()).map(|e| &e.by).collect();
    assert!(!customers.is_empty());
    assert!(customers.iter().all(|by| by.as_customer() == Some(customer)), "{customers:?}");

    // Written again, they carry the name; and that reads back as the same events.
    let text = encode_log(&events).unwrap();
    assert!(text.contains(&format!(r#""by":{{"type":"customer","id":"{customer}"}}"#)), "{text}");
    assert_eq!(decode_log(&text).unwrap(), events);
    assert_eq!(caseledger::Case::replay(&events).unwrap().customer(), customer);
}

#[test]
fn an_old_keyed_customer_command_is_recognised_when_the_named_customer_retries() {
    // A customer's keyed reply, stored by a release whose customer actors had no name:
    // each event as a store hands it back on its own (a row, a line).
    let rules = Rules::default();
    let mine = Actor::customer("cust-7");
    let mut ledger = Ledger::open(&rules, CaseId::new_v7(T0, [9; 10]), laptop(), &mine, T0).unwrap();
    let reply = Command::RecordReply { channel: caseledger::event::Channel::Email, message: "still broken".into() };
    let key = IdempotencyKey::new("reply-7").unwrap();
    ledger.execute_request(&rules, Request::new(reply.clone()).key(key.clone()), &mine, T0).unwrap();
    let old_text =
        encode_log(ledger.events()).unwrap().replace(r#"{"type":"customer","id":"cust-7"}"#, r#"{"type":"customer"}"#);
    let old: Vec<Event> = old_text.lines().map(|line| Event::from_json(line).unwrap()).collect();
    assert!(old[1].by.is_customer() && old[1].by.as_customer().is_some_and(|c| c.as_str().is_empty()), "unnamed alone");
    assert_eq!(decode_log(&old_text).unwrap(), ledger.events(), "named in its log");

    let case = old[0].case;
    let store = MemoryStore::new();
    caseledger::Store::append(&store, case, 0, &old).unwrap();
    let repo = Repository::new(store, Rules::default());
    let done = repo.run(CaseRequest::new(case, reply, mine.clone(), T0).key(key)).unwrap();
    assert!(done.already_done, "the old run, by the then unnamed customer, is the named customer's");
    assert_eq!(done.events[0].id, old[1].id);
    assert_eq!(done.events[0].by, mine, "handed back named");
}

//! What a command says it did ([`Executed`]): its events, the case's version after
//! them, whether an earlier keyed run had already done it (and nothing was written), and
//! the attempts it took; and the two ways a command on a moving case fails: an expected
//! version the case has left (precondition failed, 412) and a race lost at every attempt
//! (conflict, 409); and retries decided at the host's clock.

use std::sync::{Arc, Mutex};

use crate::support::{ana, case_id, note, T0};
use caseledger::{
    error::{ErrorCategory, RequestError, StoreError},
    store::Appended,
    Actor, CaseId, CaseRequest, Error, Event, IdempotencyKey, MemoryStore, Opening, Repository, Rules, Store,
};
use time::{Duration, OffsetDateTime};

/// A memory store that counts the appends that reached it.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    appends: Mutex<Vec<(CaseId, u64, usize)>>,
}

impl Store for Counting {
    fn append(&self, case: CaseId, expected: u64, events: &[Event]) -> Result<Appended, StoreError> {
        self.appends.lock().unwrap().push((case, expected, events.len()));
        self.inner.append(case, expected, events)
    }
    fn read_after(&self, case: CaseId, after: u64) -> Result<Vec<Event>, StoreError> {
        self.inner.read_after(case, after)
    }
    fn version(&self, case: CaseId) -> Result<u64, StoreError> {
        self.inner.version(case)
    }
    fn cases(&self) -> Result<Vec<CaseId>, StoreError> {
        self.inner.cases()
    }
}

impl Counting {
    fn appends(&self) -> usize {
        self.appends.lock().unwrap().len()
    }
}

/// Two repositories over one store, both having read `case` at version 1: the second's
/// cache is behind as soon as the first writes.
fn two_desks(case: CaseId) -> (Arc<Counting>, Repository<Arc<Counting>>, Repository<Arc<Counting>>) {
    let store = Arc::new(Counting::default());
    let rules = Arc::new(Rules::default());
    let desk = Repository::new(Arc::clone(&store), Arc::clone(&rules));
    let phone = Repository::new(Arc::clone(&store), rules);
    desk.open(case, Opening::new("cust-1", "my laptop works", ana()), &Actor::customer("cust-1"), T0).unwrap();
    phone.case(case).unwrap();
    (store, desk, phone)
}

#[test]
fn a_command_says_which_events_it_stored_and_the_version_they_left_the_case_at() {
    let (store, desk, _) = two_desks(case_id(1));
    let opened = desk.store().inner.read(case_id(1)).unwrap();
    assert_eq!(opened.len(), 1);

    let done = desk.execute(case_id(1), note("tried safe mode"), &Actor::Staff(ana()), T0).unwrap();
    assert_eq!(done.events.len(), 1);
    assert_eq!(done.events[0].seq, 2);
    assert_eq!(done.version, 2, "the version to send as the ETag");
    assert!(!done.already_done);
    assert_eq!(done.attempts, 1);
    assert_eq!(store.inner.read(case_id(1)).unwrap()[1..], done.events[..], "what it says it stored is stored");
    assert_eq!(done.into_events().len(), 1);
}

#[test]
fn a_keyed_retry_says_it_was_already_done_and_writes_nothing() {
    let case = case_id(2);
    let (store, desk, phone) = two_desks(case);
    let key = IdempotencyKey::new("req-42").unwrap();
    let request = CaseRequest::new(case, note("called back"), ana(), T0).key(key.clone());

    let first = desk.run(request.clone()).unwrap();
    assert!(!first.already_done);
    assert_eq!(first.version, 2);
    let appends = store.appends();
    let log = store.inner.read(case).unwrap();

    // The same request again, on the same repository: it knows the key, asks nothing of
    // the store but the events, and appends nothing.
    let retry = desk.run(request.clone()).unwrap();
    assert!(retry.already_done, "the first run did it");
    assert_eq!(retry.events, first.events, "the stored events, the same ids");
    assert_eq!((retry.version, retry.attempts), (2, 1));
    assert_eq!(store.appends(), appends, "no append reached the store");
    assert_eq!(store.inner.read(case).unwrap(), log);

    // On a repository whose cache is behind (another node), a minute later, the key is
    // not known yet: it decides on version 1, the store refuses the append, and the
    // caught-up case knows the key. Still already done, and still nothing written.
    let later = CaseRequest::new(case, note("called back"), ana(), T0 + Duration::minutes(1)).key(key);
    let retry = phone.run(later).unwrap();
    assert!(retry.already_done, "another desk: the first run did it");
    assert_eq!(retry.events, first.events);
    assert_eq!((retry.version, retry.attempts), (2, 2), "decided once, then found it done");
    assert_eq!(store.appends(), appends + 1, "one append asked, and refused");
    assert_eq!(store.inner.read(case).unwrap(), log, "the log is as it was");

    // Later writes do not change the answer; the version is the case's, now.
    desk.execute(case, note("someone else"), &Actor::Staff(ana()), T0 + Duration::minutes(2)).unwrap();
    let later = desk.run(request).unwrap();
    assert!(later.already_done);
    assert_eq!((later.events, later.version), (first.events, 3));
}

#[test]
fn a_retried_opening_says_it_was_already_done() {
    let repo = Repository::new(MemoryStore::new(), Rules::default());
    let case = case_id(3);
    let opening = Opening::new("cust-3", "my laptop works", ana());
    let first = repo.open(case, opening.clone(), &Actor::customer("cust-3"), T0).unwrap();
    assert_eq!((first.events.len(), first.version, first.already_done, first.attempts), (1, 1, false, 1));
    repo.forget(case);
    let again = repo.open(case, opening, &Actor::customer("cust-3"), T0).unwrap();
    assert!(again.already_done, "nothing written");
    assert_eq!((again.events, again.version, again.attempts), (first.events, 1, 1), "the same event");
    assert_eq!(repo.store().version(case).unwrap(), 1);
}

#[test]
fn a_race_lost_once_and_won_on_the_next_attempt_says_it_took_two() {
    let case = case_id(4);
    let (store, desk, phone) = two_desks(case);
    desk.execute(case, note("desk first"), &Actor::Staff(ana()), T0).unwrap();

    let done = phone.execute(case, note("phone second"), &Actor::Staff(ana()), T0).unwrap();
    assert_eq!(done.attempts, 2, "decided on version 1, lost, decided again on version 2");
    assert_eq!((done.events[0].seq, done.version, done.already_done), (3, 3, false));
    assert_eq!(store.inner.version(case).unwrap(), 3);
}

#[test]
fn a_stale_expected_version_fails_its_precondition_and_a_race_lost_at_every_attempt_conflicts() {
    let case = case_id(5);
    let (store, desk, phone) = two_desks(case);
    desk.execute(case, note("desk first"), &Actor::Staff(ana()), T0).unwrap();
    let appends = store.appends();

    // The agent's screen showed version 1 (If-Match: "1"); the case is at 2. The phone's
    // cache still says 1, so the repository decides, and the store tells it otherwise:
    // still the author's precondition, not a race to retry.
    for repo in [&desk, &phone] {
        let stale = CaseRequest::new(case, note("from version 1"), ana(), T0).expect_version(1).attempts(10);
        let err = repo.run(stale).unwrap_err();
        let Error::Request(RequestError::PreconditionFailed { case: c, expected: 1, actual: 2 }) = &err else {
            panic!("not a failed precondition: {err}");
        };
        assert_eq!(*c, case);
        assert_eq!(err.code(), "precondition_failed");
        assert_eq!(err.category(), ErrorCategory::PreconditionFailed);
        assert_eq!(err.category().http_status(), 412);
    }
    assert_eq!(store.appends(), appends + 1, "only the phone's one append at version 1 reached the store");
    assert_eq!(store.inner.version(case).unwrap(), 2, "nothing written");

    // Without an expected version, a writer that loses every race it is allowed ends in
    // the conflict itself: sound, retried, and still lost.
    desk.execute(case, note("desk again"), &Actor::Staff(ana()), T0).unwrap();
    let raced = CaseRequest::new(case, note("phone, once"), ana(), T0).attempts(1);
    let err = phone.run(raced).unwrap_err();
    assert!(matches!(err, Error::Store(StoreError::Conflict { expected: 2, actual: 3, .. })), "{err}");
    assert_eq!(err.code(), "conflict");
    assert_eq!(err.category().http_status(), 409);
    assert_eq!(store.inner.version(case).unwrap(), 3, "nothing written");

    // The two are told apart by code, and both are listed.
    let codes: Vec<&str> = Error::codes().map(|row| row.code).collect();
    assert!(codes.contains(&"precondition_failed") && codes.contains(&"conflict"));
}

#[test]
fn an_expected_version_the_case_is_at_decides_even_when_the_cache_is_behind() {
    let case = case_id(6);
    let (_, desk, phone) = two_desks(case);
    desk.execute(case, note("desk first"), &Actor::Staff(ana()), T0).unwrap();
    let done = phone.run(CaseRequest::new(case, note("seen at 2"), ana(), T0).expect_version(2)).unwrap();
    assert_eq!((done.events[0].seq, done.version, done.attempts), (3, 3, 1));
}

/// A test clock: each reading is one second after the previous one, from `start`.
fn ticking(start: OffsetDateTime) -> (Arc<Mutex<Vec<OffsetDateTime>>>, impl Fn() -> OffsetDateTime + Send + Sync) {
    let readings = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&readings);
    let clock = move || {
        let mut readings = log.lock().unwrap();
        let now = start + Duration::seconds(i64::try_from(readings.len()).unwrap());
        readings.push(now);
        now
    };
    (readings, clock)
}

#[test]
fn a_retry_after_a_lost_race_decides_at_a_fresh_reading_of_the_hosts_clock() {
    let case = case_id(7);
    let store = Arc::new(Counting::default());
    let rules = Arc::new(Rules::default());
    let desk = Repository::new(Arc::clone(&store), Arc::clone(&rules));
    let (readings, clock) = ticking(T0 + Duration::minutes(2));
    let phone = Repository::new(Arc::clone(&store), rules).with_clock(clock);
    desk.open(case, Opening::new("cust-1", "my laptop works", ana()), &Actor::customer("cust-1"), T0).unwrap();
    phone.case(case).unwrap();

    // The phone's request was built at T0; meanwhile the desk wrote a minute later,
    // further ahead than the clock-skew tolerance (5 s).
    desk.execute(case, note("desk, a minute later"), &Actor::Staff(ana()), T0 + Duration::minutes(1)).unwrap();
    let done = phone.execute(case, note("phone"), &Actor::Staff(ana()), T0).unwrap();
    assert_eq!(done.attempts, 2);
    let readings = readings.lock().unwrap().clone();
    assert_eq!(readings, [T0 + Duration::minutes(2)], "read once, for the one later decision");
    assert_eq!(done.events[0].at, readings[0], "decided again at the clock's reading, not at T0");
    assert_eq!(done.events[0].given_at, None, "not behind the last event: nothing adjusted");

    // Without the host's clock the retry decides at the request's own time, a minute
    // behind the desk's event: refused, and nothing written.
    let plain = Repository::new(Arc::clone(&store), Rules::default());
    plain.case(case).unwrap();
    desk.execute(case, note("desk again"), &Actor::Staff(ana()), T0 + Duration::minutes(3)).unwrap();
    let err = plain.execute(case, note("no clock"), &Actor::Staff(ana()), T0 + Duration::minutes(2)).unwrap_err();
    assert_eq!(err.code(), "time_before_last_event", "{err}");
    assert_eq!(store.inner.version(case).unwrap(), 4);
}

//! The hostile-input harness: four checks that take arbitrary bytes and must never
//! panic, shared by the cargo-fuzz targets in `fuzz/` and their proptest twins in
//! `tests/suite/hostile.rs`, so CI runs the very checks the fuzzers run.
//!
//! Bytes are read as choices by [`Choices`] rather than through the `arbitrary` crate,
//! so neither the library nor the fuzz crate needs another dependency. Times are built
//! by parsing and by adding `std::time::Duration`s, so this file does not name the
//! `time` crate either (the fuzz crate depends on `libfuzzer-sys`, `caseledger` and, to
//! read a command body as a server does, `serde_json`).
//!
//! A panic here is a finding: either the library panicked, or one of the assertions
//! below (decide and fold agree, replay is deterministic, encoding round-trips, the
//! customer view holds nothing internal) does not hold.

use std::time::Duration;

use caseledger::{
    codec::{decode_log, decode_log_with_limits, encode_log},
    event::{Channel, Ending, Visibility},
    id::{Department, StaffId, WorkItemId},
    rules::{Directory, Limits},
    Actor, Case, CaseId, Command, Event, Ledger, Opening, Rules, Staff, Status, Timeline,
};

/// Most commands one input may decide, which also bounds how far time moves (64 steps
/// of at most three days), so adding durations can never leave the calendar.
const MAX_STEPS: usize = 64;

/// Decodes `bytes` as one event; whatever decodes must re-encode to itself and fold or
/// be refused with a typed error.
pub fn decode_event(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    match Event::from_json(&text) {
        Ok(event) => {
            let json = event.to_json().expect("a decoded event encodes");
            assert_eq!(Event::from_json(&json).as_ref(), Ok(&event), "encoding round-trips: {json}");
            match Case::from_opened(&event) {
                Ok(case) => drop(case.brief().to_string()),
                Err(err) => assert_eq!(err.seq(), Some(event.seq), "{err}"),
            }
            render(std::slice::from_ref(&event));
        }
        Err(err) => {
            assert_eq!(err.line(), 1, "{err}");
            assert!(!err.to_string().is_empty());
        }
    }
}

/// Decodes `bytes` as a JSON Lines log and replays it, with and without limits.
pub fn replay_log(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let limits = Limits::default();
    let mut tight = Limits::default();
    tight.max_line_bytes = 600;
    tight.max_events = 4;
    let unlimited = decode_log(&text);
    if let Ok(events) = decode_log_with_limits(&text, &tight) {
        assert_eq!(unlimited.as_ref(), Ok(&events), "limits only ever refuse, never change what is read");
    }
    let events = match decode_log_with_limits(&text, &limits) {
        Ok(events) => events,
        Err(err) => {
            assert!(err.line() >= 1 && err.line() <= text.lines().count().max(1), "{err}");
            assert!(!err.to_string().is_empty());
            return;
        }
    };
    assert_eq!(unlimited.as_ref(), Ok(&events));
    let encoded = encode_log(&events).expect("decoded events encode");
    assert_eq!(decode_log(&encoded).as_ref(), Ok(&events), "encoding round-trips");
    match Case::replay_with_limits(&events, &limits) {
        Ok(case) => {
            assert_eq!(Case::replay(&events).as_ref(), Ok(&case), "limits only ever refuse");
            assert_eq!(case.version(), events.len() as u64);
            drop(case.brief().to_string());
        }
        Err(err) => {
            assert!(err.seq().is_some() || events.is_empty(), "{err}");
            assert!(!err.to_string().is_empty());
        }
    }
    render(&events);
}

/// Opens a case and decides a sequence of commands read from `bytes`, folding every
/// accepted event. Checks that decide and fold agree, that the fold is deterministic,
/// that the log round-trips through JSON Lines under the same limits, and that the
/// customer view holds nothing internal. Returns the log, so tests can see how deep
/// the choices reach.
pub fn decide_commands(bytes: &[u8]) -> Vec<Event> {
    let mut c = Choices::new(bytes);
    let rules = c.rules();
    let first = *c.pick(&STARTS);
    let mut at = start(first).at;
    let customer = c.id();
    let opening = Opening::new(customer.as_str(), c.text(), c.staff());
    let by = c.actor(None, &customer);
    let case_id = CaseId::new_v7(at, [c.byte(); 10]);
    let Ok(opened) = rules.open(case_id, opening, &by, at) else { return Vec::new() };
    let mut ledger = Ledger::from_events(vec![opened]).expect("an opening decided by Rules::open folds");
    for _ in 0..MAX_STEPS {
        if c.is_empty() {
            break;
        }
        let (back, step) = c.step();
        at = if back { at - step } else { at + step };
        let command = c.command(ledger.case());
        let by = c.actor(Some(ledger.case().owner()), &customer);
        match rules.decide(ledger.case(), command.clone(), &by, at) {
            Ok(events) => {
                assert_eq!(
                    events.len() as u64,
                    events_len(&command),
                    "an override adds one event before the command's"
                );
                let before = ledger.case().version();
                if let Err(err) = ledger.append(events) {
                    panic!("decide accepted {command:?} by {by} but the fold refused it: {err}");
                }
                assert_eq!(ledger.case().version(), before + events_len(&command));
            }
            Err(refusal) => assert!(!refusal.to_string().is_empty()),
        }
        let case = ledger.case();
        if *case.status() == Status::Resolved {
            assert_eq!(case.outcome_state(), caseledger::case::OutcomeState::Confirmed, "I2");
            assert_eq!(case.open_work_count(), 0, "I2");
        }
        assert_eq!(case.open_work_count(), case.open_work().count());
    }
    let events = ledger.events();
    assert_eq!(Case::replay(events).as_ref(), Ok(ledger.case()), "I7: same log, same case");
    assert_eq!(Case::replay_with_limits(events, rules.limits()).as_ref(), Ok(ledger.case()), "decided within limits");
    let encoded = encode_log(events).expect("decided events encode");
    assert_eq!(
        decode_log_with_limits(&encoded, rules.limits()).as_deref(),
        Ok(events),
        "written within limits, read within them"
    );
    drop(ledger.case().brief().to_string());
    render(events);
    ledger.into_events()
}

/// Reads `bytes` as the JSON body of a command, the way the reference server reads one
/// (a JSON value first, then the [`Command`] in it), and decides what decodes on small
/// cases: open with work, open without, and closed, under the default rules and under a directory
/// with a bounce limit (so overrides can pass), by the owner, a previous owner, the
/// customer and the system. Checks that reading through a value accepts what reading
/// directly accepts, that a command re-encodes to itself, and that every accepted
/// decision folds. Returns how many decisions were accepted, so tests can see that
/// bodies reach the rules.
pub fn command_json(bytes: &[u8]) -> usize {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else { return 0 };
    let direct = serde_json::from_slice::<Command>(bytes);
    let command = match serde_json::from_value::<Command>(value) {
        Ok(command) => command,
        Err(err) => {
            // Not the converse: a value keeps only the last of repeated members, which
            // reading directly refuses.
            assert!(direct.is_err(), "read directly the body is {direct:?}, through a value it fails: {err}");
            assert!(!err.to_string().is_empty());
            return 0;
        }
    };
    if let Ok(direct) = &direct {
        assert_eq!(direct, &command, "both ways of reading the body agree");
    }
    let json = serde_json::to_string(&command).expect("a decoded command encodes");
    assert_eq!(serde_json::from_str::<Command>(&json).ok().as_ref(), Some(&command), "encoding round-trips: {json}");
    let mut accepted = 0;
    for rules in [Rules::default(), bouncing_rules()] {
        for ledger in small_cases(&rules) {
            let case = ledger.case();
            let at = case.clock().last_event_at + Duration::from_secs(60);
            let previous = case.previous_owners().iter().find(|s| *s != case.owner()).cloned();
            let actors = [
                Some(Actor::Staff(case.owner().clone())),
                previous.map(Actor::Staff),
                Some(Actor::Customer(case.customer().clone())),
                Some(Actor::System),
            ];
            for by in actors.into_iter().flatten() {
                match rules.decide(case, command.clone(), &by, at) {
                    Ok(events) => {
                        accepted += 1;
                        assert_eq!(events.len() as u64, events_len(&command), "{command:?} by {by}");
                        let mut after = ledger.clone();
                        if let Err(err) = after.append(events) {
                            panic!("decide accepted {command:?} by {by} but the fold refused it: {err}");
                        }
                        let encoded = encode_log(after.events()).expect("decided events encode");
                        assert_eq!(decode_log(&encoded).as_deref(), Ok(after.events()), "{encoded}");
                        render(after.events());
                    }
                    Err(refusal) => assert!(!refusal.to_string().is_empty()),
                }
            }
        }
    }
    accepted
}

/// Rules with the members' directory and a bounce limit that members may override.
fn bouncing_rules() -> Rules {
    Rules::default()
        .with_directory(Members)
        .with_policy(caseledger::policy::PolicyConfig::BounceLimit { max_bounces: 0 })
}

/// A case bo owns after ana opened work on it and handed it over; the same case with
/// the work dropped (what closing needs); and that one closed (the customer withdrew),
/// for the commands only a closed case takes.
fn small_cases(rules: &Rules) -> [Ledger; 3] {
    let mut at = start("2026-11-23T09:00:00Z").at;
    let (ana, bo) = (Staff::new(MEMBERS[0].0, MEMBERS[0].1), Staff::new(MEMBERS[1].0, MEMBERS[1].1));
    let id = CaseId::new_v7(at, [7; 10]);
    let opening = Opening::new("cust-1042", "my laptop works", ana.clone());
    let mut ledger = Ledger::open(rules, id, opening, &Actor::customer("cust-1042"), at).expect("the small case opens");
    let steps = [
        (Command::OpenWork { item: "SW-1".into(), department: "software".into(), title: "BIOS".into() }, &ana),
        (Command::RecordFact { name: "serial".into(), value: "SN-1".into(), visibility: Visibility::Customer }, &ana),
        (Command::Transfer { to: bo.clone(), note: "board next".into() }, &ana),
    ];
    for (command, who) in steps {
        at += Duration::from_secs(60);
        ledger.execute(rules, command, &Actor::Staff(who.clone()), at).expect("the small case's history is accepted");
    }
    let mut idle = ledger.clone();
    at += Duration::from_secs(60);
    let drop = Command::DropWork { item: "SW-1".into(), reason: "not needed".into() };
    idle.execute(rules, drop, &Actor::Staff(ana), at).expect("the work's department drops it");
    let mut closed = idle.clone();
    let withdrawn = Command::CloseUnresolved { ending: Ending::Withdrawn, evidence: "the customer withdrew".into() };
    closed.execute(rules, withdrawn, &crate::support::customer(), at).expect("the customer may withdraw");
    [ledger, idle, closed]
}

/// How many events a command records when accepted: one, and one more per override.
fn events_len(command: &Command) -> u64 {
    match command {
        Command::Override { command, .. } => 1 + events_len(command),
        _ => 1,
    }
}

/// Renders every view of `events`; the customer's holds only customer-visible entries.
fn render(events: &[Event]) {
    let staff = Timeline::staff(events);
    assert_eq!(staff.entries().len(), events.len(), "I4: every event once");
    drop((staff.to_string(), staff.to_mermaid(), staff.to_json().expect("timeline JSON")));
    let customer = Timeline::customer(events);
    let visible = events.iter().filter(|e| e.what.visibility() == Visibility::Customer).count();
    assert_eq!(customer.entries().len(), visible);
    assert!(customer.entries().iter().all(|e| e.visibility == Visibility::Customer));
    drop((customer.to_string(), customer.to_mermaid(), customer.to_json().expect("timeline JSON")));
}

/// The staff members the directory knows, as (id, department).
const MEMBERS: [(&str, &str); 5] =
    [("ana", "software"), ("bo", "hardware"), ("cy", "software"), ("dee", "warranty"), ("eve", "parts")];

/// People who act: members, a member acting for another department, the customer posing
/// as staff, an empty identity.
const STAFF: [(&str, &str); 8] = [
    MEMBERS[0],
    MEMBERS[1],
    MEMBERS[2],
    MEMBERS[3],
    MEMBERS[4],
    ("ana", "hardware"),
    ("cust-1042", "software"),
    ("", ""),
];

/// Starting times: today, the Unix epoch and just before it (v7 ids clamp), the first
/// and nearly the last year RFC 3339 can write, a non-UTC offset, and two times whose
/// UTC falls outside the years a log can hold (refused when opening, so never stepped on).
const STARTS: [&str; 8] = [
    "9999-12-31T23:00:00-05:00",
    "0000-01-01T00:00:00+01:00",
    "2026-11-23T09:00:00Z",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999999999Z",
    "0000-01-01T00:00:00Z",
    "9999-06-01T00:00:00Z",
    "2026-11-23T09:00:00.5+05:30",
];

const TEXTS: [&str; 13] = [
    "",
    "   ",
    "\t\r\n",
    "ok",
    "my laptop works",
    "BIOS updated to 1.9",
    "no internet since the fire",
    "ünïcödé ✓ 📞",
    "\u{0}\u{1f}\"\\ \u{7f}",
    "line one\nline two\r\n",
    "<script>\"';-- #;{}`",
    "\u{202e}reversed\u{200b}",
    "SW-1",
];

const IDS: [&str; 7] = ["SW-1", "HW-2", "PARTS-3", "fire-0612", "", " ", "ünï"];

#[derive(Debug)]
struct Members;

impl Directory for Members {
    fn is_member(&self, staff: &StaffId, department: &Department) -> bool {
        MEMBERS.iter().any(|(s, d)| staff.as_str() == *s && department.as_str() == *d)
    }

    /// Every member may override (S8).
    fn may_override(&self, staff: &StaffId, department: &Department, _policy: &str) -> bool {
        self.is_member(staff, department)
    }
}

/// What an override names: the bounce limit the rules may hold, an invariant, nothing known.
const OVERRIDDEN: [&str; 4] = ["bounce_limit", "bounce_limit", "outcome_gate", "be_nice"];

/// An event carrying `at`, parsed: the way to a time value without naming `time`.
fn start(at: &str) -> Event {
    let line = format!(
        r#"{{"schema":1,"case":"0190f5a3-7c1e-7a00-8000-000000000001","seq":1,"id":"0190f5a3-7c1e-7a00-8000-000000000002","at":"{at}","by":{{"type":"system"}},"what":{{"type":"reopened","reason":"start"}}}}"#
    );
    Event::from_json(&line).expect("the start times parse")
}

/// Fuzz bytes read front to back as choices; once they run out every choice is the first.
pub struct Choices<'a> {
    bytes: &'a [u8],
}

impl<'a> Choices<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((first, rest)) => {
                self.bytes = rest;
                *first
            }
            None => 0,
        }
    }

    pub fn pick<'o, T>(&mut self, options: &'o [T]) -> &'o T {
        &options[usize::from(self.byte()) % options.len()]
    }

    /// Rules with or without a directory, with the default limits or tight ones that the
    /// short inputs of a fuzzer can reach, with or without a bounce limit to override.
    fn rules(&mut self) -> Rules {
        let flags = self.byte();
        let mut rules = Rules::default();
        if flags & 1 == 1 {
            let mut limits = Limits::default();
            limits.max_text_bytes = 40;
            limits.max_id_bytes = 8;
            limits.max_facts = 3;
            limits.max_work_items = 3;
            limits.max_owners = 3;
            limits.max_events = 24;
            limits.max_incidents = 2;
            // One free text and five ids, each escaped to at most six bytes a byte, and
            // an envelope of under 400 bytes.
            limits.max_line_bytes = 400 + 6 * (40 + 5 * 8);
            rules = rules.with_limits(limits);
        }
        // A bounce limit comes with the directory that empowers members to override it.
        if flags & 6 != 0 {
            rules = rules.with_directory(Members);
        }
        if flags & 4 == 4 {
            rules = rules.with_policy(caseledger::policy::PolicyConfig::BounceLimit { max_bounces: 0 });
        }
        rules
    }

    fn step(&mut self) -> (bool, Duration) {
        match self.byte() % 8 {
            0 => (false, Duration::ZERO),
            1 => (true, Duration::from_secs(60)),
            2 => (false, Duration::from_nanos(1)),
            3 => (false, Duration::from_secs(3 * 24 * 3600)),
            _ => (false, Duration::from_secs(60 * u64::from(self.byte()))),
        }
    }

    /// A text from the vocabulary, one over the default limits, or bytes taken as they come.
    fn text(&mut self) -> String {
        match self.byte() % 16 {
            0 => "x".repeat(257),
            1 => "y".repeat(64 * 1024 + 1),
            2 | 3 => self.raw(),
            _ => (*self.pick(&TEXTS)).to_owned(),
        }
    }

    fn id(&mut self) -> String {
        match self.byte() % 8 {
            0 => "i".repeat(257),
            1 => self.raw(),
            _ => (*self.pick(&IDS)).to_owned(),
        }
    }

    fn raw(&mut self) -> String {
        let len = usize::from(self.byte() % 24).min(self.bytes.len());
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        String::from_utf8_lossy(taken).into_owned()
    }

    fn staff(&mut self) -> Staff {
        if self.byte().is_multiple_of(16) {
            return Staff::new(self.id(), self.id());
        }
        let (id, department) = *self.pick(&STAFF);
        Staff::new(id, department)
    }

    /// The owner (when given) half the time, so owner-only commands get through often.
    fn actor(&mut self, owner: Option<&Staff>, customer: &str) -> Actor {
        match (self.byte() % 8, owner) {
            (0..=3, Some(owner)) => Actor::Staff(owner.clone()),
            (4, _) => Actor::customer(customer),
            (5, _) => Actor::System,
            _ => Actor::Staff(self.staff()),
        }
    }

    /// A work item of the case now and then, so completing and dropping get through.
    fn item(&mut self, case: &Case) -> WorkItemId {
        let items: Vec<&WorkItemId> = case.work_items().map(|w| &w.id).collect();
        if !items.is_empty() && !self.byte().is_multiple_of(4) {
            return (*self.pick(&items)).clone();
        }
        self.id().into()
    }

    fn channel(&mut self) -> Channel {
        *self.pick(&[
            Channel::Email,
            Channel::Phone,
            Channel::Sms,
            Channel::Chat,
            Channel::Web,
            Channel::Letter,
            Channel::InPerson,
        ])
    }

    fn visibility(&mut self) -> Visibility {
        *self.pick(&[Visibility::Internal, Visibility::Customer])
    }

    fn command(&mut self, case: &Case) -> Command {
        match self.byte() % 23 {
            20 => Command::RecordConversation { channel: self.channel(), summary: self.text() },
            21 => Command::ReportConfirmation { channel: self.channel(), statement: self.text() },
            22 => Command::ReportDispute { channel: self.channel(), statement: self.text() },
            17..=19 => {
                // Back to someone who had the case: what a bounce limit refuses.
                let back: Vec<&Staff> = case.previous_owners().iter().filter(|s| *s != case.owner()).collect();
                let to = match back.as_slice() {
                    [] => self.staff(),
                    owners => (*self.pick(owners)).clone(),
                };
                let reason = match self.byte() % 2 {
                    0 => "the customer asked for this person by name twice".to_owned(),
                    _ => self.text(),
                };
                let policy = (*self.pick(&OVERRIDDEN)).to_owned();
                let note = match self.byte() % 4 {
                    0 => self.text(),
                    _ => "back to you: see the timeline".to_owned(),
                };
                Command::Override { policy, reason, command: Box::new(Command::Transfer { to, note }) }
            }
            0 => Command::Transfer { to: self.staff(), note: self.text() },
            1 => Command::Escalate { to: self.staff(), reason: self.text() },
            2 => Command::OpenWork { item: self.id().into(), department: self.staff().department, title: self.text() },
            3 => Command::CompleteWork { item: self.item(case), note: self.text() },
            4 => Command::DropWork { item: self.item(case), reason: self.text() },
            5 => Command::RecordFact { name: self.id(), value: self.text(), visibility: self.visibility() },
            6 => Command::RecordReachability {
                channel: self.channel(),
                reachable: self.byte().is_multiple_of(2),
                note: self.text(),
            },
            7 => Command::AddNote { text: self.text(), visibility: self.visibility() },
            8 => Command::ContactCustomer { channel: self.channel(), message: self.text() },
            9 => Command::RecordReply { channel: self.channel(), message: self.text() },
            10 => Command::ConfirmOutcome { statement: self.text() },
            11 => Command::DisputeOutcome { statement: self.text() },
            12 => Command::Resolve { summary: self.text() },
            13 => {
                let ending = match self.byte() % 4 {
                    0 => Ending::Unreachable,
                    1 => Ending::Withdrawn,
                    2 => Ending::Duplicate { of: case.id() },
                    _ => Ending::Duplicate { of: CaseId::new_v7(case.clock().opened_at, [self.byte(); 10]) },
                };
                Command::CloseUnresolved { ending, evidence: self.text() }
            }
            14 => Command::Reopen { reason: self.text() },
            15 => Command::LinkIncident { incident: self.id().into() },
            _ => Command::RequestConfirmation { reason: self.text() },
        }
    }
}

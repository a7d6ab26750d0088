//! Properties of the crate, over generated histories and hostile logs: the invariants
//! I1–I8 after every accepted command, replay equals the incrementally built case, exact
//! JSON round-trips, one timeline, refusals that change nothing, and no panics on any
//! input. Case counts follow `PROPTEST_CASES`.

use std::collections::{BTreeMap, BTreeSet};

use caseledger::testkit::{histories, hostile_logs, Config, Damage, History, Outcome};
use caseledger::{
    case::OutcomeState,
    codec::{decode_log, encode_log},
    error::{DecodeError, LogError},
    event::Visibility,
    Case, Error, Event, EventKind, Ledger, Status, Timeline,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

/// Everyone but parts may override a policy (S8).
#[derive(Debug)]
struct PartsMayNotOverride;

impl caseledger::rules::Directory for PartsMayNotOverride {
    fn is_member(&self, _: &caseledger::id::StaffId, _: &caseledger::id::Department) -> bool {
        true
    }
    fn may_override(&self, _: &caseledger::id::StaffId, department: &caseledger::id::Department, _: &str) -> bool {
        department.as_str() != "parts"
    }
}

/// The core rules, plus a bounce limit most staff may override, so overrides are
/// generated, recorded and folded too.
fn config() -> Config {
    let set = caseledger::PolicySet::default().with(caseledger::policy::PolicyConfig::BounceLimit { max_bounces: 1 });
    Config::new(set.to_rules().expect("valid").with_directory(PartsMayNotOverride))
}

/// Checks I1–I3, I5 and I6 for `event`, folded into `before` (if any) to give `after`,
/// with `log` the events up to and including `event`.
fn invariants(log: &[Event], before: Option<&Case>, after: &Case) -> Result<(), TestCaseError> {
    let event = log.last().expect("a log holds the event just folded");
    // I5: contiguous sequence numbers from 1, one case, time never backwards, unique ids.
    for (i, e) in log.iter().enumerate() {
        prop_assert_eq!(e.seq, i as u64 + 1);
        prop_assert_eq!(e.case, after.id());
    }
    prop_assert!(log.windows(2).all(|w| w[0].at <= w[1].at), "time went backwards");
    prop_assert_eq!(log.iter().map(|e| e.id).collect::<BTreeSet<_>>().len(), log.len(), "event ids repeat");
    prop_assert_eq!(after.version(), event.seq);

    // I1: exactly one owner, the receiver of the last handoff; handoffs are explained.
    let mut owner = match &log[0].what {
        EventKind::Opened { owner, .. } => owner.clone(),
        other => return Err(TestCaseError::fail(format!("log starts with {}", other.tag()))),
    };
    let mut handoffs = 0;
    let mut escalations = 0;
    for e in &log[1..] {
        if let EventKind::Transferred { to, note: text } | EventKind::Escalated { to, reason: text, .. } = &e.what {
            prop_assert!(!text.trim().is_empty(), "handoff without a note at {}", e.seq);
            prop_assert_ne!(to, &owner, "handoff to the owner at {}", e.seq);
            owner = to.clone();
            handoffs += 1;
            if matches!(e.what, EventKind::Escalated { .. }) {
                escalations += 1;
                let level_ok = matches!(e.what, EventKind::Escalated { level, .. } if level == escalations);
                prop_assert!(level_ok, "escalation {} has the wrong level", e.seq);
            }
        }
    }
    prop_assert_eq!(after.owner(), &owner);
    prop_assert_eq!(after.counters().handoffs, handoffs);
    prop_assert_eq!(after.escalation_level(), escalations);

    // I2: resolved only with the outcome confirmed and no open work; finishing work never
    // ends a case.
    prop_assert_eq!(after.open_work_count(), after.open_work().count());
    if after.status() == &Status::Resolved {
        prop_assert_eq!(after.outcome_state(), OutcomeState::Confirmed);
        prop_assert_eq!(after.open_work_count(), 0);
    }
    if let (EventKind::WorkCompleted { .. } | EventKind::WorkDropped { .. }, Some(before)) = (&event.what, before) {
        prop_assert_eq!(before.status(), after.status());
    }
    if let (EventKind::Resolved { .. }, Some(before)) = (&event.what, before) {
        prop_assert_eq!(before.outcome_state(), OutcomeState::Confirmed);
        prop_assert_eq!(&event.by, &caseledger::Actor::Staff(before.owner().clone()));
    }

    // I3: the status says how the case last ended, and never calls an honest ending resolved.
    let last_ending = log.iter().rev().find(|e| {
        matches!(e.what, EventKind::Resolved { .. } | EventKind::ClosedUnresolved { .. } | EventKind::Reopened { .. })
    });
    match last_ending.map(|e| &e.what) {
        Some(EventKind::Resolved { .. }) => prop_assert_eq!(after.status(), &Status::Resolved),
        Some(EventKind::ClosedUnresolved { ending, .. }) => {
            prop_assert_eq!(after.status(), &Status::ClosedUnresolved { ending: ending.clone() })
        }
        _ => prop_assert_eq!(after.status(), &Status::Open),
    }

    // I6: a closed case accepts only a reopen with a reason.
    if before.is_some_and(Case::is_closed) {
        prop_assert!(
            matches!(&event.what, EventKind::Reopened { reason } if !reason.trim().is_empty()),
            "event {} after closure is {}",
            event.seq,
            event.what.tag()
        );
    }

    // Counters agree with the log.
    let count = |tag: &str| u32::try_from(log.iter().filter(|e| e.what.tag() == tag).count()).unwrap();
    prop_assert_eq!(after.counters().contacts, count("customer_contacted") + count("conversation_held"));

    // I2: a confirmation or dispute staff report rests on the customer speaking on that
    // channel since staff last contacted them (a reply, or the conversation itself).
    if let EventKind::OutcomeConfirmed { voice, .. } | EventKind::OutcomeDisputed { voice, .. } = &event.what {
        prop_assert_eq!(voice.is_reported(), !event.by.is_customer(), "voice and actor agree");
        if let caseledger::event::Voice::Reported { channel } = voice {
            let since = log.iter().rposition(|e| matches!(e.what, EventKind::CustomerContacted { .. }));
            let heard = log[since.map_or(0, |i| i + 1)..].iter().any(|e| match &e.what {
                EventKind::CustomerReplied { channel: c, .. } | EventKind::ConversationHeld { channel: c, .. } => {
                    c == channel
                }
                _ => false,
            });
            prop_assert!(heard, "event {} reports words nobody heard by {}", event.seq, channel);
        }
    }
    prop_assert_eq!(after.counters().reopenings, count("reopened"));
    Ok(())
}

fn no_inconsistency(history: &History) -> Result<(), TestCaseError> {
    for attempt in history.attempts() {
        if let Outcome::Inconsistent(err) = &attempt.outcome {
            return Err(TestCaseError::fail(format!("decide accepted {:?} but the fold said: {err}", attempt.command)));
        }
    }
    Ok(())
}

proptest! {
    /// I1–I3, I5, I6 after every accepted command; I7 at every prefix: replaying the log so
    /// far gives the case built one event at a time. (I8: nothing above panicked.)
    #[test]
    fn invariants_hold_after_every_accepted_command(history in histories(&config())) {
        no_inconsistency(&history)?;
        let mut before: Option<Case> = None;
        let mut folded = 0;
        for (i, (_, after)) in history.states().enumerate() {
            let log = &history.events()[..=i];
            invariants(log, before.as_ref(), &after)?;
            prop_assert_eq!(&Case::replay(log).expect("a generated log replays"), &after);
            before = Some(after);
            folded += 1;
        }
        prop_assert_eq!(folded, history.events().len());
    }

    /// I7: the whole log replays to the case the history built, through every entry point.
    #[test]
    fn replay_equals_the_incrementally_built_case(history in histories(&config())) {
        let replayed = Case::replay(history.events()).expect("a generated log replays");
        prop_assert_eq!(&replayed, history.case());
        let ledger = Ledger::from_events(history.events().to_vec()).expect("a generated log loads");
        prop_assert_eq!(ledger.case(), history.case());
        let again = Case::replay(history.events());
        prop_assert_eq!(again.as_ref(), Ok(&replayed), "replay is deterministic");
    }

    /// Every event and every whole log survives JSON exactly; the folded case serialises
    /// (it does not deserialise: only a fold builds a case).
    #[test]
    fn json_round_trip_is_exact(history in histories(&config())) {
        for event in history.events() {
            let json = event.to_json().expect("events serialise");
            prop_assert!(!json.contains('\n'), "an event must fit on one JSON line");
            prop_assert_eq!(&Event::from_json(&json).expect("own JSON decodes"), event);
        }
        let text = encode_log(history.events()).expect("logs serialise");
        prop_assert_eq!(text.lines().count(), history.events().len());
        prop_assert_eq!(decode_log(&text).expect("own log decodes"), history.events().to_vec());
        let case_json = serde_json::to_string(history.case()).expect("cases serialise");
        let case_value: serde_json::Value = serde_json::from_str(&case_json).expect("the case is JSON");
        prop_assert_eq!(case_value["version"].as_u64(), Some(history.case().version()));
        prop_assert_eq!(case_value["owner"]["id"].as_str(), Some(history.case().owner().id.as_str()));
    }

    /// I4: the staff timeline holds every event exactly once, in log order; the customer's
    /// holds exactly the customer-visible ones, in the same order.
    #[test]
    fn timeline_holds_every_event_once_in_order(history in histories(&config())) {
        let events = history.events();
        let staff = Timeline::staff(events);
        let seqs: Vec<u64> = staff.entries().iter().map(|e| e.seq).collect();
        prop_assert_eq!(seqs, events.iter().map(|e| e.seq).collect::<Vec<_>>());
        for (entry, event) in staff.entries().iter().zip(events) {
            prop_assert_eq!(&entry.kind, event.what.tag());
            prop_assert_eq!(&entry.by, &event.by);
            prop_assert_eq!(entry.at, event.at);
        }
        prop_assert_eq!(staff.to_string().lines().count(), events.len());
        let customer: Vec<u64> = Timeline::customer(events).entries().iter().map(|e| e.seq).collect();
        let visible: Vec<u64> =
            events.iter().filter(|e| e.what.visibility() == Visibility::Customer).map(|e| e.seq).collect();
        prop_assert_eq!(customer, visible);
    }

    /// A refused command leaves the ledger exactly as it was, and a ledger run through the
    /// same commands agrees with the history on every verdict.
    #[test]
    fn a_refused_command_changes_nothing(history in histories(&config())) {
        let rules = &config().rules;
        let mut ledger = Ledger::from_events(history.events()[..1].to_vec()).expect("opening loads");
        for attempt in history.attempts() {
            let before = ledger.clone();
            let result = ledger.execute_request(rules, attempt.request(), &attempt.by, attempt.at).map(<[Event]>::to_vec);
            match (&attempt.outcome, result) {
                (Outcome::Refused(expected), Err(Error::Refused(refusal))) => {
                    prop_assert_eq!(expected, &refusal);
                    prop_assert_eq!(&ledger, &before, "refused {:?} changed the ledger", attempt.command);
                }
                (Outcome::Accepted(expected), Ok(events)) => prop_assert_eq!(expected, &events),
                (Outcome::AlreadyDone(seqs), Ok(events)) => {
                    prop_assert_eq!(&ledger, &before, "a retry appends nothing");
                    let stored: Vec<Event> = history.events().iter().filter(|e| seqs.contains(&e.seq)).cloned().collect();
                    prop_assert_eq!(stored, events, "a retry answers with the events already stored");
                }
                (expected, got) => {
                    return Err(TestCaseError::fail(format!("history said {expected:?}, ledger said {got:?}")))
                }
            }
        }
        prop_assert_eq!(ledger.events(), history.events());
    }

    /// I8 and I5 at the ingestion path: a hostile log is decoded and replayed to an error
    /// or a case, never a panic; damage that must be caught is caught, where it is.
    #[test]
    fn replaying_a_hostile_log_never_panics(hostile in hostile_logs(&config())) {
        let decoded = decode_log(&hostile.text);
        let replayed = decoded.clone().map_err(Error::from).and_then(|e| Case::replay(&e).map_err(Error::from));
        if hostile.damage.always_rejected() {
            prop_assert!(replayed.is_err(), "{:?} was not caught", hostile.damage);
        }
        match (&hostile.damage, &decoded, &replayed) {
            (Damage::Truncated { line, .. }, Err(err), _) => prop_assert_eq!(err.line(), *line),
            (Damage::Truncated { .. }, Ok(_), _) => return Err(TestCaseError::fail("a truncated line decoded")),
            (Damage::Foreign { .. }, _, Err(err)) => {
                prop_assert!(matches!(err, Error::Log(LogError::ForeignCase { .. })), "{err}")
            }
            (Damage::TimeBackwards { seq, .. }, _, Err(err)) => {
                prop_assert!(
                    matches!(err, Error::Log(LogError::TimeWentBackwards { seq: s, .. }) if s == seq),
                    "{err}"
                )
            }
            (Damage::Gap { .. } | Damage::Reordered { .. } | Damage::Duplicated { .. }, _, Err(err)) => {
                prop_assert!(
                    matches!(err, Error::Log(LogError::SequenceGap { .. } | LogError::NotOpenedFirst { .. })),
                    "{err}"
                )
            }
            _ => {}
        }
        // Whatever a tampered log folds to is still a case that keeps the rules.
        if let Ok(case) = &replayed {
            if case.status() == &Status::Resolved {
                prop_assert_eq!(case.outcome_state(), OutcomeState::Confirmed);
            }
        }
    }

    /// I8: decoding any text returns an event, a log or a typed error.
    #[test]
    fn decoding_arbitrary_text_never_panics(text in any::<String>()) {
        let _ = Event::from_json(&text);
        if let Err(err) = decode_log(&text) {
            prop_assert!(err.line() >= 1 && err.line() <= text.lines().count().max(1));
        }
    }

    /// I8: decoding valid lines with bytes overwritten or cut returns a typed error or an event.
    #[test]
    fn decoding_mangled_events_never_panics(
        history in histories(&config().with_steps(8)),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let mut bytes = encode_log(history.events()).expect("logs serialise").into_bytes();
        for (at, byte) in edits {
            let i = at % bytes.len();
            bytes[i] = byte;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        let text = String::from_utf8_lossy(&bytes);
        match decode_log(&text) {
            Ok(events) => { let _ = Case::replay(&events); }
            Err(DecodeError::Truncated { line } | DecodeError::Syntax { line, .. }
                | DecodeError::NotAnEvent { line, .. } | DecodeError::UnsupportedSchema { line, .. }) => {
                prop_assert!(line >= 1);
            }
            Err(other) => prop_assert!(other.line() >= 1),
        }
    }
}

/// The generator must reach the states the properties are about; a fixed seed makes this
/// a check of the generator's weights, not of luck.
#[test]
fn generated_histories_reach_every_interesting_state() {
    let mut runner = TestRunner::deterministic();
    let strategy = histories(&config());
    let mut seen: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut refusals: BTreeSet<String> = BTreeSet::new();
    for _ in 0..300 {
        let history = strategy.new_tree(&mut runner).expect("histories generate").current();
        let case = history.case();
        for event in history.events() {
            *seen.entry(event.what.tag()).or_default() += 1;
        }
        if case.counters().bounces > 0 {
            *seen.entry("a bounce").or_default() += 1;
        }
        if case.escalation_level() > 1 {
            *seen.entry("a second escalation").or_default() += 1;
        }
        if case.counters().reopenings > 0 && case.is_closed() {
            *seen.entry("closed again after reopening").or_default() += 1;
        }
        if history.attempts().iter().any(|a| matches!(a.outcome, caseledger::testkit::Outcome::AlreadyDone(_))) {
            *seen.entry("a retried request").or_default() += 1;
        }
        if history.events().iter().any(|e| e.given_at.is_some()) {
            *seen.entry("a clock adjustment").or_default() += 1;
        }
        if history.events().iter().any(|e| e.key.is_some()) {
            *seen.entry("a keyed event").or_default() += 1;
        }
        for (_, refusal) in history.refusals() {
            let name = format!("{refusal:?}");
            refusals.insert(name.split([' ', '{', '(']).next().unwrap_or_default().to_owned());
        }
    }
    let situations = [
        "a bounce",
        "a second escalation",
        "closed again after reopening",
        "a retried request",
        "a keyed event",
        "a clock adjustment",
    ];
    let tags = caseledger::EventKind::TAGS.iter().copied().chain(situations);
    for tag in tags {
        assert!(seen.contains_key(tag), "generation never reaches {tag}: {seen:?}");
    }
    for refusal in [
        "NotOwner",
        "StaffOnly",
        "NotYourDepartment",
        "ConfirmationNotFromCustomer",
        "CaseClosed",
        "NotClosed",
        "OutcomeUnmet",
        "WorkStillOpen",
        "EmptyText",
        "ReceiverIsOwner",
        "UnknownWorkItem",
        "WorkItemClosed",
        "DuplicateWorkItem",
        "TimeBeforeLastEvent",
        "ChannelUnreachable",
        "NoContactAttempts",
        "DuplicateOfItself",
        "AlreadyLinked",
        "Policy",
        "UnknownPolicy",
        "InvariantNotOverridable",
        "NotEmpoweredToOverride",
        "OverrideReasonTooShort",
        "NothingToOverride",
        "KeyReused",
        "NotTheCustomer",
        "CustomerNotHeard",
        "NotALiveChannel",
        "ControlCharacter",
    ] {
        assert!(refusals.contains(refusal), "generation never meets the refusal {refusal}: {refusals:?}");
    }
}

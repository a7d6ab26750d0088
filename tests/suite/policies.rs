//! The stories the service policies prevent, told in the customer's terms.

use crate::support::{cmd::transfer, staff};
use caseledger::{
    case::OutcomeState,
    event::{Channel, Ending, Visibility},
    id::IncidentId,
    policy::{confirmation_requests, DeadlineKind, DeadlineState, EscalationTrigger, Proposal},
    Actor, CaseId, Command, Error, Ledger, Opening, Policy, PolicySet, Refusal, Rules, Staff, Status,
};
use proptest::prelude::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const MONDAY_9AM: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

/// One customer's case on a service desk that runs under a policy set.
struct Desk {
    rules: Rules,
    ledger: Ledger,
}

impl Desk {
    fn open(policies: &str, customer: &str, outcome: &str, owner: &Staff) -> Self {
        Self::open_at(policies, customer, outcome, owner, MONDAY_9AM)
    }

    fn open_at(policies: &str, customer: &str, outcome: &str, owner: &Staff, at: OffsetDateTime) -> Self {
        let rules = PolicySet::from_json(policies).unwrap().to_rules().unwrap();
        let id = CaseId::new_v7(at, *b"0123456789");
        let ledger =
            Ledger::open(&rules, id, Opening::new(customer, outcome, owner.clone()), &Actor::customer(customer), at)
                .unwrap();
        Self { rules, ledger }
    }

    /// The case's customer.
    fn customer(&self) -> Actor {
        Actor::Customer(self.ledger.case().customer().clone())
    }

    /// Asks for `command`; a refusal leaves the case exactly as it was.
    fn ask(&mut self, by: impl Who, command: Command, at: OffsetDateTime) -> Result<(), Refusal> {
        let before = self.ledger.clone();
        match self.ledger.execute(&self.rules, command, &by.actor(), at) {
            Ok(_) => Ok(()),
            Err(Error::Refused(refusal)) => {
                assert_eq!(self.ledger, before, "a refused command changed the case");
                Err(refusal)
            }
            Err(other) => panic!("not a refusal: {other}"),
        }
    }

    fn does(&mut self, by: impl Who, command: Command, at: OffsetDateTime) {
        self.ask(by, command, at).unwrap();
    }
}

/// Whoever asks: a staff member (by reference, to keep the stories short), the customer
/// or the system.
trait Who {
    fn actor(self) -> Actor;
}

impl Who for &Staff {
    fn actor(self) -> Actor {
        Actor::Staff(self.clone())
    }
}

impl Who for Staff {
    fn actor(self) -> Actor {
        Actor::Staff(self)
    }
}

impl Who for Actor {
    fn actor(self) -> Actor {
        self
    }
}

fn hours(n: i64) -> OffsetDateTime {
    MONDAY_9AM + Duration::hours(n)
}

fn days(n: i64) -> OffsetDateTime {
    MONDAY_9AM + Duration::days(n)
}

fn escalate(to: &Staff, reason: &str) -> Command {
    Command::Escalate { to: to.clone(), reason: reason.into() }
}

fn email(message: &str) -> Command {
    Command::ContactCustomer { channel: Channel::Email, message: message.into() }
}

fn reply(message: &str) -> Command {
    Command::RecordReply { channel: Channel::Email, message: message.into() }
}

fn open_work(item: &str, department: &str, title: &str) -> Command {
    Command::OpenWork { item: item.into(), department: department.into(), title: title.into() }
}

fn policy_refusal(refusal: Refusal) -> (String, String) {
    match refusal {
        Refusal::Policy { policy, reason } => (policy, reason),
        other => panic!("not a policy refusal: {other}"),
    }
}

// S4 ------------------------------------------------------------------------------------

#[test]
fn s4_the_ping_pong_stops_at_the_bounce_limit_and_escalation_is_the_way_out() {
    let ana = staff("ana", "network");
    let bo = staff("bo", "billing");
    let policies = r#"{"policies": [{"type": "bounce_limit", "max_bounces": 1}]}"#;
    let mut desk = Desk::open(policies, "cust-88", "my bill matches my contract", &ana);

    desk.does(&ana, transfer(&bo, "customer disputes the line rental"), hours(1));
    desk.does(&bo, transfer(&ana, "line rental is a network fee"), hours(2));
    assert_eq!(desk.ledger.case().counters().bounces, 1, "back at network: the first bounce");

    let err = desk.ask(&ana, transfer(&bo, "it's on the bill, so billing"), hours(3)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused by policy bounce_limit: the case has bounced 1 time and the limit is 1; \
         handing it to bo (billing) would bounce it again, so escalate it instead"
    );

    // A department the case has not been to yet is not a bounce...
    let cy = staff("cy", "contracts");
    let carla = staff("carla", "escalations");
    desk.does(&ana, transfer(&cy, "contract terms question"), hours(3));
    // ...and sending it back is refused again, but escalating never is.
    assert!(desk.ask(&cy, transfer(&ana, "not a contract question"), hours(4)).is_err());
    desk.does(&cy, escalate(&carla, "bounced between network and billing since 9:00"), hours(4));
    assert_eq!(desk.ledger.case().owner(), &carla);
    assert_eq!(desk.ledger.case().escalation_level(), 1);
}

// S1 ------------------------------------------------------------------------------------

/// The laptop: software owns it; hardware, parts and warranty each have a piece of work.
fn laptop_case(may_contact: &str) -> (Desk, Staff, Staff) {
    let ana = staff("ana", "software");
    let bo = staff("bo", "hardware");
    let policies = format!(r#"{{"policies": [{{"type": "one_voice", "may_contact": "{may_contact}"}}]}}"#);
    let mut desk = Desk::open(&policies, "cust-1042", "my laptop works", &ana);
    desk.does(&ana, open_work("SW-1", "software", "update the BIOS"), hours(1));
    desk.does(&ana, open_work("HW-7", "hardware", "check the mainboard"), hours(1));
    (desk, ana, bo)
}

#[test]
fn s1_departments_do_not_each_chase_the_customer_about_their_own_piece() {
    let (mut desk, ana, bo) = laptop_case("owner");

    let err = desk.ask(&bo, email("did the mainboard check work? can I close this?"), hours(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused by policy one_voice: only the owner, ana (software), contacts the customer; \
         bo (hardware) should ask the owner"
    );
    desk.does(&ana, email("we are checking the BIOS and the mainboard; I will update you by Wednesday"), hours(2));
    assert_eq!(desk.ledger.case().counters().contacts, 1);
}

#[test]
fn s1_when_configured_a_department_working_on_the_case_may_speak_but_others_not() {
    let (mut desk, _ana, bo) = laptop_case("working_departments");

    desk.does(&bo, email("may we pick up the laptop on Tuesday?"), hours(2));
    let err = desk.ask(staff("wen", "warranty"), email("is your warranty claim still needed?"), hours(3)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused by policy one_voice: only the owner, ana (software), or a department with open work on the case \
         contacts the customer; warranty has none"
    );
}

// S1, S2: the follow-up limit ------------------------------------------------------------

#[test]
fn s2_the_eleventh_can_i_close_it_is_refused_and_says_why() {
    let ana = staff("ana", "software");
    let policies = r#"{"policies": [{"type": "follow_up_limit", "max_unanswered": 10, "window": "14d"}]}"#;
    let mut desk = Desk::open(policies, "cust-1042", "my laptop works", &ana);
    for day in 0..10 {
        desk.does(&ana, email("did the BIOS update work? can I close it?"), days(day) + Duration::hours(1));
    }

    let err = desk.ask(&ana, email("can I close it?"), days(10)).unwrap_err();
    let (policy, reason) = policy_refusal(err);
    assert_eq!(policy, "follow_up_limit");
    assert_eq!(
        reason,
        "10 contacts in the last 14 days are unanswered and the limit is 10 per 14 days; \
         wait for the customer's reply or until 2026-12-07 10:00"
    );

    // The first of the ten leaves the window at the time the refusal named.
    assert!(desk.ask(&ana, email("can I close it?"), datetime!(2026-12-07 09:59 UTC)).is_err());
    desk.does(&ana, email("can I close it?"), datetime!(2026-12-07 10:00 UTC));
}

#[test]
fn s2_a_reply_from_the_customer_lets_the_owner_write_again() {
    let ana = staff("ana", "software");
    let policies = r#"{"policies": [{"type": "follow_up_limit", "max_unanswered": 2, "window": "7d"}]}"#;
    let mut desk = Desk::open(policies, "cust-1042", "my laptop works", &ana);
    desk.does(&ana, email("did the update work?"), hours(1));
    desk.does(&ana, email("did the update work?"), hours(25));
    assert!(desk.ask(&ana, email("did the update work?"), hours(49)).is_err());

    desk.does(desk.customer(), reply("sorry, was away; it still does not boot"), hours(50));
    desk.does(&ana, email("thanks, we will replace the mainboard"), hours(51));
}

// S2: honest silence ----------------------------------------------------------------------

#[test]
fn s2_silence_closes_only_as_unreachable_after_enough_attempts_over_enough_time() {
    let ana = staff("ana", "software");
    let policies = r#"{"policies": [{"type": "honest_silence", "min_attempts": 3, "min_span": "7d"}]}"#;
    let mut desk = Desk::open(policies, "cust-1042", "my laptop works", &ana);
    let unreachable =
        || Command::CloseUnresolved { ending: Ending::Unreachable, evidence: "no answer to our e-mails".into() };

    desk.does(&ana, email("is your laptop working now?"), days(1));
    desk.does(&ana, email("is your laptop working now?"), days(4));
    let err = desk.ask(&ana, unreachable(), days(5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused by policy honest_silence: closing as unreachable needs at least 3 contact attempts over at least \
         7 days since the customer last replied; so far 2 attempts over 3 days"
    );

    // Silence is never satisfaction: nobody can resolve the case on the customer's behalf.
    let resolve = Command::Resolve { summary: "customer did not object".into() };
    assert!(matches!(desk.ask(&ana, resolve, days(5)), Err(Refusal::OutcomeUnmet { .. })));
    let confirm = Command::ConfirmOutcome { statement: "no news is good news".into() };
    assert!(matches!(desk.ask(Actor::System, confirm, days(5)), Err(Refusal::ConfirmationNotFromCustomer { .. })));

    desk.does(&ana, email("last try: is your laptop working now?"), days(8));
    desk.does(&ana, unreachable(), days(9));
    assert_eq!(desk.ledger.case().status(), &Status::ClosedUnresolved { ending: Ending::Unreachable });
    assert_eq!(desk.ledger.case().outcome_state(), OutcomeState::Unmet);
}

#[test]
fn s2_an_answer_restarts_the_count_of_attempts() {
    let ana = staff("ana", "software");
    let policies = r#"{"policies": [{"type": "honest_silence", "min_attempts": 2, "min_span": "1d"}]}"#;
    let mut desk = Desk::open(policies, "cust-1042", "my laptop works", &ana);
    desk.does(&ana, email("is it working?"), days(1));
    desk.does(&ana, email("is it working?"), days(3));
    desk.does(desk.customer(), reply("not yet, still testing"), days(4));
    desk.does(&ana, email("and now?"), days(6));

    let close = Command::CloseUnresolved { ending: Ending::Unreachable, evidence: "silent since".into() };
    let (_, reason) = policy_refusal(desk.ask(&ana, close, days(7)).unwrap_err());
    assert!(reason.ends_with("so far 1 attempt over 0 minutes"), "{reason}");
}

// S6: reachability and incidents ----------------------------------------------------------

#[test]
fn s6_after_the_fire_nobody_tells_a_customer_without_internet_to_check_a_web_page() {
    // Reachability is a fact on the case, not a configured preference: the empty policy
    // set enforces it, and so does every other.
    for policies in ["{}", r#"{"policies": [{"type": "one_voice"}]}"#] {
        let ana = staff("ana", "network");
        let mut desk = Desk::open(policies, "cust-5", "my phone line and internet work again", &ana);
        let no_lines = "no power or lines since the fire on Elm Street";
        for channel in [Channel::Web, Channel::Email, Channel::Phone] {
            let fact = Command::RecordReachability { channel, reachable: false, note: no_lines.into() };
            desk.does(&ana, fact, hours(1));
        }

        let web = Command::ContactCustomer { channel: Channel::Web, message: "see status.example.com".into() };
        let err = desk.ask(&ana, web, hours(2)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the customer cannot be reached by web: no power or lines since the fire on Elm Street"
        );
        let letter =
            Command::ContactCustomer { channel: Channel::Letter, message: "we know; repairs by Friday".into() };
        desk.does(&ana, letter, hours(2));
    }
}

#[test]
fn s6_when_the_incident_ends_linked_customers_are_asked_not_resolved() {
    let fire = IncidentId::new("fire-0042");
    let ana = staff("ana", "network");
    let mut desks: Vec<Desk> = ["cust-1", "cust-2", "cust-3", "cust-4"]
        .iter()
        .enumerate()
        .map(|(i, customer)| {
            let at = MONDAY_9AM + Duration::minutes(i64::try_from(i).unwrap());
            Desk::open_at("{}", customer, "my internet works", &ana, at)
        })
        .collect();
    for desk in &mut desks[..3] {
        desk.does(Actor::System, Command::LinkIncident { incident: fire.clone() }, hours(1));
    }
    // cust-3 withdrew before the fire was out.
    let customer = desks[2].customer();
    desks[2].does(
        customer,
        Command::CloseUnresolved { ending: Ending::Withdrawn, evidence: "moved away".into() },
        hours(2),
    );

    let ended = days(2);
    let requests = confirmation_requests(&fire, ended, desks.iter().map(|d| d.ledger.case()));
    let ids: Vec<CaseId> = requests.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [desks[0].ledger.case().id(), desks[1].ledger.case().id()]);
    for (id, command) in requests {
        let desk = desks.iter_mut().find(|d| d.ledger.case().id() == id).unwrap();
        desk.does(Actor::System, command, ended);
    }

    for desk in &desks[..2] {
        let case = desk.ledger.case();
        assert_eq!(case.status(), &Status::Open, "the end of the fire resolves nobody's problem");
        assert_eq!(
            case.confirmation_requested(),
            Some("incident fire-0042 ended at 2026-11-25 09:00; ask the customer whether \"my internet works\" is true now")
        );
    }
    assert_eq!(desks[3].ledger.case().confirmation_requested(), None, "not linked to the fire");
    // Asking again changes nothing: the first request is still pending.
    assert!(confirmation_requests(&fire, ended, desks.iter().map(|d| d.ledger.case())).is_empty());

    // Only the customer's own word resolves their case.
    let resolve = Command::Resolve { summary: "fire repairs done".into() };
    assert!(matches!(desks[0].ask(&ana, resolve.clone(), ended), Err(Refusal::OutcomeUnmet { .. })));
    let customer = desks[0].customer();
    desks[0].does(customer, Command::ConfirmOutcome { statement: "internet is back".into() }, days(3));
    desks[0].does(&ana, resolve, days(3));
    assert_eq!(desks[0].ledger.case().status(), &Status::Resolved);
}

// Deadlines -------------------------------------------------------------------------------

const DEADLINES: &str = r#"{"deadlines": {"first_response": "4h", "next_update": "2d", "warn_before": "1h"}}"#;

#[test]
fn the_first_response_is_due_soon_then_breached_and_the_breach_lands_on_the_timeline() {
    let ana = staff("ana", "software");
    let set = PolicySet::from_json(DEADLINES).unwrap();
    let mut desk = Desk::open(DEADLINES, "cust-1042", "my laptop works", &ana);

    assert!(set.deadlines.check(desk.ledger.case(), hours(2)).is_empty(), "nothing to worry about at 11:00");
    let soon = set.deadlines.check(desk.ledger.case(), hours(3) + Duration::minutes(30));
    assert_eq!(soon.len(), 1);
    assert_eq!(soon[0].state, DeadlineState::DueSoon { left: Duration::minutes(30) });
    assert_eq!(soon[0].to_string(), "first response due in 30 minutes (at 2026-11-23 13:00)");

    let late = set.deadlines.check(desk.ledger.case(), hours(6));
    assert_eq!(late[0].deadline.kind, DeadlineKind::FirstResponse);
    assert_eq!(late[0].state, DeadlineState::Breached { overdue: Duration::hours(2) });
    assert_eq!(late[0].to_string(), "first response overdue by 2 hours (due 2026-11-23 13:00)");

    // A scheduler running every hour records the breach exactly once.
    let mut noted = 0;
    for run in 1..=8 {
        for breach in set.deadlines.breached_between(desk.ledger.case(), hours(run - 1), hours(run)) {
            desk.does(Actor::System, breach.breach_note(), hours(run));
            noted += 1;
        }
    }
    assert_eq!(noted, 1);
    let timeline = desk.ledger.timeline().to_string();
    assert!(
        timeline.contains(
            "the system wrote an internal note: \"first response deadline breached: it was due 2026-11-23 13:00\""
        ),
        "{timeline}"
    );
    let customer_view = desk.ledger.customer_timeline().to_string();
    assert!(!customer_view.contains("breached"), "{customer_view}");
}

#[test]
fn after_the_first_answer_the_next_update_is_due_and_a_closed_case_owes_nothing() {
    let ana = staff("ana", "software");
    let set = PolicySet::from_json(DEADLINES).unwrap();
    let mut desk = Desk::open(DEADLINES, "cust-1042", "my laptop works", &ana);
    desk.does(&ana, email("we are on it"), hours(3));

    let due = set.deadlines.due(desk.ledger.case());
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].kind, due[0].due_at), (DeadlineKind::NextUpdate, hours(51)));
    let note = Command::AddNote { text: "parts ordered, arriving Thursday".into(), visibility: Visibility::Customer };
    desk.does(&ana, note, hours(30));
    assert_eq!(set.deadlines.due(desk.ledger.case())[0].due_at, hours(78), "a customer-visible note is an update");
    let internal = Command::AddNote { text: "supplier is slow".into(), visibility: Visibility::Internal };
    desk.does(&ana, internal, hours(40));
    assert_eq!(set.deadlines.due(desk.ledger.case())[0].due_at, hours(78), "an internal note is not");
    let late = set.deadlines.check(desk.ledger.case(), hours(80));
    assert_eq!(late[0].to_string(), "next update overdue by 2 hours (due 2026-11-26 15:00)");

    desk.does(
        desk.customer(),
        Command::CloseUnresolved { ending: Ending::Withdrawn, evidence: "bought a new one".into() },
        hours(81),
    );
    assert!(set.deadlines.check(desk.ledger.case(), days(30)).is_empty());
}

#[test]
fn after_a_reopen_the_next_update_counts_from_the_reopening() {
    let ana = staff("ana", "software");
    let set = PolicySet::from_json(DEADLINES).unwrap();
    let mut desk = Desk::open(DEADLINES, "cust-1042", "my laptop works", &ana);
    desk.does(&ana, email("we are on it"), hours(3));
    desk.does(
        desk.customer(),
        Command::CloseUnresolved { ending: Ending::Withdrawn, evidence: "it seems fine".into() },
        hours(4),
    );
    // Ten days later the problem is back: the customer waits from now, not from day one.
    desk.does(desk.customer(), Command::Reopen { reason: "it broke again".into() }, days(10));
    let due = set.deadlines.due(desk.ledger.case());
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].kind, due[0].due_at), (DeadlineKind::NextUpdate, days(10) + Duration::hours(48)));
    assert!(set.deadlines.check(desk.ledger.case(), days(10) + Duration::hours(1)).is_empty(), "not overdue at once");
    desk.does(&ana, email("sorry to hear it, looking at it now"), days(11));
    assert_eq!(set.deadlines.due(desk.ledger.case())[0].due_at, days(13), "an update after the reopening counts");
}

// S5: escalation triggers ------------------------------------------------------------------

#[test]
fn s5_after_too_many_handoffs_the_case_goes_up_not_around() {
    let policies = r#"{"escalation": {"after_handoffs": 2, "refuse_transfers": true}}"#;
    let set = PolicySet::from_json(policies).unwrap();
    let (ana, bo, cy, dee) =
        (staff("ana", "tier-1"), staff("bo", "billing"), staff("cy", "network"), staff("dee", "tier-2"));
    let mut desk = Desk::open(policies, "cust-9", "my router is replaced", &ana);
    desk.does(&ana, transfer(&bo, "billing question"), hours(1));
    desk.does(&bo, transfer(&cy, "it is a router fault"), hours(2));

    let fired = set.escalation.fired(desk.ledger.case(), hours(2));
    assert_eq!(fired, [EscalationTrigger::Handoffs { handoffs: 2, after: 2 }]);
    let err = desk.ask(&cy, transfer(&staff("ed", "logistics"), "ship a router"), hours(3)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused by policy escalation_required: escalation is required: 2 handoffs since the last escalation \
         (escalate after 2); escalate instead of transferring"
    );

    desk.does(&cy, escalate(&dee, "two handoffs and no router yet"), hours(3));
    assert!(set.escalation.fired(desk.ledger.case(), hours(3)).is_empty(), "the escalation answered the trigger");
    desk.does(&dee, transfer(&staff("ed", "logistics"), "ship a router today"), hours(4));
}

#[test]
fn s5_escalation_is_due_when_the_case_is_old_or_the_customer_asks_again() {
    let policies = r#"{"escalation": {"after_age": "3d", "after_customer_asks": 2}}"#;
    let set = PolicySet::from_json(policies).unwrap();
    let ana = staff("ana", "tier-1");
    let mut desk = Desk::open(policies, "cust-9", "my router is replaced", &ana);

    desk.does(desk.customer(), reply("any news?"), hours(20));
    assert!(set.escalation.fired(desk.ledger.case(), hours(20)).is_empty());
    desk.does(desk.customer(), reply("I asked yesterday. Any news??"), hours(44));
    let fired = set.escalation.fired(desk.ledger.case(), hours(44));
    assert_eq!(fired, [EscalationTrigger::CustomerAsks { asks: 2, after: 2 }]);

    desk.does(&ana, email("sorry: the router ships Friday"), hours(45));
    assert!(set.escalation.fired(desk.ledger.case(), hours(45)).is_empty(), "the customer got an answer");

    let fired = set.escalation.fired(desk.ledger.case(), days(3) + Duration::hours(2));
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].to_string(), "3 days 2 hours since the case was opened (escalate after 3 days)");

    desk.does(&ana, escalate(&staff("dee", "tier-2"), "three days open"), days(4));
    assert!(set.escalation.fired(desk.ledger.case(), days(6)).is_empty());
    let fired = set.escalation.fired(desk.ledger.case(), days(7));
    assert_eq!(fired[0].to_string(), "3 days since the case was last escalated (escalate after 3 days)");
}

// Composition ------------------------------------------------------------------------------

/// A host's own rule: nobody promises a technician visit while an incident is linked (S6).
#[derive(Debug)]
struct NoVisitsDuringIncidents;

impl Policy for NoVisitsDuringIncidents {
    fn name(&self) -> &str {
        "no_visits_during_incidents"
    }

    fn check(&self, case: &caseledger::Case, proposal: &Proposal<'_>) -> Result<(), String> {
        let offers_visit = matches!(proposal.what, caseledger::EventKind::CustomerContacted { message, .. }
            if message.contains("technician"));
        match case.incidents().first() {
            Some(incident) if offers_visit => Err(format!("incident {incident} is linked; a visit cannot help")),
            _ => Ok(()),
        }
    }
}

#[test]
fn host_policies_run_after_the_built_ins_in_order() {
    let set = PolicySet::from_json(r#"{"policies": [{"type": "one_voice"}]}"#).unwrap();
    let rules = set.to_rules().unwrap().with_policy(NoVisitsDuringIncidents);
    let names: Vec<&str> = rules.policies().map(Policy::name).collect();
    assert_eq!(names, ["one_voice", "no_visits_during_incidents"]);

    let ana = staff("ana", "network");
    let mut desk = Desk::open("{}", "cust-5", "my internet works", &ana);
    desk.rules = rules;
    desk.does(Actor::System, Command::LinkIncident { incident: IncidentId::new("fire-0042") }, hours(1));
    let visit = || email("shall we send a technician?");

    // Both refuse a colleague's offer; the built-in speaks first.
    let (policy, _) = policy_refusal(desk.ask(staff("bo", "field"), visit(), hours(2)).unwrap_err());
    assert_eq!(policy, "one_voice");
    let err = desk.ask(&ana, visit(), hours(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused by policy no_visits_during_incidents: incident fire-0042 is linked; a visit cannot help"
    );
}

// The follow-up limit agrees with counting the whole history --------------------------------

#[derive(Clone, Debug)]
enum Step {
    Contact(i64),
    Reply(i64),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        4 => (0i64..3_000).prop_map(Step::Contact),
        1 => (0i64..3_000).prop_map(Step::Reply),
    ];
    proptest::collection::vec(step, 1..80)
}

proptest! {
    #[test]
    fn the_follow_up_limit_counts_like_the_full_history_would(max in 1u32..=32, window_min in 1u32..5_000, steps in steps()) {
        let ana = staff("ana", "software");
        let policies = format!(r#"{{"policies": [{{"type": "follow_up_limit", "max_unanswered": {max}, "window": "{window_min}m"}}]}}"#);
        let mut desk = Desk::open(&policies, "cust-1", "my laptop works", &ana);
        let window = Duration::minutes(i64::from(window_min));
        let mut now = MONDAY_9AM;
        let mut unanswered: Vec<OffsetDateTime> = Vec::new();
        for step in steps {
            match step {
                Step::Contact(gap) => {
                    now += Duration::minutes(gap);
                    let in_window = unanswered.iter().filter(|t| **t > now - window).count();
                    let allowed = in_window < usize::try_from(max).unwrap();
                    let result = desk.ask(&ana, email("any news?"), now);
                    prop_assert_eq!(result.is_ok(), allowed, "at {} with {} in window", now, in_window);
                    if allowed {
                        unanswered.push(now);
                    }
                }
                Step::Reply(gap) => {
                    now += Duration::minutes(gap);
                    desk.does(desk.customer(), reply("still broken"), now);
                    unanswered.clear();
                }
            }
            prop_assert!(desk.ledger.case().unanswered_contact_times().len() <= caseledger::Case::UNANSWERED_CONTACTS_KEPT);
        }
        let replayed = caseledger::Case::replay(desk.ledger.events()).unwrap();
        prop_assert_eq!(desk.ledger.case(), &replayed);
    }
}

/// Issue 10, item 9: how the owner got the case is on the case, so a host can write
/// "no transfer to the same department twice in a row" exactly: a case transferred
/// into hardware may not be transferred to hardware again; a case *escalated* into
/// hardware (or opened there) may.
#[derive(Debug)]
struct NoSecondTransferIntoTheSameDepartment;

impl Policy for NoSecondTransferIntoTheSameDepartment {
    fn name(&self) -> &str {
        "no_second_transfer_into_the_same_department"
    }

    fn check(&self, case: &caseledger::Case, proposal: &Proposal<'_>) -> Result<(), String> {
        let caseledger::EventKind::Transferred { to, .. } = proposal.what else { return Ok(()) };
        let department = &case.owner().department;
        if case.owner_acquired() == caseledger::case::Acquisition::Transferred && &to.department == department {
            let from = case.previous_owner().map_or_else(|| "?".to_owned(), ToString::to_string);
            return Err(format!("the case was just transferred into {department} (from {from}); not twice in a row"));
        }
        Ok(())
    }
}

#[test]
fn a_policy_can_tell_how_the_owner_got_the_case() {
    use caseledger::case::Acquisition;
    let rules = Rules::default().with_policy(NoSecondTransferIntoTheSameDepartment);
    let (ana, bo, hal, lee) = (
        Staff::new("ana", "software"),
        Staff::new("bo", "hardware"),
        Staff::new("hal", "hardware"),
        Staff::new("lee", "hardware"),
    );
    let at = |m: i64| MONDAY_9AM + Duration::minutes(m);
    let id = CaseId::new_v7(MONDAY_9AM, [7; 10]);
    let mut ledger = Ledger::open(
        &rules,
        id,
        Opening::new("cust-9", "my laptop works", ana.clone()),
        &Actor::customer("cust-9"),
        at(0),
    )
    .unwrap();
    let transfer = |to: &Staff| Command::Transfer { to: to.clone(), note: "over to you".into() };

    ledger.execute(&rules, transfer(&bo), &ana.clone().into(), at(1)).unwrap();
    assert_eq!(ledger.case().owner_acquired(), Acquisition::Transferred);
    assert_eq!(ledger.case().previous_owner(), Some(&ana));
    let before = ledger.clone();
    let err = ledger.execute(&rules, transfer(&hal), &bo.clone().into(), at(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "refused by policy no_second_transfer_into_the_same_department: \
         the case was just transferred into hardware (from ana (software)); not twice in a row"
    );
    assert_eq!(ledger, before);

    // Escalated into hardware instead: one transfer within hardware is fine.
    ledger
        .execute(
            &rules,
            Command::Escalate { to: lee.clone(), reason: "needs a lead".into() },
            &bo.clone().into(),
            at(3),
        )
        .unwrap();
    assert_eq!(ledger.case().owner_acquired(), Acquisition::Escalated);
    assert_eq!(ledger.case().previous_owner(), Some(&bo));
    ledger.execute(&rules, transfer(&hal), &lee.clone().into(), at(4)).unwrap();
    // ...but not a second one.
    assert!(ledger.execute(&rules, transfer(&bo), &hal.clone().into(), at(5)).is_err());
    ledger.execute(&rules, transfer(&ana), &hal.clone().into(), at(6)).unwrap();

    // The owner at every point of the log, from the case alone.
    let owners: Vec<&str> = (0..=6).map(|seq| ledger.case().owner_at(seq).map_or("-", |s| s.id.as_str())).collect();
    assert_eq!(owners, ["-", "ana", "bo", "lee", "hal", "ana", "-"]);
    assert_eq!(caseledger::Case::replay(ledger.events()).as_ref(), Ok(ledger.case()));
}

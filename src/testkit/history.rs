//! Generated histories: abstract moves, their reading against the current case, and the
//! record of what the rules made of each.
//!
//! Proptest generates a script of moves that do not depend on the case ("the owner
//! hands the case to cast member 3", "someone from the item's department completes open
//! item 1"). Each move is read against the case as it stands, decided by the rules and,
//! if accepted, folded. Shrinking removes and simplifies moves and runs the script
//! again, so every shrunk history is still a real one.

use std::fmt;
use std::ops::RangeInclusive;

use proptest::collection::vec;
use proptest::prelude::{any, Just};
use proptest::sample::select;
use proptest::strategy::{BoxedStrategy, Strategy, Union};
use time::{Duration, OffsetDateTime};

use super::Config;
use crate::actor::{Actor, Staff};
use crate::case::{Case, WorkItem};
use crate::command::{Command, Opening, Request};
use crate::error::{LogError, Refusal};
use crate::event::{Channel, Ending, Event, Visibility};
use crate::id::{CaseId, Department, IdempotencyKey, IncidentId, WorkItemId};
use crate::rules::Decision;
use crate::status::OutcomeState;
use crate::timeline::Timeline;

/// What the rules made of one attempted command.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Decided and folded; these events were appended.
    Accepted(Vec<Event>),
    /// The request's idempotency key was already used for this same command, which
    /// produced these events; nothing was appended.
    AlreadyDone(RangeInclusive<u64>),
    /// Refused; nothing changed.
    Refused(Refusal),
    /// `decide` accepted the command but folding its events failed. This is a bug in
    /// caseledger (decide and fold disagree); the events were not appended.
    Inconsistent(LogError),
}

/// One command someone tried, when, and what came of it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt {
    /// Who asked.
    pub by: Actor,
    /// What they asked.
    pub command: Command,
    /// When.
    pub at: OffsetDateTime,
    /// The idempotency key it was sent with, if any: generated histories send some
    /// commands with a fresh key, retry some keyed requests, and reuse some keys for
    /// another command.
    pub key: Option<IdempotencyKey>,
    /// What the rules made of it.
    pub outcome: Outcome,
}

impl Attempt {
    /// The request as it was sent: the command with its key, if any.
    #[must_use]
    pub fn request(&self) -> Request {
        Request { command: self.command.clone(), key: self.key.clone() }
    }
}

/// A generated case history: the commands attempted after opening, and the valid log
/// and case they produced.
#[derive(Clone, PartialEq, Eq)]
pub struct History {
    events: Vec<Event>,
    case: Case,
    attempts: Vec<Attempt>,
}

impl History {
    /// The log: the `opened` event, then the events of every accepted command.
    #[must_use]
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The case after the whole log.
    #[must_use]
    pub fn case(&self) -> &Case {
        &self.case
    }

    /// Every command tried after opening, in order, accepted or not.
    #[must_use]
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// The owner the case was opened with.
    #[must_use]
    pub fn first_owner(&self) -> &Staff {
        self.case.previous_owners().first().unwrap_or(self.case.owner())
    }

    /// The refused attempts with their refusals.
    pub fn refusals(&self) -> impl Iterator<Item = (&Attempt, &Refusal)> {
        self.attempts.iter().filter_map(|a| match &a.outcome {
            Outcome::Refused(r) => Some((a, r)),
            _ => None,
        })
    }

    /// Each event with the case as it stood right after it, for properties that must
    /// hold at every moment rather than only at the end.
    pub fn states(&self) -> impl Iterator<Item = (&Event, Case)> + '_ {
        let mut case: Option<Case> = None;
        self.events.iter().map_while(move |event| {
            let next = match case.take() {
                None => Case::from_opened(event).ok()?,
                Some(mut c) => {
                    c.apply(event).ok()?;
                    c
                }
            };
            case = Some(next.clone());
            Some((event, next))
        })
    }

    /// The staff timeline of the log.
    #[must_use]
    pub fn timeline(&self) -> Timeline {
        Timeline::staff(&self.events)
    }
}

impl fmt::Debug for History {
    // Proptest prints failing values with `Debug`: show the story, not the structs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "History ({} events, {} attempts):", self.events.len(), self.attempts.len())?;
        write!(f, "{}", self.timeline())?;
        for (attempt, refusal) in self.refusals() {
            writeln!(f, "  refused: {} at {}: {:?}: {refusal}", attempt.by, attempt.at, attempt.command)?;
        }
        Ok(())
    }
}

/// Histories generated under `config`: its rules decide every command.
///
/// Cases are opened by cast members the rules accept as owners (a [`Directory`] may
/// refuse some). If they accept none, every history is rejected and proptest gives up
/// at once; [`check_histories`](super::check_histories) reports that as a [`Failure`].
///
/// [`Directory`]: crate::rules::Directory
/// [`Failure`]: super::Failure
pub fn histories(config: &Config) -> impl Strategy<Value = History> {
    let Ok(owners) = owners(config) else {
        return Just(()).prop_filter_map(NO_OWNER, |()| None).boxed();
    };
    let config = config.clone();
    scripts(config.steps).prop_filter_map(NO_OWNER, move |script| run(&config, &owners, &script)).boxed()
}

const NO_OWNER: &str = "the rules refused to open a case for anyone in the cast";

/// The cast members a case may be opened for, or why there are none.
pub(super) fn owners(config: &Config) -> Result<Vec<Staff>, String> {
    let mut refusal = None;
    let owners: Vec<Staff> = config
        .cast
        .staff()
        .iter()
        .filter(|owner| {
            let opening = Opening::new(config.cast.customer().clone(), pick_str(OUTCOMES, 0), (*owner).clone());
            let id = CaseId::new_v7(config.start, [0; 10]);
            match config.rules.open(id, opening, &Actor::customer(config.cast.customer().clone()), config.start) {
                Ok(_) => true,
                Err(r) => {
                    refusal.get_or_insert(r);
                    false
                }
            }
        })
        .cloned()
        .collect();
    match (owners.is_empty(), refusal) {
        (false, _) => Ok(owners),
        (true, Some(refusal)) => Err(format!("{NO_OWNER}: {refusal}")),
        (true, None) => Err(format!("{NO_OWNER}: the cast has no staff")),
    }
}

/// The valid logs of [`histories`].
pub fn valid_logs(config: &Config) -> impl Strategy<Value = Vec<Event>> {
    histories(config).prop_map(|h| h.events)
}

#[derive(Clone, Debug)]
struct Script {
    case_bytes: [u8; 10],
    owner: u8,
    opener: Who,
    outcome: String,
    moves: Vec<Move>,
}

#[derive(Clone, Debug)]
struct Move {
    who: Who,
    act: Act,
    minutes: i64,
    /// Steers the move by the case's state (a closed case is mostly reopened).
    roll: u8,
    key: KeyUse,
    /// When not zero, the move is dated this many milliseconds *before* the last event
    /// instead: a node whose clock is a little behind (within the default tolerance,
    /// recorded at the last event's time) or too far behind (refused).
    behind_ms: i64,
}

/// Whether a move is sent with an idempotency key, and which.
#[derive(Clone, Copy, Debug)]
enum KeyUse {
    /// No key, as most hosts send.
    None,
    /// A key no request used before.
    Fresh,
    /// Not this move at all: the last keyed request again, exactly (a retry after a
    /// lost response).
    Retry,
    /// This move's command with the last key used: a client bug, refused unless it
    /// happens to be the same command.
    Reuse,
}

/// Who acts, resolved against the case: `Worker` is someone from the department the
/// act concerns, `Member` anyone in the cast.
#[derive(Clone, Copy, Debug)]
enum Who {
    Owner,
    Customer,
    System,
    Member(u8),
    Worker(u8),
}

#[derive(Clone, Debug)]
enum Act {
    Transfer { to: u8, note: String },
    Escalate { to: u8, reason: String },
    OpenWork { department: u8, number: u8, title: String },
    CompleteWork { pick: u8, note: String },
    DropWork { pick: u8, reason: String },
    RecordFact { name: u8, value: String, visibility: Visibility },
    RecordReachability { channel: Channel, reachable: bool, note: String },
    AddNote { text: String, visibility: Visibility },
    ContactCustomer { channel: Channel, message: String },
    RecordReply { channel: Channel, message: String },
    ConfirmOutcome { statement: String },
    DisputeOutcome { statement: String },
    ReportConfirmation { channel: Channel, statement: String },
    ReportDispute { channel: Channel, statement: String },
    RecordConversation { channel: Channel, summary: String },
    Resolve { summary: String },
    CloseUnresolved { ending: u8, evidence: String },
    Reopen { reason: String },
    LinkIncident { incident: u8 },
    RequestConfirmation { reason: String },
}

const OUTCOMES: &[&str] =
    &["my laptop works", "internet is back at home", "the double charge is refunded", "my phone line works again"];
const NOTES: &[&str] = &[
    "customer already tried a restart and a reset",
    "suspect the BIOS after the last update",
    "needs a part we do not stock",
    "over to you: warranty looks valid",
    "third department today, see the timeline",
];
const WORK: &[&str] =
    &["update the BIOS", "replace the mainboard", "order the part", "check the warranty", "reset line"];
const DONE: &[&str] = &["done, no change for the customer", "part shipped", "warranty approved", "line reset"];
const FACTS: &[&str] = &["serial number", "e-mail", "customer number", "problem id", "what was tried"];
const VALUES: &[&str] = &["SN-123", "kim@example.org", "C-1042", "P-77", "restart, reset, new charger"];
const TO_CUSTOMER: &[&str] = &["did the update help?", "can we close this?", "a technician can come on Monday"];
const FROM_CUSTOMER: &[&str] = &["still broken", "it works now, thanks", "I asked this twice already"];
const CONFIRMS: &[&str] = &["it works now, thanks", "yes, all good again"];
const DISPUTES: &[&str] = &["no, it crashes again", "still broken"];
const CONVERSATIONS: &[&str] =
    &["called: the laptop ran all day", "in the shop: it still shuts down", "chat: customer confirms the fix"];
const ENDINGS: &[&str] = &["three calls and two e-mails over ten days", "customer said so on the phone"];
const REASONS: &[&str] = &["it broke again", "the incident is over", "customer is asking again"];
const INCIDENTS: &[&str] = &["INC-fire-7", "INC-outage-3", "INC-dns-12"];
/// Policies an override may name: the overridable built-ins, a host policy that may not
/// be overridden, an invariant and a name nobody configured.
const OVERRIDDEN: &[&str] = &[
    "bounce_limit",
    "one_voice",
    "follow_up_limit",
    "honest_silence",
    "escalation_required",
    "bounce_limit",
    "outcome_gate",
    "I1",
    "be_nice",
];
const OVERRIDE_REASONS: &[&str] = &[
    "the only person who can fix it works there",
    "customer asked for her by name twice",
    "ok",
    "she travels; told us on day one to wait",
];
const CHANNELS: &[Channel] =
    &[Channel::Email, Channel::Phone, Channel::Sms, Channel::Chat, Channel::Web, Channel::Letter, Channel::InPerson];

/// Mostly a sensible phrase; sometimes blank (to meet the empty-text rules) or wild text
/// (quotes, control characters, any script) to stress encoding and rendering.
fn text(pool: &'static [&'static str]) -> BoxedStrategy<String> {
    Union::new_weighted(vec![
        (17, select(pool).prop_map(str::to_owned).boxed()),
        (1, select(&["", "  "][..]).prop_map(str::to_owned).boxed()),
        (2, vec(any::<char>(), 1..24).prop_map(String::from_iter).boxed()),
    ])
    .boxed()
}

fn who(weights: [u32; 5]) -> BoxedStrategy<Who> {
    let [owner, customer, system, member, worker] = weights;
    let options = vec![
        (owner, Just(Who::Owner).boxed()),
        (customer, Just(Who::Customer).boxed()),
        (system, Just(Who::System).boxed()),
        (member, any::<u8>().prop_map(Who::Member).boxed()),
        (worker, any::<u8>().prop_map(Who::Worker).boxed()),
    ];
    Union::new_weighted(options.into_iter().filter(|(w, _)| *w > 0).collect()).boxed()
}

fn visibility() -> impl Strategy<Value = Visibility> {
    select(&[Visibility::Internal, Visibility::Customer][..])
}

fn channel() -> impl Strategy<Value = Channel> {
    select(CHANNELS)
}

/// Weighted so that the interesting states (bounces, resolution, reopening) are reached
/// within a few dozen moves.
fn act_and_who() -> BoxedStrategy<(Who, Act)> {
    use Act::*;
    let arms: Vec<(u32, BoxedStrategy<(Who, Act)>)> = vec![
        (
            6,
            (who([8, 0, 1, 1, 0]), any::<u8>(), text(NOTES))
                .prop_map(|(w, to, note)| (w, Transfer { to, note }))
                .boxed(),
        ),
        (
            2,
            (who([8, 0, 1, 1, 0]), any::<u8>(), text(REASONS))
                .prop_map(|(w, to, reason)| (w, Escalate { to, reason }))
                .boxed(),
        ),
        (
            5,
            (who([5, 1, 0, 1, 3]), any::<u8>(), 0..4u8, text(WORK))
                .prop_map(|(w, department, number, title)| (w, OpenWork { department, number, title }))
                .boxed(),
        ),
        (
            9,
            (who([4, 1, 0, 1, 5]), any::<u8>(), text(DONE))
                .prop_map(|(w, pick, note)| (w, CompleteWork { pick, note }))
                .boxed(),
        ),
        (
            2,
            (who([4, 1, 0, 1, 5]), any::<u8>(), text(NOTES))
                .prop_map(|(w, pick, reason)| (w, DropWork { pick, reason }))
                .boxed(),
        ),
        (
            3,
            (who([5, 2, 0, 2, 0]), any::<u8>(), text(VALUES), visibility())
                .prop_map(|(w, name, value, visibility)| (w, RecordFact { name, value, visibility }))
                .boxed(),
        ),
        (
            2,
            (who([4, 2, 1, 1, 0]), channel(), any::<bool>(), text(NOTES))
                .prop_map(|(w, channel, reachable, note)| (w, RecordReachability { channel, reachable, note }))
                .boxed(),
        ),
        (
            4,
            (who([4, 2, 1, 2, 0]), text(NOTES), visibility())
                .prop_map(|(w, text, visibility)| (w, AddNote { text, visibility }))
                .boxed(),
        ),
        (
            5,
            (who([5, 1, 1, 3, 0]), channel(), text(TO_CUSTOMER))
                .prop_map(|(w, channel, message)| (w, ContactCustomer { channel, message }))
                .boxed(),
        ),
        (
            4,
            (who([2, 8, 1, 0, 0]), channel(), text(FROM_CUSTOMER))
                .prop_map(|(w, channel, message)| (w, RecordReply { channel, message }))
                .boxed(),
        ),
        (
            4,
            (who([2, 7, 1, 0, 0]), text(CONFIRMS)).prop_map(|(w, statement)| (w, ConfirmOutcome { statement })).boxed(),
        ),
        (
            1,
            (who([2, 7, 1, 0, 0]), text(DISPUTES)).prop_map(|(w, statement)| (w, DisputeOutcome { statement })).boxed(),
        ),
        (
            3,
            (who([6, 1, 1, 1, 0]), channel(), text(CONFIRMS))
                .prop_map(|(w, channel, statement)| (w, ReportConfirmation { channel, statement }))
                .boxed(),
        ),
        (
            1,
            (who([6, 1, 1, 1, 0]), channel(), text(DISPUTES))
                .prop_map(|(w, channel, statement)| (w, ReportDispute { channel, statement }))
                .boxed(),
        ),
        (
            3,
            (who([6, 1, 1, 2, 0]), channel(), text(CONVERSATIONS))
                .prop_map(|(w, channel, summary)| (w, RecordConversation { channel, summary }))
                .boxed(),
        ),
        (5, (who([9, 1, 0, 1, 0]), text(DONE)).prop_map(|(w, summary)| (w, Resolve { summary })).boxed()),
        (
            2,
            (who([8, 2, 0, 1, 0]), any::<u8>(), text(ENDINGS))
                .prop_map(|(w, ending, evidence)| (w, CloseUnresolved { ending, evidence }))
                .boxed(),
        ),
        (1, (who([4, 4, 1, 0, 0]), text(REASONS)).prop_map(|(w, reason)| (w, Reopen { reason })).boxed()),
        (2, (who([4, 1, 4, 0, 0]), any::<u8>()).prop_map(|(w, incident)| (w, LinkIncident { incident })).boxed()),
        (2, (who([4, 1, 4, 0, 0]), text(REASONS)).prop_map(|(w, reason)| (w, RequestConfirmation { reason })).boxed()),
    ];
    Union::new_weighted(arms).boxed()
}

/// Minutes since the last event: mostly a working pace, sometimes days of silence,
/// sometimes a clock running late (refused as time going backwards).
fn minutes() -> BoxedStrategy<i64> {
    Union::new_weighted(vec![
        (2, Just(0i64).boxed()),
        (24, (1..=120i64).boxed()),
        (4, (1440..=20_160i64).boxed()),
        (1, (-240..=-1i64).boxed()),
    ])
    .boxed()
}

fn key_use() -> impl Strategy<Value = KeyUse> {
    Union::new_weighted(vec![
        (14, Just(KeyUse::None)),
        (4, Just(KeyUse::Fresh)),
        (2, Just(KeyUse::Retry)),
        (1, Just(KeyUse::Reuse)),
    ])
}

fn behind_ms() -> impl Strategy<Value = i64> {
    Union::new_weighted(vec![(20, Just(0i64).boxed()), (2, (1..=5_000i64).boxed()), (1, (5_001..=9_000i64).boxed())])
}

fn moves() -> impl Strategy<Value = Move> {
    (act_and_who(), minutes(), any::<u8>(), key_use(), behind_ms())
        .prop_map(|((who, act), minutes, roll, key, behind_ms)| Move { who, act, minutes, roll, key, behind_ms })
}

fn scripts(steps: usize) -> impl Strategy<Value = Script> {
    (any::<[u8; 10]>(), any::<u8>(), who([1, 4, 1, 0, 0]), select(OUTCOMES), vec(moves(), 0..=steps)).prop_map(
        |(case_bytes, owner, opener, outcome, moves)| Script {
            case_bytes,
            owner,
            opener,
            outcome: outcome.to_owned(),
            moves,
        },
    )
}

fn nth<T>(items: &[T], i: u8) -> Option<&T> {
    items.get(usize::from(i) % items.len().max(1))
}

fn run(config: &Config, owners: &[Staff], script: &Script) -> Option<History> {
    let owner = nth(owners, script.owner)?.clone();
    let id = CaseId::new_v7(config.start, script.case_bytes);
    let opener = match script.opener {
        Who::Customer => Actor::customer(config.cast.customer().clone()),
        Who::System => Actor::System,
        _ => Actor::Staff(owner.clone()),
    };
    let opening = Opening::new(config.cast.customer().clone(), script.outcome.clone(), owner);
    let opened = config.rules.open(id, opening, &opener, config.start).ok()?;
    let mut case = Case::from_opened(&opened).ok()?;
    let mut events = vec![opened];
    let mut attempts = Vec::with_capacity(script.moves.len());
    let mut last_keyed: Option<(Actor, Command, IdempotencyKey)> = None;
    for (n, step) in script.moves.iter().enumerate() {
        let (by, command, key) = match (step.key, &last_keyed) {
            (KeyUse::Retry, Some((by, command, key))) => (by.clone(), command.clone(), Some(key.clone())),
            (KeyUse::Reuse, Some((_, _, key))) => {
                let (by, command) = read(config, &case, step);
                (by, command, Some(key.clone()))
            }
            (KeyUse::None, _) => {
                let (by, command) = read(config, &case, step);
                (by, command, None)
            }
            _ => {
                let (by, command) = read(config, &case, step);
                (by, command, IdempotencyKey::new(format!("req-{n}")).ok())
            }
        };
        let last = case.clock().last_event_at;
        // Sub-second parts keep the JSON round-trip of times honest.
        let delta = if step.behind_ms == 0 {
            Duration::minutes(step.minutes) + Duration::nanoseconds(i64::from(step.roll) * 1_000_003)
        } else {
            -Duration::milliseconds(step.behind_ms)
        };
        let at = last.checked_add(delta).unwrap_or(last);
        let command = match step.key {
            KeyUse::Retry => command,
            _ => steer_override(config, &case, command, &by, at, step.roll),
        };
        if let Some(key) = &key {
            last_keyed = Some((by.clone(), command.clone(), key.clone()));
        }
        let request = Request { command: command.clone(), key: key.clone() };
        let outcome = match config.rules.decide_request(&case, request, &by, at) {
            Err(refusal) => Outcome::Refused(refusal),
            Ok(Decision::AlreadyDone(seqs)) => Outcome::AlreadyDone(seqs),
            Ok(Decision::Append(new)) => {
                let mut next = case.clone();
                match new.iter().try_for_each(|e| next.apply(e)) {
                    Ok(()) => {
                        case = next;
                        events.extend(new.iter().cloned());
                        Outcome::Accepted(new)
                    }
                    Err(err) => Outcome::Inconsistent(err),
                }
            }
        };
        attempts.push(Attempt { by, command, at, key, outcome });
    }
    Some(History { events, case, attempts })
}

/// Staff stopped by a policy often ask to override it (S8): a command a policy refuses is,
/// one time in four, asked again as an override of that policy, so overrides are reached
/// (and refused for who asks or for a short reason) as well as generated blindly.
fn steer_override(config: &Config, case: &Case, command: Command, by: &Actor, at: OffsetDateTime, roll: u8) -> Command {
    if matches!(command, Command::Override { .. }) || roll % 4 != 1 {
        return command;
    }
    match config.rules.decide(case, command.clone(), by, at) {
        Err(Refusal::Policy { policy, .. }) => Command::Override {
            policy,
            reason: pick_str(OVERRIDE_REASONS, roll / 4).to_owned(),
            command: Box::new(command),
        },
        _ => command,
    }
}

/// Reads a move against the case as it stands.
fn read(config: &Config, case: &Case, step: &Move) -> (Actor, Command) {
    let staff = config.cast.staff();
    let departments = departments(staff);
    // A closed case mostly gets reopened; otherwise most moves would only be refused.
    let (reopen, confirm);
    let (who, act) = if case.is_closed() && step.roll < 160 {
        reopen = Act::Reopen { reason: pick_str(REASONS, step.roll).to_owned() };
        (if step.roll.is_multiple_of(2) { Who::Customer } else { Who::Owner }, &reopen)
    } else if matches!(step.act, Act::Resolve { .. })
        && case.outcome_state() != OutcomeState::Confirmed
        && step.roll < 96
    {
        // Asked to resolve too early, staff ask the customer first, as they should.
        confirm = Act::ConfirmOutcome { statement: pick_str(CONFIRMS, 0).to_owned() };
        (Who::Customer, &confirm)
    } else {
        (step.who, &step.act)
    };
    let mut concern: Option<Department> = None;
    let command = match act {
        Act::Transfer { to, note } => Command::Transfer { to: member(staff, case, *to), note: note.clone() },
        Act::Escalate { to, reason } => Command::Escalate { to: member(staff, case, *to), reason: reason.clone() },
        Act::OpenWork { department, number, title } => {
            let department = nth(&departments, *department).cloned().unwrap_or_else(|| case.owner().department.clone());
            let item = WorkItemId::new(format!("{department}-{number}"));
            concern = Some(department.clone());
            Command::OpenWork { item, department, title: title.clone() }
        }
        Act::CompleteWork { pick, note } => {
            let item = work_item(case, *pick);
            concern = case.work_item(&item).map(|w| w.department.clone());
            Command::CompleteWork { item, note: note.clone() }
        }
        Act::DropWork { pick, reason } => {
            let item = work_item(case, *pick);
            concern = case.work_item(&item).map(|w| w.department.clone());
            Command::DropWork { item, reason: reason.clone() }
        }
        Act::RecordFact { name, value, visibility } => Command::RecordFact {
            name: pick_str(FACTS, *name).to_owned(),
            value: value.clone(),
            visibility: *visibility,
        },
        Act::RecordReachability { channel, reachable, note } => {
            Command::RecordReachability { channel: *channel, reachable: *reachable, note: note.clone() }
        }
        Act::AddNote { text, visibility } => Command::AddNote { text: text.clone(), visibility: *visibility },
        Act::ContactCustomer { channel, message } => {
            Command::ContactCustomer { channel: *channel, message: message.clone() }
        }
        Act::RecordReply { channel, message } => Command::RecordReply { channel: *channel, message: message.clone() },
        Act::ConfirmOutcome { statement } => Command::ConfirmOutcome { statement: statement.clone() },
        Act::DisputeOutcome { statement } => Command::DisputeOutcome { statement: statement.clone() },
        Act::ReportConfirmation { channel, statement } => {
            Command::ReportConfirmation { channel: *channel, statement: statement.clone() }
        }
        Act::ReportDispute { channel, statement } => {
            Command::ReportDispute { channel: *channel, statement: statement.clone() }
        }
        Act::RecordConversation { channel, summary } => {
            Command::RecordConversation { channel: *channel, summary: summary.clone() }
        }
        Act::Resolve { summary } => Command::Resolve { summary: summary.clone() },
        Act::CloseUnresolved { ending, evidence } => {
            let ending = match ending % 8 {
                0..=3 => Ending::Unreachable,
                4 | 5 => Ending::Withdrawn,
                6 => Ending::Duplicate { of: CaseId::new_v7(config.start, [0xd0; 10]) },
                _ => Ending::Duplicate { of: case.id() },
            };
            Command::CloseUnresolved { ending, evidence: evidence.clone() }
        }
        Act::Reopen { reason } => Command::Reopen { reason: reason.clone() },
        Act::LinkIncident { incident } => {
            Command::LinkIncident { incident: IncidentId::new(pick_str(INCIDENTS, *incident)) }
        }
        Act::RequestConfirmation { reason } => Command::RequestConfirmation { reason: reason.clone() },
    };
    // One move in sixteen asks, blindly, to override a policy (S8); the roll picks which
    // and the reason, so shrinking the roll shrinks the override away.
    let command = if step.roll % 16 == 5 {
        Command::Override {
            policy: pick_str(OVERRIDDEN, step.roll / 16).to_owned(),
            reason: pick_str(OVERRIDE_REASONS, step.roll / 64).to_owned(),
            command: Box::new(command),
        }
    } else {
        command
    };
    let by = match who {
        Who::Owner => Actor::Staff(case.owner().clone()),
        Who::Customer => Actor::Customer(case.customer().clone()),
        Who::System => Actor::System,
        Who::Member(i) => Actor::Staff(member(staff, case, i)),
        Who::Worker(i) => {
            let in_department: Vec<&Staff> =
                staff.iter().filter(|s| concern.as_ref().is_none_or(|d| &s.department == d)).collect();
            Actor::Staff(nth(&in_department, i).map_or_else(|| member(staff, case, i), |s| (*s).clone()))
        }
    };
    (by, command)
}

fn departments(staff: &[Staff]) -> Vec<Department> {
    let mut out: Vec<Department> = Vec::new();
    for s in staff {
        if !out.contains(&s.department) {
            out.push(s.department.clone());
        }
    }
    out
}

fn member(staff: &[Staff], case: &Case, i: u8) -> Staff {
    nth(staff, i).cloned().unwrap_or_else(|| case.owner().clone())
}

fn pick_str(pool: &'static [&'static str], i: u8) -> &'static str {
    nth(pool, i).copied().unwrap_or_default()
}

/// Mostly an open item; one pick in eight is stale (any item, or one that does not
/// exist) so the refusals for closed and unknown items are exercised too.
fn work_item(case: &Case, pick: u8) -> WorkItemId {
    let open: Vec<&WorkItem> = case.open_work().collect();
    let all: Vec<&WorkItem> = case.work_items().collect();
    let from = if pick % 8 == 7 || open.is_empty() { &all } else { &open };
    match nth(from, pick / 8) {
        Some(w) if pick % 16 != 15 => w.id.clone(),
        _ => WorkItemId::new("no-such-item"),
    }
}

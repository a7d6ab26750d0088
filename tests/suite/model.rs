//! Model-based test: a plain reference model of a case, with the rules re-stated from
//! the design, and the real `Rules`/`Case`/`Ledger` must agree on every generated command
//! sequence: accepted or refused (and which refusal), owner, status, outcome, open work,
//! counters and timeline length.
//!
//! The model is deliberately naive: vectors and linear scans, no shared code with the
//! crate beyond its public data types.

use std::collections::BTreeMap;

use caseledger::testkit::{histories, Config, Outcome};
use caseledger::{
    case::OutcomeState,
    command::Request,
    event::{Channel, Ending, Visibility},
    id::{Department, IncidentId, StaffId, WorkItemId},
    policy::PolicyConfig,
    rules::{Directory, Limits},
    Actor, CaseId, Command, Error, EventKind, IdempotencyKey, Ledger, PolicySet, Refusal, Rules, Staff, Status,
    Timeline,
};
use proptest::prelude::*;
use time::OffsetDateTime;

/// Small limits, so that every cap is reached within a generated history.
fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_text_bytes = 48;
    limits.max_facts = 1;
    limits.max_work_items = 4;
    limits.max_events = 20;
    limits.max_incidents = 1;
    limits
}

/// Everyone is a member of every department; everyone but parts may override (S8).
#[derive(Debug)]
struct PartsMayNotOverride;

impl Directory for PartsMayNotOverride {
    fn is_member(&self, _: &StaffId, _: &Department) -> bool {
        true
    }
    fn may_override(&self, _: &StaffId, department: &Department, _: &str) -> bool {
        department.as_str() != "parts"
    }
}

/// The rules under test: the small limits, a bounce limit of 1 that the directory lets
/// most staff override.
fn rules() -> Rules {
    let mut set = PolicySet::default().with(PolicyConfig::BounceLimit { max_bounces: 1 });
    set.limits = limits();
    set.to_rules().expect("valid").with_directory(PartsMayNotOverride)
}

/// The overrides wrapped around a command, and the command.
fn unwrap_overrides(command: &Command) -> (Vec<(&str, &str)>, &Command) {
    let mut overrides = Vec::new();
    let mut command = command;
    while let Command::Override { policy, reason, command: inner } = command {
        overrides.push((policy.as_str(), reason.as_str()));
        command = inner;
    }
    (overrides, command)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Confirmation {
    Unmet,
    Confirmed,
    Disputed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Open,
    Resolved,
    Closed(Ending),
}

#[derive(Clone, Debug)]
struct Work {
    id: WorkItemId,
    department: Department,
    open: bool,
}

/// The reference model: what a careful person with a notebook would track.
#[derive(Clone, Debug)]
struct Model {
    id: CaseId,
    owner: Staff,
    people_who_had_it: Vec<StaffId>,
    departments_left: Vec<Department>,
    confirmation: Confirmation,
    state: State,
    work: Vec<Work>,
    facts: Vec<String>,
    unreachable: BTreeMap<Channel, bool>,
    /// Channels the customer spoke on since staff last contacted them (I2's evidence).
    heard_on: Vec<Channel>,
    incidents: Vec<IncidentId>,
    level: u32,
    handoffs: u32,
    bounces: u32,
    contacts: u32,
    unanswered_contacts: u32,
    customer_messages: u32,
    customer_messages_unanswered: u32,
    reopenings: u32,
    overrides: u32,
    events: u64,
    last_at: OffsetDateTime,
}

fn blank(text: &str) -> bool {
    text.trim().is_empty()
}

impl Model {
    fn opened(id: CaseId, owner: Staff, at: OffsetDateTime) -> Self {
        Self {
            id,
            owner,
            people_who_had_it: Vec::new(),
            departments_left: Vec::new(),
            confirmation: Confirmation::Unmet,
            state: State::Open,
            work: Vec::new(),
            facts: Vec::new(),
            unreachable: BTreeMap::new(),
            heard_on: Vec::new(),
            incidents: Vec::new(),
            level: 0,
            handoffs: 0,
            bounces: 0,
            contacts: 0,
            unanswered_contacts: 0,
            customer_messages: 0,
            customer_messages_unanswered: 0,
            reopenings: 0,
            overrides: 0,
            events: 1,
            last_at: at,
        }
    }

    fn is_owner(&self, by: &Actor) -> bool {
        by == &Actor::Staff(self.owner.clone())
    }

    fn open_work(&self) -> Vec<WorkItemId> {
        let mut ids: Vec<WorkItemId> = self.work.iter().filter(|w| w.open).map(|w| w.id.clone()).collect();
        ids.sort();
        ids
    }

    /// Every free text a command carries, ids included: what the text limit measures.
    fn texts(command: &Command) -> Vec<String> {
        match command {
            Command::Transfer { to, note: t } | Command::Escalate { to, reason: t } => {
                vec![to.id.to_string(), to.department.to_string(), t.clone()]
            }
            Command::OpenWork { item, department, title } => {
                vec![item.to_string(), department.to_string(), title.clone()]
            }
            Command::CompleteWork { item, note: t } | Command::DropWork { item, reason: t } => {
                vec![item.to_string(), t.clone()]
            }
            Command::RecordFact { name, value, .. } => vec![name.clone(), value.clone()],
            Command::LinkIncident { incident } => vec![incident.to_string()],
            Command::RecordReachability { note: t, .. }
            | Command::AddNote { text: t, .. }
            | Command::ContactCustomer { message: t, .. }
            | Command::RecordReply { message: t, .. }
            | Command::ReportConfirmation { statement: t, .. }
            | Command::ReportDispute { statement: t, .. }
            | Command::RecordConversation { summary: t, .. }
            | Command::ConfirmOutcome { statement: t }
            | Command::DisputeOutcome { statement: t }
            | Command::Resolve { summary: t }
            | Command::CloseUnresolved { evidence: t, .. }
            | Command::Reopen { reason: t }
            | Command::RequestConfirmation { reason: t } => vec![t.clone()],
            other => panic!("the model does not know {other:?}"),
        }
    }

    /// The rules, in the order the design gives them precedence: time, overrides asked
    /// for, limits, the case's own rules (each command's checks in the order its
    /// refusals are listed), then the bounce limit and what the overrides lift.
    fn judge(&self, by: &Actor, command: &Command, at: OffsetDateTime, limits: &Limits) -> Result<(), &'static str> {
        // A clock a little behind (up to the default 5 s) is recorded at the last time.
        if at < self.last_at && self.last_at - at > time::Duration::seconds(5) {
            return Err("TimeBeforeLastEvent");
        }
        let (overrides, command) = unwrap_overrides(command);
        for (policy, reason) in &overrides {
            if *policy != "bounce_limit" {
                let invariant = ["outcome_gate", "I1"].contains(policy);
                return Err(if invariant { "InvariantNotOverridable" } else { "UnknownPolicy" });
            }
            if by.department().is_none_or(|d| d.as_str() == "parts") {
                return Err("NotEmpoweredToOverride");
            }
            if reason.trim().chars().count() < 20 {
                return Err("OverrideReasonTooShort");
            }
        }
        self.judge_command(by, command, limits, overrides.len() as u64)?;
        let bounce_refuses = match command {
            Command::Transfer { to, .. } => self.bounces >= 1 && self.would_bounce(to),
            _ => false,
        };
        match (bounce_refuses, overrides.len()) {
            (true, 0) => return Err("Policy"),
            (false, 0) | (true, 1) => {}
            _ => return Err("NothingToOverride"),
        }
        if overrides.iter().any(|(_, reason)| reason.len() > limits.max_text_bytes) {
            return Err("LimitExceeded");
        }
        Ok(())
    }

    fn judge_command(
        &self,
        by: &Actor,
        command: &Command,
        limits: &Limits,
        overrides: u64,
    ) -> Result<(), &'static str> {
        if self.events + 1 + overrides > limits.max_events {
            return Err("LimitExceeded");
        }
        if Self::texts(command).iter().any(|t| t.len() > limits.max_text_bytes) {
            return Err("LimitExceeded");
        }
        // Text a database can store: no control character but tab, line feed, carriage
        // return, in the command or in who asks.
        let unstorable = |t: &String| t.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'));
        let asker: Vec<String> =
            by.as_staff().map(|s| vec![s.id.to_string(), s.department.to_string()]).unwrap_or_default();
        if Self::texts(command).iter().chain(&asker).any(unstorable) {
            return Err("ControlCharacter");
        }
        match command {
            Command::RecordFact { name, .. }
                if !self.facts.contains(name) && self.facts.len() + 1 > limits.max_facts =>
            {
                return Err("LimitExceeded")
            }
            Command::OpenWork { .. } if self.work.len() + 1 > limits.max_work_items => return Err("LimitExceeded"),
            Command::LinkIncident { .. } if self.incidents.len() + 1 > limits.max_incidents => {
                return Err("LimitExceeded")
            }
            _ => {}
        }
        let is_customer = by.is_customer();
        let is_system = by == &Actor::System;
        let staff = by.as_staff();
        let text = |t: &str| if blank(t) { Err("EmptyText") } else { Ok(()) };
        if self.state != State::Open {
            return match command {
                Command::Reopen { reason } => text(reason),
                _ => Err("CaseClosed"),
            };
        }
        match command {
            Command::Reopen { .. } => Err("NotClosed"),
            Command::Transfer { to, note: t } | Command::Escalate { to, reason: t } => {
                if !(self.is_owner(by) || is_system) {
                    return Err("NotOwner");
                }
                if to == &self.owner {
                    return Err("ReceiverIsOwner");
                }
                text(t)
            }
            Command::OpenWork { item, department, title } => {
                let Some(staff) = staff else { return Err("StaffOnly") };
                if &staff.department != department && !self.is_owner(by) {
                    return Err("NotYourDepartment");
                }
                if self.work.iter().any(|w| &w.id == item) {
                    return Err("DuplicateWorkItem");
                }
                text(title)
            }
            Command::CompleteWork { item, note: t } | Command::DropWork { item, reason: t } => {
                let Some(staff) = staff else { return Err("StaffOnly") };
                let Some(work) = self.work.iter().find(|w| &w.id == item) else { return Err("UnknownWorkItem") };
                if !work.open {
                    return Err("WorkItemClosed");
                }
                if staff.department != work.department && !self.is_owner(by) {
                    return Err("NotYourDepartment");
                }
                text(t)
            }
            Command::RecordFact { name, visibility, .. } => {
                if is_customer && *visibility == Visibility::Internal {
                    return Err("StaffOnly");
                }
                text(name)
            }
            Command::RecordReachability { reachable, note, .. } => {
                if *reachable {
                    Ok(())
                } else {
                    text(note)
                }
            }
            Command::AddNote { text: t, visibility } => {
                if is_customer && *visibility == Visibility::Internal {
                    return Err("StaffOnly");
                }
                text(t)
            }
            Command::ContactCustomer { channel, message } => {
                if is_customer {
                    return Err("StaffOnly");
                }
                if self.unreachable.get(channel) == Some(&true) {
                    return Err("ChannelUnreachable");
                }
                text(message)
            }
            Command::RecordReply { message: t, .. } => {
                if is_system {
                    return Err("ConfirmationNotFromCustomer");
                }
                text(t)
            }
            // The customer's own word: only the customer says it as themselves.
            Command::ConfirmOutcome { statement: t } | Command::DisputeOutcome { statement: t } => {
                if is_system {
                    return Err("ConfirmationNotFromCustomer");
                }
                if !is_customer {
                    return Err("NotTheCustomer");
                }
                text(t)
            }
            // Staff reporting the customer's words heard on a channel since the last contact.
            Command::ReportConfirmation { channel, statement: t }
            | Command::ReportDispute { channel, statement: t } => {
                if is_system {
                    return Err("ConfirmationNotFromCustomer");
                }
                if is_customer {
                    return Err("StaffOnly");
                }
                if !self.heard_on.contains(channel) {
                    return Err("CustomerNotHeard");
                }
                text(t)
            }
            Command::RecordConversation { channel, summary } => {
                if staff.is_none() {
                    return Err("StaffOnly");
                }
                if !matches!(channel, Channel::Phone | Channel::InPerson | Channel::Chat) {
                    return Err("NotALiveChannel");
                }
                if self.unreachable.get(channel) == Some(&true) {
                    return Err("ChannelUnreachable");
                }
                text(summary)
            }
            Command::Resolve { summary } => {
                if !self.is_owner(by) {
                    return Err("NotOwner");
                }
                if self.confirmation != Confirmation::Confirmed {
                    return Err("OutcomeUnmet");
                }
                if !self.open_work().is_empty() {
                    return Err("WorkStillOpen");
                }
                text(summary)
            }
            Command::CloseUnresolved { ending, evidence } => {
                let customer_withdraws = is_customer && *ending == Ending::Withdrawn;
                if !customer_withdraws && !self.is_owner(by) {
                    return Err("NotOwner");
                }
                if !self.open_work().is_empty() {
                    return Err("WorkStillOpen");
                }
                if *ending == Ending::Unreachable && self.unanswered_contacts == 0 {
                    return Err("NoContactAttempts");
                }
                if *ending == (Ending::Duplicate { of: self.id }) {
                    return Err("DuplicateOfItself");
                }
                text(evidence)
            }
            Command::LinkIncident { incident } => {
                if is_customer {
                    return Err("StaffOnly");
                }
                if self.incidents.contains(incident) {
                    return Err("AlreadyLinked");
                }
                Ok(())
            }
            Command::RequestConfirmation { reason } => {
                if is_customer {
                    return Err("StaffOnly");
                }
                text(reason)
            }
            other => panic!("the model does not know {other:?}"),
        }
    }

    /// A bounce: back to someone who had the case, or to another department it left.
    fn would_bounce(&self, to: &Staff) -> bool {
        let back_to_person = self.people_who_had_it.contains(&to.id);
        let back_to_department =
            to.department != self.owner.department && self.departments_left.contains(&to.department);
        back_to_person || back_to_department
    }

    fn hand_to(&mut self, to: &Staff) {
        if self.would_bounce(to) {
            self.bounces += 1;
        }
        if to.department != self.owner.department && !self.departments_left.contains(&self.owner.department) {
            self.departments_left.push(self.owner.department.clone());
        }
        if !self.people_who_had_it.contains(&self.owner.id) {
            self.people_who_had_it.push(self.owner.id.clone());
        }
        self.owner = to.clone();
        self.handoffs += 1;
    }

    fn heard_from_customer(&mut self) {
        self.unanswered_contacts = 0;
    }

    fn record(&mut self, command: &Command, at: OffsetDateTime) {
        let (overrides, command) = unwrap_overrides(command);
        self.overrides += u32::try_from(overrides.len()).unwrap();
        self.events += overrides.len() as u64;
        match command {
            Command::Transfer { to, .. } => self.hand_to(to),
            Command::Escalate { to, .. } => {
                self.level += 1;
                self.hand_to(to);
            }
            Command::OpenWork { item, department, .. } => {
                self.work.push(Work { id: item.clone(), department: department.clone(), open: true })
            }
            Command::CompleteWork { item, .. } | Command::DropWork { item, .. } => {
                for w in self.work.iter_mut().filter(|w| &w.id == item) {
                    w.open = false;
                }
            }
            Command::RecordFact { name, .. } => {
                if !self.facts.contains(name) {
                    self.facts.push(name.clone());
                }
            }
            Command::RecordReachability { channel, reachable, .. } => {
                self.unreachable.insert(*channel, !reachable);
            }
            Command::AddNote { .. } | Command::RequestConfirmation { .. } => {}
            Command::ContactCustomer { .. } => {
                self.contacts += 1;
                self.unanswered_contacts += 1;
                self.customer_messages_unanswered = 0;
                self.heard_on.clear();
            }
            Command::RecordReply { channel, .. } => {
                self.customer_messages += 1;
                self.customer_messages_unanswered += 1;
                self.heard_from_customer();
                self.heard_on.push(*channel);
            }
            Command::RecordConversation { channel, .. } => {
                self.contacts += 1;
                self.customer_messages_unanswered = 0;
                self.heard_from_customer();
                self.heard_on = vec![*channel];
            }
            Command::ConfirmOutcome { .. } | Command::ReportConfirmation { .. } => {
                self.confirmation = Confirmation::Confirmed;
                self.heard_from_customer();
            }
            Command::DisputeOutcome { .. } | Command::ReportDispute { .. } => {
                self.confirmation = Confirmation::Disputed;
                self.heard_from_customer();
            }
            Command::Resolve { .. } => self.state = State::Resolved,
            Command::CloseUnresolved { ending, .. } => self.state = State::Closed(ending.clone()),
            Command::Reopen { .. } => {
                self.state = State::Open;
                self.confirmation = Confirmation::Unmet;
                self.reopenings += 1;
            }
            Command::LinkIncident { incident } => self.incidents.push(incident.clone()),
            other => panic!("the model does not know {other:?}"),
        }
        self.events += 1;
        self.last_at = self.last_at.max(at);
    }
}

fn refusal_name(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::NotOwner { .. } => "NotOwner",
        Refusal::StaffOnly { .. } => "StaffOnly",
        Refusal::NotYourDepartment { .. } => "NotYourDepartment",
        Refusal::NotAMember { .. } => "NotAMember",
        Refusal::ConfirmationNotFromCustomer { .. } => "ConfirmationNotFromCustomer",
        Refusal::CaseClosed { .. } => "CaseClosed",
        Refusal::NotClosed => "NotClosed",
        Refusal::OutcomeUnmet { .. } => "OutcomeUnmet",
        Refusal::WorkStillOpen { .. } => "WorkStillOpen",
        Refusal::EmptyText { .. } => "EmptyText",
        Refusal::ControlCharacter { .. } => "ControlCharacter",
        Refusal::ReceiverIsOwner { .. } => "ReceiverIsOwner",
        Refusal::UnknownWorkItem { .. } => "UnknownWorkItem",
        Refusal::WorkItemClosed { .. } => "WorkItemClosed",
        Refusal::DuplicateWorkItem { .. } => "DuplicateWorkItem",
        Refusal::TimeBeforeLastEvent { .. } => "TimeBeforeLastEvent",
        Refusal::ChannelUnreachable { .. } => "ChannelUnreachable",
        Refusal::NoContactAttempts => "NoContactAttempts",
        Refusal::DuplicateOfItself => "DuplicateOfItself",
        Refusal::AlreadyLinked { .. } => "AlreadyLinked",
        Refusal::EscalationLevel { .. } => "EscalationLevel",
        Refusal::AlreadyOpened => "AlreadyOpened",
        Refusal::LimitExceeded { .. } => "LimitExceeded",
        Refusal::Policy { .. } => "Policy",
        Refusal::NotTheCustomer { .. } => "NotTheCustomer",
        Refusal::CustomerNotHeard { .. } => "CustomerNotHeard",
        Refusal::NotALiveChannel { .. } => "NotALiveChannel",
        Refusal::UnknownPolicy { .. } => "UnknownPolicy",
        Refusal::NotOverridable { .. } => "NotOverridable",
        Refusal::InvariantNotOverridable { .. } => "InvariantNotOverridable",
        Refusal::NotEmpoweredToOverride { .. } => "NotEmpoweredToOverride",
        Refusal::OverrideReasonTooShort { .. } => "OverrideReasonTooShort",
        Refusal::NothingToOverride { .. } => "NothingToOverride",
        _ => "a refusal the model does not know",
    }
}

fn agree(model: &Model, ledger: &Ledger, step: usize) -> Result<(), TestCaseError> {
    let case = ledger.case();
    prop_assert_eq!(case.owner(), &model.owner, "owner after step {}", step);
    let status = match case.status() {
        Status::Open => State::Open,
        Status::Resolved => State::Resolved,
        Status::ClosedUnresolved { ending } => State::Closed(ending.clone()),
        other => return Err(TestCaseError::fail(format!("unknown status {other}"))),
    };
    prop_assert_eq!(status, model.state.clone(), "status after step {}", step);
    let confirmation = match case.outcome_state() {
        OutcomeState::Unmet => Confirmation::Unmet,
        OutcomeState::Confirmed => Confirmation::Confirmed,
        OutcomeState::Disputed => Confirmation::Disputed,
        other => return Err(TestCaseError::fail(format!("unknown outcome state {other:?}"))),
    };
    prop_assert_eq!(confirmation, model.confirmation, "outcome after step {}", step);
    let open: Vec<WorkItemId> = case.open_work().map(|w| w.id.clone()).collect();
    prop_assert_eq!(open, model.open_work(), "open work after step {}", step);
    let c = case.counters();
    prop_assert_eq!(
        (c.handoffs, c.bounces, c.contacts, c.unanswered_contacts),
        (model.handoffs, model.bounces, model.contacts, model.unanswered_contacts),
        "handoffs, bounces, contacts, unanswered contacts after step {}",
        step
    );
    prop_assert_eq!(
        (c.customer_messages, c.customer_messages_unanswered, c.reopenings),
        (model.customer_messages, model.customer_messages_unanswered, model.reopenings),
        "customer messages, asking again, reopenings after step {}",
        step
    );
    prop_assert_eq!(case.escalation_level(), model.level);
    prop_assert_eq!(c.overrides, model.overrides, "overrides after step {}", step);
    prop_assert_eq!(case.facts().len(), model.facts.len());
    prop_assert_eq!(case.incidents(), &model.incidents[..]);
    prop_assert_eq!(case.version(), model.events);
    prop_assert_eq!(Timeline::staff(ledger.events()).entries().len() as u64, model.events);
    Ok(())
}

proptest! {
    #[test]
    fn the_case_agrees_with_a_plain_model(history in histories(&Config::new(rules()))) {
        let rules = rules();
        let opened = &history.events()[0];
        let EventKind::Opened { owner, .. } = &opened.what else {
            return Err(TestCaseError::fail("history does not start with opened"));
        };
        let mut model = Model::opened(opened.case, owner.clone(), opened.at);
        let mut ledger = Ledger::from_events(vec![opened.clone()]).expect("the opening loads");
        // Idempotency keys: what each produced, asked by whom: a retry is the same person
        // with the same command, anything else under a known key is refused.
        let mut keys: Vec<(IdempotencyKey, Actor, Command, (u64, u64))> = Vec::new();
        for (step, attempt) in history.attempts().iter().enumerate() {
            let mut request = Request::new(attempt.command.clone());
            if let Some(key) = &attempt.key {
                request = request.key(key.clone());
            }
            let known = attempt.key.as_ref().and_then(|key| keys.iter().find(|(k, ..)| k == key));
            if let Some((key, by, command, seq)) = known {
                let version = ledger.case().version();
                let got = ledger.execute_request(&rules, request, &attempt.by, attempt.at).map(<[_]>::to_vec);
                if by == &attempt.by && command == &attempt.command {
                    // An override's events and its command's, all under the one key.
                    let (first, last) = *seq;
                    let stored = ledger.events().get(usize::try_from(first - 1).unwrap()..usize::try_from(last).unwrap());
                    prop_assert_eq!(got.ok(), stored.map(<[_]>::to_vec), "step {}: a retry returns what key {} did", step, key);
                    prop_assert!(matches!(attempt.outcome, Outcome::AlreadyDone(_)), "step {}", step);
                } else {
                    let refused = matches!(got, Err(Error::Refused(Refusal::KeyReused { .. })));
                    prop_assert!(refused, "step {}: key {} reused for another command: {:?}", step, key, got);
                }
                prop_assert_eq!(ledger.case().version(), version, "step {}: nothing appended", step);
                agree(&model, &ledger, step)?;
                continue;
            }
            let expected = model.judge(&attempt.by, &attempt.command, attempt.at, &limits());
            let got = ledger.execute_request(&rules, request, &attempt.by, attempt.at).map(|_| ());
            match (expected, got) {
                (Ok(()), Ok(())) => {
                    let first = model.events + 1;
                    model.record(&attempt.command, attempt.at);
                    if let Some(key) = &attempt.key {
                        keys.push((key.clone(), attempt.by.clone(), attempt.command.clone(), (first, model.events)));
                    }
                }
                (Err(rule), Err(Error::Refused(refusal))) => prop_assert_eq!(
                    rule, refusal_name(&refusal),
                    "step {}: {} asks {:?}: {}", step, attempt.by, attempt.command, refusal
                ),
                (expected, got) => {
                    return Err(TestCaseError::fail(format!(
                        "step {step}: {} asks {:?} at {}: model says {expected:?}, case says {got:?}",
                        attempt.by, attempt.command, attempt.at
                    )))
                }
            }
            let recorded = match &attempt.outcome {
                Outcome::Accepted(_) => "accepted",
                Outcome::Refused(_) => "refused",
                _ => "inconsistent",
            };
            let judged = if expected.is_ok() { "accepted" } else { "refused" };
            prop_assert_eq!(recorded, judged, "the generated history and the model differ at step {}", step);
            agree(&model, &ledger, step)?;
        }
        prop_assert_eq!(ledger.events(), history.events());
    }
}

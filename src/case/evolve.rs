//! The fold: a case from its opening, a whole log replayed, one event applied.
//!
//! Folding is two steps per event: `validate` (every rule, in
//! [`invariants`](super::invariants)) and `evolve` (move the state forward, which cannot
//! fail). Each costs O(1) in the length of history: lookups are in maps bounded by the
//! number of work items, facts, owners and remembered keys, never by the number of
//! events. Nothing here reads a clock, a file or a random source (I7).

use std::collections::{BTreeMap, VecDeque};

use time::OffsetDateTime;

use super::invariants::{check_outcome, unique_ids};
use super::keys::KeyMemory;
use super::owner::{Acquisition, OwnerHistory};
use super::{Case, Counters, Fact, Moments, Reachability, WorkItem};
use crate::actor::{Actor, Staff};
use crate::error::LogError;
use crate::event::{Event, EventKind, Visibility, SCHEMA_VERSION};
use crate::id::WorkItemId;
use crate::limits::Limits;
use crate::status::{OutcomeState, Status, WorkState};

impl Case {
    /// Starts a case from its `opened` event.
    ///
    /// # Errors
    ///
    /// [`LogError::NotOpenedFirst`] if the event is not `opened`, [`LogError::SequenceGap`]
    /// if its sequence number is not 1, [`LogError::UnsupportedSchema`], or
    /// [`LogError::Broken`] if the opening itself breaks a rule (empty outcome).
    pub fn from_opened(event: &Event) -> Result<Self, LogError> {
        let EventKind::Opened { customer, outcome, owner } = &event.what else {
            return Err(LogError::NotOpenedFirst { seq: event.seq, kind: event.what.tag() });
        };
        if event.seq != 1 {
            return Err(LogError::SequenceGap { expected: 1, found: event.seq });
        }
        if event.schema != SCHEMA_VERSION {
            return Err(LogError::UnsupportedSchema { seq: event.seq, schema: event.schema });
        }
        if let Some(given) = event.given_at {
            // Nothing comes before the opening, so nothing to adjust its time to.
            return Err(LogError::ClockAdjustment { seq: event.seq, given, at: event.at });
        }
        check_outcome(outcome).map_err(|refusal| LogError::Broken { seq: 1, refusal })?;
        Ok(Self {
            id: event.case,
            customer: customer.clone(),
            outcome: outcome.clone(),
            outcome_state: OutcomeState::Unmet,
            outcome_voice: None,
            heard_on: 0,
            owners: OwnerHistory::opened(owner),
            last_handoff_note: None,
            work: BTreeMap::new(),
            open_work: 0,
            facts: BTreeMap::new(),
            channels: BTreeMap::new(),
            incidents: Vec::new(),
            confirmation_requested: None,
            escalation_level: 0,
            status: Status::Open,
            counters: Counters::default(),
            clock: Moments {
                opened_at: event.at,
                last_event_at: event.at,
                first_response_at: None,
                last_update_at: None,
                last_customer_message_at: None,
                first_unanswered_contact_at: None,
                owner_since: event.at,
                escalated_at: None,
                closed_at: None,
                reopened_at: None,
                last_contact_at: None,
            },
            unanswered_contact_times: VecDeque::new(),
            version: 1,
            keys: KeyMemory::default(),
        }
        .keyed(event))
    }

    /// The case after remembering `event`'s key, for the opening.
    fn keyed(mut self, event: &Event) -> Self {
        self.keys.remember(event);
        self
    }

    /// Folds a whole log into a case, checking every invariant on the way (I1–I7).
    ///
    /// Besides what [`Case::apply`] checks, replay checks that no two events share an
    /// id (I5). For a log from a source the host does not control, use
    /// [`Case::replay_with_limits`], which also bounds what the log can make it allocate.
    ///
    /// # Errors
    ///
    /// The first [`LogError`] met, naming the event's sequence number and the rule.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{error::LogError, Case};
    ///
    /// assert_eq!(Case::replay(Vec::new()), Err(LogError::Empty));
    /// ```
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> Result<Self, LogError> {
        Self::replay_within(events, None)
    }

    /// Folds a whole log like [`Case::replay`], and also holds every event to `limits`
    /// (text and id sizes, number of events, facts, work items, owners, incidents), so
    /// a hostile log cannot make the host allocate or search without bound.
    ///
    /// Policies are not consulted: a log recorded under one policy set stays readable
    /// after the host changes its policies. Limits are, because they protect the host.
    ///
    /// # Errors
    ///
    /// The first [`LogError`] met; a limit is reported as [`LogError::Broken`] carrying
    /// [`Refusal::LimitExceeded`](crate::Refusal::LimitExceeded).
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{
    ///     error::LogError, rules::Limits, Actor, Case, CaseId, Command, Ledger, Opening, Refusal,
    ///     Rules, Staff,
    /// };
    /// use time::macros::datetime;
    ///
    /// let t = datetime!(2026-11-23 09:00 UTC);
    /// let rules = Rules::default();
    /// let ana = Staff::new("ana", "software");
    /// let mut ledger = Ledger::open(&rules, CaseId::new_v7(t, [8; 10]),
    ///     Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), t)?;
    /// let note = Command::AddNote { text: "x".repeat(100), visibility: caseledger::event::Visibility::Internal };
    /// ledger.execute(&rules, note, &ana.into(), t)?;
    ///
    /// let mut strict = Limits::default();
    /// strict.max_text_bytes = 50;
    /// let err = Case::replay_with_limits(ledger.events(), &strict).unwrap_err();
    /// assert_eq!(err, LogError::Broken {
    ///     seq: 2,
    ///     refusal: Refusal::LimitExceeded { what: "bytes in the note", max: 50, actual: 100 },
    /// });
    /// # Ok::<(), caseledger::Error>(())
    /// ```
    pub fn replay_with_limits<'a>(
        events: impl IntoIterator<Item = &'a Event>,
        limits: &Limits,
    ) -> Result<Self, LogError> {
        Self::replay_within(events, Some(limits))
    }

    fn replay_within<'a>(
        events: impl IntoIterator<Item = &'a Event>,
        limits: Option<&Limits>,
    ) -> Result<Self, LogError> {
        let mut events = events.into_iter();
        let first = events.next().ok_or(LogError::Empty)?;
        let mut case = Self::from_opened(first)?;
        if let Some(limits) = limits {
            limits.check_sizes(1, &first.by, &first.what).map_err(|refusal| LogError::Broken { seq: 1, refusal })?;
        }
        // Only the ids are kept (16 bytes an event, freed on return); `ids[i]` is the id
        // of event `i + 1`, since the fold has checked the sequence numbers. As numbers
        // they compare in one instruction pair, in the same order as the UUIDs.
        let mut ids = Vec::with_capacity(events.size_hint().0.saturating_add(1));
        ids.push(first.id.as_uuid().as_u128());
        for event in events {
            case.fold(event, limits)?;
            ids.push(event.id.as_uuid().as_u128());
        }
        unique_ids(&ids)?;
        Ok(case)
    }

    /// Folds one event into the case.
    ///
    /// Texts holding control characters (which `decide` refuses, see
    /// [`Refusal::ControlCharacter`](crate::Refusal::ControlCharacter)) are folded here, so that a log stored before that
    /// rule stays readable; [`Case::apply_with_limits`] refuses them.
    ///
    /// # Errors
    ///
    /// A [`LogError`] if the event does not follow on from the case (another case, a
    /// gap in sequence numbers, time going backwards, an unknown schema) or breaks a
    /// rule ([`LogError::Broken`]). On error the case is unchanged.
    pub fn apply(&mut self, event: &Event) -> Result<(), LogError> {
        self.fold(event, None)
    }

    /// Folds one event like [`Case::apply`], and also holds it to `limits` (see
    /// [`Case::replay_with_limits`]), for events from a source the host does not control.
    ///
    /// # Errors
    ///
    /// As [`Case::apply`]; a limit is reported as [`LogError::Broken`] carrying
    /// [`Refusal::LimitExceeded`](crate::Refusal::LimitExceeded). On error the case is unchanged.
    pub fn apply_with_limits(&mut self, event: &Event, limits: &Limits) -> Result<(), LogError> {
        self.fold(event, Some(limits))
    }

    fn fold(&mut self, event: &Event, limits: Option<&Limits>) -> Result<(), LogError> {
        self.validate(event, limits)?;
        self.evolve(event);
        Ok(())
    }

    /// Folds `event`, which [`Case::validate`] accepted on this case in exactly its
    /// present state (the repository checks a command's event before appending it, and
    /// folds it after the append if nobody moved the case meanwhile): checking it again
    /// would repeat the same checks on the same state.
    pub(crate) fn fold_validated(&mut self, event: &Event) {
        debug_assert_eq!(event.seq, self.version() + 1, "validated on this state");
        self.evolve(event);
    }

    /// Moves the state forward; only called after `check_envelope` and `check` passed.
    // Inlined into the fold so the hot path is one function: measured ~5% more events/s
    // (benches/fold.rs) than with `evolve` and `validate` as separate calls.
    #[inline(always)]
    fn evolve(&mut self, event: &Event) {
        let at = event.at;
        match &event.what {
            EventKind::Opened { .. } => {}
            EventKind::Transferred { to, note } => self.hand_to(to, note, at, event.seq, Acquisition::Transferred),
            EventKind::Escalated { to, reason, level } => {
                self.escalation_level = *level;
                self.hand_to(to, reason, at, event.seq, Acquisition::Escalated);
                self.counters.handoffs_since_escalation = 0;
                self.counters.customer_asks_since_escalation = 0;
                self.clock.escalated_at = Some(at);
            }
            EventKind::WorkOpened { item, department, title } => {
                self.work.insert(
                    item.clone(),
                    WorkItem {
                        id: item.clone(),
                        department: department.clone(),
                        title: title.clone(),
                        state: WorkState::Open,
                        opened_at: at,
                    },
                );
                self.open_work += 1;
            }
            EventKind::WorkCompleted { item, note } => {
                self.close_work(item, WorkState::Completed { note: note.clone() })
            }
            EventKind::WorkDropped { item, reason } => {
                self.close_work(item, WorkState::Dropped { reason: reason.clone() });
            }
            EventKind::FactRecorded { name, value, visibility } => match self.facts.get_mut(name) {
                // Updating a known fact is the common case: reuse its buffer.
                Some(fact) => {
                    fact.value.clone_from(value);
                    fact.visibility = *visibility;
                }
                None => {
                    self.facts.insert(name.clone(), Fact { value: value.clone(), visibility: *visibility });
                }
            },
            EventKind::ReachabilityRecorded { channel, reachable, note } => {
                self.channels.insert(*channel, Reachability { reachable: *reachable, note: note.clone() });
            }
            EventKind::NoteAdded { visibility, .. } => {
                if *visibility == Visibility::Customer && matches!(event.by, Actor::Staff(_)) {
                    self.clock.last_update_at = Some(at);
                }
            }
            EventKind::CustomerContacted { .. } => {
                self.heard_on = 0;
                self.clock.last_contact_at = Some(at);
                self.counters.contacts = self.counters.contacts.saturating_add(1);
                self.counters.unanswered_contacts = self.counters.unanswered_contacts.saturating_add(1);
                self.counters.customer_messages_unanswered = 0;
                self.counters.customer_asks_since_escalation = 0;
                self.clock.first_response_at.get_or_insert(at);
                self.clock.last_update_at = Some(at);
                self.clock.first_unanswered_contact_at.get_or_insert(at);
                if self.unanswered_contact_times.len() >= Self::UNANSWERED_CONTACTS_KEPT {
                    self.unanswered_contact_times.pop_front();
                }
                self.unanswered_contact_times.push_back(at);
            }
            EventKind::CustomerReplied { channel, .. } => {
                self.heard_on |= channel.bit();
                self.counters.customer_messages = self.counters.customer_messages.saturating_add(1);
                self.counters.customer_messages_unanswered =
                    self.counters.customer_messages_unanswered.saturating_add(1);
                self.counters.customer_asks_since_escalation =
                    self.counters.customer_asks_since_escalation.saturating_add(1);
                self.heard_from_customer(at);
            }
            EventKind::OutcomeConfirmed { voice, .. } => {
                self.outcome_state = OutcomeState::Confirmed;
                self.outcome_voice = Some((*voice, event.by.clone()));
                self.confirmation_requested = None;
                self.heard_from_customer(at);
            }
            EventKind::OutcomeDisputed { voice, .. } => {
                self.outcome_state = OutcomeState::Disputed;
                self.outcome_voice = Some((*voice, event.by.clone()));
                self.confirmation_requested = None;
                self.heard_from_customer(at);
            }
            EventKind::ConversationHeld { channel, .. } => {
                // A contact the customer answered in the same breath.
                self.counters.contacts = self.counters.contacts.saturating_add(1);
                self.counters.customer_messages_unanswered = 0;
                self.counters.customer_asks_since_escalation = 0;
                self.clock.first_response_at.get_or_insert(at);
                self.clock.last_update_at = Some(at);
                self.clock.last_contact_at = Some(at);
                self.heard_from_customer(at);
                self.heard_on = channel.bit();
            }
            EventKind::Resolved { .. } => self.close(Status::Resolved, at),
            EventKind::ClosedUnresolved { ending, .. } => {
                self.close(Status::ClosedUnresolved { ending: ending.clone() }, at);
            }
            EventKind::Reopened { .. } => {
                self.status = Status::Open;
                self.outcome_state = OutcomeState::Unmet;
                self.counters.reopenings = self.counters.reopenings.saturating_add(1);
                self.clock.closed_at = None;
                self.clock.reopened_at = Some(at);
                self.outcome_voice = None;
            }
            EventKind::IncidentLinked { incident } => self.incidents.push(incident.clone()),
            EventKind::ConfirmationRequested { reason } => set_text(&mut self.confirmation_requested, reason),
            EventKind::PolicyOverridden { .. } => self.counters.overrides = self.counters.overrides.saturating_add(1),
        }
        self.version = event.seq;
        self.clock.last_event_at = at;
        if event.key.is_some() {
            self.keys.remember(event);
        }
    }

    /// A transfer or an escalation: the owner history moves on (I1), and the counters
    /// and the clock with it.
    fn hand_to(&mut self, to: &Staff, note: &str, at: OffsetDateTime, seq: u64, how: Acquisition) {
        let bounce = self.owners.hand_to(to, seq, how);
        set_text(&mut self.last_handoff_note, note);
        self.counters.handoffs = self.counters.handoffs.saturating_add(1);
        self.counters.handoffs_since_escalation = self.counters.handoffs_since_escalation.saturating_add(1);
        if bounce {
            self.counters.bounces = self.counters.bounces.saturating_add(1);
        }
        self.clock.owner_since = at;
    }

    fn close_work(&mut self, item: &WorkItemId, state: WorkState) {
        if let Some(work) = self.work.get_mut(item) {
            work.state = state;
            self.open_work = self.open_work.saturating_sub(1);
        }
    }

    fn heard_from_customer(&mut self, at: OffsetDateTime) {
        self.counters.unanswered_contacts = 0;
        self.clock.first_unanswered_contact_at = None;
        self.unanswered_contact_times.clear();
        self.clock.last_customer_message_at = Some(at);
    }

    fn close(&mut self, status: Status, at: OffsetDateTime) {
        self.status = status;
        self.clock.closed_at = Some(at);
    }
}

/// Stores `text`, reusing the buffer already there.
fn set_text(slot: &mut Option<String>, text: &str) {
    match slot {
        Some(old) => text.clone_into(old),
        None => *slot = Some(text.to_owned()),
    }
}

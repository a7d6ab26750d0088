//! Every rule an event must keep to fold onto a case, in one place.
//!
//! The same checks run twice: when [`Rules::decide`](crate::Rules::decide) proposes an
//! event (after the clock, the directory and the limits, before any policy) and when
//! [`Case::apply`] or [`Case::replay`] folds one, so a log this crate never decided
//! (imported, edited, forged) is held to the same rules. Policies are *not* here: they
//! are the host's, overridable (S8); nothing in this file is.
//!
//! Each check names the invariant it keeps, as numbered in the design (grep `I1` … `I8`):
//!
//! | invariant | where |
//! |---|---|
//! | I1 One owner | [`Case::handoff`], [`Case::escalation`], [`Case::owner_only`] |
//! | I2 Outcome before resolution | [`Case::resolution`], [`Case::no_open_work`], [`Case::check_voice`], [`Case::customer_words`] |
//! | I3 Honest endings | [`Case::ending`] |
//! | I4 One timeline | no fold-time check: [`Visibility`] has no department-private value, so every event is on the one timeline |
//! | I5 Log integrity | [`Case::check_envelope`], [`unique_ids`], the opening (`Case::from_opened`) |
//! | I6 Closed means closed | [`Case::closed_means_closed`] |
//! | I7 Determinism | this whole file: the checks read the case and the event, nothing else |
//! | I8 No panics | this whole file: every broken rule is a [`Refusal`] or a [`LogError`], never a panic or an index out of range |
//!
//! The remaining checks keep the stories' rules that are not numbered invariants: work
//! items are their department's (S1), notes and facts are readable by every department
//! and internal ones are staff's (S3), an unusable channel is not used (S6), overrides
//! carry a reason (S8). Limits ([`Case::check_limits`]) protect the host, not the case.

use time::OffsetDateTime;

use super::Case;
use crate::actor::{Actor, Staff};
use crate::error::{LogError, Refusal};
use crate::event::{Ending, Event, EventKind, Visibility, Voice, SCHEMA_VERSION};
use crate::id::EventId;
use crate::limits::{cap, Limits};
use crate::status::OutcomeState;

impl Case {
    /// Whether `event` would fold onto this case: everything [`Case::apply`] (or, with
    /// `limits`, [`Case::apply_with_limits`]) checks, without changing anything. Lets a
    /// writer check before storing and fold after, without copying the case.
    #[inline(always)]
    pub(crate) fn validate(&self, event: &Event, limits: Option<&Limits>) -> Result<(), LogError> {
        self.check_envelope(event)?;
        let broken = |refusal| LogError::Broken { seq: event.seq, refusal };
        if let Some(limits) = limits {
            self.check_limits(limits, &event.by, &event.what).map_err(broken)?;
        }
        self.check(&event.by, &event.what).map_err(broken)
    }

    /// [`Case::validate`] for the one event `Rules` has just decided on this case in
    /// exactly this state: deciding ran [`Case::check`] here on the event's actor and
    /// kind (and `Case::check_limits`), so what is left to check is the envelope (case,
    /// sequence, schema, time order, key). Each rule is checked once; in debug builds,
    /// everything again.
    pub(crate) fn validate_decided(&self, event: &Event) -> Result<(), LogError> {
        debug_assert!(self.check(&event.by, &event.what).is_ok(), "decided events pass the rules");
        self.check_envelope(event)
    }

    /// Whether `by` may record `what` as the next event within `limits`: the sizes, and
    /// the counts this case has reached. Lives here, not in `limits`, because it reads
    /// the case.
    pub(crate) fn check_limits(&self, limits: &Limits, by: &Actor, what: &EventKind) -> Result<(), Refusal> {
        self.check_limits_nth(limits, 1, by, what)
    }

    /// [`Case::check_limits`] for the `nth` event after the last one (a command may
    /// record an override before its own event).
    pub(crate) fn check_limits_nth(
        &self,
        limits: &Limits,
        nth: u64,
        by: &Actor,
        what: &EventKind,
    ) -> Result<(), Refusal> {
        limits.check_sizes(self.version().saturating_add(nth), by, what)?;
        match what {
            EventKind::FactRecorded { name, .. } if !self.facts().contains_key(name) => {
                cap("facts on a case", limits.max_facts, self.facts().len())
            }
            EventKind::WorkOpened { .. } => cap("work items on a case", limits.max_work_items, self.work_items().len()),
            EventKind::IncidentLinked { .. } => {
                cap("incidents on a case", limits.max_incidents, self.incidents().len())
            }
            EventKind::Transferred { to, .. } | EventKind::Escalated { to, .. } if !self.has_owned(to) => {
                cap("distinct owners of a case", limits.max_owners, self.distinct_owners())
            }
            _ => Ok(()),
        }
    }

    /// **I5 Log integrity**: the event belongs to this case, continues its sequence
    /// numbers, has a known schema and does not go back in time; a clock adjustment only
    /// moves an earlier time forward to the previous event's; an idempotency key names
    /// one command, whose events are consecutive.
    pub(super) fn check_envelope(&self, event: &Event) -> Result<(), LogError> {
        if event.case != self.id {
            return Err(LogError::ForeignCase { seq: event.seq, expected: self.id, found: event.case });
        }
        let expected = self.version.saturating_add(1);
        if event.seq != expected {
            return Err(LogError::SequenceGap { expected, found: event.seq });
        }
        if event.schema != SCHEMA_VERSION {
            return Err(LogError::UnsupportedSchema { seq: event.seq, schema: event.schema });
        }
        if is_before(event.at, self.clock.last_event_at) {
            return Err(LogError::TimeWentBackwards {
                seq: event.seq,
                at: event.at,
                previous: self.clock.last_event_at,
            });
        }
        if let Some(given) = event.given_at {
            // An adjustment moves an earlier time forward to the previous event's, only.
            if !is_before(given, event.at) || event.at != self.clock.last_event_at {
                return Err(LogError::ClockAdjustment { seq: event.seq, given, at: event.at });
            }
        }
        if let Some(key) = &event.key {
            // A key names one command: its events are consecutive, and a key the case
            // still remembers cannot name another command later.
            if let Some(run) = self.keys.run(key).filter(|run| run.last.saturating_add(1) != event.seq) {
                let refusal = Refusal::KeyReused { key: key.clone(), first: run.first, last: run.last };
                return Err(LogError::Broken { seq: event.seq, refusal });
            }
        }
        Ok(())
    }

    /// The case's rules: may `by` record `what` on this case now? Each arm names the
    /// invariant (I1–I6) or story (S1–S8) it keeps.
    pub(crate) fn check(&self, by: &Actor, what: &EventKind) -> Result<(), Refusal> {
        if self.status.is_closed() {
            return closed_means_closed(&self.status, what);
        }
        match what {
            // I5: the opening is event 1 and only event 1 (`Case::from_opened`).
            EventKind::Opened { .. } => Err(Refusal::AlreadyOpened),
            // I6: only a closed case reopens.
            EventKind::Reopened { .. } => Err(Refusal::NotClosed),
            EventKind::Transferred { to, note } => self.handoff(by, to, note, "transfer the case", "handoff note"),
            EventKind::Escalated { to, reason, level } => self.escalation(by, to, reason, *level),
            // S1: a department opens and finishes its own work; the owner any.
            EventKind::WorkOpened { item, department, title } => {
                let staff = staff_only(by, "open work")?;
                if &staff.department != department && staff != self.owners.current() {
                    return Err(Refusal::NotYourDepartment {
                        item: item.clone(),
                        department: department.clone(),
                        by: by.clone(),
                    });
                }
                if self.work.contains_key(item) {
                    return Err(Refusal::DuplicateWorkItem { item: item.clone() });
                }
                non_empty(title, "work item title")
            }
            EventKind::WorkCompleted { item, note: text } | EventKind::WorkDropped { item, reason: text } => {
                let staff = staff_only(by, "finish or drop work")?;
                let work = self.work.get(item).ok_or_else(|| Refusal::UnknownWorkItem { item: item.clone() })?;
                if !work.is_open() {
                    return Err(Refusal::WorkItemClosed { item: item.clone() });
                }
                if staff.department != work.department && staff != self.owners.current() {
                    return Err(Refusal::NotYourDepartment {
                        item: item.clone(),
                        department: work.department.clone(),
                        by: by.clone(),
                    });
                }
                let field = if matches!(what, EventKind::WorkCompleted { .. }) {
                    "note on completed work"
                } else {
                    "reason for dropping work"
                };
                non_empty(text, field)
            }
            // S3: what is recorded once is for every department; internal is staff's.
            EventKind::FactRecorded { name, visibility, .. } => {
                if matches!(by, Actor::Customer(_)) && *visibility == Visibility::Internal {
                    return Err(Refusal::StaffOnly { action: "record an internal fact", by: by.clone() });
                }
                non_empty(name, "fact name")
            }
            // S6: an unusable channel says why.
            EventKind::ReachabilityRecorded { reachable, note, .. } => {
                if *reachable {
                    Ok(())
                } else {
                    non_empty(note, "note on why the channel cannot be used")
                }
            }
            // S3.
            EventKind::NoteAdded { text, visibility } => {
                if matches!(by, Actor::Customer(_)) && *visibility == Visibility::Internal {
                    return Err(Refusal::StaffOnly { action: "write an internal note", by: by.clone() });
                }
                non_empty(text, "note")
            }
            // S6: no contact on a channel the customer cannot use.
            EventKind::CustomerContacted { channel, message } => {
                if matches!(by, Actor::Customer(_)) {
                    return Err(Refusal::StaffOnly { action: "contact the customer", by: by.clone() });
                }
                if let Some(r) = self.channels.get(channel).filter(|r| !r.reachable) {
                    return Err(Refusal::ChannelUnreachable { channel: *channel, note: r.note.clone() });
                }
                non_empty(message, "message to the customer")
            }
            EventKind::CustomerReplied { message, .. } => self.customer_words(by, message),
            EventKind::OutcomeConfirmed { statement, voice } | EventKind::OutcomeDisputed { statement, voice } => {
                self.check_voice(by, *voice)?;
                non_empty(statement, "customer's statement")
            }
            // S6 and I2: a conversation on a live, usable channel, which is what lets
            // staff report the customer's words.
            EventKind::ConversationHeld { channel, summary } => {
                staff_only(by, "record a conversation with the customer")?;
                if !channel.is_live() {
                    return Err(Refusal::NotALiveChannel { channel: *channel });
                }
                if let Some(r) = self.channels.get(channel).filter(|r| !r.reachable) {
                    return Err(Refusal::ChannelUnreachable { channel: *channel, note: r.note.clone() });
                }
                non_empty(summary, "summary of the conversation")
            }
            EventKind::Resolved { summary } => self.resolution(by, summary),
            EventKind::ClosedUnresolved { ending, evidence } => self.ending(by, ending, evidence),
            // S6: a case links to an incident once.
            EventKind::IncidentLinked { incident } => {
                if matches!(by, Actor::Customer(_)) {
                    return Err(Refusal::StaffOnly { action: "link an incident", by: by.clone() });
                }
                if self.incidents.contains(incident) {
                    return Err(Refusal::AlreadyLinked { incident: incident.clone() });
                }
                Ok(())
            }
            // S6: flagged for confirmation, never resolved wholesale.
            EventKind::ConfirmationRequested { reason } => {
                if matches!(by, Actor::Customer(_)) {
                    return Err(Refusal::StaffOnly { action: "request confirmation", by: by.clone() });
                }
                non_empty(reason, "reason for asking confirmation")
            }
            // S8: an override is staff's, with a reason.
            EventKind::PolicyOverridden { policy, reason, .. } => {
                staff_only(by, "override a policy")?;
                crate::overrides::check(policy, reason)
            }
        }
    }

    /// **I1 One owner**: a handoff is the owner's (or the system's, for routing), names a
    /// receiver other than the owner, and carries a non-empty note (`field`).
    fn handoff(
        &self,
        by: &Actor,
        to: &Staff,
        note: &str,
        action: &'static str,
        field: &'static str,
    ) -> Result<(), Refusal> {
        self.owner_or_system(by, action)?;
        self.receiver(to)?;
        non_empty(note, field)
    }

    /// **I1 One owner**, for an escalation (S5): a handoff with a reason, one level up.
    fn escalation(&self, by: &Actor, to: &Staff, reason: &str, level: u32) -> Result<(), Refusal> {
        self.handoff(by, to, reason, "escalate the case", "reason for escalating")?;
        let expected = self.escalation_level.saturating_add(1);
        if level == expected {
            Ok(())
        } else {
            Err(Refusal::EscalationLevel { expected, found: level })
        }
    }

    /// **I2 Outcome before resolution**: only the owner resolves, only once the customer
    /// confirmed their outcome and no work item is open.
    fn resolution(&self, by: &Actor, summary: &str) -> Result<(), Refusal> {
        self.owner_only(by, "resolve the case")?;
        if self.outcome_state != OutcomeState::Confirmed {
            return Err(Refusal::OutcomeUnmet { outcome: self.outcome.clone() });
        }
        self.no_open_work()?;
        non_empty(summary, "resolution summary")
    }

    /// **I3 Honest endings**: an ending without confirmation is the owner's (or the
    /// customer's own withdrawal), leaves no work open, and carries its evidence:
    /// "unreachable" only after recorded contact attempts, "duplicate" of another case.
    fn ending(&self, by: &Actor, ending: &Ending, evidence: &str) -> Result<(), Refusal> {
        let customer_withdraws = matches!(by, Actor::Customer(_)) && *ending == Ending::Withdrawn;
        if !customer_withdraws {
            self.owner_only(by, "close the case")?;
        }
        self.no_open_work()?;
        match ending {
            Ending::Unreachable if self.counters.unanswered_contacts == 0 => return Err(Refusal::NoContactAttempts),
            Ending::Duplicate { of } if *of == self.id => return Err(Refusal::DuplicateOfItself),
            _ => {}
        }
        non_empty(evidence, "evidence for the ending")
    }

    /// **I2 Outcome before resolution**: the customer's words are the customer's, or
    /// staff's record of them; the system never speaks for the customer.
    fn customer_words(&self, by: &Actor, message: &str) -> Result<(), Refusal> {
        if matches!(by, Actor::System) {
            return Err(Refusal::ConfirmationNotFromCustomer { by: by.clone() });
        }
        non_empty(message, "customer's message")
    }

    /// **I2 Outcome before resolution**: a confirmation or dispute is the customer's:
    /// their own, or staff reporting words the log shows the customer saying on that
    /// channel since the last contact. Silence never is.
    fn check_voice(&self, by: &Actor, voice: Voice) -> Result<(), Refusal> {
        match (by, voice) {
            (Actor::System, _) => Err(Refusal::ConfirmationNotFromCustomer { by: by.clone() }),
            (Actor::Customer(_), Voice::Own) => Ok(()),
            (Actor::Customer(_), _) => {
                Err(Refusal::StaffOnly { action: "report what the customer said", by: by.clone() })
            }
            (_, Voice::Own) => Err(Refusal::NotTheCustomer { by: by.clone() }),
            // Written before schema 2: accepted as it was, claiming nothing (see `Voice`).
            (_, Voice::Unverified) => Ok(()),
            (_, Voice::Reported { channel }) => {
                if self.heard_on & channel.bit() != 0 {
                    Ok(())
                } else {
                    let since = self.clock.last_contact_at.unwrap_or(self.clock.opened_at);
                    Err(Refusal::CustomerNotHeard { channel, since })
                }
            }
        }
    }

    /// **I1 One owner**: what only the accountable owner may do.
    fn owner_only(&self, by: &Actor, action: &'static str) -> Result<(), Refusal> {
        match by {
            Actor::Staff(s) if s == self.owners.current() => Ok(()),
            _ => Err(Refusal::NotOwner { action, owner: self.owners.current().clone(), by: by.clone() }),
        }
    }

    /// **I1 One owner**: routing engines and supervisor tools act as the system; they may
    /// move a case but never end it.
    fn owner_or_system(&self, by: &Actor, action: &'static str) -> Result<(), Refusal> {
        if matches!(by, Actor::System) {
            Ok(())
        } else {
            self.owner_only(by, action)
        }
    }

    /// **I1 One owner**: a handoff goes to someone else.
    fn receiver(&self, to: &Staff) -> Result<(), Refusal> {
        if to == self.owners.current() {
            Err(Refusal::ReceiverIsOwner { owner: self.owners.current().clone() })
        } else {
            Ok(())
        }
    }

    /// **I2 Outcome before resolution** (and I3): no case ends while work is open;
    /// closing work items never ends it either.
    fn no_open_work(&self) -> Result<(), Refusal> {
        if self.open_work == 0 {
            Ok(())
        } else {
            Err(Refusal::WorkStillOpen { items: self.open_work().map(|w| w.id.clone()).collect() })
        }
    }
}

/// **I6 Closed means closed**: a closed case accepts only a reopen, with a reason.
fn closed_means_closed(status: &crate::status::Status, what: &EventKind) -> Result<(), Refusal> {
    match what {
        EventKind::Reopened { reason } => non_empty(reason, "reason for reopening"),
        _ => Err(Refusal::CaseClosed { status: status.clone() }),
    }
}

/// **I5 Log integrity**: no two events share an id; `ids[i]` is the id of event `i + 1`.
pub(crate) fn unique_ids(ids: &[u128]) -> Result<(), LogError> {
    // Ids decided by this crate are time-ordered (v7) and logs are in time order, so a
    // log's ids nearly always increase strictly: unique in one pass, with no sort and no
    // seeded hash set (I7). Anything else is sorted once.
    if ids.windows(2).all(|pair| matches!(pair, [a, b] if a < b)) {
        return Ok(());
    }
    let mut sorted: Vec<(u128, u64)> = ids.iter().copied().zip(1..).collect();
    sorted.sort_unstable();
    let repeat = sorted
        .windows(2)
        .filter_map(|pair| match *pair {
            [(a, first), (b, seq)] if a == b => {
                Some(LogError::DuplicateEventId { seq, id: EventId::from_uuid(uuid::Uuid::from_u128(a)), first })
            }
            _ => None,
        })
        .min_by_key(LogError::seq);
    repeat.map_or(Ok(()), Err)
}

fn staff_only<'a>(by: &'a Actor, action: &'static str) -> Result<&'a Staff, Refusal> {
    by.as_staff().ok_or_else(|| Refusal::StaffOnly { action, by: by.clone() })
}

/// **I2 Outcome before resolution**, at the opening: the customer's outcome is stated
/// (used by decide and fold).
pub(crate) fn check_outcome(outcome: &str) -> Result<(), Refusal> {
    non_empty(outcome, "customer's outcome")
}

fn non_empty(text: &str, field: &'static str) -> Result<(), Refusal> {
    // Runs for nearly every event folded: a visible ASCII first byte settles it without
    // decoding characters; otherwise only leading whitespace needs walking.
    if text.as_bytes().first().is_some_and(u8::is_ascii_graphic) {
        return Ok(());
    }
    if text.trim_start().is_empty() {
        Err(Refusal::EmptyText { field })
    } else {
        Ok(())
    }
}

/// `a < b`, cheaply in the common case. `OffsetDateTime`'s own ordering converts both
/// sides to UTC first, a noticeable share of the fold; when the offsets agree (always, for
/// events this crate writes: they are UTC) comparing the local date and time is exact.
fn is_before(a: OffsetDateTime, b: OffsetDateTime) -> bool {
    if a.offset() == b.offset() {
        (a.date(), a.time()) < (b.date(), b.time())
    } else {
        a < b
    }
}

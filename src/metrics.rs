//! Service metrics across many cases, measured against the customer's outcome (S9).
//!
//! See [`Metrics`] for the figures, how each differs from a helpdesk's, and their precision.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::case::Case;
use crate::deadline::{DeadlineKind, Deadlines};
use crate::error::LogError;
use crate::event::{Ending, Event, EventKind, Voice};
use crate::span::words;
use crate::status::Status;

/// Service figures over many case logs, computed in one pass per log with memory that
/// does not depend on the number of cases (S9).
///
/// [`Metrics`] reads case logs one at a time, in one pass each, and keeps only totals and
/// fixed-size histograms: its memory does not grow with the number of cases (about 50 KB,
/// plus one counter per distinct policy name that was overridden, at most
/// [`Metrics::MAX_POLICY_NAMES`]). [`Metrics::report`] gives a [`MetricsReport`], which
/// prints as text and serialises as JSON.
///
/// Each log is folded with [`Case::apply`] as it is read, so a broken or forged log is
/// refused with its [`LogError`] and counted apart, never half-counted. A folded
/// [`Case`] alone cannot give these figures: it keeps counters, not history (when the
/// customer confirmed, which deadlines passed, which policy was overridden), so metrics
/// read logs.
///
/// # The figures, and how each differs from a helpdesk's
///
/// | figure | here | nearest helpdesk metric, and the difference |
/// |---|---|---|
/// | endings by kind | resolved on the customer's own confirmation; resolved on a confirmation staff reported (with the channel and the customer's words); unreachable; withdrawn; duplicate; still open | "solved" / "closed" counts, where an agent's click is a solution and a ticket closed after silence counts as solved; here silence is "unreachable" and never resolved (I3), and a confirmation staff reported is counted apart from the customer's own |
/// | time to confirmed outcome | opening → the confirmation in force when the case was (finally) resolved; resolved cases only | "full resolution time", which runs until an agent sets "solved" (and is often taken from the first solve); here it runs until the customer confirms, so a premature "solved" that the customer reopened does not shorten it |
/// | time to first close | opening → the first time the case was closed, any ending | the helpdesk's resolution time as usually reported: shown beside the figure above so the gap between "we closed it" and "the customer said it works" is visible |
/// | time to first response | opening → the first contact with the customer | "first reply time", which in many tools counts any public agent comment, auto-replies excluded or not by setting; here only a contact recorded on the case counts, and an internal note never does |
/// | reopen rate | cases reopened at least once / cases closed at least once | "reopens" counted per ticket by status changes; here a reopen is an explicit event with a reason, and a reopened case keeps one identity instead of a follow-up ticket |
/// | handoffs, bounces per case | transfers and escalations; bounces are handoffs back to an owner or department the case had left (S4) | "group stations" / "assignee stations" count every reassignment; a bounce (ping-pong) is not a helpdesk figure at all |
/// | escalations | explicit escalation events, and the cases with any | often a priority change or a tag; here an escalation has a receiver and a reason |
/// | unanswered contacts per case | contacts the customer never answered before the next contact or the end | not reported by helpdesks, which count "agent replies" whether or not anyone answered; ten "can I close it?" mails are ten unanswered contacts here |
/// | asked again | customer messages sent while their earlier request (the opening or a message) had no contact since | "customer replies" or "requester wait time"; here a customer chasing an answer is counted as such |
/// | deadline breaches | first-response and next-update deadlines (the [`Deadlines`] given) that passed with no update while the case was open; after a reopen the next update counts from the reopening | SLA breaches on "first reply" and "next reply", which some tools pause in "pending" states; here nothing pauses them while the customer waits |
/// | overrides per policy | [`EventKind::PolicyOverridden`] events by policy name (S8) | no equivalent: a helpdesk records neither that a rule was set aside nor why; here a manager sees which policies get in the way |
///
/// # Precision
///
/// Counts and averages are exact. Medians and 90th percentiles come from a log-linear
/// histogram of whole seconds (the nearest-rank quantile, then the middle of its bucket):
/// exact below 32 seconds, otherwise within 1/64 (about 1.6 %) of the true value, at
/// any scale from seconds to centuries. Durations are truncated to whole seconds.
///
/// # Example
///
/// ```
/// use caseledger::{Actor, CaseId, Command, Ledger, Metrics, Opening, Rules, Staff};
/// use time::macros::datetime;
/// use time::Duration;
///
/// let rules = Rules::default();
/// let ana = Staff::new("ana", "software");
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let mut metrics = Metrics::new(t + Duration::days(30));
/// for (n, customer_answers) in [(1u8, true), (2, false)] {
///     let mut ledger = Ledger::open(&rules, CaseId::new_v7(t, [n; 10]),
///         Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), t)?;
///     let owner = Actor::Staff(ana.clone());
///     ledger.execute(&rules, Command::ContactCustomer {
///         channel: caseledger::event::Channel::Email, message: "does it work now?".into(),
///     }, &owner, t + Duration::hours(2))?;
///     if customer_answers {
///         ledger.execute(&rules, Command::ConfirmOutcome { statement: "yes, thanks".into() },
///             &Actor::customer("cust-7"), t + Duration::days(2))?;
///         ledger.execute(&rules, Command::Resolve { summary: "fixed".into() }, &owner, t + Duration::days(2))?;
///     }
///     metrics.add_log(ledger.events())?;
/// }
/// let report = metrics.report();
/// assert_eq!((report.cases, report.endings.resolved_confirmed_by_customer, report.endings.open), (2, 1, 1));
/// let median = report.time_to_confirmed_outcome.median_seconds.unwrap_or_default();
/// assert!(median.abs_diff(2 * 86_400) <= 2 * 86_400 / 64, "two days, within 1/64");
/// assert_eq!(report.unanswered_contacts.total, 1, "the second customer never answered");
/// println!("{report}");
/// # Ok::<(), caseledger::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Metrics {
    as_of: OffsetDateTime,
    deadlines: Deadlines,
    cases: u64,
    rejected_logs: u64,
    endings: Endings,
    to_confirmed: Histogram,
    to_first_close: Histogram,
    to_first_response: Histogram,
    closed_cases: u64,
    reopened_cases: u64,
    reopenings: u64,
    contacts: Tally,
    handoffs: Tally,
    bounces: Tally,
    escalations: Tally,
    unanswered: Tally,
    asked_again: Tally,
    first_response_breaches: Tally,
    next_update_breaches: Tally,
    overrides: BTreeMap<String, u64>,
}

/// How many cases ended each way (I3). Every case is in exactly one field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Endings {
    /// Resolved on the customer's own confirmation (the customer recorded it).
    pub resolved_confirmed_by_customer: u64,
    /// Resolved on a confirmation a staff member reported from the customer's words,
    /// with the channel and the log showing the customer speaking there.
    pub resolved_reported_by_staff: u64,
    /// Resolved on a confirmation staff recorded before schema 2, with no channel and no
    /// evidence (see [`Voice::Unverified`]).
    pub resolved_reported_unverified: u64,
    /// Closed as unreachable after recorded attempts.
    pub unreachable: u64,
    /// Withdrawn by the customer.
    pub withdrawn: u64,
    /// Closed as a duplicate of another case.
    pub duplicate: u64,
    /// Still open at the end of the log.
    pub open: u64,
}

/// A duration figure over the cases it applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Durations {
    /// How many cases have this figure.
    pub cases: u64,
    /// The median, in whole seconds (see the precision note on [`Metrics`]).
    pub median_seconds: Option<u64>,
    /// The 90th percentile, in whole seconds.
    pub p90_seconds: Option<u64>,
}

/// A count over all cases: the total, the cases with at least one, and the mean per case.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PerCase {
    /// The total over all cases.
    pub total: u64,
    /// Cases with at least one.
    pub cases: u64,
    /// `total` divided by the number of cases counted; `None` with no cases.
    pub per_case: Option<f64>,
}

/// Reopenings (I6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Reopens {
    /// Cases closed at least once.
    pub closed_cases: u64,
    /// Cases reopened at least once.
    pub reopened_cases: u64,
    /// Reopen events over all cases.
    pub reopenings: u64,
    /// `reopened_cases / closed_cases`; `None` when no case was closed.
    pub rate: Option<f64>,
}

/// The figures of a [`Metrics`], as text (`Display`) or JSON ([`MetricsReport::to_json`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricsReport {
    /// The moment open cases were measured at (pending deadlines).
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    /// Cases counted.
    pub cases: u64,
    /// Logs refused because they do not fold (and not counted anywhere else).
    pub rejected_logs: u64,
    /// How the cases ended.
    pub endings: Endings,
    /// Opening to the customer's confirmation that holds at resolution; resolved cases.
    pub time_to_confirmed_outcome: Durations,
    /// Opening to the first closing of any kind; cases closed at least once.
    pub time_to_first_close: Durations,
    /// Opening to the first contact with the customer.
    pub time_to_first_response: Durations,
    /// Reopenings.
    pub reopens: Reopens,
    /// Contacts with the customer.
    pub contacts: PerCase,
    /// Ownership changes (transfers and escalations).
    pub handoffs: PerCase,
    /// Handoffs back to an owner or department the case had left (S4).
    pub bounces: PerCase,
    /// Escalations (S5).
    pub escalations: PerCase,
    /// Contacts the customer never answered (S2).
    pub unanswered_contacts: PerCase,
    /// Customer messages sent while their earlier request had no answer (S5).
    pub asked_again: PerCase,
    /// First-response deadlines passed with no contact.
    pub first_response_breaches: PerCase,
    /// Next-update deadlines passed with no update.
    pub next_update_breaches: PerCase,
    /// Overrides by policy name (S8).
    pub overrides: BTreeMap<String, u64>,
}

impl Metrics {
    /// The most distinct policy names counted one by one; overrides of further names
    /// (only a forged or runaway set of logs has them) are counted under
    /// [`Metrics::OTHER_POLICIES`], so memory stays bounded.
    pub const MAX_POLICY_NAMES: usize = 256;

    /// The name overrides of policies beyond [`Metrics::MAX_POLICY_NAMES`] are counted under.
    pub const OTHER_POLICIES: &'static str = "(other policies)";

    /// Empty metrics; cases still open are measured at `as_of` (a pending deadline
    /// passed by then is a breach). No deadlines are checked until
    /// [`Metrics::with_deadlines`].
    #[must_use]
    pub fn new(as_of: OffsetDateTime) -> Self {
        Self {
            as_of,
            deadlines: Deadlines::default(),
            cases: 0,
            rejected_logs: 0,
            endings: Endings::default(),
            to_confirmed: Histogram::new(),
            to_first_close: Histogram::new(),
            to_first_response: Histogram::new(),
            closed_cases: 0,
            reopened_cases: 0,
            reopenings: 0,
            contacts: Tally::default(),
            handoffs: Tally::default(),
            bounces: Tally::default(),
            escalations: Tally::default(),
            unanswered: Tally::default(),
            asked_again: Tally::default(),
            first_response_breaches: Tally::default(),
            next_update_breaches: Tally::default(),
            overrides: BTreeMap::new(),
        }
    }

    /// The same metrics, counting breaches of `deadlines` (usually the host's
    /// [`PolicySet::deadlines`](crate::PolicySet::deadlines)).
    #[must_use]
    pub fn with_deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// Counts one case from its whole log, folding it on the way.
    ///
    /// # Errors
    ///
    /// The log's [`LogError`] when it does not fold; the case is then counted only in
    /// [`MetricsReport::rejected_logs`].
    pub fn add_log<'a>(&mut self, events: impl IntoIterator<Item = &'a Event>) -> Result<(), LogError> {
        match CaseTally::read(events, &self.deadlines, self.as_of) {
            Ok(tally) => {
                self.count(tally);
                Ok(())
            }
            Err(err) => {
                self.rejected_logs = self.rejected_logs.saturating_add(1);
                Err(err)
            }
        }
    }

    fn count(&mut self, t: CaseTally) {
        self.cases = self.cases.saturating_add(1);
        let ending = match t.case.status() {
            Status::Open => &mut self.endings.open,
            Status::Resolved => match t.confirmed_voice {
                Some(Voice::Own) => &mut self.endings.resolved_confirmed_by_customer,
                Some(Voice::Reported { .. }) => &mut self.endings.resolved_reported_by_staff,
                _ => &mut self.endings.resolved_reported_unverified,
            },
            Status::ClosedUnresolved { ending: Ending::Unreachable } => &mut self.endings.unreachable,
            Status::ClosedUnresolved { ending: Ending::Withdrawn } => &mut self.endings.withdrawn,
            // A duplicate, or an ending added later: counted with the closings that are
            // not the customer's outcome.
            Status::ClosedUnresolved { .. } => &mut self.endings.duplicate,
        };
        *ending = ending.saturating_add(1);
        let opened = t.case.clock().opened_at;
        if let (Status::Resolved, Some(at)) = (t.case.status(), t.confirmed_at) {
            self.to_confirmed.add(seconds(opened, at));
        }
        if let Some(at) = t.first_closed_at {
            self.to_first_close.add(seconds(opened, at));
            self.closed_cases = self.closed_cases.saturating_add(1);
        }
        if let Some(at) = t.case.clock().first_response_at {
            self.to_first_response.add(seconds(opened, at));
        }
        let counters = t.case.counters();
        if counters.reopenings > 0 {
            self.reopened_cases = self.reopened_cases.saturating_add(1);
            self.reopenings = self.reopenings.saturating_add(u64::from(counters.reopenings));
        }
        self.contacts.add(u64::from(counters.contacts));
        self.handoffs.add(u64::from(counters.handoffs));
        self.bounces.add(u64::from(counters.bounces));
        self.escalations.add(u64::from(t.case.escalation_level()));
        self.unanswered.add(t.unanswered);
        self.asked_again.add(t.asked_again);
        self.first_response_breaches.add(t.breaches[0]);
        self.next_update_breaches.add(t.breaches[1]);
        for (policy, n) in t.overrides {
            let key = if self.overrides.contains_key(&policy) || self.overrides.len() < Self::MAX_POLICY_NAMES {
                policy
            } else {
                Self::OTHER_POLICIES.to_owned()
            };
            let count = self.overrides.entry(key).or_default();
            *count = count.saturating_add(n);
        }
    }

    /// The figures so far.
    #[must_use]
    pub fn report(&self) -> MetricsReport {
        let per = |t: &Tally| t.per_case(self.cases);
        MetricsReport {
            as_of: self.as_of,
            cases: self.cases,
            rejected_logs: self.rejected_logs,
            endings: self.endings.clone(),
            time_to_confirmed_outcome: self.to_confirmed.durations(),
            time_to_first_close: self.to_first_close.durations(),
            time_to_first_response: self.to_first_response.durations(),
            reopens: Reopens {
                closed_cases: self.closed_cases,
                reopened_cases: self.reopened_cases,
                reopenings: self.reopenings,
                rate: ratio(self.reopened_cases, self.closed_cases),
            },
            contacts: per(&self.contacts),
            handoffs: per(&self.handoffs),
            bounces: per(&self.bounces),
            escalations: per(&self.escalations),
            unanswered_contacts: per(&self.unanswered),
            asked_again: per(&self.asked_again),
            first_response_breaches: per(&self.first_response_breaches),
            next_update_breaches: per(&self.next_update_breaches),
            overrides: self.overrides.clone(),
        }
    }
}

impl MetricsReport {
    /// The report as a JSON document.
    ///
    /// # Errors
    ///
    /// Passes on `serde_json`'s error; these plain data types do not fail in practice.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}

impl fmt::Display for MetricsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.endings;
        writeln!(f, "{} cases as of {}", self.cases, crate::span::short_time(self.as_of))?;
        if self.rejected_logs > 0 {
            writeln!(f, "  ({} logs refused: they do not fold)", self.rejected_logs)?;
        }
        writeln!(f, "Endings:")?;
        for (n, what) in [
            (e.resolved_confirmed_by_customer, "resolved, confirmed by the customer"),
            (e.resolved_reported_by_staff, "resolved, confirmation reported by staff (channel and words)"),
            (e.resolved_reported_unverified, "resolved, reported by staff before evidence was recorded"),
            (e.unreachable, "closed: customer unreachable"),
            (e.withdrawn, "closed: withdrawn"),
            (e.duplicate, "closed: duplicate"),
            (e.open, "still open"),
        ] {
            writeln!(f, "  {n:>8}  {what}{}", share(n, self.cases))?;
        }
        writeln!(f, "Times (median / 90th percentile):")?;
        for (d, what) in [
            (&self.time_to_confirmed_outcome, "to the customer's confirmed outcome"),
            (&self.time_to_first_close, "to the first closing (any ending)"),
            (&self.time_to_first_response, "to the first response"),
        ] {
            let show = |s: Option<u64>| s.map_or_else(|| "-".to_owned(), |s| words(seconds_duration(s)));
            writeln!(f, "  {what}: {} / {} ({} cases)", show(d.median_seconds), show(d.p90_seconds), d.cases)?;
        }
        let r = &self.reopens;
        writeln!(
            f,
            "Reopened: {} of {} closed cases{}, {} reopenings",
            r.reopened_cases,
            r.closed_cases,
            share(r.reopened_cases, r.closed_cases),
            r.reopenings
        )?;
        writeln!(f, "Per case (total, cases with any, mean):")?;
        for (p, what) in [
            (&self.contacts, "contacts"),
            (&self.unanswered_contacts, "unanswered contacts"),
            (&self.asked_again, "customer asked again"),
            (&self.handoffs, "handoffs"),
            (&self.bounces, "bounces"),
            (&self.escalations, "escalations"),
            (&self.first_response_breaches, "first-response deadlines breached"),
            (&self.next_update_breaches, "next-update deadlines breached"),
        ] {
            let mean = p.per_case.map_or_else(|| "-".to_owned(), |m| format!("{m:.2}"));
            writeln!(f, "  {what}: {}, {}, {mean}", p.total, p.cases)?;
        }
        if self.overrides.is_empty() {
            writeln!(f, "Overrides: none")?;
        } else {
            writeln!(f, "Overrides by policy:")?;
            for (policy, n) in &self.overrides {
                writeln!(f, "  {n:>8}  {policy}")?;
            }
        }
        Ok(())
    }
}

fn share(n: u64, of: u64) -> String {
    ratio(n, of).map_or_else(String::new, |r| format!(" ({:.1} %)", r * 100.0))
}

#[allow(clippy::cast_precision_loss)] // Counts far below 2^52; a ratio needs no more.
fn ratio(n: u64, of: u64) -> Option<f64> {
    (of > 0).then(|| n as f64 / of as f64)
}

fn seconds(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    u64::try_from((to - from).whole_seconds()).unwrap_or(0)
}

fn seconds_duration(s: u64) -> time::Duration {
    time::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX))
}

/// A count summed over cases, with how many cases had any.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    total: u64,
    cases: u64,
}

impl Tally {
    fn add(&mut self, n: u64) {
        self.total = self.total.saturating_add(n);
        if n > 0 {
            self.cases = self.cases.saturating_add(1);
        }
    }

    fn per_case(&self, cases: u64) -> PerCase {
        PerCase { total: self.total, cases: self.cases, per_case: ratio(self.total, cases) }
    }
}

/// What one log contributes, read in one pass while it is folded.
struct CaseTally {
    case: Case,
    confirmed_at: Option<OffsetDateTime>,
    confirmed_voice: Option<Voice>,
    first_closed_at: Option<OffsetDateTime>,
    unanswered: u64,
    asked_again: u64,
    /// First-response and next-update breaches.
    breaches: [u64; 2],
    overrides: BTreeMap<String, u64>,
}

impl CaseTally {
    fn read<'a>(
        events: impl IntoIterator<Item = &'a Event>,
        deadlines: &Deadlines,
        as_of: OffsetDateTime,
    ) -> Result<Self, LogError> {
        let mut events = events.into_iter();
        let first = events.next().ok_or(LogError::Empty)?;
        let case = Case::from_opened(first)?;
        let mut t = Self {
            case,
            confirmed_at: None,
            confirmed_voice: None,
            first_closed_at: None,
            unanswered: 0,
            asked_again: 0,
            breaches: [0; 2],
            overrides: BTreeMap::new(),
        };
        // The due moment last counted as breached, per deadline, so each breach counts once.
        let mut counted: [Option<OffsetDateTime>; 2] = [None; 2];
        let mut ids = vec![first.id.as_uuid().as_u128()];
        for event in events {
            t.breaches_before(deadlines, event.at, &mut counted);
            let before = t.case.counters().clone();
            let waiting = before.customer_messages_unanswered > 0 || t.case.clock().first_response_at.is_none();
            t.case.apply(event)?;
            ids.push(event.id.as_uuid().as_u128());
            let after = t.case.counters();
            if after.unanswered_contacts < before.unanswered_contacts {
                t.unanswered += u64::from(before.unanswered_contacts - after.unanswered_contacts - 1);
            }
            match &event.what {
                EventKind::CustomerReplied { .. } if waiting => t.asked_again += 1,
                EventKind::OutcomeConfirmed { voice, .. } => {
                    t.confirmed_at = Some(event.at);
                    t.confirmed_voice = Some(*voice);
                }
                EventKind::Resolved { .. } | EventKind::ClosedUnresolved { .. } => {
                    t.first_closed_at.get_or_insert(event.at);
                }
                EventKind::PolicyOverridden { policy, .. } => {
                    *t.overrides.entry(policy.clone()).or_default() += 1;
                }
                _ => {}
            }
        }
        // The same id check as replay (I5).
        crate::case::unique_ids(&ids)?;
        t.unanswered += u64::from(t.case.counters().unanswered_contacts);
        if !t.case.is_closed() {
            t.breaches_before(deadlines, as_of, &mut counted);
        }
        Ok(t)
    }

    /// Counts the deadlines that passed before `at` with the case as it stands.
    fn breaches_before(
        &mut self,
        deadlines: &Deadlines,
        at: OffsetDateTime,
        counted: &mut [Option<OffsetDateTime>; 2],
    ) {
        for (kind, due) in deadlines.pending(&self.case) {
            let Some(due) = due.filter(|due| *due < at) else { continue };
            let slot = match kind {
                DeadlineKind::FirstResponse => 0,
                _ => 1,
            };
            if let (Some(seen), Some(n)) = (counted.get_mut(slot), self.breaches.get_mut(slot)) {
                if *seen != Some(due) {
                    *seen = Some(due);
                    *n += 1;
                }
            }
        }
    }
}

/// A log-linear histogram of whole seconds: 32 buckets per power of two, exact below 32.
#[derive(Clone, Debug)]
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
}

/// Sub-buckets per power of two, as a power of two: 2^5 = 32, so a bucket spans at most
/// 1/32 of its lower bound and its middle is within 1/64 of any value in it.
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Buckets for every `u64`: 32 exact ones, then 32 for each power from 2^5 to 2^63.
const BUCKETS: usize = (1 << SUB_BITS) * (64 - SUB_BITS as usize + 1);

impl Histogram {
    fn new() -> Self {
        Self { buckets: vec![0; BUCKETS], count: 0 }
    }

    fn index(value: u64) -> usize {
        if value < SUB {
            return usize::try_from(value).unwrap_or(0);
        }
        let power = 63 - value.leading_zeros();
        let mantissa = (value >> (power - SUB_BITS)) & (SUB - 1);
        usize::try_from(u64::from(power - SUB_BITS + 1) * SUB + mantissa).unwrap_or(BUCKETS - 1)
    }

    /// The middle of bucket `index` (the value itself below 32).
    fn middle(index: usize) -> u64 {
        let index = u64::try_from(index).unwrap_or(0);
        if index < SUB {
            return index;
        }
        let shift = u32::try_from(index / SUB - 1).unwrap_or(0);
        let low = (SUB + index % SUB) << shift;
        let width = 1u64 << shift;
        low.saturating_add(width / 2)
    }

    fn add(&mut self, value: u64) {
        if let Some(b) = self.buckets.get_mut(Self::index(value)) {
            *b = b.saturating_add(1);
            self.count = self.count.saturating_add(1);
        }
    }

    /// The nearest-rank `q` quantile (0 < q ≤ 1), as its bucket's middle.
    fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (i, n) in self.buckets.iter().enumerate() {
            seen = seen.saturating_add(*n);
            if seen >= rank {
                return Some(Self::middle(i));
            }
        }
        None
    }

    fn durations(&self) -> Durations {
        Durations { cases: self.count, median_seconds: self.quantile(0.5), p90_seconds: self.quantile(0.9) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_exact_below_32_and_within_1_64_above() {
        for v in (0..32).chain([32, 33, 63, 64, 100, 1_000, 86_400, 31_536_000, u64::MAX / 3, u64::MAX]) {
            let middle = Histogram::middle(Histogram::index(v));
            if v < 32 {
                assert_eq!(middle, v);
            } else {
                let error = middle.abs_diff(v) as f64 / v as f64;
                assert!(error <= 1.0 / 64.0, "{v}: {middle} is {error} off");
            }
        }
        assert!(Histogram::index(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut h = Histogram::new();
        for v in 1..=10 {
            h.add(v);
        }
        assert_eq!((h.quantile(0.5), h.quantile(0.9)), (Some(5), Some(9)));
        assert_eq!(Histogram::new().quantile(0.5), None);
    }
}

//! The unified timeline: one projection of the log that every department reads (I4).
//!
//! Every event appears exactly once, in log order, with who did it, their department,
//! when, and a plain sentence. The [`View::Customer`] view leaves out internal entries
//! and never shows a handoff note or escalation reason.
//!
//! A department's view is the whole staff timeline: [`Timeline::department_view`] marks
//! the entries that department did or is concerned by, and hides nothing, because the
//! entry that explains a department's new work (the customer's reply to another
//! department, a note from the previous owner) is usually not its own. To narrow the
//! entries on purpose, [`Timeline::involving`] is a filter and says so. There are no
//! department-private entries.
//!
//! Renders as plain text ([`Display`](std::fmt::Display)), JSON ([`Timeline::to_json`])
//! a Mermaid sequence diagram with one lane per department ([`Timeline::to_mermaid`]), and
//! HTML ([`Timeline::to_html`], in [`crate::html`]).
//!
//! # The handoff brief
//!
//! A [`HandoffBrief`] ([`Case::brief`](crate::Case::brief)) is what the next owner reads
//! instead of asking the customer to tell the story again (S3): the outcome and where it
//! stands, the facts, the open work and the last handoff note, folded from the case.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::actor::{Actor, Staff};
use crate::case::Case;
use crate::error::{LogError, Refusal};
use crate::event::{Event, EventKind, Visibility, Voice};
use crate::id::{Department, WorkItemId};
use crate::span::short_time;

pub use crate::brief::HandoffBrief;

/// Who a timeline is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// Every department's staff: every event.
    Staff,
    /// The customer: customer-visible events only, in customer-safe words.
    Customer,
}

impl View {
    /// The view `reader` may have of `case`: [`View::Staff`] for staff and the system,
    /// [`View::Customer`] for the case's own customer.
    ///
    /// # Errors
    ///
    /// [`Refusal::OtherCustomer`] for a customer who is not the case's: they see nothing
    /// of it.
    pub fn for_reader(case: &Case, reader: &Actor) -> Result<Self, Refusal> {
        case.check_customer(reader)?;
        Ok(if reader.is_customer() { Self::Customer } else { Self::Staff })
    }
}

/// One line of the timeline: one event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Entry {
    /// The event's sequence number.
    pub seq: u64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who.
    pub by: Actor,
    /// The department of who did it, if staff.
    pub department: Option<Department>,
    /// Another department the event concerns (a handoff's receiver, a work item's owner).
    pub concerns: Option<Department>,
    /// The event kind's tag (`"transferred"`, …).
    pub kind: String,
    /// Who may read the underlying event.
    pub visibility: Visibility,
    /// What happened, in one plain sentence.
    pub sentence: String,
    /// The time the host gave, when it was behind the previous event and the event was
    /// recorded at that event's time instead ([`Event::given_at`]); staff view only.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub given_at: Option<OffsetDateTime>,
}

impl Entry {
    /// How far the host's clock was behind when the event was recorded, if it was
    /// ([`Entry::given_at`]): "clock adjusted by 1.2 s" in the plain-text timeline.
    #[must_use]
    pub fn clock_adjustment(&self) -> Option<Duration> {
        self.given_at.map(|given| self.at - given)
    }

    /// Whether `department` did this or is concerned by it.
    #[must_use]
    pub fn involves(&self, department: &Department) -> bool {
        self.department.as_ref() == Some(department) || self.concerns.as_ref() == Some(department)
    }
}

/// A rendered history of one case for one audience.
///
/// # Example
///
/// ```
/// use caseledger::{event::Visibility, Actor, Command, Ledger, Opening, Rules, Staff, Timeline};
/// use time::macros::datetime;
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let rules = Rules::default();
/// let ana = Staff::new("ana", "software");
/// let mut ledger = Ledger::open(&rules, caseledger::CaseId::new_v7(t, [5; 10]),
///     Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), t)?;
/// let note = Command::AddNote { text: "suspect the BIOS".into(), visibility: Visibility::Internal };
/// ledger.execute(&rules, note, &ana.into(), t)?;
///
/// let staff = Timeline::staff(ledger.events());
/// let customer = Timeline::customer(ledger.events());
/// assert_eq!(staff.entries().len(), 2);
/// assert_eq!(customer.entries().len(), 1, "the internal note is not shown to the customer");
/// assert!(staff.to_string().contains("suspect the BIOS"));
/// # Ok::<(), caseledger::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    view: View,
    entries: Vec<Entry>,
}

impl Timeline {
    /// The staff timeline: every event once, in the order given.
    #[must_use]
    pub fn staff<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        Self::build(View::Staff, events)
    }

    /// The customer's timeline: no internal notes or facts, no staff coordination, and
    /// handoffs without their notes.
    #[must_use]
    pub fn customer<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        Self::build(View::Customer, events)
    }

    /// The timeline of `case`'s `events` for `reader`, in the view they may have
    /// ([`View::for_reader`]): the customer's own for the case's customer, the staff view
    /// for staff and the system.
    ///
    /// # Errors
    ///
    /// [`Refusal::OtherCustomer`] for a customer who is not the case's.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{event::Visibility, Actor, Command, Ledger, Opening, Refusal, Rules, Staff, Timeline};
    /// use time::macros::datetime;
    ///
    /// let t = datetime!(2026-11-23 09:00 UTC);
    /// let (rules, ana) = (Rules::default(), Staff::new("ana", "software"));
    /// let mut ledger = Ledger::open(&rules, caseledger::CaseId::new_v7(t, [5; 10]),
    ///     Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), t)?;
    /// let note = Command::AddNote { text: "suspect the BIOS".into(), visibility: Visibility::Internal };
    /// ledger.execute(&rules, note, &ana.into(), t)?;
    ///
    /// let mine = Timeline::for_reader(ledger.case(), &Actor::customer("cust-7"), ledger.events())?;
    /// assert_eq!(mine.entries().len(), 1, "the customer's view: no internal note");
    /// let stranger = Timeline::for_reader(ledger.case(), &Actor::customer("cust-8"), ledger.events());
    /// assert!(matches!(stranger, Err(Refusal::OtherCustomer { .. })));
    /// # Ok::<(), caseledger::Error>(())
    /// ```
    pub fn for_reader<'a>(
        case: &Case,
        reader: &Actor,
        events: impl IntoIterator<Item = &'a Event>,
    ) -> Result<Self, Refusal> {
        Ok(Self::build(View::for_reader(case, reader)?, events))
    }

    /// The timeline of `events` for `view`.
    #[must_use]
    pub fn build<'a>(view: View, events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut context = Context { case: None, owner_department: None, work_departments: BTreeMap::new() };
        let entries = events.into_iter().filter_map(|event| context.entry(view, event)).collect();
        Self { view, entries }
    }

    /// One page of the timeline of `case` for `view`: the entries after event `after`,
    /// at most `limit` of them, exactly as they read in the whole timeline, built from
    /// the events after `after` only (for instance a store's `read_after(after)`).
    ///
    /// A timeline built from a tail alone cannot know two things the entries say: which
    /// department a piece of work belongs to when it is completed or dropped (it was
    /// opened earlier), and which department owned the case when the customer wrote
    /// (their words concern the owner's department). Both come from `case`, which must
    /// have folded at least the events up to `after` (any later version will do, the
    /// current one included): work items never change department, and the case knows
    /// who owned it after every event ([`Case::owner_at`]).
    ///
    /// `events` may start at any event up to `after + 1` (earlier ones are skipped), and
    /// are read only until the page is full. For the customer's view, internal events are
    /// skipped and do not count towards `limit`.
    ///
    /// # Errors
    ///
    /// [`LogError::SequenceGap`] when `case` has not reached event `after`, or the events
    /// skip one; [`LogError::ForeignCase`] for another case's event.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{
    ///     event::Channel, timeline::View, Actor, CaseId, Command, Ledger, Opening, Rules, Staff,
    ///     Timeline,
    /// };
    /// use time::macros::datetime;
    ///
    /// let t = datetime!(2026-11-23 09:00 UTC);
    /// let rules = Rules::default();
    /// let ana = Staff::new("ana", "software");
    /// let mut ledger = Ledger::open(&rules, CaseId::new_v7(t, [6; 10]),
    ///     Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), t)?;
    /// ledger.execute(&rules, Command::Transfer { to: Staff::new("bo", "hardware"), note: "fan".into() }, &ana.into(), t)?;
    /// let reply = Command::RecordReply { channel: Channel::Email, message: "still loud".into() };
    /// ledger.execute(&rules, reply, &Actor::customer("cust-7"), t)?;
    ///
    /// // The page after event 2 is built from event 3 alone...
    /// let page = Timeline::page(View::Staff, ledger.case(), 2, 10, &ledger.events()[2..])?;
    /// // ...and reads as in the whole timeline: the reply concerns hardware, the owner then.
    /// assert_eq!(page.entries(), &ledger.timeline().entries()[2..]);
    /// assert_eq!(page.entries()[0].concerns, Some("hardware".into()));
    /// # Ok::<(), caseledger::Error>(())
    /// ```
    pub fn page<'a>(
        view: View,
        case: &'a Case,
        after: u64,
        limit: usize,
        events: impl IntoIterator<Item = &'a Event>,
    ) -> Result<Self, LogError> {
        if after > case.version() {
            return Err(LogError::SequenceGap {
                expected: case.version().saturating_add(1),
                found: after.saturating_add(1),
            });
        }
        let owner_department = case.owner_at(after).map(|owner| &owner.department);
        let mut context = Context { case: Some(case), owner_department, work_departments: BTreeMap::new() };
        let mut entries = Vec::with_capacity(limit.min(64));
        let mut expected = after.saturating_add(1);
        for event in events {
            if entries.len() >= limit {
                break;
            }
            if event.seq < expected {
                continue;
            }
            if event.case != case.id() {
                return Err(LogError::ForeignCase { seq: event.seq, expected: case.id(), found: event.case });
            }
            if event.seq != expected {
                return Err(LogError::SequenceGap { expected, found: event.seq });
            }
            expected = expected.saturating_add(1);
            entries.extend(context.entry(view, event));
        }
        Ok(Self { view, entries })
    }

    /// Who this timeline is for.
    #[must_use]
    pub fn view(&self) -> View {
        self.view
    }

    /// The entries, in log order.
    #[must_use]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// A filter: only the entries `department` did or is concerned by. It leaves out
    /// what explains most of a department's work (another department's notes, the
    /// customer's reply to the previous owner), so it is not what a department reads;
    /// that is [`Timeline::department_view`].
    pub fn involving<'a>(&'a self, department: &'a Department) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| e.involves(department))
    }

    /// What `department` reads: the whole timeline, every entry once, with the entries
    /// that department did or is concerned by marked (S3, I4). Its text form puts `*`
    /// before marked entries.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{event::Visibility, Actor, Command, Ledger, Opening, Rules, Staff};
    /// use time::macros::datetime;
    ///
    /// let t = datetime!(2026-11-23 09:00 UTC);
    /// let rules = Rules::default();
    /// let ana = Staff::new("ana", "software");
    /// let mut ledger = Ledger::open(&rules, caseledger::CaseId::new_v7(t, [6; 10]),
    ///     Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), t)?;
    /// let note = Command::AddNote { text: "fan noise since Monday".into(), visibility: Visibility::Internal };
    /// ledger.execute(&rules, note, &ana.clone().into(), t)?;
    /// ledger.execute(&rules, Command::Transfer { to: Staff::new("bo", "hardware"), note: "fan".into() }, &ana.into(), t)?;
    ///
    /// let timeline = ledger.timeline();
    /// let hardware = "hardware".into();
    /// let view = timeline.department_view(&hardware);
    /// assert_eq!(view.entries().count(), 3, "hardware reads software's note too");
    /// assert_eq!(view.marked().map(|e| e.seq).collect::<Vec<_>>(), [3], "the handoff to hardware");
    /// assert!(view.to_string().contains("fan noise since Monday"));
    /// # Ok::<(), caseledger::Error>(())
    /// ```
    #[must_use]
    pub fn department_view<'a>(&'a self, department: &'a Department) -> DepartmentView<'a> {
        DepartmentView { timeline: self, department }
    }

    /// The timeline as a JSON document: `{"view": "staff", "entries": [...]}`.
    ///
    /// # Errors
    ///
    /// Passes on `serde_json`'s error; these plain data types do not fail in practice.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// A Mermaid sequence diagram: one lane for the customer, one per department in order
    /// of appearance, one for the system; handoffs and contacts as arrows, everything
    /// else as notes over the lane of who did it.
    #[must_use]
    pub fn to_mermaid(&self) -> String {
        let mut lanes: Vec<String> = vec!["Customer".to_owned()];
        let lane_of = |actor: &Actor| match actor {
            Actor::Customer(_) => "Customer".to_owned(),
            Actor::Staff(s) => s.department.to_string(),
            Actor::System => "System".to_owned(),
        };
        for e in &self.entries {
            for lane in std::iter::once(lane_of(&e.by)).chain(e.concerns.iter().map(ToString::to_string)) {
                if !lanes.contains(&lane) {
                    lanes.push(lane);
                }
            }
        }
        let index = |lane: &str| lanes.iter().position(|l| l == lane).unwrap_or(0);
        let mut out = String::from("sequenceDiagram\n");
        for (i, lane) in lanes.iter().enumerate() {
            let _ = writeln!(out, "    participant L{i} as {}", mermaid_text(lane));
        }
        for e in &self.entries {
            let from = index(&lane_of(&e.by));
            let text = mermaid_text(&format!("{}. {}", e.seq, e.sentence));
            let target = match e.kind.as_str() {
                "customer_contacted" => Some(0),
                "opened" => None,
                "transferred" | "escalated" => e.concerns.as_ref().map(|d| index(d.as_str())),
                _ if e.by.is_customer() => e.concerns.as_ref().map(|d| index(d.as_str())),
                _ => None,
            };
            match target {
                Some(to) if to != from => {
                    let _ = writeln!(out, "    L{from}->>L{to}: {text}");
                }
                _ => {
                    let _ = writeln!(out, "    Note over L{from}: {text}");
                }
            }
        }
        out
    }
}

/// A department's view of a timeline: every entry, the department's own marked (see
/// [`Timeline::department_view`]).
#[derive(Clone, Copy, Debug)]
pub struct DepartmentView<'a> {
    timeline: &'a Timeline,
    department: &'a Department,
}

impl<'a> DepartmentView<'a> {
    /// The department reading.
    #[must_use]
    pub fn department(&self) -> &'a Department {
        self.department
    }

    /// Every entry of the timeline, in order, with whether it is marked (the department
    /// did it or is concerned by it).
    pub fn entries(&self) -> impl Iterator<Item = (&'a Entry, bool)> + 'a {
        let department = self.department;
        self.timeline.entries.iter().map(move |e| (e, e.involves(department)))
    }

    /// The marked entries only.
    pub fn marked(&self) -> impl Iterator<Item = &'a Entry> + 'a {
        self.timeline.involving(self.department)
    }
}

impl fmt::Display for DepartmentView<'_> {
    /// Like the timeline's text, with `*` before the department's own entries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (e, marked) in self.entries() {
            let mark = if marked { '*' } else { ' ' };
            writeln!(f, "{mark} #{:<3} {}  {}", e.seq, short_time(e.at), one_line(&e.sentence))?;
        }
        Ok(())
    }
}

/// What an entry needs beyond its own event: the departments of work items opened
/// earlier and the owner's department when the customer speaks. Built up while reading
/// the log; a page starts it from the case ([`Timeline::page`]).
struct Context<'a> {
    case: Option<&'a Case>,
    owner_department: Option<&'a Department>,
    work_departments: BTreeMap<&'a WorkItemId, &'a Department>,
}

impl<'a> Context<'a> {
    /// The entry of `event` for `view`, if the view shows it; keeps the context current.
    fn entry(&mut self, view: View, event: &'a Event) -> Option<Entry> {
        let concerns = match &event.what {
            EventKind::Opened { owner: to, .. }
            | EventKind::Transferred { to, .. }
            | EventKind::Escalated { to, .. } => {
                self.owner_department = Some(&to.department);
                Some(to.department.clone())
            }
            EventKind::WorkOpened { item, department, .. } => {
                self.work_departments.insert(item, department);
                Some(department.clone())
            }
            EventKind::WorkCompleted { item, .. } | EventKind::WorkDropped { item, .. } => self
                .work_departments
                .get(item)
                .copied()
                .or_else(|| self.case.and_then(|case| case.work_item(item)).map(|work| &work.department))
                .cloned(),
            // What the customer says is addressed to whoever owns the case.
            _ if event.by.is_customer() => self.owner_department.cloned(),
            _ => None,
        };
        let visibility = event.what.visibility();
        if view == View::Customer && visibility == Visibility::Internal {
            return None;
        }
        let sentence = match view {
            View::Staff => staff_sentence(&event.by, &event.what),
            View::Customer => customer_sentence(&event.by, &event.what),
        };
        Some(Entry {
            seq: event.seq,
            at: event.at,
            by: event.by.clone(),
            department: event.by.department().cloned(),
            concerns,
            kind: event.what.tag().to_owned(),
            visibility,
            sentence,
            given_at: event.given_at.filter(|_| view == View::Staff),
        })
    }
}

impl fmt::Display for Timeline {
    /// One line per entry: `#3   2026-11-23 09:40  bo (hardware) opened work …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            write!(f, "#{:<3} {}  {}", e.seq, short_time(e.at), one_line(&e.sentence))?;
            match e.clock_adjustment() {
                Some(by) => writeln!(f, " (clock adjusted by {:.1} s)", by.as_seconds_f64())?,
                None => writeln!(f)?,
            }
        }
        Ok(())
    }
}

/// Notes and messages may hold line breaks; escaping them keeps one entry on one line, so
/// no text can pass itself off as another entry.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Mermaid treats `;`, `#` and line breaks specially; long texts make unreadable arrows.
fn mermaid_text(text: &str) -> String {
    let mut clean: String = text
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            ';' => ',',
            '#' => ' ',
            '<' | '>' | '{' | '}' | '"' | '`' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    if clean.chars().count() > 80 {
        clean = clean.chars().take(79).collect();
        clean.push('…');
    }
    clean
}

fn staff_sentence(by: &Actor, what: &EventKind) -> String {
    match what {
        EventKind::Opened { customer, outcome, owner } => {
            format!("case opened by {by} for customer {customer}, who wants \"{outcome}\"; owner {owner}")
        }
        EventKind::Transferred { to, note } => format!("{by} handed the case to {to}: \"{note}\""),
        EventKind::Escalated { to, reason, level } => {
            format!("{by} escalated the case to {to} (level {level}): \"{reason}\"")
        }
        EventKind::WorkOpened { item, department, title } => {
            format!("{by} opened work {item} for {department}: \"{title}\"")
        }
        EventKind::WorkCompleted { item, note } => format!("{by} completed work {item}: \"{note}\""),
        EventKind::WorkDropped { item, reason } => format!("{by} dropped work {item}: \"{reason}\""),
        EventKind::FactRecorded { name, value, visibility } => {
            format!("{by} recorded {} fact {name} = \"{value}\"", audience(*visibility))
        }
        EventKind::ReachabilityRecorded { channel, reachable: true, .. } => {
            format!("{by} recorded that the customer can be reached by {channel}")
        }
        EventKind::ReachabilityRecorded { channel, reachable: false, note } => {
            format!("{by} recorded that the customer cannot be reached by {channel}: \"{note}\"")
        }
        EventKind::NoteAdded { text, visibility } => format!("{by} wrote {} note: \"{text}\"", audience(*visibility)),
        EventKind::CustomerContacted { channel, message } => {
            format!("{by} contacted the customer by {channel}: \"{message}\"")
        }
        EventKind::CustomerReplied { channel, message } => reply_sentence(by, *channel, message),
        EventKind::OutcomeConfirmed { statement, voice } => {
            format!("{} the outcome is met: \"{statement}\"", said(by, *voice, "the customer", "confirmed"))
        }
        EventKind::OutcomeDisputed { statement, voice } => {
            format!("{} the outcome is not met: \"{statement}\"", said(by, *voice, "the customer", "said"))
        }
        EventKind::ConversationHeld { channel, summary } => {
            format!("{by} spoke with the customer by {}: \"{summary}\"", live(*channel))
        }
        EventKind::Resolved { summary } => format!("{by} resolved the case: \"{summary}\""),
        EventKind::ClosedUnresolved { ending, evidence } => {
            format!("{by} closed the case unresolved ({ending}): \"{evidence}\"")
        }
        EventKind::Reopened { reason } => format!("{by} reopened the case: \"{reason}\""),
        EventKind::IncidentLinked { incident } => format!("{by} linked the case to incident {incident}"),
        EventKind::ConfirmationRequested { reason } => {
            format!("{by} asked for the customer's confirmation: \"{reason}\"")
        }
        EventKind::PolicyOverridden { policy, reason, refusal } => {
            format!("{by} overrode policy {policy} (which said: \"{refusal}\") for the next entry: \"{reason}\"")
        }
    }
}

/// Customer-visible kinds only; handoff notes and escalation reasons are internal.
fn customer_sentence(by: &Actor, what: &EventKind) -> String {
    let with = |s: &Staff| format!("the {} team", s.department);
    match what {
        EventKind::Opened { outcome, .. } => format!("Your case was opened: \"{outcome}\""),
        EventKind::Transferred { to, .. } => format!("Your case is now with {}", with(to)),
        EventKind::Escalated { to, .. } => format!("Your case was escalated to {}", with(to)),
        EventKind::FactRecorded { name, value, .. } => format!("Recorded {name}: \"{value}\""),
        EventKind::ReachabilityRecorded { channel, reachable, .. } => {
            let can = if *reachable { "can" } else { "cannot" };
            format!("Noted that you {can} be reached by {channel}")
        }
        EventKind::NoteAdded { text, .. } => format!("Note: \"{text}\""),
        EventKind::CustomerContacted { channel, message } => format!("We wrote to you by {channel}: \"{message}\""),
        EventKind::CustomerReplied { channel, message } => format!("You wrote by {channel}: \"{message}\""),
        EventKind::OutcomeConfirmed { statement, voice } => {
            format!("{} it is solved: \"{statement}\"", you(by, *voice, "confirmed"))
        }
        EventKind::OutcomeDisputed { statement, voice } => {
            format!("{} it is not solved: \"{statement}\"", you(by, *voice, "told us"))
        }
        EventKind::ConversationHeld { channel, summary } => {
            format!("You spoke with us by {}: \"{summary}\"", live(*channel))
        }
        EventKind::Resolved { summary } => format!("Your case was resolved: \"{summary}\""),
        EventKind::ClosedUnresolved { ending, .. } => {
            format!("Your case was closed without a confirmed solution ({ending})")
        }
        EventKind::Reopened { reason } => format!("Your case was reopened: \"{reason}\""),
        EventKind::IncidentLinked { incident } => format!("Your case is linked to the known incident {incident}"),
        // Internal kinds never reach this function; keep a neutral sentence regardless.
        other => format!("Update on your case ({})", other.tag()),
    }
}

fn audience(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Internal => "an internal",
        Visibility::Customer => "a customer-visible",
    }
}

/// Who said it, in whose voice: "the customer confirmed", "ana (software) reported that
/// the customer confirmed by phone", and for a log from before evidence was recorded,
/// "ana (software) reported, without saying how the customer said it, that the customer
/// confirmed" (I2: a staff report never reads as the customer's own).
fn said(by: &Actor, voice: Voice, customer: &str, verb: &str) -> String {
    match voice {
        Voice::Own => format!("{customer} {verb}"),
        Voice::Reported { channel } => format!("{by} reported that {customer} {verb} by {}", live(channel)),
        // `Voice` may grow; anything else reads as the least it can claim.
        _ => format!("{by} reported, without saying how {customer} said it, that {customer} {verb}"),
    }
}

fn live(channel: crate::event::Channel) -> String {
    match channel {
        crate::event::Channel::InPerson => "in person".to_owned(),
        other => other.to_string(),
    }
}

/// [`said`] for the customer's own view: "You confirmed", "ana (software) reported that you
/// confirmed by phone".
fn you(by: &Actor, voice: Voice, verb: &str) -> String {
    match voice {
        Voice::Own => format!("You {verb}"),
        other => said(by, other, "you", verb),
    }
}

fn reply_sentence(by: &Actor, channel: crate::event::Channel, message: &str) -> String {
    match by {
        Actor::Customer(_) => format!("the customer wrote by {channel}: \"{message}\""),
        other => format!("{other} recorded the customer's reply by {channel}: \"{message}\""),
    }
}

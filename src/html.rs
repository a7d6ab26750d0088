//! HTML for people: the timeline and the handoff brief as markup a browser shows.
//!
//! This module owns every byte of HTML the crate writes. Three shapes:
//!
//! - [`Timeline::to_html`] and [`HandoffBrief::to_html`]: bare markup with `cl-` classes
//!   and no style, for a CRM that styles them itself;
//! - [`fragment`]: markup wrapped in `<div class="caseledger">` with a `<style>` whose
//!   every rule is scoped under `.caseledger`, to drop into any page as it is;
//! - [`page`]: a complete document (UTF-8, a Content-Security-Policy that allows no
//!   script, the stylesheet in the head).
//!
//! Every piece of text that came from a person or a host (notes, messages, names, ids,
//! departments, facts) goes through [`escape`], in text and in attribute position alike,
//! and nothing here writes a `<script>`, an event handler attribute or a link built from
//! such text. Meaning never rests on colour alone: status, kind and audience are words
//! (`Handoff`, `Contact`, `Internal`), and colour only repeats them.
//!
//! # Classes
//!
//! | class | on |
//! |---|---|
//! | `cl-timeline` | the timeline's `<section>`; `data-view` is `staff` or `customer` |
//! | `cl-entry` | one `<li>` per entry, with `id="cl-e-<seq>"`, `data-seq` and `data-kind` |
//! | `cl-handoff`, `cl-contact`, `cl-internal`, `cl-closing` | entries that are handoffs or escalations, contacts or replies, staff-only, or endings |
//! | `cl-label`, `cl-seq`, `cl-when`, `cl-who`, `cl-dept`, `cl-to`, `cl-audience` | the entry's header parts |
//! | `cl-text` | the entry's sentence (keeps line breaks, wraps long words) |
//! | `cl-brief` | the brief's `<section>`; `cl-status`, `cl-outcome`, `cl-facts`, `cl-work` inside |

use std::fmt::{self, Write as _};

use crate::actor::Actor;
use crate::brief::HandoffBrief;
use crate::case::WorkItem;
use crate::event::Visibility;
use crate::span::short_time;
use crate::status::{OutcomeState, Status, WorkState};
use crate::timeline::{Entry, Timeline, View};

/// Markup the crate wrote, with every text inside escaped.
///
/// A distinct type so that markup and text cannot be mixed up: the functions that put
/// pieces together ([`fragment`], [`page`]) take `Html`, never a `&str`.
///
/// # Example
///
/// ```
/// use caseledger::html::{self, Html};
///
/// let greeting = Html::trusted(format!("<p>Hello {}</p>", html::escape("<Dana & Sam>")));
/// assert_eq!(greeting.as_str(), "<p>Hello &lt;Dana &amp; Sam&gt;</p>");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Html(String);

impl Html {
    /// Wraps markup the caller vouches for: every piece of text in it must already have
    /// gone through [`escape`]. For a host's own parts of a page (forms, a header).
    #[must_use]
    pub fn trusted(markup: impl Into<String>) -> Self {
        Self(markup.into())
    }

    /// The markup.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Gives up the markup.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Html {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Html {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// `text` made safe to place between tags or inside a double- or single-quoted
/// attribute value.
///
/// `&`, `<`, `>`, `"` and `'` become character references. Control characters other
/// than tab, line feed and carriage return become U+FFFD: HTML has no valid way to
/// write them, and a browser would otherwise drop or reinterpret them. Everything else,
/// including any Unicode text, passes unchanged.
///
/// It does not make text safe inside `<script>` or `<style>`, in an unquoted attribute,
/// or as a URL; nothing in this crate puts text there.
///
/// # Example
///
/// ```
/// use caseledger::html::escape;
///
/// assert_eq!(escape(r#""><img src=x onerror=alert(1)>"#), "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
/// assert_eq!(escape("Grüße, 日本 & co"), "Grüße, 日本 &amp; co");
/// ```
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    escape_into(&mut out, text);
    out
}

/// [`escape`], appending to `out`.
pub fn escape_into(out: &mut String, text: &str) {
    let mut rest = text;
    // Copy runs of harmless characters in one go; most text has few to replace.
    while let Some(at) = rest.find(needs_escape) {
        let (plain, tail) = rest.split_at(at);
        out.push_str(plain);
        let mut chars = tail.chars();
        if let Some(c) = chars.next() {
            out.push_str(match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => "\u{FFFD}",
            });
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
}

fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'') || (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// The stylesheet of [`fragment`] and [`page`]. Every rule is scoped under
/// `.caseledger`, so it styles nothing else on a host's page.
pub const STYLE: &str = "\
.caseledger{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24;max-width:60rem}
.caseledger h2{font-size:1.2rem;margin:1.2rem 0 .5rem}
.caseledger h3{font-size:1rem;margin:1rem 0 .3rem}
.caseledger .cl-entries{list-style:none;margin:0;padding:0}
.caseledger .cl-entry{border:1px solid #c9ced6;border-left:4px solid #8a94a3;border-radius:4px;margin:.45rem 0;padding:.4rem .7rem;background:#fff}
.caseledger .cl-entry.cl-handoff{border-left:8px double #4a5a8c;background:#f3f5fb}
.caseledger .cl-entry.cl-contact{border-left:8px solid #2f7d4f;background:#f2f9f4}
.caseledger .cl-entry.cl-internal{border-style:dashed;border-left-style:solid;background:#fbfaf3}
.caseledger .cl-entry.cl-closing{border-left:8px solid #1b1f24}
.caseledger .cl-head{display:flex;flex-wrap:wrap;gap:.2rem .6rem;align-items:baseline;font-size:.9rem;color:#3b4350}
.caseledger .cl-label{font-weight:700;text-transform:uppercase;letter-spacing:.04em;font-size:.8rem;color:#1b1f24}
.caseledger .cl-label::before{content:'['}
.caseledger .cl-label::after{content:']'}
.caseledger .cl-who{font-weight:600;color:#1b1f24}
.caseledger .cl-audience{font-style:italic}
.caseledger .cl-text{margin:.25rem 0 0;white-space:pre-wrap;overflow-wrap:anywhere;max-height:18rem;overflow:auto}
.caseledger .cl-brief dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
.caseledger .cl-brief dt{font-weight:600}
.caseledger .cl-brief dd{margin:0;white-space:pre-wrap;overflow-wrap:anywhere;max-height:12rem;overflow:auto}
.caseledger .cl-status{font-size:1.05rem}
.caseledger table{border-collapse:collapse;width:100%}
.caseledger th,.caseledger td{border:1px solid #c9ced6;padding:.25rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
.caseledger .cl-empty{color:#5b6472;font-style:italic}
";

/// A self-contained fragment: `parts` inside `<div class="caseledger">` with a scoped
/// `<style>` of its own, ready to drop into any page.
#[must_use]
pub fn fragment<'a>(parts: impl IntoIterator<Item = &'a Html>) -> Html {
    let mut out = String::from("<div class=\"caseledger\"><style>");
    out.push_str(STYLE);
    out.push_str("</style>\n");
    for part in parts {
        out.push_str(part.as_str());
    }
    out.push_str("</div>\n");
    Html(out)
}

/// A complete HTML document titled `title` (escaped here) showing `parts` in order.
///
/// The document declares UTF-8, sends no referrer to other sites (a page address may
/// hold a secret), and carries a Content-Security-Policy
/// that allows no script and no loads from elsewhere, so even markup a host got wrong
/// cannot run code. Forms may post to the page's own origin.
///
/// # Example
///
/// ```
/// use caseledger::{
///     event::Visibility, html, Actor, CaseId, Command, Ledger, Opening, Rules, Staff,
/// };
/// use time::macros::datetime;
///
/// let t = datetime!(2026-11-23 09:00 UTC);
/// let rules = Rules::default();
/// let ana = Staff::new("ana", "software");
/// let mut ledger = Ledger::open(&rules, CaseId::new_v7(t, [3; 10]),
///     Opening::new("cust-7", "my laptop <works>", ana.clone()), &Actor::customer("cust-7"), t)?;
/// let note = Command::AddNote { text: "<script>alert(1)</script>".into(), visibility: Visibility::Internal };
/// ledger.execute(&rules, note, &ana.into(), t)?;
///
/// let page = html::page("Case", [&ledger.case().brief().to_html(), &ledger.timeline().to_html()]);
/// assert!(page.as_str().starts_with("<!DOCTYPE html>"));
/// assert!(page.as_str().contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
/// assert!(!page.as_str().contains("<script"));
/// # Ok::<(), caseledger::Error>(())
/// ```
#[must_use]
pub fn page<'a>(title: &str, parts: impl IntoIterator<Item = &'a Html>) -> Html {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; \
         img-src 'self' data:; form-action 'self'; base-uri 'none'\">\n\
         <meta name=\"referrer\" content=\"same-origin\">\n<title>",
    );
    escape_into(&mut out, title);
    out.push_str("</title>\n<style>\nbody{margin:1rem 1.5rem;background:#f6f7f9}\n");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<main class=\"caseledger\">\n");
    for part in parts {
        out.push_str(part.as_str());
    }
    out.push_str("</main>\n</body>\n</html>\n");
    Html(out)
}

impl Timeline {
    /// The timeline as markup: a `<section class="cl-timeline">` holding an ordered list
    /// with one `<li class="cl-entry">` per entry, each saying in words what kind of
    /// entry it is, its number, when (UTC), who and their department, and its sentence.
    ///
    /// The staff view marks internal entries `Internal`. The customer view holds only
    /// what [`Timeline::customer`] keeps, and names staff by their department
    /// (`software team`), never by their login. Wrap it with [`fragment`] or [`page`]
    /// for the built-in style.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{event::Visibility, Actor, CaseId, Command, Ledger, Opening, Rules, Staff};
    /// use time::macros::datetime;
    ///
    /// let t = datetime!(2026-11-23 09:00 UTC);
    /// let rules = Rules::default();
    /// let ana = Staff::new("ana", "software");
    /// let mut ledger = Ledger::open(&rules, CaseId::new_v7(t, [4; 10]),
    ///     Opening::new("cust-7", "my laptop works", ana.clone()), &Actor::customer("cust-7"), t)?;
    /// let note = Command::AddNote { text: "customer sounds angry".into(), visibility: Visibility::Internal };
    /// ledger.execute(&rules, note, &ana.into(), t)?;
    ///
    /// let staff = ledger.timeline().to_html();
    /// let customer = ledger.customer_timeline().to_html();
    /// assert_eq!(staff.as_str().matches("<li class=\"cl-entry").count(), 2);
    /// assert!(staff.as_str().contains("customer sounds angry"));
    /// assert!(!customer.as_str().contains("angry"));
    /// # Ok::<(), caseledger::Error>(())
    /// ```
    #[must_use]
    pub fn to_html(&self) -> Html {
        let view = self.view();
        let mut out = String::with_capacity(256 + self.entries().len() * 320);
        let (view_name, heading) = match view {
            View::Staff => ("staff", "Timeline <small>(staff view: every department, internal entries marked)</small>"),
            View::Customer => ("customer", "Your case so far"),
        };
        let _ = write!(out, "<section class=\"cl-timeline\" data-view=\"{view_name}\">\n<h2>{heading}</h2>\n");
        if self.entries().is_empty() {
            out.push_str("<p class=\"cl-empty\">Nothing recorded yet.</p>\n");
        } else {
            out.push_str("<ol class=\"cl-entries\">\n");
            for entry in self.entries() {
                entry_html(&mut out, entry, view);
            }
            out.push_str("</ol>\n");
        }
        out.push_str("</section>\n");
        Html(out)
    }
}

/// How an entry's kind is named and grouped on the page.
fn kind_label(kind: &str, view: View) -> (&str, Option<&'static str>) {
    match (view, kind) {
        (View::Customer, "customer_contacted") => return ("Message from us", Some("cl-contact")),
        (View::Customer, "customer_replied") => return ("You wrote", Some("cl-contact")),
        (View::Customer, "outcome_confirmed") => return ("You confirmed", Some("cl-contact")),
        (View::Customer, "outcome_disputed") => return ("You said not solved", Some("cl-contact")),
        _ => {}
    }
    match kind {
        "opened" => ("Opened", None),
        "transferred" => ("Handoff", Some("cl-handoff")),
        "escalated" => ("Escalation", Some("cl-handoff")),
        "work_opened" => ("Work opened", None),
        "work_completed" => ("Work completed", None),
        "work_dropped" => ("Work dropped", None),
        "fact_recorded" => ("Fact", None),
        "reachability_recorded" => ("Reachability", None),
        "note_added" => ("Note", None),
        "customer_contacted" => ("Contact", Some("cl-contact")),
        "customer_replied" => ("Customer wrote", Some("cl-contact")),
        "conversation_held" => ("Conversation", Some("cl-contact")),
        "outcome_confirmed" => ("Outcome confirmed", Some("cl-contact")),
        "outcome_disputed" => ("Outcome disputed", Some("cl-contact")),
        "resolved" => ("Resolved", Some("cl-closing")),
        "closed_unresolved" => ("Closed unresolved", Some("cl-closing")),
        "reopened" => ("Reopened", None),
        "incident_linked" => ("Incident", None),
        "confirmation_requested" => ("Confirmation requested", None),
        // A kind added later still shows, under its own tag.
        other => (other, None),
    }
}

fn entry_html(out: &mut String, e: &Entry, view: View) {
    let (label, group) = kind_label(&e.kind, view);
    out.push_str("<li class=\"cl-entry");
    if let Some(group) = group {
        out.push(' ');
        out.push_str(group);
    }
    if e.visibility == Visibility::Internal {
        out.push_str(" cl-internal");
    }
    let _ = write!(out, "\" id=\"cl-e-{}\" data-seq=\"{}\" data-kind=\"", e.seq, e.seq);
    escape_into(out, &e.kind);
    out.push_str("\">\n<div class=\"cl-head\"><span class=\"cl-label\">");
    escape_into(out, label);
    let _ = write!(out, "</span> <span class=\"cl-seq\">#{}</span> <time class=\"cl-when\" datetime=\"", e.seq);
    let rfc3339 = e.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    escape_into(out, &rfc3339);
    out.push_str("\">");
    escape_into(out, &short_time(e.at));
    out.push_str(" UTC</time> ");
    match (view, &e.by) {
        (View::Staff, Actor::Staff(s)) => {
            out.push_str("<span class=\"cl-who\">");
            escape_into(out, s.id.as_str());
            out.push_str("</span> <span class=\"cl-dept\">(");
            escape_into(out, s.department.as_str());
            out.push_str(")</span>");
        }
        (View::Customer, Actor::Staff(s)) => {
            out.push_str("<span class=\"cl-who\">");
            escape_into(out, s.department.as_str());
            out.push_str(" team</span>");
        }
        (View::Staff, Actor::Customer(_)) => out.push_str("<span class=\"cl-who\">the customer</span>"),
        (View::Customer, Actor::Customer(_)) => out.push_str("<span class=\"cl-who\">you</span>"),
        (_, other) => {
            out.push_str("<span class=\"cl-who\">");
            escape_into(out, &other.to_string());
            out.push_str("</span>");
        }
    }
    if matches!(e.kind.as_str(), "opened" | "transferred" | "escalated" | "work_opened") {
        if let Some(to) = &e.concerns {
            out.push_str(" <span class=\"cl-to\">→ ");
            escape_into(out, to.as_str());
            out.push_str("</span>");
        }
    }
    if view == View::Staff {
        out.push_str(match e.visibility {
            Visibility::Internal => " <span class=\"cl-audience\">Internal: staff only</span>",
            Visibility::Customer => " <span class=\"cl-audience\">The customer sees this</span>",
        });
    }
    out.push_str("</div>\n<p class=\"cl-text\">");
    escape_into(out, &e.sentence);
    out.push_str("</p>\n</li>\n");
}

impl HandoffBrief {
    /// The brief as markup, for staff (it holds internal facts and the handoff note):
    /// status and outcome in words first, then owners, counters, the last handoff note,
    /// facts, channels the customer cannot use, incidents, what was tried and open work.
    ///
    /// # Example
    ///
    /// ```
    /// use caseledger::{Actor, CaseId, Ledger, Opening, Rules, Staff};
    /// use time::macros::datetime;
    ///
    /// let t = datetime!(2026-11-23 09:00 UTC);
    /// let ledger = Ledger::open(&Rules::default(), CaseId::new_v7(t, [5; 10]),
    ///     Opening::new("cust-7", "my laptop works", Staff::new("ana", "software")), &Actor::customer("cust-7"), t)?;
    /// let html = ledger.case().brief().to_html();
    /// assert!(html.as_str().contains("<strong>Open</strong>"));
    /// assert!(html.as_str().contains("not yet confirmed"));
    /// # Ok::<(), caseledger::Error>(())
    /// ```
    #[must_use]
    pub fn to_html(&self) -> Html {
        let mut out = String::with_capacity(1024);
        out.push_str("<section class=\"cl-brief\">\n<h2>Handoff brief</h2>\n<p class=\"cl-status\">Status: <strong>");
        escape_into(&mut out, &status_words(&self.status));
        out.push_str("</strong>. Customer's outcome: <strong>");
        out.push_str(match self.outcome_state {
            OutcomeState::Unmet => "not yet confirmed",
            OutcomeState::Confirmed => "confirmed by the customer",
            OutcomeState::Disputed => "disputed by the customer",
        });
        out.push_str("</strong>.</p>\n<dl>\n");
        dt_dd(&mut out, "Customer", self.customer.as_str());
        out.push_str("<dt>Wants</dt><dd class=\"cl-outcome\">“");
        escape_into(&mut out, &self.outcome);
        out.push_str("”</dd>\n");
        dt_dd(&mut out, "Owner", &self.owner.to_string());
        if !self.previous_owners.is_empty() {
            let names: Vec<String> = self.previous_owners.iter().map(ToString::to_string).collect();
            dt_dd(&mut out, "Previously with", &names.join(", "));
        }
        dt_dd(
            &mut out,
            "Handoffs",
            &format!(
                "{}, of which bounces: {}; escalation level {}",
                self.handoffs, self.bounces, self.escalation_level
            ),
        );
        if let Some(note) = &self.last_handoff_note {
            dt_dd(&mut out, "Last handoff note", note);
        }
        for (channel, note) in &self.unreachable {
            dt_dd(&mut out, &format!("Cannot reach by {channel}"), note);
        }
        for incident in &self.incidents {
            dt_dd(&mut out, "Linked incident", incident.as_str());
        }
        out.push_str("</dl>\n");
        if !self.facts.is_empty() {
            out.push_str("<h3>Facts</h3>\n<table class=\"cl-facts\"><thead><tr><th>Fact</th><th>Value</th><th>Who may read it</th></tr></thead><tbody>\n");
            for (name, fact) in &self.facts {
                out.push_str("<tr><td>");
                escape_into(&mut out, name);
                out.push_str("</td><td>");
                escape_into(&mut out, &fact.value);
                out.push_str("</td><td>");
                out.push_str(match fact.visibility {
                    Visibility::Internal => "staff only",
                    Visibility::Customer => "staff and customer",
                });
                out.push_str("</td></tr>\n");
            }
            out.push_str("</tbody></table>\n");
        }
        work_table(&mut out, "Open work", &self.open_work);
        work_table(&mut out, "Tried", &self.tried);
        out.push_str("</section>\n");
        Html(out)
    }
}

fn status_words(status: &Status) -> String {
    match status {
        Status::Open => "Open".to_owned(),
        Status::Resolved => "Resolved".to_owned(),
        Status::ClosedUnresolved { ending } => format!("Closed unresolved ({ending})"),
    }
}

fn dt_dd(out: &mut String, term: &str, value: &str) {
    out.push_str("<dt>");
    escape_into(out, term);
    out.push_str("</dt><dd>");
    escape_into(out, value);
    out.push_str("</dd>\n");
}

fn work_table(out: &mut String, heading: &str, items: &[WorkItem]) {
    if items.is_empty() {
        return;
    }
    let _ = write!(out, "<h3>{heading}</h3>\n<table class=\"cl-work\"><thead><tr><th>Item</th><th>Department</th><th>What</th><th>State</th></tr></thead><tbody>\n");
    for w in items {
        out.push_str("<tr><td>");
        escape_into(out, w.id.as_str());
        out.push_str("</td><td>");
        escape_into(out, w.department.as_str());
        out.push_str("</td><td>");
        escape_into(out, &w.title);
        out.push_str("</td><td>");
        match &w.state {
            WorkState::Open => out.push_str("open"),
            WorkState::Completed { note } => {
                out.push_str("completed: ");
                escape_into(out, note);
            }
            WorkState::Dropped { reason } => {
                out.push_str("dropped: ");
                escape_into(out, reason);
            }
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use proptest::prelude::*;
    use time::macros::datetime;

    use super::*;
    use crate::{event::Channel, CaseId, Command, Ledger, Opening, Rules, Staff};

    /// Undoes exactly what `escape` writes, and fails on anything else that looks like a
    /// character reference: the inverse a browser applies to text.
    fn unescape(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('&') {
            out.push_str(&rest[..at]);
            let tail = &rest[at..];
            let (c, len) = [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>'), ("&quot;", '"'), ("&#39;", '\'')]
                .iter()
                .find(|(entity, _)| tail.starts_with(entity))
                .map(|(entity, c)| (*c, entity.len()))
                .unwrap_or_else(|| panic!("a bare & in {text:?}"));
            out.push(c);
            rest = &tail[len..];
        }
        out.push_str(rest);
        out
    }

    /// What may never appear in escaped text: the characters that end a text run or a
    /// quoted attribute value.
    fn assert_inert(escaped: &str) {
        for c in ['<', '>', '"', '\''] {
            assert!(!escaped.contains(c), "{c:?} survived in {escaped:?}");
        }
        // Every `&` starts one of the references `escape` writes.
        let _ = unescape(escaped);
    }

    const HOSTILE: &[&str] = &[
        "<script>document.title='pwned'</script>",
        "\"><img src=x onerror=\"document.title='pwned'\">",
        "'><svg onload=alert(1)>",
        "<a href=\"javascript:alert(1)\">click me</a>",
        "javascript:alert(document.cookie)",
        "</textarea></li></ol></section><script>alert(1)</script>",
        "<!-- comment --> <![CDATA[ x ]]> <style>body{display:none}</style>",
        "Tom & Jerry's \"quote\" &amp; &lt;already&gt; &#60;",
        "Grüße 日本語 🔥 \u{202E}reversed\u{202C} \u{2028}line",
    ];

    /// Control characters: a log written before the text checks may hold them.
    const CONTROL: &str = "bell\u{7}nul\u{0}esc\u{1b}[31m c1\u{85}\u{9b}";

    #[test]
    fn escape_replaces_the_five_characters_with_references() {
        assert_eq!(escape("&<>\"'"), "&amp;&lt;&gt;&quot;&#39;");
        assert_eq!(escape(""), "");
        assert_eq!(escape("plain text, nothing to do"), "plain text, nothing to do");
        assert_eq!(escape("a&b"), "a&amp;b");
        assert_eq!(escape("&amp;"), "&amp;amp;", "text that looks escaped is escaped again");
        assert_eq!(escape("<<>>"), "&lt;&lt;&gt;&gt;");
    }

    #[test]
    fn escape_keeps_unicode_and_line_breaks() {
        assert_eq!(escape("Grüße 日本語 🔥"), "Grüße 日本語 🔥");
        assert_eq!(escape("line 1\nline 2\r\n\tindented"), "line 1\nline 2\r\n\tindented");
        assert_eq!(escape("é<é"), "é&lt;é", "multi-byte characters around a replacement");
    }

    #[test]
    fn escape_replaces_other_control_characters() {
        assert_eq!(
            escape("a\u{0}b\u{7}c\u{1b}d\u{7f}e\u{85}f\u{9f}"),
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{FFFD}e\u{FFFD}f\u{FFFD}"
        );
    }

    #[test]
    fn hostile_strings_become_inert_text() {
        for &text in HOSTILE.iter().chain([CONTROL].iter()) {
            let escaped = escape(text);
            assert_inert(&escaped);
            assert!(!escaped.contains("<script"), "{escaped}");
            assert!(!escaped.contains("<img"), "{escaped}");
        }
        assert_eq!(escape("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
        // A javascript: link stays words: there is no tag left to carry it.
        assert_eq!(
            escape("<a href=\"javascript:alert(1)\">x</a>"),
            "&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;"
        );
    }

    #[test]
    fn escape_into_appends() {
        let mut out = String::from("<b>");
        escape_into(&mut out, "x<y");
        assert_eq!(out, "<b>x&lt;y");
    }

    proptest! {
        #[test]
        fn escaping_round_trips_and_leaves_no_markup(text in any::<String>()) {
            let escaped = escape(&text);
            for c in ['<', '>', '"', '\''] {
                prop_assert!(!escaped.contains(c));
            }
            prop_assert!(!escaped.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')));
            let expected: String =
                text.chars().map(|c| if needs_escape(c) && !"&<>\"'".contains(c) { '\u{FFFD}' } else { c }).collect();
            prop_assert_eq!(unescape(&escaped), expected);
        }

        #[test]
        fn markup_characters_round_trip(text in "[<>&\"'a-z é日\n]{0,64}") {
            prop_assert_eq!(unescape(&escape(&text)), text);
        }
    }

    fn hostile_ledger() -> Ledger {
        let t = datetime!(2026-11-23 09:00 UTC);
        let rules = Rules::default();
        let ana = Staff::new("ana<b>", "soft\"ware");
        let bo = Staff::new("bo'", "<hardware>");
        let mut ledger = Ledger::open(
            &rules,
            CaseId::new_v7(t, [8; 10]),
            Opening::new("cust<1>", HOSTILE[0], ana.clone()),
            &Actor::customer("cust<1>"),
            t,
        )
        .unwrap();
        let mut run = |cmd: Command, by: Actor| {
            ledger.execute(&rules, cmd, &by, t).unwrap();
        };
        for (i, &text) in HOSTILE.iter().enumerate() {
            run(Command::RecordReply { channel: Channel::Web, message: text.into() }, Actor::customer("cust<1>"));
            run(
                Command::AddNote { text: format!("INTERNAL-NOTE-{i} {text}"), visibility: Visibility::Internal },
                ana.clone().into(),
            );
            run(
                Command::RecordFact {
                    name: format!("fact<{i}>"),
                    value: text.into(),
                    visibility: Visibility::Internal,
                },
                ana.clone().into(),
            );
        }
        run(
            Command::OpenWork { item: "W<1>".into(), department: "<hardware>".into(), title: HOSTILE[1].into() },
            ana.clone().into(),
        );
        run(Command::CompleteWork { item: "W<1>".into(), note: HOSTILE[2].into() }, ana.clone().into());
        run(Command::ContactCustomer { channel: Channel::Email, message: HOSTILE[3].into() }, ana.clone().into());
        run(Command::Transfer { to: bo, note: format!("SECRET-HANDOFF {}", HOSTILE[4]) }, ana.into());
        ledger
    }

    /// Every `<` in `markup` opens one of the tags this module writes.
    fn assert_only_own_tags(markup: &str) {
        const OWN: &[&str] = &[
            "section", "h2", "h3", "small", "p", "ol", "li", "div", "span", "time", "dl", "dt", "dd", "strong",
            "table", "thead", "tbody", "tr", "th", "td",
        ];
        for piece in markup.split('<').skip(1) {
            let name: String = piece.trim_start_matches('/').chars().take_while(char::is_ascii_alphanumeric).collect();
            assert!(OWN.contains(&name.as_str()), "unexpected tag <{name}… in {piece:.60}");
            let tag = &piece[..piece.find('>').expect("closed tag")];
            // Attribute values are in double quotes and hold no `"`, so splitting on `"`
            // alternates between attribute names and values.
            for (i, names) in tag.split('"').step_by(2).enumerate() {
                // The first piece starts with the tag's own name.
                for word in names.split_whitespace().skip(usize::from(i == 0)) {
                    let attribute = word.strip_suffix('=').unwrap_or_else(|| panic!("bare word {word} in <{tag}>"));
                    assert!(
                        ["class", "id", "data-seq", "data-kind", "data-view", "datetime"].contains(&attribute),
                        "unexpected attribute {attribute} in <{tag}>"
                    );
                }
            }
        }
    }

    #[test]
    fn hostile_text_renders_as_text_in_both_views_and_the_brief() {
        let ledger = hostile_ledger();
        let staff = ledger.timeline().to_html();
        let customer = ledger.customer_timeline().to_html();
        let brief = ledger.case().brief().to_html();
        for html in [&staff, &customer, &brief] {
            assert_only_own_tags(html.as_str());
        }
        assert!(staff.as_str().contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));
        assert!(customer
            .as_str()
            .contains("&quot;&gt;&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;"));
        assert!(staff
            .as_str()
            .contains("<span class=\"cl-who\">ana&lt;b&gt;</span> <span class=\"cl-dept\">(soft&quot;ware)</span>"));
        assert!(brief.as_str().contains("<td>fact&lt;8&gt;</td>"));
    }

    #[test]
    fn page_and_fragment_hold_no_script() {
        let ledger = hostile_ledger();
        let parts = [ledger.case().brief().to_html(), ledger.timeline().to_html()];
        let page = page("<script>alert('title')</script>", &parts);
        let fragment = fragment(&parts);
        for html in [page.as_str(), fragment.as_str()] {
            let lower = html.to_lowercase();
            assert!(!lower.contains("<script"), "no script element");
            assert!(!lower.contains("<img") && !lower.contains("<svg") && !lower.contains("<a "));
            // Past the head and the style, only the parts' own tags.
            let body = &html[html.find("</style>").unwrap() + "</style>".len()..];
            let body = body.find("<main class=\"caseledger\">\n").map_or(body, |at| &body[at + 25..]);
            let body = body.replace("</main>", "").replace("</body>", "").replace("</html>", "");
            assert_only_own_tags(&body);
        }
        assert!(page.as_str().contains("<title>&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;</title>"));
        assert!(page.as_str().contains("Content-Security-Policy"));
        assert!(fragment.as_str().starts_with("<div class=\"caseledger\"><style>"));
        // Every style rule is scoped to the wrapper, so the fragment styles nothing else.
        for rule in STYLE.lines().filter(|l| !l.is_empty()) {
            for selector in rule[..rule.find('{').unwrap()].split(',') {
                assert!(selector.starts_with(".caseledger"), "unscoped selector {selector}");
            }
        }
    }

    #[test]
    fn customer_view_never_holds_internal_entries() {
        let ledger = hostile_ledger();
        let customer = ledger.customer_timeline().to_html();
        let html = customer.as_str();
        assert!(!html.contains("INTERNAL-NOTE"), "internal notes are staff only");
        assert!(!html.contains("SECRET-HANDOFF"), "handoff notes are staff only");
        assert!(!html.contains("fact&lt;"), "internal facts are staff only");
        assert!(!html.contains("W&lt;1&gt;"), "work items are staff coordination");
        assert!(!html.contains("cl-internal") && !html.contains("Internal"));
        assert!(!html.contains("ana&lt;b&gt;"), "the customer sees departments, not staff logins");
        assert!(html.contains("<span class=\"cl-who\">soft&quot;ware team</span>"));
        assert!(html.contains("Your case is now with the &lt;hardware&gt; team"));
        assert!(html.contains("<span class=\"cl-label\">Handoff</span>"));
        // The staff view has all of them.
        let staff = ledger.timeline().to_html();
        assert!(staff.as_str().contains("INTERNAL-NOTE-8"));
        assert!(staff.as_str().contains("SECRET-HANDOFF"));
    }

    #[test]
    fn one_entry_per_event_with_who_when_and_kind_in_words() {
        let ledger = hostile_ledger();
        let staff = ledger.timeline().to_html();
        let html = staff.as_str();
        assert_eq!(html.matches("<li class=\"cl-entry").count(), ledger.events().len());
        for event in ledger.events() {
            assert_eq!(html.matches(&format!("id=\"cl-e-{}\"", event.seq)).count(), 1);
        }
        assert!(html.contains("<time class=\"cl-when\" datetime=\"2026-11-23T09:00:00Z\">2026-11-23 09:00 UTC</time>"));
        assert!(html.contains("<li class=\"cl-entry cl-handoff\""), "handoffs are marked");
        assert!(html.contains("<span class=\"cl-label\">Handoff</span>"), "and named in words");
        assert!(html.contains("<span class=\"cl-to\">→ &lt;hardware&gt;</span>"));
        assert!(html.contains("<li class=\"cl-entry cl-contact\""), "contacts are marked");
        assert!(html.contains("<span class=\"cl-label\">Contact</span>"));
        assert!(html.contains("<span class=\"cl-label\">Customer wrote</span>"));
        assert!(html.contains("<span class=\"cl-audience\">Internal: staff only</span>"));
        let customer = ledger.customer_timeline();
        assert_eq!(customer.to_html().as_str().matches("<li class=\"cl-entry").count(), customer.entries().len());
    }

    #[test]
    fn brief_says_status_and_outcome_in_words() {
        let ledger = hostile_ledger();
        let brief = ledger.case().brief().to_html();
        let html = brief.as_str();
        assert!(html.contains("Status: <strong>Open</strong>"));
        assert!(html.contains("outcome: <strong>not yet confirmed</strong>"));
        assert!(html.contains("<dt>Owner</dt><dd>bo&#39; (&lt;hardware&gt;)</dd>"));
        assert!(html.contains("<dt>Previously with</dt><dd>ana&lt;b&gt; (soft&quot;ware)</dd>"));
        assert!(html.contains("<dt>Last handoff note</dt><dd>SECRET-HANDOFF javascript:alert(document.cookie)</dd>"));
        assert!(html.contains("<h3>Tried</h3>"));
        assert!(html.contains("completed: &#39;&gt;&lt;svg onload=alert(1)&gt;"));
        assert_eq!(status_words(&Status::Resolved), "Resolved");
        assert_eq!(
            status_words(&Status::ClosedUnresolved { ending: crate::event::Ending::Withdrawn }),
            "Closed unresolved (withdrawn)"
        );
    }

    #[test]
    fn empty_timeline_says_so() {
        let timeline = Timeline::staff(&[]);
        assert!(timeline.to_html().as_str().contains("Nothing recorded yet."));
    }
}

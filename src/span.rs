//! Spans: the lengths of time a host writes in its policy configuration ("90m", "4h",
//! "14d"), and the plain words refusals and reports use for durations, times and counts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{Duration, OffsetDateTime};

/// A non-negative length of time in whole seconds, written in configuration as a number
/// and one unit: `"30s"`, `"90m"`, `"4h"`, `"14d"`.
///
/// # Example
///
/// ```
/// use caseledger::policy::Span;
///
/// let window: Span = "14d".parse()?;
/// assert_eq!(window, Span::days(14));
/// assert_eq!(window.to_string(), "14 days");
/// assert_eq!(serde_json::to_string(&window).unwrap(), "\"14d\"");
/// # Ok::<(), caseledger::policy::ParseSpanError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    seconds: u64,
}

/// The units a span is written in, largest first, with their length in seconds.
const UNITS: [(char, u64, &str); 4] =
    [('d', 86_400, "day"), ('h', 3_600, "hour"), ('m', 60, "minute"), ('s', 1, "second")];

impl Span {
    /// A span of `n` seconds.
    #[must_use]
    pub const fn seconds(n: u32) -> Self {
        Self { seconds: n as u64 }
    }

    /// A span of `n` minutes.
    #[must_use]
    pub const fn minutes(n: u32) -> Self {
        Self { seconds: n as u64 * 60 }
    }

    /// A span of `n` hours.
    #[must_use]
    pub const fn hours(n: u32) -> Self {
        Self { seconds: n as u64 * 3_600 }
    }

    /// A span of `n` days of 24 hours.
    #[must_use]
    pub const fn days(n: u32) -> Self {
        Self { seconds: n as u64 * 86_400 }
    }

    /// Whether the span is zero.
    #[must_use]
    pub const fn is_zero(self) -> bool {
        self.seconds == 0
    }

    /// The span as a [`Duration`], for arithmetic with times.
    #[must_use]
    pub fn to_duration(self) -> Duration {
        // At most 2^32 days fit in a span, far below i64::MAX seconds.
        Duration::seconds(i64::try_from(self.seconds).unwrap_or(i64::MAX))
    }

    /// The largest unit that measures the span exactly, and how many of it.
    fn unit(self) -> (u64, char, &'static str) {
        UNITS
            .iter()
            .find(|(_, len, _)| self.seconds > 0 && self.seconds.is_multiple_of(*len))
            .map_or((0, 'm', "minute"), |&(c, len, word)| (self.seconds / len, c, word))
    }
}

impl fmt::Display for Span {
    /// Plain words: "14 days", "1 hour", "90 minutes".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, _, word) = self.unit();
        write!(f, "{n} {word}{}", if n == 1 { "" } else { "s" })
    }
}

/// Why a text is not a [`Span`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{text}\" is not a span; write a whole number and one unit of s, m, h or d, such as \"90m\" or \"14d\"")]
pub struct ParseSpanError {
    /// The text that was given.
    pub text: String,
}

impl FromStr for Span {
    type Err = ParseSpanError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || ParseSpanError { text: text.to_owned() };
        let trimmed = text.trim();
        let unit = trimmed.chars().last().ok_or_else(err)?;
        let number = trimmed.strip_suffix(unit).ok_or_else(err)?;
        // `u32::from_str` accepts a leading '+'; a span is written with digits only.
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let n: u32 = number.parse().map_err(|_| err())?;
        let &(_, len, _) = UNITS.iter().find(|(c, _, _)| *c == unit).ok_or_else(err)?;
        Ok(Self { seconds: u64::from(n) * len })
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (n, unit, _) = self.unit();
        serializer.collect_str(&format_args!("{n}{unit}"))
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A duration in the two largest whole units, for people: "2 days 3 hours",
/// "45 minutes", "0 minutes". Negative durations are shown by their size.
pub(crate) fn words(duration: Duration) -> String {
    let mut left = duration.whole_seconds().unsigned_abs();
    let mut parts = Vec::new();
    for &(_, len, word) in &UNITS {
        let n = left / len;
        if n > 0 && parts.len() < 2 {
            parts.push(format!("{n} {word}{}", if n == 1 { "" } else { "s" }));
            left %= len;
        } else if !parts.is_empty() {
            // Only adjacent units read well together ("2 days 3 hours", not "2 days 3 seconds").
            break;
        }
    }
    if parts.is_empty() {
        "0 minutes".to_owned()
    } else {
        parts.join(" ")
    }
}

/// A time to the minute, as the timeline and refusals show it: "2026-11-23 09:00".
pub(crate) fn short_time(at: OffsetDateTime) -> String {
    at.format(SHORT).unwrap_or_else(|_| at.to_string())
}

const SHORT: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day] [hour]:[minute]");

/// "1 attempt", "2 attempts".
pub(crate) fn count(n: u32, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_round_trip_through_their_written_form() {
        for (text, span, words) in [
            ("30s", Span::seconds(30), "30 seconds"),
            ("90m", Span::minutes(90), "90 minutes"),
            ("1h", Span::hours(1), "1 hour"),
            ("36h", Span::hours(36), "36 hours"),
            ("14d", Span::days(14), "14 days"),
        ] {
            assert_eq!(text.parse::<Span>(), Ok(span));
            assert_eq!(span.to_string(), words);
            assert_eq!(serde_json::to_string(&span).unwrap(), format!("\"{text}\""));
        }
        assert_eq!(Span::minutes(120), Span::hours(2));
        assert_eq!(serde_json::to_string(&Span::minutes(120)).unwrap(), "\"2h\"");
        assert_eq!(serde_json::to_string(&Span::default()).unwrap(), "\"0m\"");
    }

    #[test]
    fn malformed_spans_are_refused_with_the_text() {
        for text in ["", "d", "14", "14 days", "-1d", "+1d", "1.5h", "1y", "99999999999d", "1d2h"] {
            let err = text.parse::<Span>().unwrap_err();
            assert_eq!(err.text, text);
        }
        let err = serde_json::from_str::<Span>("\"2 weeks\"").unwrap_err();
        assert!(err.to_string().contains("\"2 weeks\" is not a span"), "{err}");
    }

    #[test]
    fn durations_read_in_their_two_largest_units() {
        assert_eq!(words(Duration::seconds(0)), "0 minutes");
        assert_eq!(words(Duration::minutes(45)), "45 minutes");
        assert_eq!(words(Duration::minutes(125)), "2 hours 5 minutes");
        assert_eq!(words(Duration::hours(51)), "2 days 3 hours");
        assert_eq!(words(Duration::days(2) + Duration::seconds(3)), "2 days");
        assert_eq!(words(Duration::hours(-1)), "1 hour");
    }
}

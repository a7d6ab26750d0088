//! The property-testing harness (feature `proptest`): the cast and configuration of
//! generated histories, and [`check_histories`], which runs a property over them and
//! shrinks a failure to a minimal history.

use std::fmt;
use std::sync::Arc;

use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestError, TestRunner};
use time::macros::datetime;
use time::OffsetDateTime;

use crate::actor::Staff;
use crate::case::Case;
use crate::id::CustomerRef;
use crate::policy::{Policy, Proposal};
use crate::rules::Rules;

use super::history::{self, histories, History};

/// The people in generated histories: one customer and the staff of several departments.
///
/// The default cast has seven staff in five departments (software, hardware, parts,
/// warranty, tier-2), few enough that transfers often bounce back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cast {
    customer: CustomerRef,
    staff: Vec<Staff>,
}

impl Cast {
    /// A cast of `customer` and `staff`. Departments are those the staff act for.
    ///
    /// With no staff no case can be opened, and [`check_histories`] reports that.
    #[must_use]
    pub fn new(customer: impl Into<CustomerRef>, staff: Vec<Staff>) -> Self {
        Self { customer: customer.into(), staff }
    }

    /// The customer.
    #[must_use]
    pub fn customer(&self) -> &CustomerRef {
        &self.customer
    }

    /// The staff, in the order given.
    #[must_use]
    pub fn staff(&self) -> &[Staff] {
        &self.staff
    }
}

impl Default for Cast {
    fn default() -> Self {
        let staff = [
            ("ana", "software"),
            ("sam", "software"),
            ("bo", "hardware"),
            ("hal", "hardware"),
            ("pia", "parts"),
            ("wes", "warranty"),
            ("eve", "tier-2"),
        ];
        Self::new("cust-1042", staff.iter().map(|(id, dept)| Staff::new(*id, *dept)).collect())
    }
}

/// What histories are generated under, and how many.
///
/// # Example
///
/// ```
/// use caseledger::testkit::Config;
/// use caseledger::Rules;
///
/// let config = Config::new(Rules::default()).with_steps(20);
/// assert_eq!(config.steps, 20);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// The rules every command is decided by: put your policies here.
    pub rules: Arc<Rules>,
    /// Who takes part.
    pub cast: Cast,
    /// The most commands attempted after opening (default 40). Shrinking goes down to 0.
    pub steps: usize,
    /// When generated cases are opened.
    pub start: OffsetDateTime,
    /// Case counts and the rest of proptest's settings for [`check_histories`]. Defaults
    /// to `ProptestConfig::default()`, which reads `PROPTEST_CASES`.
    pub proptest: ProptestConfig,
}

impl Config {
    /// Histories decided by `rules`, with the default cast and 40 steps.
    #[must_use]
    pub fn new(rules: Rules) -> Self {
        Self {
            rules: Arc::new(rules),
            cast: Cast::default(),
            steps: 40,
            start: datetime!(2026-11-23 08:00 UTC),
            proptest: ProptestConfig::default(),
        }
    }

    /// The same configuration with another cast.
    #[must_use]
    pub fn with_cast(mut self, cast: Cast) -> Self {
        self.cast = cast;
        self
    }

    /// The same configuration with at most `steps` commands per history.
    #[must_use]
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }

    /// The same configuration with other proptest settings (for instance more cases).
    #[must_use]
    pub fn with_proptest(mut self, proptest: ProptestConfig) -> Self {
        self.proptest = proptest;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new(Rules::default())
    }
}

/// A property that broke, with the smallest history proptest could shrink it to.
///
/// Both `Display` and `Debug` print the reason, the history as the staff timeline, and the
/// commands that were refused on the way, so a failing `#[test]` that returns
/// `Result<(), Failure>` (or unwraps one) reads like a case file.
#[derive(Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub struct Failure {
    /// What the property said, or why no history could be tried.
    pub reason: String,
    /// The minimal failing history; `None` when generation itself gave up (for instance
    /// because the rules refused to open any case for the cast).
    pub history: Option<Box<History>>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(history) = &self.history else {
            return write!(f, "no history could be checked: {}", self.reason);
        };
        writeln!(f, "property broken: {}", self.reason)?;
        writeln!(
            f,
            "minimal failing history ({} events, {} refused commands):",
            history.events().len(),
            history.refusals().count()
        )?;
        write!(f, "{}", history.timeline())?;
        for (attempt, refusal) in history.refusals() {
            writeln!(f, "  refused: {} at {}: {:?}: {refusal}", attempt.by, attempt.at, attempt.command)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Failure {
    // Test harnesses print `Debug`; make that the readable report.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Checks `property` on histories generated under `config`, and on failure shrinks to a
/// minimal failing history.
///
/// The property returns `Err(reason)` when broken; a panic inside it counts as a failure
/// too. Failing histories are not persisted to a regressions file unless
/// `config.proptest` names one.
///
/// # Errors
///
/// A [`Failure`] with the reason and the minimal failing history.
///
/// # Example
///
/// ```
/// use caseledger::testkit::{check_histories, Config};
///
/// // Closing work items never resolves a case (I2).
/// check_histories(&Config::default(), |history| {
///     let case = history.case();
///     if case.status() == &caseledger::Status::Resolved && case.open_work_count() > 0 {
///         return Err("resolved with open work".into());
///     }
///     Ok(())
/// })?;
/// # Ok::<(), caseledger::testkit::Failure>(())
/// ```
pub fn check_histories<P>(config: &Config, property: P) -> Result<(), Failure>
where
    P: Fn(&History) -> Result<(), String>,
{
    let mut proptest = config.proptest.clone();
    if proptest.source_file.is_none() {
        // Proptest's default persistence needs the calling test's source file, which a
        // plain function cannot know; without it proptest only warns on every run.
        proptest.failure_persistence = None;
    }
    if let Err(reason) = history::owners(config) {
        return Err(Failure { reason, history: None });
    }
    let mut runner = TestRunner::new(proptest);
    let result = runner.run(&histories(config), |history| property(&history).map_err(TestCaseError::fail));
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Fail(reason, history)) => {
            Err(Failure { reason: reason.message().to_owned(), history: Some(Box::new(history)) })
        }
        Err(TestError::Abort(reason)) => Err(Failure { reason: reason.message().to_owned(), history: None }),
    }
}

/// A [`Policy`] made from a name and a closure, for policies written inline in a test.
///
/// # Example
///
/// ```
/// use caseledger::testkit::policy_fn;
/// use caseledger::{EventKind, Policy, Rules};
///
/// let no_letters = policy_fn("no_letters", |_case, proposal| match proposal.what {
///     EventKind::CustomerContacted { channel: caseledger::event::Channel::Letter, .. } => Err("we stopped sending letters".into()),
///     _ => Ok(()),
/// });
/// assert_eq!(no_letters.name(), "no_letters");
/// let rules = Rules::default().with_policy(no_letters);
/// # let _ = rules;
/// ```
pub fn policy_fn<F>(name: impl Into<String>, check: F) -> FnPolicy<F>
where
    F: Fn(&Case, &Proposal<'_>) -> Result<(), String> + Send + Sync,
{
    FnPolicy { name: name.into(), check }
}

/// A policy made by [`policy_fn`].
#[derive(Clone)]
pub struct FnPolicy<F> {
    name: String,
    check: F,
}

impl<F> fmt::Debug for FnPolicy<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnPolicy").field("name", &self.name).finish_non_exhaustive()
    }
}

impl<F> Policy for FnPolicy<F>
where
    F: Fn(&Case, &Proposal<'_>) -> Result<(), String> + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self, case: &Case, proposal: &Proposal<'_>) -> Result<(), String> {
        (self.check)(case, proposal)
    }
}

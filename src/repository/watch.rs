//! What every driver reports about a command (feature `tracing`): one span per command
//! with its case, command, result code, attempts and time spent waiting for the store.
//!
//! The drivers (the blocking and the awaiting repository's, and the one over a host's
//! PostgreSQL transaction) each wrap their store calls in a [`Watch`] and finish it with
//! the run's result, so every repository reports the same fields the same way. Without
//! the feature a `Watch` is empty and its methods do nothing; the compiler removes them.
//!
//! The span is `command` at INFO level, with fields `case`, `command` (the command's
//! tag, `open` for an opening), and, recorded when the command ends, `code` (`ok` or the
//! error's code), `attempts` ([`Executed::attempts`] when it succeeded; the appends
//! tried when it failed, so 0 for a refusal), `already_done` (a keyed replay that wrote
//! nothing), `store_wait_us` (time inside store calls) and `elapsed_us`. One INFO event `command` inside the span carries the same fields, so a
//! plain `tracing_subscriber::fmt()` prints one line per command. The store calls run
//! inside the span, so a database driver's own spans nest under it. Reads of a case
//! (`case`, `refresh`) are not commands and report nothing.

#[cfg(feature = "async")]
use std::future::Future;

#[cfg(feature = "tracing")]
use std::time::{Duration, Instant};

use super::core::Machine;
use super::executed::Executed;
use crate::case::Case;
use crate::error::Error;

/// What a run's result tells the report beyond its code.
pub(crate) trait Report {
    /// The attempts the run used and whether an earlier run had done it, for a command.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    fn executed(&self) -> Option<(u32, bool)>;
}

impl Report for Executed {
    fn executed(&self) -> Option<(u32, bool)> {
        Some((self.attempts, self.already_done))
    }
}

impl Report for super::snapshots::SnapshotCheck {
    fn executed(&self) -> Option<(u32, bool)> {
        None
    }
}

impl Report for std::sync::Arc<Case> {
    fn executed(&self) -> Option<(u32, bool)> {
        None
    }
}

/// One command's report, filled in by its driver.
#[derive(Debug)]
pub(crate) struct Watch {
    #[cfg(feature = "tracing")]
    inner: Option<Inner>,
}

#[cfg(feature = "tracing")]
#[derive(Debug)]
struct Inner {
    span: tracing::Span,
    case: crate::id::CaseId,
    command: &'static str,
    started: Instant,
    waited: Duration,
    appends: u32,
}

impl Watch {
    /// A report for `run`; empty for a read, or when no subscriber wants the span.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn new<M: Machine>(run: &M) -> Self {
        #[cfg(feature = "tracing")]
        {
            let inner = run.label().and_then(|(case, command)| {
                let span = tracing::info_span!(
                    "command",
                    case = %case,
                    command,
                    code = tracing::field::Empty,
                    attempts = tracing::field::Empty,
                    already_done = tracing::field::Empty,
                    store_wait_us = tracing::field::Empty,
                    elapsed_us = tracing::field::Empty,
                );
                // No subscriber listens: skip the clock readings too.
                (!span.is_disabled()).then(|| Inner {
                    span,
                    case,
                    command,
                    started: Instant::now(),
                    waited: Duration::ZERO,
                    appends: 0,
                })
            });
            Self { inner }
        }
        #[cfg(not(feature = "tracing"))]
        Self {}
    }

    /// Runs a blocking store call inside the span, timing it; `append` counts an attempt.
    pub(crate) fn blocking<T>(&mut self, append: bool, call: impl FnOnce() -> T) -> T {
        #[cfg(feature = "tracing")]
        if let Some(inner) = &mut self.inner {
            let started = Instant::now();
            let out = inner.span.in_scope(call);
            inner.waited += started.elapsed();
            inner.appends += u32::from(append);
            return out;
        }
        let _ = append;
        call()
    }

    /// Awaits a store call inside the span, timing it; `append` counts an attempt.
    #[cfg(feature = "async")]
    pub(crate) async fn waiting<F: Future>(&mut self, append: bool, call: F) -> F::Output {
        #[cfg(feature = "tracing")]
        if let Some(inner) = &mut self.inner {
            let started = Instant::now();
            let out = tracing::Instrument::instrument(call, inner.span.clone()).await;
            inner.waited += started.elapsed();
            inner.appends += u32::from(append);
            return out;
        }
        let _ = append;
        call.await
    }

    /// Records how the command ended and emits its one event.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn finish<T: Report>(self, result: &Result<T, Error>) {
        #[cfg(feature = "tracing")]
        if let Some(inner) = self.inner {
            let (code, (attempts, already_done)) = match result {
                Ok(done) => ("ok", done.executed().unwrap_or((inner.appends, false))),
                Err(err) => (err.code(), (inner.appends, false)),
            };
            let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
            let (waited, elapsed) = (micros(inner.waited), micros(inner.started.elapsed()));
            let span = &inner.span;
            span.record("code", code);
            span.record("attempts", attempts);
            span.record("already_done", already_done);
            span.record("store_wait_us", waited);
            span.record("elapsed_us", elapsed);
            span.in_scope(|| {
                tracing::info!(
                    case = %inner.case,
                    command = inner.command,
                    code,
                    attempts,
                    already_done,
                    store_wait_us = waited,
                    elapsed_us = elapsed,
                    "command"
                );
            });
        }
    }
}

//! The host's clock a repository reads before it decides a command again.

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

/// The host's clock as a repository keeps it (`with_clock`): read once before each later
/// decision of a command that lost a race to another writer, never otherwise. Without
/// one, a command is decided again at its request's own time.
#[derive(Clone, Default)]
pub(crate) struct HostClock(Option<Arc<dyn Fn() -> OffsetDateTime + Send + Sync>>);

impl HostClock {
    pub(crate) fn new(clock: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(clock)))
    }

    /// When to decide again a command first decided at `at`.
    pub(crate) fn again(&self, at: OffsetDateTime) -> OffsetDateTime {
        self.0.as_ref().map_or(at, |clock| clock())
    }
}

impl fmt::Debug for HostClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "HostClock(the host's)" } else { "HostClock(the request's time)" })
    }
}

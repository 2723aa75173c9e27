//! What core's unit tests share to see what was logged: a subscriber that
//! keeps every event of the thread it is installed on.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span;

/// Every event logged on this thread while the guard lives:
/// `(target, level, rendered fields)`.
#[derive(Clone, Default)]
pub(crate) struct Capture {
    events: Arc<Mutex<Vec<(String, tracing::Level, String)>>>,
}

impl Capture {
    pub(crate) fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(self.clone())
    }

    /// The events on `target`, at any level.
    pub(crate) fn on(&self, target: &str) -> Vec<String> {
        self.matching(|t, _| t == target)
    }

    /// The events on `target` at `level`.
    pub(crate) fn at(&self, target: &str, level: tracing::Level) -> Vec<String> {
        self.matching(|t, l| t == target && l == level)
    }

    /// The events at `level`, on any target.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn level(&self, level: tracing::Level) -> Vec<String> {
        self.matching(|_, l| l == level)
    }

    /// Every event's fields, run together.
    pub(crate) fn all_text(&self) -> String {
        self.matching(|_, _| true).concat()
    }

    fn matching(&self, keep: impl Fn(&str, tracing::Level) -> bool) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(target, level, _)| keep(target, *level))
            .map(|(_, _, text)| text.clone())
            .collect()
    }
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::always()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let meta = event.metadata();
        self.events
            .lock()
            .unwrap()
            .push((meta.target().to_owned(), *meta.level(), fields.0));
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

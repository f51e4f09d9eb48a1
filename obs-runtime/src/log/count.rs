//! `obs_log_events_total{level}`: every event the filter lets through, by
//! level, whatever the log format (JSON, pretty or off) and whether or not its
//! line is written in the end, so that an alert can fire on the ERROR rate.

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::metrics::LOG_EVENTS_TOTAL;

/// Counts events by level; the series of all five levels exist from the start, at zero.
pub(crate) struct EventCounts {
    by_level: [metrics::Counter; 5],
}

impl EventCounts {
    pub(crate) fn new() -> EventCounts {
        let counter = |level: &'static str| metrics::counter!(LOG_EVENTS_TOTAL.name(), "level" => level);
        EventCounts { by_level: ["error", "warn", "info", "debug", "trace"].map(counter) }
    }
}

impl<S: Subscriber> Layer<S> for EventCounts {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let index = match *event.metadata().level() {
            Level::ERROR => 0,
            Level::WARN => 1,
            Level::INFO => 2,
            Level::DEBUG => 3,
            Level::TRACE => 4,
        };
        self.by_level[index].increment(1);
    }
}

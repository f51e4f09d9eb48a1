//! The log filter `init` installed, changeable while the application runs
//! (`GET`/`PUT /obs/log-level`): a reload handle on the subscriber's
//! `EnvFilter`, the text in force, and the change to undo when a TTL runs out.
//!
//! A change is checked by `EnvFilter`'s own parser before anything changes, so
//! a bad directive leaves the filter as it was. Each change (a revert too) is
//! one INFO line with the old and the new filter, on the `obs::log_level`
//! target, which the installed filter always lets through at INFO so that a
//! change to `warn` still says so.
//!
//! The filter sits in the subscriber as a [`LiveFilter`]: tracing-subscriber's
//! reload layer takes a read lock on every callback, and `EnvFilter` takes
//! more on every span's creation, entry, exit and close, so that two threads
//! creating spans bounce the locks' cache lines between cores (a call on two
//! threads at once cost three times a call on one). `EnvFilter` only needs
//! the span callbacks when a directive names a span or a field (`[...]`), so
//! `LiveFilter` passes them on only while such a filter is in force; callsite
//! interest and `enabled` still go through the reload layer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::reload;
use tracing_subscriber::{EnvFilter, Registry};

/// Lets the change lines through whatever the filter says.
const OWN_DIRECTIVE: &str = "obs::log_level=info";

/// Puts a filter in force: the reload handle, of whichever subscriber the filter sits on.
type Reload = Box<dyn Fn(EnvFilter) -> Result<(), reload::Error> + Send + Sync>;

struct Control {
    handle: Reload,
    state: Mutex<State>,
}

struct State {
    current: String,
    /// Bumped by every change, so a TTL revert that was overtaken does nothing.
    generation: u64,
    /// The filter a TTL puts back, and when.
    revert: Option<(String, Instant)>,
}

static CONTROL: OnceLock<Control> = OnceLock::new();

/// Whether the filter in force has span-scoped directives, which need the
/// span callbacks. Set before a reload that needs them and cleared after one
/// that does not, so the filter in force never misses a callback it needs (a
/// filter without such directives ignores them).
static SPAN_SCOPED: AtomicBool = AtomicBool::new(false);

/// Whether `filter` has a directive on spans or fields: `EnvFilter` keeps
/// per-span state only for those, and each has a `[` (`target[span{field}]=level`).
fn span_scoped(filter: &EnvFilter) -> bool {
    filter.to_string().contains('[')
}

/// The subscriber's filter layer for `filter`; its reload handle is kept for
/// `GET`/`PUT /obs/log-level`.
pub(crate) fn install<S: Subscriber>(filter: EnvFilter) -> LiveFilter<S> {
    let current = filter.to_string();
    SPAN_SCOPED.store(span_scoped(&filter), Ordering::Release);
    let (inner, handle) = reload::Layer::new(filter);
    let handle: Reload = Box::new(move |filter| handle.reload(filter));
    let _ = CONTROL.set(Control { handle, state: Mutex::new(State { current, generation: 0, revert: None }) });
    LiveFilter { inner }
}

/// Replaces the filter in force, keeping [`SPAN_SCOPED`] true while either filter needs span callbacks.
fn reload(handle: &Reload, filter: EnvFilter) -> Result<(), reload::Error> {
    let scoped = span_scoped(&filter);
    if scoped {
        SPAN_SCOPED.store(true, Ordering::Release);
    }
    let result = handle(filter);
    if result.is_ok() && !scoped {
        SPAN_SCOPED.store(false, Ordering::Release);
    }
    result
}

/// The reload layer of `EnvFilter`, passing span callbacks on only while the
/// filter needs them (see the module docs). `EnvFilter` has no event
/// callbacks (`on_event`, `event_enabled` are the defaults), so neither are
/// passed on.
pub(crate) struct LiveFilter<S = Registry> {
    inner: reload::Layer<EnvFilter, S>,
}

impl<S> LiveFilter<S> {
    #[inline]
    fn span_scoped() -> bool {
        SPAN_SCOPED.load(Ordering::Acquire)
    }
}

impl<S: Subscriber> Layer<S> for LiveFilter<S> {
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        self.inner.max_level_hint()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if Self::span_scoped() {
            self.inner.on_new_span(attrs, id, ctx);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if Self::span_scoped() {
            self.inner.on_record(id, values, ctx);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if Self::span_scoped() {
            self.inner.on_enter(id, ctx);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if Self::span_scoped() {
            self.inner.on_exit(id, ctx);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if Self::span_scoped() {
            self.inner.on_close(id, ctx);
        }
    }
}

/// The filter in force and, when a TTL runs, what it reverts to and in how long.
pub(crate) struct Current {
    pub filter: String,
    pub revert: Option<(String, Duration)>,
}

/// The filter in force; `None` when obs did not install the subscriber.
pub(crate) fn current() -> Option<Current> {
    let state = CONTROL.get()?.state.lock().unwrap_or_else(|e| e.into_inner());
    let revert = state.revert.as_ref().map(|(to, at)| (to.clone(), at.saturating_duration_since(Instant::now())));
    Some(Current { filter: state.current.clone(), revert })
}

/// What a change did.
pub(crate) struct Changed {
    pub previous: String,
    pub filter: String,
    /// The change's number, for [`revert`].
    pub generation: u64,
}

/// Why a change was not made.
#[derive(Debug)]
pub(crate) enum ChangeError {
    /// obs did not install the subscriber, so it has no filter to change.
    NotInstalled,
    /// The directive does not parse; the parser's message.
    Invalid(String),
}

/// Makes `directive` (`RUST_LOG` syntax) the filter, until `ttl` when given.
pub(crate) fn set(directive: &str, ttl: Option<Duration>) -> Result<Changed, ChangeError> {
    let control = CONTROL.get().ok_or(ChangeError::NotInstalled)?;
    let directive = directive.trim();
    let filter = parse(directive)?;
    let mut state = control.state.lock().unwrap_or_else(|e| e.into_inner());
    reload(&control.handle, filter).map_err(|e| ChangeError::Invalid(e.to_string()))?;
    let previous = std::mem::replace(&mut state.current, directive.to_owned());
    state.generation += 1;
    // A change with a TTL reverts to what was in force before the first of a run of TTL changes.
    state.revert = ttl.map(|ttl| {
        let to = state.revert.take().map_or_else(|| previous.clone(), |(to, _)| to);
        (to, Instant::now() + ttl)
    });
    let changed = Changed { previous, filter: directive.to_owned(), generation: state.generation };
    drop(state);
    announce(&changed.previous, &changed.filter, ttl, "request");
    Ok(changed)
}

/// Puts back the filter a TTL change replaced, unless another change came since.
pub(crate) fn revert(generation: u64) {
    let Some(control) = CONTROL.get() else { return };
    let mut state = control.state.lock().unwrap_or_else(|e| e.into_inner());
    if state.generation != generation {
        return;
    }
    let Some((to, _)) = state.revert.take() else { return };
    let Ok(filter) = parse(&to) else { return };
    if reload(&control.handle, filter).is_err() {
        return;
    }
    let previous = std::mem::replace(&mut state.current, to.clone());
    state.generation += 1;
    drop(state);
    announce(&previous, &to, None, "ttl");
}

fn parse(directive: &str) -> Result<EnvFilter, ChangeError> {
    // Checked alone first, so that the message is about the user's text.
    EnvFilter::builder().parse(directive).map_err(|e| ChangeError::Invalid(e.to_string()))?;
    let with_own = if directive.is_empty() { OWN_DIRECTIVE.to_owned() } else { format!("{directive},{OWN_DIRECTIVE}") };
    EnvFilter::builder().parse(with_own).map_err(|e| ChangeError::Invalid(e.to_string()))
}

fn announce(old: &str, new: &str, ttl: Option<Duration>, reason: &'static str) {
    let ttl_seconds = ttl.map(|ttl| ttl.as_secs_f64());
    tracing::info!(
        target: "obs::log_level",
        event = "log_level.changed",
        old,
        new,
        ttl_seconds,
        reason,
        "log filter changed from {old:?} to {new:?}"
    );
}

/// A TTL: a number with a unit (`ms`, `s`, `m`, `h`), or seconds without one.
pub(crate) fn parse_ttl(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok().filter(|n: &f64| n.is_finite() && *n > 0.0)?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_take_a_unit_or_mean_seconds() {
        assert_eq!(parse_ttl("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_ttl("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_ttl("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_ttl("30"), Some(Duration::from_secs(30)));
        for bad in ["", "0", "-1s", "ten", "5d", "1e3"] {
            assert_eq!(parse_ttl(bad), None, "{bad:?}");
        }
    }
}

//! The catalog of instrumented functions: one static [`CallSite`] per
//! `#[observe]`, `#[workflow]` and `#[node]` function, with its identity, its
//! `tracing` metadata (one span and four end events) and its cached metric
//! handles. Every call site is registered at link time, so [`catalog`] lists them all.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::Span;
use tracing_core::callsite::{DefaultCallsite, Identifier};
use tracing_core::field::{FieldSet, Value};
use tracing_core::{Kind as TracingKind, Level, Metadata, dispatcher};

pub use crate::kind::Kind;
use crate::labels::LabelSite;
use crate::metrics::poll::{self, PollSeries};
use crate::metrics::store::{self, FunctionSeries};
use crate::metrics::{self, Handles};
use crate::ops::objective::{Objective, same_bound};

/// The most fields a span can carry (tracing's own limit), including the three
/// `code.*` fields the runtime fills and the four outcome fields at the end.
pub(crate) const MAX_FIELDS: usize = 32;
const LEADING: usize = 3;

/// What the macro knows about a call site at compile time.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Info {
    pub name: &'static str,
    pub span_name: &'static str,
    /// `module::name`: the span's `code.function.name`.
    pub function: &'static str,
    pub module: &'static str,
    pub file: &'static str,
    pub line: u32,
    pub level: Level,
    pub ok_level: Level,
    pub fields: &'static [&'static str],
    pub kind: Kind,
    pub metrics: bool,
    pub poll_metrics: bool,
    pub log: bool,
    pub objective: Option<Objective>,
    /// `labels(...)`: the label names and their table.
    pub labels: Option<&'static LabelSite>,
}

/// A `tracing` callsite: metadata plus its registration and interest cache.
#[doc(hidden)]
pub struct Site {
    meta: Metadata<'static>,
    callsite: DefaultCallsite,
}

impl Site {
    const fn new(
        me: &'static Site,
        name: &'static str,
        level: Level,
        fields: &'static [&'static str],
        info: &Info,
        kind: TracingKind,
    ) -> Site {
        Site {
            meta: Metadata::new(
                name,
                info.module,
                level,
                Some(info.file),
                Some(info.line),
                Some(info.module),
                FieldSet::new(fields, Identifier(&me.callsite)),
                kind,
            ),
            callsite: DefaultCallsite::new(&me.meta),
        }
    }

    /// A lifecycle event of the function described by `info`.
    pub(crate) const fn event(me: &'static Site, level: Level, info: &Info) -> Site {
        Site::new(me, info.span_name, level, EVENT_FIELDS, info, TracingKind::EVENT)
    }

    pub(crate) fn metadata(&'static self) -> &'static Metadata<'static> {
        &self.meta
    }

    /// The check `tracing`'s own macros make: static and dynamic level, then
    /// the callsite's cached interest, then the subscriber.
    #[inline]
    pub(crate) fn enabled(&'static self) -> bool {
        let level = *self.meta.level();
        if level > tracing::level_filters::STATIC_MAX_LEVEL || level > tracing::level_filters::LevelFilter::current() {
            return false;
        }
        let interest = self.callsite.interest();
        !interest.is_never() && (interest.is_always() || dispatcher::get_default(|d| d.enabled(&self.meta)))
    }
}

/// Fields of the lifecycle events, in the order [`crate::call`] fills them.
pub(crate) const EVENT_FIELDS: &[&str] =
    &["message", "event", "duration_ms", "error.kind", "error", "return", "attempt", "backoff_ms", "budget", "cause"];

/// The static identity of one instrumented function: the span and the four
/// end events every call can have. `#[workflow]` and `#[node]` sites add their
/// own events and options in a separate static (`workflow::FlowSite`).
pub struct CallSite {
    pub(crate) info: Info,
    span: Site,
    pub(crate) ok: Site,
    pub(crate) error: Site,
    pub(crate) cancelled: Site,
    pub(crate) panicked: Site,
    /// The end of a failed call whose error an inner call already logged at ERROR (`log/cause.rs`).
    pub(crate) failed_inside: Site,
    handles: OnceLock<Handles>,
    polls: OnceLock<&'static PollSeries>,
    flow_series: OnceLock<&'static FunctionSeries>,
}

impl CallSite {
    #[doc(hidden)]
    pub const fn new(me: &'static CallSite, info: Info) -> CallSite {
        CallSite {
            info,
            span: Site::new(&me.span, info.span_name, info.level, info.fields, &info, TracingKind::SPAN),
            ok: Site::event(&me.ok, info.ok_level, &info),
            error: Site::event(&me.error, Level::ERROR, &info),
            cancelled: Site::event(&me.cancelled, Level::WARN, &info),
            panicked: Site::event(&me.panicked, Level::ERROR, &info),
            failed_inside: Site::event(&me.failed_inside, Level::WARN, &info),
            handles: OnceLock::new(),
            polls: OnceLock::new(),
            flow_series: OnceLock::new(),
        }
    }

    /// The function label: the function's name, or `name = "..."`.
    pub fn name(&self) -> &'static str {
        self.info.name
    }

    /// The module label (`module_path!()` of the function).
    pub fn module(&self) -> &'static str {
        self.info.module
    }

    /// The span name, `module::function` unless renamed.
    pub fn span_name(&self) -> &'static str {
        self.info.span_name
    }

    /// Source file and line of the function.
    pub fn location(&self) -> (&'static str, u32) {
        (self.info.file, self.info.line)
    }

    /// What kind of instrumented function this is.
    pub fn kind(&self) -> Kind {
        self.info.kind
    }

    /// Whether calls are counted in metrics (`metrics = false` turns it off).
    pub fn records_metrics(&self) -> bool {
        self.info.metrics
    }

    /// The objective of `objective(...)` or `objective = NAME`, if any.
    pub fn objective(&self) -> Option<&Objective> {
        self.info.objective.as_ref()
    }

    /// The names of the labels `labels(...)` adds to the function's series, in order.
    pub fn labels(&self) -> &'static [&'static str] {
        self.info.labels.map_or(&[], LabelSite::names)
    }

    pub(crate) fn logs(&self) -> bool {
        self.info.log
    }

    /// The function metric handles, resolved on first use once metrics are
    /// active; `None` before `init`, with `metrics = false`, and for workflows
    /// and nodes (which have metrics of their own).
    #[inline]
    pub(crate) fn handles(&'static self) -> Option<&'static Handles> {
        if let Some(handles) = self.handles.get() {
            return Some(handles);
        }
        if !self.records_metrics() || self.kind() != Kind::Function {
            return None;
        }
        let resolved = Handles::resolve(self.name(), self.module(), self.info.labels)?;
        Some(self.handles.get_or_init(|| resolved))
    }

    /// The busy-time and slow-poll series, resolved on first use once obs
    /// keeps function metrics; `None` before, and with `metrics = false` or
    /// `poll_metrics = false`.
    #[inline]
    pub(crate) fn poll_series(&'static self) -> Option<&'static PollSeries> {
        if let Some(series) = self.polls.get() {
            return Some(series);
        }
        if !self.records_metrics() || !self.info.poll_metrics {
            return None;
        }
        let resolved = poll::series(self.name(), self.module(), self.kind())?;
        Some(self.polls.get_or_init(|| resolved))
    }

    /// The series of a workflow or node that `/obs/hotspots` ranks (not shown
    /// on `/metrics`); `None` for functions, before `init` and with `metrics = false`.
    #[inline]
    pub(crate) fn flow_series(&'static self) -> Option<&'static FunctionSeries> {
        if let Some(series) = self.flow_series.get() {
            return Some(series);
        }
        if !self.records_metrics() || self.kind() == Kind::Function {
            return None;
        }
        let resolved = store::series(self.name(), self.module(), self.kind())?;
        Some(self.flow_series.get_or_init(|| resolved))
    }

    /// Opens the call's span with the argument values the macro collected, or
    /// returns a disabled span when nothing listens.
    #[doc(hidden)]
    #[inline]
    pub fn span(&'static self, args: &[Option<&dyn Value>]) -> Span {
        if !self.span.enabled() {
            return Span::none();
        }
        self.new_span(args)
    }

    #[inline(never)]
    fn new_span(&'static self, args: &[Option<&dyn Value>]) -> Span {
        let meta = &self.span.meta;
        let total = meta.fields().len();
        if total > MAX_FIELDS || LEADING + args.len() > total {
            return Span::none();
        }
        let line = self.info.line;
        let mut values: [Option<&dyn Value>; MAX_FIELDS] = [None; MAX_FIELDS];
        // Only span exporters read the `code.*` fields.
        if crate::log::exporter_fields_read() {
            values[0] = Some(&self.info.function);
            values[1] = Some(&self.info.file);
            values[2] = Some(&line);
        }
        values[LEADING..LEADING + args.len()].copy_from_slice(args);
        Span::new(meta, &meta.fields().value_set_all(&values[..total]))
    }
}

impl std::fmt::Debug for CallSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallSite")
            .field("name", &self.info.name)
            .field("module", &self.info.module)
            .field("kind", &self.info.kind)
            .field("file", &self.info.file)
            .field("line", &self.info.line)
            .field("objective", &self.info.objective)
            .field("labels", &self.labels())
            .finish()
    }
}

/// Whether `meta` is the span of an instrumented function (a subscriber in
/// which nothing reads spans gives them no interest, so none is created).
pub(crate) fn is_call_span(meta: &Metadata<'_>) -> bool {
    // The field check first: it is cheap, and other spans rarely have this field.
    meta.is_span()
        && meta.fields().field("code.function.name").is_some()
        && catalog().iter().any(|site| std::ptr::eq(&site.span.meta, meta))
}

/// Every instrumented function linked into the binary.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static CATALOG: [&'static CallSite];

/// Every function instrumented with `#[observe]` (and the other attributes)
/// in this binary, known at startup whether or not it was ever called.
///
/// ```
/// for site in obs_runtime::catalog() {
///     println!("{}::{} at {}:{}", site.module(), site.name(), site.location().0, site.location().1);
/// }
/// ```
pub fn catalog() -> &'static [&'static CallSite] {
    &CATALOG
}

/// `buckets` with the latency threshold of every objective among `sites`
/// added as a bound where it is not one already, so that the generated rules
/// count the calls within a threshold from a real bucket (not interpolated).
/// Adding beats failing: the threshold is in the annotation, and the buckets
/// are a detail nobody should have to keep in step with it. Every histogram
/// shares the one list.
pub(crate) fn with_objective_bounds(mut buckets: Vec<f64>, sites: &[&'static CallSite]) -> Vec<f64> {
    for site in sites {
        if let Some(threshold) = site.objective().and_then(Objective::latency_threshold) {
            let seconds = threshold.as_secs_f64();
            if !buckets.iter().any(|b| same_bound(*b, seconds)) {
                buckets.push(seconds);
            }
        }
    }
    buckets.sort_by(f64::total_cmp);
    buckets
}

/// Registers every catalogued function's series at zero, so that they show in
/// `/metrics` before the first call.
pub(crate) fn preregister() {
    for site in catalog() {
        if let Some(handles) = site.handles() {
            handles.preregister();
        }
    }
}

/// Says once, in debug builds, that an instrumented function ran before `init`.
pub(crate) fn hint_missing_init(site: &'static CallSite) {
    static HINTED: AtomicBool = AtomicBool::new(false);
    if cfg!(debug_assertions)
        && site.records_metrics()
        && !metrics::active()
        && !HINTED.load(Ordering::Relaxed)
        && !HINTED.swap(true, Ordering::Relaxed)
    {
        eprintln!(
            "obs: `{}` ran before obs_runtime::init(); its metrics are not recorded (this hint shows once, in debug builds)",
            site.span_name()
        );
    }
}

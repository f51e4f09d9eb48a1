//! One static [`CallSite`] per instrumented function: its identity, its
//! `tracing` metadata (one span and four end events) and its cached metric
//! handles. Every call site is registered at link time in [`CATALOG`].

use std::sync::OnceLock;
use std::time::Duration;

use tracing::Span;
use tracing_core::callsite::{DefaultCallsite, Identifier};
use tracing_core::field::{FieldSet, Value};
use tracing_core::{Kind as TracingKind, Level, Metadata, dispatcher};

use crate::metrics::Handles;
use crate::workflow::metrics::FlowHandles;

/// The most fields a span can carry (tracing's own limit), including the four
/// `code.*` fields the runtime fills and the four outcome fields at the end.
pub const MAX_FIELDS: usize = 32;
const LEADING: usize = 4;

/// What kind of instrumented function a call site is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// `#[observe]`.
    Function,
    /// `#[workflow]`: each call is a run with its own run id and budgets.
    Workflow(WorkflowOptions),
    /// `#[node]`: a step of a workflow, with retries and a timeout per attempt.
    Node(NodeOptions),
}

impl Kind {
    /// The word used in log events (`function.success`, `workflow.start`, `node.retry`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Function => "function",
            Kind::Workflow(_) => "workflow",
            Kind::Node(_) => "node",
        }
    }
}

/// The budgets of a `#[workflow]`, enforced on every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkflowOptions {
    /// `deadline = "30s"`: the run fails with a budget error when it takes longer.
    pub deadline: Option<Duration>,
    /// `max_hops = N`: the N+1-th node execution of a run fails before running.
    pub max_hops: Option<u64>,
    /// `max_tokens = N`: what [`consume_tokens`](crate::budget::consume_tokens) may draw in one run.
    pub max_tokens: Option<u64>,
}

/// The retry and timeout policy of a `#[node]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeOptions {
    /// `retries = N`: attempts after the first one.
    pub retries: u32,
    /// `backoff = "100ms"`: the delay before the first retry, doubled for each later one.
    pub backoff: Duration,
    /// `max_backoff = "10s"`: the cap of the doubled delay.
    pub max_backoff: Duration,
    /// `timeout = "2s"`: an attempt running longer is cancelled and fails with a timeout error.
    pub timeout: Option<Duration>,
}

impl NodeOptions {
    /// No retries, no timeout.
    pub const DEFAULT: NodeOptions = NodeOptions {
        retries: 0,
        backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(10),
        timeout: None,
    };
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions::DEFAULT
    }
}

/// What the macro knows about a call site at compile time.
#[doc(hidden)]
pub struct Info {
    pub name: &'static str,
    pub span_name: &'static str,
    pub module: &'static str,
    pub file: &'static str,
    pub line: u32,
    pub level: Level,
    pub ok_level: Level,
    pub fields: &'static [&'static str],
    pub kind: Kind,
    pub metrics: bool,
    pub log: bool,
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
    &["message", "event", "duration_ms", "error.kind", "error", "return", "attempt", "backoff_ms", "budget"];

/// The static identity of one instrumented function.
pub struct CallSite {
    info: Info,
    span: Site,
    pub(crate) ok: Site,
    pub(crate) error: Site,
    pub(crate) cancelled: Site,
    pub(crate) panicked: Site,
    pub(crate) start: Site,
    pub(crate) retry: Site,
    pub(crate) timeout: Site,
    pub(crate) budget: Site,
    pub(crate) handles: OnceLock<Handles>,
    pub(crate) flow: FlowHandles,
}

impl CallSite {
    #[doc(hidden)]
    pub const fn new(me: &'static CallSite, info: Info) -> CallSite {
        let span = Site::new(&me.span, info.span_name, info.level, info.fields, &info, TracingKind::SPAN);
        let ok = Site::new(&me.ok, info.span_name, info.ok_level, EVENT_FIELDS, &info, TracingKind::EVENT);
        let error = Site::new(&me.error, info.span_name, Level::ERROR, EVENT_FIELDS, &info, TracingKind::EVENT);
        let cancelled = Site::new(&me.cancelled, info.span_name, Level::WARN, EVENT_FIELDS, &info, TracingKind::EVENT);
        let panicked = Site::new(&me.panicked, info.span_name, Level::ERROR, EVENT_FIELDS, &info, TracingKind::EVENT);
        let start = Site::new(&me.start, info.span_name, info.ok_level, EVENT_FIELDS, &info, TracingKind::EVENT);
        let retry = Site::new(&me.retry, info.span_name, Level::WARN, EVENT_FIELDS, &info, TracingKind::EVENT);
        let timeout = Site::new(&me.timeout, info.span_name, Level::ERROR, EVENT_FIELDS, &info, TracingKind::EVENT);
        let budget = Site::new(&me.budget, info.span_name, Level::ERROR, EVENT_FIELDS, &info, TracingKind::EVENT);
        CallSite {
            info,
            span,
            ok,
            error,
            cancelled,
            panicked,
            start,
            retry,
            timeout,
            budget,
            handles: OnceLock::new(),
            flow: FlowHandles::new(),
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

    pub(crate) fn logs(&self) -> bool {
        self.info.log
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
        values[0] = Some(&self.info.name);
        values[1] = Some(&self.info.module);
        values[2] = Some(&self.info.file);
        values[3] = Some(&line);
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
            .finish()
    }
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

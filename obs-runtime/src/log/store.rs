//! obs's own span store: the subscriber `init` installs when JSON lines are
//! the only thing that reads spans (JSON format, no OTLP export), which is
//! what the quick start gives.
//!
//! tracing-subscriber's registry is built for any number of layers: each span
//! gets a type map of extensions behind a lock, a layer finds its data in it
//! by type, and every callback walks the layer stack. Creating and closing one
//! span there costs more than the rest of an instrumented call together. Here
//! a span is one slot of a pool (reused, allocations kept) holding its name,
//! its parent, a reference count and the one thing the JSON line needs, the
//! [`SpanData`], inline; the rare other marks obs keeps on a span (a logged
//! failure, a request id, a remote caller) go in a short list beside it. The
//! thread's entered spans are a stack of ids.
//!
//! The filter and the event counter still sit on it as layers (`subscriber.rs`);
//! the JSON line is written by the store itself, through the same
//! [`JsonLayer`] code the registry path uses. Code that reads or marks a span
//! (`cause.rs`, `trace/context.rs`, `trace/request_id.rs`) goes through
//! [`with_span`], which finds either store.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering, fence};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use sharded_slab::{Clear, Pool};
use thread_local::ThreadLocal;
use tracing::dispatcher::WeakDispatch;
use tracing::span::{Attributes, Id, Record};
use tracing_core::span::Current;
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_subscriber::Registry;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::json::{JsonLayer, Scope, SpanData};

/// The id handed out when the pool has no room left (it never resolves, and
/// the span it names is simply not kept): an instrumented call never panics.
const NO_SLOT: u64 = u64::MAX;

/// The subscriber: spans in a pool, each thread's entered spans on its stack,
/// lines written by `lines`.
pub(crate) struct Store {
    spans: Pool<Slot>,
    stacks: ThreadLocal<RefCell<Vec<Id>>>,
    lines: JsonLayer<BoxMakeWriter>,
    /// The dispatcher this store is part of, so that closing a span's last
    /// child closes the span through every layer (the filter keeps per-span
    /// state for span-scoped directives).
    dispatch: OnceLock<WeakDispatch>,
}

/// One span.
#[derive(Default)]
struct Slot {
    metadata: Option<&'static Metadata<'static>>,
    parent: Option<Id>,
    refs: AtomicUsize,
    state: Mutex<State>,
}

/// What is kept of a span and may change while it is open.
#[derive(Default)]
struct State {
    data: Option<SpanData>,
    /// Marks other code keeps on the span, one per type; rare, so a list.
    others: Vec<Box<dyn Any + Send + Sync>>,
}

impl Clear for Slot {
    fn clear(&mut self) {
        self.metadata = None;
        self.parent = None;
        *self.refs.get_mut() = 0;
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        // The span data stays, for its allocations; `reuse` starts it over.
        state.others.clear();
    }
}

impl State {
    fn get<T: 'static>(&self) -> Option<&T> {
        if TypeId::of::<T>() == TypeId::of::<SpanData>() {
            return (self.data.as_ref()? as &dyn Any).downcast_ref();
        }
        self.others.iter().find_map(|other| (**other).downcast_ref())
    }

    fn get_mut<T: 'static>(&mut self) -> Option<&mut T> {
        if TypeId::of::<T>() == TypeId::of::<SpanData>() {
            return (self.data.as_mut()? as &mut dyn Any).downcast_mut();
        }
        self.others.iter_mut().find_map(|other| (**other).downcast_mut())
    }

    fn set<T: Send + Sync + 'static>(&mut self, value: T) {
        match self.get_mut::<T>() {
            Some(slot) => *slot = value,
            None => self.others.push(Box::new(value)),
        }
    }
}

/// A poisoned lock (a panic in a callback elsewhere) still holds usable data.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn key_of(id: &Id) -> Option<usize> {
    let id = id.into_u64();
    (id != NO_SLOT).then(|| usize::try_from(id - 1).ok()).flatten()
}

fn id_of(key: usize) -> Id {
    // Keys are below `usize::MAX` by sharded-slab's packing, so `+ 1` is never 0 nor `NO_SLOT`.
    Id::from_u64(key as u64 + 1)
}

impl Store {
    pub(crate) fn new(lines: JsonLayer<BoxMakeWriter>) -> Store {
        Store { spans: Pool::new(), stacks: ThreadLocal::new(), lines, dispatch: OnceLock::new() }
    }

    fn slot(&self, id: &Id) -> Option<sharded_slab::pool::Ref<'_, Slot>> {
        self.spans.get(key_of(id)?)
    }

    /// The innermost span this thread has entered.
    fn current_id(&self) -> Option<Id> {
        let stack = self.stacks.get()?.try_borrow().ok()?;
        stack.last().cloned()
    }

    /// The span an event or a new span is inside of: none for a root, the
    /// given parent, or the thread's current span.
    fn parent_of(&self, root: bool, contextual: bool, explicit: Option<&Id>) -> Option<Id> {
        if root {
            None
        } else if contextual {
            self.current_id()
        } else {
            explicit.cloned()
        }
    }

    fn view(&self, id: &Id) -> Option<OwnSpan<'_>> {
        Some(OwnSpan { store: self, slot: self.slot(id)? })
    }

    /// Drops one reference to `id`; the span closes with the last. Returns whether it closed.
    fn release(&self, id: &Id) -> bool {
        let Some(slot) = self.slot(id) else { return false };
        if slot.refs.fetch_sub(1, Ordering::Release) != 1 {
            return false;
        }
        fence(Ordering::Acquire);
        let parent = slot.parent.clone();
        drop(slot);
        if let Some(key) = key_of(id) {
            self.spans.clear(key);
        }
        if let Some(parent) = parent {
            // Through the whole subscriber, so its layers hear of the parent's close too.
            match self.dispatch.get().and_then(WeakDispatch::upgrade) {
                Some(dispatch) => {
                    dispatch.try_close(parent);
                }
                None => {
                    self.release(&parent);
                }
            }
        }
        true
    }
}

impl Subscriber for Store {
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let parent = self.parent_of(attrs.is_root(), attrs.is_contextual(), attrs.parent());
        // The child holds its parent open, as in tracing-subscriber's registry.
        let parent = parent.and_then(|id| {
            let slot = self.slot(&id)?;
            slot.refs.fetch_add(1, Ordering::Relaxed);
            let trace_id = lock(&slot.state).data.as_ref().map(|data| data.ids.trace_id);
            Some((id, trace_id))
        });
        let trace_id = parent.as_ref().and_then(|(_, trace_id)| *trace_id);
        let created = self.spans.create_with(|slot| {
            slot.metadata = Some(attrs.metadata());
            slot.parent = parent.as_ref().map(|(id, _)| id.clone());
            *slot.refs.get_mut() = 1;
            let state = slot.state.get_mut().unwrap_or_else(PoisonError::into_inner);
            match &mut state.data {
                Some(data) => data.reuse(trace_id, attrs),
                None => state.data = Some(SpanData::new(trace_id, attrs)),
            }
        });
        match created {
            Some(key) => id_of(key),
            None => {
                if let Some((parent, _)) = parent {
                    self.release(&parent);
                }
                Id::from_u64(NO_SLOT)
            }
        }
    }

    fn record(&self, id: &Id, values: &Record<'_>) {
        if let Some(slot) = self.slot(id)
            && let Some(data) = &mut lock(&slot.state).data
        {
            data.record(values);
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let span = self.parent_of(event.is_root(), event.is_contextual(), event.parent()).and_then(|id| self.view(&id));
        self.lines.write_line(event, span.as_ref().map(|span| span as &dyn Scope));
    }

    fn enter(&self, id: &Id) {
        if let Ok(mut stack) = self.stacks.get_or_default().try_borrow_mut() {
            stack.push(id.clone());
        }
    }

    fn exit(&self, id: &Id) {
        let Some(stack) = self.stacks.get() else { return };
        if let Ok(mut stack) = stack.try_borrow_mut()
            && let Some(at) = stack.iter().rposition(|entered| entered == id)
        {
            stack.remove(at);
        }
    }

    fn current_span(&self) -> Current {
        let current = self.current_id().and_then(|id| {
            let metadata = self.slot(&id)?.metadata?;
            Some(Current::new(id, metadata))
        });
        current.unwrap_or_else(Current::none)
    }

    fn clone_span(&self, id: &Id) -> Id {
        if let Some(slot) = self.slot(id) {
            slot.refs.fetch_add(1, Ordering::Relaxed);
        }
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        self.release(&id)
    }
}

/// A span of the store, while it is looked at.
pub(crate) struct OwnSpan<'a> {
    store: &'a Store,
    slot: sharded_slab::pool::Ref<'a, Slot>,
}

impl Scope for OwnSpan<'_> {
    fn name(&self) -> &'static str {
        self.slot.metadata.map_or("", |metadata| metadata.name())
    }

    fn visit(&self, f: &mut dyn FnMut(usize, &SpanData)) {
        let mut depth = 0;
        let mut next = None;
        loop {
            let slot = match &next {
                None => &self.slot,
                Some(slot) => slot,
            };
            if let Some(data) = &lock(&slot.state).data {
                f(depth, data);
            }
            let Some(parent) = slot.parent.as_ref().and_then(|id| self.store.slot(id)) else { return };
            next = Some(parent);
            depth += 1;
        }
    }
}

/// One span, in whichever store holds it, for the code that reads or marks
/// spans. Values are copied out or changed in place; no lock is held after a
/// method returns.
pub(crate) enum SpanView<'a> {
    Registry(SpanRef<'a, Registry>),
    Own(OwnSpan<'a>),
}

impl<'a> SpanView<'a> {
    /// The span this one is inside of.
    pub(crate) fn parent(&self) -> Option<SpanView<'a>> {
        match self {
            SpanView::Registry(span) => span.parent().map(SpanView::Registry),
            SpanView::Own(span) => span.slot.parent.as_ref().and_then(|id| span.store.view(id)).map(SpanView::Own),
        }
    }

    /// This span, then each around it, innermost first.
    pub(crate) fn scope(self) -> impl Iterator<Item = SpanView<'a>> {
        std::iter::successors(Some(self), SpanView::parent)
    }

    /// A copy of the `T` kept on this span.
    pub(crate) fn get<T: Clone + 'static>(&self) -> Option<T> {
        match self {
            SpanView::Registry(span) => span.extensions().get::<T>().cloned(),
            SpanView::Own(span) => lock(&span.slot.state).get::<T>().cloned(),
        }
    }

    /// Runs `f` on the `T` kept on this span, if there is one.
    pub(crate) fn with_mut<T: 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        match self {
            SpanView::Registry(span) => span.extensions_mut().get_mut::<T>().map(f),
            SpanView::Own(span) => lock(&span.slot.state).get_mut::<T>().map(f),
        }
    }

    /// Whether a `T` is kept on this span.
    pub(crate) fn has<T: 'static>(&self) -> bool {
        match self {
            SpanView::Registry(span) => span.extensions().get::<T>().is_some(),
            SpanView::Own(span) => lock(&span.slot.state).get::<T>().is_some(),
        }
    }

    /// Keeps `value` on this span, replacing the `T` kept before.
    pub(crate) fn set<T: Send + Sync + 'static>(&self, value: T) {
        match self {
            SpanView::Registry(span) => {
                span.extensions_mut().replace(value);
            }
            SpanView::Own(span) => lock(&span.slot.state).set(value),
        }
    }
}

/// Runs `f` on `span` as its subscriber keeps it: obs's store, or
/// tracing-subscriber's registry (obs's subscriber with OTLP export, a test
/// capture, or the application's own registry-based one). `None` with any
/// other subscriber, or for a disabled span.
pub(crate) fn with_span<R>(span: &tracing::Span, f: impl FnOnce(SpanView<'_>) -> R) -> Option<R> {
    span.with_subscriber(|(id, dispatch)| {
        let view = match dispatch.downcast_ref::<Store>() {
            Some(store) => SpanView::Own(store.view(id)?),
            None => SpanView::Registry(dispatch.downcast_ref::<Registry>()?.span(id)?),
        };
        Some(f(view))
    })
    .flatten()
}

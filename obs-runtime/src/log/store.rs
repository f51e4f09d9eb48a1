//! obs's own span store: the subscriber `init` installs when JSON lines are
//! the only thing that reads spans (JSON format, no OTLP export), which is
//! what the quick start gives.
//!
//! tracing-subscriber's registry is built for any number of layers: each span
//! gets a type map of extensions behind a lock, a layer finds its data in it
//! by type, and every callback walks the layer stack. Creating and closing one
//! span there costs more than the rest of an instrumented call together. Here
//! a span is one slot (reused, allocations kept) holding its name,
//! its parent, a reference count and the one thing the JSON line needs, the
//! [`SpanData`], inline; the rare other marks obs keeps on a span (a logged
//! failure, a request id, a remote caller) go in a short list beside it. Slots
//! never move and are never freed, and an id carries its slot's generation,
//! so an old id finds nothing instead of another span. A thread reuses the
//! slots it freed, and keeps its entered spans as a stack of ids.
//!
//! The filter and the event counter still sit on it as layers (`subscriber.rs`);
//! the JSON line is written by the store itself, through the same
//! [`JsonLayer`] code the registry path uses. Code that reads or marks a span
//! (`cause.rs`, `trace/context.rs`, `trace/request_id.rs`) goes through
//! [`with_span`], which finds either store.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use thread_local::ThreadLocal;
use tracing::dispatcher::WeakDispatch;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_core::span::Current;
use tracing_subscriber::Registry;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::json::{JsonLayer, Scope, SpanData};

/// The id handed out when every slot is taken (it never resolves, and the
/// span it names is simply not kept): an instrumented call never panics.
const NO_SLOT: u64 = u64::MAX;

/// Slots live in buckets of doubling size (bucket `b` holds `2^b`), allocated
/// when first needed and never freed, so a slot's address is stable and any
/// id, however old, is safe to look up.
const BUCKETS: usize = 32;

/// Freed slots a thread keeps for its next spans; past twice this many it
/// hands this many to the shared list, for threads that make spans that other
/// threads close.
const BATCH: usize = 64;

/// Whether a store is the global subscriber (see [`exporter_fields_read`]).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Whether a span's fields for span exporters (`code.*`, `error.*`,
/// `otel.status_code`, `obs.outcome`) may be read: not when obs's store is
/// the global subscriber, which writes none of them into lines, unless a test
/// capture (whose registry keeps them) is active. The call path then records
/// none of them.
#[inline]
pub(crate) fn exporter_fields_read() -> bool {
    #[cfg(feature = "testing")]
    if crate::testing::capturing() {
        return true;
    }
    !INSTALLED.load(Ordering::Relaxed)
}

/// The subscriber: spans in generation-checked slots, each thread's entered
/// spans on its stack, lines written by `lines`.
pub(crate) struct Store {
    buckets: [OnceLock<Box<[Slot]>>; BUCKETS],
    /// The first slot never handed out.
    next: AtomicU64,
    /// Freed slots handed between threads.
    spare: Mutex<Vec<u32>>,
    locals: ThreadLocal<RefCell<Local>>,
    lines: JsonLayer<BoxMakeWriter>,
    /// The dispatcher this store is part of, so that closing a span's last
    /// child closes the span through every layer (the filter keeps per-span
    /// state for span-scoped directives).
    dispatch: OnceLock<WeakDispatch>,
}

/// One thread's part of the store. Aligned (like each [`Slot`]) to a pair of
/// cache lines, so that two threads writing their own never share a line:
/// `ThreadLocal` keeps the threads' values side by side.
#[derive(Default)]
#[repr(align(128))]
struct Local {
    /// The spans entered on this thread, innermost last.
    stack: Vec<Id>,
    /// Slots this thread freed, for its next spans.
    free: Vec<u32>,
}

/// One span. What is read without the lock is atomic, so that looking up an
/// old id while its slot is reused reads another span's values at worst.
#[derive(Default)]
#[repr(align(128))]
struct Slot {
    /// Part of each id; bumped when the span closes, so its ids stop resolving.
    generation: AtomicU32,
    refs: AtomicUsize,
    metadata: AtomicPtr<Metadata<'static>>,
    /// The parent's id, 0 for none.
    parent: AtomicU64,
    /// Whether `others` may hold something, so that closing a plain span takes no lock.
    marked: AtomicBool,
    state: Mutex<State>,
}

/// What is kept of a span and may change while it is open.
#[derive(Default)]
struct State {
    data: Option<SpanData>,
    /// Marks other code keeps on the span, one per type; rare, so a list.
    others: Vec<Box<dyn Any + Send + Sync>>,
}

impl Slot {
    fn metadata(&self) -> Option<&'static Metadata<'static>> {
        // SAFETY: only ever null or a `&'static Metadata` stored by `new_span`.
        unsafe { self.metadata.load(Ordering::Relaxed).as_ref() }
    }

    fn parent(&self) -> Option<Id> {
        let parent = self.parent.load(Ordering::Relaxed);
        (parent != 0).then(|| Id::from_u64(parent))
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

/// An id is the slot's generation (high half) and its index plus one (low
/// half, never 0).
fn id_of(generation: u32, index: u32) -> Id {
    Id::from_u64((u64::from(generation) << 32) | (u64::from(index) + 1))
}

/// The bucket of slot `index`, and its place in it.
fn place(index: u32) -> (usize, usize) {
    let n = u64::from(index) + 1;
    let bucket = 63 - n.leading_zeros() as usize;
    (bucket, (n - (1 << bucket)) as usize)
}

impl Store {
    /// Notes that a store is now the global subscriber.
    pub(crate) fn installed() {
        INSTALLED.store(true, Ordering::Relaxed);
    }

    pub(crate) fn new(lines: JsonLayer<BoxMakeWriter>) -> Store {
        Store {
            buckets: std::array::from_fn(|_| OnceLock::new()),
            next: AtomicU64::new(0),
            spare: Mutex::new(Vec::new()),
            locals: ThreadLocal::new(),
            lines,
            dispatch: OnceLock::new(),
        }
    }

    fn slot_at(&self, index: u32) -> Option<&Slot> {
        let (bucket, at) = place(index);
        self.buckets.get(bucket)?.get()?.get(at)
    }

    /// The slot of `id`, while `id` names the span in it.
    fn slot(&self, id: &Id) -> Option<&Slot> {
        let raw = id.into_u64();
        let index = u32::try_from(raw & u64::from(u32::MAX)).ok()?.checked_sub(1)?;
        let slot = self.slot_at(index)?;
        (slot.generation.load(Ordering::Acquire) == (raw >> 32) as u32).then_some(slot)
    }

    /// In one visit to this thread's state: its current span (when the new
    /// span is `contextual`) and a slot it freed (refilled from the shared
    /// list when it has none).
    fn current_and_free(&self, contextual: bool) -> (Option<Id>, Option<u32>) {
        let Ok(mut local) = self.locals.get_or_default().try_borrow_mut() else { return (None, None) };
        let current = if contextual { local.stack.last().cloned() } else { None };
        if local.free.is_empty()
            && let Ok(mut spare) = self.spare.try_lock()
        {
            let from = spare.len().saturating_sub(BATCH);
            local.free.extend(spare.drain(from..));
        }
        (current, local.free.pop())
    }

    /// The slot `reused`, else a new one.
    fn take_slot(&self, reused: Option<u32>) -> Option<(u32, &Slot)> {
        if let Some(index) = reused {
            return Some((index, self.slot_at(index)?));
        }
        let index = u32::try_from(self.next.fetch_add(1, Ordering::Relaxed)).ok().filter(|&i| i < u32::MAX - 1)?;
        let (bucket, at) = place(index);
        let slots = self.buckets.get(bucket)?.get_or_init(|| (0..1usize << bucket).map(|_| Slot::default()).collect());
        Some((index, slots.get(at)?))
    }

    /// Gives slot `index` back, to this thread's list (or the shared one).
    fn give_back(&self, index: u32) {
        let local = self.locals.get_or_default().try_borrow_mut().ok();
        match local {
            Some(mut local) => {
                local.free.push(index);
                if local.free.len() > 2 * BATCH {
                    let from = local.free.len() - BATCH;
                    let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
                    spare.extend(local.free.drain(from..));
                }
            }
            None => self.spare.lock().unwrap_or_else(PoisonError::into_inner).push(index),
        }
    }

    /// The innermost span this thread has entered.
    fn current_id(&self) -> Option<Id> {
        let local = self.locals.get()?.try_borrow().ok()?;
        local.stack.last().cloned()
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
        let parent = slot.parent();
        // The span data stays, for its allocations; the next span starts it over.
        if slot.marked.swap(false, Ordering::Relaxed) {
            lock(&slot.state).others.clear();
        }
        slot.generation.fetch_add(1, Ordering::Release);
        self.give_back(((id.into_u64() & u64::from(u32::MAX)) - 1) as u32);
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
        let (current, free) = self.current_and_free(attrs.is_contextual());
        let parent = if attrs.is_contextual() { current } else { attrs.parent().cloned() };
        // The child holds its parent open, as in tracing-subscriber's registry.
        let parent = parent.and_then(|id| {
            let slot = self.slot(&id)?;
            slot.refs.fetch_add(1, Ordering::Relaxed);
            let trace_id = lock(&slot.state).data.as_ref().map(|data| data.ids.trace_id);
            Some((id, trace_id))
        });
        let Some((index, slot)) = self.take_slot(free) else {
            if let Some((parent, _)) = parent {
                self.release(&parent);
            }
            return Id::from_u64(NO_SLOT);
        };
        let (parent, trace_id) = parent.map_or((0, None), |(id, trace_id)| (id.into_u64(), trace_id));
        slot.metadata.store(std::ptr::from_ref(attrs.metadata()).cast_mut(), Ordering::Relaxed);
        slot.parent.store(parent, Ordering::Relaxed);
        slot.refs.store(1, Ordering::Relaxed);
        {
            let mut state = lock(&slot.state);
            match &mut state.data {
                Some(data) => data.reuse(trace_id, attrs),
                None => state.data = Some(SpanData::new(trace_id, attrs)),
            }
        }
        id_of(slot.generation.load(Ordering::Relaxed), index)
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
        if let Ok(mut local) = self.locals.get_or_default().try_borrow_mut() {
            local.stack.push(id.clone());
        }
    }

    fn exit(&self, id: &Id) {
        let Some(local) = self.locals.get() else { return };
        if let Ok(mut local) = local.try_borrow_mut()
            && let Some(at) = local.stack.iter().rposition(|entered| entered == id)
        {
            local.stack.remove(at);
        }
    }

    fn current_span(&self) -> Current {
        let current = self.current_id().and_then(|id| {
            let metadata = self.slot(&id)?.metadata()?;
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
    slot: &'a Slot,
}

impl Scope for OwnSpan<'_> {
    fn name(&self) -> &'static str {
        self.slot.metadata().map_or("", |metadata| metadata.name())
    }

    fn visit(&self, f: &mut dyn FnMut(usize, &SpanData)) {
        let mut slot = Some(self.slot);
        let mut depth = 0;
        while let Some(span) = slot {
            if let Some(data) = &lock(&span.state).data {
                f(depth, data);
            }
            slot = span.parent().and_then(|id| self.store.slot(&id));
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
            SpanView::Own(span) => span.slot.parent().and_then(|id| span.store.view(&id)).map(SpanView::Own),
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
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
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
            SpanView::Own(span) => {
                span.slot.marked.store(true, Ordering::Relaxed);
                lock(&span.slot.state).set(value);
            }
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

#[cfg(test)]
mod tests {
    use tracing::Dispatch;
    use tracing_subscriber::fmt::writer::BoxMakeWriter;

    use super::Store;
    use crate::log::{JsonLayer, MemoryWriter};

    fn store() -> (Dispatch, MemoryWriter) {
        let out = MemoryWriter::new();
        (Dispatch::new(Store::new(JsonLayer::new("test", BoxMakeWriter::new(out.clone())))), out)
    }

    fn slots_made(dispatch: &Dispatch) -> u64 {
        dispatch.downcast_ref::<Store>().unwrap().next.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[test]
    fn a_closed_spans_id_finds_nothing_even_once_its_slot_is_reused() {
        let (dispatch, out) = store();
        tracing::dispatcher::with_default(&dispatch, || {
            let old = tracing::info_span!("old", n = 1u64);
            let old_id = old.id().unwrap();
            drop(old);
            let new = tracing::info_span!("new", n = 2u64);
            let new_id = new.id().unwrap();
            assert_eq!(slots_made(&dispatch), 1, "the second span reuses the first one's slot");
            assert_ne!(old_id, new_id);
            // An event given the old id as parent is a root: no span, no ids.
            tracing::info!(parent: old_id, "orphan");
            tracing::info!(parent: &new_id, "child");
        });
        let (text, lines) = (out.text(), out.lines());
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0].get("span"), None, "{text}");
        assert_eq!(lines[1]["span"], "new");
        assert_eq!(lines[1]["n"], 2);
    }

    #[test]
    fn a_child_keeps_its_parent_open_and_shares_its_trace() {
        let (dispatch, out) = store();
        tracing::dispatcher::with_default(&dispatch, || {
            let parent = tracing::info_span!("parent", request_id = "r-1");
            let child = parent.in_scope(|| tracing::info_span!("child", step = 3u64));
            drop(parent);
            child.in_scope(|| tracing::info!("inside"));
            drop(child);
            assert_eq!(slots_made(&dispatch), 2);
            // Both slots are free again: two more spans take no new one.
            let _a = tracing::info_span!("a");
            let _b = tracing::info_span!("b");
            assert_eq!(slots_made(&dispatch), 2);
        });
        let (text, line) = (out.text(), out.lines().remove(0));
        assert_eq!(line["span"], "child");
        assert_eq!(line["step"], 3);
        assert_eq!(line["request_id"], "r-1", "an enclosing span's id field: {text}");
        assert_eq!(line["trace_id"].as_str().unwrap().len(), 32);
    }

    #[test]
    fn spans_closed_on_another_thread_are_reused_not_leaked() {
        let (dispatch, _) = store();
        for _ in 0..50 {
            let spans: Vec<_> = tracing::dispatcher::with_default(&dispatch, || {
                (0..100).map(|i| tracing::info_span!("made here", i)).collect()
            });
            std::thread::spawn(move || drop(spans)).join().unwrap();
        }
        // 5,000 spans, at most a few batches of them open or waiting to be reused at once.
        let made = slots_made(&dispatch);
        assert!(made <= 400, "{made} slots for 100 open spans at a time");
    }
}

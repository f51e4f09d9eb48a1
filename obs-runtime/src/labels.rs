//! Metric labels taken from a function's arguments:
//! `#[observe(labels(tier = user.tier, region = req.region()))]`.
//!
//! Each value is an expression over the arguments, evaluated once per call
//! before the body runs, and the label goes on the function's calls, errors and
//! duration series. `#[workflow(labels(...))]` and `#[node(labels(...))]` work
//! the same way on their own families: once per run, and once per node call
//! (every attempt of a call counts in its series). A label stays bounded one of two ways:
//!
//! * its value's type implements [`LabelValue`] (`#[derive(LabelValue)]` on a
//!   fieldless enum): the type declares every value, so `init` registers every
//!   series at zero and the number of series is known at build time;
//! * it is a `&str` or `String`: the first
//!   [`Builder::label_values_limit`](crate::Builder::label_values_limit) values
//!   (100 unless set) of each label of each function get a series, later ones
//!   fold into `__overflow__` and are counted in `obs_overflow_total` (against
//!   the calls family of a function, the runs family of a workflow or node).
//!
//! Any other type is a compile error on the expression that says what to implement.
//!
//! The hot path hashes nothing for enum labels: a call site keeps a table of
//! series built once, and a call's label values are digits of a mixed-radix
//! index into it (each enum contributes its variant's position). A string
//! label costs one lookup in a bounded, lock-free map of the values it has seen.
//!
//! ```
//! use obs_runtime::{LabelValue, observe};
//!
//! #[derive(Clone, Copy, LabelValue)]
//! enum Tier { Free, Pro, #[label(rename = "enterprise")] Business }
//!
//! struct User { tier: Tier }
//!
//! #[observe(skip(user), labels(tier = user.tier))]
//! fn charge(user: &User, cents: u64) -> u64 { cents }
//!
//! assert_eq!(charge(&User { tier: Tier::Pro }, 5), 5);
//! assert_eq!(<Tier as LabelValue>::VALUES, ["free", "pro", "enterprise"]);
//! ```

use std::marker::PhantomData;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use metrics::Counter;

use crate::kind::Kind;

/// The label value an over-limit label folds into.
pub const OVERFLOW: &str = "__overflow__";

/// A type whose every value can be a metric label, declared up front.
/// Derive it on a fieldless enum (`#[derive(LabelValue)]`): the values are the
/// variant names in snake_case, or `#[label(rename = "...")]`.
pub trait LabelValue {
    /// Every value, in the order [`index`](LabelValue::index) numbers them.
    const VALUES: &'static [&'static str];
    /// This value's position in [`VALUES`](LabelValue::VALUES).
    fn index(&self) -> usize;
    /// The label value.
    fn as_label(&self) -> &'static str {
        Self::VALUES.get(self.index()).copied().unwrap_or(OVERFLOW)
    }
}

/// The value set of one label of a call site: declared by the type, or text capped at run time.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum Dim {
    Values(&'static [&'static str]),
    Text,
}

/// What kind of label a value type gives, as a type (so that a closure can
/// return it without borrowing anything; see `__private::label_dims`).
#[doc(hidden)]
pub trait LabelKind {
    const DIM: Dim;
}

#[doc(hidden)]
pub struct Bounded<T: ?Sized>(PhantomData<fn() -> *const T>);
impl<T: LabelValue + ?Sized> LabelKind for Bounded<T> {
    const DIM: Dim = Dim::Values(T::VALUES);
}

#[doc(hidden)]
pub struct Text;
impl LabelKind for Text {
    const DIM: Dim = Dim::Text;
}

/// A label value's kind, carried in a type only.
#[doc(hidden)]
pub struct Witness<K: ?Sized>(PhantomData<fn() -> *const K>);

impl<K: ?Sized> Witness<K> {
    pub(crate) const fn new() -> Witness<K> {
        Witness(PhantomData)
    }
}

/// One label's value as a call passes it: its kind, and the enum's position
/// or the text. Built inline from the concrete type, so it costs nothing over
/// the value itself; not generic, so a wrong type is reported once, where the value is.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct LabelRef<'a> {
    pub(crate) dim: Dim,
    pub(crate) index: usize,
    pub(crate) text: &'a str,
}

impl<'a> LabelRef<'a> {
    /// The value at `index` of an enum's `values` (what `#[derive(LabelValue)]` passes).
    #[inline(always)]
    pub const fn bounded(values: &'static [&'static str], index: usize) -> LabelRef<'a> {
        LabelRef { dim: Dim::Values(values), index, text: "" }
    }

    #[inline(always)]
    pub(crate) fn of<T: LabelDigit + ?Sized>(value: &'a T) -> LabelRef<'a> {
        value.label_ref()
    }

    #[inline(always)]
    fn digit(&self, dim: &DimTable) -> usize {
        match self.dim {
            // A hand-written `index` past `VALUES` must not reach past the table.
            Dim::Values(_) => self.index.min(dim.radix - 1),
            Dim::Text => dim.text_digit(self.text),
        }
    }
}

/// Implemented by every type a label's value may have (`__private` names it in
/// the error a wrong type gets): the text types here, and each enum that
/// derives [`LabelValue`] (the derive writes both impls).
#[doc(hidden)]
pub trait LabelDigit {
    type Kind: LabelKind + 'static;
    /// The value as a call passes it.
    fn label_ref(&self) -> LabelRef<'_>;
}

/// A value behind a reference is the value's label (`&Tier`, `&&str`).
impl<T: LabelDigit + ?Sized> LabelDigit for &T {
    type Kind = T::Kind;
    #[inline(always)]
    fn label_ref(&self) -> LabelRef<'_> {
        (**self).label_ref()
    }
}

macro_rules! text_label {
    ($($ty:ty),*) => {$(
        impl LabelDigit for $ty {
            type Kind = Text;
            #[inline(always)]
            fn label_ref(&self) -> LabelRef<'_> {
                let text: &str = self.as_ref();
                LabelRef { dim: Dim::Text, index: 0, text }
            }
        }
    )*};
}
text_label!(str, String, Box<str>, std::sync::Arc<str>, std::borrow::Cow<'_, str>);

/// The most labels one function can have (keep in step with the macro's check).
pub const MAX_LABELS: usize = 8;

/// The most series one call site's labels may span; string labels get fewer
/// values each when their limits multiply past it.
const MAX_SERIES_PER_SITE: usize = 1 << 14;

/// The index of a call that has no label series (before `init`, or metrics off).
#[doc(hidden)]
pub const UNLABELLED: usize = usize::MAX;

/// What start-up tells the label tables: the per-label limit of string values
/// and where folded values are counted (`obs_overflow_total{metric=...}` naming
/// the calls family of functions, the runs family of workflows and of nodes).
pub(crate) struct Limits {
    pub values: usize,
    pub function_overflow: Counter,
    pub workflow_overflow: Counter,
    pub node_overflow: Counter,
}

impl Limits {
    fn overflow(&self, kind: Kind) -> Counter {
        match kind {
            Kind::Workflow => self.workflow_overflow.clone(),
            Kind::Node => self.node_overflow.clone(),
            _ => self.function_overflow.clone(),
        }
    }
}

static LIMITS: OnceLock<Limits> = OnceLock::new();

/// Called once by `metrics::activate`.
pub(crate) fn configure(limits: Limits) {
    let _ = LIMITS.set(limits);
}

/// The static a labelled call site declares beside its `CallSite`: the label
/// names and, when the macro could name the values' types in a static, their
/// value sets (so `init` registers every series at zero).
#[doc(hidden)]
pub struct LabelSite {
    names: &'static [&'static str],
    dims: Option<&'static [Dim]>,
    /// The kind of the call site the labels belong to (which family its folded values are counted against).
    kind: Kind,
    table: OnceLock<LabelTable>,
}

impl LabelSite {
    pub const fn new(names: &'static [&'static str], dims: Option<&'static [Dim]>, kind: Kind) -> LabelSite {
        LabelSite { names, dims, kind, table: OnceLock::new() }
    }

    /// The label names, in the order of `labels(...)`.
    pub fn names(&self) -> &'static [&'static str] {
        self.names
    }

    /// The index of the series `values` select (a mixed-radix number, one
    /// digit per label); [`UNLABELLED`] before `init`.
    #[inline]
    pub fn index<const N: usize>(&'static self, values: [LabelRef<'_>; N]) -> usize {
        let table = match self.table.get() {
            Some(table) => table,
            None => match self.build(&values.map(|v| v.dim)) {
                Some(table) => table,
                None => return UNLABELLED,
            },
        };
        // Enums only: every radix is its type's `VALUES.len()`, a constant once this is
        // inlined into the call site, so the index folds to a few multiply-adds and the
        // table is not read (it numbers its series the same way, `LabelTable::new`).
        if values.iter().all(|v| matches!(v.dim, Dim::Values(_))) {
            let (mut index, mut stride) = (0, 1);
            for value in &values {
                if let Dim::Values(all) = value.dim {
                    let radix = all.len().max(1);
                    index += value.index.min(radix - 1) * stride;
                    stride *= radix;
                }
            }
            return index;
        }
        let mut index = 0;
        for (value, dim) in values.iter().zip(table.dims.iter()) {
            index += value.digit(dim) * dim.stride;
        }
        index
    }

    /// The table, built from the dims known in the static or else from the first call's.
    #[cold]
    fn build(&'static self, dims: &[Dim]) -> Option<&'static LabelTable> {
        let limits = LIMITS.get()?;
        let dims = self.dims.unwrap_or(dims);
        Some(self.table.get_or_init(|| LabelTable::new(self.names, dims, limits.values, limits.overflow(self.kind))))
    }

    /// The table, when the static names the dims or a call built it.
    pub(crate) fn table(&'static self) -> Option<&'static LabelTable> {
        match (self.table.get(), self.dims) {
            (Some(table), _) => Some(table),
            (None, Some(dims)) => self.build(dims),
            (None, None) => None,
        }
    }
}

/// One call site's labels: a place per label in the mixed-radix index of its series.
pub struct LabelTable {
    names: &'static [&'static str],
    dims: Box<[DimTable]>,
    len: usize,
}

impl LabelTable {
    fn new(names: &'static [&'static str], dims: &[Dim], limit: usize, overflow: Counter) -> LabelTable {
        let bounded: usize = dims
            .iter()
            .map(|d| match d {
                Dim::Values(values) => values.len().max(1),
                Dim::Text => 1,
            })
            .product();
        let texts = dims.iter().filter(|d| matches!(d, Dim::Text)).count() as u32;
        // Each string label gets `limit` values plus `__overflow__`, as many as fit the site's cap.
        let mut limit = limit.max(1);
        while texts > 0 && limit > 1 && bounded.saturating_mul((limit + 1).saturating_pow(texts)) > MAX_SERIES_PER_SITE
        {
            limit -= 1;
        }
        let mut stride = 1;
        let dims: Box<[DimTable]> = dims
            .iter()
            .map(|&dim| {
                let (radix, text) = match dim {
                    Dim::Values(values) => (values.len().max(1), None),
                    Dim::Text => (limit + 1, Some(TextValues::new(limit, overflow.clone()))),
                };
                let table = DimTable { stride, radix, dim, text };
                stride *= radix;
                table
            })
            .collect();
        LabelTable { names, dims, len: stride }
    }

    /// How many series the labels span.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether every value is known now (no string label): then all series exist from `init`.
    pub(crate) fn all_known(&self) -> bool {
        self.dims.iter().all(|d| d.text.is_none())
    }

    /// The `(name, value)` pairs of series `index`, in the order of `labels(...)`.
    pub(crate) fn values(&self, index: usize) -> Vec<(&'static str, &'static str)> {
        self.names
            .iter()
            .zip(self.dims.iter())
            .map(|(&name, dim)| {
                let digit = (index / dim.stride) % dim.radix;
                let value = match (&dim.dim, &dim.text) {
                    (Dim::Values(values), _) => values.get(digit).copied().unwrap_or(OVERFLOW),
                    (Dim::Text, Some(text)) => text.value(digit),
                    (Dim::Text, None) => OVERFLOW,
                };
                (name, value)
            })
            .collect()
    }
}

/// One label's place in the index.
#[doc(hidden)]
pub struct DimTable {
    stride: usize,
    radix: usize,
    dim: Dim,
    text: Option<TextValues>,
}

impl DimTable {
    #[inline]
    fn text_digit(&self, text: &str) -> usize {
        match &self.text {
            Some(values) => values.digit(text),
            None => 0,
        }
    }
}

/// The values a string label has seen, at most `limit`: an insert-only
/// open-addressing table read without a lock (an entry, once published, never
/// changes); adding takes the lock, and once full nothing is added again.
struct TextValues {
    limit: usize,
    slots: Box<[AtomicPtr<Entry>]>,
    by_digit: Box<[OnceLock<&'static str>]>,
    len: AtomicUsize,
    adding: Mutex<()>,
    overflow: Counter,
}

struct Entry {
    hash: u64,
    text: &'static str,
    digit: usize,
}

impl TextValues {
    fn new(limit: usize, overflow: Counter) -> TextValues {
        // At most half full, so a probe always ends at an empty slot.
        let size = (limit * 2).next_power_of_two().max(8);
        TextValues {
            limit,
            slots: (0..size).map(|_| AtomicPtr::new(std::ptr::null_mut())).collect(),
            by_digit: (0..limit).map(|_| OnceLock::new()).collect(),
            len: AtomicUsize::new(0),
            adding: Mutex::new(()),
            overflow,
        }
    }

    #[inline]
    fn digit(&self, text: &str) -> usize {
        let hash = hash(text);
        if let Some(digit) = self.find(hash, text) {
            return digit;
        }
        self.add(hash, text)
    }

    #[inline]
    fn find(&self, hash: u64, text: &str) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        loop {
            let entry = self.slots[at].load(Ordering::Acquire);
            if entry.is_null() {
                return None;
            }
            // SAFETY: entries are leaked on insertion and never freed or changed.
            let entry = unsafe { &*entry };
            if entry.hash == hash && entry.text == text {
                return Some(entry.digit);
            }
            at = (at + 1) & mask;
        }
    }

    #[cold]
    fn add(&self, hash: u64, text: &str) -> usize {
        if self.len.load(Ordering::Relaxed) >= self.limit {
            self.overflow.increment(1);
            return self.limit;
        }
        let _adding = self.adding.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(digit) = self.find(hash, text) {
            return digit;
        }
        let digit = self.len.load(Ordering::Relaxed);
        if digit >= self.limit {
            self.overflow.increment(1);
            return self.limit;
        }
        let text: &'static str = Box::leak(text.into());
        let _ = self.by_digit[digit].set(text);
        let entry = Box::into_raw(Box::new(Entry { hash, text, digit }));
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        while !self.slots[at].load(Ordering::Relaxed).is_null() {
            at = (at + 1) & mask;
        }
        self.slots[at].store(entry, Ordering::Release);
        self.len.store(digit + 1, Ordering::Relaxed);
        digit
    }

    fn value(&self, digit: usize) -> &'static str {
        self.by_digit.get(digit).and_then(|v| v.get().copied()).unwrap_or(OVERFLOW)
    }
}

/// A fast hash for short label values (FxHash's mixing, eight bytes at a
/// time); the table is bounded, so a poor distribution costs probes, never memory.
#[inline]
fn hash(text: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut hash = text.len() as u64;
    let mut chunks = text.as_bytes().chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        hash = (hash.rotate_left(5) ^ word).wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    hash = (hash.rotate_left(5) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    hash ^ (hash >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy)]
    enum Tier {
        Free,
        Pro,
    }
    impl LabelValue for Tier {
        const VALUES: &'static [&'static str] = &["free", "pro"];
        fn index(&self) -> usize {
            *self as usize
        }
    }
    impl LabelDigit for Tier {
        type Kind = Bounded<Tier>;
        fn label_ref(&self) -> LabelRef<'_> {
            LabelRef::bounded(Self::VALUES, self.index())
        }
    }

    fn table(dims: &[Dim], limit: usize) -> LabelTable {
        LabelTable::new(&["tier", "region"], dims, limit, Counter::noop())
    }

    #[test]
    fn enum_and_text_values_index_distinct_series_and_decode_back() {
        let t = table(&[Dim::Values(Tier::VALUES), Dim::Text], 2);
        assert_eq!(t.len(), 2 * 3);
        let at = |tier: Tier, region: &str| {
            let values = [LabelRef::of(&tier), LabelRef::of(region)];
            values.iter().zip(t.dims.iter()).map(|(v, d)| v.digit(d) * d.stride).sum::<usize>()
        };
        let a = at(Tier::Pro, "eu");
        let b = at(Tier::Free, "us");
        let c = at(Tier::Pro, "us");
        assert_eq!(at(Tier::Pro, "eu"), a);
        assert_eq!([a, b, c].iter().collect::<std::collections::HashSet<_>>().len(), 3);
        assert_eq!(t.values(a), [("tier", "pro"), ("region", "eu")]);
        assert_eq!(t.values(b), [("tier", "free"), ("region", "us")]);
        // A third region folds into `__overflow__`, and stays folded.
        let folded = at(Tier::Free, "ap");
        assert_eq!(t.values(folded), [("tier", "free"), ("region", OVERFLOW)]);
        assert_eq!(at(Tier::Free, "sa"), folded);
        assert!(!t.all_known());
    }

    #[derive(Clone, Copy)]
    enum Channel {
        Web,
        App,
        Phone,
    }
    impl LabelValue for Channel {
        const VALUES: &'static [&'static str] = &["web", "app", "phone"];
        fn index(&self) -> usize {
            *self as usize
        }
    }
    impl LabelDigit for Channel {
        type Kind = Bounded<Channel>;
        fn label_ref(&self) -> LabelRef<'_> {
            LabelRef::bounded(Self::VALUES, self.index())
        }
    }

    #[test]
    fn enum_labels_index_without_the_table_the_series_the_table_decodes() {
        configure(Limits {
            values: 2,
            function_overflow: Counter::noop(),
            workflow_overflow: Counter::noop(),
            node_overflow: Counter::noop(),
        });
        static SITE: LabelSite = LabelSite::new(&["tier", "channel"], None, Kind::Function);
        let mut seen = std::collections::HashSet::new();
        for tier in [Tier::Free, Tier::Pro] {
            for channel in [Channel::Web, Channel::App, Channel::Phone] {
                let index = SITE.index([LabelRef::of(&tier), LabelRef::of(&channel)]);
                let table = SITE.table().expect("built by the first call");
                let decoded = table.values(index);
                assert_eq!(decoded, [("tier", tier.as_label()), ("channel", channel.as_label())]);
                assert!(seen.insert(index));
            }
        }
        assert_eq!(seen.len(), SITE.table().map_or(0, LabelTable::len));
        // A hand-written `index` past `VALUES` stays inside the table.
        let past = LabelRef::bounded(Tier::VALUES, 7);
        let index = SITE.index([past, LabelRef::of(&Channel::Phone)]);
        assert_eq!(SITE.table().map(|t| t.values(index)), Some(vec![("tier", "pro"), ("channel", "phone")]));
    }

    #[test]
    fn string_limits_shrink_until_the_site_fits_its_series_cap() {
        let t = LabelTable::new(&["a", "b", "c"], &[Dim::Text, Dim::Text, Dim::Text], 100, Counter::noop());
        assert!(t.len() <= MAX_SERIES_PER_SITE, "{}", t.len());
        assert!(t.len() > MAX_SERIES_PER_SITE / 2, "{}", t.len());
    }

    #[test]
    fn many_values_hash_into_their_own_digits() {
        let t = TextValues::new(100, Counter::noop());
        let names: Vec<String> = (0..100).map(|i| format!("value-{i}")).collect();
        let digits: Vec<usize> = names.iter().map(|n| t.digit(n)).collect();
        assert_eq!(digits, (0..100).collect::<Vec<_>>());
        assert_eq!(names.iter().map(|n| t.digit(n)).collect::<Vec<_>>(), digits);
        assert_eq!(t.digit("one more"), 100);
        assert_eq!(t.value(42), "value-42");
    }
}

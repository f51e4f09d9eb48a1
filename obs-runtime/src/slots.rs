//! An append-only list of at most `N` entries, read without a lock: an entry
//! is written once and never changes, so readers only load the length. Adding
//! takes the list's own lock, so two callers racing to add the same entry add
//! it once. Call sites cache what they resolved in these (error kinds, learned
//! graph edges) so that the hot path finds it with no lock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

pub(crate) struct Slots<T, const N: usize> {
    slots: [OnceLock<T>; N],
    len: AtomicUsize,
    adding: Mutex<()>,
}

impl<T, const N: usize> Slots<T, N> {
    pub(crate) const fn new() -> Self {
        Slots { slots: [const { OnceLock::new() }; N], len: AtomicUsize::new(0), adding: Mutex::new(()) }
    }

    /// The first entry `matches` accepts.
    #[inline]
    pub(crate) fn find(&self, matches: impl Fn(&T) -> bool) -> Option<&T> {
        let len = self.len.load(Ordering::Acquire);
        self.slots[..len].iter().filter_map(OnceLock::get).find(|entry| matches(entry))
    }

    /// The entry `matches` accepts, or the one `make` builds (given how many
    /// entries there are) and stores; `None`, building nothing, when the list is full.
    pub(crate) fn get_or_add(&self, matches: impl Fn(&T) -> bool, make: impl FnOnce(usize) -> T) -> Option<&T> {
        if let Some(found) = self.find(&matches) {
            return Some(found);
        }
        let _adding = self.adding.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = self.find(&matches) {
            return Some(found);
        }
        let len = self.len.load(Ordering::Acquire);
        if len == N {
            return None;
        }
        let stored = self.slots[len].get_or_init(|| make(len));
        self.len.store(len + 1, Ordering::Release);
        Some(stored)
    }

    /// The entry added last.
    pub(crate) fn last(&self) -> Option<&T> {
        self.len.load(Ordering::Acquire).checked_sub(1).and_then(|i| self.slots[i].get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_added_once_and_found_until_the_list_is_full() {
        let slots: Slots<u32, 2> = Slots::new();
        assert_eq!(slots.get_or_add(|v| *v == 7, |_| 7), Some(&7));
        assert_eq!(slots.get_or_add(|v| *v == 7, |_| unreachable!("found, not built")), Some(&7));
        assert_eq!(slots.get_or_add(|v| *v == 9, |len| 8 + len as u32), Some(&9));
        assert_eq!(slots.get_or_add(|v| *v == 5, |_| unreachable!("full, not built")), None);
        assert_eq!((slots.find(|v| *v == 9), slots.last()), (Some(&9), Some(&9)));
    }
}

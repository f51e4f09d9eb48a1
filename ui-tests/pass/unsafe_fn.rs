// Generated code adds no warning to the user's (every pass case).
#![deny(warnings)]
#![deny(unsafe_op_in_unsafe_fn)]

use obs_runtime::observe;

/// # Safety
/// `ptr` must be valid for reads.
#[observe]
unsafe fn read(ptr: *const u32) -> u32 {
    // SAFETY: the caller promises `ptr` is valid.
    unsafe { *ptr }
}

/// # Safety
/// `ptr` must be valid for reads.
#[observe]
async unsafe fn read_later(ptr: *const u32) -> u32 {
    // SAFETY: the caller promises `ptr` is valid.
    unsafe { *ptr }
}

/// # Safety
/// `ptr` must be valid for reads.
// Edition 2021 style: the body relies on the function being an unsafe context.
#[observe]
#[allow(unsafe_op_in_unsafe_fn)]
unsafe fn read_unchecked(ptr: *const u32) -> u32 {
    *ptr
}

struct Raw(*mut u32);

impl Raw {
    /// # Safety
    /// The pointer must be valid for writes.
    #[observe(skip(self))]
    unsafe fn write(&self, value: u32) {
        // SAFETY: the caller promises the pointer is valid.
        unsafe { *self.0 = value }
    }
}

fn main() {
    let mut value = 7;
    // SAFETY: `value` is a live local.
    assert_eq!(unsafe { read(&value) }, 7);
    // SAFETY: as above; the future is dropped without being polled.
    drop(unsafe { read_later(&value) });
    // SAFETY: `value` is a live local.
    assert_eq!(unsafe { read_unchecked(&value) }, 7);
    let raw = Raw(&mut value);
    // SAFETY: `value` is a live local.
    unsafe { raw.write(9) };
    assert_eq!(value, 9);
}

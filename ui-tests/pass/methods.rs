// Generated code adds no warning to the user's (every pass case).
#![deny(warnings)]
use obs_runtime::observe;

#[derive(Debug, Default)]
struct Counter {
    count: u32,
}

impl Counter {
    #[observe]
    fn get(&self) -> u32 {
        self.count
    }

    #[observe]
    fn count_mut(&mut self) -> &mut u32 {
        &mut self.count
    }

    #[observe]
    fn bump(&mut self, by: u32) {
        self.count += by;
    }

    #[observe]
    fn into_count(self) -> u32 {
        self.count
    }

    #[observe]
    async fn get_later(&self) -> u32 {
        self.count
    }

    #[observe]
    fn new_default() -> Self {
        Self::default()
    }
}

// `self` is recorded like any argument, so a receiver that is not `Debug` is skipped.
struct Opaque(u32);

impl Opaque {
    #[observe(skip(self))]
    fn get(&self) -> u32 {
        self.0
    }

    #[observe(skip(self))]
    fn set(&mut self, value: u32) {
        self.0 = value;
    }

    #[observe(skip_all)]
    fn take(self) -> u32 {
        self.0
    }
}

fn main() {
    let mut counter = Counter::new_default();
    counter.bump(1);
    *counter.count_mut() += 1;
    assert_eq!(counter.get(), 2);
    let _ = counter.get_later();
    assert_eq!(counter.into_count(), 2);

    let mut opaque = Opaque(1);
    opaque.set(5);
    assert_eq!(opaque.get(), 5);
    assert_eq!(opaque.take(), 5);
}

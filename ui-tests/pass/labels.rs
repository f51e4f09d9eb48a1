use obs_runtime::{LabelValue, observe};

#[derive(Clone, Copy, LabelValue)]
enum Tier {
    Free,
    #[label(rename = "paid")]
    Pro,
}

struct Request {
    region: String,
}

impl Request {
    fn region(&self) -> &str {
        &self.region
    }
}

// Values evaluated before the body moves the arguments, of every accepted type.
#[observe(skip_all, labels(tier = tier, region = req.region(), owned = req.region.clone(), literal = "x"))]
async fn handle(tier: Tier, req: Request) -> String {
    req.region
}

struct Service<T> {
    inner: T,
}

impl<T: Send + Sync> Service<T> {
    #[observe(skip_all, labels(tier = tier))]
    fn call<'a>(&'a self, tier: Tier, _extra: &'a T) -> &'a T {
        &self.inner
    }
}

#[observe(skip_all, labels(kind = value.as_ref()))]
fn generic<S: AsRef<str>>(value: S) -> usize {
    value.as_ref().len()
}

fn main() {
    let _ = handle(Tier::Pro, Request { region: "eu".into() });
    let service = Service { inner: 1u8 };
    let _ = service.call(Tier::Free, &2);
    let _ = generic("x");
}

use obs_runtime::observe;

struct User {
    id: u64,
    tier: Tier,
}

enum Tier {
    Free,
}

// A number is unbounded, and an enum is a label only once it derives `LabelValue`.
#[observe(skip(user), labels(user_id = user.id, tier = user.tier))]
fn charge(user: User) {
    let _ = (user.id, matches!(user.tier, Tier::Free));
}

fn main() {}

use obs_runtime::observe;

#[observe(skip(user, pasword))]
fn login(user: &str, password: &str) -> bool {
    user.len() == password.len()
}

struct Db;

impl Db {
    #[observe(skip(this))]
    fn query(&self) {}
}

#[observe(reveal(tokn))]
fn authorize(token: &str) -> bool {
    !token.is_empty()
}

fn main() {}

use obs_runtime::observe;

struct Connection;

#[observe]
fn send(conn: &Connection, bytes: &[u8]) -> usize {
    let _ = conn;
    bytes.len()
}

struct Pool;

impl Pool {
    // `self` is recorded only when asked for.
    #[observe(reveal(self))]
    fn acquire(&self) {}
}

fn main() {}

use obs_runtime::observe;

struct Connection;

#[observe]
fn send(conn: &Connection, bytes: &[u8]) -> usize {
    let _ = conn;
    bytes.len()
}

struct Pool;

impl Pool {
    #[observe]
    fn acquire(&self) {}
}

fn main() {}

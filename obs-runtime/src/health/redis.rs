//! `RedisCheck` (feature `redis`): `PING` and `INFO memory` over the Redis
//! protocol. Two commands do not justify a client library and its dependencies.

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use super::{Check, CheckResult};

/// The longest reply line read (a status, an error, a length): a server that
/// sends an endless line fails the check instead of filling memory.
const MAX_LINE: u64 = 64 * 1024;
/// The largest bulk reply accepted (`INFO memory` is about 1 KiB): the length
/// comes from the server and is never trusted for an allocation.
const MAX_BULK: usize = 1024 * 1024;

/// Healthy when Redis answers `PING` with `PONG`; reports used memory.
///
/// ```
/// let check = obs_runtime::health::RedisCheck::new("redis://127.0.0.1:6379");
/// let with_password = obs_runtime::health::RedisCheck::new("redis://:secret@cache.internal:6379");
/// ```
#[derive(Clone)]
pub struct RedisCheck {
    url: String,
}

impl std::fmt::Debug for RedisCheck {
    // The URL may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisCheck")
    }
}

struct Target {
    address: String,
    user: Option<String>,
    password: Option<String>,
}

impl RedisCheck {
    /// `redis://[[user]:password@]host[:port][/db]` (plain TCP; `rediss://` is not supported).
    pub fn new(url: impl Into<String>) -> Self {
        RedisCheck { url: url.into() }
    }

    fn target(&self) -> Result<Target, String> {
        let rest = self.url.strip_prefix("redis://").ok_or("only redis:// urls are supported")?;
        // Credentials first: a password may hold `/` (or `@`), the host and port never do.
        let (credentials, host) = match rest.rsplit_once('@') {
            Some((credentials, host)) => (Some(credentials), host),
            None => (None, rest),
        };
        let host = host.split('/').next().unwrap_or_default();
        let (user, password) = match credentials.map(|c| c.split_once(':').unwrap_or(("", c))) {
            Some((user, password)) => ((!user.is_empty()).then(|| user.to_owned()), Some(password.to_owned())),
            None => (None, None),
        };
        let address = if host.contains(':') { host.to_owned() } else { format!("{host}:6379") };
        Ok(Target { address, user, password })
    }

    async fn run(&self) -> Result<CheckResult, String> {
        let target = self.target()?;
        let address = &target.address;
        let stream =
            TcpStream::connect(address).await.map_err(|e| format!("cannot connect to redis at {address}: {e}"))?;
        let mut conn = BufReader::new(stream);
        if let Some(password) = &target.password {
            let mut auth = vec!["AUTH"];
            auth.extend(target.user.as_deref());
            auth.push(password);
            command(&mut conn, &auth).await.map_err(|e| format!("redis AUTH failed: {e}"))?;
        }
        let pong = command(&mut conn, &["PING"]).await.map_err(|e| format!("redis PING failed: {e}"))?;
        if pong != "PONG" {
            return Err(format!("redis answered PING with {:?}", short(&pong)));
        }
        let info = command(&mut conn, &["INFO", "memory"]).await.map_err(|e| format!("redis INFO failed: {e}"))?;
        let field = |name: &str| info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':').map(str::trim));
        let mut result = CheckResult::healthy();
        if let Some(bytes) = field("used_memory").and_then(|v| v.parse::<u64>().ok()) {
            result = result.with_detail("used_memory_bytes", bytes);
        }
        if let Some(human) = field("used_memory_human") {
            result = result.with_detail("used_memory_human", human.to_owned());
        }
        Ok(result)
    }
}

impl Check for RedisCheck {
    async fn check(&self) -> CheckResult {
        self.run().await.unwrap_or_else(CheckResult::unhealthy)
    }
}

/// Sends one command and reads a simple string, error or bulk string reply.
async fn command(conn: &mut BufReader<TcpStream>, args: &[&str]) -> Result<String, String> {
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    conn.get_mut().write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut line = String::new();
    if (&mut *conn).take(MAX_LINE).read_line(&mut line).await.map_err(|e| e.to_string())? == 0 {
        return Err("connection closed".to_owned());
    }
    if !line.ends_with('\n') {
        return Err(format!("reply line longer than {} KiB", MAX_LINE / 1024));
    }
    let line = line.trim_end();
    match line.split_at_checked(1) {
        Some(("+", text)) => Ok(text.to_owned()),
        // An error reply is the server's text: a sensible start of it, never 64 KiB of it.
        Some(("-", text)) => Err(short(text).to_owned()),
        Some(("$", len)) => {
            let len: usize = len.parse().map_err(|_| format!("bad reply length {:?}", short(len)))?;
            if len > MAX_BULK {
                return Err(format!("reply of {len} bytes is larger than the {} MiB limit", MAX_BULK / (1024 * 1024)));
            }
            let mut body = vec![0; len + 2];
            conn.read_exact(&mut body).await.map_err(|e| e.to_string())?;
            body.truncate(len);
            String::from_utf8(body).map_err(|_| "reply is not utf-8".to_owned())
        }
        _ => Err(format!("unexpected reply {:?}", short(line))),
    }
}

/// The start of a server's reply, for an error message of a sensible size: at
/// most 80 bytes (not characters: 80 two-byte characters would quote 160), cut
/// on a character boundary.
fn short(text: &str) -> &str {
    let mut end = text.len().min(80);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn a_quoted_reply_is_at_most_80_bytes_and_whole_characters() {
        let wide = "¡".repeat(100);
        assert_eq!(short(&wide).len(), 80);
        assert_eq!(short(&format!("x{wide}")).len(), 79, "a character is not cut in half");
        assert_eq!(short("-ERR short"), "-ERR short");
    }
}

//! `PostgresCheck` (feature `postgres`): connect, `SELECT 1`, count connections.

use super::{Check, CheckResult};

/// Healthy when PostgreSQL accepts a connection and answers `SELECT 1`.
/// Reports the server version and the number of active connections. Each
/// check opens its own connection (without TLS), so it sees what a new client
/// of the pool would see.
///
/// ```
/// let check = obs_runtime::health::PostgresCheck::new("host=127.0.0.1 port=5432 user=app dbname=app");
/// ```
#[derive(Clone)]
pub struct PostgresCheck {
    config: String,
}

impl std::fmt::Debug for PostgresCheck {
    // The connection string may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresCheck")
    }
}

impl PostgresCheck {
    /// A libpq-style connection string (`host=... port=... user=...`) or a
    /// `postgresql://` URL.
    pub fn new(config: impl Into<String>) -> Self {
        PostgresCheck { config: config.into() }
    }

    async fn run(&self) -> Result<CheckResult, String> {
        let config: tokio_postgres::Config =
            self.config.parse().map_err(|e| format!("invalid postgres connection string: {e}"))?;
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("cannot connect to postgres: {}", chain(&e)))?;
        let query = async {
            client.simple_query("SELECT 1").await.map_err(|e| format!("SELECT 1 failed: {}", chain(&e)))?;
            let row = client
                .query_one("SELECT count(*)::bigint, current_setting('server_version') FROM pg_stat_activity", &[])
                .await
                .map_err(|e| format!("reading pg_stat_activity failed: {}", chain(&e)))?;
            let (connections, version): (i64, String) = (row.get(0), row.get(1));
            Ok(CheckResult::healthy()
                .with_detail("active_connections", connections)
                .with_detail("server_version", version))
        };
        // The connection is driven alongside the queries and closed when they end.
        match futures_util::future::select(std::pin::pin!(query), connection).await {
            futures_util::future::Either::Left((result, _)) => result,
            futures_util::future::Either::Right((closed, _)) => Err(match closed {
                Ok(()) => "postgres closed the connection".to_owned(),
                Err(e) => format!("postgres connection failed: {}", chain(&e)),
            }),
        }
    }
}

impl Check for PostgresCheck {
    async fn check(&self) -> CheckResult {
        self.run().await.unwrap_or_else(CheckResult::unhealthy)
    }
}

/// The error and its sources: tokio-postgres puts the useful part (connection refused) in the source.
fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

//! `PostgresCheck` and `RedisCheck` against real servers, started here on free
//! ports in temporary directories: healthy, then stopped (unhealthy, with an
//! error that says why), then restarted (healthy again). Every server started
//! is stopped by a drop guard, also when an assertion fails.
//!
//! Needs the Debian packages `postgresql` and `redis-server`
//! (`scripts/install-test-deps.sh`); fails, rather than skipping, without them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use obs_runtime::health::{Check, HealthStatus, PostgresCheck, RedisCheck};

const MISSING: &str =
    "install the test servers with scripts/install-test-deps.sh (Debian packages postgresql, redis-server)";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let path = std::env::temp_dir().join(format!("obs-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(command: &mut Command) -> std::process::Output {
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A PostgreSQL cluster in a temporary directory, stopped on drop. PostgreSQL
/// refuses to run as root, so as root the cluster belongs to the `postgres` user.
struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_root: bool,
    running: bool,
    _dir: TempDir,
}

impl Postgres {
    fn bin_dir() -> PathBuf {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .unwrap_or_else(|_| panic!("no /usr/lib/postgresql: {MISSING}"))
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .collect();
        dirs.sort();
        dirs.pop().unwrap_or_else(|| panic!("no initdb under /usr/lib/postgresql/*/bin: {MISSING}"))
    }

    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if self.as_root {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn init() -> Postgres {
        let dir = TempDir::new("pg");
        let as_root = running_as_root();
        if as_root {
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir.0));
        }
        let mut pg = Postgres {
            bin: Self::bin_dir(),
            data: dir.0.join("data"),
            port: free_port(),
            as_root,
            running: false,
            _dir: dir,
        };
        run(pg.command("initdb").args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "-D"]).arg(&pg.data));
        pg.start();
        pg
    }

    fn start(&mut self) {
        let options = format!("-p {} -h 127.0.0.1 -k {} -c fsync=off", self.port, self._dir.0.display());
        let log = self._dir.0.join("server.log");
        run(self
            .command("pg_ctl")
            .args(["-w", "-t", "30", "-D"])
            .arg(&self.data)
            .arg("-l")
            .arg(&log)
            .args(["-o", &options, "start"]));
        self.running = true;
    }

    fn stop(&mut self) {
        run(self.command("pg_ctl").args(["-w", "-m", "immediate", "-D"]).arg(&self.data).arg("stop"));
        self.running = false;
    }

    fn check(&self) -> PostgresCheck {
        PostgresCheck::new(format!("host=127.0.0.1 port={} user=postgres dbname=postgres connect_timeout=5", self.port))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let _ = self.command("pg_ctl").args(["-m", "immediate", "-D"]).arg(&self.data).arg("stop").output();
        }
    }
}

fn running_as_root() -> bool {
    // The uid of /proc/self is the process's effective uid.
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0
}

/// A redis-server child process in a temporary directory, killed on drop.
struct Redis {
    port: u16,
    child: Option<Child>,
    dir: TempDir,
}

impl Redis {
    fn start_new() -> Redis {
        let mut redis = Redis { port: free_port(), child: None, dir: TempDir::new("redis") };
        redis.start();
        redis
    }

    fn start(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e}): {MISSING}"));
        self.child = Some(child);
        wait_for_port(self.port, &self.dir.0);
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn check(&self) -> RedisCheck {
        RedisCheck::new(format!("redis://127.0.0.1:{}", self.port))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_for_port(port: u16, what: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server for {} did not open port {port}", what.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn postgres_check_follows_the_server_down_and_back_up() {
    let mut pg = Postgres::init();
    let check = pg.check();

    let up = block_on(check.check());
    assert_eq!(up.status(), HealthStatus::Healthy, "{up:?}");
    assert!(up.details()["active_connections"].as_i64().unwrap() >= 1, "{up:?}");
    assert!(up.details()["server_version"].is_string(), "{up:?}");

    pg.stop();
    let down = block_on(check.check());
    assert_eq!(down.status(), HealthStatus::Unhealthy, "{down:?}");
    let error = down.error().unwrap();
    assert!(error.contains("cannot connect to postgres") && error.contains("refused"), "useful error: {error}");

    pg.start();
    let back = block_on(check.check());
    assert_eq!(back.status(), HealthStatus::Healthy, "{back:?}");
}

#[test]
fn redis_check_follows_the_server_down_and_back_up() {
    let mut redis = Redis::start_new();
    let check = redis.check();

    let up = block_on(check.check());
    assert_eq!(up.status(), HealthStatus::Healthy, "{up:?}");
    assert!(up.details()["used_memory_bytes"].as_u64().unwrap() > 0, "{up:?}");

    redis.stop();
    let down = block_on(check.check());
    assert_eq!(down.status(), HealthStatus::Unhealthy, "{down:?}");
    let error = down.error().unwrap();
    assert!(error.contains(&format!("cannot connect to redis at 127.0.0.1:{}", redis.port)), "useful error: {error}");

    redis.start();
    let back = block_on(check.check());
    assert_eq!(back.status(), HealthStatus::Healthy, "{back:?}");

    let wrong_password = block_on(RedisCheck::new(format!("redis://:nope@127.0.0.1:{}", redis.port)).check());
    assert_eq!(wrong_password.status(), HealthStatus::Unhealthy, "{wrong_password:?}");
    assert!(wrong_password.error().unwrap().contains("AUTH"), "{wrong_password:?}");
}

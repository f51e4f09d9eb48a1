//! A real TLS endpoint for the tests: `stunnel4` (Debian's package, which
//! scripts/install-test-deps.sh installs) on free ports of 127.0.0.1,
//! terminating TLS in front of the collector's OTLP receivers, with a CA and
//! certificates made by the `openssl` CLI in a temporary directory.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{ProcessGroupGuard, free_port, require_tool};

/// A directory of PEM files: two CAs (`ca` signed the server and client
/// certificates, `other_ca` signed nothing the server shows), a server
/// certificate for `127.0.0.1` and a client certificate. Removed on drop.
pub struct Certs {
    pub dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new(require_tool("openssl")).current_dir(dir).args(args).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

impl Certs {
    pub fn generate() -> Certs {
        let dir = std::env::temp_dir().join(format!("obs-tls-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        for ca in ["ca", "other_ca"] {
            let (key, pem, subject) = (format!("{ca}.key"), format!("{ca}.pem"), format!("/CN=obs test {ca}"));
            let mut args = vec!["req", "-x509"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &pem, "-days", "2", "-subj", &subject]);
            args.extend(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
            openssl(&dir, &args);
        }
        for (name, usage) in [("server", "serverAuth"), ("client", "clientAuth")] {
            let (key, csr, pem, ext) =
                (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"), format!("{name}.ext"));
            std::fs::write(
                dir.join(&ext),
                format!(
                    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n"
                ),
            )
            .unwrap();
            let subject = format!("/CN=obs test {name}");
            let mut args = vec!["req"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &csr, "-subj", &subject]);
            openssl(&dir, &args);
            openssl(
                &dir,
                &["x509", "-req", "-in", &csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"]
                    .into_iter()
                    .chain(["-out", &pem, "-days", "2", "-extfile", &ext])
                    .collect::<Vec<_>>(),
            );
        }
        Certs { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// stunnel terminating TLS on `tls_addr(i)` for each backend address; stopped on drop.
pub struct Stunnel {
    pub addrs: Vec<SocketAddr>,
    log: PathBuf,
    _process: ProcessGroupGuard,
}

impl Stunnel {
    /// Listens on one free port per backend, with the server certificate of
    /// `certs`; with `require_client_certificate` a client must present a
    /// certificate signed by `certs`'s CA.
    pub fn start(certs: &Certs, backends: &[SocketAddr], require_client_certificate: bool) -> Stunnel {
        let binary = ["stunnel4", "stunnel"]
            .iter()
            .find_map(|name| {
                let path = std::env::var_os("PATH").unwrap_or_default();
                std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
            })
            .unwrap_or_else(|| panic!("stunnel4 is not on PATH; run scripts/install-test-deps.sh"));
        let addrs: Vec<SocketAddr> =
            backends.iter().map(|_| format!("127.0.0.1:{}", free_port()).parse().unwrap()).collect();
        let log = certs.path(&format!("stunnel-{}.log", addrs[0].port()));
        let mut config = format!("foreground = yes\npid =\ndebug = 5\noutput = {}\n", log.display());
        for (i, (addr, backend)) in addrs.iter().zip(backends).enumerate() {
            config.push_str(&format!(
                "[otlp{i}]\naccept = {addr}\nconnect = {backend}\ncert = {}\nkey = {}\n",
                certs.path("server.pem").display(),
                certs.path("server.key").display()
            ));
            if require_client_certificate {
                config.push_str(&format!("CAfile = {}\nverifyChain = yes\n", certs.path("ca.pem").display()));
            }
        }
        let conf = certs.path(&format!("stunnel-{}.conf", addrs[0].port()));
        std::fs::write(&conf, config).unwrap();
        let mut command = Command::new(binary);
        command.arg(&conf).stdout(Stdio::null()).stderr(Stdio::null());
        let mut process = ProcessGroupGuard::spawn(command).expect("start stunnel");
        let deadline = Instant::now() + Duration::from_secs(10);
        for addr in &addrs {
            while TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_err() {
                if let Ok(Some(status)) = process.0.try_wait() {
                    panic!("stunnel exited with {status}: {}", std::fs::read_to_string(&log).unwrap_or_default());
                }
                assert!(Instant::now() < deadline, "stunnel did not listen on {addr} within 10 s");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Stunnel { addrs, log, _process: process }
    }

    /// stunnel's log so far (handshakes, verification results).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

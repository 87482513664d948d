//! Replica processes and private Redis/PostgreSQL instances for the tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use belfry_e2e::{FreshDatabase, SECRET, SseStream, WAIT, server_binary};
use belfry_process::{ServerCommand, ServerProcess};
use serde_json::json;

/// A free loopback port (the OS picked it; racing for it is unlikely).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What several replicas share.
pub struct Shared {
    pub store: String,
    pub broker: String,
    pub channel: String,
}

/// One replica process.
pub struct Replica {
    process: ServerProcess,
    pub base: String,
    _data_dir: tempfile::TempDir,
}

impl Replica {
    pub fn start(shared: &Shared) -> Self {
        Self::start_with(shared, &[])
    }

    /// A replica with extra `serve` flags.
    pub fn start_with(shared: &Shared, extra: &[&str]) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let process = ServerCommand::serve(server_binary())
            .args(["--listen", "127.0.0.1:0", "--keepalive", "1s", "--data-dir"])
            .arg(data_dir.path())
            .args(["--store", &shared.store, "--broker", &shared.broker])
            .args(["--broker-channel", &shared.channel, "--jwt-secret", SECRET])
            .args(extra)
            .env("RUST_LOG", "belfry_server=info")
            .log_prefix("replica")
            .start_within(WAIT)
            .expect("the replica listens");
        Self {
            base: process.base_url(),
            process,
            _data_dir: data_dir,
        }
    }

    /// SIGKILL: no graceful shutdown, no goodbye to its clients.
    pub fn kill(&mut self) {
        self.process.kill();
    }
}

/// A fresh database and channel on the machine's PostgreSQL and Redis.
pub async fn shared_backends() -> (Shared, FreshDatabase) {
    let db = FreshDatabase::create().await;
    let shared = Shared {
        store: db.url.clone(),
        broker: belfry_e2e::redis_url(),
        channel: format!("belfry_replicas_{}", free_port()),
    };
    (shared, db)
}

/// HTTP helpers against any replica.
pub struct Api {
    pub http: reqwest::Client,
}

impl Api {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::new(),
        }
    }

    pub fn token(claims: serde_json::Value) -> String {
        let mut claims = claims;
        claims["exp"] = json!(belfry_e2e::now() + 3600);
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    pub fn admin(sub: &str) -> String {
        Self::token(json!({"sub": sub, "role": "admin"}))
    }

    pub fn publisher() -> String {
        Self::token(json!({"sub": "orders", "scope": "publish"}))
    }

    /// Publishes; the status and, on success, the id.
    pub async fn publish(&self, base: &str, title: &str) -> (u16, Option<u64>) {
        let res = self
            .http
            .post(format!("{base}/api/notifications"))
            .bearer_auth(Self::publisher())
            .json(&json!({"kind": "order.created", "title": title}))
            .send()
            .await;
        match res {
            Ok(r) => {
                let status = r.status().as_u16();
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                (status, body["id"].as_u64())
            }
            Err(_) => (0, None),
        }
    }

    pub async fn connect(&self, base: &str, token: &str, last: Option<u64>) -> Option<SseStream> {
        let mut req = self
            .http
            .get(format!("{base}/api/admin/events"))
            .bearer_auth(token);
        if let Some(id) = last {
            req = req.header("last-event-id", id.to_string());
        }
        let res = req.send().await.ok()?;
        (res.status() == 200).then(|| SseStream::new(res))
    }
}

/// A Redis server of the test's own, so it can be stopped and restarted.
pub struct PrivateRedis {
    child: Option<Child>,
    pub port: u16,
}

impl PrivateRedis {
    pub fn start() -> Self {
        let port = free_port();
        let mut r = Self { child: None, port };
        r.restart();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/setup.sh installs it)");
        self.child = Some(child);
        wait_for_port(self.port);
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Blocks until something accepts connections on `port`.
pub fn wait_for_port(port: u16) {
    let deadline = std::time::Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A PostgreSQL cluster of the test's own (initdb in a temp dir, run as the
/// `postgres` user because PostgreSQL refuses to run as root), so it can be
/// stopped and started again.
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
}

fn pg_bin() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<_> = std::fs::read_dir(root)
        .expect("PostgreSQL server binaries under /usr/lib/postgresql")
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
}

fn as_postgres(cmd: &Path, args: &[&str]) {
    let root = rustix_is_root();
    let status = if root {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(cmd)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    } else {
        Command::new(cmd)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    assert!(
        status.expect("runs").success(),
        "{} {args:?} failed",
        cmd.display()
    );
}

fn rustix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PrivatePostgres {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("belfry-pg")
            .tempdir()
            .unwrap();
        if rustix_is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown to postgres");
        }
        let bin = pg_bin();
        let data = dir.path().join("data");
        as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
        );
        let pg = Self {
            dir,
            port: free_port(),
            bin,
        };
        pg.up();
        pg
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn up(&self) {
        let data = self.dir.path().join("data");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "-l",
                self.dir.path().join("log").to_str().unwrap(),
                "start",
            ],
        );
    }

    pub fn down(&self) {
        let data = self.dir.path().join("data");
        as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = Command::new(if rustix_is_root() { "runuser" } else { "true" })
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

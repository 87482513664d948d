//! A `belfry-server` process this tool starts (`--spawn`), and restarts for
//! the storm: same binary, secret and data directory on every start, and the
//! port of the first start on every later one.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::Context as _;

use crate::storm::Restart;

/// What every start of the server shares.
#[derive(Debug, Clone)]
struct Launch {
    path: PathBuf,
    secret: String,
    max_streams: usize,
    data_dir: PathBuf,
}

/// The address logged after `marker` in `line`, if it is there.
fn logged_addr(line: &str, marker: &str) -> anyhow::Result<Option<SocketAddr>> {
    let Some(rest) = line.split(marker).nth(1) else {
        return Ok(None);
    };
    let addr = rest.split_whitespace().next().unwrap_or_default();
    addr.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '.' && c != ':')
        .parse()
        .map(Some)
        .with_context(|| format!("cannot parse the address in `{line}`"))
}

impl Launch {
    /// Starts the process on `addr`, with its health port on `health`, and
    /// waits until both listen.
    fn run(
        &self,
        addr: SocketAddr,
        health: SocketAddr,
    ) -> anyhow::Result<(Child, SocketAddr, SocketAddr)> {
        let mut child = Command::new(&self.path)
            .arg("serve")
            .args(["--listen", &addr.to_string()])
            .args(["--health-listen", &health.to_string()])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--jwt-secret", &self.secret])
            .args(["--max-streams", &self.max_streams.to_string()])
            .env("RUST_LOG", "warn,belfry_server=info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", self.path.display()))?;
        let stderr = child.stderr.take().context("no stderr")?;
        // Killed if it never listens.
        let mut guard = KillOnDrop(Some(child));
        let mut lines = BufReader::new(stderr).lines();
        let (mut addr, mut health) = (None, None);
        while addr.is_none() || health.is_none() {
            let line = lines.next().context("server exited before listening")??;
            addr = addr.or(logged_addr(&line, "listening on http://")?);
            health = health.or(logged_addr(&line, "health checks on http://")?);
        }
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let (addr, health) = (addr.expect("found"), health.expect("found"));
        Ok((guard.0.take().expect("still held"), addr, health))
    }
}

struct KillOnDrop(Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A running server process, killed when dropped however the run ends; its
/// temporary data directory goes with it.
pub struct SpawnedServer {
    launch: Launch,
    addr: SocketAddr,
    health: SocketAddr,
    child: KillOnDrop,
    _data_dir: tempfile::TempDir,
}

impl SpawnedServer {
    /// Starts `path` on a free loopback port with a new data directory.
    /// Blocks until it listens.
    pub fn start(path: &Path, secret: &str, max_streams: usize) -> anyhow::Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let launch = Launch {
            path: path.to_owned(),
            secret: secret.to_owned(),
            max_streams,
            data_dir: data_dir.path().to_owned(),
        };
        let any = "127.0.0.1:0".parse()?;
        let (child, addr, health) = launch.run(any, any)?;
        Ok(Self {
            launch,
            addr,
            health,
            child: KillOnDrop(Some(child)),
            _data_dir: data_dir,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.0.as_ref().map(Child::id)
    }
}

impl Restart for SpawnedServer {
    /// SIGTERM, as a service manager stops it, then waits for the exit.
    async fn stop(&mut self) -> anyhow::Result<()> {
        let child = self.child.0.take().context("the server is not running")?;
        // Waiting for the exit blocks, so it runs off the async workers.
        tokio::task::spawn_blocking(move || {
            // Killed outright if anything below fails.
            let mut guard = KillOnDrop(Some(child));
            let child = guard.0.as_mut().expect("just set");
            // `kill(1)` rather than libc: the workspace forbids unsafe code.
            let sent = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .context("cannot run kill")?;
            anyhow::ensure!(sent.success(), "kill -TERM failed");
            let status = child.wait()?;
            anyhow::ensure!(status.success(), "the server exited with {status}");
            Ok(())
        })
        .await?
    }

    async fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.0.is_none(), "the server is running");
        let (launch, addr, health) = (self.launch.clone(), self.addr, self.health);
        // Reading its stderr until it listens blocks too.
        let (child, _, _) = tokio::task::spawn_blocking(move || launch.run(addr, health)).await??;
        self.child.0 = Some(child);
        Ok(())
    }

    fn pid(&self) -> Option<u32> {
        SpawnedServer::pid(self)
    }

    fn health_addr(&self) -> Option<SocketAddr> {
        Some(self.health)
    }
}

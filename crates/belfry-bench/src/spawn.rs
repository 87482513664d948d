//! A `belfry-server` process this tool starts (`--spawn`), and restarts for
//! the storm: same binary, secret and data directory on every start, and the
//! port of the first start on every later one. Started and stopped through
//! `belfry-process`, as the tests start theirs.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;
use belfry_process::{ServerCommand, ServerProcess};

use crate::storm::Restart;

/// A running server process, killed when dropped however the run ends; its
/// temporary data directory goes with it.
pub struct SpawnedServer {
    /// Everything but the addresses, which are fixed by the first start.
    command: ServerCommand,
    addr: SocketAddr,
    health: SocketAddr,
    process: Option<ServerProcess>,
    _data_dir: tempfile::TempDir,
}

/// Starts `command` on `addr` with its health port on `health`; blocks
/// until both listen.
fn launch(
    command: &ServerCommand,
    addr: SocketAddr,
    health: SocketAddr,
) -> anyhow::Result<ServerProcess> {
    command
        .clone()
        .args(["--listen", &addr.to_string()])
        .args(["--health-listen", &health.to_string()])
        .start()
        .context("cannot start the server")
}

impl SpawnedServer {
    /// Starts `path` on a free loopback port with a new data directory.
    /// Blocks until it listens.
    pub fn start(path: &Path, secret: &str, max_streams: usize) -> anyhow::Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let command = ServerCommand::serve(path)
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(["--jwt-secret", secret])
            .args(["--max-streams", &max_streams.to_string()])
            .env("RUST_LOG", "warn,belfry_server=info");
        let any = "127.0.0.1:0".parse()?;
        let process = launch(&command, any, any)?;
        let health = process
            .health_addr()
            .context("the server wrote no health address")?;
        Ok(Self {
            addr: process.addr(),
            health,
            command,
            process: Some(process),
            _data_dir: data_dir,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(ServerProcess::pid)
    }
}

impl Restart for SpawnedServer {
    /// SIGTERM, as a service manager stops it, then waits for the exit.
    async fn stop(&mut self) -> anyhow::Result<()> {
        let mut process = self.process.take().context("the server is not running")?;
        // Waiting for the exit blocks, so it runs off the async workers.
        tokio::task::spawn_blocking(move || {
            let status = process.terminate()?;
            anyhow::ensure!(status.success(), "the server exited with {status}");
            Ok(())
        })
        .await?
    }

    async fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.process.is_none(), "the server is running");
        let (command, addr, health) = (self.command.clone(), self.addr, self.health);
        // Waiting for it to listen blocks too.
        let process = tokio::task::spawn_blocking(move || launch(&command, addr, health)).await??;
        self.process = Some(process);
        Ok(())
    }

    fn pid(&self) -> Option<u32> {
        SpawnedServer::pid(self)
    }

    fn health_addr(&self) -> Option<SocketAddr> {
        Some(self.health)
    }
}

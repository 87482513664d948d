//! `belfry-bench`: runs one load scenario and prints a table (or JSON).

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use belfry_bench::{Options, run};
use clap::{Parser, ValueEnum};

/// Named scenarios for the capacity targets of issue 8 (see BENCHMARKS.md).
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Preset {
    /// Target 1: 10,000 streams, connected in bursts of 1,000.
    Connections,
    /// Target 2: PSS per idle connection at 10,000 streams.
    Memory,
    /// Target 3a: 1,000 subscribers × 100 notifications/s.
    #[value(name = "latency-1k")]
    Latency1k,
    /// Target 3b: 10,000 subscribers × 5 notifications/s.
    #[value(name = "latency-10k")]
    Latency10k,
    /// Target 4: CPU per delivery at 1,000 × 100/s.
    Cpu,
    /// Target 5: 2,000 publishes/s from 16 publishers, 1,000 subscribers.
    Throughput,
}

impl Preset {
    /// (clients, rate, events, publishers)
    fn values(self) -> (usize, f64, usize, usize) {
        match self {
            Preset::Connections => (10_000, 5.0, 5, 1),
            Preset::Memory => (10_000, 1.0, 0, 1),
            Preset::Latency1k | Preset::Cpu => (1_000, 100.0, 1_000, 4),
            // Four publishers, so a slow acknowledgement cannot hold back the schedule.
            Preset::Latency10k => (10_000, 5.0, 50, 4),
            Preset::Throughput => (1_000, 2_000.0, 20_000, 16),
        }
    }
}

#[derive(Parser)]
#[command(version, about = "Load tool for a Belfry server")]
struct Cli {
    /// A named scenario; explicit flags override its values.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Server address (ignored with --spawn).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The server's HS256 JWT secret.
    #[arg(long, env = "BELFRY_JWT_SECRET", default_value = "belfry-bench-secret")]
    jwt_secret: String,
    /// Start this belfry-server binary (a release build) on a free port with a
    /// temporary data directory, and stop it at the end.
    #[arg(long, value_name = "PATH")]
    spawn: Option<PathBuf>,
    /// The server's pid, for PSS and CPU (implied by --spawn).
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long)]
    clients: Option<usize>,
    /// Notifications per second, all publishers together.
    #[arg(long)]
    rate: Option<f64>,
    #[arg(long)]
    events: Option<usize>,
    #[arg(long)]
    publishers: Option<usize>,
    /// Simultaneous connects in flight.
    #[arg(long, default_value_t = 1000)]
    connect_concurrency: usize,
    /// Seconds streams may take to receive everything after the last ack.
    #[arg(long, default_value_t = 10)]
    drain_secs: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Kills the spawned server when the run ends, however it ends, then
/// removes its data directory.
struct Spawned {
    child: Child,
    _data_dir: tempfile::TempDir,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(path: &PathBuf, secret: &str, clients: usize) -> anyhow::Result<(Spawned, SocketAddr)> {
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(path)
        .arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--jwt-secret", secret])
        .args(["--max-connections", &(clients + 100).to_string()])
        .env("RUST_LOG", "warn,belfry_server=info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", path.display()))?;
    let stderr = child.stderr.take().context("no stderr")?;
    let guard = Spawned {
        child,
        _data_dir: dir,
    };
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().context("server exited before listening")??;
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap_or_default();
            break addr
                .trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '.' && c != ':')
                .parse()
                .with_context(|| format!("cannot parse the address in `{line}`"))?;
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok((guard, addr))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (c, r, e, p) = cli.preset.map_or((100, 10.0, 20, 1), Preset::values);
    let clients = cli.clients.unwrap_or(c);
    let mut spawned = None;
    let (addr, pid) = match &cli.spawn {
        Some(path) => {
            let (guard, addr) = spawn(path, &cli.jwt_secret, clients)?;
            let pid = guard.child.id();
            spawned = Some(guard);
            (addr, Some(pid))
        }
        None => (cli.addr, cli.server_pid),
    };
    let mut opts = Options::new(addr, cli.jwt_secret.clone());
    opts.clients = clients;
    opts.rate = cli.rate.unwrap_or(r);
    opts.events = cli.events.unwrap_or(e);
    opts.publishers = cli.publishers.unwrap_or(p);
    opts.connect_concurrency = cli.connect_concurrency;
    opts.drain_timeout = Duration::from_secs(cli.drain_secs);
    opts.server_pid = pid;
    if matches!(cli.preset, Some(Preset::Memory)) {
        opts.settle = Duration::from_secs(3);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(&opts))?;
    drop(spawned);
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    if !report.is_clean() {
        std::process::exit(2);
    }
    Ok(())
}

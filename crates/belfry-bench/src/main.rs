//! `belfry-bench`: runs one load scenario and prints a table (or JSON).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use belfry_bench::spawn::SpawnedServer;
use belfry_bench::storm::{StormOptions, run_storm};
use belfry_bench::stream::Backoff;
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
    /// Target 6: 10,000 streams dropped by a server restart resume with
    /// Last-Event-ID (needs --spawn); --events is the size of each batch.
    Storm,
    /// No server: the kernel's own cost of one loopback TCP write of a
    /// notification-sized frame, --clients connections × --rate rounds/s for
    /// --events rounds. The least any server can spend per delivery here.
    Floor,
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
            // 50 before the restart and 50 during it, at 20/s: the second
            // batch takes 2.5 s, about as long as 10,000 reconnects.
            Preset::Storm => (10_000, 20.0, 50, 2),
            Preset::Floor => (1_000, 100.0, 1_000, 1),
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
    #[arg(
        long,
        env = "BELFRY_JWT_SECRET",
        default_value = "belfry-bench-secret-0123456789abcdef"
    )]
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
    /// Storm: ceiling of the first reconnect delay (full jitter, doubling).
    #[arg(long, default_value_t = 100)]
    backoff_base_ms: u64,
    /// Storm: largest reconnect delay ceiling.
    #[arg(long, default_value_t = 5000)]
    backoff_cap_ms: u64,
    /// Storm: interval of the `/healthz` probe.
    #[arg(long, default_value_t = 20)]
    healthz_every_ms: u64,
    /// Storm: seconds after the restart for every stream to be live and caught up.
    #[arg(long, default_value_t = 60)]
    storm_secs: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let storm = matches!(cli.preset, Some(Preset::Storm));
    if storm && cli.spawn.is_none() {
        anyhow::bail!("the storm preset restarts the server itself: pass --spawn PATH");
    }
    let (c, r, e, p) = cli.preset.map_or((100, 10.0, 20, 1), Preset::values);
    let clients = cli.clients.unwrap_or(c);
    if matches!(cli.preset, Some(Preset::Floor)) {
        let report =
            belfry_bench::floor::measure(clients, cli.rate.unwrap_or(r), cli.events.unwrap_or(e))?;
        if cli.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{}", report.table());
        }
        return Ok(());
    }
    let mut spawned = None;
    let (addr, pid) = match &cli.spawn {
        Some(path) => {
            let guard = SpawnedServer::start(path, &cli.jwt_secret, clients + 100)?;
            let (addr, pid) = (guard.addr(), guard.pid());
            spawned = Some(guard);
            (addr, pid)
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
    let (json, table, clean) = if storm {
        let storm_opts = StormOptions {
            backoff: Backoff {
                base: Duration::from_millis(cli.backoff_base_ms),
                cap: Duration::from_millis(cli.backoff_cap_ms),
            },
            healthz_every: Duration::from_millis(cli.healthz_every_ms.max(1)),
            timeout: Duration::from_secs(cli.storm_secs),
        };
        let mut server = spawned.take().context("--spawn is required")?;
        let report = runtime.block_on(run_storm(&opts, &storm_opts, &mut server));
        drop(server);
        let report = report?;
        (
            serde_json::to_string_pretty(&report)?,
            report.table(),
            report.is_clean(),
        )
    } else {
        let report = runtime.block_on(run(&opts))?;
        drop(spawned);
        (
            serde_json::to_string_pretty(&report)?,
            report.table(),
            report.is_clean(),
        )
    };
    if cli.json {
        println!("{json}");
    } else {
        print!("{table}");
    }
    if !clean {
        std::process::exit(2);
    }
    Ok(())
}

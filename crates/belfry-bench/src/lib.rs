//! belfry-bench: a load tool for a Belfry server.
//!
//! [`run`] opens N authenticated SSE streams over raw TCP (see `stream`),
//! publishes through the real `POST /api/notifications` at a fixed open-loop
//! rate, each notification carrying its sequence number and send time in
//! `data`, and reports delivery latency, loss, duplicates and, given the
//! server's pid, its memory per connection and CPU per delivery.
//! [`storm::run_storm`] restarts the server under the streams instead and
//! measures how they resume.

pub mod floor;
pub mod hist;
pub mod procfs;
pub mod publish;
pub mod spawn;
pub mod storm;
pub mod stream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::hist::Histogram;
use crate::stream::{Backoff, Outcome, Shared, Subscriber};

/// Microseconds since the Unix epoch: the publisher and the subscribers are
/// different tasks (and may be different processes), so they share the wall
/// clock rather than an `Instant`.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// One scenario.
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: SocketAddr,
    /// The server's HS256 secret: every stream gets its own admin `sub`, so
    /// the per-user stream limit never refuses one.
    pub secret: String,
    pub clients: usize,
    /// Notifications per second, all publishers together.
    pub rate: f64,
    pub events: usize,
    pub publishers: usize,
    /// Connects in flight at once (the size of a connect burst).
    pub connect_concurrency: usize,
    /// Gives up on streams not ready after this long.
    pub connect_timeout: Duration,
    /// After the last publish is acknowledged, how long streams may take to
    /// receive everything before what is missing counts as lost.
    pub drain_timeout: Duration,
    /// Idle time with every stream open before memory is read.
    pub settle: Duration,
    /// The server process, for PSS and CPU.
    pub server_pid: Option<u32>,
}

impl Options {
    pub fn new(addr: SocketAddr, secret: impl Into<String>) -> Self {
        Self {
            addr,
            secret: secret.into(),
            clients: 100,
            rate: 10.0,
            events: 20,
            publishers: 1,
            connect_concurrency: 1000,
            connect_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(10),
            settle: Duration::from_secs(1),
            server_pid: None,
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    /// One line for a table.
    pub fn summary(&self) -> String {
        format!(
            "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (n={})",
            self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms, self.count
        )
    }
}

/// Rows of a report as an aligned two-column table.
pub fn table(rows: &[(&str, String)], first_error: Option<&str>) -> String {
    let mut out = String::new();
    for (k, v) in rows {
        out.push_str(&format!("{k:<30} {v}\n"));
    }
    if let Some(e) = first_error {
        out.push_str(&format!("{:<30} {e}\n", "stream error"));
    }
    out
}

impl From<&Histogram> for Percentiles {
    fn from(h: &Histogram) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.count(),
            p50_ms: ms(h.quantile(0.50)),
            p90_ms: ms(h.quantile(0.90)),
            p99_ms: ms(h.quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub clients: usize,
    pub connected: usize,
    pub failed: usize,
    /// First error a failed stream saw, if any.
    pub first_error: Option<String>,
    /// Start of connecting to the last stream ready.
    pub connect_total_ms: f64,
    /// Per stream: TCP connect to `event: ready`.
    pub connect: Percentiles,
    /// Kernel listen-queue drops during connecting (`None` if unreadable).
    pub listen_drops: Option<u64>,
    pub events: usize,
    pub rate: f64,
    pub publishers: usize,
    pub published: u64,
    pub publish_failed: u64,
    /// Publishes acknowledged per second over the publish phase.
    pub publish_rate_achieved: f64,
    /// Publish request sent → 201 received.
    pub publish_ack: Percentiles,
    /// Publish request sent → `data:` line parsed by a subscriber.
    pub latency: Percentiles,
    pub deliveries: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub server_pss_idle_kib: Option<u64>,
    pub server_pss_connected_kib: Option<u64>,
    pub server_pss_per_connection_bytes: Option<f64>,
    pub server_cpu_publish_phase_ms: Option<f64>,
    pub server_cpu_us_per_delivery: Option<f64>,
    /// This tool's own CPU over the publish phase, to show what it took from
    /// the server on a shared machine.
    pub bench_cpu_publish_phase_ms: Option<f64>,
    pub publish_phase_ms: f64,
}

impl Report {
    /// Every stream connected and received every notification exactly once.
    pub fn is_clean(&self) -> bool {
        self.connected == self.clients
            && self.publish_failed == 0
            && self.lost == 0
            && self.duplicates == 0
    }
}

/// Waits until `done()` holds or `limit` has passed; returns whether it held.
/// Streams wake it through [`Shared::changed`] whenever a counter moves.
pub async fn wait_for(shared: &Shared, limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let changed = shared.changed.notified();
        if done() {
            return true;
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return false;
        }
        // The tick also covers a wake-up missed between the check and the wait.
        let tick = now + Duration::from_millis(100);
        let _ = tokio::time::timeout_at(tick.min(deadline), changed).await;
    }
}

/// Signs an HS256 token with the server's secret.
pub fn token(secret: &str, sub: &str, role: Option<&str>, scope: &str) -> anyhow::Result<String> {
    let exp = now_us() / 1_000_000 + 24 * 3600;
    let mut claims = serde_json::json!({ "sub": sub, "exp": exp });
    if let Some(role) = role {
        claims["role"] = role.into();
    }
    if !scope.is_empty() {
        claims["scope"] = scope.into();
    }
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )?)
}

/// Every stream of a run, once each is ready or has failed.
pub struct Streams {
    pub shared: Arc<Shared>,
    /// Ends every stream.
    pub stop: CancellationToken,
    pub tasks: Vec<JoinHandle<Outcome>>,
    /// Start of connecting to the last stream settled.
    pub connect_total_ms: f64,
    pub connected: usize,
}

/// Opens `opts.clients` streams, each expecting sequence numbers
/// `0..events` (see [`Subscriber`] for `first_batch` and `reconnect`), and
/// waits until each is ready or has failed, at most `opts.connect_timeout`.
pub async fn connect_all(
    opts: &Options,
    events: usize,
    first_batch: usize,
    reconnect: Option<Backoff>,
) -> anyhow::Result<Streams> {
    let shared = Arc::new(Shared::default());
    let stop = CancellationToken::new();
    let gate = Arc::new(Semaphore::new(opts.connect_concurrency.max(1)));
    // Each stream's jitter differs, and differs between runs.
    let seed = now_us();
    let connect_started = Instant::now();
    let mut tasks = Vec::with_capacity(opts.clients);
    for i in 0..opts.clients {
        let sub = Subscriber {
            addr: opts.addr,
            token: token(&opts.secret, &format!("bench-{i}"), Some("admin"), "")?,
            events,
            first_batch,
            shared: shared.clone(),
            connect_gate: gate.clone(),
            stop: stop.clone(),
            reconnect,
            seed: seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        };
        tasks.push(tokio::spawn(sub.run()));
    }
    let settled = || shared.ready.load(Ordering::Relaxed) + shared.failed.load(Ordering::Relaxed);
    wait_for(&shared, opts.connect_timeout, || settled() >= opts.clients).await;
    Ok(Streams {
        connect_total_ms: connect_started.elapsed().as_secs_f64() * 1000.0,
        connected: shared.ready.load(Ordering::Relaxed),
        shared,
        stop,
        tasks,
    })
}

/// Runs one scenario against a server that is already listening.
pub async fn run(opts: &Options) -> anyhow::Result<Report> {
    let pss_idle = opts.server_pid.and_then(procfs::pss_kib);
    let drops_before = procfs::listen_drops();

    let Streams {
        shared,
        stop,
        mut tasks,
        connect_total_ms,
        connected,
    } = connect_all(opts, opts.events, 0, None).await?;
    let listen_drops = procfs::listen_drops()
        .zip(drops_before)
        .map(|(after, before)| after.saturating_sub(before));

    tokio::time::sleep(opts.settle).await;
    let pss_connected = opts.server_pid.and_then(procfs::pss_kib);

    let cpu_before = opts.server_pid.and_then(|p| procfs::cpu_us(Some(p)));
    let self_before = procfs::cpu_us(None);
    let phase_started = Instant::now();
    let publish = publish::publish_all(opts).await.context("publishing")?;
    // Streams return once they have every event; give the stragglers time.
    // A handle interrupted by the timeout has not completed, so it is awaited
    // again below after `stop`.
    let mut outcomes = Vec::with_capacity(tasks.len());
    let drain = async {
        while let Some(t) = tasks.get_mut(outcomes.len()) {
            let r = t.await;
            outcomes.push(r);
        }
    };
    // Idle streams (no events) never finish by themselves: nothing to drain.
    if opts.events > 0 {
        let _ = tokio::time::timeout(opts.drain_timeout, drain).await;
    }
    let publish_phase_ms = phase_started.elapsed().as_secs_f64() * 1000.0;
    let cpu_after = opts.server_pid.and_then(|p| procfs::cpu_us(Some(p)));
    let self_after = procfs::cpu_us(None);
    stop.cancel();

    let mut deliveries = 0u64;
    let mut lost = 0u64;
    let mut duplicates = 0u64;
    let mut first_error = None;
    let done = outcomes.len();
    for t in tasks.into_iter().skip(done) {
        outcomes.push(t.await);
    }
    for outcome in outcomes {
        let outcome = outcome.context("stream task panicked")?;
        if !outcome.connected {
            first_error = first_error.or(outcome.error);
            continue;
        }
        // Only what was acknowledged is owed; a failed publish is counted apart.
        for &c in &outcome.counts {
            match c {
                0 => lost += 1,
                n => {
                    deliveries += 1;
                    duplicates += u64::from(n - 1);
                }
            }
        }
    }
    lost = lost.saturating_sub(publish.failed * connected as u64);

    let cpu_ms = cpu_before
        .zip(cpu_after)
        .map(|(b, a)| a.saturating_sub(b) as f64 / 1000.0);
    Ok(Report {
        clients: opts.clients,
        connected,
        failed: opts.clients - connected,
        first_error,
        connect_total_ms,
        connect: Percentiles::from(&shared.connect),
        listen_drops,
        events: opts.events,
        rate: opts.rate,
        publishers: opts.publishers,
        published: publish.ok,
        publish_failed: publish.failed,
        publish_rate_achieved: publish.ok as f64 / publish.elapsed.as_secs_f64().max(1e-9),
        publish_ack: Percentiles::from(&publish.ack),
        latency: Percentiles::from(&shared.latency),
        deliveries,
        lost,
        duplicates,
        server_pss_idle_kib: pss_idle,
        server_pss_connected_kib: pss_connected,
        server_pss_per_connection_bytes: pss_idle
            .zip(pss_connected)
            .filter(|_| connected > 0)
            .map(|(i, c)| (c as f64 - i as f64) * 1024.0 / connected as f64),
        server_cpu_publish_phase_ms: cpu_ms,
        server_cpu_us_per_delivery: cpu_ms
            .filter(|_| deliveries > 0)
            .map(|ms| ms * 1000.0 / deliveries as f64),
        bench_cpu_publish_phase_ms: self_before
            .zip(self_after)
            .map(|(b, a)| a.saturating_sub(b) as f64 / 1000.0),
        publish_phase_ms,
    })
}

impl Report {
    /// A human-readable table.
    pub fn table(&self) -> String {
        let opt = |v: Option<f64>, unit: &str| match v {
            Some(v) => format!("{v:.1} {unit}"),
            None => "n/a (no --server-pid)".to_owned(),
        };
        let pct = Percentiles::summary;
        let rows = [
            (
                "streams connected",
                format!(
                    "{} / {} ({} failed)",
                    self.connected, self.clients, self.failed
                ),
            ),
            (
                "connect (all ready)",
                format!("{:.0} ms", self.connect_total_ms),
            ),
            ("connect per stream", pct(&self.connect)),
            (
                "listen queue drops",
                self.listen_drops
                    .map_or("n/a".to_owned(), |d| d.to_string()),
            ),
            (
                "published",
                format!(
                    "{} ok, {} failed, {:.0}/s achieved (target {:.0}/s, {} publishers)",
                    self.published,
                    self.publish_failed,
                    self.publish_rate_achieved,
                    self.rate,
                    self.publishers
                ),
            ),
            ("publish ack", pct(&self.publish_ack)),
            ("delivery latency", pct(&self.latency)),
            (
                "deliveries",
                format!(
                    "{} (lost {}, duplicates {})",
                    self.deliveries, self.lost, self.duplicates
                ),
            ),
            (
                "server PSS / connection",
                opt(self.server_pss_per_connection_bytes, "B"),
            ),
            (
                "server CPU / delivery",
                opt(self.server_cpu_us_per_delivery, "µs"),
            ),
            (
                "server CPU (publish phase)",
                opt(self.server_cpu_publish_phase_ms, "ms"),
            ),
            (
                "bench CPU (publish phase)",
                opt(self.bench_cpu_publish_phase_ms, "ms"),
            ),
            ("publish phase", format!("{:.0} ms", self.publish_phase_ms)),
        ];
        table(&rows, self.first_error.as_deref())
    }
}

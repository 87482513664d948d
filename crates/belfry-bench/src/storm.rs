//! The reconnect storm (issue 8, target 6): every stream is dropped by a
//! server restart and comes back with `Last-Event-ID`.
//!
//! Sequence: connect every stream; publish a first batch and wait until
//! every stream has it; stop the server (the streams see their connection
//! end and start backing off); start it again on the same address and data;
//! at once publish a second batch while the streams reconnect, and probe
//! `GET /healthz` on a fixed schedule. Measured: time from the restart until
//! every stream is live again (`event: ready`) and until every stream has
//! both batches, loss and duplicates per stream, reconnect attempts, and
//! the health probe's latency during the storm.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::hist::Histogram;
use crate::stream::Backoff;
use crate::{Options, Percentiles, Streams, connect_all, now_us, procfs, publish, wait_for};

/// A health probe slower than this counts as failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Stops and starts the server under test, on the same address, data and
/// secret.
pub trait Restart {
    /// Stops the server gracefully and returns once it has exited.
    fn stop(&mut self) -> impl Future<Output = anyhow::Result<()>>;
    /// Starts it again and returns once it listens.
    fn start(&mut self) -> impl Future<Output = anyhow::Result<()>>;
    /// The running server's pid, for its CPU during the storm.
    fn pid(&self) -> Option<u32> {
        None
    }
    /// The server's separate health port (`--health-listen`), if it has one.
    fn health_addr(&self) -> Option<SocketAddr> {
        None
    }
}

/// What the storm adds to [`Options`]. `Options::events` is the size of
/// each of the two batches; `Options::drain_timeout` bounds the wait for the
/// first batch.
#[derive(Debug, Clone)]
pub struct StormOptions {
    pub backoff: Backoff,
    /// Interval of the `/healthz` probe (open loop: a slow probe does not
    /// delay the next).
    pub healthz_every: Duration,
    /// From the restart, how long streams may take to be live again and to
    /// have both batches.
    pub timeout: Duration,
}

impl Default for StormOptions {
    fn default() -> Self {
        Self {
            backoff: Backoff {
                base: Duration::from_millis(100),
                cap: Duration::from_secs(5),
            },
            healthz_every: Duration::from_millis(20),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Everything the storm measured.
#[derive(Debug, Clone, Serialize)]
pub struct StormReport {
    pub clients: usize,
    pub connected: usize,
    pub failed: usize,
    /// The last error of a stream that failed or had to retry, if any.
    pub first_error: Option<String>,
    pub connect_total_ms: f64,
    pub events_per_batch: usize,
    pub rate: f64,
    pub publishers: usize,
    pub published_before: u64,
    pub published_during: u64,
    pub publish_failed: u64,
    /// Every stream had the first batch before the restart.
    pub first_batch_everywhere: bool,
    /// SIGTERM (or its equivalent) → the server exited.
    pub server_stop_ms: f64,
    /// Start → listening.
    pub server_start_ms: f64,
    /// Streams that saw their connection end.
    pub streams_dropped: usize,
    /// Of those, streams with `event: ready` again.
    pub streams_live_again: usize,
    /// Restart → the last stream live again (`None`: not all within the timeout).
    pub all_live_ms: Option<f64>,
    /// Per stream: restart → `event: ready` again.
    pub resume: Percentiles,
    /// Restart → every stream has both batches.
    pub all_caught_up_ms: Option<f64>,
    pub reconnect_attempts: u64,
    /// Attempts that did not reach `event: ready` (refused, reset, timed out).
    pub reconnect_failed: u64,
    /// `event: reset` frames: the server could not resume from the id sent.
    pub resets: u64,
    /// Publish → delivery, first batch (all streams live).
    pub latency_before: Percentiles,
    /// Publish → delivery, second batch (live or replayed after the reconnect).
    pub latency_during: Percentiles,
    pub deliveries: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub streams_with_loss: usize,
    pub streams_with_duplicates: usize,
    /// `GET /healthz` on a new connection each time, from when the
    /// restarted server listens until every stream was caught up.
    pub healthz: Percentiles,
    pub healthz_failed: u64,
    /// The same probe on the server's health port (`--health-listen`),
    /// answered by a thread of its own.
    pub health_port: Option<Percentiles>,
    pub health_port_failed: u64,
    /// Server CPU from the restart until every stream was caught up.
    pub server_cpu_storm_ms: Option<f64>,
}

impl StormReport {
    /// Every stream connected, came back, and got both batches exactly once.
    /// Timing is reported, never judged here.
    pub fn is_clean(&self) -> bool {
        self.connected == self.clients
            && self.publish_failed == 0
            && self.first_batch_everywhere
            && self.streams_live_again == self.connected
            && self.lost == 0
            && self.duplicates == 0
            && self.healthz_failed == 0
            && self.health_port_failed == 0
    }

    /// A human-readable table.
    pub fn table(&self) -> String {
        let pct = Percentiles::summary;
        let ms = |v: Option<f64>, what: &str| match v {
            Some(v) => format!("{v:.0} ms"),
            None => format!("not all {what} within the timeout"),
        };
        let rows = [
            (
                "streams connected",
                format!(
                    "{} / {} ({} failed) in {:.0} ms",
                    self.connected, self.clients, self.failed, self.connect_total_ms
                ),
            ),
            (
                "published",
                format!(
                    "{} before + {} during the storm, {} failed ({}/batch at {:.0}/s, {} publishers)",
                    self.published_before,
                    self.published_during,
                    self.publish_failed,
                    self.events_per_batch,
                    self.rate,
                    self.publishers
                ),
            ),
            (
                "server stop / start",
                format!(
                    "{:.0} ms to exit, {:.0} ms to listen",
                    self.server_stop_ms, self.server_start_ms
                ),
            ),
            (
                "streams dropped / live again",
                format!("{} / {}", self.streams_dropped, self.streams_live_again),
            ),
            ("all live again", ms(self.all_live_ms, "live")),
            ("live again per stream", pct(&self.resume)),
            ("all caught up", ms(self.all_caught_up_ms, "caught up")),
            (
                "reconnect attempts",
                format!(
                    "{} ({} failed, {} resets)",
                    self.reconnect_attempts, self.reconnect_failed, self.resets
                ),
            ),
            ("latency before", pct(&self.latency_before)),
            ("latency during storm", pct(&self.latency_during)),
            (
                "deliveries",
                format!(
                    "{} (lost {} on {} streams, duplicates {} on {} streams)",
                    self.deliveries,
                    self.lost,
                    self.streams_with_loss,
                    self.duplicates,
                    self.streams_with_duplicates
                ),
            ),
            (
                "/healthz during storm",
                format!("{} ({} failed)", pct(&self.healthz), self.healthz_failed),
            ),
            (
                "health port during storm",
                self.health_port.as_ref().map_or("n/a".to_owned(), |h| {
                    format!("{} ({} failed)", pct(h), self.health_port_failed)
                }),
            ),
            (
                "server CPU (storm)",
                self.server_cpu_storm_ms
                    .map_or("n/a".to_owned(), |v| format!("{v:.0} ms")),
            ),
        ];
        crate::table(&rows, self.first_error.as_deref())
    }
}

/// Probes `GET /healthz` every `every` until `stop`, each probe on a new
/// connection, as a load balancer's health check does: the probe queues
/// behind the reconnecting streams in the accept queue too.
async fn probe_healthz(
    addr: SocketAddr,
    every: Duration,
    stop: CancellationToken,
) -> anyhow::Result<(Histogram, u64)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(PROBE_TIMEOUT)
        .build()?;
    let url = format!("http://{addr}/healthz");
    let latency = Arc::new(Histogram::default());
    let failed = Arc::new(AtomicU64::new(0));
    let mut probes = JoinSet::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let (client, url, latency, failed) =
            (client.clone(), url.clone(), latency.clone(), failed.clone());
        probes.spawn(async move {
            let sent = Instant::now();
            let ok = match client.get(&url).send().await {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            };
            // A failed probe still counts with the time it took.
            latency.record(sent.elapsed().as_micros() as u64);
            if !ok {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        });
        // Reap finished probes so the set stays small.
        while probes.try_join_next().is_some() {}
    }
    while probes.join_next().await.is_some() {}
    let latency = Arc::try_unwrap(latency).unwrap_or_default();
    Ok((latency, failed.load(Ordering::Relaxed)))
}

/// Runs the storm against the server `server` controls, listening on
/// `opts.addr`.
pub async fn run_storm(
    opts: &Options,
    storm: &StormOptions,
    server: &mut impl Restart,
) -> anyhow::Result<StormReport> {
    let batch = opts.events;
    let Streams {
        shared,
        stop,
        tasks,
        connect_total_ms,
        connected,
    } = connect_all(opts, 2 * batch, batch, Some(storm.backoff)).await?;

    let before = publish::publish_range(opts, 0..batch)
        .await
        .context("publishing the first batch")?;
    let first_batch_everywhere = wait_for(&shared, opts.drain_timeout, || {
        shared.first_batch_done.load(Ordering::Relaxed) >= connected
    })
    .await;

    let stopping = Instant::now();
    server.stop().await.context("stopping the server")?;
    let server_stop_ms = stopping.elapsed().as_secs_f64() * 1000.0;

    let restarted = Instant::now();
    shared.restarted_at_us.store(now_us(), Ordering::Relaxed);
    server.start().await.context("restarting the server")?;
    let server_start_ms = restarted.elapsed().as_secs_f64() * 1000.0;
    let pid = server.pid();
    let cpu_before = pid.and_then(|p| procfs::cpu_us(Some(p)));

    let probe_stop = CancellationToken::new();
    let prober = tokio::spawn(probe_healthz(
        opts.addr,
        storm.healthz_every,
        probe_stop.clone(),
    ));
    let port_prober = server
        .health_addr()
        .map(|addr| tokio::spawn(probe_healthz(addr, storm.healthz_every, probe_stop.clone())));
    let publish_opts = opts.clone();
    let during =
        tokio::spawn(async move { publish::publish_range(&publish_opts, batch..2 * batch).await });

    let since_restart = || restarted.elapsed().as_secs_f64() * 1000.0;
    let all_live = wait_for(&shared, storm.timeout, || {
        shared.resumed.load(Ordering::Relaxed) >= connected
    })
    .await;
    let all_live_ms = all_live.then(since_restart);
    let remaining = storm.timeout.saturating_sub(restarted.elapsed());
    let during = tokio::time::timeout(remaining, during)
        .await
        .context("the second batch was not published within the storm timeout")?
        .context("publisher panicked")?
        .context("publishing the second batch")?;
    let remaining = storm.timeout.saturating_sub(restarted.elapsed());
    let caught_up = wait_for(&shared, remaining, || {
        shared.complete.load(Ordering::Relaxed) >= connected
    })
    .await;
    let all_caught_up_ms = caught_up.then(since_restart);
    let cpu_after = pid.and_then(|p| procfs::cpu_us(Some(p)));
    probe_stop.cancel();
    let (healthz, healthz_failed) = prober.await.context("health prober panicked")??;
    let (health_port, health_port_failed) = match port_prober {
        Some(p) => {
            let (h, failed) = p.await.context("health port prober panicked")??;
            (Some(Percentiles::from(&h)), failed)
        }
        None => (None, 0),
    };
    stop.cancel();

    let (mut deliveries, mut lost, mut duplicates) = (0u64, 0u64, 0u64);
    let (mut streams_with_loss, mut streams_with_duplicates) = (0, 0);
    let mut first_error = None;
    for t in tasks {
        let outcome = t.await.context("stream task panicked")?;
        first_error = first_error.or(outcome.error);
        if !outcome.connected {
            continue;
        }
        let (mut l, mut d) = (0u64, 0u64);
        for &c in &outcome.counts {
            match c {
                0 => l += 1,
                n => {
                    deliveries += 1;
                    d += u64::from(n - 1);
                }
            }
        }
        streams_with_loss += usize::from(l > 0);
        streams_with_duplicates += usize::from(d > 0);
        lost += l;
        duplicates += d;
    }
    let publish_failed = before.failed + during.failed;
    // Only what was acknowledged is owed; a failed publish is counted apart.
    lost = lost.saturating_sub(publish_failed * connected as u64);

    Ok(StormReport {
        clients: opts.clients,
        connected,
        failed: opts.clients - connected,
        first_error,
        connect_total_ms,
        events_per_batch: batch,
        rate: opts.rate,
        publishers: opts.publishers,
        published_before: before.ok,
        published_during: during.ok,
        publish_failed,
        first_batch_everywhere,
        server_stop_ms,
        server_start_ms,
        streams_dropped: shared.dropped.load(Ordering::Relaxed),
        streams_live_again: shared.resumed.load(Ordering::Relaxed),
        all_live_ms,
        resume: Percentiles::from(&shared.resume),
        all_caught_up_ms,
        reconnect_attempts: shared.reconnect_attempts.load(Ordering::Relaxed),
        reconnect_failed: shared.reconnect_failed.load(Ordering::Relaxed),
        resets: shared.resets.load(Ordering::Relaxed),
        latency_before: Percentiles::from(&shared.latency),
        latency_during: Percentiles::from(&shared.latency_second),
        deliveries,
        lost,
        duplicates,
        streams_with_loss,
        streams_with_duplicates,
        healthz: Percentiles::from(&healthz),
        healthz_failed,
        health_port,
        health_port_failed,
        server_cpu_storm_ms: cpu_before
            .zip(cpu_after)
            .map(|(b, a)| a.saturating_sub(b) as f64 / 1000.0),
    })
}

//! The health port: `/healthz` and `/metrics` on a second address, served
//! by a thread with a runtime of its own.
//!
//! During a reconnect storm the main listener has thousands of connections
//! queued ahead of a probe, and an orchestrator that waits too long for
//! `/healthz` restarts a server that is merely busy. Probes sent here do not
//! queue behind streams. So that a quick answer still means something, the
//! main runtime ticks a heartbeat every second and `/healthz` here answers
//! 503 once the last tick is older than [`STALL`]: a wedged runtime is
//! reported, a busy one is not.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::conn::{Conn, ConnectionSlots, Deadlines};
use crate::metrics::Metrics;

/// How often the main runtime ticks.
const BEAT: Duration = Duration::from_secs(1);
/// A heartbeat older than this makes `/healthz` here answer 503.
pub const STALL: Duration = Duration::from_secs(5);
/// Probes served at once; more wait in the backlog.
pub const CONNECTIONS: usize = 64;
/// A probe sends a few hundred bytes and reads a few kilobytes.
const DEADLINES: Deadlines = Deadlines {
    head: Duration::from_secs(10),
    write: Duration::from_secs(10),
};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A bound health port, not yet serving.
pub struct HealthPort {
    listener: std::net::TcpListener,
    heartbeat: Arc<AtomicU64>,
}

#[derive(Clone)]
struct Probe {
    metrics: Arc<Metrics>,
    heartbeat: Arc<AtomicU64>,
}

impl HealthPort {
    /// Binds `addr` (port 0 picks one).
    pub fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(Self {
            listener,
            heartbeat: Arc::new(AtomicU64::new(now_ms())),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Ticks the heartbeat from the calling runtime and serves from a new
    /// thread until `stop` fires. The returned task ends with the thread.
    pub fn start(
        self,
        metrics: Arc<Metrics>,
        stop: CancellationToken,
    ) -> std::io::Result<tokio::task::JoinHandle<()>> {
        let addr = self.listener.local_addr()?;
        let heartbeat = self.heartbeat.clone();
        let beat_stop = stop.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(BEAT);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = beat_stop.cancelled() => return,
                    _ = every.tick() => heartbeat.store(now_ms(), Ordering::Relaxed),
                }
            }
        });
        let probe = Probe {
            metrics,
            heartbeat: self.heartbeat,
        };
        let listener = self.listener;
        let thread = std::thread::Builder::new()
            .name("belfry-health".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start the health port's runtime");
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!(error = %e, "cannot serve the health port");
                            return;
                        }
                    };
                    let router = Router::new()
                        .route("/healthz", get(healthz))
                        .route("/metrics", get(render_metrics))
                        .with_state(probe);
                    // Its own small budget and the same kind of deadlines
                    // as the main listener: a flood here cannot hold it.
                    let (tx, rx) = tokio::sync::mpsc::channel(CONNECTIONS);
                    let tracker = TaskTracker::new();
                    tracker.spawn(accept(listener, tx, stop.clone()));
                    crate::conn::serve(rx, router, DEADLINES, tracker.clone(), stop).await;
                    tracker.close();
                    let _ = tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await;
                });
            })?;
        tracing::info!("health checks on http://{addr}");
        Ok(tokio::task::spawn_blocking(move || {
            let _ = thread.join();
        }))
    }
}

async fn accept(
    listener: tokio::net::TcpListener,
    tx: tokio::sync::mpsc::Sender<(Conn, SocketAddr)>,
    stop: CancellationToken,
) {
    let slots = ConnectionSlots::new(CONNECTIONS, None);
    while let Some((tcp, peer, slot)) = slots.accept(&listener, &stop).await {
        if tx
            .send((Conn::new(bytes::Bytes::new(), tcp, slot), peer))
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn healthz(State(p): State<Probe>) -> impl IntoResponse {
    let age = now_ms().saturating_sub(p.heartbeat.load(Ordering::Relaxed));
    if age > STALL.as_millis() as u64 {
        let body = serde_json::json!({
            "status": "stalled",
            "message": format!("the server's runtime has not ticked for {age} ms"),
        });
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body))
    } else {
        (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        )
    }
}

async fn render_metrics(State(p): State<Probe>) -> impl IntoResponse {
    crate::api::health::metrics_text(&p.metrics)
}

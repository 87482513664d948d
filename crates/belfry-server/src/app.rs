//! Assembling and running a server: open the store, load the keys, bind the
//! listener, serve until the shutdown token fires, then wind down in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::Verifier;
use crate::broker::{Broker, MemoryBroker};
use crate::config::{Config, IDEMPOTENCY_WINDOW, JwtAlgorithm};
use crate::metrics::Metrics;
use crate::publish::Publisher;
use crate::state::AppState;
use crate::store::{SqliteStore, Store};

/// Pending-connection queue of the listening socket. tokio's default of 128
/// drops SYNs when a thousand clients reconnect at once after a restart.
pub const LISTEN_BACKLOG: u32 = 4096;
/// How often expired idempotency keys are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Binds `addr` with a large backlog and `SO_REUSEADDR`, so a restarted
/// server can take its port back while old connections are in TIME_WAIT.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// A server that is bound and ready to run.
pub struct Server {
    state: AppState,
    listener: TcpListener,
    writer: JoinHandle<()>,
}

impl Server {
    /// Opens the store, prepares token verification and binds the listener.
    /// Nothing is served until [`Server::run`].
    pub async fn build(config: Config, shutdown: CancellationToken) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
        let secret = match (config.jwt.algorithm, &config.jwt.secret) {
            (JwtAlgorithm::Hs256, Some(s)) => Some(s.clone()),
            (JwtAlgorithm::Hs256, None) => {
                let (secret, created) = crate::secret::load_or_create(&config.secret_path())?;
                if created {
                    tracing::info!(path = %config.secret_path().display(), "generated a new JWT secret");
                }
                Some(secret)
            }
            _ => None,
        };
        let verifier = Verifier::new(&config.jwt, secret.as_ref(), &config.admin_emails)?;
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&config.database_path())
                .await
                .with_context(|| format!("cannot open {}", config.database_path().display()))?,
        );
        let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new(config.broadcast_capacity));
        let metrics = Arc::new(Metrics::new());
        let (publisher, writer) = Publisher::spawn(store.clone(), broker.clone(), metrics.clone());
        let listener =
            bind(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
        Ok(Self {
            state: AppState {
                config: Arc::new(config),
                store,
                broker,
                publisher,
                verifier: Arc::new(verifier),
                metrics,
                shutdown,
            },
            listener,
            writer,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The shared state, e.g. to publish in-process.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the shutdown token fires; then stops accepting, lets every
    /// stream end itself, finishes queued publishes and closes the store.
    pub async fn run(self) -> anyhow::Result<()> {
        let Server {
            state,
            listener,
            writer,
        } = self;
        let addr = listener.local_addr()?;
        tracing::info!("listening on http://{addr}");

        let mut background = vec![tokio::spawn(prune_idempotency_keys(state.clone()))];
        if state.config.demo {
            tracing::info!(
                per_minute = state.config.demo_per_minute,
                "publishing demo events"
            );
            background.push(tokio::spawn(crate::demo::run(
                state.publisher.clone(),
                state.config.demo_per_minute,
                state.shutdown.clone(),
            )));
        }

        // Nagle's algorithm would hold small SSE frames back for up to 40 ms.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let shutdown = state.shutdown.clone();
        let router = crate::api::router(state.clone());
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .await;
        shutdown.cancel();

        for task in background {
            let _ = task.await;
        }
        let store = state.store.clone();
        // The writer ends when the last Publisher handle is gone.
        drop(state);
        let _ = writer.await;
        store.close().await;
        tracing::info!("stopped");
        served.context("server failed")
    }
}

async fn prune_idempotency_keys(state: AppState) {
    let mut every = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let before = time::OffsetDateTime::now_utc() - IDEMPOTENCY_WINDOW;
        match state.store.prune_idempotency_keys(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "forgot expired idempotency keys"),
            Err(e) => tracing::warn!(error = %e, "pruning idempotency keys failed"),
        }
    }
}

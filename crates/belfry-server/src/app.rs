//! Assembling and running a server: open the store, load the keys, bind the
//! listener, serve until the shutdown token fires, then wind down in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Minter, Verifier};
use crate::broker::BusMessage;
use crate::broker::{Broker, MemoryBroker, RedisBroker};
use crate::config::{Config, IDEMPOTENCY_WINDOW, JwtAlgorithm};
use crate::conn::{ConnectionSlots, Deadlines};
use crate::front::FrontDoor;
use crate::health_port::HealthPort;
use crate::limits::StreamLimits;
use crate::metrics::Metrics;
use crate::password::PasswordChecker;
use crate::publish::Publisher;
use crate::state::AppState;
use crate::store::{PgStore, Revocation, SqliteStore, Store};
use secrecy::ExposeSecret as _;

/// Pending-connection queue of the listening socket. tokio's default of 128
/// drops SYNs when a thousand clients reconnect at once after a restart.
pub const LISTEN_BACKLOG: u32 = 4096;
/// How long shutdown waits for streams to end after the signal.
const STREAMS_GRACE: Duration = Duration::from_secs(10);
/// How often expired idempotency keys and old notifications are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Revocations kept for streams whose client is not reading (see
/// `AppState::revocations`).
const RECENT_REVOCATIONS: usize = 256;
/// How often the store is asked for new revocations: logging out or
/// disabling a user ends their streams within this, on every replica.
const REVOCATION_POLL: Duration = Duration::from_millis(250);

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

/// Why a server, or an admin command, cannot start: each names what it
/// was doing and keeps the error underneath as its source.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("another belfry-server is using {}: stop it first", .0.display())]
    Locked(std::path::PathBuf),
    #[error("{what}")]
    Store {
        what: String,
        #[source]
        source: crate::store::StoreError,
    },
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    #[error(transparent)]
    Key(#[from] crate::auth::KeyError),
    #[error(transparent)]
    Broker(#[from] crate::broker::BrokerError),
    #[error(transparent)]
    Channel(#[from] crate::channels::ChannelError),
}

impl StartError {
    /// An I/O error, saying what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| StartError::Io { what, source }
    }

    fn store(what: impl Into<String>) -> impl FnOnce(crate::store::StoreError) -> Self {
        let what = what.into();
        move |source| StartError::Store { what, source }
    }
}

/// Opens the configured store: PostgreSQL when a URL is set, else SQLite
/// in the data directory.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    Ok(match &config.store {
        Some(url) => Arc::new(
            PgStore::connect(url.expose_secret(), config.store_pool_size)
                .await
                .map_err(StartError::store("cannot connect to the PostgreSQL store"))?,
        ),
        None => Arc::new(SqliteStore::open(&config.database_path()).await.map_err(
            StartError::store(format!("cannot open {}", config.database_path().display())),
        )?),
    })
}

/// Takes the data directory's lock file, so that no other server and no
/// `restore` uses the same SQLite database meanwhile. Held until dropped.
pub fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, StartError> {
    let path = dir.join("belfry.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(StartError::io(format!("cannot open {}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StartError::Locked(dir.to_owned())),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(StartError::io(format!("cannot lock {}", path.display()))(e))
        }
    }
}

/// A server that is bound and ready to run.
pub struct Server {
    state: AppState,
    listener: TcpListener,
    health: Option<HealthPort>,
    writer: JoinHandle<()>,
    writer_stop: CancellationToken,
    /// The data directory's lock, with the embedded store.
    lock: Option<std::fs::File>,
}

impl Server {
    /// Opens the store, prepares token verification and binds the listener.
    /// Nothing is served until [`Server::run`].
    pub async fn build(config: Config, shutdown: CancellationToken) -> Result<Self, StartError> {
        std::fs::create_dir_all(&config.data_dir).map_err(StartError::io(format!(
            "cannot create data directory {}",
            config.data_dir.display()
        )))?;
        let secret = match (config.jwt.algorithm, &config.jwt.secret) {
            (JwtAlgorithm::Hs256, Some(s)) => Some(s.clone()),
            (JwtAlgorithm::Hs256, None) => {
                if config.store.is_some() {
                    tracing::warn!(
                        "using the JWT secret generated in the data directory with a shared store: every replica must use the same secret, so set jwt_secret"
                    );
                }
                let (secret, created) = crate::secret::load_or_create(&config.secret_path())?;
                if created {
                    tracing::info!(path = %config.secret_path().display(), "generated a new JWT secret");
                }
                Some(secret)
            }
            _ => None,
        };
        let verifier = Verifier::new(&config.jwt, secret.as_ref(), &config.admin_emails)?;
        let minter = secret
            .as_ref()
            .map(|s| Arc::new(Minter::new(s, &config.jwt)));
        let lock = match config.store {
            None => Some(lock_data_dir(&config.data_dir)?),
            Some(_) => None,
        };
        let store = open_store(&config).await?;
        let restores: Arc<[crate::store::Restore]> = store
            .restores()
            .await
            .map_err(StartError::store("cannot read the store's restores"))?
            .into();
        let broker: Arc<dyn Broker> = match &config.broker {
            Some(url) => RedisBroker::start(
                url.expose_secret(),
                &config.broker_channel,
                config.broadcast_capacity,
                shutdown.clone(),
            )?,
            None => Arc::new(MemoryBroker::new(config.broadcast_capacity)),
        };
        let metrics = Arc::new(Metrics::new());
        let writer_stop = CancellationToken::new();
        let (publisher, writer) = Publisher::spawn(
            store.clone(),
            broker.clone(),
            metrics.clone(),
            writer_stop.clone(),
        );
        let listener = bind(config.listen).map_err(StartError::io(format!(
            "cannot listen on {}",
            config.listen
        )))?;
        let health = config
            .health_listen
            .map(|addr| {
                HealthPort::bind(addr).map_err(StartError::io(format!(
                    "cannot listen for health checks on {addr}"
                )))
            })
            .transpose()?;
        // Checked again with the port actually bound (`listen` may say 0),
        // so that no channel points back at this server.
        let channels = Arc::new(crate::channels::Channels::new(
            &config.channels,
            &crate::channels::SelfAddress {
                listen_port: listener.local_addr().ok().map(|a| a.port()),
                public_url: config.public_url.clone(),
            },
        )?);
        let config_limits = (config.max_streams_per_user, config.max_streams);
        Ok(Self {
            state: AppState {
                config: Arc::new(config),
                store,
                broker,
                publisher,
                verifier: Arc::new(verifier),
                metrics,
                minter,
                limits: StreamLimits::new(config_limits.0, config_limits.1),
                passwords: Arc::new(PasswordChecker::new(
                    std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
                )),
                signin: Arc::default(),
                restores,
                revocations: Arc::new(tokio::sync::watch::Sender::new(Arc::from([]))),
                shutdown,
                channels,
            },
            listener,
            health,
            writer,
            writer_stop,
            lock,
        })
    }

    /// The health port's address, when one was configured.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health.as_ref().and_then(|h| h.local_addr().ok())
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
    pub async fn run(self) -> Result<(), StartError> {
        let (addr, health_addr) = (self.local_addr(), self.health_addr());
        let Server {
            state,
            listener,
            health,
            writer,
            writer_stop,
            lock,
        } = self;
        tracing::info!("listening on http://{addr}");
        if let Some(path) = &state.config.ready_file {
            write_ready_file(path, addr, health_addr)?;
        }

        let mut background = vec![
            tokio::spawn(prune(state.clone())),
            tokio::spawn(watch_revocations(state.clone())),
        ];
        if let Some(health) = health {
            background.push(
                health
                    .start(state.metrics.clone(), state.shutdown.clone())
                    .map_err(StartError::io("cannot start the health port"))?,
            );
        }
        if state.config.broker.is_some() {
            background.push(tokio::spawn(watch_head(state.clone())));
            background.push(tokio::spawn(share_stream_counts(state.clone())));
        }
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

        let shutdown = state.shutdown.clone();
        let router = crate::api::router(state.clone());
        let files = crate::conn::open_file_limit();
        let budget = crate::conn::connection_budget(files, state.config.store_pool_size);
        if let Some(files) = files {
            tracing::info!(
                connections = budget,
                open_file_limit = files,
                "accepting at most this many connections; the rest of the file descriptors stay free for the store and the health port"
            );
        }
        let deadlines = Deadlines {
            head: state.config.request_head_timeout,
            write: state.config.stream_write_timeout,
        };
        // Streams are served by the front door's tasks, everything else by
        // hyper (see `front` and `conn`).
        let streams = TaskTracker::new();
        let handoff = FrontDoor {
            router: router.clone(),
            slots: ConnectionSlots::new(budget, Some(state.metrics.clone())),
            deadlines,
        }
        .open(listener, streams.clone(), shutdown.clone());
        crate::conn::serve(
            handoff,
            router,
            deadlines,
            streams.clone(),
            shutdown.clone(),
        )
        .await;
        shutdown.cancel();
        // Every stream ends itself on shutdown; one stuck writing to a
        // client that stopped reading is not waited for long.
        streams.close();
        if tokio::time::timeout(STREAMS_GRACE, streams.wait())
            .await
            .is_err()
        {
            tracing::warn!(left = streams.len(), "some streams did not end in time");
        }

        for task in background {
            let _ = task.await;
        }
        let store = state.store.clone();
        drop(state);
        // Every request is answered: commit what is queued, then stop.
        writer_stop.cancel();
        let _ = writer.await;
        store.close().await;
        drop(lock);
        tracing::info!("stopped");
        Ok(())
    }
}

/// Writes the bound addresses as one JSON object to `path`, through a file
/// beside it renamed over it, so a reader never sees half of it:
/// `{"listen":"127.0.0.1:PORT","health_listen":null}`.
fn write_ready_file(
    path: &std::path::Path,
    listen: SocketAddr,
    health_listen: Option<SocketAddr>,
) -> Result<(), StartError> {
    let body = serde_json::json!({ "listen": listen, "health_listen": health_listen });
    let staging = path.with_extension("writing");
    std::fs::write(&staging, format!("{body}\n"))
        .and_then(|()| std::fs::rename(&staging, path))
        .map_err(StartError::io(format!(
            "cannot write the ready file {}",
            path.display()
        )))
}

/// Retention: old notifications (with their read marks and acks) and
/// expired idempotency keys, once at start and then every hour.
async fn prune(state: AppState) {
    use belfry_proto::Severity;
    let mut every = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let now = time::OffsetDateTime::now_utc();
        let c = &state.config;
        let cutoffs = [
            (Severity::Info, now - c.retention_info),
            (Severity::Warning, now - c.retention_warning),
            (Severity::Critical, now - c.retention_critical),
        ];
        match state.store.prune(&cutoffs).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "pruned notifications past retention"),
            Err(e) => tracing::warn!(error = %e, "pruning notifications failed"),
        }
        match state
            .store
            .prune_idempotency_keys(now - IDEMPOTENCY_WINDOW)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "forgot expired idempotency keys"),
            Err(e) => tracing::warn!(error = %e, "pruning idempotency keys failed"),
        }
    }
}

/// Turns revocations recorded in the store (by this server, another
/// replica, or the `user disable` command) into stream endings here.
async fn watch_revocations(state: AppState) {
    let mut seen = loop {
        match state.store.last_revocation().await {
            Ok(id) => break id,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read revocations; retrying");
                tokio::select! {
                    () = state.shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    };
    let mut every = tokio::time::interval(REVOCATION_POLL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        match state.store.revocations_after(seen).await {
            Ok(list) if !list.is_empty() => {
                let mut batch = Vec::with_capacity(list.len());
                for (id, revocation) in list {
                    seen = id;
                    tracing::info!(?revocation, "ending revoked streams");
                    state
                        .broker
                        .deliver_local(BusMessage::Revoked(revocation.clone()));
                    batch.push(revocation);
                }
                // The latest few, not only this batch: a stream whose
                // writer blocks later still finds one that arrived before.
                state.revocations.send_modify(|recent| {
                    let mut all: Vec<Revocation> = recent.iter().cloned().chain(batch).collect();
                    let keep = all.len().saturating_sub(RECENT_REVOCATIONS);
                    *recent = all.split_off(keep).into();
                });
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read revocations"),
        }
    }
}

/// How often a replica compares the store's newest id with what fan-out
/// brought it.
const HEAD_CHECK: Duration = Duration::from_secs(2);

/// Redis pub/sub may drop a message without the subscription breaking (a
/// publisher that lost its connection after committing). If the store stays
/// ahead of what arrived for a whole check period, every stream catches up.
async fn watch_head(state: AppState) {
    let mut rx = state.broker.subscribe();
    let mut seen: u64 = state.store.last_id().await.unwrap_or(0);
    let mut behind_since: Option<u64> = None;
    let mut every = tokio::time::interval(HEAD_CHECK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            msg = rx.recv() => match msg {
                Ok(BusMessage::Notification(n)) => seen = seen.max(n.id),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = every.tick() => {
                let Ok(head) = state.store.last_id().await else { continue };
                match behind_since {
                    // Still short of the head seen a whole period ago.
                    Some(h) if seen < h => {
                        tracing::warn!(head, seen, "fan-out missed notifications; streams catch up from the store");
                        state.broker.deliver_local(BusMessage::CatchUp);
                        seen = head;
                        behind_since = None;
                    }
                    _ => behind_since = (head > seen).then_some(head),
                }
            }
        }
    }
}

/// How often a replica shares its open streams per admin.
const SHARE_COUNTS_EVERY: Duration = Duration::from_secs(1);

/// Keeps this replica's per-admin stream counts visible to the others, so
/// `max_streams_per_user` holds across replicas (to within a second).
async fn share_stream_counts(state: AppState) {
    let mut every = tokio::time::interval(SHARE_COUNTS_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let counts = state.limits.per_user();
        state.broker.share_stream_counts(&counts).await;
    }
}

//! The broker: live fan-out of committed notifications to every stream of
//! this process. A trait so a networked broker (fan-out across replicas) can
//! stand beside the in-memory one; every implementation ends in a local
//! `tokio::sync::broadcast`, which each stream subscribes to.

mod redis;

pub use self::redis::RedisBroker;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use belfry_proto::{Notification, Severity};
use bytes::Bytes;
use tokio::sync::broadcast;

use crate::store::Revocation;

/// A notification encoded once, shared by every stream that delivers it.
#[derive(Debug)]
pub struct Encoded {
    pub notification: Notification,
    pub id: u64,
    pub severity: Severity,
    pub kind: String,
    /// The whole SSE frame: `id:`, `event: notification`, `data:` and the blank line.
    pub frame: Bytes,
}

impl Encoded {
    pub fn new(n: &Notification) -> Self {
        Self {
            notification: n.clone(),
            id: n.id,
            severity: n.severity,
            kind: n.kind.clone(),
            frame: crate::sse::notification_frame(n),
        }
    }
}

/// What travels on the bus.
#[derive(Debug, Clone)]
pub enum BusMessage {
    Notification(Arc<Encoded>),
    /// A frame for every stream of one admin (`event: read`, `event: preferences`).
    ToUser {
        sub: Arc<str>,
        frame: Bytes,
    },
    /// A frame for every stream (`event: ack`).
    ToAll(Bytes),
    /// Streams of this user or sign-in must end now.
    Revoked(Revocation),
    /// Live fan-out may have skipped something (the networked broker
    /// reconnected, or the store is ahead of what arrived): every stream
    /// reads the store from its cursor.
    CatchUp,
}

/// The local end of every broker: the broadcast channel each stream
/// subscribes to, and the id of the newest notification sent on it, which a
/// stream reads without taking the channel's lock.
#[derive(Debug)]
pub struct LocalBus {
    tx: broadcast::Sender<BusMessage>,
    newest: AtomicU64,
}

impl LocalBus {
    pub fn new(capacity: usize) -> Self {
        Self {
            tx: broadcast::channel(capacity).0,
            newest: AtomicU64::new(0),
        }
    }

    /// Sends to every subscriber of this process. An error only means nobody
    /// is subscribed right now: not a failure.
    pub fn send(&self, msg: BusMessage) {
        if let BusMessage::Notification(n) = &msg {
            // Before the send: a stream that receives `n` may then see a
            // newer id than is on the channel yet, which only costs it one
            // empty look; never the other way round.
            self.newest.fetch_max(n.id, Ordering::Relaxed);
        }
        let _ = self.tx.send(msg);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.tx.subscribe()
    }

    /// The id of the newest notification sent (0 before the first).
    pub fn newest(&self) -> u64 {
        self.newest.load(Ordering::Relaxed)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("broker error: {0}")]
pub struct BrokerError(pub String);

#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Hands a committed message to every subscriber (of every replica, for a
    /// networked broker). Called in commit order by the single publisher task.
    async fn publish(&self, msg: BusMessage) -> Result<(), BrokerError>;

    /// This process's end of the bus, where every broker delivers.
    fn local(&self) -> &LocalBus;

    /// A receiver of every message published from now on. A receiver that
    /// falls more than the channel's capacity behind gets `Lagged` and must
    /// catch up from the store.
    fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.local().subscribe()
    }

    /// Hands a message to this process's subscribers only (each process
    /// learns revocations from the store itself).
    fn deliver_local(&self, msg: BusMessage) {
        self.local().send(msg);
    }

    /// The id of the newest notification handed to this process's
    /// subscribers: a stream behind it has more waiting and takes it in the
    /// same wake-up.
    fn newest_id(&self) -> u64 {
        self.local().newest()
    }

    /// Streams `sub` holds on other replicas, for the per-admin stream limit
    /// (none for a single-process broker).
    async fn streams_elsewhere(&self, _sub: &str) -> usize {
        0
    }

    /// Shares this process's open streams per admin with the other replicas.
    async fn share_stream_counts(&self, _counts: &HashMap<String, usize>) {}
}

/// Single-process broker.
#[derive(Debug)]
pub struct MemoryBroker {
    local: LocalBus,
}

impl MemoryBroker {
    pub fn new(capacity: usize) -> Self {
        Self {
            local: LocalBus::new(capacity),
        }
    }
}

#[async_trait]
impl Broker for MemoryBroker {
    async fn publish(&self, msg: BusMessage) -> Result<(), BrokerError> {
        self.local.send(msg);
        Ok(())
    }

    fn local(&self) -> &LocalBus {
        &self.local
    }
}

//! The broker: live fan-out of committed notifications to every stream of
//! this process. A trait so a networked broker (fan-out across replicas) can
//! stand beside the in-memory one; every implementation ends in a local
//! `tokio::sync::broadcast`, which each stream subscribes to.

mod redis;

pub use self::redis::RedisBroker;

use std::collections::HashMap;
use std::sync::Arc;

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

#[derive(Debug, thiserror::Error)]
#[error("broker error: {0}")]
pub struct BrokerError(pub String);

#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Hands a committed message to every subscriber (of every replica, for a
    /// networked broker). Called in commit order by the single publisher task.
    async fn publish(&self, msg: BusMessage) -> Result<(), BrokerError>;

    /// A receiver of every message published from now on. A receiver that
    /// falls more than the channel's capacity behind gets `Lagged` and must
    /// catch up from the store.
    fn subscribe(&self) -> broadcast::Receiver<BusMessage>;

    /// Hands a message to this process's subscribers only (each process
    /// learns revocations from the store itself).
    fn deliver_local(&self, msg: BusMessage);

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
    tx: broadcast::Sender<BusMessage>,
}

impl MemoryBroker {
    pub fn new(capacity: usize) -> Self {
        Self {
            tx: broadcast::channel(capacity).0,
        }
    }
}

#[async_trait]
impl Broker for MemoryBroker {
    async fn publish(&self, msg: BusMessage) -> Result<(), BrokerError> {
        // An error only means nobody is subscribed right now: not a failure.
        let _ = self.tx.send(msg);
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.tx.subscribe()
    }

    fn deliver_local(&self, msg: BusMessage) {
        let _ = self.tx.send(msg);
    }
}

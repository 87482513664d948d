//! Fan-out across replicas through Redis pub/sub.
//!
//! Redis is an accelerator, the store is the truth: a message is delivered
//! to this replica's own streams directly, then published for the others.
//! Pub/sub is at-most-once, so whenever the subscription breaks (Redis
//! restarted, network blip) the replica resubscribes with backoff and tells
//! every local stream to catch up from the store; clients see a delay, never
//! a gap.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use belfry_proto::Notification;
use bytes::Bytes;
use futures_util::StreamExt as _;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::{Broker, BrokerError, BusMessage, Encoded, LocalBus};

/// Resubscribe backoff: full jitter up to this cap.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
const BASE_BACKOFF: Duration = Duration::from_millis(200);
/// A publish that takes longer is abandoned (the store still has it).
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);
/// A replica's shared stream counts vanish this long after its last update,
/// so a crashed replica's streams stop counting against anyone's limit.
const STREAM_COUNTS_TTL_SECS: i64 = 5;
/// How long a stream may wait on Redis to check the limit; past it the limit
/// is checked on this replica alone (open rather than refuse).
const COUNT_TIMEOUT: Duration = Duration::from_millis(500);

/// A bus message as it travels between replicas.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Wire {
    Notification {
        origin: u64,
        notification: Notification,
    },
    ToUser {
        origin: u64,
        sub: String,
        frame: String,
    },
    ToAll {
        origin: u64,
        frame: String,
    },
}

impl Wire {
    fn origin(&self) -> u64 {
        match self {
            Wire::Notification { origin, .. }
            | Wire::ToUser { origin, .. }
            | Wire::ToAll { origin, .. } => *origin,
        }
    }
}

/// Redis-backed [`Broker`].
pub struct RedisBroker {
    local: LocalBus,
    client: redis::Client,
    /// Publishing connection, made on first use and replaced after an error.
    conn: Mutex<Option<redis::aio::MultiplexedConnection>>,
    /// This replica's id: its own messages coming back from Redis are skipped.
    origin: u64,
    /// The pub/sub channel of this deployment's replicas.
    channel: String,
}

impl std::fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBroker")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl RedisBroker {
    /// A broker on `url` and `channel`; its subscription task runs until `shutdown`.
    pub fn start(
        url: &str,
        channel: &str,
        capacity: usize,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, BrokerError> {
        let client = redis::Client::open(url)
            .map_err(|e| BrokerError(format!("invalid broker URL: {e}")))?;
        let broker = Arc::new(Self {
            local: LocalBus::new(capacity),
            client,
            conn: Mutex::new(None),
            origin: rand::rng().random(),
            channel: channel.to_owned(),
        });
        tokio::spawn(subscribe_forever(broker.clone(), shutdown));
        Ok(broker)
    }

    fn counts_key(&self, origin: &str) -> String {
        format!("{}:streams:{origin}", self.channel)
    }

    fn replicas_key(&self) -> String {
        format!("{}:replicas", self.channel)
    }

    /// Runs `pipe` on the shared connection, (re)connecting when needed.
    async fn run_pipe<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, BrokerError> {
        let mut guard = self.conn.lock().await;
        let conn = match guard.as_mut() {
            Some(c) => c,
            None => {
                let c = tokio::time::timeout(
                    COUNT_TIMEOUT,
                    self.client.get_multiplexed_async_connection(),
                )
                .await
                .map_err(|_| BrokerError("connecting to Redis timed out".into()))?
                .map_err(|e| BrokerError(format!("cannot connect to Redis: {e}")))?;
                guard.insert(c)
            }
        };
        match tokio::time::timeout(COUNT_TIMEOUT, pipe.query_async::<T>(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                *guard = None;
                Err(BrokerError(format!("Redis: {e}")))
            }
            Err(_) => {
                *guard = None;
                Err(BrokerError("Redis timed out".into()))
            }
        }
    }

    async fn publish_wire(&self, wire: &Wire) -> Result<(), BrokerError> {
        let payload = serde_json::to_string(wire).map_err(|e| BrokerError(e.to_string()))?;
        let mut guard = self.conn.lock().await;
        let conn = match guard.as_mut() {
            Some(c) => c,
            None => {
                let c = tokio::time::timeout(
                    PUBLISH_TIMEOUT,
                    self.client.get_multiplexed_async_connection(),
                )
                .await
                .map_err(|_| BrokerError("connecting to Redis timed out".into()))?
                .map_err(|e| BrokerError(format!("cannot connect to Redis: {e}")))?;
                guard.insert(c)
            }
        };
        let sent: Result<Result<i64, redis::RedisError>, _> = tokio::time::timeout(
            PUBLISH_TIMEOUT,
            redis::cmd("PUBLISH")
                .arg(&self.channel)
                .arg(payload)
                .query_async(conn),
        )
        .await;
        match sent {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                *guard = None;
                Err(BrokerError(format!("Redis publish failed: {e}")))
            }
            Err(_) => {
                *guard = None;
                Err(BrokerError("Redis publish timed out".into()))
            }
        }
    }
}

#[async_trait]
impl Broker for RedisBroker {
    async fn publish(&self, msg: BusMessage) -> Result<(), BrokerError> {
        let wire = match &msg {
            BusMessage::Notification(n) => Some(Wire::Notification {
                origin: self.origin,
                notification: n.notification.clone(),
            }),
            BusMessage::ToUser { sub, frame } => Some(Wire::ToUser {
                origin: self.origin,
                sub: sub.to_string(),
                frame: String::from_utf8_lossy(frame).into_owned(),
            }),
            BusMessage::ToAll(frame) => Some(Wire::ToAll {
                origin: self.origin,
                frame: String::from_utf8_lossy(frame).into_owned(),
            }),
            BusMessage::Revoked(_) | BusMessage::CatchUp => None,
        };
        self.deliver_local(msg);
        match wire {
            Some(w) => self.publish_wire(&w).await,
            None => Ok(()),
        }
    }

    fn local(&self) -> &LocalBus {
        &self.local
    }

    async fn streams_elsewhere(&self, sub: &str) -> usize {
        let count = async {
            let members: Vec<String> = self
                .run_pipe(redis::pipe().cmd("SMEMBERS").arg(self.replicas_key()))
                .await
                .map(|(m,): (Vec<String>,)| m)?;
            let me = self.origin.to_string();
            let others: Vec<&String> = members.iter().filter(|m| **m != me).collect();
            if others.is_empty() {
                return Ok(0);
            }
            let mut pipe = redis::pipe();
            for o in &others {
                pipe.cmd("HGET").arg(self.counts_key(o)).arg(sub);
                pipe.cmd("EXISTS").arg(self.counts_key(o));
            }
            let answers: Vec<redis::Value> = self.run_pipe(&pipe).await?;
            let mut total = 0;
            let mut gone = redis::pipe();
            let mut any_gone = false;
            for (o, pair) in others.iter().zip(answers.chunks(2)) {
                let n: Option<usize> = redis::from_redis_value(pair[0].clone()).unwrap_or(None);
                total += n.unwrap_or(0);
                let exists: i64 = redis::from_redis_value(pair[1].clone()).unwrap_or(1);
                if exists == 0 {
                    // A replica that stopped updating: forget it.
                    gone.cmd("SREM")
                        .arg(self.replicas_key())
                        .arg(o.as_str())
                        .ignore();
                    any_gone = true;
                }
            }
            if any_gone {
                let _: Result<(), _> = self.run_pipe(&gone).await;
            }
            Ok::<usize, BrokerError>(total)
        };
        match count.await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read other replicas' stream counts; limiting on this replica alone");
                0
            }
        }
    }

    async fn share_stream_counts(&self, counts: &HashMap<String, usize>) {
        let key = self.counts_key(&self.origin.to_string());
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("DEL").arg(&key).ignore();
        if !counts.is_empty() {
            let c = pipe.cmd("HSET").arg(&key);
            for (sub, n) in counts {
                c.arg(sub).arg(*n);
            }
            c.ignore();
        }
        pipe.cmd("EXPIRE")
            .arg(&key)
            .arg(STREAM_COUNTS_TTL_SECS)
            .ignore();
        pipe.cmd("SADD")
            .arg(self.replicas_key())
            .arg(self.origin.to_string())
            .ignore();
        if let Err(e) = self.run_pipe::<()>(&pipe).await {
            tracing::debug!(error = %e, "stream counts not shared");
        }
    }
}

fn to_bus(wire: Wire) -> BusMessage {
    match wire {
        Wire::Notification { notification, .. } => {
            BusMessage::Notification(Arc::new(Encoded::new(&notification)))
        }
        Wire::ToUser { sub, frame, .. } => BusMessage::ToUser {
            sub: Arc::from(sub.as_str()),
            frame: Bytes::from(frame),
        },
        Wire::ToAll { frame, .. } => BusMessage::ToAll(Bytes::from(frame)),
    }
}

async fn subscribe_forever(broker: Arc<RedisBroker>, shutdown: CancellationToken) {
    let mut attempt: u32 = 0;
    loop {
        let session = async {
            let mut pubsub = broker.client.get_async_pubsub().await?;
            pubsub.subscribe(&broker.channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = tokio::select! {
            () = shutdown.cancelled() => return,
            r = session => r,
        };
        match pubsub {
            Ok(mut pubsub) => {
                if attempt > 0 {
                    tracing::info!("Redis subscription restored; streams catch up from the store");
                }
                attempt = 0;
                // Whatever was published while we were not subscribed is in
                // the store: every stream reads from its cursor.
                broker.deliver_local(BusMessage::CatchUp);
                let mut messages = pubsub.on_message();
                loop {
                    let msg = tokio::select! {
                        () = shutdown.cancelled() => return,
                        m = messages.next() => m,
                    };
                    let Some(msg) = msg else { break };
                    let payload: String = match msg.get_payload() {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::warn!(error = %e, "unreadable Redis message");
                            continue;
                        }
                    };
                    match serde_json::from_str::<Wire>(&payload) {
                        Ok(w) if w.origin() == broker.origin => {}
                        Ok(w) => broker.deliver_local(to_bus(w)),
                        Err(e) => tracing::warn!(error = %e, "malformed bus message"),
                    }
                }
                tracing::warn!("Redis subscription lost; resubscribing");
            }
            Err(e) => tracing::warn!(error = %e, attempt, "cannot subscribe to Redis"),
        }
        attempt = attempt.saturating_add(1);
        let wait =
            belfry_proto::backoff::delay(attempt, BASE_BACKOFF, 2, MAX_BACKOFF, &mut rand::rng())
                .max(Duration::from_millis(50));
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

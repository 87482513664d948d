//! The publish pipeline: one writer task owns every append.
//!
//! Why one task: it turns concurrent publishes into group commits (one
//! transaction, one fsync for everything that queued meanwhile), and because
//! the same task broadcasts right after each commit, live fan-out happens in
//! exactly the order ids were committed. A stream therefore never sees id
//! 105 before 104, which is what makes `Last-Event-ID` resume gap-free.

use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::broker::{Broker, BusMessage, Encoded};
use crate::config::IDEMPOTENCY_WINDOW;
use crate::metrics::Metrics;
use crate::store::{Append, Appended, Store, StoreError};

/// Most appends committed in one transaction. Bounds a transaction's size
/// while still amortising the fsync across a burst.
const MAX_BATCH: usize = 256;
/// Publishes waiting for the writer; beyond, publishers wait their turn
/// (back-pressure instead of unbounded memory).
const QUEUE_DEPTH: usize = 4096;

struct Job {
    append: Append,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

/// Why a publish did not complete.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the publisher has stopped")]
    Stopped,
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    tx: mpsc::Sender<Job>,
}

impl Publisher {
    /// Starts the writer task. It ends once `stop` fires and the queue is
    /// drained, or once every `Publisher` clone is dropped.
    pub fn spawn(
        store: Arc<dyn Store>,
        broker: Arc<dyn Broker>,
        metrics: Arc<Metrics>,
        stop: CancellationToken,
    ) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let task = tokio::spawn(writer(rx, store, broker, metrics, stop));
        (Self { tx }, task)
    }

    /// Commits `append` (or finds its idempotent original) and, when new,
    /// broadcasts it before returning.
    pub async fn publish(&self, append: Append) -> Result<Appended, PublishError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { append, reply })
            .await
            .map_err(|_| PublishError::Stopped)?;
        Ok(rx.await.map_err(|_| PublishError::Stopped)??)
    }
}

async fn writer(
    mut rx: mpsc::Receiver<Job>,
    store: Arc<dyn Store>,
    broker: Arc<dyn Broker>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    loop {
        let received = tokio::select! {
            n = rx.recv_many(&mut jobs, MAX_BATCH) => n,
            // Refuse new publishes but commit everything already queued.
            () = stop.cancelled(), if !rx.is_closed() => {
                rx.close();
                continue;
            }
        };
        if received == 0 {
            break;
        }
        let (appends, replies): (Vec<_>, Vec<_>) =
            jobs.drain(..).map(|j| (j.append, j.reply)).unzip();
        let since = OffsetDateTime::now_utc() - IDEMPOTENCY_WINDOW;
        match store.append(appends, since).await {
            Ok(results) => {
                for (result, reply) in results.into_iter().zip(replies) {
                    match &result {
                        Appended::Created(n) => {
                            metrics.notifications_published.inc();
                            tracing::info!(id = n.id, kind = %n.kind, severity = %n.severity, "published");
                            let msg = BusMessage::Notification(Arc::new(Encoded::new(n)));
                            if let Err(e) = broker.publish(msg).await {
                                // Committed is what counts: streams catch up
                                // from the store when the bus skipped a beat.
                                tracing::warn!(error = %e, id = n.id, "broadcast failed");
                            }
                        }
                        Appended::Existing(n) => {
                            metrics.idempotent_replays.inc();
                            tracing::info!(id = n.id, "idempotent replay, not broadcast again");
                        }
                    }
                    let _ = reply.send(Ok(result));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "append failed; nothing in the batch was stored");
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

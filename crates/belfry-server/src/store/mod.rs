//! The store: the durable, ordered history of notifications. It is the truth
//! every stream replays from; brokers only speed up live delivery.
//!
//! A trait, so the embedded SQLite store and a networked one share one
//! interface (and one behavioural test suite).

mod sqlite;

use async_trait::async_trait;
use belfry_proto::{NewNotification, Notification};
use time::OffsetDateTime;

pub use sqlite::SqliteStore;

/// Store failures, without any HTTP notion.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// An `Idempotency-Key` as sent by one publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// `sub` of the publishing service: keys of different services never clash.
    pub publisher: String,
    pub key: String,
}

/// One validated notification to append.
#[derive(Debug, Clone)]
pub struct Append {
    pub notification: NewNotification,
    pub publisher: String,
    pub idempotency: Option<IdempotencyKey>,
    pub created_at: OffsetDateTime,
}

/// What became of an [`Append`].
#[derive(Debug, Clone, PartialEq)]
pub enum Appended {
    /// Stored now, with a new id.
    Created(Notification),
    /// The idempotency key was seen within the window: the original.
    Existing(Notification),
}

impl Appended {
    pub fn notification(&self) -> &Notification {
        match self {
            Appended::Created(n) | Appended::Existing(n) => n,
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Appends a batch in one transaction (group commit): either every item is
    /// durable when this returns `Ok`, or none is. Ids are assigned in batch
    /// order and are strictly greater than every id committed before.
    /// Idempotency keys newer than `idempotency_since` return the original.
    async fn append(
        &self,
        batch: Vec<Append>,
        idempotency_since: OffsetDateTime,
    ) -> Result<Vec<Appended>, StoreError>;

    /// Up to `limit` notifications with id > `after`, oldest first.
    async fn since(&self, after: u64, limit: u32) -> Result<Vec<Notification>, StoreError>;

    /// The highest id ever committed (0 when none was), pruned or not.
    async fn last_id(&self) -> Result<u64, StoreError>;

    /// The oldest id still held, `None` when the history is empty.
    async fn first_id(&self) -> Result<Option<u64>, StoreError>;

    /// Forgets idempotency keys created before `before`; returns how many.
    async fn prune_idempotency_keys(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// Whether the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Closes every connection; later calls fail.
    async fn close(&self);
}

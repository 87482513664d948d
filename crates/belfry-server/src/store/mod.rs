//! The store: the durable, ordered history of notifications. It is the truth
//! every stream replays from; brokers only speed up live delivery.
//!
//! A trait, so the embedded SQLite store and a networked one share one
//! interface (and one behavioural test suite).

mod convert;
mod postgres;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use belfry_proto::{
    Ack, InboxItem, NewNotification, Notification, Preferences, Severity, UnreadCounts,
};
use time::OffsetDateTime;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// Store failures, without any HTTP notion.
///
/// Cheap to clone: a failed group commit answers every publisher in the
/// batch with the same error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database failed the call: unreachable, out of connections,
    /// busy, or it refused the statement. Retrying may succeed.
    #[error(transparent)]
    Database(Arc<sqlx::Error>),
    /// What is stored cannot be read back as the model needs it: a value
    /// out of range (an unknown severity, a bad timestamp), a column of the
    /// wrong type, a row that must exist but does not. Retrying cannot help.
    #[error("stored data is corrupt: {what}")]
    Corrupt {
        /// Which value, e.g. `severity 7` or `column "created_at"`.
        what: String,
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },
    #[error("{0} already exists")]
    Conflict(String),
    /// The schema could not be brought up to date.
    #[error("migration failed")]
    Migration(#[source] Arc<sqlx::migrate::MigrateError>),
}

impl StoreError {
    /// Whether the store could not do it now and the same call may succeed
    /// later; otherwise a retry meets the same failure.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Database(_))
    }

    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        StoreError::Corrupt {
            what: what.into(),
            source: None,
        }
    }

    pub(crate) fn corrupt_because(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Corrupt {
            what: what.into(),
            source: Some(Arc::new(source)),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // A value the row holds does not decode as its Rust type.
            sqlx::Error::ColumnDecode { index, source } => StoreError::Corrupt {
                what: format!("column {index}"),
                source: Some(Arc::from(source)),
            },
            sqlx::Error::Decode(source) => StoreError::Corrupt {
                what: "a stored value".to_owned(),
                source: Some(Arc::from(source)),
            },
            // The schema is not what this build reads.
            sqlx::Error::ColumnNotFound(column) => {
                StoreError::corrupt(format!("column {column} is missing"))
            }
            sqlx::Error::ColumnIndexOutOfBounds { index, len } => {
                StoreError::corrupt(format!("column {index} of a row of {len}"))
            }
            // Only rows that always exist are fetched with `fetch_one`
            // (aggregates, `RETURNING`, PostgreSQL's id counter).
            sqlx::Error::RowNotFound => StoreError::corrupt("a row that must exist is missing"),
            other => StoreError::Database(Arc::new(other)),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration(Arc::new(e))
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

/// Ids after a restore start at a multiple of this, above every id known
/// to have been handed out...
pub const RESTORE_BLOCK: u64 = 1_000_000_000;
/// ...picked at random among this many blocks, so that restoring the same
/// backup twice does not hand out the same ids twice. The largest id this
/// allows (~10^15 after a thousand restores) is still exact in JavaScript.
const RESTORE_SPREAD: u64 = 1024;

/// A restore from a backup, as recorded in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restore {
    /// The highest id the restored backup had handed out.
    pub floor: u64,
    /// The first id handed out after the restore.
    pub base: u64,
}

impl Restore {
    /// Whether `id` may have been handed out in a history the restore
    /// discarded (after the backup, before the restore).
    pub fn discarded(&self, id: u64) -> bool {
        id > self.floor && id < self.base
    }

    /// Where ids continue after restoring a store whose highest id is
    /// `floor`, when ids up to `known` may have been handed out.
    pub(crate) fn after(floor: u64, known: u64) -> Self {
        let block = floor.max(known) / RESTORE_BLOCK + 1 + rand::random_range(0..RESTORE_SPREAD);
        Self {
            floor,
            base: block * RESTORE_BLOCK,
        }
    }
}

/// Every store capability, as one object-safe trait.
pub trait Store: NotificationStore + InboxStore + AccountStore {}

impl<T: NotificationStore + InboxStore + AccountStore> Store for T {}

/// The notification history.
#[async_trait]
pub trait NotificationStore: Send + Sync + 'static {
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

    /// One notification by id.
    async fn notification(&self, id: u64) -> Result<Option<Notification>, StoreError>;

    /// Deletes notifications older than the cutoff of their severity, with
    /// their read marks and acks; returns how many. Remembers the highest
    /// id deleted (see [`NotificationStore::pruned_through`]).
    async fn prune(&self, cutoffs: &[(Severity, OffsetDateTime)]) -> Result<u64, StoreError>;

    /// The highest id retention ever deleted (0 when none): a client resuming
    /// from before it may have missed something and must refetch.
    async fn pruned_through(&self) -> Result<u64, StoreError>;

    /// Records that this store was just restored from a backup: new ids
    /// start at a fresh block above anything it or `known_high` (the
    /// replaced store's highest id, when it could be read) handed out.
    async fn mark_restored(&self, known_high: u64) -> Result<Restore, StoreError>;

    /// Every restore recorded, oldest first.
    async fn restores(&self) -> Result<Vec<Restore>, StoreError>;

    /// Forgets idempotency keys created before `before`; returns how many.
    async fn prune_idempotency_keys(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// Whether the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Closes every connection; later calls fail.
    async fn close(&self);
}

/// Filters of an inbox page.
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    pub limit: u32,
    /// Only ids below this one (the previous page's `next_before`).
    pub before: Option<u64>,
    pub min_severity: Option<Severity>,
    pub kind: Option<String>,
    pub unread_only: bool,
}

/// A change of one admin's read state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadChange {
    /// These ids become read (`read`) or unread.
    Ids { ids: Vec<u64>, read: bool },
    /// Everything up to and including this id becomes read.
    UpTo(u64),
}

/// What an ack attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckOutcome {
    /// The ack is now this one.
    Acked(Ack),
    /// Someone else holds it (and `force` was not given).
    HeldBy(Ack),
    NotFound,
}

/// What a release attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseOutcome {
    Released,
    /// Nobody held it.
    NotHeld,
    /// Someone else holds it (and `force` was not given).
    HeldBy(Ack),
    NotFound,
}

/// Per-admin state: read marks, acks, preferences.
#[async_trait]
pub trait InboxStore: Send + Sync + 'static {
    /// A page of `user`'s inbox, newest first, and whether older items exist.
    async fn inbox_page(
        &self,
        user: &str,
        query: &InboxQuery,
    ) -> Result<(Vec<InboxItem>, bool), StoreError>;

    async fn unread_counts(&self, user: &str) -> Result<UnreadCounts, StoreError>;

    /// Applies a read-state change and returns the new counts.
    async fn mark(&self, user: &str, change: &ReadChange) -> Result<UnreadCounts, StoreError>;

    /// Takes ownership of notification `id`; with `force`, from someone else too.
    async fn ack(&self, id: u64, ack: &Ack, force: bool) -> Result<AckOutcome, StoreError>;

    /// Releases `id`'s ack if `by_sub` holds it, or anyone's with `force`.
    async fn release(
        &self,
        id: u64,
        by_sub: &str,
        force: bool,
    ) -> Result<ReleaseOutcome, StoreError>;

    async fn preferences(&self, user: &str) -> Result<Option<Preferences>, StoreError>;

    async fn set_preferences(&self, user: &str, prefs: &Preferences) -> Result<(), StoreError>;
}

/// A local account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: OffsetDateTime,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// Valid: it is now used up, and the new one replaces it.
    Rotated { user: User, session_id: String },
    /// It had already been rotated: presumed stolen, the whole sign-in is revoked.
    Reused { session_id: String },
    /// Unknown, expired, revoked, or its user is disabled.
    Invalid,
}

/// What must end: every stream of a user, or of one sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Revocation {
    User(String),
    Session(String),
}

/// Local accounts, sign-ins and their revocation.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Fails with [`StoreError::Conflict`] when the email is taken.
    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<User, StoreError>;

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    async fn users(&self) -> Result<Vec<User>, StoreError>;

    /// Disables or enables a user; disabling revokes every sign-in of theirs.
    /// Returns `false` when there is no such user.
    async fn set_disabled(&self, email: &str, disabled: bool) -> Result<bool, StoreError>;

    /// Replaces the password hash and revokes every sign-in of the user.
    async fn set_password(&self, email: &str, password_hash: &str) -> Result<bool, StoreError>;

    /// Records a new sign-in with its first refresh token.
    async fn create_session(
        &self,
        user_id: i64,
        session_id: &str,
        refresh_hash: &str,
        refresh_expires: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Exchanges a refresh token for a new one (see [`RotateOutcome`]).
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        new_expires: OffsetDateTime,
    ) -> Result<RotateOutcome, StoreError>;

    /// Revokes the sign-in a refresh token belongs to; its session id, if any.
    async fn revoke_by_refresh(&self, hash: &str) -> Result<Option<String>, StoreError>;

    /// Whether a sign-in is neither revoked nor of a disabled user.
    async fn session_active(&self, session_id: &str) -> Result<bool, StoreError>;

    /// Records one failed sign-in under each key.
    async fn record_login_failure(
        &self,
        keys: &[String],
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Failures under `key` since `since`, and the newest one's time.
    async fn login_failures(
        &self,
        key: &str,
        since: OffsetDateTime,
    ) -> Result<(u64, Option<OffsetDateTime>), StoreError>;

    /// Forgets the failures under `key` (after a successful sign-in) and
    /// every failure older than `before`.
    async fn clear_login_failures(
        &self,
        key: &str,
        before: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Revocations recorded after `after`, oldest first, with their ids.
    async fn revocations_after(&self, after: i64) -> Result<Vec<(i64, Revocation)>, StoreError>;

    /// Id of the newest revocation (0 when none).
    async fn last_revocation(&self) -> Result<i64, StoreError>;
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_value_that_does_not_decode_is_corruption_and_keeps_its_cause() {
        let e = StoreError::from(sqlx::Error::ColumnDecode {
            index: "\"severity\"".to_owned(),
            source: "out of range".into(),
        });
        assert!(!e.is_unavailable());
        assert_eq!(
            e.to_string(),
            r#"stored data is corrupt: column "severity""#
        );
        assert_eq!(e.source().unwrap().to_string(), "out of range");
    }

    #[test]
    fn an_unreachable_database_is_unavailability_and_keeps_the_sqlx_error() {
        let e = StoreError::from(sqlx::Error::PoolTimedOut);
        assert!(e.is_unavailable());
        assert!(
            matches!(&e, StoreError::Database(inner) if matches!(**inner, sqlx::Error::PoolTimedOut))
        );
    }
}

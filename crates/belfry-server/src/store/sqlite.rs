//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes come from the single publisher task (see `publish`), so they never
//! contend with each other; readers use the pool's other connections and are
//! never blocked by a writer in WAL mode.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use belfry_proto::{Notification, Severity};
use serde_json::{Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use time::OffsetDateTime;

use super::convert::{db_id, from_millis, id_from, severity_from_rank, severity_rank, to_millis};
use super::{Append, Appended, NotificationStore, Restore, StoreError};

/// Connections in the pool: one for the writer, the rest for streams
/// replaying history. More would only queue on SQLite's file lock.
const POOL_SIZE: u32 = 4;
/// How long a statement waits for SQLite's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite-backed [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(super) pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a notification acknowledged to its publisher survives a
            // power loss, not only a crash. Group commit pays for the fsync.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect_with(options)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(format!("migration failed: {e}")))?;
        Ok(Self { pool })
    }

    /// A transaction that holds the write lock from its first statement.
    ///
    /// Every transaction here reads, then writes. Begun as `DEFERRED` (the
    /// default), two of them at once both start as readers, and the one
    /// that tries to write second gets `SQLITE_BUSY` at once, without
    /// waiting: its snapshot is stale. That was a 503 for one of two admins
    /// acknowledging at the same moment. `IMMEDIATE` takes the lock at
    /// `BEGIN`, where the busy timeout applies, so they queue instead.
    pub(super) async fn write_tx(&self) -> Result<sqlx::Transaction<'_, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

pub(super) fn row_to_notification(
    row: &sqlx::sqlite::SqliteRow,
) -> Result<Notification, StoreError> {
    let data: Option<String> = row.try_get("data")?;
    let data = data
        .map(|d| serde_json::from_str::<Map<String, Value>>(&d))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("data: {e}")))?;
    Ok(Notification {
        id: id_from(row.try_get("id")?)?,
        kind: row.try_get("kind")?,
        severity: severity_from_rank(row.try_get("severity")?)?,
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        link: row.try_get("link")?,
        data,
        created_at: from_millis(row.try_get("created_at")?)?,
    })
}

#[async_trait]
impl NotificationStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(batch = batch.len()))]
    async fn append(
        &self,
        batch: Vec<Append>,
        idempotency_since: OffsetDateTime,
    ) -> Result<Vec<Appended>, StoreError> {
        let mut tx = self.write_tx().await?;
        let mut out = Vec::with_capacity(batch.len());
        for item in batch {
            if let Some(key) = &item.idempotency {
                let existing = sqlx::query(
                    "SELECT n.id, n.kind, n.severity, n.title, n.body, n.link, n.data, n.created_at
                     FROM idempotency_keys k JOIN notifications n ON n.id = k.notification_id
                     WHERE k.publisher = ? AND k.key = ? AND k.created_at >= ?",
                )
                .bind(&key.publisher)
                .bind(&key.key)
                .bind(to_millis(idempotency_since))
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = existing {
                    out.push(Appended::Existing(row_to_notification(&row)?));
                    continue;
                }
            }
            let n = item.notification;
            let severity = n.effective_severity();
            // Millisecond precision: what the wire format carries.
            let created_ms = to_millis(item.created_at);
            let data = n
                .data
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("data: {e}")))?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO notifications (kind, severity, title, body, link, data, created_at, publisher)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(&n.kind)
            .bind(severity_rank(severity))
            .bind(&n.title)
            .bind(&n.body)
            .bind(&n.link)
            .bind(&data)
            .bind(created_ms)
            .bind(&item.publisher)
            .fetch_one(&mut *tx)
            .await?;
            if let Some(key) = &item.idempotency {
                sqlx::query(
                    "INSERT OR REPLACE INTO idempotency_keys (publisher, key, notification_id, created_at)
                     VALUES (?, ?, ?, ?)",
                )
                .bind(&key.publisher)
                .bind(&key.key)
                .bind(id)
                .bind(created_ms)
                .execute(&mut *tx)
                .await?;
            }
            out.push(Appended::Created(Notification {
                id: id_from(id)?,
                kind: n.kind,
                severity,
                title: n.title,
                body: n.body,
                link: n.link,
                data: n.data,
                created_at: from_millis(created_ms)?,
            }));
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn since(&self, after: u64, limit: u32) -> Result<Vec<Notification>, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT id, kind, severity, title, body, link, data, created_at
             FROM notifications WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_to_notification).collect()
    }

    async fn last_id(&self) -> Result<u64, StoreError> {
        // sqlite_sequence remembers the highest id even after it was pruned.
        let id: i64 = sqlx::query_scalar(
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'notifications'), 0)",
        )
        .fetch_one(&self.pool)
        .await?;
        id_from(id)
    }

    async fn first_id(&self) -> Result<Option<u64>, StoreError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT MIN(id) FROM notifications")
            .fetch_one(&self.pool)
            .await?;
        id.map(id_from).transpose()
    }

    async fn notification(&self, id: u64) -> Result<Option<Notification>, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT id, kind, severity, title, body, link, data, created_at
             FROM notifications WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(row_to_notification).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn prune(&self, cutoffs: &[(Severity, OffsetDateTime)]) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        let mut deleted = 0;
        for (severity, before) in cutoffs {
            let rank = severity_rank(*severity);
            let before = to_millis(*before);
            let max: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(id) FROM notifications WHERE severity = ? AND created_at < ?",
            )
            .bind(rank)
            .bind(before)
            .fetch_one(&mut *tx)
            .await?;
            let Some(max) = max else { continue };
            for sql in [
                "DELETE FROM read_marks WHERE notification_id IN
                 (SELECT id FROM notifications WHERE severity = ? AND created_at < ?)",
                "DELETE FROM acks WHERE notification_id IN
                 (SELECT id FROM notifications WHERE severity = ? AND created_at < ?)",
            ] {
                sqlx::query(sql)
                    .bind(rank)
                    .bind(before)
                    .execute(&mut *tx)
                    .await?;
            }
            deleted +=
                sqlx::query("DELETE FROM notifications WHERE severity = ? AND created_at < ?")
                    .bind(rank)
                    .bind(before)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ('pruned_through', ?)
                 ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
            )
            .bind(max)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn mark_restored(&self, known_high: u64) -> Result<Restore, StoreError> {
        let mut tx = self.write_tx().await?;
        let floor: i64 = sqlx::query_scalar(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'notifications'), 0),
                        COALESCE((SELECT MAX(id) FROM notifications), 0))",
        )
        .fetch_one(&mut *tx)
        .await?;
        let restore = Restore::after(id_from(floor)?, known_high);
        let next = db_id(restore.base - 1);
        // AUTOINCREMENT continues after sqlite_sequence, which SQLite lets
        // ordinary statements change.
        let updated =
            sqlx::query("UPDATE sqlite_sequence SET seq = ? WHERE name = 'notifications'")
                .bind(next)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if updated == 0 {
            sqlx::query("INSERT INTO sqlite_sequence (name, seq) VALUES ('notifications', ?)")
                .bind(next)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO restores (floor, base, at) VALUES (?, ?, ?)")
            .bind(floor)
            .bind(db_id(restore.base))
            .bind(to_millis(OffsetDateTime::now_utc()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(restore)
    }

    async fn restores(&self) -> Result<Vec<Restore>, StoreError> {
        let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT floor, base FROM restores ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        super::convert::restores(rows)
    }

    async fn pruned_through(&self) -> Result<u64, StoreError> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'pruned_through'")
                .fetch_optional(&self.pool)
                .await?;
        id_from(v.unwrap_or(0))
    }

    async fn prune_idempotency_keys(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < ?")
            .bind(to_millis(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

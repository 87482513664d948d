//! The networked store: PostgreSQL, shared by every replica.
//!
//! Ids in commit order. A sequence would hand out ids before commit, so
//! with two publishers id 104 could commit after 105 was already delivered,
//! and a client resuming from 105 would never see 104. Instead, every append
//! locks the single `notification_counter` row (`SELECT … FOR UPDATE`) and
//! holds that lock until it commits: the next append, on any replica, waits
//! for it, reads the counter it left, and commits after it. Ids are therefore
//! gapless and committed in increasing order; streams that see a jump in
//! live ids (fan-out across replicas may reorder) read the gap from here.
//! The cost is one commit at a time across the cluster, which group commit
//! (a whole batch per lock) amortises.

use std::time::Duration;

use async_trait::async_trait;
use belfry_proto::{Notification, Severity};
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use time::OffsetDateTime;

use super::convert::{db_id, from_millis, id_from, severity_from_rank, severity_rank, to_millis};
use super::{Append, Appended, NotificationStore, Restore, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a request waits for a pooled connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// PostgreSQL-backed store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(super) pool: PgPool,
}

impl PgStore {
    /// Connects to `url`, with at most `pool_size` connections, and migrates.
    pub async fn connect(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(pool_size)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(format!("migration failed: {e}")))?;
        Ok(Self { pool })
    }
}

pub(super) fn row_to_notification(row: &PgRow) -> Result<Notification, StoreError> {
    let data: Option<String> = row.try_get("data")?;
    let data = data
        .map(|d| serde_json::from_str::<Map<String, Value>>(&d))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("data: {e}")))?;
    Ok(Notification {
        id: id_from(row.try_get("id")?)?,
        kind: row.try_get("kind")?,
        severity: severity_from_rank(i64::from(row.try_get::<i16, _>("severity")?))?,
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        link: row.try_get("link")?,
        data,
        created_at: from_millis(row.try_get("created_at")?)?,
    })
}

fn rank(s: Severity) -> i16 {
    i16::try_from(severity_rank(s)).unwrap_or(0)
}

#[async_trait]
impl NotificationStore for PgStore {
    #[tracing::instrument(skip_all, fields(batch = batch.len()))]
    async fn append(
        &self,
        batch: Vec<Append>,
        idempotency_since: OffsetDateTime,
    ) -> Result<Vec<Appended>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The lock that orders every append across replicas (module comment);
        // idempotency checks happen under it too, so two replicas given the
        // same key cannot both insert.
        let mut last: i64 = sqlx::query_scalar("SELECT value FROM notification_counter FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?;
        let mut out = Vec::with_capacity(batch.len());
        for item in batch {
            if let Some(key) = &item.idempotency {
                let existing = sqlx::query(
                    "SELECT n.id, n.kind, n.severity, n.title, n.body, n.link, n.data, n.created_at
                     FROM idempotency_keys k JOIN notifications n ON n.id = k.notification_id
                     WHERE k.publisher = $1 AND k.key = $2 AND k.created_at >= $3",
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
            let created_ms = to_millis(item.created_at);
            let data = n
                .data
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("data: {e}")))?;
            last += 1;
            sqlx::query(
                "INSERT INTO notifications (id, kind, severity, title, body, link, data, created_at, publisher)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(last)
            .bind(&n.kind)
            .bind(rank(severity))
            .bind(&n.title)
            .bind(&n.body)
            .bind(&n.link)
            .bind(&data)
            .bind(created_ms)
            .bind(&item.publisher)
            .execute(&mut *tx)
            .await?;
            if let Some(key) = &item.idempotency {
                sqlx::query(
                    "INSERT INTO idempotency_keys (publisher, key, notification_id, created_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (publisher, key) DO UPDATE
                     SET notification_id = excluded.notification_id, created_at = excluded.created_at",
                )
                .bind(&key.publisher)
                .bind(&key.key)
                .bind(last)
                .bind(created_ms)
                .execute(&mut *tx)
                .await?;
            }
            out.push(Appended::Created(Notification {
                id: id_from(last)?,
                kind: n.kind,
                severity,
                title: n.title,
                body: n.body,
                link: n.link,
                data: n.data,
                created_at: from_millis(created_ms)?,
            }));
        }
        sqlx::query("UPDATE notification_counter SET value = $1")
            .bind(last)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn since(&self, after: u64, limit: u32) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, severity, title, body, link, data, created_at
             FROM notifications WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(db_id(after))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_to_notification).collect()
    }

    async fn last_id(&self) -> Result<u64, StoreError> {
        let v: i64 = sqlx::query_scalar("SELECT value FROM notification_counter")
            .fetch_one(&self.pool)
            .await?;
        id_from(v)
    }

    async fn first_id(&self) -> Result<Option<u64>, StoreError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT MIN(id) FROM notifications")
            .fetch_one(&self.pool)
            .await?;
        v.map(id_from).transpose()
    }

    async fn notification(&self, id: u64) -> Result<Option<Notification>, StoreError> {
        let row = sqlx::query(
            "SELECT id, kind, severity, title, body, link, data, created_at
             FROM notifications WHERE id = $1",
        )
        .bind(db_id(id))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(row_to_notification).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn prune(&self, cutoffs: &[(Severity, OffsetDateTime)]) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut deleted = 0;
        for (severity, before) in cutoffs {
            let r = rank(*severity);
            let before = to_millis(*before);
            let max: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(id) FROM notifications WHERE severity = $1 AND created_at < $2",
            )
            .bind(r)
            .bind(before)
            .fetch_one(&mut *tx)
            .await?;
            let Some(max) = max else { continue };
            for sql in [
                "DELETE FROM read_marks WHERE notification_id IN
                 (SELECT id FROM notifications WHERE severity = $1 AND created_at < $2)",
                "DELETE FROM acks WHERE notification_id IN
                 (SELECT id FROM notifications WHERE severity = $1 AND created_at < $2)",
            ] {
                sqlx::query(sql)
                    .bind(r)
                    .bind(before)
                    .execute(&mut *tx)
                    .await?;
            }
            deleted +=
                sqlx::query("DELETE FROM notifications WHERE severity = $1 AND created_at < $2")
                    .bind(r)
                    .bind(before)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ('pruned_through', $1)
                 ON CONFLICT (key) DO UPDATE SET value = GREATEST(meta.value, excluded.value)",
            )
            .bind(max)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn mark_restored(&self, known_high: u64) -> Result<Restore, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The counter's lock, as an append takes it: no id is handed out
        // between reading it and moving it.
        let floor: i64 = sqlx::query_scalar("SELECT value FROM notification_counter FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?;
        let restore = Restore::after(id_from(floor)?, known_high);
        let next = db_id(restore.base - 1);
        sqlx::query("UPDATE notification_counter SET value = $1")
            .bind(next)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO restores (floor, base, at) VALUES ($1, $2, $3)")
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
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
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

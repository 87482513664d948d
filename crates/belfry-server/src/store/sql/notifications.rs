//! The notification history: group-commit appends, replay, retention and
//! restores. Ids come from the backend's `Ids` (see its module comment for
//! how they stay in commit order).

use async_trait::async_trait;
use belfry_proto::{Notification, Severity};
use time::OffsetDateTime;

use super::{Ids, SqlStore, row_to_notification};
use crate::store::convert::{db_id, from_millis, id_from, severity_rank, to_millis};
use crate::store::{Append, Appended, NotificationStore, Restore, StoreError};

#[async_trait]
impl NotificationStore for SqlStore {
    #[tracing::instrument(skip_all, fields(batch = batch.len()))]
    async fn append(
        &self,
        batch: Vec<Append>,
        idempotency_since: OffsetDateTime,
    ) -> Result<Vec<Appended>, StoreError> {
        let mut tx = self.write_tx().await?;
        // Taken before the idempotency checks, so that two replicas given
        // the same key cannot both insert.
        let mut ids = Ids::lock(&mut tx).await?;
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
            // Millisecond precision: what the wire format carries.
            let created_ms = to_millis(item.created_at);
            let data = n
                .data
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::corrupt_because("data", e))?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO notifications (id, kind, severity, title, body, link, data, created_at, publisher)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(ids.next())
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
                    "INSERT INTO idempotency_keys (publisher, key, notification_id, created_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (publisher, key) DO UPDATE
                     SET notification_id = excluded.notification_id, created_at = excluded.created_at",
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
        ids.save(&mut tx).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn since(&self, after: u64, limit: u32) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(
            "SELECT n.id, n.kind, n.severity, n.title, n.body, n.link, n.data, n.created_at
             FROM notifications n WHERE n.id > $1 ORDER BY n.id LIMIT $2",
        )
        .bind(db_id(after))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_to_notification).collect()
    }

    async fn last_id(&self) -> Result<u64, StoreError> {
        id_from(Ids::last(&self.pool).await?)
    }

    async fn first_id(&self) -> Result<Option<u64>, StoreError> {
        let id: Option<i64> = sqlx::query_scalar("SELECT MIN(id) FROM notifications")
            .fetch_one(&self.pool)
            .await?;
        id.map(id_from).transpose()
    }

    async fn notification(&self, id: u64) -> Result<Option<Notification>, StoreError> {
        let row = sqlx::query(
            "SELECT n.id, n.kind, n.severity, n.title, n.body, n.link, n.data, n.created_at
             FROM notifications n WHERE n.id = $1",
        )
        .bind(db_id(id))
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
                "SELECT MAX(id) FROM notifications WHERE severity = $1 AND created_at < $2",
            )
            .bind(rank)
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
                    .bind(rank)
                    .bind(before)
                    .execute(&mut *tx)
                    .await?;
            }
            deleted +=
                sqlx::query("DELETE FROM notifications WHERE severity = $1 AND created_at < $2")
                    .bind(rank)
                    .bind(before)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ('pruned_through', $1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value
                 WHERE excluded.value > meta.value",
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
        // Read under the lock appends take: no id is handed out between
        // reading the highest and moving past it.
        let floor = Ids::highest(&mut tx).await?;
        let restore = Restore::after(id_from(floor)?, known_high);
        Ids::continue_after(&mut tx, db_id(restore.base - 1)).await?;
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
        crate::store::convert::restores(rows)
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

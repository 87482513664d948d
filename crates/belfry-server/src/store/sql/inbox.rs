//! Per-admin read state, acks and preferences.

use async_trait::async_trait;
use belfry_proto::{Ack, InboxItem, Preferences, UnreadCounts};
use sqlx::{QueryBuilder, Row as _};
use time::OffsetDateTime;

use super::{Conn, Db, SqlStore, id_batches, row_to_ack, row_to_notification};
use crate::store::convert::{db_id, from_millis, severity_rank, to_millis, unread_counts};
use crate::store::{AckOutcome, InboxQuery, InboxStore, ReadChange, ReleaseOutcome, StoreError};

async fn horizon(conn: &mut Conn, user: &str) -> Result<i64, StoreError> {
    let h: Option<i64> = sqlx::query_scalar("SELECT up_to FROM read_horizons WHERE user_sub = $1")
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(h.unwrap_or(0))
}

async fn counts(conn: &mut Conn, user: &str, horizon: i64) -> Result<UnreadCounts, StoreError> {
    // Unread = above the horizon and not marked read, plus at or below it
    // and marked unread. Both halves only touch unread candidates.
    let rows = sqlx::query(
        "SELECT severity, COUNT(*) AS n FROM (
             SELECT n.severity FROM notifications n
             WHERE n.id > $2 AND NOT EXISTS (
                 SELECT 1 FROM read_marks m
                 WHERE m.user_sub = $1 AND m.notification_id = n.id AND m.is_read)
             UNION ALL
             SELECT n.severity FROM read_marks m JOIN notifications n ON n.id = m.notification_id
             WHERE m.user_sub = $1 AND NOT m.is_read AND m.notification_id <= $2
         ) unread GROUP BY severity",
    )
    .bind(user)
    .bind(horizon)
    .fetch_all(&mut *conn)
    .await?;
    let rows = rows
        .iter()
        .map(|row| Ok((row.try_get("severity")?, row.try_get("n")?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    unread_counts(rows)
}

async fn current_ack(conn: &mut Conn, id: i64) -> Result<Option<Ack>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT by_sub AS ack_by, by_email AS ack_email, at AS ack_at, note AS ack_note
         FROM acks WHERE notification_id = $1",
        lock_rows!()
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(r) => row_to_ack(&r),
        None => Ok(None),
    }
}

async fn exists(conn: &mut Conn, id: i64) -> Result<bool, StoreError> {
    // The row lock (where there is one): acks of one notification are
    // decided one at a time, so two admins acking at once get one 200 and
    // one 409, never two 200s.
    Ok(sqlx::query_scalar::<_, i64>(concat!(
        "SELECT id FROM notifications WHERE id = $1",
        lock_rows!()
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .is_some())
}

#[async_trait]
impl InboxStore for SqlStore {
    #[tracing::instrument(skip(self, query))]
    async fn inbox_page(
        &self,
        user: &str,
        query: &InboxQuery,
    ) -> Result<(Vec<InboxItem>, bool), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let h = horizon(&mut conn, user).await?;
        let mut q: QueryBuilder<'_, Db> = QueryBuilder::new(
            "SELECT n.id, n.kind, n.severity, n.title, n.body, n.link, n.data, n.created_at,
                    COALESCE(m.is_read, n.id <= ",
        );
        q.push_bind(h);
        q.push(
            ") AS is_read,
                    a.by_sub AS ack_by, a.by_email AS ack_email, a.at AS ack_at, a.note AS ack_note
             FROM notifications n
             LEFT JOIN read_marks m ON m.notification_id = n.id AND m.user_sub = ",
        );
        q.push_bind(user.to_owned());
        q.push(" LEFT JOIN acks a ON a.notification_id = n.id WHERE TRUE");
        if let Some(before) = query.before {
            q.push(" AND n.id < ").push_bind(db_id(before));
        }
        if let Some(min) = query.min_severity {
            q.push(" AND n.severity >= ").push_bind(severity_rank(min));
        }
        if let Some(kind) = &query.kind {
            q.push(" AND n.kind = ").push_bind(kind.clone());
        }
        if query.unread_only {
            q.push(" AND NOT COALESCE(m.is_read, n.id <= ")
                .push_bind(h)
                .push(")");
        }
        q.push(" ORDER BY n.id DESC LIMIT ")
            .push_bind(i64::from(query.limit) + 1);
        let rows = q.build().fetch_all(&mut *conn).await?;
        let more = rows.len() > query.limit as usize;
        let items = rows
            .iter()
            .take(query.limit as usize)
            .map(|row| {
                Ok(InboxItem {
                    notification: row_to_notification(row)?,
                    read: row.try_get("is_read")?,
                    ack: row_to_ack(row)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((items, more))
    }

    async fn unread_counts(&self, user: &str) -> Result<UnreadCounts, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let h = horizon(&mut conn, user).await?;
        counts(&mut conn, user, h).await
    }

    #[tracing::instrument(skip(self))]
    async fn mark(&self, user: &str, change: &ReadChange) -> Result<UnreadCounts, StoreError> {
        let mut tx = self.write_tx().await?;
        match change {
            ReadChange::UpTo(up_to) => {
                let up_to = db_id(*up_to);
                sqlx::query(
                    "INSERT INTO read_horizons (user_sub, up_to) VALUES ($1, $2)
                     ON CONFLICT (user_sub) DO UPDATE SET up_to = excluded.up_to
                     WHERE excluded.up_to > read_horizons.up_to",
                )
                .bind(user)
                .bind(up_to)
                .execute(&mut *tx)
                .await?;
                // Explicit marks at or below the horizon are now all "read".
                sqlx::query("DELETE FROM read_marks WHERE user_sub = $1 AND notification_id <= $2")
                    .bind(user)
                    .bind(up_to)
                    .execute(&mut *tx)
                    .await?;
            }
            ReadChange::Ids { ids, read } => {
                // Ids that name no notification are skipped.
                for batch in id_batches(ids) {
                    sqlx::query(concat!(
                        "INSERT INTO read_marks (user_sub, notification_id, is_read)
                         SELECT $1, id, $2 FROM notifications WHERE id = ",
                        any!("$3"),
                        " ON CONFLICT (user_sub, notification_id) DO UPDATE SET is_read = excluded.is_read"
                    ))
                    .bind(user)
                    .bind(*read)
                    .bind(batch)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        let h = horizon(&mut tx, user).await?;
        let c = counts(&mut tx, user, h).await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn ack(&self, id: u64, ack: &Ack, force: bool) -> Result<AckOutcome, StoreError> {
        let id = db_id(id);
        let mut tx = self.write_tx().await?;
        if !exists(&mut tx, id).await? {
            return Ok(AckOutcome::NotFound);
        }
        if let Some(held) = current_ack(&mut tx, id).await?
            && held.by.sub != ack.by.sub
            && !force
        {
            return Ok(AckOutcome::HeldBy(held));
        }
        sqlx::query(
            "INSERT INTO acks (notification_id, by_sub, by_email, at, note) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (notification_id) DO UPDATE SET
                 by_sub = excluded.by_sub, by_email = excluded.by_email,
                 at = excluded.at, note = excluded.note",
        )
        .bind(id)
        .bind(&ack.by.sub)
        .bind(&ack.by.email)
        .bind(to_millis(ack.at))
        .bind(&ack.note)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AckOutcome::Acked(Ack {
            at: from_millis(to_millis(ack.at))?,
            ..ack.clone()
        }))
    }

    async fn release(
        &self,
        id: u64,
        by_sub: &str,
        force: bool,
    ) -> Result<ReleaseOutcome, StoreError> {
        let id = db_id(id);
        let mut tx = self.write_tx().await?;
        if !exists(&mut tx, id).await? {
            return Ok(ReleaseOutcome::NotFound);
        }
        match current_ack(&mut tx, id).await? {
            None => return Ok(ReleaseOutcome::NotHeld),
            Some(held) if held.by.sub != by_sub && !force => {
                return Ok(ReleaseOutcome::HeldBy(held));
            }
            Some(_) => {}
        }
        sqlx::query("DELETE FROM acks WHERE notification_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ReleaseOutcome::Released)
    }

    async fn preferences(&self, user: &str) -> Result<Option<Preferences>, StoreError> {
        let json: Option<String> =
            sqlx::query_scalar("SELECT json FROM preferences WHERE user_sub = $1")
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| StoreError::corrupt_because("preferences", e))
        })
        .transpose()
    }

    async fn set_preferences(&self, user: &str, prefs: &Preferences) -> Result<(), StoreError> {
        let json = serde_json::to_string(prefs)
            .map_err(|e| StoreError::corrupt_because("preferences", e))?;
        sqlx::query(
            "INSERT INTO preferences (user_sub, json, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_sub) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at",
        )
        .bind(user)
        .bind(json)
        .bind(to_millis(OffsetDateTime::now_utc()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

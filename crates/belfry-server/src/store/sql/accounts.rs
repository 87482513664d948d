//! Local accounts, sign-ins (refresh-token chains), login failures and
//! revocations.

use async_trait::async_trait;
use sqlx::Row as _;
use time::OffsetDateTime;

use super::{Conn, SqlStore, lock_revocations, now_ms, record_login_failures, row_to_user};
use crate::store::convert::{from_millis, revocation, to_millis};
use crate::store::{AccountStore, Revocation, RotateOutcome, StoreError, User};

/// Records a revocation, which every process sharing the store picks up
/// by polling `id > last seen`: ids must commit in order (see
/// `lock_revocations`).
async fn revoke(conn: &mut Conn, scope: &str, subject: &str, now: i64) -> Result<(), StoreError> {
    lock_revocations(conn).await?;
    sqlx::query("INSERT INTO revocations (scope, subject, at) VALUES ($1, $2, $3)")
        .bind(scope)
        .bind(subject)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn revoke_user_sessions(
    conn: &mut Conn,
    user_id: i64,
    email: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    revoke(conn, "user", email, now).await
}

async fn revoke_session(conn: &mut Conn, session_id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(session_id)
        .execute(&mut *conn)
        .await?;
    revoke(conn, "session", session_id, now).await
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<User, StoreError> {
        let result = sqlx::query(
            "INSERT INTO users (email, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4)
             RETURNING id, email, password_hash, is_admin, disabled, created_at",
        )
        .bind(email)
        .bind(password_hash)
        .bind(is_admin)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(row) => row_to_user(&row),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict(format!("a user with email {email}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT id, email, password_hash, is_admin, disabled, created_at FROM users WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(row_to_user).transpose()
    }

    async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, email, password_hash, is_admin, disabled, created_at FROM users ORDER BY email",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_to_user).collect()
    }

    async fn set_disabled(&self, email: &str, disabled: bool) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let id: Option<i64> =
            sqlx::query_scalar("UPDATE users SET disabled = $1 WHERE email = $2 RETURNING id")
                .bind(disabled)
                .bind(email)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(id) = id else { return Ok(false) };
        if disabled {
            revoke_user_sessions(&mut tx, id, email, now_ms()).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn set_password(&self, email: &str, password_hash: &str) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let id: Option<i64> =
            sqlx::query_scalar("UPDATE users SET password_hash = $1 WHERE email = $2 RETURNING id")
                .bind(password_hash)
                .bind(email)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(id) = id else { return Ok(false) };
        revoke_user_sessions(&mut tx, id, email, now_ms()).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_session(
        &self,
        user_id: i64,
        session_id: &str,
        refresh_hash: &str,
        refresh_expires: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO sessions (id, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(session_id)
            .bind(user_id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(refresh_hash)
        .bind(session_id)
        .bind(to_millis(refresh_expires))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        new_expires: OffsetDateTime,
    ) -> Result<RotateOutcome, StoreError> {
        let now = now_ms();
        let mut tx = self.write_tx().await?;
        // The token's row lock (where there is one): two replicas given the
        // same token at once rotate it once; the second sees it used and
        // treats it as reuse.
        let row = sqlx::query(concat!(
            "SELECT t.session_id, t.expires_at, t.used_at, s.revoked_at,
                    u.id, u.email, u.password_hash, u.is_admin, u.disabled, u.created_at
             FROM refresh_tokens t
             JOIN sessions s ON s.id = t.session_id
             JOIN users u ON u.id = s.user_id
             WHERE t.token_hash = $1",
            lock_rows!(t)
        ))
        .bind(old_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(RotateOutcome::Invalid);
        };
        let session_id: String = row.try_get("session_id")?;
        let revoked: Option<i64> = row.try_get("revoked_at")?;
        let used: Option<i64> = row.try_get("used_at")?;
        let expires: i64 = row.try_get("expires_at")?;
        let user = row_to_user(&row)?;
        if revoked.is_some() || user.disabled {
            return Ok(RotateOutcome::Invalid);
        }
        if used.is_some() {
            // A rotated token came back: someone kept a copy. End the sign-in.
            revoke_session(&mut tx, &session_id, now).await?;
            tx.commit().await?;
            return Ok(RotateOutcome::Reused { session_id });
        }
        if expires <= now {
            return Ok(RotateOutcome::Invalid);
        }
        sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(old_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(new_hash)
        .bind(&session_id)
        .bind(to_millis(new_expires))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RotateOutcome::Rotated { user, session_id })
    }

    async fn revoke_by_refresh(&self, hash: &str) -> Result<Option<String>, StoreError> {
        let mut tx = self.write_tx().await?;
        let session: Option<String> =
            sqlx::query_scalar("SELECT session_id FROM refresh_tokens WHERE token_hash = $1")
                .bind(hash)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(session_id) = session else {
            return Ok(None);
        };
        revoke_session(&mut tx, &session_id, now_ms()).await?;
        tx.commit().await?;
        Ok(Some(session_id))
    }

    async fn session_active(&self, session_id: &str) -> Result<bool, StoreError> {
        let active: Option<bool> = sqlx::query_scalar(
            "SELECT TRUE FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 AND s.revoked_at IS NULL AND NOT u.disabled",
        )
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(active.is_some())
    }

    async fn record_login_failure(
        &self,
        keys: &[String],
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        record_login_failures(self, keys, to_millis(at)).await
    }

    async fn login_failures(
        &self,
        key: &str,
        since: OffsetDateTime,
    ) -> Result<(u64, Option<OffsetDateTime>), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MAX(at) AS last FROM login_failures WHERE key = $1 AND at >= $2",
        )
        .bind(key)
        .bind(to_millis(since))
        .fetch_one(&self.pool)
        .await?;
        let n: i64 = row.try_get("n")?;
        let last: Option<i64> = row.try_get("last")?;
        Ok((
            u64::try_from(n).unwrap_or(0),
            last.map(from_millis).transpose()?,
        ))
    }

    async fn clear_login_failures(
        &self,
        key: &str,
        before: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1 OR at < $2")
            .bind(key)
            .bind(to_millis(before))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn revocations_after(&self, after: i64) -> Result<Vec<(i64, Revocation)>, StoreError> {
        let rows =
            sqlx::query("SELECT id, scope, subject FROM revocations WHERE id > $1 ORDER BY id")
                .bind(after)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                let scope: String = r.try_get("scope")?;
                let subject: String = r.try_get("subject")?;
                Ok((id, revocation(&scope, subject)?))
            })
            .collect()
    }

    async fn last_revocation(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM revocations")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

//! Every query of the SQL stores, written once for SQLite and PostgreSQL.
//!
//! This module is compiled once per backend: `sqlite.rs` and `postgres.rs`
//! each declare it (`#[path = "sql/mod.rs"] mod sql;`), and in each copy
//! `super` is that backend. The backend is the dialect seam; it provides
//! only what really differs:
//! - `Db`, the sqlx database; `MIGRATOR`, its migrations; `SqlStore`, its
//!   store type (a `pool` field and `write_tx`: SQLite's `BEGIN IMMEDIATE`,
//!   a plain `BEGIN` on PostgreSQL);
//! - `Ids`: how notification ids are assigned, in commit order, and where
//!   the highest one is remembered (SQLite's `AUTOINCREMENT` under its one
//!   writer; PostgreSQL's counter row, locked until commit);
//! - `lock_revocations`, and the SQL fragments `lock_rows!` (`FOR UPDATE`,
//!   which SQLite neither has nor needs) and `any!` with `id_batches`
//!   (arrays, which SQLite lacks);
//! - `record_login_failures`, the one statement that has no common form.
//!
//! Why a module compiled twice rather than code generic over
//! `sqlx::Database`: generic sqlx code must restate, on every impl, bounds
//! Rust does not imply (`&mut Connection: Executor` for every lifetime,
//! `Arguments: IntoArguments`, `Encode + Decode + Type` for each bound
//! type), for a choice between two known backends. Each copy here is
//! checked against concrete types, exactly like the hand-written copies it
//! replaces, so build time and generated code stay as they were. sqlx's
//! `Any` driver would convert every value through its own representation on
//! the append path, and has no arrays; a `macro_rules!` body is left
//! unformatted by rustfmt and reports errors at the macro.
//!
//! The SQL is what both accept: `$1` placeholders (sqlx binds SQLite's
//! `$NNN` by number), `ON CONFLICT … DO UPDATE` upserts, boolean
//! expressions (`NOT m.is_read`: sqlx stores a `bool` as 0 or 1 in SQLite
//! and reads it back), severities as `i16` (PostgreSQL's `SMALLINT`, which
//! SQLite's `INTEGER` reads into), named subqueries, `WHERE TRUE`.
//! Migrations stay per database.

mod accounts;
mod inbox;
mod notifications;

use belfry_proto::{Ack, Actor, Notification};
use serde_json::{Map, Value};
use sqlx::Row as _;
use time::OffsetDateTime;

use super::{Db, Ids, MIGRATOR, SqlStore, id_batches, lock_revocations, record_login_failures};
use crate::store::convert::{from_millis, id_from, severity_from_rank, to_millis};
use crate::store::{StoreError, User};

type Row = <Db as sqlx::Database>::Row;
type Conn = <Db as sqlx::Database>::Connection;

impl SqlStore {
    /// The store over `pool`, once its schema is brought up to date with
    /// the backend's own migrations.
    pub(super) async fn migrated(pool: sqlx::Pool<Db>) -> Result<Self, StoreError> {
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }
}

fn row_to_notification(row: &Row) -> Result<Notification, StoreError> {
    let data: Option<String> = row.try_get("data")?;
    let data = data
        .map(|d| serde_json::from_str::<Map<String, Value>>(&d))
        .transpose()
        .map_err(|e| StoreError::corrupt_because("data", e))?;
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

/// The ack columns of a row (`ack_by`, …), `None` when nobody holds it.
fn row_to_ack(row: &Row) -> Result<Option<Ack>, StoreError> {
    let by: Option<String> = row.try_get("ack_by")?;
    let Some(sub) = by else { return Ok(None) };
    Ok(Some(Ack {
        by: Actor {
            sub,
            email: row.try_get("ack_email")?,
        },
        at: from_millis(row.try_get("ack_at")?)?,
        note: row.try_get("ack_note")?,
    }))
}

fn row_to_user(row: &Row) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        is_admin: row.try_get("is_admin")?,
        disabled: row.try_get("disabled")?,
        created_at: from_millis(row.try_get("created_at")?)?,
    })
}

fn now_ms() -> i64 {
    to_millis(OffsetDateTime::now_utc())
}

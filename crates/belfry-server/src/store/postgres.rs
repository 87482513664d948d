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
//!
//! The queries are in `sql` (written once for both backends); this module
//! is PostgreSQL's side of the seam: connecting, the counter above, row
//! and table locks, and arrays.

use std::time::Duration;

use sqlx::PgConnection;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::StoreError;
use super::convert::db_id;

/// `FOR UPDATE` (of `table` only, when given): the row lock that lets
/// concurrent transactions on other connections or replicas decide one at
/// a time.
macro_rules! lock_rows {
    () => {
        " FOR UPDATE"
    };
    ($table:ident) => {
        concat!(" FOR UPDATE OF ", stringify!($table))
    };
}

/// `= any!("$n")` matches any id of the array a parameter holds (one batch
/// of [`id_batches`]).
macro_rules! any {
    ($param:literal) => {
        concat!("ANY(", $param, ")")
    };
}

#[allow(clippy::duplicate_mod, reason = "the dialect seam: see sql/mod.rs")]
#[path = "sql/mod.rs"]
mod sql;

type Db = sqlx::Postgres;
type SqlStore = PgStore;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a request waits for a pooled connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// PostgreSQL-backed store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url`, with at most `pool_size` connections, and migrates.
    pub async fn connect(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(pool_size)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        Self::migrated(pool).await
    }

    /// A transaction for a change. Its ordering comes from the locks it
    /// takes (`Ids::lock`, `lock_rows!`, `lock_revocations`), not from the
    /// transaction itself.
    async fn write_tx(&self) -> Result<sqlx::Transaction<'_, Db>, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

/// Notification ids, from the counter row (module comment).
struct Ids {
    last: i64,
}

impl Ids {
    /// Locks the counter until the transaction ends.
    async fn lock(conn: &mut PgConnection) -> Result<Self, StoreError> {
        let last = sqlx::query_scalar("SELECT value FROM notification_counter FOR UPDATE")
            .fetch_one(&mut *conn)
            .await?;
        Ok(Self { last })
    }

    /// The id to insert: the next after the counter.
    fn next(&mut self) -> Option<i64> {
        self.last += 1;
        Some(self.last)
    }

    /// Moves the counter past the ids handed out.
    async fn save(self, conn: &mut PgConnection) -> Result<(), StoreError> {
        sqlx::query("UPDATE notification_counter SET value = $1")
            .bind(self.last)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// The highest id ever handed out, pruned or not.
    async fn last(pool: &PgPool) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM notification_counter")
            .fetch_one(pool)
            .await?)
    }

    /// The highest id handed out, holding the counter's lock, as an append
    /// takes it.
    async fn highest(conn: &mut PgConnection) -> Result<i64, StoreError> {
        Ok(Self::lock(conn).await?.last)
    }

    /// Makes the next id `last + 1`.
    async fn continue_after(conn: &mut PgConnection, last: i64) -> Result<(), StoreError> {
        Self { last }.save(conn).await
    }
}

/// The ids of a read change, all in one array: one statement for them all.
fn id_batches(ids: &[u64]) -> impl Iterator<Item = Vec<i64>> + Send + '_ {
    std::iter::once(ids.iter().map(|&id| db_id(id)).collect())
}

/// Revocations are read by polling `id > last seen`, and a `BIGSERIAL` id
/// is handed out before commit: one that committed late would be skipped.
/// The table lock makes them commit in id order (the same hazard as
/// notification ids).
async fn lock_revocations(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("LOCK TABLE revocations IN EXCLUSIVE MODE")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Every key in one statement (an array), outside any transaction.
async fn record_login_failures(
    store: &PgStore,
    keys: &[String],
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO login_failures (key, at) SELECT k, $2 FROM UNNEST($1::text[]) AS k")
        .bind(keys)
        .bind(at)
        .execute(&store.pool)
        .await?;
    Ok(())
}

//! The embedded store: one SQLite file in WAL mode.
//!
//! Writes come from the single publisher task (see `publish`), so they never
//! contend with each other; readers use the pool's other connections and are
//! never blocked by a writer in WAL mode.
//!
//! The queries are in `sql` (written once for both backends); this module
//! is SQLite's side of the seam: opening the file, the write transaction,
//! and where ids come from.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};

use super::StoreError;
use super::convert::db_id;

/// `FOR UPDATE`, where `sql` needs a row lock: nothing here. Every
/// transaction that writes holds SQLite's one write lock from its `BEGIN`
/// (see [`SqliteStore::write_tx`]), which already serialises them.
macro_rules! lock_rows {
    ($($table:ident)?) => {
        ""
    };
}

/// `= any!("$n")` matches a parameter holding one id of [`id_batches`].
macro_rules! any {
    ($param:literal) => {
        $param
    };
}

#[allow(clippy::duplicate_mod, reason = "the dialect seam: see sql/mod.rs")]
#[path = "sql/mod.rs"]
mod sql;

type Db = sqlx::Sqlite;
type SqlStore = SqliteStore;

/// Connections in the pool: one for the writer, the rest for streams
/// replaying history. More would only queue on SQLite's file lock.
const POOL_SIZE: u32 = 4;
/// How long a statement waits for SQLite's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite-backed [`Store`](super::Store).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
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
        Self::migrated(pool).await
    }

    /// A transaction that holds the write lock from its first statement.
    ///
    /// Every transaction here reads, then writes. Begun as `DEFERRED` (the
    /// default), two of them at once both start as readers, and the one
    /// that tries to write second gets `SQLITE_BUSY` at once, without
    /// waiting: its snapshot is stale. That was a 503 for one of two admins
    /// acknowledging at the same moment. `IMMEDIATE` takes the lock at
    /// `BEGIN`, where the busy timeout applies, so they queue instead.
    async fn write_tx(&self) -> Result<sqlx::Transaction<'_, Db>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Notification ids. `AUTOINCREMENT` hands them out at insert, in the order
/// the single writer commits them, and `sqlite_sequence` remembers the
/// highest even after it was pruned, so none is ever reused.
struct Ids;

impl Ids {
    /// Nothing to lock: the write transaction holds the database's lock.
    async fn lock(_: &mut SqliteConnection) -> Result<Self, StoreError> {
        Ok(Ids)
    }

    /// The id to insert: `NULL`, for `AUTOINCREMENT` to choose.
    fn next(&mut self) -> Option<i64> {
        None
    }

    async fn save(self, _: &mut SqliteConnection) -> Result<(), StoreError> {
        Ok(())
    }

    /// The highest id ever handed out, pruned or not.
    async fn last(pool: &SqlitePool) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'notifications'), 0)",
        )
        .fetch_one(pool)
        .await?)
    }

    /// The highest id handed out or still held.
    async fn highest(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'notifications'), 0),
                        COALESCE((SELECT MAX(id) FROM notifications), 0))",
        )
        .fetch_one(&mut *conn)
        .await?)
    }

    /// Makes the next id `last + 1`.
    async fn continue_after(conn: &mut SqliteConnection, last: i64) -> Result<(), StoreError> {
        // AUTOINCREMENT continues after sqlite_sequence, which SQLite lets
        // ordinary statements change.
        let updated =
            sqlx::query("UPDATE sqlite_sequence SET seq = $1 WHERE name = 'notifications'")
                .bind(last)
                .execute(&mut *conn)
                .await?
                .rows_affected();
        if updated == 0 {
            sqlx::query("INSERT INTO sqlite_sequence (name, seq) VALUES ('notifications', $1)")
                .bind(last)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// The ids of a read change, one per statement: SQLite has no arrays.
fn id_batches(ids: &[u64]) -> impl Iterator<Item = i64> + Send + '_ {
    ids.iter().map(|&id| db_id(id))
}

/// Nothing to lock: revocations commit one at a time under the write
/// transaction's lock, so their ids commit in order.
async fn lock_revocations(_: &mut SqliteConnection) -> Result<(), StoreError> {
    Ok(())
}

/// A row per key, one statement each (no arrays), in one write transaction.
async fn record_login_failures(
    store: &SqliteStore,
    keys: &[String],
    at: i64,
) -> Result<(), StoreError> {
    let mut tx = store.write_tx().await?;
    for key in keys {
        sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(at)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

//! Conversions shared by the SQL stores: timestamps as Unix milliseconds,
//! severities as ordered small integers, ids as non-negative `i64`. A stored
//! value that does not convert back is [`StoreError::Corrupt`].

use belfry_proto::{Severity, UnreadCounts};
use time::OffsetDateTime;

use super::{Restore, Revocation, StoreError};

pub(super) fn to_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(super) fn from_millis(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StoreError::corrupt_because(format!("timestamp {ms}"), e))
}

/// A severity as stored: `SMALLINT` in PostgreSQL, which SQLite's `INTEGER`
/// also reads into.
pub(super) fn severity_rank(s: Severity) -> i16 {
    match s {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Critical => 2,
    }
}

pub(super) fn severity_from_rank(r: i16) -> Result<Severity, StoreError> {
    Severity::ALL
        .get(usize::try_from(r).unwrap_or(usize::MAX))
        .copied()
        .ok_or_else(|| StoreError::corrupt(format!("severity {r}")))
}

/// An id as the databases store it; ids never come near `i64::MAX`.
pub(super) fn db_id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

pub(super) fn id_from(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|e| StoreError::corrupt_because(format!("id {v}"), e))
}

/// `restores` rows, `(floor, base)`.
pub(super) fn restores(rows: Vec<(i64, i64)>) -> Result<Vec<Restore>, StoreError> {
    rows.into_iter()
        .map(|(floor, base)| {
            Ok(Restore {
                floor: id_from(floor)?,
                base: id_from(base)?,
            })
        })
        .collect()
}

/// A `revocations` row's scope and subject.
pub(super) fn revocation(scope: &str, subject: String) -> Result<Revocation, StoreError> {
    match scope {
        "user" => Ok(Revocation::User(subject)),
        "session" => Ok(Revocation::Session(subject)),
        other => Err(StoreError::corrupt(format!("revocation scope {other}"))),
    }
}

/// Unread counts from `(severity rank, count)` rows.
pub(super) fn unread_counts(
    rows: impl IntoIterator<Item = (i16, i64)>,
) -> Result<UnreadCounts, StoreError> {
    let mut c = UnreadCounts::default();
    for (rank, n) in rows {
        let n = u64::try_from(n).unwrap_or(0);
        match severity_from_rank(rank)? {
            Severity::Info => c.info = n,
            Severity::Warning => c.warning = n,
            Severity::Critical => c.critical = n,
        }
    }
    c.total = c.info + c.warning + c.critical;
    Ok(c)
}

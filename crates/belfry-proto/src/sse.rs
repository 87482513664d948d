//! Names of the events on `GET /api/admin/events` and their payloads.
//!
//! Frame order: `retry: <ms>`, then `event: ready` ([`Ready`]); on resume from
//! a `Last-Event-ID` the server may first send `event: reset`; then every
//! notification as `id: <id>` + `event: notification` + `data: <JSON>`;
//! comment lines (`: keepalive`) in between; `event: read`, `event: ack` and
//! `event: preferences` (no `id:`) whenever an admin's state changes;
//! `event: expired` right before the server closes a stream whose token expired.

use serde::{Deserialize, Serialize};

/// First event of every stream.
pub const EVENT_READY: &str = "ready";
/// A notification; the frame's `id:` is the notification id.
pub const EVENT_NOTIFICATION: &str = "notification";
/// The resume point is unknown to the server (pruned history, or another
/// server's ids): refetch history instead of expecting a replay.
pub const EVENT_RESET: &str = "reset";
/// The access token expired; the server closes the stream right after.
pub const EVENT_EXPIRED: &str = "expired";
/// Read state changed on one of this admin's devices ([`crate::ReadEvent`]).
pub const EVENT_READ: &str = "read";
/// Someone acknowledged or released a notification ([`crate::AckEvent`]).
pub const EVENT_ACK: &str = "ack";
/// This admin's preferences changed ([`crate::Preferences`]).
pub const EVENT_PREFERENCES: &str = "preferences";

/// Payload of `event: ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Ready {
    /// Id of the newest stored notification when the stream started (0 when
    /// there is none). A client with no `Last-Event-ID` of its own resumes
    /// from this one if the stream breaks before the first notification.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub last_id: u64,
    /// This admin's unread counts when the stream started.
    #[serde(default)]
    pub unread: crate::UnreadCounts,
}

/// Payload of `event: reset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Reset {
    /// Why the server could not replay from the client's `Last-Event-ID`.
    pub reason: String,
}

/// Payload of `event: expired`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Expired {
    pub message: String,
}

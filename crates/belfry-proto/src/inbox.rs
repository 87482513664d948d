//! Wire types of the admin inbox: history pages, read state,
//! acknowledgements, and the stream events that sync them across devices.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Notification, Severity};

/// Unread notifications of one admin, in all and per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UnreadCounts {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub info: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub warning: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub critical: u64,
}

impl UnreadCounts {
    /// The count for one severity.
    pub fn of(&self, s: Severity) -> u64 {
        match s {
            Severity::Info => self.info,
            Severity::Warning => self.warning,
            Severity::Critical => self.critical,
        }
    }
}

/// The admin who acknowledged a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Actor {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
}

/// "I'm on it": who took ownership of a notification, when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Ack {
    pub by: Actor,
    /// An RFC 3339 timestamp.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub at: OffsetDateTime,
    #[serde(default)]
    pub note: Option<String>,
}

/// One inbox entry: the notification plus this admin's view of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InboxItem {
    #[serde(flatten)]
    pub notification: Notification,
    pub read: bool,
    #[serde(default)]
    pub ack: Option<Ack>,
}

/// `GET /api/admin/notifications`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InboxPage {
    /// Newest first.
    pub items: Vec<InboxItem>,
    /// Pass as `before` for the next (older) page; `None` (null) on the last page.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub next_before: Option<u64>,
    pub unread: UnreadCounts,
}

/// A history page query: the query string of `GET /api/admin/notifications`
/// as the UI writes it, and the desktop app's `history` command argument.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    /// Items per page (the server's default when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub limit: Option<u32>,
    /// Only items older than this id (the previous page's `next_before`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional, type = "number | null"))]
    pub before: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub min_severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub kind: Option<String>,
    /// Only unread items (`false` when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub unread: Option<bool>,
}

/// `POST /api/admin/notifications/read`: either `ids` or `up_to`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "Array<number>"))]
    pub ids: Option<Vec<u64>>,
    /// Everything up to and including this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub up_to: Option<u64>,
}

/// Answer of `POST /api/admin/notifications/read` (and of unread).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UnreadAnswer {
    pub unread: UnreadCounts,
}

/// Payload of `event: read`: read state changed on one of this admin's devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReadEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "Array<number>"))]
    pub ids: Option<Vec<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub up_to: Option<u64>,
    /// `true` when the ids were marked unread again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unread_again: bool,
    pub unread: UnreadCounts,
}

/// `POST /api/admin/notifications/{id}/ack` body (optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub note: Option<String>,
    /// Take over (or release) an ack held by someone else.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

/// Longest ack note, in characters.
pub const MAX_ACK_NOTE_CHARS: usize = 500;

/// Payload of `event: ack`: someone took ownership (`ack` set) or released
/// it (`ack` null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AckEvent {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: u64,
    pub ack: Option<Ack>,
}

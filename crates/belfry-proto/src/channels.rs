//! Wire types of the outbound channels admins can see and test: which are
//! configured (`GET /api/admin/channels`, never their secrets) and how a
//! test message went (`POST /api/admin/channels/{name}/test`).

use serde::{Deserialize, Serialize};

use crate::Severity;

/// One outbound channel, as admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChannelInfo {
    pub name: String,
    /// `webhook`, `slack`, `discord`, `teams`, `sms` or `email`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where it sends, without secrets (a chat webhook by host only).
    pub target: String,
}

/// Answer of `GET /api/admin/channels`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChannelList {
    pub channels: Vec<ChannelInfo>,
}

/// `POST /api/admin/channels/{name}/test`; the body is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct ChannelTest {
    /// The test message's severity (`warning` when left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub severity: Option<Severity>,
}

/// How a test message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ChannelOutcome {
    /// The receiver took it.
    Delivered,
    /// No answer, 408, 429 or 5xx: a real delivery would try again.
    Retry,
    /// Refused for good (another 4xx): the channel's settings are wrong.
    Failed,
}

/// Answer of `POST /api/admin/channels/{name}/test`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChannelTestResult {
    pub channel: String,
    pub outcome: ChannelOutcome,
    /// The receiver's answer in words (`answered 200`, `could not connect`).
    pub detail: String,
}

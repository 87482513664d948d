//! Wire types of sign-in and per-admin preferences.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Severity;

/// `POST /api/auth/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// `POST /api/auth/refresh` and `POST /api/auth/logout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Answer of login and refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub expires_in: u64,
    #[serde(default = "bearer")]
    pub token_type: String,
}

fn bearer() -> String {
    "Bearer".to_owned()
}

/// A kind muted for this admin, optionally until a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct MutedKind {
    pub kind: String,
    /// When the mute ends, an RFC 3339 timestamp; `null`: never.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    pub until: Option<OffsetDateTime>,
}

/// Hours during which pop-ups stay quiet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// Local start time, `HH:MM`.
    pub start: String,
    /// Local end time, `HH:MM`; may be earlier than `start` (over midnight).
    pub end: String,
    /// IANA time zone, e.g. `Europe/Amsterdam`.
    pub time_zone: String,
    /// Whether critical notifications pop up anyway.
    #[serde(default = "yes")]
    pub critical_breaks_through: bool,
}

/// Sound on or off per severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Sounds {
    pub info: bool,
    pub warning: bool,
    pub critical: bool,
}

impl Default for Sounds {
    fn default() -> Self {
        Self {
            info: false,
            warning: true,
            critical: true,
        }
    }
}

impl Sounds {
    pub fn of(&self, s: Severity) -> bool {
        match s {
            Severity::Info => self.info,
            Severity::Warning => self.warning,
            Severity::Critical => self.critical,
        }
    }
}

fn yes() -> bool {
    true
}

fn warning() -> Severity {
    Severity::Warning
}

fn five() -> u32 {
    5
}

/// Per-admin settings, stored on the server so every device behaves the same
/// (`GET`/`PUT /api/admin/preferences`, `event: preferences`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// Lowest severity that raises an OS pop-up.
    #[serde(default = "warning")]
    pub popup_min_severity: Severity,
    #[serde(default)]
    pub muted_kinds: Vec<MutedKind>,
    #[serde(default)]
    pub quiet_hours: Option<QuietHours>,
    #[serde(default)]
    pub sounds: Sounds,
    /// Minutes between re-alerts of an unacknowledged critical (0: never).
    #[serde(default = "five")]
    pub realert_minutes: u32,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            popup_min_severity: warning(),
            muted_kinds: Vec::new(),
            quiet_hours: None,
            sounds: Sounds::default(),
            realert_minutes: five(),
        }
    }
}

//! What the web UI hears from the app, as typed values: every stream event
//! as one [`UiEvent`] (the UI's `StreamEvent` shape), and the session as a
//! [`SessionInfo`]; [`crate::contract`] binds them to their event names. The
//! JSON is the contract with `ui/src/platform/tauri`; the tests below pin it.

use belfry_proto::{AckEvent, Notification, Preferences, ReadEvent, UnreadCounts};
use serde::Serialize;

/// One event for the UI, in the shape of its `StreamEvent`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum UiEvent {
    /// Where the connection stands.
    Status {
        status: Status,
    },
    /// The stream is live: load the history up to here.
    Ready {
        ready: Ready,
    },
    Notification {
        notification: Notification,
        replayed: bool,
    },
    Read {
        read: ReadEvent,
    },
    Ack {
        ack: AckEvent,
    },
    Preferences {
        preferences: Preferences,
    },
    /// The server cannot replay from where the app was: refetch the history.
    Reset {
        reason: String,
    },
}

/// The connection status the UI shows, tagged by `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Status {
    SignedOut {
        reason: String,
    },
    Connecting,
    /// Live since this Unix time in milliseconds.
    Live {
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        since: u64,
    },
    Reconnecting {
        /// The next attempt, as a Unix time in milliseconds.
        #[serde(rename = "retryAt")]
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        retry_at: u64,
        attempt: u32,
        reason: String,
    },
    /// The stream gave up for good.
    Offline {
        reason: String,
    },
}

/// The payload of [`UiEvent::Ready`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Ready {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub last_id: u64,
    pub unread: UnreadCounts,
}

/// The session as the UI sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SessionInfo {
    pub email: Option<String>,
    /// Where the app is connected, for the login screen and settings.
    pub server: String,
    /// `bundled` or `remote`.
    #[cfg_attr(feature = "ts", ts(type = "'bundled' | 'remote'"))]
    pub mode: &'static str,
    pub demo: bool,
    /// Why there is no session (e.g. the sign-in expired), when there is none.
    pub reason: Option<String>,
    /// Where credentials are kept: `keyring` for a remote server with an OS
    /// keyring; `memory` for the bundled server (it signs in by itself on
    /// every start) or when there is no usable OS keyring (then a restart
    /// asks to sign in again).
    #[cfg_attr(feature = "ts", ts(type = "'keyring' | 'memory'"))]
    pub credentials: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ack_event, notification};
    use belfry_proto::Severity;
    use serde_json::json;

    fn json_of(e: &UiEvent) -> serde_json::Value {
        serde_json::to_value(e).unwrap()
    }

    fn counts() -> UnreadCounts {
        UnreadCounts {
            total: 3,
            info: 1,
            warning: 1,
            critical: 1,
        }
    }

    // The expected values are the `json!` literals the app emitted before
    // the events were typed: the UI must not notice the change.

    #[test]
    fn every_status_is_the_json_the_ui_already_reads() {
        let status = |s| json_of(&UiEvent::Status { status: s });
        assert_eq!(
            status(Status::SignedOut {
                reason: "not signed in".into()
            }),
            json!({"type": "status", "status": {"state": "signed-out", "reason": "not signed in"}})
        );
        assert_eq!(
            status(Status::Connecting),
            json!({"type": "status", "status": {"state": "connecting"}})
        );
        assert_eq!(
            status(Status::Live { since: 1_700_000 }),
            json!({"type": "status", "status": {"state": "live", "since": 1_700_000}})
        );
        assert_eq!(
            status(Status::Reconnecting {
                retry_at: 1_700_500,
                attempt: 2,
                reason: "connection refused".into()
            }),
            json!({"type": "status", "status": {"state": "reconnecting", "retryAt": 1_700_500, "attempt": 2, "reason": "connection refused"}})
        );
        assert_eq!(
            status(Status::Offline {
                reason: "gone".into()
            }),
            json!({"type": "status", "status": {"state": "offline", "reason": "gone"}})
        );
    }

    #[test]
    fn ready_notification_read_ack_preferences_and_reset_keep_their_json() {
        let unread = counts();
        assert_eq!(
            json_of(&UiEvent::Ready {
                ready: Ready { last_id: 9, unread }
            }),
            json!({"type": "ready", "ready": {"last_id": 9, "unread": unread}})
        );
        let n = notification(4, Severity::Critical);
        assert_eq!(
            json_of(&UiEvent::Notification {
                notification: n.clone(),
                replayed: true
            }),
            json!({"type": "notification", "notification": n, "replayed": true})
        );
        let read = ReadEvent {
            ids: Some(vec![1, 2]),
            up_to: None,
            unread_again: false,
            unread,
        };
        assert_eq!(
            json_of(&UiEvent::Read { read: read.clone() }),
            json!({"type": "read", "read": read})
        );
        let ack = ack_event(4, true);
        assert_eq!(
            json_of(&UiEvent::Ack { ack: ack.clone() }),
            json!({"type": "ack", "ack": ack})
        );
        let preferences = Preferences::default();
        assert_eq!(
            json_of(&UiEvent::Preferences {
                preferences: preferences.clone()
            }),
            json!({"type": "preferences", "preferences": preferences})
        );
        assert_eq!(
            json_of(&UiEvent::Reset {
                reason: "too old".into()
            }),
            json!({"type": "reset", "reason": "too old"})
        );
    }

    #[test]
    fn the_session_keeps_its_json() {
        let info = SessionInfo {
            email: Some("ops@shop.example".into()),
            server: "https://belfry.shop.example".into(),
            mode: "remote",
            demo: false,
            reason: None,
            credentials: "keyring",
        };
        assert_eq!(
            serde_json::to_value(&info).unwrap(),
            json!({"email": "ops@shop.example", "server": "https://belfry.shop.example", "mode": "remote", "demo": false, "reason": null, "credentials": "keyring"})
        );
    }
}

//! The tray icon variant and tooltip, from the unread counts and the state
//! of the connection to the server.

use belfry_proto::UnreadCounts;

/// Where the connection to the server stands, as the tray tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// A first attempt is under way.
    Connecting,
    /// The stream is open.
    Live,
    /// The stream broke; the client retries on its own.
    Reconnecting,
    /// No credentials, or the server refused them.
    SignedOut,
}

/// The tray icon variants (files `icons/tray-<name>.png`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayIcon {
    Idle,
    Unread,
    UnreadCritical,
    Disconnected,
}

impl TrayIcon {
    /// The file stem of the icon under `icons/`.
    pub fn name(self) -> &'static str {
        match self {
            TrayIcon::Idle => "tray-idle",
            TrayIcon::Unread => "tray-unread",
            TrayIcon::UnreadCritical => "tray-critical",
            TrayIcon::Disconnected => "tray-disconnected",
        }
    }
}

/// What the tray shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayState {
    pub icon: TrayIcon,
    pub tooltip: String,
}

impl TrayState {
    /// The tray for these counts and this connection. Being disconnected wins
    /// over unread counts: stale counts must not look like a healthy inbox.
    pub fn new(unread: &UnreadCounts, connection: Connection) -> Self {
        let icon = match connection {
            Connection::Live if unread.critical > 0 => TrayIcon::UnreadCritical,
            Connection::Live if unread.total > 0 => TrayIcon::Unread,
            Connection::Live => TrayIcon::Idle,
            _ => TrayIcon::Disconnected,
        };
        let counts = if unread.total == 0 {
            "no unread notifications".to_owned()
        } else if unread.critical > 0 {
            format!("{} unread, {} critical", unread.total, unread.critical)
        } else {
            format!("{} unread", unread.total)
        };
        let state = match connection {
            Connection::Connecting => "connecting",
            Connection::Live => "connected",
            Connection::Reconnecting => "disconnected, reconnecting",
            Connection::SignedOut => "signed out",
        };
        TrayState {
            icon,
            tooltip: format!("Belfry: {counts} ({state})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(info: u64, warning: u64, critical: u64) -> UnreadCounts {
        UnreadCounts {
            total: info + warning + critical,
            info,
            warning,
            critical,
        }
    }

    #[test]
    fn an_empty_inbox_while_connected_is_idle() {
        let t = TrayState::new(&counts(0, 0, 0), Connection::Live);
        assert_eq!(t.icon, TrayIcon::Idle);
        assert_eq!(t.tooltip, "Belfry: no unread notifications (connected)");
    }

    #[test]
    fn unread_warnings_show_the_unread_icon() {
        let t = TrayState::new(&counts(2, 1, 0), Connection::Live);
        assert_eq!(t.icon, TrayIcon::Unread);
        assert_eq!(t.tooltip, "Belfry: 3 unread (connected)");
    }

    #[test]
    fn one_unread_critical_shows_the_critical_icon_and_says_so() {
        let t = TrayState::new(&counts(4, 0, 1), Connection::Live);
        assert_eq!(t.icon, TrayIcon::UnreadCritical);
        assert_eq!(t.tooltip, "Belfry: 5 unread, 1 critical (connected)");
    }

    #[test]
    fn a_broken_connection_shows_disconnected_even_with_unread_criticals() {
        let t = TrayState::new(&counts(0, 0, 2), Connection::Reconnecting);
        assert_eq!(t.icon, TrayIcon::Disconnected);
        assert_eq!(
            t.tooltip,
            "Belfry: 2 unread, 2 critical (disconnected, reconnecting)"
        );
        let t = TrayState::new(&counts(0, 0, 0), Connection::SignedOut);
        assert_eq!(t.icon, TrayIcon::Disconnected);
        assert_eq!(t.icon.name(), "tray-disconnected");
    }
}

//! The app's shared state, managed by Tauri: what the tray and the status
//! command read.

use std::sync::Mutex;

use belfry_proto::UnreadCounts;

use belfry_desktop_core::tray_state::{Connection, TrayState};

/// Inbox and connection state, updated from the client's events.
#[derive(Debug)]
pub struct AppState {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    unread: UnreadCounts,
    connection: Connection,
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                unread: UnreadCounts::default(),
                connection: Connection::SignedOut,
            }),
        }
    }
}

impl AppState {
    /// What the tray shows now.
    pub fn tray(&self) -> TrayState {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        TrayState::new(&inner.unread, inner.connection)
    }

    /// The connection state now.
    pub fn connection(&self) -> Connection {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .connection
    }
}

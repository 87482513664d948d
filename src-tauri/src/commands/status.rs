//! `status`: the connection state and unread summary the tray shows.

use serde::Serialize;
use tauri::State;

use crate::desktop::Desktop;
use belfry_desktop_core::tray_state::Connection;

/// The connection status, as the UI's platform layer reads it.
#[derive(Debug, Serialize)]
pub struct Status {
    /// `connecting`, `live`, `reconnecting` or `signed-out`.
    pub connection: &'static str,
    /// The tray tooltip text.
    pub summary: String,
    pub unread: belfry_proto::UnreadCounts,
}

#[tauri::command]
pub fn status(desktop: State<'_, Desktop>) -> Status {
    let tray = desktop.tray_view().state;
    Status {
        connection: match desktop.connection() {
            Connection::Connecting => "connecting",
            Connection::Live => "live",
            Connection::Reconnecting => "reconnecting",
            Connection::SignedOut => "signed-out",
        },
        summary: tray.tooltip,
        unread: desktop.unread(),
    }
}

//! `status`: the connection state and unread summary the tray shows.

use serde::Serialize;
use tauri::State;

use crate::state::AppState;
use belfry_desktop_core::tray_state::Connection;

/// The connection status, as the UI's platform layer reads it.
#[derive(Debug, Serialize)]
pub struct Status {
    /// `connecting`, `live`, `reconnecting` or `signed-out`.
    pub connection: &'static str,
    /// The tray tooltip text.
    pub summary: String,
}

#[tauri::command]
pub fn status(state: State<'_, AppState>) -> Status {
    let connection = match state.connection() {
        Connection::Connecting => "connecting",
        Connection::Live => "live",
        Connection::Reconnecting => "reconnecting",
        Connection::SignedOut => "signed-out",
    };
    Status {
        connection,
        summary: state.tray().tooltip,
    }
}

//! Belfry desktop app: the web UI in a window, a tray icon that tells the
//! inbox and connection state, and native pop-ups by severity. The logic
//! lives in `belfry-desktop-core` (no Tauri, no display, unit-tested); this crate root
//! only wires Tauri together.

pub mod commands;
#[cfg(target_os = "linux")]
mod notify;
pub mod state;
#[cfg(desktop)]
mod tray;

use tauri::{Emitter, Manager, RunEvent, WindowEvent};

use belfry_desktop_core::actions::Action;

/// The label of the one window (see `tauri.conf.json`).
pub const MAIN_WINDOW: &str = "main";

/// Builds and runs the app until the user quits from the tray.
pub fn run() {
    let app = tauri::Builder::default()
        .manage(state::AppState::default())
        .setup(|app| {
            #[cfg(desktop)]
            tray::init(app.handle())?;
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window hides it: the app lives on in the tray so
            // alerts keep arriving. Quit is in the tray menu.
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                if let Err(e) = window.hide() {
                    tracing::warn!(error = %e, "could not hide the window");
                }
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::status::status,
            commands::test_notification::test_notification
        ])
        .build(tauri::generate_context!())
        .expect("the Tauri app could not be built");
    app.run(|_app, event| {
        // The last window going away is no reason to exit (`code` is `None`
        // then); an explicit `exit` from the tray's Quit carries a code.
        if let RunEvent::ExitRequested { api, code, .. } = event
            && code.is_none()
        {
            api.prevent_exit();
        }
    });
}

/// Shows, unminimizes and focuses the main window.
pub fn show_main_window(app: &tauri::AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// The event the UI receives to show one notification.
pub const OPEN_EVENT: &str = "belfry://open";

/// Carries out what the user asked for from the tray or a pop-up.
pub(crate) fn route(app: &tauri::AppHandle, action: Action) {
    match action {
        Action::Quit => app.exit(0),
        Action::Open(id) => {
            show_main_window(app);
            if let Some(id) = id
                && let Err(e) = app.emit_to(MAIN_WINDOW, OPEN_EVENT, id)
            {
                tracing::warn!(error = %e, "could not ask the UI to open a notification");
            }
        }
        // Acknowledging, marking read and pausing go through the server
        // connection, which this build does not run yet.
        other => tracing::info!(?other, "action needs a connected client"),
    }
}

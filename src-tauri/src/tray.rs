//! The tray icon and its menu (desktop only). Menu ids and their meaning
//! live in [`belfry_desktop_core::actions`]; this module only builds and routes.

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

use crate::state::AppState;
use belfry_desktop_core::actions;
use belfry_desktop_core::tray_state::TrayIcon;

/// The tray icon's id, to find it again when the state changes.
pub const TRAY_ID: &str = "tray::main";

/// The PNG of a tray icon variant, embedded so the app needs no files.
fn icon_bytes(icon: TrayIcon) -> &'static [u8] {
    match icon {
        TrayIcon::Idle => include_bytes!("../../icons/tray-idle.png"),
        TrayIcon::Unread => include_bytes!("../../icons/tray-unread.png"),
        TrayIcon::UnreadCritical => include_bytes!("../../icons/tray-critical.png"),
        TrayIcon::Disconnected => include_bytes!("../../icons/tray-disconnected.png"),
    }
}

/// Builds the menu: Open Belfry, Mark all read, Pause pop-ups, Quit.
fn menu(app: &AppHandle) -> tauri::Result<Menu<tauri::Wry>> {
    let open = MenuItem::with_id(app, actions::TRAY_OPEN, "Open Belfry", true, None::<&str>)?;
    let mark = MenuItem::with_id(
        app,
        actions::TRAY_MARK_ALL_READ,
        "Mark all read",
        true,
        None::<&str>,
    )?;
    let pause = Submenu::with_items(
        app,
        "Pause pop-ups",
        true,
        &[
            &MenuItem::with_id(
                app,
                actions::TRAY_PAUSE_HOUR,
                "For 1 hour",
                true,
                None::<&str>,
            )?,
            &MenuItem::with_id(
                app,
                actions::TRAY_PAUSE_TOMORROW,
                "Until tomorrow",
                true,
                None::<&str>,
            )?,
            &MenuItem::with_id(app, actions::TRAY_RESUME, "Resume", true, None::<&str>)?,
        ],
    )?;
    let quit = MenuItem::with_id(app, actions::TRAY_QUIT, "Quit", true, None::<&str>)?;
    Menu::with_items(
        app,
        &[
            &open,
            &mark,
            &pause,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )
}

/// Creates the tray icon with the current state's icon and tooltip.
pub fn init(app: &AppHandle) -> tauri::Result<()> {
    let tray = app.state::<AppState>().tray();
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(icon_bytes(tray.icon))?)
        .tooltip(&tray.tooltip)
        .menu(&menu(app)?)
        .on_menu_event(|app, event| match actions::from_tray(event.id().as_ref()) {
            Some(action) => crate::route(app, action),
            None => tracing::debug!(id = ?event.id(), "unknown tray menu id"),
        })
        .build(app)?;
    Ok(())
}

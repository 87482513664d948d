//! The tray icon and its menu (desktop only). Menu ids and their meaning
//! live in [`belfry_desktop_core::actions`]; this module only builds and routes.

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

use crate::desktop::Desktop;
use belfry_desktop_core::actions;
use belfry_desktop_core::text;
use belfry_desktop_core::tray_state::TrayIcon;
use belfry_proto::Notification;

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

/// The label of a "latest notifications" entry: severity and title, cut
/// short. Menu labels are plain text (no markup) on every tray host.
fn entry_label(n: &Notification) -> String {
    const MAX: usize = 60;
    let mut title: String = n.title.chars().take(MAX).collect();
    if n.title.chars().count() > MAX {
        title.push('…');
    }
    format!("{}: {title}", text::severity_word(n.severity))
}

/// Builds the menu: the latest notifications, Open Belfry, Mark all read,
/// Pause pop-ups, Quit.
fn menu(app: &AppHandle, latest: &[Notification], paused: bool) -> tauri::Result<Menu<tauri::Wry>> {
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
            &MenuItem::with_id(app, actions::TRAY_RESUME, "Resume", paused, None::<&str>)?,
        ],
    )?;
    let quit = MenuItem::with_id(app, actions::TRAY_QUIT, "Quit", true, None::<&str>)?;
    let menu = Menu::new(app)?;
    if latest.is_empty() {
        menu.append(&MenuItem::with_id(
            app,
            "tray::none",
            "No notifications yet",
            false,
            None::<&str>,
        )?)?;
    }
    for n in latest {
        menu.append(&MenuItem::with_id(
            app,
            actions::tray_notification_id(n.id),
            entry_label(n),
            true,
            None::<&str>,
        )?)?;
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&open)?;
    menu.append(&mark)?;
    menu.append(&pause)?;
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&quit)?;
    Ok(menu)
}

/// Creates the tray icon with the current state's icon and tooltip.
pub fn init(app: &AppHandle) -> tauri::Result<()> {
    let view = app.state::<Desktop>().tray_view();
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(icon_bytes(view.state.icon))?)
        .tooltip(&view.state.tooltip)
        .menu(&menu(app, &view.latest, view.paused_until.is_some())?)
        .on_menu_event(|app, event| match actions::from_tray(event.id().as_ref()) {
            Some(action) => crate::route(app, action),
            None => tracing::debug!(id = ?event.id(), "unknown tray menu id"),
        })
        .build(app)?;
    Ok(())
}

/// Redraws icon, tooltip and menu from the current state. The tray belongs
/// to the main thread on Linux (GTK), so the work is sent there.
pub fn redraw(app: &AppHandle) {
    let handle = app.clone();
    let queued = app.run_on_main_thread(move || {
        let Some(tray) = handle.tray_by_id(TRAY_ID) else {
            return;
        };
        let view = handle.state::<Desktop>().tray_view();
        let result = Image::from_bytes(icon_bytes(view.state.icon))
            .and_then(|icon| tray.set_icon(Some(icon)))
            .and_then(|()| tray.set_tooltip(Some(&view.state.tooltip)))
            .and_then(|()| menu(&handle, &view.latest, view.paused_until.is_some()))
            .and_then(|m| tray.set_menu(Some(m)));
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not redraw the tray");
        }
    });
    if let Err(e) = queued {
        tracing::warn!(error = %e, "could not reach the main thread");
    }
}

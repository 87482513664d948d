//! Preferences live on the server, so every device of an admin behaves the
//! same; the app caches the last ones for pop-ups while offline. Also the
//! local start-at-login switch.

use belfry_desktop_core::contract::{AutostartArgs, GetPreferencesArgs, PutPreferencesArgs};
use belfry_proto::ErrorKind;
use tauri::State;
use tauri_plugin_autostart::ManagerExt as _;

use super::{Args, CommandError, Reply};
use crate::desktop::Desktop;

#[tauri::command]
pub async fn get_preferences(
    desktop: State<'_, Desktop>,
    _: Args<GetPreferencesArgs>,
) -> Reply<GetPreferencesArgs> {
    Ok(desktop.signed_in()?.preferences().await?)
}

#[tauri::command]
pub async fn put_preferences(
    desktop: State<'_, Desktop>,
    Args(args): Args<PutPreferencesArgs>,
) -> Reply<PutPreferencesArgs> {
    Ok(desktop
        .signed_in()?
        .put_preferences(&args.preferences)
        .await?)
}

/// Whether the app starts at login; `enabled` changes it first.
#[tauri::command]
pub fn autostart(app: tauri::AppHandle, Args(args): Args<AutostartArgs>) -> Reply<AutostartArgs> {
    let launcher = app.autolaunch();
    let failed = |e: tauri_plugin_autostart::Error| {
        CommandError::new(ErrorKind::Server, format!("start at login: {e}"))
    };
    match args.enabled {
        Some(true) => launcher.enable().map_err(failed)?,
        Some(false) => launcher.disable().map_err(failed)?,
        None => {}
    }
    launcher.is_enabled().map_err(failed)
}

//! Belfry desktop app: the web UI in a window, a tray icon that tells the
//! inbox and connection state, and native pop-ups by severity, over one
//! belfry-client connection. The logic (server choice and sign-in, what each
//! stream event changes, which pop-ups go up, re-alerts, the tray, the
//! events the UI hears, the settings file) lives in `belfry-desktop-core`
//! and belfry-client, with no Tauri and no display, unit-tested; this crate
//! only wires Tauri to it ([`desktop`] carries out the core's effects).

#[cfg(feature = "bundled-server")]
mod bundled;
#[cfg(not(feature = "bundled-server"))]
#[path = "no_bundled.rs"]
mod bundled;
pub mod commands;
pub mod desktop;
#[cfg(target_os = "linux")]
mod notify;
mod saver;
mod schedule;
#[cfg(desktop)]
mod tray;

use clap::Parser;
use tauri::{Emitter, Manager, RunEvent, WindowEvent};
use tauri_plugin_autostart::MacosLauncher;

use belfry_desktop_core::actions::Action;
use belfry_desktop_core::contract::{Event, OpenRequest};
use belfry_desktop_core::settings::ServerChoice;

use crate::desktop::Desktop;

/// The label of the one window (see `tauri.conf.json`).
pub const MAIN_WINDOW: &str = "main";
/// Passed by start-at-login: start in the tray, window hidden.
const HIDDEN_FLAG: &str = "--hidden";

/// Command line of the app. What it sets is remembered for the next start.
#[derive(Debug, Parser)]
#[command(
    name = "belfry-desktop",
    version,
    about = "Belfry: real-time admin notifications in your tray"
)]
struct Args {
    /// Connect to the Belfry server at this URL (then sign in in the window).
    #[arg(long, value_name = "URL", conflicts_with = "bundled")]
    server: Option<String>,
    /// Run a Belfry server on this computer (SQLite in the app's data
    /// directory, listening on 127.0.0.1 only).
    #[arg(long)]
    bundled: bool,
    /// With the bundled server: also publish demo store events.
    #[arg(long)]
    demo: bool,
    /// Start in the tray with the window hidden.
    #[arg(long)]
    hidden: bool,
    /// Added by WebKitWebDriver when it starts the app for a test session.
    #[arg(long, hide = true)]
    automation: bool,
}

impl Args {
    /// The server choice the flags ask for, if any. Nothing at all on a
    /// first run means the bundled server with demo events.
    fn choice(&self) -> Option<ServerChoice> {
        match (&self.server, self.bundled || self.demo) {
            (Some(url), _) => Some(ServerChoice::Remote { url: url.clone() }),
            (None, true) => Some(ServerChoice::Bundled { demo: self.demo }),
            (None, false) => None,
        }
    }
}

/// Builds and runs the app until the user quits from the tray.
pub fn run() {
    let args = Args::parse();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tao=warn,wry=warn".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let app = tauri::Builder::default()
        // First: a second launch focuses this one and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_main_window(app);
        }))
        .plugin(tauri_plugin_autostart::init(
            MacosLauncher::LaunchAgent,
            Some(vec![HIDDEN_FLAG]),
        ))
        .setup(move |app| {
            let handle = app.handle().clone();
            let paths = app.path();
            let desktop = Desktop::new(
                handle.clone(),
                paths.app_config_dir()?,
                paths.app_data_dir()?,
            );
            if let Some(choice) = args.choice() {
                desktop.set_server_choice(choice);
            }
            app.manage(desktop);
            #[cfg(desktop)]
            tray::init(&handle)?;
            if args.hidden
                && let Some(window) = app.get_webview_window(MAIN_WINDOW)
            {
                let _ = window.hide();
            }
            let booting = handle.clone();
            tauri::async_runtime::spawn(async move { booting.state::<Desktop>().boot().await });
            tauri::async_runtime::spawn(Desktop::realert_loop(handle));
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
        .invoke_handler(with_commands!())
        .build(tauri::generate_context!())
        .expect("the Tauri app could not be built");
    app.run(|app, event| match event {
        // The last window going away is no reason to exit (`code` is `None`
        // then); an explicit `exit` from the tray's Quit carries a code.
        RunEvent::ExitRequested { api, code, .. } if code.is_none() => api.prevent_exit(),
        RunEvent::Exit => {
            // Let the bundled server finish its queued writes.
            if let Some(desktop) = app.try_state::<Desktop>() {
                tauri::async_runtime::block_on(desktop.shutdown());
            }
        }
        _ => {}
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

/// Sends the window an event of the contract, under the name its type has
/// there.
pub(crate) fn emit<E: Event>(app: &tauri::AppHandle, payload: &E) -> tauri::Result<()> {
    app.emit(E::NAME, payload)
}

/// Carries out what the user asked for from the tray or a pop-up.
pub(crate) fn route(app: &tauri::AppHandle, action: Action) {
    match action {
        Action::Quit => app.exit(0),
        Action::Open(id) => {
            show_main_window(app);
            if let Some(id) = id
                && let Err(e) = app.emit_to(MAIN_WINDOW, OpenRequest::NAME, OpenRequest(id))
            {
                tracing::warn!(error = %e, "could not ask the UI to open a notification");
            }
        }
        other => app.state::<Desktop>().act(other),
    }
}

//! The desktop app's logic without Tauri or a display. [`state::DesktopState`]
//! is everything the app knows; its methods, by concern in [`session`],
//! [`stream`] and [`alerts`], change it and return the [`effect::Effect`]s
//! the Tauri shell carries out. Also: what a pop-up says ([`text`]), where a
//! click goes ([`actions`]), re-alert timing ([`realert`]), the tray
//! ([`tray_state`]), the events the UI hears ([`ui`]), the commands and
//! events between the app and its window ([`contract`]) and the settings
//! file ([`settings`]). Unit-tested on its own; the Tauri layer only wires it up.

pub mod actions;
pub mod alerts;
pub mod contract;
pub mod effect;
pub mod realert;
pub mod session;
pub mod settings;
pub mod state;
pub mod stream;
pub mod text;
pub mod tray_state;
#[cfg(feature = "ts")]
pub mod typescript;
pub mod ui;

#[cfg(test)]
mod testing;

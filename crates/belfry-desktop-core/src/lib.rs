//! The desktop app's logic without Tauri or a display: what the tray shows, what a
//! pop-up says, where a click goes, when an unacknowledged critical alert is
//! raised again. Unit-tested on its own; the Tauri layer only wires it up.

pub mod actions;
pub mod realert;
pub mod text;
pub mod tray_state;

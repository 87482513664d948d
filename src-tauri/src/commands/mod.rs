//! Thin Tauri commands: validate, delegate, and serialize errors as
//! `{kind, message}` for the UI.

pub mod status;
pub mod test_notification;

use serde::Serialize;

/// An error as the UI receives it.
#[derive(Debug, Serialize)]
pub struct CommandError {
    pub kind: &'static str,
    pub message: String,
}

//! What the core asks the outside world to do. Every call that changes the
//! state returns a list of [`Effect`]s, in the order they must happen; the
//! Tauri shell carries them out (emit to the window, show or close a pop-up,
//! redraw the tray, write the settings file, …). Nothing here talks to a
//! window, a bus or a disk, so the core is tested by comparing lists.
//!
//! Time comes in as a [`Now`]: the core never reads a clock.

use std::time::Instant;

use belfry_client::policy::Popup;
use belfry_proto::Notification;
use time::OffsetDateTime;

use crate::ui::{SessionInfo, UiEvent};

/// One thing for the shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Tell the UI (`belfry://event`).
    Ui(UiEvent),
    /// Tell the UI the session (`belfry://session`).
    Session(SessionInfo),
    /// Raise a native pop-up; `single` is the notification it stands for,
    /// when it stands for one.
    ShowPopup {
        popup: Popup,
        single: Option<Notification>,
    },
    /// Close the pop-up still on screen for this notification, if any.
    ClosePopup(u64),
    /// Redraw the tray from [`DesktopState::tray_view`](crate::state::DesktopState::tray_view).
    RedrawTray,
    /// Write the current [`LocalSettings`](crate::settings::LocalSettings).
    SaveSettings,
    /// The bundled server's sign-in ended: set the server up again.
    BootAgain,
    /// A remote sign-in ended: the keyring's tokens are worthless now.
    ForgetTokens,
    /// Stop reading the stream this event came from.
    EndStream,
}

/// The moment a call happens, on both clocks the core needs: a monotonic one
/// for re-alert deadlines and the wall clock for quiet hours, pauses and
/// the times the UI shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub instant: Instant,
    pub wall: OffsetDateTime,
}

impl Now {
    /// The present moment (for the shell; tests build `Now` by hand).
    pub fn read_clocks() -> Self {
        Self {
            instant: Instant::now(),
            wall: OffsetDateTime::now_utc(),
        }
    }

    /// The wall clock as a Unix time in milliseconds, as the UI takes it.
    pub fn unix_ms(&self) -> u64 {
        u64::try_from(self.wall.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
    }
}

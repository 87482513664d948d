//! Native pop-ups through the freedesktop notification service (Linux),
//! with notify-rust directly: Tauri's notification plugin can neither set
//! the urgency there nor report a click. The text comes from
//! [`belfry_desktop_core::text`], the buttons and their routing from
//! [`belfry_desktop_core::actions`].

use belfry_client::policy::{Popup, Urgency};
use belfry_proto::Notification;
use tauri::AppHandle;

use belfry_desktop_core::{actions, text};

/// The sound a pop-up plays (freedesktop sound theme names).
fn sound_name(urgency: Urgency) -> &'static str {
    match urgency {
        Urgency::Critical => "alarm-clock-elapsed",
        _ => "message-new-instant",
    }
}

/// Raises `popup` (for `single` when it stands for one notification) and
/// routes the user's click on it to [`crate::route`].
pub fn show(app: &AppHandle, popup: &Popup, single: Option<&Notification>) {
    let text = text::for_popup(popup, single);
    let critical = popup.urgency == Urgency::Critical;
    let mut n = notify_rust::Notification::new();
    n.appname("Belfry")
        .summary(&text.summary)
        .body(&text.body)
        .urgency(match popup.urgency {
            Urgency::Low => notify_rust::Urgency::Low,
            Urgency::Normal => notify_rust::Urgency::Normal,
            Urgency::Critical => notify_rust::Urgency::Critical,
        });
    if popup.persistent {
        n.timeout(notify_rust::Timeout::Never)
            .hint(notify_rust::Hint::Resident(true));
    }
    if popup.sound {
        n.hint(notify_rust::Hint::SoundName(
            sound_name(popup.urgency).to_owned(),
        ));
    }
    for (key, label) in actions::popup_buttons(&popup.ids, critical) {
        n.action(key, label);
    }
    let job = Job::Show {
        notification: Box::new(n),
        ids: popup.ids.clone(),
        // Only a pop-up that stays is worth closing when someone handles it.
        closable: popup.persistent,
        app: app.clone(),
    };
    if WORKER.send(job).is_err() {
        tracing::warn!("the pop-up worker is gone");
    }
}

/// Closes the pop-up still on screen for notification `id`, if there is
/// one: someone acknowledged it, here or on another device, so it no
/// longer asks for anyone's attention.
pub fn close(id: u64) {
    if WORKER.send(Job::Close(id)).is_err() {
        tracing::warn!("the pop-up worker is gone");
    }
}

enum Job {
    Show {
        notification: Box<notify_rust::Notification>,
        ids: Vec<u64>,
        closable: bool,
        app: AppHandle,
    },
    Close(u64),
}

/// Pop-ups on screen that stay until handled: notification id → the
/// notification server's id for the pop-up. Bounded like the app's other
/// per-notification state.
static OPEN: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<u64, u32>>> =
    std::sync::LazyLock::new(Default::default);
const MAX_OPEN: usize = 500;

fn open_popups() -> std::sync::MutexGuard<'static, std::collections::HashMap<u64, u32>> {
    OPEN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `CloseNotification` on the session bus (notify-rust offers closing only
/// through the handle, which the click-waiting thread holds).
fn close_on_bus(bus: &mut Option<zbus::blocking::Connection>, popup: u32) {
    if bus.is_none() {
        match zbus::blocking::Connection::session() {
            Ok(c) => *bus = Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "cannot reach the session bus to close a pop-up");
                return;
            }
        }
    }
    let Some(conn) = bus.as_ref() else { return };
    if let Err(e) = conn.call_method(
        Some("org.freedesktop.Notifications"),
        "/org/freedesktop/Notifications",
        Some("org.freedesktop.Notifications"),
        "CloseNotification",
        &(popup,),
    ) {
        tracing::warn!(error = %e, "could not close a pop-up");
    }
}

/// One thread sends every pop-up, in the order they were raised (a test, or
/// an admin reading them, sees the same order as the stream). Showing talks
/// D-Bus synchronously, so it stays off the async runtime and the UI.
static WORKER: std::sync::LazyLock<std::sync::mpsc::Sender<Job>> = std::sync::LazyLock::new(|| {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("belfry-popups".into())
        .spawn(move || {
            let mut bus = None;
            for job in rx {
                let (notification, ids, closable, app) = match job {
                    Job::Show {
                        notification,
                        ids,
                        closable,
                        app,
                    } => (notification, ids, closable, app),
                    Job::Close(id) => {
                        let popup = open_popups().remove(&id);
                        if let Some(popup) = popup {
                            close_on_bus(&mut bus, popup);
                        }
                        continue;
                    }
                };
                match notification.show() {
                    // Waiting for the click blocks until the pop-up closes (a
                    // critical one may stay for hours): a thread of its own.
                    Ok(handle) => {
                        if let ([id], true) = (ids.as_slice(), closable) {
                            let mut open = open_popups();
                            if open.len() < MAX_OPEN {
                                open.insert(*id, handle.id());
                            }
                        }
                        std::thread::spawn(move || {
                            handle.wait_for_action(|key| {
                                if let Some(action) = actions::from_notification(key, &ids) {
                                    crate::route(&app, action);
                                }
                            });
                            // Closed one way or another: nothing to close later.
                            if let [id] = ids.as_slice() {
                                open_popups().remove(id);
                            }
                        });
                    }
                    Err(e) => tracing::warn!(error = %e, "could not show a notification"),
                }
            }
        })
        .expect("the pop-up thread starts");
    tx
});

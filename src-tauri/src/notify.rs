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
    let job = Job {
        notification: n,
        ids: popup.ids.clone(),
        app: app.clone(),
    };
    if WORKER.send(job).is_err() {
        tracing::warn!("the pop-up worker is gone");
    }
}

struct Job {
    notification: notify_rust::Notification,
    ids: Vec<u64>,
    app: AppHandle,
}

/// One thread sends every pop-up, in the order they were raised (a test, or
/// an admin reading them, sees the same order as the stream). Showing talks
/// D-Bus synchronously, so it stays off the async runtime and the UI.
static WORKER: std::sync::LazyLock<std::sync::mpsc::Sender<Job>> = std::sync::LazyLock::new(|| {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("belfry-popups".into())
        .spawn(move || {
            for job in rx {
                match job.notification.show() {
                    // Waiting for the click blocks until the pop-up closes (a
                    // critical one may stay for hours): a thread of its own.
                    Ok(handle) => {
                        let Job { ids, app, .. } = job;
                        std::thread::spawn(move || {
                            handle.wait_for_action(|key| {
                                if let Some(action) = actions::from_notification(key, &ids) {
                                    crate::route(&app, action);
                                }
                            });
                        });
                    }
                    Err(e) => tracing::warn!(error = %e, "could not show a notification"),
                }
            }
        })
        .expect("the pop-up thread starts");
    tx
});

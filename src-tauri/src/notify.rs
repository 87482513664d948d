//! Native pop-ups through the freedesktop notification service (Linux),
//! straight over D-Bus: Tauri's notification plugin can neither set the
//! urgency there nor report a click. The text comes from
//! [`belfry_desktop_core::text`], the buttons and their routing from
//! [`belfry_desktop_core::actions`]; notify-rust builds the pop-up (its
//! urgency, resident and sound hints, its actions).
//!
//! One worker thread owns the session-bus connection and every pop-up's
//! bookkeeping, fed by one channel: show and close requests from the app,
//! and the service's `ActionInvoked` and `NotificationClosed` signals, which
//! one listener thread reads off the same connection and forwards. So two
//! threads serve every pop-up, however many are on screen and however long a
//! critical one stays (notify-rust's own handle would hold a connection and
//! a thread for each until it closes).

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;
use std::sync::mpsc::{self, Sender};

use belfry_client::policy::{Popup, Urgency};
use belfry_proto::Notification;
use tauri::AppHandle;
use zbus::blocking::{Connection, MessageIterator};

use belfry_desktop_core::{actions, text};

const SERVICE: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";

/// Pop-ups whose clicks are routed, and pop-ups that stay until handled,
/// are each bounded like the app's other per-notification state (a service
/// that never reports a pop-up closed must not grow the app).
const MAX_OPEN: usize = 500;

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
    send(Job::Show {
        notification: Box::new(n),
        ids: popup.ids.clone(),
        // Only a pop-up that stays is worth closing when someone handles it.
        closable: popup.persistent,
        app: app.clone(),
    });
}

/// Closes the pop-up still on screen for notification `id`, if there is
/// one: someone acknowledged it, here or on another device, so it no
/// longer asks for anyone's attention.
pub fn close(id: u64) {
    send(Job::Close(id));
}

fn send(job: Job) {
    if WORKER.send(job).is_err() {
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
    /// The user chose `key` on pop-up `popup` (the service's id for it).
    Action {
        popup: u32,
        key: String,
    },
    /// Pop-up `popup` is gone: expired, dismissed, or closed by the app.
    Closed(u32),
    /// The listener lost the bus: connect again for the next pop-up.
    Disconnected,
}

/// A pop-up on screen whose clicks are routed.
struct Shown {
    ids: Vec<u64>,
    app: AppHandle,
}

/// What the worker thread owns.
struct Worker {
    /// The session bus, connected at the first job (and again after a loss).
    bus: Option<Connection>,
    /// Where the listener forwards the service's signals.
    jobs: Sender<Job>,
    /// Pop-ups on screen by the service's id; ids only grow, so the
    /// smallest is the oldest.
    shown: BTreeMap<u32, Shown>,
    /// Pop-ups that stay until handled: notification id → the service's id.
    open: HashMap<u64, u32>,
}

/// One thread shows every pop-up, in the order they were raised (a test,
/// or an admin reading them, sees the same order as the stream). It talks
/// D-Bus synchronously, so it stays off the async runtime and the UI.
static WORKER: LazyLock<Sender<Job>> = LazyLock::new(|| {
    let (tx, rx) = mpsc::channel::<Job>();
    let mut worker = Worker {
        bus: None,
        jobs: tx.clone(),
        shown: BTreeMap::new(),
        open: HashMap::new(),
    };
    std::thread::Builder::new()
        .name("belfry-popups".into())
        .spawn(move || {
            for job in rx {
                worker.handle(job);
            }
        })
        .expect("the pop-up thread starts");
    tx
});

impl Worker {
    fn handle(&mut self, job: Job) {
        match job {
            Job::Show {
                notification,
                ids,
                closable,
                app,
            } => self.show(&notification, ids, closable, app),
            Job::Close(id) => {
                if let Some(popup) = self.open.remove(&id) {
                    self.close(popup);
                }
            }
            Job::Action { popup, key } => {
                // Every click is routed while the pop-up is up: a resident
                // one may be opened first and acknowledged later.
                if let Some(shown) = self.shown.get(&popup)
                    && let Some(action) = actions::from_notification(&key, &shown.ids)
                {
                    crate::route(&shown.app, action);
                }
            }
            Job::Closed(popup) => {
                // Closed one way or another: nothing to route or close later.
                if let Some(shown) = self.shown.remove(&popup)
                    && let [id] = shown.ids.as_slice()
                    && self.open.get(id) == Some(&popup)
                {
                    self.open.remove(id);
                }
            }
            Job::Disconnected => {
                // Its pop-ups' clicks will not reach this app any more.
                self.bus = None;
                self.shown.clear();
                self.open.clear();
            }
        }
    }

    fn show(
        &mut self,
        n: &notify_rust::Notification,
        ids: Vec<u64>,
        closable: bool,
        app: AppHandle,
    ) {
        let Some(bus) = self.bus() else { return };
        let hints: HashMap<&str, zbus::zvariant::Value<'_>> =
            n.hints.iter().map(Into::into).collect();
        let reply = bus.call_method(
            Some(SERVICE),
            PATH,
            Some(SERVICE),
            "Notify",
            &(
                &n.appname,
                0u32,
                &n.icon,
                &n.summary,
                &n.body,
                &n.actions,
                hints,
                i32::from(n.timeout),
            ),
        );
        let popup: u32 = match reply.and_then(|r| r.body().deserialize()) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "could not show a notification");
                return;
            }
        };
        if let ([id], true) = (ids.as_slice(), closable)
            && self.open.len() < MAX_OPEN
        {
            self.open.insert(*id, popup);
        }
        self.shown.insert(popup, Shown { ids, app });
        while self.shown.len() > MAX_OPEN {
            self.shown.pop_first();
        }
    }

    /// `CloseNotification`: the service answers with `NotificationClosed`.
    fn close(&mut self, popup: u32) {
        let Some(bus) = self.bus() else { return };
        if let Err(e) = bus.call_method(
            Some(SERVICE),
            PATH,
            Some(SERVICE),
            "CloseNotification",
            &(popup,),
        ) {
            tracing::warn!(error = %e, "could not close a pop-up");
        }
    }

    /// The session bus, connecting (and starting the listener) if needed.
    fn bus(&mut self) -> Option<&Connection> {
        if self.bus.is_none() {
            match connect(self.jobs.clone()) {
                Ok(c) => self.bus = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reach the session bus for pop-ups");
                    return None;
                }
            }
        }
        self.bus.as_ref()
    }
}

/// Connects to the session bus and starts the thread that forwards the
/// notification service's signals to the worker. The match rule is in place
/// before this returns, so no signal of a pop-up shown afterwards is missed.
fn connect(jobs: Sender<Job>) -> zbus::Result<Connection> {
    let bus = Connection::session()?;
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(SERVICE)?
        .path(PATH)?
        .build();
    let signals = MessageIterator::for_match_rule(rule, &bus, None)?;
    std::thread::Builder::new()
        .name("belfry-popup-signals".into())
        .spawn(move || {
            for msg in signals {
                let Ok(msg) = msg else { break };
                let header = msg.header();
                let job = match header.member().map(|m| m.as_str()) {
                    Some("ActionInvoked") => match msg.body().deserialize::<(u32, String)>() {
                        Ok((popup, key)) => Job::Action { popup, key },
                        Err(_) => continue,
                    },
                    Some("NotificationClosed") => match msg.body().deserialize::<(u32, u32)>() {
                        Ok((popup, _reason)) => Job::Closed(popup),
                        Err(_) => continue,
                    },
                    _ => continue,
                };
                if jobs.send(job).is_err() {
                    return;
                }
            }
            let _ = jobs.send(Job::Disconnected);
        })
        .map_err(|e| zbus::Error::Failure(e.to_string()))?;
    Ok(bus)
}

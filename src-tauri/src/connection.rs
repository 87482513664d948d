//! The app's one connection to a Belfry server: which server (bundled or
//! remote), the sign-in, the event stream from belfry-client, and what each
//! event does: the UI hears it as a Tauri event, the tray redraws, and the
//! pop-up policy decides whether the OS shows it.
//!
//! The stream runs whether or not the window is open, so alerts keep coming
//! while the app lives in the tray. State sits behind one `std::sync::Mutex`
//! that is never held across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use belfry_client::credentials::{CredentialStore, Key, KeyringStore, MemoryStore};
use belfry_client::policy::{self, Popup, Urgency};
use belfry_client::{Client, ClientEvent, Error, HistoryQuery, StreamConfig, Tokens};
use belfry_proto::{MarkRead, Notification, Preferences, Severity, UnreadCounts};
use serde::Serialize;
use serde_json::json;
use tauri::{AppHandle, Emitter, Manager};
use time::OffsetDateTime;
use tokio::sync::watch;

use belfry_desktop_core::actions::Action;
use belfry_desktop_core::realert::Realerts;
use belfry_desktop_core::tray_state::{Connection, TrayState};

use crate::bundled::{self, Bundled};
use crate::settings::{LocalSettings, Resume, ServerChoice, SettingsFile};

/// Every stream event, in the shape of the UI's `StreamEvent`.
pub const STREAM_EVENT: &str = "belfry://event";
/// The session began or ended: `{email}` or `null`, with a reason.
pub const SESSION_EVENT: &str = "belfry://session";
/// The keyring service the desktop app's sign-in is stored under (apart
/// from the CLI's: refresh tokens rotate, so two programs must not share one).
pub const KEYRING_SERVICE: &str = "belfry-desktop";
/// Entries of the tray's "latest notifications".
pub const LATEST: usize = 5;
/// Unacknowledged criticals kept for re-alerts; older ones are let go.
const MAX_TRACKED_CRITICAL: usize = 500;
/// How often re-alert deadlines are checked.
const REALERT_TICK: Duration = Duration::from_secs(15);

/// The session as the UI sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SessionInfo {
    pub email: Option<String>,
    /// Where the app is connected, for the login screen and settings.
    pub server: String,
    /// `bundled` or `remote`.
    pub mode: &'static str,
    pub demo: bool,
    /// Why there is no session (e.g. the sign-in expired), when there is none.
    pub reason: Option<String>,
    /// Where credentials are kept: `keyring`, or `memory` when there is no
    /// usable OS keyring (then a restart asks to sign in again).
    pub credentials: &'static str,
}

/// The connection and everything the app knows through it.
pub struct Desktop {
    app: AppHandle,
    file: SettingsFile,
    data_dir: PathBuf,
    keyring: Option<Arc<dyn CredentialStore>>,
    inner: Mutex<Inner>,
    /// `true` once the first server choice is set up (signed in or not), so
    /// the UI's first question waits instead of flashing a sign-in screen.
    booted: watch::Sender<bool>,
}

struct Inner {
    settings: LocalSettings,
    client: Option<Client>,
    email: Option<String>,
    reason: Option<String>,
    /// Bumped whenever the stream is replaced; events of an old one are dropped.
    generation: u64,
    stream: Option<tauri::async_runtime::JoinHandle<()>>,
    bundled: Option<Bundled>,
    connection: Connection,
    /// The last status sent to the UI, repeated when a window attaches.
    status: serde_json::Value,
    unread: UnreadCounts,
    last_id: u64,
    latest: VecDeque<Notification>,
    backlog: Vec<Notification>,
    realerts: Realerts,
    /// Unacknowledged criticals that may be raised again.
    critical: HashMap<u64, Notification>,
}

impl Inner {
    /// Signed out: no admin, and nothing of theirs left in the tray.
    fn forget_session(&mut self, reason: Option<String>) {
        self.email = None;
        self.reason = reason;
        self.connection = Connection::SignedOut;
        self.latest.clear();
        self.critical.clear();
        self.unread = UnreadCounts::default();
    }
}

impl Desktop {
    /// The connection manager for `app`, with settings under `config_dir`
    /// and the bundled server's data under `data_dir`.
    pub fn new(app: AppHandle, config_dir: PathBuf, data_dir: PathBuf) -> Self {
        let file = SettingsFile::in_dir(&config_dir);
        let settings = file.load().unwrap_or_default();
        let keyring: Option<Arc<dyn CredentialStore>> = match KeyringStore::platform() {
            Ok(k) => Some(Arc::new(k.with_service(KEYRING_SERVICE))),
            Err(e) => {
                tracing::warn!(error = %e, "no OS keyring: sign-ins last until the app quits");
                None
            }
        };
        let every = realert_every(settings.preferences.as_ref());
        Self {
            app,
            file,
            data_dir,
            keyring,
            booted: watch::Sender::new(false),
            inner: Mutex::new(Inner {
                settings,
                client: None,
                email: None,
                reason: None,
                generation: 0,
                stream: None,
                bundled: None,
                connection: Connection::SignedOut,
                status: json!({"state": "signed-out", "reason": "not signed in"}),
                unread: UnreadCounts::default(),
                last_id: 0,
                latest: VecDeque::new(),
                backlog: Vec::new(),
                realerts: Realerts::new(every.unwrap_or(Duration::MAX)),
                critical: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The server choice now.
    pub fn server_choice(&self) -> ServerChoice {
        self.lock().settings.server.clone()
    }

    /// Replaces the server choice (from the command line or the UI) and saves it.
    pub fn set_server_choice(&self, choice: ServerChoice) {
        let mut inner = self.lock();
        inner.settings.server = choice;
        self.save(&inner.settings);
    }

    fn save(&self, settings: &LocalSettings) {
        if let Err(e) = self.file.save(settings) {
            tracing::warn!(error = %e, "cannot save the settings");
        }
    }

    /// The session now, waiting (up to 30 s) for the start-up to settle.
    pub async fn session(&self) -> SessionInfo {
        let mut booted = self.booted.subscribe();
        let _ = tokio::time::timeout(Duration::from_secs(30), booted.wait_for(|b| *b)).await;
        self.session_now()
    }

    fn session_now(&self) -> SessionInfo {
        let inner = self.lock();
        let (mode, demo) = match &inner.settings.server {
            ServerChoice::Bundled { demo } => ("bundled", *demo),
            ServerChoice::Remote { .. } => ("remote", false),
        };
        let server = match (&inner.settings.server, &inner.bundled, &inner.client) {
            (ServerChoice::Bundled { .. }, Some(b), _) => format!("this computer ({})", b.url),
            (ServerChoice::Bundled { .. }, None, _) => "this computer".to_owned(),
            (_, _, Some(c)) => c.base().as_str().trim_end_matches('/').to_owned(),
            (ServerChoice::Remote { url }, ..) => url.clone(),
        };
        SessionInfo {
            email: inner.email.clone(),
            server,
            mode,
            demo,
            reason: inner.reason.clone(),
            credentials: if self.keyring.is_some() || mode == "bundled" {
                "keyring"
            } else {
                "memory"
            },
        }
    }

    fn emit_session(&self) {
        let info = self.session_now();
        if let Err(e) = self.app.emit(SESSION_EVENT, &info) {
            tracing::warn!(error = %e, "cannot tell the UI about the session");
        }
    }

    /// Sets up the chosen server: starts the bundled one and signs in to it,
    /// or restores a remote sign-in from the keyring.
    pub async fn boot(&self) {
        self.stop_stream();
        let old = self.lock().bundled.take();
        if let Some(old) = old {
            old.stop().await;
        }
        match self.server_choice() {
            ServerChoice::Bundled { demo } => {
                if let Err(e) = self.boot_bundled(demo).await {
                    tracing::error!(error = format!("{e:#}"), "the bundled server did not start");
                    let mut inner = self.lock();
                    inner.reason =
                        Some(format!("The server on this computer did not start: {e:#}"));
                    inner.client = None;
                }
            }
            ServerChoice::Remote { url } => self.boot_remote(&url).await,
        }
        self.booted.send_replace(true);
        self.emit_session();
        self.redraw_tray();
    }

    async fn boot_bundled(&self, demo: bool) -> anyhow::Result<()> {
        let server = Bundled::start(&self.data_dir, demo).await?;
        // Its sign-in lives in memory: the password is new on every start.
        let client = Client::new(&server.url)?.with_store(Arc::new(MemoryStore::default()));
        client.login(bundled::LOCAL_ADMIN, &server.password).await?;
        {
            let mut inner = self.lock();
            inner.bundled = Some(server);
            inner.client = Some(client);
            inner.email = Some(bundled::LOCAL_ADMIN.to_owned());
            inner.reason = None;
        }
        self.start_stream();
        Ok(())
    }

    async fn boot_remote(&self, url: &str) {
        let client = match Client::new(url) {
            Ok(c) => c,
            Err(e) => {
                let mut inner = self.lock();
                inner.client = None;
                inner.reason = Some(e.to_string());
                return;
            }
        };
        let client = match &self.keyring {
            Some(k) => client.with_store(k.clone()),
            None => client.with_store(Arc::new(MemoryStore::default())),
        };
        let server = url_key(client.base().as_str());
        let saved = match self.keyring.clone() {
            Some(k) => tauri::async_runtime::spawn_blocking(move || load_tokens(&*k, server))
                .await
                .unwrap_or(None),
            None => None,
        };
        let signed_in = saved.is_some();
        if let Some((tokens, email)) = saved {
            client.set_tokens(Some(tokens));
            self.lock().email = Some(email);
        }
        self.lock().client = Some(client);
        if signed_in {
            self.start_stream();
        }
    }

    /// Signs in to the remote server with a password; the tokens go to the
    /// OS keyring.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<(), Error> {
        let client = self.client().ok_or_else(|| Error::AuthRequired {
            reason: "choose a server first".to_owned(),
        })?;
        client.login(email, password).await?;
        let email = email.trim().to_lowercase();
        if let Some(k) = self.keyring.clone() {
            let server = url_key(client.base().as_str());
            let who = email.clone();
            let saved = tauri::async_runtime::spawn_blocking(move || {
                k.save(Key::Server, &format!("{server} {who}"))
            })
            .await;
            if !matches!(saved, Ok(Ok(()))) {
                tracing::warn!("cannot record the signed-in server in the keyring");
            }
        }
        {
            let mut inner = self.lock();
            inner.email = Some(email);
            inner.reason = None;
        }
        self.start_stream();
        self.emit_session();
        Ok(())
    }

    /// Signs out: the server revokes the refresh token, the keyring forgets
    /// the tokens, the stream stops.
    pub async fn sign_out(&self) {
        let client = self.client();
        self.stop_stream();
        {
            self.lock().forget_session(Some("signed out".to_owned()));
        }
        if let Some(c) = client
            && let Err(e) = c.logout().await
        {
            tracing::warn!(error = %e, "the server did not confirm the sign-out");
        }
        if let Some(k) = self.keyring.clone() {
            let _ = tauri::async_runtime::spawn_blocking(move || {
                for key in Key::ALL {
                    let _ = k.delete(key);
                }
            })
            .await;
        }
        self.set_status(json!({"state": "signed-out", "reason": "signed out"}));
        self.emit_session();
        self.redraw_tray();
    }

    /// The client, when a server is chosen.
    pub fn client(&self) -> Option<Client> {
        self.lock().client.clone()
    }

    /// The signed-in client, or the error the UI shows.
    pub fn signed_in(&self) -> Result<Client, Error> {
        let inner = self.lock();
        match (&inner.client, &inner.email) {
            (Some(c), Some(_)) => Ok(c.clone()),
            _ => Err(Error::AuthRequired {
                reason: "not signed in".to_owned(),
            }),
        }
    }

    fn stop_stream(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        if let Some(task) = inner.stream.take() {
            task.abort();
        }
    }

    fn start_stream(&self) {
        let mut inner = self.lock();
        let Some(client) = inner.client.clone() else {
            return;
        };
        inner.generation += 1;
        if let Some(task) = inner.stream.take() {
            task.abort();
        }
        let generation = inner.generation;
        let config = StreamConfig {
            last_event_id: inner.settings.resume_from(&inner.settings.server.clone()),
            ..StreamConfig::default()
        };
        let app = self.app.clone();
        inner.stream = Some(tauri::async_runtime::spawn(async move {
            let mut events = match client.events(config) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(error = %e, "cannot open the event stream");
                    return;
                }
            };
            // Fetch the server's preferences now: the cache may be stale.
            let desktop = app.state::<Desktop>();
            desktop.refresh_preferences(&client, generation).await;
            while let Some(event) = events.recv().await {
                let desktop = app.state::<Desktop>();
                if !desktop.handle(generation, event) {
                    break;
                }
            }
        }));
    }

    async fn refresh_preferences(&self, client: &Client, generation: u64) {
        match client.preferences().await {
            Ok(p) if self.lock().generation == generation => self.adopt_preferences(p),
            Ok(_) => {}
            Err(e) => tracing::info!(error = %e, "using cached preferences for now"),
        }
    }

    fn adopt_preferences(&self, p: Preferences) {
        let mut inner = self.lock();
        if let Some(every) = realert_every(Some(&p)) {
            inner.realerts.set_every(every);
        }
        inner.settings.preferences = Some(p);
        self.save(&inner.settings);
    }

    fn set_status(&self, status: serde_json::Value) {
        self.lock().status = status.clone();
        self.emit(json!({"type": "status", "status": status}));
    }

    fn emit(&self, event: serde_json::Value) {
        if let Err(e) = self.app.emit(STREAM_EVENT, event) {
            tracing::warn!(error = %e, "cannot forward an event to the UI");
        }
    }

    /// A window (re)attached: it gets the current status, then `ready` with
    /// the counts so it loads the history.
    pub fn attach(&self) {
        let (status, ready) = {
            let inner = self.lock();
            let ready = (inner.connection == Connection::Live)
                .then(|| json!({"last_id": inner.last_id, "unread": inner.unread}));
            (inner.status.clone(), ready)
        };
        self.emit(json!({"type": "status", "status": status}));
        if let Some(ready) = ready {
            self.emit(json!({"type": "ready", "ready": ready}));
        }
    }

    /// Handles one event of stream `generation`; `false` ends that stream.
    fn handle(&self, generation: u64, event: ClientEvent) -> bool {
        if self.lock().generation != generation {
            return false;
        }
        match event {
            ClientEvent::Connecting => {
                let first = self.lock().connection == Connection::SignedOut;
                self.lock().connection = if first {
                    Connection::Connecting
                } else {
                    Connection::Reconnecting
                };
                self.set_status(json!({"state": "connecting"}));
            }
            ClientEvent::Live { unread, last_id } => {
                {
                    let mut inner = self.lock();
                    inner.connection = Connection::Live;
                    inner.unread = unread;
                    inner.last_id = inner.last_id.max(last_id);
                    inner.backlog.clear();
                }
                self.set_status(json!({"state": "live", "since": now_ms()}));
                self.emit(
                    json!({"type": "ready", "ready": {"last_id": last_id, "unread": unread}}),
                );
            }
            ClientEvent::Reconnecting {
                attempt,
                retry_in,
                reason,
            } => {
                self.lock().connection = Connection::Reconnecting;
                let retry_at =
                    now_ms() + u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX / 2);
                self.set_status(json!({"state": "reconnecting", "retryAt": retry_at, "attempt": attempt, "reason": reason}));
            }
            ClientEvent::AuthRequired { reason } => {
                self.session_ended(reason);
                return false;
            }
            ClientEvent::Stopped { error } => {
                self.lock().connection = Connection::Reconnecting;
                self.set_status(json!({"state": "offline", "reason": error.to_string()}));
                self.redraw_tray();
                return false;
            }
            ClientEvent::Notification {
                notification,
                replayed,
            } => self.notification(notification, replayed),
            ClientEvent::CaughtUp { .. } => {
                let (backlog, prefs) = {
                    let mut inner = self.lock();
                    let backlog = std::mem::take(&mut inner.backlog);
                    (
                        backlog,
                        inner.settings.preferences.clone().unwrap_or_default(),
                    )
                };
                self.save_resume();
                let now = OffsetDateTime::now_utc();
                for popup in policy::plan(&backlog, &prefs, now) {
                    let single = backlog.iter().find(|n| popup.ids == [n.id]);
                    self.raise(&popup, single);
                }
            }
            ClientEvent::Read(read) => {
                self.lock().unread = read.unread;
                self.emit(json!({"type": "read", "read": read}));
            }
            ClientEvent::Ack(ack) => {
                if ack.ack.is_some() {
                    {
                        let mut inner = self.lock();
                        inner.realerts.acknowledged(ack.id);
                        inner.critical.remove(&ack.id);
                    }
                    #[cfg(target_os = "linux")]
                    crate::notify::close(ack.id);
                }
                self.emit(json!({"type": "ack", "ack": ack}));
            }
            ClientEvent::Preferences(p) => {
                self.adopt_preferences(p.clone());
                self.emit(json!({"type": "preferences", "preferences": p}));
            }
            ClientEvent::Reset { reason } => {
                self.emit(json!({"type": "reset", "reason": reason}));
            }
            other => tracing::debug!(?other, "unhandled stream event"),
        }
        self.redraw_tray();
        true
    }

    fn notification(&self, n: Notification, replayed: bool) {
        {
            let mut inner = self.lock();
            inner.last_id = inner.last_id.max(n.id);
            inner.latest.push_front(n.clone());
            inner.latest.truncate(LATEST);
            if n.severity == Severity::Critical {
                inner.critical.insert(n.id, n.clone());
                // Bounded: the oldest unacknowledged criticals are let go.
                while inner.critical.len() > MAX_TRACKED_CRITICAL {
                    let oldest = *inner.critical.keys().min().expect("not empty");
                    inner.critical.remove(&oldest);
                    inner.realerts.acknowledged(oldest);
                }
            }
            if replayed {
                inner.backlog.push(n.clone());
            } else {
                inner.unread.total += 1;
                match n.severity {
                    Severity::Info => inner.unread.info += 1,
                    Severity::Warning => inner.unread.warning += 1,
                    Severity::Critical => inner.unread.critical += 1,
                }
            }
        }
        // The pop-up is queued before the UI hears of the notification, so
        // whoever sees it in the window knows its pop-up was decided.
        if !replayed {
            let prefs = self.lock().settings.preferences.clone().unwrap_or_default();
            if let Some(popup) = policy::decide(&n, &prefs, OffsetDateTime::now_utc()) {
                self.raise(&popup, Some(&n));
            }
        }
        self.emit(json!({"type": "notification", "notification": n, "replayed": replayed}));
        if !replayed {
            self.save_resume();
        }
    }

    fn save_resume(&self) {
        let mut inner = self.lock();
        let server = inner.settings.server.identity();
        let last_id = inner.last_id;
        if last_id > 0 {
            inner.settings.resume = Some(Resume { server, last_id });
            self.save(&inner.settings);
        }
    }

    /// Shows a pop-up unless pop-ups are paused (critical ones still show),
    /// and schedules re-alerts of a critical one.
    fn raise(&self, popup: &Popup, single: Option<&Notification>) {
        let paused = self
            .lock()
            .settings
            .paused_until
            .is_some_and(|until| OffsetDateTime::now_utc().unix_timestamp() < until);
        if paused && popup.urgency != Urgency::Critical {
            tracing::debug!(ids = ?popup.ids, "pop-ups are paused");
            return;
        }
        if popup.urgency == Urgency::Critical && popup.ids.len() == 1 {
            let mut inner = self.lock();
            if realert_every(inner.settings.preferences.as_ref()).is_some()
                || inner.settings.preferences.is_none()
            {
                inner.realerts.raised(popup.ids[0], Instant::now());
            }
        }
        show(&self.app, popup, single);
    }

    /// Re-raises the unacknowledged criticals that are due, forever (the
    /// app's lifetime).
    pub async fn realert_loop(app: AppHandle) {
        loop {
            tokio::time::sleep(REALERT_TICK).await;
            let desktop = app.state::<Desktop>();
            let due: Vec<Notification> = {
                let mut inner = desktop.lock();
                let ids = inner.realerts.take_due(Instant::now());
                ids.iter()
                    .filter_map(|id| inner.critical.get(id).cloned())
                    .collect()
            };
            let prefs = desktop
                .lock()
                .settings
                .preferences
                .clone()
                .unwrap_or_default();
            let client = desktop.signed_in().ok();
            for n in due {
                // An ack this app did not hear of (given while it slept, or
                // before a replayed critical reached it) ends the re-alerts.
                if let Some(client) = &client
                    && acknowledged_on_server(client, n.id).await
                {
                    let mut inner = desktop.lock();
                    inner.realerts.acknowledged(n.id);
                    inner.critical.remove(&n.id);
                    continue;
                }
                if let Some(mut popup) = policy::decide(&n, &prefs, OffsetDateTime::now_utc()) {
                    popup.title = format!("Still unacknowledged: {}", popup.title);
                    show(&app, &popup, None);
                }
            }
        }
    }

    /// The sign-in ended without the user asking: the bundled server signs
    /// in again; a remote one needs the user.
    fn session_ended(&self, reason: String) {
        tracing::info!(%reason, "the sign-in ended");
        let bundled = matches!(self.server_choice(), ServerChoice::Bundled { .. });
        {
            let mut inner = self.lock();
            inner.email = None;
            inner.connection = Connection::SignedOut;
            inner.reason = Some(reason.clone());
        }
        self.set_status(json!({"state": "signed-out", "reason": reason}));
        self.emit_session();
        self.redraw_tray();
        if bundled {
            let app = self.app.clone();
            tauri::async_runtime::spawn(async move { app.state::<Desktop>().boot().await });
        } else if let Some(k) = self.keyring.clone() {
            tauri::async_runtime::spawn_blocking(move || {
                let _ = k.delete(Key::AccessToken);
                let _ = k.delete(Key::RefreshToken);
            });
        }
    }

    /// Carries out a tray or pop-up action that goes through the server.
    pub fn act(&self, action: Action) {
        match action {
            Action::PausePopups(pause) => {
                let mut inner = self.lock();
                inner.settings.paused_until = Some(pause.until(&jiff::Zoned::now()));
                self.save(&inner.settings);
            }
            Action::ResumePopups => {
                let mut inner = self.lock();
                inner.settings.paused_until = None;
                self.save(&inner.settings);
            }
            Action::MarkAllRead => {
                let (client, up_to) = {
                    let inner = self.lock();
                    (inner.client.clone(), inner.last_id)
                };
                if let Some(client) = client {
                    tauri::async_runtime::spawn(async move {
                        let all = MarkRead {
                            ids: None,
                            up_to: Some(up_to),
                        };
                        if let Err(e) = client.mark_read(&all).await {
                            tracing::warn!(error = %e, "could not mark everything read");
                        }
                    });
                }
            }
            Action::Acknowledge(id) => {
                if let Ok(client) = self.signed_in() {
                    tauri::async_runtime::spawn(async move {
                        if let Err(e) = client.ack(id, &Default::default()).await {
                            tracing::warn!(error = %e, id, "could not acknowledge");
                        }
                    });
                }
            }
            Action::Open(_) | Action::Quit => {}
        }
        self.redraw_tray();
    }

    /// Where the connection stands.
    pub fn connection(&self) -> Connection {
        self.lock().connection
    }

    /// The unread counts as last heard.
    pub fn unread(&self) -> UnreadCounts {
        self.lock().unread
    }

    /// What the tray shows now, and its latest notifications.
    pub fn tray_view(&self) -> (TrayState, Vec<Notification>, Option<i64>) {
        let inner = self.lock();
        let mut state = TrayState::new(&inner.unread, inner.connection);
        let paused = inner
            .settings
            .paused_until
            .filter(|until| OffsetDateTime::now_utc().unix_timestamp() < *until);
        if paused.is_some() {
            state
                .tooltip
                .push_str("\nPop-ups paused (critical ones still show)");
        }
        (state, inner.latest.iter().cloned().collect(), paused)
    }

    fn redraw_tray(&self) {
        #[cfg(desktop)]
        crate::tray::redraw(&self.app);
    }

    /// Switches to another server choice: stops the stream (and the bundled
    /// server), forgets where the old stream was, and sets the new one up.
    pub async fn switch(&self, choice: ServerChoice) {
        {
            let mut inner = self.lock();
            inner.forget_session(None);
            // Ids of one server mean nothing on another.
            inner.last_id = 0;
        }
        self.set_server_choice(choice);
        self.boot().await;
    }

    /// Stops the bundled server, if one runs (at quit).
    pub async fn shutdown(&self) {
        self.stop_stream();
        let bundled = self.lock().bundled.take();
        if let Some(b) = bundled {
            b.stop().await;
        }
    }
}

/// Whether someone acknowledged notification `id`; `false` when the server
/// cannot say (then alerting again is the safe side).
async fn acknowledged_on_server(client: &Client, id: u64) -> bool {
    let query = HistoryQuery {
        limit: Some(1),
        before: Some(id + 1),
        ..HistoryQuery::default()
    };
    match client.history(&query).await {
        Ok(page) => page
            .items
            .first()
            .is_some_and(|item| item.notification.id == id && item.ack.is_some()),
        Err(e) => {
            tracing::debug!(error = %e, id, "cannot check the ack; alerting again");
            false
        }
    }
}

/// Raises a native pop-up (on Linux over the freedesktop D-Bus API).
fn show(app: &AppHandle, popup: &Popup, single: Option<&Notification>) {
    #[cfg(target_os = "linux")]
    crate::notify::show(app, popup, single);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (app, single);
        tracing::info!(title = %popup.title, "native pop-ups are only wired up on Linux so far");
    }
}

/// The re-alert interval of these preferences; `None` when re-alerts are off.
fn realert_every(p: Option<&Preferences>) -> Option<Duration> {
    let minutes = p.map_or(Preferences::default().realert_minutes, |p| {
        p.realert_minutes
    });
    (minutes > 0).then(|| Duration::from_secs(u64::from(minutes) * 60))
}

fn now_ms() -> u64 {
    u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// A server URL in the form stored with a sign-in.
fn url_key(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

/// Tokens and the email saved for `server`, if the keyring has a sign-in
/// for that server.
fn load_tokens(k: &dyn CredentialStore, server: String) -> Option<(Tokens, String)> {
    let recorded = k.load(Key::Server).ok()??;
    let (url, email) = recorded.split_once(' ')?;
    if url != server {
        return None;
    }
    let access = k.load(Key::AccessToken).ok()??;
    let refresh = k
        .load(Key::RefreshToken)
        .ok()
        .flatten()
        .filter(|r| !r.is_empty());
    Some((Tokens::new(access, refresh), email.to_owned()))
}
